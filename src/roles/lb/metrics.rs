//! What the LB reports: METRICS (one line of JSON), INFO (Redis's format)
//! and NODES (one line per node), all rendered from the registry and the
//! connection counters at read time.

use super::registry::{Node, Registry, State};
use super::server::Lb;
use std::cell::Cell;
use std::fmt::Write;

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
}

/// Add `d` to a counter cell (wrapping is impossible in practice).
#[inline]
pub fn add(c: &Cell<u64>, d: i64) {
    c.set(c.get().wrapping_add_signed(d));
}

fn node_json(n: &Node, now: u64) -> serde_json::Value {
    let reason = match &n.state {
        State::Down(f) => Some(f.to_string()),
        _ => None,
    };
    serde_json::json!({
        "addr": n.addr.to_string(),
        "state": n.state.name(),
        "reason": reason,
        "state_for_ms": now.saturating_sub(n.since_ms),
        "cores": n.cores,
        "linked": n.links > 0,
        "clients": n.clients,
        "maxclients": n.maxclients,
        "load": n.load(),
        "leases": n.leases,
        "probes_ok": n.probes_ok,
        "probe_failures": n.probe_failures,
        "evictions": n.evictions,
        "last_probe_ms_ago": n.last_probe_ms.map(|t| now.saturating_sub(t)),
    })
}

/// METRICS: LB totals and the node table as one line of JSON.
pub fn render_metrics(lb: &Lb) -> String {
    let now = lb.now();
    let reg = lb.registry.borrow();
    let t = reg.totals();
    let c = &lb.counters;
    let nodes: Vec<_> = reg.nodes().iter().map(|n| node_json(n, now)).collect();
    serde_json::json!({
        "role": "lb",
        "addr": lb.addr.to_string(),
        "uptime_s": now as f64 / 1000.0,
        "policy": reg.policy().name(),
        "health_interval_ms": lb.cfg.health_interval.as_millis() as u64,
        "health_timeout_ms": lb.cfg.health_timeout.as_millis() as u64,
        "epoch": reg.epoch(),
        "nodes_registered": reg.nodes().len(),
        "nodes_healthy": reg.healthy(),
        "leases": t.leases,
        "lease_failures": t.lease_failures,
        "registrations": t.registrations,
        "probes_ok": t.probes_ok,
        "probe_failures": t.probe_failures,
        "evictions": t.evictions,
        "readmissions": t.readmissions,
        "forgotten": t.forgotten,
        "connections_received": c.connections.get(),
        "connected_clients": c.open.get(),
        "links": c.links.get(),
        "requests": c.requests.get(),
        "request_errors": c.request_errors.get(),
        "protocol_errors": c.protocol_errors.get(),
        "idle_closed": c.idle_closed.get(),
        "nodes": nodes,
    })
    .to_string()
}

/// One NODES line: `addr state key=value ...`.
pub fn node_line(n: &Node, now: u64) -> String {
    let mut s = format!(
        "{} {} cores={} linked={} clients={} load={} leases={} probes_ok={} \
         probe_failures={} evictions={} state_for_ms={}",
        n.addr,
        n.state.name(),
        n.cores,
        u8::from(n.links > 0),
        n.clients,
        n.load(),
        n.leases,
        n.probes_ok,
        n.probe_failures,
        n.evictions,
        now.saturating_sub(n.since_ms)
    );
    if let State::Down(f) = &n.state {
        let _ = write!(s, " reason=\"{f}\"");
    }
    s
}

/// NODES: one line per registered node, in registration order.
pub fn render_nodes(lb: &Lb) -> Vec<String> {
    let now = lb.now();
    let reg = lb.registry.borrow();
    reg.nodes().iter().map(|n| node_line(n, now)).collect()
}

/// INFO in Redis's format: `# Section` headers, `field:value` lines, CRLF.
pub fn render_info(lb: &Lb) -> String {
    let now = lb.now();
    let reg: &Registry = &lb.registry.borrow();
    let t = reg.totals();
    let c = &lb.counters;
    let mut o = String::new();
    let _ = write!(
        o,
        "# Server\r\ncachectl_version:{}\r\nrole:lb\r\nprocess_id:{}\r\ntcp_port:{}\r\n\
         uptime_in_seconds:{}\r\nmultiplexing_api:io_uring\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        lb.addr.port(),
        now / 1000,
    );
    let _ = write!(
        o,
        "# Clients\r\nconnected_clients:{}\r\nregistration_links:{}\r\n\r\n",
        c.open.get(),
        c.links.get()
    );
    let _ = write!(
        o,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         request_errors:{}\r\nprotocol_errors:{}\r\nidle_closed:{}\r\nleases:{}\r\n\
         lease_failures:{}\r\nregistrations:{}\r\nprobes_ok:{}\r\nprobe_failures:{}\r\n\
         evictions:{}\r\nreadmissions:{}\r\nforgotten:{}\r\n\r\n",
        c.connections.get(),
        c.requests.get(),
        c.request_errors.get(),
        c.protocol_errors.get(),
        c.idle_closed.get(),
        t.leases,
        t.lease_failures,
        t.registrations,
        t.probes_ok,
        t.probe_failures,
        t.evictions,
        t.readmissions,
        t.forgotten,
    );
    let _ = write!(
        o,
        "# Cluster\r\npolicy:{}\r\nhealth_interval_ms:{}\r\nhealth_timeout_ms:{}\r\n\
         epoch:{}\r\nnodes_registered:{}\r\nnodes_healthy:{}\r\n",
        reg.policy().name(),
        lb.cfg.health_interval.as_millis(),
        lb.cfg.health_timeout.as_millis(),
        reg.epoch(),
        reg.nodes().len(),
        reg.healthy(),
    );
    for (i, n) in reg.nodes().iter().enumerate() {
        let _ = write!(
            o,
            "node{i}:addr={},state={},cores={},clients={},leases={},probe_failures={},\
             evictions={}\r\n",
            n.addr,
            n.state.name(),
            n.cores,
            n.clients,
            n.leases,
            n.probe_failures,
            n.evictions
        );
    }
    o
}
