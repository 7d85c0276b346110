//! One OS watcher per process, shared by every file provider (inotify instances are a scarce,
//! per-user resource: 128 by default). Providers subscribe to a directory and get poked on any
//! event in it other than an access (a close after writing excepted); a queue overflow pokes
//! everyone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use hotconf_core::{Error, ErrorKind, Result};
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

type Subscribers = HashMap<PathBuf, Vec<(u64, Arc<Notify>)>>;

/// The watcher. Held while (un)watching; never taken by the event handler, because notify's
/// `watch` waits for its event thread, which may be running the handler.
fn watcher() -> MutexGuard<'static, Option<RecommendedWatcher>> {
    static WATCHER: OnceLock<Mutex<Option<RecommendedWatcher>>> = OnceLock::new();
    lock(WATCHER.get_or_init(|| Mutex::new(None)))
}

/// Subscribers by watched directory. Taken briefly, after `watcher()` when both are needed.
fn subscribers() -> MutexGuard<'static, Subscribers> {
    static SUBSCRIBERS: OnceLock<Mutex<Subscribers>> = OnceLock::new();
    lock(SUBSCRIBERS.get_or_init(|| Mutex::new(HashMap::new())))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs on notify's thread: pokes the subscribers of the directory an event happened in.
fn on_event(result: notify::Result<Event>) {
    let event = match result {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "file watcher error; rescanning every watched file");
            return poke_all();
        }
    };
    if event.need_rescan() {
        return poke_all();
    }
    crate::writes::on_event(&event);
    // Reading a file opens it: access events must never cause a reload (a feedback loop). The
    // close of a writer is the exception: it ends a write the watch loop may be waiting for.
    let closed_after_write = matches!(
        event.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
    );
    if matches!(event.kind, EventKind::Access(_)) && !closed_after_write {
        return;
    }
    let subscribers = subscribers();
    for path in &event.paths {
        // An event on an entry of a watched directory, or on the directory itself.
        for key in [path.parent(), Some(path.as_path())].into_iter().flatten() {
            for (_, poke) in subscribers.get(key).into_iter().flatten() {
                poke.notify_one();
            }
        }
    }
}

fn poke_all() {
    for (_, poke) in subscribers().values().flatten() {
        poke.notify_one();
    }
}

/// A subscription to a directory's events; dropping it unsubscribes (and unwatches the
/// directory when it was the last one).
#[derive(Debug)]
pub(crate) struct Subscription {
    dir: PathBuf,
    id: u64,
}

/// Pokes `poke` on every event in `dir` (watched non-recursively).
pub(crate) fn subscribe(dir: &Path, poke: Arc<Notify>) -> Result<Subscription> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let dir = std::path::absolute(dir).map_err(|e| watch_error(dir, e))?;
    let mut watcher = watcher();
    if watcher.is_none() {
        *watcher = Some(notify::recommended_watcher(on_event).map_err(|e| watch_error(&dir, e))?);
    }
    if !subscribers().contains_key(&dir) {
        let watcher = watcher.as_mut().expect("created above");
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(&dir, e))?;
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    subscribers()
        .entry(dir.clone())
        .or_default()
        .push((id, poke));
    Ok(Subscription { dir, id })
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watcher = watcher();
        let last = {
            let mut subscribers = subscribers();
            let Some(list) = subscribers.get_mut(&self.dir) else {
                return;
            };
            list.retain(|(id, _)| *id != self.id);
            let last = list.is_empty();
            if last {
                subscribers.remove(&self.dir);
            }
            last
        };
        if let (true, Some(watcher)) = (last, watcher.as_mut()) {
            // The directory may be gone already; the watch went with it.
            let _ = watcher.unwatch(&self.dir);
        }
    }
}

fn watch_error(dir: &Path, cause: impl Into<hotconf_core::BoxError>) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "cannot watch {}; relying on periodic rescans",
            dir.display()
        ),
    )
    .with_transient(true)
    .with_cause(cause)
}
