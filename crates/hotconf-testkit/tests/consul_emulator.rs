//! The Consul emulator checked rule by rule against docs/protocols.md#consul-index-rules and #consul-the-emulators-rules,
//! with plain HTTP requests (no hotconf client involved).

use std::collections::BTreeMap;
use std::time::Duration;

use hotconf_testkit::consul::{Acl, AclRule, ConsulEmulator, Fault};
use serde_json::Value;

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn index(&self) -> Option<u64> {
        self.headers
            .get("X-Consul-Index")?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn call(
    consul: &ConsulEmulator,
    method: &str,
    path_query: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Answer {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/kv/{path_query}", consul.url());
    let mut request = client
        .request(method.parse().unwrap(), url)
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn get(consul: &ConsulEmulator, path_query: &str) -> Answer {
    call(consul, "GET", path_query, b"", &[]).await
}

/// A blocking read in the background, parked once the emulator counts it; its answer's index.
async fn park(consul: &ConsulEmulator, path_query: &str) -> tokio::task::JoinHandle<u64> {
    let parked = consul.counters().parked;
    let url = format!("{}/v1/kv/{path_query}", consul.url());
    let read = tokio::spawn(async move {
        reqwest::get(url).await.unwrap().headers()["X-Consul-Index"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    });
    consul.wait_for(|c| c.parked > parked).await;
    read
}

#[tokio::test]
async fn flags_count_by_presence_and_bad_parameters_are_400() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/a", "1");
    consul.put("application/b", "2");
    let listed = get(&consul, "app?recurse=false").await;
    assert_eq!(listed.status, 200, "recurse=false means recurse");
    assert_eq!(
        listed.json().as_array().unwrap().len(),
        2,
        "a raw prefix: app matches application/"
    );
    for (query, why) in [
        ("app/a?index=x", "Invalid index"),
        ("app/a?index=1&wait=10", "Invalid wait time"),
        (
            "app/a?stale&consistent",
            "Cannot specify ?stale with ?consistent, conflicting semantics.",
        ),
        ("?index=1", "Missing key name"),
    ] {
        let answer = get(&consul, query).await;
        assert_eq!(
            (answer.status, answer.text()),
            (400, why.to_owned()),
            "{query}"
        );
    }
    let ok = get(&consul, "app/a?index=1&wait=300000ms").await;
    assert_eq!(
        ok.status, 200,
        "Go durations with units, as the Go client sends them"
    );
    assert_eq!(
        get(&consul, "app/a?stale")
            .await
            .header("X-Consul-Effective-Consistency"),
        Some("stale")
    );
    assert_eq!(
        get(&consul, "app/a?consistent")
            .await
            .header("X-Consul-Effective-Consistency"),
        Some("consistent")
    );
    let plain = get(&consul, "app/a").await;
    for (name, value) in [
        ("X-Consul-Effective-Consistency", "leader"),
        ("X-Consul-KnownLeader", "true"),
        ("X-Consul-LastContact", "0"),
    ] {
        assert_eq!(plain.header(name), Some(value), "{name}");
    }
}

#[tokio::test]
async fn index_rules_with_tombstones() {
    let consul = ConsulEmulator::start().await;
    assert_eq!(
        get(&consul, "app/?recurse").await.index(),
        Some(1),
        "an empty store is 1, never 0"
    );
    let a = consul.put("app/a", "1");
    let b = consul.put("app/b", "2");
    let other = consul.put("other/x", "3");
    assert_eq!(
        get(&consul, "app/a").await.index(),
        Some(a),
        "a key: its ModifyIndex"
    );
    assert_eq!(
        get(&consul, "app/?recurse").await.index(),
        Some(b),
        "a list: its max ModifyIndex"
    );
    assert_eq!(
        get(&consul, "?recurse").await.index(),
        Some(other),
        "the root: the table index"
    );
    let missing = get(&consul, "app/nope").await;
    assert_eq!(
        (missing.status, missing.index()),
        (404, Some(other)),
        "missing: the table index"
    );
    assert!(missing.body.is_empty());
    consul.delete("app/b");
    let deleted = consul.list_index("app/");
    assert!(deleted > other, "the tombstone holds the list index up");
    assert_eq!(get(&consul, "app/?recurse").await.index(), Some(deleted));
    consul.delete_tree("app/");
    let gone = get(&consul, "app/?recurse").await;
    assert_eq!(gone.status, 404, "an empty list is a 404 with an index");
    assert!(
        gone.index().unwrap() > deleted,
        "the tree delete's tombstone"
    );
    assert_eq!(
        get(&consul, "nothing/?recurse").await.index(),
        gone.index(),
        "no entries nor tombstones: the table index"
    );
}

#[tokio::test]
async fn blocking_answers_at_once_on_a_newer_index_and_after_the_wait_otherwise() {
    let consul = ConsulEmulator::start().await;
    let first = consul.put("app/a", "1");
    assert_eq!(
        get(&consul, &format!("app/a?index={}", first - 1))
            .await
            .index(),
        Some(first),
        "current > index: at once"
    );
    assert_eq!(
        get(&consul, "app/a?index=0&wait=10m").await.status,
        200,
        "index 0: at once"
    );
    // Equal index: parks, then times out with the same index (the wait is tiny, jitter ≤ wait/16).
    let timed_out = get(&consul, &format!("app/a?index={first}&wait=50ms")).await;
    assert_eq!((timed_out.status, timed_out.index()), (200, Some(first)));
    assert_eq!(consul.counters().timeouts, 1);
    // A change wakes a parked read.
    let parked = park(&consul, &format!("app/a?index={first}&wait=5m")).await;
    let second = consul.put("app/a", "2");
    assert_eq!(parked.await.unwrap(), second);
    // A write elsewhere wakes nothing: the read re-checks and parks again.
    let parked = park(&consul, &format!("app/a?index={second}&wait=5m")).await;
    let before = consul.counters();
    let reads = before.reads;
    consul.put("other/x", "1");
    consul.wake_all();
    // Woken, re-checked, parked again: still no answer.
    consul
        .wait_for(|c| c.wakeups > before.wakeups && c.parked == 1)
        .await;
    assert!(
        !parked.is_finished(),
        "an unrelated change answered the read"
    );
    consul.put("app/a", "3");
    assert_eq!(parked.await.unwrap(), consul.key_index("app/a"));
    assert_eq!(consul.counters().reads, reads, "one request only");
}

#[tokio::test]
async fn bodies_raw_keys_and_headers() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/empty", "");
    consul.put("app/bin", vec![0u8, 159, 255]);
    consul.put("app/dir/x", "1");
    consul.put("app/dir/y", "2");
    let listed = get(&consul, "app/?recurse").await;
    assert_eq!(listed.header("Content-Type"), Some("application/json"));
    let entries = listed.json();
    let empty = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Key"] == "app/empty")
        .unwrap();
    assert_eq!(empty["Value"], Value::Null, "an empty PUT is null");
    assert!(empty.get("Session").is_none(), "Session omitted when empty");
    for field in [
        "LockIndex",
        "Key",
        "Flags",
        "Value",
        "CreateIndex",
        "ModifyIndex",
    ] {
        assert!(empty.get(field).is_some(), "{field}");
    }
    let keys: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["app/bin", "app/dir/x", "app/dir/y", "app/empty"],
        "byte order"
    );
    let raw = get(&consul, "app/bin?raw").await;
    assert_eq!(raw.body, [0u8, 159, 255]);
    assert_eq!(raw.header("Content-Type"), Some("text/plain"));
    assert_eq!(raw.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(raw.header("Content-Security-Policy"), Some("sandbox"));
    assert_eq!(
        get(&consul, "app/?recurse&raw")
            .await
            .header("Content-Type"),
        Some("application/json"),
        "raw only for a single key"
    );
    assert_eq!(
        get(&consul, "app/?keys&separator=/").await.json(),
        serde_json::json!(["app/bin", "app/dir/", "app/empty"])
    );
    assert_eq!(get(&consul, "none/?keys").await.status, 404);
    let fresh = ConsulEmulator::start().await;
    assert_eq!(
        get(&fresh, "?keys").await.json(),
        serde_json::json!([]),
        "the root lists as []"
    );
    let missing = get(&consul, "app/none").await;
    assert!(missing.body.is_empty() && missing.index().is_some());
    assert_eq!(missing.header("X-Consul-KnownLeader"), Some("true"));
}

#[tokio::test]
async fn puts_deletes_cas_and_noop_writes() {
    let consul = ConsulEmulator::start().await;
    let put = call(
        &consul,
        "PUT",
        "app/a?flags=18446744073709551615",
        b"v1",
        &[],
    )
    .await;
    assert_eq!(
        (put.status, put.text(), put.index()),
        (200, "true".to_owned(), None),
        "PUT: true, no index"
    );
    let entry = consul.entry("app/a").unwrap();
    assert_eq!(
        (entry.create_index, entry.flags),
        (entry.modify_index, u64::MAX)
    );
    assert_eq!(
        call(&consul, "PUT", "app/a?cas=0", b"x", &[]).await.text(),
        "false",
        "cas=0 creates only"
    );
    assert_eq!(
        call(&consul, "PUT", "app/a?cas=1", b"x", &[]).await.text(),
        "false"
    );
    let cas = format!(
        "app/a?cas={}&flags=18446744073709551615",
        entry.modify_index
    );
    assert_eq!(call(&consul, "PUT", &cas, b"v2", &[]).await.text(), "true");
    let before = consul.entry("app/a").unwrap();
    call(
        &consul,
        "PUT",
        "app/a?flags=18446744073709551615",
        b"v2",
        &[],
    )
    .await;
    assert_eq!(
        consul.entry("app/a").unwrap().modify_index,
        before.modify_index,
        "an unchanged write is a no-op"
    );
    consul.set_legacy_bump(true);
    call(
        &consul,
        "PUT",
        "app/a?flags=18446744073709551615",
        b"v2",
        &[],
    )
    .await;
    let bumped = consul.entry("app/a").unwrap();
    assert!(bumped.modify_index > before.modify_index, "legacy: bumped");
    assert_eq!(bumped.create_index, before.create_index);
    assert_eq!(
        call(&consul, "PUT", "app/big", &vec![b'x'; 512 * 1024 + 1], &[])
            .await
            .status,
        413
    );
    assert_eq!(
        call(&consul, "DELETE", "app/a?cas=1", b"", &[])
            .await
            .text(),
        "false"
    );
    assert_eq!(
        call(&consul, "DELETE", "app/?recurse&cas=1", b"", &[])
            .await
            .status,
        400,
        "Conflicting flags"
    );
    assert_eq!(
        call(&consul, "DELETE", "app/a", b"", &[]).await.text(),
        "true"
    );
    assert!(consul.entry("app/a").is_none());
}

#[tokio::test]
async fn acl_tokens_from_query_header_and_bearer() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/a", "1");
    consul.put("secret/b", "2");
    let rules = vec![AclRule {
        prefix: "app/".into(),
        write: false,
    }];
    consul.set_acl(Some(Acl {
        tokens: BTreeMap::from([("reader".to_owned(), rules)]),
        anonymous: Vec::new(),
    }));
    let unknown = call(&consul, "GET", "app/a", b"", &[("X-Consul-Token", "nope")]).await;
    assert_eq!(
        (unknown.status, unknown.text()),
        (403, "ACL not found".to_owned())
    );
    assert!(unknown.index().is_none(), "errors carry no index");
    let denied = call(
        &consul,
        "GET",
        "secret/b",
        b"",
        &[("X-Consul-Token", "reader")],
    )
    .await;
    assert_eq!(
        (denied.status, denied.text()),
        (403, "Permission denied".to_owned())
    );
    assert_eq!(get(&consul, "app/a?token=reader").await.status, 200);
    assert_eq!(
        call(
            &consul,
            "GET",
            "app/a",
            b"",
            &[("Authorization", "bearer reader")]
        )
        .await
        .status,
        200
    );
    let listed = call(
        &consul,
        "GET",
        "?recurse",
        b"",
        &[("X-Consul-Token", "reader")],
    )
    .await;
    assert_eq!(
        listed.json().as_array().unwrap().len(),
        1,
        "filtered silently"
    );
    assert_eq!(
        listed.header("X-Consul-Results-Filtered-By-ACLs"),
        Some("true")
    );
    assert_eq!(listed.header("X-Consul-Default-ACL-Policy"), Some("deny"));
    let anonymous = get(&consul, "?recurse").await;
    assert_eq!(anonymous.status, 404);
    assert!(
        anonymous
            .header("X-Consul-Results-Filtered-By-ACLs")
            .is_none(),
        "only with a token"
    );
    assert_eq!(
        call(
            &consul,
            "PUT",
            "app/a",
            b"x",
            &[("X-Consul-Token", "reader")]
        )
        .await
        .status,
        403
    );
}

#[tokio::test]
async fn faults_reap_restore_index_zero_errors_and_spurious_wakeups() {
    let consul = ConsulEmulator::start().await;
    let low = consul.put("app/a", "1");
    consul.put("app/b", "2");
    consul.delete("app/b");
    let high = get(&consul, "app/?recurse").await.index().unwrap();
    consul.reap_tombstones();
    assert_eq!(
        get(&consul, "app/?recurse").await.index(),
        Some(low),
        "reaped: the index went back"
    );

    let snapshot = consul.snapshot();
    consul.put("app/c", "3");
    let now = consul.list_index("app/");
    let parked = park(&consul, &format!("app/?recurse&index={now}&wait=5m")).await;
    consul.restore(&snapshot);
    assert!(
        parked.await.unwrap() < now,
        "a restore wakes parked reads with an older index"
    );
    assert!(high > low);

    consul.set_index_zero(true);
    assert_eq!(get(&consul, "app/a").await.index(), Some(0));
    consul.set_index_zero(false);

    consul.set_fault(Some(Fault::NoLeader));
    let no_leader = get(&consul, "app/a").await;
    assert_eq!(
        (no_leader.status, no_leader.text()),
        (500, "No cluster leader".to_owned())
    );
    consul.set_fault(Some(Fault::RateLimited));
    assert_eq!(get(&consul, "app/a").await.status, 429);
    consul.set_fault(None);
    let index = consul.key_index("app/a");
    let dropped = tokio::spawn({
        let url = format!("{}/v1/kv/app/a?index={index}&wait=5m", consul.url());
        async move { reqwest::get(url).await.map(|_| ()) }
    });
    consul.wait_for(|c| c.parked == 1).await;
    consul.set_fault(Some(Fault::Drop));
    assert!(
        dropped.await.unwrap().is_err(),
        "the connection dropped mid-poll"
    );
    consul.set_fault(None);

    consul.set_spurious_wakeups(true);
    let woken = park(&consul, &format!("app/a?index={index}&wait=5m")).await;
    consul.wake_all();
    assert_eq!(
        woken.await.unwrap(),
        index,
        "woken without a change: the same index"
    );

    consul.set_slow(Some(Duration::from_millis(20)));
    assert_eq!(get(&consul, "app/a").await.status, 200);
}

#[tokio::test]
async fn answering_at_once_returns_blocking_queries_with_the_same_index_and_counts_them() {
    let consul = ConsulEmulator::start().await;
    let index = consul.put("app/a", "1");
    let polls = consul.long_polls();
    let parked = park(&consul, &format!("app/a?index={index}&wait=5m")).await;
    consul.set_answer_at_once(true);
    assert_eq!(parked.await.unwrap(), index, "a parked query answers now");
    let answer = get(&consul, &format!("app/a?index={index}&wait=5m")).await;
    assert_eq!((answer.status, answer.index()), (200, Some(index)));
    assert_eq!(consul.counters().parked, 0);
    get(&consul, "app/a").await; // not blocking: not counted
    assert_eq!(*polls.borrow(), 2, "blocking queries only");
    consul.set_answer_at_once(false);
    let parked = park(&consul, &format!("app/a?index={index}&wait=5m")).await;
    let next = consul.put("app/a", "2");
    assert_eq!(parked.await.unwrap(), next);
    assert_eq!(*polls.borrow(), 3);
}
