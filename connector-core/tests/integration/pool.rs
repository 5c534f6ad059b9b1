//! The keep-alive pool: calls on one connector instance (and on instances sharing a reqwest
//! client) reuse one connection.

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
