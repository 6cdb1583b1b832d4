//! The blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and
//! BLMPOP, in Redis 7.0's order of checks (`t_list.c`). Each does what its
//! non-blocking twin does when a key has items (the pops and the move of
//! `cmd::list`); finding none, it writes nothing when it may block (the
//! node then blocks the client, see `node::blocking`) or its null inside
//! MULTI.

use super::blocking::timeout_ms;
use super::list::{bad_fail, lmove, mpop_args, pop_first};
use super::spec::{Blocking, Ctx, Flags, Keys, Run, Spec};
use super::{fail, store_fail, CmdError};
use crate::proto::Reply;
use crate::store::types::End;
use crate::store::{StoreError, Type};

/// Flags of a blocking write.
const BLOCKING_WRITE: Flags = Flags::WRITE.with(Flags::BLOCKING);
/// Redis 7.0 marks the older blocking pops `noscript` (BLMPOP is not).
const BLOCKING_NOSCRIPT: Flags = BLOCKING_WRITE.with(Flags::NOSCRIPT);

/// BLPOP/BRPOP's keys: all but the trailing timeout.
const BPOP_KEYS: Keys = Keys::between(1, -2);

/// The family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("blpop", -3, BLOCKING_NOSCRIPT, BPOP_KEYS, Run::Shard(blpop)),
    Spec::new("brpop", -3, BLOCKING_NOSCRIPT, BPOP_KEYS, Run::Shard(brpop)),
    Spec::new(
        "blmove",
        6,
        BLOCKING_NOSCRIPT.with(Flags::DENYOOM),
        Keys::between(1, 2),
        Run::Shard(blmove),
    ),
    Spec::new(
        "brpoplpush",
        4,
        BLOCKING_NOSCRIPT.with(Flags::DENYOOM),
        Keys::between(1, 2),
        Run::Shard(brpoplpush),
    ),
    Spec::new(
        "blmpop",
        -5,
        BLOCKING_WRITE,
        Keys::NONE.counted(2),
        Run::Shard(blmpop),
    ),
];

/// Whether `key` counts as holding no list for this try: on a blocked
/// client's retry, one holding another type (Redis wakes a blocked client
/// only for its own type, so it keeps waiting).
fn skip(ctx: &mut Ctx<'_>, key: &[u8]) -> bool {
    let now = ctx.now;
    ctx.blocking == Blocking::Retry
        && ctx
            .shard_of(key)
            .peek_type(key, now)
            .is_some_and(|t| t != Type::List)
}

/// Nothing to take: block (write nothing) when allowed, else the null.
fn nothing(ctx: &Ctx<'_>, w: &mut Reply<'_>, null_array: bool) {
    if ctx.blocking.may_block() {
        return;
    }
    if null_array {
        w.null_array();
    } else {
        w.nil();
    }
}

fn blpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    bpop(ctx, args, w, End::Left);
}

fn brpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    bpop(ctx, args, w, End::Right);
}

/// BLPOP/BRPOP key [key ...] timeout: the timeout first, then the first
/// key holding a list, in order (a key of another type before it is
/// WRONGTYPE).
fn bpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, end: End) {
    if let Err(e) = timeout_ms(args[args.len() - 1]) {
        return w.error(&e.to_string());
    }
    match pop_first(ctx, &args[1..args.len() - 1], end, None, skip, w) {
        Ok(true) => {}
        Ok(false) => nothing(ctx, w, true),
        Err(e) => store_fail(w, e),
    }
}

fn blmove(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match (End::parse(args[3]), End::parse(args[4])) {
        (Some(from), Some(to)) => bmove(ctx, args, w, from, to, args[5]),
        _ => fail(w, CmdError::Syntax),
    }
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    bmove(ctx, args, w, End::Right, End::Left, args[3]);
}

/// BLMOVE/BRPOPLPUSH: the ends are parsed first, then the timeout, then the
/// source's type; a source with items moves as LMOVE.
fn bmove(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, from: End, to: End, t: &[u8]) {
    if let Err(e) = timeout_ms(t) {
        return w.error(&e.to_string());
    }
    let (src, dst) = (args[1], args[2]);
    let now = ctx.now;
    match ctx.shard_of(src).peek_type(src, now) {
        Some(Type::List) => {}
        Some(_) if ctx.blocking != Blocking::Retry => {
            return store_fail(w, StoreError::WrongType);
        }
        // Missing (or, on a retry, another type): nothing to move.
        _ => return nothing(ctx, w, false),
    }
    match lmove(ctx, src, dst, from, to, |b| w.bulk(b)) {
        Ok(true) => {}
        Ok(false) => nothing(ctx, w, false),
        Err(e) => store_fail(w, e),
    }
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: numkeys,
/// the end and the count are checked first, then the timeout.
fn blmpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (keys, end, count) = match mpop_args(&args[1..]) {
        Ok(a) => a,
        Err(e) => return bad_fail(w, e),
    };
    if let Err(e) = timeout_ms(args[1]) {
        return w.error(&e.to_string());
    }
    match pop_first(ctx, keys, end, Some(count), skip, w) {
        Ok(true) => {}
        Ok(false) => nothing(ctx, w, true),
        Err(e) => store_fail(w, e),
    }
}
