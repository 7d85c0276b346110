//! G6: bursts are coalesced: the final applied config equals the final source state, with no
//! more applies than changes; the same content twice is applied once.

use std::sync::Arc;

use hotconf::Format;
use serde_json::json;

use crate::{count_applied, drain, set_json, two_layers, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::await_holding_lock,
    reason = "the gate is held on purpose while the reload task waits on it in a validator"
)]
async fn g6_a_burst_that_arrives_during_a_reload_is_applied_once_in_its_final_state() {
    const CHANGES: usize = 2000;
    // A validator that reports each entry, then waits while the test holds the gate: the burst
    // arrives while one reload is in flight, as it does on a busy service.
    let gate = Arc::new(std::sync::RwLock::new(()));
    let (entered_tx, mut entered) = tokio::sync::watch::channel(0usize);
    let mut two = two_layers();
    let held = gate.clone();
    let reloader = two
        .builder
        .validate(move |_| {
            entered_tx.send_modify(|n| *n += 1);
            drop(held.read().unwrap_or_else(|p| p.into_inner()));
            Ok(())
        })
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    drain(&mut two.events);
    let closed = gate.write().unwrap();
    set_json(&two.upper, json!({"name": "first"}));
    tokio::time::timeout(hotconf_testkit::TIMEOUT, entered.wait_for(|n| *n == 2))
        .await
        .expect("the reload of the first change started")
        .unwrap();
    for i in 0..CHANGES {
        set_json(&two.upper, json!({"name": format!("n{i}")}));
    }
    drop(closed);
    wait_until(&store, |c| c.name == format!("n{}", CHANGES - 1)).await;
    // The reload in flight, then one for everything that arrived meanwhile (two if the
    // provider's task hands over the last state just after the reloader took an earlier one).
    // Without coalescing this would be one apply per change.
    let applied = count_applied(&drain(&mut two.events));
    assert!(
        (2..=3).contains(&applied),
        "{applied} applies for 1 + {CHANGES} changes"
    );
    assert_eq!(store.version() as usize, applied + 1);
}

#[tokio::test]
async fn g6_the_same_content_again_is_not_applied_again() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    drain(&mut two.events);
    // Same content under new revisions (a touch, a re-put): the merged config is unchanged, so
    // nothing is applied.
    let mut stats = reloader.stats();
    set_json(&two.upper, json!({"name": "v1"}));
    crate::wait_stats(&mut stats, |s| s.unchanged == 1).await;
    assert_eq!(store.version(), 1);
    // The same content in another format hashes apart (a JSON document is hashed by its bytes,
    // which a reload reads without building its tree): an equal config is applied once more.
    // Written another way in that format, it is unchanged again.
    two.upper.set_document(Format::Yaml, "name: v1\n");
    crate::wait_stats(&mut stats, |s| s.applied == 2).await;
    assert_eq!(store.version(), 2);
    two.upper
        .set_document(Format::Yaml, "# the same\nname:   'v1'\n");
    crate::wait_stats(&mut stats, |s| s.unchanged == 2).await;
    assert_eq!(store.version(), 2);
    set_json(&two.upper, json!({"name": "v2"}));
    wait_until(&store, |c| c.name == "v2").await;
    assert_eq!(count_applied(&drain(&mut two.events)), 2);
    assert_eq!(store.version(), 3);
}
