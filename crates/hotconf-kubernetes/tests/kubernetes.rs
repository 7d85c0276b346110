//! `KubernetesProvider` against the test kit's API-server emulator on loopback (through a
//! proxy that can cut it off): the behaviour suite for a ConfigMap and for a Secret, each data
//! key a file of the mount (`app.name`, nested on `.`).

use std::path::PathBuf;

use async_trait::async_trait;
use hotconf_core::Provider;
use hotconf_kubernetes::{KubernetesClient, KubernetesProvider, KubernetesSource};
use hotconf_testkit::kubernetes::KubeEmulator;
use hotconf_testkit::{Fixture, TcpProxy};
use serde_json::Value;

const NAMESPACE: &str = "default";
const NAME: &str = "suite";

/// A ConfigMap or a Secret on the emulator, followed through a proxy.
struct KubeFixture {
    emulator: KubeEmulator,
    proxy: TcpProxy,
    secret: bool,
    dir: tempfile::TempDir,
}

impl KubeFixture {
    async fn new(secret: bool) -> KubeFixture {
        let emulator = KubeEmulator::start().await;
        let proxy = TcpProxy::start(&emulator.address()).await;
        let dir = tempfile::tempdir().unwrap();
        KubeFixture {
            emulator,
            proxy,
            secret,
            dir,
        }
    }

    /// A kubeconfig whose server is the proxy.
    fn kubeconfig(&self) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster:\n    server: http://{}\nusers:\n- name: e\n  user: {{}}\ncontexts:\n- name: e\n  context:\n    cluster: e\n    user: e\ncurrent-context: e\n",
            self.proxy.endpoint()
        );
        let path = self.dir.path().join("kubeconfig");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn source(&self) -> KubernetesSource {
        if self.secret {
            KubernetesSource::secret(NAMESPACE, NAME)
        } else {
            KubernetesSource::config_map(NAMESPACE, NAME)
        }
    }

    fn put(&self, data: Vec<(String, String)>) {
        if self.secret {
            self.emulator.put_secret(NAMESPACE, NAME, data);
        } else {
            self.emulator.put_config_map(NAMESPACE, NAME, data);
        }
    }
}

/// The suite's document as data keys: `app.name`, `app.greeting`.
fn keys(config: &Value) -> Vec<(String, String)> {
    let app = config["app"].as_object().cloned().unwrap_or_default();
    app.iter()
        .map(|(k, v)| {
            (
                format!("app.{k}"),
                v.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[async_trait]
impl Fixture for KubeFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        let client = KubernetesClient::new().kubeconfig(self.kubeconfig());
        Box::new(KubernetesProvider::new(&client, self.source()))
    }

    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let client = KubernetesClient::new().kubeconfig(self.dir.path().join("no-such-kubeconfig"));
        Some(Box::new(KubernetesProvider::new(&client, self.source())))
    }

    async fn write(&self, config: &Value) {
        self.put(keys(config));
    }

    async fn write_invalid(&self) {
        // `app` both a value and the parent of `app.name`.
        self.put(vec![
            ("app".to_owned(), "x".to_owned()),
            ("app.name".to_owned(), "y".to_owned()),
        ]);
    }

    async fn delete(&self) {
        if self.secret {
            self.emulator.delete_secret(NAMESPACE, NAME);
        } else {
            self.emulator.delete_config_map(NAMESPACE, NAME);
        }
    }

    async fn interrupt(&self) -> bool {
        self.proxy.cut();
        true
    }

    async fn restore(&self) {
        self.proxy.restore();
    }
}

mod config_map {
    use super::KubeFixture;
    hotconf_testkit::behaviour_tests!(KubeFixture::new(false); interruptible, permanent_failures);
}

mod secret {
    use super::KubeFixture;
    hotconf_testkit::behaviour_tests!(KubeFixture::new(true); interruptible, permanent_failures);
}
