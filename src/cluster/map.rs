//! The slot map: which shard (a node's core) owns each of the 16384 slots,
//! under an epoch that rises on every change.
//!
//! [`compute`] is the only place a map is derived from the members. Its
//! rules, in order of weight:
//! 1. a slot whose owner is still a member keeps it, unless that owner holds
//!    more than its share;
//! 2. every member ends with its share, ⌊16384/N⌋ or one more;
//! 3. slots a member gives up are taken from the end of its highest range,
//!    and a member that takes slots takes the lowest free ones, so ranges
//!    stay few and long (CLUSTER SLOTS stays short).
//!
//! So a member that joins takes its share from the others and nothing else
//! moves, and a member that leaves hands its slots to the others and nothing
//! else moves: about 1/N of the slots either way, all to or from that
//! member. A fresh map of one node with `n` cores gives core `c` the slots
//! `[c·16384/n, (c+1)·16384/n)`, which is what a node outside cluster mode
//! uses too ([`crate::ownership::core_in_range`]).

use crate::addr::HostPort;
use crate::ownership::SLOTS;
use sha2::{Digest, Sha256};

/// "No owner" in the owner table.
const NONE: u16 = u16::MAX;

/// One shard of the cluster: one core of one node, served on its own port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// The node's main address, which the LB's registry is keyed by.
    pub node: HostPort,
    /// Which of the node's cores.
    pub core: u16,
    /// Where clients reach this core alone (its `--core-ports` port).
    pub addr: HostPort,
    /// Its Redis Cluster node id: 40 hex digits.
    pub id: String,
}

impl Shard {
    /// A shard; its id is derived from the node's address and the core, so
    /// it stays the same across restarts and LB restarts.
    pub fn new(node: HostPort, core: u16, addr: HostPort) -> Shard {
        let id = shard_id(&node, core);
        Shard {
            node,
            core,
            addr,
            id,
        }
    }

    /// The same shard of the same node (the address it serves on may move).
    pub fn same(&self, other: &Shard) -> bool {
        self.core == other.core && self.node == other.node
    }
}

/// A stable 40-hex-digit id for core `core` of the node at `node`.
pub fn shard_id(node: &HostPort, core: u16) -> String {
    let mut h = Sha256::new();
    h.update(b"cachectl shard id\0");
    h.update(node.to_string().as_bytes());
    h.update(b"\0");
    h.update(core.to_be_bytes());
    let digest = h.finalize();
    digest[..20].iter().map(|b| format!("{b:02x}")).collect()
}

/// A run of consecutive slots with one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First slot.
    pub start: u16,
    /// Last slot, inclusive.
    pub end: u16,
    /// Index into [`SlotMap::shards`].
    pub shard: usize,
}

/// Why a map from the wire was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A range past slot 16383 or with its end before its start.
    #[error("slot range {0}-{1} is not within 0-16383")]
    BadRange(u32, u32),
    /// A range names a shard the map does not list.
    #[error("slot range names shard {0}, but the map has {1}")]
    NoShard(usize, usize),
    /// Two ranges claim one slot.
    #[error("slot {0} is given twice")]
    Twice(u16),
    /// More shards than the owner table can name.
    #[error("{0} shards are more than a map can hold")]
    TooMany(usize),
    /// A slot moving with no owner to move it, or to its own owner.
    #[error("slot {0} cannot move: it has no owner or moves to its owner")]
    BadMove(u16),
}

/// Slot → shard, with the epoch it was made at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotMap {
    epoch: u64,
    shards: Vec<Shard>,
    /// Per slot, an index into `shards` or `NONE`.
    owner: Box<[u16]>,
    /// Per slot, the shard its keys are streaming to while its owner still
    /// serves it (a warm move: MIGRATING on the owner, IMPORTING on the
    /// target), or `NONE`.
    moving: Box<[u16]>,
    /// Per moving slot: only *announced* so far. The target takes ASKING
    /// for it (IMPORTING) but the owner serves it as its own, and streams
    /// nothing, until the LB has seen the target apply the map and starts
    /// the move (MIGRATING): the order in which redis-cli sets a Redis
    /// Cluster move up, so that an `-ASK` never reaches a target that
    /// would answer `-MOVED` back.
    announced: Box<[bool]>,
}

impl Default for SlotMap {
    fn default() -> Self {
        SlotMap::empty()
    }
}

impl SlotMap {
    /// Epoch 0: no shards, no slot served.
    pub fn empty() -> SlotMap {
        SlotMap {
            epoch: 0,
            shards: Vec::new(),
            owner: vec![NONE; usize::from(SLOTS)].into_boxed_slice(),
            moving: vec![NONE; usize::from(SLOTS)].into_boxed_slice(),
            announced: vec![false; usize::from(SLOTS)].into_boxed_slice(),
        }
    }

    /// A map from its parts, checked: every range within 0-16383, naming a
    /// listed shard, no slot twice.
    ///
    /// # Errors
    /// The first [`MapError`] found.
    pub fn from_parts(
        epoch: u64,
        shards: Vec<Shard>,
        ranges: &[(u32, u32, usize)],
    ) -> Result<SlotMap, MapError> {
        if shards.len() >= usize::from(NONE) {
            return Err(MapError::TooMany(shards.len()));
        }
        let mut owner = vec![NONE; usize::from(SLOTS)].into_boxed_slice();
        for &(start, end, shard) in ranges {
            if start > end || end >= u32::from(SLOTS) {
                return Err(MapError::BadRange(start, end));
            }
            if shard >= shards.len() {
                return Err(MapError::NoShard(shard, shards.len()));
            }
            for s in start..=end {
                let o = &mut owner[s as usize];
                if *o != NONE {
                    return Err(MapError::Twice(s as u16));
                }
                *o = shard as u16;
            }
        }
        Ok(SlotMap {
            epoch,
            shards,
            owner,
            moving: vec![NONE; usize::from(SLOTS)].into_boxed_slice(),
            announced: vec![false; usize::from(SLOTS)].into_boxed_slice(),
        })
    }

    /// This map with the slots of `moves` (first, last, target shard)
    /// streaming to their targets, checked: each slot has an owner other
    /// than its target.
    ///
    /// # Errors
    /// [`MapError`] for a range out of bounds, an unlisted shard, a slot
    /// given twice or a move that cannot be.
    pub fn with_moves(self, moves: &[(u32, u32, usize)]) -> Result<SlotMap, MapError> {
        self.add_moves(moves, false)
    }

    /// As [`SlotMap::with_moves`], for moves only announced so far (see
    /// `announced`).
    ///
    /// # Errors
    /// As [`SlotMap::with_moves`].
    pub fn with_announced(self, moves: &[(u32, u32, usize)]) -> Result<SlotMap, MapError> {
        self.add_moves(moves, true)
    }

    fn add_moves(
        mut self,
        moves: &[(u32, u32, usize)],
        announced: bool,
    ) -> Result<SlotMap, MapError> {
        for &(start, end, to) in moves {
            if start > end || end >= u32::from(SLOTS) {
                return Err(MapError::BadRange(start, end));
            }
            if to >= self.shards.len() {
                return Err(MapError::NoShard(to, self.shards.len()));
            }
            for s in start..=end {
                let (o, m) = (self.owner[s as usize], &mut self.moving[s as usize]);
                if *m != NONE {
                    return Err(MapError::Twice(s as u16));
                }
                if o == NONE || usize::from(o) == to {
                    return Err(MapError::BadMove(s as u16));
                }
                *m = to as u16;
                self.announced[s as usize] = announced;
            }
        }
        Ok(self)
    }

    /// The shard `slot`'s keys are moving to, if it is moving.
    #[inline]
    pub fn moving(&self, slot: u16) -> Option<usize> {
        match self.moving[usize::from(slot)] {
            NONE => None,
            t => Some(usize::from(t)),
        }
    }

    /// The shard `slot`'s owner is streaming its keys to (MIGRATING): a
    /// move that has started, not one only announced.
    #[inline]
    pub fn migrating(&self, slot: u16) -> Option<usize> {
        self.moving(slot)
            .filter(|_| !self.announced[usize::from(slot)])
    }

    /// Every run of started moves with one target, in slot order (the
    /// `shard` of each span is the target).
    pub fn move_spans(&self) -> Vec<Span> {
        self.spans_where(false)
    }

    /// Every run of announced moves with one target, in slot order.
    pub fn announce_spans(&self) -> Vec<Span> {
        self.spans_where(true)
    }

    fn spans_where(&self, announced: bool) -> Vec<Span> {
        let table: Vec<u16> = (0..usize::from(SLOTS))
            .map(|s| match self.announced[s] == announced {
                true => self.moving[s],
                false => NONE,
            })
            .collect();
        runs(&table)
    }

    /// Slots that are moving.
    pub fn moves(&self) -> usize {
        self.moving.iter().filter(|&&m| m != NONE).count()
    }

    /// The version: every change to the map raises it.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The shards, members or not; an index into this is what
    /// [`SlotMap::owner`] returns.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The shard that owns `slot`, if any does.
    #[inline]
    pub fn owner(&self, slot: u16) -> Option<usize> {
        match self.owner[usize::from(slot)] {
            NONE => None,
            o => Some(usize::from(o)),
        }
    }

    /// The shard that owns `slot`, by value.
    pub fn owner_shard(&self, slot: u16) -> Option<&Shard> {
        self.owner(slot).map(|i| &self.shards[i])
    }

    /// Every run of slots with one owner, in slot order.
    pub fn spans(&self) -> Vec<Span> {
        runs(&self.owner)
    }

    /// The runs of slots `shard` owns, in slot order.
    pub fn spans_of(&self, shard: usize) -> Vec<Span> {
        self.spans()
            .into_iter()
            .filter(|s| s.shard == shard)
            .collect()
    }

    /// Slots with an owner.
    pub fn assigned(&self) -> usize {
        self.owner.iter().filter(|&&o| o != NONE).count()
    }

    /// Slots `shard` owns.
    pub fn count(&self, shard: usize) -> usize {
        self.owner
            .iter()
            .filter(|&&o| usize::from(o) == shard)
            .count()
    }

    /// The index of `shard` (by node and core) in this map.
    pub fn position(&self, shard: &Shard) -> Option<usize> {
        self.shards.iter().position(|s| s.same(shard))
    }

    /// This map with a new epoch.
    pub fn with_epoch(mut self, epoch: u64) -> SlotMap {
        self.epoch = epoch;
        self
    }

    /// A map with the same owners as `self` for every slot `keep` accepts
    /// and no owner for the others, one epoch on. The LB's hand-off uses it
    /// to take slots from their old owner before giving them to the new one.
    pub fn revoking(&self, keep: impl Fn(u16, usize) -> bool) -> SlotMap {
        let mut next = self.clone();
        next.epoch += 1;
        for (s, o) in next.owner.iter_mut().enumerate() {
            if *o != NONE && !keep(s as u16, usize::from(*o)) {
                *o = NONE;
                next.moving[s] = NONE;
                next.announced[s] = false;
            }
        }
        next
    }
}

/// The runs of equal entries of a per-slot table, `NONE` left out.
fn runs(table: &[u16]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for (s, &o) in table.iter().enumerate() {
        if o == NONE {
            continue;
        }
        let s = s as u16;
        match out.last_mut() {
            Some(last) if last.shard == usize::from(o) && last.end + 1 == s => last.end = s,
            _ => out.push(Span {
                start: s,
                end: s,
                shard: usize::from(o),
            }),
        }
    }
    out
}

/// The map for `members`, moving as few of `prev`'s slots as the rules in
/// the module docs allow. The epoch rises by one if anything differs from
/// `prev` (owners or shard addresses), and stays otherwise. `members` is in
/// a stable order (the LB's registration order, then core): a tie is given
/// to the member listed first.
pub fn compute(prev: &SlotMap, members: &[Shard]) -> SlotMap {
    let n = members.len();
    let mut owner = vec![NONE; usize::from(SLOTS)];
    if n > 0 {
        // Each member's index in `prev`, to carry its slots over.
        let mut member_of = vec![None; prev.shards.len()];
        for (m, shard) in members.iter().enumerate() {
            if let Some(p) = prev.position(shard) {
                member_of[p] = Some(m);
            }
        }
        let mut held: Vec<Vec<u16>> = vec![Vec::new(); n];
        for (s, &o) in prev.owner.iter().enumerate() {
            if let Some(&Some(m)) = member_of.get(usize::from(o)) {
                held[m].push(s as u16);
            }
        }
        // Shares: ⌊S/N⌋ each and one more for the first S mod N members by
        // slots held, so a member that already holds the larger share keeps it.
        let base = usize::from(SLOTS) / n;
        let extra = usize::from(SLOTS) % n;
        let mut by_held: Vec<usize> = (0..n).collect();
        by_held.sort_by_key(|&m| std::cmp::Reverse(held[m].len()));
        let mut share = vec![base; n];
        for &m in by_held.iter().take(extra) {
            share[m] += 1;
        }
        for m in 0..n {
            // Give up the excess from the top, so the low ranges stay whole.
            held[m].truncate(share[m]);
            for &s in &held[m] {
                owner[usize::from(s)] = m as u16;
            }
        }
        // The free slots, lowest first, to each member short of its share.
        let free: Vec<u16> = (0..SLOTS)
            .filter(|&s| owner[usize::from(s)] == NONE)
            .collect();
        let mut free = free.into_iter();
        for m in 0..n {
            for _ in held[m].len()..share[m] {
                let s = free.next().expect("shares add up to the slot count");
                owner[usize::from(s)] = m as u16;
            }
        }
    }
    let mut next = SlotMap {
        epoch: prev.epoch,
        shards: members.to_vec(),
        owner: owner.into_boxed_slice(),
        moving: vec![NONE; usize::from(SLOTS)].into_boxed_slice(),
        announced: vec![false; usize::from(SLOTS)].into_boxed_slice(),
    };
    if !same_assignment(prev, &next) {
        next.epoch = prev.epoch + 1;
    }
    next
}

/// Whether both maps give every slot to the same shard at the same address.
pub fn same_assignment(a: &SlotMap, b: &SlotMap) -> bool {
    (0..SLOTS).all(|s| match (a.owner_shard(s), b.owner_shard(s)) {
        (None, None) => true,
        (Some(x), Some(y)) => x.same(y) && x.addr == y.addr,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(port: u16, cores: u16) -> Vec<Shard> {
        let n = HostPort::new("127.0.0.1", port).unwrap();
        (0..cores)
            .map(|c| {
                Shard::new(
                    n.clone(),
                    c,
                    HostPort::new("127.0.0.1", port + 1 + c).unwrap(),
                )
            })
            .collect()
    }

    fn moved(a: &SlotMap, b: &SlotMap) -> Vec<u16> {
        (0..SLOTS)
            .filter(|&s| match (a.owner_shard(s), b.owner_shard(s)) {
                (Some(x), Some(y)) => !x.same(y),
                (None, None) => false,
                _ => true,
            })
            .collect()
    }

    #[test]
    fn a_fresh_node_gets_contiguous_halves_like_a_plain_node() {
        let m = compute(&SlotMap::empty(), &node(7000, 2));
        assert_eq!(m.epoch(), 1);
        let spans = m.spans();
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].start, spans[0].end, spans[0].shard), (0, 8191, 0));
        assert_eq!(
            (spans[1].start, spans[1].end, spans[1].shard),
            (8192, 16383, 1)
        );
        for s in 0..SLOTS {
            assert_eq!(m.owner(s), Some(crate::ownership::core_in_range(s, 2)));
        }
        // The same members again: no change, no new epoch.
        assert_eq!(compute(&m, &node(7000, 2)), m);
    }

    #[test]
    fn joins_and_leaves_move_only_their_share_and_only_to_or_from_that_node() {
        let mut members = node(7000, 2);
        let mut map = compute(&SlotMap::empty(), &members);
        for port in [7100, 7200, 7300, 7400] {
            let joining = node(port, 2);
            members.extend(joining.iter().cloned());
            let next = compute(&map, &members);
            let moved = moved(&map, &next);
            let n = members.len() as f64;
            assert!(
                moved.len() as f64 <= f64::from(SLOTS) * (2.0 / n + 0.05),
                "{}",
                moved.len()
            );
            assert!(moved
                .iter()
                .all(|&s| joining.iter().any(|j| next.owner_shard(s).unwrap().same(j))));
            assert_eq!(next.epoch(), map.epoch() + 1);
            assert_eq!(next.assigned(), usize::from(SLOTS));
            for i in 0..members.len() {
                let c = next.count(i);
                assert!(c == 16384 / members.len() || c == 16384 / members.len() + 1);
            }
            map = next;
        }
        // The second node leaves.
        let gone: Vec<Shard> = members.drain(2..4).collect();
        let next = compute(&map, &members);
        let moved = moved(&map, &next);
        assert!(moved
            .iter()
            .all(|&s| gone.iter().any(|g| map.owner_shard(s).unwrap().same(g))));
        assert_eq!(next.assigned(), usize::from(SLOTS));
        // Ranges stay few: at most a handful per shard.
        assert!(
            next.spans().len() <= 4 * members.len(),
            "{}",
            next.spans().len()
        );
    }

    #[test]
    fn no_members_no_owners_and_parts_are_checked() {
        let m = compute(&compute(&SlotMap::empty(), &node(7000, 1)), &[]);
        assert_eq!(m.assigned(), 0);
        assert_eq!(m.epoch(), 2);
        let shards = node(7000, 1);
        assert_eq!(
            SlotMap::from_parts(1, shards.clone(), &[(0, 16384, 0)]),
            Err(MapError::BadRange(0, 16384))
        );
        assert_eq!(
            SlotMap::from_parts(1, shards.clone(), &[(0, 1, 1)]),
            Err(MapError::NoShard(1, 1))
        );
        assert_eq!(
            SlotMap::from_parts(1, shards.clone(), &[(0, 5, 0), (5, 9, 0)]),
            Err(MapError::Twice(5))
        );
        let ok = SlotMap::from_parts(3, shards, &[(10, 20, 0)]).unwrap();
        assert_eq!(ok.count(0), 11);
        assert_eq!(ok.owner(9), None);
        let revoked = ok.revoking(|s, _| s < 15);
        assert_eq!((revoked.epoch(), revoked.count(0)), (4, 5));
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = node(7000, 2);
        assert_eq!(a[0].id.len(), 40);
        assert_ne!(a[0].id, a[1].id);
        assert_eq!(node(7000, 2)[1].id, a[1].id);
        assert_ne!(node(7001, 1)[0].id, a[0].id);
    }
}
