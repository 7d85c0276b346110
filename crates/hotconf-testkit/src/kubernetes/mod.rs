//! A Kubernetes API server emulator for ConfigMaps and Secrets, written from the API conventions
//! (docs/protocols.md#kubernetes-api-the-emulators-rules, backends.md §7), on a free loopback
//! port over plain HTTP. kubectl and Python's `kubernetes` client talk to it as to a cluster
//! (tests/kubernetes_clients.rs proves it).
//!
//! Tests drive it through a handle: write and delete objects directly, compact the history (so
//! old resourceVersions get 410 Gone), send bookmarks, require a bearer token (and rotate it),
//! forbid namespaces (RBAC), cut open watches and restart with or without the state. Counters
//! (requests per verb and resource, open watches) let tests wait on what a client did instead
//! of timing it.
//!
//! It also answers TokenReviews (`POST /apis/authentication.k8s.io/v1/tokenreviews`), as Vault's
//! and OpenBao's Kubernetes auth ask them, for the service account tokens a test registers
//! ([`KubeEmulator::issue_service_account_token`], [`service_account_jwt`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::kubernetes::KubeEmulator;
//! let kube = KubeEmulator::start().await;
//! let rv = kube.put_config_map("default", "app", [("app.yaml", "port: 8080")]);
//! let object = kube.config_map("default", "app").unwrap();
//! assert_eq!(object["data"]["app.yaml"], "port: 8080");
//! assert_eq!(object["metadata"]["resourceVersion"], rv.as_str());
//! # }
//! ```

mod discovery;
mod http;
mod jwt;
mod object;
mod state;
mod status;
mod token_review;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::watch as channel;

use state::State;
use token_review::Accounts;

pub use jwt::service_account_jwt;

/// The resources the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// `configmaps` (kind `ConfigMap`).
    ConfigMaps,
    /// `secrets` (kind `Secret`).
    Secrets,
}

impl Resource {
    /// The object kind: `ConfigMap` or `Secret`.
    pub fn kind(self) -> &'static str {
        match self {
            Resource::ConfigMaps => "ConfigMap",
            Resource::Secrets => "Secret",
        }
    }

    fn from_plural(plural: &str) -> Option<Resource> {
        match plural {
            "configmaps" => Some(Resource::ConfigMaps),
            "secrets" => Some(Resource::Secrets),
            _ => None,
        }
    }
}

impl fmt::Display for Resource {
    /// The plural name used in paths and RBAC: `configmaps` or `secrets`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::ConfigMaps => "configmaps",
            Resource::Secrets => "secrets",
        })
    }
}

/// What a request asked of a resource, as RBAC names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// GET of a collection.
    List,
    /// GET of a collection with `watch=true`.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Verb {
    /// The RBAC verb: `get`, `list`, `watch`, `create`, `update`, `patch` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }
}

/// What the emulator counted so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests on ConfigMaps and Secrets, by verb and resource (answered or refused).
    pub requests: BTreeMap<(Verb, Resource), u64>,
    /// Requests for discovery, version and OpenAPI documents.
    pub discovery: u64,
    /// Requests refused with 401 (no or a wrong bearer token).
    pub unauthorized: u64,
    /// Requests refused with 403 (a forbidden namespace).
    pub forbidden: u64,
    /// Watch streams open right now.
    pub open_watches: u64,
    /// Watch streams that ended with an in-stream 410.
    pub expired: u64,
    /// Bookmarks sent.
    pub bookmarks: u64,
    /// TokenReviews answered (201), whether the token was known or not.
    pub token_reviews: u64,
    /// TokenReviews answered `authenticated: false` (a token not registered, or revoked).
    pub tokens_rejected: u64,
}

impl Counters {
    /// The requests counted for `verb` on `resource`.
    pub fn of(&self, verb: Verb, resource: Resource) -> u64 {
        self.requests.get(&(verb, resource)).copied().unwrap_or(0)
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Modes {
    /// The bearer token every request must carry, if any.
    pub(crate) token: Option<String>,
    /// Namespaces where every request gets 403.
    pub(crate) forbidden: BTreeSet<String>,
    /// Watches that asked for bookmarks get one this often.
    pub(crate) bookmark_every: Option<Duration>,
}

pub(crate) struct Shared {
    pub(crate) addr: SocketAddr,
    pub(crate) state: Mutex<State>,
    pub(crate) modes: Mutex<Modes>,
    /// Service accounts and their tokens, for TokenReviews.
    pub(crate) accounts: Mutex<Accounts>,
    /// Follows the last resourceVersion: open watches wake on every change.
    pub(crate) changes: channel::Sender<u64>,
    /// Bumped by [`KubeEmulator::bookmark`]: watches that asked for bookmarks send one.
    pub(crate) bookmarks: channel::Sender<u64>,
    /// Bumped by [`KubeEmulator::cut_watches`]: open watch streams break off.
    pub(crate) cut: channel::Sender<u64>,
    /// Bumped on a restart and on drop: every open connection closes.
    pub(crate) generation: channel::Sender<u64>,
    pub(crate) counters: channel::Sender<Counters>,
    pub(crate) log: Mutex<Vec<String>>,
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
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        self.counters.send_modify(f);
    }
    /// Tells open watches that the state moved (call after releasing the state lock).
    pub(crate) fn changed(&self) {
        let rv = self.state().rv;
        self.changes.send_replace(rv);
    }
}

/// A running emulator; dropping it stops it.
pub struct KubeEmulator {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for KubeEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeEmulator")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl KubeEmulator {
    /// Serves plain HTTP on a free loopback port. Call inside a tokio runtime.
    pub async fn start() -> KubeEmulator {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            addr,
            state: Mutex::new(State::new()),
            modes: Mutex::new(Modes::default()),
            accounts: Mutex::new(Accounts::default()),
            changes: channel::Sender::new(0),
            bookmarks: channel::Sender::new(0),
            cut: channel::Sender::new(0),
            generation: channel::Sender::new(0),
            counters: channel::Sender::new(Counters::default()),
            log: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(http::accept_loop(listener, shared.clone()));
        KubeEmulator { shared, task }
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        self.shared.addr.to_string()
    }

    /// `http://127.0.0.1:port`, the `server` of a kubeconfig.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Writes `dir/kubeconfig`: one cluster (this emulator), one user (with the bearer token
    /// the emulator requires now, if any) and a current context in namespace `default`.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let token = self.shared.modes().token.clone();
        self.kubeconfig_with_token(dir, token.as_deref())
    }

    /// Writes `dir/kubeconfig` as [`kubeconfig`](Self::kubeconfig) does, with `token` (or none).
    pub fn kubeconfig_with_token(&self, dir: &Path, token: Option<&str>) -> PathBuf {
        let user = match token {
            // A JSON string is a YAML double-quoted scalar.
            Some(token) => format!("\n    token: {}", Value::from(token)),
            None => " {}".to_owned(),
        };
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {}\nusers:\n- name: emulator\n  user:{user}\ncontexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: emulator\n    namespace: default\ncurrent-context: emulator\n",
            self.url()
        );
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text).expect("a writable directory for the kubeconfig");
        path
    }

    // ===== the state, directly =====

    fn put(&self, resource: Resource, namespace: &str, name: &str, data: Value) -> String {
        let body = json!({"metadata": {"name": name}, "data": data});
        let written = {
            let mut state = self.shared.state();
            match state.get(resource, namespace, name).cloned() {
                Some(mut current) => {
                    current["data"] = body["data"].clone();
                    state.replace(resource, namespace, name, current)
                }
                None => state.create(resource, namespace, body),
            }
        };
        let object = written
            .unwrap_or_else(|s| panic!("writing {resource} {namespace}/{name}: {}", s.message));
        self.shared.changed();
        object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Creates the ConfigMap `namespace/name` with `data`, or replaces its `data` (an ADDED or
    /// MODIFIED event; none when nothing changes). Returns its resourceVersion.
    pub fn put_config_map<K, V>(
        &self,
        namespace: &str,
        name: &str,
        data: impl IntoIterator<Item = (K, V)>,
    ) -> String
    where
        K: Into<String>,
        V: Into<String>,
    {
        let data: Map<String, Value> = data
            .into_iter()
            .map(|(k, v)| (k.into(), Value::String(v.into())))
            .collect();
        self.put(Resource::ConfigMaps, namespace, name, Value::Object(data))
    }

    /// Creates the Secret `namespace/name` with `data` (stored base64-encoded, as the API
    /// holds it), or replaces its `data`. Returns its resourceVersion.
    pub fn put_secret<K, V>(
        &self,
        namespace: &str,
        name: &str,
        data: impl IntoIterator<Item = (K, V)>,
    ) -> String
    where
        K: Into<String>,
        V: AsRef<[u8]>,
    {
        let data: Map<String, Value> = data
            .into_iter()
            .map(|(k, v)| {
                let encoded = base64::engine::general_purpose::STANDARD.encode(v.as_ref());
                (k.into(), Value::String(encoded))
            })
            .collect();
        self.put(Resource::Secrets, namespace, name, Value::Object(data))
    }

    fn remove(&self, resource: Resource, namespace: &str, name: &str) -> Option<String> {
        let deleted = self.shared.state().delete(resource, namespace, name).ok();
        self.shared.changed();
        deleted.map(|o| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }

    /// Deletes the ConfigMap (a DELETED event); returns the delete's resourceVersion, `None`
    /// when it did not exist.
    pub fn delete_config_map(&self, namespace: &str, name: &str) -> Option<String> {
        self.remove(Resource::ConfigMaps, namespace, name)
    }

    /// Deletes the Secret; returns the delete's resourceVersion, `None` when it did not exist.
    pub fn delete_secret(&self, namespace: &str, name: &str) -> Option<String> {
        self.remove(Resource::Secrets, namespace, name)
    }

    /// The stored ConfigMap, as a GET would answer it.
    pub fn config_map(&self, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .state()
            .get(Resource::ConfigMaps, namespace, name)
            .cloned()
    }

    /// The stored Secret, as a GET would answer it (`data` base64, no `stringData`).
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .state()
            .get(Resource::Secrets, namespace, name)
            .cloned()
    }

    /// The last resourceVersion handed out (what a list carries now).
    pub fn resource_version(&self) -> String {
        self.shared.state().rv.to_string()
    }

    // ===== knobs and faults =====

    /// Compacts the history: a watch from any resourceVersion before now gets an in-stream
    /// 410 `Expired` (open watches that have not caught up get it too).
    pub fn compact(&self) {
        self.shared.state().compact();
        self.shared.changes.send_modify(|_| {});
    }

    /// Keeps only the last `changes` changes in the history (1000 at start); older ones are
    /// compacted away as new ones come.
    pub fn set_history_limit(&self, changes: usize) {
        let mut state = self.shared.state();
        state.history_limit = changes;
        while state.history.len() > changes {
            if let Some(old) = state.history.pop_front() {
                state.floor = old.rv;
            }
        }
    }

    /// Sends a BOOKMARK now on every open watch that asked for bookmarks.
    pub fn bookmark(&self) {
        self.shared.bookmarks.send_modify(|g| *g += 1);
    }

    /// Sends BOOKMARKs every `every` on watches opened from now on that asked for them (`None`:
    /// only when [`bookmark`](Self::bookmark) is called).
    pub fn set_bookmark_interval(&self, every: Option<Duration>) {
        self.shared.modes().bookmark_every = every;
    }

    /// Requires `Authorization: Bearer <token>` on every request from now on (`None`: no
    /// check), TokenReviews too (there it is the reviewer's credential, Vault's
    /// `token_reviewer_jwt`, not the token reviewed). Changing it mid-run is a token rotation:
    /// the old token gets 401.
    pub fn set_token(&self, token: Option<&str>) {
        self.shared.modes().token = token.map(str::to_owned);
    }

    /// Answers every request in `namespace` with 403 Forbidden (`false`: allows it again).
    /// Open watches in it are not affected, as RBAC is checked when a request starts.
    pub fn set_forbidden(&self, namespace: &str, forbidden: bool) {
        let mut modes = self.shared.modes();
        if forbidden {
            modes.forbidden.insert(namespace.to_owned());
        } else {
            modes.forbidden.remove(namespace);
        }
    }

    /// Breaks every open watch stream off mid-stream (no final chunk), as a dropped connection
    /// or a proxy timeout does.
    pub fn cut_watches(&self) {
        self.shared.cut.send_modify(|g| *g += 1);
    }

    /// Restarts on the same port: every open connection closes; with `keep_state` the objects
    /// stay (and the history, so clients resume their watches), otherwise they are gone and
    /// the history with them (every earlier resourceVersion then gets 410), and so are the
    /// service accounts and their tokens. resourceVersions keep growing either way.
    pub fn restart(&self, keep_state: bool) {
        if !keep_state {
            self.shared.state().wipe();
            lock(&self.shared.accounts).wipe();
        }
        self.shared.generation.send_modify(|g| *g += 1);
        self.shared.changed();
    }

    // ===== observation =====

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.shared.counters.borrow().clone()
    }

    /// Waits until `predicate` holds for the counters, failing after [`crate::TIMEOUT`].
    pub async fn wait_for(&self, predicate: impl Fn(&Counters) -> bool) -> Counters {
        let mut rx = self.shared.counters.subscribe();
        let reached = tokio::time::timeout(crate::TIMEOUT, async {
            rx.wait_for(|c| predicate(c)).await.map(|c| c.clone())
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

    /// Every request line so far (`GET /api/v1/namespaces/default/configmaps?watch=1`).
    pub fn request_log(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for KubeEmulator {
    fn drop(&mut self) {
        self.shared.generation.send_modify(|g| *g += 1);
        self.task.abort();
    }
}
