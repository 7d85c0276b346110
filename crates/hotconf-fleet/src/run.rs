//! One fleet run: the server, the proxy, the hosts, the outage, the figures.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hotconf_testkit::latency::percentile;
use hotconf_testkit::TcpProxy;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

use crate::figures::{busiest, rate, Figures};
use crate::host::{unix_micros, version, HostSpec};
use crate::servers::Server;
use crate::{Backend, Kind, Settings, HOST_ENV};

/// The versions written: the first, two while the server is out of reach, the last the moment
/// it is back.
const FIRST: u64 = 0;
const LAST: u64 = 3;

/// Runs `settings.followers` followers of `kind` on a server of `backend`, spread over
/// `settings.processes` hosts (`exe` started with [`HOST_ENV`]); takes the server out of their
/// reach for `settings.outage`, restarting it meanwhile (see the crate docs); and returns what
/// was measured. Call inside a multi-thread runtime.
///
/// # Panics
/// When a server or a host cannot be started, or the followers never all serve the first
/// version (within two minutes); for [`Kind::Cli`], without [`Settings::cli`].
pub async fn run(backend: Backend, kind: Kind, settings: &Settings, exe: &Path) -> Figures {
    let mut server = Server::start(backend).await;
    server.write(FIRST).await;
    let proxy = TcpProxy::start(&server.address()).await;
    let target = match kind {
        Kind::Hotconf | Kind::Cli => server.uri(&proxy.endpoint()),
        Kind::Raw => proxy.endpoint(),
    };
    let log = Arc::new(Log::new(settings.followers));
    let mut hosts = Vec::new();
    let mut empty = None;
    if kind == Kind::Cli {
        let cli = settings
            .cli
            .as_deref()
            .expect("HOTCONF_FLEET_CLI: the hotconf binary the CLI followers run");
        for follower in 0..settings.followers {
            hosts.push(watch(cli, &target, follower, &log));
        }
    } else {
        let per_host = settings.followers.div_ceil(settings.processes);
        for first in (0..settings.followers).step_by(per_host.max(1)) {
            let count = per_host.min(settings.followers - first);
            let spec = HostSpec {
                kind,
                backend,
                count,
                target: target.clone(),
            };
            hosts.push(host(exe, &spec, first, &log));
        }
        let spec = HostSpec {
            kind,
            backend,
            count: 0,
            target: target.clone(),
        };
        empty = Some(host(exe, &spec, 0, &log));
    }
    let mut figures = Figures::new(backend, kind, settings.followers, hosts.len());
    if let Err(missing) = log.wait_all(FIRST, Duration::from_secs(120)).await {
        panic!(
            "{} {}: {missing} of {} followers never served the first version",
            backend.name(),
            kind.name(),
            settings.followers
        );
    }
    for child in &hosts {
        let stats = process_stats(child);
        figures.rss_kib.0 += stats.rss_kib;
        figures.pss_kib += stats.pss_kib;
        figures.fds += stats.fds;
        figures.threads += stats.threads;
    }
    if let Some(empty) = empty {
        figures.rss_kib.1 = process_stats(&empty).rss_kib * hosts.len() as u64;
    }

    // The outage: the followers are cut off at once; a third in, two versions are written
    // (and etcd compacted past them) and the server itself stops; two thirds in, it starts
    // again on its data, still out of the followers' reach until the end.
    let cut = Instant::now();
    proxy.cut();
    tokio::time::sleep(settings.outage / 3).await;
    server.write(FIRST + 1).await;
    server.write(LAST - 1).await;
    server.compact().await;
    server.stop().await;
    tokio::time::sleep_until((cut + settings.outage * 2 / 3).into()).await;
    server.start_again().await;
    proxy.retarget(&server.address());
    tokio::time::sleep_until((cut + settings.outage).into()).await;
    let back = Instant::now();
    let back_unix = unix_micros();
    proxy.restore();
    server.write(LAST).await;
    let _ = log.wait_all(LAST, settings.deadline).await;
    let ended = Instant::now();
    drop(hosts);

    let accepted = proxy.accepted();
    let seconds = |from: Instant, at: Instant| at.saturating_duration_since(from).as_secs_f64();
    let down: Vec<f64> = accepted
        .iter()
        .filter(|a| !a.through && a.at >= cut && a.at < back)
        .map(|a| seconds(cut, a.at))
        .collect();
    let outage = settings.outage.as_secs_f64();
    let window = 5.0_f64.min(outage);
    figures.down_attempts = down.len();
    figures.down_rate = (
        rate(&down, 0.0, window),
        rate(&down, outage - window, outage),
        busiest(&down, 1.0),
    );
    let back_window = back + Duration::from_secs(10);
    let returned: Vec<f64> = accepted
        .iter()
        .filter(|a| a.through && a.at >= back && a.at < back_window.min(ended))
        .map(|a| seconds(back, a.at))
        .collect();
    figures.back_connections = (
        returned.len(),
        busiest(&returned, 0.1) as f64 / returned.len().max(1) as f64,
    );
    log.judge(back_unix, &mut figures);
    figures
}

/// Starts a host of `spec`, its lines read into `log` for followers `first..`.
fn host(exe: &Path, spec: &HostSpec, first: usize, log: &Arc<Log>) -> Child {
    let mut command = Command::new(exe);
    command
        .env(HOST_ENV, spec.encode())
        .stdin(Stdio::piped())
        .stderr(Stdio::inherit());
    let log = log.clone();
    spawn_reading(command, "a host of followers", move |line| {
        log.take(first, line)
    })
}

/// Starts `hotconf watch --output json URI` (the binary `cli`) as follower `follower`: each
/// config it applies is recorded in `log`, timed as its line is read.
fn watch(cli: &Path, uri: &str, follower: usize, log: &Arc<Log>) -> Child {
    let mut command = Command::new(cli);
    command
        .args(["watch", "--output", "json", uri])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let log = log.clone();
    spawn_reading(command, "hotconf watch (HOTCONF_FLEET_CLI)", move |line| {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            return log.failed(follower, format!("not a JSON line: {line}"));
        };
        if event["event"] != "applied" {
            return; // source errors while the server is away, and the like
        }
        match version(&event["config"]) {
            Some(version) => log.applied(follower, version, unix_micros()),
            None => log.failed(follower, "a config without a version `v`".to_owned()),
        }
    })
}

/// Spawns `command` (`what` names it if it cannot start), killed when dropped, and hands each
/// line of its standard output to `on_line`.
fn spawn_reading(
    mut command: Command,
    what: &str,
    on_line: impl Fn(&str) + Send + 'static,
) -> Child {
    let mut child = command
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect(what);
    let lines = child.stdout.take().expect("its stdout");
    tokio::spawn(async move {
        let mut lines = BufReader::new(lines).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            on_line(&line);
        }
    });
    child
}

/// What `/proc` says of a running process.
struct ProcessStats {
    /// VmRSS, in KiB.
    rss_kib: u64,
    /// Its proportional share of the memory it maps (pages shared with other processes, the
    /// binary's among them, divided among them), in KiB.
    pss_kib: u64,
    fds: usize,
    threads: usize,
}

fn process_stats(child: &Child) -> ProcessStats {
    let pid = child.id().unwrap_or(0);
    let field = |file: &str, name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    ProcessStats {
        rss_kib: field("status", "VmRSS:"),
        pss_kib: field("smaps_rollup", "Pss:"),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count),
        threads: field("status", "Threads:") as usize,
    }
}

/// What each follower reported: the versions it served (with when), and a failure.
struct Log {
    followers: Mutex<Vec<Follower>>,
    changed: Notify,
}

#[derive(Default)]
struct Follower {
    served: Vec<(u64, u128)>,
    failure: Option<String>,
}

impl Log {
    fn new(followers: usize) -> Log {
        Log {
            followers: Mutex::new((0..followers).map(|_| Follower::default()).collect()),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Follower>> {
        self.followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a host's line (`applied I V MICROS` or `failed I WHAT`) about follower
    /// `first + I`.
    fn take(&self, first: usize, line: &str) {
        let mut words = line.splitn(3, ' ');
        let (Some(what), Some(index), Some(rest)) = (words.next(), words.next(), words.next())
        else {
            return;
        };
        let Some(index) = index.parse::<usize>().ok().map(|i| first + i) else {
            return;
        };
        match what {
            "applied" => {
                let mut parts = rest.split(' ');
                let version = parts.next().and_then(|v| v.parse().ok());
                let at = parts.next().and_then(|v| v.parse().ok());
                if let (Some(version), Some(at)) = (version, at) {
                    self.applied(index, version, at);
                }
            }
            "failed" => self.failed(index, rest.to_owned()),
            _ => {}
        }
    }

    /// Follower `index` served `version` at `at` (microseconds since the Unix epoch).
    fn applied(&self, index: usize, version: u64, at: u128) {
        if let Some(follower) = self.lock().get_mut(index) {
            follower.served.push((version, at));
        }
        self.changed.notify_waiters();
    }

    /// Follower `index` met something it cannot go on from.
    fn failed(&self, index: usize, what: String) {
        if let Some(follower) = self.lock().get_mut(index) {
            follower.failure = Some(what);
        }
        self.changed.notify_waiters();
    }

    /// Waits until every follower's last version is `version`, for at most `timeout`; `Err`
    /// with how many are not there.
    async fn wait_all(&self, version: u64, timeout: Duration) -> Result<(), usize> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let missing = self
                .lock()
                .iter()
                .filter(|f| f.served.last().map(|s| s.0) != Some(version))
                .count();
            if missing == 0 {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(missing);
            }
        }
    }

    /// Fills in convergence, spread and losses: each follower's first serving of the last
    /// version after the server came back (at `back_unix`).
    fn judge(&self, back_unix: u128, figures: &mut Figures) {
        let followers = self.lock();
        let mut converged = Vec::new();
        for follower in followers.iter() {
            if follower.served.windows(2).any(|w| w[1].0 < w[0].0) {
                figures.backwards += 1;
            }
            if let Some(failure) = &follower.failure {
                if figures.failed == 0 {
                    eprintln!("a follower failed: {failure}");
                }
                figures.failed += 1;
            }
            match follower.served.iter().find(|s| s.0 == LAST) {
                Some(&(_, at)) if follower.served.last().map(|s| s.0) == Some(LAST) => {
                    let micros = u64::try_from(at.saturating_sub(back_unix)).unwrap_or(u64::MAX);
                    converged.push(Duration::from_micros(micros));
                }
                _ => figures.lost += 1,
            }
        }
        converged.sort();
        let offsets: Vec<f64> = converged.iter().map(Duration::as_secs_f64).collect();
        figures.served_peak = busiest(&offsets, 0.1) as f64 / offsets.len().max(1) as f64;
        if !converged.is_empty() {
            figures.converged = (
                percentile(&mut converged, 0.5),
                percentile(&mut converged, 0.99),
                converged[converged.len() - 1],
            );
        }
    }
}
