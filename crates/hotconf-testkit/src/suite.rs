//! The behaviour suite: what every provider must do, as functions a provider's tests call.

use futures_util::StreamExt;
use hotconf_core::{
    Error, Event, Format, Layer, MemoryProvider, Provider, Reloader, Revision, Store, WatchStream,
};
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
    let events = builder.subscribe_events();
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
/// Does nothing for fixtures that cannot interrupt.
pub async fn reconnect_resume<F: Fixture>(fixture: &F) {
    fixture.write(&doc("before")).await;
    let (reloader, mut events) = start(fixture.provider().await).await;
    let store = reloader.store();
    if !fixture.interrupt().await {
        return;
    }
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

/// Runs every behaviour, each on a fresh fixture from `make`.
pub async fn run_all<F: Fixture, M>(make: M)
where
    M: Fn() -> F,
{
    run_all_with(|| std::future::ready(make())).await;
}

/// Runs every behaviour, each on a fresh fixture from the async `make` (e.g. one that starts a
/// server).
pub async fn run_all_with<F: Fixture, M, Fut>(make: M)
where
    M: Fn() -> Fut,
    Fut: std::future::Future<Output = F>,
{
    initial_load(&make().await).await;
    update_seen(&make().await).await;
    delete_falls_back(&make().await).await;
    burst_coalesced(&make().await).await;
    invalid_rejected(&make().await).await;
    reconnect_resume(&make().await).await;
    revision_never_goes_backwards(&make().await).await;
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
