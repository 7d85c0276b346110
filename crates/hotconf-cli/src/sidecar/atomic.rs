//! Atomic output files: a reader sees the old bytes or the new ones, never a torn or empty file.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Writes `bytes` to `path` with `mode` unless the file already holds exactly them with that
/// mode: a temp file in the same directory, fsync, rename over `path`, fsync of the directory.
/// Returns whether the file was written.
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> io::Result<bool> {
    if holds(path, bytes, mode)? {
        return Ok(false);
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot name: readers that glob `*.conf` never pick the temp file up.
    let temp = || {
        tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
    };
    let mut temp = match temp() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            temp()?
        }
        other => other?,
    };
    temp.write_all(bytes)?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()?;
    Ok(true)
}

/// Whether `path` is a regular file holding exactly `bytes` with permission bits `mode`. A
/// missing file, a FIFO, a device or a symlink does not hold them (and is replaced). The file
/// is opened without blocking and read no further than `bytes.len() + 1`.
fn holds(path: &Path, bytes: &[u8], mode: u32) -> io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !meta.is_file() || meta.len() != bytes.len() as u64 || meta.mode() & 0o7777 != mode {
        return Ok(false);
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(_) => return Ok(false), // swapped for something else since: rewrite it
    };
    if !file.metadata()?.is_file() {
        return Ok(false);
    }
    let mut on_disk = Vec::with_capacity(bytes.len() + 1);
    file.take(bytes.len() as u64 + 1)
        .read_to_end(&mut on_disk)?;
    Ok(on_disk == bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_then_skips_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.conf");
        assert!(write_if_changed(&path, b"a=1\n", 0o644).unwrap());
        let inode = std::fs::metadata(&path).unwrap().ino();
        assert!(!write_if_changed(&path, b"a=1\n", 0o644).unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            inode,
            "not rewritten"
        );
        assert!(
            write_if_changed(&path, b"a=1\n", 0o600).unwrap(),
            "a new mode is a change"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(write_if_changed(&path, b"a=2\n", 0o600).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"a=2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left behind");
    }

    #[test]
    fn a_fifo_or_a_symlink_in_the_way_is_replaced_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        assert!(write_if_changed(&fifo, b"", 0o644).unwrap());
        assert!(std::fs::symlink_metadata(&fifo).unwrap().is_file());
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("link.conf");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_if_changed(&link, b"x", 0o644).unwrap());
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"x",
            "the link's target is untouched"
        );
    }
}
