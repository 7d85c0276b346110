//! The last-good file (guarantee G9): the last applied config, written after every apply,
//! atomically and readable by its owner only, so that a service can start when its sources
//! cannot be reached.
//!
//! The file holds the whole merged config, secrets included (but for what secret layers supply,
//! unless the application keeps those too): it is written with mode 0600 and
//! read back only when it is a regular file (not a link), owned by this process's user, with
//! mode 0600. The temporary file beside it is created exclusively under an unpredictable name,
//! so a link planted there is never followed nor renamed into place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{parse, Format, Limits};
use crate::revision::Revision;
use crate::stats::Stats;
use crate::store::Snapshot;
use crate::subscription::Publisher;

/// The file's format version, so a later format can tell an old file apart.
const FORMAT: u64 = 1;

/// What a last-good file holds: the merged config and the revisions it was built from.
pub(crate) struct Saved {
    pub(crate) config: Value,
    pub(crate) revisions: Vec<(String, Revision)>,
    /// The shape of what secret layers supplied, when the file keeps their values: a config
    /// started from the file shows them redacted too.
    pub(crate) secret_shape: Option<Value>,
}

/// Writes `snapshot` to `path`: a new temporary file beside it (mode 0600), flushed to disk,
/// then renamed over `path`, so a reader sees the old file or the new one, never a torn one.
/// What secret layers supply is left out unless `keep_secrets`.
pub(crate) fn write<T>(
    path: &Path,
    snapshot: &Snapshot<T>,
    keep_secrets: bool,
) -> std::io::Result<()> {
    let merged = snapshot.try_merged().map_err(std::io::Error::other)?;
    let redaction = snapshot.redaction();
    let kept;
    let (config, secret_shape) = match redaction.secret_shape() {
        None => (merged, None),
        Some(shape) if keep_secrets => (merged, Some(shape)),
        Some(_) => {
            kept = redaction.without_secret_layers(merged);
            (&kept, None)
        }
    };
    let revisions: Map<String, Value> = snapshot
        .revisions()
        .iter()
        .map(|(layer, revision)| (layer.to_string(), Value::String(revision.to_string())))
        .collect();
    let mut body = json!({
        "hotconf_snapshot": FORMAT,
        "version": snapshot.version(),
        "revisions": revisions,
        "config": config,
    });
    if let Some(shape) = secret_shape {
        body["secret_shape"] = shape.clone();
    }
    let bytes = serde_json::to_vec(&body).map_err(std::io::Error::other)?;
    let (temporary, mut file) = create_temporary(path)?;
    let written = (|| {
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename itself is durable only once the directory is.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Creates a new temporary file beside `path` with a name no one can guess, exclusively
/// (`O_CREAT | O_EXCL`: an existing file or link there is an error, never opened or followed).
fn create_temporary(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::hash::{BuildHasher, Hasher};
    let mut last_error = None;
    for attempt in 0..8u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(attempt);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        let suffix = format!(".tmp-{}-{:016x}", std::process::id(), hasher.finish());
        let temporary = sibling(path, &suffix);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&temporary) {
            Ok(file) => {
                // The umask can only take bits away; make the mode exactly 0600.
                #[cfg(unix)]
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
                return Ok((temporary, file));
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no temporary name was free")))
}

/// Reads a last-good file, with the same size and depth limits as any document.
pub(crate) fn read(path: &Path, limits: &Limits) -> Result<Saved> {
    let name = format!("last-good file {}", path.display());
    let bad = |message: String| {
        Error::new(ErrorKind::Parse, message)
            .with_source_name(name.clone())
            .with_transient(false)
    };
    let bytes =
        read_trusted(path, limits.max_bytes).map_err(|e| e.with_source_name(name.clone()))?;
    let mut body =
        parse(Format::Json, &bytes, limits).map_err(|e| e.with_source_name(name.clone()))?;
    if body["hotconf_snapshot"] != FORMAT {
        return Err(bad(format!(
            "not a hotconf last-good file (format {FORMAT})"
        )));
    }
    let config = body["config"].take();
    if !config.is_object() {
        return Err(bad("the last-good file holds no config".into()));
    }
    let revisions = body["revisions"]
        .as_object()
        .map(|revisions| {
            revisions
                .iter()
                .filter_map(|(name, r)| Some((name.clone(), Revision::Tag(r.as_str()?.to_owned()))))
                .collect()
        })
        .unwrap_or_default();
    let secret_shape = Some(body["secret_shape"].take()).filter(|s| !s.is_null());
    Ok(Saved {
        config,
        revisions,
        secret_shape,
    })
}

/// Reads `path` only when it is a regular file (a link is not followed), owned by this
/// process's user, with mode 0600, and at most `max` bytes. The checks are made on the opened
/// file, so the path cannot be swapped between check and read; the open does not block (a FIFO
/// is refused, not waited on).
#[cfg(unix)]
fn read_trusted(path: &Path, max: usize) -> Result<Vec<u8>> {
    use rustix::fs::{FileType, Mode, OFlags};
    let refused = |message: String| {
        Error::new(
            ErrorKind::PermissionDenied,
            format!("refusing it: {message}"),
        )
        .with_transient(false)
    };
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|errno| match errno {
        rustix::io::Errno::LOOP => refused("it is a symbolic link".into()),
        rustix::io::Errno::NOENT => {
            Error::new(ErrorKind::NotFound, "there is no last-good file yet")
        }
        other => Error::new(ErrorKind::NotFound, "cannot open it")
            .with_cause(std::io::Error::from(other)),
    })?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| {
        Error::new(ErrorKind::NotFound, "cannot stat it").with_cause(std::io::Error::from(e))
    })?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(refused(format!("it is not a regular file ({kind:?})")));
    }
    let owner = rustix::process::geteuid().as_raw();
    if stat.st_uid != owner {
        return Err(refused(format!(
            "it is owned by uid {}, not by this process's uid {owner}",
            stat.st_uid
        )));
    }
    let mode = stat.st_mode & 0o777;
    if mode != 0o600 {
        return Err(refused(format!("its mode is {mode:o}, not 600")));
    }
    read_at_most(std::fs::File::from(fd), stat.st_size.max(0) as u64, max)
}

#[cfg(not(unix))]
fn read_trusted(path: &Path, max: usize) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::new(ErrorKind::NotFound, "cannot open it").with_cause(e))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_at_most(file, len, max)
}

/// Reads at most `max` bytes of `file` (whose metadata says `len`): a file that is or grows
/// larger is refused without being read whole.
fn read_at_most(file: std::fs::File, len: u64, max: usize) -> Result<Vec<u8>> {
    let mut body = crate::provider::BoundedBody::new(max, Some(len))?;
    let mut chunk = vec![0u8; 64 << 10];
    let mut file = file;
    loop {
        let n = file
            .read(&mut chunk)
            .map_err(|e| Error::new(ErrorKind::NotFound, "cannot read it").with_cause(e))?;
        if n == 0 {
            return Ok(body.into_bytes());
        }
        body.push(&chunk[..n])?;
    }
}

/// Where the engine puts the latest applied snapshot for the writer.
pub(crate) type Latest<T> = watch::Sender<Option<Arc<Snapshot<T>>>>;

/// Keeps writing the latest applied snapshot to `path`, off the reload path: the engine only
/// replaces the value in a watch channel, so a slow disk never delays an apply, and a burst of
/// applies writes the last one.
pub(crate) fn spawn_writer<T: Send + Sync + 'static>(
    path: PathBuf,
    stats: Arc<Publisher<Stats>>,
    keep_secrets: bool,
) -> (Latest<T>, tokio::task::JoinHandle<()>) {
    let (sender, mut latest) = watch::channel(None::<Arc<Snapshot<T>>>);
    let task = tokio::spawn(async move {
        while latest.changed().await.is_ok() {
            let Some(snapshot) = latest.borrow_and_update().clone() else {
                continue;
            };
            let path = path.clone();
            let written =
                tokio::task::spawn_blocking(move || (write(&path, &snapshot, keep_secrets), path))
                    .await;
            match written {
                Ok((Ok(()), _)) => stats.send_modify(|s| s.snapshots_written += 1),
                Ok((Err(error), path)) => {
                    tracing::warn!(%error, path = %path.display(), "cannot write the last-good file");
                    stats.send_modify(|s| s.snapshot_failures += 1);
                }
                Err(_) => stats.send_modify(|s| s.snapshot_failures += 1),
            }
        }
    });
    (sender, task)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}
