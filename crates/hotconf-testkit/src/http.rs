//! A static config server for the `http(s)://` source: one document per path, served with an
//! `ETag` and a `Content-Type`, `304` for an `If-None-Match` that still matches, `404` once a
//! document is deleted, over plain HTTP or TLS; it counts the requests and remembers the last
//! `Authorization` header it was sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One document: its body, its `Content-Type` (none: the path's extension tells) and its tag.
#[derive(Clone)]
struct Document {
    body: Bytes,
    content_type: Option<String>,
    etag: u64,
}

#[derive(Default)]
struct State {
    documents: BTreeMap<String, Document>,
    next_tag: u64,
    authorization: Option<String>,
    not_modified: u64,
    echo_errors: bool,
}

/// A running server; dropping it stops it.
pub struct ConfigServer {
    addr: std::net::SocketAddr,
    tls: bool,
    state: Arc<Mutex<State>>,
    requests: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl ConfigServer {
    /// Serves plain HTTP on a free loopback port. Call inside a tokio runtime.
    pub async fn start() -> ConfigServer {
        ConfigServer::serve(None).await
    }

    /// Serves HTTPS with `config` (see [`crate::pki::TestPki::server_config`]).
    #[cfg(feature = "pki")]
    pub async fn start_tls(config: Arc<tokio_rustls::rustls::ServerConfig>) -> ConfigServer {
        ConfigServer::serve(Some(tokio_rustls::TlsAcceptor::from(config))).await
    }

    #[cfg(feature = "pki")]
    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> ConfigServer {
        ConfigServer::serve_with(tls.is_some(), move |stream| {
            let tls = tls.clone();
            async move {
                match tls {
                    Some(tls) => tls.accept(stream).await.ok().map(|s| Box::new(s) as Io),
                    None => Some(Box::new(stream) as Io),
                }
            }
        })
        .await
    }

    #[cfg(not(feature = "pki"))]
    async fn serve(_tls: Option<()>) -> ConfigServer {
        ConfigServer::serve_with(false, |stream| async move { Some(Box::new(stream) as Io) }).await
    }

    async fn serve_with<F, Fut>(tls: bool, accept: F) -> ConfigServer
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Option<Io>> + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let state = Arc::new(Mutex::new(State::default()));
        let (requests, _) = watch::channel(0u64);
        let (shared, counter) = (state.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (shared, counter) = (shared.clone(), counter.clone());
                let io = accept(stream);
                tokio::spawn(async move {
                    let Some(io) = io.await else { return };
                    let service = hyper::service::service_fn(move |request| {
                        // Counted once answered: a waiter on the count sees the answer's
                        // effects (`not_modified`) too.
                        let answer = answer(&shared, &request);
                        counter.send_modify(|n| *n += 1);
                        async move { Ok::<_, std::convert::Infallible>(answer) }
                    });
                    let io = hyper_util::rt::TokioIo::new(io);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        ConfigServer {
            addr,
            tls,
            state,
            requests,
            task,
        }
    }

    /// `host:port`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// The URL of `path` (`/app.json`), `http://` or `https://`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Serves `body` at `path` with a new `ETag`, and `content_type` if given.
    pub fn put(&self, path: &str, body: &str, content_type: Option<&str>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.next_tag += 1;
        let document = Document {
            body: Bytes::from(body.to_owned()),
            content_type: content_type.map(str::to_owned),
            etag: state.next_tag,
        };
        state.documents.insert(path.to_owned(), document);
    }

    /// Answers `404` for `path` from now on.
    pub fn delete(&self, path: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.documents.remove(path);
    }

    /// The requests served so far, as a channel that follows the count.
    pub fn requests(&self) -> watch::Receiver<u64> {
        self.requests.subscribe()
    }

    /// Answers every request with a `500` whose page echoes the request's URL and headers, as a
    /// careless proxy's error page does (`on`), or serves documents again (`!on`).
    pub fn echo_errors(&self, on: bool) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .echo_errors = on;
    }

    /// How many requests were answered `304 Not Modified`.
    pub fn not_modified(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .not_modified
    }

    /// The `Authorization` header of the last request that had one.
    pub fn last_authorization(&self) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.authorization.clone()
    }
}

impl Drop for ConfigServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(state: &Mutex<State>, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(value) = request.headers().get("authorization") {
        state.authorization = value.to_str().ok().map(str::to_owned);
    }
    if state.echo_errors {
        let mut page = format!("error for {}\n", request.uri());
        for (name, value) in request.headers() {
            page.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::new(Bytes::from(page)))
            .expect("a response");
    }
    let Some(document) = state.documents.get(request.uri().path()).cloned() else {
        return status(StatusCode::NOT_FOUND, "no such document");
    };
    let etag = format!("\"{}\"", document.etag);
    let matches = request
        .headers()
        .get("if-none-match")
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut response = Response::builder().header("etag", &etag);
    if let Some(content_type) = &document.content_type {
        response = response.header("content-type", content_type);
    }
    if matches {
        state.not_modified += 1;
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Full::new(Bytes::new()))
            .expect("a response");
    }
    response.body(Full::new(document.body)).expect("a response")
}

fn status(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("a response")
}

/// A connection, plain or TLS.
type Io = Box<dyn Stream>;

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}
