//! The watch of a file provider: wait for an event in the directory (or the rescan timer),
//! debounce, wait for writers to close, re-read; the core follow helper yields only changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use hotconf_core::provider::{follow, Follow, Layer, Retry, WatchStream};
use hotconf_core::{Error, Result};
use tokio::sync::Notify;

use crate::mount::warn_if_mount_point;
use crate::provider::FileProvider;
use crate::read::FileMode;
use crate::watcher::{subscribe, Subscription};
use crate::writes::{absolute, Scope, CLOSE_WAIT};

struct Watch {
    provider: FileProvider,
    poke: Arc<Notify>,
    /// The subscription to the watched directory's events, or, while that directory is
    /// missing, to those of its nearest existing ancestor (which tell when it appears); with
    /// the directory it was made for.
    subscription: Option<(Watched, Subscription)>,
    /// The files whose writers a read waits for.
    scope: Scope,
}

/// The stream of a file provider's states: the current one first, then every change.
pub(crate) fn watch(provider: FileProvider) -> WatchStream {
    warn_if_mount_point(&provider);
    let dir = absolute(&provider.watched_dir());
    let scope = match (provider.mode, provider.path.file_name()) {
        (FileMode::Document(_), Some(name)) => Scope::File(dir.join(name)),
        _ => Scope::Directory(dir),
    };
    // The name alone: metadata would also decide (once) whether the layer is secret.
    let name = provider.name().to_owned();
    let watch = Watch {
        provider,
        poke: Arc::new(Notify::new()),
        subscription: None,
        scope,
    };
    follow(name, watch)
}

#[async_trait]
impl Follow for Watch {
    /// Reads the source once no writer holds it open; a read that a writer started during is
    /// done again after the writer's close.
    async fn read(&mut self) -> Result<Layer> {
        self.ensure_subscribed();
        // (A writer still open here is one that outlived `CLOSE_WAIT`: not waited for again.)
        let open_before = self.scope.is_being_written();
        let mut result = self.provider.read().await;
        if self.provider.poll.is_none() && !open_before && self.scope.is_being_written() {
            // A writer started during the read, which may have seen its first part: wait for
            // its close and read again.
            self.wait_for_writers().await;
            result = self.provider.read().await;
        }
        if result.is_err() {
            // A directory that disappeared took its watch with it: watch an ancestor until it
            // is back.
            self.ensure_subscribed();
        }
        result
    }

    /// Waits for an event (then the debounce) or the rescan timer, then for writers to close.
    async fn changed(&mut self) {
        let (interval, debounce) = match self.provider.poll {
            Some(poll) => (poll, Duration::ZERO),
            None => (self.provider.rescan, self.provider.debounce),
        };
        tokio::select! {
            () = self.poke.notified() => {
                if !debounce.is_zero() {
                    tokio::time::sleep(debounce).await;
                }
                // Events during the debounce are covered by the read that follows.
                let _ = self.poke.notified().now_or_never();
            }
            () = tokio::time::sleep(interval) => {}
        }
        if self.provider.poll.is_none() {
            self.wait_for_writers().await;
        }
    }

    /// A file that is missing or wrong is read again when it changes (or at the rescan).
    fn retry(&self, _: &Error) -> Retry {
        Retry::OnChange
    }
}

impl Watch {
    /// Subscribes to the directory's events if not yet (or again, if the directory came
    /// back). While it is missing, the nearest existing ancestor's events tell when it (or a
    /// directory on the way to it) appears: an optional layer's directory that is created
    /// later is read at once, not at the next rescan.
    fn ensure_subscribed(&mut self) {
        if self.provider.poll.is_some() {
            return;
        }
        let target = Watched::nearest(&absolute(&self.provider.watched_dir()));
        if self.subscription.as_ref().map(|(dir, _)| dir) == Some(&target) {
            return;
        }
        // Dropped first: a directory watched again (one removed and made again, whose watch
        // went with the old one) is watched anew.
        self.subscription = None;
        match subscribe(&target.path, self.poke.clone()) {
            Ok(subscription) => self.subscription = Some((target, subscription)),
            Err(error) => tracing::debug!(%error, "watching later"),
        }
    }

    /// Waits until no file of the source is held open by a writer that modified it, for
    /// [`CLOSE_WAIT`] at most: the close is the end of an in-place save.
    async fn wait_for_writers(&self) {
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
        while self.scope.is_being_written() {
            // The close pokes; the set of open writes is updated before the poke.
            if tokio::time::timeout_at(deadline, self.poke.notified())
                .await
                .is_err()
            {
                tracing::debug!(
                    path = %self.provider.path.display(),
                    "a writer kept the file open past {CLOSE_WAIT:?}; reading it anyway"
                );
                return;
            }
        }
    }
}

/// A directory to watch, told apart from one made again at the same path (whose OS watch is
/// a new one).
#[derive(Debug, PartialEq, Eq)]
struct Watched {
    path: PathBuf,
    /// The directory's device and inode (none where the platform has no such thing).
    identity: Option<(u64, u64)>,
}

impl Watched {
    /// `dir` if it exists, else its nearest existing ancestor (`dir` itself when none does).
    fn nearest(dir: &Path) -> Watched {
        let path = dir.ancestors().find(|d| d.is_dir()).unwrap_or(dir);
        Watched {
            path: path.to_path_buf(),
            identity: identity(path),
        }
    }
}

#[cfg(unix)]
fn identity(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &Path) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Mutex;

    use futures_util::StreamExt;
    use hotconf_core::provider::Content;
    use hotconf_core::Provider;

    use super::*;

    async fn next(stream: &mut WatchStream) -> String {
        let item = tokio::time::timeout(Duration::from_secs(20), stream.next()).await;
        match item
            .expect("no item in time")
            .expect("ended")
            .unwrap()
            .content
        {
            Content::Document { bytes, .. } => String::from_utf8_lossy(&bytes).into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reading_the_file_never_triggers_another_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.yaml");
        std::fs::write(&path, "name: a\n").unwrap();
        // No debounce: a feedback loop (a read's own open/close events causing a read) would spin.
        let provider = FileProvider::new(&path).debounce(Duration::ZERO);
        let mut stream = provider.watch().await.unwrap();
        assert_eq!(next(&mut stream).await, "name: a\n");
        for _ in 0..20 {
            std::fs::read(&path).unwrap();
        }
        let tmp = dir.path().join("app.yaml.tmp");
        std::fs::write(&tmp, "name: b\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(next(&mut stream).await, "name: b\n");
        let reads = provider.reads();
        assert!(
            reads <= 6,
            "{reads} reads for one start and one save: reads trigger reads"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_starts_during_a_read_is_read_again_after_its_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.yaml");
        std::fs::write(&path, "name: a\n").unwrap();
        let mut stream = FileProvider::new(&path).watch().await.unwrap();
        assert_eq!(next(&mut stream).await, "name: a\n");

        // During the next read, a writer truncates the file, writes half and keeps it open.
        let writer = Arc::new(Mutex::new(None::<std::fs::File>));
        let slot = writer.clone();
        let scope = Scope::File(absolute(&path));
        crate::hook::set(dir.path(), move |path| {
            let mut slot = slot.lock().unwrap();
            if slot.is_some() {
                return;
            }
            let mut file = std::fs::File::create(path).unwrap();
            file.write_all(b"name: half\n").unwrap();
            // The read must end after the watcher saw the write (the window left undetected).
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while !scope.is_being_written() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            *slot = Some(file);
        });
        let tmp = dir.path().join("app.yaml.tmp");
        std::fs::write(&tmp, "name: b\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();

        let early = tokio::time::timeout(Duration::from_millis(600), stream.next()).await;
        crate::hook::clear(dir.path());
        assert!(early.is_err(), "the half write was yielded: {early:?}");
        let mut file = writer.lock().unwrap().take().expect("the hook ran");
        file.write_all(b"port: 2\n").unwrap();
        drop(file);
        assert_eq!(next(&mut stream).await, "name: half\nport: 2\n");
    }
}
