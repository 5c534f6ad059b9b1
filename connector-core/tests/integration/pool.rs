//! The keep-alive pool: calls on one connector instance (and on instances sharing a reqwest
//! client) reuse one connection; a per-thread client gives each sending thread its own pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use connector_core::{ProviderClient, ProviderRequest, StaticToken};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A minimal keep-alive HTTP/1.1 server that counts connections.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut pending = Vec::new();
                loop {
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let body = b"{\"ok\":true}";
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        if sock.write_all(head.as_bytes()).await.is_err()
                            || sock.write_all(body).await.is_err()
                        {
                            return;
                        }
                    }
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), connections)
}

#[tokio::test]
async fn sequential_calls_reuse_one_connection() {
    let (base, connections) = counting_server().await;
    let client = ProviderClient::new(crate::common::http(&base)).unwrap();
    let token = StaticToken::new("t");
    for _ in 0..5 {
        let r = client
            .send(&ProviderRequest::get("/x"), Some(&token), true)
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn instances_sharing_a_reqwest_client_share_its_pool() {
    let (base, connections) = counting_server().await;
    let cfg = crate::common::http(&base);
    let shared = ProviderClient::build_reqwest(&cfg).unwrap();
    let a = ProviderClient::with_client(cfg.clone(), shared.clone()).unwrap();
    let b = ProviderClient::with_client(cfg, shared).unwrap();
    let token = StaticToken::new("t");
    let c = ProviderClient::new(crate::common::http(&base).with_shared_client(a.reqwest().clone()))
        .unwrap();
    for c in [&a, &b, &a, &b, &c] {
        c.send(&ProviderRequest::get("/x"), Some(&token), true)
            .await
            .unwrap();
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// Issue 27: with a [`PerThreadClient`], each thread that sends gets its own pool, so the
/// connection a thread's request goes out on is driven by that thread's runtime (actix-web runs
/// one single-threaded runtime per worker). Instances still share the pool of the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_per_thread_client_gives_each_sending_thread_its_own_pool() {
    use connector_core::http::PerThreadClient;
    let (base, connections) = counting_server().await;
    let cfg = crate::common::http(&base);
    let built = Arc::new(AtomicUsize::new(0));
    let clients = PerThreadClient::new({
        let (cfg, built) = (cfg.clone(), built.clone());
        move || {
            built.fetch_add(1, Ordering::SeqCst);
            ProviderClient::build_reqwest(&cfg).unwrap()
        }
    });
    let a = ProviderClient::new(cfg.clone().with_per_thread_client(clients.clone())).unwrap();
    let b = ProviderClient::new(cfg.with_per_thread_client(clients.clone())).unwrap();
    // Two worker threads, each on its own single-threaded runtime, alive together (a thread id
    // is reused once its thread ends, and its client with it).
    let both_done = Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (a, b, both_done) = (a.clone(), b.clone(), both_done.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let token = StaticToken::new("t");
                    for c in [&a, &b, &a, &b] {
                        c.send(&ProviderRequest::get("/x"), Some(&token), true)
                            .await
                            .unwrap();
                    }
                });
                both_done.wait();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(built.load(Ordering::SeqCst), 2, "one client per thread");
    assert_eq!(clients.threads(), 2);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "each thread's four calls, over two instances, share its one connection"
    );
}

/// `PerThreadClient::checked` builds one client at start (a build that fails stops the start,
/// not some worker's first call) and hands that client to the first thread that sends: no
/// client is built only to be thrown away.
#[test]
fn a_checked_per_thread_client_builds_at_start_and_gives_that_client_to_the_first_thread() {
    use connector_core::http::PerThreadClient;
    let built = Arc::new(AtomicUsize::new(0));
    let clients = PerThreadClient::checked({
        let built = built.clone();
        move || {
            built.fetch_add(1, Ordering::SeqCst);
            reqwest::Client::builder().build()
        }
    })
    .unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 1, "built at start");
    assert_eq!(clients.threads(), 0);
    let both_done = Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (clients, both_done) = (clients.clone(), both_done.clone());
            std::thread::spawn(move || {
                let _ = clients.get();
                let _ = clients.get();
                both_done.wait();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        built.load(Ordering::SeqCst),
        2,
        "the first thread took the client built at start; the second built one"
    );
    assert_eq!(clients.threads(), 2);

    let failing = PerThreadClient::checked(|| Err::<reqwest::Client, _>("no TLS roots"));
    assert_eq!(failing.err(), Some("no TLS roots"));
}
