//! The node registry: who is registered, who may get leases, and which node
//! the next lease goes to. A sans-I/O state machine: callers pass `now` (ms
//! on the LB clock) and the outcome of probes and links; it never touches a
//! socket or the clock, and reports every state change as a [`Change`] for
//! the caller to log.
//!
//! Node life cycle (see docs/LB.md):
//!
//! ```text
//!  register ──► Joining ──probe ok──► Healthy ──probe fails / link closes──► Down
//!                  │                     ▲                                   │ │
//!                  └──probe fails──► Down┴──────────probe ok─────────────────┘ │
//!                                     re-register ► Joining   forgotten ◄──────┘
//!                                                 (down ≥ forget_after, no link)
//! ```
//!
//! Invariants: only `Healthy` nodes are leased; a node becomes `Healthy`
//! only through a successful probe (never by registering); nodes are keyed
//! by their advertised address, so re-registering is idempotent.
//!
//! For a key-aware cluster map later: nodes keep their registration order
//! and a core count, and [`Registry::epoch`] increases whenever the set of
//! leasable nodes changes — exactly what a slot table (slot → node core,
//! `slot % cores` within a node, see [`crate::ownership`]) needs to be
//! derived and versioned without changing this type.

use super::protocol::{HostPort, NodeStat};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

mod caps;
pub use caps::{Caps, Refusal};

/// How the next lease picks among healthy nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Each healthy node in turn.
    RoundRobin,
    /// The node with the fewest clients (probed count plus leases handed out
    /// since that probe); ties go round-robin.
    LeastLoaded,
}

impl Policy {
    /// The flag spelling.
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::LeastLoaded => "least-loaded",
        }
    }
}

/// How a proxy-mode LB picks the node for a forwarded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    /// By `--policy`, as for leases: requests spread over the nodes, so a
    /// GET may land on a node the SET did not.
    Policy,
    /// By key: the same key always goes to the same healthy node, so writes
    /// and reads through the LB agree.
    Key,
}

impl Route {
    /// The flag spelling.
    pub fn name(self) -> &'static str {
        match self {
            Route::Policy => "policy",
            Route::Key => "key",
        }
    }
}

/// Why a node is not leased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The probe got no full reply within the health timeout.
    Timeout,
    /// The probe could not connect, or the connection broke.
    Unreachable(String),
    /// The node answered something that is not a probe reply.
    BadReply(String),
    /// The node refused the probe for maxclients.
    Full,
    /// The node's registration link closed (its process most likely died).
    LinkClosed,
    /// The reply did not prove the cluster secret.
    Unauthenticated(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Timeout => f.write_str("probe timed out"),
            Fault::Unreachable(e) => write!(f, "unreachable: {e}"),
            Fault::BadReply(e) => write!(f, "bad probe reply: {e}"),
            Fault::Full => f.write_str("node at maxclients"),
            Fault::LinkClosed => f.write_str("registration link closed"),
            Fault::Unauthenticated(e) => write!(f, "probe reply not authenticated: {e}"),
        }
    }
}

/// A node's state in the lease pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Registered, waiting for its first successful probe.
    Joining,
    /// Last probe succeeded: leases go here.
    Healthy,
    /// Evicted: not leased, still probed until forgotten.
    Down(Fault),
}

impl State {
    /// Lower-case name for metrics.
    pub fn name(&self) -> &'static str {
        match self {
            State::Joining => "joining",
            State::Healthy => "healthy",
            State::Down(_) => "down",
        }
    }
}

/// A registry entry's identity; a node that is forgotten and registers again
/// gets a new one, so a late probe result can't land on the wrong entry.
pub type NodeId = u64;

/// One registered node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Unique per registration lifetime.
    pub id: NodeId,
    /// Where clients connect (the registry key).
    pub addr: HostPort,
    /// The IP the first registration came from, for the per-source cap.
    pub source: IpAddr,
    /// Where the last good probe connected: a name resolved off the
    /// executor, which proxy mode connects to without a lookup of its own.
    pub resolved: Option<SocketAddr>,
    /// The node's executor cores.
    pub cores: u32,
    /// Cluster mode: each core's own port, by core (empty outside it).
    pub core_ports: Vec<u16>,
    /// Lease-pool state.
    pub state: State,
    /// When `state` last changed (LB clock, ms).
    pub since_ms: u64,
    /// Open registration links; a node with one is never forgotten.
    pub links: u32,
    /// Clients the last successful probe saw, not counting the probe.
    pub clients: u64,
    /// The node's maxclients, if its probe said.
    pub maxclients: Option<u64>,
    /// Leases handed out for this node, ever.
    pub leases: u64,
    /// `leases` when the last successful probe was sent: leases after that
    /// are clients the probe could not have seen yet.
    leases_at_probe: u64,
    /// Probes answered.
    pub probes_ok: u64,
    /// Probes that failed.
    pub probe_failures: u64,
    /// Times this node was taken out of the lease pool.
    pub evictions: u64,
    /// When the last probe finished.
    pub last_probe_ms: Option<u64>,
}

impl Node {
    /// The least-loaded figure: probed clients plus leases since the probe.
    ///
    /// The second term matters: probes come every few seconds, and leases
    /// come thousands a second. With the probed count alone, every lease in
    /// between would go to the same "least loaded" node.
    pub fn load(&self) -> u64 {
        self.clients + (self.leases - self.leases_at_probe)
    }
}

/// What a probe is about to check; handed back with its outcome.
#[derive(Clone, Debug)]
pub struct ProbeTicket {
    /// The entry probed.
    pub id: NodeId,
    /// Its address.
    pub addr: HostPort,
    /// The node's lease count when the probe was sent.
    leases_at_start: u64,
}

/// A state change worth a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new address registered.
    Registered(HostPort),
    /// A node entered the lease pool for the first time.
    Admitted(HostPort),
    /// A node came back into the lease pool after being down.
    Readmitted(HostPort),
    /// A node left the lease pool.
    Evicted(HostPort, Fault),
    /// A joining node failed its probe (it was never leased).
    NotAdmitted(HostPort, Fault),
    /// A node was down for long with no link, and was dropped.
    Forgotten(HostPort),
}

/// LB-wide totals (nodes carry their own).
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Leases handed out.
    pub leases: u64,
    /// LEASE requests answered "no healthy nodes".
    pub lease_failures: u64,
    /// REGISTER requests accepted.
    pub registrations: u64,
    /// Probes answered.
    pub probes_ok: u64,
    /// Probes failed.
    pub probe_failures: u64,
    /// Nodes taken out of the lease pool.
    pub evictions: u64,
    /// Nodes put back after being down.
    pub readmissions: u64,
    /// Nodes dropped after being down for long.
    pub forgotten: u64,
}

/// The registry itself.
#[derive(Debug)]
pub struct Registry {
    nodes: Vec<Node>,
    policy: Policy,
    /// Where round-robin (and least-loaded's tie-break) looks next.
    cursor: usize,
    next_id: NodeId,
    epoch: u64,
    forget_after_ms: u64,
    totals: Totals,
    caps: Caps,
}

impl Registry {
    /// An empty registry; down nodes without a link are dropped after
    /// `forget_after_ms`.
    pub fn new(policy: Policy, forget_after_ms: u64) -> Registry {
        Registry {
            nodes: Vec::new(),
            policy,
            cursor: 0,
            next_id: 1,
            epoch: 0,
            forget_after_ms,
            totals: Totals::default(),
            caps: Caps::default(),
        }
    }

    /// Set the registration caps (the defaults are [`Caps::default`]).
    pub fn set_caps(&mut self, caps: Caps) {
        self.caps = caps;
    }

    /// Whether `addr`, registering from `source`, may be taken in: an
    /// address already listed always may (it is a refresh); a new one only
    /// while the caps leave room. Call it in the same borrow as
    /// [`Registry::register`], so nothing changes in between.
    ///
    /// # Errors
    /// The [`Refusal`] naming the cap.
    pub fn check_room(&self, addr: &HostPort, source: IpAddr) -> Result<(), Refusal> {
        if self.nodes.iter().any(|n| n.addr == *addr) {
            return Ok(());
        }
        if self.nodes.len() >= self.caps.total {
            return Err(Refusal::Total(self.caps.total));
        }
        let from = self.nodes.iter().filter(|n| n.source == source).count();
        if from >= self.caps.per_source {
            return Err(Refusal::PerSource {
                from: source,
                cap: self.caps.per_source,
            });
        }
        Ok(())
    }

    /// The lease policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// All registered nodes, in registration order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// LB-wide totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Nodes that leases can go to now.
    pub fn healthy(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.state == State::Healthy)
            .count()
    }

    /// Version of the lease pool: bumped whenever a node enters or leaves it.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    fn find(&mut self, id: NodeId) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    /// Add a node or refresh it; `source` is the IP the request came from;
    /// `link` says the request's connection stays open as the node's
    /// liveness link (call [`Registry::unlink`] when it closes). Returns the
    /// entry's id, whether it needs a probe before it can be leased, and a
    /// change to log (for new addresses). The caps are the caller's to check
    /// first, with [`Registry::check_room`].
    pub fn register(
        &mut self,
        addr: HostPort,
        source: IpAddr,
        cores: u32,
        link: bool,
        now: u64,
    ) -> (NodeId, bool, Option<Change>) {
        self.totals.registrations += 1;
        if let Some(n) = self.nodes.iter_mut().find(|n| n.addr == addr) {
            n.cores = cores;
            n.links += u32::from(link);
            // A node that was down and says it's back is probed right away
            // rather than at the next interval; it is leased only once the
            // probe succeeds.
            if matches!(n.state, State::Down(_)) {
                n.state = State::Joining;
                n.since_ms = now;
            }
            return (n.id, n.state != State::Healthy, None);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.nodes.push(Node {
            id,
            addr: addr.clone(),
            source,
            resolved: None,
            cores,
            core_ports: Vec::new(),
            state: State::Joining,
            since_ms: now,
            links: u32::from(link),
            clients: 0,
            maxclients: None,
            leases: 0,
            leases_at_probe: 0,
            probes_ok: 0,
            probe_failures: 0,
            evictions: 0,
            last_probe_ms: None,
        });
        (id, true, Some(Change::Registered(addr)))
    }

    /// Record the core ports node `id` registered with (cluster mode).
    pub fn set_core_ports(&mut self, id: NodeId, ports: Vec<u16>) {
        if let Some(n) = self.find(id) {
            n.core_ports = ports;
        }
    }

    /// A registration link of node `id` closed. When it was the last one,
    /// the node is taken out of the lease pool at once: the kernel closed
    /// it, so the process is most likely gone, and waiting for the next
    /// probe would hand out dead addresses until then.
    pub fn unlink(&mut self, id: NodeId, now: u64) -> Option<Change> {
        let n = self.find(id)?;
        n.links = n.links.saturating_sub(1);
        if n.links > 0 {
            return None;
        }
        self.fail(id, Fault::LinkClosed, now)
    }

    /// Tickets for probing every registered node now.
    pub fn probe_all(&self) -> Vec<ProbeTicket> {
        self.nodes.iter().map(Self::ticket).collect()
    }

    /// A ticket for probing one node now, if it is still registered.
    pub fn probe_one(&self, id: NodeId) -> Option<ProbeTicket> {
        self.nodes.iter().find(|n| n.id == id).map(Self::ticket)
    }

    fn ticket(n: &Node) -> ProbeTicket {
        ProbeTicket {
            id: n.id,
            addr: n.addr.clone(),
            leases_at_start: n.leases,
        }
    }

    /// A probe succeeded: record the load, and admit the node if it was not
    /// in the pool.
    pub fn probe_ok(&mut self, t: &ProbeTicket, stat: NodeStat, now: u64) -> Option<Change> {
        self.totals.probes_ok += 1;
        let n = self.find(t.id)?;
        n.probes_ok += 1;
        n.last_probe_ms = Some(now);
        // The probe's own connection is one of the clients it counted.
        n.clients = stat.clients.saturating_sub(1);
        n.maxclients = stat.maxclients;
        if let Some(c) = stat.cores {
            n.cores = c;
        }
        n.leases_at_probe = n.leases_at_probe.max(t.leases_at_start);
        let change = match n.state {
            State::Healthy => return None,
            // Only a successful probe makes a node healthy, so this being the
            // first success means it was never in the pool before.
            _ if n.probes_ok == 1 => Change::Admitted(n.addr.clone()),
            _ => Change::Readmitted(n.addr.clone()),
        };
        n.state = State::Healthy;
        n.since_ms = now;
        if matches!(change, Change::Readmitted(_)) {
            self.totals.readmissions += 1;
        }
        self.epoch += 1;
        Some(change)
    }

    /// Where a probe of node `id` reached it (see [`Node::resolved`]).
    pub fn set_resolved(&mut self, id: NodeId, at: SocketAddr) {
        if let Some(n) = self.find(id) {
            n.resolved = Some(at);
        }
    }

    /// A probe failed: take the node out of the lease pool.
    pub fn probe_failed(&mut self, t: &ProbeTicket, fault: Fault, now: u64) -> Option<Change> {
        self.totals.probe_failures += 1;
        let n = self.find(t.id)?;
        n.probe_failures += 1;
        n.last_probe_ms = Some(now);
        self.fail(t.id, fault, now)
    }

    fn fail(&mut self, id: NodeId, fault: Fault, now: u64) -> Option<Change> {
        let n = self.find(id)?;
        let change = match &n.state {
            State::Healthy => {
                n.evictions += 1;
                Change::Evicted(n.addr.clone(), fault.clone())
            }
            State::Joining => Change::NotAdmitted(n.addr.clone(), fault.clone()),
            // Already down: keep the first reason and the time it went down,
            // which is what forgetting counts from.
            State::Down(_) => return None,
        };
        let was_healthy = n.state == State::Healthy;
        n.state = State::Down(fault);
        n.since_ms = now;
        if was_healthy {
            self.totals.evictions += 1;
            self.epoch += 1;
        }
        Some(change)
    }

    /// Drop nodes that have been down (or never got in) for at least
    /// `forget_after_ms` and have no open link.
    pub fn forget_stale(&mut self, now: u64) -> Vec<Change> {
        let limit = self.forget_after_ms;
        let mut gone = Vec::new();
        self.nodes.retain(|n| {
            let stale = n.state != State::Healthy
                && n.links == 0
                && now.saturating_sub(n.since_ms) >= limit;
            if stale {
                gone.push(Change::Forgotten(n.addr.clone()));
            }
            !stale
        });
        self.totals.forgotten += gone.len() as u64;
        gone
    }

    /// Pick the node for one lease, by the policy, and count it; `None` when
    /// no node is healthy.
    pub fn lease(&mut self) -> Option<&HostPort> {
        let Some(i) = self.pick(None, Node::load) else {
            self.totals.lease_failures += 1;
            return None;
        };
        self.cursor = i + 1;
        self.totals.leases += 1;
        let n = &mut self.nodes[i];
        n.leases += 1;
        Some(&n.addr)
    }

    /// A lease for `key`: the healthy node key routing gives it (the same
    /// one proxy mode's `--route key` forwards it to), counted as a lease.
    pub fn lease_for(&mut self, key: &[u8]) -> Option<&HostPort> {
        let id = self.route(Route::Key, key, None, |_| 0).map(|n| n.id);
        let Some(n) = id.and_then(|id| self.nodes.iter_mut().find(|n| n.id == id)) else {
            self.totals.lease_failures += 1;
            return None;
        };
        self.totals.leases += 1;
        n.leases += 1;
        Some(&n.addr)
    }

    /// Count a LEASE that could not be answered.
    pub fn count_failed_lease(&mut self) {
        self.totals.lease_failures += 1;
    }

    /// Count a lease handed out for node `addr` by another rule (cluster
    /// mode's slot map).
    pub fn count_lease(&mut self, addr: &HostPort) {
        self.totals.leases += 1;
        if let Some(n) = self.nodes.iter_mut().find(|n| n.addr == *addr) {
            n.leases += 1;
        }
    }

    /// Pick the healthy node for one forwarded request; `None` when no node
    /// is healthy. `avoid` (the node a first attempt failed on) is skipped
    /// unless it is the only healthy node. With [`Route::Policy`],
    /// least-loaded compares `in_flight(node)` — requests the LB has
    /// outstanding there, which it knows exactly — rather than the probed
    /// client count a lease uses. Nothing is counted here; the caller
    /// counts what it forwards.
    pub fn route(
        &mut self,
        route: Route,
        key: &[u8],
        avoid: Option<NodeId>,
        in_flight: impl Fn(NodeId) -> u64,
    ) -> Option<&Node> {
        let avoid = avoid.filter(|&a| {
            self.nodes
                .iter()
                .any(|n| n.state == State::Healthy && n.id != a)
        });
        let i = match route {
            Route::Key => {
                // Rendezvous hashing over the key's slot: each healthy node
                // scores (slot, address) and the highest wins. When a node
                // leaves, only its own slots move, each to its runner-up;
                // the other nodes keep theirs (a modulo would reshuffle all).
                let slot = crate::ownership::slot_for(key);
                self.nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.state == State::Healthy && Some(n.id) != avoid)
                    .max_by_key(|(_, n)| rendezvous(slot, &n.addr))
                    .map(|(i, _)| i)?
            }
            Route::Policy => {
                let i = self.pick(avoid, |n| in_flight(n.id))?;
                self.cursor = i + 1;
                i
            }
        };
        Some(&self.nodes[i])
    }

    /// The policy's choice among healthy nodes other than `avoid`, starting
    /// at the cursor: round-robin takes the first, least-loaded the
    /// smallest `load` (ties to the first).
    fn pick(&self, avoid: Option<NodeId>, load: impl Fn(&Node) -> u64) -> Option<usize> {
        let len = self.nodes.len();
        let mut best: Option<usize> = None;
        for k in 0..len {
            let i = (self.cursor + k) % len;
            let n = &self.nodes[i];
            if n.state != State::Healthy || Some(n.id) == avoid {
                continue;
            }
            match (self.policy, best) {
                (Policy::RoundRobin, _) => return Some(i),
                (Policy::LeastLoaded, Some(b)) if load(&self.nodes[b]) <= load(n) => {}
                (Policy::LeastLoaded, _) => best = Some(i),
            }
        }
        best
    }
}

/// A node's rendezvous score for `slot`: a 64-bit mix of the slot and the
/// node's address. Addresses, not registration ids, so the mapping is the
/// same after an LB restart whatever order nodes register in.
fn rendezvous(slot: u16, addr: &HostPort) -> u64 {
    // FNV-1a over the address, then SplitMix64's finaliser over (hash, slot).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in addr.host.bytes().chain(addr.port.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ u64::from(slot).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
