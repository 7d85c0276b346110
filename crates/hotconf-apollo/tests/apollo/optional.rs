//! An optional Apollo layer (docs/concepts.md, "Required and optional layers"): the test kit's
//! scenario with the config service down at the start, then up with the namespace, then with
//! the namespace deleted.

use async_trait::async_trait;
use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
use hotconf_core::Provider;
use hotconf_testkit::apollo::ApolloEmulator;
use hotconf_testkit::optional::{self, AbsentSource};

use crate::common::unique;

const NAMESPACE: &str = "overrides.json";

struct Apollo {
    emulator: ApolloEmulator,
    app: String,
}

#[async_trait]
impl AbsentSource for Apollo {
    fn provider(&self) -> Box<dyn Provider> {
        let client = ApolloClient::new([self.emulator.address()]).app_id(self.app.clone());
        Box::new(ApolloProvider::new(
            &client,
            ApolloSource::namespace(NAMESPACE),
        ))
    }

    async fn take_away(&mut self) {
        self.emulator.set_down(true);
    }

    async fn put(&mut self, json: &str) {
        self.emulator
            .publish_content(&self.app, "default", NAMESPACE, json);
        self.emulator.set_down(false);
    }

    async fn delete(&mut self) {
        self.emulator.delete(&self.app, "default", NAMESPACE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_layer_on_a_config_service_down_at_start_joins_and_leaves() {
    let mut apollo = Apollo {
        emulator: ApolloEmulator::start().await,
        app: unique("optional"),
    };
    optional::run(&mut apollo).await;
}
