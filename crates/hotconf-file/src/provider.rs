//! `FileProvider`: a file or directory as a layer, followed through every way it can change.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hotconf_core::provider::{Capabilities, Layer, Metadata, SourceUri, WatchStream};
use hotconf_core::{Error, ErrorKind, Format, Limits, Provider, Result};

use crate::encrypted::{AgeSettings, Identities};
use crate::read::{read_state, FileMode};
use crate::watch::watch;

/// The default wait after a file event before reading, so that the rest of a save (a rename
/// after a write, the kubelet's symlink swap) lands in the same read. See docs/benchmarks.md.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(20);

/// The URI schemes this backend serves: `file:` (and a bare path, which parses as `file:`).
pub const SCHEMES: &[&str] = &[SourceUri::FILE];

/// The default interval of the backstop rescan, which catches events the OS lost.
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(30);

/// A file or directory as a layer: a document (TOML, YAML, JSON, properties), a key-per-file
/// directory (a Kubernetes ConfigMap or Secret mount), or a directory of documents.
///
/// It watches the **parent directory** (never the file alone, whose watch dies with an editor's
/// rename or the kubelet's symlink swap) through one OS watcher shared by the process, ignores
/// access events (reading must not trigger a reload), waits `debounce` after an event, re-reads
/// through symlinks, and yields only when the content hash changed. A periodic rescan catches
/// lost events, and a polling mode serves filesystems without events. A missing file is an
/// error (the last good state stays) until it appears.
///
/// Half-written and mixed states are not read: an empty document is an error (an in-place save
/// truncates first), a document modified and still held open by its writer is read after the
/// writer closes it (Linux; at most 2 s later), and a kubelet mount is read through one
/// resolution of `..data`, read again if it moved meanwhile. Only regular files are read, under
/// [`Limits`](FileProvider::limits), in tokio's blocking pool. See `docs/backends/files.md` for
/// what is and is not detected.
///
/// **age-encrypted files** (feature `age`): a document named `*.age` (`app.yaml.age` is YAML),
/// or any document with `.age(true)` (`?age=true`), binary or armored, is decrypted in memory
/// with the identities of an identity file: `?identity=FILE` (`.age_identity_file(path)`), else
/// the file named by `AGE_IDENTITY_FILE`, else by `SOPS_AGE_KEY_FILE`; or identities given in
/// code (`.age_identities(secret)`). The identity file is read again at each
/// decryption, so a rotated key is picked up. In a directory, an entry `X.age` is decrypted and
/// counts as `X`. The plaintext is parsed by the provider and wiped; the layer's revision is the
/// ciphertext's hash. A wrong key, a corrupted or truncated file, or a plain file given
/// `?age=true` is a transient error naming the file, and the last good config keeps serving.
/// Such a layer is a **secret layer** (every value it supplies redacted in every output, kept
/// out of the last-good file): a `.age` document, and a directory given `?age=true` or an
/// identity, or holding an encrypted entry when the reloader starts (`?secret=false` opts out).
///
/// ```no_run
/// # async fn demo() -> hotconf_core::Result<()> {
/// use hotconf_file::FileProvider;
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
/// let reloader = hotconf_core::Reloader::<App>::builder()
///     .layer(FileProvider::new("/etc/app/config.toml"))
///     .layer(FileProvider::directory("/etc/app/configmap/"))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileProvider {
    pub(crate) path: PathBuf,
    pub(crate) mode: FileMode,
    pub(crate) debounce: Duration,
    pub(crate) rescan: Duration,
    pub(crate) poll: Option<Duration>,
    pub(crate) limits: Limits,
    pub(crate) age: AgeSettings,
    name: String,
    reads: Arc<AtomicU64>,
}

impl FileProvider {
    /// A document, or a key-per-file directory when `path` is an existing directory or ends
    /// with `/`. The document's format comes from its extension.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let is_dir = path.is_dir() || path.to_string_lossy().ends_with('/');
        let mode = if is_dir {
            FileMode::KeyPerFile { typed: false }
        } else {
            FileMode::Document(None)
        };
        FileProvider::with_mode(path, mode)
    }

    /// A key-per-file directory (a ConfigMap or Secret mount).
    pub fn directory(path: impl Into<PathBuf>) -> Self {
        FileProvider::with_mode(path.into(), FileMode::KeyPerFile { typed: false })
    }

    /// A directory of documents merged in name order.
    pub fn documents(path: impl Into<PathBuf>) -> Self {
        FileProvider::with_mode(path.into(), FileMode::Documents)
    }

    fn with_mode(path: PathBuf, mode: FileMode) -> Self {
        let name = format!("file:{}", path.display());
        FileProvider {
            path,
            mode,
            debounce: DEFAULT_DEBOUNCE,
            rescan: DEFAULT_RESCAN,
            poll: None,
            limits: Limits::default(),
            age: AgeSettings::default(),
            name,
            reads: Arc::default(),
        }
    }

    /// A provider from a `file:` URI (or a bare path): `?mode=document|keys|documents`,
    /// `?format=yaml`, `?typed=true` (key-per-file values as scalars), `?poll=2s` (polling, for
    /// filesystems without events), `?debounce=50ms`; with the `age` feature, `?age=true|false`
    /// (`.age(..)`) and `?identity=FILE` (`.age_identity_file(..)`).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for another scheme or a bad option, and for `?age=true` or
    /// `?identity=` in a build without the `age` feature.
    pub fn from_uri(uri: &SourceUri) -> Result<Self> {
        uri.expect_scheme(SCHEMES)?;
        let mut query = uri.query();
        let mut provider = match query.choice("mode", &["document", "keys", "documents"])? {
            Some("documents") => FileProvider::documents(&uri.path),
            Some("keys") => FileProvider::directory(&uri.path),
            _ => FileProvider::new(&uri.path),
        };
        if query.flag("typed")? {
            provider = provider.typed();
        }
        if let Some(format) = query.format()? {
            provider = provider.format(format);
        }
        if let Some(poll) = query.duration("poll")? {
            provider = provider.polling(poll);
        }
        if let Some(debounce) = query.duration("debounce")? {
            provider = provider.debounce(debounce);
        }
        let flag = match query.get("age") {
            None => None,
            Some("" | "true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(other) => {
                return Err(uri.error(format_args!("age is `true` or `false`, not `{other}`")))
            }
        };
        provider.age = provider.age.with_flag(flag);
        if let Some(identity) = query.get("identity") {
            let identities = Identities::File(PathBuf::from(identity));
            provider.age = provider.age.with_identities(identities);
        }
        query.finish()?;
        if !cfg!(feature = "age") && provider.age.explicit() {
            return Err(uri.error(
                "age-encrypted files (?age=true, ?identity=) need the `age` feature of hotconf",
            ));
        }
        Ok(provider)
    }

    /// Reads the file as a document in `format`, whatever its extension.
    pub fn format(mut self, format: Format) -> Self {
        self.mode = FileMode::Document(Some(format));
        self
    }

    /// Types key-per-file values as JSON scalars (`5432` a number, `true` a boolean).
    pub fn typed(mut self) -> Self {
        if let FileMode::KeyPerFile { typed } = &mut self.mode {
            *typed = true;
        }
        self
    }

    /// `true`: the source holds age-encrypted content: the document is decrypted whatever its
    /// name, and a directory is a secret layer (its `X.age` entries decrypted as always).
    /// `false`: nothing is decrypted, and a `.age` file is read as it is. By default, a
    /// document is decrypted when its name ends with `.age`.
    #[cfg(feature = "age")]
    #[cfg_attr(docsrs, doc(cfg(feature = "age")))]
    pub fn age(mut self, encrypted: bool) -> Self {
        self.age = self.age.with_flag(Some(encrypted));
        self
    }

    /// Decrypts with the identities of the file at `path` (one or more `AGE-SECRET-KEY-1…`
    /// lines and comments, as `age-keygen` writes), read again at each decryption. Without
    /// it, the file named by `AGE_IDENTITY_FILE` or else `SOPS_AGE_KEY_FILE` is used.
    #[cfg(feature = "age")]
    #[cfg_attr(docsrs, doc(cfg(feature = "age")))]
    pub fn age_identity_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.age = self.age.with_identities(Identities::File(path.into()));
        self
    }

    /// Decrypts with `identities`, the text of an identity file (one or more
    /// `AGE-SECRET-KEY-1…` lines), from wherever the application keeps it. It never appears in
    /// `Debug` output or errors.
    #[cfg(feature = "age")]
    #[cfg_attr(docsrs, doc(cfg(feature = "age")))]
    pub fn age_identities(mut self, identities: hotconf_core::Secret) -> Self {
        self.age = self.age.with_identities(Identities::Inline(identities));
        self
    }

    /// The wait after an event before reading. Default [`DEFAULT_DEBOUNCE`].
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// The interval of the backstop rescan. Default [`DEFAULT_RESCAN`].
    pub fn rescan_interval(mut self, interval: Duration) -> Self {
        self.rescan = interval;
        self
    }

    /// Polls every `interval` instead of using OS events (NFS, some container filesystems).
    pub fn polling(mut self, interval: Duration) -> Self {
        self.poll = Some(interval);
        self
    }

    /// The size limits enforced while reading: `max_bytes` for each file, `max_total_bytes` and
    /// `max_keys` for a directory. Default [`Limits::default()`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The source's printable name (`file:PATH`).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The directory whose events matter: the parent of a document, or the directory itself.
    pub(crate) fn watched_dir(&self) -> PathBuf {
        match self.mode {
            FileMode::Document(_) => match self.path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            },
            FileMode::KeyPerFile { .. } | FileMode::Documents => self.path.clone(),
        }
    }

    /// How many times this provider (and its clones) read the source: how tests prove that
    /// reading never triggers another read.
    #[cfg(test)]
    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Reads the source on tokio's blocking pool: file I/O (a slow disk, a network filesystem)
    /// never stalls a runtime worker.
    pub(crate) async fn read(&self) -> Result<Layer> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let (path, mode, limits) = (self.path.clone(), self.mode, self.limits);
        let age = self.age.clone();
        tokio::task::spawn_blocking(move || read_state(&path, mode, &limits, &age))
            .await
            .unwrap_or_else(|e| {
                Err(Error::new(ErrorKind::Other, "the read stopped")
                    .with_transient(true)
                    .with_cause(e))
            })
            .map_err(|e| e.with_source_name(self.name.clone()))
    }
}

#[async_trait]
impl Provider for FileProvider {
    /// A secret layer for age-encrypted content (see [`FileProvider`]), decided at the first
    /// call and the same for the provider's life (and its clones').
    fn metadata(&self) -> Metadata {
        let metadata = Metadata::new(self.name.clone(), Capabilities::WATCH.permanent_failures());
        let secret = self.age.declare(|| match self.mode {
            FileMode::Document(_) => self.age.document_encrypted(&self.path),
            FileMode::KeyPerFile { .. } | FileMode::Documents => {
                self.age.directory_secret(&self.path, self.limits.max_keys)
            }
        });
        if secret {
            metadata.secret()
        } else {
            metadata
        }
    }

    async fn load(&self) -> Result<Layer> {
        self.read().await
    }

    async fn watch(&self) -> Result<WatchStream> {
        Ok(watch(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_modes() {
        let p = FileProvider::from_uri(&"file:/etc/app/?mode=documents&poll=2s".parse().unwrap())
            .unwrap();
        assert_eq!(
            (p.mode, p.poll),
            (FileMode::Documents, Some(Duration::from_secs(2)))
        );
        let p = FileProvider::from_uri(&"./app.conf?format=yaml&debounce=5ms".parse().unwrap())
            .unwrap();
        assert_eq!(
            (p.mode, p.debounce),
            (
                FileMode::Document(Some(Format::Yaml)),
                Duration::from_millis(5)
            )
        );
        assert_eq!(p.watched_dir(), PathBuf::from("."));
        assert_eq!(
            FileProvider::new("app.toml").watched_dir(),
            PathBuf::from(".")
        );
        assert_eq!(
            FileProvider::new("/etc/cm/").mode,
            FileMode::KeyPerFile { typed: false }
        );
        let p = FileProvider::from_uri(&"file:/etc/cm/?typed=true".parse().unwrap()).unwrap();
        assert_eq!(p.mode, FileMode::KeyPerFile { typed: true });
        assert!(FileProvider::from_uri(&"file:x?mode=weird".parse().unwrap()).is_err());
        assert!(FileProvider::from_uri(&"file:x?poll=2h".parse().unwrap()).is_err());
        assert!(FileProvider::from_uri(&"env:APP_".parse().unwrap()).is_err());
        let typo = FileProvider::from_uri(&"file:x?pol=2s".parse().unwrap()).unwrap_err();
        assert!(
            typo.to_string().contains("unknown parameter `pol`"),
            "{typo}"
        );
    }
}
