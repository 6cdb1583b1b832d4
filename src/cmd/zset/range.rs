//! ZRANGE in all its forms (BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), the
//! older ZRANGEBYSCORE / ZREVRANGE / … commands that are fixed forms of
//! it, ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBY*. Every range ends up
//! as ascending ranks of the set (see `store::types::zset`).

use super::{done, is, long, remove_with, reply_members, zfail, ZError};
use crate::cmd::spec::Ctx;
use crate::cmd::CmdError;
use crate::proto::Reply;
use crate::store::score::{parse_lex_range, parse_score_range, LexRange, ScoreRange};
use crate::store::types::{AddFlags, ZSet};
use crate::store::Encodings;
use std::ops::Range;

/// What a range selects by.
#[derive(Clone, Copy, Debug)]
pub(super) enum By<'a> {
    /// Start and end indexes (negative from the end).
    Rank(i64, i64),
    /// A score interval.
    Score(ScoreRange),
    /// A lexical interval.
    Lex(LexRange<'a>),
}

/// A parsed ZRANGE-like request.
#[derive(Clone, Copy, Debug)]
pub(super) struct RangeReq<'a> {
    by: By<'a>,
    rev: bool,
    withscores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

/// Which kind a command fixes, or `None` for ZRANGE's options to choose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand` argument parsing: `args[at]` is the
/// source key, then min and max, then the options. `kind`/`rev` given by
/// the older commands turn those options into syntax errors.
fn parse<'a>(
    args: &[&'a [u8]],
    at: usize,
    mut kind: Option<Kind>,
    mut rev: Option<bool>,
    store: bool,
) -> Result<RangeReq<'a>, ZError> {
    let (mut withscores, mut offset, mut limit) = (false, 0, -1);
    let mut j = at + 3;
    while j < args.len() {
        let o = args[j];
        let left = args.len() - j - 1;
        if !store && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            offset = long(args[j + 1])?;
            limit = long(args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(o, "rev") {
            rev = Some(true);
        } else if kind.is_none() && is(o, "bylex") {
            kind = Some(Kind::Lex);
        } else if kind.is_none() && is(o, "byscore") {
            kind = Some(Kind::Score);
        } else {
            return Err(CmdError::Syntax.into());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let kind = kind.unwrap_or(Kind::Rank);
    if limit != -1 && kind == Kind::Rank {
        return Err(ZError::LimitByRank);
    }
    if withscores && kind == Kind::Lex {
        return Err(ZError::WithscoresByLex);
    }
    // Reverse score and lex ranges are given max first.
    let (lo, hi) = if rev && kind != Kind::Rank {
        (args[at + 2], args[at + 1])
    } else {
        (args[at + 1], args[at + 2])
    };
    let by = match kind {
        Kind::Rank => By::Rank(long(lo)?, long(hi)?),
        Kind::Score => By::Score(parse_score_range(lo, hi).ok_or(ZError::BadScoreRange)?),
        Kind::Lex => By::Lex(parse_lex_range(lo, hi).ok_or(ZError::BadLexRange)?),
    };
    Ok(RangeReq {
        by,
        rev,
        withscores,
        offset,
        limit,
    })
}

/// Indexes `start..=end` (negative from the end) over `len` members as
/// Redis sanitizes them; empty when they cross or start past the end.
pub(super) fn index_range(start: i64, end: i64, len: usize) -> Range<usize> {
    let n = len as i64;
    let start = if start < 0 { (n + start).max(0) } else { start };
    let end = if end < 0 { n + end } else { end.min(n - 1) };
    if start > end || start >= n {
        return 0..0;
    }
    start as usize..end as usize + 1
}

/// The ascending rank to start from and how many members to take, walking
/// downwards when `req.rev`.
fn select(z: &ZSet, req: &RangeReq<'_>) -> (usize, usize) {
    let n = z.len();
    let ranks = match req.by {
        By::Rank(a, b) => {
            let r = index_range(a, b, n);
            if r.is_empty() {
                return (0, 0);
            }
            return if req.rev {
                (n - 1 - r.start, r.len())
            } else {
                (r.start, r.len())
            };
        }
        By::Score(r) => z.score_ranks(&r),
        By::Lex(r) => z.lex_ranks(&r),
    };
    // A negative offset skips past every member, as Redis's loop does.
    let Ok(offset) = usize::try_from(req.offset) else {
        return (0, 0);
    };
    let avail = ranks.len().saturating_sub(offset);
    let count = usize::try_from(req.limit).map_or(avail, |l| l.min(avail));
    if count == 0 {
        return (0, 0);
    }
    let start = if req.rev {
        ranks.end - 1 - offset
    } else {
        ranks.start + offset
    };
    (start, count)
}

/// Run a read form: parse, look the key up, reply with the members.
fn read_range(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    kind: Option<Kind>,
    rev: Option<bool>,
    w: &mut Reply<'_>,
) {
    let req = match parse(args, 1, kind, rev, false) {
        Ok(r) => r,
        Err(e) => return zfail(w, e),
    };
    match ctx.shard.read::<ZSet>(args[1], ctx.now) {
        Ok(Some(z)) => {
            let (start, count) = select(z, &req);
            reply_members(w, count, req.withscores, z.iter_at(start, req.rev));
        }
        Ok(None) => w.array(0),
        Err(e) => zfail(w, e.into()),
    }
}

pub(super) fn zrange(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_range(ctx, args, None, None, w);
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_range(ctx, args, Some(Kind::Rank), Some(true), w);
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_range(ctx, args, Some(Kind::Score), Some(false), w);
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_range(ctx, args, Some(Kind::Score), Some(true), w);
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_range(ctx, args, Some(Kind::Lex), Some(false), w);
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_range(ctx, args, Some(Kind::Lex), Some(true), w);
}

/// A new set of `items` for a `…STORE` destination, compact if it fits
/// `enc`'s limits.
pub(super) fn build<'a>(items: impl Iterator<Item = (&'a [u8], f64)>, enc: &Encodings) -> ZSet {
    let mut z = ZSet::new();
    for (m, s) in items {
        // A fresh member each time, so no condition can refuse it or make
        // a NaN.
        let _ = z.add(m, s, AddFlags::default(), enc);
    }
    z
}

/// Store `z` at `dst` (deleting it when empty) and reply its size.
pub(super) fn store_at(
    ctx: &mut Ctx<'_>,
    dst: &[u8],
    z: ZSet,
    w: &mut Reply<'_>,
) -> Result<(), ZError> {
    let n = z.len();
    let now = ctx.now;
    let existed = ctx.shard_of(dst).store(dst, z, now)?;
    if n > 0 || existed {
        ctx.changed(dst);
    }
    w.int(n as i64);
    Ok(())
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
pub(super) fn zrangestore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| {
        let req = parse(args, 2, None, None, true)?;
        let (src, now) = (args[2], ctx.now);
        let enc = ctx.shard.encodings();
        let z = match ctx.shard_of(src).read::<ZSet>(src, now)? {
            Some(z) => {
                let (start, count) = select(z, &req);
                build(z.iter_at(start, req.rev).take(count), &enc)
            }
            None => ZSet::new(),
        };
        store_at(ctx, args[1], z, w)
    })();
    done(w, r);
}

/// ZCOUNT / ZLEXCOUNT: the range is parsed before the key is looked up.
fn count(ctx: &mut Ctx<'_>, args: &[&[u8]], lex: bool, w: &mut Reply<'_>) {
    let by = if lex {
        parse_lex_range(args[2], args[3])
            .map(By::Lex)
            .ok_or(ZError::BadLexRange)
    } else {
        parse_score_range(args[2], args[3])
            .map(By::Score)
            .ok_or(ZError::BadScoreRange)
    };
    let by = match by {
        Ok(b) => b,
        Err(e) => return zfail(w, e),
    };
    match ctx.shard.read::<ZSet>(args[1], ctx.now) {
        Ok(Some(z)) => w.int(ranks_of(z, &by).len() as i64),
        Ok(None) => w.int(0),
        Err(e) => zfail(w, e.into()),
    }
}

/// The ascending ranks `by` selects.
fn ranks_of(z: &ZSet, by: &By<'_>) -> Range<usize> {
    match *by {
        By::Rank(a, b) => index_range(a, b, z.len()),
        By::Score(r) => z.score_ranks(&r),
        By::Lex(r) => z.lex_ranks(&r),
    }
}

pub(super) fn zcount(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    count(ctx, args, false, w);
}

pub(super) fn zlexcount(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    count(ctx, args, true, w);
}

/// ZREMRANGEBY*: parse, then remove the ranks selected.
fn remove(ctx: &mut Ctx<'_>, args: &[&[u8]], by: Result<By<'_>, ZError>, w: &mut Reply<'_>) {
    let by = match by {
        Ok(b) => b,
        Err(e) => return zfail(w, e),
    };
    remove_with(ctx, args[1], w, |z| {
        let r = ranks_of(z, &by);
        z.remove_ranks(r)
    });
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let by = long(args[2]).and_then(|a| Ok(By::Rank(a, long(args[3])?)));
    remove(ctx, args, by, w);
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let by = parse_score_range(args[2], args[3])
        .map(By::Score)
        .ok_or(ZError::BadScoreRange);
    remove(ctx, args, by, w);
}

pub(super) fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let by = parse_lex_range(args[2], args[3])
        .map(By::Lex)
        .ok_or(ZError::BadLexRange);
    remove(ctx, args, by, w);
}

#[cfg(test)]
mod tests {
    use super::index_range;

    #[test]
    fn indexes_as_redis_sanitizes_them() {
        assert_eq!(index_range(0, -1, 5), 0..5);
        assert_eq!(index_range(-100, 100, 5), 0..5);
        assert_eq!(index_range(3, 1, 5), 0..0);
        assert_eq!(index_range(5, 9, 5), 0..0);
        assert_eq!(index_range(-2, -1, 5), 3..5);
        assert_eq!(index_range(0, -6, 5), 0..0);
        assert_eq!(index_range(0, 0, 0), 0..0);
    }
}
