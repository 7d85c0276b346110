//! The Kubernetes API against the test kit's emulator on loopback, four measurements:
//!
//! - apply → event: kube's own `Api::<ConfigMap>::watch`, open from the current
//!   resourceVersion, receiving the MODIFIED event (the baseline), against hotconf's applied
//!   (a `Reloader` over a `KubernetesProvider`, until a store subscription sees the change). The
//!   two follow two ConfigMaps and are measured in alternate rounds, so that both see the same
//!   machine over time; before each change both watches are open (the emulator's counter).
//! - watch resume after a cut: every watch stream broken off mid-stream, then a change; kube's
//!   watch opened again from its last resourceVersion (what any client must at least do) against
//!   hotconf, alternating the same way.
//! - memory per followed object: the growth of the process's RSS while N of kube's raw watches
//!   open, then while one reloader starts following the same N ConfigMaps, divided by N.
//!
//! The emulator runs on a runtime of its own, as a server runs in its own process; a change is
//! the emulator's state written directly (no request), the same for both sides.
//!
//! Run: `cargo bench -p hotconf-kubernetes --bench kubernetes_latency`. Under `cargo test`
//! (no `--bench` argument) it runs a few rounds as a smoke test.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use hotconf_core::{Reloader, Snapshot, Subscription};
use hotconf_kubernetes::{KubernetesClient, KubernetesProvider, KubernetesSource};
use hotconf_testkit::kubernetes::KubeEmulator;
use hotconf_testkit::latency::report;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::WatchEvent;
use serde_json::Value;

const NAMESPACE: &str = "default";
/// The deadline of every wait: far above any latency measured here, so a stall fails the run
/// instead of hanging it.
const WAIT: Duration = Duration::from_secs(30);

/// Whether this is `cargo bench` (`--bench` passed) rather than `cargo test`'s smoke run.
fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Rounds per latency measurement: `HOTCONF_BENCH_ROUNDS` or 200; 10 under `cargo test`.
fn rounds() -> usize {
    if benching() {
        hotconf_testkit::latency::rounds(200)
    } else {
        10
    }
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let file = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// kube's raw watch of one ConfigMap, opened again from its last resourceVersion when the
/// stream breaks: the least any client of the watch API does.
struct RawWatch {
    api: Api<ConfigMap>,
    params: WatchParams,
    rv: String,
    stream: Option<BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>>,
}

impl RawWatch {
    async fn open(client: kube::Client, name: &str) -> RawWatch {
        let api = Api::<ConfigMap>::namespaced(client, NAMESPACE);
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(290);
        let rv = within("list", api.list_metadata(&Default::default()))
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let mut watch = RawWatch {
            api,
            params,
            rv,
            stream: None,
        };
        watch.reopen().await;
        watch
    }

    async fn reopen(&mut self) {
        let stream = within("watch", self.api.watch(&self.params, &self.rv))
            .await
            .unwrap();
        self.stream = Some(stream.boxed());
    }

    /// Waits for the MODIFIED event that carries `value`, opening the watch again if it breaks.
    async fn modified(&mut self, value: &str) {
        loop {
            let stream = self.stream.as_mut().expect("an open watch");
            match within("a watch event", stream.next()).await {
                Some(Ok(WatchEvent::Modified(object))) => {
                    self.rv = object.metadata.resource_version.clone().unwrap();
                    let data = object.data.unwrap_or_default();
                    if data.get("value").map(String::as_str) == Some(value) {
                        return;
                    }
                }
                Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                    self.rv = bookmark.metadata.resource_version;
                }
                Some(Ok(other)) => panic!("unexpected watch event: {other:?}"),
                Some(Err(_)) | None => self.reopen().await,
            }
        }
    }

    /// After a cut: reads the stream to its end and opens the watch again.
    async fn resume(&mut self) {
        let stream = self.stream.as_mut().expect("an open watch");
        while let Some(Ok(_)) = within("the cut", stream.next()).await {}
        self.reopen().await;
    }
}

/// Waits until a reader of `changes` sees `value`.
async fn applied(changes: &mut Subscription<Snapshot<Value>>, value: &str) {
    within("applied", async {
        loop {
            if changes.borrow_and_update().config()["value"] == value {
                return;
            }
            changes.changed().await.unwrap();
        }
    })
    .await;
}

struct Bench {
    emulator: KubeEmulator,
    client: KubernetesClient,
    raw: RawWatch,
    reloader: Reloader<Value>,
    changes: Subscription<Snapshot<Value>>,
}

impl Bench {
    async fn start(emulator: KubeEmulator, kubeconfig: &Path) -> Bench {
        emulator.put_config_map(NAMESPACE, "raw", [("value", "r")]);
        emulator.put_config_map(NAMESPACE, "lat", [("value", "h")]);
        let raw = RawWatch::open(kube_client(kubeconfig).await, "raw").await;
        let client = KubernetesClient::new().kubeconfig(kubeconfig);
        let provider =
            KubernetesProvider::new(&client, KubernetesSource::config_map(NAMESPACE, "lat"));
        let reloader = Reloader::<Value>::builder()
            .layer(provider)
            .start()
            .await
            .unwrap();
        let changes = reloader.store().subscribe();
        Bench {
            emulator,
            client,
            raw,
            reloader,
            changes,
        }
    }

    /// Both watches (kube's and hotconf's) open on the emulator.
    async fn both_open(&self) {
        self.emulator.wait_for(|c| c.open_watches == 2).await;
    }

    async fn apply_to_applied(&mut self, rounds: usize) {
        let (mut raw, mut hotconf) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            self.both_open().await;
            let value = format!("r{i}");
            let start = Instant::now();
            self.emulator
                .put_config_map(NAMESPACE, "raw", [("value", value.as_str())]);
            self.raw.modified(&value).await;
            raw.push(start.elapsed());

            self.both_open().await;
            let value = format!("h{i}");
            let start = Instant::now();
            self.emulator
                .put_config_map(NAMESPACE, "lat", [("value", value.as_str())]);
            applied(&mut self.changes, &value).await;
            hotconf.push(start.elapsed());
        }
        println!(
            "\nchange -> applied ({rounds} changes each, one ConfigMap each, loopback emulator)"
        );
        let base = report("kube Api::watch MODIFIED event (baseline)", raw, None);
        report("hotconf applied (readers see it)", hotconf, Some(base));
    }

    async fn resume_after_cut(&mut self, rounds: usize) {
        let (mut raw, mut hotconf) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            self.both_open().await;
            self.emulator.cut_watches();
            let value = format!("cr{i}");
            let start = Instant::now();
            self.emulator
                .put_config_map(NAMESPACE, "raw", [("value", value.as_str())]);
            self.raw.modified(&value).await;
            raw.push(start.elapsed());

            self.both_open().await;
            self.emulator.cut_watches();
            let value = format!("ch{i}");
            let start = Instant::now();
            self.emulator
                .put_config_map(NAMESPACE, "lat", [("value", value.as_str())]);
            applied(&mut self.changes, &value).await;
            hotconf.push(start.elapsed());
            // kube's watch was cut too; it resumes outside the timed part.
            self.raw.resume().await;
        }
        println!("\nwatch cut, then a change -> applied ({rounds} cuts each)");
        let base = report("kube Api::watch opened again, MODIFIED", raw, None);
        report("hotconf resumed, applied", hotconf, Some(base));
    }

    /// RSS growth per ConfigMap while `n` of kube's raw watches open (the baseline), then
    /// while one more reloader follows the same `n` (the raw watches stay open, so the
    /// reloader cannot reuse what they would free). The emulator runs in this process: its side
    /// of each watch (a connection, a task) is in both figures.
    async fn memory_per_object(&self, kubeconfig: &Path, n: usize) {
        for i in 0..n {
            self.emulator
                .put_config_map(NAMESPACE, &format!("m{i}"), [("value", format!("{i}"))]);
        }
        self.both_open().await;
        let before = rss_kib();
        let raw_client = kube_client(kubeconfig).await;
        let mut raw = Vec::with_capacity(n);
        for i in 0..n {
            raw.push(RawWatch::open(raw_client.clone(), &format!("m{i}")).await);
        }
        self.emulator
            .wait_for(|c| c.open_watches == 2 + n as u64)
            .await;
        let between = rss_kib();
        let mut builder = Reloader::<Value>::builder();
        for i in 0..n {
            let source = KubernetesSource::config_map(NAMESPACE, format!("m{i}"));
            builder = builder.layer(KubernetesProvider::new(&self.client, source));
        }
        let reloader = builder.start().await.unwrap();
        self.emulator
            .wait_for(|c| c.open_watches == 2 + 2 * n as u64)
            .await;
        // Every layer loaded: the last ConfigMap's value is the merged one.
        assert_eq!(reloader.store().load()["value"], n - 1);
        let after = rss_kib();
        let per = |from: u64, to: u64| to.saturating_sub(from) as f64 / n as f64;
        println!(
            "
memory per followed ConfigMap ({n}, one shared client each side; VmRSS, emulator's side included)"
        );
        println!(
            "  kube Api::watch streams (baseline)           {:>6.1} KiB  ({before} -> {between} KiB)",
            per(before, between)
        );
        println!(
            "  hotconf: one reloader, {n} layers             {:>6.1} KiB  ({between} -> {after} KiB)",
            per(between, after)
        );
        drop(reloader);
        drop(raw);
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds = rounds();
    let followed = if benching() { 100 } else { 5 };
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emulator = server.block_on(KubeEmulator::start());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emulator.kubeconfig(dir.path());
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client.block_on(async {
        let mut bench = Bench::start(emulator, &kubeconfig).await;
        // Memory first, before the latency rounds leave freed memory for the allocator to reuse.
        bench.memory_per_object(&kubeconfig, followed).await;
        bench.apply_to_applied(rounds).await;
        bench.resume_after_cut(rounds).await;
        drop(bench.reloader);
    });
}
