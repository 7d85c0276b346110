//! `Fixture`: a source under test, changed the way an operator would change it.

use async_trait::async_trait;
use hotconf_core::{Format, MemoryHandle, MemoryProvider, Provider};
use serde_json::Value;
use tokio::sync::watch;

/// A source under test. Providers are read-only, so the fixture is how the suite changes the
/// source: it renders the suite's documents in the source's native form (a file, a key, a
/// prefix of keys) and writes them with the backend's own tools.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// A new provider following this source.
    async fn provider(&self) -> Box<dyn Provider>;

    /// Replaces the source's content with `config`, a map of maps of strings.
    async fn write(&self, config: &Value);

    /// Writes content the reloader must reject (unparsable, or missing `app.name`).
    async fn write_invalid(&self);

    /// Deletes the source's content (the key, prefix or file).
    async fn delete(&self);

    /// Cuts providers off from the source (a disconnect, a stopped server) while writes still
    /// succeed somehow. Returns false when the fixture cannot do this.
    async fn interrupt(&self) -> bool {
        false
    }

    /// Ends an [`interrupt`](Self::interrupt).
    async fn restore(&self) {}

    /// A provider of this backend that fails for good (wrong credentials, a TLS file that does
    /// not exist, a path that is not a regular file), or `None` when the backend has no such
    /// failure (every error of the source heals by itself).
    async fn refused(&self) -> Option<Box<dyn Provider>> {
        None
    }

    /// Makes the source's server answer every long poll at once with "nothing changed" (`on`:
    /// a 304 right away, a blocking query that returns the same index, an empty listener
    /// answer), as a proxy that does not hold requests would, or hold them again (`!on`).
    /// Providers made after the call talk to that server. Returns the number of long polls the
    /// server received so far, as a channel that follows it; `None` when the fixture cannot
    /// (a source without a long poll, a real server nothing can stand in front of).
    async fn answer_at_once(&self, on: bool) -> Option<watch::Receiver<u64>> {
        let _ = on;
        None
    }
}

/// The fixture of [`MemoryProvider`]: the suite's proof that it is sound.
pub struct MemoryFixture {
    provider: MemoryProvider,
    handle: MemoryHandle,
}

impl MemoryFixture {
    /// A fresh in-memory source.
    pub fn new() -> Self {
        let (provider, handle) = MemoryProvider::new("memory:under-test");
        MemoryFixture { provider, handle }
    }
}

impl Default for MemoryFixture {
    fn default() -> Self {
        MemoryFixture::new()
    }
}

#[async_trait]
impl Fixture for MemoryFixture {
    async fn provider(&self) -> Box<dyn Provider> {
        Box::new(self.provider.clone())
    }

    async fn write(&self, config: &Value) {
        self.handle.set_document(Format::Json, config.to_string());
    }

    async fn write_invalid(&self) {
        self.handle
            .set_document(Format::Json, "{\"app\": {\"name\": ");
    }

    async fn delete(&self) {
        self.handle.delete();
    }

    async fn interrupt(&self) -> bool {
        self.handle.disconnect();
        true
    }

    async fn restore(&self) {
        self.handle.reconnect();
    }
}
