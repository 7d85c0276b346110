//! Reading a file source's current state: one document, a key-per-file directory (a ConfigMap
//! or Secret mount), or a directory of documents.

use std::path::Path;
use std::sync::Arc;

use hotconf_core::provider::{merge_trees, parse_document, Content, Document, Layer};
use hotconf_core::{Error, ErrorKind, Format, Limits, Result, Revision};
use serde_json::Value;

use crate::dir::read_entries;
use crate::encrypted::{inner_name, AgeSettings, Decrypter};
use crate::open::{read_bounded, Limit};

/// How a path is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMode {
    /// One document; the format comes from the extension unless given.
    Document(Option<Format>),
    /// A directory where each file is one key (a Kubernetes ConfigMap or Secret mount): a file
    /// named `db.port` holding `5432` is the key `db.port`. Entries starting with `.` (the
    /// kubelet's `..data` and timestamped directories among them) are not keys. One trailing
    /// newline is trimmed from each value. Values are strings, or typed as JSON scalars with
    /// `typed`.
    KeyPerFile {
        /// Parse `5432`, `true`, `1.5` as a number or boolean instead of a string.
        typed: bool,
    },
    /// A directory of documents (by extension), merged in name order, later over earlier.
    Documents,
}

/// Reads the state at `path` under `limits`. A missing file is an error (its last good state is
/// kept), never an empty layer, and so is an empty document. Age-encrypted files (`*.age`, or a
/// document with `?age=true`) are decrypted and parsed here, and their plaintext wiped; the
/// revision hashes their ciphertext.
pub(crate) fn read_state(
    path: &Path,
    mode: FileMode,
    limits: &Limits,
    age: &AgeSettings,
) -> Result<Layer> {
    let mut decrypter = Decrypter::new(age, limits);
    match mode {
        FileMode::Document(format) => read_document(path, format, limits, age, &mut decrypter),
        FileMode::KeyPerFile { typed } => read_keys(path, typed, limits, age, &mut decrypter),
        FileMode::Documents => read_documents(path, limits, age, &mut decrypter),
    }
}

fn file_limit(limits: &Limits) -> Limit {
    Limit {
        max: limits.max_bytes,
        setting: "Limits::max_bytes",
    }
}

fn read_document(
    path: &Path,
    format: Option<Format>,
    limits: &Limits,
    age: &AgeSettings,
    decrypter: &mut Decrypter<'_>,
) -> Result<Layer> {
    let encrypted = age.document_encrypted(path);
    let name = path.to_string_lossy();
    let format_name = if encrypted { inner_name(&name) } else { &name };
    let Some(format) = format.or_else(|| Format::from_path(format_name)) else {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "cannot tell the format of {} from its extension{}: give one (?format=yaml)",
                path.display(),
                if encrypted { " (before .age)" } else { "" }
            ),
        )
        .with_transient(false));
    };
    let bytes = read_bounded(path, file_limit(limits))?;
    check_not_empty(path, &bytes)?;
    if encrypted {
        let tree = decrypter.document(path, &bytes, format)?;
        return Ok(Layer::new(
            Content::Tree(tree),
            Revision::of_content(&bytes),
        ));
    }
    Ok(Layer::document(format, bytes))
}

fn read_keys(
    path: &Path,
    typed: bool,
    limits: &Limits,
    age: &AgeSettings,
    decrypter: &mut Decrypter<'_>,
) -> Result<Layer> {
    let mut fingerprint = Fingerprint::default();
    let mut entries = Vec::new();
    let mut encrypted = false;
    for (name, bytes) in read_entries(path, limits, |_| true)? {
        fingerprint.add(&name, &bytes);
        let file = path.join(&name);
        if let Some(key) = age.encrypted_entry(&name) {
            encrypted = true;
            let text = age
                .check_declared_secret(&file)
                .and_then(|()| decrypter.value(&file, &bytes))
                .map_err(|e| e.with_key(key))?;
            entries.push((key.to_owned(), text));
            continue;
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::new(
                ErrorKind::Parse,
                format!(
                    "{} is not valid UTF-8 (at byte {})",
                    file.display(),
                    e.utf8_error().valid_up_to()
                ),
            )
            .with_key(name.clone())
        })?;
        entries.push((name, text));
    }
    if encrypted {
        check_unique_keys(path, &entries)?;
    }
    Ok(Layer::new(
        Content::mounted_keys(entries, typed),
        fingerprint.finish(),
    ))
}

/// Refuses `X` beside `X.age`: one key, two values.
fn check_unique_keys(dir: &Path, entries: &[(String, String)]) -> Result<()> {
    let mut keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
    keys.sort_unstable();
    match keys.windows(2).find(|pair| pair[0] == pair[1]) {
        None => Ok(()),
        Some(pair) => Err(Error::new(
            ErrorKind::Parse,
            format!(
                "{} holds both {key} and {key}.age: one key, two values",
                dir.display(),
                key = pair[0]
            ),
        )
        .with_key(pair[0])
        .with_transient(true)),
    }
}

/// One document of a directory: as read, or decrypted and parsed.
enum Part {
    Plain(Document),
    Parsed(Value),
}

fn read_documents(
    path: &Path,
    limits: &Limits,
    age: &AgeSettings,
    decrypter: &mut Decrypter<'_>,
) -> Result<Layer> {
    let format_of = |name: &str| match age.encrypted_entry(name) {
        Some(inner) => Format::from_path(inner),
        None => Format::from_path(name),
    };
    let mut fingerprint = Fingerprint::default();
    let mut parts = Vec::new();
    for (name, bytes) in read_entries(path, limits, |name| format_of(name).is_some())? {
        let Some(format) = format_of(&name) else {
            continue;
        };
        let file = path.join(&name);
        check_not_empty(&file, &bytes).map_err(|e| e.with_key(name.clone()))?;
        fingerprint.add(&name, &bytes);
        if age.encrypted_entry(&name).is_some() {
            let tree = age
                .check_declared_secret(&file)
                .and_then(|()| decrypter.document(&file, &bytes, format))
                .map_err(|e| in_document(&name, &e))?;
            parts.push(Part::Parsed(tree));
        } else {
            parts.push(Part::Plain(Document {
                name,
                format,
                bytes: Arc::from(bytes),
            }));
        }
    }
    let revision = fingerprint.finish();
    if !parts.iter().any(|part| matches!(part, Part::Parsed(_))) {
        let documents = parts
            .into_iter()
            .filter_map(|part| match part {
                Part::Plain(document) => Some(document),
                Part::Parsed(_) => None,
            })
            .collect();
        return Ok(Layer::new(Content::Documents(documents), revision));
    }
    // An encrypted document's plaintext is gone: the directory is merged here, as the reloader
    // would merge it, into one tree.
    let mut trees = Vec::with_capacity(parts.len());
    for part in parts {
        trees.push(match part {
            Part::Parsed(tree) => tree,
            Part::Plain(document) => parse_document(document.format, &document.bytes, limits)
                .map_err(|e| in_document(&document.name, &e).with_transient(true))?,
        });
    }
    Ok(Layer::new(Content::Tree(merge_trees(&trees)), revision))
}

/// `error`, said of the document `name` of a directory (as the reloader says it).
fn in_document(name: &str, error: &Error) -> Error {
    Error::new(
        error.kind(),
        format!("in document `{name}`: {}", error.message()),
    )
    .with_key(name)
    .with_transient(error.is_transient())
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

/// The revision of a directory: a hash of its entries' names and bytes as read (an encrypted
/// entry's ciphertext, never its plaintext).
#[derive(Default)]
struct Fingerprint {
    all: Vec<u8>,
}

impl Fingerprint {
    fn add(&mut self, name: &str, bytes: &[u8]) {
        self.all
            .extend_from_slice(&(name.len() as u64).to_le_bytes());
        self.all.extend_from_slice(name.as_bytes());
        self.all
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.all.extend_from_slice(bytes);
    }

    fn finish(self) -> Revision {
        Revision::of_content(&self.all)
    }
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
            &AgeSettings::default(),
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
            &AgeSettings::default(),
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
            &AgeSettings::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}
