//! Small files the command reads (the admin token, templates, pidfiles): a regular file, checked
//! before it is opened (opening a FIFO would wait for a writer), read no further than a limit.

use std::io::Read;
use std::path::Path;

/// The UTF-8 text of `path`, a regular file of at most `max` bytes. The error says what is
/// wrong, for the caller to prefix with what the file is.
pub(crate) fn read(path: &Path, max: u64) -> Result<String, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
    if !metadata.is_file() {
        return Err("is not a regular file".into());
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("is larger than {}", size(max)));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".into())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_utf8_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(read(&path, 3), Ok("abc".into()));
        assert_eq!(read(&path, 2), Err("is larger than 2 bytes".into()));
        std::fs::write(&path, [0xff]).unwrap();
        assert_eq!(read(&path, 4096), Err("is not UTF-8 text".into()));
        assert_eq!(read(dir.path(), 4096), Err("is not a regular file".into()));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        assert_eq!(read(&fifo, 4096), Err("is not a regular file".into()));
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(1 << 20), "1 MiB");
    }
}
