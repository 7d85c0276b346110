//! Decrypting an age file in memory: binary or armored (told apart by the first bytes), into a
//! buffer that is bounded while it fills and wiped when dropped. No error quotes the plaintext
//! or an identity.

use std::io::{ErrorKind as IoKind, Read};
use std::path::Path;

use age::armor::ArmoredReader;
use age::{DecryptError, Decryptor};
use hotconf_core::{Error, ErrorKind, Result};
use zeroize::Zeroizing;

use super::identity::Keys;

/// How a binary age file starts (`age-encryption.org/v1` for the current version).
const BINARY: &[u8] = b"age-encryption.org/";
/// How an armored age file (`age --armor`) starts.
const ARMORED: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
/// The size of one read of plaintext.
const CHUNK: usize = 64 * 1024;

/// Decrypts the age file at `path` (its bytes `ciphertext`) with `keys`, refusing a plaintext
/// above `max` bytes as soon as it passes it.
///
/// # Errors
/// All transient, naming `path`: [`ErrorKind::Parse`] for content that is not an age file, or
/// one corrupted or truncated, or a plaintext above `max`; [`ErrorKind::PermissionDenied`] when
/// no identity of `keys` opens it, or it is encrypted with a passphrase.
pub(super) fn decrypt(
    path: &Path,
    ciphertext: &[u8],
    keys: &Keys,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if !ciphertext.starts_with(BINARY) && !ciphertext.starts_with(ARMORED) {
        return Err(Error::new(
            ErrorKind::Parse,
            format!(
                "{} is not an age file: it starts with neither `age-encryption.org/` (binary) \
                 nor `-----BEGIN AGE ENCRYPTED FILE-----` (armored)",
                path.display()
            ),
        )
        .with_transient(true));
    }
    let decryptor = Decryptor::new_buffered(ArmoredReader::new(ciphertext))
        .map_err(|e| undecryptable(path, keys, e))?;
    if decryptor.is_scrypt() {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{} is encrypted with a passphrase: hotconf decrypts with identities only \
                 (encrypt to a recipient: age -r age1…)",
                path.display()
            ),
        )
        .with_transient(true));
    }
    let identities = keys
        .identities
        .iter()
        .map(|identity| identity.as_ref() as &dyn age::Identity);
    let reader = decryptor
        .decrypt(identities)
        .map_err(|e| undecryptable(path, keys, e))?;
    read_plaintext(reader, path, ciphertext.len().min(max), max)
}

/// Reads the plaintext into a buffer of `capacity` bytes (grown only by [`append`]), refusing
/// it past `max`.
fn read_plaintext(
    mut reader: impl Read,
    path: &Path,
    capacity: usize,
    max: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut plaintext = Zeroizing::new(Vec::with_capacity(capacity));
    let mut chunk = Zeroizing::new(vec![0; CHUNK.min(max.saturating_add(1))]);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(plaintext),
            Ok(n) => n,
            Err(e) if e.kind() == IoKind::Interrupted => continue,
            Err(e) => return Err(corrupted(path, &e)),
        };
        if plaintext.len().saturating_add(n) > max {
            return Err(Error::new(
                ErrorKind::Parse,
                format!(
                    "{} decrypts to more than {max} bytes (Limits::max_bytes)",
                    path.display()
                ),
            )
            .with_transient(true));
        }
        append(&mut plaintext, &chunk[..n]);
    }
}

/// Appends `bytes` without letting the vector reallocate by itself (which would leave a copy
/// of the plaintext in freed memory): a larger buffer is made and filled, and the old one is
/// wiped as it drops.
fn append(buffer: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let needed = buffer.len().saturating_add(bytes.len());
    if needed > buffer.capacity() {
        let mut larger = Zeroizing::new(Vec::with_capacity(
            needed.max(buffer.capacity().saturating_mul(2)),
        ));
        larger.extend_from_slice(buffer);
        *buffer = larger;
    }
    buffer.extend_from_slice(bytes);
}

/// Why age could not decrypt `path`.
fn undecryptable(path: &Path, keys: &Keys, error: DecryptError) -> Error {
    match error {
        DecryptError::NoMatchingKeys | DecryptError::KeyDecryptionFailed => Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{} cannot be decrypted with {}: it was encrypted to other recipients (a wrong \
                 or rotated key?)",
                path.display(),
                keys.origin
            ),
        )
        .with_transient(true),
        other => corrupted(path, &other),
    }
}

fn corrupted(path: &Path, error: &dyn std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!(
            "{} is not a valid age file, or is corrupted or truncated ({})",
            path.display(),
            one_line(&error.to_string())
        ),
    )
    .with_transient(true)
}

/// age's messages may span lines (a hint under the error).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use hotconf_core::Secret;
    use hotconf_testkit::age::{AgeKey, Armor};

    use super::*;
    use crate::encrypted::identity::load;
    use crate::encrypted::Identities;

    fn keys(key: &AgeKey) -> Keys {
        load(&Identities::File(key.path.clone())).unwrap()
    }

    #[test]
    fn binary_and_armored_files_decrypt_into_a_buffer_that_never_reallocated() {
        let dir = tempfile::tempdir().unwrap();
        let key = AgeKey::generate(dir.path().join("key.txt"));
        // Several chunks and several of age's 64 KiB stream chunks.
        let plaintext: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for armor in [Armor::Binary, Armor::Armored] {
            let path = dir.path().join("big.bin.age");
            key.encrypt(&plaintext, &path, armor);
            let ciphertext = std::fs::read(&path).unwrap();
            let decrypted: Zeroizing<Vec<u8>> =
                decrypt(&path, &ciphertext, &keys(&key), usize::MAX).unwrap();
            assert!(*decrypted == plaintext, "{armor:?}");
            // Filled in the buffer allocated at first: no reallocation left a copy behind.
            assert_eq!(decrypted.capacity(), ciphertext.len(), "{armor:?}");
        }
    }

    #[test]
    fn a_growing_buffer_keeps_its_bytes() {
        let mut buffer = Zeroizing::new(Vec::with_capacity(2));
        for chunk in [&b"ab"[..], b"c", b"defgh", b""] {
            let before = buffer.capacity();
            append(&mut buffer, chunk);
            assert!(buffer.capacity() == before || buffer.capacity() >= 2 * before);
        }
        assert_eq!(&buffer[..], b"abcdefgh");
    }

    #[test]
    fn a_plaintext_past_the_limit_is_refused_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let key = AgeKey::generate(dir.path().join("key.txt"));
        let path = dir.path().join("app.json.age");
        key.encrypt(&[b' '; 1000], &path, Armor::Binary);
        let ciphertext = std::fs::read(&path).unwrap();
        assert_eq!(
            decrypt(&path, &ciphertext, &keys(&key), 1000)
                .unwrap()
                .len(),
            1000
        );
        let error = decrypt(&path, &ciphertext, &keys(&key), 999).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("app.json.age decrypts to more than 999 bytes"),
            "{error}"
        );
        assert!(error.is_transient());
    }

    #[test]
    fn wrong_keys_corruption_truncation_and_plain_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let key = AgeKey::generate(dir.path().join("key.txt"));
        let other = AgeKey::generate(dir.path().join("other.txt"));
        let path = dir.path().join("app.yaml.age");
        key.encrypt(b"password: hunter2\n", &path, Armor::Binary);
        let ciphertext = std::fs::read(&path).unwrap();
        let inline = Secret::new(std::fs::read_to_string(&other.path).unwrap());
        let wrong = load(&Identities::Inline(inline)).unwrap();
        let mut truncated = ciphertext.clone();
        truncated.truncate(ciphertext.len() - 5);
        let mut flipped = ciphertext.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        let cases: [(&[u8], &Keys, ErrorKind, &str); 4] = [
            (
                &ciphertext,
                &wrong,
                ErrorKind::PermissionDenied,
                "other recipients",
            ),
            (&truncated, &keys(&key), ErrorKind::Parse, "truncated"),
            (&flipped, &keys(&key), ErrorKind::Parse, "corrupted"),
            (
                b"password: hunter2\n",
                &keys(&key),
                ErrorKind::Parse,
                "not an age file",
            ),
        ];
        for (bytes, keys, kind, said) in cases {
            let error = decrypt(&path, bytes, keys, usize::MAX).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert_eq!(error.kind(), kind, "{shown}");
            assert!(error.is_transient(), "{shown}");
            assert!(
                shown.contains("app.yaml.age") && shown.contains(said),
                "{shown}"
            );
            assert!(
                !shown.contains("hunter2") && !shown.contains("AGE-SECRET"),
                "{shown}"
            );
        }
    }
}
