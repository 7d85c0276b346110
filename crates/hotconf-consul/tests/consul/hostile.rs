//! The Consul provider against a hostile server (issue 11): redirects to another origin, bodies
//! that never end or announce a huge length, too many keys or bytes under a prefix, a `?wait`
//! far too long and an `X-Consul-Index` at `u64::MAX`. Through the emulator, fronted where
//! needed by the test kit's hostile server.

use std::time::Duration;

use futures_util::StreamExt;
use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
use hotconf_core::provider::{Content, Layer, WatchStream};
use hotconf_core::{Event, Format, Limits, Provider, Revision};
use hotconf_testkit::consul::ConsulEmulator;
use hotconf_testkit::hostile::{HostileServer, Mode, LOCATION_MARKER};
use hotconf_testkit::{wait_for_event, TIMEOUT};

const TOKEN: &str = "consul-t0ken-s3cret";

async fn next(stream: &mut WatchStream) -> hotconf_core::Result<Layer> {
    tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
}

fn entries(layer: &Layer) -> Vec<(String, String)> {
    match &layer.content {
        Content::Keys { entries, .. } => entries.clone(),
        other => panic!("not keys: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_the_token_never_reaches_the_other_origin() {
    let other = HostileServer::start(None, Mode::answer("[]")).await;
    for status in [301, 302, 307, 308] {
        let front = HostileServer::start(
            None,
            Mode::Redirect {
                status,
                to: other.url(),
            },
        )
        .await;
        let kv = ConsulClient::new([front.endpoint()]).token(TOKEN);
        let provider = ConsulProvider::new(&kv, ConsulSource::prefix("app/"));
        let err = provider.load().await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(err.is_transient(), "{text}");
        assert!(
            text.contains(&status.to_string()),
            "names the status: {text}"
        );
        assert!(text.contains("redirect"), "says it is a redirect: {text}");
        assert!(text.contains(provider.name()), "names the source: {text}");
        assert!(!text.contains(LOCATION_MARKER), "no Location query: {text}");
        assert!(!text.contains(TOKEN), "{text}");
        // The client used directly, for a key and a raw read.
        let err = kv.get("app/x", None).await.unwrap_err();
        assert!(err.to_string().contains("redirect"), "{err}");
        assert_eq!(err.key(), Some("app/x"), "{err}");
        assert!(kv.get_raw("app/x").await.is_err());
        assert_eq!(front.requests().len(), 3, "{status}");
    }
    assert!(
        other.requests().is_empty(),
        "the other origin was reached: {:?}",
        other.requests()
    );
}

/// Peak resident memory of this process (Linux), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_refused_while_read_and_the_last_good_state_keeps_serving() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/k/a", "1");
    consul.put("app/marker", "good");
    let front = HostileServer::start(Some(&consul.address()), Mode::Forward).await;
    let limits = Limits {
        max_bytes: 1 << 20,
        max_total_bytes: 1 << 20,
        ..Limits::default()
    };
    let client = ConsulClient::new([front.endpoint()]).limits(limits);
    let source = ConsulSource::prefix("app/").wait(Duration::from_millis(300));
    let (reloader, mut events) = crate::common::follow(ConsulProvider::new(&client, source)).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "good");

    // 256 MiB of body with no length: the client must hang up soon after 1 MiB (plus what
    // the socket buffers held), never read it all.
    let cap = 256 << 20;
    front.set(Mode::Endless {
        declared: None,
        cap,
    });
    let event = wait_for_event(
        &mut events,
        |e| matches!(e, Event::SourceError { error, .. } if error.to_string().contains("limit")),
    )
    .await;
    let streamed = front.wait_streamed(|s| s.hung_up + s.capped >= 1).await;
    assert_eq!(
        streamed.capped, 0,
        "the whole endless body was read: {streamed:?}"
    );
    assert!(streamed.bytes < 64 << 20, "{streamed:?}");
    assert_eq!(
        store.load().marker,
        "good",
        "the last good state keeps serving"
    );
    let Event::SourceError { error, .. } = event else {
        unreachable!()
    };
    assert!(
        error.to_string().contains("consul://"),
        "names the source: {error}"
    );
    assert!(peak_rss() < 200 << 20, "peak RSS {} bytes", peak_rss());

    // A declared length above the limit is refused before any of the body is read.
    front.set(Mode::Endless {
        declared: Some(1 << 40),
        cap,
    });
    let kv = ConsulClient::new([front.endpoint()]).limits(limits);
    let err = kv.list("app/", None).await.unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(err.key(), Some("app/"), "{err}");

    // And the source recovers once the server behaves.
    front.set(Mode::Forward);
    consul.put("app/marker", "again");
    hotconf_testkit::wait_until(&store, |c| c.marker == "again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_with_too_many_keys_or_bytes_is_refused_naming_the_source() {
    let consul = ConsulEmulator::start().await;
    for i in 0..5 {
        consul.put(&format!("app/k{i}"), "0123456789");
    }
    let few_keys = Limits {
        max_keys: 4,
        ..Limits::default()
    };
    let client = ConsulClient::new([consul.address()]).limits(few_keys);
    let provider = ConsulProvider::new(&client, ConsulSource::prefix("app/"));
    let err = provider.load().await.unwrap_err();
    assert!(err.to_string().contains("5 keys"), "{err}");
    assert!(err.to_string().contains(provider.name()), "{err}");
    assert!(err.is_transient(), "{err}");

    let few_bytes = Limits {
        max_total_bytes: 40,
        ..Limits::default()
    };
    let client = ConsulClient::new([consul.address()]).limits(few_bytes);
    let err = ConsulProvider::new(&client, ConsulSource::prefix("app/"))
        .load()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");

    consul.put("app/big", "x".repeat(100));
    let small_values = Limits {
        max_bytes: 50,
        ..Limits::default()
    };
    let client = ConsulClient::new([consul.address()]).limits(small_values);
    let err = ConsulProvider::new(&client, ConsulSource::prefix("app/"))
        .load()
        .await
        .unwrap_err();
    assert_eq!(err.key(), Some("app/big"), "{err}");

    // Within the limits: read as usual.
    let layer = ConsulProvider::new(
        &ConsulClient::new([consul.address()]),
        ConsulSource::prefix("app/"),
    )
    .load()
    .await
    .unwrap();
    assert_eq!(entries(&layer).len(), 6);

    // A key holding a document above max_bytes.
    consul.put("doc.json", format!("{{\"pad\": \"{}\"}}", "x".repeat(200)));
    let client = ConsulClient::new([consul.address()]).limits(Limits {
        max_bytes: 100,
        ..Limits::default()
    });
    let err = ConsulProvider::new(&client, ConsulSource::key("doc.json", Format::Json))
        .load()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(err.key(), Some("doc.json"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_of_u64_max_seconds_is_clamped_to_consuls_ten_minutes() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/v", "1");
    for uri in [
        format!(
            "consul://{}/app/?wait=18446744073709551615s",
            consul.address()
        ),
        format!(
            "consul://{}/app/?wait=18446744073709551615ms",
            consul.address()
        ),
    ] {
        let provider = ConsulProvider::from_uri(&uri.parse().unwrap()).unwrap();
        let mut stream = provider.watch().await.unwrap();
        assert_eq!(
            entries(&next(&mut stream).await.unwrap()),
            [("v".into(), "1".into())]
        );
        let parked = consul.counters().parked;
        // The second read blocks (its timeout computed from the wait) until the write.
        let second = tokio::spawn(async move { next(&mut stream).await });
        consul.wait_for(|c| c.parked > parked).await;
        consul.put("app/v", "2");
        let layer = second.await.expect("no panic").unwrap();
        assert_eq!(entries(&layer), [("v".into(), "2".into())]);
        consul.put("app/v", "1");
    }
    let log = consul.request_log();
    assert!(
        log.iter().any(|l| l.contains("wait=600000ms")),
        "the wait is clamped to 10 minutes: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_at_u64_max_then_a_reset_keeps_revisions_without_overflow() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/v", "old");
    let snapshot = consul.snapshot();
    consul.set_raft_index(u64::MAX - 1);
    assert_eq!(consul.put("app/v", "max"), u64::MAX);
    let provider = ConsulProvider::new(
        &ConsulClient::new([consul.address()]),
        ConsulSource::prefix("app/").wait(Duration::from_millis(300)),
    );
    let mut stream = provider.watch().await.unwrap();
    let first = next(&mut stream).await.unwrap();
    assert_eq!(entries(&first), [("v".into(), "max".into())]);
    assert_eq!(first.revision, Revision::Ordered(u64::MAX));

    // The index goes back (a restore): revisions go on from the last one, which cannot grow.
    let parked = consul.counters().parked;
    let second = tokio::spawn(async move { next(&mut stream).await.map(|l| (l, stream)) });
    consul.wait_for(|c| c.parked > parked).await;
    consul.restore(&snapshot);
    let (layer, mut stream) = second.await.expect("no panic (overflow)").unwrap();
    assert_eq!(entries(&layer), [("v".into(), "old".into())]);
    assert_eq!(
        layer.revision,
        Revision::Ordered(u64::MAX),
        "never backwards"
    );

    // Writes at a saturated index (u64::MAX again and again) are still seen.
    consul.set_raft_index(u64::MAX);
    consul.put("app/v", "after");
    let layer = next(&mut stream).await.unwrap();
    assert_eq!(entries(&layer), [("v".into(), "after".into())]);
    assert_eq!(layer.revision, Revision::Ordered(u64::MAX));
}
