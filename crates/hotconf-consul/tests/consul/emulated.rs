//! The Consul provider against the emulator's fault hooks: index resets, busy-loop hazards,
//! errors, ACLs, TLS and bad server data. (These need the emulator, so they ignore
//! `HOTCONF_CONSUL_ADDR`.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource, RateLimit};
use hotconf_core::provider::{Content, Layer, WatchStream};
use hotconf_core::{ErrorKind, Event, Provider, Revision};
use hotconf_testkit::consul::{Acl, AclRule, ConsulEmulator, Fault};
use hotconf_testkit::{wait_for_event, wait_until, TIMEOUT};

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

fn ordered(layer: &Layer) -> u64 {
    match layer.revision {
        Revision::Ordered(r) => r,
        ref other => panic!("{other:?}"),
    }
}

/// Drives a provider's watch in a task (so it keeps polling), forwarding its items.
fn drive(
    mut stream: WatchStream,
) -> tokio::sync::mpsc::UnboundedReceiver<hotconf_core::Result<Layer>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

async fn recv(
    items: &mut tokio::sync::mpsc::UnboundedReceiver<hotconf_core::Result<Layer>>,
) -> Layer {
    tokio::time::timeout(TIMEOUT, items.recv())
        .await
        .expect("an item in time")
        .expect("the stream goes on")
        .expect("a state, not an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_and_reaped_tombstones_reset_the_index_without_missing_or_repeating() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/v", "1");
    let snapshot = consul.snapshot();
    consul.put("app/v", "2");
    consul.put("app/w", "x");
    let provider = ConsulProvider::new(
        &ConsulClient::new([consul.address()]),
        ConsulSource::prefix("app/").wait(Duration::from_millis(300)),
    );
    let mut items = drive(provider.watch().await.unwrap());
    let first = recv(&mut items).await;
    assert_eq!(
        entries(&first),
        [("v".into(), "2".into()), ("w".into(), "x".into())]
    );
    consul.wait_for(|c| c.parked == 1).await;

    // Restore an older state: parked reads answer at once with an older index; the client reads
    // afresh and sees the restored state.
    consul.restore(&snapshot);
    let restored = recv(&mut items).await;
    assert_eq!(entries(&restored), [("v".into(), "1".into())]);
    assert!(
        ordered(&restored) > ordered(&first),
        "revisions never go back"
    );
    // The next write is applied once: the client blocks on the restored (lower) index now.
    consul.wait_for(|c| c.parked == 1).await;
    consul.put("app/v", "3");
    let third = recv(&mut items).await;
    assert_eq!(entries(&third), [("v".into(), "3".into())]);

    // The highest entry deleted, then its tombstone reaped: the list index goes back again.
    consul.put("app/z", "top");
    assert_eq!(entries(&recv(&mut items).await).len(), 2);
    consul.delete("app/z");
    let deleted = recv(&mut items).await;
    assert_eq!(entries(&deleted), [("v".into(), "3".into())]);
    let parked = consul.wait_for(|c| c.parked == 1).await;
    let log_before = consul.request_log().len();
    consul.reap_tombstones();
    // The parked read times out with the older index; the client resets (a read without an
    // index) and parks again, yielding nothing: the content did not change.
    consul
        .wait_for(|c| c.timeouts > parked.timeouts && c.reads >= parked.reads + 2 && c.parked == 1)
        .await;
    let log = consul.request_log();
    assert!(
        log[log_before..].iter().any(|l| !l.contains("index=")),
        "no reset: {log:?}"
    );
    assert!(
        items.try_recv().is_err(),
        "nothing changed, nothing yielded"
    );
    consul.put("app/v", "4");
    let after_reap = recv(&mut items).await;
    assert_eq!(entries(&after_reap), [("v".into(), "4".into())]);
    assert!(ordered(&after_reap) > ordered(&deleted));
    assert!(items.try_recv().is_err(), "no change repeated");
}

/// Requests allowed in `elapsed` by a bucket of `limit`, plus one in flight.
fn allowed(limit: RateLimit, elapsed: Duration) -> u64 {
    u64::from(limit.burst) + (elapsed.as_secs_f64() / limit.refill.as_secs_f64()).ceil() as u64 + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_busy_loop_while_churning_on_index_zero_on_spurious_wakeups_or_idle() {
    let limit = RateLimit {
        burst: 2,
        refill: Duration::from_millis(50),
    };
    let consul = ConsulEmulator::start().await;
    consul.put("app/marker", "0");
    let source = ConsulSource::prefix("app/")
        .rate_limit(limit)
        .wait(Duration::from_millis(200));
    let client = ConsulClient::new([consul.address()]);
    let (reloader, _) = crate::common::follow(ConsulProvider::new(&client, source)).await;
    let store = reloader.store();

    // Churn: 200 writes, 2 ms apart. Requests stay within the bucket, far below the writes.
    let before = consul.counters().reads;
    let started = Instant::now();
    let mut pace = tokio::time::interval(Duration::from_millis(2));
    for i in 1..=200 {
        pace.tick().await;
        consul.put("app/marker", i.to_string());
    }
    wait_until(&store, |c| c.marker == "200").await;
    let reads = consul.counters().reads - before;
    assert!(
        reads <= allowed(limit, started.elapsed()),
        "{reads} reads in {:?}",
        started.elapsed()
    );
    assert!(reads < 200, "one read per write or more: {reads}");

    // Faults that make every read return at once: the bucket bounds them.
    for fault in ["index zero", "spurious"] {
        let before = consul.counters().reads;
        let started = Instant::now();
        match fault {
            "index zero" => consul.set_index_zero(true),
            _ => consul.set_spurious_wakeups(true),
        }
        for _ in 0..20 {
            consul.wake_all();
            let seen = consul.counters().reads;
            consul.wait_for(|c| c.reads > seen).await;
        }
        let reads = consul.counters().reads - before;
        assert!(
            reads <= allowed(limit, started.elapsed()),
            "{fault}: {reads} reads in {:?}",
            started.elapsed()
        );
        consul.set_index_zero(false);
        consul.set_spurious_wakeups(false);
    }

    // Idle: every request waits its full `wait`; none returns early.
    let idle = consul.wait_for(|c| c.parked == 1).await;
    let end = consul.wait_for(|c| c.timeouts >= idle.timeouts + 5).await;
    assert!(
        end.reads - idle.reads <= end.timeouts - idle.timeouts + 1,
        "{idle:?} → {end:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_the_last_good_config_and_recover() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/marker", "good");
    let (reloader, mut events) = crate::common::follow(ConsulProvider::new(
        &ConsulClient::new([consul.address()]),
        ConsulSource::prefix("app/"),
    ))
    .await;
    let store = reloader.store();
    for (i, fault) in [Fault::NoLeader, Fault::RateLimited, Fault::Drop]
        .into_iter()
        .enumerate()
    {
        consul.wait_for(|c| c.parked == 1).await;
        while events.try_recv().is_ok() {}
        consul.set_fault(Some(fault));
        let want = match fault {
            Fault::NoLeader => "No cluster leader",
            Fault::RateLimited => "429",
            Fault::Drop => "failed",
        };
        let event = wait_for_event(
            &mut events,
            |e| matches!(e, Event::SourceError { error, .. } if error.contains(want)),
        )
        .await;
        let Event::SourceError {
            source, transient, ..
        } = &event
        else {
            unreachable!()
        };
        assert!(*transient && source.starts_with("consul://"), "{event:?}");
        assert_eq!(store.load().marker, if i == 0 { "good" } else { "after" });
        consul.put("app/marker", "after");
        consul.set_fault(None);
        wait_until(&store, |c| c.marker == "after").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_denied_is_a_clear_error_and_the_token_stays_in_a_header() {
    let consul = ConsulEmulator::start().await;
    consul.put("app/config.json", r#"{"marker": "x"}"#);
    consul.put("app/marker", "x");
    let rules = vec![AclRule {
        prefix: "other/".into(),
        write: false,
    }];
    consul.set_acl(Some(Acl {
        tokens: BTreeMap::from([("s3cr3t-token".to_owned(), rules)]),
        anonymous: Vec::new(),
    }));
    let key = ConsulProvider::new(
        &ConsulClient::new([consul.address()]).token("s3cr3t-token"),
        ConsulSource::key("app/config.json", hotconf_core::Format::Json),
    );
    let err = hotconf_core::Reloader::<crate::common::Keys>::builder()
        .layer(key.clone())
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("consul://")
            && text.contains("app/config.json")
            && text.contains("Permission denied"),
        "{text}"
    );
    assert!(
        !text.contains("s3cr3t") && !format!("{err:?}{key:?}").contains("s3cr3t"),
        "{text}"
    );
    let unknown = ConsulClient::new([consul.address()]).token("no-such-token");
    let err = ConsulProvider::new(&unknown, ConsulSource::prefix("app/"))
        .load()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ACL not found"), "{err}");
    assert!(
        err.is_transient(),
        "an operator can fix the policy: the watch goes on"
    );

    // Granted meanwhile: the watch recovers on its own.
    let mut stream = key.watch().await.unwrap();
    assert!(next(&mut stream).await.is_err());
    let rules = vec![AclRule {
        prefix: "app/".into(),
        write: false,
    }];
    consul.set_acl(Some(Acl {
        tokens: BTreeMap::from([("s3cr3t-token".to_owned(), rules)]),
        anonymous: Vec::new(),
    }));
    loop {
        if next(&mut stream).await.is_ok() {
            break;
        }
    }
    let log = consul.request_log();
    assert!(
        log.iter().all(|line| !line.contains("token=")),
        "the token went into a URL: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_the_server_is_a_clear_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let bodies = [
            ("5", "{garbage"),
            ("5", r#"[{"Key":"app/x","Value":"!"}]"#),
            ("nope", "[]"),
        ];
        for (index, body) in bodies {
            let body = format!(
                "HTTP/1.1 200 OK\r\nX-Consul-Index: {index}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            socket.write_all(body.as_bytes()).await.unwrap();
        }
    });
    let provider = ConsulProvider::new(&ConsulClient::new([address]), ConsulSource::prefix("app/"));
    for want in ["not KV entries", "not base64", "not a number"] {
        let err = provider.load().await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(want) && text.contains("consul://") && text.contains("app/"),
            "{text}"
        );
        assert_eq!(err.kind(), ErrorKind::Parse);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_ca_and_a_client_certificate() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::sync::Arc;
    let pki = hotconf_testkit::pki::TestPki::new();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.key_der.clone())),
        )
        .unwrap();
    let consul = ConsulEmulator::start_tls(Arc::new(server)).await;
    consul.put("app/marker", "over-tls");
    let tls = hotconf_consul::TlsFiles {
        ca: Some(pki.ca.clone()),
        identity: Some((pki.client.cert.clone(), pki.client.key.clone())),
    };
    let client = ConsulClient::new([consul.address()]).tls(tls.clone());
    let (reloader, _) =
        crate::common::follow(ConsulProvider::new(&client, ConsulSource::prefix("app/"))).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "over-tls");
    consul.put("app/marker", "changed");
    wait_until(&store, |c| c.marker == "changed").await;
    // Without the client certificate the server refuses the handshake.
    let anonymous = ConsulClient::new([consul.address()]).tls(hotconf_consul::TlsFiles {
        ca: tls.ca,
        identity: None,
    });
    let err = ConsulProvider::new(&anonymous, ConsulSource::prefix("app/"))
        .load()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}
