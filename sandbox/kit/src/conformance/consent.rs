//! The interactive consent screen's round trip, the same for every emulator
//! ([`crate::SandboxConfig::interactive_consent`]): the authorization request shows a page, an
//! accepted form redirects with a code and the request's `state`, the code is redeemed, a
//! cancelled form redirects with `access_denied` and no code. What the page offers and what
//! is granted are the provider's: each emulator's test asserts those itself.
//!
//! ```text
//! let flow = Consent::new(&sb, &[("client_id", "app"), ("redirect_uri", "http://localhost/cb"),
//!     ("response_type", "code"), ("scope", "..."), ("state", "xyz")]);
//! let page = flow.page().await;
//! let code = flow.accept(&[("granted", "...")]).await;
//! let token = flow.exchange(&code, ClientAuth::Basic("app", "secret")).await;
//! let location = flow.cancel().await;
//! ```

use std::collections::HashMap;

use serde_json::Value;

use crate::Emulator;

/// How the token request names the client.
#[derive(Clone, Copy)]
pub enum ClientAuth<'a> {
    /// HTTP Basic with the client id and secret.
    Basic(&'a str, &'a str),
    /// `client_id` in the form (a public client).
    Form(&'a str),
}

/// One authorization request against an emulator's consent screen.
pub struct Consent<'a> {
    http: reqwest::Client,
    authorize_url: String,
    token_url: String,
    /// The authorization request's parameters (`redirect_uri` and `state` among them).
    ask: &'a [(&'a str, &'a str)],
}

impl<'a> Consent<'a> {
    pub fn new(sb: &dyn Emulator, ask: &'a [(&'a str, &'a str)]) -> Consent<'a> {
        Consent {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            authorize_url: sb.authorize_url(),
            token_url: sb.token_url(),
            ask,
        }
    }

    fn param(&self, name: &str) -> &'a str {
        self.ask
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("the request has a `{name}`"))
    }

    /// The consent page the authorization request shows (a page, not a redirect).
    pub async fn page(&self) -> String {
        let r = self
            .http
            .get(&self.authorize_url)
            .query(self.ask)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "a page, not a redirect");
        r.text().await.unwrap()
    }

    /// The page's form sent back: the request's parameters, `fields`, then `decision`.
    async fn decide(&self, fields: &[(&str, &str)], decision: &str) -> reqwest::Response {
        let mut form = self.ask.to_vec();
        form.extend_from_slice(fields);
        form.push(("decision", decision));
        self.http
            .post(&self.authorize_url)
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Accepts with `fields` (the ticked scopes, say): the code of the redirect, which carries
    /// the request's `state`.
    pub async fn accept(&self, fields: &[(&str, &str)]) -> String {
        let r = self.decide(fields, "accept").await;
        assert_eq!(r.status(), 302);
        let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let q: HashMap<_, _> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["state"], self.param("state"));
        q["code"].clone()
    }

    /// Redeems `code` at the token endpoint: its JSON answer.
    pub async fn exchange(&self, code: &str, client: ClientAuth<'_>) -> Value {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.param("redirect_uri")),
        ];
        let mut request = self.http.post(&self.token_url);
        match client {
            ClientAuth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
            ClientAuth::Form(id) => form.push(("client_id", id)),
        }
        request
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Cancels: the redirect's `Location`, which says `access_denied`, carries the request's
    /// `state` and has no code.
    pub async fn cancel(&self) -> String {
        let r = self.decide(&[], "cancel").await;
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            loc.contains("error=access_denied")
                && loc.contains(&format!("state={}", self.param("state"))),
            "{loc}"
        );
        assert!(!loc.contains("code="), "{loc}");
        loc
    }
}
