//! A test-only hook into reading: code run just before a file is read, to make a writer or the
//! kubelet act at the worst moment (between two keys, during a read). Hooks are registered for
//! a directory, so tests running in parallel do not see each other's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

type Hook = Arc<Mutex<dyn FnMut(&Path) + Send>>;

fn hooks() -> MutexGuard<'static, Vec<(PathBuf, Hook)>> {
    static HOOKS: OnceLock<Mutex<Vec<(PathBuf, Hook)>>> = OnceLock::new();
    HOOKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Runs `hook` before each read of a file under `dir` (by path prefix), until [`clear`].
pub(crate) fn set(dir: &Path, hook: impl FnMut(&Path) + Send + 'static) {
    clear(dir);
    hooks().push((dir.to_path_buf(), Arc::new(Mutex::new(hook))));
}

/// Removes the hook of `dir`.
pub(crate) fn clear(dir: &Path) {
    hooks().retain(|(d, _)| d != dir);
}

/// Called by the reader before it reads `path`.
pub(crate) fn before_read(path: &Path) {
    // Cloned out, so that the hook runs without the registry locked.
    let found: Vec<Hook> = hooks()
        .iter()
        .filter(|(dir, _)| path.starts_with(dir))
        .map(|(_, hook)| hook.clone())
        .collect();
    for hook in found {
        (hook.lock().unwrap_or_else(|p| p.into_inner()))(path);
    }
}
