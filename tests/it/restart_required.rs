//! Restart-required keys: a change to one gives a distinct event and keeps the running value,
//! while the rest of the change applies.

use hotconf::Event;
use serde_json::json;

use crate::{set_json, two_layers, wait_for_event};

#[tokio::test]
async fn a_restart_required_key_is_held_and_reported() {
    let mut two = two_layers();
    let reloader = two
        .builder
        .restart_required("db.port")
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    set_json(&two.upper, json!({"name": "v2", "db": {"port": 7000}}));
    let event = wait_for_event(&mut two.events, |e| {
        matches!(e, Event::RestartRequired { .. })
    })
    .await;
    assert_eq!(
        event,
        Event::RestartRequired {
            version: 2,
            keys: vec!["db.port".into()]
        }
    );
    let snapshot = store.get();
    assert_eq!(
        (snapshot.name.as_str(), snapshot.db.port),
        ("v2", 5432),
        "the rest applied, the port held"
    );
    assert_eq!(snapshot.pending_restart(), ["db.port"]);
    // Going back to the running value clears the pending restart.
    set_json(&two.upper, json!({"name": "v3", "db": {"port": 5432}}));
    let applied = wait_for_event(&mut two.events, |e| {
        matches!(e, Event::Applied { version: 3, .. })
    })
    .await;
    assert!(matches!(applied, Event::Applied { .. }));
    assert!(store.get().pending_restart().is_empty());
    assert_eq!(store.load().name, "v3");
}
