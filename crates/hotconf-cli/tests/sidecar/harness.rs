//! A `hotconf render`/`hotconf exec` process under test, a Consul emulator to change its config,
//! and the events it prints.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hotconf_testkit::consul::ConsulEmulator;
use serde_json::Value;

pub const TIMEOUT: Duration = Duration::from_secs(30);
pub const KEY: &str = "app/config.json";

/// A Consul emulator on a runtime of its own, holding one JSON document at [`KEY`].
pub struct Config {
    pub consul: ConsulEmulator,
    _runtime: tokio::runtime::Runtime,
}

impl Config {
    pub fn start() -> Config {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let consul = runtime.block_on(ConsulEmulator::start());
        Config {
            consul,
            _runtime: runtime,
        }
    }

    /// The source URI for [`KEY`], with a rate limit that lets the tests change it hundreds
    /// of times a second (the default allows two changes at once, then one a second).
    pub fn uri(&self) -> String {
        format!(
            "consul://{}/{KEY}?mode=key&format=json&burst=1000&refill=1ms",
            self.consul.address()
        )
    }

    pub fn put(&self, config: &Value) {
        self.consul.put(KEY, config.to_string());
    }
}

/// A running `hotconf` sidecar: its events (stderr, JSON lines) and its stdout lines (what the
/// commands and children it runs print).
pub struct Sidecar {
    child: Option<Child>,
    events: mpsc::Receiver<Value>,
    /// Stderr while nobody reads it ([`Sidecar::start_unread`]), and where its events go.
    unread: Option<(ChildStderr, mpsc::Sender<Value>)>,
    stdout: mpsc::Receiver<String>,
}

/// Sends each line of `from`, parsed, to `to`, from a thread of its own.
fn forward<R: std::io::Read + Send + 'static, T: Send + 'static>(
    from: R,
    parse: fn(String) -> T,
    to: mpsc::Sender<T>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if to.send(parse(line)).is_err() {
                return;
            }
        }
    });
}

fn lines<R: std::io::Read + Send + 'static, T: Send + 'static>(
    from: R,
    parse: fn(String) -> T,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    forward(from, parse, tx);
    rx
}

/// An event line as JSON; lines that are not JSON (hotconf's own `hotconf: …` messages) arrive
/// as strings.
fn event(line: String) -> Value {
    serde_json::from_str(&line).unwrap_or(Value::String(line))
}

impl Sidecar {
    /// `hotconf SUBCOMMAND ARGS…` in `dir`.
    pub fn start(subcommand: &str, args: &[&str], dir: &Path) -> Sidecar {
        let mut sidecar = Sidecar::start_unread(subcommand, args, dir);
        sidecar.read_events();
        sidecar
    }

    /// The same, with its stderr a pipe nobody reads until [`read_events`](Self::read_events):
    /// a stalled log collector.
    pub fn start_unread(subcommand: &str, args: &[&str], dir: &Path) -> Sidecar {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hotconf"));
        command.arg(subcommand).args(args);
        Sidecar::spawn(&mut command, dir)
    }

    /// `command` (hotconf under a wrapper such as `unshare`) in `dir`, events read.
    pub fn start_command(mut command: Command, dir: &Path) -> Sidecar {
        let mut sidecar = Sidecar::spawn(&mut command, dir);
        sidecar.read_events();
        sidecar
    }

    fn spawn(command: &mut Command, dir: &Path) -> Sidecar {
        let mut child = command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (to, events) = mpsc::channel();
        let stdout = lines(child.stdout.take().unwrap(), |line| line);
        Sidecar {
            unread: Some((child.stderr.take().unwrap(), to)),
            child: Some(child),
            events,
            stdout,
        }
    }

    /// Starts reading the events on stderr.
    pub fn read_events(&mut self) {
        if let Some((stderr, to)) = self.unread.take() {
            forward(stderr, event, to);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The next event.
    pub fn next(&self) -> Value {
        self.events
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no event from hotconf in time: {e}"))
    }

    /// The next event named `name`, and the events before it.
    pub fn until(&self, name: &str) -> (Value, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let event = self.next();
            if event["event"] == name {
                return (event, before);
            }
            before.push(event);
        }
    }

    /// The next `name` event; any event before it but `applied` and `rendered` fails the test.
    pub fn after_change(&self, name: &str) -> Value {
        let (event, before) = self.until(name);
        assert!(
            before
                .iter()
                .all(|e| e["event"] == "applied" || e["event"] == "rendered"),
            "{before:?} before {event}"
        );
        event
    }

    /// Every event already printed, without waiting.
    pub fn pending(&self) -> Vec<Value> {
        self.events.try_iter().collect()
    }

    /// The next line on stdout.
    pub fn line(&self) -> String {
        self.stdout
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("no stdout line from hotconf in time: {e}"))
    }

    /// Every stdout line already printed, without waiting.
    pub fn pending_lines(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// Sends `signal` (`TERM`, `INT`, …) to hotconf.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for hotconf to exit by itself; its exit code.
    pub fn exit_code(mut self) -> i32 {
        let mut child = self.child.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let pid = child.id();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(status) => status.unwrap().code().expect("exited, not killed"),
            Err(_) => {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
                panic!("hotconf did not exit in time");
            }
        }
    }
}

/// A test that fails midway leaves no `hotconf` process behind.
impl Drop for Sidecar {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Whether a process with this id exists.
pub fn alive(pid: i64) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}
