//! Change facts: every applied version records when it was applied, why, and which key paths
//! changed (paths only); `Snapshot::diff` compares any two versions.

use hotconf::{Changes, Event, Origin};
use serde_json::json;

use super::{set_json, two_layers, wait_for_event};

fn changed(event: &Event) -> (&Changes, &Origin) {
    match event {
        Event::Applied {
            changed, reason, ..
        } => (changed, reason),
        other => panic!("not applied: {other:?}"),
    }
}

#[tokio::test]
async fn applied_events_carry_the_changed_paths_and_the_reason() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let first = wait_for_event(&mut two.events, |e| matches!(e, Event::Applied { .. })).await;
    let (paths, reason) = changed(&first);
    assert_eq!(*reason, Origin::Sources);
    assert_eq!(
        paths.added,
        ["db", "name"],
        "the first version adds the top-level keys"
    );

    set_json(
        &two.upper,
        json!({"name": "v2", "db": {"port": 6000}, "extra": {"a": 1}}),
    );
    let second = wait_for_event(&mut two.events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    let (paths, reason) = changed(&second);
    assert_eq!(*reason, Origin::Sources);
    assert_eq!(paths.added, ["extra"]);
    assert_eq!(paths.changed, ["db.port", "name"]);
    assert!(paths.removed.is_empty());
    let v2 = reloader.store().get();
    assert_eq!(v2.changes(), paths);
    assert!(v2.applied_at() >= reloader.history().await.unwrap()[0].applied_at());

    // A deleted key falls back (G5): it shows as changed, not removed.
    set_json(&two.upper, json!({"name": "v2", "extra": {"a": 1}}));
    let third = wait_for_event(&mut two.events, |e| {
        matches!(e, Event::Applied { version: 3, .. })
    })
    .await;
    assert_eq!(changed(&third).0.changed, ["db.port"]);

    // A rollback is applied for a reason of its own, with the paths it changes back.
    reloader.rollback(1).await.unwrap();
    let rollback = wait_for_event(&mut two.events, |e| {
        matches!(e, Event::Applied { version: 4, .. })
    })
    .await;
    let (paths, reason) = changed(&rollback);
    assert_eq!(*reason, Origin::Rollback { of: 1 });
    assert_eq!(paths.removed, ["extra"]);
    assert_eq!(paths.changed, ["name"]);

    // Any two versions, in either direction.
    let history = reloader.history().await.unwrap();
    let diff = history[0].diff(&history[1]);
    assert_eq!(diff.changed, ["db.port", "name"]);
    assert_eq!(diff.added, ["extra"]);
    let back = history[1].diff(&history[0]);
    assert_eq!(back.removed, ["extra"]);
    assert!(
        history[0].diff(&history[3]).is_empty(),
        "the rollback restored v1's content"
    );
}
