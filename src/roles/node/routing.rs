//! Cluster mode on a node (`--cluster`): which slots each core serves, from
//! the newest slot map, and the redirections for the rest.
//!
//! - [`Routing`] is shared by the cores and the LB link thread. The link
//!   installs each newer map the LB grants ([`Routing::install`]) and
//!   extends the ownership lease ([`Routing::extend_lease`]).
//! - Each core keeps its own [`Local`] copy of the current [`View`], and
//!   checks one atomic per read for a newer one ([`Local::refresh`]). When
//!   it takes a newer view it first deletes the keys of the slots it lost,
//!   so a slot it later regains starts empty, and only then records the
//!   epoch as applied. The link reports to the LB the lowest epoch every
//!   core applies ([`Routing::applied`]): the LB gives a slot to a new owner
//!   only once the old owner has applied a map without it.
//! - [`Local::gate`] answers, before a command runs, whether this
//!   connection may run it here: `-MOVED`, `-CROSSSLOT` or `-CLUSTERDOWN`
//!   otherwise, with Redis Cluster's texts. On a core's own port the rules
//!   are Redis Cluster's (one slot per command, owned by this core); on the
//!   node's main port any key of this node is served, hopping as outside
//!   cluster mode. The core that runs a command checks again
//!   ([`Local::owns`]), so a map that changed in between never lets a core
//!   touch a slot it does not own.
//! - Without `--lb` the node makes its own map, with itself as the only
//!   member, and needs no lease.

use crate::addr::HostPort;
use crate::cluster::reply::{CROSSSLOT, DOWN, TRYAGAIN, UNSERVED};
use crate::cluster::{reply, SlotMap};
use crate::ownership::{slot_for, SLOTS};
use crate::store::Shard;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// In a view's route table: a slot of another node's shard.
const REMOTE: u16 = 0x8000;
/// In a view's route table: a slot no shard owns.
const NONE: u16 = u16::MAX;

/// Where a slot is served, as one core sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// By this node's core.
    Core(usize),
    /// By another node's shard (its index in the map).
    Elsewhere(usize),
    /// By nobody.
    Unserved,
}

/// A map, with the slots of this node resolved to its cores.
#[derive(Debug)]
pub struct View {
    /// The map.
    pub map: SlotMap,
    /// Per slot: a core of this node, `REMOTE | shard`, or `NONE`.
    route: Box<[u16]>,
    /// Per slot moving into this node (a warm move): the core it moves to,
    /// which takes it only for ASKING clients until the move ends.
    importing: Box<[u16]>,
    /// Per core of this node: its shard index in the map, if listed.
    pub mine: Vec<Option<usize>>,
}

impl View {
    /// `map` as the node at `me` with `cores` cores sees it.
    pub fn new(map: SlotMap, me: &HostPort, cores: usize) -> View {
        let mut mine = vec![None; cores];
        for (i, s) in map.shards().iter().enumerate() {
            if s.node == *me && usize::from(s.core) < cores {
                mine[usize::from(s.core)] = Some(i);
            }
        }
        let core_of = |i: usize| mine.iter().position(|&m| m == Some(i));
        let route = (0..SLOTS)
            .map(|slot| match map.owner(slot) {
                None => NONE,
                Some(i) => match core_of(i) {
                    Some(core) => core as u16,
                    None => REMOTE | i as u16,
                },
            })
            .collect();
        let importing = (0..SLOTS)
            .map(|slot| {
                map.moving(slot)
                    .and_then(core_of)
                    .map_or(NONE, |c| c as u16)
            })
            .collect();
        View {
            map,
            route,
            importing,
            mine,
        }
    }

    /// The core of this node `slot` is moving into, if it is (IMPORTING:
    /// from when the move is announced, before its owner streams).
    #[inline]
    pub fn importing(&self, slot: u16) -> Option<usize> {
        match self.importing[usize::from(slot)] {
            NONE => None,
            c => Some(usize::from(c)),
        }
    }

    /// Where a slot of this node moving out streams to: its target shard.
    #[inline]
    pub fn moving_to(&self, slot: u16) -> Option<&crate::cluster::Shard> {
        // Only a started move: an announced one is still plainly ours.
        self.map.migrating(slot).map(|t| &self.map.shards()[t])
    }

    /// Where `slot` is served.
    #[inline]
    pub fn route(&self, slot: u16) -> Route {
        match self.route[usize::from(slot)] {
            NONE => Route::Unserved,
            r if r & REMOTE != 0 => Route::Elsewhere(usize::from(r & !REMOTE)),
            core => Route::Core(usize::from(core)),
        }
    }

    /// The `-MOVED` text for `slot` to the shard at `to`.
    fn moved(&self, slot: u16, to: usize) -> String {
        reply::moved(slot, &self.map.shards()[to])
    }

    /// The refusal for `slot` when `route` is not this connection's to serve.
    fn redirect(&self, slot: u16, route: Route) -> String {
        match route {
            Route::Core(c) => match self.mine[c] {
                Some(i) => self.moved(slot, i),
                None => UNSERVED.to_string(),
            },
            Route::Elsewhere(i) => self.moved(slot, i),
            Route::Unserved => UNSERVED.to_string(),
        }
    }
}

/// The node's cluster state, shared by its cores and the LB link.
#[derive(Debug)]
pub struct Routing {
    /// The node's main address, as the map names it.
    pub me: HostPort,
    cores: usize,
    current: Mutex<Arc<View>>,
    /// `current`'s epoch: what a core compares once per read.
    epoch: AtomicU64,
    /// Per core, the epoch it applies.
    applied: Box<[AtomicU64]>,
    /// Per core, the newest epoch whose outgoing moves it has streamed out
    /// (set by `node::migrate`).
    drained: Box<[AtomicU64]>,
    /// Node-clock ms until which the lease lets the node serve.
    lease_until: AtomicU64,
    /// The node is stopping and asks the LB to move its slots off it.
    leaving: AtomicBool,
}

impl Routing {
    /// A node's state before its first map: nothing served. With `own`
    /// (no LB) the node's own one-member map is installed at once, with a
    /// lease that never ends.
    pub fn new(me: HostPort, cores: usize, core_addrs: &[HostPort], own: bool) -> Routing {
        let r = Routing {
            current: Mutex::new(Arc::new(View::new(SlotMap::empty(), &me, cores))),
            me,
            cores,
            epoch: AtomicU64::new(0),
            applied: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            drained: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            lease_until: AtomicU64::new(0),
            leaving: AtomicBool::new(false),
        };
        if own {
            let members: Vec<crate::cluster::Shard> = core_addrs
                .iter()
                .enumerate()
                .map(|(c, a)| crate::cluster::Shard::new(r.me.clone(), c as u16, a.clone()))
                .collect();
            r.install(crate::cluster::compute(&SlotMap::empty(), &members));
            r.extend_lease(u64::MAX);
        }
        r
    }

    /// The newest view.
    pub fn view(&self) -> Arc<View> {
        self.current.lock().expect("routing lock").clone()
    }

    /// The newest epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Take `map` if it is newer than the current one; a map of an epoch
    /// already seen or older is refused (and logged), so a node acts only
    /// on the newest epoch it has.
    pub fn install(&self, map: SlotMap) -> bool {
        let mut cur = self.current.lock().expect("routing lock");
        if map.epoch() <= cur.map.epoch() {
            log::warn!(
                "ignoring a slot map of epoch {}: epoch {} is already in force",
                map.epoch(),
                cur.map.epoch()
            );
            return false;
        }
        let epoch = map.epoch();
        *cur = Arc::new(View::new(map, &self.me, self.cores));
        self.epoch.store(epoch, Ordering::Release);
        log::info!("slot map epoch {epoch} in force");
        true
    }

    /// The lowest epoch every core applies: what the node may tell the LB.
    pub fn applied(&self) -> u64 {
        self.applied
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    }

    /// What the node tells the LB when it renews: the lowest epoch every
    /// core applies, and the lowest every core has drained.
    pub fn renewal(&self) -> crate::cluster::wire::Renewal {
        let min = |v: &[AtomicU64]| {
            v.iter()
                .map(|a| a.load(Ordering::Acquire))
                .min()
                .unwrap_or(0)
        };
        let applied = min(&self.applied);
        crate::cluster::wire::Renewal {
            applied,
            drained: min(&self.drained).min(applied),
            leaving: self.leaving.load(Ordering::Acquire),
        }
    }

    /// The node is stopping: from the next renewal on, it asks the LB to
    /// move every slot off it, warm, while it still serves.
    pub fn leave(&self) {
        self.leaving.store(true, Ordering::Release);
    }

    /// The newest map gives this node no slot and moves none off it, and
    /// every core applies it: a leaving node may go.
    pub fn holds_nothing(&self) -> bool {
        let v = self.view();
        let mine = |s: u16| matches!(v.route(s), Route::Core(_)) || v.importing(s).is_some();
        v.map.epoch() > 0 && self.applied() >= v.map.epoch() && !(0..SLOTS).any(mine)
    }

    /// Core `id` holds no key of any slot moving out of it in the map of
    /// `epoch`. Whether that is news (an older epoch was recorded).
    pub fn set_drained(&self, id: usize, epoch: u64) -> bool {
        self.drained[id].fetch_max(epoch, Ordering::AcqRel) < epoch
    }

    /// Serve until `until` (node-clock ms); never shortens the lease.
    pub fn extend_lease(&self, until: u64) {
        self.lease_until.fetch_max(until, Ordering::AcqRel);
    }

    /// Stop serving at once (the node is leaving, or lost the LB for good).
    pub fn end_lease(&self) {
        self.lease_until.store(0, Ordering::Release);
    }

    /// Whether the lease lets the node serve at `now`.
    #[inline]
    pub fn serving(&self, now: u64) -> bool {
        now < self.lease_until.load(Ordering::Acquire)
    }
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The node's shared port: any key of this node is served.
    Main,
    /// A core's own port: Redis Cluster's rules for that core's shard.
    CorePort,
}

/// One core's copy of the routing.
#[derive(Debug)]
pub struct Local {
    /// The shared state.
    pub shared: Arc<Routing>,
    view: RefCell<Arc<View>>,
    seen: Cell<u64>,
    /// Keys this core's mover has sent to their slot's target and not yet
    /// heard back about (`node::migrate`). A write to one answers
    /// `-TRYAGAIN` until then: were it deleted here and written anew at
    /// the target (through `-ASK`), the RESTORE still on its way would
    /// overwrite the newer value. Redis avoids this by blocking in MIGRATE.
    in_flight: RefCell<HashSet<Box<[u8]>>>,
    /// A transaction judged whole at EXEC ([`Local::judged`]) is running:
    /// its commands skip the presence rules of moving slots, so a DEL and
    /// SET of one key in it is not cut in two by an `-ASK`.
    judged: Cell<bool>,
}

impl Local {
    /// Core `id`'s copy, at epoch 0 until its first refresh.
    pub fn new(shared: Arc<Routing>) -> Local {
        let view = RefCell::new(Arc::new(View::new(
            SlotMap::empty(),
            &shared.me,
            shared.cores,
        )));
        Local {
            shared,
            view,
            seen: Cell::new(0),
            in_flight: RefCell::new(HashSet::new()),
            judged: Cell::new(false),
        }
    }

    /// Run `f`, a transaction whose keys [`Local::owns`] accepted as a
    /// whole, without judging its commands one by one. `f` must not
    /// await: no other task may run meanwhile.
    pub fn judged<R>(&self, f: impl FnOnce() -> R) -> R {
        self.judged.set(true);
        let r = f();
        self.judged.set(false);
        r
    }

    /// The mover sent `keys` to their target: freeze them for writes.
    pub fn send_keys<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        self.in_flight.borrow_mut().extend(keys.map(Box::from));
    }

    /// The target answered (or the link failed): thaw every key.
    pub fn keys_landed(&self) {
        self.in_flight.borrow_mut().clear();
    }

    /// The view this core is using.
    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// The core of this node that serves `slot`, if one does.
    #[inline]
    pub fn core_of(&self, slot: u16) -> Option<usize> {
        match self.view.borrow().route(slot) {
            Route::Core(c) => Some(c),
            _ => None,
        }
    }

    /// Take a newer view if there is one: first delete the keys of the
    /// slots core `id` loses, then say the epoch is applied.
    pub fn refresh(&self, id: usize, shard: &RefCell<Shard>) {
        let epoch = self.shared.epoch();
        if epoch == self.seen.get() {
            return;
        }
        let next = self.shared.view();
        let old = self.view.replace(next.clone());
        // A slot it owned or was importing, and now does neither: its keys
        // go, so a slot regained later starts empty.
        let held =
            |v: &View, slot: u16| v.route(slot) == Route::Core(id) || v.importing(slot) == Some(id);
        let lost = |slot: u16| held(&old, slot) && !held(&next, slot);
        let dropped = shard.borrow_mut().drop_slots(lost);
        if dropped > 0 {
            log::info!(
                "core {id}: dropped {dropped} keys of slots it no longer owns (epoch {})",
                next.map.epoch()
            );
        }
        // Keys left frozen by a failed batch stay so while their slot still
        // moves (they are sent again); once nothing moves out, they thaw.
        let moving_out =
            |slot: u16| next.route(slot) == Route::Core(id) && next.moving_to(slot).is_some();
        if !self.in_flight.borrow().is_empty() && !(0..SLOTS).any(moving_out) {
            self.keys_landed();
        }
        self.seen.set(next.map.epoch());
        self.shared.applied[id].store(next.map.epoch(), Ordering::Release);
    }

    /// Whether core `here` may run a command with `keys` for a connection
    /// that came in on `entry`, at node-clock `now`; the refusal's text if
    /// not. A command without keys is always run. `asking`: the client sent
    /// ASKING just before, so a slot moving into this core is served.
    ///
    /// A slot moving out of this node passes here; the core that runs the
    /// command decides ([`Local::owns`]), since only it sees whether the
    /// keys are still there.
    pub fn gate<'k>(
        &self,
        here: usize,
        entry: Entry,
        mut keys: impl Iterator<Item = &'k [u8]>,
        asking: bool,
        now: u64,
    ) -> Result<(), String> {
        let Some(first) = keys.next() else {
            return Ok(());
        };
        let view = self.view.borrow();
        let slot = slot_for(first);
        let route = view.route(slot);
        let imported = |s: u16| asking && view.importing(s).is_some();
        let mut cross = false;
        let mut all_here = matches!(route, Route::Core(_)) || imported(slot);
        for k in keys {
            let s = slot_for(k);
            cross |= s != slot;
            all_here &= matches!(view.route(s), Route::Core(_)) || imported(s);
        }
        let ok = match entry {
            Entry::CorePort if cross => return Err(CROSSSLOT.to_string()),
            Entry::CorePort => {
                route == Route::Core(here) || (asking && view.importing(slot) == Some(here))
            }
            Entry::Main if all_here => true,
            Entry::Main if cross => return Err(CROSSSLOT.to_string()),
            Entry::Main => false,
        };
        if !ok {
            return Err(view.redirect(slot, route));
        }
        if !self.shared.serving(now) {
            return Err(DOWN.to_string());
        }
        Ok(())
    }

    /// Whether none of `keys` is in a slot that moves out of a core of
    /// this node (a started move) or into one. A transaction on the main
    /// port may span cores, whose keys' presence no one core can see
    /// before it runs, so it cannot be judged whole as a core port's is;
    /// with a moving key it is refused whole (`-TRYAGAIN`) instead of
    /// having the move cut it in two.
    pub fn settled<'k>(&self, mut keys: impl Iterator<Item = &'k [u8]>) -> bool {
        let view = self.view.borrow();
        keys.all(|k| {
            let s = slot_for(k);
            view.moving_to(s).is_none() && view.importing(s).is_none()
        })
    }

    /// On the core that runs it: the refusal if the command with `keys` is
    /// not core `here`'s to serve now (the map moved after the gate let it
    /// through). `present` says whether a key is in this core's shard.
    ///
    /// A slot moving out of this core (a started move; an announced one
    /// is served as any other) follows Redis's MIGRATING rules: with
    /// every key still here it is served; with none, `-ASK` to the target
    /// (a key that is not here has moved, or would be created there); with
    /// some, `-TRYAGAIN`. A slot moving in is served (the gate let only an
    /// ASKING client through), but a multi-key command missing some keys
    /// gets `-TRYAGAIN`, as Redis's IMPORTING does. A `write` to a key the
    /// mover has in flight gets `-TRYAGAIN` too (see `in_flight`).
    pub fn owns<'k>(
        &self,
        here: usize,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
        present: impl Fn(&[u8]) -> bool,
        write: bool,
        now: u64,
    ) -> Result<(), String> {
        let view = self.view.borrow();
        let mut n = 0;
        for key in keys.clone() {
            n += 1;
            let slot = slot_for(key);
            match view.route(slot) {
                Route::Core(c) if c == here => {
                    if let Some(to) = view.moving_to(slot) {
                        if write && self.in_flight.borrow().contains(key) {
                            return Err(TRYAGAIN.to_string());
                        }
                        if !self.judged.get() && !present(key) {
                            return Err(if keys.clone().any(&present) {
                                TRYAGAIN.to_string()
                            } else {
                                reply::ask(slot, to)
                            });
                        }
                    }
                }
                _ if view.importing(slot) == Some(here) => {
                    if !self.judged.get()
                        && keys.clone().nth(1).is_some()
                        && !keys.clone().all(&present)
                    {
                        return Err(TRYAGAIN.to_string());
                    }
                }
                r => return Err(view.redirect(slot, r)),
            }
        }
        if n > 0 && !self.shared.serving(now) {
            return Err(DOWN.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{compute, Shard as MapShard};
    use crate::store::ShardConfig;

    fn hp(port: u16) -> HostPort {
        HostPort::new("127.0.0.1", port).unwrap()
    }

    /// Node 7000 (2 cores) and node 8000 (1 core) in one map.
    fn two_nodes() -> SlotMap {
        let mut members: Vec<MapShard> = (0..2)
            .map(|c| MapShard::new(hp(7000), c, hp(7001 + c)))
            .collect();
        members.push(MapShard::new(hp(8000), 0, hp(8001)));
        compute(&SlotMap::empty(), &members)
    }

    fn key_on(view: &View, want: Route) -> Vec<u8> {
        (0..100_000)
            .map(|i| format!("k{i}").into_bytes())
            .find(|k| view.route(slot_for(k)) == want)
            .unwrap()
    }

    #[test]
    fn gates_as_redis_cluster_on_core_ports_and_per_node_on_the_main_port() {
        let routing = Arc::new(Routing::new(hp(7000), 2, &[], false));
        assert!(routing.install(two_nodes()));
        routing.extend_lease(1000);
        let local = Local::new(routing.clone());
        let shard = RefCell::new(Shard::new(ShardConfig::default()));
        local.refresh(0, &shard);
        assert_eq!(routing.applied(), 0, "core 1 has not applied it yet");
        Local::new(routing.clone()).refresh(1, &shard);
        assert_eq!(routing.applied(), 1);
        let view = local.view();
        let (k0, k1, far) = (
            key_on(&view, Route::Core(0)),
            key_on(&view, Route::Core(1)),
            key_on(&view, Route::Elsewhere(2)),
        );
        let g = |entry, keys: &[&[u8]], now| local.gate(0, entry, keys.iter().copied(), false, now);
        assert_eq!(g(Entry::CorePort, &[&k0], 0), Ok(()));
        let moved = |k: &[u8], port| format!("MOVED {} 127.0.0.1:{port}", slot_for(k));
        assert_eq!(g(Entry::CorePort, &[&k1], 0), Err(moved(&k1, 7002)));
        assert_eq!(g(Entry::Main, &[&k1], 0), Ok(()));
        assert_eq!(g(Entry::Main, &[&k0, &k1], 0), Ok(()));
        assert_eq!(g(Entry::CorePort, &[&k0, &k1], 0), Err(CROSSSLOT.into()));
        assert_eq!(g(Entry::Main, &[&far], 0), Err(moved(&far, 8001)));
        assert_eq!(g(Entry::Main, &[&k0, &far], 0), Err(CROSSSLOT.into()));
        assert_eq!(g(Entry::Main, &[], 0), Ok(()));
        // Past the lease: nothing is served.
        assert_eq!(g(Entry::CorePort, &[&k0], 1000), Err(DOWN.into()));
        let owns = |k: &[u8], now| local.owns(0, std::iter::once(k), |_| true, false, now);
        assert_eq!(owns(&k0, 999), Ok(()));
        assert_eq!(owns(&k1, 0), Err(moved(&k1, 7002)));
    }

    #[test]
    fn a_moving_slot_follows_redis_s_migrating_and_importing_rules() {
        let base = two_nodes();
        let probe = View::new(base.clone(), &hp(7000), 2);
        let k = key_on(&probe, Route::Core(0));
        let slot = slot_for(&k);
        // Two keys of one slot: a hash tag around k.
        let tagged = |suffix: &str| {
            let mut t = b"{".to_vec();
            t.extend_from_slice(&k);
            t.extend_from_slice(b"}");
            t.extend_from_slice(suffix.as_bytes());
            t
        };
        let (ka, kb) = (tagged("a"), tagged("b"));
        assert_eq!(slot_for(&ka), slot);
        assert_eq!(slot_for(&kb), slot);
        let moving = base
            .with_epoch(2)
            .with_moves(&[(u32::from(slot), u32::from(slot), 2)])
            .unwrap();
        let ask = format!("ASK {slot} 127.0.0.1:8001");
        // The owner (node 7000, core 0).
        let a = Arc::new(Routing::new(hp(7000), 2, &[], false));
        assert!(a.install(moving.clone()));
        a.extend_lease(1000);
        let la = Local::new(a.clone());
        let shard = RefCell::new(Shard::new(ShardConfig::default()));
        la.refresh(0, &shard);
        let owns = |keys: &[&[u8]], present: &dyn Fn(&[u8]) -> bool| {
            la.owns(0, keys.iter().copied(), present, true, 0)
        };
        assert_eq!(owns(&[&k], &|_| true), Ok(()));
        assert_eq!(owns(&[&k], &|_| false), Err(ask.clone()));
        assert_eq!(
            owns(&[&ka, &kb], &|key| key == &ka[..]),
            Err(TRYAGAIN.to_string())
        );
        assert_eq!(
            la.gate(0, Entry::CorePort, [&k[..]].into_iter(), false, 0),
            Ok(()),
            "the owner's gate lets it through; the running core decides"
        );
        // A key on its way to the target: readable, not writable.
        la.send_keys([&k[..]].into_iter());
        assert_eq!(owns(&[&k], &|_| true), Err(TRYAGAIN.to_string()));
        assert_eq!(la.owns(0, [&k[..]].into_iter(), |_| true, false, 0), Ok(()));
        la.keys_landed();
        assert_eq!(owns(&[&k], &|_| true), Ok(()));
        // Inside a transaction judged at EXEC, a key it deleted is no ASK.
        assert_eq!(la.judged(|| owns(&[&k], &|_| false)), Ok(()));
        assert_eq!(owns(&[&k], &|_| false), Err(ask.clone()));
        // A main-port transaction with a key of the moving slot is refused.
        assert!(!la.settled([&b"x"[..], &k[..]].into_iter()));
        assert_eq!(la.settled([&b"x"[..]].into_iter()), slot_for(b"x") != slot);
        // The target (node 8000, one core).
        let b = Arc::new(Routing::new(hp(8000), 1, &[], false));
        assert!(b.install(moving.clone()));
        b.extend_lease(1000);
        let lb = Local::new(b.clone());
        let imported = RefCell::new(Shard::new(ShardConfig::default()));
        lb.refresh(0, &imported);
        let moved = format!("MOVED {slot} 127.0.0.1:7001");
        let gate = |asking| lb.gate(0, Entry::CorePort, [&k[..]].into_iter(), asking, 0);
        assert_eq!(gate(false), Err(moved));
        assert_eq!(gate(true), Ok(()));
        let owns_b = |keys: &[&[u8]], present: &dyn Fn(&[u8]) -> bool| {
            lb.owns(0, keys.iter().copied(), present, true, 0)
        };
        assert_eq!(owns_b(&[&k], &|_| false), Ok(()));
        assert_eq!(
            owns_b(&[&ka, &kb], &|key| key == &ka[..]),
            Err(TRYAGAIN.to_string())
        );
        // The move is called off: what the target imported goes.
        {
            use crate::store::{SetCond, SetExpiry};
            imported
                .borrow_mut()
                .set(
                    &k[..],
                    &b"v"[..],
                    SetExpiry::Clear,
                    SetCond::Always,
                    false,
                    0,
                )
                .unwrap();
        }
        assert!(b.install(two_nodes().with_epoch(3)));
        lb.refresh(0, &imported);
        assert_eq!(imported.borrow().len(), 0);
        assert_eq!(b.renewal().applied, 3);
    }

    #[test]
    fn a_core_drops_the_keys_of_slots_it_loses_and_old_maps_are_refused() {
        let routing = Arc::new(Routing::new(hp(7000), 2, &[hp(7001), hp(7002)], true));
        assert!(routing.serving(u64::MAX - 1));
        let local = Local::new(routing.clone());
        let shard = RefCell::new(Shard::new(ShardConfig::default()));
        local.refresh(0, &shard);
        let view = local.view();
        let k0 = key_on(&view, Route::Core(0));
        {
            use crate::store::{SetCond, SetExpiry};
            let mut s = shard.borrow_mut();
            s.set(
                &k0[..],
                &b"v"[..],
                SetExpiry::Clear,
                SetCond::Always,
                false,
                0,
            )
            .unwrap();
        }
        // The slots move to another node: core 0's keys of them go.
        let other = vec![MapShard::new(hp(8000), 0, hp(8001))];
        let next = compute(&view.map, &other);
        assert!(routing.install(next.clone()));
        assert!(!routing.install(next), "the same epoch again is refused");
        local.refresh(0, &shard);
        assert_eq!(shard.borrow().len(), 0);
        assert_eq!(local.core_of(slot_for(&k0)), None);
    }
}
