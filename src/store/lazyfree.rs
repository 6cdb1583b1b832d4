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
                lower_priority();
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

/// Make the calling thread (the free thread) yield the CPU to the cores'
/// executors: nice 19, so the scheduler gives it ~1.5% of a CPU whose
/// executor is busy and the rest whenever the executor waits for I/O.
/// Why: at the normal priority, freeing a 5M-member set on a machine with
/// no idle CPU took its time slices from the executors, and one PING
/// waited 6.1 ms behind it (`bench/lazyfree.sh`). The freeing is not
/// urgent: `maxmemory` stopped counting the value when it was handed over.
/// Linux sets a nice value per thread; a failure leaves it at the default.
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread's own id.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19)
    };
    if rc != 0 {
        log::debug!(
            "lazyfree: setpriority failed: {}",
            std::io::Error::last_os_error()
        );
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

    /// Tells, when dropped, which thread dropped it and at what nice value.
    struct Probe(Arc<Mutex<Option<(String, i32)>>>);

    impl Drop for Probe {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            // SAFETY: plain syscalls on the calling thread's own id.
            let nice = unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, tid)
            };
            *self.0.lock().unwrap() = Some((name, nice));
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
        // Dropped on the free thread, which yields to the executors.
        let (name, nice) = seen.lock().unwrap().clone().unwrap();
        assert_eq!((name.as_str(), nice), ("lazyfree", 19));
        assert!(freed() >= 1);
    }
}
