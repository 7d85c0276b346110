//! The Consul provider against the emulator (or a real agent when `HOTCONF_CONSUL_ADDR` is set):
//! the behaviour suite and the KV behaviours every Consul deployment has.

use crate::common::{follow, unique, ConsulFixture, Target};
use hotconf_consul::{ConsulClient, ConsulProvider, ConsulSource};
use hotconf_testkit::wait_until;

/// The behaviour suite on a prefix.
mod prefix_mode {
    use super::ConsulFixture;
    hotconf_testkit::behaviour_tests!(ConsulFixture::new(false); interruptible, permanent_failures, long_poll);
}

/// The behaviour suite on a key holding a document.
mod key_mode {
    use super::ConsulFixture;
    hotconf_testkit::behaviour_tests!(ConsulFixture::new(true); interruptible, permanent_failures, long_poll);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_delete_under_a_prefix_and_delete_the_last_key() {
    let target = Target::start().await;
    let writer = target.writer();
    let prefix = unique("crud");
    writer.put(&format!("{prefix}marker"), "m").await;
    let provider = ConsulProvider::new(
        &ConsulClient::new([target.address.clone()]),
        ConsulSource::prefix(&prefix),
    );
    let (reloader, _) = follow(provider).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "m");
    writer.put(&format!("{prefix}k/a"), "1").await;
    wait_until(&store, |c| c.k.get("a").map(String::as_str) == Some("1")).await;
    writer.put(&format!("{prefix}k/a"), "2").await;
    wait_until(&store, |c| c.k.get("a").map(String::as_str) == Some("2")).await;
    writer.put(&format!("{prefix}k/b"), "3").await;
    wait_until(&store, |c| c.k.len() == 2).await;
    writer.delete(&format!("{prefix}k/a"), false).await;
    wait_until(&store, |c| c.k.len() == 1 && c.k.contains_key("b")).await;
    writer.delete(&format!("{prefix}k/b"), false).await;
    writer.delete(&format!("{prefix}marker"), false).await;
    // The last key gone: a 404 with a higher index, an empty layer.
    wait_until(&store, |c| c.k.is_empty() && c.marker.is_empty()).await;
    writer.put(&format!("{prefix}marker"), "back").await;
    wait_until(&store, |c| c.marker == "back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_with_spaces_percent_and_non_ascii() {
    let target = Target::start().await;
    let kv = target.kv();
    let writer = target.writer();
    let prefix = unique("odd keys");
    let keys = ["k/a b", "k/100%", "k/ключ", "k/a?b#c&d=e+f"];
    for (i, key) in keys.iter().enumerate() {
        let full = format!("{prefix}{key}");
        writer.put(&full, i.to_string()).await;
        assert_eq!(
            kv.get_raw(&full).await.unwrap(),
            Some(i.to_string().into_bytes()),
            "{full}"
        );
        let read = kv.get(&full, None).await.unwrap();
        assert_eq!(read.entries[0].key, full);
    }
    let provider = ConsulProvider::new(
        &ConsulClient::new([target.address.clone()]),
        ConsulSource::prefix(&prefix),
    );
    let (reloader, _) = follow(provider).await;
    let got: Vec<(String, String)> = reloader.store().load().k.clone().into_iter().collect();
    let mut want: Vec<(String, String)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.trim_start_matches("k/").to_owned(), i.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prefix_app_never_matches_application() {
    let target = Target::start().await;
    let writer = target.writer();
    let root = unique("collision");
    writer.put(&format!("{root}app/marker"), "ours").await;
    writer
        .put(&format!("{root}application/marker"), "not ours")
        .await;
    writer
        .put(&format!("{root}application/k/x"), "not ours")
        .await;
    // Given without the slash: normalized to `…/app/`.
    let provider = ConsulProvider::new(
        &ConsulClient::new([target.address.clone()]),
        ConsulSource::prefix(&format!("{root}app")),
    );
    assert!(provider.source().space.path.ends_with("app/"));
    let (reloader, _) = follow(provider).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "ours");
    assert!(store.load().k.is_empty());
    writer
        .put(&format!("{root}application/marker"), "still not")
        .await;
    writer.put(&format!("{root}app/marker"), "ours 2").await;
    wait_until(&store, |c| c.marker == "ours 2").await;
    assert!(store.load().k.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_empty_values() {
    let target = Target::start().await;
    let kv = target.kv();
    let writer = target.writer();
    let prefix = unique("values");
    let binary = vec![0u8, 159, 146, 150, 255];
    writer.put(&format!("{prefix}bin"), binary.clone()).await;
    writer.put(&format!("{prefix}empty"), Vec::new()).await;
    let read = kv.list(&prefix, None).await.unwrap();
    let value = |name: &str| {
        read.entries
            .iter()
            .find(|e| e.key.ends_with(name))
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(value("bin"), binary, "bytes as written, no UTF-8 assumed");
    assert_eq!(value("empty"), Vec::<u8>::new(), "null is empty");

    // In prefix mode values become strings: a binary one is a clear error naming the key, and
    // the last good state stays.
    writer.delete(&format!("{prefix}bin"), false).await;
    writer.put(&format!("{prefix}marker"), "good").await;
    let provider = ConsulProvider::new(
        &ConsulClient::new([target.address.clone()]),
        ConsulSource::prefix(&prefix),
    );
    let (reloader, mut events) = follow(provider).await;
    let store = reloader.store();
    assert_eq!(store.load().marker, "good");
    writer.put(&format!("{prefix}bin"), binary).await;
    let event = hotconf_testkit::wait_for_event(&mut events, |e| {
        matches!(e, hotconf_core::Event::SourceError { .. })
    })
    .await;
    let text = format!("{event:?}");
    assert!(text.contains("bin") && text.contains("UTF-8"), "{text}");
    assert_eq!(store.load().marker, "good");
    writer.put(&format!("{prefix}bin"), "text again").await;
    writer.put(&format!("{prefix}marker"), "fixed").await;
    wait_until(&store, |c| c.marker == "fixed").await;
}
