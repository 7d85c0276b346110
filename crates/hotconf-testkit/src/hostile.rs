//! A hostile HTTP front for a backend: a loopback server that forwards to the real server (or
//! emulator) until switched to misbehave: answer every request with a redirect to another
//! origin, stream a body that never ends, or declare a huge `Content-Length`. It records the
//! requests it answers itself, so a second one can stand as the redirect's target and show what
//! a client would have leaked to it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::hostile::{HostileServer, Mode};
//! let target = HostileServer::start(None, Mode::answer("hello")).await;
//! let front = HostileServer::start(None, Mode::Redirect { status: 307, to: target.url() }).await;
//! assert!(front.requests().is_empty());
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{copy_bidirectional, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The query a redirect's `Location` carries, so tests can check errors do not repeat it.
pub const LOCATION_MARKER: &str = "location-secret=from-the-redirect";

/// The size of each chunk an endless body is written in.
const CHUNK: usize = 64 << 10;

/// How a [`HostileServer`] answers new connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Forwards the connection to the server given at start (a plain TCP proxy).
    Forward,
    /// Answers `status` with `Location: {to}{request target}&`[`LOCATION_MARKER`].
    Redirect {
        /// A 3xx status.
        status: u16,
        /// Scheme, host and port of the other origin, e.g. `http://127.0.0.1:4000`.
        to: String,
    },
    /// Answers 200 with a body of spaces that goes on until the client hangs up or `cap` bytes
    /// were written; `declared` is sent as the `Content-Length` (none: the body ends with the
    /// connection).
    Endless {
        /// The `Content-Length` to announce, if any.
        declared: Option<u64>,
        /// Bytes after which the server stops writing and closes.
        cap: u64,
    },
    /// Answers 200 with this body (and `X-Consul-Index: 1`).
    Answer(String),
    /// Accepts connections and never answers nor closes them (a hung server).
    Silent,
    /// Answers `status` with the request itself as the body, its body (a form) first and then
    /// its head, as a careless proxy's error page might: whatever credentials the request
    /// carried come back.
    Echo(u16),
}

impl Mode {
    /// [`Mode::Answer`] with `body`.
    pub fn answer(body: &str) -> Mode {
        Mode::Answer(body.to_owned())
    }
}

/// What an endless body came to: bytes written, and whether the client hung up before the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streamed {
    /// Body bytes written so far (over every connection).
    pub bytes: u64,
    /// Connections whose client hung up before the cap.
    pub hung_up: u64,
    /// Connections that reached the cap.
    pub capped: u64,
}

/// A running hostile server; dropping it stops it.
pub struct HostileServer {
    addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    requests: Arc<Mutex<Vec<String>>>,
    streamed: Arc<watch::Sender<Streamed>>,
    task: tokio::task::JoinHandle<()>,
}

impl HostileServer {
    /// Listens on a free loopback port; `target` (`host:port`) is where [`Mode::Forward`]
    /// forwards. Call inside a tokio runtime.
    pub async fn start(target: Option<&str>, mode: Mode) -> HostileServer {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let mode = Arc::new(watch::Sender::new(mode));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(watch::Sender::new(Streamed::default()));
        let target = target.map(str::to_owned);
        let (m, r, s) = (mode.clone(), requests.clone(), streamed.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let current = m.borrow().clone();
                let (changed, r, s, target) = (m.subscribe(), r.clone(), s.clone(), target.clone());
                tokio::spawn(serve(stream, current, changed, target, r, s));
            }
        });
        HostileServer {
            addr,
            mode,
            requests,
            streamed,
            task,
        }
    }

    /// `127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the mode; forwarded connections are cut, so that the next request meets it.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Every request this server answered itself (not the forwarded ones): head and body.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What the endless bodies came to so far.
    pub fn streamed(&self) -> Streamed {
        *self.streamed.borrow()
    }

    /// Waits until `predicate` holds for [`streamed`](Self::streamed), failing after
    /// [`crate::TIMEOUT`].
    pub async fn wait_streamed(&self, predicate: impl Fn(&Streamed) -> bool) -> Streamed {
        let mut rx = self.streamed.subscribe();
        let reached = tokio::time::timeout(crate::TIMEOUT, async {
            rx.wait_for(|s| predicate(s)).await.map(|s| *s)
        })
        .await;
        match reached {
            Ok(Ok(streamed)) => streamed,
            _ => panic!(
                "the endless body did not end as expected: {:?}",
                self.streamed()
            ),
        }
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    mode: Mode,
    mut changed: watch::Receiver<Mode>,
    target: Option<String>,
    requests: Arc<Mutex<Vec<String>>>,
    streamed: Arc<watch::Sender<Streamed>>,
) {
    if mode == Mode::Forward {
        let Some(target) = target else { return };
        let Ok(mut outbound) = TcpStream::connect(&target).await else {
            return;
        };
        tokio::select! {
            _ = copy_bidirectional(&mut stream, &mut outbound) => {}
            _ = changed.changed() => {}
        }
        return;
    }
    if mode == Mode::Silent {
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        return;
    }
    // One request per connection: every answer says `Connection: close`.
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let request_target = request.split(' ').nth(1).unwrap_or("/").to_owned();
    let echo = match request.split_once("\r\n\r\n") {
        Some((head, body)) => format!("{body}\n{head}"),
        None => request.clone(),
    };
    requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(request);
    match mode {
        Mode::Forward | Mode::Silent => {}
        Mode::Redirect { status, to } => {
            let sep = if request_target.contains('?') {
                '&'
            } else {
                '?'
            };
            let head = format!(
                "HTTP/1.1 {status} Redirect\r\nLocation: {to}{request_target}{sep}{LOCATION_MARKER}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
        }
        Mode::Echo(status) => {
            let head = format!(
                "HTTP/1.1 {status} Echo\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{echo}",
                echo.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
        }
        Mode::Answer(body) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Consul-Index: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
        }
        Mode::Endless { declared, cap } => {
            let length = declared.map_or(String::new(), |n| format!("Content-Length: {n}\r\n"));
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: 7\r\n{length}Connection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                streamed.send_modify(|s| s.hung_up += 1);
                return;
            }
            let chunk = vec![b' '; CHUNK];
            let mut written: u64 = 0;
            loop {
                if written >= cap {
                    streamed.send_modify(|s| s.capped += 1);
                    return;
                }
                if stream.write_all(&chunk).await.is_err() {
                    streamed.send_modify(|s| s.hung_up += 1);
                    return;
                }
                written += CHUNK as u64;
                streamed.send_modify(|s| s.bytes += CHUNK as u64);
            }
        }
    }
}

/// Reads a request's head and its `Content-Length` body (at most 1 MiB in all).
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                break;
            }
        }
        if buffer.len() > 1 << 20 {
            break;
        }
    }
    (!buffer.is_empty()).then(|| String::from_utf8_lossy(&buffer).into_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
