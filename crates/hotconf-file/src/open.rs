//! Reading one file under a limit: only a regular file (symlinks followed) is opened, its length
//! is checked before reading, and the read stops as soon as it passes the limit. A sparse 4 GiB
//! file, `/dev/zero`, a FIFO or a socket never blocks the reader or fills memory.

use std::fs::{Metadata, OpenOptions};
use std::io::{ErrorKind as IoKind, Read};
use std::path::Path;

use hotconf_core::provider::BoundedBody;
use hotconf_core::{Error, ErrorKind, Result};

/// The size of one read.
const CHUNK: usize = 64 * 1024;

/// A byte limit and the name of the setting it comes from, for the error message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) max: usize,
    pub(crate) setting: &'static str,
}

/// Reads the regular file at `path` (symlinks followed), refusing it past `limit`.
///
/// # Errors
/// A permanent [`ErrorKind::Config`] error when `path` is not a regular file (a FIFO, socket,
/// device or directory), a transient [`ErrorKind::Parse`] error past the limit (the next save
/// may fix it), and the I/O errors of [`io_error`].
pub(crate) fn read_bounded(path: &Path, limit: Limit) -> Result<Vec<u8>> {
    #[cfg(test)]
    crate::hook::before_read(path);
    // `metadata` never blocks, unlike opening a FIFO for reading, which waits for a writer.
    let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    check_regular(path, &metadata)?;
    let mut body = BoundedBody::new(limit.max, Some(metadata.len()))
        .map_err(|e| too_large(path, limit, &e))?;
    let mut file = open_nonblocking(path)?;
    // The path may have become something else between `metadata` and `open`.
    check_regular(path, &file.metadata().map_err(|e| io_error(path, e))?)?;
    let mut chunk = vec![0; CHUNK.min(limit.max.saturating_add(1))];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(body.into_bytes()),
            Ok(n) => body
                .push(&chunk[..n])
                .map_err(|e| too_large(path, limit, &e))?,
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(e) => return Err(io_error(path, e)),
        }
    }
}

/// Opens for reading without blocking: a FIFO swapped in after the type check opens at once
/// (and is then refused) instead of waiting for a writer. Regular files ignore the flag.
pub(crate) fn open_nonblocking(path: &Path) -> Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path).map_err(|e| io_error(path, e))
}

/// Refuses anything but a regular file, naming its type.
pub(crate) fn check_regular(path: &Path, metadata: &Metadata) -> Result<()> {
    if metadata.is_file() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "{} is a {}, not a regular file: hotconf reads only regular files (a FIFO or a \
             device could block or never end)",
            path.display(),
            type_name(metadata)
        ),
    )
    .with_transient(false))
}

/// What a non-regular file is, in words.
fn type_name(metadata: &Metadata) -> &'static str {
    let kind = metadata.file_type();
    if kind.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "socket";
        }
        if kind.is_char_device() {
            return "character device";
        }
        if kind.is_block_device() {
            return "block device";
        }
    }
    "special file"
}

fn too_large(path: &Path, limit: Limit, error: &Error) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("{} {} ({})", path.display(), error.message(), limit.setting),
    )
    .with_transient(true)
}

/// An I/O error on `path`: transient (a missing file may appear, a permission may be granted).
pub(crate) fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::new(
        io_kind(error.kind()),
        format!("cannot read {}", path.display()),
    )
    .with_transient(true)
    .with_cause(error)
}

/// The kind of error an I/O failure is.
pub(crate) fn io_kind(kind: IoKind) -> ErrorKind {
    match kind {
        IoKind::NotFound => ErrorKind::NotFound,
        IoKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        max: 8,
        setting: "Limits::max_bytes",
    };

    #[test]
    fn reads_up_to_the_limit_and_refuses_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "12345678").unwrap();
        assert_eq!(read_bounded(&path, LIMIT).unwrap(), b"12345678");
        std::fs::write(&path, "123456789").unwrap();
        let error = read_bounded(&path, LIMIT).unwrap_err();
        assert!(error.is_transient());
        assert!(error.to_string().contains("a.txt"), "{error}");
        assert!(error.to_string().contains("Limits::max_bytes"), "{error}");
        let error = read_bounded(dir.path(), LIMIT).unwrap_err();
        assert!(error.to_string().contains("is a directory"), "{error}");
        assert!(!error.is_transient());
    }
}
