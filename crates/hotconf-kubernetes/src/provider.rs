//! `KubernetesProvider`: a ConfigMap or a Secret as a layer, on the provider scaffold.

use std::sync::Arc;

use hotconf_core::provider::{Capabilities, Follow, FollowedProvider, FollowedSource, SourceUri};
use hotconf_core::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::client::KubernetesClient;
use crate::follow::Follower;
use crate::source::{self, KubernetesSource, ObjectKind};

/// A ConfigMap or a Secret followed from the API server, as a layer: the same config that
/// `FileProvider::directory(mount).typed()` builds from the kubelet's mount of it, without the
/// mount's delay, and for objects that are not mounted at all.
///
/// Made with `KubernetesProvider::new(&client, KubernetesSource::config_map(namespace, name))`
/// (or `::secret(namespace, name)`, `.key("app.yaml")` for one data key as the document), or
/// with its own client from `KubernetesProvider::from_uri` and
/// `k8s://NAMESPACE/configmap/NAME` or `k8s://NAMESPACE/secret/NAME`, with
/// `?key=K` (one data key as the whole document, its format from K's extension or
/// `&format=yaml`), `?typed=false` (values kept as strings), `?context=C` (a kubeconfig
/// context) and `?kubeconfig=FILE` (a kubeconfig file instead of kube's inference). Its name is
/// the URI.
///
/// The object's resourceVersion is the layer's revision ([`Revision::Tag`](hotconf_core::Revision::Tag):
/// opaque, never compared). An object that does not exist, or that is deleted, is an empty
/// layer (lower layers show through); its creation is seen. A 403 (RBAC) or a 404 (the
/// namespace) is a transient error naming the source while the last good config keeps serving.
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_kubernetes::{KubernetesClient, KubernetesProvider, KubernetesSource};
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let client = KubernetesClient::new();
/// let provider = KubernetesProvider::new(&client, KubernetesSource::config_map("prod", "app"));
/// let reloader = hotconf_core::Reloader::<App>::builder().layer(provider).start().await?;
/// # Ok(()) }
/// ```
pub type KubernetesProvider = FollowedProvider<KubernetesSource>;

impl FollowedSource for KubernetesSource {
    type Client = KubernetesClient;

    fn capabilities(&self) -> Capabilities {
        Capabilities::WATCH.interruptible().permanent_failures()
    }

    /// A Secret's layer is a secret layer: every value it supplies is redacted in every output
    /// (`.not_secret()` on the builder, `?secret=false` on the URI, opt out).
    fn secret(&self) -> bool {
        self.is_secret()
    }

    fn name(&self, client: &KubernetesClient) -> String {
        source::name(client.config(), self)
    }

    fn from_uri(uri: &SourceUri) -> Result<(KubernetesClient, KubernetesSource)> {
        let (config, source) = source::from_uri(uri)?;
        Ok((KubernetesClient::from_config(config), source))
    }

    fn follower(
        self: &Arc<Self>,
        client: &KubernetesClient,
        _: &str,
        _: bool,
    ) -> Result<Box<dyn Follow>> {
        // A key whose format cannot be told is a permanent configuration error.
        self.document_format()?;
        let (client, source) = (client.clone(), self.clone());
        Ok(match self.kind {
            ObjectKind::ConfigMap => Box::new(Follower::<ConfigMap>::new(client, source)),
            ObjectKind::Secret => Box::new(Follower::<Secret>::new(client, source)),
        })
    }
}

#[cfg(test)]
mod tests {
    use hotconf_core::Provider;

    use super::*;

    #[test]
    fn a_secrets_layer_is_a_secret_layer_and_a_config_maps_is_not() {
        let client = KubernetesClient::new();
        let secret = KubernetesProvider::new(&client, KubernetesSource::secret("prod", "creds"));
        let config_map =
            KubernetesProvider::new(&client, KubernetesSource::config_map("prod", "app"));
        assert!(secret.metadata().secret);
        assert!(!config_map.metadata().secret);
    }
}
