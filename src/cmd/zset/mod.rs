//! The sorted-set commands: their rows and handlers, with Redis 7.0.15's
//! options, check order and error texts.
//!
//! - this file: the table, ZADD/ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD,
//!   ZRANK/ZREVRANK and the shared reply and error helpers;
//! - `range.rs`: ZRANGE and its older forms, ZRANGESTORE, ZCOUNT,
//!   ZLEXCOUNT and ZREMRANGEBY*;
//! - `pop.rs`: ZPOPMIN/ZPOPMAX, ZMPOP, ZRANDMEMBER and ZSCAN;
//! - `algebra.rs`: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.

mod algebra;
mod pop;
mod range;

use super::spec::{
    Ctx, Flags, Keys, Run, Spec, READ_FAST, WRITE_FAST, WRITE_GROW, WRITE_GROW_FAST,
};
use super::{fail, int, store_fail, CmdError};
use crate::proto::{Proto, Reply};
use crate::store::score::parse_score;
use crate::store::types::{AddFlags, Added, ZSet};
use crate::store::{StoreError, Write};

/// ZUNIONSTORE's keys: the destination, then `numkeys` sources.
const STORE_KEYS: Keys = Keys::between(1, 1).counted(2);

/// The sorted-set family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("zadd", -4, WRITE_GROW_FAST, Keys::ONE, Run::Shard(zadd)),
    Spec::new(
        "zincrby",
        4,
        WRITE_GROW_FAST,
        Keys::ONE,
        Run::Shard(zincrby),
    ),
    Spec::new("zrem", -3, WRITE_FAST, Keys::ONE, Run::Shard(zrem)),
    Spec::new("zscore", 3, READ_FAST, Keys::ONE, Run::Shard(zscore)),
    Spec::new("zmscore", -3, READ_FAST, Keys::ONE, Run::Shard(zmscore)),
    Spec::new("zcard", 2, READ_FAST, Keys::ONE, Run::Shard(zcard)),
    Spec::new("zrank", 3, READ_FAST, Keys::ONE, Run::Shard(zrank)),
    Spec::new("zrevrank", 3, READ_FAST, Keys::ONE, Run::Shard(zrevrank)),
    Spec::new("zcount", 4, READ_FAST, Keys::ONE, Run::Shard(range::zcount)),
    Spec::new(
        "zlexcount",
        4,
        READ_FAST,
        Keys::ONE,
        Run::Shard(range::zlexcount),
    ),
    Spec::new(
        "zrange",
        -4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(range::zrange),
    ),
    Spec::new(
        "zrevrange",
        -4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(range::zrevrange),
    ),
    Spec::new(
        "zrangebyscore",
        -4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(range::zrangebyscore),
    ),
    Spec::new(
        "zrevrangebyscore",
        -4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(range::zrevrangebyscore),
    ),
    Spec::new(
        "zrangebylex",
        -4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(range::zrangebylex),
    ),
    Spec::new(
        "zrevrangebylex",
        -4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(range::zrevrangebylex),
    ),
    Spec::new(
        "zrangestore",
        -5,
        WRITE_GROW,
        Keys::between(1, 2),
        Run::Shard(range::zrangestore),
    ),
    Spec::new(
        "zremrangebyrank",
        4,
        Flags::WRITE,
        Keys::ONE,
        Run::Shard(range::zremrangebyrank),
    ),
    Spec::new(
        "zremrangebyscore",
        4,
        Flags::WRITE,
        Keys::ONE,
        Run::Shard(range::zremrangebyscore),
    ),
    Spec::new(
        "zremrangebylex",
        4,
        Flags::WRITE,
        Keys::ONE,
        Run::Shard(range::zremrangebylex),
    ),
    Spec::new(
        "zpopmin",
        -2,
        WRITE_FAST,
        Keys::ONE,
        Run::Shard(pop::zpopmin),
    ),
    Spec::new(
        "zpopmax",
        -2,
        WRITE_FAST,
        Keys::ONE,
        Run::Shard(pop::zpopmax),
    ),
    Spec::new(
        "zmpop",
        -4,
        Flags::WRITE,
        Keys::NONE.counted(1),
        Run::Shard(pop::zmpop),
    ),
    Spec::new(
        "bzpopmin",
        -3,
        WRITE_FAST.with(Flags::BLOCKING).with(Flags::NOSCRIPT),
        Keys::between(1, -2),
        Run::Shard(pop::bzpopmin),
    ),
    Spec::new(
        "bzpopmax",
        -3,
        WRITE_FAST.with(Flags::BLOCKING).with(Flags::NOSCRIPT),
        Keys::between(1, -2),
        Run::Shard(pop::bzpopmax),
    ),
    Spec::new(
        "bzmpop",
        -5,
        Flags::WRITE.with(Flags::BLOCKING),
        Keys::NONE.counted(2),
        Run::Shard(pop::bzmpop),
    ),
    Spec::new(
        "zrandmember",
        -2,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(pop::zrandmember),
    ),
    Spec::new(
        "zscan",
        -3,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(pop::zscan),
    ),
    Spec::new(
        "zunion",
        -3,
        Flags::READONLY,
        Keys::NONE.counted(1),
        Run::Shard(algebra::zunion),
    ),
    Spec::new(
        "zinter",
        -3,
        Flags::READONLY,
        Keys::NONE.counted(1),
        Run::Shard(algebra::zinter),
    ),
    Spec::new(
        "zdiff",
        -3,
        Flags::READONLY,
        Keys::NONE.counted(1),
        Run::Shard(algebra::zdiff),
    ),
    Spec::new(
        "zunionstore",
        -4,
        WRITE_GROW,
        STORE_KEYS,
        Run::Shard(algebra::zunionstore),
    ),
    Spec::new(
        "zinterstore",
        -4,
        WRITE_GROW,
        STORE_KEYS,
        Run::Shard(algebra::zinterstore),
    ),
    Spec::new(
        "zdiffstore",
        -4,
        WRITE_GROW,
        STORE_KEYS,
        Run::Shard(algebra::zdiffstore),
    ),
    Spec::new(
        "zintercard",
        -3,
        Flags::READONLY,
        Keys::NONE.counted(1),
        Run::Shard(algebra::zintercard),
    ),
];

/// Errors of this family that the shared [`CmdError`] does not name, with
/// Redis 7.0's texts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum ZError {
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR resulting score is not a number (NaN)")]
    Nan,
    #[error("ERR min or max is not a float")]
    BadScoreRange,
    #[error("ERR min or max not valid string range item")]
    BadLexRange,
    #[error("ERR XX and NX options at the same time are not compatible")]
    NxXx,
    #[error("ERR GT, LT, and/or NX options at the same time are not compatible")]
    GtLtNx,
    #[error("ERR INCR option supports a single increment-element pair")]
    IncrPairs,
    #[error(
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    )]
    LimitByRank,
    #[error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")]
    WithscoresByLex,
    #[error("ERR value is out of range, must be positive")]
    NotPositive,
    #[error("ERR value is out of range")]
    OutOfRange,
    #[error(
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )]
    LongRange,
    #[error("ERR numkeys should be greater than 0")]
    NumKeys,
    #[error("ERR count should be greater than 0")]
    Count,
    #[error("ERR at least 1 input key is needed for '{0}' command")]
    NoKeys(&'static str),
    #[error("ERR weight value is not a float")]
    Weight,
    #[error("ERR LIMIT can't be negative")]
    NegativeLimit,
    #[error("ERR invalid cursor")]
    Cursor,
    #[error("{0}")]
    Cmd(CmdError),
    #[error("{0}")]
    Store(StoreError),
}

impl From<CmdError> for ZError {
    fn from(e: CmdError) -> Self {
        ZError::Cmd(e)
    }
}

impl From<StoreError> for ZError {
    fn from(e: StoreError) -> Self {
        ZError::Store(e)
    }
}

/// Write `e` as the error reply.
fn zfail(w: &mut Reply<'_>, e: ZError) {
    match e {
        ZError::Cmd(e) => fail(w, e),
        ZError::Store(e) => store_fail(w, e),
        e => w.error(&e.to_string()),
    }
}

/// Write a handler's outcome: nothing more on success, the error otherwise.
fn done(w: &mut Reply<'_>, r: Result<(), ZError>) {
    if let Err(e) = r {
        zfail(w, e);
    }
}

/// An argument that must be an integer, as Redis's `getLongFromObject`.
fn long(b: &[u8]) -> Result<i64, ZError> {
    Ok(int(b)?)
}

/// Whether `arg` is the option `name`, any case.
fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// `n` members from `items`, with their scores if `withscores`: a flat
/// array in RESP2, [member, score] pairs in RESP3 (Redis 7's reply).
fn reply_members<'a>(
    w: &mut Reply<'_>,
    n: usize,
    withscores: bool,
    items: impl Iterator<Item = (&'a [u8], f64)>,
) {
    let pairs = withscores && w.proto() == Proto::Resp3;
    w.array(if withscores && !pairs { 2 * n } else { n });
    for (m, s) in items.take(n) {
        if pairs {
            w.array(2);
        }
        w.bulk(m);
        if withscores {
            w.double(s);
        }
    }
}

/// Bytes a write of these member arguments may add, for the maxmemory
/// check: the bytes plus a skiplist entry's overhead each.
fn grow_estimate(members: impl Iterator<Item = usize>) -> usize {
    members.map(|len| 2 * len + 160).sum()
}

fn zadd(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = add(ctx, args, 2, AddFlags::default(), false, w);
    done(w, r);
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    let r = add(ctx, args, 2, flags, true, w);
    done(w, r);
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …, and ZINCRBY
/// (`incrby`: no options), in Redis's order of checks.
fn add(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    mut at: usize,
    mut flags: AddFlags,
    incrby: bool,
    w: &mut Reply<'_>,
) -> Result<(), ZError> {
    let mut ch = false;
    while !incrby && at < args.len() {
        let o = args[at];
        if is(o, "nx") {
            flags.nx = true;
        } else if is(o, "xx") {
            flags.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            flags.incr = true;
        } else if is(o, "gt") {
            flags.gt = true;
        } else if is(o, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        at += 1;
    }
    let pairs = &args[at..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax.into());
    }
    if flags.nx && flags.xx {
        return Err(ZError::NxXx);
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(ZError::GtLtNx);
    }
    if flags.incr && pairs.len() > 2 {
        return Err(ZError::IncrPairs);
    }
    // Every score is checked before anything is added: the command runs
    // whole or not at all.
    for p in pairs.chunks(2) {
        parse_score(p[0]).ok_or(ZError::NotFloat)?;
    }
    let key = args[1];
    let enc = ctx.shard.encodings();
    let how = Write {
        grows: Some(grow_estimate(pairs.chunks(2).map(|p| p[1].len()))),
        create: !flags.xx,
    };
    let r = ctx.shard.modify::<ZSet, _>(key, how, ctx.now, |z| {
        let (mut added, mut updated, mut last) = (0i64, 0i64, None);
        for p in pairs.chunks(2) {
            let score = parse_score(p[0]).expect("checked above");
            match z.add(p[1], score, flags, &enc) {
                Ok(Added::New(s)) => (added, last) = (added + 1, Some(s)),
                Ok(Added::Updated(s)) => (updated, last) = (updated + 1, Some(s)),
                Ok(Added::Same(s)) => last = Some(s),
                Ok(Added::Skipped) => {}
                Err(_) => return Err((added + updated, ZError::Nan)),
            }
        }
        Ok((added, updated, last))
    })?;
    let changed = match &r {
        Some(Ok((a, u, _))) => a + u,
        Some(Err((n, _))) => *n,
        None => 0,
    };
    if changed > 0 {
        ctx.changed(key);
    }
    let (added, updated, last) = match r {
        Some(Ok(t)) => t,
        Some(Err((_, e))) => return Err(e),
        None => (0, 0, None),
    };
    if flags.incr {
        match last {
            Some(s) => w.double(s),
            None => w.nil(),
        }
    } else {
        w.int(if ch { added + updated } else { added });
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    remove_with(ctx, args[1], w, |z| {
        args[2..].iter().filter(|m| z.remove(m).is_some()).count()
    });
}

/// A removal from the set at `key`: `f` says how many members went, which
/// is the reply (0 for a missing key).
fn remove_with(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    w: &mut Reply<'_>,
    f: impl FnOnce(&mut ZSet) -> usize,
) {
    let r = ctx
        .shard
        .modify::<ZSet, _>(key, Write::shrink(), ctx.now, f);
    match r {
        Ok(n) => {
            let n = n.unwrap_or(0);
            if n > 0 {
                ctx.changed(key);
            }
            w.int(n as i64);
        }
        Err(e) => store_fail(w, e),
    }
}

fn zscore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.read::<ZSet>(args[1], ctx.now) {
        Ok(Some(z)) => match z.score(args[2]) {
            Some(s) => w.double(s),
            None => w.nil(),
        },
        Ok(None) => w.nil(),
        Err(e) => store_fail(w, e),
    }
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.read::<ZSet>(args[1], ctx.now) {
        Ok(z) => {
            w.array(args.len() - 2);
            for m in &args[2..] {
                match z.and_then(|z| z.score(m)) {
                    Some(s) => w.double(s),
                    None => w.nil(),
                }
            }
        }
        Err(e) => store_fail(w, e),
    }
}

fn zcard(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.read::<ZSet>(args[1], ctx.now) {
        Ok(z) => w.int(z.map_or(0, |z| z.len() as i64)),
        Err(e) => store_fail(w, e),
    }
}

fn rank(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, rev: bool) {
    match ctx.shard.read::<ZSet>(args[1], ctx.now) {
        Ok(Some(z)) => match z.rank(args[2]) {
            Some((r, _)) => w.int(if rev { z.len() - 1 - r } else { r } as i64),
            None => w.nil(),
        },
        Ok(None) => w.nil(),
        Err(e) => store_fail(w, e),
    }
}

fn zrank(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    rank(ctx, args, w, false);
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    rank(ctx, args, w, true);
}
