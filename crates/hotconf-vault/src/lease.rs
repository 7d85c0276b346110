//! A leased secret's lease (`database/creds/ROLE`): renewed at about two thirds while the server
//! extends it, read again (new credentials) before it ends once it cannot be extended.

use std::time::{Duration, Instant};

use hotconf_core::{ErrorKind, Result, Secret};
use reqwest::Method;
use serde_json::json;

use crate::api::{u64_at, Api};
use crate::kv::Read;
use crate::session::found;

/// When a grant of `ttl` seconds made at `now` is due for renewal or replacement: two thirds of
/// it plus a third of a random grace of 10–20 % of it (the Go client's `LifetimeWatcher`), so a
/// fleet's renewals spread out; and when it ends.
pub(crate) fn due_after(ttl: u64, now: Instant) -> (Instant, Instant) {
    let ttl = Duration::from_secs(ttl);
    let grace = ttl.mul_f64(0.1 + fastrand::f64() * 0.1);
    (now + ttl * 2 / 3 + grace / 3, now + ttl)
}

/// The lease of the last read.
#[derive(Debug)]
pub(crate) struct Lease {
    id: Secret,
    renewable: bool,
    /// The duration it was issued with, asked for at each renewal.
    increment: u64,
    /// Renewals stopped extending it (its max TTL is near): read again when due.
    capped: bool,
    due: Instant,
    expires: Instant,
}

/// What a due lease needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing yet.
    Not,
    /// It was renewed: the credentials stay.
    Renewed,
    /// Read the path again: new credentials, a new lease.
    ReadAgain,
}

impl Lease {
    /// The lease of `read`, if it has one.
    pub(crate) fn of(read: &Read, now: Instant) -> Option<Lease> {
        if read.lease_id.is_empty() || read.lease_duration == 0 {
            return None;
        }
        let (due, expires) = due_after(read.lease_duration, now);
        Some(Lease {
            id: Secret::new(read.lease_id.clone()),
            renewable: read.renewable,
            increment: read.lease_duration,
            capped: false,
            due,
            expires,
        })
    }

    /// When it must next be renewed or replaced.
    pub(crate) fn due(&self) -> Instant {
        self.due
    }

    /// Renews it if it is due and can be extended; says when the path must be read again
    /// instead (not renewable, capped, or the server no longer knows it).
    pub(crate) async fn act(&mut self, api: &Api, token: &Secret, now: Instant) -> Result<Due> {
        if now < self.due {
            return Ok(Due::Not);
        }
        if !self.renewable || self.capped {
            return Ok(Due::ReadAgain);
        }
        let body = json!({"lease_id": self.id.expose(), "increment": self.increment});
        let renewed = found(api.call(
            "renewing the lease of",
            Method::POST,
            "sys/leases/renew",
            Some(token),
            Some(&body),
        ))
        .await;
        let answer = match renewed {
            Ok(answer) => answer,
            // Refused (the lease is gone, or no longer renewable): new credentials instead.
            Err(error) if error.kind() != ErrorKind::Unavailable || now >= self.expires => {
                tracing::debug!(error = %error, "vault: a lease could not be renewed; reading again");
                return Ok(Due::ReadAgain);
            }
            Err(error) => return Err(error),
        };
        let granted = u64_at(&answer, "/lease_duration").unwrap_or(0);
        if granted == 0 {
            return Ok(Due::ReadAgain);
        }
        self.capped = granted < self.increment;
        (self.due, self.expires) = due_after(granted, now);
        tracing::debug!(granted, capped = self.capped, "vault: renewed a lease");
        Ok(Due::Renewed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn read(lease_id: &str, duration: u64) -> Read {
        Read {
            data: Map::new(),
            lease_id: lease_id.to_owned(),
            lease_duration: duration,
            renewable: true,
        }
    }

    #[test]
    fn only_an_answer_with_a_lease_id_and_a_duration_has_a_lease() {
        let now = Instant::now();
        assert!(Lease::of(&read("", 60), now).is_none());
        assert!(Lease::of(&read("database/creds/app/x", 0), now).is_none());
        let lease = Lease::of(&read("database/creds/app/x", 60), now).unwrap();
        let due = lease.due() - now;
        assert!(
            due >= Duration::from_secs(42) && due <= Duration::from_secs(44),
            "{due:?}"
        );
        assert!(
            !format!("{lease:?}").contains("database/creds"),
            "{lease:?}"
        );
    }
}
