//! Apollo against the emulator on loopback: publish → applied vs the raw long-poll return, and
//! vs the raw long poll plus the `/configs` read any client must make after a notification, in
//! the same run. The three are measured in alternate rounds on two namespaces of one app (a
//! release wakes only the polls that carry its namespace), so that all see the same machine
//! over time; before each publish, a long poll is parked for that namespace (the emulator's
//! `held` counter), so what is measured is the wake-up, not the poll's re-arming. The emulator
//! runs on a runtime of its own, as a server runs in its own process.
//!
//! Run: `cargo bench -p hotconf-apollo --bench apollo_latency`

use std::time::Instant;

use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
use hotconf_core::Reloader;
use hotconf_testkit::apollo::ApolloEmulator;
use hotconf_testkit::latency::{report, report_paired};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

/// Rounds per measurement: `HOTCONF_BENCH_ROUNDS`, or 500.
static ROUNDS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| hotconf_testkit::latency::rounds(500));
const APP: &str = "bench";
const CLUSTER: &str = "default";

/// A plain long poll: `GET /notifications/v2` for namespace `raw` at notification id `last`;
/// returns the new id and the `messages` from the 200 answer.
async fn long_poll(http: &reqwest::Client, base: &str, last: i64) -> (i64, Value) {
    let list = json!([{"namespaceName": "raw", "notificationId": last}]).to_string();
    let url = format!(
        "{base}/notifications/v2?appId={APP}&cluster={CLUSTER}&notifications={}",
        utf8_percent_encode(&list, NON_ALPHANUMERIC)
    );
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let notification = &body[0];
    assert_eq!(notification["namespaceName"], "raw");
    (
        notification["notificationId"].as_i64().unwrap(),
        notification["messages"].clone(),
    )
}

/// The read that follows a notification: `GET /configs/{app}/default/raw` with the release key
/// held and the notification's `messages`, as a client sends them; returns the new release key.
async fn read(http: &reqwest::Client, base: &str, release_key: &str, messages: &Value) -> String {
    let url = format!(
        "{base}/configs/{APP}/{CLUSTER}/raw?releaseKey={}&messages={}",
        utf8_percent_encode(release_key, NON_ALPHANUMERIC),
        utf8_percent_encode(&messages.to_string(), NON_ALPHANUMERIC)
    );
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body = response.bytes().await.unwrap();
    let release: Value = serde_json::from_slice(&body).unwrap();
    release["releaseKey"].as_str().unwrap().to_owned()
}

async fn publish_to_applied(apollo: ApolloEmulator) {
    let mut release_key = apollo.publish(APP, CLUSTER, "raw", [("value", "0")]);
    apollo.publish(APP, CLUSTER, "lat", [("value", "0")]);
    let client = ApolloClient::new([apollo.address()]).app_id(APP);
    // Polls and reads over kept-alive connections, as a client that is notified often has.
    let http = reqwest::Client::new();
    let base = apollo.url();
    let reloader = Reloader::<Value>::builder()
        .layer(ApolloProvider::new(&client, ApolloSource::namespace("lat")))
        .start()
        .await
        .unwrap();
    let mut changes = reloader.store().subscribe();

    let mut raw = Vec::with_capacity(*ROUNDS);
    let mut raw_read = Vec::with_capacity(*ROUNDS);
    let mut applied = Vec::with_capacity(*ROUNDS);
    let mut last = apollo.notification_id(APP, CLUSTER, "raw");
    for i in 0..*ROUNDS {
        // Raw: a long poll parked on the current id, returning after the release.
        let poll = tokio::spawn({
            let (http, base) = (http.clone(), base.clone());
            async move { long_poll(&http, &base, last).await }
        });
        apollo.wait_for(|c| c.held == 2).await; // hotconf's and this one
        let start = Instant::now();
        apollo.publish(APP, CLUSTER, "raw", [("value", format!("r{i}"))]);
        last = poll.await.unwrap().0;
        raw.push(start.elapsed());
        // The read of that release, untimed, keeps the release key current.
        release_key = read(&http, &base, &release_key, &Value::Null).await;

        // Raw + read: the same long poll, then the read it calls for, until its body is in.
        let poll = tokio::spawn({
            let (http, base, key) = (http.clone(), base.clone(), release_key.clone());
            async move {
                let (id, messages) = long_poll(&http, &base, last).await;
                (id, read(&http, &base, &key, &messages).await)
            }
        });
        apollo.wait_for(|c| c.held == 2).await;
        let start = Instant::now();
        apollo.publish(APP, CLUSTER, "raw", [("value", format!("rr{i}"))]);
        (last, release_key) = poll.await.unwrap();
        raw_read.push(start.elapsed());

        // hotconf: a release until a reader loads the new config.
        changes.borrow_and_update();
        apollo.wait_for(|c| c.held == 1).await;
        let start = Instant::now();
        apollo.publish(APP, CLUSTER, "lat", [("value", format!("h{i}"))]);
        changes.changed().await.unwrap();
        applied.push(start.elapsed());
    }
    assert_eq!(
        reloader.store().load()["value"],
        format!("h{}", *ROUNDS - 1)
    );
    println!(
        "\npublish -> applied ({} releases each, one key, loopback emulator)",
        *ROUNDS
    );
    let poll_only = report("raw long-poll return (baseline)", raw, None);
    let with_read = report(
        "raw long poll + /configs read (baseline)",
        raw_read.clone(),
        None,
    );
    report(
        "hotconf applied vs raw long-poll return",
        applied.clone(),
        Some(poll_only),
    );
    report(
        "hotconf applied vs raw long poll + read",
        applied.clone(),
        Some(with_read),
    );
    report_paired(
        "hotconf applied vs raw long poll + read",
        &applied,
        &raw_read,
    );
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
    let apollo = server.block_on(ApolloEmulator::start());
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client.block_on(publish_to_applied(apollo));
}
