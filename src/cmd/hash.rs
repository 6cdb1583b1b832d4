//! The hash commands: their rows and handlers, with Redis 7.0's checks in
//! its order (`t_hash.c`) and its error texts.

use super::coll::{self, read, write};
use super::error::CmdError;
use super::spec::{Ctx, Flags, Keys, Run, Spec, READ_FAST, WRITE_FAST, WRITE_GROW_FAST};
use super::{fail, int};
use crate::proto::{Proto, Reply};
use crate::store::types::Hash;
use crate::store::{parse_i64, LongDouble, Write};

/// The hash family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("hset", -4, WRITE_GROW_FAST, Keys::ONE, Run::Shard(hset)),
    Spec::new("hsetnx", 4, WRITE_GROW_FAST, Keys::ONE, Run::Shard(hsetnx)),
    Spec::new("hget", 3, READ_FAST, Keys::ONE, Run::Shard(hget)),
    Spec::new("hmget", -3, READ_FAST, Keys::ONE, Run::Shard(hmget)),
    Spec::new("hmset", -4, WRITE_GROW_FAST, Keys::ONE, Run::Shard(hset)),
    Spec::new(
        "hgetall",
        2,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(hgetall),
    ),
    Spec::new("hdel", -3, WRITE_FAST, Keys::ONE, Run::Shard(hdel)),
    Spec::new("hexists", 3, READ_FAST, Keys::ONE, Run::Shard(hexists)),
    Spec::new("hlen", 2, READ_FAST, Keys::ONE, Run::Shard(hlen)),
    Spec::new("hstrlen", 3, READ_FAST, Keys::ONE, Run::Shard(hstrlen)),
    Spec::new("hkeys", 2, Flags::READONLY, Keys::ONE, Run::Shard(hkeys)),
    Spec::new("hvals", 2, Flags::READONLY, Keys::ONE, Run::Shard(hvals)),
    Spec::new(
        "hincrby",
        4,
        WRITE_GROW_FAST,
        Keys::ONE,
        Run::Shard(hincrby),
    ),
    Spec::new(
        "hincrbyfloat",
        4,
        WRITE_GROW_FAST,
        Keys::ONE,
        Run::Shard(hincrbyfloat),
    ),
    Spec::new(
        "hrandfield",
        -2,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(hrandfield),
    ),
    Spec::new("hscan", -3, Flags::READONLY, Keys::ONE, Run::Shard(hscan)),
];

/// Bytes a field and value may add, for the `maxmemory` check: what a
/// hashtable charges, an upper bound of a listpack's.
fn cost(field: &[u8], value: &[u8]) -> usize {
    field.len() + value.len() + crate::store::types::HASH_TABLE_ENTRY
}

/// HSET / HMSET key field value [field value ...]: the count of new
/// fields, or `+OK` for HMSET.
fn hset(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    if args.len() % 2 == 1 {
        let name = if args[0][1].eq_ignore_ascii_case(&b's') {
            "hset"
        } else {
            "hmset"
        };
        return fail(w, CmdError::Arity(name));
    }
    let enc = ctx.shard.encodings();
    let pairs = || args[2..].chunks_exact(2);
    let grows = pairs().map(|p| cost(p[0], p[1])).sum();
    let added = write(ctx, args[1], Write::grow(grows), w, |h: &mut Hash| {
        // Redis converts on any long argument before it writes one.
        for a in &args[2..] {
            h.fit(a.len(), &enc);
        }
        pairs().filter(|p| h.set(p[0], p[1], &enc)).count()
    });
    let Some(Some(added)) = added else { return };
    ctx.changed(args[1]);
    if args[0][1].eq_ignore_ascii_case(&b's') {
        w.int(added as i64);
    } else {
        w.ok();
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let enc = ctx.shard.encodings();
    let how = Write::grow(cost(args[2], args[3]));
    let set = write(ctx, args[1], how, w, |h: &mut Hash| {
        !h.contains(args[2]) && h.set(args[2], args[3], &enc)
    });
    let Some(Some(set)) = set else { return };
    if set {
        ctx.changed(args[1]);
    }
    w.int(i64::from(set));
}

fn hget(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.nil(),
        |h: &Hash, w| match h.get(args[2]) {
            Some(v) => w.bulk(v),
            None => w.nil(),
        },
    );
}

fn hmget(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let fields = &args[2..];
    read(
        ctx,
        args[1],
        w,
        |w| {
            w.array(fields.len());
            fields.iter().for_each(|_| w.nil());
        },
        |h: &Hash, w| {
            w.array(fields.len());
            for f in fields {
                match h.get(f) {
                    Some(v) => w.bulk(v),
                    None => w.nil(),
                }
            }
        },
    );
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.map(0),
        |h: &Hash, w| {
            w.map(h.len());
            for (f, v) in h.iter() {
                w.bulk(f);
                w.bulk(v);
            }
        },
    );
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.array(0),
        |h: &Hash, w| {
            w.array(h.len());
            h.iter().for_each(|(f, _)| w.bulk(f));
        },
    );
}

fn hvals(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.array(0),
        |h: &Hash, w| {
            w.array(h.len());
            h.iter().for_each(|(_, v)| w.bulk(v));
        },
    );
}

fn hdel(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let removed = write(ctx, args[1], Write::shrink(), w, |h: &mut Hash| {
        // Redis stops once the hash is empty (it deletes the key then).
        let mut n = 0;
        for f in &args[2..] {
            if h.is_empty() {
                break;
            }
            n += i64::from(h.remove(f));
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

fn hexists(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.int(0),
        |h: &Hash, w| w.int(i64::from(h.contains(args[2]))),
    );
}

fn hlen(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.int(0),
        |h: &Hash, w| w.int(h.len() as i64),
    );
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    read(
        ctx,
        args[1],
        w,
        |w| w.int(0),
        |h: &Hash, w| w.int(h.get(args[2]).map_or(0, <[u8]>::len) as i64),
    );
}

/// Write `new` as `field`'s value and answer with `reply`, or answer the
/// error the closure found: the shared end of HINCRBY and HINCRBYFLOAT.
fn incr(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    w: &mut Reply<'_>,
    next: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, &'static str>,
    reply: impl FnOnce(&mut Reply<'_>, &[u8]),
) {
    let enc = ctx.shard.encodings();
    // A 64-bit integer or a long double's text is at most a few dozen
    // bytes (a huge long double is longer, and rare).
    let how = Write::grow(cost(args[2], &[0; 32]));
    let r = write(ctx, args[1], how, w, |h: &mut Hash| {
        let new = next(h.get(args[2]))?;
        h.set(args[2], &new, &enc);
        Ok(new)
    });
    match r {
        None | Some(None) => {}
        Some(Some(Ok(new))) => {
            ctx.changed(args[1]);
            reply(w, &new);
        }
        Some(Some(Err(e))) => w.error(e),
    }
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let by = match int(args[3]) {
        Ok(n) => n,
        Err(e) => return fail(w, e),
    };
    let next = |old: Option<&[u8]>| {
        let old = match old {
            Some(v) => parse_i64(v).ok_or("ERR hash value is not an integer")?,
            None => 0,
        };
        let new = old
            .checked_add(by)
            .ok_or("ERR increment or decrement would overflow")?;
        Ok(itoa::Buffer::new().format(new).as_bytes().to_vec())
    };
    incr(ctx, args, w, next, |w, new| {
        w.int(parse_i64(new).unwrap_or_default())
    });
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let by = match LongDouble::parse(args[3]) {
        None => return w.error("ERR value is not a valid float"),
        Some(n) if !n.is_finite() => return w.error("ERR value is NaN or Infinity"),
        Some(n) => n,
    };
    let next = |old: Option<&[u8]>| {
        let old = match old {
            Some(v) => LongDouble::parse(v).ok_or("ERR hash value is not a float")?,
            None => LongDouble::ZERO,
        };
        let new = old
            .checked_add(by)
            .ok_or("ERR increment would produce NaN or Infinity")?;
        Ok(new.to_human().into_bytes())
    };
    incr(ctx, args, w, next, |w, new| w.bulk(new));
}

/// HRANDFIELD key [count [WITHVALUES]].
fn hrandfield(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let mut rng = fastrand::Rng::new();
    if args.len() == 2 {
        return read(
            ctx,
            args[1],
            w,
            |w| w.nil(),
            |h: &Hash, w| match h.random(&mut rng) {
                Some((f, _)) => w.bulk(f),
                None => w.nil(),
            },
        );
    }
    let count = match int(args[2]) {
        Ok(i64::MIN) => return w.error(coll::COUNT_RANGE),
        Ok(n) => n,
        Err(e) => return fail(w, e),
    };
    let withvalues = args.len() == 4;
    if args.len() > 4 || (withvalues && !args[3].eq_ignore_ascii_case(b"withvalues")) {
        return fail(w, CmdError::Syntax);
    }
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return w.error("ERR value is out of range");
    }
    let resp3 = w.proto() == Proto::Resp3;
    let pair = move |w: &mut Reply<'_>, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            w.array(2);
        }
        w.bulk(f);
        if withvalues {
            w.bulk(v);
        }
    };
    let header = move |w: &mut Reply<'_>, n: usize| {
        w.array(if withvalues && !resp3 { 2 * n } else { n });
    };
    read(
        ctx,
        args[1],
        w,
        |w| w.array(0),
        |h: &Hash, w| {
            let n = count.unsigned_abs();
            if n == 0 {
                return w.array(0);
            }
            // A negative count may repeat fields; so does a count of 1.
            if count < 0 || n == 1 {
                header(w, n as usize);
                h.random_each(n, &mut rng, |f, v| pair(w, f, v));
                return;
            }
            let picked = h.random_distinct(n as usize, &mut rng);
            header(w, picked.len());
            for (f, v) in picked {
                pair(w, f, v);
            }
        },
    );
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
fn hscan(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let Some(cursor) = coll::cursor(args[2]) else {
        return w.error(coll::INVALID_CURSOR);
    };
    read(ctx, args[1], w, coll::empty_scan, |h: &Hash, w| {
        let Some(o) = coll::scan_opts_or_fail(&args[3..], w) else {
            return;
        };
        let mut items = Vec::new();
        let next = h.scan(cursor, o.count, |f, v| {
            if o.pattern
                .is_none_or(|p| crate::store::glob_match(p, f, false))
            {
                items.push(f);
                items.push(v);
            }
        });
        coll::scan_reply(w, next, &items);
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;

    #[test]
    fn a_hash_from_hset_to_its_last_hdel() {
        let mut t = run();
        assert_eq!(t.cmd("hset h a 1 b 2 a 3"), ":2\r\n");
        assert_eq!(t.cmd("hget h a"), "$1\r\n3\r\n");
        assert_eq!(t.cmd("hmset h c 4"), "+OK\r\n");
        assert_eq!(t.cmd("hlen h"), ":3\r\n");
        assert_eq!(
            t.cmd("hgetall h"),
            "*6\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n"
        );
        assert_eq!(
            t.cmd("hset h a"),
            "-ERR wrong number of arguments for 'hset' command\r\n"
        );
        assert_eq!(
            t.cmd("hmset h a 1 b"),
            "-ERR wrong number of arguments for 'hmset' command\r\n"
        );
        assert_eq!(t.cmd("hincrby h a 2"), ":5\r\n");
        assert_eq!(t.cmd("hincrbyfloat h a 0.5"), "$3\r\n5.5\r\n");
        assert_eq!(
            t.cmd("hincrby h a 1"),
            "-ERR hash value is not an integer\r\n"
        );
        assert_eq!(t.cmd("hdel h a b c x"), ":3\r\n");
        assert_eq!(t.cmd("exists h"), ":0\r\n");
        assert_eq!(t.cmd("set s x"), "+OK\r\n");
        assert_eq!(
            t.cmd("hget s a"),
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
        assert_eq!(t.cmd("hscan h x"), "-ERR invalid cursor\r\n");
        assert_eq!(t.cmd("hscan h 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    }
}
