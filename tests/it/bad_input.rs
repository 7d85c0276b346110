//! Bad input of every kind gives a Rejected event with a clear message naming the source, and
//! the last good config keeps serving. No panic, no stack overflow.

use hotconf::{Error, Format, MemoryProvider, Reloader};
use serde_json::json;

use crate::{next_rejection, set_json, two_layers, wait_until, Cfg};

fn nested(open: &str, inner: &str, close: &str, depth: usize) -> Vec<u8> {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_documents_are_rejected_and_the_last_good_config_kept() {
    const DEEP: usize = 10_000;
    let big = format!(
        "{{\"name\": \"big\", \"pad\": \"{}\"}}",
        "x".repeat(50 << 20)
    )
    .into_bytes();
    let cases: Vec<(&str, Format, Vec<u8>, &str)> = vec![
        (
            "json syntax",
            Format::Json,
            b"{\"name\": ".to_vec(),
            "invalid JSON",
        ),
        (
            "toml syntax",
            Format::Toml,
            b"name = = 1".to_vec(),
            "invalid TOML",
        ),
        (
            "yaml syntax",
            Format::Yaml,
            b"name: [unclosed".to_vec(),
            "invalid YAML",
        ),
        (
            "properties escape",
            Format::Properties,
            b"name=\\uZZZZ".to_vec(),
            "invalid properties",
        ),
        (
            "yaml scalar root",
            Format::Yaml,
            b"just text".to_vec(),
            "top level",
        ),
        (
            "invalid utf-8",
            Format::Json,
            b"{\"name\": \"\xc3\x28\"}".to_vec(),
            "not valid UTF-8",
        ),
        ("50 MB", Format::Json, big, "above the limit"),
        (
            "deep json",
            Format::Json,
            nested("{\"a\":", "1", "}", DEEP),
            "recursion limit",
        ),
        (
            "deep yaml",
            Format::Yaml,
            nested("[", "1", "]", DEEP),
            "recursion limit",
        ),
        (
            "deep toml",
            Format::Toml,
            [b"a = ".as_slice(), &nested("[", "1", "]", DEEP)].concat(),
            "TOML",
        ),
        (
            "wrong type",
            Format::Json,
            br#"{"name": ["a"]}"#.to_vec(),
            "expected a string, found an array",
        ),
    ];
    let mut two = two_layers();
    let reloader = two.builder.start().await.unwrap();
    let store = reloader.store();
    for (i, (case, format, bytes, expected)) in cases.into_iter().enumerate() {
        two.upper.set_document(format, bytes);
        let (source, _, error) = next_rejection(&mut two.events).await;
        assert_eq!(source.as_deref(), Some("memory:upper"), "{case}: {error}");
        assert!(
            error.contains(expected),
            "{case}: expected `{expected}` in: {error}"
        );
        assert!(
            error.len() < 1000,
            "{case}: the message is not short: {} bytes",
            error.len()
        );
        let good = format!("good-{i}");
        set_json(&two.upper, json!({ "name": good }));
        wait_until(&store, |c| c.name == good).await;
    }
}

#[tokio::test]
async fn a_missing_required_field_names_the_key() {
    let (provider, handle) = MemoryProvider::new("memory:only");
    set_json(
        &handle,
        json!({"name": "a", "db": {"host": "h", "port": 1}}),
    );
    let builder = Reloader::<Cfg>::builder().layer(provider);
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    set_json(&handle, json!({"name": "b", "db": {"host": "h"}}));
    let (source, key, error) = next_rejection(&mut events).await;
    assert_eq!(
        (source.as_deref(), key.as_deref()),
        (Some("memory:only"), Some("db.port"))
    );
    assert!(error.contains("missing field `port`"), "{error}");
    assert_eq!(reloader.store().load().name, "a");
}

#[tokio::test]
async fn panicking_validators_are_rejections() {
    let mut two = two_layers();
    let reloader = two
        .builder
        .validate(|c| {
            assert_ne!(c.name, "sync-panic", "validator bug");
            Ok(())
        })
        .validate_async(|s| async move {
            assert_ne!(s.name, "async-panic", "async validator bug");
            Ok::<(), Error>(())
        })
        .start()
        .await
        .unwrap();
    let store = reloader.store();
    for (name, expected) in [
        ("sync-panic", "a validator panicked"),
        ("async-panic", "an async validator panicked"),
    ] {
        set_json(&two.upper, json!({ "name": name }));
        let (source, _, error) = next_rejection(&mut two.events).await;
        assert!(error.contains(expected) && error.contains("bug"), "{error}");
        assert_eq!(source.as_deref(), Some("memory:upper"), "{error}");
        assert_eq!(store.load().name, "v1");
    }
    set_json(&two.upper, json!({"name": "fine"}));
    wait_until(&store, |c| c.name == "fine").await;
}
