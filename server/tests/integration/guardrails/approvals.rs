//! Every path of an approval, each on Gmail and Outlook: approve (and wait for it), reject,
//! expire, changed content, double decisions, another organization, signed links, and the
//! rules that ask for approval only when they apply.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_refused, env, Env, KINDS};
use crate::common::harness::{Req, Tenant, CONNECTORS};

const APPROVALS: &str = "/api/v1/approvals";

fn message(subject: &str) -> Value {
    json!({"to": ["Grace <grace@partner.example>"], "cc": ["bob@example.com"], "subject": subject,
        "text": "The numbers are attached.",
        "attachments": [{"filename": "q3.csv", "mime_type": "text/csv", "content_base64": "YSxiCjEsMgo="}]})
}

/// Sends and expects `approval_required`; returns the approval id.
async fn asks(env: &Env, id: &str, params: Value) -> String {
    let (s, v) = env.send(id, params).await;
    assert_eq!(s.as_u16(), 403, "{v}");
    assert_eq!(v["error"]["code"], "approval_required", "{v}");
    v["error"]["details"]["approval_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn decide(env: &Env, t: &Tenant, approval: &str, verb: &str) -> (StatusCode, Value) {
    env.h
        .send(Req::new(Method::POST, format!("{APPROVALS}/{approval}/{verb}")).by(t))
        .await
}

async fn approval(env: &Env, approval: &str) -> Value {
    let (s, v) = env.h.get(&format!("{APPROVALS}/{approval}"), &env.t).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn with_approval(env: &Env, kind: &str, policy: Value) -> String {
    let id = env.connector(kind).await;
    env.set_policy(&id, policy).await;
    id
}

#[actix_web::test]
async fn an_approved_send_goes_out_exactly_once_after_the_wait() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let subject = format!("approve-{kind}");
        let (s, v) = env.send(&id, message(&subject)).await;
        assert_eq!(v["error"]["code"], "approval_required", "{v}");
        assert_eq!(s.as_u16(), 403);
        let apr = v["error"]["details"]["approval_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(env.sent(kind, &subject), 0, "nothing went out");

        // The exact preview: from, recipients, subject, text, attachments with size and hash.
        let a = approval(&env, &apr).await;
        assert_eq!(a["status"], "pending");
        assert_eq!(a["connector_id"], id);
        let p = &a["preview"];
        assert_eq!(p["to"], json!(["Grace <grace@partner.example>"]));
        assert_eq!(p["cc"], json!(["bob@example.com"]));
        assert_eq!(p["subject"], subject);
        assert_eq!(p["text"], "The numbers are attached.");
        assert_eq!(p["attachments"][0]["size"], 8);
        assert_eq!(p["attachments"][0]["sha256"], sha256_hex(b"a,b\n1,2\n"));

        // Asking again while pending names the same approval.
        assert_eq!(asks(&env, &id, message(&subject)).await, apr);

        // An agent waits (long-poll) while a person approves.
        let wait_path = format!("{APPROVALS}/{apr}?wait_seconds=10");
        let wait = env.h.get(&wait_path, &env.t);
        let approve = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            decide(&env, &env.t, &apr, "approve").await
        };
        let started = std::time::Instant::now();
        let ((ws, waited), (ds, decided)) = futures::join!(wait, approve);
        assert_eq!(
            (ws, ds),
            (StatusCode::OK, StatusCode::OK),
            "{waited} {decided}"
        );
        assert_eq!(waited["status"], "approved", "{waited}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the wait ends at the decision"
        );
        assert!(
            decided["decided_by"].as_str().unwrap().starts_with("app:"),
            "{decided}"
        );
        assert!(decided["decided_at"].is_string());
        // The decision's answer is the approval as stored (it is built from the move, not read
        // again): the same as a later read.
        assert_eq!(approval(&env, &apr).await, decided, "{kind}");

        // The same message now goes out, once. The approval's first use sends under a key
        // nobody sent with before, so Gmail's sent mail is not searched for an earlier attempt.
        let searches = || env.gmail.stats().by_method.get("messages.list").copied();
        let before = searches();
        let (s, v) = env.send(&id, message(&subject)).await;
        assert_eq!(s, StatusCode::OK, "{kind}: {v}");
        assert_eq!(env.sent(kind, &subject), 1);
        if kind == "gmail" {
            assert_eq!(searches(), before, "no look-up before the first send");
        }
        assert_eq!(approval(&env, &apr).await["status"], "used");
        let (s, v) = env.send(&id, message(&subject)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["details"]["reason"], "approval_used");
        assert_eq!(env.sent(kind, &subject), 1, "{kind}: exactly once");

        // The decision is in the connector's event feed.
        let (s, feed) = env
            .h
            .get(&format!("{CONNECTORS}/{id}/events"), &env.t)
            .await;
        assert_eq!(s, StatusCode::OK, "{feed}");
        let kinds: Vec<&str> = feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["approval_id"] == apr.as_str())
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["approval.requested", "approval.decided"], "{feed}");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[actix_web::test]
async fn a_rejected_send_never_goes_out() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let subject = format!("reject-{kind}");
        let apr = asks(&env, &id, message(&subject)).await;
        let (s, v) = decide(&env, &env.t, &apr, "reject").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "rejected");
        assert_refused(&env.send(&id, message(&subject)).await, 403, "approval");
        assert_eq!(env.sent(kind, &subject), 0);
    }
}

#[actix_web::test]
async fn an_expired_approval_cannot_be_decided_and_the_send_asks_anew() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(
            &env,
            kind,
            json!({"require_approval": "all", "approval_ttl_seconds": 1}),
        )
        .await;
        let subject = format!("expire-{kind}");
        let apr = asks(&env, &id, message(&subject)).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(approval(&env, &apr).await["status"], "expired");
        let (s, v) = decide(&env, &env.t, &apr, "approve").await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(v["error"]["details"]["status"], "expired");
        let again = asks(&env, &id, message(&subject)).await;
        assert_ne!(again, apr);
        assert_eq!(env.sent(kind, &subject), 0);
    }
}

#[actix_web::test]
async fn a_changed_message_needs_a_new_approval() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let subject = format!("change-{kind}");
        let apr = asks(&env, &id, message(&subject)).await;
        assert_eq!(
            decide(&env, &env.t, &apr, "approve").await.0,
            StatusCode::OK
        );
        // Another recipient, another body, another attachment: each is another message.
        for change in [
            json!({"bcc": ["eve@elsewhere.example"]}),
            json!({"text": "The numbers are attached!"}),
            json!({"attachments": [{"filename": "q3.csv", "mime_type": "text/csv", "content_base64": "YSxiCjEsMwo="}]}),
        ] {
            let mut m = message(&subject);
            for (k, v) in change.as_object().unwrap() {
                m[k] = v.clone();
            }
            let other = asks(&env, &id, m).await;
            assert_ne!(other, apr, "{change}");
        }
        assert_eq!(env.sent(kind, &subject), 0);
        // The approved one still goes out.
        assert_eq!(env.send(&id, message(&subject)).await.0, StatusCode::OK);
        assert_eq!(env.sent(kind, &subject), 1);
    }
}

#[actix_web::test]
async fn an_approval_is_decided_once() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let apr = asks(&env, &id, message(&format!("twice-{kind}"))).await;
        assert_eq!(
            decide(&env, &env.t, &apr, "approve").await.0,
            StatusCode::OK
        );
        for verb in ["approve", "reject"] {
            let (s, v) = decide(&env, &env.t, &apr, verb).await;
            assert_eq!(s, StatusCode::CONFLICT, "{v}");
            assert_eq!(v["error"]["details"]["reason"], "already_decided");
        }
        assert_eq!(approval(&env, &apr).await["status"], "approved");
    }
}

#[actix_web::test]
async fn another_organizations_token_can_neither_see_nor_decide_an_approval() {
    let env = env().await;
    let other = env.h.tenant("other").await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let subject = format!("foreign-{kind}");
        let apr = asks(&env, &id, message(&subject)).await;
        for verb in ["approve", "reject"] {
            let (s, v) = decide(&env, &other, &apr, verb).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        }
        let (s, _) = env.h.get(&format!("{APPROVALS}/{apr}"), &other).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, list) = env.h.get(APPROVALS, &other).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list["data"], json!([]));
        let (s, v) = env
            .h
            .send(
                Req::new(Method::POST, format!("{APPROVALS}/{apr}/links"))
                    .by(&other)
                    .json(json!({})),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        // Still pending, nothing sent.
        assert_eq!(approval(&env, &apr).await["status"], "pending");
        let (s, mine) = env
            .h
            .get(&format!("{APPROVALS}?status=pending"), &env.t)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(mine["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == apr.as_str()));
        assert_eq!(env.sent(kind, &subject), 0);
    }
}

#[actix_web::test]
async fn a_signed_link_shows_the_message_and_decides_once() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let subject = format!("link-<b>{kind}</b>");
        let apr = asks(&env, &id, message(&subject)).await;
        let (s, link) = env
            .h
            .post(
                &format!("{APPROVALS}/{apr}/links"),
                &env.t,
                // An integer written as 600.0 is the integer 600 (JSON Schema's view).
                json!({"reviewer": "boss@example.com", "ttl_seconds": 600.0}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{link}");
        let url = link["url"].as_str().unwrap();
        let path = &url[url.find("/approvals/decide").unwrap()..];

        // Opening it shows the message (escaped) and decides nothing.
        let (s, page) = env.h.send(Req::new(Method::GET, path)).await;
        assert_eq!(s, StatusCode::OK);
        let page = page["raw"].as_str().unwrap();
        assert!(
            page.contains(&format!("link-&lt;b&gt;{kind}&lt;/b&gt;")),
            "{page}"
        );
        assert!(page.contains("q3.csv") && page.contains(&sha256_hex(b"a,b\n1,2\n")));
        assert_eq!(approval(&env, &apr).await["status"], "pending");

        // A changed token is refused.
        let mut forged = path.to_string();
        let last = forged.pop().unwrap();
        forged.push(if last == '0' { '1' } else { '0' });
        let (s, _) = env.h.send(Req::new(Method::GET, forged)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        let post = |decision: &'static str| {
            Req::new(Method::POST, path.to_string())
                .content_type("application/x-www-form-urlencoded")
                .raw(format!("decision={decision}"))
        };
        // Not a form, or a decision that is neither: 400, and nothing decided.
        let (s, v) = env
            .h
            .send(Req::new(Method::POST, path.to_string()).json(json!({"decision": "approve"})))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"]["code"], "invalid_params");
        let (s, v) = env.h.send(post("maybe")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(approval(&env, &apr).await["status"], "pending");

        let (s, _) = env.h.send(post("approve")).await;
        assert_eq!(s, StatusCode::OK);
        let a = approval(&env, &apr).await;
        assert_eq!(a["status"], "approved");
        assert_eq!(a["decided_by"], "link:boss@example.com");
        // Single use.
        let (s, v) = env.h.send(post("reject")).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(env.send(&id, message(&subject)).await.0, StatusCode::OK);
        assert_eq!(env.sent(kind, &subject), 1);
    }
}

#[actix_web::test]
async fn external_and_recipient_count_rules_ask_only_when_they_apply() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(
            &env,
            kind,
            json!({"require_approval": "external", "internal_domains": ["example.com"]}),
        )
        .await;
        let inside = json!({"to": ["grace@example.com"], "cc": ["BOB@Example.com"], "subject": "ext-in", "text": "x"});
        assert_eq!(env.send(&id, inside).await.0, StatusCode::OK, "{kind}");
        let outside = json!({"to": ["grace@example.com"], "bcc": ["x@partner.example"], "subject": "ext-out", "text": "x"});
        asks(&env, &id, outside).await;
        assert_eq!(
            (env.sent(kind, "ext-in"), env.sent(kind, "ext-out")),
            (1, 0)
        );

        let id = with_approval(
            &env,
            kind,
            json!({"require_approval": "more_recipients_than", "approval_above_recipients": 2}),
        )
        .await;
        let two = json!({"to": ["a@example.com"], "cc": ["b@example.com"], "subject": "count-2", "text": "x"});
        assert_eq!(env.send(&id, two).await.0, StatusCode::OK);
        let three = json!({"to": ["a@example.com"], "cc": ["b@example.com"], "bcc": ["c@example.com"], "subject": "count-3", "text": "x"});
        asks(&env, &id, three).await;
        assert_eq!(
            (env.sent(kind, "count-2"), env.sent(kind, "count-3")),
            (1, 0)
        );
    }
}

/// A held send answers with the message's preview (recipients, subject, text) in the error's
/// details. The logs name the failed request and its error code, never that content: an error
/// answer is not logged with its details.
#[actix_web::test]
async fn the_logs_of_a_held_send_carry_its_error_code_but_not_the_message() {
    let env = env().await;
    for kind in KINDS {
        let id = with_approval(&env, kind, json!({"require_approval": "all"})).await;
        let subject = format!("Quarterly-{kind}-7f3a");
        let params = json!({"to": ["Grace <grace.private@partner.example>"], "subject": subject,
            "text": format!("Confidential body {kind} 91c2")});
        let held = asks(&env, &id, params).await;
        let logs = env.h.logs.text();
        for secret in [
            subject.as_str(),
            "grace.private@partner.example",
            "Confidential body",
        ] {
            assert!(
                !logs.contains(secret),
                "{kind}: {secret:?} reached the logs"
            );
        }
        assert!(
            logs.contains("approval_required"),
            "{kind}: the failed request's error code is logged"
        );
        // The approval itself shows the preview to whoever may decide.
        let a = approval(&env, &held).await;
        assert_eq!(a["preview"]["subject"], subject, "{a}");
    }
}

/// Approved sends racing at a send limit take exactly its places: the limit is checked again
/// as each is counted, in one statement. The ones refused (429) keep their approval, still
/// `approved`, and nothing of theirs went out.
#[actix_web::test]
async fn approved_sends_racing_at_a_limit_take_exactly_its_places_and_keep_their_approvals() {
    let env = env().await;
    let kind = "gmail";
    let id = with_approval(
        &env,
        kind,
        json!({"require_approval": "all", "max_sends_per_hour": 3}),
    )
    .await;
    let subject = |i: usize| format!("race-{i}");
    let mut approvals = Vec::new();
    for i in 0..8 {
        let apr = asks(&env, &id, message(&subject(i))).await;
        let (s, v) = decide(&env, &env.t, &apr, "approve").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        approvals.push(apr);
    }
    let outcomes =
        futures::future::join_all((0..8).map(|i| env.send(&id, message(&subject(i))))).await;
    let sent = outcomes.iter().filter(|(s, _)| s.is_success()).count();
    assert_eq!(sent, 3, "{outcomes:?}");
    for (i, ((s, v), apr)) in outcomes.iter().zip(&approvals).enumerate() {
        let a = approval(&env, apr).await;
        if s.is_success() {
            assert_eq!(a["status"], "used", "{a}");
            assert_eq!(env.sent(kind, &subject(i)), 1);
        } else {
            assert_eq!(s.as_u16(), 429, "{v}");
            assert_eq!(v["error"]["code"], "rate_limited", "{v}");
            assert_eq!(a["status"], "approved", "{a}");
            assert_eq!(env.sent(kind, &subject(i)), 0);
        }
    }
}
