//! A Consul KV emulator that follows the server's documented and source-verified rules
//! (docs/protocols.md#consul-the-emulators-rules), on a free loopback port, over HTTP or TLS. Consul itself
//! cannot be installed here; this is what the Consul backend is tested against.
//!
//! Tests drive it through a handle: write and delete directly, take and restore snapshots, reap
//! tombstones, and switch faults on (index 0, 500/429, dropped connections, spurious wake-ups,
//! legacy index bumps, slow answers). Counters (reads, parked polls, timeouts) let tests assert
//! that a client does not busy-loop, by counting requests instead of timing them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::consul::ConsulEmulator;
//! let consul = ConsulEmulator::start().await;
//! consul.put("app/db/port", "5432");
//! assert_eq!(consul.entry("app/db/port").unwrap().value.as_deref(), Some(&b"5432"[..]));
//! # }
//! ```

mod duration;
mod http;
mod read;
mod state;
mod writer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use state::State;
pub use state::{Entry, Snapshot};
pub use writer::ConsulWriter;

/// A fault every KV read answers with while it is set (parked reads wake up and answer with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 "No cluster leader".
    NoLeader,
    /// 429 "Too Many Requests".
    RateLimited,
    /// The connection is closed without an answer (mid-poll for parked reads).
    Drop,
}

/// ACL rules: which tokens exist and which key prefixes each may read or write.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    /// Token secret → its rules. A token not listed gets 403 "ACL not found".
    pub tokens: BTreeMap<String, Vec<AclRule>>,
    /// The rules of requests without a token (the anonymous token).
    pub anonymous: Vec<AclRule>,
}

/// One `key_prefix` rule.
#[derive(Debug, Clone)]
pub struct AclRule {
    /// The key prefix the rule covers.
    pub prefix: String,
    /// `write` (which implies read) rather than `read`.
    pub write: bool,
}

/// What the emulator counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// KV reads received (GET /v1/kv/…).
    pub reads: u64,
    /// Reads parked in a blocking query right now.
    pub parked: u64,
    /// Blocking reads that ended because their wait passed.
    pub timeouts: u64,
    /// KV writes received over HTTP (PUT and DELETE).
    pub writes: u64,
    /// Times a parked read was woken (by any change or [`ConsulEmulator::wake_all`]) and ran
    /// its query again.
    pub wakeups: u64,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Modes {
    pub(crate) fault: Option<Fault>,
    pub(crate) index_zero: bool,
    pub(crate) spurious: bool,
    /// Blocking queries answer at once, with the index they were given when nothing changed.
    pub(crate) at_once: bool,
    pub(crate) legacy_bump: bool,
    pub(crate) slow: Option<Duration>,
    pub(crate) acl: Option<Acl>,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) modes: Mutex<Modes>,
    /// Bumped on every change, fault switch and wake-up: parked reads re-check.
    pub(crate) wake: watch::Sender<u64>,
    /// Bumped on a restore: parked reads answer at once (the state store's AbandonCh).
    pub(crate) abandon: watch::Sender<u64>,
    pub(crate) counters: watch::Sender<Counters>,
    /// Blocking queries received (reads with an index above 0), for
    /// [`ConsulEmulator::long_polls`].
    pub(crate) long_polls: watch::Sender<u64>,
    pub(crate) log: Mutex<Vec<String>>,
    /// Set when the emulator is dropped: open connections close.
    pub(crate) closed: watch::Sender<bool>,
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
pub struct ConsulEmulator {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ConsulEmulator {
    /// Serves plain HTTP on a free loopback port. Call inside a tokio runtime.
    pub async fn start() -> ConsulEmulator {
        ConsulEmulator::serve(None).await
    }

    /// Serves HTTPS with `config` (e.g. one requiring client certificates).
    pub async fn start_tls(config: Arc<tokio_rustls::rustls::ServerConfig>) -> ConsulEmulator {
        ConsulEmulator::serve(Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> ConsulEmulator {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            modes: Mutex::new(Modes::default()),
            wake: watch::Sender::new(0),
            abandon: watch::Sender::new(0),
            counters: watch::Sender::new(Counters::default()),
            long_polls: watch::Sender::new(0),
            log: Mutex::new(Vec::new()),
            closed: watch::Sender::new(false),
        });
        let is_tls = tls.is_some();
        let task = tokio::spawn(http::accept_loop(listener, tls, shared.clone()));
        ConsulEmulator {
            addr,
            tls: is_tls,
            shared,
            task,
        }
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:port` (or `https://`).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    // ===== the state, directly =====

    /// Writes `value` to `key` as a PUT would (an empty value is stored as null; the same value
    /// and flags again is a no-op unless legacy bumps are on). Returns the raft index used.
    pub fn put(&self, key: &str, value: impl Into<Vec<u8>>) -> u64 {
        let legacy = self.shared.modes().legacy_bump;
        let index = {
            let mut state = self.shared.state();
            state.put(key, value.into(), 0, None, legacy);
            state.raft_index
        };
        self.shared.wake();
        index
    }

    /// Deletes `key` (a tombstone keeps the list index from going back).
    pub fn delete(&self, key: &str) {
        self.shared.state().delete(key, None);
        self.shared.wake();
    }

    /// Deletes every key under `prefix` (one tombstone keyed by the prefix).
    pub fn delete_tree(&self, prefix: &str) {
        self.shared.state().delete_tree(prefix);
        self.shared.wake();
    }

    /// The entry at `key`.
    pub fn entry(&self, key: &str) -> Option<Entry> {
        self.shared.state().kvs.get(key).cloned()
    }

    /// The index a single-key read of `key` would carry.
    pub fn key_index(&self, key: &str) -> u64 {
        self.shared.state().key_index(key)
    }

    /// The index a list of `prefix` would carry.
    pub fn list_index(&self, prefix: &str) -> u64 {
        self.shared.state().list_index(prefix)
    }

    // ===== fault hooks (docs/protocols.md#consul-the-emulators-rules item 8) =====

    /// A copy of the whole state, to [`restore`](Self::restore) later.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.shared.state().clone())
    }

    /// Restores `snapshot`: the KV and its indexes go back to it, so list and key indexes go
    /// backwards; parked reads answer at once. As on a real server the raft log moves on: later
    /// writes get indexes above any handed out before.
    pub fn restore(&self, snapshot: &Snapshot) {
        {
            let mut state = self.shared.state();
            let raft_index = state.raft_index;
            *state = snapshot.0.clone();
            state.raft_index = state.raft_index.max(raft_index);
        }
        self.shared.abandon.send_modify(|g| *g += 1);
        self.shared.wake();
    }

    /// Reaps every tombstone, so a list whose highest entry was deleted goes backwards.
    pub fn reap_tombstones(&self) {
        self.shared.state().reap();
    }

    /// Moves the raft index to `index`: the next write gets `index + 1`, saturating at
    /// `u64::MAX` (later writes then all carry `u64::MAX`, as a hostile server's index would).
    pub fn set_raft_index(&self, index: u64) {
        self.shared.state().raft_index = index;
    }

    /// Answers reads with `X-Consul-Index: 0` (an old version's bug).
    pub fn set_index_zero(&self, on: bool) {
        self.shared.modes().index_zero = on;
    }

    /// Parked reads answer on every wake-up, changed or not (see [`wake_all`](Self::wake_all)).
    pub fn set_spurious_wakeups(&self, on: bool) {
        self.shared.modes().spurious = on;
    }

    /// Answers blocking queries at once, with the current data and the index they were given
    /// when nothing changed (`true`: as a proxy that does not hold requests would; parked reads
    /// answer now), or parks them again (`false`).
    pub fn set_answer_at_once(&self, on: bool) {
        self.shared.modes().at_once = on;
        self.shared.wake();
    }

    /// Wakes every parked read (with spurious wake-ups on, they answer unchanged).
    pub fn wake_all(&self) {
        self.shared.wake();
    }

    /// Old Consul: a write of the same value bumps the ModifyIndex (waking readers, no change).
    pub fn set_legacy_bump(&self, on: bool) {
        self.shared.modes().legacy_bump = on;
    }

    /// Answers every read with `fault` until cleared; parked reads wake up to it.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.modes().fault = fault;
        self.shared.wake();
    }

    /// Delays every read's answer by `delay` (e.g. near a client's timeout).
    pub fn set_slow(&self, delay: Option<Duration>) {
        self.shared.modes().slow = delay;
    }

    /// Turns ACL enforcement on (`Some`) or off.
    pub fn set_acl(&self, acl: Option<Acl>) {
        self.shared.modes().acl = acl;
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

    /// The number of blocking queries (reads with an index above 0) received so far, as a
    /// channel that follows it.
    pub fn long_polls(&self) -> watch::Receiver<u64> {
        self.shared.long_polls.subscribe()
    }

    /// Every request line so far (`GET /v1/kv/app/?recurse&index=12`), token values removed.
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for ConsulEmulator {
    fn drop(&mut self) {
        self.shared.closed.send_replace(true);
        self.task.abort();
    }
}
