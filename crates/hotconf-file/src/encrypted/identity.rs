//! The identities that decrypt: read at each decryption from an identity file (`?identity=`,
//! `FileProvider::age_identity_file`, `AGE_IDENTITY_FILE`, `SOPS_AGE_KEY_FILE`) or from text given
//! in code, into a buffer wiped after parsing. No error quotes a line of the file.

use std::io::Read as _;
use std::path::Path;

use hotconf_core::{Error, ErrorKind, Result};
use zeroize::Zeroizing;

use super::{Identities, IDENTITY_ENV};
use crate::open::{check_regular, io_kind, open_nonblocking};

/// The largest identity file read (a key is one line of 74 characters).
const MAX_IDENTITY_FILE: usize = 64 * 1024;

/// The identities of one read, and where they came from (for messages).
pub(super) struct Keys {
    pub(super) identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    pub(super) origin: String,
}

/// Loads the identities that `source` names.
///
/// # Errors
/// A permanent [`ErrorKind::Config`] error when no identity is configured at all; a transient
/// error for an identity file that is missing, unreadable, too large or holds no identity.
pub(super) fn load(source: &Identities) -> Result<Keys> {
    match source {
        Identities::Inline(text) => {
            let origin = "the identities given to FileProvider::age_identities".to_owned();
            parse(text.expose().as_bytes(), origin)
        }
        Identities::File(path) => {
            let origin = format!(
                "the age identity file {} (?identity=, FileProvider::age_identity_file)",
                path.display()
            );
            parse(&read(path, &origin)?, origin)
        }
        Identities::FromEnv => {
            let found = IDENTITY_ENV.iter().find_map(|name| {
                std::env::var_os(name)
                    .filter(|value| !value.is_empty())
                    .map(|value| (name, std::path::PathBuf::from(value)))
            });
            let Some((name, path)) = found else {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "no age identity to decrypt with: give ?identity=FILE (or \
                         FileProvider::age_identity_file), or set {} or {}",
                        IDENTITY_ENV[0], IDENTITY_ENV[1]
                    ),
                )
                .with_transient(false));
            };
            let origin = format!("the age identity file {} (from {name})", path.display());
            parse(&read(&path, &origin)?, origin)
        }
    }
}

/// Reads an identity file (a regular file, at most [`MAX_IDENTITY_FILE`] bytes) into a buffer
/// that is wiped when dropped, and never grows (so no copy is left behind).
fn read(path: &Path, origin: &str) -> Result<Zeroizing<Vec<u8>>> {
    let unreadable = |e: std::io::Error| {
        Error::new(io_kind(e.kind()), format!("cannot read {origin}"))
            .with_transient(true)
            .with_cause(e)
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    check_regular(path, &metadata)?;
    let too_large = || {
        Error::new(
            ErrorKind::Config,
            format!("{origin} is larger than {MAX_IDENTITY_FILE} bytes: not an identity file?"),
        )
        .with_transient(true)
    };
    if metadata.len() > MAX_IDENTITY_FILE as u64 {
        return Err(too_large());
    }
    let file = open_nonblocking(path)?;
    check_regular(path, &file.metadata().map_err(unreadable)?)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_IDENTITY_FILE + 1));
    file.take(MAX_IDENTITY_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > MAX_IDENTITY_FILE {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Parses the text of an identity file: `AGE-SECRET-KEY-1…` (X25519, what `age-keygen` writes)
/// and `AGE-SECRET-KEY-PQ-1…` lines, comments (`#`) and blank lines.
fn parse(bytes: &[u8], origin: String) -> Result<Keys> {
    let invalid =
        |why: String| Error::new(ErrorKind::Config, format!("{origin} {why}")).with_transient(true);
    // age's messages give a line number, never the line.
    let file = age::IdentityFile::from_buffer(bytes)
        .map_err(|e| invalid(format!("is not an age identity file: {e}")))?;
    let identities = file
        .into_identities()
        .map_err(|e| invalid(format!("holds an identity hotconf cannot use: {e}")))?;
    if identities.is_empty() {
        return Err(invalid(
            "holds no identity (an AGE-SECRET-KEY-1… line, as age-keygen writes)".to_owned(),
        ));
    }
    Ok(Keys { identities, origin })
}

#[cfg(test)]
mod tests {
    use hotconf_core::Secret;

    use super::*;

    use hotconf_testkit::age::AgeKey;

    fn load_inline(text: &str) -> Result<Keys> {
        load(&Identities::Inline(Secret::new(text)))
    }

    /// A key made by `age-keygen`.
    fn key() -> String {
        let dir = tempfile::tempdir().unwrap();
        AgeKey::generate(dir.path().join("key.txt")).secret_line()
    }

    #[test]
    fn comments_blank_lines_and_several_keys() {
        let (one, two) = (key(), key());
        let keys = load_inline(&format!("# created: now\n\n{one}\n# another\r\n{two}\n")).unwrap();
        assert_eq!(keys.identities.len(), 2);
    }

    #[test]
    fn errors_never_quote_the_file() {
        let key = key();
        // The last character is the checksum's: changed, the key does not parse.
        let last = if key.ends_with('Q') { "P" } else { "Q" };
        let broken = format!("{}{last}", &key[..key.len() - 1]);
        for text in ["", "# only a comment\n", &format!("# fine\n{broken}\n")] {
            let error = load_inline(text).err().unwrap();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(&key[16..40]), "{shown}");
            assert!(shown.contains("age_identities"), "{shown}");
            assert!(error.is_transient(), "{shown}");
        }
    }

    #[test]
    fn identity_files_are_read_bounded_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        let missing = load(&Identities::File(path.clone())).err().unwrap();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert!(missing.to_string().contains("key.txt"), "{missing}");
        std::fs::write(&path, format!("{}\n", key())).unwrap();
        assert_eq!(
            load(&Identities::File(path.clone()))
                .unwrap()
                .identities
                .len(),
            1
        );
        std::fs::write(&path, vec![b'#'; MAX_IDENTITY_FILE + 1]).unwrap();
        let large = load(&Identities::File(path)).err().unwrap();
        assert!(large.to_string().contains("larger than"), "{large}");
        let not_a_file = load(&Identities::File(dir.path().to_path_buf()))
            .err()
            .unwrap();
        assert!(not_a_file.to_string().contains("directory"), "{not_a_file}");
    }
}
