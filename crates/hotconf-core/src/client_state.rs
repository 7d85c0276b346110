//! What every backend client holds: its settings, and what is built from them on first use.

use std::fmt;
use std::sync::Arc;

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

/// The settings only: what is built may hold a connection with no useful `Debug`.
impl<C: fmt::Debug, B> fmt::Debug for ClientState<C, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
