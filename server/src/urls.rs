//! The URLs the server stores and later calls or redirects to (OAuth redirect allow-list,
//! webhook, a credential's `token_url`): one pattern each, which the OpenAPI document states and
//! the server checks, before the URL parser's own checks. Host names are DNS names (letters,
//! digits, hyphens; the last label starts with a letter) or IPv4 addresses; no user info, query
//! or fragment; a port up to 65535; a path of printable ASCII (percent-encode the rest).

use std::sync::LazyLock;

use regex::Regex;

const HOST: &str = r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]))";
const PORT_AND_PATH: &str = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:/[\x21-\x22\x24-\x3e\x40-\x7e]*)?";

/// An `http://` or `https://` URL (redirect allow-list entries, webhook URLs).
pub static HTTP_URL: LazyLock<String> =
    LazyLock::new(|| format!("^https?://{HOST}{PORT_AND_PATH}$"));
/// An `https://` URL (a credential's `token_url`).
pub static HTTPS_URL: LazyLock<String> =
    LazyLock::new(|| format!("^https://{HOST}{PORT_AND_PATH}$"));

pub fn is_http_url(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&HTTP_URL).expect("valid"));
    RE.is_match(s) && url::Url::parse(s).is_ok()
}

pub fn is_https_url(s: &str) -> bool {
    static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&HTTPS_URL).expect("valid"));
    RE.is_match(s) && url::Url::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_people_use_pass_and_odd_ones_do_not() {
        for ok in [
            "https://app.example.com/oauth/done",
            "http://127.0.0.1:8080/cb",
            "http://localhost:65535",
            "https://my-app.example.co.uk",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "ftp://example.com",
            "https://user@example.com/",
            "https://example.com/?q=1",
            "https://example.com/#f",
            "https://1.2.3",
            "https://example.com:65536/",
            "https://exa mple.com/",
            "http://xgl/CL *",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        assert!(is_https_url("https://oauth2.example.com/token"));
        assert!(!is_https_url("http://oauth2.example.com/token"));
    }
}
