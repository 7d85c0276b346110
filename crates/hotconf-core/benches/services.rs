//! The config the reload and allocation benches share: a map of services, at any size.

use std::collections::BTreeMap;

use hotconf_core::provider::Content;
use hotconf_core::{Format, MemoryProvider, Reloader, ReloaderBuilder};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // the fields are read by deserialization, which is what is measured
/// The config: services by name.
pub struct Config {
    /// The services.
    pub services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
/// One service.
pub struct Service {
    host: String,
    port: u16,
    tags: Vec<String>,
    limits: Limits,
    enabled: bool,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
/// A service's limits.
pub struct Limits {
    cpu: f64,
    memory_mb: u32,
}

/// A JSON config of about `bytes` bytes; `variant` changes one value so that each reload is a
/// real change.
pub fn document(bytes: usize, variant: u32) -> String {
    let service = |i: usize| {
        serde_json::json!({
            "host": format!("svc-{i}.internal.example"),
            "port": 8000 + (i % 1000) as u16,
            "tags": ["blue", "prod", format!("shard-{}", i % 16)],
            "limits": {"cpu": 0.5 + (i % 4) as f64, "memory_mb": 256 * (1 + i % 8) as u32},
            "enabled": !i.is_multiple_of(3),
        })
    };
    let per_service = service(0).to_string().len() + 16;
    let count = (bytes / per_service).max(1);
    let mut services = serde_json::Map::new();
    for i in 0..count {
        services.insert(format!("service-{i:06}"), service(i));
    }
    services.insert("service-000000".into(), {
        let mut s = service(0);
        s["port"] = (1000 + variant).into();
        s
    });
    serde_json::json!({ "services": services }).to_string()
}

/// A small TOML defaults layer that overlaps the document (one service's limits), so that a
/// reload over it merges layers.
pub const DEFAULTS: &str = "[services.service-000000.limits]\ncpu = 1.0\nmemory_mb = 64\n";

/// A builder with the document's provider among `layers` layers, each overlapping it:
/// - 1: the document alone;
/// - 2: TOML defaults under it;
/// - 5: TOML defaults and a YAML file under it; environment-style keys (`.`-separated, typed)
///   and a key space (`/`-separated, as from etcd or Consul) over it.
///
/// No layer overrides `service-000000.port`, the value the two variants of a document differ
/// in, so every reload is a real change.
#[allow(dead_code)] // not every bench that shares this module builds a reloader
pub fn stacked(layers: usize, document: MemoryProvider) -> ReloaderBuilder<Config> {
    let layer = |name: &str, content: Content| {
        let (provider, handle) = MemoryProvider::new(format!("memory:{name}"));
        handle.set(content);
        provider
    };
    let text = |format: Format, text: &str| Content::Document {
        format,
        bytes: text.as_bytes().into(),
    };
    let keys = |separator: char, entries: &[(&str, &str)]| Content::Keys {
        separator,
        entries: entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        typed: true,
    };
    let mut builder = Reloader::<Config>::builder();
    if layers >= 2 {
        builder = builder.layer(layer("defaults", text(Format::Toml, DEFAULTS)));
    }
    if layers >= 5 {
        let yaml = "services:\n  service-000001:\n    tags: [a, b]\n    enabled: true\n";
        builder = builder.layer(layer("file", text(Format::Yaml, yaml)));
    }
    builder = builder.layer(document);
    if layers >= 5 {
        let env = [
            ("services.service-000001.port", "9001"),
            ("services.service-000001.limits.cpu", "2.5"),
        ];
        builder = builder.layer(layer("env", keys('.', &env)));
        let space = [
            ("services/service-000002/host", "db.internal"),
            ("services/service-000002/enabled", "false"),
        ];
        builder = builder.layer(layer("keyspace", keys('/', &space)));
    }
    builder
}
