//! G1: readers never block and never see a half-applied config.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use hotconf::{MemoryProvider, Reloader};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Notify;

use crate::{set_json, two_layers, wait_until};

/// Several fields that must always agree: a reader seeing `a` from one version and `b` or
/// `items` from another would break the invariant.
#[derive(Debug, Deserialize)]
struct Linked {
    a: u64,
    b: u64,
    items: Vec<u64>,
    label: String,
}

impl Linked {
    fn consistent(&self) -> bool {
        self.b == self.a * 3 + 1
            && self.items.len() as u64 == self.a % 17
            && self.items.iter().all(|&i| i == self.a)
            && self.label == format!("v{}", self.a)
    }
}

fn linked(a: u64) -> serde_json::Value {
    json!({"a": a, "b": a * 3 + 1, "items": vec![a; (a % 17) as usize], "label": format!("v{a}")})
}

#[test]
fn g1_readers_see_only_whole_versions_under_thousands_of_swaps() {
    const VERSIONS: u64 = 3000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (provider, handle) = MemoryProvider::new("memory:linked");
    set_json(&handle, linked(0));
    let reloader = runtime
        .block_on(Reloader::<Linked>::builder().layer(provider).start())
        .unwrap();
    let store = reloader.store();
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done, reads) = (store.clone(), done.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut last_version = 0;
                while !done.load(Ordering::Relaxed) {
                    let snapshot = store.load();
                    assert!(snapshot.consistent(), "torn read: {:?}", snapshot.config());
                    assert!(snapshot.version() >= last_version, "version went backwards");
                    last_version = snapshot.version();
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    runtime.block_on(async {
        let mut changes = store.subscribe();
        for a in 1..=VERSIONS {
            set_json(&handle, linked(a));
            // Wait for this version so that thousands of versions are really applied.
            while changes.borrow_and_update().a != a {
                changes.changed().await.unwrap();
            }
        }
    });
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().expect("a reader saw a torn config");
    }
    assert_eq!(store.load().a, VERSIONS);
    assert_eq!(store.version(), VERSIONS + 1);
    assert!(reads.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1_readers_are_not_blocked_by_a_reload_in_progress() {
    let two = two_layers();
    let gate = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let (g, e) = (gate.clone(), entered.clone());
    let reloader = two
        .builder
        .validate_async(move |snapshot| {
            let (g, e) = (g.clone(), e.clone());
            async move {
                if snapshot.name == "slow" {
                    e.notify_one();
                    g.notified().await;
                }
                Ok(())
            }
        })
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    set_json(&two.upper, json!({"name": "slow"}));
    entered.notified().await;
    // The reload is stuck in validation: reads still answer, with the old whole version.
    for _ in 0..1000 {
        assert_eq!(store.load().name, "v1");
    }
    gate.notify_one();
    wait_until(&store, |c| c.name == "slow").await;
}
