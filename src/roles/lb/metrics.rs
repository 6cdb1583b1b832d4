//! What the LB reports: METRICS (one line of JSON), INFO (Redis's format)
//! and NODES (one line per node), all rendered from the registry, the
//! connection counters and (proxy mode) the node pools at read time.

use super::pool::NodePool;
use super::registry::{Node, Registry, State};
use super::state::Lb;
use std::fmt::Write;

/// Proxy-mode figures of one node: (forwarded, failures, in flight, open,
/// idle, connects); zeros before its first forwarded request.
fn pool_figures(p: Option<&NodePool>) -> [u64; 6] {
    p.map_or([0; 6], |p| {
        let s = &p.stats;
        [
            s.forwarded.get(),
            s.failures.get(),
            s.in_flight.get(),
            s.open.get(),
            p.idle() as u64,
            s.connects.get(),
        ]
    })
}

fn node_json(n: &Node, pool: Option<&NodePool>, now: u64) -> serde_json::Value {
    let reason = match &n.state {
        State::Down(f) => Some(f.to_string()),
        _ => None,
    };
    let [forwarded, failures, in_flight, open, idle, connects] = pool_figures(pool);
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
        "forwarded": forwarded,
        "proxy_failures": failures,
        "in_flight": in_flight,
        "pool_open": open,
        "pool_idle": idle,
        "pool_connects": connects,
    })
}

/// METRICS: LB totals and the node table as one line of JSON.
pub fn render_metrics(lb: &Lb) -> String {
    let now = lb.now();
    let reg = lb.registry.borrow();
    let t = reg.totals();
    let c = &lb.counters;
    let nodes: Vec<_> = reg
        .nodes()
        .iter()
        .map(|n| node_json(n, lb.pools.get(n.id).as_deref(), now))
        .collect();
    let a = &lb.cfg.args;
    serde_json::json!({
        "role": "lb",
        "addr": lb.addr.to_string(),
        "uptime_s": now as f64 / 1000.0,
        "mode": a.mode.name(),
        "route": a.route.name(),
        "pool_size": a.pool_size,
        "proxy_timeout_ms": a.proxy_timeout.as_millis() as u64,
        "max_value": a.max_value,
        "forwarded": c.forwarded.get(),
        "retries": c.retries.get(),
        "proxy_errors": c.proxy_errors.get(),
        "node_failures": c.node_failures.get(),
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
pub fn node_line(n: &Node, pool: Option<&NodePool>, now: u64) -> String {
    let [forwarded, failures, in_flight, ..] = pool_figures(pool);
    let mut s = format!(
        "{} {} cores={} linked={} clients={} load={} leases={} probes_ok={} \
         probe_failures={} evictions={} state_for_ms={} forwarded={forwarded} \
         proxy_failures={failures} in_flight={in_flight}",
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
    reg.nodes()
        .iter()
        .map(|n| node_line(n, lb.pools.get(n.id).as_deref(), now))
        .collect()
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
    let a = &lb.cfg.args;
    let _ = write!(
        o,
        "# Proxy\r\nmode:{}\r\nroute:{}\r\npool_size:{}\r\nproxy_timeout_ms:{}\r\n\
         max_value:{}\r\nforwarded:{}\r\nretries:{}\r\nproxy_errors:{}\r\n\
         node_failures:{}\r\n\r\n",
        a.mode.name(),
        a.route.name(),
        a.pool_size,
        a.proxy_timeout.as_millis(),
        a.max_value,
        c.forwarded.get(),
        c.retries.get(),
        c.proxy_errors.get(),
        c.node_failures.get(),
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
        let [forwarded, failures, ..] = pool_figures(lb.pools.get(n.id).as_deref());
        let _ = write!(
            o,
            "node{i}:addr={},state={},cores={},clients={},leases={},probe_failures={},\
             evictions={},forwarded={forwarded},proxy_failures={failures}\r\n",
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
