//! The Prometheus launcher checked against the real server: it scrapes a tiny exposition served
//! here, and a query sees the counter change; and `promtool check metrics` accepts a good
//! exposition and rejects broken ones.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotconf_testkit::prometheus::{promtool_check_metrics, Prometheus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn exposition(reloads: u64) -> String {
    format!(
        "# HELP hotconf_test_reloads_total Reloads applied.\n\
         # TYPE hotconf_test_reloads_total counter\n\
         hotconf_test_reloads_total{{source=\"memory\"}} {reloads}\n"
    )
}

/// Serves `exposition(counter)` to every request on a loopback port (HTTP/1.0 style: one
/// answer per connection, then close). The task ends with the runtime.
async fn serve(counter: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                // Read up to the end of the request head.
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = exposition(counter.load(Ordering::SeqCst));
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_exposition_and_sees_the_counter_change() {
    let counter = Arc::new(AtomicU64::new(3));
    let target = serve(counter.clone()).await;
    let prometheus = Prometheus::start(&[target]).await;
    assert_eq!(prometheus.targets(), &[target]);

    let deadline = Duration::from_secs(30);
    let up = prometheus
        .wait_for(
            "up{job=\"hotconf\"}",
            |r| r.len() == 1 && r[0].1 == 1.0,
            deadline,
        )
        .await;
    assert_eq!(up[0].0["instance"], target.to_string());

    let expr = "hotconf_test_reloads_total{job=\"hotconf\"}";
    let first = prometheus
        .wait_for(expr, |r| r.len() == 1 && r[0].1 == 3.0, deadline)
        .await;
    assert_eq!(first[0].0["source"], "memory");
    assert_eq!(first[0].0["__name__"], "hotconf_test_reloads_total");

    counter.store(41, Ordering::SeqCst);
    prometheus
        .wait_for(expr, |r| r.len() == 1 && r[0].1 == 41.0, deadline)
        .await;

    // A scalar result is one unlabelled sample.
    let scalar = prometheus
        .query("scalar(sum(up{job=\"hotconf\"})) * 2")
        .await;
    assert_eq!(scalar.len(), 1);
    assert!(scalar[0].0.is_empty());
    assert_eq!(scalar[0].1, 2.0);
}

#[tokio::test]
async fn a_query_no_series_matches_is_empty() {
    let prometheus = Prometheus::start(&[]).await;
    assert!(prometheus.query("hotconf_no_such_metric").await.is_empty());
}

#[tokio::test]
#[should_panic(expected = "health=down lastError=")]
async fn wait_for_panics_at_the_deadline_with_the_targets_health() {
    // A target nothing listens on: the message carries its scrape error.
    let nowhere: SocketAddr = format!("127.0.0.1:{}", hotconf_testkit::ports::free_port())
        .parse()
        .unwrap();
    let prometheus = Prometheus::start(&[nowhere]).await;
    prometheus
        .wait_for("up", |_| false, Duration::from_secs(3))
        .await;
}

#[test]
fn promtool_accepts_a_good_exposition() {
    promtool_check_metrics(&exposition(7)).unwrap();
}

#[test]
fn promtool_rejects_text_it_cannot_parse() {
    let error = promtool_check_metrics("hotconf_test_reloads_total{source 3\n").unwrap_err();
    assert!(error.contains("parsing error"), "{error}");
}

#[test]
fn promtool_reports_lint_problems() {
    let error =
        promtool_check_metrics("# TYPE hotconf_reloads counter\nhotconf_reloads 1\n").unwrap_err();
    assert!(error.contains("_total"), "{error}");
    assert!(error.contains("no help text"), "{error}");
}
