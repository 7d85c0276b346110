//! The shared long poll of one client: one `/notifications/v2` request carrying the last
//! notification id of every namespace its providers follow, as Apollo's own clients do. A
//! namespace whose id changes (in either direction: a restored server may hand out lower ids)
//! wakes its followers, which read it; a failed poll wakes them too, so that they report the
//! failure themselves (and keep their last good state). Polls are paced ([`Pacer`]): a server
//! that answers at once with nothing new (a 304, or ids that are not higher) gets about one
//! poll a second, never a busy loop; a poll the server held is never delayed, and a poll that
//! brought a new release gives its turn back, so changes are never paced. After a notification
//! the next poll waits for the reads it asked for (briefly: [`READS_FIRST`] at most), so that
//! it never reaches the server ahead of them.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hotconf_core::provider::Backoff;
use hotconf_core::Pacer;
use tokio::sync::{watch, Notify};

use crate::client::ApolloClient;
use crate::wire::Notification;

/// How long the next long poll waits at most for the reads a notification asked for (a
/// follower that does not read soon, its reloader busy, does not hold the poll up longer).
const READS_FIRST: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
pub(crate) struct Poller {
    state: Mutex<PollState>,
    /// The set of followed namespaces changed: the poll in flight starts over with it.
    restart: Notify,
    /// A follower woken by a notification finished its read.
    read: Notify,
}

#[derive(Debug, Default)]
struct PollState {
    namespaces: BTreeMap<String, Watched>,
    running: bool,
    /// The last poll failed.
    failing: bool,
}

#[derive(Debug)]
struct Watched {
    /// The last notification id seen (-1 before the first).
    id: i64,
    /// The `messages` of the last notification, for the read that follows it.
    messages: Option<serde_json::Value>,
    followers: usize,
    /// Reads the last notification asked for that have not been answered yet.
    awaiting: usize,
    /// Bumped when the namespace may have changed.
    changed: watch::Sender<u64>,
}

/// A follower's registration: wakes when its namespace may have changed; leaves the poll when
/// dropped.
pub(crate) struct Subscription {
    client: ApolloClient,
    namespace: String,
    changed: watch::Receiver<u64>,
}

impl Subscription {
    /// Returns when the namespace may have changed since the last call (or since the
    /// subscription, for the first): a new notification, or the shared poll failed. After a
    /// failure it first waits a jittered delay (0–2 s): every follower of the process is woken
    /// in the same instant, and a fleet cut off together must not read again together.
    pub(crate) async fn changed(&mut self) {
        if self.changed.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if self.client.poller().lock().failing {
            tokio::time::sleep(Backoff::TRANSPORT.delay(0)).await;
        }
    }

    /// Says that a read of the namespace was answered (or failed): the next long poll waits
    /// for the reads a notification asked for ([`Poller::reads_first`]).
    pub(crate) fn read_done(&self) {
        let poller = self.client.poller();
        let mut state = poller.lock();
        if let Some(watched) = state.namespaces.get_mut(&self.namespace) {
            if watched.awaiting > 0 {
                watched.awaiting -= 1;
                if watched.awaiting == 0 {
                    drop(state);
                    poller.read.notify_one();
                }
            }
        }
    }

    /// The `messages` of the namespace's last notification.
    pub(crate) fn messages(&self) -> Option<serde_json::Value> {
        let state = self.client.poller().lock();
        state
            .namespaces
            .get(&self.namespace)
            .and_then(|w| w.messages.clone())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let poller = self.client.poller();
        let mut state = poller.lock();
        if let Some(watched) = state.namespaces.get_mut(&self.namespace) {
            watched.followers -= 1;
            // A read it was awaited for will not come.
            watched.awaiting = watched.awaiting.min(watched.followers);
            if watched.followers == 0 {
                state.namespaces.remove(&self.namespace);
                drop(state);
                poller.read.notify_one();
                poller.restart.notify_one();
            }
        }
    }
}

impl Poller {
    fn lock(&self) -> MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows `namespace` in `client`'s shared poll (started if it is not running). Subscribe
    /// before the first read: a change after it is then never missed.
    pub(crate) fn subscribe(client: &ApolloClient, namespace: &str) -> Subscription {
        let poller = client.poller();
        let mut state = poller.lock();
        let mut added = false;
        let watched = state
            .namespaces
            .entry(namespace.to_owned())
            .or_insert_with(|| {
                added = true;
                Watched {
                    id: -1,
                    messages: None,
                    followers: 0,
                    awaiting: 0,
                    changed: watch::Sender::new(0),
                }
            });
        watched.followers += 1;
        let changed = watched.changed.subscribe();
        if !state.running {
            state.running = true;
            tokio::spawn(run(client.clone()));
        } else if added {
            poller.restart.notify_one();
        }
        Subscription {
            client: client.clone(),
            namespace: namespace.to_owned(),
            changed,
        }
    }

    /// Waits, after a notification woke followers, until their reads were answered (at most
    /// [`READS_FIRST`]), so that the next long poll, sent by the poll task right after, does
    /// not reach the server ahead of the reads: they are what a release waits for. Nothing is
    /// missed meanwhile: the next poll carries the new notification ids, and a release made
    /// in between answers it at once.
    async fn reads_first(&self) {
        let cap = tokio::time::sleep(READS_FIRST);
        tokio::pin!(cap);
        while self.lock().namespaces.values().any(|w| w.awaiting > 0) {
            tokio::select! {
                () = self.read.notified() => {}
                () = &mut cap => return,
            }
        }
    }

    /// Wakes every follower.
    fn wake_all(&self) {
        for watched in self.lock().namespaces.values() {
            watched.changed.send_modify(|g| *g += 1);
        }
    }
}

/// The poll loop: ends when no namespace is followed any more.
async fn run(client: ApolloClient) {
    let poller = client.poller();
    let mut failures: u32 = 0;
    let mut pacer = Pacer::new(client.config().poll_pace);
    loop {
        pacer.ready().await;
        let sent: Vec<Notification> = {
            let mut state = poller.lock();
            if state.namespaces.is_empty() {
                state.running = false;
                return;
            }
            state
                .namespaces
                .iter()
                .map(|(namespace, w)| Notification::new(namespace.clone(), w.id))
                .collect()
        };
        let answer = tokio::select! {
            answer = client.poll(&sent) => answer,
            () = poller.restart.notified() => {
                // Abandoned by us, not answered: its turn is given back.
                pacer.refund();
                continue;
            }
        };
        match answer {
            Ok(answer) => {
                if failures > 0 {
                    // Back after failures: followers read again (their errors end).
                    poller.lock().failing = false;
                    poller.wake_all();
                }
                failures = 0;
                let Some(list) = answer else { continue };
                if wake_changed(poller, list, &mut pacer) {
                    poller.reads_first().await;
                }
            }
            Err(error) => {
                if error.is_transient() {
                    tracing::debug!(error = %error, "apollo: the long poll failed; retrying with backoff");
                } else {
                    tracing::warn!(error = %error, "apollo: the long poll cannot run");
                }
                if failures == 0 {
                    // The followers read, and report the failure themselves.
                    poller.lock().failing = true;
                    poller.wake_all();
                }
                let backoff = if error.is_answer() {
                    Backoff::ANSWERED
                } else {
                    Backoff::TRANSPORT
                };
                let delay = backoff.delay(failures);
                failures = failures.saturating_add(1);
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = poller.restart.notified() => {}
                }
            }
        }
    }
}

/// Takes in a poll's answer: each followed namespace whose notification id changed gets its
/// new id and `messages`, and its followers are woken. Whether any were.
fn wake_changed(poller: &Poller, list: Vec<Notification>, pacer: &mut Pacer) -> bool {
    let state = &mut *poller.lock();
    let mut woke = false;
    for notification in list {
        let Some(watched) = state.namespaces.get_mut(&notification.namespace_name) else {
            continue;
        };
        if notification.notification_id > watched.id {
            // A new release: changes are never paced (an id that only flips, as between two
            // servers out of step, is).
            pacer.refund();
        }
        if watched.id != notification.notification_id {
            watched.id = notification.notification_id;
            watched.messages = notification.messages;
            watched.awaiting = watched.followers;
            watched.changed.send_modify(|g| *g += 1);
            woke = true;
        }
    }
    woke
}
