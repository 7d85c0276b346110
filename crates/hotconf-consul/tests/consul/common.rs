//! Shared by the Consul test binaries: the fixture (the emulator, or a real agent when
//! `HOTCONF_CONSUL_ADDR` is set) and helpers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
use hotconf_core::provider::TlsFiles;
use hotconf_core::{Event, Format, Provider, Reloader, Startup};
use hotconf_testkit::consul::{ConsulEmulator, ConsulWriter};
use hotconf_testkit::front::LongPollFront;
use hotconf_testkit::{Fixture, TcpProxy};
use serde::Deserialize;
use serde_json::Value;

/// Where writes go: the emulator (held to keep it running), or a real agent.
pub struct Target {
    pub emulator: Option<ConsulEmulator>,
    pub address: String,
}

impl Target {
    /// The real agent of `HOTCONF_CONSUL_ADDR` (e.g. `http://127.0.0.1:8500`), else an emulator.
    pub async fn start() -> Target {
        match std::env::var("HOTCONF_CONSUL_ADDR") {
            Ok(addr) => Target {
                emulator: None,
                address: addr
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned(),
            },
            Err(_) => {
                let emulator = ConsulEmulator::start().await;
                let address = emulator.address();
                Target {
                    emulator: Some(emulator),
                    address,
                }
            }
        }
    }

    /// Writes as an operator's tools do.
    pub fn writer(&self) -> ConsulWriter {
        ConsulWriter::new(self.address.clone())
    }

    /// The provider's client, for reads.
    pub fn kv(&self) -> ConsulClient {
        ConsulClient::new([self.address.clone()])
    }
}

/// A prefix no other test (nor an earlier run against a real agent) uses.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("hotconf-test-{}-{nanos}-{n}/{name}/", std::process::id())
}

/// Flattens `{"app": {"name": "x"}}` into `[("app/name", "x")]`.
pub fn flatten(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(v, &format!("{prefix}{k}/"), out);
            }
        }
        Value::String(s) => out.push((prefix.trim_end_matches('/').to_owned(), s.clone())),
        other => out.push((prefix.trim_end_matches('/').to_owned(), other.to_string())),
    }
}

/// A Consul source: a prefix (keys) or one key (a JSON document), read by the provider through a
/// proxy that can cut it off while the test keeps writing.
pub struct ConsulFixture {
    pub target: Target,
    pub proxy: TcpProxy,
    pub writer: ConsulWriter,
    pub prefix: String,
    pub key_mode: bool,
    /// Before the proxy once `answer_at_once` was called with a real agent: providers made
    /// after that talk to it.
    pub front: tokio::sync::OnceCell<LongPollFront>,
}

impl ConsulFixture {
    pub async fn new(key_mode: bool) -> Self {
        let target = Target::start().await;
        let proxy = TcpProxy::start(&target.address).await;
        let writer = target.writer();
        ConsulFixture {
            target,
            proxy,
            writer,
            prefix: unique("suite"),
            key_mode,
            front: tokio::sync::OnceCell::new(),
        }
    }

    fn source(&self) -> ConsulSource {
        if self.key_mode {
            let key = format!("{}config.json", self.prefix);
            ConsulSource::key(&key, Format::Json)
        } else {
            ConsulSource::prefix(&self.prefix)
        }
    }
}

#[async_trait]
impl Fixture for ConsulFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        let endpoint = match self.front.get() {
            Some(front) => front.endpoint(),
            None => self.proxy.endpoint(),
        };
        Box::new(ConsulProvider::new(
            &ConsulClient::new([endpoint]),
            self.source(),
        ))
    }

    /// A client whose TLS CA file does not exist.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let tls = TlsFiles {
            ca: Some("/nonexistent/hotconf-suite-ca.pem".into()),
            identity: None,
        };
        let client = ConsulClient::new([self.proxy.endpoint()]).tls(tls);
        Some(Box::new(ConsulProvider::new(&client, self.source())))
    }

    async fn write(&self, config: &Value) {
        if self.key_mode {
            let key = format!("{}config.json", self.prefix);
            self.writer.put(&key, config.to_string()).await;
            return;
        }
        let mut pairs = Vec::new();
        flatten(config, &self.prefix, &mut pairs);
        for key in self.writer.keys(&self.prefix).await {
            if !pairs.iter().any(|(k, _)| *k == key) {
                self.writer.delete(&key, false).await;
            }
        }
        for (key, value) in pairs {
            self.writer.put(&key, value).await;
        }
    }

    async fn write_invalid(&self) {
        if self.key_mode {
            let key = format!("{}config.json", self.prefix);
            self.writer.put(&key, "{\"app\": ").await;
        } else {
            // `app` both a value and the parent of `app/name`.
            self.writer.put(&format!("{}app", self.prefix), "x").await;
        }
    }

    async fn delete(&self) {
        self.writer.delete(&self.prefix, true).await;
    }

    async fn interrupt(&self) -> bool {
        self.proxy.cut();
        true
    }

    async fn restore(&self) {
        self.proxy.restore();
    }

    /// The emulator's switch; before a real agent (which always holds blocking queries), a
    /// front that forwards them as plain reads.
    async fn answer_at_once(&self, on: bool) -> Option<tokio::sync::watch::Receiver<u64>> {
        if let Some(emulator) = &self.target.emulator {
            emulator.set_answer_at_once(on);
            return Some(emulator.long_polls());
        }
        let front = self
            .front
            .get_or_init(|| async { LongPollFront::consul_blocking(&self.proxy.endpoint()).await })
            .await;
        front.set_answer_at_once(on);
        Some(front.long_polls())
    }
}

/// The config the backend tests read.
#[derive(Debug, Deserialize)]
pub struct Keys {
    #[serde(default)]
    pub k: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub marker: String,
}

/// A reloader over `provider`, waiting up to 30 s for a first state.
pub async fn follow(
    provider: ConsulProvider,
) -> (Reloader<Keys>, tokio::sync::broadcast::Receiver<Event>) {
    let builder = Reloader::<Keys>::builder()
        .layer(provider)
        .startup(Startup::Wait(Duration::from_secs(30)));
    let events = builder.events();
    (builder.start().await.unwrap(), events)
}
