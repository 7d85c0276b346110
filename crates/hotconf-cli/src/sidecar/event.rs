//! The sidecar's own events, as types: what `hotconf render` and `hotconf exec` log beside the
//! reloader's events (`applied`, `rejected`, `source_error`, …: core's `Event`).
//!
//! Each is one JSON object on one line, `event` first, then its fields in alphabetical order;
//! an optional field is absent rather than `null`. Log collectors and alerts read these lines,
//! so the bytes are a contract (`tests/golden/sidecar_events.jsonl`). The fields are declared
//! in the order they are written.

use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::Serialize;

/// An event of the sidecar itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum SidecarEvent {
    /// A version's outputs were written: those whose bytes changed, and those left as they were.
    Rendered {
        /// The outputs whose bytes changed (paths as given).
        changed: Vec<String>,
        /// How long writing took, in microseconds.
        duration_us: u64,
        /// The outputs whose bytes were already those.
        unchanged: Vec<String>,
        /// The version written.
        version: u64,
    },
    /// An output could not be rendered or written; its file keeps its last content.
    OutputError {
        /// Why (never a config value).
        error: String,
        /// The output that failed; absent when rendering the whole version failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        /// The version.
        version: u64,
    },
    /// An output that users other than hotconf's may read shows a value the redaction policy
    /// covers: once per output, its path and mode, never the value.
    OutputModeWarning {
        /// The outputs' permission bits, in octal (`0644`).
        mode: String,
        /// The output.
        output: String,
        /// The version it was first seen in.
        version: u64,
        /// What to do about it.
        warning: &'static str,
    },
    /// `exec`: names the config would set in the program's environment that are never set from
    /// it (`PATH`, `LD_*`, …); never their values.
    EnvDenied {
        /// The names left out.
        names: Vec<String>,
        /// The version.
        version: u64,
    },
    /// A command run, a signal sent, or the program started, restarted or ended.
    Command(Command),
    /// The log fell behind the reloader's events; the current version is written.
    Lagged {
        /// How many events were missed.
        missed: u64,
    },
    /// Lines dropped while the log's writer was blocked, said once it writes again.
    EventsDropped {
        /// How many lines.
        count: u64,
    },
}

/// A `command` event, by `action`. How a process ended is one of `exit_code`, `signal` or
/// `error` (or none, when it ended neither way); `duration_ms` is how long it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub(crate) enum Command {
    /// `render --exec`: the command ran (or could not start, or timed out and was killed).
    Exec {
        duration_ms: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        /// Killed (SIGKILL, with its process group) past `--exec-timeout`; absent otherwise.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
        version: u64,
    },
    /// `render --signal`, or `exec --on-change signal:SIG`: a signal sent to a process.
    Signal {
        /// How long sending took (`render` only).
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<f64>,
        /// Why the signal was not sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The process signalled (absent when it could not be found).
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
        signal: &'static str,
        version: u64,
    },
    /// `exec`: the program started, or hotconf's launch step could not.
    Start {
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
        version: u64,
    },
    /// `exec`: the program was stopped to start again with `version`.
    Restart {
        duration_ms: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        pid: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        version: u64,
    },
    /// `exec`: the program ended, on its own or stopped by a signal to hotconf.
    Exit {
        duration_ms: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        pid: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
    },
}

/// How a process ended, as a `command` event tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it: its name, or its number when it has none.
    Signal(String),
    /// It could not be started or waited for.
    Error(String),
    /// Neither a code nor a signal was reported.
    Unknown,
}

impl Ended {
    /// How a finished process ended.
    pub(crate) fn of(status: ExitStatus) -> Ended {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Code(code),
            (None, Some(number)) => Ended::Signal(
                Signal::try_from(number)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|_| number.to_string()),
            ),
            (None, None) => Ended::Unknown,
        }
    }

    /// How waiting for a process ended.
    pub(crate) fn waited(status: &std::io::Result<ExitStatus>) -> Ended {
        match status {
            Ok(status) => Ended::of(*status),
            Err(error) => Ended::Error(error.to_string()),
        }
    }

    /// Whether it exited with code 0.
    pub(crate) fn success(&self) -> bool {
        *self == Ended::Code(0)
    }

    /// The `error`, `exit_code` and `signal` fields: one of them at most.
    fn fields(self) -> (Option<String>, Option<i32>, Option<String>) {
        match self {
            Ended::Code(code) => (None, Some(code), None),
            Ended::Signal(signal) => (None, None, Some(signal)),
            Ended::Error(error) => (Some(error), None, None),
            Ended::Unknown => (None, None, None),
        }
    }
}

impl Command {
    /// `render --exec`'s command ended after `ran`.
    pub(crate) fn exec(ended: Ended, timed_out: bool, ran: Duration, version: u64) -> Command {
        let (error, exit_code, signal) = ended.fields();
        Command::Exec {
            duration_ms: millis(ran),
            error,
            exit_code,
            signal,
            timed_out,
            version,
        }
    }

    /// `exec`'s program `pid` ended after running `ran`; `restarting` for `version` when
    /// hotconf stopped it for a change.
    pub(crate) fn ended(pid: i32, ran: Duration, ended: Ended, restarting: Option<u64>) -> Command {
        let (error, exit_code, signal) = ended.fields();
        let duration_ms = millis(ran);
        match restarting {
            Some(version) => Command::Restart {
                duration_ms,
                error,
                exit_code,
                pid,
                signal,
                version,
            },
            None => Command::Exit {
                duration_ms,
                error,
                exit_code,
                pid,
                signal,
            },
        }
    }
}

impl From<Command> for SidecarEvent {
    fn from(command: Command) -> SidecarEvent {
        SidecarEvent::Command(command)
    }
}

/// Milliseconds with microsecond precision, for `duration_ms` fields.
pub(crate) fn millis(duration: Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line per event kind and `command` action, in every shape each takes.
    fn every_shape() -> Vec<SidecarEvent> {
        let ran = Duration::from_micros(1_500);
        let mut events = vec![
            SidecarEvent::Rendered {
                changed: vec!["/run/app/a.conf".into()],
                duration_us: 412,
                unchanged: vec!["/run/app/b.conf".into()],
                version: 7,
            },
            SidecarEvent::OutputError {
                error: "Is a directory (os error 21)".into(),
                output: Some("/run/app/a.conf".into()),
                version: 7,
            },
            SidecarEvent::OutputError {
                error: "template a.tpl line 1: undefined value".into(),
                output: None,
                version: 7,
            },
            SidecarEvent::OutputModeWarning {
                mode: "0644".into(),
                output: "/run/app/a.conf".into(),
                version: 1,
                warning: "shows values the redaction policy covers to other users: use --mode 0600",
            },
            SidecarEvent::EnvDenied {
                names: vec!["PATH".into(), "PS4".into()],
                version: 3,
            },
            SidecarEvent::Lagged { missed: 12 },
            SidecarEvent::EventsDropped { count: 5 },
        ];
        let commands = [
            Command::exec(Ended::Code(0), false, ran, 1),
            Command::exec(Ended::Signal("SIGKILL".into()), false, ran, 2),
            Command::exec(Ended::Signal("SIGKILL".into()), true, ran, 3),
            Command::exec(
                Ended::Error("cannot start sh: denied".into()),
                false,
                ran,
                4,
            ),
            Command::exec(Ended::Unknown, false, ran, 5),
            Command::Signal {
                duration_ms: Some(millis(ran)),
                error: None,
                pid: Some(4242),
                signal: "SIGHUP",
                version: 1,
            },
            Command::Signal {
                duration_ms: Some(millis(ran)),
                error: Some("cannot signal process 4242: ESRCH: No such process".into()),
                pid: None,
                signal: "SIGUSR1",
                version: 1,
            },
            Command::Signal {
                duration_ms: None,
                error: None,
                pid: Some(4242),
                signal: "SIGHUP",
                version: 2,
            },
            Command::Signal {
                duration_ms: None,
                error: Some("ESRCH: No such process".into()),
                pid: Some(4242),
                signal: "SIGHUP",
                version: 2,
            },
            Command::Start {
                error: None,
                pid: Some(4242),
                version: 1,
            },
            Command::Start {
                error: Some("Permission denied (os error 13)".into()),
                pid: None,
                version: 1,
            },
            Command::ended(4242, ran, Ended::Signal("SIGTERM".into()), Some(2)),
            Command::ended(4242, ran, Ended::Code(7), None),
            Command::ended(4242, ran, Ended::Error("No child processes".into()), None),
        ];
        events.extend(commands.map(SidecarEvent::from));
        events
    }

    #[test]
    fn every_event_is_written_byte_for_byte() {
        let lines: String = every_shape()
            .iter()
            .map(|event| serde_json::to_string(event).unwrap() + "\n")
            .collect();
        hotconf_testkit::golden::assert_golden(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/golden/sidecar_events.jsonl"
            ),
            &lines,
        );
    }

    #[test]
    fn a_status_ends_with_a_code_or_a_named_signal() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(Ended::of(ExitStatus::from_raw(3 << 8)), Ended::Code(3));
        assert!(Ended::of(ExitStatus::from_raw(0)).success());
        assert_eq!(
            Ended::of(ExitStatus::from_raw(9)),
            Ended::Signal("SIGKILL".into())
        );
        let failed = Ended::waited(&Err(std::io::Error::other("gone")));
        assert_eq!(failed, Ended::Error("gone".into()));
    }
}
