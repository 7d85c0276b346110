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
use hotconf_testkit::scale::{self, Writer};

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
        let client = EtcdClient::new([endpoint.as_str()]);
        let source = |run: &str, s| EtcdSource::prefix(&scale::prefix(run, s)).typed();
        let shared = |run: &str, s| EtcdProvider::new(&client, source(run, s));
        let own =
            |run: &str, s| EtcdProvider::new(&EtcdClient::new([endpoint.as_str()]), source(run, s));
        scale::table("etcd", &mut writer, shared, own).await;
    });
}
