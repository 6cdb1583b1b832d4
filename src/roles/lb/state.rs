//! The LB's state ([`Lb`]), owned by its one executor, and its connection
//! counters: what the accept loop, the probes, the proxy and the reports
//! all read and change. It sits apart from all of them so none imports
//! another's module to reach it.

use super::pool::Pools;
use super::registry::{Change, Registry};
use super::LbConfig;
use crate::roles::lifecycle::Lifecycle;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::Instant;

/// The LB's state, owned by its one executor.
pub struct Lb {
    /// Nodes and lease policy. Never borrowed across an await.
    pub registry: RefCell<Registry>,
    /// Connection counters.
    pub counters: Counters,
    /// Settings.
    pub cfg: LbConfig,
    /// Time zero of the LB clock.
    pub epoch: Instant,
    /// Where the LB listens.
    pub addr: SocketAddr,
    /// Accepting, open connections, and the stop.
    pub life: Lifecycle,
    /// Proxy mode's connections to nodes (unused in redirect mode).
    pub pools: Pools,
    /// Cluster mode's slot map and leases. Never borrowed across an await.
    pub slots: RefCell<super::slots::Slots>,
}

impl Lb {
    /// Milliseconds on the LB clock.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Log a registry change at the level it deserves.
    pub fn log(&self, change: Change) {
        match change {
            Change::Registered(a) => log::info!("node {a} registered"),
            Change::Admitted(a) => log::info!("node {a} admitted to the lease pool"),
            Change::Readmitted(a) => log::info!("node {a} re-admitted after a good probe"),
            Change::Evicted(a, why) => log::warn!("node {a} evicted: {why}"),
            Change::NotAdmitted(a, why) => log::warn!("node {a} not admitted: {why}"),
            Change::Forgotten(a) => log::info!("node {a} forgotten after being down too long"),
        }
    }
}

/// Connection-level counters. The LB runs on one executor, so these are
/// plain cells it owns; were it to grow more cores, each would keep its own
/// and a read would sum them, as the node does — never shared atomics.
#[derive(Default, Debug)]
pub struct Counters {
    /// Connections accepted.
    pub connections: Cell<u64>,
    /// Connections open now.
    pub open: Cell<u64>,
    /// Registration links open now.
    pub links: Cell<u64>,
    /// Requests answered.
    pub requests: Cell<u64>,
    /// Requests answered with an error (unknown command, bad arguments).
    pub request_errors: Cell<u64>,
    /// Connections closed for malformed framing.
    pub protocol_errors: Cell<u64>,
    /// Connections closed for idling past --idle-timeout.
    pub idle_closed: Cell<u64>,
    /// Proxy mode: requests sent to nodes (a retried one counts twice).
    pub forwarded: Cell<u64>,
    /// Proxy mode: requests retried after their first node failed.
    pub retries: Cell<u64>,
    /// Proxy mode: requests answered with an error because no node could
    /// answer them (none healthy, or both attempts failed).
    pub proxy_errors: Cell<u64>,
    /// Proxy mode: attempts on a node that failed (refused, reset, timeout).
    pub node_failures: Cell<u64>,
}

/// Add `d` to a counter cell (wrapping is impossible in practice).
#[inline]
pub fn add(c: &Cell<u64>, d: i64) {
    c.set(c.get().wrapping_add_signed(d));
}
