//! The etcd provider against real etcd servers started on free loopback ports.

use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, DeleteOptions, GetOptions, Txn, TxnOp};
use hotconf_core::{Event, Format, Provider, Reloader, Revision, Startup};
use hotconf_etcd::{EtcdClient, EtcdProvider, EtcdSource};
use hotconf_testkit::etcd::EtcdCluster;
use hotconf_testkit::{wait_for_event, wait_until, Fixture, TcpProxy};
use serde::Deserialize;
use serde_json::Value;

/// Flattens `{"app": {"name": "x"}}` into `[("app/name", "x")]`.
fn flatten(value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(v, &format!("{prefix}{k}/"), out);
            }
        }
        Value::String(s) => out.push((prefix.trim_end_matches('/').to_owned(), s.clone())),
        other => out.push((prefix.trim_end_matches('/').to_owned(), other.to_string())),
    }
}

/// An etcd source: a prefix (keys) or one key (a JSON document), read by the provider through
/// a proxy that can cut it off while the test keeps writing to the server.
struct EtcdFixture {
    server: EtcdCluster,
    proxy: TcpProxy,
    key_mode: bool,
}

impl EtcdFixture {
    async fn new(key_mode: bool) -> Self {
        let server = EtcdCluster::single();
        let proxy = TcpProxy::start(&server.endpoint(0)).await;
        EtcdFixture {
            server,
            proxy,
            key_mode,
        }
    }

    async fn client(&self) -> Client {
        Client::connect(self.server.endpoints(), None)
            .await
            .unwrap()
    }

    fn source(&self) -> EtcdSource {
        if self.key_mode {
            EtcdSource::key("suite/config.json", Format::Json)
        } else {
            EtcdSource::prefix("suite/")
        }
    }
}

#[async_trait]
impl Fixture for EtcdFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(EtcdProvider::new(
            &EtcdClient::new([self.proxy.endpoint()]),
            self.source(),
        ))
    }

    /// A provider whose TLS CA file does not exist.
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        let uri = format!(
            "etcd://{}/suite/?ca=/nonexistent/hotconf-suite-ca.pem",
            self.proxy.endpoint()
        );
        Some(Box::new(
            EtcdProvider::from_uri(&uri.parse().unwrap()).unwrap(),
        ))
    }

    async fn write(&self, config: &Value) {
        let mut client = self.client().await;
        if self.key_mode {
            client
                .put("suite/config.json", config.to_string(), None)
                .await
                .unwrap();
            return;
        }
        // Replace the whole prefix in one transaction (one revision, like an operator's apply):
        // delete the keys that go away, put the others. (etcd refuses a txn that deletes a
        // range and puts into it.)
        let mut pairs = Vec::new();
        flatten(config, "suite/", &mut pairs);
        let existing = client
            .get(
                "suite/",
                Some(GetOptions::new().with_prefix().with_keys_only()),
            )
            .await
            .unwrap();
        let mut ops: Vec<TxnOp> = existing
            .kvs()
            .iter()
            .filter(|kv| !pairs.iter().any(|(k, _)| k.as_bytes() == kv.key()))
            .map(|kv| TxnOp::delete(kv.key(), None))
            .collect();
        ops.extend(pairs.into_iter().map(|(k, v)| TxnOp::put(k, v, None)));
        client.txn(Txn::new().and_then(ops)).await.unwrap();
    }

    async fn write_invalid(&self) {
        let mut client = self.client().await;
        if self.key_mode {
            client
                .put("suite/config.json", "{\"app\": ", None)
                .await
                .unwrap();
        } else {
            // `app` both a value and the parent of `app/name`.
            client.put("suite/app", "x", None).await.unwrap();
        }
    }

    async fn delete(&self) {
        let mut client = self.client().await;
        client
            .delete("suite/", Some(DeleteOptions::new().with_prefix()))
            .await
            .unwrap();
    }

    async fn interrupt(&self) -> bool {
        self.proxy.cut();
        true
    }

    async fn restore(&self) {
        self.proxy.restore();
    }
}

/// The behaviour suite on a prefix.
mod prefix_mode {
    use super::EtcdFixture;
    hotconf_testkit::behaviour_tests!(EtcdFixture::new(false); interruptible, permanent_failures);
}

/// The behaviour suite on a key holding a document.
mod key_mode {
    use super::EtcdFixture;
    hotconf_testkit::behaviour_tests!(EtcdFixture::new(true); interruptible, permanent_failures);
}

#[derive(Debug, Deserialize)]
struct Keys {
    #[serde(default)]
    k: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    marker: String,
}

/// The prefix `prefix` on `client`.
fn prefix(client: &EtcdClient, prefix: &str) -> EtcdProvider {
    EtcdProvider::new(client, EtcdSource::prefix(prefix))
}

async fn follow(
    provider: EtcdProvider,
) -> (Reloader<Keys>, tokio::sync::broadcast::Receiver<Event>) {
    let builder = Reloader::<Keys>::builder()
        .layer(provider)
        .startup(Startup::Wait(Duration::from_secs(30)));
    let events = builder.events();
    (builder.start().await.unwrap(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_hundred_revisions_written_while_disconnected_are_all_seen() {
    let fixture = EtcdFixture::new(false).await;
    let mut client = fixture.client().await;
    client.put("app/marker", "start", None).await.unwrap();
    let (reloader, mut events) =
        follow(prefix(&EtcdClient::new([fixture.proxy.endpoint()]), "app/")).await;
    let store = reloader.store();
    fixture.proxy.cut();
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    // 1500 revisions: more than etcd's 1000-revision catch-up batch, each key written once.
    for i in 0..1500 {
        client
            .put(format!("app/k/{i:04}"), format!("v{i}"), None)
            .await
            .unwrap();
    }
    client.put("app/marker", "end", None).await.unwrap();
    fixture.proxy.restore();
    wait_until(&store, |c| c.marker == "end").await;
    let snapshot = store.get();
    assert_eq!(
        snapshot.k.len(),
        1500,
        "a key written while disconnected was lost"
    );
    assert!((0..1500).all(|i| snapshot.k[&format!("{i:04}")] == format!("v{i}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_disconnected_relists_and_sees_deletes() {
    let fixture = EtcdFixture::new(false).await;
    let mut client = fixture.client().await;
    for i in 0..5 {
        client
            .put(format!("app/k/{i}"), "before", None)
            .await
            .unwrap();
    }
    client.put("app/marker", "start", None).await.unwrap();
    let (reloader, mut events) =
        follow(prefix(&EtcdClient::new([fixture.proxy.endpoint()]), "app/")).await;
    let store = reloader.store();
    assert_eq!(store.load().k.len(), 5);
    fixture.proxy.cut();
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    client.delete("app/k/0", None).await.unwrap();
    client.delete("app/k/1", None).await.unwrap();
    client.put("app/k/2", "after", None).await.unwrap();
    client.put("app/marker", "end", None).await.unwrap();
    fixture.server.compact(); // the deletes are gone from history: only a re-list sees them
    fixture.proxy.restore();
    wait_until(&store, |c| c.marker == "end").await;
    let keys: Vec<String> = store.load().k.keys().cloned().collect();
    assert_eq!(keys, ["2", "3", "4"]);
    assert_eq!(store.load().k["2"], "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_one_key_and_the_whole_prefix() {
    let fixture = EtcdFixture::new(false).await;
    let mut client = fixture.client().await;
    client.put("app/marker", "m", None).await.unwrap();
    client.put("app/k/a", "1", None).await.unwrap();
    client.put("app/k/b", "2", None).await.unwrap();
    client
        .put("application/k/x", "not ours", None)
        .await
        .unwrap();
    let (reloader, _) = follow(prefix(
        &EtcdClient::new([fixture.server.endpoint(0)]),
        "app",
    ))
    .await;
    let store = reloader.store();
    assert_eq!(
        store.load().k.len(),
        2,
        "`app` must not match `application/`"
    );
    client.delete("app/k/a", None).await.unwrap();
    wait_until(&store, |c| c.k.len() == 1).await;
    client
        .delete("app/", Some(DeleteOptions::new().with_prefix()))
        .await
        .unwrap();
    wait_until(&store, |c| c.k.is_empty() && c.marker.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_etcd_restart_is_ridden_out() {
    let mut server = EtcdCluster::single();
    let mut client = Client::connect(server.endpoints(), None).await.unwrap();
    client.put("app/marker", "before", None).await.unwrap();
    let (reloader, mut events) = follow(prefix(&EtcdClient::new(server.endpoints()), "app/")).await;
    let store = reloader.store();
    server.stop(0);
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    assert_eq!(
        store.load().marker,
        "before",
        "the last good config keeps serving while etcd is down"
    );
    server.restart(0);
    let mut client = Client::connect(server.endpoints(), None).await.unwrap();
    client.put("app/marker", "after", None).await.unwrap();
    wait_until(&store, |c| c.marker == "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_during_writes_converges_without_going_back() {
    let mut cluster = EtcdCluster::start(hotconf_testkit::etcd::EtcdOptions {
        members: 3,
        ..Default::default()
    });
    let endpoints = cluster.endpoints();
    let mut client = Client::connect(endpoints.clone(), None).await.unwrap();
    client.put("app/marker", "0", None).await.unwrap();
    let (reloader, mut events) = follow(prefix(&EtcdClient::new(endpoints.clone()), "app/")).await;
    let store = reloader.store();
    let leader = cluster.leader();
    let writer = tokio::spawn(async move {
        let mut last = 0;
        for i in 1..=300 {
            // Writes during the election fail: retry each until it lands.
            loop {
                let Ok(mut client) = Client::connect(endpoints.clone(), None).await else {
                    continue;
                };
                if client.put("app/marker", i.to_string(), None).await.is_ok() {
                    last = i;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        last
    });
    // Kill the leader while the writes stream in.
    wait_until(&store, |c| c.marker.parse::<u32>().unwrap_or(0) >= 50).await;
    cluster.kill(leader);
    let last = writer.await.unwrap();
    wait_until(&store, |c| c.marker == last.to_string()).await;
    // Revisions the store applied for the source only ever grew.
    let mut revisions = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Applied { revisions: r, .. } = event {
            revisions.push(r[0].1.parse::<u64>().unwrap());
        }
    }
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_revision_in_the_layer_is_the_etcd_revision() {
    let fixture = EtcdFixture::new(false).await;
    let mut client = fixture.client().await;
    let put = client.put("app/marker", "x", None).await.unwrap();
    let revision = put.header().unwrap().revision();
    let layer = prefix(&EtcdClient::new([fixture.server.endpoint(0)]), "app/")
        .load()
        .await
        .unwrap();
    assert_eq!(layer.revision, Revision::Ordered(revision as u64));
    let got = client
        .get("app/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    assert_eq!(got.kvs().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_survive_auth_token_expiry_and_bad_credentials_fail_clearly() {
    let options = hotconf_testkit::etcd::EtcdOptions {
        members: 1,
        args: vec!["--auth-token-ttl".into(), "1".into()],
        tls: None,
    };
    let mut server = EtcdCluster::start(options);
    server.enable_auth("r00tpw");
    server.ctl(&["put", "app/marker", "before"]);
    let proxy = TcpProxy::start(&server.endpoint(0)).await;
    let client = EtcdClient::new([proxy.endpoint()]).user("root", "r00tpw");
    let (reloader, mut events) = follow(prefix(&client, "app/")).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "before");

    // Let the token expire (the TTL is 1 s and nothing uses it), then cut the connection so the
    // provider must start a new watch: its old token is dead by now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    proxy.cut();
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    server.ctl(&["put", "app/marker", "after-expiry"]);
    proxy.restore();
    wait_until(&store, |c| c.marker == "after-expiry").await;

    // Wrong credentials: a clear, permanent error, not a hang.
    let bad = EtcdClient::new(server.endpoints()).user("root", "wrong");
    let err = Reloader::<Keys>::builder()
        .layer(prefix(&bad, "app/"))
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        hotconf_core::ErrorKind::PermissionDenied,
        "{err}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "the password leaked: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_client_certificate() {
    let pki = hotconf_testkit::pki::TestPki::new();
    let server_tls = hotconf_testkit::etcd::ServerTls {
        cert: pki.server.cert.clone(),
        key: pki.server.key.clone(),
        ca: pki.ca.clone(),
    };
    let client_tls = hotconf_testkit::etcd::ClientTls {
        ca: pki.ca.clone(),
        cert: pki.client.cert.clone(),
        key: pki.client.key.clone(),
    };
    let options = hotconf_testkit::etcd::EtcdOptions {
        members: 1,
        args: Vec::new(),
        tls: Some((server_tls, client_tls.clone())),
    };
    let server = EtcdCluster::start(options);
    server.ctl(&["put", "app/marker", "over-tls"]);
    let tls = hotconf_etcd::TlsFiles {
        ca: Some(pki.ca.clone()),
        identity: Some((client_tls.cert, client_tls.key)),
    };
    let (reloader, _) = follow(prefix(
        &EtcdClient::new(server.endpoints()).tls(tls),
        "app/",
    ))
    .await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "over-tls");
    server.ctl(&["put", "app/marker", "changed"]);
    wait_until(&store, |c| c.marker == "changed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_share_one_connection() {
    let server = EtcdCluster::single();
    server.ctl(&["put", "one/marker", "a"]);
    server.ctl(&["put", "two/marker", "b"]);
    let client = EtcdClient::new(server.endpoints());
    let first = EtcdProvider::new(&client, EtcdSource::prefix("one/"));
    let second = EtcdProvider::new(&client, hotconf_core::provider::KeySpace::prefix("two/"));
    let one = Reloader::<Keys>::builder()
        .layer(first)
        .start()
        .await
        .unwrap();
    let two = Reloader::<Keys>::builder()
        .layer(second)
        .start()
        .await
        .unwrap();
    server.ctl(&["put", "one/marker", "a2"]);
    server.ctl(&["put", "two/marker", "b2"]);
    wait_until(&one.store(), |c| c.marker == "a2").await;
    wait_until(&two.store(), |c| c.marker == "b2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_never_answers_is_a_transient_error_within_the_deadline() {
    let server = EtcdCluster::single();
    server.ctl(&["put", "app/marker", "m"]);
    let proxy = hotconf_testkit::etcd::EtcdProxy::start(&server.endpoint(0)).await;
    proxy.freeze(); // accepts connections, answers nothing (HTTP/2 pings included)
    let provider = prefix(
        &EtcdClient::new([proxy.endpoint()]).request_timeout(Duration::from_millis(800)),
        "app/",
    );
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(20), provider.load())
        .await
        .expect("load must not hang")
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "the error took {took:?}");
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.kind(), hotconf_core::ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("app/"), "names the source: {err}");

    // Traffic flows again: the same provider recovers.
    proxy.thaw();
    let layer = provider.load().await.unwrap();
    assert!(matches!(layer.revision, Revision::Ordered(r) if r > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_goes_silent_is_noticed_before_the_keepalive_and_recovers() {
    let server = EtcdCluster::single();
    server.ctl(&["put", "app/marker", "before"]);
    let proxy = hotconf_testkit::etcd::EtcdProxy::start(&server.endpoint(0)).await;
    let client = EtcdClient::new([proxy.endpoint()]).request_timeout(Duration::from_millis(700));
    let source = EtcdSource::prefix("app/").watch_check(Duration::from_millis(300));
    let (reloader, mut events) = follow(EtcdProvider::new(&client, source)).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "before");
    // HTTP/2 keepalive (a ping every 5 s, 5 s to answer) would notice after 5 to 10 s.
    proxy.freeze();
    let started = std::time::Instant::now();
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "the error took {took:?}");
    server.ctl(&["put", "app/marker", "after"]);
    proxy.thaw();
    wait_until(&store, |c| c.marker == "after").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_compacted_again_and_again_relists_with_backoff() {
    let server = EtcdCluster::single();
    server.ctl(&["put", "app/marker", "m"]);
    // 10 ms each way: between the list and the watch's creation, the writer below moves the
    // store on and compacts it, so every watch starts below the compaction point.
    let proxy = hotconf_testkit::etcd::EtcdProxy::with_delay(
        &server.endpoint(0),
        Duration::from_millis(10),
    )
    .await;
    let mut client = Client::connect(server.endpoints(), None).await.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Puts and compactions only: the server's count of Range calls is the provider's lists.
                let put = client.put("other/churn", "x", None).await.unwrap();
                let revision = put.header().unwrap().revision();
                let _ = client.compact(revision, None).await;
            }
        })
    };
    let provider = prefix(&EtcdClient::new([proxy.endpoint()]), "app/");
    let mut stream = provider.watch().await.unwrap();
    let first = futures_util::StreamExt::next(&mut stream).await.unwrap();
    assert!(first.is_ok(), "{first:?}");
    let drain = tokio::spawn(async move {
        while let Some(item) = futures_util::StreamExt::next(&mut stream).await {
            let _ = item;
        }
    });
    const RANGE_CALLS: &str = "grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}";
    let lists_before = server.metric(0, RANGE_CALLS);
    tokio::time::sleep(Duration::from_secs(5)).await; // a rate: observed over a window
    let lists = server.metric(0, RANGE_CALLS) - lists_before;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drain.abort();
    writer.await.unwrap();
    // Without backoff: a list every ~100 ms (dozens); with 100 ms doubling, jittered: 6 to 8.
    eprintln!("{lists} lists in 5 s");
    assert!(
        lists >= 2.0,
        "the watch was not compacted again and again ({lists} lists)"
    );
    assert!(
        lists <= 12.0,
        "{lists} lists in 5 s: no backoff between re-lists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_over_its_limits_is_refused_and_the_last_good_state_keeps_serving() {
    let server = EtcdCluster::single();
    server.ctl(&["put", "app/marker", "good"]);
    server.ctl(&["put", "app/k/a", "1"]);
    server.ctl(&["put", "app/k/b", "2"]);
    let limits = hotconf_core::Limits {
        max_keys: 3,
        max_total_bytes: 1000,
        ..hotconf_core::Limits::default()
    };
    let client = EtcdClient::new(server.endpoints()).limits(limits);
    let (reloader, mut events) = follow(prefix(&client, "app/")).await;
    let store = reloader.store();
    assert_eq!(store.load().k.len(), 2);

    // A fourth key: refused (transient: the provider keeps listing), the last good state stays.
    server.ctl(&["put", "app/k/c", "3"]);
    let event = wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    let Event::SourceError {
        error, transient, ..
    } = &event
    else {
        unreachable!()
    };
    assert!(
        error.contains("max_keys") && error.contains("app/"),
        "{error}"
    );
    assert!(*transient, "{event:?}");
    assert_eq!(store.load().k.len(), 2);
    assert_eq!(store.load().marker, "good");
    // From scratch it is refused too, with the same error.
    let err = prefix(&client, "app/").load().await.unwrap_err();
    assert_eq!(err.kind(), hotconf_core::ErrorKind::Parse, "{err}");
    assert!(err.to_string().contains("max_keys"), "{err}");

    // Back under the limit: followed again.
    server.ctl(&["del", "app/k/c"]);
    server.ctl(&["put", "app/marker", "fixed"]);
    wait_until(&store, |c| c.marker == "fixed" && c.k.len() == 2).await;

    // Too many bytes in total, and one value too large.
    let big = "x".repeat(1200);
    server.ctl(&["put", "app/k/b", &big]);
    let err = prefix(&client, "app/").load().await.unwrap_err();
    assert!(err.to_string().contains("max_total_bytes"), "{err}");
    let small_values = hotconf_core::Limits {
        max_bytes: 100,
        ..hotconf_core::Limits::default()
    };
    let err = prefix(&client.limits(small_values), "app/")
        .load()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_bytes"), "{err}");
    assert_eq!(err.key(), Some("k.b"), "{err}");
}

/// The revisions of every `applied` event received so far, for the first source.
fn applied_revisions(events: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<u64> {
    let mut revisions = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Applied { revisions: r, .. } = event {
            revisions.push(r[0].1.parse::<u64>().unwrap());
        }
    }
    revisions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_to_an_older_revision_is_followed_after_a_transient_error() {
    let mut server = EtcdCluster::single();
    server.ctl(&["put", "app/marker", "in-the-snapshot"]);
    let snapshot = server.snapshot_save(0);
    let (reloader, mut events) = follow(prefix(&EtcdClient::new(server.endpoints()), "app/")).await;
    let mut applied = reloader.events();
    let store = reloader.store();
    for i in 0..5 {
        server.ctl(&["put", "app/marker", &format!("newer-{i}")]);
    }
    wait_until(&store, |c| c.marker == "newer-4").await;
    let before = server.revision();

    // Back to the snapshot's revision: revisions go backwards.
    server.restore_snapshot(&snapshot);
    assert!(server.revision() < before);
    let event = wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if error.contains("backwards")),
    )
    .await;
    let Event::SourceError { transient, .. } = event else {
        unreachable!()
    };
    assert!(transient, "a restore is recovered from: {event:?}");
    wait_until(&store, |c| c.marker == "in-the-snapshot").await;
    server.ctl(&["put", "app/marker", "after-restore"]);
    wait_until(&store, |c| c.marker == "after-restore").await;

    // The reloader was never asked to go back: the revisions it applied only grew.
    let revisions = applied_revisions(&mut applied);
    assert!(revisions.len() >= 2, "{revisions:?}");
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_is_never_created_is_a_transient_error_within_the_deadline() {
    let server = EtcdCluster::single();
    server.ctl(&["put", "app/marker", "before"]);
    let proxy = hotconf_testkit::etcd::EtcdProxy::start(&server.endpoint(0)).await;
    let provider = prefix(
        &EtcdClient::new([proxy.endpoint()]).request_timeout(Duration::from_millis(800)),
        "app/",
    );
    let mut stream = provider.watch().await.unwrap();
    // The first state comes from the list; the watch is opened when the stream is polled again.
    let first = futures_util::StreamExt::next(&mut stream).await.unwrap();
    assert!(first.is_ok(), "{first:?}");
    proxy.freeze();
    let started = std::time::Instant::now();
    let next = tokio::time::timeout(
        Duration::from_secs(20),
        futures_util::StreamExt::next(&mut stream),
    )
    .await
    .expect("opening the watch must not hang")
    .unwrap();
    let took = started.elapsed();
    let err = next.unwrap_err();
    assert!(took < Duration::from_secs(4), "the error took {took:?}");
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("watch"), "{err}");

    // Traffic flows again: the stream goes on and sees a write.
    server.ctl(&["put", "app/marker", "after"]);
    proxy.thaw();
    let layer = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(layer) = futures_util::StreamExt::next(&mut stream).await.unwrap() {
                return layer;
            }
        }
    })
    .await
    .expect("the stream recovers");
    assert!(format!("{layer:?}").contains("after"), "{layer:?}");
}

/// Writes through a plain etcd client.
struct EtcdWriter(tokio::sync::Mutex<Client>);

#[async_trait]
impl hotconf_testkit::rollout::KvWriter for EtcdWriter {
    async fn put(&self, key: &str, value: &str) {
        self.0.lock().await.put(key, value, None).await.unwrap();
    }
    async fn delete(&self, key: &str) {
        self.0.lock().await.delete(key, None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_move_exactly_the_members_and_end_when_the_record_is_deleted() {
    let server = EtcdCluster::single();
    let writer = EtcdWriter(tokio::sync::Mutex::new(
        Client::connect(server.endpoints(), None).await.unwrap(),
    ));
    // Keys inside the watched range [KEY, KEY.rollout] that are neither: ignored.
    hotconf_testkit::rollout::KvWriter::put(&writer, "app/config.json-old", "{").await;
    let client = EtcdClient::new([server.endpoint(0)]);
    hotconf_testkit::rollout::run(&writer, |id| {
        let uri = format!(
            "etcd://{}/{}?rollout=true",
            server.endpoint(0),
            hotconf_testkit::rollout::KEY
        );
        // One through the URI (the process's default id, as the CLI sets it), the others
        // with an explicit id.
        if id == "pod-a" {
            hotconf_core::set_instance_id(id);
            let provider = EtcdProvider::from_uri(&uri.parse().unwrap()).unwrap();
            hotconf_core::set_instance_id("");
            return provider;
        }
        EtcdProvider::new(
            &client,
            EtcdSource::key(hotconf_testkit::rollout::KEY, Format::Json).rollout_as(id),
        )
    })
    .await;
}
