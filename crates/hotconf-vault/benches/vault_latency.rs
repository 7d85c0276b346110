//! Vault against a real OpenBao dev server on loopback, three measurements:
//!
//! - write → applied with a 0 s interval (polling as fast as the server answers): a raw KV
//!   poller, the least any client without push does (`GET secret/data/P` in a loop until the
//!   version moves), is the baseline; hotconf (a `Reloader` over a `VaultProvider`, until a
//!   store subscription sees the change) reads the metadata and then the data. The two follow
//!   two secrets and are measured in alternate rounds.
//! - write → applied at a 1 s interval: what the interval costs (about half of it on average).
//! - the load on the server per follower at the default interval: requests per poll, counted
//!   in the server's audit log over a window, turned into requests per minute at 30 s.
//!
//! Run: `cargo bench -p hotconf-vault --bench vault_latency`. Under `cargo test` (no `--bench`
//! argument) it runs a few rounds as a smoke test.

use std::time::{Duration, Instant};

use hotconf_core::{Reloader, Secret, Snapshot, Subscription};
use hotconf_testkit::latency::report;
use hotconf_testkit::openbao::OpenBao;
use hotconf_vault::{Auth, VaultClient, VaultProvider, VaultSource};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn rounds(default: usize) -> usize {
    if benching() {
        hotconf_testkit::latency::rounds(default)
    } else {
        5
    }
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

async fn follow(bao: &OpenBao, path: &str, interval: Duration) -> Reloader<Value> {
    let client =
        VaultClient::new(&bao.url()).auth(Auth::Token(Secret::new(bao.root_token().to_owned())));
    let source = VaultSource::secret(format!("secret/{path}")).interval(interval);
    Reloader::<Value>::builder()
        .layer(VaultProvider::new(&client, source))
        .start()
        .await
        .unwrap()
}

async fn applied(changes: &mut Subscription<Snapshot<Value>>, n: u64) {
    within("applied", async {
        loop {
            if changes.borrow_and_update().config()["n"] == n {
                return;
            }
            changes.changed().await.unwrap();
        }
    })
    .await;
}

/// A raw poller: `GET secret/data/P` until the version is `version`.
async fn raw_poll(http: &reqwest::Client, bao: &OpenBao, path: &str, version: u64) {
    let url = format!("{}/v1/secret/data/{path}", bao.url());
    within("the raw poll", async {
        loop {
            let body = http
                .get(&url)
                .header("X-Vault-Token", bao.root_token())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let answer: Value = serde_json::from_slice(&body).unwrap();
            if answer["data"]["metadata"]["version"] == version {
                return;
            }
        }
    })
    .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bao = OpenBao::start().await;
    bao.enable_file_audit().await;
    println!("vault_latency: OpenBao dev server on loopback");

    // 1. Polling as fast as the server answers: hotconf against a raw KV poller.
    bao.put("raw", json!({"n": 0})).await;
    bao.put("hot", json!({"n": 0})).await;
    let http = reqwest::Client::new();
    let hot = follow(&bao, "hot", Duration::ZERO).await;
    let mut changes = hot.store().subscribe();
    let (mut raw_samples, mut hot_samples) = (Vec::new(), Vec::new());
    for n in 1..=rounds(200) as u64 {
        let started = Instant::now();
        let version = bao.put("raw", json!({"n": n})).await;
        raw_poll(&http, &bao, "raw", version).await;
        raw_samples.push(started.elapsed());
        let started = Instant::now();
        bao.put("hot", json!({"n": n})).await;
        applied(&mut changes, n).await;
        hot_samples.push(started.elapsed());
    }
    drop(hot);
    let baseline = report("raw KV poller, 0 s interval (baseline)", raw_samples, None);
    report(
        "write -> applied, 0 s interval",
        hot_samples,
        Some(baseline),
    );

    // 2. At a 1 s interval.
    let interval = Duration::from_secs(1);
    bao.put("slow", json!({"n": 0})).await;
    let slow = follow(&bao, "slow", interval).await;
    let mut changes = slow.store().subscribe();
    let mut samples = Vec::new();
    for n in 1..=rounds(30) as u64 {
        // Writes land at random points of the poll cycle.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(..1000))).await;
        let started = Instant::now();
        bao.put("slow", json!({"n": n})).await;
        applied(&mut changes, n).await;
        samples.push(started.elapsed());
    }
    drop(slow);
    report("write -> applied, 1 s interval", samples, Some(interval));

    // 3. Requests per poll, from the audit log: 10 followers at a 200 ms interval for 5 s.
    let before = bao.audit_requests().len();
    let followers = 10;
    let window = Duration::from_secs(if benching() { 5 } else { 1 });
    let poll = Duration::from_millis(200);
    let mut reloaders = Vec::new();
    for i in 0..followers {
        let path = format!("load/{i}");
        bao.put(&path, json!({"n": i})).await;
        reloaders.push(follow(&bao, &path, poll).await);
    }
    let started = Instant::now();
    let at_start = bao.audit_requests().len();
    tokio::time::sleep(window).await;
    let requests = bao.audit_requests().len() - at_start;
    let elapsed = started.elapsed();
    drop(reloaders);
    let polls = followers as f64 * elapsed.as_secs_f64() / poll.as_secs_f64();
    let per_poll = requests as f64 / polls;
    println!(
        "  requests per poll per follower: {per_poll:.2} ({requests} requests, {followers} followers, {:.1} s, {} audited in all)",
        elapsed.as_secs_f64(),
        bao.audit_requests().len() - before
    );
    println!(
        "  at the default 30 s interval: {:.1} requests per minute per follower; 1 000 followers: {:.1} requests/s",
        per_poll * 2.0,
        per_poll * 1000.0 / 30.0
    );
}
