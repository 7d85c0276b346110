//! Writes in progress. An in-place writer (a `>` redirection, an editor with `backupcopy=yes`)
//! truncates the file and writes it in several steps: until it closes the file, a read may see
//! half a document that still parses. On Linux inotify reports that close (`IN_CLOSE_WRITE`,
//! notify's `Access(Close(Write))`), so a file modified and not yet closed is *being written*,
//! and the watch loop waits for the close before reading (up to [`CLOSE_WAIT`]).
//!
//! Not covered: a writer that closes and reopens the file mid-document (each close ends the
//! wait), one that keeps it open past [`CLOSE_WAIT`], polling mode, and platforms other than
//! Linux (no close events there: only the debounce applies).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind};

/// The longest wait for a writer to close a file it modified, before reading it anyway (a
/// writer that keeps the file open for good must not stop the config from being followed).
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Files modified and not closed since, by the path notify reported.
fn open_writes() -> MutexGuard<'static, HashSet<PathBuf>> {
    static OPEN: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    OPEN.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tracks an event (on notify's thread, before the subscribers are poked).
pub(crate) fn on_event(event: &Event) {
    match event.kind {
        // Linux only reports the close where it reports the modification: marking on other
        // platforms would make every read wait for `CLOSE_WAIT`.
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) if cfg!(target_os = "linux") => {
            open_writes().extend(event.paths.iter().cloned());
        }
        // Closed after writing; or another inode took the name (a rename, a delete and create):
        // the open writer, if any, no longer writes what the name shows.
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Modify(ModifyKind::Name(_))
        | EventKind::Create(_)
        | EventKind::Remove(_) => {
            let mut open = open_writes();
            for path in &event.paths {
                open.remove(path);
            }
        }
        _ => {}
    }
}

/// Which files of a source matter for a read.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// One document.
    File(PathBuf),
    /// The visible files (not starting with `.`) of a directory.
    Directory(PathBuf),
}

impl Scope {
    /// Whether a file of this scope is being written.
    pub(crate) fn is_being_written(&self) -> bool {
        let open = open_writes();
        match self {
            Scope::File(path) => open.contains(path),
            Scope::Directory(dir) => open.iter().any(|path| {
                path.parent() == Some(dir.as_path())
                    && path
                        .file_name()
                        .is_some_and(|name| !name.to_string_lossy().starts_with('.'))
            }),
        }
    }
}

/// `path` absolute, as notify reports it for a watch on an absolute directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modified_file_is_being_written_until_closed_renamed_or_removed() {
        let path = PathBuf::from("/nonexistent/writes-test/app.yaml");
        let file = Scope::File(path.clone());
        let dir = Scope::Directory(PathBuf::from("/nonexistent/writes-test"));
        let event = |kind| Event::new(kind).add_path(path.clone());
        for end in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Name(notify::event::RenameMode::To)),
            EventKind::Remove(notify::event::RemoveKind::File),
        ] {
            on_event(&event(EventKind::Modify(ModifyKind::Data(
                notify::event::DataChange::Any,
            ))));
            assert_eq!(
                (file.is_being_written(), dir.is_being_written()),
                (cfg!(target_os = "linux"), cfg!(target_os = "linux"))
            );
            on_event(&event(end));
            assert!(!file.is_being_written() && !dir.is_being_written());
        }
    }
}
