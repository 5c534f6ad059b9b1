//! Webhook delivery from the outbox: order, retries, dead letters, redelivery, restarts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::registry::Registry;
use server::AppState;

use super::{env, env_with, CONNECTORS, USER};

pub(super) const SECRET: &str = "whsec_events";
pub(super) const OK: u8 = 0;
const FAIL: u8 = 1;
const HANG: u8 = 2;

/// Headers (lower-case names) and body of one request.
type Request = (Vec<(String, String)>, Vec<u8>);

/// A webhook receiver whose answer can be switched: 200, 500, or no answer at all.
pub(super) struct Hook {
    pub(super) url: String,
    mode: Arc<AtomicU8>,
    got: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    pub(super) fn start(mode: u8) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(mode));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (m, sink) = (mode.clone(), got.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (m, sink) = (m.clone(), sink.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut headers = Vec::new();
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap_or(0);
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.trim_end().split_once(':') {
                            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                        }
                    }
                    let len = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    match m.load(Ordering::SeqCst) {
                        OK => {
                            sink.lock().unwrap().push((headers, body));
                            let _ = stream.write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                        FAIL => {
                            let _ = stream.write_all(
                                b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                        }
                        _ => std::thread::sleep(Duration::from_secs(30)),
                    }
                });
            }
        });
        Hook { url, mode, got }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    pub(super) fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }

    /// Waits for `n` received events; checks their signatures.
    pub(super) async fn wait(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        while self.bodies().len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} webhooks: {:#?}",
                self.bodies().len(),
                self.bodies()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let now = chrono::Utc::now().timestamp();
        for (headers, body) in self.got.lock().unwrap().iter() {
            let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let sig = h("x-connectors-signature").expect("signed");
            assert!(server::lifecycle::webhook::verify(
                SECRET.as_bytes(),
                &sig,
                body,
                now,
                300
            ));
            let v: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(h("x-connectors-event-id").as_deref(), v["id"].as_str());
            assert_eq!(h("x-connectors-event-type").as_deref(), v["type"].as_str());
        }
        self.bodies()
    }
}

fn raw(n: usize) -> Vec<u8> {
    format!("From: grace@example.com\r\nTo: {USER}\r\nSubject: m{n}\r\n\r\nbody {n}\r\n")
        .into_bytes()
}

fn sequences(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn a_receiver_that_fails_for_a_while_gets_every_event_afterwards_in_order() {
    let e = env().await;
    let hook = Hook::start(FAIL);
    e.settings(json!({"webhook_url": hook.url, "webhook_secret": SECRET}))
        .await;
    let id = e.connector("gmail").await;
    for n in 0..5 {
        e.gmail.insert_message(USER, &raw(n), &["INBOX"]);
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let feed = e.exactly(&id, 5).await;
    assert!(hook.bodies().is_empty());
    let (s, v) =
        e.h.get(
            &format!("{CONNECTORS}/{id}/events/deliveries?state=pending"),
            &e.t,
        )
        .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["data"][0]["last_error"], "HTTP 500");
    hook.set(OK);
    let got = hook.wait(5, Duration::from_secs(10)).await;
    assert_eq!(sequences(&got), [1, 2, 3, 4, 5]);
    assert_eq!(got, feed, "the webhook body is the feed's event");
}

#[actix_web::test]
async fn given_up_events_are_dead_until_redelivered_on_request() {
    let e = env_with(|c| c.events.max_attempts = 2).await;
    let hook = Hook::start(FAIL);
    e.settings(json!({"webhook_url": hook.url, "webhook_secret": SECRET}))
        .await;
    let id = e.connector("gmail").await;
    e.gmail.insert_message(USER, &raw(1), &["INBOX"]);
    e.gmail.insert_message(USER, &raw(2), &["INBOX"]);
    e.exactly(&id, 2).await;
    let dead = format!("{CONNECTORS}/{id}/events/deliveries");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = e.h.get(&dead, &e.t).await;
        if v["data"].as_array().unwrap().len() == 2 {
            assert_eq!(v["data"][0]["state"], "dead");
            assert_eq!(v["data"][0]["attempts"], 2);
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hook.set(OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(hook.bodies().is_empty(), "dead events wait for a request");
    let (s, v) =
        e.h.post(
            &format!("{CONNECTORS}/{id}/events/redeliver"),
            &e.t,
            json!({}),
        )
        .await;
    assert_eq!(s.as_u16(), 200, "{v}");
    assert_eq!(v["requeued"], 2);
    let got = hook.wait(2, Duration::from_secs(10)).await;
    assert_eq!(sequences(&got), [1, 2]);
    let (_, v) = e.h.get(&dead, &e.t).await;
    assert_eq!(v["data"], json!([]));
}

#[actix_web::test]
async fn a_server_stopped_mid_delivery_delivers_after_restart() {
    let mut e = env_with(|c| c.events.lease = Duration::from_millis(700)).await;
    let hook = Hook::start(HANG);
    e.settings(json!({"webhook_url": hook.url, "webhook_secret": SECRET}))
        .await;
    let id = e.connector("gmail").await;
    e.gmail.insert_message(USER, &raw(1), &["INBOX"]);
    e.exactly(&id, 1).await;
    // The server is inside the webhook request when it stops.
    tokio::time::sleep(Duration::from_millis(300)).await;
    e.workers = None;
    hook.set(OK);
    // A new server process on the same database and key takes the delivery up once the
    // stopped one's lease has run out.
    let mut config = server::Config::for_data_dir(e.h.dir.path());
    config.providers = e.h.state.config.providers.clone();
    config.events = e.h.state.config.events.clone();
    let registry = Registry::builtin(&config.providers);
    let second = AppState::with_registry(config, registry).await.unwrap();
    let _workers = second.services.events.spawn();
    let got = hook.wait(1, Duration::from_secs(10)).await;
    assert_eq!(got[0]["type"], "message.received");
    assert_eq!(got[0]["sequence"], 1);
}

#[actix_web::test]
async fn the_feed_long_polls_until_an_event_comes() {
    let e = env().await;
    let id = e.connector("gmail").await;
    let started = Instant::now();
    let (feed, _) = tokio::join!(e.feed(&id, "0", 10), async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        e.gmail.insert_message(USER, &raw(1), &["INBOX"]);
    });
    assert_eq!(feed["data"].as_array().unwrap().len(), 1, "{feed}");
    assert_eq!(feed["next_cursor"], "1");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Nothing after the cursor: an empty answer once the wait ends.
    let started = Instant::now();
    let empty = e.feed(&id, "1", 1).await;
    assert_eq!(empty, json!({"data": [], "next_cursor": "1"}));
    assert!(started.elapsed() >= Duration::from_millis(900));
    let (s, _) = e.h.get(&format!("{CONNECTORS}/nope/events"), &e.t).await;
    assert_eq!(s.as_u16(), 404);
    let (s, _) =
        e.h.get(&format!("{CONNECTORS}/{id}/events?after=x"), &e.t)
            .await;
    assert_eq!(s.as_u16(), 400);
}
