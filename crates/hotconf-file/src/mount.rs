//! Warns when a watched file is itself a mount point: a Kubernetes `subPath` mount, which pins
//! the original file and never updates.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::read::FileMode;
use crate::FileProvider;

/// Warns once per path when the document is a mount point.
pub(crate) fn warn_if_mount_point(provider: &FileProvider) {
    static WARNED: OnceLock<Mutex<HashSet<std::path::PathBuf>>> = OnceLock::new();
    if !matches!(provider.mode, FileMode::Document(_)) || !is_mount_point(&provider.path) {
        return;
    }
    let mut warned = WARNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if warned.insert(provider.path.clone()) {
        tracing::warn!(
            path = %provider.path.display(),
            "this file is a mount point of its own (a Kubernetes subPath mount?): the kubelet never \
             updates subPath mounts, so changes to the ConfigMap will not reach it. Mount the whole \
             ConfigMap as a directory and point hotconf at the file inside it."
        );
    }
}

/// True when `path` sits on another device than its directory.
#[cfg(unix)]
pub(crate) fn is_mount_point(path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    match (std::fs::metadata(path), std::fs::metadata(parent)) {
        (Ok(file), Ok(dir)) => file.dev() != dir.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
pub(crate) fn is_mount_point(_path: &std::path::Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plain_file_is_not_a_mount_point() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "a = 1").unwrap();
        assert!(!super::is_mount_point(&file));
        // /proc is its own filesystem: /proc/version sits on another device than /.
        #[cfg(target_os = "linux")]
        assert!(super::is_mount_point(std::path::Path::new("/proc")));
    }
}
