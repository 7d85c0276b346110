//! The startup policy (guarantee G9): what starting does until the first config is applied,
//! and what it says meanwhile: a start never waits in silence.

use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Awaited, Event};

use super::sources::Sources;

/// How long a start waits before it first says what it waits for ([`Event::Waiting`]).
const REPORT_AFTER: Duration = Duration::from_secs(1);

/// What [`ReloaderBuilder::start`](crate::ReloaderBuilder::start) does until the first config
/// is applied (guarantee G9). With a [`ReloaderBuilder::last_good_file`](crate::ReloaderBuilder::last_good_file)
/// file, a start that would fail starts from the config saved there instead.
///
/// Either way, a start that has no config after about a second emits an
/// [`Event::Waiting`](crate::Event::Waiting) naming every layer with no first state and why,
/// and again whenever that changes. An [optional](crate::ReloaderBuilder::optional) layer whose
/// source is absent does not hold the start back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Startup {
    /// Return the first error: a source that fails, or a first config that is rejected.
    FailFast,
    /// Keep waiting through errors and rejections, up to this long, for a first good config
    /// (`Duration::MAX`: for ever).
    Wait(Duration),
}

/// Waits for the first config as `startup` says; the error is the reason there is none.
pub(super) async fn first_config<T: DeserializeOwned + Send + Sync + 'static>(
    engine: &mut Engine<T>,
    sources: &mut Sources,
    startup: Startup,
) -> Result<()> {
    let fail_fast = startup == Startup::FailFast;
    let deadline = match startup {
        Startup::FailFast => None,
        // `Duration::MAX` and the like: wait for ever.
        Startup::Wait(timeout) => Instant::now().checked_add(timeout),
    };
    let mut report = Report::new(Instant::now() + REPORT_AFTER);
    let mut last_error = None;
    loop {
        let batch = engine.batch(sources.pending(), fail_fast).await;
        if let Some(error) = batch.source_error {
            if fail_fast {
                return Err(every_failure(engine, error));
            }
            last_error = Some(error);
        }
        match batch.applied {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => {}
            Err(error) if fail_fast => return Err(error),
            Err(error) => last_error = Some(error),
        }
        if let Some(stopped) = engine.stalled_source() {
            let message = format!("source {stopped} stopped before delivering a state");
            return Err(last_error.unwrap_or_else(|| Error::new(ErrorKind::Unavailable, message)));
        }
        // Until a provider delivers: say what the start waits for once it is due, and give up
        // at the deadline.
        loop {
            report.emit_if_due(engine);
            tokio::select! {
                () = sources.gather() => break,
                () = sleep_until(report.wake_at()) => {}
                () = sleep_until(deadline) => return Err(timed_out(engine, last_error)),
            }
        }
    }
}

/// The [`Event::Waiting`] reports of one start: the first once due, then one per change.
struct Report {
    due: Instant,
    /// What the last report said.
    last: Option<(Vec<Awaited>, Option<String>)>,
}

impl Report {
    fn new(due: Instant) -> Report {
        Report { due, last: None }
    }

    /// When the first report is due, while it is not made.
    fn wake_at(&self) -> Option<Instant> {
        self.last.is_none().then_some(self.due)
    }

    /// Emits what the start waits for, once due, if it changed since the last report.
    fn emit_if_due<T: DeserializeOwned + Send + Sync + 'static>(&mut self, engine: &Engine<T>) {
        if Instant::now() < self.due {
            return;
        }
        let now = engine.awaited();
        if self.last.as_ref() == Some(&now) {
            return;
        }
        let (sources, rejection) = now.clone();
        tracing::info!(
            waiting_for = %sources.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            "no config yet"
        );
        engine.emit(|| Event::Waiting { sources, rejection });
        self.last = Some(now);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Every layer that keeps the start from a config (with `failing_only`, those with an error),
/// and why the last config built was rejected, each on one line.
fn hindrances<T: DeserializeOwned + Send + Sync + 'static>(
    engine: &Engine<T>,
    failing_only: bool,
) -> Vec<String> {
    let (awaited, rejection) = engine.awaited();
    let mut why: Vec<String> = (awaited.iter())
        .filter(|a| !failing_only || a.error.is_some())
        .map(ToString::to_string)
        .collect();
    if let Some(rejection) = rejection {
        if !awaited.iter().any(|a| a.error.as_ref() == Some(&rejection)) {
            why.push(format!("the last config built was rejected: {rejection}"));
        }
    }
    why
}

/// The error of a fail-fast start at source error `first`: `first` itself when it is the
/// only layer failing, else one error listing every failing layer.
fn every_failure<T: DeserializeOwned + Send + Sync + 'static>(
    engine: &Engine<T>,
    first: Error,
) -> Error {
    let why = hindrances(engine, true);
    if why.len() <= 1 {
        return first;
    }
    Error::new(
        first.kind(),
        format!("no valid config at startup: {}", why.join("; ")),
    )
    .with_transient(first.is_transient())
}

/// The error of a start whose wait ran out: every layer with no first state and why.
fn timed_out<T: DeserializeOwned + Send + Sync + 'static>(
    engine: &Engine<T>,
    last_error: Option<Error>,
) -> Error {
    let why = hindrances(engine, false);
    let why = if why.is_empty() {
        last_error.map_or_else(
            || "a source has not delivered its first state".to_owned(),
            |e| e.to_string(),
        )
    } else {
        why.join("; ")
    };
    Error::new(
        ErrorKind::Unavailable,
        format!("no valid config at startup: {why}"),
    )
    .with_transient(true)
}
