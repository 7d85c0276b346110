//! The Kubernetes auth method (backends.md §8.5) pointed at an API server such as the test
//! kit's `KubeEmulator`: a login sends a service account JWT, and OpenBao asks that server's
//! TokenReview API whether it is valid.
//!
//! What OpenBao 2.7's plugin needs, from its code (`internal/builtin/credential/kubernetes`):
//! - `kubernetes_host` may be plain `http://` (TokenReview is a POST to
//!   `HOST/apis/authentication.k8s.io/v1/tokenreviews`).
//! - `kubernetes_ca_cert` must be set even then: without it, writing the config reads the
//!   in-pod CA file `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt` and fails, and
//!   `disable_local_ca_jwt` (which stops the plugin from reading the in-pod CA and JWT)
//!   insists on it. Over `http://` it is never used, so any text does (the server logs that it
//!   holds no certificate).
//! - Without `pem_keys` the JWT's signature is not checked: its claims are read unverified
//!   (the algorithm must be RS/ES 256–512), the TokenReview vouches for it. The issuer is not
//!   checked either (`disable_iss_validation` defaults to true).
//! - The claims name the account: `kubernetes.io/serviceaccount/{namespace,
//!   service-account.name, service-account.uid}`, or in a bound token `kubernetes.io:
//!   {namespace, serviceaccount: {name, uid}}`; `exp`/`nbf`/`iat` are checked when present.
//!   The role's bound names and namespaces are checked on the claims, before the review.
//! - The review must answer 2xx with `status.authenticated: true`, no `status.error`,
//!   `status.user.username` `system:serviceaccount:NS:NAME` and `status.user.uid` equal to
//!   the claims', and (the plugin asks for the token's own `aud`) `status.audiences`
//!   overlapping them.
//! - The review's bearer token is `token_reviewer_jwt` when set, else the JWT being reviewed.

use std::time::Duration;

use serde_json::json;

use super::tokens::{client_token, seconds};
use super::OpenBao;

/// What `kubernetes_ca_cert` holds when the API server is plain HTTP (see the module doc).
const UNUSED_CA: &str = "unused: the Kubernetes API server is plain http://";

impl OpenBao {
    /// Enables the Kubernetes auth method at `auth/kubernetes/` and configures it for the API
    /// server at `kubernetes_host` (`http://` or `https://`): `disable_local_ca_jwt` (nothing
    /// is read from an in-pod service account), `kubernetes_ca_cert` (for `https://` the CA
    /// that signed the server's certificate, else `None`: a placeholder, which the plugin
    /// requires) and `token_reviewer_jwt` (the bearer token of its TokenReviews; `None`: the
    /// JWT being reviewed).
    ///
    /// # Panics
    /// When the server refuses (for example when the method is already enabled).
    pub async fn enable_kubernetes_auth(
        &self,
        kubernetes_host: &str,
        ca_cert: Option<&str>,
        token_reviewer_jwt: Option<&str>,
    ) {
        let enable = json!({ "type": "kubernetes" });
        self.ok("POST", "sys/auth/kubernetes", Some(&enable)).await;
        let mut config = json!({
            "kubernetes_host": kubernetes_host,
            "kubernetes_ca_cert": ca_cert.unwrap_or(UNUSED_CA),
            "disable_local_ca_jwt": true,
        });
        if let Some(jwt) = token_reviewer_jwt {
            config["token_reviewer_jwt"] = jwt.into();
        }
        self.ok("POST", "auth/kubernetes/config", Some(&config))
            .await;
    }

    /// Creates or replaces the Kubernetes auth role `name`: the service accounts it admits
    /// (`bound_service_account_names` in `bound_service_account_namespaces`), and the tokens
    /// it issues: `policies`, `token_ttl`, at most `token_max_ttl`.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn put_kubernetes_role(
        &self,
        name: &str,
        service_accounts: &[&str],
        namespaces: &[&str],
        policies: &[&str],
        token_ttl: Duration,
        token_max_ttl: Duration,
    ) {
        let body = json!({
            "bound_service_account_names": service_accounts,
            "bound_service_account_namespaces": namespaces,
            "token_policies": policies,
            "token_ttl": seconds(token_ttl),
            "token_max_ttl": seconds(token_max_ttl),
        });
        self.ok("POST", &format!("auth/kubernetes/role/{name}"), Some(&body))
            .await;
    }

    /// Logs in with the Kubernetes auth method (`POST auth/kubernetes/login`, no token); the
    /// client token, or `Err` with the status and errors when the server refuses the JWT.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn login_kubernetes(&self, role: &str, jwt: &str) -> Result<String, String> {
        let body = json!({ "role": role, "jwt": jwt });
        match self
            .api_as(None, "POST", "auth/kubernetes/login", Some(&body))
            .await
        {
            (200, answer) => Ok(client_token(&answer)),
            (status, answer) => Err(format!("HTTP {status}: {}", answer["errors"])),
        }
    }
}
