//! `ScriptedProvider`: a provider whose watch streams yield exactly what the test sends, and
//! which tells the test when each item has been taken by the reloader.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hotconf_core::provider::{Capabilities, Layer, Metadata, WatchStream};
use hotconf_core::{Error, ErrorKind, Provider, Result};
use tokio::sync::{mpsc, watch};

type Item = Option<Result<Layer>>;

/// A provider whose watch streams yield exactly what its [`Script`] sends: the engine's tests
/// drive a reloader item by item with it (an error, a stream that ends, a revision out of
/// order). `load` always fails: it only watches.
pub struct ScriptedProvider {
    name: String,
    streams: Mutex<mpsc::UnboundedReceiver<mpsc::UnboundedReceiver<Item>>>,
    requested: Arc<watch::Sender<usize>>,
}

/// Feeds a [`ScriptedProvider`]. Each `watch()` call takes the next stream opened here.
pub struct Script {
    streams: mpsc::UnboundedSender<mpsc::UnboundedReceiver<Item>>,
    current: Mutex<Option<mpsc::UnboundedSender<Item>>>,
    requested: watch::Receiver<usize>,
}

impl ScriptedProvider {
    /// A provider named `name`, and the script that feeds it (its first stream already open).
    pub fn new(name: &str) -> (ScriptedProvider, Script) {
        let (streams_tx, streams_rx) = mpsc::unbounded_channel();
        let (requested, requested_rx) = watch::channel(0);
        let provider = ScriptedProvider {
            name: name.into(),
            streams: Mutex::new(streams_rx),
            requested: Arc::new(requested),
        };
        let script = Script {
            streams: streams_tx,
            current: Mutex::new(None),
            requested: requested_rx,
        };
        script.open();
        (provider, script)
    }
}

impl Script {
    /// Opens the stream the next `watch()` call returns; later sends go to it.
    pub fn open(&self) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.streams.send(rx).unwrap();
        *self.current.lock().unwrap() = Some(tx);
    }

    /// Sends `item` on the current stream.
    pub fn send(&self, item: Result<Layer>) {
        self.current
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .send(Some(item))
            .unwrap();
    }

    /// Ends the current stream (a lost watch), then opens the next one.
    pub fn end_stream(&self) {
        self.current
            .lock()
            .unwrap()
            .take()
            .unwrap()
            .send(None)
            .unwrap();
        self.open();
    }

    /// Waits until the reloader has taken `n` items in all (and asked for one more).
    pub async fn wait_taken(&self, n: usize) {
        let mut requested = self.requested.clone();
        tokio::time::timeout(crate::TIMEOUT, requested.wait_for(|r| *r > n))
            .await
            .expect("the reloader did not take the items")
            .unwrap();
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn metadata(&self) -> Metadata {
        Metadata::new(self.name.clone(), Capabilities::WATCH_ORDERED)
    }

    async fn load(&self) -> Result<Layer> {
        Err(Error::new(
            ErrorKind::Other,
            "scripted providers only watch",
        ))
    }

    async fn watch(&self) -> Result<WatchStream> {
        let rx = self
            .streams
            .lock()
            .unwrap()
            .try_recv()
            .map_err(|_| Error::new(ErrorKind::Unavailable, "no scripted stream is open"))?;
        let requested = self.requested.clone();
        Ok(Box::pin(futures_util::stream::unfold(
            (rx, requested),
            |(mut rx, requested)| async move {
                requested.send_modify(|r| *r += 1);
                match rx.recv().await {
                    Some(Some(item)) => Some((item, (rx, requested))),
                    _ => None,
                }
            },
        )))
    }
}
