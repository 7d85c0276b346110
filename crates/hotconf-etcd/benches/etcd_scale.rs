//! Many sources on one real etcd (issue 16 item 5): how CPU, memory and throughput grow with
//! the number of sources and keys (harness: `hotconf_testkit::scale`).
//!
//! Two shapes, each with 10 and 100 sources of 10 keys (100 and 1 000 keys):
//! - one `Reloader` whose layers are the sources, every `EtcdProvider` sharing one `EtcdClient`
//!   (one connection, a watch per source);
//! - a reloader and a client (a connection) per source: what as many small processes do to one
//!   etcd, simulated in one process.
//!
//! Run: `cargo bench -p hotconf-etcd --bench etcd_scale` (`HOTCONF_BENCH_SHORT=1`: 2 s of puts).

use etcd_client::Client;
use hotconf_etcd::{EtcdClient, EtcdProvider, EtcdSource};
use hotconf_testkit::etcd::EtcdCluster;
use hotconf_testkit::scale::{self, Row, Writer};

struct Etcd(Client);

impl Writer for Etcd {
    async fn put(&mut self, key: String, value: String) {
        self.0
            .put(key, value, None)
            .await
            .expect("etcd takes the put");
    }
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
        let mut writer = Etcd(Client::connect([endpoint.as_str()], None).await.unwrap());
        let writer_cpu = scale::writer_cpu_per_put(&mut writer).await;
        println!(
            "\netcd scale: {} keys per source, puts round-robin at up to 1000/s for {} s (the writer's own {:.0} µs of CPU per put subtracted)",
            scale::KEYS_PER_SOURCE,
            scale::duration().as_secs(),
            writer_cpu.as_secs_f64() * 1e6
        );
        Row::header();
        let shared = EtcdClient::new([endpoint.as_str()]);
        for sources in [10, 100] {
            let provider = |run: &str, s| {
                EtcdProvider::new(&shared, EtcdSource::prefix(&scale::prefix(run, s)).typed())
            };
            scale::measure(&mut writer, writer_cpu, true, sources, provider)
                .await
                .print();
        }
        for sources in [10, 100] {
            let provider = |run: &str, s| {
                let own = EtcdClient::new([endpoint.as_str()]);
                EtcdProvider::new(&own, EtcdSource::prefix(&scale::prefix(run, s)).typed())
            };
            scale::measure(&mut writer, writer_cpu, false, sources, provider)
                .await
                .print();
        }
    });
}
