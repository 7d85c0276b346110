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
                reason: Origin::Revert { of: 1, failed: 2 },
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

/// A post-apply check that fails when the name is `bad`, and hangs for ever when it is `hang`.
fn checked(two: crate::Two) -> hotconf::ReloaderBuilder<crate::Cfg> {
    two.builder.post_apply_check(|snapshot| async move {
        match snapshot.name.as_str() {
            "bad" => Err(Error::new(ErrorKind::Unavailable, "unhealthy after apply")),
            "hang" => std::future::pending().await,
            _ => Ok(()),
        }
    })
}

#[tokio::test]
async fn g8_the_revert_works_with_a_history_of_one() {
    let two = two_layers();
    let (upper, mut events) = (two.upper.clone(), two.builder.events());
    let reloader = checked(two).history(1).start().await.unwrap();
    set_json(&upper, json!({"name": "bad"}));
    let reverted = wait_for_event(&mut events, |e| {
        matches!(e, Event::Applied { version: 3, .. })
    })
    .await;
    assert!(
        matches!(
            reverted,
            Event::Applied {
                reason: Origin::Revert { of: 1, failed: 2 },
                ..
            }
        ),
        "{reverted:?}"
    );
    assert_eq!(reloader.store().load().name, "v1");
}

#[tokio::test]
async fn g8_a_first_config_that_fails_its_post_apply_check_is_never_served() {
    let two = two_layers();
    set_json(&two.upper, json!({"name": "bad"}));
    let err = checked(two).start().await.unwrap_err();
    assert!(err.to_string().contains("post-apply check failed"), "{err}");

    // Waiting: the bad first config is taken back, and the next good one is served.
    let two = two_layers();
    set_json(&two.upper, json!({"name": "bad"}));
    let upper = two.upper.clone();
    let mut events = two.builder.events();
    let starting = tokio::spawn(
        checked(two)
            .startup(hotconf::Startup::Wait(hotconf_testkit::TIMEOUT))
            .start(),
    );
    next_rejection(&mut events).await;
    set_json(&upper, json!({"name": "good"}));
    let reloader = starting.await.unwrap().unwrap();
    let config = reloader.store().get();
    assert_eq!(config.name, "good");
    assert_eq!(config.version(), 2, "versions never repeat");
}

#[tokio::test]
async fn g8_a_post_apply_check_that_hangs_times_out_and_reverts() {
    let two = two_layers();
    let (upper, mut events) = (two.upper.clone(), two.builder.events());
    let reloader = checked(two)
        .check_timeout(std::time::Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    set_json(&upper, json!({"name": "hang"}));
    let (_, _, error) = next_rejection(&mut events).await;
    assert!(error.contains("did not finish within"), "{error}");
    wait_until(&reloader.store(), |c| c.name == "v1").await;
    // Later reloads are not frozen behind it.
    set_json(&upper, json!({"name": "after"}));
    wait_until(&reloader.store(), |c| c.name == "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g8_dropping_the_reloader_during_a_post_apply_check_puts_the_last_good_config_back() {
    let two = two_layers();
    let (upper, mut events) = (two.upper.clone(), two.builder.events());
    let reloader = checked(two).start().await.unwrap();
    let store = reloader.store();
    set_json(&upper, json!({"name": "hang"}));
    // The candidate is published, then its check hangs.
    wait_for_event(&mut events, |e| {
        matches!(e, Event::Applied { version: 2, .. })
    })
    .await;
    // Subscribers are notified just after the `applied` event: wait for that too, so that the
    // next wait sees the revert and not the version before `hang`.
    let mut changes = store.subscribe();
    tokio::time::timeout(
        hotconf_testkit::TIMEOUT,
        changes.wait_for(|s| s.name == "hang"),
    )
    .await
    .expect("subscribers see the candidate")
    .unwrap();
    drop(reloader);
    tokio::time::timeout(
        hotconf_testkit::TIMEOUT,
        changes.wait_for(|s| s.name == "v1"),
    )
    .await
    .expect("the last good config is put back")
    .unwrap();
    assert_eq!(store.load().name, "v1");
}
