//! Turning one read's worth of pipelined requests into replies.
//!
//! Requests run in order. A request on a key this core owns runs at once,
//! its reply written straight to the output. The first request for a key
//! another core owns switches the read into *plan* mode: from then on each
//! reply is a step in a plan — a local reply kept aside, or slot `i` of the
//! batch for core `c` — and every op for core `c` in this read goes in one
//! [`Hop`], so a pipeline of 16 costs at most one hop per core, not 16.
//! Commands that need every core (DBSIZE, FLUSHALL, INFO) are barriers: the
//! plan is flushed before they run, so they see every earlier write.

use super::cmdstats;
use super::core::{bump, Core};
use super::global::{self, Global};
use super::hop::{assemble, Delegated, Finish, Finished, Hop, Replies, Spare, Src, Step};
use super::multi;
use super::pause;
use super::session::{self, Session};
use crate::cmd::merge::run_all;
use crate::cmd::slowlog::Draft;
use crate::cmd::{self, Conn, Flags, Id, Merge, NodeCmd, OpBatch, Part, Run, Spec};
use crate::proto::{line, resp, Dialect, Proto, Reply};
use futures_channel::oneshot;
use smallvec::SmallVec;
use std::ops::Range;
use std::os::fd::RawFd;
use std::rc::Rc;

/// What the connection does after this read.
#[derive(Debug, PartialEq, Eq)]
pub enum After {
    /// Keep reading.
    Continue,
    /// Close after writing the output (QUIT, protocol error).
    Close,
    /// The replies reached `OutputLimits::pause` before the input's last
    /// complete request: write them, then take the rest before reading
    /// more. Replies another core assembles for one hop are not counted
    /// (see `docs/SECURITY.md`).
    Full,
}

/// Pending work of one read; reused across reads to keep allocations warm.
#[derive(Default)]
pub struct Plan {
    /// Held from before the first part of a command spanning cores runs in
    /// this read until its last part has (see `multi`).
    spanning: Option<super::multi::Spanning>,
    active: bool,
    batches: Vec<OpBatch>,
    steps: Vec<Step>,
    local: Replies,
    pre: Preparsed,
    /// Slow-log entries of this read's commands not yet logged: each is
    /// logged with the connection's address and name before the next
    /// request runs (a hop's, once its replies are back).
    pub(super) slow: Vec<Draft>,
}

/// The leading multibulk requests of a read as [`prefetch_keys`] parsed
/// them, so the main loop takes their arguments from here instead of
/// parsing each request a second time.
#[derive(Default)]
struct Preparsed {
    /// Argument ranges of every parsed request, back to back, each relative
    /// to the start of its own request.
    ranges: Vec<Range<usize>>,
    /// Per request: its length in bytes, its share of `ranges`, and the
    /// core owning its second argument (`NO_KEY` if it has none): the key
    /// of most commands, whose CRC16 is then computed once per request.
    reqs: SmallVec<[(usize, Range<usize>, u32); PREFETCH_MAX]>,
    /// Requests the main loop has taken so far.
    next: usize,
}

/// See [`Preparsed::reqs`].
const NO_KEY: u32 = u32::MAX;

impl Preparsed {
    fn clear(&mut self) {
        self.ranges.clear();
        self.reqs.clear();
        self.next = 0;
    }

    /// The next request's length and the owner of its second argument,
    /// with its arguments put in `args`; `None` once the parsed prefix is
    /// used up.
    fn take(&mut self, args: &mut resp::Args) -> Option<(usize, Option<usize>)> {
        let (len, r, arg1) = self.reqs.get(self.next)?.clone();
        self.next += 1;
        args.clear();
        args.ranges.extend_from_slice(&self.ranges[r]);
        Some((len, (arg1 != NO_KEY).then_some(arg1 as usize)))
    }
}

const UNAVAILABLE: &str = "ERR shard unavailable (node shutting down)";

/// Room a plan's buffers get when a read needs another core and they are
/// empty: a batch, the plan's steps and its local replies leave with each
/// hop, and only a delegated read's come back (see [`Plan::restore`]).
/// Sized once here for a typical pipeline (redis-benchmark `-P 16`) they
/// are not regrown step by step, which was ~5% of a 2-core node's CPU in
/// `realloc`.
const PLAN_OPS: usize = 16;
const PLAN_BYTES: usize = 512;

impl Plan {
    /// Take back the buffers of a read delegated earlier (see [`Spare`]),
    /// where this plan's own have gone with a hop and not been replaced.
    /// `out` is the connection's output buffer.
    pub fn restore(&mut self, spare: Spare, out: &mut Vec<u8>) {
        if let Some(batch) = self.batches.get_mut(spare.owner) {
            if batch.is_empty() && batch.capacity() == 0 {
                *batch = spare.ops;
            }
        }
        if self.steps.is_empty() && self.steps.capacity() == 0 {
            self.steps = spare.steps;
        }
        if self.local.ends.is_empty() && self.local.ends.capacity() == 0 {
            self.local = spare.local;
        }
        if out.is_empty() && out.capacity() == 0 {
            *out = spare.out;
        }
    }

    /// Switch to plan mode: replies from here on are kept aside in order.
    fn activate(&mut self) {
        self.active = true;
        if self.steps.capacity() == 0 {
            self.steps.reserve(PLAN_OPS);
        }
        if self.local.ends.capacity() == 0 {
            self.local.ends.reserve(PLAN_OPS);
            self.local.buf.reserve(PLAN_BYTES);
        }
    }

    /// Record a locally produced reply.
    fn local(&mut self, out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
        self.local_part(out, |o, _| {
            f(o);
            Part::Reply
        });
    }

    /// Record a locally produced reply that reported `f`'s [`Part`]; `f`
    /// also gets the read's slow-log entries to add to.
    fn local_part(
        &mut self,
        out: &mut Vec<u8>,
        f: impl FnOnce(&mut Vec<u8>, &mut Vec<Draft>) -> Part,
    ) {
        if !self.active {
            f(out, &mut self.slow);
        } else {
            let part = f(&mut self.local.buf, &mut self.slow);
            self.local.seal(part);
            self.steps
                .push(Step::One(Src::Local(self.local.ends.len() as u32 - 1)));
        }
    }

    /// A command (or split command's part) on the keys of core `owner`:
    /// run now if that is this core, else batched for it.
    #[allow(clippy::too_many_arguments)]
    fn push_op(
        &mut self,
        core: &Core,
        now: u64,
        proto: Proto,
        owner: usize,
        (id, spec): (Id, &'static Spec),
        args: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        // A read-through GET on this core's own key waits in this core's
        // batch (it may have to fetch); the commands on this core's keys
        // that follow it join that batch instead of running ahead of it.
        let own_waiting = self.batches.get(core.id).is_some_and(|b| !b.is_empty());
        if owner == core.id && !core.reads_through(spec) && !own_waiting {
            self.local_part(out, |o, slow| {
                core.run(
                    &mut core.shard.borrow_mut(),
                    (id, spec),
                    args,
                    now,
                    proto,
                    o,
                    slow,
                )
            });
        } else {
            if self.batches.len() < core.n {
                self.batches.resize_with(core.n, OpBatch::default);
            }
            self.activate();
            let batch = &mut self.batches[owner];
            if batch.is_empty() {
                batch.reserve(PLAN_OPS, PLAN_BYTES);
            }
            self.steps
                .push(Step::One(Src::Remote(owner as u16, batch.len() as u32)));
            batch.push(id, args);
        }
    }

    /// A split command: its key groups run on their owners, merged here.
    #[allow(clippy::too_many_arguments)]
    fn push_split(
        &mut self,
        core: &Core,
        now: u64,
        proto: Proto,
        cmd: (Id, &'static Spec),
        how: Merge,
        args: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let spec = cmd.1;
        let step = spec.keys.step as usize;
        let positions = || spec.keys.positions(args).into_iter().flatten();
        let owners: SmallVec<[usize; PREFETCH_MAX]> =
            positions().map(|p| core.owner(args[p])).collect();
        let all_local = owners.iter().all(|&o| o == core.id) && !core.reads_through(spec);
        if owners.len() > 1 {
            // The keys of one MSET/MGET/DEL are independent lookups: start
            // all their cache misses before running the first.
            let shard = core.shard.borrow();
            let hashes: SmallVec<[u64; PREFETCH_MAX]> = positions()
                .zip(&owners)
                .filter(|(_, &o)| o == core.id)
                .take(PREFETCH_MAX)
                .map(|(p, _)| shard.hash_of(args[p]))
                .collect();
            shard.prefetch(&hashes);
        }
        if all_local && !self.active {
            // Fast path: run now and merge straight into the output. The
            // parts count their own time; the slow log sees the whole.
            let mut shard = core.shard.borrow_mut();
            let started = core.counters.commands.start();
            run_all(
                args,
                positions(),
                step,
                how,
                |group, buf| core.run(&mut shard, cmd, group, now, proto, buf, &mut self.slow),
                &mut Reply::new(out, proto),
            );
            let ticks = core.counters.commands.elapsed(started);
            self.slow.extend(
                core.counters
                    .commands
                    .slow(&core.shared.slowlog, spec, args, ticks),
            );
            return;
        }
        // Switch to plan mode so local parts are kept aside in order.
        self.activate();
        self.steps.push(Step::Group(how, owners.len() as u32));
        let mut group: SmallVec<[&[u8]; 3]> = SmallVec::new();
        for (p, owner) in positions().zip(owners) {
            group.clear();
            group.push(args[0]);
            group.extend_from_slice(&args[p..p + step]);
            self.push_op(core, now, proto, owner, cmd, &group, out);
        }
    }

    /// If this read needs exactly one other core, hand it the rest of the
    /// read: its ops plus everything answered so far (`out` and the local
    /// replies), so that core writes the whole answer to the client itself.
    /// Returns the completion to await before touching the socket again.
    pub fn delegate(
        &mut self,
        core: &Rc<Core>,
        proto: Proto,
        fd: RawFd,
        out: &mut Vec<u8>,
    ) -> Option<oneshot::Receiver<Finished>> {
        if !self.active {
            return None;
        }
        let mut owners = self
            .batches
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(c, _)| c);
        let owner = owners.next()?;
        // Read-through GETs on this core's own keys, or more than one owner:
        // the replies must come back here.
        if owner == core.id || owners.next().is_some() || !core.mesh.accepts(owner) {
            return None;
        }
        // Steps that are all the owner's replies in order need not travel.
        let plain = self.local.ends.is_empty()
            && self
                .steps
                .iter()
                .all(|s| matches!(s, Step::One(Src::Remote(..))));
        let finish = Finish {
            // Taking an empty `out` would only move its capacity away.
            prefix: if out.is_empty() {
                Vec::new()
            } else {
                std::mem::take(out)
            },
            steps: if plain {
                Vec::new()
            } else {
                std::mem::take(&mut self.steps)
            },
            local: if plain {
                Replies::default()
            } else {
                std::mem::take(&mut self.local)
            },
        };
        let (done, rx) = oneshot::channel();
        bump(&core.counters.hops_sent);
        let hop = Hop::Direct {
            ops: std::mem::take(&mut self.batches[owner]),
            finish,
            proto,
            fd,
            done,
            spanning: self.spanning.take(),
        };
        // `accepts` was checked above on this same thread, so this succeeds.
        let _ = core.mesh.send_to(owner, hop);
        self.steps.clear();
        self.local.clear();
        self.active = false;
        Some(rx)
    }

    /// Send every batch, wait for the replies and write all planned replies
    /// to `out` in request order.
    pub async fn flush(&mut self, core: &Rc<Core>, proto: Proto, out: &mut Vec<u8>) {
        if !self.active {
            self.spanning = None;
            return;
        }
        let mut waiting: Vec<(usize, oneshot::Receiver<Replies>)> = Vec::new();
        let mut own = None;
        for (owner, batch) in self.batches.iter_mut().enumerate() {
            if batch.is_empty() {
                continue;
            }
            if owner == core.id {
                // Only read-through GETs, and the ops after them, are
                // batched for this core itself.
                own = Some(std::mem::take(batch));
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let hop = Hop::Ops {
                ops: std::mem::take(batch),
                proto,
                reply: tx,
            };
            bump(&core.counters.hops_sent);
            if core.mesh.send_to(owner, hop).is_ok() {
                waiting.push((owner, rx));
            }
        }
        let mut remote: Vec<Option<Replies>> = (0..core.n).map(|_| None).collect();
        if let Some(ops) = own {
            remote[core.id] = Some(core.run_ops_async(&ops, proto).await);
        }
        for (owner, rx) in waiting {
            remote[owner] = rx.await.ok();
        }
        // Built only if a core went away: an error reply counts where it
        // is written (see `proto::errors`).
        let unavailable = std::cell::OnceCell::new();
        let resolve = |src: Src| -> (Part, &[u8]) {
            match src {
                Src::Local(i) => self.local.part(i as usize),
                Src::Remote(c, i) => match &remote[c as usize] {
                    Some(r) => r.part(i as usize),
                    None => (
                        Part::Error,
                        unavailable.get_or_init(|| unavailable_reply(proto)),
                    ),
                },
            }
        };
        assemble(&self.steps, resolve, proto, out);
        for r in remote.iter_mut().flatten() {
            self.slow.append(&mut r.slow);
        }
        self.steps.clear();
        self.local.clear();
        self.active = false;
        // Every part of every command of this read has run.
        self.spanning = None;
    }
}

fn unavailable_reply(proto: Proto) -> Vec<u8> {
    let mut v = Vec::new();
    Reply::new(&mut v, proto).error(UNAVAILABLE);
    v
}

/// Process every complete request in `input`, appending replies to `out`.
/// Returns the bytes consumed and whether to close the connection. When all
/// replies of this read belong to one other core and nothing was written
/// yet, that core answers the client directly and `sess.pending` holds the
/// completion the connection must await before its next write. `parser`
/// keeps its place in a RESP request left incomplete at the end of `input`,
/// which must start the next call's `input`.
pub async fn process(
    core: &Rc<Core>,
    sess: &mut Session,
    plan: &mut Plan,
    parser: &mut resp::RequestParser,
    input: &[u8],
    fd: RawFd,
    out: &mut Vec<u8>,
) -> (usize, After) {
    // The request framing (RESP or seed 000's lines) is fixed per
    // connection; the reply encoding can change with HELLO, between requests.
    let Some(dialect) = sess.dialect(input) else {
        return (0, After::Continue);
    };
    // Cluster mode: a newer slot map applies from this read on.
    core.refresh_routing();
    let limits = core.shared.limits();
    let pause = core.shared.output_limits.pause();
    // One clock read per read(): every request in a pipeline sees the same
    // `now`, which is also what Redis does within one event-loop iteration.
    let mut now = core.now();
    sess.active_ms = now;
    // Under CLIENT REPLY OFF or SKIP: where the reply of the command being
    // run begins in `out`, so it can be cut off once the command is done.
    let mut quiet_from: Option<usize> = None;
    let mut parsed_args: resp::Args = std::mem::take(&mut sess.args);
    plan.pre.clear();
    // A request begun in an earlier read is resumed by `parser`; parsing it
    // here from its start on every read would cost O(size²).
    if dialect == Dialect::Resp && !parser.in_request() {
        prefetch_keys(core, input, &limits, &mut parsed_args, &mut plan.pre);
    }
    let mut pos = 0;
    let mut quit = false;
    let mut full = false;
    // The core owning the current request's second argument, when
    // `prefetch_keys` already computed it.
    let mut arg1_owner: Option<usize>;
    while pos < input.len() {
        arg1_owner = None;
        if let Some(from) = quiet_from.take() {
            end_quiet(core, sess, plan, from, out).await;
        }
        // The previous command's entry, logged before the next one runs
        // (under the client name it ran with).
        cmdstats::log(core, sess, &mut plan.slow);
        // One compare per request.
        if out.len() + plan.local.buf.len() >= pause {
            full = true;
            break;
        }
        let rest = &input[pos..];
        let parsed = match dialect {
            Dialect::Resp => match plan.pre.take(&mut parsed_args) {
                Some((n, owner)) => {
                    arg1_owner = owner;
                    Ok(Some((n, Ok(None))))
                }
                None => parser
                    .parse(rest, &limits, &mut parsed_args)
                    .map(|o| o.map(|n| (n, Ok(None)))),
            },
            Dialect::Line => line::parse_line(rest, limits.max_inline).map(|o| {
                o.map(|(n, p)| match p {
                    Ok((op, r)) => {
                        parsed_args = resp::Args::from_ranges(r);
                        (n, Ok(Some(op)))
                    }
                    Err(e) => {
                        // No arguments: the previous line's ranges must not
                        // be applied to this (possibly shorter) line.
                        parsed_args.clear();
                        (n, Err(e))
                    }
                })
            }),
        };
        let (n, line_op) = match parsed {
            Ok(None) => break,
            Ok(Some(x)) => x,
            Err(e) => {
                if let Some(from) = quiet_from.take() {
                    end_quiet(core, sess, plan, from, out).await;
                }
                plan.flush(core, sess.client.proto, out).await;
                Reply::new(out, sess.client.proto).error(&e.reply_text());
                cmdstats::log(core, sess, &mut plan.slow);
                sess.args = parsed_args;
                return (input.len(), After::Close);
            }
        };
        let raw: SmallVec<[&[u8]; 8]> = parsed_args.iter(rest).collect();
        pos += n;
        let proto = sess.client.proto;
        // Borrowed, not moved: a SmallVec of 8 slices is 136 bytes, and
        // moving it cost a memcpy per request.
        let line_argv;
        let args: &[&[u8]] = match line_op {
            Err(e) => {
                plan.local(out, |o| Reply::new(o, proto).error(&e.to_string()));
                continue;
            }
            // Seed 000's protocol has no AUTH: with a password set, its
            // connections can only be refused.
            Ok(Some(_)) if !sess.client.authenticated => {
                plan.local(out, |o| {
                    cmd::fail(&mut Reply::new(o, proto), cmd::CmdError::NoAuth)
                });
                continue;
            }
            Ok(Some(op)) => {
                line_argv = session::line_args(op, &raw);
                &line_argv
            }
            Ok(None) if raw.is_empty() => {
                // Redis resets the client after an empty request too, which
                // uses up a CLIENT REPLY SKIP.
                if sess.client.reply.quiet() {
                    sess.client.reply.next_command();
                }
                continue;
            }
            Ok(None) => &raw,
        };
        let admitted = cmd::admit(args, sess.client.authenticated);
        // Cluster mode: a key this connection may not be served here is
        // redirected before anything else, as Redis's `processCommand`
        // does; inside MULTI the transaction is then flagged.
        if let (Some(c), Ok((id, spec))) = (&core.cluster, &admitted) {
            let keys = spec.keys.positions(args).into_iter().flatten();
            // ASKING lasts one command, or the whole of a transaction
            // (Redis clears the flag when not in MULTI); ASKING's own
            // handler, run below, sets it again.
            let asking = sess.client.asking;
            if sess.multi.is_none() {
                sess.client.asking = false;
            }
            if let Err(e) = c.gate(core.id, sess.port, keys.map(|p| args[p]), asking, now) {
                if let Some(q) = &mut sess.multi {
                    q.flag();
                }
                plan.local(out, |o| Reply::new(o, proto).error(&e));
                core.counters.commands.reject(Some(*id));
                continue;
            }
        }
        if let (Some(_), Ok((id, spec))) = (&core.cluster, &admitted) {
            if spec.name == "exec" {
                if let Some(e) = multi::refusal(core, sess) {
                    sess.multi = None;
                    sess.watching = None;
                    plan.local(out, |o| Reply::new(o, proto).error(&e));
                    core.counters.commands.reject(Some(*id));
                    continue;
                }
            }
        }
        // CLIENT PAUSE: one relaxed load per command while none is set.
        if core.shared.pause.maybe() {
            if let Ok((_, spec)) = &admitted {
                let spec: &'static Spec = spec;
                if pause::must_wait(core, spec, sess.multi_writes) {
                    hold(core, sess, plan, spec, fd, out).await;
                    now = core.now();
                }
            }
        }
        // CLIENT REPLY OFF/SKIP (rare): this command's reply is kept apart
        // from the others', to be dropped if the mode says so once it ran.
        if sess.client.reply.quiet() {
            plan.flush(core, proto, out).await;
            sess.client.reply.next_command();
            quiet_from = Some(out.len());
        }
        if sess.multi.is_some() {
            match &admitted {
                // A refused EXEC ends the transaction at once, as Redis's
                // `execCommandAbort` does.
                Err(e) if args[0].eq_ignore_ascii_case(b"exec") => {
                    sess.multi = None;
                    let text = e.to_string();
                    let why = text.strip_prefix("ERR ").unwrap_or(&text);
                    plan.local(out, |o| {
                        Reply::new(o, proto).error(&format!(
                            "EXECABORT Transaction discarded because of: {why}"
                        ));
                    });
                    core.counters.commands.reject(cmd::table::named(args));
                    continue;
                }
                // Refused before it could be queued: EXEC will abort.
                Err(_) => {
                    if let Some(q) = &mut sess.multi {
                        q.flag();
                    }
                }
                Ok((_, spec)) if multi::runs_now(spec) => {}
                // Counted as a call when EXEC runs it, as in Redis.
                Ok((_, spec)) => {
                    sess.multi_writes |= pause::writes(spec);
                    if let Some(q) = &mut sess.multi {
                        q.push(args);
                    }
                    plan.local(out, |o| Reply::new(o, proto).simple("QUEUED"));
                    continue;
                }
            }
        }
        let (id, spec) = match admitted {
            Ok(x) => x,
            Err(e) => {
                plan.local(out, |o| cmd::fail(&mut Reply::new(o, proto), e));
                core.counters.commands.reject(cmd::table::named(args));
                continue;
            }
        };
        // A subscribed RESP2 connection may only run what Redis allows there.
        if super::pubsub::screens(sess, spec) {
            plan.local(out, |o| {
                super::pubsub::screened(spec, args, &mut Reply::new(o, proto))
            });
            core.counters.commands.reject(Some(id));
            continue;
        }
        let stats = &core.counters.commands;
        // A shard command counts its call where it runs (`Core::run`); a
        // command that reads or resets the figures (INFO, CONFIG RESETSTAT)
        // counts its own after it has run, as in Redis.
        if matches!(spec.run, Run::Split(..)) {
            stats.call(id);
        }
        sess.last_cmd = Some(spec.name);
        match spec.run {
            // Outside MULTI (queued commands never get here) a blocking
            // command may wait; inside, EXEC runs it without blocking.
            Run::Shard(_) if spec.flags.has(Flags::BLOCKING) => {
                let client = sess.client.id;
                super::blocking::run(core, plan, client, (id, spec), args, proto, fd, out).await;
            }
            Run::Shard(_) => match owner(core, spec, args, arg1_owner) {
                Some(owner) => plan.push_op(core, now, proto, owner, (id, spec), args, out),
                None => {
                    // Its keys live on several cores: run it as one, after
                    // this read's earlier requests.
                    plan.flush(core, proto, out).await;
                    let slow = multi::run_spanning(core, spec, args, proto, out).await;
                    plan.slow.extend(slow);
                }
            },
            Run::Split(_, how) => {
                let mut keys = spec.keys.positions(args).into_iter().flatten();
                let first = keys.next().map(|p| core.owner(args[p]));
                let spans = keys.any(|p| Some(core.owner(args[p])) != first);
                if spans && plan.spanning.is_none() {
                    plan.spanning = Some(multi::enter_spanning(core).await);
                }
                plan.push_split(core, now, proto, (id, spec), how, args, out)
            }
            Run::Conn(f) => {
                let barrier = spec.flags.has(Flags::BARRIER);
                if barrier {
                    // Replies already planned were encoded in the protocol
                    // they were asked in, and ran under the credentials in
                    // force: a switch of either applies from the next request.
                    plan.flush(core, proto, out).await;
                    // SLOWLOG sees every earlier command of this read.
                    cmdstats::log(core, sess, &mut plan.slow);
                }
                let mut slow = None;
                let mut run = |o: &mut Vec<u8>| {
                    let started = stats.start();
                    let mut conn = Conn {
                        client: &mut sess.client,
                        server: &**core,
                    };
                    f(&mut conn, args, &mut Reply::new(o, proto));
                    let ticks = stats.finish(id, started, 1);
                    slow = stats.slow(&core.shared.slowlog, spec, args, ticks);
                };
                if barrier {
                    run(out);
                } else {
                    plan.local(out, run);
                }
                plan.slow.extend(slow);
            }
            Run::Node(NodeCmd::Quit) => {
                stats.call(id);
                plan.local(out, |o| Reply::new(o, proto).ok());
                plan.flush(core, proto, out).await;
                if let Some(from) = quiet_from.take() {
                    end_quiet(core, sess, plan, from, out).await;
                }
                cmdstats::log(core, sess, &mut plan.slow);
                quit = true;
                break;
            }
            Run::Node(node) => {
                // A whole-node command's time includes its wait for the
                // other cores' answers: that wait is its execution here.
                let started = stats.start();
                run_node(core, sess, plan, node, args, proto, out).await;
                let ticks = stats.finish(id, started, 1);
                plan.slow
                    .extend(stats.slow(&core.shared.slowlog, spec, args, ticks));
            }
        }
    }
    if quit {
        sess.args = parsed_args;
        return (pos, After::Close);
    }
    if let Some(from) = quiet_from.take() {
        end_quiet(core, sess, plan, from, out).await;
    }
    sess.pending = plan.delegate(core, sess.client.proto, fd, out);
    plan.flush(core, sess.client.proto, out).await;
    cmdstats::log(core, sess, &mut plan.slow);
    sess.args = parsed_args;
    (pos, if full { After::Full } else { After::Continue })
}

/// The command whose reply began at `from` in `out` is done: drop that
/// reply if CLIENT REPLY says so. Only connections in OFF or SKIP mode
/// come here, and they pay a flush per command; others pay nothing.
async fn end_quiet(
    core: &Rc<Core>,
    sess: &mut Session,
    plan: &mut Plan,
    from: usize,
    out: &mut Vec<u8>,
) {
    plan.flush(core, sess.client.proto, out).await;
    if sess.client.reply.drops() {
        out.truncate(from);
    }
}

/// Hold `spec` until CLIENT PAUSE lets it run. The replies to this read's
/// earlier requests go out first, as Redis writes them before it postpones
/// the client; a subscriber's wait for the connection's own write, which
/// counts them against its output limit.
async fn hold(
    core: &Rc<Core>,
    sess: &mut Session,
    plan: &mut Plan,
    spec: &'static Spec,
    fd: RawFd,
    out: &mut Vec<u8>,
) {
    plan.flush(core, sess.client.proto, out).await;
    if sess.subs.is_none() && !out.is_empty() {
        match super::core::send_now(fd, out) {
            Delegated::Done => out.clear(),
            Delegated::Rest(rest) => *out = rest,
            // The connection's own write meets the error and closes.
            Delegated::Failed => {}
        }
    }
    pause::wait(core, spec, sess.multi_writes).await;
}

/// The core that owns every key of a shard command; this core for a
/// command without keys; `None` when its keys live on different cores.
/// `arg1_owner`, when known, is the owner of `args[1]`.
pub(super) fn owner(
    core: &Core,
    spec: &Spec,
    args: &[&[u8]],
    arg1_owner: Option<usize>,
) -> Option<usize> {
    let mut keys = spec.keys.positions(args).into_iter().flatten();
    let Some(first) = keys.next() else {
        return Some(core.id);
    };
    let owner = match arg1_owner {
        Some(o) if first == 1 => o,
        _ => core.owner(args[first]),
    };
    keys.all(|p| core.owner(args[p]) == owner).then_some(owner)
}

/// A command the node coordinates: transactions and whole-node commands.
async fn run_node(
    core: &Rc<Core>,
    sess: &mut Session,
    plan: &mut Plan,
    node: NodeCmd,
    args: &[&[u8]],
    proto: Proto,
    out: &mut Vec<u8>,
) {
    match node {
        NodeCmd::Multi => plan.local(out, |o| {
            let mut w = Reply::new(o, proto);
            if sess.multi.is_some() {
                w.error("ERR MULTI calls can not be nested");
            } else {
                sess.multi = Some(multi::Queued::default());
                sess.multi_writes = false;
                w.ok();
            }
        }),
        NodeCmd::Discard => plan.local(out, |o| {
            let mut w = Reply::new(o, proto);
            if sess.multi.take().is_some() {
                sess.watching = None;
                w.ok();
            } else {
                w.error("ERR DISCARD without MULTI");
            }
        }),
        NodeCmd::Watch if sess.multi.is_some() => plan.local(out, |o| {
            Reply::new(o, proto).error("ERR WATCH inside MULTI is not allowed");
        }),
        NodeCmd::Watch => {
            // The watch starts after this read's earlier requests.
            plan.flush(core, proto, out).await;
            multi::watch(core, sess, &args[1..]).await;
            Reply::new(out, proto).ok();
        }
        NodeCmd::Unwatch => plan.local(out, |o| {
            sess.watching = None;
            Reply::new(o, proto).ok();
        }),
        NodeCmd::Exec => match sess.multi.take() {
            None => plan.local(out, |o| {
                Reply::new(o, proto).error("ERR EXEC without MULTI");
            }),
            Some(q) => {
                // Everything before EXEC in this read has run first.
                plan.flush(core, proto, out).await;
                multi::exec(core, sess, q, out).await;
            }
        },
        NodeCmd::Quit => unreachable!("QUIT ends the read in `process`"),
        NodeCmd::ClientList | NodeCmd::ClientInfo | NodeCmd::ClientKill => {
            plan.flush(core, proto, out).await;
            super::clients::run(core, sess, node, args, proto, out).await;
        }
        NodeCmd::Pubsub(cmd) => {
            super::pubsub::run(core, sess, plan, cmd, args, proto, out).await;
        }
        NodeCmd::Keys | NodeCmd::Scan | NodeCmd::RandomKey | NodeCmd::KeysInSlot => {
            // A barrier, like the whole-node commands: it sees this read's
            // earlier writes.
            plan.flush(core, proto, out).await;
            let here_only = sess.port == super::routing::Entry::CorePort;
            super::keys::run(core, node, args, here_only, proto, out).await;
        }
        NodeCmd::DbSize
        | NodeCmd::Flush
        | NodeCmd::Info
        | NodeCmd::Metrics
        | NodeCmd::MemoryStats => match Global::of(node, args) {
            Ok(Some(g)) => {
                plan.flush(core, proto, out).await;
                let here_only = sess.port == super::routing::Entry::CorePort;
                global::run(core, g, here_only, proto, out).await;
            }
            Ok(None) => unreachable!("every whole-node command has a Global"),
            Err(e) => plan.local(out, |o| cmd::fail(&mut Reply::new(o, proto), e)),
        },
    }
}

/// Requests of one read whose keys [`prefetch_keys`] looks at.
const PREFETCH_MAX: usize = 32;

/// When a read holds several requests (a pipeline), start loading the
/// shard memory their first keys will touch before running any of them, so
/// the cache misses of the whole pipeline overlap (see `Shard::prefetch`).
/// Only this core's keys are prefetched; the owner of the others does the
/// same for its batch. A read of one request skips the hashing. What was
/// parsed is kept in `pre` for the main loop.
fn prefetch_keys(
    core: &Core,
    input: &[u8],
    limits: &resp::Limits,
    scratch: &mut resp::Args,
    pre: &mut Preparsed,
) {
    let mut keys: SmallVec<[Range<usize>; PREFETCH_MAX]> = SmallVec::new();
    let mut pos = 0;
    // Multibulk only: its arguments are ranges into `input`. Inline commands
    // (telnet) are never pipelined deep enough to matter.
    while input.get(pos) == Some(&b'*') && pre.reqs.len() < PREFETCH_MAX {
        // Only complete, valid requests are kept: an error or a partial
        // request is met again, and answered, by the main loop.
        let Ok(Some(n)) = resp::parse_request(&input[pos..], limits, scratch) else {
            break;
        };
        let first = pre.ranges.len();
        pre.ranges.extend_from_slice(&scratch.ranges);
        let mut arg1 = NO_KEY;
        if let Some(r) = scratch.ranges.get(1) {
            let key = pos + r.start..pos + r.end;
            let owner = core.owner(&input[key.clone()]);
            arg1 = owner as u32;
            if owner == core.id {
                keys.push(key);
            }
        }
        pre.reqs.push((n, first..pre.ranges.len(), arg1));
        pos += n;
    }
    if keys.len() < 2 {
        return;
    }
    let shard = core.shard.borrow();
    let hashes: SmallVec<[u64; PREFETCH_MAX]> = keys
        .iter()
        .map(|r| shard.hash_of(&input[r.clone()]))
        .collect();
    shard.prefetch(&hashes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spare(owner: usize) -> Spare {
        let mut ops = OpBatch::default();
        ops.reserve(4, 64);
        Spare {
            owner,
            ops,
            steps: Vec::with_capacity(4),
            local: Replies::with_capacity(4),
            out: Vec::with_capacity(64),
        }
    }

    #[test]
    fn restore_fills_only_buffers_that_left_with_a_hop() {
        let mut plan = Plan::default();
        plan.batches.resize_with(2, OpBatch::default);
        plan.batches[0].reserve(8, 128); // still warm: kept
        let mut out = Vec::new();
        plan.restore(spare(1), &mut out);
        assert!(
            plan.batches[1].capacity() >= 4,
            "the batch that left comes back"
        );
        assert!(plan.batches[0].capacity() >= 8);
        assert!(plan.steps.capacity() >= 4 && plan.local.ends.capacity() >= 4);
        assert!(out.capacity() >= 64);

        // Buffers in use (or already replaced) are never overwritten.
        let mut out = b"+OK\r\n".to_vec();
        plan.steps.push(Step::One(Src::Local(0)));
        plan.restore(spare(1), &mut out);
        assert_eq!(out, b"+OK\r\n".to_vec());
        assert_eq!(plan.steps.len(), 1);
    }
}
