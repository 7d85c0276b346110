//! Credentials sent in an `Authorization` header.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hotconf_core::{Error, ErrorKind, Result, Secret};
use reqwest::header::HeaderValue;

/// An `Authorization` header (`Basic …` or `Bearer …`), marked sensitive so that reqwest never
/// prints it, with what an error page must not show of it (the password, the token, the
/// base64 of `user:password`). Its `Debug` shows neither.
#[derive(Clone)]
pub struct Authorization {
    header: HeaderValue,
    secrets: Vec<Secret>,
}

impl Authorization {
    /// HTTP basic authentication as `user` with `password`.
    ///
    /// # Errors
    /// A permanent [`ErrorKind::Config`] error for credentials a header cannot carry.
    pub fn basic(user: &str, password: Option<&Secret>) -> Result<Self> {
        let pair = format!("{user}:{}", password.map_or("", |p| p.expose()));
        let mut secrets: Vec<Secret> = password.into_iter().cloned().collect();
        let encoded = BASE64.encode(pair);
        secrets.push(Secret::new(encoded.clone()));
        Authorization::new("Basic", &encoded, secrets)
    }

    /// A bearer token.
    ///
    /// # Errors
    /// A permanent [`ErrorKind::Config`] error for a token a header cannot carry.
    pub fn bearer(token: &Secret) -> Result<Self> {
        Authorization::new("Bearer", token.expose(), vec![token.clone()])
    }

    fn new(scheme: &str, credentials: &str, secrets: Vec<Secret>) -> Result<Self> {
        let mut header =
            HeaderValue::try_from(format!("{scheme} {credentials}")).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    format!("{scheme} credentials with characters a header cannot carry"),
                )
                .with_transient(false)
            })?;
        header.set_sensitive(true);
        Ok(Authorization { header, secrets })
    }

    /// The header's value.
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// What an error page must not show.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authorization(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_are_sensitive_and_list_their_secrets() {
        let basic = Authorization::basic("ann", Some(&Secret::new("pw"))).unwrap();
        assert_eq!(basic.header().to_str().unwrap(), "Basic YW5uOnB3");
        assert!(basic.header().is_sensitive());
        let secrets: Vec<&str> = basic
            .secrets()
            .iter()
            .map(|s| s.expose().as_str())
            .collect();
        assert_eq!(secrets, ["pw", "YW5uOnB3"]);
        let bearer = Authorization::bearer(&Secret::new("t0k")).unwrap();
        assert_eq!(bearer.header().to_str().unwrap(), "Bearer t0k");
        assert_eq!(format!("{bearer:?}"), "Authorization(..)");
        assert!(Authorization::bearer(&Secret::new("a\nb")).is_err());
    }
}
