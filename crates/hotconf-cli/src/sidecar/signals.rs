//! The signals the sidecar stops on or forwards, listened to from start to exit: a signal
//! between two waits is kept, not lost.

use std::io;
use std::task::Poll;

use nix::sys::signal::Signal as Sig;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The signals `hotconf exec` passes on to its child and keeps running: SIGHUP, then those a
/// program commonly acts on (SIGUSR1, SIGUSR2: reopen logs, dump state; SIGWINCH: a terminal's
/// new size; SIGQUIT: a thread dump). Without a handler, each of them but SIGWINCH would end
/// hotconf and leave the child without its supervisor.
pub(crate) const PASSED_ON: [Sig; 5] = [
    Sig::SIGHUP,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
    Sig::SIGWINCH,
    Sig::SIGQUIT,
];

/// SIGINT, SIGTERM and (for `exec`) [`PASSED_ON`], as they arrive.
#[derive(Debug)]
pub(crate) struct Signals {
    /// Each signal listened to, the stop signals first: they win when several are pending.
    streams: Vec<(Sig, Signal)>,
}

impl Signals {
    /// SIGINT and SIGTERM.
    pub(crate) fn stop() -> io::Result<Signals> {
        Signals::listen(&[Sig::SIGINT, Sig::SIGTERM])
    }

    /// SIGINT, SIGTERM and [`PASSED_ON`], all to be forwarded to a child.
    pub(crate) fn forwarded() -> io::Result<Signals> {
        let mut signals = Signals::stop()?;
        signals.streams.extend(Signals::listen(&PASSED_ON)?.streams);
        Ok(signals)
    }

    fn listen(which: &[Sig]) -> io::Result<Signals> {
        let streams = which
            .iter()
            .map(|&sig| Ok((sig, signal(SignalKind::from_raw(sig as i32))?)))
            .collect::<io::Result<_>>()?;
        Ok(Signals { streams })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Sig {
        std::future::poll_fn(|cx| {
            for (sig, stream) in &mut self.streams {
                if stream.poll_recv(cx).is_ready() {
                    return Poll::Ready(*sig);
                }
            }
            Poll::Pending
        })
        .await
    }
}
