//! The signals the sidecar stops on or forwards, listened to from start to exit: a signal
//! between two waits is kept, not lost.

use std::io;

use nix::sys::signal::Signal as Sig;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGINT, SIGTERM and (for `exec`) SIGHUP, as they arrive.
#[derive(Debug)]
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Option<Signal>,
}

impl Signals {
    /// SIGINT and SIGTERM.
    pub(crate) fn stop() -> io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: None,
        })
    }

    /// SIGINT, SIGTERM and SIGHUP, all to be forwarded to a child.
    pub(crate) fn forwarded() -> io::Result<Signals> {
        let mut signals = Signals::stop()?;
        signals.hangup = Some(signal(SignalKind::hangup())?);
        Ok(signals)
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Sig {
        let Signals {
            interrupt,
            terminate,
            hangup,
        } = self;
        let hangup = async {
            match hangup {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupt.recv() => Sig::SIGINT,
            _ = terminate.recv() => Sig::SIGTERM,
            _ = hangup => Sig::SIGHUP,
        }
    }
}
