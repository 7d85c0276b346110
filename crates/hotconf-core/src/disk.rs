//! The last good config on disk (guarantee G9): written after every apply, atomically and
//! readable by its owner only, so that a service can start when its sources cannot be reached.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{parse, Format, Limits};
use crate::revision::Revision;
use crate::stats::Stats;
use crate::store::Snapshot;

/// The file's format version, so a later format can tell an old file apart.
const FORMAT: u64 = 1;

/// What a snapshot file holds: the merged config and the revisions it was built from.
pub(crate) struct Saved {
    pub(crate) config: Value,
    pub(crate) revisions: Vec<(String, Revision)>,
}

/// Writes `snapshot` to `path`: a temporary file beside it (mode 0600), flushed to disk, then
/// renamed over `path`, so a reader sees the old file or the new one, never a torn one.
pub(crate) fn write<T>(path: &Path, snapshot: &Snapshot<T>) -> std::io::Result<()> {
    let revisions: Map<String, Value> = snapshot
        .revisions()
        .iter()
        .map(|(name, revision)| (name.clone(), Value::String(revision.to_string())))
        .collect();
    let body = json!({
        "hotconf_snapshot": FORMAT,
        "version": snapshot.version(),
        "revisions": revisions,
        "config": snapshot.merged(),
    });
    let bytes = serde_json::to_vec(&body).map_err(std::io::Error::other)?;
    let temporary = sibling(path, &format!(".tmp-{}", std::process::id()));
    let written = (|| {
        // A leftover from a crash could have other permissions: start from a new file.
        let _ = std::fs::remove_file(&temporary);
        let mut file = owner_only().open(&temporary)?;
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

/// Reads a snapshot file, with the same size and depth limits as any document.
pub(crate) fn read(path: &Path, limits: &Limits) -> Result<Saved> {
    let name = format!("snapshot file {}", path.display());
    let bad = |message: String| {
        Error::new(ErrorKind::Parse, message)
            .with_source_name(name.clone())
            .with_transient(false)
    };
    let bytes = std::fs::read(path).map_err(|e| {
        Error::new(ErrorKind::NotFound, "cannot read the snapshot")
            .with_source_name(name.clone())
            .with_cause(e)
    })?;
    let mut body =
        parse(Format::Json, &bytes, limits).map_err(|e| e.with_source_name(name.clone()))?;
    if body["hotconf_snapshot"] != FORMAT {
        return Err(bad(format!("not a hotconf snapshot (format {FORMAT})")));
    }
    let config = body["config"].take();
    if !config.is_object() {
        return Err(bad("the snapshot holds no config".into()));
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
    Ok(Saved { config, revisions })
}

/// Where the engine puts the latest applied snapshot for the writer.
pub(crate) type Latest<T> = watch::Sender<Option<Arc<Snapshot<T>>>>;

/// Keeps writing the latest applied snapshot to `path`, off the reload path: the engine only
/// replaces the value in a watch channel, so a slow disk never delays an apply, and a burst of
/// applies writes the last one.
pub(crate) fn spawn_writer<T: Send + Sync + 'static>(
    path: PathBuf,
    stats: Arc<watch::Sender<Stats>>,
) -> (Latest<T>, tokio::task::JoinHandle<()>) {
    let (sender, mut latest) = watch::channel(None::<Arc<Snapshot<T>>>);
    let task = tokio::spawn(async move {
        while latest.changed().await.is_ok() {
            let Some(snapshot) = latest.borrow_and_update().clone() else {
                continue;
            };
            let path = path.clone();
            let written =
                tokio::task::spawn_blocking(move || (write(&path, &snapshot), path)).await;
            match written {
                Ok((Ok(()), _)) => stats.send_modify(|s| s.snapshots_written += 1),
                Ok((Err(error), path)) => {
                    tracing::warn!(%error, path = %path.display(), "cannot write the config snapshot");
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

fn owner_only() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}
