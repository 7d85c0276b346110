//! An Apollo config service (and meta server) emulator written from Apollo's "other language
//! client" HTTP API (/work/shared/reference/backends.md §3b), on a free loopback port. Apollo
//! itself (Java, MySQL) is not installed here; this is what the Apollo backend is tested against.
//!
//! Tests drive it through a handle: publish and delete releases, publish and roll back gray
//! releases, turn access keys on, and switch faults on (500s, dropped connections, slow
//! answers, restarts that keep or reset the notification ids, releases whose notification is
//! lost). Counters and a log of the long polls let tests assert how a client polls.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::apollo::ApolloEmulator;
//! let apollo = ApolloEmulator::start().await;
//! apollo.publish("app", "default", "application", [("db.host", "h1")]);
//! assert_eq!(apollo.notification_id("app", "default", "application"), 1);
//! # }
//! ```

mod http;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

pub use http::sign;
use state::{key, State};
pub use state::{GrayRule, Release};

/// How long the server holds a long poll with nothing to report (Apollo's 60 s).
pub const DEFAULT_HOLD: Duration = Duration::from_secs(60);

/// A fault every request (reads, long polls, meta-server listings) answers with while it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 Internal Server Error.
    ServerError,
    /// The connection is closed without an answer (held polls too).
    Drop,
}

/// What to do with the notification ids on a [`ApolloEmulator::restart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    /// Keep them (the database survived the restart).
    Same,
    /// Renumber them from 1 (a restored or fresh database): clients may hold higher ids.
    Reset,
}

/// What the emulator counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `GET /configs/…` requests received.
    pub reads: u64,
    /// `GET /notifications/v2` requests received.
    pub polls: u64,
    /// Long polls held right now.
    pub held: u64,
    /// Long polls answered 304 because their hold time passed.
    pub timeouts: u64,
    /// `GET /services/config` requests received.
    pub listings: u64,
    /// Requests refused with 401.
    pub unauthorized: u64,
}

/// One long poll as received: the app, cluster and the `(namespace, notificationId)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poll {
    /// `appId`.
    pub app: String,
    /// `cluster`.
    pub cluster: String,
    /// The notifications the client sent, in its order.
    pub notifications: Vec<(String, i64)>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Modes {
    pub(crate) fault: Option<Fault>,
    pub(crate) slow: Option<Duration>,
    pub(crate) hold: Option<Duration>,
    /// Long polls with nothing to report are answered 304 at once instead of held.
    pub(crate) at_once: bool,
    pub(crate) down: bool,
    /// appId → its access-key secret.
    pub(crate) secrets: BTreeMap<String, String>,
    /// What `/services/config` lists (`None`: this emulator itself).
    pub(crate) services: Option<Vec<String>>,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) modes: Mutex<Modes>,
    /// Bumped on every release message and fault switch: held polls re-check.
    pub(crate) wake: watch::Sender<u64>,
    pub(crate) counters: watch::Sender<Counters>,
    /// Long polls received (as `Counters::polls`), for [`ApolloEmulator::long_polls`].
    pub(crate) long_polls: watch::Sender<u64>,
    pub(crate) polls: Mutex<Vec<Poll>>,
    pub(crate) log: Mutex<Vec<String>>,
    /// Bumped on a restart (and when the emulator is dropped): open connections close.
    pub(crate) generation: watch::Sender<u64>,
    pub(crate) addr: SocketAddr,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
    pub(crate) fn modes(&self) -> MutexGuard<'_, Modes> {
        lock(&self.modes)
    }
    pub(crate) fn wake(&self) {
        self.wake.send_modify(|g| *g += 1);
    }
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        self.counters.send_modify(f);
    }
}

/// A running emulator; dropping it stops it.
pub struct ApolloEmulator {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

fn pairs<K: Into<String>, V: Into<String>>(
    configurations: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    configurations
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

impl ApolloEmulator {
    /// Serves plain HTTP on a free loopback port. Call inside a tokio runtime.
    pub async fn start() -> ApolloEmulator {
        ApolloEmulator::start_on(0).await
    }

    /// Serves plain HTTP on `127.0.0.1:port` (e.g. the port of one that was dropped; 0: any free
    /// port).
    pub async fn start_on(port: u16) -> ApolloEmulator {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            modes: Mutex::new(Modes::default()),
            wake: watch::Sender::new(0),
            counters: watch::Sender::new(Counters::default()),
            long_polls: watch::Sender::new(0),
            polls: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            generation: watch::Sender::new(0),
            addr,
        });
        let task = tokio::spawn(http::accept_loop(listener, shared.clone()));
        ApolloEmulator { shared, task }
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        self.shared.addr.to_string()
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    // ===== releases =====

    /// Publishes a release of `namespace` (properties: the pairs as they are; a namespace with
    /// a suffix: one pair, `content`). A new notification id, held polls wake. Returns the
    /// release key.
    pub fn publish<K: Into<String>, V: Into<String>>(
        &self,
        app: &str,
        cluster: &str,
        namespace: &str,
        configurations: impl IntoIterator<Item = (K, V)>,
    ) -> String {
        self.release(app, cluster, namespace, pairs(configurations), true)
    }

    /// Publishes `content` as the document of a namespace with a suffix (`app.yaml`).
    pub fn publish_content(
        &self,
        app: &str,
        cluster: &str,
        namespace: &str,
        content: &str,
    ) -> String {
        self.publish(app, cluster, namespace, [("content", content)])
    }

    /// Publishes a release whose notification is lost: the content changes, the notification
    /// id does not, and no held poll wakes. Only a client's periodic full read sees it.
    pub fn publish_silently<K: Into<String>, V: Into<String>>(
        &self,
        app: &str,
        cluster: &str,
        namespace: &str,
        configurations: impl IntoIterator<Item = (K, V)>,
    ) -> String {
        self.release(app, cluster, namespace, pairs(configurations), false)
    }

    fn release(
        &self,
        app: &str,
        cluster: &str,
        namespace: &str,
        configurations: BTreeMap<String, String>,
        notify: bool,
    ) -> String {
        let key = key(app, cluster, namespace);
        let release_key = {
            let mut state = self.shared.state();
            let release = state.new_release(configurations);
            let release_key = release.release_key.clone();
            state.namespaces.entry(key.clone()).or_default().release = Some(release);
            if notify {
                state.notify(&key);
            }
            release_key
        };
        if notify {
            self.shared.wake();
        }
        release_key
    }

    /// Deletes `namespace` (its releases and gray release): reads answer 404. A new
    /// notification id, held polls wake.
    pub fn delete(&self, app: &str, cluster: &str, namespace: &str) {
        let key = key(app, cluster, namespace);
        {
            let mut state = self.shared.state();
            state.namespaces.remove(&key);
            state.notify(&key);
        }
        self.shared.wake();
    }

    /// Publishes a gray release of `namespace` for the clients `rule` matches (the main
    /// release must exist for it to be served). A new notification id.
    pub fn publish_gray<K: Into<String>, V: Into<String>>(
        &self,
        app: &str,
        cluster: &str,
        namespace: &str,
        rule: GrayRule,
        configurations: impl IntoIterator<Item = (K, V)>,
    ) -> String {
        let key = key(app, cluster, namespace);
        let release_key = {
            let mut state = self.shared.state();
            let release = state.new_release(pairs(configurations));
            let release_key = release.release_key.clone();
            state.namespaces.entry(key.clone()).or_default().gray = Some((rule, release));
            state.notify(&key);
            release_key
        };
        self.shared.wake();
        release_key
    }

    /// Abandons (rolls back) the gray release of `namespace`: every client gets the main
    /// release again. A new notification id.
    pub fn rollback_gray(&self, app: &str, cluster: &str, namespace: &str) {
        let key = key(app, cluster, namespace);
        {
            let mut state = self.shared.state();
            if let Some(ns) = state.namespaces.get_mut(&key) {
                ns.gray = None;
            }
            state.notify(&key);
        }
        self.shared.wake();
    }

    /// The main release of `namespace`, if any.
    pub fn release_of(&self, app: &str, cluster: &str, namespace: &str) -> Option<Release> {
        let state = self.shared.state();
        state
            .namespaces
            .get(&key(app, cluster, namespace))
            .and_then(|ns| ns.release.clone())
    }

    /// The notification id of `namespace` in `cluster` alone (-1 when it never had a release
    /// message).
    pub fn notification_id(&self, app: &str, cluster: &str, namespace: &str) -> i64 {
        let state = self.shared.state();
        state
            .ids
            .get(&key(app, cluster, namespace))
            .copied()
            .unwrap_or(-1)
    }

    // ===== access keys, meta server =====

    /// Requires requests for `app` to be signed with `secret` (`None`: no access key).
    pub fn set_secret(&self, app: &str, secret: Option<&str>) {
        let mut modes = self.shared.modes();
        match secret {
            Some(secret) => modes.secrets.insert(app.to_owned(), secret.to_owned()),
            None => modes.secrets.remove(app),
        };
    }

    /// What `GET /services/config` lists: config services' `host:port` (default: this one).
    pub fn set_config_services(&self, services: Option<Vec<String>>) {
        self.shared.modes().services = services;
    }

    // ===== faults =====

    /// Answers every request with `fault` until cleared; held polls wake up to it.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.modes().fault = fault;
        self.shared.wake();
    }

    /// Delays every answer by `delay` (e.g. near a client's timeout).
    pub fn set_slow(&self, delay: Option<Duration>) {
        self.shared.modes().slow = delay;
    }

    /// Holds long polls up to `hold` instead of [`DEFAULT_HOLD`].
    pub fn set_hold(&self, hold: Duration) {
        self.shared.modes().hold = Some(hold);
    }

    /// Answers long polls with nothing to report at once, with a 304, instead of holding them
    /// (`true`: as a proxy that does not hold requests would; held polls answer now), or holds
    /// them again (`false`). Polls with something to report answer at once either way.
    pub fn set_answer_at_once(&self, on: bool) {
        self.shared.modes().at_once = on;
        self.shared.wake();
    }

    /// Takes the server down (`true`: every open connection closes, new ones are closed at
    /// once) or brings it back, with its state.
    pub fn set_down(&self, down: bool) {
        self.shared.modes().down = down;
        if down {
            self.shared.generation.send_modify(|g| *g += 1);
        }
    }

    /// Restarts the server: every open connection (held polls too) closes; the releases stay;
    /// the notification ids stay or are renumbered from 1 as `ids` says.
    pub fn restart(&self, ids: Ids) {
        if ids == Ids::Reset {
            self.shared.state().reset_ids();
        }
        self.shared.generation.send_modify(|g| *g += 1);
        self.shared.wake();
    }

    // ===== observation =====

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        *self.shared.counters.borrow()
    }

    /// Waits until `predicate` holds for the counters, failing after [`crate::TIMEOUT`].
    pub async fn wait_for(&self, predicate: impl Fn(&Counters) -> bool) -> Counters {
        let mut rx = self.shared.counters.subscribe();
        let reached = tokio::time::timeout(crate::TIMEOUT, async {
            rx.wait_for(|c| predicate(c)).await.map(|c| *c)
        })
        .await;
        match reached {
            Ok(Ok(counters)) => counters,
            _ => panic!(
                "the emulator's counters did not reach the condition within {:?}: {:?}",
                crate::TIMEOUT,
                self.counters()
            ),
        }
    }

    /// The number of long polls received so far, as a channel that follows it.
    pub fn long_polls(&self) -> watch::Receiver<u64> {
        self.shared.long_polls.subscribe()
    }

    /// Every long poll received so far, in order.
    pub fn polls(&self) -> Vec<Poll> {
        lock(&self.shared.polls).clone()
    }

    /// Every request line so far (`GET /configs/app/default/application?ip=…`).
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for ApolloEmulator {
    fn drop(&mut self) {
        self.shared.generation.send_modify(|g| *g += 1);
        self.task.abort();
    }
}
