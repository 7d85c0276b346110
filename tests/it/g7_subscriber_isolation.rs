//! G7: a slow or panicking subscriber never blocks readers or stops reloads. What runs on the
//! reloader (projections) is what can hurt it; a subscriber's own task panicking is tokio's
//! business, not tested here.

use serde_json::json;

use crate::{set_json, two_layers, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g7_panicking_projections_and_idle_or_holding_subscribers_do_not_stop_reloads() {
    let two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();

    // Never reads: neither its subscription nor its event receiver.
    let _idle_changes = store.subscribe();
    let _idle_events = reloader.events();
    // Holds what it read for the whole test: with a watch channel this held a read lock that
    // every reload had to wait for.
    let holding = store.subscribe();
    let _held = holding.borrow();
    let stats = reloader.stats();
    let _held_stats = stats.borrow();
    // A projection that panics once the name is "boom".
    let _panicking_projection = store.subscribe_map(|c| {
        assert_ne!(c.name, "boom", "projection bug");
        c.name.clone()
    });
    // A healthy projection keeps working after the other one panicked.
    let mut port = store.subscribe_map(|c| c.db.port);
    let _held_port = port.borrow();

    set_json(&two.upper, json!({"name": "boom"}));
    wait_until(&store, |c| c.name == "boom").await;
    for i in 0..2000 {
        set_json(&two.upper, json!({"name": format!("n{i}")}));
    }
    wait_until(&store, |c| c.name == "n1999").await;
    set_json(&two.upper, json!({"name": "last", "db": {"port": 6000}}));
    wait_until(&store, |c| c.name == "last").await;
    // Projections are notified just after the swap that readers see: await it, do not race it.
    let seen = tokio::time::timeout(hotconf_testkit::TIMEOUT, port.wait_for(|p| *p == 6000))
        .await
        .expect("the healthy projection still fires")
        .map(|p| *p);
    assert_eq!(seen.unwrap(), 6000);
}

#[tokio::test]
async fn g7_subscribe_map_fires_only_when_its_projection_changes() {
    let two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    let mut host = store.subscribe_map(|c| c.db.host.clone());
    set_json(&two.upper, json!({"name": "v2"}));
    wait_until(&store, |c| c.name == "v2").await;
    assert!(!host.has_changed(), "the host did not change");
    set_json(&two.upper, json!({"name": "v3", "db": {"host": "h2"}}));
    wait_until(&store, |c| c.name == "v3").await;
    assert!(host.has_changed());
    assert_eq!(*host.borrow_and_update(), "h2");
}
