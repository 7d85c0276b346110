//! etcd against a real server on loopback, each figure against a baseline from the same run:
//! put → applied vs the raw etcd-client watch event; the initial load of a 10 000-key prefix vs
//! the raw range get; and 1000 puts per second for 10 s (final state applied, CPU bounded).
//!
//! Run: `cargo bench -p hotconf-etcd --bench etcd_latency`

use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions, Txn, TxnOp, WatchOptions};
use hotconf_core::{Provider, Reloader};
use hotconf_etcd::{EtcdClient, EtcdProvider, EtcdSource};
use hotconf_testkit::etcd::EtcdCluster;
use hotconf_testkit::latency::report;
use hotconf_testkit::scale::cpu_time;
use serde_json::Value;

/// Rounds per measurement: `HOTCONF_BENCH_ROUNDS`, or 300.
static ROUNDS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| hotconf_testkit::latency::rounds(300));

async fn put_to_applied(endpoint: &str) {
    let mut client = Client::connect([endpoint], None).await.unwrap();
    client.put("lat/value", "0", None).await.unwrap();

    // Raw: the etcd-client watch event for each put.
    let mut watch = client
        .watch("lat/", Some(WatchOptions::new().with_prefix()))
        .await
        .unwrap();
    watch.message().await.unwrap(); // created
    let mut raw = Vec::with_capacity(*ROUNDS);
    for i in 0..*ROUNDS {
        let start = Instant::now();
        client.put("lat/value", i.to_string(), None).await.unwrap();
        while watch.message().await.unwrap().unwrap().events().is_empty() {}
        raw.push(start.elapsed());
    }
    drop(watch);

    // hotconf: the same put until a reader loads the new config.
    let provider = EtcdProvider::new(&EtcdClient::new([endpoint]), EtcdSource::prefix("lat/"));
    let reloader = Reloader::<Value>::builder()
        .layer(provider)
        .start()
        .await
        .unwrap();
    let mut changes = reloader.store().subscribe();
    let mut applied = Vec::with_capacity(*ROUNDS);
    for i in 0..*ROUNDS {
        changes.borrow_and_update();
        let start = Instant::now();
        client
            .put("lat/value", format!("h{i}"), None)
            .await
            .unwrap();
        changes.changed().await.unwrap();
        applied.push(start.elapsed());
    }
    println!("\nput -> applied ({} puts, one key, loopback)", *ROUNDS);
    let base = report("raw etcd-client watch event (baseline)", raw, None);
    report("hotconf applied (readers see it)", applied, Some(base));
}

async fn initial_load(endpoint: &str) {
    let mut client = Client::connect([endpoint], None).await.unwrap();
    for chunk in (0..10_000).collect::<Vec<_>>().chunks(100) {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|i| {
                TxnOp::put(
                    format!("big/svc{:02}/key{i:05}", i % 50),
                    format!("value-{i}"),
                    None,
                )
            })
            .collect();
        client.txn(Txn::new().and_then(ops)).await.unwrap();
    }
    let runs = if hotconf_testkit::latency::short() {
        5
    } else {
        20
    };
    let mut raw = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let response = client
            .get("big/", Some(GetOptions::new().with_prefix()))
            .await
            .unwrap();
        assert_eq!(response.kvs().len(), 10_000);
        raw.push(start.elapsed());
    }
    let provider = EtcdProvider::new(&EtcdClient::new([endpoint]), EtcdSource::prefix("big/"));
    let mut load = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        provider.load().await.unwrap();
        load.push(start.elapsed());
    }
    let mut start_all = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let reloader = Reloader::<Value>::builder()
            .layer(provider.clone())
            .start()
            .await
            .unwrap();
        start_all.push(start.elapsed());
        drop(reloader);
    }
    println!("\ninitial load of a 10 000-key prefix ({runs} runs)");
    let base = report("raw range get (baseline)", raw, None);
    report("EtcdProvider::load (list + layer)", load, Some(base));
    report(
        "Reloader start (+ nest, merge, deserialize)",
        start_all,
        Some(base),
    );
}

async fn sustained(endpoint: &str) {
    let mut client = Client::connect([endpoint], None).await.unwrap();
    client.put("rate/value", "start", None).await.unwrap();
    let provider = EtcdProvider::new(&EtcdClient::new([endpoint]), EtcdSource::prefix("rate/"));
    let builder = Reloader::<Value>::builder().layer(provider);
    let mut stats = builder.stats();
    let reloader = builder.start().await.unwrap();
    let store = reloader.store();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let writes = if hotconf_testkit::latency::short() {
        2_000
    } else {
        10_000
    };
    for i in 0..writes {
        ticker.tick().await;
        client.put("rate/value", i.to_string(), None).await.unwrap();
    }
    let elapsed = started.elapsed();
    let last = (writes - 1).to_string();
    let mut changes = store.subscribe();
    while store.load()["value"] != last.as_str() {
        changes.changed().await.unwrap();
    }
    let cpu = cpu_time() - cpu_before;
    let applied = stats.borrow_and_update().applied;
    println!(
        "\n{writes} puts at up to 1000/s ({:.1} s), one watcher",
        elapsed.as_secs_f64()
    );
    println!(
        "  final state applied: yes; applies: {applied} for {writes} puts ({:.2} per put)",
        applied as f64 / writes as f64
    );
    println!(
        "  CPU of this process (writer + client + hotconf): {:.2} s over {:.1} s = {:.0}% of one core",
        cpu.as_secs_f64(),
        elapsed.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let server = EtcdCluster::single();
    let endpoint = server.endpoint(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        put_to_applied(&endpoint).await;
        initial_load(&endpoint).await;
        sustained(&endpoint).await;
    });
}
