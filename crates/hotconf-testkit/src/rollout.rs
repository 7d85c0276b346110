//! The rollout scenario (docs/rollout.md) that every rollout-capable backend runs: three
//! instances follow one key with rollouts; a record moves exactly the instances the membership
//! function names, an unparsable record changes nothing, and deleting the record brings every
//! instance back to the key's own value.

use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::rollout::is_member;
use hotconf_core::{Provider, Reloader, Startup};
use serde_json::Value;

use crate::wait::{eventually, wait_until, TIMEOUT};

/// The key the scenario follows (JSON).
pub const KEY: &str = "app/config.json";
/// The rollout record beside it.
pub const RECORD: &str = "app/config.json.rollout";
/// The instances: with rollout `r1` at 50 %, `pod-a` is a member and `pod-b`, `pod-c` are not
/// (buckets 589, 8438, 6163; the scenario checks this with the membership function).
pub const INSTANCES: [&str; 3] = ["pod-a", "pod-b", "pod-c"];

/// Writes to the store under test.
#[async_trait]
pub trait KvWriter: Send + Sync {
    /// Sets `key` to `value`.
    async fn put(&self, key: &str, value: &str);
    /// Deletes `key`.
    async fn delete(&self, key: &str);
}

fn record(percent: f64) -> String {
    record_of("candidate", percent)
}

/// The record of rollout `r1` whose candidate sets `v` to `value`.
fn record_of(value: &str, percent: f64) -> String {
    serde_json::json!({
        "id": "r1",
        "candidate": serde_json::json!({ "v": value }).to_string(),
        "percent": percent,
        "started": "2024-06-01T00:00:00Z",
    })
    .to_string()
}

fn v(config: &Value) -> &str {
    config["v"].as_str().unwrap_or_default()
}

/// Runs the scenario: `provider(instance_id)` follows [`KEY`] with rollouts as that instance.
///
/// # Panics
/// When a step does not happen within [`TIMEOUT`], or happens to the wrong instances.
pub async fn run<W: KvWriter, P: Provider + 'static>(writer: &W, provider: impl Fn(&str) -> P) {
    writer.put(KEY, r#"{"v": "key"}"#).await;
    let mut reloaders = Vec::new();
    for id in INSTANCES {
        let reloader = Reloader::<Value>::builder()
            .layer(provider(id))
            .validate(|c: &Value| match c["v"].as_str() {
                Some("invalid") => Err(hotconf_core::Error::validation("v may not be `invalid`")),
                _ => Ok(()),
            })
            .startup(Startup::Wait(Duration::from_secs(30)))
            .start()
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(v(&reloader.store().load()), "key");
        assert_eq!(
            reloader.status().instance_id,
            id,
            "the source's id names the process"
        );
        assert!(reloader.status().rollout.is_none());
        reloaders.push(reloader);
    }
    let membership = |id: usize, percent: f64| is_member(INSTANCES[id], "r1", percent);
    let rollout_seen = |member: Option<bool>| {
        let reloaders = &reloaders;
        async move {
            reloaders.iter().all(|r| {
                r.status().rollout.map(|s| (s.id, s.member)) == member.map(|m| ("r1".to_owned(), m))
            })
        }
    };

    // 0 %: every instance sees the record, none is a member.
    writer.put(RECORD, &record(0.0)).await;
    eventually("every instance sees the 0 % record", TIMEOUT, || {
        rollout_seen(Some(false))
    })
    .await;
    for r in &reloaders {
        assert_eq!(v(&r.store().load()), "key");
    }

    // A candidate the members' validators reject: they keep serving the key and are not shown
    // on the candidate, though the hash names them (what a controller reads to stop).
    let member = (0..3)
        .find(|i| membership(*i, 50.0))
        .expect("a member at 50 %");
    let rejected = reloaders[member].stats().borrow().rejected;
    writer.put(RECORD, &record_of("invalid", 50.0)).await;
    eventually("the member rejects the invalid candidate", TIMEOUT, || {
        let now = reloaders[member].stats().borrow().rejected;
        async move { now > rejected }
    })
    .await;
    for r in &reloaders {
        assert_eq!(v(&r.store().load()), "key");
        assert_eq!(
            r.status().rollout.map(|s| (s.id, s.member)),
            Some(("r1".to_owned(), false)),
            "a rejected candidate does not make a member"
        );
    }

    // 50 %: exactly the members the hash names switch. A later write to the key is the sync
    // point that proves non-members saw the record and stayed.
    let members: Vec<bool> = (0..3).map(|i| membership(i, 50.0)).collect();
    assert!(
        members.contains(&true) && members.contains(&false),
        "{members:?}"
    );
    writer.put(RECORD, &record(50.0)).await;
    writer.put(KEY, r#"{"v": "key2"}"#).await;
    for (r, member) in reloaders.iter().zip(&members) {
        let expected = if *member { "candidate" } else { "key2" };
        wait_until(&r.store(), |c| v(c) == expected).await;
        assert_eq!(r.status().rollout.map(|s| s.member), Some(*member));
    }

    // 100 %: everyone.
    writer.put(RECORD, &record(100.0)).await;
    for r in &reloaders {
        wait_until(&r.store(), |c| v(c) == "candidate").await;
    }
    assert!(rollout_seen(Some(true)).await);

    // A record that does not parse: a source error naming it, and nothing changes.
    writer.put(RECORD, "{\"id\": \"r1\", \"percent\": ").await;
    eventually("every instance reports the bad record", TIMEOUT, || {
        let all = reloaders.iter().all(|r| {
            r.status().sources[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains(RECORD))
        });
        async move { all }
    })
    .await;
    for r in &reloaders {
        assert_eq!(
            v(&r.store().load()),
            "candidate",
            "the last good state serves"
        );
    }

    // The record deleted: every instance back on the key's own value.
    writer.delete(RECORD).await;
    for r in &reloaders {
        wait_until(&r.store(), |c| v(c) == "key2").await;
    }
    eventually("no rollout is shown any more", TIMEOUT, || {
        rollout_seen(None)
    })
    .await;
}
