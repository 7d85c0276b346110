//! Policies, tokens and AppRole (reference/backends.md §8.4, §8.5), set up with the root token.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::OpenBao;

/// What [`OpenBao::create_token`] asks for (`POST auth/token/create`); unset fields take the
/// server's defaults (TTL 32 days, renewable, unlimited uses, the `default` policy added).
#[derive(Debug, Clone, Default)]
pub struct TokenSpec {
    /// Policies attached to the token (besides `default`).
    pub policies: Vec<String>,
    /// Its initial TTL.
    pub ttl: Option<Duration>,
    /// A hard limit renewals cannot pass.
    pub explicit_max_ttl: Option<Duration>,
    /// Whether it can be renewed (`None`: the server's default, yes).
    pub renewable: Option<bool>,
    /// A periodic token: each renewal resets its TTL to this, with no maximum.
    pub period: Option<Duration>,
    /// How many requests it may make (0 or `None`: unlimited).
    pub num_uses: Option<u32>,
}

/// A duration as the API takes it: whole seconds, `"90s"`.
pub(super) fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

impl OpenBao {
    /// Writes the ACL policy `name` (`PUT sys/policies/acl/<name>`), e.g.
    /// `path "secret/data/app/*" { capabilities = ["read"] }`.
    ///
    /// # Panics
    /// When the server refuses it (bad HCL).
    pub async fn put_policy(&self, name: &str, hcl: &str) {
        self.ok(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(&json!({ "policy": hcl })),
        )
        .await;
    }

    /// Creates a token as a child of the root token; returns it (`auth.client_token`).
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn create_token(&self, spec: TokenSpec) -> String {
        let mut body = Map::new();
        body.insert("policies".into(), json!(spec.policies));
        if let Some(ttl) = spec.ttl {
            body.insert("ttl".into(), json!(seconds(ttl)));
        }
        if let Some(max) = spec.explicit_max_ttl {
            body.insert("explicit_max_ttl".into(), json!(seconds(max)));
        }
        if let Some(renewable) = spec.renewable {
            body.insert("renewable".into(), json!(renewable));
        }
        if let Some(period) = spec.period {
            body.insert("period".into(), json!(seconds(period)));
        }
        if let Some(uses) = spec.num_uses {
            body.insert("num_uses".into(), json!(uses));
        }
        let answer = self
            .ok("POST", "auth/token/create", Some(&Value::Object(body)))
            .await;
        client_token(&answer)
    }

    /// Revokes `token` and its children (`POST auth/token/revoke`); its requests then get 403.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn revoke_token(&self, token: &str) {
        self.ok(
            "POST",
            "auth/token/revoke",
            Some(&json!({ "token": token })),
        )
        .await;
    }

    /// What `token` says about itself (`GET auth/token/lookup-self` with that token: `data` with
    /// `ttl`, `creation_ttl`, `expire_time`, `explicit_max_ttl`, `renewable`, `policies`,
    /// `num_uses`, …), or `None` when the server refuses it (403: revoked, expired, used up, or
    /// never issued). A lookup counts as one use of a token with `num_uses`.
    ///
    /// # Panics
    /// When the server answers anything but 200 or 403.
    pub async fn lookup_token(&self, token: &str) -> Option<Value> {
        match self
            .api_as(Some(token), "GET", "auth/token/lookup-self", None)
            .await
        {
            (200, answer) => Some(answer["data"].clone()),
            (403, _) => None,
            (status, answer) => panic!("lookup-self answered {status}: {answer}"),
        }
    }

    /// Enables the AppRole auth method at `auth/approle/` (`POST sys/auth/approle`).
    ///
    /// # Panics
    /// When the server refuses (for example when it is already enabled).
    pub async fn enable_approle(&self) {
        self.ok(
            "POST",
            "sys/auth/approle",
            Some(&json!({ "type": "approle" })),
        )
        .await;
    }

    /// Creates or replaces the AppRole role `name`: tokens it issues get `policies`, `token_ttl`
    /// and at most `token_max_ttl`; its secret IDs expire after `secret_id_ttl` (zero: never).
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn put_approle_role(
        &self,
        name: &str,
        policies: &[&str],
        token_ttl: Duration,
        token_max_ttl: Duration,
        secret_id_ttl: Duration,
    ) {
        let body = json!({
            "token_policies": policies,
            "token_ttl": seconds(token_ttl),
            "token_max_ttl": seconds(token_max_ttl),
            "secret_id_ttl": seconds(secret_id_ttl),
        });
        self.ok("POST", &format!("auth/approle/role/{name}"), Some(&body))
            .await;
    }

    /// The role ID of the AppRole role `name`.
    ///
    /// # Panics
    /// When there is no such role.
    pub async fn role_id(&self, name: &str) -> String {
        let answer = self
            .ok("GET", &format!("auth/approle/role/{name}/role-id"), None)
            .await;
        answer["data"]["role_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no role_id in {answer}"))
            .to_owned()
    }

    /// A new secret ID for the AppRole role `name`.
    ///
    /// # Panics
    /// When there is no such role.
    pub async fn new_secret_id(&self, name: &str) -> String {
        let answer = self
            .ok("POST", &format!("auth/approle/role/{name}/secret-id"), None)
            .await;
        answer["data"]["secret_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no secret_id in {answer}"))
            .to_owned()
    }

    /// Destroys `secret_id` of the AppRole role `name`: logins with it then fail (tokens it
    /// already issued stay valid).
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn destroy_secret_id(&self, name: &str, secret_id: &str) {
        self.ok(
            "POST",
            &format!("auth/approle/role/{name}/secret-id/destroy"),
            Some(&json!({ "secret_id": secret_id })),
        )
        .await;
    }

    /// Logs in with AppRole (`POST auth/approle/login`, no token); the client token, or `Err`
    /// with the status and errors when the server refuses the credentials.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn login_approle(&self, role_id: &str, secret_id: &str) -> Result<String, String> {
        let body = json!({ "role_id": role_id, "secret_id": secret_id });
        match self
            .api_as(None, "POST", "auth/approle/login", Some(&body))
            .await
        {
            (200, answer) => Ok(client_token(&answer)),
            (status, answer) => Err(format!("HTTP {status}: {}", answer["errors"])),
        }
    }
}

/// `auth.client_token` of a login or token-create answer.
pub(super) fn client_token(answer: &Value) -> String {
    answer["auth"]["client_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no auth.client_token in {answer}"))
        .to_owned()
}
