//! The sidecar's JSON lines: the reloader's events (`applied`, `rejected`, `source_error`, …)
//! and the sidecar's own (`rendered`, `output_error`, `command`), on stderr or in a file.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use hotconf::Event;
use serde_json::Value;

/// Where events go, one JSON object per line, flushed per line.
pub(crate) struct EventLog {
    out: Box<dyn Write + Send>,
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
        Ok(EventLog { out })
    }

    /// A reloader event, as `hotconf watch` prints it but without the config: no values in
    /// the sidecar's log.
    pub(crate) fn event(&mut self, event: &Event) {
        self.line(&serde_json::to_string(event).unwrap_or_default());
    }

    /// A sidecar event: `{"event": name, ...fields}`, `event` first as in `hotconf watch`.
    pub(crate) fn emit(&mut self, name: &str, fields: Value) {
        let name = Value::from(name);
        match fields {
            Value::Object(fields) if !fields.is_empty() => {
                let fields = Value::Object(fields).to_string();
                self.line(&format!("{{\"event\":{name},{}", &fields[1..]));
            }
            _ => self.line(&format!("{{\"event\":{name}}}")),
        }
    }

    fn line(&mut self, line: &str) {
        // A log that cannot be written must not stop the sidecar: the outputs still matter.
        let _ = writeln!(self.out, "{line}").and_then(|()| self.out.flush());
    }
}

/// Milliseconds with microsecond precision, for `duration_ms` fields.
pub(crate) fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}
