//! A loopback TCP proxy that can cut every connection and refuse new ones, then let them through
//! again: a network partition between a provider and its server, while the server stays up and
//! tests keep writing to it directly. It keeps the instant of every connection it accepted, so a
//! test can count what clients send while the server is out of their reach, and it can be
//! pointed at another address (a server restarted on a new port).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; dropping it stops it.
pub struct TcpProxy {
    addr: SocketAddr,
    open: Arc<watch::Sender<bool>>,
    target: Arc<Mutex<String>>,
    accepted: Arc<Mutex<Vec<Accepted>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A connection the proxy accepted: when, and whether it was let through (or refused while cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// When it was accepted.
    pub at: Instant,
    /// Whether it was let through to the target.
    pub through: bool,
}

impl TcpProxy {
    /// Proxies a free loopback port to `target` (`host:port`). Call inside a tokio runtime.
    pub async fn start(target: &str) -> TcpProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let open = Arc::new(watch::Sender::new(true));
        let target = Arc::new(Mutex::new(target.to_owned()));
        let upstream = target.clone();
        let gate = open.clone();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let log = accepted.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let through = *gate.borrow();
                log.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Accepted {
                        at: Instant::now(),
                        through,
                    });
                if !through {
                    drop(inbound); // refused while cut
                    continue;
                }
                let target = upstream
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let mut cut = gate.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|open| !open) => {}
                    }
                });
            }
        });
        TcpProxy {
            addr,
            open,
            target,
            accepted,
            task,
        }
    }

    /// Every connection accepted so far, in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The proxy's `host:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Cuts every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.send_replace(true);
    }

    /// Sends the connections accepted from now on to `target` (`host:port`); those open stay
    /// where they are.
    pub fn retarget(&self, target: &str) {
        *self
            .target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = target.to_owned();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}
