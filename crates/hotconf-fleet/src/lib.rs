//! A fleet of followers on one config server that restarts (issue 29): what
//! the followers send while it is down, how tightly they come back, how long until every one
//! serves the change made the moment it returned, whether any lost it, and what each costs in
//! memory, file descriptors and threads.
//!
//! The `fleet_restart` bench drives it ([`run`]): one real etcd, the Consul emulator, the Apollo
//! emulator and one real r-nacos, each behind a [`TcpProxy`](hotconf_testkit::TcpProxy) that
//! logs every connection it accepts. The followers live in a few child processes (the bench
//! binary started again with [`HOST_ENV`] set, see [`host`]), so their memory and descriptors
//! are real; each child prints a line for every value one of its followers serves. The same
//! run measures hotconf's followers ([`Kind::Hotconf`]: a `Reloader` per follower, built from a
//! URI as a service builds it) and what each raw client does by default ([`Kind::Raw`], see
//! [`raw`]); and, as an operator runs sidecars, `hotconf watch` processes ([`Kind::Cli`]: one
//! follower per process).
//!
//! The outage: the proxy refuses every connection for its whole length (it accepts and closes
//! each at once, so each attempt is counted). A third in, the test writes two versions to the
//! server directly (and compacts etcd past both), then stops the server itself
//! ([`Server::stop`](servers::Server::stop): etcd and r-nacos exit, the emulators close every
//! connection); two thirds in, the server starts again on its data. At the end the proxy lets
//! connections through and the final version is written at once: the followers meet a server
//! that restarted, with nothing of their watches, long polls or connections left.
//!
//! ```no_run
//! # async fn example() {
//! let settings = hotconf_fleet::Settings::from_env();
//! let exe = std::env::current_exe().unwrap();
//! let figures = hotconf_fleet::run(hotconf_fleet::Backend::Etcd, hotconf_fleet::Kind::Hotconf,
//!     &settings, &exe).await;
//! println!("{}", figures.row());
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod figures;
pub mod host;
pub mod raw;
mod run;
pub mod servers;

use std::time::Duration;

pub use figures::Figures;
pub use run::run;

/// The environment variable that makes the bench binary a host of followers (see [`host`]).
pub const HOST_ENV: &str = "HOTCONF_FLEET_HOST";

/// The key, namespace or data id every follower follows.
pub const KEY: &str = "fleet/config.json";

/// The four backends of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A real etcd (Debian's etcd-server).
    Etcd,
    /// The test kit's Consul KV emulator.
    Consul,
    /// The test kit's Apollo config service emulator.
    Apollo,
    /// A real r-nacos (`cargo install rnacos`).
    Nacos,
}

impl Backend {
    /// Every backend, in the order of the bench's table.
    pub const ALL: [Backend; 4] = [
        Backend::Etcd,
        Backend::Consul,
        Backend::Apollo,
        Backend::Nacos,
    ];

    /// Its lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Etcd => "etcd",
            Backend::Consul => "consul",
            Backend::Apollo => "apollo",
            Backend::Nacos => "nacos",
        }
    }

    /// The backend called `name`.
    pub fn parse(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Whose followers: hotconf's, a raw client's default loop, or the CLI's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `hotconf::Reloader` per follower, its provider built from a URI.
    Hotconf,
    /// The raw client's loop, retrying after a fixed second (see [`raw`]).
    Raw,
    /// A `hotconf watch --output json URI` process per follower, as an operator runs a sidecar
    /// (the binary [`Settings::cli`] names); each applied config is timed as its line is read.
    Cli,
}

impl Kind {
    /// Its lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hotconf => "hotconf",
            Kind::Raw => "raw",
            Kind::Cli => "cli",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        [Kind::Hotconf, Kind::Raw, Kind::Cli]
            .into_iter()
            .find(|k| k.name() == name)
    }
}

/// The fleet's size and the outage, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Followers in all (`HOTCONF_FLEET_FOLLOWERS`, default 1 000).
    pub followers: usize,
    /// Child processes they are spread over (`HOTCONF_FLEET_PROCESSES`, default 4).
    pub processes: usize,
    /// How long the server is out of reach (`HOTCONF_FLEET_OUTAGE`, default 30 s).
    pub outage: Duration,
    /// How long after the server is back a follower may take before it counts as lost
    /// (`HOTCONF_FLEET_DEADLINE`, default 60 s).
    pub deadline: Duration,
    /// The backends (`HOTCONF_FLEET_BACKENDS`, comma-separated; default all four).
    pub backends: Vec<Backend>,
    /// The kinds (`HOTCONF_FLEET_KINDS`: `hotconf,raw` by default; `cli` as well needs
    /// [`cli`](Self::cli)).
    pub kinds: Vec<Kind>,
    /// The `hotconf` binary the [`Kind::Cli`] followers run (`HOTCONF_FLEET_CLI`).
    pub cli: Option<std::path::PathBuf>,
}

impl Settings {
    /// The settings the environment gives.
    ///
    /// # Panics
    /// On a value that does not parse: the bench's settings are the operator's.
    pub fn from_env() -> Settings {
        let number = |name: &str, default: usize| {
            std::env::var(name).map_or(default, |v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}: not a number: {v}"))
            })
        };
        let duration = |name: &str, default: Duration| {
            std::env::var(name).map_or(default, |v| {
                hotconf::provider::parse_duration(&v).unwrap_or_else(|e| panic!("{name}: {e}"))
            })
        };
        let list = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let backends = list("HOTCONF_FLEET_BACKENDS").map_or(Backend::ALL.to_vec(), |v| {
            v.split(',')
                .map(|b| Backend::parse(b).unwrap_or_else(|| panic!("unknown backend {b}")))
                .collect()
        });
        let kinds = list("HOTCONF_FLEET_KINDS").map_or(vec![Kind::Hotconf, Kind::Raw], |v| {
            v.split(',')
                .map(|k| Kind::parse(k).unwrap_or_else(|| panic!("unknown kind {k}")))
                .collect()
        });
        Settings {
            followers: number("HOTCONF_FLEET_FOLLOWERS", 1000),
            processes: number("HOTCONF_FLEET_PROCESSES", 4).max(1),
            outage: duration("HOTCONF_FLEET_OUTAGE", Duration::from_secs(30)),
            deadline: duration("HOTCONF_FLEET_DEADLINE", Duration::from_secs(60)),
            backends,
            kinds,
            cli: std::env::var_os("HOTCONF_FLEET_CLI").map(Into::into),
        }
    }
}
