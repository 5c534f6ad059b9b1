//! Refresh stampede: many concurrent executes on a connector whose access token has expired
//! must cause exactly one token request (single-flight), and cost little more than the same
//! load with a fresh token.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use connector_core::{
    Connector, HttpConfig, OAuthCredentials, OAuthTokenSource, ProviderClient, Secret,
};
use serde_json::json;

use super::inproc::{gmail_sandbox, ADA};
use super::Samples;

/// One stampede round and the fresh-token round that follows it on the same connector.
#[derive(Debug, Default)]
pub struct Round {
    pub expired: Samples,
    pub fresh: Samples,
    /// Token requests the emulator counted during the expired-token burst.
    pub token_requests_expired: u64,
    /// ... and during the fresh-token burst.
    pub token_requests_fresh: u64,
}

async fn burst(c: &Arc<Connector>, id: &str, calls: usize) -> Samples {
    let mut tasks = Vec::with_capacity(calls);
    for _ in 0..calls {
        let c = c.clone();
        let params = json!({"message_id": id, "format": "metadata"});
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c.execute("messages", "get", params).await;
            (t.elapsed(), r.map(|o| o.result["id"].clone()))
        }));
    }
    let mut s = Samples::default();
    for t in tasks {
        let (d, r): (Duration, _) = t.await.expect("task");
        let got = r.expect("messages.get during the stampede");
        assert_eq!(got, json!(id));
        s.push(d);
    }
    s
}

/// `rounds` rounds of `calls` concurrent `messages.get` on a connector built from an expired
/// access token and a valid refresh token, each followed by the same burst with the token it
/// got. One warm-up burst (not reported) opens the pooled connections first.
pub async fn run(calls: usize, rounds: usize) -> Vec<Round> {
    let (sb, ids) = gmail_sandbox(20);
    let id = ids[0].clone();
    let http = HttpConfig::new(sb.base_url());
    let client = ProviderClient::build_reqwest(&http).expect("reqwest client");
    let refresh = sb.issue_refresh_token(ADA, connector_gmail::SCOPES_FULL);
    let build = |access_expired: bool| {
        let creds = OAuthCredentials {
            access_token: Some(Secret::new("stale-access-token")),
            expires_at: Some(if access_expired {
                SystemTime::UNIX_EPOCH + Duration::from_secs(1)
            } else {
                SystemTime::now() + Duration::from_secs(3600)
            }),
            refresh_token: Some(Secret::new(refresh.clone())),
            client_id: Some("bench-client".into()),
            client_secret: Some(Secret::new("bench-secret")),
            token_url: Some(sb.token_url()),
            scope: None,
        };
        let tokens = OAuthTokenSource::new(creds, client.clone()).expect("token source");
        let mut http = HttpConfig::new(sb.base_url());
        http.shared_client = Some(client.clone());
        Arc::new(connector_gmail::connector(Arc::new(tokens), http).expect("Gmail connector"))
    };
    // Warm-up: the emulator accepts any bearer token as ada, so a "fresh" stale token works.
    burst(&build(false), &id, calls).await;
    let mut out = Vec::new();
    for _ in 0..rounds {
        let c = build(true);
        let before = sb.stats().token_requests;
        let expired = burst(&c, &id, calls).await;
        let mid = sb.stats().token_requests;
        let fresh = burst(&c, &id, calls).await;
        let after = sb.stats().token_requests;
        out.push(Round {
            expired,
            fresh,
            token_requests_expired: mid - before,
            token_requests_fresh: after - mid,
        });
    }
    out
}
