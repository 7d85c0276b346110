//! An optional etcd layer (docs/concepts.md, "Required and optional layers"): the test kit's
//! scenario with a real etcd that is down at the start, then up with the key, then without it.

use async_trait::async_trait;
use hotconf_core::{Format, Provider};
use hotconf_etcd::{EtcdClient, EtcdProvider, EtcdSource};
use hotconf_testkit::etcd::EtcdCluster;
use hotconf_testkit::optional::{self, AbsentSource};

const KEY: &str = "app/overrides.json";

struct Etcd {
    server: EtcdCluster,
    down: bool,
}

#[async_trait]
impl AbsentSource for Etcd {
    fn provider(&self) -> Box<dyn Provider> {
        Box::new(EtcdProvider::new(
            &EtcdClient::new(self.server.endpoints()),
            EtcdSource::key(KEY, Format::Json),
        ))
    }

    async fn take_away(&mut self) {
        self.server.stop(0);
        self.down = true;
    }

    async fn put(&mut self, json: &str) {
        if std::mem::take(&mut self.down) {
            self.server.restart(0);
        }
        self.server.ctl(&["put", KEY, json]);
    }

    async fn delete(&mut self) {
        self.server.ctl(&["del", KEY]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_layer_on_an_etcd_down_at_start_joins_and_leaves() {
    let mut etcd = Etcd {
        server: EtcdCluster::single(),
        down: false,
    };
    optional::run(&mut etcd).await;
}
