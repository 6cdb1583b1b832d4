//! MULTI / EXEC / DISCARD: a connection's queued transaction, and running
//! it so that no other client sees it half applied, whichever cores its
//! keys live on.
//!
//! **How isolation holds.** A core runs one task at a time and never
//! yields inside a batch of ops, so a transaction whose keys all live on
//! one core is atomic by running all its ops in one batch there: on this
//! core directly, or in one [`Hop::Ops`] to the owner. A transaction that
//! spans cores *holds* every other core it touches: it sends each a
//! [`Hop::Park`], and a parked core blocks its thread, running only what
//! the transaction sends it, until released. Once all are held, the
//! requesting core runs its own share and every held core runs its share,
//! with no task of any of those cores in between; then it releases them.
//! Every reply of the transaction is computed while all its cores are
//! held, so a reader on any core sees all of it or none of it.
//!
//! **Commands that span cores outside a transaction** (MGET, MSET, DEL or
//! EXISTS over keys of several cores) run their parts at different moments
//! on different cores, so a transaction must not land between two of
//! their parts. Each such command counts itself in its core's `spanning`
//! counter from before its first part runs until its last part has run,
//! and a spanning transaction first takes the node's `tx_gate`, then waits
//! until every counter is zero. A command checks the gate after counting
//! itself (both with sequentially consistent order, Dekker's pattern): if
//! a transaction holds it, it takes itself out and waits. So commands pay
//! one uncontended atomic add and load per read while no transaction runs.
//!
//! **Why no deadlock.** Only the holder of `tx_gate` parks cores, so no two
//! transactions hold cores at once, and a transaction waits for parked
//! cores' acknowledgements (and for spanning commands to drain) without
//! blocking its own executor, which keeps serving the hops those commands
//! wait on. A parked core waits for nothing but its holder, which only
//! computes while it holds cores.

use super::core::Core;
use super::global::Global;
use super::hop::{Hop, Query, Snapshot, TxMsg, TxOut, TxPart};
use super::routing::Entry;
use super::session::Session;
use super::watch::Watch;
use crate::cmd::merge::{groups, merge};
use crate::cmd::slowlog::Draft;
use crate::cmd::spec::ConnFn;
use crate::cmd::{self, CmdError, Conn, Id, Merge, NodeCmd, OpBatch, Part, Run, Spec};
use crate::proto::{Proto, Reply};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// A connection's transaction between MULTI and EXEC.
#[derive(Default, Debug)]
pub struct Queued {
    /// Each queued command's arguments, owned (the read buffer moves on).
    cmds: Vec<Vec<Box<[u8]>>>,
    /// A command was refused while queueing: EXEC aborts.
    dirty: bool,
}

impl Queued {
    /// Commands queued so far.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// No command queued yet.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Queue a command that passed [`cmd::admit`].
    pub fn push(&mut self, args: &[&[u8]]) {
        self.cmds.push(args.iter().map(|a| Box::from(*a)).collect());
    }

    /// A command was refused: EXEC will abort.
    pub fn flag(&mut self) {
        self.dirty = true;
    }
}

/// Cluster mode: Redis checks EXEC against the keys of every queued
/// command together (`getNodeByQuery`): one slot on a core port, all served
/// here, the lease held. The refusal, if any: the caller discards the
/// transaction and counts a rejected EXEC, which never runs. It comes after
/// a queued error's EXECABORT and a failed WATCH, as redis-server 7.0.15
/// answers, so those transactions get no refusal here.
pub fn refusal(core: &Core, sess: &Session) -> Option<String> {
    let c = core.cluster.as_ref()?;
    let q = sess.multi.as_ref()?;
    let now = core.now();
    if q.dirty || sess.watching.as_ref().is_some_and(|w| w.failed(now)) {
        return None;
    }
    let (keys, write) = queued_keys(q);
    let asking = sess.client.asking;
    if let Err(e) = c.gate(core.id, sess.port, keys.iter().copied(), asking, now) {
        return Some(e);
    }
    // On a core port every key is this core's: a slot moving in or out
    // is judged for the transaction as a whole (all keys here, none, or
    // some: ASK or TRYAGAIN), as Redis does, not command by command.
    if sess.port == Entry::CorePort {
        let shard = core.shard.borrow();
        let present = |k: &[u8]| shard.peek_type(k, now).is_some();
        return c
            .owns(core.id, keys.iter().copied(), present, write, now)
            .err();
    }
    // On the main port its keys may be on several cores: one with a key
    // of a moving slot is refused whole (see `Local::settled`).
    match c.settled(keys.iter().copied()) {
        true => None,
        false => Some(crate::cluster::reply::TRYAGAIN.to_string()),
    }
}

/// The keys of every command in `q`, by each one's key spec, and whether
/// any of them writes.
fn queued_keys(q: &Queued) -> (Vec<&[u8]>, bool) {
    let (mut keys, mut write) = (Vec::new(), false);
    for c in &q.cmds {
        let args: Vec<&[u8]> = c.iter().map(|a| &a[..]).collect();
        if let Ok((_, spec)) = cmd::admit(&args, true) {
            let at = spec.keys.positions(&args).into_iter().flatten();
            keys.extend(at.map(|p| &c[p][..]));
            write |= spec.flags.has(cmd::Flags::WRITE);
        }
    }
    (keys, write)
}

/// Redis's reply to EXEC after a refused command.
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Counts a read with a command spanning cores in its core's
/// `Shared::spanning` until dropped (after the command's last part ran,
/// possibly on another core).
#[derive(Debug)]
pub struct Spanning(&'static AtomicUsize);

impl Drop for Spanning {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One core's count of spanning reads, alone on its cache line so the
/// cores never contend on each other's counters.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Counter(AtomicUsize);

/// Count this read as spanning cores, waiting first while a transaction
/// holds the gate (see the module header).
pub async fn enter_spanning(core: &Core) -> Spanning {
    let shared = &core.shared;
    let counter: &'static AtomicUsize = &shared.spanning[core.id].0;
    loop {
        counter.fetch_add(1, Ordering::SeqCst);
        if !shared.tx_gate.load(Ordering::SeqCst) {
            return Spanning(counter);
        }
        counter.fetch_sub(1, Ordering::SeqCst);
        wait_until(|| !shared.tx_gate.load(Ordering::SeqCst)).await;
    }
}

/// Yield to this core's other tasks until `ready()`; never blocks the
/// thread, so the core keeps serving the hops others wait on.
async fn wait_until(mut ready: impl FnMut() -> bool) {
    let mut turns = 0u32;
    while !ready() {
        turns += 1;
        if turns < 256 {
            futures_lite::future::yield_now().await;
        } else {
            // Longer waits (a transaction holding cores for long) sleep
            // instead of spinning the executor.
            glommio::timer::sleep(Duration::from_micros(50)).await;
        }
    }
}

/// Where the replies of one queued command come from.
enum Plan<'a> {
    /// Answered from its error, at its place in the array.
    Error(CmdError),
    /// A connection command (PING, CLIENT …), run at assembly.
    Conn(ConnFn, &'a [&'a [u8]]),
    /// UNWATCH inside the transaction.
    Unwatch,
    /// One command: part `part`, reply `i` of core `core`'s outcome.
    Key(usize, usize, usize),
    /// A split multi-key command: its parts, merged.
    Split(Merge, Vec<(usize, usize, usize)>),
    /// A whole-node command: one snapshot part per core.
    Global(Global, Vec<(usize, usize)>),
    /// PUBLISH, PUBSUB or CLIENT LIST/INFO/KILL: run once every core's
    /// share has been applied, in transaction order, reply `i` of those.
    /// They touch no key, so running them after the writes is what a
    /// client of Redis sees too: a subscriber told of a change finds the
    /// transaction's writes in place, as Redis delivers nothing until EXEC
    /// is done.
    After(usize),
}

/// Whether `node` is one a transaction runs after its shares ([`Plan::After`]).
fn runs_after(node: NodeCmd) -> bool {
    use crate::cmd::PubsubCmd as P;
    matches!(
        node,
        NodeCmd::ClientList
            | NodeCmd::ClientInfo
            | NodeCmd::ClientKill
            | NodeCmd::Pubsub(P::Publish | P::Channels | P::Numsub | P::Numpat)
    )
}

/// Every core's share of a transaction, in transaction order.
struct Shares {
    parts: Vec<Vec<TxPart>>,
}

impl Shares {
    fn new(n: usize) -> Self {
        Shares {
            parts: (0..n).map(|_| Vec::new()).collect(),
        }
    }

    /// Add command `id` with `args` to core `core`'s share; returns where
    /// its reply will be.
    fn op(&mut self, core: usize, id: Id, args: &[&[u8]]) -> (usize, usize, usize) {
        let parts = &mut self.parts[core];
        if !matches!(parts.last(), Some(TxPart::Ops(_))) {
            parts.push(TxPart::Ops(OpBatch::default()));
        }
        let part = parts.len() - 1;
        let Some(TxPart::Ops(batch)) = parts.last_mut() else {
            unreachable!("an ops part was just ensured")
        };
        batch.push(id, args);
        (core, part, batch.len() - 1)
    }

    /// Add a whole-shard question to every core's share.
    fn query(&mut self, q: Query) -> Vec<(usize, usize)> {
        self.parts
            .iter_mut()
            .enumerate()
            .map(|(core, parts)| {
                parts.push(TxPart::Query(q));
                (core, parts.len() - 1)
            })
            .collect()
    }

    fn cores(&self) -> Vec<usize> {
        (0..self.parts.len())
            .filter(|&c| !self.parts[c].is_empty())
            .collect()
    }
}

/// Run a transaction and write EXEC's reply: `-EXECABORT` if a command was
/// refused while queueing, else the array of every command's reply.
pub async fn exec(core: &Rc<Core>, sess: &mut Session, q: Queued, out: &mut Vec<u8>) {
    // EXEC ends the watch, whatever it answers.
    let watching = sess.watching.take();
    if q.dirty {
        Reply::new(out, sess.client.proto).error(EXECABORT);
        return;
    }
    if watching.as_ref().is_some_and(|w| w.failed(core.now())) {
        Reply::new(out, sess.client.proto).null_array();
        return;
    }
    let args: Vec<Vec<&[u8]>> = q
        .cmds
        .iter()
        .map(|c| c.iter().map(|a| &a[..]).collect())
        .collect();
    // KEYS, SCAN and RANDOMKEY read other cores' shards from here.
    if args
        .iter()
        .any(|a| spans_cores(core, a) || super::keys::is_keys_command(a))
    {
        return exec_held(core, sess, &args, watching.as_ref(), out).await;
    }
    let mut shares = Shares::new(core.n);
    let mut after: Vec<(NodeCmd, &[&[u8]])> = Vec::new();
    let plans: Vec<Plan<'_>> = args
        .iter()
        .map(|a| plan(core, &mut shares, &mut after, a))
        .collect();
    let proto = sess.client.proto;
    // A core port's transaction was judged whole by `refusal`.
    let judged = sess.port == Entry::CorePort;
    let Some(mut outcomes) = run_shares(core, shares, proto, watching.as_ref(), judged).await
    else {
        Reply::new(out, proto).null_array();
        return;
    };
    let mut after_replies = Vec::with_capacity(after.len());
    for (node, a) in after {
        let mut buf = Vec::new();
        match node {
            NodeCmd::Pubsub(cmd) => {
                let mut none = super::pipeline::Plan::default();
                super::pubsub::run(core, sess, &mut none, cmd, a, proto, &mut buf).await;
            }
            _ => super::clients::run(core, sess, node, a, proto, &mut buf).await,
        }
        after_replies.push(buf);
    }
    let stats = &core.counters.commands;
    // Shard and connection commands count their calls where they run.
    for a in &args {
        if let Ok((id, spec)) = cmd::admit(a, true) {
            if matches!(spec.run, Run::Split(..) | Run::Node(_)) {
                stats.call(id);
            }
        }
    }
    // Built only if a core went away: an error counts where it is written.
    let unavailable = std::cell::OnceCell::new();
    let part_at = |(c, p, i): (usize, usize, usize)| {
        reply_at(&outcomes, c, p, i).unwrap_or_else(|| {
            let e = unavailable.get_or_init(|| {
                let mut v = Vec::new();
                Reply::new(&mut v, proto).error("ERR shard unavailable (node shutting down)");
                v
            });
            (Part::Error, &e[..])
        })
    };
    let mut w = Reply::new(out, proto);
    let mut slow = Vec::new();
    w.array(plans.len());
    for plan in plans {
        match plan {
            Plan::Error(e) => cmd::fail(&mut w, e),
            Plan::Conn(f, a) => slow.extend(run_conn(core, sess, f, a, &mut w)),
            Plan::Unwatch => w.ok(),
            Plan::After(i) => w.raw().extend_from_slice(&after_replies[i]),
            Plan::Key(c, p, i) => {
                let r = part_at((c, p, i)).1;
                w.raw().extend_from_slice(r);
            }
            Plan::Split(how, at) => {
                merge(how, at.iter().map(|&x| part_at(x)), at.len(), &mut w);
            }
            Plan::Global(g, at) => {
                let snaps: Vec<Snapshot> = at
                    .iter()
                    .filter_map(|&(c, p)| match outcomes[c].get(p) {
                        Some(TxOut::Snapshot(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                super::global::answer(core, g, &snaps, &mut w);
            }
        }
    }
    for out in outcomes.iter_mut().flatten() {
        if let TxOut::Replies(r) = out {
            slow.append(&mut r.slow);
        }
    }
    super::cmdstats::log(core, sess, &mut slow);
}

/// Run connection command `f` of a transaction, timed: its slow-log entry
/// if it was slow.
fn run_conn(
    core: &Rc<Core>,
    sess: &mut Session,
    f: ConnFn,
    a: &[&[u8]],
    w: &mut Reply<'_>,
) -> Option<Draft> {
    let mut conn = Conn {
        client: &mut sess.client,
        server: &**core,
    };
    let started = core.counters.commands.start();
    f(&mut conn, a, w);
    conn_slow(core, a, started)
}

/// A connection command of a transaction that began at `started` has
/// ended: its time, and its slow-log entry if it was slow.
fn conn_slow(core: &Core, a: &[&[u8]], started: super::cmdstats::Started) -> Option<Draft> {
    let id = cmd::table::named(a)?;
    let ticks = core.counters.commands.finish(id, started, 1);
    core.counters
        .commands
        .slow(&core.shared.slowlog, cmd::table::spec(id), a, ticks)
}

/// Whether `a` is a shard command whose keys live on several cores.
fn spans_cores(core: &Core, a: &[&[u8]]) -> bool {
    matches!(cmd::admit(a, true), Ok((_, spec)) if matches!(spec.run, Run::Shard(_))
        && super::pipeline::owner(core, spec, a, None).is_none())
}

/// EXEC of a transaction with a command whose keys live on several cores
/// (a RENAME across cores …): every core is held for the whole
/// transaction and every command runs here, in order, on its owners'
/// shards. Slower than the per-core shares of [`run_shares`], which
/// cannot order such a command against the others, but as isolated.
async fn exec_held(
    core: &Rc<Core>,
    sess: &mut Session,
    args: &[Vec<&[u8]>],
    watching: Option<&Watching>,
    out: &mut Vec<u8>,
) {
    let proto = sess.client.proto;
    let all: Vec<usize> = (0..core.n).collect();
    let mut held = Held::take(core, &all).await;
    if watching.is_some_and(|w| w.failed(core.now())) {
        held.release();
        return Reply::new(out, proto).null_array();
    }
    let now = core.now();
    let mut w = Reply::new(out, proto);
    let stats = &core.counters.commands;
    let mut slow = Vec::new();
    w.array(args.len());
    let core_port = sess.port == Entry::CorePort;
    let mut run = || {
        for a in args {
            let (id, spec) = match cmd::admit(a, true) {
                Ok(x) => x,
                Err(e) => {
                    cmd::fail(&mut w, e);
                    continue;
                }
            };
            if matches!(spec.run, Run::Split(..) | Run::Node(_)) {
                stats.call(id);
            }
            let mut on = |c: usize, spec: &'static Spec, a: &[&[u8]], buf: &mut Vec<u8>| match held
                .core(c)
            {
                Some(owner) => {
                    let mut shard = owner.shard.borrow_mut();
                    owner.run(&mut shard, (id, spec), a, now, proto, buf, &mut slow)
                }
                None => {
                    Reply::new(buf, proto).error("ERR shard unavailable (node shutting down)");
                    Part::Error
                }
            };
            match spec.run {
                Run::Shard(f) => match super::pipeline::owner(core, spec, a, None) {
                    Some(c) => {
                        on(c, spec, a, w.raw());
                    }
                    None => {
                        let mut shard = core.shard.borrow_mut();
                        let mut ctx = held_ctx(core, &mut shard, &mut held, now);
                        let started = stats.start();
                        f(&mut ctx, a, &mut w);
                        let ticks = stats.finish(id, started, 1);
                        slow.extend(stats.slow(&core.shared.slowlog, spec, a, ticks));
                    }
                },
                Run::Split(_, how) => {
                    let positions = spec.keys.positions(a).into_iter().flatten();
                    cmd::merge::run_all(
                        a,
                        positions,
                        spec.keys.step as usize,
                        how,
                        |group, buf| on(core.owner(group[1]), spec, group, buf),
                        &mut w,
                    );
                }
                Run::Conn(f) => slow.extend(run_conn(core, sess, f, a, &mut w)),
                Run::Node(NodeCmd::Unwatch) => w.ok(),
                Run::Node(
                    NodeCmd::ClientList
                    | NodeCmd::ClientInfo
                    | NodeCmd::ClientKill
                    | NodeCmd::Pubsub(_),
                ) => cmd::fail(&mut w, CmdError::NotInMulti(spec.name)),
                Run::Node(NodeCmd::KeysInSlot) if core.cluster.is_none() => {
                    w.error(cmd::cluster::DISABLED)
                }
                Run::Node(
                    n @ (NodeCmd::Keys | NodeCmd::Scan | NodeCmd::RandomKey | NodeCmd::KeysInSlot),
                ) => {
                    let ask = |c: usize, q: &super::keys::Ask| {
                        let shard = &mut held.core(c)?.shard.borrow_mut();
                        Some(super::keys::answer(shard, q, now))
                    };
                    super::keys::run_held(n, a, core.n, ask, &mut w);
                }
                Run::Node(n) => match Global::of(n, a) {
                    Ok(Some(g)) => {
                        let snaps: Vec<Snapshot> = (0..core.n)
                            .filter_map(|c| held.core(c))
                            .map(|c| {
                                if g == Global::Flush {
                                    c.flush();
                                }
                                c.snapshot()
                            })
                            .collect();
                        super::global::answer(core, g, &snaps, &mut w);
                    }
                    Ok(None) => cmd::fail(&mut w, CmdError::Syntax),
                    Err(e) => cmd::fail(&mut w, e),
                },
            }
        }
    };
    // A core port's transaction was judged whole by `refusal`.
    match &core.cluster {
        Some(c) if core_port => c.judged(run),
        _ => run(),
    }
    held.release();
    super::cmdstats::log(core, sess, &mut slow);
}

/// Where one queued command's reply will come from, adding its work to
/// the cores' shares.
fn plan<'a>(
    core: &Core,
    shares: &mut Shares,
    after: &mut Vec<(NodeCmd, &'a [&'a [u8]])>,
    a: &'a [&'a [u8]],
) -> Plan<'a> {
    let (id, spec) = match cmd::admit(a, true) {
        Ok(x) => x,
        Err(e) => return Plan::Error(e),
    };
    match spec.run {
        Run::Shard(_) => match super::pipeline::owner(core, spec, a, None) {
            Some(c) => {
                let (c, p, i) = shares.op(c, id, a);
                Plan::Key(c, p, i)
            }
            None => Plan::Error(CmdError::CrossCore),
        },
        Run::Split(_, how) => {
            let step = spec.keys.step as usize;
            let positions = spec.keys.positions(a).into_iter().flatten();
            let at = groups(positions, step)
                .map(|r| {
                    let mut group = vec![a[0]];
                    group.extend_from_slice(&a[r.clone()]);
                    shares.op(core.owner(a[r.start]), id, &group)
                })
                .collect();
            Plan::Split(how, at)
        }
        Run::Conn(f) => Plan::Conn(f, a),
        Run::Node(NodeCmd::Unwatch) => Plan::Unwatch,
        Run::Node(n) if runs_after(n) => {
            after.push((n, a));
            Plan::After(after.len() - 1)
        }
        Run::Node(
            NodeCmd::ClientList | NodeCmd::ClientInfo | NodeCmd::ClientKill | NodeCmd::Pubsub(_),
        ) => Plan::Error(CmdError::NotInMulti(spec.name)),
        Run::Node(n) => match Global::of(n, a) {
            Ok(Some(g)) => {
                let q = if g == Global::Flush {
                    Query::Flush
                } else {
                    Query::Snapshot
                };
                Plan::Global(g, shares.query(q))
            }
            // MULTI, EXEC, DISCARD, WATCH and QUIT run at once, never queued.
            Ok(None) => Plan::Error(CmdError::Syntax),
            Err(e) => Plan::Error(e),
        },
    }
}

/// Reply `i` of part `part` of core `core`'s outcomes; `None` if that core
/// went away (the node is stopping) before it answered.
fn reply_at(outcomes: &[Vec<TxOut>], core: usize, part: usize, i: usize) -> Option<(Part, &[u8])> {
    match outcomes[core].get(part) {
        Some(TxOut::Replies(r)) if i < r.ends.len() => Some(r.part(i)),
        _ => None,
    }
}

/// Run every core's share so that no other task of any involved core runs
/// between the first and the last (see the module header). Returns each
/// core's outcomes, in its share's order, or `None` if `watching` failed:
/// it is checked in that same span, so no write lands between the check
/// and the transaction.
async fn run_shares(
    core: &Rc<Core>,
    shares: Shares,
    proto: Proto,
    watching: Option<&Watching>,
    judged: bool,
) -> Option<Vec<Vec<TxOut>>> {
    let cores = shares.cores();
    let mut outcomes: Vec<Vec<TxOut>> = (0..core.n).map(|_| Vec::new()).collect();
    let mut parts = shares.parts;
    let failed = |core: &Core| watching.is_some_and(|w| w.failed(core.now()));
    match cores.as_slice() {
        [] if failed(core) => return None,
        [] => return Some(outcomes),
        [only] if *only == core.id => {
            if failed(core) {
                return None;
            }
            let mine = std::mem::take(&mut parts[core.id]);
            outcomes[core.id] = match &core.cluster {
                Some(c) if judged => c.judged(|| core.run_parts(mine, proto)),
                _ => core.run_parts(mine, proto),
            };
            return Some(outcomes);
        }
        // With a WATCH, the check must share the span with the other
        // core's share: hold it as below.
        [only] if watching.is_none() => {
            // One other core: its share is ops only (a query spans every
            // core), so one batch there runs it whole.
            let mut all = OpBatch::default();
            for part in std::mem::take(&mut parts[*only]) {
                if let TxPart::Ops(ops) = part {
                    all.extend(&ops);
                }
            }
            let n = all.len();
            let (tx, rx) = futures_channel::oneshot::channel();
            let hop = Hop::Ops {
                ops: all,
                proto,
                reply: tx,
            };
            if n > 0 && core.mesh.send_to(*only, hop).is_ok() {
                if let Ok(replies) = rx.await {
                    outcomes[*only] = vec![TxOut::Replies(replies)];
                }
            }
            return Some(outcomes);
        }
        _ => {}
    }

    // Spanning cores: hold every other involved core, then run
    // everything without yielding.
    let held = Held::take(core, &cores).await;
    // From here to the release nothing awaits: this core runs no other
    // task, and every held core runs only what this sends it.
    if failed(core) {
        held.release();
        return None;
    }
    let mut pending = Vec::with_capacity(held.cores.len());
    for h in &held.cores {
        let (reply, answer) = mpsc::channel();
        let msg = TxMsg::Run {
            parts: std::mem::take(&mut parts[h.id]),
            proto,
            reply,
        };
        if h.inbox.send(msg).is_ok() {
            pending.push((h.id, answer));
        }
    }
    outcomes[core.id] = core.run_parts(std::mem::take(&mut parts[core.id]), proto);
    for (c, answer) in pending {
        if let Ok(out) = answer.recv() {
            outcomes[c] = out;
        }
    }
    held.release();
    Some(outcomes)
}

/// A core held by a transaction or a command spanning cores.
struct HeldCore {
    id: usize,
    inbox: mpsc::Sender<TxMsg>,
    /// The held core, valid until it is released (see [`Parked`]).
    core: *const Core,
}

/// The other cores a transaction or spanning command holds, released on
/// [`Held::release`].
struct Held<'a> {
    here: &'a Core,
    cores: Vec<HeldCore>,
}

impl<'a> Held<'a> {
    /// Take the gate, let spanning commands drain, then park every core of
    /// `cores` but this one and wait until each is held.
    async fn take(core: &'a Core, cores: &[usize]) -> Held<'a> {
        let shared = &core.shared;
        wait_until(|| {
            shared
                .tx_gate
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
        .await;
        wait_until(|| {
            shared
                .spanning
                .iter()
                .all(|c| c.0.load(Ordering::SeqCst) == 0)
        })
        .await;
        let (ack_tx, ack_rx) = mpsc::channel::<Parked>();
        let mut inboxes = Vec::new();
        for &c in cores.iter().filter(|&&c| c != core.id) {
            let (tx, rx) = mpsc::channel();
            let park = Hop::Park {
                inbox: rx,
                ack: ack_tx.clone(),
            };
            if core.mesh.send_to(c, park).is_ok() {
                inboxes.push((c, tx));
            }
        }
        drop(ack_tx);
        let mut parked: Vec<Parked> = Vec::new();
        wait_until(|| {
            while let Ok(p) = ack_rx.try_recv() {
                parked.push(p);
            }
            parked.len() == inboxes.len()
        })
        .await;
        let cores = inboxes
            .into_iter()
            .filter_map(|(id, inbox)| {
                let p = parked.iter().find(|p| p.id == id)?;
                Some(HeldCore {
                    id,
                    inbox,
                    core: p.core,
                })
            })
            .collect();
        Held { here: core, cores }
    }

    /// Let every held core go, and open the gate.
    fn release(self) {
        for h in &self.cores {
            let _ = h.inbox.send(TxMsg::Release);
        }
        self.here.shared.tx_gate.store(false, Ordering::SeqCst);
    }

    /// Core `id`, if it is held (or is this one).
    fn core(&self, id: usize) -> Option<&Core> {
        if id == self.here.id {
            return Some(self.here);
        }
        let h = self.cores.iter().find(|h| h.id == id)?;
        // SAFETY: a held core's thread is blocked in its park loop, touching
        // nothing of its `Core` until this sends `Release`, which consumes
        // `self` (see `Parked`); the channels order its last writes before
        // ours and ours before its next.
        Some(unsafe { &*h.core })
    }
}

/// A core's acknowledgement that a transaction holds it: the pointer lets
/// the holder run commands on its shard while its thread is blocked.
pub struct Parked {
    /// The core.
    pub id: usize,
    /// The core itself, valid until the holder releases it.
    pub core: *const Core,
}

// SAFETY: the pointer is only dereferenced by the holder, while the core's
// own thread is blocked waiting for the holder (see `Held::core`).
unsafe impl Send for Parked {}

/// The context of a command run on this core with every core it touches
/// held: its keys' shards are reached through `held`.
fn held_ctx<'a>(
    core: &Core,
    shard: &'a mut crate::store::Shard,
    held: &'a mut Held<'_>,
    now: u64,
) -> cmd::Ctx<'a> {
    cmd::Ctx {
        shard,
        span: Some(held),
        now,
        epoch_unix_ms: core.shared.epoch_unix_ms,
        max_bulk: core.shared.max_bulk.load(Ordering::Relaxed),
        on_change: None,
        blocking: core.attempting.get(),
    }
}

impl cmd::spec::Span for Held<'_> {
    fn shard(&mut self, key: &[u8]) -> Option<&mut crate::store::Shard> {
        let owner = self.here.owner(key);
        if owner == self.here.id {
            return None;
        }
        let core = self.core(owner)?;
        // SAFETY: as in `Held::core`; nothing on the held core's thread
        // borrows its shard while it is parked (a shard is never borrowed
        // across an await, and the park loop holds no borrow), and the
        // `&mut self` borrow keeps this the only reference we hand out.
        Some(unsafe { &mut *core.shard.as_ptr() })
    }

    fn changed(&mut self, key: &[u8]) {
        if let Some(core) = self.core(self.here.owner(key)) {
            core.watched.borrow_mut().touch(key);
            // Waking is a channel send, safe from this thread.
            core.blocked.borrow().signal(key);
        }
    }
}

/// Run a command whose keys live on several cores (RENAME, COPY, MSETNX
/// …) as one: hold every core it touches, run its handler here with their
/// shards, release them. No other client sees it half done. Its time is
/// its handler's, not the wait to hold the cores; returns its slow-log
/// entry if it was slow.
pub async fn run_spanning(
    core: &Rc<Core>,
    spec: &'static Spec,
    args: &[&[u8]],
    proto: Proto,
    out: &mut Vec<u8>,
) -> Option<Draft> {
    let mut cores: Vec<usize> = spec
        .keys
        .positions(args)
        .into_iter()
        .flatten()
        .map(|p| core.owner(args[p]))
        .collect();
    cores.sort_unstable();
    cores.dedup();
    let mut held = Held::take(core, &cores).await;
    let now = core.now();
    let mut slow = None;
    if spec.flags.has(cmd::Flags::WRITE) {
        for p in spec.keys.positions(args).into_iter().flatten() {
            if let Some(origin) = held
                .core(core.owner(args[p]))
                .and_then(|c| c.origin.as_ref())
            {
                origin.invalidate(args[p]);
            }
        }
    }
    if let Run::Shard(f) = spec.run {
        let mut shard = core.shard.borrow_mut();
        let mut ctx = held_ctx(core, &mut shard, &mut held, now);
        let stats = &core.counters.commands;
        let started = stats.start();
        f(&mut ctx, args, &mut Reply::new(out, proto));
        let ticks = stats.finish(cmd::table::id_of(spec), started, 1);
        slow = core
            .counters
            .commands
            .slow(&core.shared.slowlog, spec, args, ticks);
    }
    held.release();
    slow
}

/// Whether this request, while a transaction is queueing, is one that runs
/// at once instead of being queued (Redis's list: EXEC, DISCARD, MULTI,
/// WATCH, QUIT, RESET).
pub fn runs_now(spec: &Spec) -> bool {
    matches!(
        spec.run,
        Run::Node(
            NodeCmd::Exec | NodeCmd::Discard | NodeCmd::Multi | NodeCmd::Watch | NodeCmd::Quit
        )
    )
}

/// A connection's WATCH: its flag, set when a watched key changes, and the
/// expiry deadlines of the watched keys that had a TTL.
#[derive(Debug, Default)]
pub struct Watching {
    watch: Arc<Watch>,
    deadlines: Vec<u64>,
}

impl Watching {
    /// Whether EXEC must fail: a watched key changed or its TTL passed.
    fn failed(&self, now: u64) -> bool {
        self.watch.dirty() || self.deadlines.iter().any(|&d| now >= d)
    }
}

/// WATCH `keys` for this connection: register each on its owner core
/// (after the read's earlier requests, which the caller has flushed).
pub async fn watch(core: &Rc<Core>, sess: &mut Session, keys: &[&[u8]]) {
    let w = sess.watching.get_or_insert_with(Watching::default);
    let mut by_core: Vec<Vec<Box<[u8]>>> = (0..core.n).map(|_| Vec::new()).collect();
    for k in keys {
        by_core[core.owner(k)].push(Box::from(*k));
    }
    let mut pending = Vec::new();
    for (c, keys) in by_core
        .into_iter()
        .enumerate()
        .filter(|(_, k)| !k.is_empty())
    {
        if c == core.id {
            w.deadlines.extend(core.watch(&keys, &w.watch));
            continue;
        }
        let (tx, rx) = futures_channel::oneshot::channel();
        let hop = Hop::Watch {
            keys,
            watch: w.watch.clone(),
            reply: tx,
        };
        if core.mesh.send_to(c, hop).is_ok() {
            pending.push(rx);
        }
    }
    for rx in pending {
        if let Ok(d) = rx.await {
            w.deadlines.extend(d);
        }
    }
}
