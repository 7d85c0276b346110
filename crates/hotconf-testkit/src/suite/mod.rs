//! The behaviour suite: what every provider must do, as functions a provider's tests call
//! ([`behaviour_tests!`](crate::behaviour_tests) generates one test per behaviour that applies,
//! [`run_all`] runs them in one go).

mod run;

pub use run::{check_capabilities, run_all, run_all_with, Serial};

use futures_util::StreamExt;
#[cfg(doc)]
use hotconf_core::provider::Capabilities;
use hotconf_core::provider::{Layer, WatchStream};
use hotconf_core::{Error, Event, Format, MemoryProvider, Provider, Reloader, Revision, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::fixture::Fixture;
use crate::wait::{wait_for_event, wait_until, TIMEOUT};

/// The config the suite reads: strings only, so key-space sources need no typing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SuiteConfig {
    /// The section every suite document has.
    pub app: App,
}

/// The `app` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct App {
    /// Changed by each step of the suite.
    pub name: String,
    /// Set by the lower layer; the source under test may override it.
    pub greeting: String,
}

/// The document the suite writes for version `name`.
pub fn doc(name: &str) -> Value {
    json!({"app": {"name": name}})
}

const FALLBACK: &str = "fallback";

/// Starts a reloader over a lower memory layer (`app.name = "fallback"`, a greeting) and the
/// provider under test on top.
async fn start(provider: Box<dyn Provider>) -> (Reloader<SuiteConfig>, broadcast::Receiver<Event>) {
    let (lower, handle) = MemoryProvider::new("memory:suite-defaults");
    handle.set_document(
        Format::Json,
        json!({"app": {"name": FALLBACK, "greeting": "hello"}}).to_string(),
    );
    let builder = Reloader::<SuiteConfig>::builder()
        .layer(lower)
        .layer(provider)
        .validate(|c: &SuiteConfig| match c.app.name.as_str() {
            "" => Err(Error::validation("must not be empty").with_key("app.name")),
            _ => Ok(()),
        });
    let events = builder.events();
    let reloader = builder
        .start()
        .await
        .unwrap_or_else(|e| panic!("the reloader did not start: {e}"));
    (reloader, events)
}

fn name(store: &Store<SuiteConfig>) -> String {
    store.load().app.name.clone()
}

/// The first state is loaded and applied, with the source's revision recorded.
pub async fn initial_load<F: Fixture>(fixture: &F) {
    fixture.write(&doc("v1")).await;
    let provider = fixture.provider().await;
    let source = provider.metadata().name;
    let (reloader, _) = start(provider).await;
    let snapshot = reloader.store().get();
    assert_eq!(snapshot.app.name, "v1");
    assert_eq!(
        snapshot.app.greeting, "hello",
        "the lower layer shows through"
    );
    assert!(
        snapshot.revisions().iter().any(|(s, _)| *s == source),
        "{:?}",
        snapshot.revisions()
    );
    assert_eq!(snapshot.version(), 1);
}

/// A change in the source is applied, once.
pub async fn update_seen<F: Fixture>(fixture: &F) {
    fixture.write(&doc("v1")).await;
    let (reloader, mut events) = start(fixture.provider().await).await;
    let store = reloader.store();
    fixture.write(&doc("v2")).await;
    wait_until(&store, |c| c.app.name == "v2").await;
    assert_eq!(store.version(), 2, "exactly one apply for one change");
    let applied = drain(&mut events)
        .iter()
        .filter(|e| matches!(e, Event::Applied { .. }))
        .count();
    assert_eq!(applied, 2, "one apply at start, one for the change");
}

/// Deleting the source's content makes the lower layer's values show through (G5); writing again
/// brings them back.
pub async fn delete_falls_back<F: Fixture>(fixture: &F) {
    fixture
        .write(&json!({"app": {"name": "v1", "greeting": "from source"}}))
        .await;
    let (reloader, _) = start(fixture.provider().await).await;
    let store = reloader.store();
    assert_eq!(store.load().app.greeting, "from source");
    fixture.delete().await;
    wait_until(&store, |c| {
        c.app.name == FALLBACK && c.app.greeting == "hello"
    })
    .await;
    fixture.write(&doc("v3")).await;
    wait_until(&store, |c| c.app.name == "v3").await;
}

/// A burst of writes ends with the final state applied, with no more applies than writes (G6).
pub async fn burst_coalesced<F: Fixture>(fixture: &F) {
    const WRITES: usize = 50;
    fixture.write(&doc("start")).await;
    let (reloader, mut events) = start(fixture.provider().await).await;
    let store = reloader.store();
    for i in 0..WRITES {
        fixture.write(&doc(&format!("burst-{i}"))).await;
    }
    let last = format!("burst-{}", WRITES - 1);
    wait_until(&store, |c| c.app.name == last).await;
    let applied = drain(&mut events)
        .iter()
        .filter(|e| matches!(e, Event::Applied { .. }))
        .count();
    assert!(
        applied <= WRITES + 1,
        "{applied} applies for {WRITES} writes"
    );
}

/// Invalid content is rejected with an event naming the source; the last good config keeps
/// serving; the next valid write applies (G2).
pub async fn invalid_rejected<F: Fixture>(fixture: &F) {
    fixture.write(&doc("good")).await;
    let provider = fixture.provider().await;
    let source = provider.metadata().name;
    let (reloader, mut events) = start(provider).await;
    let store = reloader.store();
    fixture.write_invalid().await;
    let rejected = wait_for_event(&mut events, |e| matches!(e, Event::Rejected { .. })).await;
    let Event::Rejected {
        source: Some(blamed),
        ..
    } = &rejected
    else {
        panic!("the rejection names no source: {rejected:?}")
    };
    assert_eq!(*blamed, source, "{rejected:?}");
    assert_eq!(name(&store), "good");
    assert_eq!(store.version(), 1);
    fixture.write(&doc("fixed")).await;
    wait_until(&store, |c| c.app.name == "fixed").await;
}

/// After the provider loses its source and gets it back, changes made meanwhile are applied (G4).
/// Run for providers that can be cut off ([`Capabilities::interruptible`]).
pub async fn reconnect_resume<F: Fixture>(fixture: &F) {
    fixture.write(&doc("before")).await;
    let (reloader, mut events) = start(fixture.provider().await).await;
    let store = reloader.store();
    interrupt(fixture).await;
    wait_for_event(&mut events, |e| matches!(e, Event::SourceError { .. })).await;
    fixture.write(&doc("during")).await;
    fixture.restore().await;
    wait_until(&store, |c| c.app.name == "during").await;
    fixture.write(&doc("after")).await;
    wait_until(&store, |c| c.app.name == "after").await;
}

/// The provider's own stream: ordered revisions only grow, and no state repeats twice in a row
/// (G3 at the source).
pub async fn revision_never_goes_backwards<F: Fixture>(fixture: &F) {
    fixture.write(&doc("r0")).await;
    let provider = fixture.provider().await;
    let ordered = provider.metadata().capabilities.ordered_revisions;
    let mut stream = provider
        .watch()
        .await
        .unwrap_or_else(|e| panic!("watch failed: {e}"));
    let mut last = next_item(&mut stream).await;
    for i in 1..=5 {
        fixture.write(&doc(&format!("r{i}"))).await;
        let layer = next_item(&mut stream).await;
        assert_ne!(
            layer.content, last.content,
            "the same content twice in a row"
        );
        if ordered {
            let (before, after): (&Revision, &Revision) = (&last.revision, &layer.revision);
            assert!(
                before.is_older_than(after),
                "revision {before} then {after}"
            );
        }
        last = layer;
    }
}

/// While the source is cut off, the provider's stream reports the failure with errors that name
/// the source, never the same error twice in a row (it retries quietly), and goes on: the
/// change made meanwhile arrives after the source is back. Run for providers that can be cut
/// off ([`Capabilities::interruptible`]).
pub async fn errors_named_and_not_repeated<F: Fixture>(fixture: &F) {
    fixture.write(&doc("before")).await;
    let provider = fixture.provider().await;
    let source = provider.metadata().name;
    let mut stream = provider
        .watch()
        .await
        .unwrap_or_else(|e| panic!("watch failed: {e}"));
    let before = next_item(&mut stream).await;
    interrupt(fixture).await;
    let mut last = match next_raw(&mut stream).await {
        Err(error) => checked_error(error, &source),
        Ok(layer) => panic!("a state while cut off: {layer:?}"),
    };
    // Retries go on behind the stream; the same error must not come again. A different one
    // may (a refused connection after a cut one): up to a few, then the stream is quiet.
    for _ in 0..8 {
        match tokio::time::timeout(QUIET, stream.next()).await {
            Err(_) => break,
            Ok(Some(Err(error))) => {
                let error = checked_error(error, &source);
                assert_ne!(error, last, "the same error twice in a row");
                last = error;
            }
            Ok(Some(Ok(layer))) => panic!("a state while cut off: {layer:?}"),
            Ok(None) => panic!("the stream ended after a transient error ({last})"),
        }
    }
    fixture.write(&doc("during")).await;
    fixture.restore().await;
    let mut after_error = true;
    loop {
        match next_raw(&mut stream).await {
            Ok(layer) if layer.content == before.content => {
                assert!(after_error, "the same state twice in a row");
                after_error = false;
            }
            Ok(_) => break, // "during"
            Err(error) => {
                let error = checked_error(error, &source);
                assert_ne!(error, last, "the same error twice in a row");
                last = error;
                after_error = true;
            }
        }
    }
}

/// A provider that fails for good reports one permanent error naming its source, and its stream
/// ends (or `watch` itself fails with it). Run for providers with permanent failures
/// ([`Capabilities::permanent_failures`]).
pub async fn permanent_error_ends_the_stream<F: Fixture>(fixture: &F) {
    let Some(provider) = fixture.refused().await else {
        panic!(
            "the provider has permanent failures (Capabilities::permanent_failures), but the \
             fixture makes no refused provider"
        );
    };
    let source = provider.metadata().name;
    let mut stream = match provider.watch().await {
        Ok(stream) => stream,
        Err(error) => {
            assert!(!error.is_transient(), "watch failed transiently: {error}");
            return;
        }
    };
    let mut last = None;
    loop {
        match tokio::time::timeout(TIMEOUT, stream.next()).await {
            Err(_) => panic!("the stream did not end within {TIMEOUT:?} (last item: {last:?})"),
            Ok(None) => break,
            Ok(Some(Ok(layer))) => panic!("a refused provider yielded a state: {layer:?}"),
            Ok(Some(Err(error))) => {
                let permanent = !error.is_transient();
                last = Some(checked_error(error, &source));
                if permanent {
                    assert!(
                        stream.next().await.is_none(),
                        "the stream went on after a permanent error"
                    );
                    return;
                }
            }
        }
    }
    panic!("the stream ended without a permanent error (last item: {last:?})");
}

/// How long [`no_busy_loop`] counts long polls.
pub const BUSY_WINDOW: std::time::Duration = std::time::Duration::from_secs(3);
/// The most long polls [`no_busy_loop`] accepts within [`BUSY_WINDOW`]: a paced loop sends a
/// handful (its burst, then about one a second); a busy loop sends hundreds a second.
pub const BUSY_MAX_POLLS: u64 = 10;

/// A server that answers every long poll at once (a proxy that does not hold requests, a
/// misbehaving server) does not turn the provider's long poll into a busy loop: within
/// [`BUSY_WINDOW`] it sends at most [`BUSY_MAX_POLLS`] polls (the count fails the test as soon
/// as it passes the bound), and at least one (it still follows); once the server holds polls
/// again, a change is applied. A count, not a timing. Run for providers that long-poll
/// ([`Capabilities::long_poll`]).
pub async fn no_busy_loop<F: Fixture>(fixture: &F) {
    fixture.write(&doc("v1")).await;
    let Some(mut polls) = fixture.answer_at_once(true).await else {
        panic!(
            "the provider long-polls (Capabilities::long_poll), but the fixture's server cannot \
             answer long polls at once"
        );
    };
    let (reloader, _) = start(fixture.provider().await).await;
    let store = reloader.store();
    assert_eq!(name(&store), "v1");
    let before = *polls.borrow_and_update();
    let started = tokio::time::Instant::now();
    let deadline = started + BUSY_WINDOW;
    let count = loop {
        let count = *polls.borrow_and_update() - before;
        assert!(
            count <= BUSY_MAX_POLLS,
            "{count} long polls in {:?} against a server that answers at once: a busy loop",
            started.elapsed()
        );
        match tokio::time::timeout_at(deadline, polls.changed()).await {
            Err(_) => break *polls.borrow() - before,
            Ok(Err(_)) => panic!("the server's count of long polls went away"),
            Ok(Ok(())) => {}
        }
    };
    assert!(
        count <= BUSY_MAX_POLLS,
        "{count} long polls in {BUSY_WINDOW:?} against a server that answers at once"
    );
    assert!(
        count >= 1,
        "no long poll in {BUSY_WINDOW:?}: the provider stopped following"
    );
    say(&format!(
        "no_busy_loop: {count} long polls in {BUSY_WINDOW:?} against a server that answers at once"
    ));
    fixture.answer_at_once(false).await;
    fixture.write(&doc("v2")).await;
    wait_until(&store, |c| c.app.name == "v2").await;
}

/// How long a stream must stay quiet to count as not repeating itself.
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// Cuts the fixture's source off; a provider that can be cut off needs a fixture that can.
async fn interrupt<F: Fixture>(fixture: &F) {
    assert!(
        fixture.interrupt().await,
        "the provider can be cut off (Capabilities::interruptible), but the fixture cannot \
         interrupt its source"
    );
}

/// Writes a line on the process's stderr, past the test harness's capture (so it shows in
/// every run, not only in failed ones).
pub(crate) fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Checks that a stream's error names `source`; returns it as printed.
fn checked_error(error: Error, source: &str) -> String {
    assert_eq!(
        error.source_name(),
        Some(source),
        "the error does not name its source: {error}"
    );
    error.to_string()
}

/// The next item of a watch stream (a state or an error), within the suite's timeout.
async fn next_raw(stream: &mut WatchStream) -> Result<Layer, Error> {
    match tokio::time::timeout(TIMEOUT, stream.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no item within {TIMEOUT:?}"),
    }
}

fn drain(events: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

/// The next good state from a watch stream, within the suite's timeout.
async fn next_item(stream: &mut WatchStream) -> Layer {
    match tokio::time::timeout(TIMEOUT, stream.next()).await {
        Ok(Some(Ok(layer))) => layer,
        Ok(Some(Err(e))) => panic!("the watch yielded an error: {e}"),
        Ok(None) => panic!("the watch ended"),
        Err(_) => panic!("no state within {TIMEOUT:?}"),
    }
}
