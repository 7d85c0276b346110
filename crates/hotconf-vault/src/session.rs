//! The token every request of a client carries: had from a token, a token file or a login,
//! renewed at about two thirds of its TTL while renewable, replaced by a new login before its
//! max TTL, after the server refused it, or when a renewal fails.

use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hotconf_core::{Error, ErrorKind, Result, Secret};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::api::{malformed, str_at, u64_at, Api, Reply};
use crate::client::{Auth, VaultClient};
use crate::lease::due_after;

/// The largest token, secret id or service account token file read.
const CREDENTIAL_FILE_BYTES: u64 = 64 << 10;

/// How long a failed renewal waits before it is tried again (while the token still lives, and
/// no later than its end).
const RENEW_RETRY: Duration = Duration::from_secs(5);

/// The token of a client, shared by its providers: one login, one renewal for all of them.
#[derive(Default)]
pub(crate) struct Session {
    held: Mutex<Option<Held>>,
}

/// A token and what the server said of its life.
struct Held {
    token: Secret,
    /// When to renew it or log in again; `None`: never (a token without a TTL).
    due: Option<Instant>,
    /// When it ends; `None`: never.
    expires: Option<Instant>,
    renewable: bool,
    /// The TTL asked for at each renewal (the TTL it was issued with).
    increment: u64,
    /// Renewals stopped growing it (its max TTL is near): log in again when due.
    capped: bool,
}

impl Held {
    fn new(token: Secret, ttl: u64, renewable: bool, now: Instant) -> Held {
        let mut held = Held {
            token,
            due: None,
            expires: None,
            renewable,
            increment: ttl,
            capped: false,
        };
        held.granted(ttl, now);
        held
    }

    /// The server granted `ttl` seconds from `now` (0: no TTL, never due).
    fn granted(&mut self, ttl: u64, now: Instant) {
        (self.due, self.expires) = if ttl == 0 {
            (None, None)
        } else {
            let (due, expires) = due_after(ttl, now);
            (Some(due), Some(expires))
        };
    }
}

impl Session {
    /// The token to send now: the one held, renewed or replaced first when it is due.
    ///
    /// # Errors
    /// No way to have a token (a permanent config error); a login or lookup the server refused
    /// or could not answer; a token that expired and cannot be renewed or replaced.
    pub(crate) async fn token(&self, client: &VaultClient) -> Result<Secret> {
        let auth = client.settings().auth.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "vault: no token: set VAULT_TOKEN or BAO_TOKEN, or give ?token_file=, \
                 ?role_id=&secret_id_file= or ?k8s_role=",
            )
            .with_transient(false)
        })?;
        let api = client.api()?;
        let mut held = self.held.lock().await;
        if let Auth::TokenFile(path) = auth {
            let token = read_credential(path, "token file")?;
            if held.as_ref().is_none_or(|h| h.token.expose() != &token) {
                *held = None;
            }
        }
        let now = Instant::now();
        if let Some(current) = held.as_mut() {
            if current.due.is_none_or(|due| now < due) {
                return Ok(current.token.clone());
            }
            if current.renewable && !current.capped {
                match renew(api, current, now).await {
                    Ok(()) => return Ok(current.token.clone()),
                    // Refused: the token is gone (revoked, expired); get another below.
                    Err(error) if error.kind() == ErrorKind::PermissionDenied => {}
                    Err(error) => {
                        if current.expires.is_some_and(|end| now >= end) {
                            return Err(error);
                        }
                        // A server may grant a full TTL at one renewal and answer the next
                        // "past the max TTL, cannot renew" (400): a login replaces the token
                        // before it ends. Otherwise (or if the login fails too) the token is
                        // kept and renewed again soon, never after it ends.
                        if auth.logs_in() {
                            match acquire(api, auth, now).await {
                                Ok(fresh) => {
                                    tracing::debug!(error = %error, "vault: renewing the token failed; logged in again");
                                    *current = fresh;
                                    return Ok(current.token.clone());
                                }
                                Err(login) => {
                                    tracing::warn!(error = %login, "vault: logging in again failed");
                                }
                            }
                        }
                        tracing::warn!(error = %error, "vault: renewing the token failed; trying again soon");
                        let retry = now + RENEW_RETRY;
                        current.due = Some(current.expires.map_or(retry, |end| retry.min(end)));
                        return Ok(current.token.clone());
                    }
                }
            } else if !auth.logs_in() {
                // Nothing can replace it: use it until it ends, then say so.
                if current.expires.is_some_and(|end| now >= end) {
                    return Err(expired(auth));
                }
                current.due = current.expires;
                return Ok(current.token.clone());
            }
        }
        *held = None;
        let fresh = acquire(api, auth, now).await?;
        let token = fresh.token.clone();
        *held = Some(fresh);
        Ok(token)
    }

    /// The server refused `token`: forget it, so the next request gets another (a new login,
    /// the token file read again, or a lookup that says why).
    pub(crate) async fn refused(&self, token: &Secret) {
        let mut held = self.held.lock().await;
        if held.as_ref().is_some_and(|h| &h.token == token) {
            *held = None;
        }
    }

    /// When the token must next be renewed or replaced, if it must.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.held.try_lock().ok()?.as_ref()?.due
    }
}

/// A token that ended with nothing to replace it.
fn expired(auth: &Auth) -> Error {
    let how = match auth {
        Auth::TokenFile(path) => format!("write a new token to {}", path.display()),
        _ => "give a renewable token, a token file or a login method (?role_id=, ?k8s_role=)"
            .to_owned(),
    };
    Error::new(
        ErrorKind::PermissionDenied,
        format!("vault: the token expired and cannot be renewed or replaced: {how}"),
    )
    .with_transient(true)
}

/// A token from `auth`: a lookup of a given one (its TTL, whether it is renewable), or a login.
async fn acquire(api: &Api, auth: &Auth, now: Instant) -> Result<Held> {
    let (token, login) = match auth {
        Auth::Token(token) => (token.clone(), None),
        Auth::TokenFile(path) => (Secret::new(read_credential(path, "token file")?), None),
        Auth::AppRole {
            mount,
            role_id,
            secret_id_file,
        } => {
            let secret_id = read_credential(secret_id_file, "secret id file")?;
            let body = json!({"role_id": role_id, "secret_id": secret_id});
            (Secret::default(), Some((mount, body)))
        }
        Auth::Kubernetes {
            mount,
            role,
            jwt_file,
        } => {
            let jwt = read_credential(jwt_file, "service account token")?;
            (
                Secret::default(),
                Some((mount, json!({"role": role, "jwt": jwt}))),
            )
        }
    };
    if let Some((mount, body)) = login {
        let path = format!("auth/{}/login", crate::api::encode_path(mount));
        let answer = found(api.call("logging in at", Method::POST, &path, None, Some(&body)))
            .await
            .map_err(|e| e.with_transient(true))?;
        let token = str_at(&answer, "/auth/client_token")
            .ok_or_else(|| malformed("logging in at", &path, "auth.client_token"))?;
        let ttl = u64_at(&answer, "/auth/lease_duration").unwrap_or(0);
        let renewable = answer
            .pointer("/auth/renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        tracing::debug!(ttl, renewable, "vault: logged in");
        return Ok(Held::new(
            Secret::new(token.to_owned()),
            ttl,
            renewable,
            now,
        ));
    }
    let path = "auth/token/lookup-self";
    let answer = match found(api.call("looking up", Method::GET, path, Some(&token), None)).await {
        Ok(answer) => answer,
        // A token without the `default` policy may not look itself up: its life is unknown,
        // and the reads say whether it is refused.
        Err(error) if error.kind() == ErrorKind::PermissionDenied => {
            tracing::debug!(error = %error, "vault: the token cannot look itself up; not renewing it");
            return Ok(Held::new(token, 0, false, now));
        }
        Err(error) => return Err(error),
    };
    let ttl = u64_at(&answer, "/data/ttl").unwrap_or(0);
    let renewable = answer
        .pointer("/data/renewable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut held = Held::new(token, ttl, renewable, now);
    // Renew by the TTL it was created with, not by what is left of it.
    held.increment = u64_at(&answer, "/data/creation_ttl")
        .unwrap_or(ttl)
        .max(ttl);
    Ok(held)
}

/// `renew-self` by the token's own increment; a grant shorter than asked means its max TTL is
/// near: from then on it is replaced (a new login) instead of renewed, when that is possible.
async fn renew(api: &Api, held: &mut Held, now: Instant) -> Result<()> {
    let body = json!({"increment": format!("{}s", held.increment)});
    let answer = found(api.call(
        "renewing",
        Method::POST,
        "auth/token/renew-self",
        Some(&held.token),
        Some(&body),
    ))
    .await?;
    let granted = u64_at(&answer, "/auth/lease_duration")
        .ok_or_else(|| malformed("renewing", "auth/token/renew-self", "auth.lease_duration"))?;
    held.renewable = answer
        .pointer("/auth/renewable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    held.capped = granted < held.increment;
    held.granted(granted, now);
    tracing::debug!(granted, capped = held.capped, "vault: renewed the token");
    Ok(())
}

/// The body of a successful answer; a 404 is an error here.
pub(crate) async fn found(call: impl std::future::Future<Output = Result<Reply>>) -> Result<Value> {
    match call.await? {
        Reply::Found(value) => Ok(value),
        Reply::NotFound => Err(Error::new(
            ErrorKind::PermissionDenied,
            "vault: the server answered 404 (no such auth mount or role?)",
        )
        .with_transient(true)),
    }
}

/// A credential from a small regular file, trimmed: never a FIFO or a device (a read that could
/// block), never above [`CREDENTIAL_FILE_BYTES`]; errors name the file, never its contents.
pub(crate) fn read_credential(path: &Path, what: &str) -> Result<String> {
    let fail = |why: String| {
        Error::new(
            ErrorKind::Config,
            format!("vault: the {what} {}: {why}", path.display()),
        )
        .with_key(path.display().to_string())
        .with_transient(true)
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".to_owned()));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(CREDENTIAL_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| fail(e.to_string()))?;
    if text.len() as u64 > CREDENTIAL_FILE_BYTES {
        return Err(fail(format!("larger than {CREDENTIAL_FILE_BYTES} bytes")));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(fail("empty".to_owned()));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_due_between_two_thirds_and_three_quarters_of_its_ttl() {
        let now = Instant::now();
        for _ in 0..100 {
            let held = Held::new(Secret::new("t"), 300, true, now);
            let due = held.due.unwrap() - now;
            assert!(
                due >= Duration::from_secs(210) && due <= Duration::from_secs(220),
                "{due:?}"
            );
            assert_eq!(held.expires, Some(now + Duration::from_secs(300)));
        }
        let root = Held::new(Secret::new("t"), 0, false, now);
        assert_eq!((root.due, root.expires), (None, None));
    }

    #[test]
    fn a_credential_file_must_be_a_small_regular_file_and_errors_never_quote_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s.secret-token\n").unwrap();
        assert_eq!(
            read_credential(&path, "token file").unwrap(),
            "s.secret-token"
        );
        std::fs::write(&path, "\n").unwrap();
        let error = read_credential(&path, "token file").unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
        std::fs::write(&path, "x".repeat(70_000)).unwrap();
        let error = read_credential(&path, "token file").unwrap_err();
        assert!(!error.to_string().contains("xxxx"), "{error}");
        let error = read_credential(dir.path(), "token file").unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }
}
