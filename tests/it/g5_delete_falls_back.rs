//! G5: a key deleted in a higher layer falls back to the lower layer's value.

use serde_json::json;

use crate::{set_json, two_layers, wait_until};

#[tokio::test]
async fn g5_a_key_removed_from_the_upper_layer_reveals_the_lower_value() {
    let two = two_layers();
    set_json(
        &two.upper,
        json!({"name": "v1", "db": {"host": "upper-host"}}),
    );
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    assert_eq!(store.load().db.host, "upper-host");
    set_json(&two.upper, json!({"name": "v2"}));
    wait_until(&store, |c| c.name == "v2").await;
    assert_eq!(
        store.load().db.host,
        "localhost",
        "the deleted key kept its old value"
    );
}

#[tokio::test]
async fn g5_a_deleted_upper_source_reveals_the_whole_lower_layer() {
    let two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    assert_eq!(store.load().name, "v1");
    two.upper.delete();
    wait_until(&store, |c| c.name == "base").await;
    set_json(&two.upper, json!({"name": "again"}));
    wait_until(&store, |c| c.name == "again").await;
}
