//! `explain`: which layer sets a key, which lower layers it overrides, and which layer a
//! deleted key fell back to; values only where the redaction policy allows.

use hotconf::{Event, Format, MemoryProvider, Reloader};
use serde_json::{json, Value};

use super::{set_json, wait_for_event};

#[tokio::test]
async fn explain_names_the_layer_in_force_the_overridden_and_the_fallback() {
    let (defaults, lower) = MemoryProvider::new("memory:defaults");
    let (overrides, upper) = MemoryProvider::new("memory:overrides");
    lower.set_document(
        Format::Toml,
        "[db]\nhost = \"localhost\"\nport = 5432\npassword = \"low-secret\"\n",
    );
    set_json(
        &upper,
        json!({"db": {"port": 6000, "password": "high-secret"}}),
    );
    let builder = Reloader::<Value>::builder()
        .named_layer("defaults", defaults)
        .named_layer("overrides", overrides);
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();

    let port = reloader.explain("db.port").await.unwrap();
    assert!(port.found);
    assert_eq!(port.layer.as_deref(), Some("overrides"));
    assert_eq!(port.value, Some(json!(6000)));
    assert_eq!(port.overridden, ["defaults"]);
    assert_eq!(port.layers.len(), 2);
    assert_eq!(port.layers[0].value, Some(json!(5432)));
    assert_eq!(port.fell_back_from, None);

    let host = reloader.explain("db.host").await.unwrap();
    assert_eq!(host.layer.as_deref(), Some("defaults"));
    assert!(host.overridden.is_empty());
    assert!(!host.layers[1].holds);

    // Secrets: which layer, never the value.
    let password = reloader.explain("db.password").await.unwrap();
    assert!(password.redacted && password.found);
    assert_eq!(password.layer.as_deref(), Some("overrides"));
    assert_eq!(password.value, None);
    assert!(password.layers.iter().all(|l| l.holds && l.value.is_none()));
    let db = reloader.explain("db").await.unwrap();
    assert_eq!(db.value.as_ref().unwrap()["password"], "***");
    let text = serde_json::to_string(&(password, db)).unwrap();
    assert!(!text.contains("secret\""), "{text}");

    // The key is deleted in the upper layer and falls back.
    set_json(&upper, json!({"db": {"password": "high-secret"}}));
    wait_for_event(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    let port = reloader.explain("db.port").await.unwrap();
    assert_eq!(port.layer.as_deref(), Some("defaults"));
    assert_eq!(port.value, Some(json!(5432)));
    assert_eq!(port.fell_back_from.as_deref(), Some("overrides"));
    let missing = reloader.explain("db.nope").await.unwrap();
    assert!(!missing.found && missing.layer.is_none());
}
