//! hotconf's Vault and OpenBao backend: a secret, every secret under a prefix, or a leased
//! credential (`database/creds/ROLE`) as a **secret layer**, followed without a restart.
//!
//! - **KV v2** (the default, told from the mount by `sys/internal/ui/mounts`): the cheap
//!   metadata endpoint is polled every `interval` (default 30 s, jittered), the data read only
//!   when the version moved; the version is the layer's revision. A soft-deleted or destroyed
//!   current version is an empty layer (lower layers show through, G5); an undelete brings it
//!   back. **KV v1**: the data is polled and compared.
//! - **Leased secrets** (any other engine's read that returns a lease): renewed at about two
//!   thirds of the lease while renewable, read again before it ends; the new credentials arrive
//!   as an ordinary, validated change.
//! - **Tokens**: `VAULT_TOKEN`/`BAO_TOKEN`, a token file re-read when it changes, AppRole or
//!   Kubernetes login; renewed at about two thirds of their TTL, a new login before the max TTL
//!   or after a 403. Tokens travel only in the `X-Vault-Token` header (sensitive, never
//!   printed), to the configured server only: redirects are never followed.
//! - A sealed, restarted or unreachable server keeps the last good config serving (G4); a
//!   server that lost its state (a new cluster id) is reported, not taken as a deletion.
//!
//! ```no_run
//! # async fn demo() -> hotconf_core::Result<()> {
//! use hotconf_vault::VaultProvider;
//! let db = VaultProvider::from_uri(&"vault://127.0.0.1:8200/secret/app/db?at=db".parse()?)?;
//! let reloader = hotconf_core::Reloader::<serde_json::Value>::builder()
//!     .layer(db)
//!     .start()
//!     .await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod api;
mod client;
mod follow;
mod kv;
mod lease;
mod session;
mod source;

pub use client::{Auth, VaultClient};
pub use source::{KvVersion, VaultProvider, VaultSource, DEFAULT_INTERVAL, MIN_INTERVAL, SCHEMES};
