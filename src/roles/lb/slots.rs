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
//!
//! A slot whose owner is alive (its lease valid) moves *warm* instead:
//! - The map first *announces* the move: the target takes ASKING for it
//!   (Redis's IMPORTING), the owner still serves it as its own. Once the
//!   target says it applies that map, the move *starts*: the owner streams
//!   its keys to the target (MIGRATING). The order redis-cli sets a Redis
//!   Cluster move up in, so an `-ASK` never meets a target that would
//!   answer `-MOVED` back. The owner answers `-ASK` for a key it no
//!   longer has, and creates no key in the slot, so once it holds none it
//!   can hold none again.
//! - The owner renews naming the newest epoch it has *drained*: every core
//!   streamed out every key of every slot moving away in that epoch's map.
//!   Once that reaches the epoch the move started in, the slot goes to the
//!   target in one step: the old owner holds none of its keys, so no
//!   revocation is needed.
//! - A move that has not finished within [`MOVE_TIMEOUT_MS`], or whose
//!   owner lost its lease, falls back to the cold hand-off above (the keys
//!   not yet streamed are lost, as in a crash).
//!
//! An LB that (re)starts knows nothing of the leases its predecessor
//! granted, which may run for one more lease. So for its first lease (plus
//! [`DRIFT_MS`]) it moves no slot: the *quiet* period. Meanwhile nodes
//! re-register and report the map they serve by (`MAP:` on the link), and
//! the LB adopts the newest one as its own, so the cluster carries on
//! where it was instead of reshuffling. A node that applies an older epoch
//! than the adopted one gets no lease extension until it applies it: its
//! older map may give it slots the adopted one gives elsewhere.

use crate::addr::HostPort;
use crate::cluster::wire::Renewal;
use crate::cluster::{compute, Shard, SlotMap};
use crate::ownership::SLOTS;
use std::collections::HashMap;

/// Margin added to a lease on the LB's side for clock-rate drift between
/// the LB and a node (Gray and Cheriton's ε).
pub const DRIFT_MS: u64 = 100;

/// How long a warm move may take before it falls back to the cold
/// hand-off: enough for millions of small keys over loopback.
pub const MOVE_TIMEOUT_MS: u64 = 120_000;

/// A node's lease, as the LB sees it.
#[derive(Clone, Debug, Default)]
struct Holder {
    /// LB-clock ms the lease was last extended to (answer time + lease).
    until: u64,
    /// The newest epoch the node said all its cores apply.
    acked: u64,
    /// The newest epoch whose outgoing moves every core has streamed.
    drained: u64,
    /// It provably exited: its slots are free at once.
    exited: bool,
    /// It is stopping and asks for its slots to move off it first.
    leaving: bool,
}

/// What a slot waits for before it can be granted again.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Revoked {
    /// The node that held it.
    from: HostPort,
    /// The first epoch without it.
    epoch: u64,
}

/// A slot moving warm: since when, and in which epoch its current step
/// (announced, or started: the map in force says which) began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Moving {
    epoch: u64,
    since: u64,
}

/// The LB's cluster state.
#[derive(Debug)]
pub struct Slots {
    map: SlotMap,
    lease_ms: u64,
    holders: HashMap<HostPort, Holder>,
    /// Per slot: the release it waits for, if it was revoked.
    revoked: Vec<Option<Revoked>>,
    /// Per slot: its warm move, while the map says it is moving.
    moving: Vec<Option<Moving>>,
    /// LB-clock ms until which no slot moves (see the module docs).
    quiet_until: u64,
    /// A node applying an epoch below this gets no lease: the epoch of an
    /// adopted map, or of the map that superseded a node's newer one.
    floor: u64,
    /// What clients are shown (CLUSTER SLOTS, `-MOVED`, LEASE): the newest
    /// map every slot owner applies, so a client sent by it meets an owner
    /// that knows it owns the slot (see [`Slots::published`]).
    published: SlotMap,
    /// LB-clock ms the map in force was made.
    made_at: u64,
}

impl Slots {
    /// No map yet; leases of `lease_ms`; no slot moves before `quiet_until`
    /// (an LB passes its start plus one lease plus [`DRIFT_MS`]).
    pub fn new(lease_ms: u64, quiet_until: u64) -> Slots {
        Slots {
            map: SlotMap::empty(),
            lease_ms,
            holders: HashMap::new(),
            revoked: vec![None; usize::from(SLOTS)],
            moving: vec![None; usize::from(SLOTS)],
            quiet_until,
            floor: 0,
            published: SlotMap::empty(),
            made_at: 0,
        }
    }

    /// The map to show clients: the newest one whose every slot owner has
    /// said it applies it, or the map in force once it is a lease old (an
    /// owner that never says so loses its lease by then, or keeps serving
    /// by the map anyway). Without this, a client that read CLUSTER SLOTS
    /// just after a change could reach a new owner before that owner has
    /// the map, and be told `-CLUSTERDOWN Hash slot not served`.
    pub fn published(&self) -> &SlotMap {
        &self.published
    }

    /// Publish the map in force if its owners all apply it (or it is old
    /// enough).
    fn republish(&mut self, now: u64) {
        let epoch = self.map.epoch();
        if self.published.epoch() == epoch {
            return;
        }
        let shards = self.map.shards();
        let applied = (0..SLOTS).filter_map(|s| self.map.owner(s)).all(|i| {
            self.holders
                .get(&shards[i].node)
                .is_some_and(|h| h.acked >= epoch)
        });
        if applied || now.saturating_sub(self.made_at) >= self.lease_ms {
            self.published = self.map.clone();
        }
    }

    /// A node reports the map it serves by (on registering). In the quiet
    /// period the newest such map becomes the LB's own, moves and all.
    /// Later, a map newer than the LB's (a node that was cut off while the
    /// LB restarted) only raises the LB's epoch above it, so the node
    /// takes the LB's map. Returns whether the LB's map changed.
    pub fn adopt(&mut self, map: SlotMap, now: u64) -> bool {
        let epoch = map.epoch();
        if epoch <= self.map.epoch() {
            return false;
        }
        if now < self.quiet_until {
            for s in 0..SLOTS {
                let i = usize::from(s);
                self.revoked[i] = None;
                self.moving[i] = map.moving(s).map(|_| Moving { epoch, since: now });
            }
            self.map = map;
        } else {
            let map = std::mem::take(&mut self.map);
            self.map = map.with_epoch(epoch + 1);
        }
        self.floor = self.map.epoch();
        self.made_at = now;
        self.republish(now);
        true
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

    /// Whether `node` is stopping: it is no member of the next map, but
    /// its slots move off it warm while its lease holds.
    pub fn leaving(&self, node: &HostPort) -> bool {
        self.holders.get(node).is_some_and(|h| h.leaving)
    }

    /// Whether `node` holds any slot in the map in force.
    pub fn holds(&self, node: &HostPort) -> bool {
        let idx: Vec<usize> = (0..self.map.shards().len())
            .filter(|&i| self.map.shards()[i].node == *node)
            .collect();
        (0..SLOTS).any(|s| self.map.owner(s).is_some_and(|o| idx.contains(&o)))
    }

    /// A node renews, saying the epoch all its cores apply and the newest
    /// they have drained. Returns the lease to grant (0: not extended, it
    /// owes an acknowledgement) and the map if the node's is older.
    pub fn renew(&mut self, node: &HostPort, r: Renewal, now: u64) -> (u64, Option<SlotMap>) {
        let acked = r.applied;
        let owes = self.owes(node, acked);
        let h = self.holders.entry(node.clone()).or_default();
        h.exited = false;
        h.acked = h.acked.max(acked);
        h.drained = h.drained.max(r.drained.min(acked));
        h.leaving = r.leaving;
        let lease = if owes {
            0
        } else {
            h.until = h.until.max(now + self.lease_ms);
            self.lease_ms
        };
        let map = (acked < self.map.epoch()).then(|| self.map.clone());
        self.republish(now);
        (lease, map)
    }

    /// Whether `node`, applying `acked`, has yet to release a revoked slot,
    /// or applies an epoch older than an adopted map's.
    fn owes(&self, node: &HostPort, acked: u64) -> bool {
        acked < self.floor
            || self
                .revoked
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

    /// Whether the warm move of a slot that began in `epoch` is done: its
    /// owner `from` has drained that epoch.
    fn drained(&self, from: &HostPort, epoch: u64) -> bool {
        self.holders.get(from).is_some_and(|h| h.drained >= epoch)
    }

    /// Move the map one step toward what `members` (in a stable order)
    /// should hold: start warm moves from live owners, finish the drained
    /// ones, revoke what must move cold, grant what has been released.
    /// Returns whether the map changed (its epoch rose).
    pub fn advance(&mut self, members: &[Shard], now: u64) -> bool {
        if now < self.quiet_until {
            return false;
        }
        self.republish(now);
        let target = compute(&self.map, members);
        let epoch = self.map.epoch() + 1;
        // A leaving node is no member, but while its lease holds it stays
        // in the shard list as the source of its slots' warm moves, and as
        // the target of the moves into it that have started: those finish
        // first (keys already streamed to it exist nowhere else), and it
        // then hands the slots on like its own.
        let staying = |c: &Shard| self.leaving(&c.node) && self.leased(&c.node, now);
        // Per slot: the leaving target (its index in the map in force) of
        // a move into it that finishes.
        let finishing: Vec<Option<usize>> = (0..SLOTS)
            .map(|s| {
                self.map
                    .migrating(s)
                    .filter(|&m| staying(&self.map.shards()[m]))
            })
            .collect();
        let mut shards = target.shards().to_vec();
        for s in 0..SLOTS {
            let owner = self.map.owner_shard(s).filter(|c| staying(c));
            let into = finishing[usize::from(s)].map(|m| &self.map.shards()[m]);
            for c in owner.into_iter().chain(into) {
                if !shards.iter().any(|x| x.same(c)) {
                    shards.push(c.clone());
                }
            }
        }
        let position = |c: &Shard| shards.iter().position(|x| x.same(c));
        let mut ranges: Vec<(u32, u32, usize)> = Vec::new();
        let mut moves: Vec<(u32, u32, usize)> = Vec::new();
        let mut announced: Vec<(u32, u32, usize)> = Vec::new();
        let mut changed = false;
        for s in 0..SLOTS {
            let i = usize::from(s);
            let cur = self.map.owner_shard(s);
            let (want, want_shard) = match finishing[i].map(|m| &self.map.shards()[m]) {
                Some(t) => (position(t), Some(t)),
                None => {
                    let w = target.owner(s);
                    (w, w.map(|w| &target.shards()[w]))
                }
            };
            let was_moving = self.map.moving(s).map(|m| &self.map.shards()[m]);
            // Started (MIGRATING), or only announced.
            let started = self.map.migrating(s).is_some();
            // (owner, moving to, only announced) in the next map, as
            // indices into target's shards.
            let next: (Option<usize>, Option<usize>, bool) = match (cur, want_shard) {
                (Some(c), Some(t)) if c.same(t) => {
                    changed |= was_moving.is_some();
                    self.moving[i] = None;
                    (want, None, false)
                }
                (Some(c), Some(t)) if self.leased(&c.node, now) && position(c).is_some() => {
                    let from = position(c);
                    let going = self.moving[i].filter(|_| was_moving.is_some_and(|m| m.same(t)));
                    let applies = |e: u64| self.holders.get(&t.node).is_some_and(|h| h.acked >= e);
                    match going {
                        Some(m) if started && self.drained(&c.node, m.epoch) => {
                            // Drained: the target owns it from now on.
                            self.moving[i] = None;
                            changed = true;
                            (want, None, false)
                        }
                        Some(m) if now.saturating_sub(m.since) > MOVE_TIMEOUT_MS => {
                            log::warn!(
                                "slot {s}: its move from {} to {} took over {} s; handing it over cold",
                                c.node,
                                t.node,
                                MOVE_TIMEOUT_MS / 1000
                            );
                            revoke(&mut self.moving, &mut self.revoked, s, c, epoch);
                            changed = true;
                            (None, None, false)
                        }
                        Some(m) if !started && applies(m.epoch) => {
                            // The target takes ASKING now: the owner may
                            // answer -ASK and stream.
                            self.moving[i] = Some(Moving {
                                epoch,
                                since: m.since,
                            });
                            changed = true;
                            (from, want, false)
                        }
                        Some(_) => (from, want, !started),
                        None => {
                            self.moving[i] = Some(Moving { epoch, since: now });
                            changed = true;
                            (from, want, true)
                        }
                    }
                }
                (Some(c), _) => {
                    // Revoke first: nobody serves it until `c` lets go.
                    revoke(&mut self.moving, &mut self.revoked, s, c, epoch);
                    changed = true;
                    (None, None, false)
                }
                (None, Some(_)) => {
                    let free = self.revoked[i]
                        .as_ref()
                        .is_none_or(|r| self.released(r, now));
                    if free {
                        self.revoked[i] = None;
                        changed = true;
                        (want, None, false)
                    } else {
                        (None, None, false)
                    }
                }
                (None, None) => (None, None, false),
            };
            push_run(&mut ranges, s, next.0);
            match next.2 {
                true => push_run(&mut announced, s, next.1),
                false => push_run(&mut moves, s, next.1),
            }
        }
        // A leaving source that has handed everything on leaves the list.
        let members = target.shards().len();
        let used = |i: usize| {
            ranges
                .iter()
                .chain(&moves)
                .chain(&announced)
                .any(|r| r.2 == i)
        };
        let keep: Vec<usize> = (0..shards.len())
            .filter(|&i| i < members || used(i))
            .collect();
        if keep.len() < shards.len() {
            let at = |i: usize| keep.iter().position(|&k| k == i).expect("kept");
            for r in ranges
                .iter_mut()
                .chain(moves.iter_mut())
                .chain(announced.iter_mut())
            {
                r.2 = at(r.2);
            }
            shards = keep.iter().map(|&i| shards[i].clone()).collect();
        }
        // The shard list may change without any slot moving (a new member
        // with nothing yet, an address that moved): that is a new map too.
        changed |= shards != self.map.shards();
        if !changed {
            return false;
        }
        self.map = SlotMap::from_parts(epoch, shards, &ranges)
            .and_then(|m| m.with_moves(&moves))
            .and_then(|m| m.with_announced(&announced))
            .expect("ranges built from a valid map");
        self.made_at = now;
        self.republish(now);
        true
    }
}

/// Take slot `s` from `from`: no owner until it releases the slot.
fn revoke(
    moving: &mut [Option<Moving>],
    revoked: &mut [Option<Revoked>],
    s: u16,
    from: &Shard,
    epoch: u64,
) {
    moving[usize::from(s)] = None;
    revoked[usize::from(s)] = Some(Revoked {
        from: from.node.clone(),
        epoch,
    });
}

/// Extend the runs in `out` with slot `s` of shard `i` (if any).
fn push_run(out: &mut Vec<(u32, u32, usize)>, s: u16, i: Option<usize>) {
    let Some(i) = i else { return };
    match out.last_mut() {
        Some(last) if last.2 == i && last.1 + 1 == u32::from(s) => last.1 += 1,
        _ => out.push((u32::from(s), u32::from(s), i)),
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

    /// Nodes 7000 and 8000 (one core each), both leased, sharing the slots
    /// in epoch 1 (neither has applied it yet).
    fn two_leased_nodes() -> (Slots, Vec<Shard>) {
        let mut s = Slots::new(3000, 0);
        let mut ab = shards(7000, 1);
        ab.extend(shards(8000, 1));
        s.renew(&node(7000), rn(0, 0), 0);
        s.renew(&node(8000), rn(0, 0), 0);
        assert!(s.advance(&ab, 0));
        (s, ab)
    }

    fn rn(applied: u64, drained: u64) -> Renewal {
        Renewal {
            applied,
            drained,
            leaving: false,
        }
    }

    #[test]
    fn a_join_moves_warm_and_hands_over_once_the_owner_has_drained() {
        let mut s = Slots::new(3000, 0);
        let a = shards(7000, 2);
        assert!(s.advance(&a, 0));
        assert_eq!(s.map().assigned(), 16384);
        assert_eq!(s.renew(&node(7000), rn(1, 1), 0).0, 3000);
        // B joins: A keeps its slots, marked moving to B.
        let mut ab = a.clone();
        ab.extend(shards(8000, 2));
        assert!(s.advance(&ab, 10));
        let epoch = s.map().epoch();
        assert_eq!(s.map().assigned(), 16384, "A still serves every slot");
        let moving: Vec<u16> = (0..SLOTS)
            .filter(|&x| s.map().moving(x).is_some())
            .collect();
        assert!(
            moving.len() >= 8000 && moving.len() <= 8400,
            "{}",
            moving.len()
        );
        assert!(moving.iter().all(|&x| owner_node(&s, x) == Some(7000)));
        let target = |x: u16| s.map().shards()[s.map().moving(x).unwrap()].node.port;
        assert!(moving.iter().all(|&x| target(x) == 8000));
        // Announced only: A serves them as its own until B has the map.
        assert!(moving.iter().all(|&x| s.map().migrating(x).is_none()));
        assert!(!s.advance(&ab, 20), "nothing to do until B applies it");
        s.renew(&node(8000), rn(epoch, 0), 25);
        assert!(s.advance(&ab, 26), "B applies it: the moves start");
        let started = s.map().epoch();
        assert!(moving.iter().all(|&x| s.map().migrating(x).is_some()));
        assert!(!s.advance(&ab, 27), "nothing to do until A drains");
        // A applies the map but has not drained: its lease is extended
        // (it owes nothing), the slots stay. Drained the announcing epoch
        // does not count: A streamed nothing then.
        let (lease, map) = s.renew(&node(7000), rn(epoch, epoch), 30);
        assert_eq!((lease, map.unwrap().epoch()), (3000, started));
        assert_eq!(s.renew(&node(7000), rn(started, epoch), 40).0, 3000);
        assert!(!s.advance(&ab, 50));
        // A has drained: the slots go to B in one step.
        s.renew(&node(7000), rn(started, started), 60);
        assert!(s.advance(&ab, 70));
        assert!(moving.iter().all(|&x| owner_node(&s, x) == Some(8000)));
        assert_eq!(s.map().moves(), 0);
        assert_eq!(s.map().assigned(), 16384);
    }

    #[test]
    fn a_restarted_lb_moves_nothing_for_a_lease_and_carries_on_the_newest_reported_map() {
        let quiet = 3000 + DRIFT_MS;
        let mut s = Slots::new(3000, quiet);
        let mut ab = shards(7000, 1);
        ab.extend(shards(8000, 1));
        // Nothing is granted in the quiet period, whoever registers.
        s.renew(&node(7000), rn(0, 0), 0);
        assert!(!s.advance(&ab, 10));
        assert_eq!(s.map().assigned(), 0);
        // The previous LB's last two maps: A alone (7), then B joining, its
        // share moving warm from A (8).
        let mut before = Slots::new(3000, 0);
        let a = shards(7000, 1);
        before.advance(&a, 0);
        let old = before.map().clone().with_epoch(7);
        before.renew(&node(7000), rn(1, 1), 0);
        before.advance(&ab, 10);
        before.renew(&node(8000), rn(before.map().epoch(), 0), 11);
        before.advance(&ab, 12);
        let moving = before.map().clone().with_epoch(8);
        assert!((0..SLOTS).any(|x| moving.migrating(x).is_some()));
        let slot = (0..SLOTS).find(|&x| moving.moving(x).is_some()).unwrap();
        // Nodes report the map they serve by; the newest wins, moves kept.
        assert!(s.adopt(old.clone(), 20));
        assert!(s.adopt(moving.clone(), 30));
        assert!(!s.adopt(old.clone(), 40), "an older map changes nothing");
        assert_eq!(s.map(), &moving);
        // A node on the older epoch gets the map, but no lease, until it
        // applies it: its map may give it slots the adopted one does not.
        let (lease, map) = s.renew(&node(7000), rn(7, 7), 50);
        assert_eq!((lease, map.map(|m| m.epoch())), (0, Some(8)));
        assert_eq!(s.renew(&node(7000), rn(8, 0), 60).0, 3000);
        assert_eq!(s.renew(&node(8000), rn(8, 8), 60).0, 3000);
        assert!(!s.advance(&ab, quiet - 1), "still quiet");
        // After it, the adopted move finishes once its owner has drained.
        assert!(!s.advance(&ab, quiet + 1));
        s.renew(&node(7000), rn(8, 8), quiet + 2);
        assert!(s.advance(&ab, quiet + 3));
        assert_eq!(s.map().moves(), 0);
        assert_eq!(owner_node(&s, slot), Some(8000));
        // A node cut off through all of that reports a newer epoch still:
        // the LB's map goes above it, and the node must take it.
        let e = s.map().epoch();
        assert!(s.adopt(old.with_epoch(e + 5), quiet + 10));
        assert_eq!(s.map().epoch(), e + 6);
        assert_eq!(owner_node(&s, slot), Some(8000), "the LB's owners stay");
        assert_eq!(s.renew(&node(7000), rn(e + 5, 0), quiet + 20).0, 0);
    }

    #[test]
    fn clients_are_shown_a_map_once_its_owners_apply_it_or_it_is_a_lease_old() {
        let (mut s, _) = two_leased_nodes();
        assert_eq!(s.published().epoch(), 0, "nobody applies epoch 1 yet");
        s.renew(&node(7000), rn(1, 1), 10);
        assert_eq!(s.published().epoch(), 0, "8000 owns slots and lags");
        s.renew(&node(8000), rn(1, 1), 20);
        assert_eq!(s.published(), s.map());
        // A map whose owner never says it applies it is shown after a lease.
        let a = shards(7000, 1);
        s.exited(&node(8000));
        let mut t = 30;
        while s.advance(&a, t) {
            t += 10;
        }
        let e = s.map().epoch();
        assert!(s.published().epoch() < e, "7000 has not applied it");
        assert!(!s.advance(&a, t + 2000));
        assert!(s.published().epoch() < e);
        s.advance(&a, t + 3000);
        assert_eq!(s.published().epoch(), e);
    }

    #[test]
    fn a_leaving_node_hands_its_slots_on_warm_then_drops_out_of_the_map() {
        let (mut s, ab) = two_leased_nodes();
        let on_b: Vec<u16> = (0..SLOTS)
            .filter(|&x| owner_node(&s, x) == Some(8000))
            .collect();
        assert!(on_b.len() > 8000);
        // B says it is leaving: it is no member any more (the caller drops
        // it), yet it keeps its slots, marked moving to A.
        let e = s.map().epoch();
        s.renew(
            &node(8000),
            Renewal {
                leaving: true,
                ..rn(e, e)
            },
            10,
        );
        assert!(s.leaving(&node(8000)));
        let a = shards(7000, 1);
        assert!(s.advance(&a, 20));
        // Announced; once A applies it, started.
        s.renew(&node(7000), rn(s.map().epoch(), 0), 21);
        assert!(s.advance(&a, 22));
        let moving = s.map().epoch();
        assert_eq!(s.map().assigned(), 16384);
        assert!(on_b.iter().all(|&x| owner_node(&s, x) == Some(8000)));
        let target = |s: &Slots, x: u16| s.map().shards()[s.map().moving(x).unwrap()].node.port;
        assert!(on_b.iter().all(|&x| target(&s, x) == 7000));
        // Not drained yet: nothing changes, and B's lease is extended.
        let going = |a, d| Renewal {
            leaving: true,
            ..rn(a, d)
        };
        assert_eq!(s.renew(&node(8000), going(moving, e), 30).0, 3000);
        assert!(!s.advance(&a, 40));
        // Drained: A owns everything, then B leaves the shard list.
        s.renew(&node(8000), going(moving, moving), 50);
        assert!(s.advance(&a, 60));
        assert!((0..SLOTS).all(|x| owner_node(&s, x) == Some(7000)));
        assert_eq!(s.map().moves(), 0);
        assert!(s.map().shards().iter().all(|x| x.node.port == 7000));
        // A leaving node whose lease ran out is handed over cold.
        let mut s = Slots::new(3000, 0);
        s.renew(&node(7000), rn(0, 0), 0);
        s.renew(
            &node(8000),
            Renewal {
                leaving: true,
                ..rn(0, 0)
            },
            0,
        );
        assert!(s.advance(&ab, 0));
        assert!(s.advance(&a, 3000 + DRIFT_MS + 1));
        assert_eq!(s.map().moves(), 0);
        assert!(s.map().assigned() < 16384, "B's slots revoked, not moving");
    }

    #[test]
    fn a_node_that_leaves_while_slots_move_into_it_takes_them_then_hands_them_back() {
        let mut s = Slots::new(3000, 0);
        let a = shards(7000, 1);
        s.advance(&a, 0);
        s.renew(&node(7000), rn(1, 1), 0);
        let mut ab = a.clone();
        ab.extend(shards(8000, 1));
        assert!(s.advance(&ab, 10));
        s.renew(&node(8000), rn(s.map().epoch(), 0), 11);
        assert!(s.advance(&ab, 12));
        let started = s.map().epoch();
        let moving: Vec<u16> = (0..SLOTS)
            .filter(|&x| s.map().migrating(x).is_some())
            .collect();
        assert!(moving.len() > 8000);
        // B leaves mid-move. Keys A has streamed to it exist only there, so
        // the moves finish instead of being called off.
        let going = |a, d| Renewal {
            leaving: true,
            ..rn(a, d)
        };
        s.renew(&node(8000), going(started, 0), 20);
        s.renew(&node(7000), rn(started, 0), 20);
        assert!(!s.advance(&a, 30), "the moves go on as they were");
        assert!(moving.iter().all(|&x| s.map().migrating(x).is_some()));
        // A drains: B owns them, for now.
        s.renew(&node(7000), rn(started, started), 40);
        assert!(s.advance(&a, 50));
        assert!(moving.iter().all(|&x| owner_node(&s, x) == Some(8000)));
        // Then B, leaving, hands them back to A warm (announced first).
        assert!(s.advance(&a, 60));
        let back = s.map().epoch();
        assert!(moving.iter().all(|&x| owner_node(&s, x) == Some(8000)));
        let target = |s: &Slots, x: u16| s.map().shards()[s.map().moving(x).unwrap()].node.port;
        assert!(moving.iter().all(|&x| target(&s, x) == 7000));
        s.renew(&node(7000), rn(back, started), 70);
        assert!(s.advance(&a, 80));
        let out = s.map().epoch();
        s.renew(&node(8000), going(out, out), 90);
        assert!(s.advance(&a, 100));
        assert!((0..SLOTS).all(|x| owner_node(&s, x) == Some(7000)));
        assert!(s.map().shards().iter().all(|x| x.node.port == 7000));
        // A leaving target whose lease ran out is a crash: the moves into
        // it are called off and the owner keeps the slots.
        let mut s = Slots::new(3000, 0);
        s.advance(&a, 0);
        s.renew(&node(7000), rn(1, 1), 0);
        s.advance(&ab, 10);
        s.renew(&node(8000), going(s.map().epoch(), 0), 11);
        s.advance(&ab, 12);
        assert!(s.map().moves() > 8000);
        s.renew(&node(7000), rn(s.map().epoch(), 0), 3000);
        assert!(s.advance(&a, 3000 + DRIFT_MS + 12));
        assert_eq!(s.map().moves(), 0);
        assert!((0..SLOTS).all(|x| owner_node(&s, x) == Some(7000)));
    }

    #[test]
    fn a_move_from_an_owner_without_a_lease_or_too_slow_goes_cold() {
        let mut s = Slots::new(3000, 0);
        let a = shards(7000, 1);
        let mut ab = a.clone();
        ab.extend(shards(8000, 1));
        s.advance(&a, 0);
        // A never renewed: no lease, so B's share is revoked, not moved.
        assert!(s.advance(&ab, 10));
        assert_eq!(s.map().moves(), 0);
        assert!(s.map().assigned() < 16384);
        // Another cluster: A renews, the move starts, then stalls.
        let mut s = Slots::new(3000, 0);
        s.advance(&a, 0);
        s.renew(&node(7000), rn(1, 1), 0);
        assert!(s.advance(&ab, 10));
        assert!(s.map().moves() > 8000);
        let mut t = 10;
        while t <= MOVE_TIMEOUT_MS + 10 {
            s.renew(&node(7000), rn(s.map().epoch(), 1), t);
            t += 1000;
        }
        assert!(!s.advance(&ab, MOVE_TIMEOUT_MS + 10), "not yet over");
        s.renew(&node(7000), rn(s.map().epoch(), 1), MOVE_TIMEOUT_MS + 11);
        assert!(s.advance(&ab, MOVE_TIMEOUT_MS + 11));
        assert_eq!(s.map().moves(), 0);
        assert!(
            s.map().assigned() < 16384,
            "revoked, waiting for A to let go"
        );
    }

    #[test]
    fn a_silent_owner_is_waited_out_and_an_exited_one_is_not() {
        let mut s = Slots::new(3000, 0);
        let (a, b) = (shards(7000, 1), shards(8000, 1));
        let both: Vec<Shard> = a.iter().chain(&b).cloned().collect();
        s.advance(&both, 0);
        let e = s.map().epoch();
        s.renew(&node(7000), rn(e, e), 0);
        s.renew(&node(8000), rn(e, e), 0);
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
        let e = s.map().epoch();
        s.renew(&node(7000), rn(e, e), 4000);
        s.exited(&node(8000));
        assert!(s.advance(&a, 4001));
        assert!(s.advance(&a, 4002));
        assert_eq!(s.map().count(0), 16384);
        assert_eq!(s.map().shards()[0].node, node(7000));
    }
}
