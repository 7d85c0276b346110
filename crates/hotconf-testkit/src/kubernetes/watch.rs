//! Watch streams (backends.md §7.1–7.4): a chunked `application/json` body of
//! `{"type":…,"object":…}` documents, each newline-terminated; synthetic ADDED events first
//! for a watch from no resourceVersion (or "0"); only changes strictly after X for a watch
//! from X; an in-stream ERROR with a 410 `Status` and the end of the stream when X is older
//! than the history; a clean end at `timeoutSeconds`; BOOKMARKs when asked for.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use super::state::{Change, EventType, State};
use super::status::Status;
use super::{Resource, Shared};

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// No resourceVersion, `""` or `"0"`: synthetic ADDED for every match, then from now.
    Now,
    /// Changes strictly after this resourceVersion.
    After(u64),
}

/// What a watch request asked for.
#[derive(Debug, Clone)]
pub(crate) struct WatchRequest {
    pub(crate) resource: Resource,
    /// `None`: every namespace.
    pub(crate) namespace: Option<String>,
    /// From `fieldSelector=metadata.name=NAME`.
    pub(crate) name: Option<String>,
    pub(crate) start: Start,
    pub(crate) bookmarks: bool,
    pub(crate) timeout: Duration,
}

/// Counts the stream as open while it lives.
struct OpenWatch(Arc<Shared>);

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0
            .count(|c| c.open_watches = c.open_watches.saturating_sub(1));
    }
}

struct Cursor {
    shared: Arc<Shared>,
    request: WatchRequest,
    /// The resourceVersion the stream has caught up to.
    pos: u64,
    pending: VecDeque<Bytes>,
    /// The stream ends once `pending` is sent.
    done: bool,
    deadline: Instant,
    bookmark_every: Option<Duration>,
    last_bookmark: Instant,
    changes: watch::Receiver<u64>,
    bookmarks: watch::Receiver<u64>,
    cut: watch::Receiver<u64>,
    _open: OpenWatch,
}

/// The body of a watch answer, positioned now (so that a change made after the request was
/// counted is always in it).
pub(crate) fn stream(shared: Arc<Shared>, request: WatchRequest) -> BoxBody<Bytes, io::Error> {
    let bookmark_every = shared.modes().bookmark_every;
    let now = Instant::now();
    let mut cursor = Cursor {
        shared: shared.clone(),
        pos: 0,
        pending: VecDeque::new(),
        done: false,
        deadline: now + request.timeout,
        bookmark_every,
        last_bookmark: now,
        changes: shared.changes.subscribe(),
        bookmarks: shared.bookmarks.subscribe(),
        cut: shared.cut.subscribe(),
        _open: OpenWatch(shared.clone()),
        request,
    };
    cursor.begin();
    // Counted open only once subscribed and positioned: a test that waits for the count
    // then changes something, bookmarks or cuts can rely on this stream seeing it.
    shared.count(|c| c.open_watches += 1);
    let frames = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let frame = cursor.next().await?;
        Some((frame, cursor))
    });
    StreamBody::new(frames).boxed()
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

impl Cursor {
    fn matches(&self, change: &Change) -> bool {
        change.resource == self.request.resource
            && self
                .request
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == change.namespace)
            && self.request.name.as_ref().is_none_or(|n| *n == change.name)
    }

    fn begin(&mut self) {
        self.changes.borrow_and_update();
        let shared = self.shared.clone();
        let state = shared.state();
        match self.request.start {
            Start::Now => {
                let request = &self.request;
                for object in state.select(
                    request.resource,
                    request.namespace.as_deref(),
                    request.name.as_deref(),
                ) {
                    self.pending
                        .push_back(line(EventType::Added.as_str(), object));
                }
                self.pos = state.rv;
            }
            Start::After(rv) => {
                self.pos = rv;
                self.catch_up(&state);
            }
        }
    }

    /// Queues every matching change after `pos`, or the 410 when the history no longer
    /// reaches back to `pos`.
    fn catch_up(&mut self, state: &State) {
        if self.pos < state.floor {
            let status = Status::expired(self.pos, state.floor).to_json();
            self.pending.push_back(line("ERROR", &status));
            self.done = true;
            self.shared.count(|c| c.expired += 1);
            return;
        }
        let lines: Vec<Bytes> = state
            .history
            .iter()
            .filter(|c| c.rv > self.pos && self.matches(c))
            .map(|c| line(c.kind.as_str(), &c.object))
            .collect();
        self.pending.extend(lines);
        self.pos = self.pos.max(state.rv);
    }

    fn bookmark(&mut self) {
        self.last_bookmark = Instant::now();
        if !self.request.bookmarks {
            return;
        }
        let object = json!({
            "kind": self.request.resource.kind(),
            "apiVersion": "v1",
            "metadata": {"resourceVersion": self.pos.to_string()},
        });
        self.pending.push_back(line("BOOKMARK", &object));
        self.shared.count(|c| c.bookmarks += 1);
    }

    async fn next(&mut self) -> Option<Result<Frame<Bytes>, io::Error>> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some(Ok(Frame::data(line)));
            }
            if self.done {
                return None;
            }
            self.changes.borrow_and_update();
            {
                let shared = self.shared.clone();
                let state = shared.state();
                self.catch_up(&state);
            }
            if !self.pending.is_empty() {
                continue;
            }
            let next_bookmark = self.bookmark_every.map(|every| self.last_bookmark + every);
            tokio::select! {
                changed = self.changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                asked = self.bookmarks.changed() => {
                    if asked.is_err() {
                        return None;
                    }
                    self.bookmark();
                }
                _ = self.cut.changed() => {
                    return Some(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "watch cut")));
                }
                () = tokio::time::sleep_until(self.deadline) => return None,
                () = sleep_until(next_bookmark) => self.bookmark(),
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
