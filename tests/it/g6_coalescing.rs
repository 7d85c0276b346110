//! G6: bursts are coalesced: the final applied config equals the final source state, with no
//! more applies than changes; the same content twice is applied once.

use hotconf::Format;
use serde_json::json;

use crate::{count_applied, drain, set_json, two_layers, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g6_a_burst_of_changes_ends_in_the_final_state_with_fewer_applies() {
    const CHANGES: usize = 2000;
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    drain(&mut two.events);
    for i in 0..CHANGES {
        set_json(&two.upper, json!({"name": format!("n{i}")}));
    }
    wait_until(&store, |c| c.name == format!("n{}", CHANGES - 1)).await;
    let applied = count_applied(&drain(&mut two.events));
    assert!(
        (1..=CHANGES).contains(&applied),
        "{applied} applies for {CHANGES} changes"
    );
    assert_eq!(store.version() as usize, applied + 1);
}

#[tokio::test]
async fn g6_the_same_content_again_is_not_applied_again() {
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    drain(&mut two.events);
    // Same content under new revisions (a touch, a re-put), and the same content in another
    // format: the merged config is unchanged, so nothing is applied.
    let mut stats = reloader.stats();
    set_json(&two.upper, json!({"name": "v1"}));
    crate::wait_stats(&mut stats, |s| s.unchanged == 1).await;
    two.upper.set_document(Format::Yaml, "name: v1\n");
    crate::wait_stats(&mut stats, |s| s.unchanged == 2).await;
    assert_eq!(store.version(), 1);
    set_json(&two.upper, json!({"name": "v2"}));
    wait_until(&store, |c| c.name == "v2").await;
    assert_eq!(count_applied(&drain(&mut two.events)), 1);
    assert_eq!(store.version(), 2);
}
