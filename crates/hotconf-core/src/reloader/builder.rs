//! `ReloaderBuilder`: what the user configures before starting, and the start itself (spawning
//! the source tasks, waiting for the first config, handing the engine to the reload task).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::engine::{Engine, Rules};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventChannel};
use crate::format::Limits;
use crate::layer_id::LayerId;
use crate::path;
use crate::provider::Provider;
use crate::redaction::Redaction;
use crate::stats::Stats;
use crate::status::Board;
use crate::store::Snapshot;
use crate::subscription::{Publisher, Subscription};

use super::sources::Sources;
use super::startup::{first_config, Startup};
use super::task::run;
use super::{AbortOnDrop, Reloader, ReloaderHandle};

/// Configures and starts a [`Reloader`]. Layers are merged in the order they are added: later
/// layers override earlier ones.
pub struct ReloaderBuilder<T> {
    providers: Vec<Arc<dyn Provider>>,
    /// The layers' names given with `named_layer` (`None`: the scheme and position).
    labels: Vec<Option<String>>,
    /// Per layer, `.secret()` / `.not_secret()` (`None`: as its provider says).
    secrets: Vec<Option<bool>>,
    /// Per layer, `.optional()` / `.required()` (`None`: as its provider says).
    optionals: Vec<Option<bool>>,
    /// The first of `.secret()`, `.not_secret()`, `.optional()`, `.required()` called before
    /// any layer.
    misplaced: Option<&'static str>,
    /// The last-good file keeps what secret layers supply.
    secrets_on_disk: bool,
    rules: Rules<T>,
    startup: Startup,
    last_good_file: Option<PathBuf>,
    debounce: Duration,
    backoff: Backoff,
    events: EventChannel,
    stats: Publisher<Stats>,
    /// The instance id given with `instance_id` (`None`: see [`Status::instance_id`](crate::Status)).
    instance_id: Option<String>,
}

impl<T: DeserializeOwned + Send + Sync + 'static> Default for ReloaderBuilder<T> {
    fn default() -> Self {
        ReloaderBuilder {
            providers: Vec::new(),
            labels: Vec::new(),
            secrets: Vec::new(),
            optionals: Vec::new(),
            misplaced: None,
            secrets_on_disk: false,
            rules: Rules {
                validators: Vec::new(),
                async_validators: Vec::new(),
                post_apply: None,
                restart_required: Vec::new(),
                history: 10,
                limits: Limits::default(),
                check_timeout: Duration::from_secs(30),
                redaction: Arc::new(Redaction::default()),
            },
            startup: Startup::FailFast,
            last_good_file: None,
            debounce: Duration::ZERO,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(30)),
            events: EventChannel::default(),
            stats: Publisher::new(Stats::default()),
            instance_id: None,
        }
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> ReloaderBuilder<T> {
    /// Adds a layer on top of the ones added so far.
    ///
    /// The layer's name, the label of its metrics and its name in the status, is its scheme
    /// and position (`file-0`, `etcd-1`); use [`named_layer`](Self::named_layer) to choose it.
    pub fn layer(mut self, provider: impl Provider + 'static) -> Self {
        self.providers.push(Arc::new(provider));
        self.labels.push(None);
        self.secrets.push(None);
        self.optionals.push(None);
        self
    }

    /// Adds a layer named `name` (`defaults`, `team-overrides`): the label of its metrics and
    /// its name in the status and the admin API. Names are unique within a reloader; keep
    /// them few and stable (never a URI or a value).
    pub fn named_layer(
        mut self,
        name: impl Into<String>,
        provider: impl Provider + 'static,
    ) -> Self {
        self.providers.push(Arc::new(provider));
        self.labels.push(Some(name.into()));
        self.secrets.push(None);
        self.optionals.push(None);
        self
    }

    /// Makes the layer added last a *secret layer*: every value it supplies is redacted in
    /// every output (events, errors, logs, the CLI, the admin API, explain), whatever its key
    /// is called, and the last-good file leaves those values out (see
    /// [`secrets_on_disk`](Self::secrets_on_disk)). Sources whose values are secrets by
    /// nature (a Kubernetes Secret, a Vault path) are secret layers without it. On a URI:
    /// `?secret=true`. Called before any layer, [`start`](Self::start) fails.
    ///
    /// Every key path the layer holds is redacted, even where a higher layer overrides it.
    pub fn secret(self) -> Self {
        self.mark_secret(true)
    }

    /// Makes the layer added last an ordinary layer even when its source's values are secrets
    /// by nature (its values then show wherever the redaction policy lets them). On a URI:
    /// `?secret=false`. Called before any layer, [`start`](Self::start) fails.
    pub fn not_secret(self) -> Self {
        self.mark_secret(false)
    }

    fn mark_secret(mut self, secret: bool) -> Self {
        match self.secrets.last_mut() {
            Some(last) => *last = Some(secret),
            None => {
                let call = if secret { "secret()" } else { "not_secret()" };
                self.misplaced.get_or_insert(call);
            }
        }
        self
    }

    /// Makes the layer added last *optional*: while its source is absent, it contributes
    /// nothing and the config is built from the other layers. Absent means a missing file or
    /// directory, a key or namespace that is not there (an `ErrorKind::NotFound` error, or an
    /// empty state), or a server that cannot be reached (`ErrorKind::Unavailable`) before the
    /// layer's first state. The layer joins as an ordinary change, validated like any other,
    /// when its source appears, and leaves as a fallback to the lower layers (guarantee G5)
    /// when it disappears (not found again). Once it has a state, a server that cannot be
    /// reached keeps that state, as for any layer. Content that does not parse, or a refusal
    /// (wrong credentials), is no absence: it holds the start back as for a required layer.
    ///
    /// Layers are required by default. On a URI: `?optional=true`. Called before any layer,
    /// [`start`](Self::start) fails. Do not make optional a layer that carries settings the
    /// service must not run without (see docs/concepts.md).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> hotconf_core::Result<()> {
    /// use hotconf_core::{ErrorKind, Format, Health, MemoryProvider, Reloader};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct App { port: u16 }
    ///
    /// let (base, base_handle) = MemoryProvider::new("memory:base");
    /// base_handle.set_document(Format::Toml, "port = 8080");
    /// let (local, local_handle) = MemoryProvider::new("memory:local");
    /// local_handle.fail(ErrorKind::NotFound, "no local overrides", true);
    /// let reloader = Reloader::<App>::builder()
    ///     .layer(base)
    ///     .layer(local)
    ///     .optional()
    ///     .start()
    ///     .await?;
    /// assert_eq!(reloader.store().load().port, 8080);
    /// assert_eq!(reloader.status().sources[1].health, Health::Absent);
    /// # Ok(()) }
    /// ```
    pub fn optional(self) -> Self {
        self.mark_optional(true)
    }

    /// Makes the layer added last required even when its provider says it is optional (the
    /// default for a layer). Called before any layer, [`start`](Self::start) fails.
    pub fn required(self) -> Self {
        self.mark_optional(false)
    }

    fn mark_optional(mut self, optional: bool) -> Self {
        match self.optionals.last_mut() {
            Some(last) => *last = Some(optional),
            None => {
                let call = if optional { "optional()" } else { "required()" };
                self.misplaced.get_or_insert(call);
            }
        }
        self
    }

    /// Writes what secret layers supply to the last-good file too (default: left out, so a
    /// secret never rests on disk in plain text; a cold start from the file then lacks
    /// them, and a config that needs them is not valid until the secret sources answer).
    pub fn secrets_on_disk(mut self, keep: bool) -> Self {
        self.secrets_on_disk = keep;
        self
    }

    /// The redaction policy: which config values never leave the process (events, errors,
    /// logs, the CLI, the admin API). The default covers keys containing `password`,
    /// `passwd`, `secret`, `token`, `credential`, `private_key`, `api_key` or `access_key`.
    ///
    /// The last-good file ([`last_good_file`](Self::last_good_file)) holds the whole config,
    /// secrets included but for what secret layers ([`secret`](Self::secret)) supply: it is
    /// written with mode 0600 and read only by this process's user.
    pub fn redaction(mut self, policy: Redaction) -> Self {
        self.rules.redaction = Arc::new(policy);
        self
    }

    /// Adds a validator: an `Err` rejects the candidate config (name the key with
    /// [`Error::with_key`] so the event names its source too). A panic is a rejection.
    pub fn validate(
        mut self,
        validator: impl Fn(&T) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.rules.validators.push(Box::new(validator));
        self
    }

    /// Adds an async validator, run after the sync ones on the candidate snapshot (not yet
    /// visible to readers): e.g. try connecting to a new database address.
    pub fn validate_async<F, Fut>(mut self, validator: F) -> Self
    where
        F: Fn(Arc<Snapshot<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.rules
            .async_validators
            .push(Box::new(move |s| Box::pin(validator(s))));
        self
    }

    /// Sets a check run after each swap; if it fails, the previous version is restored (as a new
    /// version with [`Origin::Revert`](crate::Origin::Revert)) and a `rejected` event is emitted.
    pub fn post_apply_check<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(Arc<Snapshot<T>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        self.rules.post_apply = Some(Box::new(move |s| Box::pin(check(s))));
        self
    }

    /// Marks a key (`server.port`) as needing a restart: when it changes in the sources, the
    /// running value is kept and a `restart_required` event is emitted, instead of a silent
    /// half-apply. The rest of the change applies.
    pub fn restart_required(mut self, key: &str) -> Self {
        self.rules.restart_required.push(path::parse(key));
        self
    }

    /// How many applied versions to keep for [`rollback`](crate::ReloaderHandle::rollback). Default 10.
    pub fn history(mut self, versions: usize) -> Self {
        self.rules.history = versions.max(1);
        self
    }

    /// Limits on every document's size and depth.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.rules.limits = limits;
        self
    }

    /// Keeps the last applied config in the *last-good file* `path` (JSON, mode 0600, replaced atomically
    /// after every apply, off the reload path) and starts from it when the sources give no
    /// valid config: at the first error with [`Startup::FailFast`], at the timeout with
    /// [`Startup::Wait`]. The saved config is deserialized and validated like any other; the
    /// store then says [`Origin::Disk`](crate::Origin::Disk) until the sources' first config
    /// replaces it. The file holds the whole config, secrets included: keep it on a private
    /// path. What secret layers supply is left out unless
    /// [`secrets_on_disk`](Self::secrets_on_disk). Guarantee G9.
    pub fn last_good_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.last_good_file = Some(path.into());
        self
    }

    /// The startup policy. Default [`Startup::FailFast`].
    pub fn startup(mut self, startup: Startup) -> Self {
        self.startup = startup;
        self
    }

    /// Names this process in [`Status::instance_id`](crate::Status) (`/config/version`) and
    /// metrics. By default, the id a rollout-following source decides membership with, else
    /// [`instance_id`](crate::instance_id) (`$POD_NAME`, else the host name). Sources decide
    /// membership with their own id (by default the process's: set it once for the whole
    /// process with [`set_instance_id`](crate::set_instance_id) before building them).
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// Waits this long after a change before rebuilding, to gather more changes into one apply.
    /// Default zero: changes that arrive while a rebuild runs are still coalesced.
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// The longest backoff between attempts to restart a failed watch. Default 30 s.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.backoff.max = max;
        self
    }

    /// Subscribes to events before starting, so that startup events are seen too.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// How long an async validator or the post-apply check may run before it counts as
    /// failed (the candidate is rejected, or the applied config reverted). Default 30 s: a
    /// check that hangs must not freeze every later reload, rollback and startup.
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.rules.check_timeout = timeout;
        self
    }

    /// The reloader's counters, from before it starts (see [`ReloaderHandle::stats`](crate::ReloaderHandle::stats)).
    pub fn stats(&self) -> Subscription<Stats> {
        self.stats.subscribe()
    }

    /// Starts following every layer and returns once the first config is applied, as the
    /// [`Startup`] policy says. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// With `FailFast`, the first source error (or one error naming every layer failing at
    /// once) or rejection; with `Wait`, a timeout naming every layer with no first state and
    /// why. An optional layer whose source is absent is no error. No layers at all is a
    /// [`ErrorKind::Config`] error.
    pub async fn start(self) -> Result<Reloader<T>> {
        if self.providers.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "a reloader needs at least one layer",
            ));
        }
        if let Some(call) = self.misplaced {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{call} was called before any layer: call it after the layer it marks"),
            ));
        }
        let names = self.layer_names()?;
        let secret: Vec<bool> = (self.providers.iter().zip(&self.secrets))
            .map(|(provider, chosen)| chosen.unwrap_or_else(|| provider.metadata().secret))
            .collect();
        let optional: Vec<bool> = (self.providers.iter().zip(&self.optionals))
            .map(|(provider, chosen)| chosen.unwrap_or_else(|| provider.metadata().optional))
            .collect();
        let spans = names
            .iter()
            .map(|(layer, _)| tracing::info_span!("source", layer = %layer));
        let mut sources = Sources::follow(&self.providers, spans, self.backoff);
        let stats = Arc::new(self.stats);
        let subscription = stats.subscribe();
        let mut writer = None;
        let disk = self.last_good_file.as_ref().map(|path| {
            let keep = self.secrets_on_disk;
            let (sender, task) = crate::disk::spawn_writer(path.clone(), stats.clone(), keep);
            writer = Some(task);
            sender
        });
        let board = Board::new(&names, |i| optional[i]);
        board.lock().instance_id = self.instance_id.clone();
        let mut engine = Engine::new(
            &LayerId::for_layers(&names, |i| secret[i], |i| optional[i]),
            self.rules,
            self.events.clone(),
            stats,
            disk,
            board.clone(),
        );
        if let Err(error) = first_config(&mut engine, &mut sources, self.startup).await {
            let Some(path) = &self.last_good_file else {
                return Err(error);
            };
            match engine.start_from_disk(path).await {
                Ok(_) => {
                    tracing::warn!(%error, path = %path.display(), "no valid config from the sources: started from the last-good file")
                }
                Err(disk) => {
                    tracing::warn!(error = %disk, "the last-good file cannot be used");
                    return Err(error);
                }
            }
        }
        let store = engine.store().expect("a config was applied");
        let (commands, receiver) = mpsc::channel(16);
        let mut tasks: Vec<JoinHandle<()>> = writer.into_iter().collect();
        tasks.push(tokio::spawn(run(engine, sources, receiver, self.debounce)));
        Ok(Reloader {
            handle: ReloaderHandle {
                store,
                events: self.events,
                stats: subscription,
                commands,
                board,
            },
            _tasks: AbortOnDrop(tasks),
        })
    }

    /// `(layer, source)` of every layer: the given names, or the scheme and position.
    fn layer_names(&self) -> Result<Vec<(String, String)>> {
        let mut names: Vec<(String, String)> = Vec::with_capacity(self.providers.len());
        for (index, (provider, label)) in self.providers.iter().zip(&self.labels).enumerate() {
            let source = provider.metadata().name;
            let label = label
                .clone()
                .unwrap_or_else(|| default_label(&source, index));
            if names.iter().any(|(l, _)| *l == label) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("two layers are named `{label}`: layer names must be unique"),
                ));
            }
            names.push((label, source));
        }
        Ok(names)
    }
}

/// `file-0`, `etcd-1`: a source's scheme and its position.
fn default_label(source: &str, index: usize) -> String {
    let scheme = source
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 16
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+')
        })
        .unwrap_or("layer");
    format!("{}-{index}", scheme.to_ascii_lowercase())
}
