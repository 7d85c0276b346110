//! Service-account-shaped JWTs: what the kubelet projects into a pod
//! (`/var/run/secrets/kubernetes.io/serviceaccount/token`), with a signature that nobody can
//! check. Only the emulator's TokenReview vouches for them.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Value};

/// The issuer and audience of a cluster's bound service account tokens (the API server's
/// default `--service-account-issuer` and `--api-audiences`).
pub(crate) const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// How long a token lives: a kubelet-projected token's default (`expirationSeconds: 3607`).
const LIFETIME_SECS: u64 = 3607;

/// A service account token for `namespace/name` whose service account has `uid`: a JWT in the
/// bound form the kubelet projects into pods, unique at every call.
///
/// - header `{"alg":"RS256","kid":…,"typ":"JWT"}`;
/// - claims `iss` and `aud` (`https://kubernetes.default.svc.cluster.local`), `sub`
///   (`system:serviceaccount:NAMESPACE:NAME`), `iat`, `nbf`, `exp` (an hour from now), a
///   unique `jti`, and `kubernetes.io: {namespace, serviceaccount: {name, uid}}`, which is
///   where Vault's and OpenBao's Kubernetes auth read the service account from;
/// - a signature part of 256 random bytes (base64url, as an RS256 signature is long), which
///   signs nothing: **only a TokenReview vouches for the token** (register it with
///   [`KubeEmulator::add_service_account_token`](super::KubeEmulator::add_service_account_token)).
///   That is how the Kubernetes auth method works by default, without `pem_keys`: it parses
///   the claims unverified and asks the API server.
///
/// ```
/// use hotconf_testkit::kubernetes::service_account_jwt;
/// let jwt = service_account_jwt("default", "app", "uid-1");
/// assert_eq!(jwt.split('.').count(), 3);
/// assert_ne!(jwt, service_account_jwt("default", "app", "uid-1"));
/// ```
pub fn service_account_jwt(namespace: &str, name: &str, uid: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = json!({"alg": "RS256", "kid": "hotconf-emulator-sa-key", "typ": "JWT"});
    let claims = json!({
        "aud": [API_AUDIENCE],
        "exp": now + LIFETIME_SECS,
        "iat": now,
        "iss": API_AUDIENCE,
        "jti": unique_id(),
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": uid},
        },
        "nbf": now,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    });
    let signature: Vec<u8> = (0..32).flat_map(|_| random().to_le_bytes()).collect();
    format!("{}.{}.{}", part(&header), part(&claims), encode(&signature))
}

fn part(value: &Value) -> String {
    encode(value.to_string().as_bytes())
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 64 random bits (std's per-process random hash keys over a counter).
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A UUID-shaped random id.
fn unique_id() -> String {
    let (a, b) = (random(), random());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_token_carries_the_bound_service_account_claims() {
        let jwt = service_account_jwt("team-a", "api", "uid-7");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(decode(parts[0])["alg"], "RS256");
        let claims = decode(parts[1]);
        assert_eq!(claims["sub"], "system:serviceaccount:team-a:api");
        assert_eq!(claims["kubernetes.io"]["namespace"], "team-a");
        assert_eq!(claims["kubernetes.io"]["serviceaccount"]["name"], "api");
        assert_eq!(claims["kubernetes.io"]["serviceaccount"]["uid"], "uid-7");
        assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        assert_eq!(signature.len(), 256);
    }
}
