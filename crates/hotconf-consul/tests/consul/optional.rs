//! An optional Consul layer (docs/concepts.md, "Required and optional layers"): the test kit's
//! scenario with the agent cut off at the start (a proxy refusing connections), then reachable
//! with the key, then without it.

use async_trait::async_trait;
use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
use hotconf_core::{Format, Provider};
use hotconf_testkit::optional::{self, AbsentSource};
use hotconf_testkit::TcpProxy;

use crate::common::{unique, Target};

struct Consul {
    target: Target,
    proxy: TcpProxy,
    key: String,
}

#[async_trait]
impl AbsentSource for Consul {
    fn provider(&self) -> Box<dyn Provider> {
        Box::new(ConsulProvider::new(
            &ConsulClient::new([self.proxy.endpoint()]),
            ConsulSource::key(&self.key, Format::Json),
        ))
    }

    async fn take_away(&mut self) {
        self.proxy.cut();
    }

    async fn put(&mut self, json: &str) {
        self.target.writer().put(&self.key, json).await;
        self.proxy.restore();
    }

    async fn delete(&mut self) {
        self.target.writer().delete(&self.key, false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_layer_on_an_agent_unreachable_at_start_joins_and_leaves() {
    let target = Target::start().await;
    let proxy = TcpProxy::start(&target.address).await;
    let key = format!("{}/overrides.json", unique("optional"));
    optional::run(&mut Consul { target, proxy, key }).await;
}
