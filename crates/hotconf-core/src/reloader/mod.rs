//! `Reloader`: follows every layer's provider and keeps a [`Store`](crate::Store) up to date.
//!
//! Its rooms: `builder` (what the user configures, and the start), `startup` (the startup
//! policy), `sources` (the providers' streams, polled by the reload task) and `task` (the
//! reload task that owns the engine and the sources). This file holds the handle the user
//! keeps.

mod builder;
mod handle;
mod sources;
mod startup;
mod task;

use std::fmt;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

pub use self::builder::ReloaderBuilder;
pub use self::handle::ReloaderHandle;
pub use self::startup::Startup;

/// Aborts its tasks when dropped, so that the tasks of a reloader (the reload task, which
/// owns the followed sources, and the last-good file's writer) stop with it.
struct AbortOnDrop(Vec<JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Keeps a [`Store`](crate::Store) following its layers. Dropping it stops following (the store keeps its
/// last config).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> hotconf_core::Result<()> {
/// use hotconf_core::{Format, MemoryProvider, Reloader};
///
/// #[derive(serde::Deserialize)]
/// struct App { port: u16 }
///
/// let (source, handle) = MemoryProvider::new("memory:app");
/// handle.set_document(Format::Toml, "port = 8080");
/// let reloader = Reloader::<App>::builder()
///     .layer(source)
///     .validate(|app| if app.port == 0 { Err(hotconf_core::Error::validation("must not be 0").with_key("port")) } else { Ok(()) })
///     .start()
///     .await?;
/// let store = reloader.store();
/// assert_eq!(store.load().port, 8080);
///
/// let mut changes = store.subscribe();
/// handle.set_document(Format::Toml, "port = 9090");
/// changes.changed().await.unwrap();
/// assert_eq!(store.load().port, 9090);
/// # Ok(()) }
/// ```
pub struct Reloader<T> {
    handle: ReloaderHandle<T>,
    _tasks: AbortOnDrop,
}

impl<T: fmt::Debug + Send + Sync + 'static> fmt::Debug for Reloader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloader")
            .field("store", &self.handle.store)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Reloader<T> {
    /// A builder with no layers, fail-fast startup, a history of 10 and no debounce.
    pub fn builder() -> ReloaderBuilder<T> {
        ReloaderBuilder::default()
    }
}

impl<T> Reloader<T> {
    /// A cloneable handle to see and operate this reloader from elsewhere (an admin router):
    /// it does not keep the reloader running.
    pub fn handle(&self) -> ReloaderHandle<T> {
        self.handle.clone()
    }
}

/// The reloader's methods are its handle's: [`store`](ReloaderHandle::store),
/// [`status`](ReloaderHandle::status), [`rollback`](ReloaderHandle::rollback), …
impl<T> Deref for Reloader<T> {
    type Target = ReloaderHandle<T>;

    fn deref(&self) -> &ReloaderHandle<T> {
        &self.handle
    }
}
