//! Cluster mode's I/O side on the LB: the members the map is computed
//! from, the 100 ms tick that moves it (`slots::Slots::advance`), the
//! RENEW of a node's registration link, and the RESP answers that let
//! cluster clients bootstrap from the LB (CLUSTER SLOTS, SHARDS, NODES,
//! INFO, and `-MOVED` for every key command).

use super::registry::State;
use super::state::Lb;
use crate::addr::HostPort;
use crate::cluster::reply::{self as creply, Viewer};
use crate::cluster::{wire, Shard};
use crate::ownership::slot_for;
use crate::proto::{Proto, Reply};
use std::rc::Rc;
use std::time::Duration;

/// How often the map is moved toward its members: a lease that ran out or
/// an acknowledgement is acted on within this.
const TICK: Duration = Duration::from_millis(100);

/// Move the map every [`TICK`] until the LB stops.
pub async fn tick_loop(lb: Rc<Lb>) {
    while !lb.life.stopping() {
        step(&lb);
        glommio::timer::sleep(TICK).await;
    }
}

/// One step: compute the members, advance the map, log a new epoch.
pub fn step(lb: &Lb) {
    let now = lb.now();
    let members = members(lb, now);
    let mut slots = lb.slots.borrow_mut();
    if slots.advance(&members, now) {
        let m = slots.map();
        log::info!(
            "slot map epoch {}: {} of 16384 slots assigned over {} shards",
            m.epoch(),
            m.assigned(),
            m.shards().len()
        );
    }
}

/// The shards that should hold slots: every core of each node registered
/// in cluster mode (with core ports) whose lease is valid, and that is
/// healthy or still holds slots (a node that went down keeps them until its
/// lease runs out), and that is not leaving. In registration order, then
/// core order.
fn members(lb: &Lb, now: u64) -> Vec<Shard> {
    let reg = lb.registry.borrow();
    let slots = lb.slots.borrow();
    let mut out = Vec::new();
    for n in reg.nodes() {
        // A leaving node gets no share: its slots move off it.
        if n.core_ports.is_empty() || !slots.leased(&n.addr, now) || slots.leaving(&n.addr) {
            continue;
        }
        if n.state != State::Healthy && !slots.holds(&n.addr) {
            continue;
        }
        for (core, &port) in n.core_ports.iter().enumerate() {
            let addr = HostPort {
                host: n.addr.host.clone(),
                port,
            };
            out.push(Shard::new(n.addr.clone(), core as u16, addr));
        }
    }
    out
}

/// A node's RENEW on its link: the GRANT line to send back (see
/// `cluster::wire`).
pub fn renew(lb: &Lb, node: &HostPort, r: wire::Renewal) -> String {
    let now = lb.now();
    let (lease, map) = lb.slots.borrow_mut().renew(node, r, now);
    let slots = lb.slots.borrow();
    wire::grant_text(lease, slots.map().epoch(), map.as_ref())
}

/// A node reported the map it serves by, on registering: a restarted LB
/// carries on from the newest (see `slots::Slots::adopt`).
pub fn adopt(lb: &Lb, node: &HostPort, map: crate::cluster::SlotMap) {
    let epoch = map.epoch();
    if lb.slots.borrow_mut().adopt(map, lb.now()) {
        log::info!(
            "node {node} reported slot map epoch {epoch}: the map is now epoch {}",
            lb.slots.borrow().map().epoch()
        );
    }
}

/// The node whose link closed provably exited: its slots may move at once.
pub fn exited(lb: &Lb, node: &HostPort) {
    lb.slots.borrow_mut().exited(node);
    step(lb);
}

/// A RESP request in cluster mode that the LB answers from the map:
/// CLUSTER's read-only subcommands, READONLY/READWRITE/ASKING, and any
/// command with keys (`-MOVED` to the first key's owner). `None` for
/// anything else, which the LB then answers as outside cluster mode.
pub fn answer(lb: &Lb, proto: &mut Proto, args: &[&[u8]], out: &mut Vec<u8>) -> Option<()> {
    if args[0].eq_ignore_ascii_case(b"hello") {
        hello(proto, args, &mut Reply::new(out, *proto));
        return Some(());
    }
    let mut w = Reply::new(out, *proto);
    let slots = lb.slots.borrow();
    // What clients are shown: only what the owners already apply.
    let map = slots.published();
    let viewer = Viewer {
        myself: None,
        serving: true,
    };
    let name = args[0];
    if name.eq_ignore_ascii_case(b"cluster") {
        let Some(sub) = args.get(1) else {
            w.error("ERR wrong number of arguments for 'cluster' command");
            return Some(());
        };
        let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
        match (sub.as_str(), args.len()) {
            ("slots", 2) => creply::slots(map, &mut w),
            ("shards", 2) => creply::shards(map, &mut w),
            ("nodes", 2) => w.verbatim(creply::nodes(map, viewer).as_bytes()),
            ("info", 2) => w.verbatim(creply::info(map, viewer).as_bytes()),
            ("keyslot", 3) => w.int(i64::from(slot_for(args[2]))),
            ("slots" | "shards" | "nodes" | "info" | "keyslot", _) => w.error(&format!(
                "ERR wrong number of arguments for 'cluster|{sub}' command"
            )),
            _ => w.error(&format!(
                "ERR CLUSTER {} is not served by the LB: it owns the slot map, which it \
                 computes from the registered nodes (see docs/CLUSTER.md)",
                sub.to_ascii_uppercase()
            )),
        }
        return Some(());
    }
    if ["readonly", "readwrite", "asking"]
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
    {
        w.ok();
        return Some(());
    }
    let (_, spec) = crate::cmd::admit(args, true).ok()?;
    let first = spec.keys.positions(args).into_iter().flatten().next()?;
    let slot = slot_for(args[first]);
    match map.owner_shard(slot) {
        Some(s) => w.error(&creply::moved(slot, s)),
        None => w.error(creply::UNSERVED),
    }
    Some(())
}

/// HELLO [2|3 ...]: picks the RESP version of this connection's cluster
/// answers and describes the LB as a Redis Cluster node would.
fn hello(proto: &mut Proto, args: &[&[u8]], w: &mut Reply<'_>) {
    if let Some(v) = args.get(1) {
        match &v[..] {
            b"2" => *proto = Proto::Resp2,
            b"3" => *proto = Proto::Resp3,
            _ => return w.error("NOPROTO unsupported protocol version"),
        }
    }
    let mut w = Reply::new(w.raw(), *proto);
    w.map(7);
    for (k, v) in [("server", "redis"), ("version", "7.0.15")] {
        w.bulk(k.as_bytes());
        w.bulk(v.as_bytes());
    }
    w.bulk(b"proto");
    w.int(if *proto == Proto::Resp3 { 3 } else { 2 });
    w.bulk(b"id");
    w.int(0);
    for (k, v) in [("mode", "cluster"), ("role", "master")] {
        w.bulk(k.as_bytes());
        w.bulk(v.as_bytes());
    }
    w.bulk(b"modules");
    w.array(0);
}
