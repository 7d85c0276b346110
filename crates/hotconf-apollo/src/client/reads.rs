//! Reads in flight, shared: the followers of one namespace in a process are woken by the same
//! notification in the same instant, and each would send the same `/configs` request. The
//! first sends it; the others that ask for the same path while it is in flight take its
//! answer. A process with 250 followers of a namespace then reads it once per release, as
//! Apollo's own client does, instead of opening 250 connections at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use hotconf_core::{Error, ErrorKind, Result};
use reqwest::StatusCode;
use tokio::sync::OnceCell;

/// An answer shared by the reads that asked for it.
type Answer = std::result::Result<(StatusCode, Arc<[u8]>), Failure>;

/// A failed shared request, as the reads that joined it report it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    kind: ErrorKind,
    transient: bool,
    printed: String,
}

impl Failure {
    fn error(&self) -> Error {
        Error::new(
            self.kind,
            format!(
                "a read shared with other followers failed: {}",
                self.printed
            ),
        )
        .with_transient(self.transient)
    }
}

/// The reads in flight, by path and query.
#[derive(Debug, Default)]
pub(super) struct Reads {
    in_flight: Mutex<HashMap<String, Arc<OnceCell<Answer>>>>,
}

impl Reads {
    /// The answer to `path` (its query included): of the read in flight for it, else of
    /// `send`, which is then in flight until it answers. The read that sent a request that
    /// failed gets its error; the reads that joined it get one that says so (none sends the
    /// request again at once: they all failed in the same instant).
    pub(super) async fn share<F>(&self, path: &str, send: F) -> Result<(StatusCode, Arc<[u8]>)>
    where
        F: Future<Output = Result<(StatusCode, Vec<u8>)>>,
    {
        let cell = self.lock().entry(path.to_owned()).or_default().clone();
        let mut own = None;
        let answer = cell
            .get_or_init(|| async {
                match send.await {
                    Ok((status, body)) => Ok((status, Arc::from(body))),
                    Err(error) => {
                        let failure = Failure {
                            kind: error.kind(),
                            transient: error.is_transient(),
                            printed: error.to_string(),
                        };
                        own = Some(error);
                        Err(failure)
                    }
                }
            })
            .await
            .clone();
        let mut in_flight = self.lock();
        if in_flight.get(path).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            // Answered: a later read sends a request of its own.
            in_flight.remove(path);
        }
        drop(in_flight);
        match (answer, own) {
            (Ok(answer), _) => Ok(answer),
            (Err(_), Some(error)) => Err(error),
            (Err(failure), None) => Err(failure.error()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OnceCell<Answer>>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_of_one_path_in_flight_share_one_request_and_later_ones_send_their_own() {
        let reads = Reads::default();
        let sent = std::sync::atomic::AtomicUsize::new(0);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let send = || async {
            sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok((StatusCode::OK, b"{}".to_vec()))
        };
        let first = reads.share("/configs/a", async {
            let _ = released.await;
            send().await
        });
        let second = reads.share("/configs/a", send());
        let other = reads.share("/configs/b", send());
        let (first, second, other, ()) = tokio::join!(first, second, other, async {
            tokio::task::yield_now().await;
            let _ = release.send(());
        });
        assert_eq!(first.unwrap(), second.unwrap());
        assert!(other.is_ok());
        assert_eq!(
            sent.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "a and b once each"
        );
        assert!(reads.share("/configs/a", send()).await.is_ok());
        assert_eq!(
            sent.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "a again, answered"
        );
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_shared_request_is_the_sender_s_error_and_said_so_to_the_others() {
        let reads = Reads::default();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let failing = async {
            let _ = released.await;
            Err(Error::new(ErrorKind::Unavailable, "connection refused"))
        };
        let never = async { unreachable!("joined the read in flight") };
        let (first, second, ()) = tokio::join!(
            reads.share("/configs/a", failing),
            reads.share("/configs/a", never),
            async {
                tokio::task::yield_now().await;
                let _ = release.send(());
            }
        );
        let (first, second) = (first.unwrap_err(), second.unwrap_err());
        assert_eq!(first.to_string(), "unavailable error: connection refused");
        assert!(second
            .to_string()
            .contains("shared with other followers failed"));
        assert!(second.to_string().ends_with("connection refused"));
        assert!(second.is_transient() && second.kind() == ErrorKind::Unavailable);
    }
}
