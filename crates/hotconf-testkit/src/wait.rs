//! Waiting on events with a timeout: never sleep-and-hope.

use std::time::Duration;

use hotconf_core::{Event, Store};
use tokio::sync::broadcast;

/// How long the suite waits for anything before failing.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Waits until `predicate` holds for the store's config, failing after [`TIMEOUT`].
pub async fn wait_until<T, P>(store: &Store<T>, predicate: P)
where
    T: std::fmt::Debug + Send + Sync + 'static,
    P: Fn(&T) -> bool,
{
    let mut changes = store.subscribe();
    let wait = async {
        loop {
            if predicate(changes.borrow_and_update().config()) {
                return;
            }
            if changes.changed().await.is_err() {
                panic!("the store was dropped");
            }
        }
    };
    if tokio::time::timeout(TIMEOUT, wait).await.is_err() {
        panic!(
            "condition not met within {TIMEOUT:?}; the store holds {:?}",
            store.load()
        );
    }
}

/// Waits for the first event matching `predicate`, failing after [`TIMEOUT`].
pub async fn wait_for_event<P>(events: &mut broadcast::Receiver<Event>, predicate: P) -> Event
where
    P: Fn(&Event) -> bool,
{
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if predicate(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the event channel closed"),
            }
        }
    };
    tokio::time::timeout(TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("no matching event within {TIMEOUT:?}"))
}

/// Waits up to `deadline` for `condition`, asking it every 50 ms: for what has no event to
/// await (a server's audit log, a process's output file). Fails naming `what`.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> F,
) {
    let wait = async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(deadline, wait)
        .await
        .unwrap_or_else(|_| panic!("not within {deadline:?}: {what}"));
}
