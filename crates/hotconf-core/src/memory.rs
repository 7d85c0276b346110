//! `MemoryProvider`: an in-process source driven by a handle. The reference provider.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::layer::{Content, Layer};
use crate::provider::{Capabilities, Metadata, Provider, WatchStream};
use crate::revision::Revision;

/// What the source looks like right now.
#[derive(Clone)]
struct State {
    /// Bumped by every change, so that watchers wake up even for an equal state.
    seq: u64,
    /// The current state, or the error every reader gets.
    current: std::result::Result<Layer, (ErrorKind, String, bool)>,
    /// False while the handle simulates a lost connection.
    connected: bool,
}

/// An in-memory source. Its [`MemoryHandle`] sets states, injects errors and simulates
/// disconnects, so reload logic can be tested deterministically with no server.
///
/// Revisions are ordered: each change gets the next sequence number unless
/// [`MemoryHandle::set_layer`] gives one explicitly.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use hotconf_core::{Format, MemoryProvider, Provider};
/// let (provider, handle) = MemoryProvider::new("memory:app");
/// handle.set_document(Format::Toml, "port = 8080");
/// let layer = provider.load().await.unwrap();
/// assert_eq!(layer.revision, hotconf_core::Revision::Ordered(1));
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryProvider {
    name: String,
    state: Arc<watch::Sender<State>>,
}

/// Drives a [`MemoryProvider`]: every clone drives the same source.
#[derive(Clone)]
pub struct MemoryHandle {
    state: Arc<watch::Sender<State>>,
}

impl MemoryProvider {
    /// A provider named `name` that starts holding an empty layer at revision 0.
    pub fn new(name: impl Into<String>) -> (MemoryProvider, MemoryHandle) {
        let initial = State {
            seq: 0,
            current: Ok(Layer::empty(Revision::Ordered(0))),
            connected: true,
        };
        let state = Arc::new(watch::Sender::new(initial));
        (
            MemoryProvider {
                name: name.into(),
                state: state.clone(),
            },
            MemoryHandle { state },
        )
    }
}

impl std::fmt::Debug for MemoryProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryProvider")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MemoryHandle {
    /// Sets the content; the revision is the next sequence number. Returns that number.
    pub fn set(&self, content: Content) -> u64 {
        let mut seq = 0;
        self.state.send_modify(|s| {
            s.seq += 1;
            seq = s.seq;
            s.current = Ok(Layer::new(content, Revision::Ordered(seq)));
        });
        seq
    }

    /// Sets a document in `format`. Returns its revision number.
    pub fn set_document(&self, format: Format, text: impl Into<Vec<u8>>) -> u64 {
        let bytes: Vec<u8> = text.into();
        self.set(Content::Document {
            format,
            bytes: bytes.into(),
        })
    }

    /// Sets an already structured tree. Returns its revision number.
    pub fn set_tree(&self, tree: Value) -> u64 {
        self.set(Content::Tree(tree))
    }

    /// Deletes the source's content: the layer becomes empty. Returns its revision number.
    pub fn delete(&self) -> u64 {
        self.set(Content::Empty)
    }

    /// Sets a layer with an explicit revision (to test that stale revisions are ignored).
    pub fn set_layer(&self, layer: Layer) {
        self.state.send_modify(|s| {
            s.seq += 1;
            s.current = Ok(layer);
        });
    }

    /// Makes the source fail: watchers get this error as an item and `load` returns it, until
    /// the next `set`.
    pub fn fail(&self, kind: ErrorKind, message: impl Into<String>, transient: bool) {
        let message = message.into();
        self.state.send_modify(|s| {
            s.seq += 1;
            s.current = Err((kind, message, transient));
        });
    }

    /// Simulates a lost connection: watchers get one transient `Unavailable` error, then see
    /// nothing (changes made meanwhile are kept) until [`reconnect`](Self::reconnect).
    pub fn disconnect(&self) {
        self.state.send_modify(|s| {
            s.seq += 1;
            s.connected = false;
        });
    }

    /// Ends a simulated disconnect: watchers resume from the current state.
    pub fn reconnect(&self) {
        self.state.send_modify(|s| {
            s.seq += 1;
            s.connected = true;
        });
    }

    /// How many watch streams are open.
    pub fn watchers(&self) -> usize {
        self.state.receiver_count()
    }
}

fn to_error(name: &str, (kind, message, transient): &(ErrorKind, String, bool)) -> Error {
    Error::new(*kind, message.clone())
        .with_transient(*transient)
        .with_source_name(name)
}

fn disconnected(name: &str) -> Error {
    Error::new(ErrorKind::Unavailable, "connection lost (simulated)").with_source_name(name)
}

#[async_trait]
impl Provider for MemoryProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(
            self.name.clone(),
            Capabilities::WATCH_ORDERED.interruptible(),
        )
    }

    async fn load(&self) -> Result<Layer> {
        let state = self.state.borrow().clone();
        if !state.connected {
            return Err(disconnected(&self.name));
        }
        state.current.map_err(|e| to_error(&self.name, &e))
    }

    async fn watch(&self) -> Result<WatchStream> {
        struct Watch {
            name: String,
            rx: watch::Receiver<State>,
            ended: bool,
            last: Option<Layer>,
            reported_disconnect: bool,
        }
        let mut rx = self.state.subscribe();
        rx.mark_changed();
        let init = Watch {
            name: self.name.clone(),
            rx,
            ended: false,
            last: None,
            reported_disconnect: false,
        };
        let stream = futures_util::stream::unfold(init, |mut w| async move {
            loop {
                if w.ended || w.rx.changed().await.is_err() {
                    return None;
                }
                let state = w.rx.borrow_and_update().clone();
                if !state.connected {
                    if !w.reported_disconnect {
                        w.reported_disconnect = true;
                        let err = disconnected(&w.name);
                        return Some((Err(err), w));
                    }
                    continue;
                }
                w.reported_disconnect = false;
                match state.current {
                    Ok(layer) if w.last.as_ref() == Some(&layer) => continue,
                    Ok(layer) => {
                        w.last = Some(layer.clone());
                        return Some((Ok(layer), w));
                    }
                    Err(e) => {
                        let err = to_error(&w.name, &e);
                        w.ended = !err.is_transient();
                        return Some((Err(err), w));
                    }
                }
            }
        });
        Ok(Box::pin(stream))
    }
}
