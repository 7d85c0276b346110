//! What every backend client holds: its settings, and what is built from them on first use.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A backend client's two halves: its settings `C` (shared by the client's clones, copied on
/// write), and what is built from them on first use `B` (an HTTP client, a connection, a
/// login, a long poll), shared by the clones and started afresh when a setting changes, so a
/// setter never leaves a connection made with the old settings behind.
///
/// A backend's client wraps one: `XClient::new(endpoints)` builds the settings, each setter is
/// one [`edit`](Self::edit), and a request takes what it needs from [`built`](Self::built).
///
/// ```
/// use std::sync::OnceLock;
/// use hotconf_core::provider::ClientState;
/// #[derive(Clone, Debug, PartialEq)]
/// struct Settings { endpoint: String }
/// let client: ClientState<Settings, OnceLock<String>> =
///     ClientState::new(Settings { endpoint: "127.0.0.1:1".into() });
/// client.built().get_or_init(|| "connected".into());
/// let moved = client.clone().edit(|s| s.endpoint = "127.0.0.1:2".into());
/// assert_eq!(client.built().get().map(String::as_str), Some("connected"));
/// assert_eq!(moved.built().get(), None); // to be built again, with the new endpoint
/// ```
pub struct ClientState<C, B> {
    config: Arc<C>,
    built: Arc<B>,
}

impl<C, B: Default> ClientState<C, B> {
    /// A client with `config`, nothing built yet.
    pub fn new(config: C) -> Self {
        ClientState::from_parts(Arc::new(config), Arc::default())
    }

    /// This client with its settings changed by `change`, and nothing built.
    #[must_use]
    pub fn edit(mut self, change: impl FnOnce(&mut C)) -> Self
    where
        C: Clone,
    {
        change(Arc::make_mut(&mut self.config));
        self.built = Arc::default();
        self
    }
}

impl<C, B> ClientState<C, B> {
    /// A client of existing halves (one found in a cache of live clients, say).
    pub fn from_parts(config: Arc<C>, built: Arc<B>) -> Self {
        ClientState { config, built }
    }

    /// A client with `config`: the live one in `clients` with equal settings, or a new one
    /// (kept there while it lives). Providers made from URIs, one client each, then share
    /// connections, pools and long polls as providers of one client do.
    pub fn live(config: C, clients: &LiveClients<C, B>) -> Self
    where
        C: PartialEq,
        B: Default,
    {
        let (config, built) = clients.get(config, B::default);
        ClientState::from_parts(config, built)
    }

    /// The settings.
    pub fn config(&self) -> &Arc<C> {
        &self.config
    }

    /// What is built from the settings, shared by this client's clones.
    pub fn built(&self) -> &Arc<B> {
        &self.built
    }
}

impl<C: Default, B: Default> Default for ClientState<C, B> {
    fn default() -> Self {
        ClientState::new(C::default())
    }
}

impl<C, B> Clone for ClientState<C, B> {
    fn clone(&self) -> Self {
        ClientState::from_parts(self.config.clone(), self.built.clone())
    }
}

/// The clients of one backend made from URIs and still in use, by their settings: a process
/// whose thousand reloaders name one server in equal URIs keeps one HTTP pool, one etcd
/// connection, one long poll, not a thousand. Held weakly: a client nobody uses is dropped, and
/// forgotten at the next lookup. Settings that differ at all (another credential, another
/// deadline) get a client of their own.
///
/// ```
/// use std::sync::Arc;
/// use hotconf_core::provider::LiveClients;
/// static CLIENTS: LiveClients<String, u32> = LiveClients::new();
/// let (_, a) = CLIENTS.get("127.0.0.1:1".to_owned(), || 1);
/// let (_, b) = CLIENTS.get("127.0.0.1:1".to_owned(), || 2);
/// assert!(Arc::ptr_eq(&a, &b));
/// drop((a, b));
/// let (_, c) = CLIENTS.get("127.0.0.1:1".to_owned(), || 3);
/// assert_eq!(*c, 3); // the first was dropped with its last user
/// ```
pub struct LiveClients<K, V> {
    live: Mutex<Vec<(Arc<K>, Weak<V>)>>,
}

impl<K, V> LiveClients<K, V> {
    /// No client yet (for a `static`).
    pub const fn new() -> Self {
        LiveClients {
            live: Mutex::new(Vec::new()),
        }
    }
}

impl<K, V> Default for LiveClients<K, V> {
    fn default() -> Self {
        LiveClients::new()
    }
}

impl<K: PartialEq, V> LiveClients<K, V> {
    /// The live client with settings equal to `key`, or a new one `make` builds.
    pub fn get(&self, key: K, make: impl FnOnce() -> V) -> (Arc<K>, Arc<V>) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|(_, client)| client.strong_count() > 0);
        let found = live
            .iter()
            .filter(|(known, _)| **known == key)
            .find_map(|(known, client)| Some((known.clone(), client.upgrade()?)));
        if let Some(found) = found {
            return found;
        }
        let (key, client) = (Arc::new(key), Arc::new(make()));
        live.push((key.clone(), Arc::downgrade(&client)));
        (key, client)
    }
}

impl<K, V> fmt::Debug for LiveClients<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveClients").finish_non_exhaustive()
    }
}

/// The settings only: what is built may hold a connection with no useful `Debug`.
impl<C: fmt::Debug, B> fmt::Debug for ClientState<C, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
