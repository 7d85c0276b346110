//! `Decrypter`: the age-encrypted files of one read, decrypted with the identities loaded once
//! for the read, parsed by the reloader's own parser, and wiped.

use std::path::Path;

use hotconf_core::provider::parse_document;
use hotconf_core::{Error, ErrorKind, Format, Limits, Result};
use serde_json::Value;

use super::decrypt::decrypt;
use super::identity::{load, Keys};
use super::AgeSettings;

/// Decrypts the encrypted files of one read of a source. The identities are read at the first
/// encrypted file (so a rotated key file is picked up by the next read), and every plaintext is
/// wiped as soon as it is parsed.
pub(crate) struct Decrypter<'a> {
    settings: &'a AgeSettings,
    limits: &'a Limits,
    keys: Option<Keys>,
}

impl<'a> Decrypter<'a> {
    /// A decrypter for one read under `limits`.
    pub(crate) fn new(settings: &'a AgeSettings, limits: &'a Limits) -> Self {
        Decrypter {
            settings,
            limits,
            keys: None,
        }
    }

    /// The encrypted document at `path` (its bytes `ciphertext`), parsed as `format`.
    ///
    /// # Errors
    /// Transient errors naming `path` for a file that does not decrypt, and the parser's errors
    /// (which never quote a value); a missing or bad identity.
    pub(crate) fn document(
        &mut self,
        path: &Path,
        ciphertext: &[u8],
        format: Format,
    ) -> Result<Value> {
        let plaintext = self.plaintext(path, ciphertext)?;
        parse_document(format, &plaintext, self.limits).map_err(|e| {
            Error::new(e.kind(), format!("once decrypted: {}", e.message())).with_transient(true)
        })
        // `plaintext` is wiped here.
    }

    /// The encrypted value at `path` (an entry of a key-per-file directory), as text.
    ///
    /// # Errors
    /// As [`document`](Self::document), and for a plaintext that is not UTF-8.
    pub(crate) fn value(&mut self, path: &Path, ciphertext: &[u8]) -> Result<String> {
        let plaintext = self.plaintext(path, ciphertext)?;
        match std::str::from_utf8(&plaintext) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(Error::new(
                ErrorKind::Parse,
                format!(
                    "{} decrypts to text that is not valid UTF-8 (at byte {})",
                    path.display(),
                    e.valid_up_to()
                ),
            )
            .with_transient(true)),
        }
    }

    fn plaintext(&mut self, path: &Path, ciphertext: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let keys = match &mut self.keys {
            Some(keys) => keys,
            None => self.keys.insert(load(&self.settings.identities)?),
        };
        decrypt(path, ciphertext, keys, self.limits.max_bytes)
    }
}
