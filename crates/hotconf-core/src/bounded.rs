//! Reading with a limit enforced while reading: a body or file is collected chunk by chunk and
//! refused as soon as it passes its limit, so a 4 GiB file, `/dev/zero` or a server that streams
//! for ever never sits in memory whole.

use crate::error::{Error, ErrorKind, Result};

/// A body collected chunk by chunk under a byte limit.
///
/// ```
/// use hotconf_core::provider::BoundedBody;
/// let mut body = BoundedBody::new(8, None).unwrap();
/// body.push(b"1234").unwrap();
/// assert!(body.push(b"56789").is_err()); // 9 bytes: refused before it is kept
/// assert!(BoundedBody::new(8, Some(u64::MAX)).is_err()); // a declared length above the limit
/// ```
#[derive(Debug)]
pub struct BoundedBody {
    bytes: Vec<u8>,
    max: usize,
}

impl BoundedBody {
    /// An empty body that accepts at most `max` bytes. `declared` is the length the source
    /// announced (a `Content-Length`, a file's metadata), refused at once when above `max` and
    /// otherwise only a capacity hint (a source can lie about it).
    ///
    /// # Errors
    /// [`ErrorKind::Parse`] (permanent) when `declared` is above `max`.
    pub fn new(max: usize, declared: Option<u64>) -> Result<Self> {
        if let Some(len) = declared {
            if len > max as u64 {
                return Err(too_large(len, max));
            }
        }
        let hint = declared.map_or(0, |len| len as usize).min(max).min(1 << 20);
        Ok(BoundedBody {
            bytes: Vec::with_capacity(hint),
            max,
        })
    }

    /// Appends `chunk`.
    ///
    /// # Errors
    /// [`ErrorKind::Parse`] (permanent) when the body would pass the limit; nothing is appended.
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        let len = self.bytes.len().saturating_add(chunk.len());
        if len > self.max {
            return Err(too_large(len as u64, self.max));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes collected so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The collected bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The error for input of at least `len` bytes, above the limit `max`.
pub(crate) fn too_large(len: u64, max: usize) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("is at least {len} bytes, above the limit of {max} bytes"),
    )
}
