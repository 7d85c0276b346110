//! A real Prometheus server for tests: [`Prometheus::start`] writes a configuration that scrapes
//! the given targets every second (file-based service discovery: [`Prometheus::set_targets`]
//! changes them), starts `prometheus` on a free loopback port with its data in a
//! temporary directory, and waits until it is ready; [`Prometheus::query`] and
//! [`Prometheus::wait_for`] run instant queries against it. [`promtool_check_metrics`] runs
//! `promtool check metrics` on an exposition. Needs `prometheus` and `promtool` on PATH (Debian:
//! `apt-get install prometheus`); without them a test fails with that message, it never skips.
//!
//! Nothing here uses a system Prometheus service or port 9090: every server is the test's own
//! child process, killed and reaped when its handle is dropped.

use crate::ports::free_port;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long [`Prometheus::start`] waits for `/-/ready`.
const READY: Duration = Duration::from_secs(30);
/// How often [`Prometheus::wait_for`] polls (a poll on an external server).
const POLL: Duration = Duration::from_millis(200);

/// One sample of a query's result: its labels (`__name__` included when Prometheus returns it)
/// and its value. A scalar result is one sample with no labels.
pub type Sample = (BTreeMap<String, String>, f64);

/// A running Prometheus; dropping it kills and reaps the process.
pub struct Prometheus {
    port: u16,
    targets: Vec<SocketAddr>,
    client: reqwest::Client,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn require(binary: &str) {
    let found = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{binary}` is not on PATH: install it with `apt-get install prometheus` (scripts/test.sh does)"
    );
}

/// The configuration [`Prometheus::start`] writes: one job, `hotconf`, scraping the targets
/// that file-based service discovery reads from `targets_file` (see [`targets_json`]).
fn config(targets_file: &std::path::Path) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: hotconf\n    metrics_path: /metrics\n    \
         scrape_interval: 1s\n    scrape_timeout: 900ms\n    file_sd_configs:\n      - files:\n          \
         - \"{}\"\n        refresh_interval: 1s\n",
        targets_file.display()
    )
}

/// The file-based service discovery document of `targets`.
fn targets_json(targets: &[SocketAddr]) -> String {
    let targets: Vec<String> = targets.iter().map(ToString::to_string).collect();
    serde_json::json!([{ "targets": targets }]).to_string()
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`/metrics`, every second, 900 ms timeout, job
    /// `hotconf`), waits until `/-/ready` answers 200, then until `/api/v1/targets` lists every
    /// target as active (discovered; not necessarily scraped yet). Call inside a tokio runtime.
    ///
    /// # Panics
    /// When `prometheus` is not on PATH, or it exits or is not ready within 30 s (the message
    /// carries its log).
    pub async fn start(targets: &[SocketAddr]) -> Prometheus {
        require("prometheus");
        let deadline = Instant::now() + READY;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config_path = dir.path().join("prometheus.yml");
        let targets_path = dir.path().join("targets.json");
        std::fs::write(&targets_path, targets_json(targets)).expect("targets.json is written");
        std::fs::write(&config_path, config(&targets_path)).expect("prometheus.yml is written");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let mut prometheus = Prometheus {
            port: free_port(),
            targets: targets.to_vec(),
            client,
            dir,
            child: None,
        };
        let log = std::fs::File::create(prometheus.log_path()).expect("a log file");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                prometheus.dir.path().join("data").display()
            ))
            .arg(format!(
                "--web.listen-address=127.0.0.1:{}",
                prometheus.port
            ))
            .arg("--log.level=warn")
            .current_dir(prometheus.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("prometheus did not start: {e}"));
        prometheus.child = Some(child);
        prometheus.wait_ready(deadline).await;
        prometheus.wait_discovered(deadline).await;
        prometheus
    }

    /// Replaces the scraped targets (file-based service discovery: the file is replaced
    /// atomically, as a discovery agent would), and waits until Prometheus lists exactly them.
    ///
    /// # Panics
    /// When Prometheus does not discover them within 30 s.
    pub async fn set_targets(&mut self, targets: &[SocketAddr]) {
        let path = self.dir.path().join("targets.json");
        let temporary = self.dir.path().join("targets.json.new");
        std::fs::write(&temporary, targets_json(targets)).expect("targets.json.new is written");
        std::fs::rename(&temporary, &path).expect("targets.json is replaced");
        self.targets = targets.to_vec();
        self.wait_discovered(Instant::now() + READY).await;
    }

    /// Waits until every target is among the active targets.
    async fn wait_discovered(&self, deadline: Instant) {
        loop {
            let active = self
                .get_json("/api/v1/targets", &[("state", "active")])
                .await
                .map(|body| {
                    body["data"]["activeTargets"]
                        .as_array()
                        .map_or(0, |targets| targets.len())
                });
            if active == Ok(self.targets.len()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not discover its {} targets within {READY:?} \
                 (/api/v1/targets: {active:?}); its log:\n{}",
                self.targets.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_ready(&mut self, deadline: Instant) {
        let url = format!("{}/-/ready", self.url());
        loop {
            let answer = match self.client.get(&url).send().await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => format!("HTTP {}", response.status()),
                Err(e) => e.to_string(),
            };
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "prometheus exited during start-up ({status}); its log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within {READY:?} (last answer: {answer}); its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:<port>`, the server's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The targets it scrapes.
    pub fn targets(&self) -> &[SocketAddr] {
        &self.targets
    }

    /// Where its stderr goes.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// An instant query (`GET /api/v1/query`): the samples of a vector result, or the one
    /// unlabelled sample of a scalar result.
    ///
    /// # Panics
    /// When the request fails, the status is not `success` (a bad expression), or the result is
    /// a matrix or a string.
    pub async fn query(&self, expr: &str) -> Vec<Sample> {
        self.try_query(expr)
            .await
            .unwrap_or_else(|e| panic!("query `{expr}`: {e}"))
    }

    async fn try_query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let body = self.get_json("/api/v1/query", &[("query", expr)]).await?;
        parse_query(&body)
    }

    async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let response = self
            .client
            .get(format!("{}{path}", self.url()))
            .query(query)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("HTTP {status}, not JSON ({e}): {text}"))
    }

    /// Polls `expr` every 200 ms until `predicate` holds on its result, and returns that result.
    ///
    /// # Panics
    /// At `deadline` (from now), with the last result and every target's health and last scrape
    /// error from `/api/v1/targets`; or at once when the query itself is refused.
    pub async fn wait_for<P>(&self, expr: &str, predicate: P, deadline: Duration) -> Vec<Sample>
    where
        P: Fn(&[Sample]) -> bool,
    {
        let until = Instant::now() + deadline;
        loop {
            let result = self.query(expr).await;
            if predicate(&result) {
                return result;
            }
            if Instant::now() >= until {
                panic!(
                    "`{expr}` did not meet the condition within {deadline:?}; last result: \
                     {result:?}; targets: {}",
                    self.target_health().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every active target's URL, health and last scrape error, from `/api/v1/targets`.
    pub async fn target_health(&self) -> String {
        let body = match self.get_json("/api/v1/targets", &[]).await {
            Ok(body) => body,
            Err(e) => return format!("(/api/v1/targets failed: {e})"),
        };
        let targets = body["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if targets.is_empty() {
            return format!("(no active targets: {body})");
        }
        targets
            .iter()
            .map(|t| {
                format!(
                    "{} health={} lastError={:?}",
                    t["scrapeUrl"].as_str().unwrap_or("?"),
                    t["health"].as_str().unwrap_or("?"),
                    t["lastError"].as_str().unwrap_or(""),
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A value as Prometheus writes it: a string (`"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`).
fn parse_value(value: &Value) -> Result<f64, String> {
    let text = value[1]
        .as_str()
        .ok_or_else(|| format!("a value that is not [time, \"number\"]: {value}"))?;
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text
            .parse()
            .map_err(|e| format!("value {text:?} is not a number: {e}")),
    }
}

/// The samples of an `/api/v1/query` answer.
fn parse_query(body: &Value) -> Result<Vec<Sample>, String> {
    if body["status"] != "success" {
        return Err(format!(
            "status {}: {} {}",
            body["status"], body["errorType"], body["error"]
        ));
    }
    let data = &body["data"];
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .ok_or_else(|| format!("a vector without results: {body}"))?
            .iter()
            .map(|sample| {
                let labels = sample["metric"]
                    .as_object()
                    .map(|metric| {
                        metric
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok((labels, parse_value(&sample["value"])?))
            })
            .collect(),
        Some("scalar") => Ok(vec![(BTreeMap::new(), parse_value(&data["result"])?)]),
        other => Err(format!(
            "result type {other:?} is not vector or scalar: {body}"
        )),
    }
}

/// Pipes `exposition` into `promtool check metrics`: `Ok` when it exits 0, otherwise `Err` with
/// its output (stdout and stderr). promtool exits non-zero for lint problems too, such as a
/// missing `# HELP` or a counter whose name does not end in `_total`, not only for text it cannot
/// parse; the output says which, so callers can assert on it.
///
/// # Panics
/// When `promtool` is not on PATH (`apt-get install prometheus`).
pub fn promtool_check_metrics(exposition: &str) -> Result<(), String> {
    require("promtool");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool did not start: {e}"));
    let mut stdin = child.stdin.take().expect("promtool's stdin");
    let text = exposition.to_owned();
    // Written from another thread: promtool may answer before reading everything.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let output = child.wait_with_output().expect("promtool runs");
    let _ = writer.join();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_discovers_the_targets_from_a_file() {
        let a: SocketAddr = "127.0.0.1:1234".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5678".parse().unwrap();
        let yaml = config(std::path::Path::new("/d/targets.json"));
        assert!(yaml.contains("scrape_interval: 1s"));
        assert!(yaml.contains("scrape_timeout: 900ms"));
        assert!(yaml.contains("job_name: hotconf"));
        assert!(yaml.contains("file_sd_configs:\n      - files:\n          - \"/d/targets.json\""));
        assert_eq!(
            targets_json(&[a, b]),
            r#"[{"targets":["127.0.0.1:1234","127.0.0.1:5678"]}]"#
        );
    }

    #[test]
    fn vector_and_scalar_answers_parse() {
        let vector: Value = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"__name__":"up","job":"hotconf"},"value":[1.5,"1"]},
                {"metric":{},"value":[1.5,"NaN"]}]}}"#,
        )
        .unwrap();
        let samples = parse_query(&vector).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].0["job"], "hotconf");
        assert_eq!(samples[0].1, 1.0);
        assert!(samples[1].1.is_nan());
        let scalar: Value = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#,
        )
        .unwrap();
        assert_eq!(
            parse_query(&scalar).unwrap(),
            vec![(BTreeMap::new(), f64::INFINITY)]
        );
        let error: Value = serde_json::from_str(
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        )
        .unwrap();
        assert!(parse_query(&error).unwrap_err().contains("parse error"));
    }
}
