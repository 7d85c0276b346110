//! A start never waits in silence: what a `waiting` event says, for the person at the
//! terminal, on stderr (`hotconf: waiting for …`), while `watch`, `explain`, `render` and
//! `exec` wait for a first config.

use hotconf::Event;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::output::escape_controls;

/// What a `waiting` event says, as lines for a person on stderr (`hotconf: waiting for …`),
/// control characters escaped; `None` for any other event.
pub(crate) fn waiting_lines(event: &Event) -> Option<Vec<String>> {
    let Event::Waiting { sources, rejection } = event else {
        return None;
    };
    let mut lines: Vec<String> = sources
        .iter()
        .map(|awaited| {
            format!(
                "hotconf: waiting for {}",
                escape_controls(&awaited.to_string())
            )
        })
        .collect();
    // Said once: a rejection blamed on a layer is that layer's error already.
    let said = |rejection: &String| sources.iter().any(|a| a.error.as_ref() == Some(rejection));
    if let Some(rejection) = rejection.as_ref().filter(|r| !said(r)) {
        lines.push(format!(
            "hotconf: waiting for a valid config: the last one was rejected: {}",
            escape_controls(rejection)
        ));
    }
    if lines.is_empty() {
        lines.push("hotconf: waiting for a first config".to_owned());
    }
    Some(lines)
}

/// Prints what a `waiting` event says on stderr; other events are not printed.
pub(crate) fn report(event: &Event) {
    if let Some(lines) = waiting_lines(event) {
        for line in lines {
            eprintln!("{line}");
        }
    }
}

/// Prints every `waiting` event of `events` on stderr until the channel closes (a task for
/// the time a start takes).
pub(crate) async fn report_events(mut events: broadcast::Receiver<Event>) {
    loop {
        match events.recv().await {
            Ok(event) => report(&event),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
