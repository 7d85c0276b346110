//! Rollouts on a Consul key (docs/rollout.md): the testkit's scenario, one blocking query on
//! the prefix `KEY` per instance.

use async_trait::async_trait;
use hotconf_consul::{ConsulProvider, ConsulSource};
use hotconf_core::Format;
use hotconf_testkit::consul::ConsulWriter;
use hotconf_testkit::rollout::{self, KvWriter, KEY};

use crate::common::Target;

struct Writer(ConsulWriter);

#[async_trait]
impl KvWriter for Writer {
    async fn put(&self, key: &str, value: &str) {
        self.0.put(key, value).await;
    }
    async fn delete(&self, key: &str) {
        self.0.delete(key, false).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_move_exactly_the_members_and_end_when_the_record_is_deleted() {
    let target = Target::start().await;
    let writer = Writer(target.writer());
    // Keys under the raw prefix `KEY` that are neither the key nor its record: ignored.
    writer.put("app/config.json.bak", "{").await;
    let kv = target.kv();
    rollout::run(&writer, |id| {
        if id == "pod-a" {
            // Through the URI, with the process's default id (as the CLI sets it).
            hotconf_core::set_instance_id(id);
            let uri = format!("consul://{}/{KEY}?rollout=true", target.address);
            let provider = ConsulProvider::from_uri(&uri.parse().unwrap()).unwrap();
            hotconf_core::set_instance_id("");
            return provider;
        }
        ConsulProvider::new(&kv, ConsulSource::key(KEY, Format::Json).rollout_as(id))
    })
    .await;
    writer.delete("app/config.json.bak").await;
}
