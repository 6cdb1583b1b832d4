//! Per-core state: the shard this core owns, its counters, and the tasks
//! that serve other cores' hops and sweep expired keys.

use super::hop::{
    Delegated, Finish, Finished, Hop, Query, Replies, Snapshot, Spare, TxMsg, TxOut, TxPart,
};
use super::mesh::Peers;
use super::origin::{FetchError, Fetched, Flight, Origin};
use super::NodeConfig;
use crate::cmd::batch::BatchOp;
use crate::cmd::slowlog::Draft;
use crate::cmd::{table, Ctx, Flags, OpBatch, Part, Run, Spec};
use crate::proto::{Proto, Reply};
use crate::store::Shard;
use crate::store::{SetCond, SetExpiry, Type};
use futures_channel::oneshot;
use glommio::channels::shared_channel::ConnectedReceiver;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// State shared by every core of one node process (read-mostly).
pub struct Shared {
    /// The node's settings.
    pub cfg: NodeConfig,
    /// Time zero of the node clock, the same on every core so an absolute
    /// expiry computed on one core means the same on another.
    pub epoch: Instant,
    /// The compact-encoding sizes in force (CONFIG SET
    /// hash-max-listpack-entries …; each core applies them on a
    /// `Hop::Encodings`). Locked only by CONFIG.
    pub encodings: std::sync::Mutex<crate::store::Encodings>,
    /// Idle client timeout in seconds, 0 for none (CONFIG SET timeout).
    pub timeout_secs: std::sync::atomic::AtomicU64,
    /// protected-mode, which CONFIG SET may change (see `crate::protected`).
    pub protected_mode: std::sync::atomic::AtomicBool,
    /// The node's memory bound in bytes, 0 for none (CONFIG SET maxmemory;
    /// each core applies its share on a `Hop::Maxmemory`).
    pub maxmemory: AtomicUsize,
    /// The largest bulk string a request may carry (CONFIG SET
    /// proto-max-bulk-len); read once per read, with the other limits from
    /// [`limits`](Self::limits).
    pub max_bulk: AtomicUsize,
    /// Set by SIGINT, SIGTERM or SHUTDOWN: the node stops cleanly.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    /// Unix time in ms at node-clock zero (EXPIREAT, EXPIRETIME, TIME).
    pub epoch_unix_ms: u64,
    /// Open client connections across all cores. Touched only on connect and
    /// disconnect, never per request.
    pub clients: AtomicUsize,
    /// Maximum client connections (CONFIG SET maxclients).
    pub maxclients: super::settings::MaxClients,
    /// The address clients reach us on.
    pub addr: std::net::SocketAddr,
    /// The read-through origin, resolved once at start.
    pub origin: Option<std::net::SocketAddr>,
    /// The password clients must AUTH with, if any. Read when a client
    /// connects or authenticates and written by CONFIG SET, never per
    /// request, so a lock costs nothing that matters.
    pub requirepass: std::sync::RwLock<Option<Vec<u8>>>,
    /// Held by the one transaction that is parking cores (see `multi`).
    pub tx_gate: std::sync::atomic::AtomicBool,
    /// Per core: reads whose multi-key command spans cores and has started
    /// but not finished on every core. A transaction waits for these to
    /// drain before it parks any core, so no such command sees half of it.
    ///
    /// Leaked at start (a few cache lines for the process's life) so the
    /// guard that counts a read is a plain `&'static` reference, not an
    /// `Arc` clone every core would contend on; each counter has its own
    /// cache line.
    pub spanning: &'static [super::multi::Counter],
    /// Which cores may have subscribers to what (see `node::pubsub`).
    pub pubsub: super::pubsub::Directory,
    /// The slow log's threshold and length, read on every command.
    pub slowlog: super::cmdstats::SlowSettings,
    /// The slow log. Locked only to add a slow command (rare by
    /// definition) or for SLOWLOG itself, never on a fast command's path.
    pub slow_log: std::sync::Mutex<crate::cmd::slowlog::SlowLog>,
    /// `client-output-buffer-limit` (CONFIG SET; see `node::settings`).
    pub output_limits: super::settings::OutputLimits,
    /// CLIENT PAUSE's deadline, read once per command (see `node::pause`).
    pub pause: super::pause::Pause,
    /// Client buffer memory and its limits (see `node::climits`).
    pub client_mem: super::climits::ClientMem,
    /// `used_memory_peak` (see `node::mempeak`).
    pub mem_peak: super::mempeak::MemPeak,
    /// Cluster mode's slot map and lease (`--cluster`).
    pub cluster: Option<Arc<super::routing::Routing>>,
    /// Cluster mode: each core's own port, by core.
    pub core_ports: Vec<u16>,
}

impl Shared {
    /// The compact-encoding sizes in force.
    pub fn encodings(&self) -> crate::store::Encodings {
        *self
            .encodings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The request size limits in force.
    #[inline]
    pub fn limits(&self) -> crate::proto::resp::Limits {
        crate::proto::resp::Limits {
            max_bulk: self.max_bulk.load(Ordering::Relaxed),
            ..self.cfg.limits
        }
    }

    /// The live password, if one is set.
    pub fn password(&self) -> Option<Vec<u8>> {
        self.requirepass
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Set (or, with `None`, clear) the password; clients already
    /// authenticated stay so, as in Redis.
    pub fn set_password(&self, p: Option<Vec<u8>>) {
        *self
            .requirepass
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = p;
    }
}

/// Per-core counters: plain cells, owned by the core, summed on read.
pub struct Counters {
    /// Calls, time, rejections and failures by [`table::Id`].
    pub commands: super::cmdstats::Stats,
    /// The thread this core runs on: its error tally is that thread's
    /// (see `proto::errors`).
    pub thread: std::thread::ThreadId,
    /// Accepted connections.
    pub connections_received: Cell<u64>,
    /// Connections refused for maxclients.
    pub rejected: Cell<u64>,
    /// Hop batches sent.
    pub hops_sent: Cell<u64>,
    /// Ops served for other cores.
    pub hop_ops_served: Cell<u64>,
    /// This core's clients blocked right now (BLPOP …).
    pub blocked: Cell<u64>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            commands: super::cmdstats::Stats::default(),
            thread: std::thread::current().id(),
            connections_received: Cell::new(0),
            rejected: Cell::new(0),
            hops_sent: Cell::new(0),
            hop_ops_served: Cell::new(0),
            blocked: Cell::new(0),
        }
    }
}

/// Add one to a counter cell.
#[inline]
pub fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// One core of a node.
pub struct Core {
    /// This core's shard number.
    pub id: usize,
    /// Number of cores (shards).
    pub n: usize,
    /// The keyspace this core owns. Borrowed only between awaits.
    pub shard: RefCell<Shard>,
    /// Senders to the other cores.
    pub mesh: Peers,
    /// Process-wide settings.
    pub shared: Arc<Shared>,
    /// This core's counters.
    pub counters: Counters,
    /// Next client id: ids are `seq * n + id`, unique without coordination.
    pub next_client: Cell<u64>,
    /// The connections this core serves (CLIENT LIST / KILL).
    pub conns: super::clients::Registry,
    /// Keys of this shard that connections WATCH.
    pub watched: RefCell<super::watch::Registry>,
    /// Accept gate, open client sockets and the stop flag of this core.
    pub life: crate::roles::lifecycle::Lifecycle,
    /// The read-through client, with `--origin`.
    pub origin: Option<Origin>,
    /// This core's channel and pattern subscribers.
    pub pubsub: RefCell<super::pubsub::Local>,
    /// This core's connections held by CLIENT PAUSE.
    pub paused: super::pause::Waiters,
    /// Clients blocked (BLPOP …) on keys of this shard.
    pub blocked: RefCell<super::blocking::Registry>,
    /// Set only while a blocked client's attempt runs (see `blocking`): a
    /// blocking command that finds nothing then writes no reply. A cell
    /// rather than a parameter because the attempt runs through the same
    /// paths as any command (`run`, `multi::run_spanning`).
    pub attempting: Cell<crate::cmd::spec::Blocking>,
    /// Cluster mode: this core's copy of the slot map.
    pub cluster: Option<super::routing::Local>,
}

impl Core {
    /// Milliseconds on the node clock.
    #[inline]
    pub fn now(&self) -> u64 {
        self.shared.epoch.elapsed().as_millis() as u64
    }

    /// The core of this node that owns `key`: by the slot map in cluster
    /// mode, else `ownership::shard_for`. A key of another node (which the
    /// gate refuses before anything runs) maps to this core, whose own check
    /// in [`Core::run`] then refuses it too.
    #[inline]
    pub fn owner(&self, key: &[u8]) -> usize {
        match &self.cluster {
            None => crate::ownership::shard_for(key, self.n),
            Some(c) => c
                .core_of(crate::ownership::slot_for(key))
                .unwrap_or(self.id),
        }
    }

    /// Cluster mode: take a newer slot map if the link installed one.
    #[inline]
    pub fn refresh_routing(&self) {
        if let Some(c) = &self.cluster {
            c.refresh(self.id, &self.shard);
        }
    }

    /// A fresh client id.
    pub fn client_id(&self) -> u64 {
        let seq = self.next_client.get() + 1;
        self.next_client.set(seq);
        seq * self.n as u64 + self.id as u64
    }

    /// Open client connections on the whole node.
    pub fn clients(&self) -> usize {
        self.shared.clients.load(Ordering::Relaxed)
    }

    /// This core's counters and sizes.
    pub fn snapshot(&self) -> Snapshot {
        let shard = self.shard.borrow();
        let c = &self.counters;
        Snapshot {
            core: self.id,
            keys: shard.len(),
            expires: shard.expiring_len(),
            avg_ttl_ms: shard.avg_ttl_ms(),
            used_memory: shard.used_bytes(),
            dataset: shard.dataset_bytes(),
            shard: shard.stats(),
            commands: c
                .commands
                .counts()
                .into_iter()
                .map(|(id, n)| (table::spec(id).name.to_string(), n))
                .collect(),
            // Another core's thread (a transaction holding this core) has
            // its own tally, not this core's: only this thread reads it.
            errors: if std::thread::current().id() == c.thread {
                crate::proto::errors::by_code()
            } else {
                Vec::new()
            },
            error_replies: if std::thread::current().id() == c.thread {
                crate::proto::errors::total()
            } else {
                0
            },
            connections_received: c.connections_received.get(),
            blocked_clients: c.blocked.get(),
            rejected_connections: c.rejected.get(),
            hops_sent: c.hops_sent.get(),
            hop_ops_served: c.hop_ops_served.get(),
            origin_fetches: self.origin.as_ref().map_or(0, |o| o.stats.fetches.get()),
            coalesced_waits: self.origin.as_ref().map_or(0, |o| o.stats.coalesced.get()),
            origin_errors: self.origin.as_ref().map_or(0, |o| o.stats.errors.get()),
            negative_hits: self
                .origin
                .as_ref()
                .map_or(0, |o| o.stats.negative_hits.get()),
        }
    }

    /// Whether `op` may have to wait for the origin (a GET on a
    /// read-through node, or one of MGET's parts).
    pub fn reads_through(&self, spec: &Spec) -> bool {
        self.origin.is_some() && spec.flags.has(Flags::FETCH)
    }

    /// A GET on a read-through node: the value if cached, else the origin's
    /// answer, fetching at most once per key at a time.
    fn get_or_fetch(
        self: &Rc<Self>,
        key: &[u8],
        now: u64,
    ) -> Result<Fetched, oneshot::Receiver<Fetched>> {
        if let Ok(Some(v)) = self.shard.borrow_mut().get(key, now) {
            return Ok(Ok(Some(v.into())));
        }
        let Some(origin) = &self.origin else {
            return Ok(Ok(None));
        };
        if origin.known_missing(key, now) {
            return Ok(Ok(None));
        }
        match origin.join(key) {
            Flight::Follower(rx) => Err(rx),
            Flight::Leader(rx, flight) => {
                let core = self.clone();
                let key: Box<[u8]> = key.into();
                glommio::spawn_local(async move {
                    let Some(origin) = &core.origin else { return };
                    let result = origin.fetch(&key).await;
                    let now = core.now();
                    if let (Ok(Some(v)), false) = (&result, flight.is_stale()) {
                        // No write to the key landed while we fetched (it
                        // would have made the flight stale), so the key is
                        // still absent; IfAbsent only guards that. An OOM
                        // refusal just means the value is served uncached.
                        let _ = core.shard.borrow_mut().set(
                            &key[..],
                            v.clone(),
                            SetExpiry::Clear,
                            SetCond::IfAbsent,
                            false,
                            now,
                        );
                    }
                    origin.land(&key, &flight, &result, now);
                })
                .detach();
                Err(rx)
            }
        }
    }

    /// Run a command (or a split command's part) on `shard`, appending its
    /// reply to `out`. On a read-through node a write first makes a fetch
    /// of its keys in flight stale, so the fetched value cannot land after
    /// (and undo) the write. Keys a handler changes fail their WATCHes.
    ///
    /// The run is timed here, on the core that runs it, because that is
    /// what Redis reports: the command's own execution, not the hop that
    /// brought it. A slow command's entry goes to `slow` for the requester
    /// to complete. A split command's part adds its time and failure to
    /// the command's row but not a call, and is never logged alone: the
    /// whole command is counted and logged by the requester (`pipeline`).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        shard: &mut Shard,
        (id, spec): (table::Id, &'static Spec),
        args: &[&[u8]],
        now: u64,
        proto: Proto,
        out: &mut Vec<u8>,
        slow: &mut Vec<Draft>,
    ) -> Part {
        let stats = &self.counters.commands;
        let started = stats.start();
        let part = self.run_untimed(shard, spec, args, now, proto, out);
        let whole = !matches!(spec.run, Run::Split(..));
        let ticks = stats.finish(id, started, u64::from(whole));
        if whole {
            if let Some(d) = stats.slow(&self.shared.slowlog, spec, args, ticks) {
                slow.push(d);
            }
        }
        part
    }

    #[inline]
    fn run_untimed(
        &self,
        shard: &mut Shard,
        spec: &'static Spec,
        args: &[&[u8]],
        now: u64,
        proto: Proto,
        out: &mut Vec<u8>,
    ) -> Part {
        if let Some(c) = &self.cluster {
            // The map may have moved since the requester's gate.
            let keys = spec
                .keys
                .positions(args)
                .into_iter()
                .flatten()
                .map(|p| args[p]);
            let present = |k: &[u8]| shard.peek_type(k, now).is_some();
            let write = spec.flags.has(Flags::WRITE);
            if let Err(e) = c.owns(self.id, keys, present, write, now) {
                Reply::new(out, proto).error(&e);
                return Part::Error;
            }
        }
        if let (Some(origin), true) = (&self.origin, spec.flags.has(Flags::WRITE)) {
            match spec.run {
                Run::Split(..) => origin.invalidate(args[1]),
                _ => {
                    for i in spec.keys.positions(args).into_iter().flatten() {
                        origin.invalidate(args[i]);
                    }
                }
            }
        }
        let watching = !self.watched.borrow().is_empty();
        let blocked = !self.blocked.borrow().is_empty();
        let mut touch = |key: &[u8]| {
            if watching {
                self.watched.borrow_mut().touch(key);
            }
            if blocked {
                self.blocked.borrow().signal(key);
            }
        };
        let mut ctx = Ctx {
            shard,
            now,
            epoch_unix_ms: self.shared.epoch_unix_ms,
            max_bulk: self.shared.max_bulk.load(Ordering::Relaxed),
            span: None,
            on_change: if watching || blocked {
                Some(&mut touch)
            } else {
                None
            },
            blocking: self.attempting.get(),
        };
        let mut w = Reply::new(out, proto);
        match spec.run {
            Run::Shard(f) => {
                f(&mut ctx, args, &mut w);
                Part::Reply
            }
            Run::Split(part, _) => part(&mut ctx, args, &mut w),
            Run::Conn(_) | Run::Node(_) => {
                w.error("ERR not a shard command");
                Part::Error
            }
        }
    }

    /// [`run`](Self::run) for a command of a batch.
    #[inline]
    fn run_op(
        &self,
        shard: &mut Shard,
        op: &BatchOp<'_>,
        now: u64,
        proto: Proto,
        out: &mut Replies,
    ) {
        let part = self.run(
            shard,
            (op.id, op.spec),
            &op.args,
            now,
            proto,
            &mut out.buf,
            &mut out.slow,
        );
        out.seal(part);
    }

    /// Zero this core's counters and its shard's (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        let c = &self.counters;
        c.commands.reset();
        if std::thread::current().id() == c.thread {
            crate::proto::errors::reset();
        }
        for n in [
            &c.connections_received,
            &c.rejected,
            &c.hops_sent,
            &c.hop_ops_served,
        ] {
            n.set(0);
        }
        self.shard.borrow_mut().reset_stats();
    }

    /// Apply this core's share of a node-wide memory bound (0: none).
    pub fn set_maxmemory(&self, node_bytes: usize) {
        let share = (node_bytes > 0).then(|| (node_bytes / self.n).max(1));
        self.shard.borrow_mut().set_maxmemory(share);
    }

    /// WATCH `keys` of this shard for `watch`; returns the expiry deadline
    /// of each key that has one (node-clock ms), which EXEC checks.
    pub fn watch(&self, keys: &[Box<[u8]>], watch: &Arc<super::watch::Watch>) -> Vec<u64> {
        let now = self.now();
        let mut shard = self.shard.borrow_mut();
        let mut reg = self.watched.borrow_mut();
        let mut deadlines = Vec::new();
        for key in keys {
            reg.add(key, watch);
            if let crate::store::Ttl::Ms(left) = shard.ttl(key, now) {
                deadlines.push(now + left);
            }
        }
        deadlines
    }

    /// FLUSHALL on this core's shard (and its fetches in flight). Watched
    /// keys that exist change, as Redis's `touchAllWatchedKeysInDb`.
    pub fn flush(&self) {
        let watched = self.watched.borrow().keys();
        if !watched.is_empty() {
            let now = self.now();
            let mut shard = self.shard.borrow_mut();
            let mut reg = self.watched.borrow_mut();
            for key in watched {
                if shard.exists(&key, now) {
                    reg.touch(&key);
                }
            }
        }
        self.shard.borrow_mut().flush();
        if let Some(origin) = &self.origin {
            origin.invalidate_all();
        }
    }

    /// Run a batch that may contain read-through GETs: everything else runs
    /// at once, in order; GET misses start (or join) their fetches together,
    /// then the replies are written in request order. An op after a GET
    /// that waits on a fetch of the same key first waits for that fetch, so
    /// it sees what it would without pipelining (EXISTS finds the fetched
    /// key, INCR adds to the fetched value, DEL removes it).
    pub async fn run_ops_async(self: &Rc<Self>, ops: &OpBatch, proto: Proto) -> Replies {
        enum Step {
            Done(Replies),
            Got(Fetched),
            Wait(oneshot::Receiver<Fetched>),
        }
        let abandoned = || Err(FetchError::Io("fetch abandoned".into()));
        let mut now = self.now();
        let mut parts = Vec::with_capacity(ops.len());
        // Keys of the GETs so far that wait on a fetch.
        let mut fetching: SmallVec<[&[u8]; 8]> = SmallVec::new();
        for op in ops.iter() {
            // A key of another type is answered by the command itself
            // (WRONGTYPE for GET, nil for MGET's part), never fetched.
            let other_type = || {
                let t = self.shard.borrow().peek_type(op.key(), now);
                t.is_some_and(|t| t != Type::String)
            };
            if self.reads_through(op.spec) && !other_type() {
                let key = op.key();
                match self.get_or_fetch(key, now) {
                    Ok(v) => parts.push(Step::Got(v)),
                    Err(rx) => {
                        fetching.push(key);
                        parts.push(Step::Wait(rx));
                    }
                }
                continue;
            }
            if fetching.contains(&op.key()) {
                for part in &mut parts {
                    if let Step::Wait(rx) = part {
                        *part = Step::Got(rx.await.unwrap_or_else(|_| abandoned()));
                    }
                }
                fetching.clear();
                now = self.now();
            }
            let mut r = Replies::default();
            self.run_op(&mut self.shard.borrow_mut(), &op, now, proto, &mut r);
            parts.push(Step::Done(r));
        }
        let mut out = Replies::default();
        for part in parts {
            match part {
                Step::Done(mut r) => {
                    out.slow.append(&mut r.slow);
                    out.buf.extend_from_slice(&r.buf);
                    out.seal(r.parts[0]);
                }
                Step::Got(v) => {
                    encode_fetched(&v, proto, &mut out.buf);
                    out.seal(Part::Reply);
                }
                Step::Wait(rx) => {
                    let v = rx.await.unwrap_or_else(|_| abandoned());
                    encode_fetched(&v, proto, &mut out.buf);
                    out.seal(Part::Reply);
                }
            }
        }
        out
    }

    /// Run ops for another core, encoding replies into `out`.
    fn run_ops(&self, ops: &OpBatch, proto: crate::proto::Proto, out: &mut Replies) {
        let now = self.now();
        let served = ops.len() as u64;
        {
            let mut shard = self.shard.borrow_mut();
            if ops.len() > 1 {
                let hashes: smallvec::SmallVec<[u64; 32]> =
                    ops.keys().map(|k| shard.hash_of(k)).collect();
                shard.prefetch(&hashes);
            }
            ops.for_each(|spec, args| {
                // A batch names its commands by id, but hands out rows.
                let part = self.run(
                    &mut shard,
                    (table::id_of(spec), spec),
                    args,
                    now,
                    proto,
                    &mut out.buf,
                    &mut out.slow,
                );
                out.seal(part);
            });
        }
        let c = &self.counters.hop_ops_served;
        c.set(c.get() + served);
    }

    /// Answer a hop from another core.
    fn serve_hop(self: &Rc<Self>, hop: Hop) {
        match hop {
            Hop::Direct {
                ops,
                finish,
                proto,
                fd,
                done,
                spanning,
            } if self.origin.is_some() && ops.fetches() => {
                let core = self.clone();
                glommio::spawn_local(async move {
                    let replies = core.run_ops_async(&ops, proto).await;
                    drop(spanning);
                    finish_direct(&core, fd, ops, finish, replies, proto, done);
                })
                .detach();
            }
            Hop::Ops { ops, proto, reply } if self.origin.is_some() && ops.fetches() => {
                let core = self.clone();
                glommio::spawn_local(async move {
                    let _ = reply.send(core.run_ops_async(&ops, proto).await);
                })
                .detach();
            }
            Hop::Direct {
                ops,
                finish,
                proto,
                fd,
                done,
                spanning,
            } => {
                let mut replies = Replies::with_capacity(ops.len());
                self.run_ops(&ops, proto, &mut replies);
                drop(spanning);
                finish_direct(self, fd, ops, finish, replies, proto, done);
            }
            Hop::Ops { ops, proto, reply } => {
                let mut out = Replies::with_capacity(ops.len());
                self.run_ops(&ops, proto, &mut out);
                // The requester may have gone (connection closed): nothing to do.
                let _ = reply.send(out);
            }
            Hop::Query { query, reply } => {
                if let Query::Flush = query {
                    self.flush();
                }
                let _ = reply.send(self.snapshot());
            }
            Hop::Block { keys, waiter, done } => {
                let mut reg = self.blocked.borrow_mut();
                for k in &keys {
                    reg.add(k, waiter.clone());
                }
                let _ = done.send(());
            }
            Hop::Unblock { keys, id } => super::blocking::remove_here(self, &keys, id),
            Hop::Keys { ask, reply } => {
                let now = self.now();
                let _ = reply.send(super::keys::answer(&mut self.shard.borrow_mut(), &ask, now));
            }
            Hop::Maxmemory(bytes) => self.set_maxmemory(bytes),
            Hop::Eviction(policy) => self.shard.borrow_mut().set_eviction(policy),
            Hop::Encodings(e) => self.shard.borrow_mut().set_encodings(e),
            Hop::Unpause => self.paused.wake_all(),
            Hop::ResetStats => self.reset_stats(),
            Hop::Clients { filter, reply } => {
                let _ = reply.send(self.conns.lines(&filter, self.now()));
            }
            Hop::Kill { filter, reply } => {
                let _ = reply.send(self.conns.kill(&filter, self.now()));
            }
            Hop::Watch { keys, watch, reply } => {
                let _ = reply.send(self.watch(&keys, &watch));
            }
            Hop::Pubsub(hop) => super::pubsub::serve(self, hop),
            Hop::Park { inbox, ack } => {
                // A transaction that spans cores holds this one: nothing of
                // this core may run until it is released, so the thread
                // blocks here, running only what the transaction sends.
                let parked = super::multi::Parked {
                    id: self.id,
                    core: Rc::as_ptr(self),
                };
                if ack.send(parked).is_err() {
                    return;
                }
                while let Ok(msg) = inbox.recv() {
                    match msg {
                        TxMsg::Run {
                            parts,
                            proto,
                            reply,
                        } => {
                            let _ = reply.send(self.run_parts(parts, proto));
                        }
                        TxMsg::Release => break,
                    }
                }
            }
        }
    }

    /// Run a transaction's parts for this core, in order, without yielding.
    pub fn run_parts(&self, parts: Vec<TxPart>, proto: Proto) -> Vec<TxOut> {
        parts
            .into_iter()
            .map(|part| match part {
                TxPart::Ops(ops) => {
                    let mut out = Replies::with_capacity(ops.len());
                    self.run_ops(&ops, proto, &mut out);
                    TxOut::Replies(out)
                }
                TxPart::Query(q) => {
                    if let Query::Flush = q {
                        self.flush();
                    }
                    TxOut::Snapshot(self.snapshot())
                }
            })
            .collect()
    }
}

/// Encode a read-through GET's outcome.
fn encode_fetched(v: &Fetched, proto: Proto, out: &mut Vec<u8>) {
    let mut w = Reply::new(out, proto);
    match v {
        Ok(Some(v)) => w.bulk(v),
        Ok(None) => w.nil(),
        Err(e) => w.error(&format!("ERR {e}")),
    }
}

/// End a [`Hop::Direct`] on core `id`: write the whole answer to the
/// client's socket and send the requester the outcome with its buffers.
fn finish_direct(
    core: &Rc<Core>,
    fd: std::os::fd::RawFd,
    ops: OpBatch,
    mut finish: Finish,
    mut replies: Replies,
    proto: Proto,
    done: oneshot::Sender<Finished>,
) {
    let slow = std::mem::take(&mut replies.slow);
    let out = finish.answer(replies, proto);
    let complete = move |core: &Core, outcome, out| {
        let spare = Spare::new(core.id, ops, finish, out);
        // The requester may have gone (connection closed): nothing to do.
        let _ = done.send(Finished {
            outcome,
            spare,
            slow,
        });
    };
    // The normal class's hard output limit, before any of it is written
    // (see `node::climits`); the requester closes the client on `Failed`.
    if super::climits::over_hard(out.len(), &core.shared.output_limits.normal) {
        log::warn!(
            "Client fd={fd} scheduled to be closed ASAP for overcoming of output buffer limits. \
             ({} bytes unsent)",
            out.len()
        );
        // The requester may be waiting for the client's next request:
        // ending its read is what closes the client.
        // SAFETY: the requester keeps `fd` open until it has our outcome.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        return complete(core, Delegated::Failed, out);
    }
    let mut sent = 0;
    match super::tail::send_some(fd, &out, &mut sent) {
        Some(true) => complete(core, Delegated::Done, out),
        None => complete(core, Delegated::Failed, out),
        // The socket is full: finish the write here (see `node::tail`).
        Some(false) => {
            let core = core.clone();
            glommio::spawn_local(async move {
                let outcome = super::tail::finish(&core, fd, &out, sent).await;
                complete(&core, outcome, out);
            })
            .detach();
        }
    }
}

/// Write `buf` to a client socket owned by another core's connection task,
/// without blocking: whatever does not fit is handed back.
pub(super) fn send_now(fd: std::os::fd::RawFd, buf: &[u8]) -> Delegated {
    let mut sent = 0;
    match super::tail::send_some(fd, buf, &mut sent) {
        Some(true) => Delegated::Done,
        Some(false) => Delegated::Rest(buf[sent..].to_vec()),
        None => Delegated::Failed,
    }
}

/// Serve hops from every other core until they hang up.
pub fn spawn_hop_servers(core: &Rc<Core>, receivers: Vec<ConnectedReceiver<Vec<Hop>>>) {
    for rx in receivers {
        let core = core.clone();
        glommio::spawn_local(async move {
            while let Some(batch) = rx.recv().await {
                for hop in batch {
                    core.serve_hop(hop);
                }
            }
        })
        .detach();
    }
}

/// How often the active expiry sweep runs (Redis's default `hz 10`).
const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// Keys sampled per round, as Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`.
const SWEEP_SAMPLE: usize = 20;
/// Most time one sweep may hold the core.
const SWEEP_BUDGET: Duration = Duration::from_millis(1);

/// Reclaim expired keys nobody reads: rounds of random samples, repeated
/// while more than a quarter of a sample had expired, within a 1 ms budget
/// so a sweep never stalls the core's clients.
pub fn spawn_expiry_sweeper(core: &Rc<Core>) {
    let core = core.clone();
    glommio::spawn_local(async move {
        while !core.life.stopping() {
            glommio::timer::sleep(SWEEP_EVERY).await;
            // An idle core takes a new slot map here, so the LB hears that
            // the whole node applies it within a sweep.
            core.refresh_routing();
            let start = Instant::now();
            let now = core.now();
            // Redis expires nothing while clients are paused, so the
            // keyspace a pause shows stays as it was.
            if core.shared.pause.holding(now).is_some() {
                continue;
            }
            let mut shard = core.shard.borrow_mut();
            loop {
                let (checked, expired) = shard.expire_sample(SWEEP_SAMPLE, now);
                if checked == 0 || expired * 4 <= checked || start.elapsed() > SWEEP_BUDGET {
                    break;
                }
            }
            let clients = core.shared.client_mem.total();
            core.shared
                .mem_peak
                .post(core.id, shard.used_bytes(), clients);
        }
    })
    .detach();
}
