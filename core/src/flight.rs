//! Single-flight (used by the JWKS cache and the token fetcher): at most one instance of an operation runs at a time, and every caller that
//! asks while it runs shares its result — success or failure.
//!
//! The operation runs as a task spawned on a tokio runtime handle, so it completes (and installs
//! its result) even if every caller that was waiting for it is cancelled.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::runtime::Handle;

use crate::error::{Error, Result};

/// The shared result of one flight.
pub(crate) type Flight<T> = Shared<BoxFuture<'static, Result<T>>>;

type Slot<T> = Mutex<Option<(u64, Flight<T>)>>;

/// At most one running operation; see the module docs.
pub(crate) struct SingleFlight<T: Clone> {
    slot: Arc<Slot<T>>,
    ids: AtomicU64,
}

impl<T: Clone> std::fmt::Debug for SingleFlight<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight")
            .field("running", &lock(&self.slot).is_some())
            .finish()
    }
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            slot: Arc::new(Mutex::new(None)),
            ids: AtomicU64::new(1),
        }
    }
}

/// Clears the slot when the task finishes or is dropped (runtime shut down).
struct ClearOnDrop<T: Clone> {
    slot: Weak<Slot<T>>,
    id: u64,
}

impl<T: Clone> Drop for ClearOnDrop<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.upgrade() {
            let mut slot = lock(&slot);
            if slot.as_ref().is_some_and(|(id, _)| *id == self.id) {
                *slot = None;
            }
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (plain assignments), so
    // poisoning is ignored rather than turned into a panic on every later call.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Whether an operation is running.
    pub(crate) fn is_running(&self) -> bool {
        lock(&self.slot).is_some()
    }

    /// Joins the running operation, or starts `start()` on `handle`. The second value tells
    /// whether this call started it.
    pub(crate) fn join_or_start<F>(&self, handle: &Handle, start: impl FnOnce() -> F) -> (Flight<T>, bool)
    where
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let flight: Flight<T> = async move {
            rx.await
                .unwrap_or_else(|_| Err(Error::Unavailable("the operation was cancelled".into())))
        }
        .boxed()
        .shared();
        {
            let mut slot = lock(&self.slot);
            if let Some((_, running)) = slot.as_ref() {
                return (running.clone(), false);
            }
            *slot = Some((id, flight.clone()));
        }
        // Spawned outside the lock: if the runtime is gone the task is dropped at once, and its
        // guard must be able to take the lock to clear the slot.
        let guard = ClearOnDrop {
            slot: Arc::downgrade(&self.slot),
            id,
        };
        let operation = start();
        handle.spawn(async move {
            let result = operation.await;
            drop(guard);
            let _ = tx.send(result);
        });
        (flight, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_its_failure() {
        let flight = Arc::new(SingleFlight::<u32>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut waiters = Vec::new();
        for _ in 0..50 {
            let (f, _) = flight.join_or_start(&Handle::current(), || {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(Error::Unavailable("down".into()))
                }
            });
            waiters.push(f);
        }
        for w in waiters {
            assert_eq!(w.await, Err(Error::Unavailable("down".into())));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!flight.is_running());
        let (f, started) = flight.join_or_start(&Handle::current(), || async { Ok(7) });
        assert!(started);
        assert_eq!(f.await, Ok(7));
    }

    #[test]
    fn a_dead_runtime_does_not_wedge_the_slot() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let handle = rt.handle().clone();
        drop(rt);
        let flight = SingleFlight::<u32>::default();
        let (f, started) = flight.join_or_start(&handle, || async { Ok(1) });
        assert!(started);
        assert!(!flight.is_running());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert!(rt.block_on(f).is_err());
    }
}
