//! Many Consul prefixes on the emulator (issue 16 item 5): how CPU, memory and throughput grow
//! with the number of sources and keys (harness: `hotconf_testkit::scale`).
//!
//! Two shapes, each with 10 and 100 prefixes of 10 keys (100 and 1 000 keys):
//! - one `Reloader` whose layers are the prefixes, every `ConsulProvider` sharing one
//!   `ConsulClient` (one connection pool, a blocking query per prefix);
//! - a reloader and a client per prefix: what as many small processes do to one agent.
//!
//! The emulator runs on a runtime of its own, as a server runs in its own process. Each
//! prefix's watch loop is rate limited as by default (2 queries at once, then one per second),
//! so a prefix that changes more often than that is read in batches: the final state still
//! arrives, which is what is checked.
//!
//! Run: `cargo bench -p hotconf-consul --bench consul_scale` (`HOTCONF_BENCH_SHORT=1`: 2 s).

use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
use hotconf_testkit::consul::ConsulEmulator;
use hotconf_testkit::scale::{self, Writer};

/// Puts over one kept-alive connection, as a client that writes often does.
struct Consul {
    http: reqwest::Client,
    base: String,
}

impl Writer for Consul {
    async fn put(&mut self, key: String, value: String) {
        let answer = self
            .http
            .put(format!("{}{key}", self.base))
            .body(value)
            .send();
        assert!(answer
            .await
            .expect("the emulator answers")
            .status()
            .is_success());
    }
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let address = consul.address();
        let mut writer = Consul {
            http: reqwest::Client::new(),
            base: format!("http://{address}/v1/kv/"),
        };
        let client = ConsulClient::new([address.as_str()]);
        let source = |run: &str, s| ConsulSource::prefix(&scale::prefix(run, s)).typed();
        let shared = |run: &str, s| ConsulProvider::new(&client, source(run, s));
        let own = |run: &str, s| {
            ConsulProvider::new(&ConsulClient::new([address.as_str()]), source(run, s))
        };
        scale::table("Consul (emulator)", &mut writer, shared, own).await;
    });
}
