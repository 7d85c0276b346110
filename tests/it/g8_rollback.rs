//! G8: the last N versions are kept; rollback pins one; unpin resumes; a failing post-apply
//! check reverts to the previous version.

use hotconf::{Error, ErrorKind, Event, Origin};
use serde_json::json;

use crate::{next_rejection, set_json, two_layers, wait_for_event, wait_until};

#[tokio::test]
async fn g8_rollback_pins_an_earlier_version_until_unpin() {
    let two = two_layers();
    let reloader = two.builder.history(3).start().await.unwrap();
    let store = reloader.store();
    for i in 2..=5 {
        set_json(&two.upper, json!({"name": format!("v{i}")}));
        wait_until(&store, |c| c.name == format!("v{i}")).await;
    }
    let kept: Vec<u64> = reloader
        .history()
        .await
        .unwrap()
        .iter()
        .map(|s| s.version())
        .collect();
    assert_eq!(kept, [3, 4, 5]);
    let err = reloader.rollback(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    let restored = reloader.rollback(3).await.unwrap();
    assert_eq!((restored.name.as_str(), restored.version()), ("v3", 6));
    assert_eq!(*restored.origin(), Origin::Rollback { of: 3 });
    assert_eq!(store.load().name, "v3");
    let mut events = reloader.events();

    // Pinned: a source change is tracked but not applied.
    set_json(&two.upper, json!({"name": "while-pinned"}));
    set_json(
        &two.lower,
        json!({"name": "base", "db": {"host": "pinned-host", "port": 1}}),
    );
    wait_for_event(&mut events, |e| matches!(e, Event::Held { version: 6 })).await;
    assert_eq!(store.load().name, "v3");
    assert_eq!(store.version(), 6);

    let resumed = reloader
        .unpin()
        .await
        .unwrap()
        .expect("the sources differ from the pinned content");
    assert_eq!(
        (resumed.name.as_str(), resumed.db.host.as_str()),
        ("while-pinned", "pinned-host")
    );
    assert_eq!(store.load().name, "while-pinned");
}

#[tokio::test]
async fn g8_a_failing_post_apply_check_reverts_to_the_previous_version() {
    let mut two = two_layers();
    let reloader = two
        .builder
        .post_apply_check(|snapshot| async move {
            if snapshot.name == "breaks-health" {
                Err(Error::new(
                    ErrorKind::Unavailable,
                    "health check failed after apply",
                ))
            } else {
                Ok(())
            }
        })
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    set_json(&two.upper, json!({"name": "breaks-health"}));
    let (_, _, error) = next_rejection(&mut two.events).await;
    assert!(
        error.contains("post-apply check failed on version 2"),
        "{error}"
    );
    let reverted = wait_for_event(&mut two.events, |e| {
        matches!(e, Event::Applied { version: 3, .. })
    })
    .await;
    assert!(
        matches!(
            reverted,
            Event::Applied {
                origin: Origin::Revert { of: 1, failed: 2 },
                ..
            }
        ),
        "{reverted:?}"
    );
    assert_eq!(store.load().name, "v1");
    assert_eq!(store.version(), 3);
    // The sources move on: the next good state applies.
    set_json(&two.upper, json!({"name": "healthy"}));
    wait_until(&store, |c| c.name == "healthy").await;
}
