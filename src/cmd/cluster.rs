//! CLUSTER and its companions (READONLY, READWRITE, ASKING): what a node in
//! cluster mode (`--cluster`) tells Redis Cluster clients about the slot
//! map. The map itself is the LB's (`cluster::map`); these rows read this
//! core's copy of it through [`Server::cluster`](super::client::Server::cluster). COUNTKEYSINSLOT and
//! GETKEYSINSLOT read shards, so the node runs them
//! ([`NodeCmd::KeysInSlot`]). Outside cluster mode every one answers as
//! Redis does without `cluster-enabled`.

use super::client::Conn;
use super::spec::{Flags, Keys, NodeCmd, Run, Spec};
use crate::cluster::reply::{self, Viewer};
use crate::cluster::SlotMap;
use crate::ownership::slot_for;
use crate::proto::Reply;

/// Redis's reply to a CLUSTER command without `cluster-enabled`.
pub const DISABLED: &str = "ERR This instance has cluster support disabled";

/// Redis 7.0.15's flags of the read-only subcommands.
const READ: Flags = Flags::STALE;
/// Its flags of the administrator's subcommands.
const ADMIN_FLAGS: Flags = Flags::ADMIN
    .with(Flags::NO_ASYNC_LOADING)
    .with(Flags::STALE);

/// The administrator's subcommands: the LB owns the map, so none applies.
const ADMIN: &[&str] = &[
    "addslots",
    "addslotsrange",
    "delslots",
    "delslotsrange",
    "flushslots",
    "meet",
    "forget",
    "setslot",
    "replicate",
    "failover",
    "reset",
    "bumpepoch",
    "saveconfig",
    "set-config-epoch",
];

macro_rules! sub {
    ($name:literal, $arity:expr, $f:expr) => {
        Spec::new($name, $arity, READ, Keys::NONE, Run::Conn($f))
    };
}

macro_rules! admin {
    ($name:literal, $arity:expr) => {
        Spec::new($name, $arity, ADMIN_FLAGS, Keys::NONE, Run::Conn(admin))
    };
}

const SUBS: &[Spec] = &[
    sub!("cluster|slots", 2, slots),
    sub!("cluster|shards", 2, shards),
    sub!("cluster|nodes", 2, nodes),
    sub!("cluster|info", 2, info),
    sub!("cluster|myid", 2, myid),
    sub!("cluster|myshardid", 2, myid),
    sub!("cluster|keyslot", 3, keyslot),
    Spec::new(
        "cluster|countkeysinslot",
        3,
        READ,
        Keys::NONE,
        Run::Node(NodeCmd::KeysInSlot),
    ),
    Spec::new(
        "cluster|getkeysinslot",
        4,
        READ,
        Keys::NONE,
        Run::Node(NodeCmd::KeysInSlot),
    ),
    admin!("cluster|addslots", -3),
    admin!("cluster|addslotsrange", -4),
    admin!("cluster|delslots", -3),
    admin!("cluster|delslotsrange", -4),
    admin!("cluster|flushslots", 2),
    admin!("cluster|meet", -4),
    admin!("cluster|forget", 3),
    admin!("cluster|setslot", -4),
    admin!("cluster|replicate", 3),
    admin!("cluster|failover", -2),
    Spec::new(
        "cluster|reset",
        -2,
        Flags::ADMIN.with(Flags::NOSCRIPT).with(Flags::STALE),
        Keys::NONE,
        Run::Conn(admin),
    ),
    admin!("cluster|bumpepoch", 2),
    admin!("cluster|saveconfig", 2),
    admin!("cluster|set-config-epoch", 3),
];

/// The cluster family.
pub const COMMANDS: &[Spec] = &[
    Spec::container(
        "cluster",
        -2,
        Flags::NONE,
        Run::Conn(super::server::no_sub),
        SUBS,
    ),
    Spec::new(
        "readonly",
        1,
        Flags::FAST.with(Flags::LOADING).with(Flags::STALE),
        Keys::NONE,
        Run::Conn(ok),
    ),
    Spec::new(
        "readwrite",
        1,
        Flags::FAST.with(Flags::LOADING).with(Flags::STALE),
        Keys::NONE,
        Run::Conn(ok),
    ),
    Spec::new("asking", 1, Flags::FAST, Keys::NONE, Run::Conn(asking)),
];

/// Run `f` with this core's map, or answer [`DISABLED`].
fn with_map(c: &Conn<'_>, w: &mut Reply<'_>, f: impl FnOnce(&SlotMap, Viewer, &mut Reply<'_>)) {
    let mut f = Some(f);
    let shown = c.server.cluster(&mut |map, viewer| {
        if let Some(f) = f.take() {
            f(map, viewer, w);
        }
    });
    if !shown {
        w.error(DISABLED);
    }
}

fn slots(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    with_map(c, w, |m, _, w| reply::slots(m, w));
}

fn shards(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    with_map(c, w, |m, _, w| reply::shards(m, w));
}

fn nodes(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    with_map(c, w, |m, v, w| w.verbatim(reply::nodes(m, v).as_bytes()));
}

fn info(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    with_map(c, w, |m, v, w| w.verbatim(reply::info(m, v).as_bytes()));
}

/// MYID (and MYSHARDID: every shard is one master, so they are the same).
fn myid(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    with_map(c, w, |m, v, w| match v.myself {
        Some(i) => w.bulk(m.shards()[i].id.as_bytes()),
        None => w.error("ERR this core is not in the slot map yet"),
    });
}

fn keyslot(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let key = args[2];
    with_map(c, w, |_, _, w| w.int(i64::from(slot_for(key))));
}

fn admin(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_uppercase();
    debug_assert!(ADMIN.contains(&sub.to_ascii_lowercase().as_str()));
    with_map(c, w, |_, _, w| {
        w.error(&format!(
            "ERR CLUSTER {sub} is not available: the LB (cachectl lb --mode cluster) owns the \
             slot map and moves slots itself (see docs/CLUSTER.md)"
        ))
    });
}

/// READONLY, READWRITE: accepted in cluster mode. Every shard is a master,
/// so neither changes a reply.
fn ok(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    with_map(c, w, |_, _, w| w.ok());
}

/// ASKING: the next command may use a slot moving into this shard (after
/// an `-ASK` from its owner).
fn asking(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    let mut on = false;
    with_map(c, w, |_, _, w| {
        on = true;
        w.ok()
    });
    c.client.asking |= on;
}

/// The slot argument of COUNTKEYSINSLOT and GETKEYSINSLOT, and
/// GETKEYSINSLOT's count, checked with Redis's texts.
///
/// # Errors
/// The error reply's text.
pub fn slot_args(args: &[&[u8]]) -> Result<(u16, Option<usize>), &'static str> {
    const NOT_INT: &str = "ERR value is not an integer or out of range";
    let slot = crate::store::parse_i64(args[2]).ok_or(NOT_INT)?;
    match args.get(3) {
        None => match u16::try_from(slot) {
            Ok(s) if s < crate::ownership::SLOTS => Ok((s, None)),
            _ => Err("ERR Invalid slot"),
        },
        Some(n) => {
            let n = crate::store::parse_i64(n).ok_or(NOT_INT)?;
            match (u16::try_from(slot), usize::try_from(n)) {
                (Ok(s), Ok(n)) if s < crate::ownership::SLOTS => Ok((s, Some(n))),
                _ => Err("ERR Invalid slot or number of keys"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_arguments_are_checked_as_redis_checks_them() {
        let a = |x: &[&str]| {
            let v: Vec<&[u8]> = x.iter().map(|s| s.as_bytes()).collect();
            slot_args(&v)
        };
        assert_eq!(a(&["cluster", "countkeysinslot", "5"]), Ok((5, None)));
        assert_eq!(
            a(&["cluster", "countkeysinslot", "16384"]),
            Err("ERR Invalid slot")
        );
        assert_eq!(
            a(&["cluster", "countkeysinslot", "-1"]),
            Err("ERR Invalid slot")
        );
        assert_eq!(
            a(&["cluster", "countkeysinslot", "x"]),
            Err("ERR value is not an integer or out of range")
        );
        assert_eq!(a(&["cluster", "getkeysinslot", "1", "3"]), Ok((1, Some(3))));
        assert_eq!(
            a(&["cluster", "getkeysinslot", "1", "-1"]),
            Err("ERR Invalid slot or number of keys")
        );
        assert_eq!(
            a(&["cluster", "getkeysinslot", "1", "y"]),
            Err("ERR value is not an integer or out of range")
        );
    }
}
