//! An optional Nacos layer (docs/concepts.md, "Required and optional layers"): the test kit's
//! scenario with a real r-nacos that is down at the start, then up with the dataId, then
//! without it.

use async_trait::async_trait;
use hotconf_core::Provider;
use hotconf_nacos::{NacosClient, NacosProvider, NacosSource};
use hotconf_testkit::nacos::RNacos;
use hotconf_testkit::optional::{self, AbsentSource};

const DATA_ID: &str = "overrides.json";

struct Nacos {
    server: RNacos,
    down: bool,
}

#[async_trait]
impl AbsentSource for Nacos {
    fn provider(&self) -> Box<dyn Provider> {
        let client = NacosClient::new([self.server.server()]).grpc_port(self.server.grpc_port());
        Box::new(NacosProvider::new(&client, NacosSource::new(DATA_ID)))
    }

    async fn take_away(&mut self) {
        self.server.stop();
        self.down = true;
    }

    async fn put(&mut self, json: &str) {
        if std::mem::take(&mut self.down) {
            self.server.restart();
        }
        self.server.publish(DATA_ID, json);
    }

    async fn delete(&mut self) {
        self.server.delete(DATA_ID);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_layer_on_a_nacos_down_at_start_joins_and_leaves() {
    let mut nacos = Nacos {
        server: RNacos::start(),
        down: false,
    };
    optional::run(&mut nacos).await;
}
