//! Cluster mode's slot map on the LB (`--mode cluster`): who may serve
//! which slots, and when a slot may change hands. A sans-I/O state machine:
//! callers pass `now` (ms on the LB clock).
//!
//! The LB is the grantor of Gray and Cheriton's leases. A node serves its
//! slots only while its ownership lease is valid, and renews it every
//! 200 ms over its registration link (`cluster::wire`). The rules that keep
//! a slot from ever having two owners:
//! - A slot moves in two steps. First the map *revokes* it (no owner, its
//!   old owner named in `revoked`); then, once the old owner has released
//!   it, the map grants it to the new owner. Released means: the old owner
//!   renewed saying it applies an epoch without the slot, or its lease has
//!   run out (plus [`DRIFT_MS`]), or it provably exited (its link was reset
//!   or closed by its kernel).
//! - A node that owes such an acknowledgement gets no lease extension until
//!   it gives it, so a node that cannot take a new map loses its lease
//!   within one lease, and its slots can then move.
//! - A node whose lease ran out keeps its slots in the map only while it
//!   stays a member; once dropped, its slots are granted elsewhere at once
//!   (its lease, counted from later than the node counts it, is over).

use crate::addr::HostPort;
use crate::cluster::{compute, Shard, SlotMap};
use crate::ownership::SLOTS;
use std::collections::HashMap;

/// Margin added to a lease on the LB's side for clock-rate drift between
/// the LB and a node (Gray and Cheriton's ε).
pub const DRIFT_MS: u64 = 100;

/// A node's lease, as the LB sees it.
#[derive(Clone, Debug, Default)]
struct Holder {
    /// LB-clock ms the lease was last extended to (answer time + lease).
    until: u64,
    /// The newest epoch the node said all its cores apply.
    acked: u64,
    /// It provably exited: its slots are free at once.
    exited: bool,
}

/// What a slot waits for before it can be granted again.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Revoked {
    /// The node that held it.
    from: HostPort,
    /// The first epoch without it.
    epoch: u64,
}

/// The LB's cluster state.
#[derive(Debug)]
pub struct Slots {
    map: SlotMap,
    lease_ms: u64,
    holders: HashMap<HostPort, Holder>,
    /// Per slot: the release it waits for, if it was revoked.
    revoked: Vec<Option<Revoked>>,
}

impl Slots {
    /// No map yet; leases of `lease_ms`.
    pub fn new(lease_ms: u64) -> Slots {
        Slots {
            map: SlotMap::empty(),
            lease_ms,
            holders: HashMap::new(),
            revoked: vec![None; usize::from(SLOTS)],
        }
    }

    /// The map in force.
    pub fn map(&self) -> &SlotMap {
        &self.map
    }

    /// The lease length.
    pub fn lease_ms(&self) -> u64 {
        self.lease_ms
    }

    /// Whether `node` may count as a member at `now`: its lease is valid.
    pub fn leased(&self, node: &HostPort, now: u64) -> bool {
        self.holders
            .get(node)
            .is_some_and(|h| !h.exited && now <= h.until + DRIFT_MS)
    }

    /// Whether `node` holds any slot in the map in force.
    pub fn holds(&self, node: &HostPort) -> bool {
        let idx: Vec<usize> = (0..self.map.shards().len())
            .filter(|&i| self.map.shards()[i].node == *node)
            .collect();
        (0..SLOTS).any(|s| self.map.owner(s).is_some_and(|o| idx.contains(&o)))
    }

    /// A node renews, saying all its cores apply `acked`. Returns the lease
    /// to grant (0: not extended, it owes an acknowledgement) and the map if
    /// the node's is older.
    pub fn renew(&mut self, node: &HostPort, acked: u64, now: u64) -> (u64, Option<SlotMap>) {
        let owes = self.owes(node, acked);
        let h = self.holders.entry(node.clone()).or_default();
        h.exited = false;
        h.acked = h.acked.max(acked);
        let lease = if owes {
            0
        } else {
            h.until = h.until.max(now + self.lease_ms);
            self.lease_ms
        };
        let map = (acked < self.map.epoch()).then(|| self.map.clone());
        (lease, map)
    }

    /// Whether `node`, applying `acked`, has yet to release a revoked slot.
    fn owes(&self, node: &HostPort, acked: u64) -> bool {
        self.revoked
            .iter()
            .flatten()
            .any(|r| r.from == *node && r.epoch > acked)
    }

    /// `node` provably exited: its lease ends now.
    pub fn exited(&mut self, node: &HostPort) {
        if let Some(h) = self.holders.get_mut(node) {
            h.exited = true;
        }
    }

    /// Whether the slot waiting on `r` may be granted at `now`.
    fn released(&self, r: &Revoked, now: u64) -> bool {
        match self.holders.get(&r.from) {
            None => true,
            Some(h) => h.exited || h.acked >= r.epoch || now > h.until + DRIFT_MS,
        }
    }

    /// Move the map one step toward what `members` (in a stable order)
    /// should hold: revoke what must move, grant what has been released.
    /// Returns whether the map changed (its epoch rose).
    pub fn advance(&mut self, members: &[Shard], now: u64) -> bool {
        let target = compute(&self.map, members);
        let epoch = self.map.epoch() + 1;
        let mut ranges: Vec<(u32, u32, usize)> = Vec::new();
        let mut changed = false;
        for s in 0..SLOTS {
            let cur = self.map.owner_shard(s);
            let want = target.owner(s);
            let want_shard = want.map(|i| &target.shards()[i]);
            let next = match (cur, want_shard) {
                (Some(c), Some(t)) if c.same(t) => want,
                (Some(c), _) => {
                    // Revoke first: nobody serves it until `c` lets go.
                    self.revoked[usize::from(s)] = Some(Revoked {
                        from: c.node.clone(),
                        epoch,
                    });
                    changed = true;
                    None
                }
                (None, Some(_)) => {
                    let free = self.revoked[usize::from(s)]
                        .as_ref()
                        .is_none_or(|r| self.released(r, now));
                    if free {
                        self.revoked[usize::from(s)] = None;
                        changed = true;
                        want
                    } else {
                        None
                    }
                }
                (None, None) => None,
            };
            if let Some(i) = next {
                match ranges.last_mut() {
                    Some(last) if last.2 == i && last.1 + 1 == u32::from(s) => last.1 += 1,
                    _ => ranges.push((u32::from(s), u32::from(s), i)),
                }
            }
        }
        // The shard list may change without any slot moving (a new member
        // with nothing yet, an address that moved): that is a new map too.
        changed |= target.shards() != self.map.shards();
        if !changed {
            return false;
        }
        self.map = SlotMap::from_parts(epoch, target.shards().to_vec(), &ranges)
            .expect("ranges built from a valid map");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(port: u16) -> HostPort {
        HostPort::new("127.0.0.1", port).unwrap()
    }

    fn shards(port: u16, cores: u16) -> Vec<Shard> {
        (0..cores)
            .map(|c| Shard::new(node(port), c, node(port + 1 + c)))
            .collect()
    }

    fn owner_node(s: &Slots, slot: u16) -> Option<u16> {
        s.map().owner_shard(slot).map(|x| x.node.port)
    }

    #[test]
    fn a_join_revokes_first_and_grants_once_the_old_owner_acknowledges() {
        let mut s = Slots::new(3000);
        let a = shards(7000, 2);
        assert!(s.advance(&a, 0));
        assert_eq!(s.map().assigned(), 16384);
        assert_eq!(s.renew(&node(7000), 0, 0).0, 3000);
        // B joins: A's moving slots are revoked, none granted yet.
        let mut ab = a.clone();
        ab.extend(shards(8000, 2));
        assert!(s.advance(&ab, 10));
        let epoch = s.map().epoch();
        let moving: Vec<u16> = (0..SLOTS)
            .filter(|&x| owner_node(&s, x).is_none())
            .collect();
        assert!(
            moving.len() >= 8000 && moving.len() <= 8400,
            "{}",
            moving.len()
        );
        assert!(!s.advance(&ab, 20), "nothing to do until A lets go");
        // A renews still on the old epoch: no extension, and it gets the map.
        let (lease, map) = s.renew(&node(7000), epoch - 1, 30);
        assert_eq!(lease, 0);
        assert_eq!(map.unwrap().epoch(), epoch);
        // A acknowledges: the slots go to B.
        assert_eq!(s.renew(&node(7000), epoch, 40).0, 3000);
        assert!(s.advance(&ab, 50));
        assert!(moving.iter().all(|&x| owner_node(&s, x) == Some(8000)));
        assert_eq!(s.map().assigned(), 16384);
    }

    #[test]
    fn a_silent_owner_is_waited_out_and_an_exited_one_is_not() {
        let mut s = Slots::new(3000);
        let (a, b) = (shards(7000, 1), shards(8000, 1));
        let both: Vec<Shard> = a.iter().chain(&b).cloned().collect();
        s.advance(&both, 0);
        s.renew(&node(7000), s.map().epoch(), 0);
        s.renew(&node(8000), s.map().epoch(), 0);
        // A goes quiet (hung or partitioned) and is dropped from the members.
        assert!(s.advance(&b, 1000));
        assert!(s.map().assigned() < 16384);
        assert!(
            !s.advance(&b, 3000 + DRIFT_MS),
            "A's lease may still be running"
        );
        assert!(s.advance(&b, 3001 + DRIFT_MS));
        assert_eq!(s.map().assigned(), 16384);
        // B exits: its slots are free for A at once.
        s.renew(&node(7000), s.map().epoch(), 4000);
        s.exited(&node(8000));
        assert!(s.advance(&a, 4001));
        assert!(s.advance(&a, 4002));
        assert_eq!(s.map().count(0), 16384);
        assert_eq!(s.map().shards()[0].node, node(7000));
    }
}
