//! The follow helper: turns a source's "wait for a change" and "read the state" into a
//! [`WatchStream`] that keeps [`Provider::watch`](crate::Provider::watch)'s contract, so that
//! every backend keeps it the same way.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use crate::backoff::Backoff;
use crate::error::{Error, ErrorKind, Result};
use crate::layer::{Content, Layer};
use crate::provider::WatchStream;
use crate::revision::Revision;
use crate::rollout::Membership;

/// A source as the [`follow`] helper drives it: read its state, and wait until it may have
/// changed.
///
/// A backend implements `read` (and `changed` when its reads do not wait by themselves); the
/// helper does the rest: the first read at once, retries with jittered backoff, states and
/// errors de-duplicated, ordered revisions that never go back, the source name on every error,
/// and the stream ended after a permanent error.
#[async_trait]
pub trait Follow: Send + 'static {
    /// Reads the source's whole current state.
    ///
    /// A read may wait for a change itself (an etcd watch, a Consul blocking query): it may
    /// then return the same state again (a blocking query that timed out), which the helper
    /// drops. `Err` is a failed read: transient (the helper retries) or permanent (the stream
    /// ends).
    async fn read(&mut self) -> Result<Layer>;

    /// Returns when the source may have changed since the last read (a file event, a long poll
    /// that reported a change, a timer). Called before every read but the first and those
    /// after an error with [`Retry::After`].
    ///
    /// The default returns at once: right for sources whose `read` waits by itself.
    async fn changed(&mut self) {}

    /// What to wait for after the transient `error` before reading again.
    ///
    /// The default: [`Backoff::ANSWERED`] when the server answered with an error (the error's
    /// cause is an [`HttpStatus`](crate::provider::HttpStatus): it is up but refusing,
    /// overloaded or without a leader, and many clients may be retrying), or when the source
    /// was reached but its state was wrong; [`Backoff::TRANSPORT`] when it could not be reached
    /// ([`ErrorKind::Unavailable`] without a status: a restart, a cut connection), so the
    /// source is back soon after the server.
    fn retry(&self, error: &Error) -> Retry {
        if error.kind() == ErrorKind::Unavailable && !error.is_answer() {
            Retry::After(Backoff::TRANSPORT)
        } else {
            Retry::After(Backoff::ANSWERED)
        }
    }
}

#[async_trait]
impl<F: Follow + ?Sized> Follow for Box<F> {
    async fn read(&mut self) -> Result<Layer> {
        (**self).read().await
    }

    async fn changed(&mut self) {
        (**self).changed().await;
    }

    fn retry(&self, error: &Error) -> Retry {
        (**self).retry(error)
    }
}

/// What the [`follow`] helper waits for after a transient error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retry {
    /// Read again after this backoff (growing with each failure in a row).
    After(Backoff),
    /// Read again when [`Follow::changed`] returns (a file whose content is wrong is read again
    /// when it is written, not on a timer).
    OnChange,
}

/// Follows `source` as a [`WatchStream`] named `name` (the name errors carry; it must hold no
/// credential).
///
/// The stream keeps the provider contract:
/// - the first item is read at once; after it, one read after each [`Follow::changed`];
/// - a state equal to the last one yielded is dropped, unless an error came in between (then
///   it is yielded again, with the same revision: the source is back);
/// - an ordered revision never goes back: one not above the last yielded becomes the one after
///   it (a store restored from a backup goes on from where its readers were);
/// - an error equal to the one before it is not yielded again while the retries go on;
/// - after a transient error the helper waits as [`Follow::retry`] says and reads again;
/// - after a permanent error the stream ends.
///
/// ```
/// use hotconf_core::{Format, Result};
/// use hotconf_core::provider::{follow, Follow, Layer};
/// use futures_util::StreamExt;
///
/// struct Counter(u32);
///
/// #[async_trait::async_trait]
/// impl Follow for Counter {
///     async fn read(&mut self) -> Result<Layer> {
///         self.0 += 1;
///         Ok(Layer::document(Format::Json, format!("{{\"n\": {}}}", self.0 / 2)))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let mut stream = follow("counter:", Counter(0));
/// let first = stream.next().await.unwrap()?; // n = 0
/// let second = stream.next().await.unwrap()?; // n = 1: the read that gave n = 0 again was dropped
/// assert_ne!(first.content, second.content);
/// # Ok::<(), hotconf_core::Error>(()) }).unwrap();
/// ```
pub fn follow(name: impl Into<String>, source: impl Follow) -> WatchStream {
    let state = Following {
        source,
        name: name.into(),
        last: None,
        last_error: None,
        failures: 0,
        reached: None,
        wait: Wait::Nothing,
    };
    // Fused: a consumer may poll an ended stream again.
    Box::pin(
        futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            let item = state.next_item().await;
            let ended = matches!(&item, Err(error) if !error.is_transient());
            Some((item, (!ended).then_some(state)))
        })
        .fuse(),
    )
}

/// What to wait for before the next read.
enum Wait {
    /// Nothing: the first read.
    Nothing,
    /// A change in the source.
    Change,
    /// A delay after a failure.
    Delay(Duration),
}

struct Following<F> {
    source: F,
    name: String,
    /// The last state yielded (its content, revision and rollout membership).
    last: Option<(Content, Revision, Option<Membership>)>,
    /// The last error yielded, as printed, while no state came after it.
    last_error: Option<String>,
    /// Failed reads since the source last stayed reachable for [`STABLE`].
    failures: u32,
    /// When the source answered first after the last failure.
    reached: Option<tokio::time::Instant>,
    wait: Wait,
}

/// How long a source must stay reachable before its backoff starts again from the first delay.
/// A server in a crash loop that answers a moment after each start keeps its followers' delays
/// growing, instead of having the whole fleet retry it at full rate after every start.
const STABLE: Duration = Duration::from_secs(30);

impl<F: Follow> Following<F> {
    /// Reads until there is an item to yield.
    async fn next_item(&mut self) -> Result<Layer> {
        loop {
            match std::mem::replace(&mut self.wait, Wait::Change) {
                Wait::Nothing => {}
                Wait::Change => self.source.changed().await,
                Wait::Delay(delay) => tokio::time::sleep(delay).await,
            }
            match self.source.read().await {
                Ok(layer) => {
                    self.reached.get_or_insert_with(tokio::time::Instant::now);
                    if let Some(layer) = self.fresh(layer) {
                        return Ok(layer);
                    }
                }
                Err(error) => {
                    let error = error.or_source_name(&self.name);
                    if !error.is_transient() {
                        return Err(error);
                    }
                    if self.reached.take().is_some_and(|at| at.elapsed() >= STABLE) {
                        self.failures = 0;
                    }
                    self.wait = match self.source.retry(&error) {
                        Retry::After(backoff) => Wait::Delay(backoff.delay(self.failures)),
                        Retry::OnChange => Wait::Change,
                    };
                    self.failures = self.failures.saturating_add(1);
                    let printed = error.to_string();
                    if self.last_error.as_ref() != Some(&printed) {
                        self.last_error = Some(printed);
                        return Err(error);
                    }
                }
            }
        }
    }

    /// The layer to yield for a state read, if any: a new state, or the last one again after
    /// an error.
    fn fresh(&mut self, mut layer: Layer) -> Option<Layer> {
        let recovered = self.last_error.take().is_some();
        if let Some((content, revision, rollout)) = &self.last {
            if *content == layer.content && *rollout == layer.rollout {
                if !recovered {
                    return None;
                }
                layer.revision = revision.clone();
                return Some(layer);
            }
            if let (Revision::Ordered(last), Revision::Ordered(new)) = (revision, &layer.revision) {
                if new <= last {
                    layer.revision = Revision::Ordered(last.saturating_add(1));
                }
            }
        }
        self.last = Some((
            layer.content.clone(),
            layer.revision.clone(),
            layer.rollout.clone(),
        ));
        Some(layer)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::format::Format;

    /// A source that answers reads from a script and records what the helper asked of it.
    struct Scripted {
        reads: VecDeque<Result<Layer>>,
        calls: Arc<Mutex<Vec<&'static str>>>,
        retry: Retry,
        /// How long each `changed` takes (the source reachable and quiet meanwhile).
        quiet: Duration,
    }

    #[async_trait]
    impl Follow for Scripted {
        async fn read(&mut self) -> Result<Layer> {
            self.calls.lock().unwrap().push("read");
            match self.reads.pop_front() {
                Some(result) => result,
                None => std::future::pending().await,
            }
        }
        async fn changed(&mut self) {
            self.calls.lock().unwrap().push("changed");
            tokio::time::sleep(self.quiet).await;
        }
        fn retry(&self, _: &Error) -> Retry {
            self.retry
        }
    }

    fn doc(text: &str, revision: u64) -> Result<Layer> {
        Ok(Layer::new(
            Content::Document {
                format: Format::Json,
                bytes: text.as_bytes().into(),
            },
            Revision::Ordered(revision),
        ))
    }

    fn down(message: &str) -> Result<Layer> {
        Err(Error::new(ErrorKind::Unavailable, message))
    }

    fn script(
        reads: Vec<Result<Layer>>,
        retry: Retry,
    ) -> (WatchStream, Arc<Mutex<Vec<&'static str>>>) {
        script_quiet(reads, retry, Duration::ZERO)
    }

    fn script_quiet(
        reads: Vec<Result<Layer>>,
        retry: Retry,
        quiet: Duration,
    ) -> (WatchStream, Arc<Mutex<Vec<&'static str>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let source = Scripted {
            reads: reads.into(),
            calls: calls.clone(),
            retry,
            quiet,
        };
        (follow("test:source", source), calls)
    }

    /// The items the stream yields until it has none ready (the script ran out) or ends.
    async fn items(
        stream: &mut WatchStream,
    ) -> Vec<std::result::Result<(String, Revision), String>> {
        let mut out = Vec::new();
        while let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_secs(600), stream.next()).await
        {
            out.push(match item {
                Ok(layer) => match layer.content {
                    Content::Document { bytes, .. } => {
                        Ok((String::from_utf8_lossy(&bytes).into_owned(), layer.revision))
                    }
                    other => panic!("{other:?}"),
                },
                Err(error) => Err(format!(
                    "{}{}",
                    error,
                    if error.is_transient() { "" } else { " (end)" }
                )),
            });
        }
        out
    }

    fn ok(text: &str, revision: u64) -> std::result::Result<(String, Revision), String> {
        Ok((text.to_owned(), Revision::Ordered(revision)))
    }

    #[tokio::test(start_paused = true)]
    async fn repeats_are_dropped_and_the_first_read_is_at_once() {
        let (mut stream, calls) = script(
            vec![doc("a", 1), doc("a", 2), doc("b", 3), doc("b", 4)],
            Retry::OnChange,
        );
        assert_eq!(items(&mut stream).await, [ok("a", 1), ok("b", 3)]);
        let calls = calls.lock().unwrap();
        assert_eq!(
            calls[..3],
            ["read", "changed", "read"],
            "no wait before the first read"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_named_once_and_not_repeated_and_the_state_is_yielded_again_after_them() {
        let named = Err(Error::new(ErrorKind::Unavailable, "its own").with_source_name("other"));
        let (mut stream, _) = script(
            vec![
                doc("a", 5),
                down("refused"),
                down("refused"),
                down("timeout"),
                doc("a", 6),
                doc("a", 7),
                named,
            ],
            Retry::After(Backoff::TRANSPORT),
        );
        assert_eq!(
            items(&mut stream).await,
            [
                ok("a", 5),
                Err("unavailable error in test:source: refused".to_owned()),
                Err("unavailable error in test:source: timeout".to_owned()),
                ok("a", 5), // back, with the revision it had
                Err("unavailable error in other: its own".to_owned()),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_error_ends_the_stream() {
        let denied = Err(Error::new(ErrorKind::PermissionDenied, "denied"));
        let (mut stream, calls) = script(vec![doc("a", 1), denied, doc("b", 2)], Retry::OnChange);
        let got = items(&mut stream).await;
        assert_eq!(
            got,
            [
                ok("a", 1),
                Err("permission_denied error in test:source: denied (end)".to_owned())
            ]
        );
        assert!(stream.next().await.is_none(), "ended");
        assert_eq!(
            calls
                .lock()
                .unwrap()
                .iter()
                .filter(|c| **c == "read")
                .count(),
            2
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ordered_revisions_never_go_back() {
        let (mut stream, _) = script(
            vec![
                doc("a", 10),
                doc("b", 3),
                doc("c", 12),
                doc("d", u64::MAX),
                doc("e", 1),
            ],
            Retry::OnChange,
        );
        assert_eq!(
            items(&mut stream).await,
            [
                ok("a", 10),
                ok("b", 11),
                ok("c", 12),
                ok("d", u64::MAX),
                ok("e", u64::MAX)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_that_answers_a_moment_between_failures_keeps_its_backoff_growing() {
        // A server in a crash loop: each failure comes a moment after a successful read. The
        // delays go on growing (0–2 s, 2, 4, 8, 16 s ±50 %: at least 15 s) instead of starting
        // again from the first after each read (five first delays: at most 10 s).
        let mut reads = Vec::new();
        for _ in 0..5 {
            reads.extend([doc("a", 1), down("x")]);
        }
        reads.push(doc("b", 2));
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let (mut stream, _) = script(reads, Retry::After(backoff));
        let started = tokio::time::Instant::now();
        let got = items(&mut stream).await;
        assert_eq!(got.last(), Some(&ok("b", 2)));
        let waited = started.elapsed() - Duration::from_secs(600);
        assert!(
            waited >= Duration::from_secs(15) && waited < Duration::from_secs(50),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_reachable_for_a_while_starts_its_backoff_again_from_the_first_delay() {
        // Four failures grow the backoff (0–2 s, 2, 4, 8 s ±50 %); then the source answers and
        // stays quiet for 80 s (each `changed` takes 40 s); the next failure waits a first
        // delay again (0–2 s), not the fifth (16 s ±50 %: at least 8 s).
        let mut reads = vec![doc("a", 1)];
        reads.extend((0..4).map(|_| down("x")));
        reads.extend([doc("a", 1), doc("a", 1), down("y"), doc("b", 2)]);
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let (mut stream, _) = script_quiet(reads, Retry::After(backoff), Duration::from_secs(40));
        let mut failed_at = None;
        loop {
            match stream.next().await.expect("the script's items") {
                Err(error) if error.to_string().ends_with(": y") => {
                    failed_at = Some(tokio::time::Instant::now());
                }
                Ok(layer) if layer.revision == Revision::Ordered(2) => break,
                _ => {}
            }
        }
        let waited = failed_at
            .expect("the failure after the quiet time")
            .elapsed();
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_or_wait_for_a_change_as_the_source_says() {
        let (mut stream, calls) = script(
            vec![down("x"), down("x"), down("x"), doc("a", 1)],
            Retry::After(Backoff::TRANSPORT),
        );
        let started = tokio::time::Instant::now();
        assert_eq!(items(&mut stream).await.len(), 2);
        // Three delays (0–2 s, then 2 s and 4 s ±50 %) then the read that found nothing more
        // waits for ever (`items` gives up after 600 s of paused time).
        let waited = started.elapsed() - Duration::from_secs(600);
        assert!(
            waited >= Duration::from_secs(3) && waited <= Duration::from_secs(11),
            "{waited:?}"
        );
        assert!(
            !calls.lock().unwrap()[..4].contains(&"changed"),
            "{calls:?}"
        );

        let (mut stream, calls) = script(vec![down("x"), doc("a", 1)], Retry::OnChange);
        assert_eq!(items(&mut stream).await.len(), 2);
        assert_eq!(calls.lock().unwrap()[..3], ["read", "changed", "read"]);
    }
}
