//! G11 in the reloader: a provider that panics or whose stream keeps ending, a check that
//! hangs, a subscriber that holds on, a hostile environment: each is contained and reported,
//! and reloads go on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use hotconf::provider::{Capabilities, Layer, Metadata, WatchStream};
use hotconf::{EnvProvider, Event, Format, Provider, Reloader, Result, Startup};
use serde_json::json;

use crate::{set_json, two_layers, wait_for_event, wait_until, Cfg};

fn layer(name: &str) -> Layer {
    Layer::document(
        Format::Json,
        json!({"name": name, "db": {"host": "h", "port": 1}})
            .to_string()
            .into_bytes(),
    )
}

/// Panics in its first `watch()`, then in its second stream after one state, then behaves.
struct Panicky {
    watches: Arc<AtomicUsize>,
    ends: bool,
}

#[async_trait]
impl Provider for Panicky {
    fn metadata(&self) -> Metadata {
        Metadata::new("test:panicky", Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        Ok(layer("loaded"))
    }

    async fn watch(&self) -> Result<WatchStream> {
        let call = self.watches.fetch_add(1, Ordering::SeqCst);
        if self.ends {
            // Yields one state, then ends: a broken stream a careless loop restarts at once.
            return Ok(futures_util::stream::iter([Ok(layer("once"))]).boxed());
        }
        match call {
            0 => panic!("bug in watch"),
            1 => Ok(futures_util::stream::iter([Ok(layer("second"))])
                .chain(futures_util::stream::once(async {
                    panic!("bug in the stream")
                }))
                .boxed()),
            _ => Ok(futures_util::stream::iter([Ok(layer("third"))])
                .chain(futures_util::stream::pending())
                .boxed()),
        }
    }
}

#[tokio::test]
async fn a_panicking_provider_is_reported_and_restarted() {
    let builder = Reloader::<Cfg>::builder()
        .layer(Panicky {
            watches: Arc::default(),
            ends: false,
        })
        .startup(Startup::Wait(hotconf_testkit::TIMEOUT));
    let mut events = builder.events();
    let reloader = builder.start().await.unwrap();
    let panicked = |e: &Event| matches!(e, Event::SourceError { error, transient: true, .. } if error.contains("panicked"));
    wait_for_event(&mut events, panicked).await;
    wait_until(&reloader.store(), |c| c.name == "third").await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_keeps_ending_is_restarted_with_a_growing_backoff() {
    let watches = Arc::new(AtomicUsize::new(0));
    let builder = Reloader::<Cfg>::builder()
        .layer(Panicky {
            watches: watches.clone(),
            ends: true,
        })
        .startup(Startup::Wait(hotconf_testkit::TIMEOUT));
    let mut events = builder.events();
    let _reloader = builder.start().await.unwrap();
    // Paused time: the clock moves only when every task waits, so this measures the backoff
    // the loop asked for, not the machine's speed.
    let started = tokio::time::Instant::now();
    for _ in 0..6 {
        wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    }
    // 5 restarts: the first within 0–200 ms, then 200 ms doubling, each at least half its
    // delay: >= 1.5 s. Restarting at the first delay each time would take at most 1 s.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    assert!(watches.load(Ordering::SeqCst) <= 7);
}

#[tokio::test]
async fn an_async_validator_that_hangs_times_out_and_later_changes_apply() {
    let two = two_layers();
    let upper = two.upper.clone();
    let mut events = two.builder.events();
    let reloader = two
        .builder
        .validate_async(|snapshot| async move {
            if snapshot.name == "hang" {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
        .check_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    set_json(&upper, json!({"name": "hang"}));
    let (_, _, error) = crate::next_rejection(&mut events).await;
    assert!(error.contains("did not finish within"), "{error}");
    set_json(&upper, json!({"name": "after"}));
    wait_until(&reloader.store(), |c| c.name == "after").await;
}

#[tokio::test]
async fn an_environment_variable_nested_100_000_deep_is_refused_without_overflow() {
    // A prefix no other test uses: the environment is shared by the whole test process.
    std::env::set_var("HOTCONF_IT_DEEP_NAME", "[".repeat(100_000));
    let err = Reloader::<serde_json::Value>::builder()
        .layer(EnvProvider::prefixed("HOTCONF_IT_DEEP_"))
        .start()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("HOTCONF_IT_DEEP_NAME") && text.contains("nested deeper"),
        "{text}"
    );
}
