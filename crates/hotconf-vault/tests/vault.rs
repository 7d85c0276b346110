//! `VaultProvider` against a real OpenBao dev server on loopback (through a proxy that can cut
//! it off): the behaviour suite for one KV v2 secret, a KV v2 prefix and a KV v1 secret.

use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::provider::TlsFiles;
use hotconf_core::{Provider, Secret};
use hotconf_testkit::openbao::OpenBao;
use hotconf_testkit::{Fixture, TcpProxy};
use hotconf_vault::{Auth, KvVersion, VaultClient, VaultProvider, VaultSource};
use serde_json::{json, Value};

/// How often the providers under test poll.
const INTERVAL: Duration = Duration::from_millis(100);

#[derive(Clone, Copy)]
enum Shape {
    /// `secret/suite`: the document is the secret's data.
    Kv2Secret,
    /// `secret/suite/`: the document's `app` is the secret `secret/suite/app`.
    Kv2Prefix,
    /// `kv1/suite` on a KV v1 mount.
    Kv1Secret,
}

struct VaultFixture {
    bao: OpenBao,
    proxy: TcpProxy,
    shape: Shape,
}

impl VaultFixture {
    async fn new(shape: Shape) -> VaultFixture {
        let bao = OpenBao::start().await;
        if let Shape::Kv1Secret = shape {
            bao.enable_kv1("kv1").await;
        }
        let proxy = TcpProxy::start(&bao.address()).await;
        VaultFixture { bao, proxy, shape }
    }

    fn client(&self) -> VaultClient {
        VaultClient::new(&format!("http://{}", self.proxy.endpoint()))
            .auth(Auth::Token(Secret::new(self.bao.root_token().to_owned())))
    }

    fn source(&self) -> VaultSource {
        match self.shape {
            Shape::Kv2Secret => VaultSource::secret("secret/suite"),
            Shape::Kv2Prefix => VaultSource::prefix("secret/suite/"),
            Shape::Kv1Secret => VaultSource::secret("kv1/suite").kv(KvVersion::V1),
        }
        .interval(INTERVAL)
    }

    async fn put(&self, data: Value) {
        match self.shape {
            Shape::Kv2Secret => {
                self.bao.put("suite", data).await;
            }
            Shape::Kv2Prefix => {
                for (name, value) in data.as_object().cloned().unwrap_or_default() {
                    self.bao.put(&format!("suite/{name}"), value).await;
                }
            }
            Shape::Kv1Secret => self.bao.put_v1("kv1", "suite", data).await,
        }
    }
}

#[async_trait]
impl Fixture for VaultFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(VaultProvider::new(&self.client(), self.source()))
    }

    async fn refused(&self) -> Option<Box<dyn Provider>> {
        // A CA file that does not exist: the client can never be built.
        let client = self.client().tls(Some(TlsFiles {
            ca: Some("/nonexistent/ca.pem".into()),
            identity: None,
        }));
        Some(Box::new(VaultProvider::new(&client, self.source())))
    }

    async fn write(&self, config: &Value) {
        self.put(config.clone()).await;
    }

    async fn write_invalid(&self) {
        // An `app.name` that is not a string: the suite's config type cannot hold it.
        self.put(json!({"app": {"name": {"not": "a string"}}}))
            .await;
    }

    async fn delete(&self) {
        match self.shape {
            Shape::Kv2Secret => self.bao.delete("suite").await,
            Shape::Kv2Prefix => self.bao.delete_metadata("suite/app").await,
            Shape::Kv1Secret => {
                self.bao.api("DELETE", "kv1/suite", None).await;
            }
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

mod kv2_secret {
    use super::{Shape, VaultFixture};
    hotconf_testkit::behaviour_tests!(VaultFixture::new(Shape::Kv2Secret); interruptible, permanent_failures);
}

mod kv2_prefix {
    use super::{Shape, VaultFixture};
    hotconf_testkit::behaviour_tests!(VaultFixture::new(Shape::Kv2Prefix); interruptible, permanent_failures);
}

mod kv1_secret {
    use super::{Shape, VaultFixture};
    hotconf_testkit::behaviour_tests!(VaultFixture::new(Shape::Kv1Secret); interruptible, permanent_failures);
}
