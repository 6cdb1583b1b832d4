//! CLUSTER SLOTS, SHARDS, NODES and INFO from a [`SlotMap`], in Redis
//! 7.0.15's formats, for a node (which is one of the shards) and for the LB
//! (which is none). Every shard is a master with no replicas.

use super::map::{Shard, SlotMap};
use crate::ownership::SLOTS;
use crate::proto::Reply;

/// Whose view a reply is: the shard index of the core answering, if it is
/// one, and whether its slots are being served now (its lease is valid).
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    /// This core's index in the map, or `None` on the LB.
    pub myself: Option<usize>,
    /// Whether the answering side serves its slots now.
    pub serving: bool,
}

/// CLUSTER SLOTS: `[first, last, [ip, port, id, {}]]` per range.
pub fn slots(map: &SlotMap, w: &mut Reply<'_>) {
    let spans = map.spans();
    w.array(spans.len());
    for span in spans {
        w.array(3);
        w.int(i64::from(span.start));
        w.int(i64::from(span.end));
        endpoint(&map.shards()[span.shard], w);
    }
}

/// `[ip, port, id, {}]`: the last is the hostname metadata Redis 7 adds,
/// an empty map (an empty array in RESP2) when no hostname is set.
fn endpoint(s: &Shard, w: &mut Reply<'_>) {
    w.array(4);
    w.bulk(s.addr.host.as_bytes());
    w.int(i64::from(s.addr.port));
    w.bulk(s.id.as_bytes());
    w.map(0);
}

/// CLUSTER SHARDS: per shard with slots, `slots` (flat first/last pairs)
/// and `nodes` (one master, described field by field).
pub fn shards(map: &SlotMap, w: &mut Reply<'_>) {
    let owning: Vec<usize> = (0..map.shards().len())
        .filter(|&i| map.count(i) > 0)
        .collect();
    w.array(owning.len());
    for i in owning {
        let s = &map.shards()[i];
        w.map(2);
        w.bulk(b"slots");
        let spans = map.spans_of(i);
        w.array(spans.len() * 2);
        for span in spans {
            w.int(i64::from(span.start));
            w.int(i64::from(span.end));
        }
        w.bulk(b"nodes");
        w.array(1);
        w.map(7);
        w.bulk(b"id");
        w.bulk(s.id.as_bytes());
        w.bulk(b"port");
        w.int(i64::from(s.addr.port));
        w.bulk(b"ip");
        w.bulk(s.addr.host.as_bytes());
        w.bulk(b"endpoint");
        w.bulk(s.addr.host.as_bytes());
        w.bulk(b"role");
        w.bulk(b"master");
        w.bulk(b"replication-offset");
        w.int(0);
        w.bulk(b"health");
        w.bulk(b"online");
    }
}

/// CLUSTER NODES's text: one line per shard, as redis-benchmark and
/// redis-cli read it (`id ip:port@cport flags master ping pong epoch link
/// slots...`).
pub fn nodes(map: &SlotMap, v: Viewer) -> String {
    let mut out = String::new();
    for (i, s) in map.shards().iter().enumerate() {
        let me = v.myself == Some(i);
        let cport = s.addr.port.checked_add(10000).unwrap_or(0);
        out.push_str(&format!(
            "{} {}:{}@{cport} {} - 0 0 {} connected",
            s.id,
            s.addr.host,
            s.addr.port,
            if me { "myself,master" } else { "master" },
            map.epoch(),
        ));
        for span in map.spans_of(i) {
            if span.start == span.end {
                out.push_str(&format!(" {}", span.start));
            } else {
                out.push_str(&format!(" {}-{}", span.start, span.end));
            }
        }
        if me {
            migrations(map, i, &mut out);
        }
        out.push('\n');
    }
    out
}

/// Redis's markers, on the viewer's own line only (as in Redis, only the
/// nodes of a move know of it): `[slot->-<target id>]` per slot moving
/// out of shard `me`, `[slot-<-<owner id>]` per slot moving into it.
fn migrations(map: &SlotMap, me: usize, out: &mut String) {
    for slot in 0..SLOTS {
        let (Some(to), Some(owner)) = (map.moving(slot), map.owner(slot)) else {
            continue;
        };
        // An announced move is IMPORTING on the target, not yet MIGRATING.
        if owner == me && map.migrating(slot).is_some() {
            out.push_str(&format!(" [{slot}->-{}]", map.shards()[to].id));
        } else if to == me {
            out.push_str(&format!(" [{slot}-<-{}]", map.shards()[owner].id));
        }
    }
}

/// CLUSTER INFO's text. The state is `ok` only while every slot has an
/// owner and the viewer serves (a node past its lease says `fail`, as a
/// minority Redis master does). There is no gossip, so the message
/// counters stay 0.
pub fn info(map: &SlotMap, v: Viewer) -> String {
    let assigned = map.assigned();
    let ok = assigned == usize::from(SLOTS) && v.serving;
    let size = (0..map.shards().len())
        .filter(|&i| map.count(i) > 0)
        .count();
    let mut out = String::new();
    let mut line = |k: &str, val: &dyn std::fmt::Display| out.push_str(&format!("{k}:{val}\r\n"));
    line("cluster_state", &if ok { "ok" } else { "fail" });
    line("cluster_slots_assigned", &assigned);
    line("cluster_slots_ok", &if v.serving { assigned } else { 0 });
    line("cluster_slots_pfail", &0);
    line("cluster_slots_fail", &if v.serving { 0 } else { assigned });
    line("cluster_known_nodes", &map.shards().len());
    line("cluster_size", &size);
    line("cluster_current_epoch", &map.epoch());
    line("cluster_my_epoch", &map.epoch());
    for k in [
        "cluster_stats_messages_sent",
        "cluster_stats_messages_received",
        "total_cluster_links_buffer_limit_exceeded",
    ] {
        line(k, &0);
    }
    out
}

/// The `-MOVED <slot> <host:port>` error text for `slot` owned by `to`.
pub fn moved(slot: u16, to: &Shard) -> String {
    format!("MOVED {slot} {}:{}", to.addr.host, to.addr.port)
}

/// The `-ASK <slot> <host:port>` error text for a key of `slot` that has
/// already moved to `to` (or, absent, would be created there).
pub fn ask(slot: u16, to: &Shard) -> String {
    format!("ASK {slot} {}:{}", to.addr.host, to.addr.port)
}

/// Redis Cluster's error for a multi-key command on a moving slot whose
/// keys are split between the two owners.
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

/// Redis Cluster's error for a slot no shard owns.
pub const UNSERVED: &str = "CLUSTERDOWN Hash slot not served";
/// Redis Cluster's error from a master that cannot serve (our lease ran out).
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";
/// Redis Cluster's error for keys of several slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::HostPort;

    #[test]
    fn cluster_nodes_marks_a_move_on_the_viewer_s_own_line_only() {
        let hp = |p| HostPort::new("127.0.0.1", p).unwrap();
        let shards = [
            Shard::new(hp(7000), 0, hp(7001)),
            Shard::new(hp(8000), 0, hp(8001)),
        ];
        // Shard 0 owns every slot; 5 and 6 move to shard 1.
        let map = SlotMap::from_parts(2, shards.to_vec(), &[(0, 16383, 0)])
            .and_then(|m| m.with_moves(&[(5, 6, 1)]))
            .unwrap();
        let (a, b) = (&map.shards()[0].id, &map.shards()[1].id);
        let view = |me| {
            nodes(
                &map,
                Viewer {
                    myself: Some(me),
                    serving: true,
                },
            )
        };
        let owner = view(0);
        let first = owner.lines().next().unwrap();
        assert!(
            first.ends_with(&format!(" 0-16383 [5->-{b}] [6->-{b}]")),
            "{first}"
        );
        assert!(!owner.lines().nth(1).unwrap().contains('['), "{owner}");
        let target = view(1);
        let second = target.lines().nth(1).unwrap();
        assert!(
            second.ends_with(&format!(" [5-<-{a}] [6-<-{a}]")),
            "{second}"
        );
        let lb = nodes(
            &map,
            Viewer {
                myself: None,
                serving: true,
            },
        );
        assert!(!lb.contains('['), "{lb}");
    }
}
