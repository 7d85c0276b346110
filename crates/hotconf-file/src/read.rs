//! Reading a file source's current state: one document, a key-per-file directory (a ConfigMap
//! or Secret mount), or a directory of documents.

use std::path::Path;
use std::sync::Arc;

use hotconf_core::provider::{Content, Document, Layer};
use hotconf_core::{Error, ErrorKind, Format, Limits, Result, Revision};

use crate::dir::read_entries;
use crate::open::{read_bounded, Limit};

/// How a path is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMode {
    /// One document; the format comes from the extension unless given.
    Document(Option<Format>),
    /// A directory where each file is one key (a ConfigMap or Secret mount): a file named
    /// `db.port` holding `5432` is the key `db.port`. Entries starting with `.` (the kubelet's
    /// `..data` and timestamped directories among them) are not keys. One trailing newline is
    /// trimmed from each value. Values are strings, or typed as JSON scalars with `typed`.
    KeyPerFile {
        /// Parse `5432`, `true`, `1.5` as a number or boolean instead of a string.
        typed: bool,
    },
    /// A directory of documents (by extension), merged in name order, later over earlier.
    Documents,
}

/// Reads the state at `path` under `limits`. A missing file is an error (its last good state is
/// kept), never an empty layer, and so is an empty document.
pub(crate) fn read_state(path: &Path, mode: FileMode, limits: &Limits) -> Result<Layer> {
    let file_limit = Limit {
        max: limits.max_bytes,
        setting: "Limits::max_bytes",
    };
    match mode {
        FileMode::Document(format) => {
            let format = match format.or_else(|| Format::from_path(&path.to_string_lossy())) {
                Some(format) => format,
                None => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                        "cannot tell the format of {} from its extension: give one (?format=yaml)",
                        path.display()
                    ),
                    )
                    .with_transient(false))
                }
            };
            let bytes = read_bounded(path, file_limit)?;
            check_not_empty(path, &bytes)?;
            Ok(Layer::document(format, bytes))
        }
        FileMode::KeyPerFile { typed } => {
            let mut entries = Vec::new();
            for (name, bytes) in read_entries(path, limits, |_| true)? {
                let text = String::from_utf8(bytes).map_err(|e| {
                    Error::new(
                        ErrorKind::Parse,
                        format!(
                            "{} is not valid UTF-8 (at byte {})",
                            path.join(&name).display(),
                            e.utf8_error().valid_up_to()
                        ),
                    )
                    .with_key(name.clone())
                })?;
                entries.push((name, text));
            }
            let revision = revision_of(entries.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
            Ok(Layer::new(Content::mounted_keys(entries, typed), revision))
        }
        FileMode::Documents => {
            let mut documents = Vec::new();
            let known = |name: &str| Format::from_path(name).is_some();
            for (name, bytes) in read_entries(path, limits, known)? {
                let Some(format) = Format::from_path(&name) else {
                    continue;
                };
                check_not_empty(&path.join(&name), &bytes).map_err(|e| e.with_key(name.clone()))?;
                documents.push(Document {
                    name,
                    format,
                    bytes: Arc::from(bytes),
                });
            }
            let revision = revision_of(documents.iter().map(|d| (d.name.as_bytes(), &*d.bytes)));
            Ok(Layer::new(Content::Documents(documents), revision))
        }
    }
}

/// An empty or blank document is what an in-place save (an editor, a `>` redirection) leaves
/// between truncating and writing: an error that the end of the save fixes, never an empty
/// layer.
fn check_not_empty(path: &Path, bytes: &[u8]) -> Result<()> {
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Parse,
        format!(
            "{} is an empty document (a save between truncating and writing?); waiting for \
             content. To empty this layer, write `{{}}` (JSON, YAML) or a comment (TOML, \
             properties)",
            path.display()
        ),
    )
    .with_transient(true))
}

fn revision_of<'a>(parts: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Revision {
    let mut all = Vec::new();
    for (name, bytes) in parts {
        all.extend_from_slice(&(name.len() as u64).to_le_bytes());
        all.extend_from_slice(name);
        all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        all.extend_from_slice(bytes);
    }
    Revision::of_content(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_per_file_skips_dot_entries_and_trims_one_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("name"), "app\n\n").unwrap();
        std::fs::write(dir.path().join("port"), "8080").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        std::fs::create_dir(dir.path().join("..data")).unwrap();
        let layer = read_state(
            dir.path(),
            FileMode::KeyPerFile { typed: false },
            &Limits::default(),
        )
        .unwrap();
        let Content::Keys { entries, .. } = layer.content else {
            panic!("{layer:?}")
        };
        assert_eq!(
            entries,
            [
                ("name".to_owned(), "app\n".to_owned()),
                ("port".to_owned(), "8080".to_owned())
            ]
        );
    }

    #[test]
    fn a_missing_file_is_a_transient_not_found_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_state(
            &dir.path().join("app.toml"),
            FileMode::Document(None),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(
            (err.kind(), err.is_transient()),
            (ErrorKind::NotFound, true)
        );
        let err = read_state(
            &dir.path().join("app"),
            FileMode::Document(None),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}
