//! Reading a directory as one consistent state under limits.
//!
//! A kubelet mount (`key -> ..data/key`, `..data -> ..TIMESTAMP/`) is read through `..data`
//! resolved **once**: every file comes from the same timestamped directory, and `..data` is
//! checked again afterwards. If the kubelet swapped it meanwhile, the directory is read again (a
//! few times at most), so old and new keys never mix. The number of entries and their total size
//! are bounded while reading (`Limits::max_keys`, `Limits::max_total_bytes`).

use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use hotconf_core::{Error, ErrorKind, Limits, Result};

use crate::open::{io_error, read_bounded, Limit};

/// How many times a directory is read when `..data` keeps moving, before giving up until the
/// next event.
const SWAP_ATTEMPTS: usize = 5;

/// The visible regular files of `dir` for which `wanted(name)` holds, as `(name, bytes)` sorted
/// by name, all from one generation of a kubelet mount. Entries starting with `.` are skipped,
/// and so are subdirectories and dangling symlinks.
pub(crate) fn read_entries(
    dir: &Path,
    limits: &Limits,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>> {
    for _ in 0..SWAP_ATTEMPTS {
        let target = data_target(dir)?;
        let base = target
            .as_ref()
            .map_or_else(|| dir.to_path_buf(), |t| dir.join(t));
        let result = read_generation(&base, dir, limits, &wanted);
        // A swap during the read: the entries may mix generations, or the old directory may
        // have been removed under the read. Either way, read again.
        if data_target(dir)? == target {
            return result;
        }
        tracing::debug!(dir = %dir.display(), "..data moved while reading; reading again");
    }
    Err(Error::new(
        ErrorKind::Unavailable,
        format!(
            "{}/..data changed during each of {SWAP_ATTEMPTS} reads; reading again on the next event",
            dir.display()
        ),
    )
    .with_transient(true))
}

/// Where `dir/..data` points, if it is a symlink (a kubelet mount).
fn data_target(dir: &Path) -> Result<Option<PathBuf>> {
    let link = dir.join("..data");
    match std::fs::read_link(&link) {
        Ok(target) => Ok(Some(target)),
        // Missing, or not a symlink: not a kubelet mount.
        Err(e) if matches!(e.kind(), IoKind::NotFound | IoKind::InvalidInput) => Ok(None),
        Err(e) => Err(io_error(&link, e)),
    }
}

/// Reads the files of one directory (`base`, the resolved `..data` target or `dir` itself).
fn read_generation(
    base: &Path,
    dir: &Path,
    limits: &Limits,
    wanted: &impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut entries = Vec::new();
    let mut total = 0usize;
    for name in visible_names(base, dir, limits.max_keys)? {
        if !wanted(&name) {
            tracing::debug!(file = %name, "skipping a file with no known document extension");
            continue;
        }
        let path = base.join(&name);
        match std::fs::metadata(&path) {
            Ok(metadata) if metadata.is_dir() => continue,
            // A dangling symlink (mid-swap without `..data`): the next event reads again.
            Err(e) if e.kind() == IoKind::NotFound => continue,
            _ => {}
        }
        let remaining = limits.max_total_bytes.saturating_sub(total);
        let max = limits.max_bytes.min(remaining);
        let limit = Limit {
            max,
            setting: "Limits::max_bytes",
        };
        let bytes = read_bounded(&path, limit).map_err(|e| {
            if e.kind() == ErrorKind::Parse && remaining < limits.max_bytes {
                // The directory's budget ran out, not this file's.
                Error::new(
                    ErrorKind::Parse,
                    format!(
                        "{} has files above {} bytes in total (Limits::max_total_bytes)",
                        dir.display(),
                        limits.max_total_bytes
                    ),
                )
                .with_transient(true)
            } else {
                e
            }
            .with_key(name.clone())
        })?;
        total += bytes.len();
        entries.push((name, bytes));
    }
    Ok(entries)
}

/// The names in `base` not starting with `.`, sorted; refused past `max_keys`, counted while
/// listing so that a huge directory is never listed whole.
fn visible_names(base: &Path, dir: &Path, max_keys: usize) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(base).map_err(|e| io_error(base, e))? {
        let entry = entry.map_err(|e| io_error(base, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if names.len() == max_keys {
            return Err(Error::new(
                ErrorKind::Parse,
                format!(
                    "{} has more than {max_keys} entries (Limits::max_keys)",
                    dir.display()
                ),
            )
            .with_transient(true));
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::read_state;
    use crate::read::FileMode;
    use hotconf_core::provider::Content;

    /// The kubelet's AtomicWriter: a new timestamped directory, `..data` swapped by a rename, the
    /// old directory removed.
    fn publish(root: &Path, generation: u32, files: &[(&str, &str)]) {
        let old = std::fs::read_link(root.join("..data")).ok();
        let ts = format!("..2026_11_29_00_00_00.{generation:09}");
        std::fs::create_dir(root.join(&ts)).unwrap();
        for (key, value) in files {
            std::fs::write(root.join(&ts).join(key), value).unwrap();
            if std::fs::symlink_metadata(root.join(key)).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(key), root.join(key)).unwrap();
            }
        }
        std::os::unix::fs::symlink(&ts, root.join("..data_tmp")).unwrap();
        std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
        if let Some(old) = old {
            std::fs::remove_dir_all(root.join(old)).unwrap();
        }
    }

    #[test]
    fn a_data_swap_between_two_keys_never_mixes_old_and_new() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        publish(&root, 1, &[("a", "old"), ("b", "old")]);
        let mut swapped = false;
        crate::hook::set(dir.path(), move |path| {
            if path.ends_with("b") && !swapped {
                swapped = true;
                publish(&root, 2, &[("a", "new"), ("b", "new")]);
            }
        });
        let layer = read_state(
            dir.path(),
            FileMode::KeyPerFile { typed: false },
            &Limits::default(),
            &crate::encrypted::AgeSettings::default(),
        );
        crate::hook::clear(dir.path());
        let Content::Keys { entries, .. } = layer.unwrap().content else {
            panic!("not keys")
        };
        let values: Vec<&str> = entries.iter().map(|(_, v)| v.as_str()).collect();
        assert!(
            values == ["old", "old"] || values == ["new", "new"],
            "{entries:?}"
        );
    }

    #[test]
    fn a_data_link_that_never_settles_is_a_transient_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        publish(&root, 0, &[("a", "0"), ("b", "0")]);
        let mut generation = 0;
        crate::hook::set(dir.path(), move |path| {
            if path.ends_with("b") {
                generation += 1;
                publish(&root, generation, &[("a", "x"), ("b", "y")]);
            }
        });
        let error = read_state(
            dir.path(),
            FileMode::KeyPerFile { typed: false },
            &Limits::default(),
            &crate::encrypted::AgeSettings::default(),
        );
        crate::hook::clear(dir.path());
        let error = error.unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert!(error.to_string().contains("..data"), "{error}");
    }
}
