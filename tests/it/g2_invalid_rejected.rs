//! G2: invalid content never reaches readers; a Rejected event names the source, key and reason.

use hotconf::{Error, Event, Format};
use serde_json::json;

use crate::{next_rejection, set_json, two_layers, wait_until};

#[tokio::test]
async fn g2_wrong_type_is_rejected_naming_source_and_key() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    set_json(
        &two.upper,
        json!({"name": "v2", "db": {"port": "not a number"}}),
    );
    let (source, key, error) = next_rejection(&mut two.events).await;
    assert_eq!(source.as_deref(), Some("memory:upper"));
    assert_eq!(key.as_deref(), Some("db.port"));
    assert!(
        error.contains("expected u16, found a string") && !error.contains("not a number"),
        "{error}"
    );
    assert_eq!(store.load().name, "v1");
    assert_eq!(store.load().db.port, 5432);
    // The source is fixed: the next valid state applies.
    set_json(&two.upper, json!({"name": "v3"}));
    wait_until(&store, |c| c.name == "v3").await;
}

#[tokio::test]
async fn g2_validator_failure_is_blamed_on_the_layer_holding_the_key() {
    let mut two = two_layers();
    let reloader = two
        .builder
        .validate(|c| match c.db.port {
            0..=1023 => {
                Err(Error::validation("must be an unprivileged port (>= 1024)").with_key("db.port"))
            }
            _ => Ok(()),
        })
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    // The lower layer changes the port to a privileged one: the lower layer is blamed.
    two.lower.set_document(
        Format::Toml,
        "name = \"base\"\n[db]\nhost = \"h\"\nport = 80\n",
    );
    let (source, key, error) = next_rejection(&mut two.events).await;
    assert_eq!(
        (source.as_deref(), key.as_deref()),
        (Some("memory:lower"), Some("db.port"))
    );
    assert!(error.contains("unprivileged"), "{error}");
    assert_eq!(store.load().db.host, "localhost");
    assert_eq!(store.version(), 1);
}

#[tokio::test]
async fn g2_a_rejected_source_does_not_block_other_sources() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    set_json(&two.upper, json!({"name": "v2", "db": {"port": -1}}));
    next_rejection(&mut two.events).await;
    // A valid change in another layer applies on top of the last good state of the rejected one.
    two.lower.set_document(
        Format::Toml,
        "name = \"base\"\n[db]\nhost = \"db2\"\nport = 5432\n",
    );
    wait_until(&store, |c| c.db.host == "db2").await;
    assert_eq!(store.load().name, "v1");
    let applied: Vec<Event> = crate::drain(&mut two.events);
    assert_eq!(crate::count_applied(&applied), 1, "{applied:?}");
}
