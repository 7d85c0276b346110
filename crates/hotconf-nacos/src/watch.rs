//! The watch of a Nacos config: between reads, wait on the listener (the HTTP long poll, or
//! nacos-sdk's push used only as a hint) and on the periodic check; the core follow helper
//! yields only changes (by content: the md5 the console shows is the revision). Long polls are
//! paced ([`Pacer`], the source's `poll_pace`): a server that answers the listener at once with
//! nothing new gets about one poll a second, never a busy loop; a poll the server held is never
//! delayed, and one whose change a read confirms (a new md5) gives its turn back.

use std::sync::Arc;

use async_trait::async_trait;
use hotconf_core::provider::{Backoff, Follow, Layer};
use hotconf_core::{Error, ErrorKind, Pacer, Result};
use tokio::sync::Notify;

use crate::config::Listener;
use crate::listener::keep_listening;
use crate::provider::Target;

/// The follow loop of one Nacos config; with `watching`, it waits on the source's listener
/// between reads (a single load reads once and starts no listener).
pub(crate) fn watch(target: Target, watching: bool) -> Watch {
    let sdk = match target.source.listener {
        Listener::Sdk if watching => Some(SdkHint::default()),
        _ => None,
    };
    let pacer = Pacer::new(target.source.poll_pace);
    Watch {
        target,
        sdk,
        md5: None,
        misfires: 0,
        pacer,
        unreachable: None,
    }
}

/// The nacos-sdk listener of [`Listener::Sdk`] and the hint it pokes.
#[derive(Default)]
struct SdkHint {
    hint: Arc<Notify>,
    /// The task that connects nacos-sdk and keeps it listening; aborted when dropped.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for SdkHint {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

pub(crate) struct Watch {
    target: Target,
    sdk: Option<SdkHint>,
    /// The md5 of the state last read (empty: the config does not exist).
    md5: Option<String>,
    /// Wake-ups in a row that brought no change (failed polls, hints a read found nothing
    /// behind).
    misfires: u32,
    /// Paces the long polls.
    pacer: Pacer,
    /// The failure of the last long poll, when the server was out of reach: the next read's.
    unreachable: Option<Error>,
}

#[async_trait]
impl Follow for Watch {
    /// Reads the config from the server (starting nacos-sdk's listener on the first read).
    async fn read(&mut self) -> Result<Layer> {
        if let Some(error) = self.unreachable.take() {
            return Err(error);
        }
        if let Some(sdk) = self.sdk.as_mut().filter(|s| s.task.is_none()) {
            // Connecting runs apart (a gRPC port that never answers must not hold the reads
            // up); once listening it pokes the hint, and that read catches anything missed.
            let task = keep_listening(self.target.clone(), sdk.hint.clone());
            sdk.task = Some(tokio::spawn(task));
        }
        let (layer, md5) = self.target.read().await?;
        if self.md5.as_ref() == Some(&md5) {
            // Woken for nothing: the next poll waits a little (see `changed`).
            self.misfires = self.misfires.saturating_add(1);
        } else {
            self.misfires = 0;
            self.md5 = Some(md5);
            // A genuine change: the poll that announced it gives its turn back (changes are
            // never paced; only polls that bring nothing are).
            self.pacer.refund();
        }
        Ok(layer)
    }

    /// Returns when the listener reports a change (a long poll also ends with one that
    /// failed), or after the check interval with nacos-sdk's push.
    async fn changed(&mut self) {
        let config = &self.target.source;
        if let Some(sdk) = &self.sdk {
            tokio::select! {
                () = sdk.hint.notified() => {}
                () = tokio::time::sleep(config.check_interval) => {}
            }
            return;
        }
        // Each poll compares the server's md5 with ours for up to its hold time: a poll that
        // ends without a change is itself a check, so there is no timer to race it.
        let md5 = self.md5.clone().unwrap_or_default();
        loop {
            if self.misfires > 0 {
                // Polls that fail, or report changes a read does not find: back off (up to the
                // check interval).
                let delay = Backoff::TRANSPORT
                    .delay(self.misfires - 1)
                    .min(config.check_interval);
                tokio::time::sleep(delay).await;
            }
            // Polls that come back at once without a change (a proxy that does not hold
            // them): paced, about one a second after a burst; a held poll never waits here.
            self.pacer.ready().await;
            match self.target.client.api.long_poll(config, &md5).await {
                Ok(true) => return,
                Ok(false) => self.misfires = 0,
                Err(error) => {
                    // A refused listener: read (which tells why). A server out of reach: that is
                    // the read's failure too, without sending it (every follower of a server
                    // that went away fails in the same instant: reading at once would bring
                    // them all back in the next one; the follow helper's jittered backoff
                    // spreads them).
                    tracing::debug!(source = %self.target.name, %error, "nacos long poll failed");
                    self.misfires = self.misfires.saturating_add(1);
                    if error.kind() == ErrorKind::Unavailable && !error.is_answer() {
                        self.unreachable = Some(error);
                    }
                    return;
                }
            }
        }
    }
}
