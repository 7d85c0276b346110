//! One process of the fleet: `count` followers of one server, each printing a line for every
//! version it serves: `applied FOLLOWER VERSION UNIX_MICROS`. It runs on a runtime of two
//! worker threads whatever the number of followers, and ends when its standard input closes
//! (the bench closes it, or dies).

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use hotconf::Reloader;
use serde_json::Value;
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;

use crate::{raw, Backend, Kind, HOST_ENV};

/// What a host is asked to run: `KIND BACKEND COUNT TARGET` in [`HOST_ENV`] (the target is a
/// URI for hotconf, an endpoint for a raw client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// Whose followers.
    pub kind: Kind,
    /// Of which backend.
    pub backend: Backend,
    /// How many.
    pub count: usize,
    /// The URI (hotconf) or `host:port` (raw) they follow.
    pub target: String,
}

impl HostSpec {
    /// The spec as [`HOST_ENV`] carries it.
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {}",
            self.kind.name(),
            self.backend.name(),
            self.count,
            self.target
        )
    }

    /// The spec [`encode`](Self::encode) made.
    pub fn decode(text: &str) -> Option<HostSpec> {
        let mut words = text.splitn(4, ' ');
        Some(HostSpec {
            kind: Kind::parse(words.next()?)?,
            backend: Backend::parse(words.next()?)?,
            count: words.next()?.parse().ok()?,
            target: words.next()?.to_owned(),
        })
    }
}

/// Where a follower reports the versions it serves.
#[derive(Clone)]
pub struct Report {
    lines: mpsc::UnboundedSender<String>,
    follower: usize,
}

impl Report {
    /// Follower `follower` serves `version` now.
    pub fn applied(&self, version: u64) {
        let micros = unix_micros();
        let _ = self
            .lines
            .send(format!("applied {} {version} {micros}\n", self.follower));
    }

    /// Follower `follower` met something it cannot go on from.
    pub fn failed(&self, what: &str) {
        let what = what.replace('\n', " ");
        let _ = self
            .lines
            .send(format!("failed {} {what}\n", self.follower));
    }
}

/// Microseconds since the Unix epoch: the clock the hosts and the bench share.
pub fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Runs as a host if [`HOST_ENV`] is set, and returns whether it did.
///
/// # Panics
/// On a spec the bench did not make.
pub fn run_if_host() -> bool {
    let Ok(spec) = std::env::var(HOST_ENV) else {
        return false;
    };
    let spec = HostSpec::decode(&spec).expect("a host spec made by the bench");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(host(spec));
    true
}

async fn host(spec: HostSpec) {
    let (lines, mut queue) = mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        while let Some(line) = queue.recv().await {
            let mut out = std::io::stdout().lock();
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return;
            }
        }
    });
    for follower in 0..spec.count {
        let report = Report {
            lines: lines.clone(),
            follower,
        };
        let target = spec.target.clone();
        match spec.kind {
            Kind::Hotconf => tokio::spawn(follow(target, report)),
            Kind::Raw => tokio::spawn(raw::follow(spec.backend, target, report)),
            Kind::Cli => {
                report.failed("a CLI follower is a process of its own, not a host's");
                continue;
            }
        };
    }
    drop(lines);
    // Until the bench closes our standard input.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    printer.abort();
}

/// A hotconf follower: a reloader of its own, built from `uri`.
async fn follow(uri: String, report: Report) {
    let provider = match hotconf::provider_from_uri(&uri) {
        Ok(provider) => provider,
        Err(error) => return report.failed(&error.to_string()),
    };
    let reloader = match Reloader::<Value>::builder().layer(provider).start().await {
        Ok(reloader) => reloader,
        Err(error) => return report.failed(&error.to_string()),
    };
    let store = reloader.store();
    let mut changes = store.subscribe();
    loop {
        match version(store.load().config()) {
            Some(version) => report.applied(version),
            None => report.failed("the config has no version `v`"),
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// The version `v` of a followed document: a number (JSON) or a string (properties).
pub fn version(config: &Value) -> Option<u64> {
    match &config["v"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
