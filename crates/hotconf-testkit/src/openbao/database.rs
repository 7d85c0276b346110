//! The database secrets engine over PostgreSQL: dynamic credentials with a lease
//! (reference/backends.md §8.6), and revoking them.

use std::time::Duration;

use serde_json::{json, Value};

use super::OpenBao;

/// The connection name under `database/config/`.
const CONNECTION: &str = "pg";

/// Dynamic credentials from `GET database/creds/<role>`.
#[derive(Debug, Clone)]
pub struct DatabaseCreds {
    /// The PostgreSQL role the engine created.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The lease (`database/creds/<role>/<id>`); revoking it drops the role.
    pub lease_id: String,
    /// The lease's TTL in seconds.
    pub lease_duration: u64,
    /// Whether the lease can be renewed.
    pub renewable: bool,
    /// The whole answer.
    pub raw: Value,
}

impl OpenBao {
    /// Mounts the database engine at `database/`, connects it (`database/config/pg`, plugin
    /// `postgresql-database-plugin`) to `connection_url` as `username`/`password` (a superuser),
    /// and creates the role `role_name`: each credential is a new PostgreSQL login role, valid
    /// until its lease ends, that may `SELECT` every table in schema `public`, dropped when the
    /// lease is revoked; leases last `default_ttl`, renewable up to `max_ttl`.
    ///
    /// `connection_url` is a template, e.g.
    /// `postgresql://{{username}}:{{password}}@127.0.0.1:PORT/postgres?sslmode=disable`
    /// (`Postgres::engine_connection_url` of the kit's `postgres` feature).
    /// The engine checks the connection: the server must be up.
    ///
    /// # Panics
    /// When the server refuses a step (it cannot connect, for one).
    pub async fn enable_database_postgres(
        &self,
        connection_url: &str,
        username: &str,
        password: &str,
        role_name: &str,
        default_ttl: Duration,
        max_ttl: Duration,
    ) {
        self.ok(
            "POST",
            "sys/mounts/database",
            Some(&json!({ "type": "database" })),
        )
        .await;
        let config = json!({
            "plugin_name": "postgresql-database-plugin",
            "allowed_roles": role_name,
            "connection_url": connection_url,
            "username": username,
            "password": password,
        });
        self.ok(
            "POST",
            &format!("database/config/{CONNECTION}"),
            Some(&config),
        )
        .await;
        let role = json!({
            "db_name": CONNECTION,
            "creation_statements": [
                "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL \
                 '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\";"
            ],
            "revocation_statements": [
                "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM \"{{name}}\"; \
                 DROP ROLE IF EXISTS \"{{name}}\";"
            ],
            "default_ttl": format!("{}s", default_ttl.as_secs()),
            "max_ttl": format!("{}s", max_ttl.as_secs()),
        });
        self.ok("POST", &format!("database/roles/{role_name}"), Some(&role))
            .await;
    }

    /// New credentials for `role` (`GET database/creds/<role>`).
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn database_creds(&self, role: &str) -> DatabaseCreds {
        let raw = self
            .ok("GET", &format!("database/creds/{role}"), None)
            .await;
        let text = |value: &Value| {
            value
                .as_str()
                .unwrap_or_else(|| panic!("database/creds/{role} answered {raw}"))
                .to_owned()
        };
        DatabaseCreds {
            username: text(&raw["data"]["username"]),
            password: text(&raw["data"]["password"]),
            lease_id: text(&raw["lease_id"]),
            lease_duration: raw["lease_duration"].as_u64().unwrap_or_default(),
            renewable: raw["renewable"] == true,
            raw: raw.clone(),
        }
    }

    /// Revokes `lease_id` and waits until it is done (`PUT sys/leases/revoke` with `sync`): for
    /// database credentials, the role is dropped when this returns.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn revoke_lease(&self, lease_id: &str) {
        self.ok(
            "PUT",
            "sys/leases/revoke",
            Some(&json!({ "lease_id": lease_id, "sync": true })),
        )
        .await;
    }
}
