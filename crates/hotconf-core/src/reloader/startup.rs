//! The startup policy (guarantee G9): what starting does until the first config is applied.

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};

use super::sources::Sources;

/// What [`ReloaderBuilder::start`](crate::ReloaderBuilder::start) does until the first config
/// is applied (guarantee G9). With a [`ReloaderBuilder::last_good_file`](crate::ReloaderBuilder::last_good_file)
/// file, a start that would fail starts from the config saved there instead.
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
        Startup::Wait(timeout) => tokio::time::Instant::now().checked_add(timeout),
    };
    let mut last_error = None;
    loop {
        let batch = engine.batch(sources.pending(), fail_fast).await;
        if let Some(error) = batch.source_error {
            if fail_fast {
                return Err(error);
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
        match deadline {
            None => sources.gather().await,
            Some(deadline) => {
                if tokio::time::timeout_at(deadline, sources.gather())
                    .await
                    .is_err()
                {
                    let why = last_error.map_or_else(
                        || "a source has not delivered its first state".to_owned(),
                        |e| e.to_string(),
                    );
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("no valid config at startup: {why}"),
                    )
                    .with_transient(true));
                }
            }
        }
    }
}
