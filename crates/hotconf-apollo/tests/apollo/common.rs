//! Shared by the Apollo tests: the fixture (the emulator behind a proxy that can cut it off)
//! and helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hotconf_apollo::{ApolloClient, ApolloProvider, ApolloSource};
use hotconf_core::{Event, Provider, Reloader, Startup};
use hotconf_testkit::apollo::ApolloEmulator;
use hotconf_testkit::{Fixture, TcpProxy};
use serde::Deserialize;
use serde_json::Value;

/// An app id no other test uses.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Flattens `{"app": {"name": "x"}}` into `[("app.name", "x")]`.
pub fn flatten(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(v, &format!("{prefix}{k}."), out);
            }
        }
        Value::String(s) => out.push((prefix.trim_end_matches('.').to_owned(), s.clone())),
        other => out.push((prefix.trim_end_matches('.').to_owned(), other.to_string())),
    }
}

/// An Apollo namespace: a properties namespace (keys) or `config.json` (a document), read by
/// the provider through a proxy that can cut it off while the test keeps publishing.
pub struct ApolloFixture {
    pub emulator: ApolloEmulator,
    pub proxy: TcpProxy,
    pub app: String,
    pub namespace: String,
    pub document: bool,
}

impl ApolloFixture {
    pub async fn new(document: bool) -> Self {
        let emulator = ApolloEmulator::start().await;
        // Shorter than Apollo's 60 s, so 304s happen during the suite too.
        emulator.set_hold(Duration::from_secs(5));
        let proxy = TcpProxy::start(&emulator.address()).await;
        let namespace = if document {
            "config.json"
        } else {
            "application"
        };
        ApolloFixture {
            emulator,
            proxy,
            app: unique("suite"),
            namespace: namespace.to_owned(),
            document,
        }
    }

    pub fn client(&self) -> ApolloClient {
        ApolloClient::new([self.proxy.endpoint()]).app_id(self.app.clone())
    }
}

#[async_trait]
impl Fixture for ApolloFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(ApolloProvider::new(
            &self.client(),
            ApolloSource::namespace(self.namespace.clone()),
        ))
    }

    /// A client without an app id: a permanent configuration error at first use.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let client = ApolloClient::new([self.proxy.endpoint()]);
        Some(Box::new(ApolloProvider::new(
            &client,
            ApolloSource::namespace(self.namespace.clone()),
        )))
    }

    async fn write(&self, config: &Value) {
        if self.document {
            self.emulator.publish_content(
                &self.app,
                "default",
                &self.namespace,
                &config.to_string(),
            );
        } else {
            let mut pairs = Vec::new();
            flatten(config, "", &mut pairs);
            self.emulator
                .publish(&self.app, "default", &self.namespace, pairs);
        }
    }

    async fn write_invalid(&self) {
        if self.document {
            self.emulator
                .publish_content(&self.app, "default", &self.namespace, "{\"app\": ");
        } else {
            // `app` both a value and the parent of `app.name`.
            self.emulator.publish(
                &self.app,
                "default",
                &self.namespace,
                [("app", "x"), ("app.name", "y")],
            );
        }
    }

    async fn delete(&self) {
        self.emulator.delete(&self.app, "default", &self.namespace);
    }

    async fn interrupt(&self) -> bool {
        self.proxy.cut();
        true
    }

    async fn restore(&self) {
        self.proxy.restore();
    }

    async fn answer_at_once(&self, on: bool) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.emulator.set_answer_at_once(on);
        Some(self.emulator.long_polls())
    }
}

/// The config the Apollo-specific tests read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Keys {
    #[serde(default)]
    pub k: BTreeMap<String, String>,
    #[serde(default)]
    pub marker: String,
}

/// A reloader over `providers` (in order), waiting up to 30 s for a first state.
pub async fn follow(
    providers: Vec<ApolloProvider>,
) -> (Reloader<Keys>, tokio::sync::broadcast::Receiver<Event>) {
    let mut builder = Reloader::<Keys>::builder().startup(Startup::Wait(Duration::from_secs(30)));
    for provider in providers {
        builder = builder.layer(provider);
    }
    let events = builder.events();
    (builder.start().await.unwrap(), events)
}
