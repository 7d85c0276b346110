//! The sidecar's cost over `hotconf watch`, as real processes on a Consul emulator: a Consul
//! write → `hotconf watch` prints `applied` (the baseline), → `hotconf render` has renamed a
//! 10 KB template's output into place (its `rendered` event, printed after the rename and the
//! directory fsync), → the `--exec` command has started (its first line on stdout). Each process
//! follows a key of its own, and rounds alternate between them, so that all three see the same
//! machine over time. Outputs go to a disk directory and to tmpfs (`emptyDir: {medium: Memory}`).
//!
//! Run: `cargo bench -p hotconf-cli --bench sidecar_latency` (`HOTCONF_BENCH_ROUNDS=N`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hotconf_testkit::consul::ConsulEmulator;
use hotconf_testkit::latency::report;
use serde_json::{json, Value};

/// A config of 160 entries; the template prints each (about 10 KB).
fn config(round: usize) -> Value {
    let entries: serde_json::Map<String, Value> = (0..160)
        .map(|i| {
            (
                format!("key_{i:03}"),
                json!(format!("value {round} {i:03} {}", "x".repeat(40))),
            )
        })
        .collect();
    json!({"round": round, "entries": entries})
}

const TEMPLATE: &str = "# round {{ config.round }}\n{% for key, value in config.entries | items %}{{ key }} = {{ value | tojson }}\n{% endfor %}";

struct Process {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl Process {
    fn start(args: &[&str], dir: &Path, events_on_stderr: bool) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotconf"))
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(if events_on_stderr {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let stream: Box<dyn std::io::Read + Send> = if events_on_stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        Process { child, lines }
    }

    /// When the next line containing `needle` arrived.
    fn until(&self, needle: &str) -> Instant {
        loop {
            let (at, line) = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("no line with {needle} in time: {e}"));
            if line.contains(needle) {
                return at;
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(consul: &ConsulEmulator, out: &Path, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.tpl"), TEMPLATE).unwrap();
    let uri = |key: &str| {
        format!(
            "consul://{}/{key}?mode=key&format=json&burst=1000&refill=1ms",
            consul.address()
        )
    };
    for key in ["watch", "render", "exec"] {
        consul.put(key, config(0).to_string());
    }
    let output = |name: &str| out.join(name).display().to_string();
    let (render_out, exec_out) = (
        format!("app.tpl:{}", output("render.conf")),
        format!("app.tpl:{}", output("exec.conf")),
    );
    let watch = Process::start(&["watch", &uri("watch")], dir.path(), false);
    let render = Process::start(
        &["render", &uri("render"), "--template", &render_out],
        dir.path(),
        true,
    );
    let exec = Process::start(
        &[
            "render",
            &uri("exec"),
            "--template",
            &exec_out,
            "--exec",
            "echo started $HOTCONF_VERSION",
        ],
        dir.path(),
        false,
    );
    watch.until("\"applied\"");
    render.until("\"rendered\"");
    exec.until("started");
    let size = std::fs::metadata(out.join("render.conf")).unwrap().len();

    let (mut applied, mut renamed, mut started) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let body = config(round).to_string();
        let t = Instant::now();
        consul.put("watch", body.clone());
        applied.push(watch.until("\"applied\"") - t);
        let t = Instant::now();
        consul.put("render", body.clone());
        renamed.push(render.until("\"rendered\"") - t);
        let t = Instant::now();
        consul.put("exec", body);
        started.push(exec.until("started") - t);
    }
    let bytes = std::fs::read(out.join("render.conf")).unwrap();
    let (mut write, mut shell) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        write.push(raw_atomic_write(out, &bytes));
        shell.push(raw_shell());
    }
    println!("  ({rounds} rounds, template output {size} bytes)");
    let base = report("consul put -> hotconf watch applied", applied, None);
    let rename = report("consul put -> render: output renamed", renamed, Some(base));
    let command = report(
        "consul put -> render --exec: command started",
        started,
        Some(base),
    );
    let write = report("raw: temp file, fsync, rename, dir fsync", write, None);
    let shell = report("raw: sh -c 'echo started' to its line", shell, None);
    let ms = |d: f64| d * 1e3;
    let (base, rename, command) = (
        base.as_secs_f64(),
        rename.as_secs_f64(),
        command.as_secs_f64(),
    );
    println!(
        "  over the baseline: renamed +{:.3} ms (of which the raw write {:.3} ms), command started +{:.3} ms (of which sh {:.3} ms)",
        ms(rename - base),
        ms(write.as_secs_f64()),
        ms(command - base),
        ms(shell.as_secs_f64())
    );
}

/// What any atomic writer pays: the same bytes to a temp file, fsync, rename, directory fsync.
fn raw_atomic_write(dir: &Path, bytes: &[u8]) -> Duration {
    use std::io::Write;
    let t = Instant::now();
    let mut temp = tempfile::NamedTempFile::new_in(dir).unwrap();
    temp.write_all(bytes).unwrap();
    temp.as_file().sync_all().unwrap();
    temp.persist(dir.join("raw.conf")).unwrap();
    std::fs::File::open(dir).unwrap().sync_all().unwrap();
    t.elapsed()
}

/// What any command runner pays: `sh -c 'echo started'` until its line is read.
fn raw_shell() -> Duration {
    let t = Instant::now();
    let mut child = Command::new("sh")
        .args(["-c", "echo started"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let elapsed = t.elapsed();
    child.wait().unwrap();
    elapsed
}

fn main() {
    let rounds: usize = std::env::var("HOTCONF_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let consul = runtime.block_on(ConsulEmulator::start());
    let disk = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    println!("outputs on disk ({}):", disk.path().display());
    run(&consul, disk.path(), rounds);
    if Path::new("/dev/shm").is_dir() {
        let memory = tempfile::tempdir_in("/dev/shm").unwrap();
        println!("outputs on tmpfs (/dev/shm):");
        run(&consul, memory.path(), rounds);
    }
}
