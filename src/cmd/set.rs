//! The set commands: their rows and handlers, with Redis 7.0's checks in
//! its order (`t_set.c`) and its error texts.
//!
//! The multi-key ones (SMOVE, SINTER, SUNION, SDIFF, their STORE forms and
//! SINTERCARD) reach each key's shard through [`Ctx::shard_of`]: the node
//! holds every core they touch while they run, so they are atomic. A set on
//! another shard cannot stay borrowed while the next is read, so they copy
//! what they need (the smallest set's members for an intersection).

use super::coll::{self, read, write};
use super::error::CmdError;
use super::spec::{
    Ctx, Flags, Keys, Run, Spec, READ_FAST, WRITE_FAST, WRITE_GROW, WRITE_GROW_FAST,
};
use super::{fail, int, store_fail};
use crate::proto::Reply;
use crate::store::types::{Member, Set, SET_TABLE_ENTRY};
use crate::store::{StoreError, Type, Write};

/// The set family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("sadd", -3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(sadd)),
    Spec::new("srem", -3, WRITE_FAST, Keys::ONE, Run::Shard(srem)),
    Spec::new("sismember", 3, READ_FAST, Keys::ONE, Run::Shard(sismember)),
    Spec::new(
        "smismember",
        -3,
        READ_FAST,
        Keys::ONE,
        Run::Shard(smismember),
    ),
    Spec::new(
        "smembers",
        2,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(smembers),
    ),
    Spec::new("scard", 2, READ_FAST, Keys::ONE, Run::Shard(scard)),
    Spec::new("spop", -2, WRITE_FAST, Keys::ONE, Run::Shard(spop)),
    Spec::new(
        "srandmember",
        -2,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(srandmember),
    ),
    Spec::new(
        "smove",
        4,
        WRITE_FAST,
        Keys::between(1, 2),
        Run::Shard(smove),
    ),
    Spec::new("sinter", -2, Flags::READONLY, Keys::ALL, Run::Shard(sinter)),
    Spec::new(
        "sinterstore",
        -3,
        WRITE_GROW,
        Keys::ALL,
        Run::Shard(sinterstore),
    ),
    Spec::new(
        "sintercard",
        -3,
        Flags::READONLY,
        Keys::NONE.counted(1),
        Run::Shard(sintercard),
    ),
    Spec::new("sunion", -2, Flags::READONLY, Keys::ALL, Run::Shard(sunion)),
    Spec::new(
        "sunionstore",
        -3,
        WRITE_GROW,
        Keys::ALL,
        Run::Shard(sunionstore),
    ),
    Spec::new("sdiff", -2, Flags::READONLY, Keys::ALL, Run::Shard(sdiff)),
    Spec::new(
        "sdiffstore",
        -3,
        WRITE_GROW,
        Keys::ALL,
        Run::Shard(sdiffstore),
    ),
    Spec::new("sscan", -3, Flags::READONLY, Keys::ONE, Run::Shard(sscan)),
];

/// Bytes a member may add, for the `maxmemory` check: what a hashtable
/// charges, an upper bound of an intset's.
fn cost(m: &[u8]) -> usize {
    m.len() + SET_TABLE_ENTRY
}

/// A member's bytes as a bulk string.
fn bulk(w: &mut Reply<'_>, mut m: Member<'_>) {
    w.bulk(m.as_ref());
}

fn sadd(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let enc = ctx.shard.encodings();
    let members = &args[2..];
    let how = Write::grow(members.iter().map(|m| cost(m)).sum());
    let added = write(ctx, args[1], how, w, |s: &mut Set| {
        members.iter().filter(|m| s.insert(m, &enc)).count()
    });
    let Some(Some(added)) = added else { return };
    if added > 0 {
        ctx.changed(args[1]);
    }
    w.int(added as i64);
}

fn srem(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let removed = write(ctx, args[1], Write::shrink(), w, |s: &mut Set| {
        // Redis stops once the set is empty (it deletes the key then).
        let mut n = 0;
        for m in &args[2..] {
            if s.is_empty() {
                break;
            }
            n += i64::from(s.remove(m));
        }
        n
    });
    let Some(removed) = removed else { return };
    let n = removed.unwrap_or(0);
    if n > 0 {
        ctx.changed(args[1]);
    }
    w.int(n);
}

fn sismember(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.int(0),
        |s: &Set, w| w.int(i64::from(s.contains(args[2]))),
    );
}

fn smismember(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let members = &args[2..];
    read(
        ctx,
        args[1],
        w,
        |w| {
            w.array(members.len());
            members.iter().for_each(|_| w.int(0));
        },
        |s: &Set, w| {
            w.array(members.len());
            members.iter().for_each(|m| w.int(i64::from(s.contains(m))));
        },
    );
}

fn smembers(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.set(0),
        |s: &Set, w| {
            w.set(s.len());
            s.iter().for_each(|m| bulk(w, m));
        },
    );
}

fn scard(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.int(0),
        |s: &Set, w| w.int(s.len() as i64),
    );
}

/// SPOP key [count].
fn spop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let mut rng = fastrand::Rng::new();
    if args.len() > 3 {
        return fail(w, CmdError::Syntax);
    }
    if args.len() == 2 {
        let popped = write(ctx, args[1], Write::shrink(), w, |s: &mut Set| {
            s.pop(&mut rng)
        });
        match popped {
            None => {}
            Some(Some(Some(m))) => {
                ctx.changed(args[1]);
                w.bulk(&m);
            }
            Some(_) => w.nil(),
        }
        return;
    }
    // Redis's getPositiveLongFromObjectOrReply: one text for both faults.
    let count = match int(args[2]) {
        Ok(n) if n >= 0 => n as u64,
        _ => return w.error("ERR value is out of range, must be positive"),
    };
    let popped = write(ctx, args[1], Write::shrink(), w, |s: &mut Set| {
        if count >= s.len() as u64 {
            // All of it, in its order (Redis answers with a union of the
            // one set, which keeps an intset's order).
            let all = s.iter().map(Member::to_boxed).collect();
            *s = Set::new();
            return all;
        }
        (0..count)
            .filter_map(|_| s.pop(&mut rng))
            .collect::<Vec<_>>()
    });
    let Some(popped) = popped else { return };
    let popped = popped.unwrap_or_default();
    if !popped.is_empty() {
        ctx.changed(args[1]);
    }
    w.set(popped.len());
    popped.iter().for_each(|m| w.bulk(m));
}

/// SRANDMEMBER key [count]: a negative count may repeat members.
fn srandmember(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let mut rng = fastrand::Rng::new();
    if args.len() > 3 {
        return fail(w, CmdError::Syntax);
    }
    if args.len() == 2 {
        return read(
            ctx,
            args[1],
            w,
            |w| w.nil(),
            |s: &Set, w| match s.random(&mut rng) {
                Some(m) => bulk(w, m),
                None => w.nil(),
            },
        );
    }
    let count = match int(args[2]) {
        Ok(i64::MIN) => return w.error(coll::COUNT_RANGE),
        Ok(n) => n,
        Err(e) => return fail(w, e),
    };
    read(
        ctx,
        args[1],
        w,
        |w| w.array(0),
        |s: &Set, w| {
            let n = count.unsigned_abs();
            if count < 0 || n == 1 {
                w.array(n as usize);
                for _ in 0..n {
                    if let Some(m) = s.random(&mut rng) {
                        bulk(w, m);
                    }
                }
                return;
            }
            let picked = s.random_distinct(n as usize, &mut rng);
            w.array(picked.len());
            picked.into_iter().for_each(|m| bulk(w, m));
        },
    );
}

/// Run `f` on the set at `key` without counting a hit or a miss (Redis's
/// write lookup); `None` when there is none. For a key whose type the
/// caller has checked.
fn with_set<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&Set) -> R) -> Option<R> {
    let now = ctx.now;
    let r = ctx
        .shard_of(key)
        .modify::<Set, R>(key, Write::shrink(), now, |s| f(s));
    r.ok().flatten()
}

/// SMOVE source destination member.
fn smove(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (src, dst, m) = (args[1], args[2], args[3]);
    let now = ctx.now;
    match ctx.shard_of(src).peek_type(src, now) {
        None => return w.int(0),
        Some(Type::Set) => {}
        Some(_) => return store_fail(w, StoreError::WrongType),
    }
    if ctx
        .shard_of(dst)
        .peek_type(dst, now)
        .is_some_and(|t| t != Type::Set)
    {
        return store_fail(w, StoreError::WrongType);
    }
    let member = with_set(ctx, src, |s| s.contains(m)).unwrap_or(false);
    if src == dst || !member {
        return w.int(i64::from(member));
    }
    // The destination first: a refusal for memory then leaves both as
    // they were.
    let enc = ctx.shard_of(dst).encodings();
    let added = ctx
        .shard_of(dst)
        .modify::<Set, bool>(dst, Write::grow(cost(m)), now, |s| s.insert(m, &enc));
    let added = match added {
        Ok(a) => a.unwrap_or(false),
        Err(e) => return store_fail(w, e),
    };
    let _ = ctx
        .shard_of(src)
        .modify::<Set, bool>(src, Write::shrink(), now, |s| s.remove(m));
    ctx.changed(src);
    if added {
        ctx.changed(dst);
    }
    w.int(1);
}

/// The sizes of the sets at `keys` (`None` for a missing key), each read
/// once as Redis's `lookupKeyRead` (a hit or a miss counted).
///
/// # Errors
/// WRONGTYPE at the first key of another type, as Redis checks them all
/// before it computes anything.
fn sizes(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Result<Vec<Option<usize>>, StoreError> {
    let now = ctx.now;
    keys.iter()
        .map(|k| Ok(ctx.shard_of(k).read::<Set>(k, now)?.map(Set::len)))
        .collect()
}

/// The members of the intersection of the sets at `keys`, in the smallest
/// set's order (empty when a key is missing).
fn intersect(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Result<Vec<Box<[u8]>>, StoreError> {
    let sizes = sizes(ctx, keys)?;
    let Some(mut by_size) = sizes
        .iter()
        .zip(keys)
        .map(|(n, k)| n.map(|n| (n, *k)))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(Vec::new());
    };
    by_size.sort_by_key(|&(n, _)| n);
    let (_, first) = by_size[0];
    let mut found: Vec<Box<[u8]>> =
        with_set(ctx, first, |s| s.iter().map(Member::to_boxed).collect()).unwrap_or_default();
    for &(_, k) in &by_size[1..] {
        if found.is_empty() {
            break;
        }
        with_set(ctx, k, |s| found.retain(|m| s.contains(m)));
    }
    Ok(found)
}

/// A set of `members`, built as Redis builds a result (an intset that
/// converts as members come).
fn collect(ctx: &mut Ctx<'_>, members: &[Box<[u8]>]) -> Set {
    let enc = ctx.shard.encodings();
    let mut s = Set::new();
    for m in members {
        s.insert(m, &enc);
    }
    s
}

/// Answer `members` as a set reply.
fn reply_members(w: &mut Reply<'_>, members: &[Box<[u8]>]) {
    w.set(members.len());
    members.iter().for_each(|m| w.bulk(m));
}

/// Make `dst` the set `s` (deleted when empty) and answer its size.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], s: Set, w: &mut Reply<'_>) {
    let now = ctx.now;
    let n = s.len();
    match ctx.shard_of(dst).store::<Set>(dst, s, now) {
        Ok(existed) => {
            if n > 0 || existed {
                ctx.changed(dst);
            }
            w.int(n as i64);
        }
        Err(e) => store_fail(w, e),
    }
}

fn sinter(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match intersect(ctx, &args[1..]) {
        Ok(found) => reply_members(w, &found),
        Err(e) => store_fail(w, e),
    }
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match intersect(ctx, &args[2..]) {
        Ok(found) => {
            let s = collect(ctx, &found);
            store(ctx, args[1], s, w);
        }
        Err(e) => store_fail(w, e),
    }
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
fn sintercard(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let numkeys = match int(args[1]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return w.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return w.error("ERR Number of keys can't be greater than number of args");
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < args.len() {
        match args.get(i + 1) {
            Some(n) if args[i].eq_ignore_ascii_case(b"limit") => match int(n) {
                Ok(n) if n >= 0 => limit = n as u64,
                _ => return w.error("ERR LIMIT can't be negative"),
            },
            _ => return fail(w, CmdError::Syntax),
        }
        i += 2;
    }
    match intersect(ctx, &args[2..keys_end]) {
        Ok(found) => {
            let n = found.len() as u64;
            w.int(if limit > 0 { n.min(limit) } else { n } as i64);
        }
        Err(e) => store_fail(w, e),
    }
}

/// SUNION or SDIFF of the sets at `keys`, as a set built as Redis builds
/// its result.
fn combine(ctx: &mut Ctx<'_>, keys: &[&[u8]], diff: bool) -> Result<Set, StoreError> {
    let sizes = sizes(ctx, keys)?;
    let enc = ctx.shard.encodings();
    let mut out = Set::new();
    for (i, (k, n)) in keys.iter().zip(&sizes).enumerate() {
        if n.is_none() {
            if diff && i == 0 {
                break;
            }
            continue;
        }
        if diff && i > 0 && out.is_empty() {
            break;
        }
        with_set(ctx, k, |s| {
            for mut m in s.iter() {
                if !diff || i == 0 {
                    out.insert(m.as_ref(), &enc);
                } else {
                    out.remove(m.as_ref());
                }
            }
        });
    }
    Ok(out)
}

/// SUNION / SDIFF: answer the result.
fn combined(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, diff: bool) {
    match combine(ctx, &args[1..], diff) {
        Ok(s) => {
            w.set(s.len());
            s.iter().for_each(|m| bulk(w, m));
        }
        Err(e) => store_fail(w, e),
    }
}

/// SUNIONSTORE / SDIFFSTORE: store the result.
fn combined_store(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, diff: bool) {
    match combine(ctx, &args[2..], diff) {
        Ok(s) => store(ctx, args[1], s, w),
        Err(e) => store_fail(w, e),
    }
}

fn sunion(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    combined(ctx, args, w, false);
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    combined(ctx, args, w, true);
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    combined_store(ctx, args, w, false);
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    combined_store(ctx, args, w, true);
}

/// SSCAN key cursor [MATCH pattern] [COUNT count].
fn sscan(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let Some(cursor) = coll::cursor(args[2]) else {
        return w.error(coll::INVALID_CURSOR);
    };
    read(ctx, args[1], w, coll::empty_scan, |s: &Set, w| {
        let Some(o) = coll::scan_opts_or_fail(&args[3..], w) else {
            return;
        };
        let mut items = Vec::new();
        let next = s.scan(cursor, o.count, |mut m| {
            if o.pattern
                .is_none_or(|p| crate::store::glob_match(p, m.as_ref(), false))
            {
                items.push(m);
            }
        });
        w.array(2);
        w.bulk(itoa::Buffer::new().format(next).as_bytes());
        w.array(items.len());
        items.into_iter().for_each(|m| bulk(w, m));
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;

    #[test]
    fn a_set_through_its_commands() {
        let mut t = run();
        assert_eq!(t.cmd("sadd s 3 1 2 1"), ":3\r\n");
        assert_eq!(t.cmd("object encoding s"), "$6\r\nintset\r\n");
        assert_eq!(
            t.cmd("smembers s"),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
        );
        assert_eq!(t.cmd("sadd s x"), ":1\r\n");
        assert_eq!(t.cmd("object encoding s"), "$9\r\nhashtable\r\n");
        assert_eq!(t.cmd("sadd t 2 3 4"), ":3\r\n");
        assert_eq!(t.cmd("sintercard 2 s t"), ":2\r\n");
        assert_eq!(t.cmd("sintercard 2 s t limit 1"), ":1\r\n");
        assert_eq!(t.cmd("sdiffstore d t s"), ":1\r\n");
        assert_eq!(t.cmd("smembers d"), "*1\r\n$1\r\n4\r\n");
        assert_eq!(t.cmd("sunionstore d s t"), ":5\r\n");
        assert_eq!(t.cmd("smove t s 4"), ":1\r\n");
        assert_eq!(t.cmd("sismember s 4"), ":1\r\n");
        assert_eq!(t.cmd("spop t 5"), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
        assert_eq!(t.cmd("exists t"), ":0\r\n");
        assert_eq!(t.cmd("sinterstore d s t"), ":0\r\n");
        assert_eq!(t.cmd("exists d"), ":0\r\n");
        assert_eq!(
            t.cmd("spop s -1"),
            "-ERR value is out of range, must be positive\r\n"
        );
        assert_eq!(
            t.cmd("sintercard 0 s"),
            "-ERR numkeys should be greater than 0\r\n"
        );
    }
}
