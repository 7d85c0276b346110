//! Consul against the emulator on loopback: put → applied vs the raw blocking-query return in
//! the same run. The two are measured in alternate rounds on two prefixes (a put wakes only its
//! own prefix's queries), so that both see the same machine over time; before each put, a
//! blocking query is parked on that prefix (the emulator's counter), so the rate limit of the
//! watch loop is not what is measured. The emulator runs on a runtime of its own, as a server
//! runs in its own process.
//!
//! Run: `cargo bench -p hotconf-consul --bench consul_latency`

use std::time::{Duration, Instant};

use hotconf_consul::{Block, ConsulClient, ConsulProvider, ConsulSource, RateLimit};
use hotconf_core::Reloader;
use hotconf_testkit::consul::ConsulEmulator;
use hotconf_testkit::latency::report;
use serde_json::Value;

/// Rounds per measurement: `HOTCONF_BENCH_ROUNDS`, or 500.
static ROUNDS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| hotconf_testkit::latency::rounds(500));
const WAIT: Duration = Duration::from_secs(60);

async fn put_to_applied(consul: ConsulEmulator) {
    consul.put("raw/value", "0");
    consul.put("lat/value", "0");
    let kv = ConsulClient::new([consul.address()]);
    // Puts over one kept-alive connection, as a client that writes often does (a connection
    // per put would add its setup and teardown to both measurements).
    let http = reqwest::Client::new();
    let base = format!("http://{}/v1/kv/", consul.address());
    let put = |key: &str, value: String| {
        let request = http.put(format!("{base}{key}")).body(value).send();
        async move {
            assert!(request.await.unwrap().status().is_success());
        }
    };
    let source = ConsulSource::prefix("lat/")
        .wait(WAIT)
        .rate_limit(RateLimit {
            burst: 2,
            refill: Duration::from_millis(1),
        });
    let provider = ConsulProvider::new(&kv, source);
    let reloader = Reloader::<Value>::builder()
        .layer(provider)
        .start()
        .await
        .unwrap();
    let mut changes = reloader.store().subscribe();

    let mut raw = Vec::with_capacity(*ROUNDS);
    let mut applied = Vec::with_capacity(*ROUNDS);
    let mut index = kv.list("raw/", None).await.unwrap().index;
    for i in 0..*ROUNDS {
        // Raw: a blocking query parked on the current index, returning after the put.
        let poll = tokio::spawn({
            let kv = kv.clone();
            async move {
                kv.list("raw/", Some(Block { index, wait: WAIT }))
                    .await
                    .unwrap()
            }
        });
        consul.wait_for(|c| c.parked == 2).await; // hotconf's and this one
        let start = Instant::now();
        put("raw/value", format!("r{i}")).await;
        index = poll.await.unwrap().index;
        raw.push(start.elapsed());

        // hotconf: a put until a reader loads the new config.
        changes.borrow_and_update();
        consul.wait_for(|c| c.parked == 1).await;
        let start = Instant::now();
        put("lat/value", format!("h{i}")).await;
        changes.changed().await.unwrap();
        applied.push(start.elapsed());
    }
    println!(
        "\nput -> applied ({} puts each, one key, loopback emulator)",
        *ROUNDS
    );
    let base = report("raw blocking-query return (baseline)", raw, None);
    report("hotconf applied (readers see it)", applied, Some(base));
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let consul = server.block_on(ConsulEmulator::start());
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client.block_on(put_to_applied(consul));
}
