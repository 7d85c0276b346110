//! The provider scaffold: a backend writes its wire code, its follow loop ([`Follow`]) and its
//! config/URI parsing, implements [`FollowedSource`] for what one provider follows, and names
//! [`FollowedProvider`] of it as its provider. The scaffold supplies the rest: the constructors
//! every backend shares (`new(&client, source)`, `from_uri`), the accessors, and the
//! [`Provider`] implementation (`load` is one read, `watch` is the [`follow`] helper's stream,
//! and the source's name is on every error).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::follow::{follow, Follow};
use crate::layer::Layer;
use crate::provider::{Capabilities, Metadata, Provider, WatchStream};
use crate::uri::SourceUri;

/// What one provider of a backend follows (an etcd prefix, a Consul key, a Nacos config, a URL),
/// and how the scaffold makes its follow loop.
///
/// ```
/// use std::sync::Arc;
/// use hotconf_core::{Format, Result};
/// use hotconf_core::provider::{
///     Capabilities, Follow, FollowedProvider, FollowedSource, Layer, SourceUri,
/// };
///
/// /// The whole "backend": a client that knows a greeting, a source that repeats it.
/// #[derive(Debug, Clone)]
/// struct Greeter(String);
/// #[derive(Debug)]
/// struct Greeting { times: usize }
///
/// struct Reader { text: String }
///
/// #[async_trait::async_trait]
/// impl Follow for Reader {
///     async fn read(&mut self) -> Result<Layer> {
///         Ok(Layer::document(Format::Json, format!("{{\"greeting\": {:?}}}", self.text)))
///     }
/// }
///
/// impl FollowedSource for Greeting {
///     type Client = Greeter;
///     fn capabilities(&self) -> Capabilities {
///         Capabilities::STATIC
///     }
///     fn name(&self, client: &Greeter) -> String {
///         format!("greet://{}?times={}", client.0, self.times)
///     }
///     fn from_uri(uri: &SourceUri) -> Result<(Greeter, Greeting)> {
///         uri.expect_scheme(&["greet"])?;
///         Ok((Greeter(uri.path.clone()), Greeting { times: 1 }))
///     }
///     fn follower(
///         self: &Arc<Self>, client: &Greeter, _: &str, _: bool,
///     ) -> Result<Box<dyn Follow>> {
///         Ok(Box::new(Reader { text: client.0.repeat(self.times) }))
///     }
/// }
///
/// type GreetingProvider = FollowedProvider<Greeting>;
///
/// let provider = GreetingProvider::new(&Greeter("hi".into()), Greeting { times: 2 });
/// assert_eq!(provider.name(), "greet://hi?times=2");
/// ```
pub trait FollowedSource: fmt::Debug + Send + Sync + Sized + 'static {
    /// What providers share: a connection, an HTTP client, a login, a long poll.
    type Client: Clone + fmt::Debug + Send + Sync + 'static;
    /// What a provider of this source can do (the same for every source of most backends).
    fn capabilities(&self) -> Capabilities;

    /// Whether every value of this source is a secret (a Kubernetes Secret, a Vault path): its
    /// layer is then a secret layer ([`Metadata::secret`]). Default: no.
    fn secret(&self) -> bool {
        false
    }

    /// The source's printable name as read through `client`: a URI that holds no credential.
    fn name(&self, client: &Self::Client) -> String;

    /// A client and a source from a URI (the backend's scheme, hosts, path and parameters).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a URI the backend cannot follow.
    fn from_uri(uri: &SourceUri) -> Result<(Self::Client, Self)>;

    /// A follow loop over `self` through `client`, named `name`. `watching` is false for a
    /// single [`load`](Provider::load) (a loop may then skip what only a watch needs, such as
    /// joining a shared long poll).
    ///
    /// # Errors
    /// A permanent error for a source that can never be followed with this client.
    fn follower(
        self: &Arc<Self>,
        client: &Self::Client,
        name: &str,
        watching: bool,
    ) -> Result<Box<dyn Follow>>;
}

/// A [`Provider`] for any [`FollowedSource`]: what every network backend's provider is
/// (`EtcdProvider`, `ConsulProvider`, `NacosProvider`, `ApolloProvider`, `HttpProvider`).
pub struct FollowedProvider<S: FollowedSource> {
    client: S::Client,
    source: Arc<S>,
    name: String,
}

impl<S: FollowedSource> FollowedProvider<S> {
    /// A provider following `source` through `client` (a clone of it: what the client holds,
    /// its connection, its login, is shared). Never fails: errors surface on `load` or `watch`.
    pub fn new(client: &S::Client, source: impl Into<S>) -> Self {
        let source = source.into();
        FollowedProvider {
            name: source.name(client),
            client: client.clone(),
            source: Arc::new(source),
        }
    }

    /// A provider, with the client its URI describes (see the backend's provider type for the
    /// URI's form).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for another scheme or a URI the backend
    /// cannot follow (a bad option, an unknown parameter); the message names the URI without
    /// its credentials.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        let (client, source) = S::from_uri(uri)?;
        Ok(FollowedProvider::new(&client, source))
    }

    /// This provider reading through `edit(client)` instead (e.g. a client from
    /// [`from_uri`](Self::from_uri) with other limits).
    pub fn map_client(self, edit: impl FnOnce(S::Client) -> S::Client) -> Self {
        let client = edit(self.client);
        FollowedProvider {
            name: self.source.name(&client),
            client,
            source: self.source,
        }
    }

    /// The source's printable name: a URI without credentials.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this provider reads through.
    pub fn client(&self) -> &S::Client {
        &self.client
    }

    /// What this provider follows.
    pub fn source(&self) -> &S {
        &self.source
    }

    fn follower(&self, watching: bool) -> Result<Box<dyn Follow>> {
        self.source
            .follower(&self.client, &self.name, watching)
            .map_err(|e| e.or_source_name(&self.name))
    }
}

impl<S: FollowedSource> Clone for FollowedProvider<S> {
    fn clone(&self) -> Self {
        FollowedProvider {
            client: self.client.clone(),
            source: self.source.clone(),
            name: self.name.clone(),
        }
    }
}

impl<S: FollowedSource> fmt::Debug for FollowedProvider<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FollowedProvider")
            .field("name", &self.name)
            .field("client", &self.client)
            .field("source", &self.source)
            .finish()
    }
}

#[async_trait]
impl<S: FollowedSource> Provider for FollowedProvider<S> {
    fn metadata(&self) -> Metadata {
        let metadata = Metadata::new(self.name.clone(), self.source.capabilities());
        if self.source.secret() {
            metadata.secret()
        } else {
            metadata
        }
    }

    async fn load(&self) -> Result<Layer> {
        self.follower(false)?
            .read()
            .await
            .map_err(|e| e.or_source_name(&self.name))
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(follow(self.name.clone(), self.follower(true)?))
    }
}
