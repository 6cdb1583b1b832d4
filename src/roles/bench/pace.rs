//! Fixed-rate pacing for a whole worker on one timer: connections that are
//! ahead of their schedule park here, and one pacer task wakes them.
//!
//! Why not a `glommio::timer::sleep` per send: at 80,000 requests/s every
//! send has its own moment, so the client sleeps and wakes once per
//! request, and so does the server: each send to a sleeping server pays
//! for waking it (in perf, ~22% of the client's CPU was `sock_def_readable`
//! waking redis-server). That cost the client 15.4–15.7 µs of CPU per
//! request against redis-server, about 1.5× its closed-loop cost on the
//! same run, and on a two-CPU box the client's own CPU then shapes the
//! tail it is measuring. Here deadlines are rounded up to a [`TICK`] grid,
//! the waiters of one grid point share one wake-up and send together, and
//! the server wakes once for the lot; the pacer sleeps only until the
//! earliest grid point anyone waits for, so at low rates it is still one
//! timer per send. Measured side by side (docs/BENCH.md): 11.8–12.1 µs
//! per request at 80,000/s on a 200 µs grid, 15.0–15.1 on a 50 µs grid,
//! against 10.1–10.9 closed loop.
//!
//! What it costs the measurement: a send goes out up to one tick after its
//! scheduled time, and latency is measured from the scheduled time, so
//! corrected latencies include up to [`TICK`] (on average half of it) of
//! the client's own pacing delay; the report says so. wrk2 paces on a
//! 1 ms grid.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// The pacing grid.
pub const TICK: Duration = Duration::from_micros(200);

/// Where a worker's paced connections wait for their next send.
pub struct Pacer {
    start: Instant,
    /// Waiters by grid point (ticks since `start`).
    waiting: RefCell<BTreeMap<u64, Vec<Waker>>>,
    /// The pacer task, when it sleeps toward a later point than a new waiter
    /// needs, or has nothing to wait for.
    task: Cell<Option<Waker>>,
    kicked: Cell<bool>,
    stopped: Cell<bool>,
}

impl Pacer {
    /// A pacer and the task that must run for its waiters to wake.
    pub fn start() -> Rc<Pacer> {
        let p = Rc::new(Pacer {
            start: Instant::now(),
            waiting: RefCell::default(),
            task: Cell::new(None),
            kicked: Cell::new(false),
            stopped: Cell::new(false),
        });
        glommio::spawn_local(p.clone().run()).detach();
        p
    }

    /// Wait until `at` (rounded up to the grid). Returns at once if it has
    /// passed, or once the pacer is stopped.
    pub async fn until(&self, at: Instant) {
        let point = self.point_at_or_after(at);
        let mut parked = false;
        poll_fn(|cx| {
            if self.stopped.get() || self.passed(point) {
                return Poll::Ready(());
            }
            // Parked once; a wake only ever comes once the point passed (or
            // on stop), so a second poll without it does not park again.
            if !parked {
                parked = true;
                let mut w = self.waiting.borrow_mut();
                let earliest = w.keys().next().is_none_or(|&first| point < first);
                w.entry(point).or_default().push(cx.waker().clone());
                drop(w);
                if earliest {
                    self.kick();
                }
            }
            Poll::Pending
        })
        .await;
    }

    /// End pacing: every waiter returns, now and later.
    pub fn stop(&self) {
        self.stopped.set(true);
        self.kick();
    }

    fn point_at_or_after(&self, at: Instant) -> u64 {
        let ns = at.saturating_duration_since(self.start).as_nanos();
        ns.div_ceil(TICK.as_nanos()) as u64
    }

    fn instant_of(&self, point: u64) -> Instant {
        self.start + Duration::from_nanos(point.saturating_mul(TICK.as_nanos() as u64))
    }

    fn passed(&self, point: u64) -> bool {
        Instant::now() >= self.instant_of(point)
    }

    fn kick(&self) {
        self.kicked.set(true);
        if let Some(w) = self.task.take() {
            w.wake();
        }
    }

    /// Until kicked (a new earliest waiter, or stop).
    async fn kicked(&self) {
        poll_fn(|cx| {
            if self.kicked.replace(false) {
                Poll::Ready(())
            } else {
                self.task.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await;
    }

    async fn run(self: Rc<Self>) {
        loop {
            if self.stopped.get() {
                let all = std::mem::take(&mut *self.waiting.borrow_mut());
                all.into_values().flatten().for_each(Waker::wake);
                return;
            }
            let first = self.waiting.borrow().keys().next().copied();
            let Some(first) = first else {
                self.kicked().await;
                continue;
            };
            let now = Instant::now();
            let due = self.instant_of(first);
            if due > now {
                // Woken early by a kick when a nearer point gets a waiter.
                futures_lite::future::or(glommio::timer::sleep(due - now), self.kicked()).await;
                continue;
            }
            let passed = (now.duration_since(self.start).as_nanos() / TICK.as_nanos()) as u64;
            let mut w = self.waiting.borrow_mut();
            let later = w.split_off(&(passed + 1));
            let due_now = std::mem::replace(&mut *w, later);
            drop(w);
            due_now.into_values().flatten().for_each(Waker::wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glommio::LocalExecutor;

    #[test]
    fn waiters_wake_on_time_and_never_early() {
        LocalExecutor::default().run(async {
            let pacer = Pacer::start();
            let t0 = Instant::now();
            // Many waiters on few grid points, registered out of order.
            let mut tasks = Vec::new();
            for i in (0..200u32).rev() {
                let p = pacer.clone();
                let at = t0 + Duration::from_micros(100 * u64::from(i % 40));
                tasks.push(glommio::spawn_local(async move {
                    p.until(at).await;
                    Instant::now() >= at
                }));
            }
            for t in tasks {
                assert!(t.await, "woken before its time");
            }
            // A time already passed returns at once.
            pacer.until(t0).await;
            // A later waiter arriving while the pacer sleeps toward a later
            // point is still woken on time.
            let p = pacer.clone();
            let far = glommio::spawn_local(async move {
                p.until(Instant::now() + Duration::from_secs(3)).await;
            });
            let near = Instant::now() + Duration::from_millis(5);
            pacer.until(near).await;
            assert!(Instant::now() >= near);
            assert!(
                Instant::now() < near + Duration::from_secs(2),
                "the near waiter waited for the far one"
            );
            pacer.stop();
            far.await;
        });
    }
}
