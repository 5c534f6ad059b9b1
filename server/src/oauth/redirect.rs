//! The redirect URL allow-list: exact scheme, host and port, and a path prefix that ends at a
//! segment boundary. URLs with user info (`https://good.example@evil.example`) never match.

use url::Url;

/// Checks an allow-list entry when it is saved.
pub fn valid_entry(entry: &str) -> Result<Url, String> {
    if !crate::urls::is_http_url(entry) {
        return Err(format!(
            "`{entry}` must be an http(s) URL with a DNS name or IPv4 host, no user info, query or fragment, and no spaces"
        ));
    }
    let u = Url::parse(entry).map_err(|_| format!("`{entry}` is not an absolute URL"))?;
    if !matches!(u.scheme(), "https" | "http") {
        return Err(format!("`{entry}` must be an http(s) URL"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(format!("`{entry}` must not contain user info"));
    }
    if u.host_str().is_none() || u.query().is_some() || u.fragment().is_some() {
        return Err(format!(
            "`{entry}` must have a host and no query or fragment"
        ));
    }
    Ok(u)
}

/// Whether `candidate` is allowed by one of the entries.
pub fn allowed(allowlist: &[String], candidate: &str) -> bool {
    let Ok(c) = Url::parse(candidate) else {
        return false;
    };
    if !c.username().is_empty() || c.password().is_some() || c.fragment().is_some() {
        return false;
    }
    allowlist
        .iter()
        .filter_map(|e| valid_entry(e).ok())
        .any(|a| {
            a.scheme() == c.scheme()
                && a.host_str() == c.host_str()
                && a.port_or_known_default() == c.port_or_known_default()
                && path_within(a.path(), c.path())
        })
}

fn path_within(prefix: &str, path: &str) -> bool {
    if prefix == "/" || path == prefix {
        return true;
    }
    let p = prefix.trim_end_matches('/');
    path.strip_prefix(p)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_origin_and_path_prefix() {
        let list = vec!["https://good.example/app".to_string()];
        assert!(allowed(&list, "https://good.example/app"));
        assert!(allowed(&list, "https://good.example/app/done?x=1"));
        assert!(allowed(&list, "https://GOOD.example:443/app/x"));
        for bad in [
            "https://evil.example/app",
            "https://good.example@evil.example/app",
            "https://good.example:pw@good.example/app",
            "http://good.example/app",
            "https://good.example:8443/app",
            "https://good.example/application",
            "https://good.example/other",
            "https://good.example.evil.example/app",
            "javascript:alert(1)",
            "/app",
        ] {
            assert!(!allowed(&list, bad), "{bad}");
        }
    }
}
