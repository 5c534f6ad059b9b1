//! Single-use signed approval links: `token = {approval id}.{expires ms}.{reviewer, base64url}.
//! {HMAC-SHA256 hex}` under a random key per approval (sealed in its row), so a link cannot be
//! forged or stretched, names who it was for, and dies with the approval's decision.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where links point (outside `/api/`: the bearer of the link needs no API token).
pub const PATH: &str = "/approvals/decide";

pub struct Parsed {
    pub approval_id: String,
    pub expires_ms: i64,
    pub reviewer: String,
    signed: String,
    mac: Vec<u8>,
}

fn mac(key: &[u8], signed: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(signed.as_bytes());
    m
}

pub fn sign(key: &[u8], approval_id: &str, expires_ms: i64, reviewer: &str) -> String {
    let signed = format!(
        "{approval_id}.{expires_ms}.{}",
        URL_SAFE_NO_PAD.encode(reviewer.as_bytes())
    );
    let tag = hex::encode(mac(key, &signed).finalize().into_bytes());
    format!("{signed}.{tag}")
}

pub fn parse(token: &str) -> Option<Parsed> {
    if token.len() > 1024 {
        return None;
    }
    let mut parts = token.split('.');
    let (id, expires, reviewer, tag) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !id.starts_with("apr_") {
        return None;
    }
    Some(Parsed {
        approval_id: id.to_string(),
        expires_ms: expires.parse().ok()?,
        reviewer: String::from_utf8(URL_SAFE_NO_PAD.decode(reviewer).ok()?).ok()?,
        signed: format!("{id}.{expires}.{reviewer}"),
        mac: hex::decode(tag).ok()?,
    })
}

/// Constant-time check of the signature.
pub fn verify(key: &[u8], p: &Parsed) -> bool {
    mac(key, &p.signed).verify_slice(&p.mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_verifies_only_unchanged_and_under_its_key() {
        let t = sign(b"k1", "apr_1", 99, "Ada <ada@corp.example>");
        let p = parse(&t).unwrap();
        assert!(verify(b"k1", &p));
        assert_eq!(p.reviewer, "Ada <ada@corp.example>");
        assert!(!verify(b"k2", &p));
        let stretched = t.replacen(".99.", ".999.", 1);
        assert!(!verify(b"k1", &parse(&stretched).unwrap()));
        assert!(parse("apr_1.x.y").is_none());
    }
}
