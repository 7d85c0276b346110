//! `KubernetesClient`: one kube-rs client, built on first use from kube's config inference,
//! shared by any number of providers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hotconf_core::provider::ClientState;
use hotconf_core::{Error, ErrorKind, Limits, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The default [`KubernetesClient::request_timeout`]: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach the API server: the settings of a [`KubernetesClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClientConfig {
    /// The kubeconfig context to use (default: the current context).
    pub(crate) context: Option<String>,
    /// A kubeconfig file to read instead of `KUBECONFIG` / `~/.kube/config` / the pod's service
    /// account.
    pub(crate) kubeconfig: Option<PathBuf>,
    /// The deadline of a list (a watch is bounded by its own timeout instead).
    pub(crate) request_timeout: Duration,
    /// Bounds on what one object may hold.
    pub(crate) limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            context: None,
            kubeconfig: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            limits: Limits::default(),
        }
    }
}

/// A client of one Kubernetes API server. Cheap to clone; one client serves any number of
/// [`KubernetesProvider`](crate::KubernetesProvider)s.
///
/// Making one never fails and does no I/O. On first use it builds kube-rs's
/// [`Client`](kube::Client) from kube's config inference ([`kube::Config::infer`]): the
/// kubeconfig named by `KUBECONFIG` or `~/.kube/config` when there is one, else the pod's
/// service account (`/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}` and
/// `KUBERNETES_SERVICE_HOST`/`_PORT`), whose token file kube re-reads as the kubelet rotates it.
/// [`context`](Self::context) picks a kubeconfig context, [`kubeconfig`](Self::kubeconfig) a
/// kubeconfig file. A configuration that cannot be found or read is a permanent
/// [`ErrorKind::Config`] error of that first use.
///
/// When the API server answers **401 Unauthorized** the client is built again for the next
/// request, reading the kubeconfig or the service account anew: a token written into the
/// kubeconfig (`token:`, read once by kube) or a token file that kube has not yet re-read is
/// followed on the first retry instead of never or after about a minute.
///
/// ```
/// use hotconf_kubernetes::{KubernetesClient, KubernetesProvider, KubernetesSource};
/// let client = KubernetesClient::new(); // in a pod: its service account
/// let config = KubernetesProvider::new(&client, KubernetesSource::config_map("prod", "app"));
/// let secret = KubernetesProvider::new(&client, KubernetesSource::secret("prod", "app-db"));
/// assert_eq!(config.name(), "k8s://prod/configmap/app");
/// ```
#[derive(Debug, Clone, Default)]
pub struct KubernetesClient {
    state: ClientState<ClientConfig, Built>,
}

/// The kube-rs client built from the settings, if it is built and was not refused since.
type Built = Mutex<Option<Arc<kube::Client>>>;

impl KubernetesClient {
    /// A client of the cluster kube's inference finds (see the type's documentation).
    pub fn new() -> Self {
        KubernetesClient::default()
    }

    pub(crate) fn from_config(config: ClientConfig) -> Self {
        KubernetesClient {
            state: ClientState::new(config),
        }
    }

    fn edit(self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        KubernetesClient {
            state: self.state.edit(change),
        }
    }

    /// Uses the kubeconfig context `name` instead of the current one.
    pub fn context(self, name: impl Into<String>) -> Self {
        self.edit(|c| c.context = Some(name.into()))
    }

    /// Reads the kubeconfig at `path` instead of inferring the configuration (tests, tools).
    pub fn kubeconfig(self, path: impl Into<PathBuf>) -> Self {
        self.edit(|c| c.kubeconfig = Some(path.into()))
    }

    /// Sets the deadline of a list request; an API server that takes longer is a transient
    /// `unavailable` error. Default [`DEFAULT_REQUEST_TIMEOUT`] (30 s); zero is taken as 1 ms.
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.edit(|c| c.request_timeout = timeout.max(Duration::from_millis(1)))
    }

    /// Sets the bounds on each followed object: at most `max_keys` data keys and
    /// `max_total_bytes` bytes of keys and values, no value above `max_bytes`. Default
    /// [`Limits::default`] (the API server's own limit is 1 MiB per object).
    pub fn limits(self, limits: Limits) -> Self {
        self.edit(|c| c.limits = limits)
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        self.state.config()
    }

    /// The kube-rs client, built on first use and after [`forget`](Self::forget), shared by
    /// this client's clones.
    pub(crate) async fn client(&self) -> Result<Arc<kube::Client>> {
        if let Some(built) = self.lock().as_ref() {
            return Ok(built.clone());
        }
        let fresh = Arc::new(build(self.config().clone()).await?);
        // Two builds may race: the first one stored is the one every caller shares.
        Ok(self.lock().get_or_insert(fresh).clone())
    }

    /// Drops `refused` (the API server answered it with 401) so that the next request builds
    /// the client again from the kubeconfig or service account as they are now. A client
    /// already rebuilt by another follower is kept.
    pub(crate) fn forget(&self, refused: &Arc<kube::Client>) {
        let mut built = self.lock();
        if built.as_ref().is_some_and(|b| Arc::ptr_eq(b, refused)) {
            *built = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<kube::Client>>> {
        // The guarded value is a plain Option: a panic elsewhere cannot leave it half-written.
        self.state
            .built()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

async fn build(settings: ClientConfig) -> Result<kube::Client> {
    let options = KubeConfigOptions {
        context: settings.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&settings.kubeconfig, &settings.context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).map_err(|e| {
                config_error(format!("cannot read the kubeconfig {}", path.display()), e)
            })?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| {
                    config_error(format!("cannot use the kubeconfig {}", path.display()), e)
                })?
        }
        (None, Some(context)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| config_error(format!("cannot use the kubeconfig context `{context}`"), e))?,
        (None, None) => kube::Config::infer().await.map_err(|e| {
            config_error(
                "found no cluster: no kubeconfig (KUBECONFIG, ~/.kube/config) and not in a pod with a service account"
                    .to_owned(),
                e,
            )
        })?,
    };
    kube::Client::try_from(config)
        .map_err(|e| config_error("cannot build the client".to_owned(), e))
}

/// A permanent configuration error: the reloader fails fast at startup.
fn config_error(what: String, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Config, format!("k8s: {what}: {cause}")).with_cause(cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kubeconfig_that_cannot_be_read_is_a_permanent_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let client = KubernetesClient::new().kubeconfig(dir.path().join("missing"));
        let Err(error) = client.client().await else {
            panic!("built")
        };
        assert_eq!(
            (error.kind(), error.is_transient()),
            (ErrorKind::Config, false)
        );
        assert!(error.to_string().contains("missing"), "{error}");
    }

    #[tokio::test]
    async fn a_plain_http_server_in_a_kubeconfig_builds_a_client_without_io() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let client = KubernetesClient::new().kubeconfig(&path);
        client.client().await.unwrap();
        let other = client.clone().context("other");
        other.client().await.unwrap();
        let Err(error) = client.context("nowhere").client().await else {
            panic!("built")
        };
        assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    }

    pub(crate) const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster: {server: 'http://127.0.0.1:9'}
contexts:
- name: test
  context: {cluster: test, user: test, namespace: default}
- name: other
  context: {cluster: test, user: test}
users:
- name: test
  user: {token: not-a-real-token}
";
}
