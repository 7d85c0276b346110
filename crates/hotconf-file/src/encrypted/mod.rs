//! age-encrypted files: which files are encrypted, where the identities come from, and whether
//! the layer told the reloader it is a secret layer.
//!
//! A document named `*.age` (or any document with `?age=true`) is decrypted in memory, and an
//! entry `X.age` of a directory is decrypted and counts as `X`. The plaintext is parsed here, by
//! the reloader's own parser, and wiped (feature `age`: [`Decrypter`]); the layer's revision is
//! the ciphertext's hash, never one of the plaintext.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use hotconf_core::{Error, ErrorKind, Result, Secret};

#[cfg(feature = "age")]
mod decrypt;
#[cfg(feature = "age")]
mod decrypter;
#[cfg(not(feature = "age"))]
mod disabled;
#[cfg(feature = "age")]
mod identity;

#[cfg(feature = "age")]
pub(crate) use decrypter::Decrypter;
#[cfg(not(feature = "age"))]
pub(crate) use disabled::Decrypter;

/// The extension of an age-encrypted file.
const SUFFIX: &str = ".age";

/// The environment variables naming an identity file, in the order they are tried.
#[cfg_attr(not(feature = "age"), allow(dead_code))]
pub(crate) const IDENTITY_ENV: [&str; 2] = ["AGE_IDENTITY_FILE", "SOPS_AGE_KEY_FILE"];

/// Where the identities that decrypt come from. Read again at each decryption, so that a
/// rotated key file is picked up.
#[derive(Clone)]
pub(crate) enum Identities {
    /// The file named by `AGE_IDENTITY_FILE`, else by `SOPS_AGE_KEY_FILE`.
    FromEnv,
    /// An identity file, as `age-keygen` writes it.
    File(PathBuf),
    /// The text of an identity file, given in code.
    #[cfg_attr(not(feature = "age"), allow(dead_code))]
    Inline(Secret),
}

/// A path is no secret; identities given in code are never printed.
impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identities::FromEnv => f.write_str("FromEnv"),
            Identities::File(path) => f.debug_tuple("File").field(path).finish(),
            Identities::Inline(_) => f.write_str("Inline(***)"),
        }
    }
}

/// What the layer told the reloader through its metadata.
const UNDECLARED: u8 = 0;
const ORDINARY: u8 = 1;
const SECRET: u8 = 2;

/// A file provider's age settings.
#[derive(Debug, Clone)]
pub(crate) struct AgeSettings {
    /// `Some(true)`: the source holds age-encrypted content (a document decrypted whatever its
    /// name; a directory a secret layer). `Some(false)`: never decrypt (a `.age` file is read
    /// as it is). `None`: by name.
    flag: Option<bool>,
    /// Where the identities come from.
    pub(crate) identities: Identities,
    /// Whether the layer said it is secret: decided once, shared by the provider's clones.
    declared: Arc<AtomicU8>,
}

impl Default for AgeSettings {
    fn default() -> Self {
        AgeSettings {
            flag: None,
            identities: Identities::FromEnv,
            declared: Arc::new(AtomicU8::new(UNDECLARED)),
        }
    }
}

impl AgeSettings {
    /// These settings with `flag`, for a provider not yet asked whether it is secret.
    pub(crate) fn with_flag(self, flag: Option<bool>) -> Self {
        AgeSettings {
            flag,
            ..AgeSettings::undeclared(self)
        }
    }

    /// These settings with `identities`, for a provider not yet asked whether it is secret.
    pub(crate) fn with_identities(self, identities: Identities) -> Self {
        AgeSettings {
            identities,
            ..AgeSettings::undeclared(self)
        }
    }

    fn undeclared(self) -> Self {
        AgeSettings {
            declared: Arc::new(AtomicU8::new(UNDECLARED)),
            ..self
        }
    }

    /// Whether the document at `path` is read as age-encrypted.
    pub(crate) fn document_encrypted(&self, path: &Path) -> bool {
        match self.flag {
            Some(flag) => flag,
            None => has_suffix(&path.to_string_lossy()),
        }
    }

    /// The name a directory entry counts as, when it is age-encrypted: `X` for `X.age`.
    pub(crate) fn encrypted_entry<'a>(&self, name: &'a str) -> Option<&'a str> {
        if self.flag == Some(false) {
            return None;
        }
        strip_suffix(name).filter(|key| !key.is_empty())
    }

    /// Whether the source was said to hold encrypted content (`?age=true`, an identity given).
    pub(crate) fn explicit(&self) -> bool {
        self.flag == Some(true) || !matches!(self.identities, Identities::FromEnv)
    }

    /// Whether the directory `dir` is a secret layer: said so, or holding an encrypted entry
    /// now (at most `max_entries` names are looked at).
    pub(crate) fn directory_secret(&self, dir: &Path, max_entries: usize) -> bool {
        if self.flag == Some(false) {
            return false;
        }
        if self.explicit() {
            return true;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        entries.take(max_entries).flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && self.encrypted_entry(&name).is_some()
        })
    }

    /// Whether the layer is secret: `decide()` at the first call, the same answer after it
    /// (the reloader decides how to show a layer once, as it starts).
    pub(crate) fn declare(&self, decide: impl FnOnce() -> bool) -> bool {
        match self.declared.load(Ordering::Relaxed) {
            SECRET => return true,
            ORDINARY => return false,
            _ => {}
        }
        let value = if decide() { SECRET } else { ORDINARY };
        match (self.declared).compare_exchange(
            UNDECLARED,
            value,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => value == SECRET,
            Err(first) => first == SECRET,
        }
    }

    /// Refuses the encrypted `file` of a directory whose layer started as an ordinary one: its
    /// values would show in every output.
    pub(crate) fn check_declared_secret(&self, file: &Path) -> Result<()> {
        if self.declared.load(Ordering::Relaxed) != ORDINARY {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Config,
            format!(
                "{} is age-encrypted, but this directory's layer started as an ordinary one (it \
                 held no encrypted file then), whose values show in events and outputs: restart \
                 with ?age=true (FileProvider::age(true)) to make it a secret layer (and \
                 &secret=false to show its values anyway)",
                file.display()
            ),
        )
        .with_transient(true))
    }
}

/// The name without its `.age` (any case), if it has one.
pub(crate) fn strip_suffix(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(SUFFIX.len())?;
    let (stem, suffix) = (name.get(..cut)?, name.get(cut..)?);
    suffix.eq_ignore_ascii_case(SUFFIX).then_some(stem)
}

fn has_suffix(name: &str) -> bool {
    strip_suffix(name).is_some()
}

/// The name whose extension tells an encrypted document's format: `app.yaml` for
/// `app.yaml.age`.
pub(crate) fn inner_name(name: &str) -> &str {
    strip_suffix(name).unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(strip_suffix("app.yaml.age"), Some("app.yaml"));
        assert_eq!(strip_suffix("APP.YAML.AGE"), Some("APP.YAML"));
        assert_eq!(strip_suffix("age"), None);
        assert_eq!(strip_suffix("é.age"), Some("é"));
        assert_eq!(strip_suffix("xé"), None);
        assert_eq!(inner_name("/etc/app/app.toml.age"), "/etc/app/app.toml");
        let settings = AgeSettings::default();
        assert_eq!(
            settings.encrypted_entry("db.password.age"),
            Some("db.password")
        );
        assert_eq!(settings.encrypted_entry(".age"), None);
        assert_eq!(settings.encrypted_entry("db.password"), None);
        assert!(settings.document_encrypted(Path::new("a/app.json.age")));
        assert!(!settings.document_encrypted(Path::new("a/app.json")));
        let off = AgeSettings {
            flag: Some(false),
            ..AgeSettings::default()
        };
        assert_eq!(off.encrypted_entry("x.age"), None);
        assert!(!off.document_encrypted(Path::new("a/app.json.age")));
    }

    #[test]
    fn inline_identities_never_print() {
        let inline = Identities::Inline(Secret::new("AGE-SECRET-KEY-1QQQ"));
        assert_eq!(format!("{inline:?}"), "Inline(***)");
        let settings = AgeSettings {
            identities: inline,
            ..AgeSettings::default()
        };
        assert!(!format!("{settings:?}").contains("AGE-SECRET"));
    }

    #[test]
    fn a_directory_that_started_ordinary_refuses_an_encrypted_entry() {
        let settings = AgeSettings::default();
        assert!(settings.check_declared_secret(Path::new("x.age")).is_ok());
        assert!(!settings.clone().declare(|| false));
        assert!(!settings.declare(|| true), "decided once, for every clone");
        let error = settings
            .check_declared_secret(Path::new("/cm/x.age"))
            .unwrap_err();
        assert!(
            error.to_string().contains("/cm/x.age") && error.to_string().contains("?age=true"),
            "{error}"
        );
        let told = settings.with_flag(Some(true));
        assert!(told.declare(|| true), "a new setting, a new decision");
        assert!(told.check_declared_secret(Path::new("x.age")).is_ok());
    }
}
