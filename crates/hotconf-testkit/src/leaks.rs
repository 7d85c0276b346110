//! A config holding every spelling of a secret that once leaked past the default redaction
//! policy (issue 24), for tests that check an output shows none of its values (G12).

use serde_json::{json, Value};

/// Every secret value in [`config`] starts with this marker, and nothing else in it does: an
/// output holding the marker leaked a value.
pub const MARKER: &str = "s3cr3t-";

/// The keys of [`config`] whose values are secret, as `hotconf explain` would take them.
pub const SECRET_KEYS: &[&str] = &[
    "passphrase",
    "pwd",
    "db_pass",
    "auth",
    "bearer",
    "authorization",
    "jwt",
    "dsn",
    "sentry.dsn",
    "signing_key",
    "encryption_key",
    "ssh_key",
    "session_key",
    "connection_string",
    "database_url",
    "env[0].value",
    "args[0]",
    "args[2]",
];

/// The config: each secret under its key, and two neighbours that must stay visible
/// (`compass`, `env[1].value`).
pub fn config() -> Value {
    json!({
        "passphrase": "s3cr3t-passphrase",
        "pwd": "s3cr3t-pwd",
        "db_pass": "s3cr3t-db-pass",
        "auth": "s3cr3t-auth",
        "bearer": "s3cr3t-bearer",
        "authorization": "s3cr3t-authorization",
        "jwt": "s3cr3t-jwt",
        "dsn": "s3cr3t-dsn",
        "sentry": {"dsn": "s3cr3t-sentry-dsn"},
        "signing_key": "s3cr3t-signing-key",
        "encryption_key": "s3cr3t-encryption-key",
        "ssh_key": "s3cr3t-ssh-key",
        "session_key": "s3cr3t-session-key",
        "connection_string": "Server=db;Database=app;User Id=sa;Password=s3cr3t-conn;",
        "database_url": "postgres://app:s3cr3t-db-url@db/app",
        "env": [{"name": "DB_PASSWORD", "value": "s3cr3t-env"}, {"name": "LOG", "value": "info"}],
        "args": ["--password=s3cr3t-arg", "--token", "s3cr3t-arg-next", "--port", "80"],
        "compass": "north",
    })
}

/// Panics when `output` (what `what` showed) holds a secret value of [`config`].
pub fn assert_no_leak(what: &str, output: &str) {
    assert!(
        !output.contains(MARKER),
        "{what} shows a secret value: {output}"
    );
}
