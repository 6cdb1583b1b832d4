//! The list commands (non-blocking): their rows and handlers, in Redis
//! 7.0's order of checks (`t_list.c`) and with its error texts.
//!
//! The pushes, pops and the move are also plain functions over shards
//! ([`push`], [`pop`], [`lmove`]) that write no reply of their own, so the
//! blocking layer can serve a woken BLPOP/BLMPOP/BLMOVE with the same code.

use super::error::CmdError;
use super::spec::{Ctx, Flags, Keys, Run, Spec, WRITE_FAST, WRITE_GROW, WRITE_GROW_FAST};
use super::{fail, int, store_fail};
use crate::proto::Reply;
use crate::store::types::{item_cost, push_cost, End, List};
use crate::store::{Shard, StoreError, Write};

/// The list family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("lpush", -3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(lpush)),
    Spec::new("rpush", -3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(rpush)),
    Spec::new("lpushx", -3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(lpushx)),
    Spec::new("rpushx", -3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(rpushx)),
    Spec::new("lpop", -2, WRITE_FAST, Keys::ONE, Run::Shard(lpop)),
    Spec::new("rpop", -2, WRITE_FAST, Keys::ONE, Run::Shard(rpop)),
    Spec::new(
        "llen",
        2,
        super::spec::READ_FAST,
        Keys::ONE,
        Run::Shard(llen),
    ),
    Spec::new("lrange", 4, Flags::READONLY, Keys::ONE, Run::Shard(lrange)),
    Spec::new("lindex", 3, Flags::READONLY, Keys::ONE, Run::Shard(lindex)),
    Spec::new("lset", 4, WRITE_GROW, Keys::ONE, Run::Shard(lset)),
    Spec::new("linsert", 5, WRITE_GROW, Keys::ONE, Run::Shard(linsert)),
    Spec::new("lrem", 4, Flags::WRITE, Keys::ONE, Run::Shard(lrem)),
    Spec::new("ltrim", 4, Flags::WRITE, Keys::ONE, Run::Shard(ltrim)),
    Spec::new("lpos", -3, Flags::READONLY, Keys::ONE, Run::Shard(lpos)),
    Spec::new(
        "lmove",
        5,
        WRITE_GROW,
        Keys::between(1, 2),
        Run::Shard(lmove_cmd),
    ),
    Spec::new(
        "rpoplpush",
        3,
        WRITE_GROW,
        Keys::between(1, 2),
        Run::Shard(rpoplpush),
    ),
    Spec::new(
        "lmpop",
        -4,
        Flags::WRITE,
        Keys::NONE.counted(1),
        Run::Shard(lmpop),
    ),
];

/// The list commands' own error texts, as Redis 7.0 words them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum ListError {
    /// LPOP/RPOP's COUNT.
    #[error("ERR value is out of range, must be positive")]
    Positive,
    /// LSET of a missing key.
    #[error("ERR no such key")]
    NoSuchKey,
    /// LSET past either end.
    #[error("ERR index out of range")]
    OutOfRange,
    /// LPOS RANK 0.
    #[error(
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
         or use negative to start from the end of the list"
    )]
    RankZero,
    /// LPOS COUNT below 0 or not a number.
    #[error("ERR COUNT can't be negative")]
    CountNegative,
    /// LPOS MAXLEN below 0 or not a number.
    #[error("ERR MAXLEN can't be negative")]
    MaxlenNegative,
    /// LMPOP's numkeys.
    #[error("ERR numkeys should be greater than 0")]
    Numkeys,
    /// LMPOP's COUNT.
    #[error("ERR count should be greater than 0")]
    CountPositive,
}

/// Write a list error.
fn list_fail(w: &mut Reply<'_>, e: ListError) {
    w.error(&e.to_string());
}

/// Either kind of argument error, for the parsers that can give both.
pub(super) enum Bad {
    Cmd(CmdError),
    List(ListError),
}

impl From<CmdError> for Bad {
    fn from(e: CmdError) -> Bad {
        Bad::Cmd(e)
    }
}

impl From<ListError> for Bad {
    fn from(e: ListError) -> Bad {
        Bad::List(e)
    }
}

/// Write either kind of argument error.
pub(super) fn bad_fail(w: &mut Reply<'_>, e: Bad) {
    match e {
        Bad::Cmd(e) => fail(w, e),
        Bad::List(e) => list_fail(w, e),
    }
}

/// A non-negative integer argument, or `e` (Redis's
/// `getPositiveLongFromObjectOrReply` with its message: the same text for
/// a non-number and a negative one).
fn non_negative(b: &[u8], e: ListError) -> Result<usize, ListError> {
    match crate::store::parse_i64(b) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(e),
    }
}

/// Push `items` at `end` of the list at `key`, creating it unless
/// `existing_only` (LPUSHX). Returns the new length, or `None` when the
/// key is missing and was not created.
///
/// # Errors
/// OOM, checked first; WRONGTYPE.
pub fn push(
    shard: &mut Shard,
    key: &[u8],
    end: End,
    items: &[&[u8]],
    existing_only: bool,
    now: u64,
) -> Result<Option<usize>, StoreError> {
    let cost = push_cost(items.iter().copied());
    let how = if existing_only {
        Write::grow_existing(cost)
    } else {
        Write::grow(cost)
    };
    shard.modify::<List, _>(key, how, now, |l| {
        for it in items {
            l.push(end, it);
        }
        l.len()
    })
}

/// Pop up to `count` items from `end` of the list at `key` (the key goes
/// when it empties). `each(i, n, item)` sees each popped item in order, `i`
/// from 0 to the `n` that go. Returns `n`, or `None` when the key is
/// missing.
///
/// # Errors
/// WRONGTYPE.
pub fn pop(
    shard: &mut Shard,
    key: &[u8],
    end: End,
    count: usize,
    now: u64,
    mut each: impl FnMut(usize, usize, &[u8]),
) -> Result<Option<usize>, StoreError> {
    shard.modify::<List, _>(key, Write::shrink(), now, |l| {
        let n = count.min(l.len());
        for i in 0..n {
            l.pop(end, |b| each(i, n, b));
        }
        n
    })
}

/// LMOVE: pop at `from` of `src`, push at `to` of `dst`, with `moved`
/// seeing the item; the keys may be on different cores (`ctx.shard_of`).
/// Returns false when `src` is missing (nothing moved).
///
/// Checks come in Redis's order: `src`'s type, then `dst`'s (a WRONGTYPE
/// destination leaves the source whole), and the memory check of both
/// shards before anything changes, so a refused push never loses the item.
///
/// # Errors
/// WRONGTYPE of either key; OOM.
pub fn lmove(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    moved: impl FnOnce(&[u8]),
) -> Result<bool, StoreError> {
    let now = ctx.now;
    if src == dst {
        // A rotation, in one write: the key (and its TTL) stays even when
        // it holds one item.
        let mut item = Vec::new();
        let done = ctx
            .shard_of(src)
            .modify::<List, _>(src, Write::grow_existing(0), now, |l| {
                l.pop(from, |b| item.extend_from_slice(b));
                l.push(to, &item);
            })?;
        if done.is_none() {
            return Ok(false);
        }
        moved(&item);
        ctx.changed(src);
        return Ok(true);
    }
    let head = |l: &mut List| match from {
        End::Left => l.get(0).map_or(0, <[u8]>::len),
        End::Right => l.get(l.len() - 1).map_or(0, <[u8]>::len),
    };
    let Some(len) = ctx
        .shard_of(src)
        .modify::<List, _>(src, Write::grow_existing(0), now, head)?
    else {
        return Ok(false);
    };
    let cost = item_cost(len);
    ctx.shard_of(dst)
        .modify::<List, _>(dst, Write::grow_existing(cost), now, |_| ())?;
    let mut item = Vec::with_capacity(len);
    pop(ctx.shard_of(src), src, from, 1, now, |_, _, b| {
        item.extend_from_slice(b)
    })?;
    // Room was made above; this push only creates or appends.
    let create = Write {
        grows: None,
        create: true,
    };
    ctx.shard_of(dst)
        .modify::<List, _>(dst, create, now, |l| l.push(to, &item))?;
    moved(&item);
    ctx.changed(src);
    ctx.changed(dst);
    Ok(true)
}

fn push_reply(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, end: End, xx: bool) {
    match push(ctx.shard, args[1], end, &args[2..], xx, ctx.now) {
        Ok(Some(n)) => {
            w.int(n as i64);
            ctx.changed(args[1]);
        }
        Ok(None) => w.int(0),
        Err(e) => store_fail(w, e),
    }
}

fn lpush(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    push_reply(ctx, args, w, End::Left, false);
}

fn rpush(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    push_reply(ctx, args, w, End::Right, false);
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    push_reply(ctx, args, w, End::Left, true);
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    push_reply(ctx, args, w, End::Right, true);
}

/// LPOP/RPOP key [count]: one item as a bulk, or with COUNT an array
/// (a null array for a missing key, an empty one for COUNT 0).
fn pop_reply(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, end: End, name: &'static str) {
    if args.len() > 3 {
        return fail(w, CmdError::Arity(name));
    }
    let count = match args.get(2) {
        None => None,
        Some(c) => match non_negative(c, ListError::Positive) {
            Ok(n) => Some(n),
            Err(e) => return list_fail(w, e),
        },
    };
    let key = args[1];
    let popped = pop(
        ctx.shard,
        key,
        end,
        count.unwrap_or(1),
        ctx.now,
        |i, n, b| {
            if i == 0 && count.is_some() {
                w.array(n);
            }
            w.bulk(b);
        },
    );
    match popped {
        Err(e) => store_fail(w, e),
        Ok(None) if count.is_some() => w.null_array(),
        Ok(None) => w.nil(),
        // COUNT 0 of an existing list.
        Ok(Some(0)) => w.array(0),
        Ok(Some(_)) => ctx.changed(key),
    }
}

fn lpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    pop_reply(ctx, args, w, End::Left, "lpop");
}

fn rpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    pop_reply(ctx, args, w, End::Right, "rpop");
}

fn llen(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.read::<List>(args[1], ctx.now) {
        Ok(l) => w.int(l.map_or(0, List::len) as i64),
        Err(e) => store_fail(w, e),
    }
}

/// Redis's range rule (LRANGE, LTRIM): negative indexes count from the
/// end, then both are clamped; `None` for an empty range.
fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// An index as LINDEX and LSET take it (negative from the end), if it
/// names an item.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i.checked_add(len as i64)? } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

fn lrange(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (start, stop) = match (int(args[2]), int(args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(w, e),
    };
    match ctx.shard.read::<List>(args[1], ctx.now) {
        Err(e) => store_fail(w, e),
        Ok(None) => w.array(0),
        Ok(Some(l)) => match range(start, stop, l.len()) {
            None => w.array(0),
            Some((from, to)) => {
                w.array(to - from + 1);
                for item in l.iter_from(from).take(to - from + 1) {
                    w.bulk(item);
                }
            }
        },
    }
}

fn lindex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.read::<List>(args[1], ctx.now) {
        Err(e) => store_fail(w, e),
        Ok(None) => w.nil(),
        Ok(Some(l)) => match int(args[2]) {
            Err(e) => fail(w, e),
            Ok(i) => match index(i, l.len()).and_then(|i| l.get(i)) {
                Some(item) => w.bulk(item),
                None => w.nil(),
            },
        },
    }
}

fn lset(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (key, value) = (args[1], args[3]);
    let cost = push_cost([value]);
    let done = ctx
        .shard
        .modify::<List, _>(key, Write::grow_existing(cost), ctx.now, |l| {
            let i = int(args[2])?;
            match index(i, l.len()) {
                Some(i) if l.set(i, value) => Ok(()),
                _ => Err(Bad::from(ListError::OutOfRange)),
            }
        });
    match done {
        Err(e) => store_fail(w, e),
        Ok(None) => list_fail(w, ListError::NoSuchKey),
        Ok(Some(Err(e))) => bad_fail(w, e),
        Ok(Some(Ok(()))) => {
            w.ok();
            ctx.changed(key);
        }
    }
}

fn linsert(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return fail(w, CmdError::Syntax);
    };
    let (key, pivot, value) = (args[1], args[3], args[4]);
    let cost = push_cost([value]);
    let done = ctx
        .shard
        .modify::<List, _>(key, Write::grow_existing(cost), ctx.now, |l| {
            l.insert(pivot, after, value).then(|| l.len())
        });
    match done {
        Err(e) => store_fail(w, e),
        Ok(None) => w.int(0),
        Ok(Some(None)) => w.int(-1),
        Ok(Some(Some(n))) => {
            w.int(n as i64);
            ctx.changed(key);
        }
    }
}

fn lrem(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let count = match int(args[2]) {
        Ok(n) => n,
        Err(e) => return fail(w, e),
    };
    let key = args[1];
    match ctx
        .shard
        .modify::<List, _>(key, Write::shrink(), ctx.now, |l| l.remove(args[3], count))
    {
        Err(e) => store_fail(w, e),
        Ok(n) => {
            let n = n.unwrap_or(0);
            w.int(n as i64);
            if n > 0 {
                ctx.changed(key);
            }
        }
    }
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (start, stop) = match (int(args[2]), int(args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(w, e),
    };
    let key = args[1];
    let done = ctx
        .shard
        .modify::<List, _>(key, Write::shrink(), ctx.now, |l| {
            let len = l.len();
            match range(start, stop, len) {
                None => l.trim(len, 0),
                Some((from, to)) => l.trim(from, len - to - 1),
            }
        });
    match done {
        Err(e) => store_fail(w, e),
        Ok(found) => {
            w.ok();
            if found.is_some() {
                ctx.changed(key);
            }
        }
    }
}

/// LPOS's options.
struct PosOpts {
    rank: i64,
    /// `None` when COUNT was not given (a single reply, not an array).
    count: Option<i64>,
    maxlen: usize,
}

fn pos_opts(opts: &[&[u8]]) -> Result<PosOpts, Bad> {
    let mut o = PosOpts {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 0;
    while i < opts.len() {
        let (opt, arg) = (opts[i], opts.get(i + 1));
        match arg {
            Some(a) if opt.eq_ignore_ascii_case(b"RANK") => {
                o.rank = int(a)?;
                if o.rank == 0 {
                    return Err(ListError::RankZero.into());
                }
            }
            Some(a) if opt.eq_ignore_ascii_case(b"COUNT") => {
                o.count = Some(non_negative(a, ListError::CountNegative)? as i64);
            }
            Some(a) if opt.eq_ignore_ascii_case(b"MAXLEN") => {
                o.maxlen = non_negative(a, ListError::MaxlenNegative)?;
            }
            _ => return Err(CmdError::Syntax.into()),
        }
        i += 2;
    }
    Ok(o)
}

fn lpos(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let o = match pos_opts(&args[3..]) {
        Ok(o) => o,
        Err(e) => return bad_fail(w, e),
    };
    let l = match ctx.shard.read::<List>(args[1], ctx.now) {
        Err(e) => return store_fail(w, e),
        Ok(None) if o.count.is_some() => return w.array(0),
        Ok(None) => return w.nil(),
        Ok(Some(l)) => l,
    };
    // A negative rank searches from the tail. Redis negates it in C, so
    // RANK of i64::MIN stays negative and takes the first match from the
    // tail (and then every match: its COUNT test overflows too); wrapping
    // arithmetic keeps that.
    let from_tail = o.rank < 0;
    let rank = if from_tail {
        o.rank.wrapping_neg()
    } else {
        o.rank
    };
    let len = l.len();
    let limit = if o.maxlen == 0 {
        len
    } else {
        o.maxlen.min(len)
    };
    let items: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter_rev())
    } else {
        Box::new(l.iter())
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for (i, item) in items.take(limit).enumerate() {
        if item != args[2] {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - i - 1 } else { i });
        match o.count {
            None => break,
            Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
            Some(_) => {}
        }
    }
    match o.count {
        Some(_) => {
            w.array(found.len());
            for i in found {
                w.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => w.int(i as i64),
            None => w.nil(),
        },
    }
}

fn move_reply(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, from: End, to: End) {
    match lmove(ctx, args[1], args[2], from, to, |b| w.bulk(b)) {
        Ok(true) => {}
        Ok(false) => w.nil(),
        Err(e) => store_fail(w, e),
    }
}

fn lmove_cmd(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match (End::parse(args[3]), End::parse(args[4])) {
        (Some(from), Some(to)) => move_reply(ctx, args, w, from, to),
        _ => fail(w, CmdError::Syntax),
    }
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    move_reply(ctx, args, w, End::Right, End::Left);
}

/// LMPOP's arguments after the name: the keys, the end and the count,
/// checked in Redis's order (a second COUNT is a syntax error, but only
/// after the first one's value was read).
pub(super) fn mpop_args<'a>(args: &'a [&'a [u8]]) -> Result<(&'a [&'a [u8]], End, usize), Bad> {
    let n = crate::store::parse_i64(args[1])
        .filter(|&n| n > 0)
        .ok_or(ListError::Numkeys)?;
    let where_at = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&at| at < args.len())
        .ok_or(CmdError::Syntax)?;
    let end = End::parse(args[where_at]).ok_or(CmdError::Syntax)?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        match args.get(j + 1) {
            Some(c) if count.is_none() && args[j].eq_ignore_ascii_case(b"COUNT") => {
                let c = crate::store::parse_i64(c)
                    .filter(|&c| c > 0)
                    .ok_or(ListError::CountPositive)?;
                count = Some(usize::try_from(c).unwrap_or(usize::MAX));
                j += 2;
            }
            _ => return Err(CmdError::Syntax.into()),
        }
    }
    Ok((&args[2..where_at], end, count.unwrap_or(1)))
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (keys, end, count) = match mpop_args(args) {
        Ok(a) => a,
        Err(e) => return bad_fail(w, e),
    };
    match pop_first(ctx, keys, end, Some(count), |_, _| false, w) {
        Ok(true) => {}
        Ok(false) => w.null_array(),
        Err(e) => store_fail(w, e),
    }
}

/// Pop from the first of `keys` holding a list, in order, and reply with
/// the key: `[key, [items]]` for a `count` (LMPOP, BLMPOP), `[key, item]`
/// without (BLPOP, BRPOP). A key `skip` says to pass over (a blocked
/// client's retry passes over other types) is treated as missing; any other
/// key of another type is WRONGTYPE. Returns false, writing nothing, when
/// no key had items.
///
/// # Errors
/// WRONGTYPE.
pub(super) fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    end: End,
    count: Option<usize>,
    mut skip: impl FnMut(&mut Ctx<'_>, &[u8]) -> bool,
    w: &mut Reply<'_>,
) -> Result<bool, StoreError> {
    let now = ctx.now;
    for &key in keys {
        if skip(ctx, key) {
            continue;
        }
        let popped = pop(
            ctx.shard_of(key),
            key,
            end,
            count.unwrap_or(1),
            now,
            |i, n, b| {
                if i == 0 {
                    w.array(2);
                    w.bulk(key);
                    if count.is_some() {
                        w.array(n);
                    }
                }
                w.bulk(b);
            },
        )?;
        if popped.is_some() {
            ctx.changed(key);
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testing;

    #[test]
    fn ranges_as_redis_clamps_them() {
        assert_eq!(range(0, -1, 3), Some((0, 2)));
        assert_eq!(range(-100, 100, 3), Some((0, 2)));
        assert_eq!(range(2, 1, 3), None);
        assert_eq!(range(3, 5, 3), None);
        assert_eq!(range(-1, -1, 3), Some((2, 2)));
        assert_eq!(range(0, -4, 3), None);
        assert_eq!(range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn indexes_from_either_end() {
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(-4, 3), None);
        assert_eq!(index(3, 3), None);
        assert_eq!(index(i64::MIN, 3), None);
    }

    #[test]
    fn a_move_refused_for_memory_loses_nothing() {
        let mut b = testing::run();
        assert_eq!(b.cmd("RPUSH src a b"), ":2\r\n");
        let used = b.shard.used_bytes();
        b.shard.set_maxmemory(Some(used));
        let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
        // A new destination needs room: refused before the pop.
        assert_eq!(b.cmd("LMOVE src dst LEFT LEFT"), oom);
        assert_eq!(b.cmd("RPOPLPUSH src dst"), oom);
        assert_eq!(b.cmd("LPUSH src c"), oom);
        assert_eq!(b.cmd("LRANGE src 0 -1"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(b.cmd("EXISTS dst"), ":0\r\n");
        // Pops need none.
        assert_eq!(b.cmd("LPOP src"), "$1\r\na\r\n");
        b.shard.set_maxmemory(None);
        assert_eq!(b.cmd("LMOVE src dst LEFT LEFT"), "$1\r\nb\r\n");
        assert_eq!(b.cmd("EXISTS src"), ":0\r\n");
    }

    #[test]
    fn the_charge_follows_the_list() {
        let mut b = testing::run();
        // The table's own first allocation is not the list's.
        b.cmd("SET l x");
        b.cmd("DEL l");
        let empty = b.shard.used_bytes();
        for i in 0..2000 {
            b.cmd(&format!("RPUSH l item-{i}"));
        }
        let full = b.shard.used_bytes();
        // 2,000 items of ~9 bytes packed: far less than a box each.
        assert!(full - empty < 40_000, "{} bytes", full - empty);
        assert!(full - empty > 2000 * 9, "{} bytes", full - empty);
        b.cmd("LTRIM l 0 9");
        assert!(b.shard.used_bytes() - empty < 1000);
        b.cmd("DEL l");
        assert_eq!(b.shard.used_bytes(), empty);
    }
}
