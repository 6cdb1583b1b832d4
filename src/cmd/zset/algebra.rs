//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis 7.0's
//! `zunionInterDiffGenericCommand`: the sources' types are checked before
//! the options are read, weights multiply scores (a NaN product counts as
//! 0), SUM turns `inf + -inf` into 0, and the sources are taken smallest
//! first for ZUNION and ZINTER, so sums add up in Redis's order.
//!
//! The sources may live on several cores and a shard hands out one borrow
//! at a time, so each is read in turn: ZINTER and ZDIFF copy the first
//! source's members and filter them through the others, ZUNION folds each
//! source into an accumulator.
//!
//! A plain set is a source too, each member scored 1 (Redis's `zuiNext`
//! and `zuiFind` on an `OBJ_SET`); any other type is WRONGTYPE.

use super::range::{build, store_at};
use super::{done, is, long, reply_members, ZError};
use crate::cmd::spec::Ctx;
use crate::cmd::CmdError;
use crate::map::HashMap;
use crate::proto::Reply;
use crate::store::score::parse_score;
use crate::store::types::{Set, ZSet};
use crate::store::{StoreError, Type};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`.
    fn fold(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => {
                if v < *acc {
                    *acc = v;
                }
            }
            Aggregate::Max => {
                if v > *acc {
                    *acc = v;
                }
            }
        }
    }
}

/// An owned member and its score.
type Member = (Box<[u8]>, f64);

/// One source as the algebra reads it.
#[derive(Clone, Copy)]
enum Src<'s> {
    Z(&'s ZSet),
    /// A plain set: every member scores 1.
    S(&'s Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    /// `m`'s score, if a member.
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Every member with its score, in the source's own order.
    fn each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Z(z) => z.iter_at(0, false).for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|mut m| f(m.as_ref(), 1.0)),
        }
    }
}

/// The source at `key` (a read lookup, counted once): its sorted set or
/// set, `None` when missing.
fn source<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<Src<'c>>, StoreError> {
    let now = ctx.now;
    let shard = ctx.shard_of(key);
    // The peek neither counts nor uses the key, so the one read below is
    // the lookup Redis makes.
    if shard.peek_type(key, now) == Some(Type::Set) {
        return Ok(shard.read::<Set>(key, now)?.map(Src::S));
    }
    Ok(shard.read::<ZSet>(key, now)?.map(Src::Z))
}

/// The parsed request.
struct Req<'a> {
    /// Source keys with their weights and sizes, in the order they are
    /// combined.
    srcs: Vec<(&'a [u8], f64, usize)>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

/// Parse from `args[at]` (numkeys), checking the sources' types first.
fn parse<'a>(
    ctx: &mut Ctx<'_>,
    args: &[&'a [u8]],
    at: usize,
    op: Op,
    name: &'static str,
    store: bool,
    card: bool,
) -> Result<Req<'a>, ZError> {
    let n = long(args[at])?;
    if n < 1 {
        return Err(ZError::NoKeys(name));
    }
    let n = usize::try_from(n).map_err(|_| CmdError::Syntax)?;
    if n > args.len() - at - 1 {
        return Err(CmdError::Syntax.into());
    }
    let mut srcs = Vec::with_capacity(n);
    for &key in &args[at + 1..at + 1 + n] {
        let len = source(ctx, key)?.map_or(0, |z| z.len());
        srcs.push((key, 1.0, len));
    }
    let (mut aggregate, mut withscores, mut limit) = (Aggregate::Sum, false, 0);
    let mut j = at + 1 + n;
    while j < args.len() {
        let left = args.len() - j;
        let o = args[j];
        if op != Op::Diff && !card && left > n && is(o, "weights") {
            for (i, w) in args[j + 1..j + 1 + n].iter().enumerate() {
                srcs[i].1 = parse_score(w).ok_or(ZError::Weight)?;
            }
            j += 1 + n;
        } else if op != Op::Diff && !card && left >= 2 && is(o, "aggregate") {
            aggregate = match args[j + 1] {
                a if is(a, "sum") => Aggregate::Sum,
                a if is(a, "min") => Aggregate::Min,
                a if is(a, "max") => Aggregate::Max,
                _ => return Err(CmdError::Syntax.into()),
            };
            j += 2;
        } else if !store && !card && is(o, "withscores") {
            withscores = true;
            j += 1;
        } else if card && left >= 2 && is(o, "limit") {
            let l = long(args[j + 1]).map_err(|_| ZError::NegativeLimit)?;
            limit = usize::try_from(l).map_err(|_| ZError::NegativeLimit)?;
            j += 2;
        } else {
            return Err(CmdError::Syntax.into());
        }
    }
    if op != Op::Diff {
        // Smallest first, as Redis sorts them (its qsort; ties keep the
        // key order here).
        srcs.sort_by_key(|s| s.2);
    }
    Ok(Req {
        srcs,
        aggregate,
        withscores,
        limit,
    })
}

/// The result's members and scores, unordered.
fn compute(ctx: &mut Ctx<'_>, req: &Req<'_>, op: Op) -> Result<Vec<Member>, ZError> {
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    match op {
        Op::Union => {
            let mut acc: HashMap<Box<[u8]>, f64> = HashMap::new();
            let mut order: Vec<Box<[u8]>> = Vec::new();
            for &(key, w, len) in &req.srcs {
                if len == 0 {
                    continue;
                }
                let Some(z) = source(ctx, key)? else {
                    continue;
                };
                z.each(|m, s| {
                    let v = weighted(s, w);
                    match acc.get_mut(m) {
                        Some(a) => req.aggregate.fold(a, v),
                        None => {
                            acc.insert(m.into(), v);
                            order.push(m.into());
                        }
                    }
                });
            }
            Ok(order
                .into_iter()
                .map(|m| {
                    let s = *acc.get(&m).expect("accumulated");
                    (m, s)
                })
                .collect())
        }
        Op::Inter | Op::Diff => {
            let Some(&(first, w0, len0)) = req.srcs.first() else {
                return Ok(Vec::new());
            };
            if len0 == 0 {
                return Ok(Vec::new());
            }
            let mut cand: Vec<Member> = Vec::with_capacity(len0);
            if let Some(z) = source(ctx, first)? {
                z.each(|m, s| {
                    cand.push((m.into(), if op == Op::Inter { weighted(s, w0) } else { s }));
                });
            }
            for &(key, w, _) in &req.srcs[1..] {
                let z = source(ctx, key)?;
                cand.retain_mut(|(m, acc)| {
                    let found = z.and_then(|z| z.score(m));
                    match (op, found) {
                        (Op::Inter, Some(s)) => {
                            req.aggregate.fold(acc, s * w);
                            true
                        }
                        (Op::Inter, None) => false,
                        (_, found) => found.is_none(),
                    }
                });
                if cand.is_empty() {
                    break;
                }
            }
            Ok(cand)
        }
    }
}

/// Sort a result into the sorted set's order.
fn sort(v: &mut [Member]) {
    v.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .expect("no NaN score")
            .then_with(|| a.0.cmp(&b.0))
    });
}

/// ZUNION / ZINTER / ZDIFF numkeys key … [WEIGHTS …] [AGGREGATE …] [WITHSCORES].
fn read_form(ctx: &mut Ctx<'_>, args: &[&[u8]], op: Op, name: &'static str, w: &mut Reply<'_>) {
    let r = (|| {
        let req = parse(ctx, args, 1, op, name, false, false)?;
        let mut v = compute(ctx, &req, op)?;
        sort(&mut v);
        reply_members(
            w,
            v.len(),
            req.withscores,
            v.iter().map(|(m, s)| (&m[..], *s)),
        );
        Ok(())
    })();
    done(w, r);
}

/// The STORE forms: destination first, then as the read forms.
fn store_form(ctx: &mut Ctx<'_>, args: &[&[u8]], op: Op, name: &'static str, w: &mut Reply<'_>) {
    let r = (|| {
        let req = parse(ctx, args, 2, op, name, true, false)?;
        let mut v = compute(ctx, &req, op)?;
        sort(&mut v);
        let enc = ctx.shard.encodings();
        let z = build(v.iter().map(|(m, s)| (&m[..], *s)), &enc);
        store_at(ctx, args[1], z, w)
    })();
    done(w, r);
}

pub(super) fn zunion(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_form(ctx, args, Op::Union, "zunion", w);
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_form(ctx, args, Op::Inter, "zinter", w);
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read_form(ctx, args, Op::Diff, "zdiff", w);
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    store_form(ctx, args, Op::Union, "zunionstore", w);
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    store_form(ctx, args, Op::Inter, "zinterstore", w);
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    store_form(ctx, args, Op::Diff, "zdiffstore", w);
}

/// ZINTERCARD numkeys key … [LIMIT limit].
pub(super) fn zintercard(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| {
        let req = parse(ctx, args, 1, Op::Inter, "zintercard", false, true)?;
        let n = compute(ctx, &req, Op::Inter)?.len();
        w.int(if req.limit > 0 { n.min(req.limit) } else { n } as i64);
        Ok(())
    })();
    done(w, r);
}
