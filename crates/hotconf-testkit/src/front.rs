//! A front for a config server's HTTP API that can answer its long polls at once, as a proxy
//! that does not hold requests would: [`LongPollFront::nacos_listener`] answers Nacos's
//! listener (`POST …/v1/cs/configs/listener`) with `200` and an empty body ("nothing changed")
//! without reaching the server; [`LongPollFront::consul_blocking`] forwards a Consul blocking
//! query (`GET /v1/kv/…?index=…`) without its `index` and `wait`, so the agent answers at once
//! with its current state (a real agent included). Every other request, and the long polls
//! while the switch is off, are forwarded as they are, one upstream connection per request
//! (`Connection: close` both ways). It counts the long polls, so tests can show that a client
//! does not busy-loop.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use hotconf_testkit::front::LongPollFront;
//! let front = LongPollFront::consul_blocking("127.0.0.1:8500").await;
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
/// Which requests are long polls, and how one is answered at once.
#[derive(Clone, Copy)]
enum Rule {
    /// Nacos's listener, answered by the front itself.
    NacosListener,
    /// Consul's blocking queries, forwarded as plain reads.
    ConsulBlocking,
}

impl Rule {
    /// Whether the request to `target` (a request line's path and query) is a long poll.
    fn is_long_poll(self, target: &str) -> bool {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match self {
            Rule::NacosListener => path.ends_with("/v1/cs/configs/listener"),
            Rule::ConsulBlocking => {
                path.starts_with("/v1/kv/") && query.split('&').any(|p| p.starts_with("index="))
            }
        }
    }
}

struct Shared {
    target: String,
    rule: Rule,
    at_once: AtomicBool,
    polls: watch::Sender<u64>,
    /// Set when the front is dropped: open connections close.
    closed: watch::Sender<bool>,
}

/// A running front; dropping it stops it and closes its connections.
pub struct LongPollFront {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl LongPollFront {
    /// A front for Nacos's HTTP API at `target` (`host:port`), forwarding everything until
    /// [`set_answer_at_once`](Self::set_answer_at_once). Call inside a tokio runtime.
    pub async fn nacos_listener(target: &str) -> LongPollFront {
        LongPollFront::start(target, Rule::NacosListener).await
    }

    /// A front for a Consul agent's HTTP API at `target` (`host:port`), forwarding everything
    /// until [`set_answer_at_once`](Self::set_answer_at_once). Call inside a tokio runtime.
    pub async fn consul_blocking(target: &str) -> LongPollFront {
        LongPollFront::start(target, Rule::ConsulBlocking).await
    }

    async fn start(target: &str, rule: Rule) -> LongPollFront {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            target: target.to_owned(),
            rule,
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
        LongPollFront { addr, shared, task }
    }

    /// The front's `host:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Answers long polls at once (`true`), or forwards them to the server as they are again
    /// (`false`).
    pub fn set_answer_at_once(&self, on: bool) {
        self.shared.at_once.store(on, Ordering::SeqCst);
    }

    /// The number of long polls received so far (answered or forwarded), as a channel that
    /// follows it.
    pub fn long_polls(&self) -> watch::Receiver<u64> {
        self.shared.polls.subscribe()
    }
}

impl Drop for LongPollFront {
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
        let long_poll =
            (request_line.split(' ').nth(1)).is_some_and(|target| shared.rule.is_long_poll(target));
        let mut head = head;
        if long_poll {
            shared.polls.send_modify(|n| *n += 1);
            if shared.at_once.load(Ordering::SeqCst) {
                match shared.rule {
                    Rule::NacosListener => {
                        let answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 0\r\n\r\n";
                        if client.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Rule::ConsulBlocking => head = unblocked(&head),
                }
            }
        }
        forward(&mut client, &shared.target, &head, &body).await;
        return;
    }
}

/// `head` with its request line's `index` and `wait` parameters removed: a blocking query made
/// a plain read.
fn unblocked(head: &str) -> String {
    let (line, rest) = head.split_once("\r\n").unwrap_or((head, ""));
    let mut parts = line.splitn(3, ' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("index=") && !p.starts_with("wait="))
        .collect();
    let target = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    format!("{method} {target} {version}\r\n{rest}")
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
