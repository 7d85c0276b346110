//! `NacosProvider`: one Nacos config as a layer.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::{
    Backoff, Capabilities, Content, Error, ErrorKind, Layer, Metadata, Provider, Result, Revision,
    SourceUri, WatchStream,
};
use tokio::sync::Notify;

use crate::config::{Listener, NacosConfig};
use crate::http::{OpenApi, Remote};
use crate::listener::keep_listening;

const BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
/// A long poll that ends without a change sooner than this did not hold (the server holds at
/// least 10 s): it counts as a misfire.
const QUICK: Duration = Duration::from_secs(1);

/// One Nacos config (`dataId`, group, namespace) as a layer.
///
/// Every read goes to the server's HTTP API (never nacos-sdk's cache), and a state is yielded
/// when its md5 differs from the last one. Between reads the provider waits on the
/// [`Listener`]: by default the HTTP long poll, which the server answers as soon as its md5
/// differs from ours, or nacos-sdk's gRPC push used only as a hint; and on a periodic check
/// either way. So a config created after the provider started is seen, a deleted one becomes
/// an empty layer (lower layers show through), and changes made while disconnected are read
/// as soon as the server answers again.
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_nacos::{NacosConfig, NacosProvider};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let shared = NacosProvider::new(NacosConfig::new("127.0.0.1:8848", "shared.yaml"))?;
/// let app = NacosProvider::new(NacosConfig::new("127.0.0.1:8848", "app.yaml").group("PROD"))?;
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(shared).layer(app).start().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct NacosProvider {
    config: Arc<NacosConfig>,
    api: Arc<OpenApi>,
}

impl std::fmt::Debug for NacosProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NacosProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl NacosProvider {
    /// A provider for `config`.
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] when the HTTP client cannot be built, or for
    /// [`Listener::Sdk`] with credentials: nacos-sdk 0.8.3's login puts the password in a URL
    /// that it logs at error level when the server cannot be reached (guarantee G10).
    pub fn new(config: NacosConfig) -> Result<Self> {
        if config.listener == Listener::Sdk && config.user.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "Listener::Sdk cannot be used with credentials: nacos-sdk 0.8.3 logs the password \
                 when its login fails; use the default long-poll listener",
            )
            .with_source_name(config.name()));
        }
        let api = Arc::new(OpenApi::new(&config)?);
        Ok(NacosProvider {
            config: Arc::new(config),
            api,
        })
    }

    /// A provider from a `nacos://` URI (see [`NacosConfig::from_uri`]).
    ///
    /// # Errors
    /// [`hotconf_core::ErrorKind::Config`] for a bad URI.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        NacosProvider::new(NacosConfig::from_uri(uri)?)
    }

    /// Reads the config from the server; returns its layer and its Nacos md5.
    async fn read(&self) -> Result<(Layer, String)> {
        let name = self.config.name();
        let remote = self
            .api
            .get(&self.config)
            .await
            .map_err(|e| e.with_source_name(name.clone()))?;
        let md5 = remote.md5();
        // The md5 is the revision: the one the Nacos console shows for this content.
        let revision = Revision::Tag(md5.clone());
        let layer = match remote {
            Remote::Content(bytes, server) => Layer::new(
                Content::Document {
                    format: self.config.resolved_format(server)?,
                    bytes: bytes.into(),
                },
                revision,
            ),
            Remote::Missing => Layer::empty(revision),
        };
        Ok((layer, md5))
    }
}

#[async_trait]
impl Provider for NacosProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.config.name(), Capabilities::WATCH)
    }

    async fn load(&self) -> Result<Layer> {
        Ok(self.read().await?.0)
    }

    async fn watch(&self) -> Result<WatchStream> {
        let state = Watch {
            provider: self.clone(),
            sdk: match self.config.listener {
                Listener::LongPoll => None,
                Listener::Sdk => Some(SdkHint::default()),
            },
            md5: None,
            last_error: None,
            failures: 0,
            misfires: 0,
            first: true,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            Some(state),
            |state| async move {
                let mut state = state?;
                loop {
                    match state.step().await {
                        // After a permanent error (wrong credentials, an unknown format) the stream ends.
                        Some(Err(error)) if !error.is_transient() => {
                            return Some((Err(error), None))
                        }
                        Some(item) => return Some((item, Some(state))),
                        None => {}
                    }
                }
            },
        )))
    }
}

/// The nacos-sdk listener of [`Listener::Sdk`] and the hint it pokes.
#[derive(Default)]
struct SdkHint {
    hint: Arc<Notify>,
    /// The task that connects nacos-sdk and keeps it listening; aborted when dropped.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for SdkHint {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Watch {
    provider: NacosProvider,
    sdk: Option<SdkHint>,
    /// The md5 of the state last yielded (empty: the config does not exist).
    md5: Option<String>,
    last_error: Option<String>,
    /// Reads that failed in a row.
    failures: u32,
    /// Wake-ups in a row that brought no change (failed polls, polls that did not hold, hints a
    /// read found nothing behind).
    misfires: u32,
    first: bool,
}

impl Watch {
    /// Waits for a change (or the check interval, or a backoff), then reads; returns an item
    /// when the state (or the error) changed.
    async fn step(&mut self) -> Option<Result<Layer>> {
        if !self.first {
            self.wait().await;
        }
        self.first = false;
        if let Some(sdk) = self.sdk.as_mut().filter(|s| s.task.is_none()) {
            // Connecting runs apart (a gRPC port that never answers must not hold the reads
            // up); once listening it pokes the hint, and that read catches anything missed.
            let task = keep_listening(self.provider.config.clone(), sdk.hint.clone());
            sdk.task = Some(tokio::spawn(task));
        }
        match self.provider.read().await {
            Ok((layer, md5)) => {
                // Back from a failure (a restart, a network cut): this read caught up with
                // whatever changed meanwhile.
                self.failures = 0;
                self.last_error = None;
                if self.md5.as_ref() == Some(&md5) {
                    // Woken for nothing: the next poll waits a little (see `wait`).
                    self.misfires = self.misfires.saturating_add(1);
                    return None;
                }
                self.misfires = 0;
                self.md5 = Some(md5);
                Some(Ok(layer))
            }
            Err(error) => {
                self.failures = self.failures.saturating_add(1);
                let message = error.to_string();
                if self.last_error.as_ref() == Some(&message) && error.is_transient() {
                    return None;
                }
                self.last_error = Some(message);
                Some(Err(error))
            }
        }
    }

    /// Returns when a read is due: after a backoff while reads fail; otherwise when the
    /// listener reports a change (a long poll also ends with one that failed), or after the
    /// check interval with nacos-sdk's push.
    async fn wait(&mut self) {
        let config = &self.provider.config;
        if self.failures > 0 {
            tokio::time::sleep(BACKOFF.delay(self.failures - 1)).await;
            return;
        }
        if let Some(sdk) = &self.sdk {
            tokio::select! {
                () = sdk.hint.notified() => {}
                () = tokio::time::sleep(config.check_interval) => {}
            }
            return;
        }
        // Each poll compares the server's md5 with ours for up to its hold time: a poll that
        // ends without a change is itself a check, so there is no timer to race it.
        let md5 = self.md5.clone().unwrap_or_default();
        loop {
            if self.misfires > 0 {
                // Polls that fail, return at once without a change, or report changes a read
                // does not find: never a busy loop (at most one poll per check interval).
                let delay = BACKOFF.delay(self.misfires - 1).min(config.check_interval);
                tokio::time::sleep(delay).await;
            }
            let started = tokio::time::Instant::now();
            match self.provider.api.long_poll(config, &md5).await {
                Ok(true) => return,
                Ok(false) if started.elapsed() >= QUICK => self.misfires = 0,
                Ok(false) => self.misfires = self.misfires.saturating_add(1),
                Err(error) => {
                    // A cut connection or a refused listener: read (which tells which).
                    tracing::debug!(source = %config.name(), %error, "nacos long poll failed");
                    self.misfires = self.misfires.saturating_add(1);
                    return;
                }
            }
        }
    }
}
