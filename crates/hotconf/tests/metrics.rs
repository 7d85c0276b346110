//! The `metrics` feature: `hotconf::metrics::register` takes a `Reloader` as it is (it derefs
//! to its handle) and fills the application's registry.

use hotconf::{Format, MemoryProvider, Reloader};
use prometheus_client::registry::Registry;

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // read by deserialization
struct Cfg {
    name: String,
}

#[tokio::test]
async fn register_takes_a_reloader() {
    let (provider, source) = MemoryProvider::new("memory:app");
    source.set_document(Format::Json, r#"{"name": "demo"}"#);
    let reloader = Reloader::<Cfg>::builder()
        .named_layer("app", provider)
        .start()
        .await
        .unwrap();
    let mut registry = Registry::default();
    hotconf::metrics::register(&reloader, &mut registry);

    let mut exposition = String::new();
    prometheus_client::encoding::text::encode(&mut exposition, &registry).unwrap();
    assert!(
        exposition.contains("hotconf_config_version 1\n"),
        "{exposition}"
    );
    assert!(
        exposition.contains("hotconf_source_up{layer=\"app\"} 1\n"),
        "{exposition}"
    );
}
