//! A fleet for rollout tests: 20 `hotconf --instance web-N watch --admin` processes following
//! one key with `?rollout=true`, a real Prometheus scraping them through file-based service
//! discovery, and the test's own exporter of `bad_candidate{instance_id}` (1 while a process
//! serves a config whose `v` starts with `bad`), which `--health` queries read.

// Shared with benches/rollout_latency.rs, which uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotconf_testkit::prometheus::Prometheus;
use serde_json::Value;

pub const SIZE: usize = 20;
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Rejects a `pool` above 100: a candidate with a larger one is refused by every member.
const SCHEMA: &str =
    r#"{"type": "object", "properties": {"pool": {"type": "integer", "maximum": 100}}}"#;

/// What one process applied, in order: each config's `v`, and when.
#[derive(Default)]
pub struct Applied {
    pub values: Vec<(String, Instant)>,
}

/// One `hotconf watch` process.
pub struct Process {
    pub id: String,
    child: Child,
    pub admin: SocketAddr,
    pub applied: Arc<Mutex<Applied>>,
}

impl Process {
    fn start(dir: &std::path::Path, id: &str, source: &str) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args(["--instance", id, "watch", "--admin", "127.0.0.1:0"])
            .args([
                "--admin-token-file",
                "admin-token",
                "--schema",
                "schema.json",
                source,
            ])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (admin_tx, admin_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("hotconf: admin on http://") {
                    let _ = admin_tx.send(rest.split('/').next().unwrap_or_default().to_owned());
                }
            }
        });
        let applied = Arc::new(Mutex::new(Applied::default()));
        let sink = applied.clone();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if event["event"] == "applied" {
                    let v = event["config"]["v"].as_str().unwrap_or_default().to_owned();
                    sink.lock().unwrap().values.push((v, Instant::now()));
                }
            }
        });
        let admin = admin_rx
            .recv_timeout(TIMEOUT)
            .expect("the admin line")
            .parse()
            .unwrap();
        Process {
            id: id.to_owned(),
            child,
            admin,
            applied,
        }
    }

    /// The `v` of every config it applied, in order.
    pub fn values(&self) -> Vec<String> {
        self.applied
            .lock()
            .unwrap()
            .values
            .iter()
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// The `v` it serves now.
    pub fn serving(&self) -> Option<String> {
        self.values().last().cloned()
    }

    /// When it first applied `v`.
    pub fn first(&self, v: &str) -> Option<Instant> {
        let applied = self.applied.lock().unwrap();
        applied
            .values
            .iter()
            .find(|(x, _)| x == v)
            .map(|(_, at)| *at)
    }

    /// When it last applied `v`.
    pub fn last(&self, v: &str) -> Option<Instant> {
        let applied = self.applied.lock().unwrap();
        applied
            .values
            .iter()
            .rev()
            .find(|(x, _)| x == v)
            .map(|(_, at)| *at)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fleet, its Prometheus and the test's exporter.
pub struct Fleet {
    pub processes: Vec<Process>,
    pub prometheus: Prometheus,
    pub dir: tempfile::TempDir,
    /// The address of the test's exporter.
    pub exporter: SocketAddr,
    _exporter: tokio::task::JoinHandle<()>,
}

impl Fleet {
    /// Starts [`SIZE`] processes following `source` (which must end in `?rollout=true`),
    /// waits until each applied its first config and Prometheus scraped every one.
    pub async fn start(source: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.json"), SCHEMA).unwrap();
        std::fs::write(dir.path().join("admin-token"), "rollout-test-token\n").unwrap();
        let processes: Vec<Process> = (0..SIZE)
            .map(|i| Process::start(dir.path(), &format!("web-{i}"), source))
            .collect();
        let shared: Vec<(String, Arc<Mutex<Applied>>)> = processes
            .iter()
            .map(|p| (p.id.clone(), p.applied.clone()))
            .collect();
        let (exporter, exporter_addr) = exporter(shared).await;
        let mut targets: Vec<SocketAddr> = processes.iter().map(|p| p.admin).collect();
        targets.push(exporter_addr);
        let mut prometheus = Prometheus::start(&[]).await;
        prometheus.set_targets(&targets).await;
        prometheus
            .wait_for(
                "count(hotconf_instance_info)",
                |r| r.first().is_some_and(|(_, v)| *v == SIZE as f64),
                TIMEOUT,
            )
            .await;
        Fleet {
            processes,
            prometheus,
            dir,
            exporter: exporter_addr,
            _exporter: exporter,
        }
    }

    /// The admin API of process `i`.
    pub fn admin_url(&self, i: usize) -> String {
        format!("http://{}", self.processes[i].admin)
    }

    /// Waits until every process serves `v`.
    pub async fn all_serve(&self, v: &str) {
        hotconf_testkit::eventually(&format!("every process serves {v}"), TIMEOUT, || {
            let all = self
                .processes
                .iter()
                .all(|p| p.serving().as_deref() == Some(v));
            async move { all }
        })
        .await;
    }

    /// The ids of the processes that ever applied `v`.
    pub fn ever(&self, v: &str) -> BTreeSet<String> {
        (self.processes.iter())
            .filter(|p| p.values().iter().any(|x| x == v))
            .map(|p| p.id.clone())
            .collect()
    }

    /// The ids of the members of rollout `id` at `percent`.
    pub fn members(&self, id: &str, percent: f64) -> BTreeSet<String> {
        (self.processes.iter())
            .filter(|p| hotconf::rollout::is_member(&p.id, id, percent))
            .map(|p| p.id.clone())
            .collect()
    }

    /// A rollout id (`prefix-N`) with at least one member and one non-member at `percent`.
    pub fn rollout_id(&self, prefix: &str, percent: f64) -> String {
        (0..)
            .map(|n| format!("{prefix}-{n}"))
            .find(|id| {
                let members = self.members(id, percent).len();
                members > 0 && members < SIZE
            })
            .unwrap()
    }
}

/// Serves `bad_candidate{instance_id="…"} 1` for each process whose config's `v` starts with
/// `bad`, else 0.
async fn exporter(
    processes: Vec<(String, Arc<Mutex<Applied>>)>,
) -> (tokio::task::JoinHandle<()>, SocketAddr) {
    let metrics = move || {
        let mut text = String::from("# TYPE bad_candidate gauge\n");
        for (id, applied) in &processes {
            let applied = applied.lock().unwrap();
            let bad = (applied.values.last()).is_some_and(|(v, _)| v.starts_with("bad"));
            text.push_str(&format!(
                "bad_candidate{{instance_id=\"{id}\"}} {}\n",
                u8::from(bad)
            ));
        }
        text
    };
    let handler = move || {
        let metrics = metrics.clone();
        async move { metrics() }
    };
    let router = axum::Router::new().route("/metrics", axum::routing::get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (task, addr)
}
