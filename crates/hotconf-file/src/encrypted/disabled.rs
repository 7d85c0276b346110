//! A build without the `age` feature: an age-encrypted file is an error naming the feature,
//! never read as it is (`?age=false` reads it as it is).

use std::marker::PhantomData;
use std::path::Path;

use hotconf_core::{Error, ErrorKind, Format, Limits, Result};
use serde_json::Value;

use super::AgeSettings;

/// Refuses every encrypted file: this build cannot decrypt.
pub(crate) struct Decrypter<'a>(PhantomData<&'a ()>);

impl<'a> Decrypter<'a> {
    /// A decrypter that refuses.
    pub(crate) fn new(_: &'a AgeSettings, _: &'a Limits) -> Self {
        Decrypter(PhantomData)
    }

    /// Refuses the document at `path`.
    pub(crate) fn document(&mut self, path: &Path, _: &[u8], _: Format) -> Result<Value> {
        Err(disabled(path))
    }

    /// Refuses the value at `path`.
    pub(crate) fn value(&mut self, path: &Path, _: &[u8]) -> Result<String> {
        Err(disabled(path))
    }
}

/// The error for an encrypted file in a build without age support.
pub(crate) fn disabled(path: &Path) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "{} is age-encrypted (.age), and this build has no age support: enable the `age` \
             feature of hotconf (or hotconf-file), or give ?age=false to read it as it is",
            path.display()
        ),
    )
    .with_transient(false)
}

#[cfg(test)]
mod tests {
    use hotconf_core::provider::SourceUri;

    use crate::encrypted::AgeSettings;
    use crate::read::{read_state, FileMode};
    use crate::FileProvider;

    #[test]
    fn an_encrypted_file_is_an_error_naming_the_feature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.yaml.age");
        std::fs::write(&path, "age-encryption.org/v1\n").unwrap();
        let limits = hotconf_core::Limits::default();
        let settings = AgeSettings::default();
        let error = read_state(&path, FileMode::Document(None), &limits, &settings).unwrap_err();
        assert!(
            error.to_string().contains("app.yaml.age")
                && error.to_string().contains("`age` feature"),
            "{error}"
        );
        let uri: SourceUri = format!("file:{}?age=true", path.display()).parse().unwrap();
        let error = FileProvider::from_uri(&uri).unwrap_err();
        assert!(error.to_string().contains("`age` feature"), "{error}");
        let uri: SourceUri = format!("file:{}?age=false&format=yaml", path.display())
            .parse()
            .unwrap();
        assert!(FileProvider::from_uri(&uri).is_ok());
    }
}
