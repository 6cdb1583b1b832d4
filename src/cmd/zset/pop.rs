//! ZPOPMIN, ZPOPMAX, ZMPOP, ZRANDMEMBER and ZSCAN.

use super::{is, long, reply_members, zfail, ZError};
use crate::cmd::blocking::timeout_ms;
use crate::cmd::spec::{Blocking, Ctx};
use crate::cmd::CmdError;
use crate::proto::{double::write_g17, Proto, Reply};
use crate::store::glob_match;
use crate::store::types::ZSet;
use crate::store::{Type, Write};

/// How ZPOP* and ZMPOP reply (Redis's `genericZpopCommand` flags).
#[derive(Clone, Copy)]
struct PopReply {
    /// [member, score] pairs in RESP3 (a COUNT was given, or ZMPOP).
    nested: bool,
    /// ZMPOP: [key, [pairs]], and a null array when nothing is popped.
    with_key: bool,
    /// BZPOPMIN/BZPOPMAX: a flat [key, member, score].
    flat_key: bool,
}

/// Pop up to `count` members (from the top with `max`) off the first of
/// `keys` that exists; a key of another type stops the search with
/// WRONGTYPE, as Redis checks each key in turn, except on a blocked
/// client's retry, which skips it (Redis wakes it only for a sorted set).
/// Returns false, writing nothing, when no key had members.
fn pop_any(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    how: PopReply,
    w: &mut Reply<'_>,
) -> Result<bool, ZError> {
    let now = ctx.now;
    for &key in keys {
        if ctx.blocking == Blocking::Retry {
            let t = ctx.shard_of(key).peek_type(key, now);
            if t.is_some_and(|t| t != Type::ZSet) {
                continue;
            }
        }
        let popped = ctx
            .shard_of(key)
            .modify::<ZSet, _>(key, Write::shrink(), now, |z| {
                let n = count.min(z.len());
                (0..n).filter_map(|_| z.pop(max)).collect::<Vec<_>>()
            })?;
        let Some(popped) = popped else { continue };
        if !popped.is_empty() {
            ctx.changed(key);
        }
        if how.flat_key {
            // One member: BZPOPMIN's [key, member, score].
            w.array(3);
            w.bulk(key);
            for (m, s) in &popped {
                w.bulk(m);
                w.double(*s);
            }
            return Ok(true);
        }
        if how.with_key {
            w.array(2);
            w.bulk(key);
        }
        let pairs = popped.iter().map(|(m, s)| (&m[..], *s));
        if how.with_key {
            // ZMPOP nests its pairs in both protocols.
            w.array(popped.len());
            for (m, s) in pairs {
                w.array(2);
                w.bulk(m);
                w.double(s);
            }
        } else if how.nested {
            reply_members(w, popped.len(), true, pairs);
        } else {
            // A flat [member, score, …] in both protocols.
            w.array(2 * popped.len());
            for (m, s) in pairs {
                w.bulk(m);
                w.double(s);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// [`pop_any`], answering ZPOP*'s empty array or ZMPOP's null array when
/// nothing was popped.
fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    how: PopReply,
    w: &mut Reply<'_>,
) -> Result<(), ZError> {
    if !pop_any(ctx, keys, max, count, how, w)? {
        if how.with_key {
            w.null_array();
        } else {
            w.array(0);
        }
    }
    Ok(())
}

/// ZPOPMIN/ZPOPMAX key [count].
fn zpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, max: bool) {
    let r = (|| {
        if args.len() > 3 {
            return Err(CmdError::Syntax.into());
        }
        let count = match args.get(2) {
            Some(c) => Some(
                long(c)
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(ZError::NotPositive)?,
            ),
            None => None,
        };
        let how = PopReply {
            nested: count.is_some() && w.proto() == Proto::Resp3,
            with_key: false,
            flat_key: false,
        };
        pop_first(ctx, &args[1..2], max, count.unwrap_or(1), how, w)
    })();
    if let Err(e) = r {
        zfail(w, e);
    }
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    zpop(ctx, args, w, false);
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    zpop(ctx, args, w, true);
}

/// A `numkeys` argument: 1 or more, else Redis's error.
pub(super) fn numkeys(arg: &[u8]) -> Result<usize, ZError> {
    let n = long(arg).map_err(|_| ZError::NumKeys)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(ZError::NumKeys)
}

/// ZMPOP's arguments after its name (BZMPOP's after its timeout): the
/// keys, MIN or MAX, and the count, checked in Redis's order.
fn mpop_args<'a>(args: &'a [&'a [u8]]) -> Result<(&'a [&'a [u8]], bool, usize), ZError> {
    let n = numkeys(args[1])?;
    let where_at = n
        .checked_add(2)
        .filter(|&i| i < args.len())
        .ok_or(CmdError::Syntax)?;
    let max = match args[where_at] {
        o if is(o, "min") => false,
        o if is(o, "max") => true,
        _ => return Err(CmdError::Syntax.into()),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(args[j], "count") && j + 1 < args.len() {
            let c = long(args[j + 1]).map_err(|_| ZError::Count)?;
            count = Some(
                usize::try_from(c)
                    .ok()
                    .filter(|&c| c > 0)
                    .ok_or(ZError::Count)?,
            );
            j += 2;
        } else {
            return Err(CmdError::Syntax.into());
        }
    }
    Ok((&args[2..2 + n], max, count.unwrap_or(1)))
}

/// ZMPOP's reply shape, BZMPOP's too.
const MPOP: PopReply = PopReply {
    nested: true,
    with_key: true,
    flat_key: false,
};

/// ZMPOP numkeys key [key …] MIN|MAX [COUNT count].
pub(super) fn zmpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| {
        let (keys, max, count) = mpop_args(args)?;
        pop_first(ctx, keys, max, count, MPOP, w)
    })();
    if let Err(e) = r {
        zfail(w, e);
    }
}

/// Nothing to pop for a blocking pop: block (write nothing) when it may,
/// else the null array Redis gives inside MULTI.
fn nothing(ctx: &Ctx<'_>, w: &mut Reply<'_>) {
    if !ctx.blocking.may_block() {
        w.null_array();
    }
}

/// BZPOPMIN/BZPOPMAX key [key …] timeout: the timeout first, then each key
/// in turn.
fn bzpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, max: bool) {
    if let Err(e) = timeout_ms(args[args.len() - 1]) {
        return w.error(&e.to_string());
    }
    let how = PopReply {
        nested: false,
        with_key: false,
        flat_key: true,
    };
    match pop_any(ctx, &args[1..args.len() - 1], max, 1, how, w) {
        Ok(true) => {}
        Ok(false) => nothing(ctx, w),
        Err(e) => zfail(w, e),
    }
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    bzpop(ctx, args, w, false);
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    bzpop(ctx, args, w, true);
}

/// BZMPOP timeout numkeys key [key …] MIN|MAX [COUNT count]: ZMPOP's
/// checks, then the timeout.
pub(super) fn bzmpop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| {
        let (keys, max, count) = mpop_args(&args[1..])?;
        if let Err(e) = timeout_ms(args[1]) {
            w.error(&e.to_string());
            return Ok(());
        }
        if !pop_any(ctx, keys, max, count, MPOP, w)? {
            nothing(ctx, w);
        }
        Ok(())
    })();
    if let Err(e) = r {
        zfail(w, e);
    }
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub(super) fn zrandmember(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| {
        let Some(c) = args.get(2) else {
            match ctx.shard.read::<ZSet>(args[1], ctx.now)? {
                Some(z) => w.bulk(z.at(fastrand::usize(..z.len())).expect("in range").0),
                None => w.nil(),
            }
            return Ok(());
        };
        // -LONG_MAX..=LONG_MAX: i64::MIN is out of range.
        let l = long(c)?;
        if l == i64::MIN {
            return Err(ZError::LongRange);
        }
        if args.len() > 4 || (args.len() == 4 && !is(args[3], "withscores")) {
            return Err(CmdError::Syntax.into());
        }
        let withscores = args.len() == 4;
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(ZError::OutOfRange);
        }
        let Some(z) = ctx.shard.read::<ZSet>(args[1], ctx.now)? else {
            w.array(0);
            return Ok(());
        };
        let size = z.len();
        let count = l.unsigned_abs() as usize;
        if count == 0 {
            w.array(0);
        } else if l < 0 || count == 1 {
            // Sampled with repeats, in random order.
            let picks = (0..count).map(|_| z.at(fastrand::usize(..size)).expect("in range"));
            reply_members(w, count, withscores, picks);
        } else if count >= size {
            // The whole set, walked from the top as Redis's `zuiNext` does.
            reply_members(w, size, withscores, z.iter_at(size - 1, true));
        } else {
            // Distinct ranks: a partial shuffle of them all.
            let mut ranks: Vec<usize> = (0..size).collect();
            for i in 0..count {
                let j = fastrand::usize(i..size);
                ranks.swap(i, j);
            }
            let picks = ranks[..count].iter().map(|&r| z.at(r).expect("in range"));
            reply_members(w, count, withscores, picks);
        }
        Ok(())
    })();
    if let Err(e) = r {
        zfail(w, e);
    }
}

/// A cursor as Redis's `parseScanCursorOrReply` reads it with `strtoul`:
/// no leading blank, a sign allowed (`-1` wraps to the largest cursor),
/// digits to the end, no overflow.
fn scan_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { n.wrapping_neg() } else { n })
}

/// A score as ZSCAN returns it, a string in RESP3 too: Redis's
/// `d2string`, which writes an integral score within ±2^62 as an integer
/// (`100000000000000000`, where `%.17g` gives `1e+17`) and the rest as
/// `%.17g`.
fn d2string(out: &mut Vec<u8>, s: f64) {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if s != 0.0 && (-LIMIT..=LIMIT).contains(&s) && s.trunc() == s {
        out.extend_from_slice(itoa::Buffer::new().format(s as i64).as_bytes());
    } else {
        write_g17(out, s);
    }
}

/// ZSCAN's COUNT when none is given.
const DEFAULT_COUNT: usize = 10;

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the cursor is checked
/// first, then the key, then the options, as Redis does.
pub(super) fn zscan(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| {
        let cursor = scan_cursor(args[2]).ok_or(ZError::Cursor)?;
        let Some(z) = ctx.shard.read::<ZSet>(args[1], ctx.now)? else {
            w.array(2);
            w.bulk(b"0");
            w.array(0);
            return Ok(());
        };
        let (mut count, mut pattern) = (DEFAULT_COUNT, None);
        let mut i = 3;
        while i < args.len() {
            let more = i + 1 < args.len();
            if is(args[i], "count") && more {
                let n = long(args[i + 1])?;
                count = usize::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(CmdError::Syntax)?;
            } else if is(args[i], "match") && more {
                pattern = Some(args[i + 1]).filter(|p| *p != b"*");
            } else {
                return Err(CmdError::Syntax.into());
            }
            i += 2;
        }
        // The members go to a side buffer first: the array's length comes
        // before them and is known only at the end.
        let (mut body, mut found, mut text) = (Vec::new(), 0, Vec::with_capacity(24));
        let mut bw = Reply::new(&mut body, w.proto());
        let next = z.scan(cursor, count, |m, s| {
            if pattern.is_none_or(|p| glob_match(p, m, false)) {
                found += 1;
                bw.bulk(m);
                text.clear();
                d2string(&mut text, s);
                bw.bulk(&text);
            }
        });
        w.array(2);
        w.bulk(itoa::Buffer::new().format(next).as_bytes());
        w.array(2 * found);
        w.raw().extend_from_slice(&body);
        Ok(())
    })();
    if let Err(e) = r {
        zfail(w, e);
    }
}
