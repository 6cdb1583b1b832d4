//! Lazy free: a collection with many elements is dropped on a background
//! thread, not on the core that removed it, as Redis's `lazyfree` hands
//! big objects to its `bio` thread.
//!
//! Why a thread and not freeing in slices on the core: freeing is the
//! whole cost (one allocator call per element, millions of them for a big
//! set), and the allocator (mimalloc) takes frees from any thread, so a
//! thread moves that cost off the request path entirely with no per-type
//! "free a little" code. The core only pays a channel send. A value's
//! memory stops counting against `maxmemory` when it is handed over, as in
//! Redis, so a burst of frees may briefly hold more RSS than `used_memory`
//! says; `lazyfree_pending_objects` (INFO memory) shows how many wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

/// Collections with at least this many elements are freed lazily; smaller
/// ones cost less to free than to hand over (Redis's `LAZYFREE_THRESHOLD`).
pub const THRESHOLD: usize = 64;

/// Something the free thread drops.
type Garbage = Box<dyn Send>;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);
static QUEUE: OnceLock<Mutex<Sender<Garbage>>> = OnceLock::new();

/// Drop `value` on the free thread (started on first use).
pub fn free_later(value: impl Send + 'static) {
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Garbage>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for garbage in rx {
                    drop(garbage);
                    PENDING.fetch_sub(1, Ordering::Relaxed);
                    FREED.fetch_add(1, Ordering::Relaxed);
                }
            })
            .expect("spawn the lazyfree thread");
        Mutex::new(tx)
    });
    PENDING.fetch_add(1, Ordering::Relaxed);
    // The lock is held for one send; only removals of big collections
    // (and FLUSHALL) take it, never a request on the hot path.
    let sent = queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(Box::new(value));
    if let Err(mpsc::SendError(garbage)) = sent {
        // The thread is gone (it cannot be, short of a panic in a drop):
        // free here rather than leak.
        drop(garbage);
        PENDING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Objects handed over and not yet freed (INFO's `lazyfree_pending_objects`).
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// Objects freed so far by the thread (INFO's `lazyfreed_objects`).
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Tells, when dropped, which thread dropped it.
    struct Probe(Arc<Mutex<Option<String>>>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let name = std::thread::current().name().map(str::to_owned);
            *self.0.lock().unwrap() = name;
        }
    }

    #[test]
    fn values_are_dropped_on_the_free_thread() {
        let seen = Arc::new(Mutex::new(None));
        free_later(Probe(seen.clone()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.lock().unwrap().is_none() {
            assert!(Instant::now() < deadline, "never freed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen.lock().unwrap().as_deref(), Some("lazyfree"));
        assert!(freed() >= 1);
    }
}
