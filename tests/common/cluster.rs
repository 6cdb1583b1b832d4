//! Cluster mode's test harness: a node started with `--cluster` and the
//! ports of its cores, and an LB in `--mode cluster` with nodes registered,
//! waited on until its slot map covers every slot.

use super::{connect, poll_until, Lb, Node, RespConn, SLOW};
use std::net::SocketAddr;

/// A node in cluster mode and the ports of its cores, from its ready line.
pub struct ClusterNode {
    /// The node.
    pub node: Node,
    /// Its cores' own ports, by core.
    pub core_ports: Vec<u16>,
}

impl ClusterNode {
    /// `cachectl node --cluster --core-ports 0 <extra>` (2 cores).
    pub fn start(extra: &[&str]) -> ClusterNode {
        let mut args = vec!["--cluster", "--core-ports", "0"];
        args.extend_from_slice(extra);
        let mut node = Node::start(&args);
        let line = node.proc().ready_line().to_string();
        let ports = line
            .split("cluster core ports ")
            .nth(1)
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("no core ports in {line:?}"));
        let core_ports = ports.split(',').map(|p| p.parse().unwrap()).collect();
        ClusterNode { node, core_ports }
    }

    /// A raw RESP connection to core `c`'s own port.
    pub fn core(&self, c: usize) -> RespConn {
        RespConn::new(connect(self.core_addr(c)))
    }

    /// Core `c`'s own address.
    pub fn core_addr(&self, c: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.core_ports[c]))
    }
}

/// The LB in cluster mode and `n` nodes registered with it, once the map
/// covers every slot over all their cores.
pub fn lb_cluster(n: usize, lease: &str) -> (Lb, Vec<ClusterNode>) {
    let lb = Lb::start(&[
        "--mode",
        "cluster",
        "--cluster-lease",
        lease,
        "--health-interval",
        "500ms",
        "--health-timeout",
        "400ms",
    ]);
    let at = lb.addr.to_string();
    let nodes: Vec<ClusterNode> = (0..n).map(|_| ClusterNode::start(&["--lb", &at])).collect();
    let ports: Vec<u16> = nodes.iter().flat_map(|c| c.core_ports.clone()).collect();
    wait_map(&lb, &ports);
    // Every node has the map too: the LB publishes a map as it grants it,
    // and a node applies it at its next renewal (within 200 ms), so a
    // client sent to a node by the LB's CLUSTER SLOTS could get there first
    // and be told -CLUSTERDOWN.
    for n in &nodes {
        wait_map_at(n.core_addr(0), &ports);
    }
    (lb, nodes)
}

/// Wait until the LB's CLUSTER NODES lists exactly the shards on `ports`,
/// covering all 16384 slots, and the first of them has that map too (a
/// client that follows a MOVED from a node with an older map could be
/// sent to a node that is gone, or hung).
pub fn wait_map(lb: &Lb, ports: &[u16]) {
    wait_map_at(lb.addr, ports);
    wait_map_at(SocketAddr::from(([127, 0, 0, 1], ports[0])), ports);
}

pub fn wait_map_at(at: SocketAddr, ports: &[u16]) {
    poll_until(SLOW, &format!("the slot map at {at}"), || {
        let mut c = RespConn::new(connect(at));
        let info = c.cmd("CLUSTER INFO");
        let nodes = c.cmd("CLUSTER NODES");
        let listed = nodes.matches(" master ").count() + nodes.matches("myself,master").count();
        let all = ports
            .iter()
            .all(|p| nodes.contains(&format!("127.0.0.1:{p}@")));
        if info.contains("cluster_slots_assigned:16384") && listed == ports.len() && all {
            Ok(())
        } else {
            Err(format!("{info}\n{nodes}"))
        }
    });
}
