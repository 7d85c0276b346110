//! Nacos against a real r-nacos on loopback: publish → applied with each listener, against the
//! raw nacos-sdk listener and the raw HTTP long-poll listener measured in the same run.
//!
//! Run: `cargo bench -p hotconf-nacos --bench nacos_latency`

use std::sync::Arc;
use std::time::{Duration, Instant};

use hotconf_core::Reloader;
use hotconf_nacos::{Listener, NacosClient, NacosProvider, NacosSource};
use hotconf_testkit::latency::report;
use hotconf_testkit::nacos::RNacos;
use nacos_sdk::api::config::{ConfigChangeListener, ConfigResponse, ConfigServiceBuilder};
use nacos_sdk::api::props::ClientProps;
use serde_json::Value;
use tokio::sync::mpsc;

/// Rounds per measurement: `HOTCONF_BENCH_ROUNDS`, or 60.
static ROUNDS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| hotconf_testkit::latency::rounds(60));

struct Publisher {
    http: reqwest::Client,
    api: String,
}

impl Publisher {
    async fn publish(&self, data_id: &str, content: &str) {
        let form = [
            ("dataId", data_id),
            ("group", "DEFAULT_GROUP"),
            ("content", content),
        ];
        let response = self
            .http
            .post(format!("{}/v1/cs/configs", self.api))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

struct Forward(mpsc::UnboundedSender<String>);

impl ConfigChangeListener for Forward {
    fn notify(&self, config: ConfigResponse) {
        let _ = self.0.send(config.content().clone());
    }
}

async fn raw_sdk(nacos: &RNacos, publisher: &Publisher) -> Vec<Duration> {
    publisher.publish("raw.yaml", "value: start").await;
    let service = ConfigServiceBuilder::new(
        ClientProps::new()
            .server_addr(nacos.server())
            .remote_grpc_port(nacos.grpc_port())
            .env_first(false)
            .cache_dir(std::env::temp_dir().join("hotconf-nacos-bench")),
    )
    .build()
    .await
    .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    service
        .add_listener(
            "raw.yaml".into(),
            "DEFAULT_GROUP".into(),
            Arc::new(Forward(tx)),
        )
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(*ROUNDS);
    for i in 0..*ROUNDS {
        let content = format!("value: raw{i}");
        let start = Instant::now();
        publisher.publish("raw.yaml", &content).await;
        while rx.recv().await.unwrap() != content {}
        samples.push(start.elapsed());
    }
    samples
}

/// The 1.x HTTP long poll (docs/protocols.md#the-1x-http-long-poll): one request held until the md5 differs.
async fn raw_long_poll(nacos: &RNacos, publisher: &Publisher) -> Vec<Duration> {
    publisher.publish("poll.yaml", "value: start").await;
    let http = reqwest::Client::new();
    let api = nacos.api();
    let mut samples = Vec::with_capacity(*ROUNDS);
    for i in 0..*ROUNDS {
        let current = http
            .get(format!("{api}/v1/cs/configs"))
            .query(&[("dataId", "poll.yaml"), ("group", "DEFAULT_GROUP")])
            .send()
            .await
            .unwrap();
        let md5 = current.headers()["content-md5"]
            .to_str()
            .unwrap()
            .to_owned();
        let listening = format!("poll.yaml\u{2}DEFAULT_GROUP\u{2}{md5}\u{1}");
        let poll = http
            .post(format!("{api}/v1/cs/configs/listener"))
            .header("Long-Pulling-Timeout", "30000")
            .form(&[("Listening-Configs", listening.as_str())])
            .send();
        let poll = tokio::spawn(poll);
        // Give the listener time to register before publishing.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let content = format!("value: poll{i}");
        let start = Instant::now();
        publisher.publish("poll.yaml", &content).await;
        let body = poll.await.unwrap().unwrap().text().await.unwrap();
        assert!(body.contains("poll.yaml"), "{body:?}");
        samples.push(start.elapsed());
    }
    samples
}

async fn hotconf(nacos: &RNacos, publisher: &Publisher, listener: Listener) -> Vec<Duration> {
    let data_id = format!("hot-{listener:?}.yaml");
    publisher.publish(&data_id, "value: start").await;
    let provider = NacosProvider::new(
        &NacosClient::new([nacos.server()]).grpc_port(nacos.grpc_port()),
        NacosSource::new(data_id.as_str()).listener(listener),
    );
    let reloader = Reloader::<Value>::builder()
        .layer(provider)
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    let mut changes = store.subscribe();
    let mut samples = Vec::with_capacity(*ROUNDS);
    for i in 0..*ROUNDS {
        let content = format!("h{i}");
        changes.borrow_and_update();
        let start = Instant::now();
        publisher
            .publish(&data_id, &format!("value: {content}"))
            .await;
        while store.load()["value"] != content.as_str() {
            changes.changed().await.unwrap();
        }
        samples.push(start.elapsed());
    }
    samples
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let nacos = RNacos::start();
        let publisher = Publisher {
            http: reqwest::Client::new(),
            api: nacos.api(),
        };
        // The SDK's listener sometimes sees a publish only at its next 60 s check (a 30-round
        // run on 2026-11-30 had a p99 of 60 044 ms): --short skips its rows.
        let short = hotconf_testkit::latency::short();
        let sdk = if short {
            None
        } else {
            Some(raw_sdk(&nacos, &publisher).await)
        };
        let poll = raw_long_poll(&nacos, &publisher).await;
        let hot_poll = hotconf(&nacos, &publisher, Listener::LongPoll).await;
        let hot_sdk = if short {
            None
        } else {
            Some(hotconf(&nacos, &publisher, Listener::Sdk).await)
        };
        println!(
            "\npublish -> applied ({} publishes, one dataId, r-nacos 0.8.8, loopback)",
            *ROUNDS
        );
        let sdk = sdk.map(|sdk| report("raw nacos-sdk listener (baseline)", sdk, None));
        match hot_sdk {
            Some(hot_sdk) => {
                report("hotconf, Listener::Sdk", hot_sdk, sdk);
            }
            None => println!("  (the nacos-sdk listener rows are skipped by --short)"),
        }
        let poll = report("raw HTTP long-poll listener", poll, sdk);
        report(
            "hotconf, Listener::LongPoll (default)",
            hot_poll.clone(),
            sdk,
        );
        report(
            "hotconf, Listener::LongPoll vs raw long poll",
            hot_poll,
            Some(poll),
        );
    });
}
