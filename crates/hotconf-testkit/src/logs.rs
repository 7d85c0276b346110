//! Every log line of a test binary, captured at TRACE (hotconf's, reqwest's, hyper's), for the
//! tests that prove a credential or a secret value reaches no log line (G10, G13).
//!
//! The capture is the process's global `tracing` subscriber: a test binary that calls
//! [`captured`] must not install another one.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The buffer every log line of this process goes to, installed as the global subscriber at
/// TRACE on the first call.
///
/// # Panics
/// When another global subscriber was installed first.
pub fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        buffer
    })
    .clone()
}

/// The log text captured so far.
pub fn text() -> String {
    let logs = captured();
    let bytes = logs.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&bytes).into_owned()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
