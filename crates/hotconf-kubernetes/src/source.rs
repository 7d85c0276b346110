//! What a Kubernetes provider follows ([`KubernetesSource`]: one ConfigMap or Secret, or one data
//! key of it), and the `k8s://` URI that describes a client and a source at once.

use std::path::PathBuf;

use hotconf_core::provider::SourceUri;
use hotconf_core::{Error, ErrorKind, Format, Result};

use crate::client::ClientConfig;

/// The URI schemes this backend serves: `k8s://`.
pub const SCHEMES: &[&str] = &["k8s"];

/// The kind of object a [`KubernetesSource`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A `v1` ConfigMap: its `data` (UTF-8 strings); `binaryData` is ignored.
    ConfigMap,
    /// A `v1` Secret: its `data`, base64-decoded; a value that is not UTF-8 is an error naming
    /// its key.
    Secret,
}

impl ObjectKind {
    /// The kind as written in a `k8s://` URI: `configmap` or `secret`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "configmap",
            ObjectKind::Secret => "secret",
        }
    }
}

/// What a [`KubernetesProvider`](crate::KubernetesProvider) follows: one ConfigMap or Secret in a
/// namespace, as the same config the kubelet's mount of it gives
/// `FileProvider::directory(mount).typed()` (every `data` key a key, nested on `.`, values typed
/// as JSON scalars), or one of its data keys as a whole document ([`key`](Self::key)).
///
/// ```
/// use hotconf_kubernetes::{KubernetesSource, ObjectKind};
/// let source = KubernetesSource::config_map("prod", "app-config").key("app.yaml");
/// assert_eq!(source.kind(), ObjectKind::ConfigMap);
/// assert!(!source.is_secret());
/// assert!(KubernetesSource::secret("prod", "app-credentials").is_secret());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSource {
    pub(crate) kind: ObjectKind,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) key: Option<String>,
    pub(crate) format: Option<Format>,
    pub(crate) typed: bool,
}

impl KubernetesSource {
    /// The ConfigMap `name` in `namespace`.
    pub fn config_map(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        KubernetesSource::new(ObjectKind::ConfigMap, namespace.into(), name.into())
    }

    /// The Secret `name` in `namespace`.
    pub fn secret(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        KubernetesSource::new(ObjectKind::Secret, namespace.into(), name.into())
    }

    fn new(kind: ObjectKind, namespace: String, name: String) -> Self {
        KubernetesSource {
            kind,
            namespace,
            name,
            key: None,
            format: None,
            typed: true,
        }
    }

    /// Takes the data key `key` alone as the whole document, its format from `key`'s extension
    /// (`app.yaml`) or from [`format`](Self::format). A key the object lacks is an empty layer,
    /// as a missing object is.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The format of the [`key`](Self::key)'s document, whatever its extension.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Keeps every value a string, as `FileProvider::directory(mount)` without `.typed()` does
    /// (by default values are typed: `8080` is a number, `true` a boolean, as with `.typed()`).
    pub fn untyped(mut self) -> Self {
        self.typed = false;
        self
    }

    /// The kind of object followed.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// The object's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The object's name.
    pub fn object_name(&self) -> &str {
        &self.name
    }

    /// The data key taken as the whole document, if any.
    pub fn data_key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Whether this source reads a Secret: every value it supplies is a credential. The core's
    /// secret layers (redaction of every value a secret layer supplies, guarantee G13) hook in
    /// here.
    pub fn is_secret(&self) -> bool {
        self.kind == ObjectKind::Secret
    }

    /// The format of the [`key`](Self::key)'s document: explicit, else from its extension.
    ///
    /// # Errors
    /// A permanent [`ErrorKind::Config`] error when a key is set and neither tells it.
    pub(crate) fn document_format(&self) -> Result<Option<Format>> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        match self.format.or_else(|| Format::from_path(key)) {
            Some(format) => Ok(Some(format)),
            None => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "k8s: cannot tell the format of data key `{key}` from its extension: give one (?format=yaml, or .format(..))"
                ),
            )),
        }
    }

    /// The `metadata.name` field selector that restricts a list and a watch to this object (and
    /// that RBAC's `resourceNames` requires for `list` and `watch`).
    pub(crate) fn field_selector(&self) -> String {
        format!("metadata.name={}", self.name)
    }

    /// `kind `namespace/name``, for messages.
    pub(crate) fn describe(&self) -> String {
        format!("{} `{}/{}`", self.kind.as_str(), self.namespace, self.name)
    }
}

/// Parses `k8s://NAMESPACE/configmap|secret/NAME?key=K&format=F&typed=false&context=C&kubeconfig=FILE`
/// into client settings and a source.
pub(crate) fn from_uri(uri: &SourceUri) -> Result<(ClientConfig, KubernetesSource)> {
    uri.expect_scheme(SCHEMES)?;
    if uri.username.is_some() || uri.password.is_some() {
        return Err(uri.error(
            "credentials come from the kubeconfig or the pod's service account, not the URI",
        ));
    }
    let namespace = match uri.endpoints.as_slice() {
        [namespace] if is_dns_name(namespace) => namespace.clone(),
        [] => {
            return Err(uri.error(
                "give a namespace after the scheme: k8s://NAMESPACE/configmap/NAME or k8s://NAMESPACE/secret/NAME",
            ))
        }
        _ => return Err(uri.error("the host part is one namespace (a DNS label)")),
    };
    let path = uri.path.trim_start_matches('/');
    let (kind, name) = match path.split_once('/') {
        Some(("configmap", name)) => (ObjectKind::ConfigMap, name),
        Some(("secret", name)) => (ObjectKind::Secret, name),
        _ => {
            return Err(uri.error(
                "the path is configmap/NAME or secret/NAME: k8s://NAMESPACE/configmap/NAME",
            ))
        }
    };
    if !is_dns_name(name) {
        return Err(uri.error(format_args!(
            "`{name}` is not an object name (lowercase letters, digits, `-` and `.`)"
        )));
    }
    let mut query = uri.query();
    let mut source = KubernetesSource::new(kind, namespace, name.to_owned());
    if let Some(key) = query.get("key") {
        if !is_data_key(key) {
            return Err(uri.error(format_args!(
                "`{key}` is not a data key (letters, digits, `-`, `_` and `.`)"
            )));
        }
        source.key = Some(key.to_owned());
    }
    source.format = query.format()?;
    if source.format.is_some() && source.key.is_none() {
        return Err(uri.error(
            "format= is the format of one data key's document: give the key too (?key=app.conf&format=yaml)",
        ));
    }
    if source.key.is_some() {
        source.document_format().map_err(|_| {
            uri.error(
                "cannot tell the format of the key from its extension: give one (?format=yaml)",
            )
        })?;
    }
    if uri.param("typed").is_some() {
        source.typed = query.flag("typed")?;
    }
    let client = ClientConfig {
        context: query.get("context").map(str::to_owned),
        kubeconfig: query.get("kubeconfig").map(PathBuf::from),
        ..ClientConfig::default()
    };
    query.finish()?;
    Ok((client, source))
}

/// The source's printable name: its `k8s://` URI, with the parameters that change what it reads.
pub(crate) fn name(client: &ClientConfig, source: &KubernetesSource) -> String {
    let mut params = Vec::new();
    if let Some(key) = &source.key {
        params.push(format!("key={key}"));
    }
    if let Some(format) = source.format {
        params.push(format!("format={}", format.as_str()));
    }
    if !source.typed && source.key.is_none() {
        params.push("typed=false".to_owned());
    }
    if let Some(context) = &client.context {
        params.push(format!("context={context}"));
    }
    if let Some(path) = &client.kubeconfig {
        params.push(format!("kubeconfig={}", path.display()));
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    format!(
        "k8s://{}/{}/{}{query}",
        source.namespace,
        source.kind.as_str(),
        source.name
    )
}

/// A namespace or object name: a DNS subdomain (lowercase alphanumerics, `-` and `.`, at most
/// 253 characters, starting and ending with an alphanumeric).
fn is_dns_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !name.is_empty()
        && name.len() <= 253
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// A ConfigMap or Secret data key: `[-._a-zA-Z0-9]+`.
fn is_data_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(ClientConfig, KubernetesSource)> {
        from_uri(&s.parse().unwrap())
    }

    fn refused(s: &str) -> String {
        let error = parse(s).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config, "{error}");
        error.to_string()
    }

    #[test]
    fn a_config_map_and_a_secret_are_named_by_namespace_kind_and_name() {
        let (client, source) = parse("k8s://prod/configmap/app-config").unwrap();
        assert_eq!(source, KubernetesSource::config_map("prod", "app-config"));
        assert_eq!(client, ClientConfig::default());
        assert_eq!(name(&client, &source), "k8s://prod/configmap/app-config");
        assert!(source.typed && !source.is_secret());

        let (client, source) = parse("k8s://kube-system/secret/db.credentials").unwrap();
        assert_eq!(
            source,
            KubernetesSource::secret("kube-system", "db.credentials")
        );
        assert!(source.is_secret());
        assert_eq!(
            name(&client, &source),
            "k8s://kube-system/secret/db.credentials"
        );
        assert_eq!(source.field_selector(), "metadata.name=db.credentials");
    }

    #[test]
    fn key_format_typed_context_and_kubeconfig_are_read() {
        let (client, source) =
            parse("k8s://prod/configmap/app?key=app.yaml&context=staging&kubeconfig=/tmp/kc")
                .unwrap();
        assert_eq!(source.data_key(), Some("app.yaml"));
        assert_eq!(source.document_format().unwrap(), Some(Format::Yaml));
        assert_eq!(client.context.as_deref(), Some("staging"));
        assert_eq!(client.kubeconfig, Some(PathBuf::from("/tmp/kc")));
        assert_eq!(
            name(&client, &source),
            "k8s://prod/configmap/app?key=app.yaml&context=staging&kubeconfig=/tmp/kc"
        );

        let (_, source) = parse("k8s://prod/secret/app?key=settings&format=toml").unwrap();
        assert_eq!(source.document_format().unwrap(), Some(Format::Toml));
        let (client, source) = parse("k8s://prod/configmap/app?typed=false").unwrap();
        assert!(!source.typed);
        assert_eq!(
            name(&client, &source),
            "k8s://prod/configmap/app?typed=false"
        );
        assert!(
            parse("k8s://prod/configmap/app?typed=true")
                .unwrap()
                .1
                .typed
        );
    }

    #[test]
    fn malformed_uris_are_refused_with_a_reason() {
        assert!(refused("k8s:///configmap/app").contains("give a namespace"));
        assert!(refused("k8s://prod/configmaps/app").contains("configmap/NAME"));
        assert!(refused("k8s://prod/deployment/app").contains("configmap/NAME"));
        assert!(refused("k8s://prod/configmap").contains("configmap/NAME"));
        assert!(refused("k8s://prod/configmap/").contains("not an object name"));
        assert!(refused("k8s://prod/configmap/App").contains("not an object name"));
        assert!(refused("k8s://prod/configmap/a/b").contains("not an object name"));
        assert!(refused("k8s://Prod/configmap/app").contains("namespace"));
        assert!(refused("k8s://a,b/configmap/app").contains("one namespace"));
        assert!(refused("k8s://prod:443/configmap/app").contains("one namespace"));
        assert!(refused("k8s://prod/configmap/app?key=a/b").contains("not a data key"));
        assert!(refused("k8s://prod/configmap/app?key=settings").contains("format"));
        assert!(refused("k8s://prod/configmap/app?format=yaml").contains("give the key too"));
        assert!(refused("k8s://prod/configmap/app?key=a.yaml&format=xml").contains("xml"));
        assert!(refused("k8s://prod/configmap/app?typed=maybe").contains("typed"));
        assert!(refused("etcd://prod/configmap/app").contains("k8s"));
        let typo = refused("k8s://prod/configmap/app?contxt=x&token=s3cr3t");
        assert!(typo.contains("unknown parameter `contxt`"), "{typo}");
        assert!(!typo.contains("s3cr3t"), "{typo}");
        let user = refused("k8s://admin:hunter2@prod/configmap/app");
        assert!(
            user.contains("service account") && !user.contains("hunter2"),
            "{user}"
        );
    }

    #[test]
    fn a_key_without_a_known_extension_needs_a_format() {
        let source = KubernetesSource::config_map("ns", "cm").key("settings");
        let error = source.document_format().unwrap_err();
        assert_eq!(
            (error.kind(), error.is_transient()),
            (ErrorKind::Config, false)
        );
        assert!(error.to_string().contains("`settings`"), "{error}");
        let source = source.format(Format::Json);
        assert_eq!(source.document_format().unwrap(), Some(Format::Json));
        assert_eq!(
            KubernetesSource::config_map("ns", "cm")
                .document_format()
                .unwrap(),
            None
        );
    }
}
