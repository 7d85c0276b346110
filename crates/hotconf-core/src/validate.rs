//! Validators: sync closures and async hooks that can refuse a candidate config.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::store::Snapshot;

/// A boxed future of a check's outcome.
pub(crate) type CheckFuture = Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>>;

pub(crate) type SyncValidator<T> = Box<dyn Fn(&T) -> Result<()> + Send + Sync>;
pub(crate) type AsyncCheck<T> = Box<dyn Fn(Arc<Snapshot<T>>) -> CheckFuture + Send + Sync>;

impl Error {
    /// A validation failure with a message; add the key with [`Error::with_key`].
    ///
    /// ```
    /// let err = hotconf_core::Error::validation("must be at least 1").with_key("pool.size");
    /// assert_eq!(err.key(), Some("pool.size"));
    /// ```
    pub fn validation(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, message)
    }
}
