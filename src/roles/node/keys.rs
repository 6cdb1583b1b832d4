//! KEYS, SCAN and RANDOMKEY on a node with one shard per core.
//!
//! - **KEYS** asks every core (one [`Hop::Keys`] per other core, this core
//!   answers itself) and concatenates their keys in core order. Each core's
//!   part is taken at one moment, the parts at different moments, but
//!   never on both sides of a transaction: like MGET across cores, KEYS
//!   counts as a command spanning cores until its last part is in, so a
//!   transaction that spans cores waits for it (see `multi`).
//! - **RANDOMKEY** asks every core for one random key and its key count,
//!   then picks a core with probability proportional to its count: every
//!   key of the node is equally likely (a shard's own pick is uniform over
//!   its keys). Nil when every shard is empty. It spans cores as KEYS does.
//! - **SCAN** walks the cores one after the other. Its cursor names a core
//!   and a cursor of that core's shard (see [`NodeCursor`]); one call asks
//!   only that core (a hop if it is another one), and once that shard's
//!   cursor comes back 0 the reply's cursor names the next core's start.
//!   After the last core it is 0, as Redis ends a scan.
//!
//! **SCAN's guarantee.** A key present from the first call (cursor 0) to
//! the one that returns 0 is returned at least once — in fact exactly once.
//! A key never changes core, so it can only come from its own core's turn;
//! during that turn `Shard::scan` walks the shard's arena in slot order,
//! and an entry keeps its slot for as long as it exists, whatever the map's
//! rehashes and grows do (see `map::scan`). Keys written or deleted during
//! the scan may or may not be returned. After a FLUSHALL the cursor still
//! decodes and the scan still ends; it returns what was written since.
//!
//! **TYPE.** The shard keeps only keys of the named type (any case). Redis
//! 7.0.15 checks no type name, so an unknown one is no error: it keeps
//! none. A step with a filter that keeps nothing still walks the shard, so
//! its cursor advances and the expired keys it meets are reclaimed as they
//! would be.
//!
//! Inside MULTI these commands run with every core held (see
//! `multi::exec_held`), through [`run_held`].

use super::core::Core;
use super::hop::Hop;
use crate::cmd::{self, CmdError, NodeCmd};
use crate::proto::{Proto, Reply};
use crate::store::{Shard, Type};
use futures_channel::oneshot;
use std::ops::Range;

/// SCAN's COUNT when none is given (Redis's default).
const DEFAULT_COUNT: usize = 10;

/// Why a KEYS, SCAN or RANDOMKEY request was refused, with Redis's texts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    /// SCAN's cursor is not a number as `strtoul` reads one.
    #[error("ERR invalid cursor")]
    InvalidCursor,
    /// A bad option, or a COUNT that is not an integer.
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT's own texts.
    #[error("{0}")]
    Text(&'static str),
}

impl KeysError {
    /// Write the error reply.
    fn write(self, w: &mut Reply<'_>) {
        match self {
            KeysError::InvalidCursor => w.error(&KeysError::InvalidCursor.to_string()),
            KeysError::Cmd(e) => cmd::fail(w, e),
            KeysError::Text(t) => w.error(t),
        }
    }
}

/// What one core is asked about its shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// KEYS: every live key matching the pattern.
    Keys(Box<[u8]>),
    /// One SCAN step of the shard, from shard cursor `cursor`.
    Scan {
        /// The shard's cursor (0 starts it).
        cursor: u64,
        /// COUNT: keys to look at, a hint.
        count: usize,
        /// MATCH, if given.
        pattern: Option<Box<[u8]>>,
        /// TYPE, if given and a type's name.
        kind: Option<Type>,
    },
    /// RANDOMKEY: one live key at random, and how many keys there are.
    Random,
    /// CLUSTER COUNTKEYSINSLOT (no count) or GETKEYSINSLOT (up to `count`
    /// keys): the keys of one cluster slot.
    InSlot {
        /// The slot.
        slot: u16,
        /// GETKEYSINSLOT's count.
        count: Option<usize>,
    },
}

/// One core's answer to an [`Ask`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The keys found (KEYS, SCAN), or the random key if there is one.
    pub keys: Vec<Box<[u8]>>,
    /// SCAN: the shard cursor to continue from, 0 once the shard is done.
    pub next: u64,
    /// RANDOMKEY: the shard's keys, after the pick (its weight).
    pub len: usize,
}

/// Answer `ask` from `shard` at node-clock `now` (on the shard's core, or
/// on a core that holds it). What it counts and reclaims is what
/// `Shard::keys`, `Shard::scan` and `Shard::random_key` say: no hit or
/// miss, no key used, SCAN and RANDOMKEY reclaim expired keys they meet.
pub fn answer(shard: &mut Shard, ask: &Ask, now: u64) -> Answer {
    let mut a = Answer::default();
    match ask {
        Ask::Keys(pattern) => shard.keys(pattern, now, &mut a.keys),
        Ask::Scan {
            cursor,
            count,
            pattern,
            kind,
        } => {
            a.next = shard.scan_typed(*cursor, *count, pattern.as_deref(), *kind, now, &mut a.keys);
        }
        Ask::Random => {
            a.keys.extend(shard.random_key(now));
            a.len = shard.len();
        }
        Ask::InSlot { slot, count } => match count {
            None => a.len = shard.count_in_slot(*slot, now),
            Some(n) => a.keys = shard.keys_in_slot(*slot, *n, now),
        },
    }
    a
}

/// A SCAN cursor of the whole node: which core, and where in its shard.
///
/// Encoded as `shard_cursor × cores + core`. Why this and not the core in
/// the high bits: every `u64` a client sends then decodes to a real core
/// (`cursor % cores`), so no cursor needs a "no such core" case, and the
/// cursors stay as small as Redis's own. It cannot overflow: a shard's
/// cursor is below 2^32 (`Shard::scan`) and so is the core count. A shard
/// cursor decoded from a made-up cursor may be 2^32 or more; the shard
/// then ends its turn at once with nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeCursor {
    /// The core whose shard is being walked.
    pub core: usize,
    /// That shard's cursor.
    pub shard: u64,
}

impl NodeCursor {
    /// The position `cursor` names on a node of `cores` cores.
    pub fn decode(cursor: u64, cores: usize) -> NodeCursor {
        let n = cores.max(1) as u64;
        NodeCursor {
            core: (cursor % n) as usize,
            shard: cursor / n,
        }
    }

    /// The cursor a client sees for this position.
    pub fn encode(self, cores: usize) -> u64 {
        self.shard * cores.max(1) as u64 + self.core as u64
    }

    /// The reply's cursor after this core's shard answered `next`: the
    /// same core further on, else the next core's start, else 0 (done).
    pub fn after(self, next: u64, cores: usize) -> u64 {
        if next != 0 {
            NodeCursor {
                shard: next,
                ..self
            }
            .encode(cores)
        } else if self.core + 1 < cores {
            NodeCursor {
                core: self.core + 1,
                shard: 0,
            }
            .encode(cores)
        } else {
            0
        }
    }
}

/// SCAN's cursor as Redis 7.0 reads it (`parseScanCursorOrReply`): C's
/// `strtoul` in base 10 over the argument up to its first NUL byte, refused
/// when it starts with white space, has anything after the digits, or
/// overflows. So `+5` is 5, `-1` wraps to 2^64 − 1, and the empty string
/// (no digits, nothing left over) is 0.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, KeysError> {
    let s = c_str(arg);
    let Some(&first) = s.first() else {
        return Ok(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return Err(KeysError::InvalidCursor);
    }
    let (negative, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(KeysError::InvalidCursor);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(KeysError::InvalidCursor)?;
    }
    // strtoul negates the magnitude it read, in unsigned arithmetic.
    Ok(if negative { v.wrapping_neg() } else { v })
}

/// An argument as C code sees it through its `char *`: up to the first NUL.
fn c_str(arg: &[u8]) -> &[u8] {
    arg.split(|&b| b == 0).next().unwrap_or(arg)
}

/// Redis's `strcasecmp(arg, name)` for SCAN's option names and TYPE.
fn c_eq(arg: &[u8], name: &[u8]) -> bool {
    c_str(arg).eq_ignore_ascii_case(name)
}

/// A KEYS, SCAN or RANDOMKEY request with its arguments checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// What each asked core is asked.
    pub ask: Ask,
    /// SCAN: the position its cursor names.
    at: NodeCursor,
    /// SCAN: false when TYPE names no type, so nothing is kept.
    keep: bool,
}

impl Request {
    /// The request `cmd` is with `args` on a node of `cores` cores; `None`
    /// for a node command that is not one of these.
    ///
    /// # Errors
    /// SCAN's, in Redis's order: [`KeysError::InvalidCursor`] first, then
    /// each option left to right — a COUNT that is not an integer
    /// ([`CmdError::NotInteger`]) or below 1, an unknown option or one
    /// missing its value ([`CmdError::Syntax`]).
    pub fn parse(cmd: NodeCmd, args: &[&[u8]], cores: usize) -> Result<Option<Request>, KeysError> {
        let start = NodeCursor { core: 0, shard: 0 };
        let ask = match cmd {
            NodeCmd::Keys => Ask::Keys(args[1].into()),
            NodeCmd::RandomKey => Ask::Random,
            NodeCmd::KeysInSlot => {
                let (slot, count) = cmd::cluster::slot_args(args).map_err(KeysError::Text)?;
                Ask::InSlot { slot, count }
            }
            NodeCmd::Scan => return Request::scan(args, cores).map(Some),
            _ => return Ok(None),
        };
        Ok(Some(Request {
            ask,
            at: start,
            keep: true,
        }))
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
    fn scan(args: &[&[u8]], cores: usize) -> Result<Request, KeysError> {
        let at = NodeCursor::decode(parse_cursor(args[1])?, cores);
        let (mut count, mut pattern, mut keep) = (DEFAULT_COUNT, None, true);
        let mut kind = None;
        let mut opts = &args[2..];
        while let [opt, rest @ ..] = opts {
            let value = rest.first().ok_or(CmdError::Syntax)?;
            if c_eq(opt, b"count") {
                let n = cmd::int(value)?;
                if n < 1 {
                    return Err(CmdError::Syntax.into());
                }
                count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if c_eq(opt, b"match") {
                pattern = Some(Box::from(*value));
            } else if c_eq(opt, b"type") {
                kind = Type::parse(c_str(value));
                keep = kind.is_some();
            } else {
                return Err(CmdError::Syntax.into());
            }
            opts = &rest[1..];
        }
        Ok(Request {
            ask: Ask::Scan {
                cursor: at.shard,
                count,
                pattern,
                kind,
            },
            at,
            keep,
        })
    }

    /// The cores to ask, in order.
    pub fn cores(&self, n: usize) -> Range<usize> {
        match self.ask {
            Ask::Scan { .. } => self.at.core..self.at.core + 1,
            Ask::Keys(_) | Ask::Random | Ask::InSlot { .. } => 0..n,
        }
    }

    /// Write the reply from the answers of [`Request::cores`], in order;
    /// `None` for a core that could not answer (the node is stopping).
    pub fn reply(&self, answers: Vec<Option<Answer>>, cores: usize, w: &mut Reply<'_>) {
        let Some(answers) = answers.into_iter().collect::<Option<Vec<Answer>>>() else {
            return w.error("ERR shard unavailable (node shutting down)");
        };
        match self.ask {
            Ask::InSlot { count: None, .. } => {
                w.int(answers.iter().map(|a| a.len as i64).sum());
            }
            Ask::InSlot { count: Some(n), .. } => {
                let keys: Vec<&Box<[u8]>> = answers.iter().flat_map(|a| &a.keys).take(n).collect();
                w.array(keys.len());
                for k in keys {
                    w.bulk(k);
                }
            }
            Ask::Keys(_) => {
                w.array(answers.iter().map(|a| a.keys.len()).sum());
                for k in answers.iter().flat_map(|a| &a.keys) {
                    w.bulk(k);
                }
            }
            Ask::Scan { .. } => {
                let (next, keys) = match answers.into_iter().next() {
                    Some(a) => (self.at.after(a.next, cores), a.keys),
                    None => (0, Vec::new()),
                };
                w.array(2);
                w.bulk(itoa::Buffer::new().format(next).as_bytes());
                let keys = if self.keep { &keys[..] } else { &[] };
                w.array(keys.len());
                for k in keys {
                    w.bulk(k);
                }
            }
            Ask::Random => {
                let weights: Vec<usize> = answers
                    .iter()
                    .map(|a| if a.keys.is_empty() { 0 } else { a.len.max(1) })
                    .collect();
                let total: usize = weights.iter().sum();
                let chosen = (total > 0)
                    .then(|| pick(&weights, fastrand::usize(..total)))
                    .flatten();
                match chosen.and_then(|i| answers[i].keys.first()) {
                    Some(k) => w.bulk(k),
                    None => w.nil(),
                }
            }
        }
    }
}

/// The index whose share of `0..sum(weights)` holds `r`: index `i` for
/// `r` in `[w_0 + … + w_{i-1}, w_0 + … + w_i)`; `None` past the total.
fn pick(weights: &[usize], mut r: usize) -> Option<usize> {
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return Some(i);
        }
        r -= w;
    }
    None
}

/// Run KEYS, SCAN or RANDOMKEY and append its reply: this core answers for
/// itself, every other core it needs over one hop. With `here_only` (a
/// cluster core's own port) only this core's shard is asked, as a Redis
/// Cluster node lists only its own keys; SCAN's cursor is then this
/// shard's alone.
pub async fn run(
    core: &Core,
    cmd: NodeCmd,
    args: &[&[u8]],
    here_only: bool,
    proto: Proto,
    out: &mut Vec<u8>,
) {
    let mut w = Reply::new(out, proto);
    if proto == Proto::Line {
        // Seed 000's protocol has no such command (none parses to one).
        return w.error("unsupported operation");
    }
    if cmd == NodeCmd::KeysInSlot && core.cluster.is_none() {
        return w.error(cmd::cluster::DISABLED);
    }
    if here_only {
        let ask = |_: usize, a: &Ask| Some(answer(&mut core.shard.borrow_mut(), a, core.now()));
        return run_held(cmd, args, 1, ask, &mut w);
    }
    let req = match Request::parse(cmd, args, core.n) {
        Ok(Some(r)) => r,
        Ok(None) => return w.error("ERR not a keyspace command"),
        Err(e) => return e.write(&mut w),
    };
    let cores = req.cores(core.n);
    // Asking several cores at different moments, it must not land between
    // the shares of a transaction that spans them: it counts as a command
    // spanning cores until every answer is in (see `multi`).
    let _spanning = match cores.len() {
        1 => None,
        _ => Some(super::multi::enter_spanning(core).await),
    };
    let mut pending = Vec::with_capacity(cores.len());
    for c in cores.clone().filter(|&c| c != core.id) {
        let (tx, rx) = oneshot::channel();
        let hop = Hop::Keys {
            ask: req.ask.clone(),
            reply: tx,
        };
        pending.push((c, core.mesh.send_to(c, hop).ok().map(|_| rx)));
    }
    let mut answers: Vec<Option<Answer>> = cores.clone().map(|_| None).collect();
    if cores.contains(&core.id) {
        let mine = answer(&mut core.shard.borrow_mut(), &req.ask, core.now());
        answers[core.id - cores.start] = Some(mine);
    }
    for (c, rx) in pending {
        if let Some(rx) = rx {
            answers[c - cores.start] = rx.await.ok();
        }
    }
    req.reply(answers, core.n, &mut w);
}

/// Run KEYS, SCAN or RANDOMKEY inside a transaction that holds every core
/// of a node of `cores` cores: `ask(c, a)` answers `a` on core `c`'s shard
/// (`None` if that core is gone).
pub fn run_held(
    cmd: NodeCmd,
    args: &[&[u8]],
    cores: usize,
    mut ask: impl FnMut(usize, &Ask) -> Option<Answer>,
    w: &mut Reply<'_>,
) {
    match Request::parse(cmd, args, cores) {
        Ok(Some(req)) => {
            let answers = req.cores(cores).map(|c| ask(c, &req.ask)).collect();
            req.reply(answers, cores, w);
        }
        Ok(None) => w.error("ERR not a keyspace command"),
        Err(e) => e.write(w),
    }
}

/// Whether the queued command `args` is KEYS, SCAN or RANDOMKEY: a
/// transaction with one runs with every core held.
pub fn is_keys_command(args: &[&[u8]]) -> bool {
    matches!(cmd::admit(args, true), Ok((_, spec)) if matches!(
        spec.run,
        cmd::Run::Node(NodeCmd::Keys | NodeCmd::Scan | NodeCmd::RandomKey | NodeCmd::KeysInSlot)
    ))
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
