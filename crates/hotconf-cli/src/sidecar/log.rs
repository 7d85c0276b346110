//! Where the sidecar's JSON lines go: the reloader's events (`applied`, `rejected`,
//! `source_error`, …) and the sidecar's own ([`SidecarEvent`]), on stderr or in a file.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use hotconf::Event;

use super::event::SidecarEvent;

/// Lines waiting for the writer thread; past this many, new ones are dropped and counted.
const QUEUED: usize = 1024;

/// How long closing the log waits for the queued lines to be written.
const CLOSE_DEADLINE: Duration = Duration::from_secs(2);

/// Where events go, one JSON object per line, flushed per line.
///
/// A thread of its own writes them: stderr can be a pipe nobody reads any more (a stalled log
/// collector), and a blocked write must not stop the outputs from following the config. While
/// the writer is blocked, lines queue up to [`QUEUED`]; later ones are dropped, and once it
/// writes again an `events_dropped` event says how many.
pub(crate) struct EventLog {
    lines: Option<mpsc::SyncSender<String>>,
    /// The lines go to stderr (no `--events` file).
    on_stderr: bool,
    dropped: Arc<AtomicU64>,
    /// Told when the writer thread has written everything and ended.
    done: mpsc::Receiver<()>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventLog")
    }
}

impl EventLog {
    /// Events to `path` (appended), or to stderr without one.
    pub(crate) fn open(path: Option<&Path>) -> io::Result<EventLog> {
        let out: Box<dyn Write + Send> = match path {
            Some(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
            None => Box::new(io::stderr()),
        };
        let mut log = EventLog::to(out);
        log.on_stderr = path.is_none();
        Ok(log)
    }

    fn to(mut out: Box<dyn Write + Send>) -> EventLog {
        let (lines, queued) = mpsc::sync_channel::<String>(QUEUED);
        let (finished, done) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = dropped.clone();
        std::thread::Builder::new()
            .name("hotconf-events".into())
            .spawn(move || {
                for line in queued {
                    let count = counted.swap(0, Ordering::Relaxed);
                    if count > 0 {
                        write_line(&mut out, &line_of(&SidecarEvent::EventsDropped { count }));
                    }
                    write_line(&mut out, &line);
                }
                let _ = finished.send(());
            })
            .map_err(|e| eprintln!("hotconf: no thread for the event log: {e}"))
            .ok();
        EventLog {
            lines: Some(lines),
            on_stderr: false,
            dropped,
            done,
        }
    }

    /// A reloader event, as `hotconf watch` prints it but without the config: no values in
    /// the sidecar's log. A `waiting` event logged to a file is also said on stderr, for the
    /// person waiting (on stderr, the log's own line says it).
    pub(crate) fn event(&mut self, event: &Event) {
        if !self.on_stderr {
            crate::waiting::report(event);
        }
        self.line(line_of(event));
    }

    /// A sidecar event, `event` first as in `hotconf watch`.
    pub(crate) fn emit(&mut self, event: impl Into<SidecarEvent>) {
        self.line(line_of(&event.into()));
    }

    fn line(&mut self, line: String) {
        let Some(lines) = &self.lines else { return };
        if let Err(mpsc::TrySendError::Full(_)) = lines.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The queued lines are written before the process exits, unless the writer stays blocked
/// past [`CLOSE_DEADLINE`].
impl Drop for EventLog {
    fn drop(&mut self) {
        self.lines = None;
        let _ = self.done.recv_timeout(CLOSE_DEADLINE);
    }
}

/// An event's line. The events hold only strings, numbers and string-keyed maps, which always
/// serialize.
fn line_of(event: &impl serde::Serialize) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// A log that cannot be written must not stop the sidecar: the outputs still matter.
fn write_line(out: &mut Box<dyn Write + Send>, line: &str) {
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
