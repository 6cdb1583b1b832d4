//! What every client task of a worker shares ([`Ctx`]): where to connect,
//! the concurrency gate, the `--hold` barrier, the parent's control flags,
//! and the counts. The tasks (`c50k`, `steady`, `leases`) and the worker
//! that spawns them both use it, so it sits apart from both.

use super::lease_pool::LeasePool;
use super::net::{self, Conn, ConnectError};
use super::tally::{Cause, Latencies, Phase, Tally};
use super::wire::{Dest, Progress};
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Control words from the parent, set by the stdin thread.
#[derive(Default)]
pub struct Flags {
    pub(super) start: AtomicBool,
    pub(super) go: AtomicBool,
    pub(super) stop: AtomicBool,
}

impl Flags {
    /// Whether the run should end now.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// State shared by every task of this worker (single-threaded: cells).
pub struct Ctx {
    /// Where connections go.
    pub dest: Dest,
    pub(super) sources: Vec<Ipv4Addr>,
    /// Connect/reply timeout.
    pub timeout: Duration,
    /// Kept LB connections leases are pipelined over (`--lease-conns`);
    /// `None`: a fresh connection per lease, as seed 000.
    pub(super) lease_pool: Option<LeasePool>,
    /// Bounds lease+connect attempts in flight.
    pub(super) gate: Semaphore,
    /// Closed when the parent says go (`--hold`).
    pub barrier: Semaphore,
    /// Parent's control words.
    pub flags: Arc<Flags>,
    /// Counts.
    pub tally: RefCell<Tally>,
    /// Latencies.
    pub lat: RefCell<Latencies>,
    pub(super) leased: Cell<u64>,
    pub(super) connected: Cell<u64>,
    /// Tasks past the connect phase, connected or failed (`--hold`).
    pub settled: Cell<u64>,
    /// Sockets of the tasks parked at the `--hold` barrier, re-checked
    /// there ([`net::open_and_silent`]) before the worker reports.
    pub held_fds: RefCell<Vec<std::os::fd::RawFd>>,
    pub(super) live: Cell<u64>,
}

/// Decrements the live-task count when a task ends, however it ends.
pub struct Live(pub(super) Rc<Ctx>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.set(self.0.live.get() - 1);
    }
}

impl Ctx {
    /// Register a task as running until the returned guard drops.
    pub fn live(self: &Rc<Self>) -> Live {
        self.live.set(self.live.get() + 1);
        Live(self.clone())
    }

    /// The source address for the `i`-th connection, round robin.
    pub fn source(&self, i: u64) -> Option<Ipv4Addr> {
        (!self.sources.is_empty()).then(|| self.sources[(i % self.sources.len() as u64) as usize])
    }

    /// Count one failure.
    pub fn fail(&self, cause: Cause) {
        self.tally.borrow_mut().fail(cause);
    }

    /// Record a latency sample, in microseconds since `since`.
    pub fn record(&self, phase: Phase, since: Instant) {
        let micros = since.elapsed().as_micros() as u64;
        Latencies::record(self.lat.borrow_mut().of(phase), micros);
    }

    /// Wait for one of the `--concurrency` slots of this worker. Callers
    /// hold it for as long as what it bounds: the whole task in C50K mode
    /// without `--hold`, only lease+connect with it.
    pub async fn slot(&self) -> glommio::sync::Permit<'_> {
        self.gate
            .acquire_permit(1)
            .await
            .expect("the concurrency gate is never closed")
    }

    /// Lease (if going through an LB) and connect, recording lease and
    /// connect latency.
    ///
    /// # Errors
    /// The [`Cause`] to count for this attempt.
    pub async fn open(&self, i: u64, key: Option<&[u8]>) -> Result<Conn, Cause> {
        let source = self.source(i);
        let node = match self.dest {
            Dest::Direct(addr) => addr,
            Dest::Lease(lb) => {
                let t = Instant::now();
                let node = self.lease(lb, i, key).await?;
                self.record(Phase::Lease, t);
                self.leased.set(self.leased.get() + 1);
                node
            }
        };
        let t = Instant::now();
        let stream = net::connect(node, source, self.timeout)
            .await
            .map_err(|e| match e {
                ConnectError::Refused => Cause::ConnectRefused,
                ConnectError::Timeout => Cause::ConnectTimeout,
                ConnectError::Io(_) => Cause::Io,
            })?;
        self.record(Phase::Connect, t);
        self.connected.set(self.connected.get() + 1);
        Ok(Conn::new(stream, self.timeout))
    }

    /// Take one lease from `lb` for attempt `i`: over the pool if there is
    /// one, else on a fresh connection from attempt `i`'s source address.
    ///
    /// # Errors
    /// The [`Cause`] to count.
    pub async fn lease(
        &self,
        lb: std::net::SocketAddr,
        i: u64,
        key: Option<&[u8]>,
    ) -> Result<std::net::SocketAddr, Cause> {
        match &self.lease_pool {
            Some(pool) => pool.lease(key).await,
            None => net::lease(lb, self.source(i), self.timeout, key).await,
        }
    }

    /// Count one lease taken outside [`Ctx::open`] (lease-only mode).
    pub fn leased_one(&self) {
        self.leased.set(self.leased.get() + 1);
    }

    pub(super) fn progress(&self) -> Progress {
        let t = self.tally.borrow();
        Progress {
            leased: self.leased.get(),
            connected: self.connected.get(),
            succeeded: t.succeeded(),
            failed: t.failed(),
        }
    }
}
