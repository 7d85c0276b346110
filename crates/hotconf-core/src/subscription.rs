//! `Subscription<U>`: a receiver of the latest value that can never stall its sender.
//!
//! A `tokio::sync::watch` receiver's `borrow()` holds a read lock that the sender must wait for,
//! so a subscriber that keeps a borrow (or is descheduled while holding it) would stall the
//! reload task (guarantee G7). Here the value sits in an `ArcSwap`: a subscriber's `borrow()` is
//! an `Arc` it can keep as long as it likes, and the sender never waits for anyone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::Notify;

use crate::error::{Error, ErrorKind, Result};

struct Cell<U> {
    value: ArcSwap<U>,
    version: AtomicU64,
    closed: AtomicBool,
    notify: Notify,
}

/// The sending side: replaces the value and wakes the subscribers, without ever waiting.
pub(crate) struct Publisher<U> {
    cell: Arc<Cell<U>>,
}

impl<U> Publisher<U> {
    pub(crate) fn new(value: U) -> Publisher<U> {
        Publisher::from_arc(Arc::new(value))
    }

    pub(crate) fn from_arc(value: Arc<U>) -> Publisher<U> {
        Publisher {
            cell: Arc::new(Cell {
                value: ArcSwap::new(value),
                version: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                notify: Notify::new(),
            }),
        }
    }

    /// A new subscriber; the current value counts as seen.
    pub(crate) fn subscribe(&self) -> Subscription<U> {
        Subscription {
            seen: self.cell.version.load(Ordering::Acquire),
            cell: self.cell.clone(),
        }
    }

    /// Replaces the value and wakes every subscriber.
    pub(crate) fn send_replace(&self, value: Arc<U>) {
        self.cell.value.store(value);
        self.cell.version.fetch_add(1, Ordering::AcqRel);
        self.cell.notify.notify_waiters();
    }

    /// The current value.
    pub(crate) fn borrow(&self) -> Arc<U> {
        self.cell.value.load_full()
    }

    /// Whether every subscriber is gone.
    pub(crate) fn is_closed(&self) -> bool {
        Arc::strong_count(&self.cell) == 1
    }
}

impl<U: Clone> Publisher<U> {
    /// Changes a copy of the value with `modify` and publishes it. Writers never lose each
    /// other's changes (`modify` may run again if another writer got in between).
    pub(crate) fn send_modify(&self, modify: impl Fn(&mut U)) {
        self.cell.value.rcu(|current| {
            let mut next = U::clone(current);
            modify(&mut next);
            next
        });
        self.cell.version.fetch_add(1, Ordering::AcqRel);
        self.cell.notify.notify_waiters();
    }
}

impl<U> Drop for Publisher<U> {
    fn drop(&mut self) {
        self.cell.closed.store(true, Ordering::Release);
        self.cell.notify.notify_waiters();
    }
}

/// A subscription to a value that changes: the applied config ([`Store::subscribe`]), a
/// projection of it ([`Store::subscribe_map`]) or the reloader's counters
/// ([`Reloader::stats`]). It sees the latest value (not every one, if it reads slowly), and
/// nothing it does — holding a value for ever, never reading, panicking — delays the reloader
/// or anyone else (guarantee G7).
///
/// [`Store::subscribe`]: crate::Store::subscribe
/// [`Store::subscribe_map`]: crate::Store::subscribe_map
/// [`Reloader::stats`]: crate::ReloaderHandle::stats
pub struct Subscription<U> {
    cell: Arc<Cell<U>>,
    seen: u64,
}

impl<U> Clone for Subscription<U> {
    fn clone(&self) -> Self {
        Subscription {
            cell: self.cell.clone(),
            seen: self.seen,
        }
    }
}

impl<U> std::fmt::Debug for Subscription<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<U> Subscription<U> {
    /// The latest value; keeping it blocks nobody.
    pub fn borrow(&self) -> Arc<U> {
        self.cell.value.load_full()
    }

    /// The latest value, marked as seen.
    pub fn borrow_and_update(&mut self) -> Arc<U> {
        self.seen = self.cell.version.load(Ordering::Acquire);
        self.cell.value.load_full()
    }

    /// Whether a value arrived that this subscription has not seen.
    pub fn has_changed(&self) -> bool {
        self.cell.version.load(Ordering::Acquire) != self.seen
    }

    /// Waits for a value not seen yet, and marks it seen.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] once the sender is gone (the reloader stopped) and every value
    /// has been seen.
    pub async fn changed(&mut self) -> Result<()> {
        loop {
            let notified = self.cell.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let version = self.cell.version.load(Ordering::Acquire);
            if version != self.seen {
                self.seen = version;
                return Ok(());
            }
            if self.cell.closed.load(Ordering::Acquire) {
                return Err(Error::new(ErrorKind::Closed, "the reloader stopped"));
            }
            notified.await;
        }
    }

    /// Waits until the latest value satisfies `predicate` (checked on the current value first),
    /// and returns it.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] once the sender is gone.
    pub async fn wait_for(&mut self, mut predicate: impl FnMut(&U) -> bool) -> Result<Arc<U>> {
        loop {
            let value = self.borrow_and_update();
            if predicate(&value) {
                return Ok(value);
            }
            self.changed().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_value_never_blocks_the_sender() {
        let publisher = Publisher::new(1u32);
        let mut subscription = publisher.subscribe();
        let held = subscription.borrow();
        publisher.send_replace(Arc::new(2)); // a watch channel would wait for `held` here
        assert_eq!((*held, *subscription.borrow()), (1, 2));
        subscription.changed().await.unwrap();
        assert!(!subscription.has_changed());
        drop(publisher);
        assert_eq!(
            subscription.changed().await.unwrap_err().kind(),
            ErrorKind::Closed
        );
    }

    #[tokio::test]
    async fn wait_for_sees_the_value_that_satisfies_it() {
        let publisher = Publisher::new(0u32);
        let mut subscription = publisher.subscribe();
        let waiter =
            tokio::spawn(async move { *subscription.wait_for(|v| *v >= 3).await.unwrap() });
        for n in 1..=3 {
            publisher.send_modify(|v| *v = n);
            tokio::task::yield_now().await;
        }
        assert_eq!(waiter.await.unwrap(), 3);
    }
}
