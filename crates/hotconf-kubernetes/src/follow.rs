//! The follow loop: the [`Tracker`] state machine driven by `Api::list` and `Api::watch`.
//!
//! kube-runtime's `watcher` / `watch_object` keep the same rules, but they yield objects, not
//! the list's or a bookmark's resourceVersion, which is this layer's revision and where a watch
//! resumes; so the loop calls the two requests itself (docs/backends/kubernetes.md).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use hotconf_core::provider::{Follow, Layer};
use hotconf_core::{Error, ErrorKind, Result};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ListParams, WatchParams};
use kube::core::WatchEvent;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::client::KubernetesClient;
use crate::convert::DataObject;
use crate::phase::{client_error, is_gone, Phase, Tracker};
use crate::source::KubernetesSource;

/// The `timeoutSeconds` of a watch (kube-rs's default; the API server's limit is 295 s): the
/// server ends the stream cleanly then, and the loop resumes from the last resourceVersion.
pub const WATCH_TIMEOUT: Duration = Duration::from_secs(290);

/// How long a watch may stay silent past its timeout before the connection is taken as dead.
const WATCH_IDLE_MARGIN: Duration = Duration::from_secs(5);

/// What a follower can follow: a namespaced `v1` kind with `data`.
pub(crate) trait Watched:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + DataObject
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + DataObject
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

type Events<K> = BoxStream<'static, kube::Result<WatchEvent<K>>>;

pub(crate) struct Follower<K: Watched> {
    client: KubernetesClient,
    source: Arc<KubernetesSource>,
    tracker: Tracker<K>,
    stream: Option<Events<K>>,
    /// The kube-rs client of the last request, forgotten when the server answers it with 401.
    used: Option<Arc<kube::Client>>,
}

impl<K: Watched> Follower<K> {
    pub(crate) fn new(client: KubernetesClient, source: Arc<KubernetesSource>) -> Self {
        Follower {
            client,
            source,
            tracker: Tracker::new(),
            stream: None,
            used: None,
        }
    }

    /// (`&mut self`: the follower is `Send`, not `Sync`, as its watch stream is.)
    async fn api(&mut self) -> Result<Api<K>> {
        let client = self.client.client().await?;
        let api = Api::namespaced(kube::Client::clone(&client), &self.source.namespace);
        self.used = Some(client);
        Ok(api)
    }

    /// The error for a failed request; a 401 also makes the client build itself again from
    /// the credentials as they are now (a rotated token), for the next attempt.
    fn failed(&self, doing: &str, error: kube::Error) -> Error {
        if let (kube::Error::Api(status), Some(used)) = (&error, &self.used) {
            if status.code == 401 {
                self.client.forget(used);
            }
        }
        client_error(&self.source, doing, error)
    }

    /// One step: list, open a watch, or take one event.
    async fn step(&mut self) -> Result<()> {
        let rv = match self.tracker.phase() {
            Phase::List => {
                self.stream = None;
                return self.list().await;
            }
            Phase::Watch { rv } => rv.clone(),
        };
        let Some(stream) = &mut self.stream else {
            return self.open(&rv).await;
        };
        match tokio::time::timeout(WATCH_TIMEOUT + WATCH_IDLE_MARGIN, stream.next()).await {
            Err(_) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "k8s: the watch of {} was silent past its {}s timeout; watching again from resourceVersion {rv}",
                    self.source.describe(),
                    WATCH_TIMEOUT.as_secs()
                ),
            )),
            // The server ended the watch (its timeout): resume from the last resourceVersion.
            Ok(None) => {
                self.stream = None;
                Ok(())
            }
            Ok(Some(Ok(event))) => self.tracker.event(&self.source, event),
            // kube hands an ERROR line it could not read as an event as a Status error.
            Ok(Some(Err(kube::Error::Api(status)))) => {
                self.stream = None;
                self.tracker.refused(&self.source, "watching", &status)
            }
            Ok(Some(Err(error))) => Err(self.failed("watching", error)),
        }
    }

    async fn list(&mut self) -> Result<()> {
        let api = self.api().await?;
        let params = ListParams::default().fields(&self.source.field_selector());
        let timeout = self.client.config().request_timeout;
        let listed = match tokio::time::timeout(timeout, api.list(&params)).await {
            Ok(listed) => listed.map_err(|e| self.failed("listing", e))?,
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "k8s: listing {} took longer than {timeout:?}",
                        self.source.describe()
                    ),
                ))
            }
        };
        self.tracker
            .listed(&self.source, listed.metadata.resource_version, listed.items)
    }

    async fn open(&mut self, rv: &str) -> Result<()> {
        let api = self.api().await?;
        let params = WatchParams::default()
            .fields(&self.source.field_selector())
            .timeout(u32::try_from(WATCH_TIMEOUT.as_secs()).unwrap_or(290)); // bookmarks: on by default
        match api.watch(&params, rv).await {
            Ok(stream) => {
                self.stream = Some(stream.boxed());
                Ok(())
            }
            // A 410 as the HTTP status of the watch request: the same as in the stream.
            Err(kube::Error::Api(status)) if is_gone(&status) => {
                self.tracker
                    .refused(&self.source, "starting the watch of", &status)
            }
            Err(error) => Err(self.failed("starting the watch of", error)),
        }
    }
}

#[async_trait]
impl<K: Watched> Follow for Follower<K> {
    /// Steps until the object changed, then yields its state; after a failure the watch is
    /// dropped and the next read opens a new one from the last resourceVersion (or lists, if
    /// it had not listed yet). A read for a single `load` is one list.
    async fn read(&mut self) -> Result<Layer> {
        loop {
            if let Err(error) = self.step().await {
                self.stream = None;
                return Err(error);
            }
            if self.tracker.take_changed() {
                return self
                    .tracker
                    .layer(&self.source, &self.client.config().limits);
            }
        }
    }
}
