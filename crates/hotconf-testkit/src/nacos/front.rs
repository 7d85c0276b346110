//! A front for a Nacos server's HTTP API that can answer the long-poll listener at once, as a
//! proxy that does not hold requests would: `POST /nacos/v1/cs/configs/listener` gets `200`
//! with an empty body (Nacos's "nothing changed") right away, without reaching the server.
//! Every other request (reads, logins) is forwarded to the server, one upstream connection per
//! request (`Connection: close` both ways), and so is the listener while the switch is off. It
//! counts the listener requests, so tests can show that a client does not busy-loop.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::nacos::{ListenerFront, RNacos};
//! let nacos = RNacos::start();
//! let front = ListenerFront::start(&nacos.server()).await;
//! front.set_answer_at_once(true);
//! // … point a client at front.endpoint() and count front.long_polls() …
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The largest request or response head the front reads.
const MAX_HEAD: usize = 64 << 10;
/// The largest request body the front reads.
const MAX_BODY: usize = 1 << 20;
/// The listener's path.
const LISTENER: &str = "/v1/cs/configs/listener";

struct Shared {
    target: String,
    at_once: AtomicBool,
    polls: watch::Sender<u64>,
    /// Set when the front is dropped: open connections close.
    closed: watch::Sender<bool>,
}

/// A running front; dropping it stops it and closes its connections.
pub struct ListenerFront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ListenerFront {
    /// Serves a free loopback port in front of `target` (`host:port` of the HTTP API),
    /// forwarding everything until [`set_answer_at_once`](Self::set_answer_at_once). Call
    /// inside a tokio runtime.
    pub async fn start(target: &str) -> ListenerFront {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            target: target.to_owned(),
            at_once: AtomicBool::new(false),
            polls: watch::Sender::new(0),
            closed: watch::Sender::new(false),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accepting.clone();
                let mut closed = shared.closed.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        () = serve(client, &shared) => {}
                        _ = closed.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        ListenerFront { addr, shared, task }
    }

    /// The front's `host:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Answers the listener at once with "nothing changed" (`true`), or forwards it to the
    /// server again (`false`).
    pub fn set_answer_at_once(&self, on: bool) {
        self.shared.at_once.store(on, Ordering::SeqCst);
    }

    /// The number of listener requests received so far (answered or forwarded), as a channel
    /// that follows it.
    pub fn long_polls(&self) -> watch::Receiver<u64> {
        self.shared.polls.subscribe()
    }
}

impl Drop for ListenerFront {
    fn drop(&mut self) {
        self.shared.closed.send_replace(true);
        self.task.abort();
    }
}

/// One client connection: its requests in turn, until it closes or a request is forwarded
/// (the connection then closes after the server's answer).
async fn serve(mut client: TcpStream, shared: &Shared) {
    let mut buffer = Vec::new();
    while let Some((head, body)) = read_request(&mut client, &mut buffer).await {
        let request_line = head.lines().next().unwrap_or_default();
        let listener = request_line.split(' ').nth(1).is_some_and(|target| {
            target
                .split('?')
                .next()
                .unwrap_or_default()
                .ends_with(LISTENER)
        });
        if listener {
            shared.polls.send_modify(|n| *n += 1);
            if shared.at_once.load(Ordering::SeqCst) {
                let answer =
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 0\r\n\r\n";
                if client.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
        }
        forward(&mut client, &shared.target, &head, &body).await;
        return;
    }
}

/// Sends one request to `target` on a connection of its own and copies the answer back, its
/// head marked `Connection: close`.
async fn forward(client: &mut TcpStream, target: &str, head: &str, body: &[u8]) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let request = closing(head);
    if upstream.write_all(request.as_bytes()).await.is_err()
        || upstream.write_all(body).await.is_err()
    {
        return;
    }
    let mut buffer = Vec::new();
    let Some(answer_head) = read_head(&mut upstream, &mut buffer).await else {
        return;
    };
    if client
        .write_all(closing(&answer_head).as_bytes())
        .await
        .is_err()
        || client.write_all(&buffer).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy(&mut upstream, client).await;
    let _ = client.shutdown().await;
}

/// `head` (a request or status line and headers, without the blank line) with its
/// `Connection` header replaced by `Connection: close`, and the blank line.
fn closing(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 24);
    for line in head.lines() {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// Reads a head (up to the blank line) from `stream`, with what was buffered before; leaves
/// the bytes after it in `buffer`.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            return Some(head);
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads one request: its head and its body (by `Content-Length`; none without one).
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let head = read_head(stream, buffer).await?;
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    while buffer.len() < length {
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buffer.drain(..length).collect();
    Some((head, body))
}
