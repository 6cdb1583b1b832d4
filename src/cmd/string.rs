//! The string commands: their rows and handlers, with Redis 7's options
//! and error texts.

use super::error::CmdError;
use super::spec::{
    Ctx, Flags, Keys, Merge, Part, Run, Spec, READ_FAST, WRITE_FAST, WRITE_GROW, WRITE_GROW_FAST,
};
use super::{fail, int, store_fail};
use crate::proto::Reply;
use crate::store::{GetExpiry, SetCond, SetExpiry, SetOutcome, StoreError, Type};

/// MSET's keys: every other argument.
const PAIRS: Keys = Keys {
    first: 1,
    last: -1,
    step: 2,
    counted: 0,
};

/// The string family.
pub const COMMANDS: &[Spec] = &[
    Spec::new(
        "get",
        2,
        READ_FAST.with(Flags::FETCH),
        Keys::ONE,
        Run::Shard(get),
    ),
    Spec::new("set", -3, WRITE_GROW, Keys::ONE, Run::Shard(set)),
    Spec::new("setnx", 3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(setnx)),
    Spec::new("setex", 4, WRITE_GROW, Keys::ONE, Run::Shard(setex)),
    Spec::new("psetex", 4, WRITE_GROW, Keys::ONE, Run::Shard(psetex)),
    Spec::new("getset", 3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(getset)),
    Spec::new(
        "mget",
        -2,
        READ_FAST.with(Flags::FETCH),
        Keys::ALL,
        Run::Split(mget_part, Merge::Array),
    ),
    Spec::new(
        "mset",
        -3,
        WRITE_GROW,
        PAIRS,
        Run::Split(mset_part, Merge::AllOk),
    ),
    Spec::new("msetnx", -3, WRITE_GROW, PAIRS, Run::Shard(msetnx)),
    Spec::new("append", 3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(append)),
    Spec::new("strlen", 2, READ_FAST, Keys::ONE, Run::Shard(strlen)),
    Spec::new(
        "getrange",
        4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(getrange),
    ),
    Spec::new(
        "substr",
        4,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(getrange),
    ),
    Spec::new("setrange", 4, WRITE_GROW, Keys::ONE, Run::Shard(setrange)),
    Spec::new("getdel", 2, WRITE_FAST, Keys::ONE, Run::Shard(getdel)),
    Spec::new("getex", -2, WRITE_FAST, Keys::ONE, Run::Shard(getex)),
    Spec::new(
        "incrbyfloat",
        3,
        WRITE_GROW_FAST,
        Keys::ONE,
        Run::Shard(incrbyfloat),
    ),
    Spec::new("incr", 2, WRITE_GROW_FAST, Keys::ONE, Run::Shard(incr)),
    Spec::new("decr", 2, WRITE_GROW_FAST, Keys::ONE, Run::Shard(decr)),
    Spec::new("incrby", 3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(incrby)),
    Spec::new("decrby", 3, WRITE_GROW_FAST, Keys::ONE, Run::Shard(decrby)),
];

fn get(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.get(args[1], ctx.now) {
        Ok(Some(v)) => w.bulk(v),
        Ok(None) => w.nil(),
        Err(e) => store_fail(w, e),
    }
}

/// SET's options, as Redis 7 checks them.
#[derive(Debug, PartialEq, Eq)]
struct SetOpts {
    expiry: SetExpiry,
    cond: SetCond,
    get: bool,
}

/// Parse SET's options (after key and value). Redis accepts one expiry
/// kind repeated (`EX 1 EX 2` uses the last) but not two kinds, and NX
/// with XX is a syntax error.
fn set_opts(ctx: &Ctx<'_>, opts: &[&[u8]]) -> Result<SetOpts, CmdError> {
    let mut o = SetOpts {
        expiry: SetExpiry::Clear,
        cond: SetCond::Always,
        get: false,
    };
    let mut kind: Option<&'static str> = None;
    let mut i = 0;
    while i < opts.len() {
        let opt = opts[i];
        let next = opts.get(i + 1);
        if opt.eq_ignore_ascii_case(b"NX") && o.cond != SetCond::IfPresent {
            o.cond = SetCond::IfAbsent;
        } else if opt.eq_ignore_ascii_case(b"XX") && o.cond != SetCond::IfAbsent {
            o.cond = SetCond::IfPresent;
        } else if opt.eq_ignore_ascii_case(b"GET") {
            o.get = true;
        } else if opt.eq_ignore_ascii_case(b"KEEPTTL") && kind.is_none_or(|k| k == "KEEPTTL") {
            o.expiry = SetExpiry::Keep;
            kind = Some("KEEPTTL");
        } else if let (Some(k), Some(next)) = (expiry_kind(opt), next) {
            if kind.is_some_and(|have| have != k) {
                return Err(CmdError::Syntax);
            }
            o.expiry = SetExpiry::At(deadline(ctx, k, int(next)?, "set")?);
            kind = Some(k);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

fn expiry_kind(opt: &[u8]) -> Option<&'static str> {
    ["EX", "PX", "EXAT", "PXAT"]
        .into_iter()
        .find(|k| opt.eq_ignore_ascii_case(k.as_bytes()))
}

/// The node-clock deadline of an expiry option `kind` (EX, PX, EXAT, PXAT)
/// of `n`, refused as Redis refuses it: not positive, or past what a Unix
/// time in ms can hold.
pub(super) fn deadline(
    ctx: &Ctx<'_>,
    kind: &str,
    n: i64,
    cmd: &'static str,
) -> Result<u64, CmdError> {
    let bad = CmdError::InvalidExpire(cmd);
    if n <= 0 {
        return Err(bad);
    }
    let (scale, relative) = match kind {
        "EX" => (1000, true),
        "PX" => (1, true),
        "EXAT" => (1000, false),
        _ => (1, false),
    };
    let ms = n.checked_mul(scale).ok_or(bad.clone())?;
    let unix = ctx.unix_ms() as i64;
    let abs = if relative {
        ms.checked_add(unix).ok_or(bad)?
    } else {
        ms
    };
    Ok(unix_to_node(ctx, abs))
}

/// A Unix time in ms as node-clock ms; a time before the node started is
/// its first instant (already past).
pub(super) fn unix_to_node(ctx: &Ctx<'_>, unix_ms: i64) -> u64 {
    (unix_ms.max(0) as u64).saturating_sub(ctx.epoch_unix_ms)
}

/// Run a SET and write its reply.
fn do_set(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], o: SetOpts, w: &mut Reply<'_>) {
    match ctx.shard.set(key, value, o.expiry, o.cond, o.get, ctx.now) {
        Err(e) => store_fail(w, e),
        Ok(SetOutcome { applied, old }) => {
            match old {
                Some(old) => w.bulk(&old),
                None if applied && !o.get => w.ok(),
                None => w.nil(),
            }
            if applied {
                ctx.changed(key);
            }
        }
    }
}

fn set(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match set_opts(ctx, &args[3..]) {
        Ok(o) => do_set(ctx, args[1], args[2], o, w),
        Err(e) => fail(w, e),
    }
}

fn setnx(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = ctx.shard.set(
        args[1],
        args[2],
        SetExpiry::Clear,
        SetCond::IfAbsent,
        false,
        ctx.now,
    );
    match r {
        Err(e) => store_fail(w, e),
        Ok(SetOutcome { applied, .. }) => {
            if applied {
                ctx.changed(args[1]);
            }
            w.int(i64::from(applied));
        }
    }
}

/// SETEX / PSETEX key time value: SET with EX / PX, same checks.
fn set_for(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, kind: &str, cmd: &'static str) {
    let at = int(args[2]).and_then(|n| deadline(ctx, kind, n, cmd));
    match at {
        Ok(at) => {
            let o = SetOpts {
                expiry: SetExpiry::At(at),
                cond: SetCond::Always,
                get: false,
            };
            do_set(ctx, args[1], args[3], o, w);
        }
        Err(e) => fail(w, e),
    }
}

fn setex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    set_for(ctx, args, w, "EX", "setex");
}

fn psetex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    set_for(ctx, args, w, "PX", "psetex");
}

/// GETSET key value: SET … GET.
fn getset(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let o = SetOpts {
        expiry: SetExpiry::Clear,
        cond: SetCond::Always,
        get: true,
    };
    do_set(ctx, args[1], args[2], o, w);
}

/// MGET answers nil for a key of another type, as Redis does.
fn mget_part(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) -> Part {
    match ctx.shard.get(args[1], ctx.now) {
        Ok(Some(v)) => w.bulk(v),
        Ok(None) | Err(_) => w.nil(),
    }
    Part::Reply
}

fn mset_part(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) -> Part {
    let r = ctx.shard.set(
        args[1],
        args[2],
        SetExpiry::Clear,
        SetCond::Always,
        false,
        ctx.now,
    );
    match r {
        Ok(_) => {
            ctx.changed(args[1]);
            Part::Done
        }
        Err(e) => {
            store_fail(w, e);
            Part::Error
        }
    }
}

fn append(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.append(args[1], args[2], ctx.max_bulk, ctx.now) {
        Ok(len) => {
            ctx.changed(args[1]);
            w.int(len as i64);
        }
        Err(e) => store_fail(w, e),
    }
}

fn strlen(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.strlen(args[1], ctx.now) {
        Ok(n) => w.int(n as i64),
        Err(e) => store_fail(w, e),
    }
}

/// GETRANGE / SUBSTR key start end.
fn getrange(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match (int(args[2]), int(args[3])) {
        (Ok(start), Ok(end)) => match ctx.shard.getrange(args[1], start, end, ctx.now) {
            Ok(v) => w.bulk(v),
            Err(e) => store_fail(w, e),
        },
        (Err(e), _) | (_, Err(e)) => fail(w, e),
    }
}

fn setrange(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let offset = match int(args[2]) {
        Ok(n) if n < 0 => return w.error("ERR offset is out of range"),
        Ok(n) => n as usize,
        Err(e) => return fail(w, e),
    };
    match ctx
        .shard
        .setrange(args[1], offset, args[3], ctx.max_bulk, ctx.now)
    {
        Ok(len) => {
            if !args[3].is_empty() {
                ctx.changed(args[1]);
            }
            w.int(len as i64);
        }
        Err(e) => store_fail(w, e),
    }
}

fn getdel(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.getdel(args[1], ctx.now) {
        Ok(Some(v)) => {
            ctx.changed(args[1]);
            w.bulk(&v);
        }
        Ok(None) => w.nil(),
        Err(e) => store_fail(w, e),
    }
}

/// GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]: one kind of
/// option, repeatable, checked before the key is looked up.
fn getex(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let mut how = GetExpiry::Keep;
    let mut kind: Option<&str> = None;
    let mut time: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args[i];
        if opt.eq_ignore_ascii_case(b"persist") && kind.is_none_or(|k| k == "PERSIST") {
            how = GetExpiry::Persist;
            kind = Some("PERSIST");
        } else if let (Some(k), Some(n), true) = (
            expiry_kind(opt),
            args.get(i + 1),
            kind.is_none_or(|have| expiry_kind(have.as_bytes()) == expiry_kind(opt)),
        ) {
            // Redis reads the time only once every option has parsed.
            time = Some(*n);
            kind = Some(k);
            i += 1;
        } else {
            return fail(w, CmdError::Syntax);
        }
        i += 1;
    }
    // A missing key answers nil, and another type WRONGTYPE, before the
    // time is read, as in Redis.
    if time.is_some() {
        match ctx.shard.peek_type(args[1], ctx.now) {
            None => return w.nil(),
            Some(Type::String) => {}
            Some(_) => return store_fail(w, StoreError::WrongType),
        }
    }
    if let (Some(k), Some(n)) = (kind, time) {
        match int(n).and_then(|n| deadline(ctx, k, n, "getex")) {
            Ok(at) => how = GetExpiry::At(at),
            Err(e) => return fail(w, e),
        }
    }
    match ctx.shard.getex(args[1], how, ctx.now) {
        Ok(Some(v)) => {
            if how != GetExpiry::Keep {
                ctx.changed(args[1]);
            }
            w.bulk(&v);
        }
        Ok(None) => w.nil(),
        Err(e) => store_fail(w, e),
    }
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.incr_by_float(args[1], args[2], ctx.now) {
        Ok(v) => {
            ctx.changed(args[1]);
            w.bulk(&v);
        }
        Err(e) => store_fail(w, e),
    }
}

/// MSETNX: all keys set, or none if any exists; atomic across cores (the
/// node holds every core the keys live on while it runs).
fn msetnx(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let now = ctx.now;
    let pairs = || args[1..].chunks_exact(2);
    if pairs().any(|kv| ctx.shard_of(kv[0]).exists(kv[0], now)) {
        return w.int(0);
    }
    for kv in pairs() {
        let r =
            ctx.shard_of(kv[0])
                .set(kv[0], kv[1], SetExpiry::Clear, SetCond::Always, false, now);
        if let Err(e) = r {
            return store_fail(w, e);
        }
        ctx.changed(kv[0]);
    }
    w.int(1);
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64, w: &mut Reply<'_>) {
    match ctx.shard.incr_by(key, delta, ctx.now) {
        Ok(n) => {
            ctx.changed(key);
            w.int(n);
        }
        Err(e) => store_fail(w, e),
    }
}

fn incr(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    incr_by(ctx, args[1], 1, w);
}

fn decr(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    incr_by(ctx, args[1], -1, w);
}

fn incrby(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match int(args[2]) {
        Ok(d) => incr_by(ctx, args[1], d, w),
        Err(e) => fail(w, e),
    }
}

fn decrby(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    // Redis rejects DECRBY i64::MIN because it cannot be negated.
    match int(args[2]).and_then(|d| d.checked_neg().ok_or(CmdError::DecrOverflow)) {
        Ok(d) => incr_by(ctx, args[1], d, w),
        Err(e) => fail(w, e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;

    #[test]
    fn set_and_its_options() {
        let mut t = run();
        assert_eq!(t.cmd("get k"), "$-1\r\n");
        assert_eq!(t.cmd("set k v ex 10"), "+OK\r\n");
        assert_eq!(t.cmd("pttl k"), ":10000\r\n");
        assert_eq!(t.cmd("set k w nx"), "$-1\r\n");
        assert_eq!(t.cmd("set k w xx get"), "$1\r\nv\r\n");
        assert_eq!(t.cmd("ttl k"), ":-1\r\n");
        assert_eq!(t.cmd("set k v nx xx"), "-ERR syntax error\r\n");
        assert_eq!(t.cmd("set k v ex 1 px 1"), "-ERR syntax error\r\n");
        assert_eq!(t.cmd("set k v ex 1 ex 2"), "+OK\r\n");
        assert_eq!(t.cmd("pttl k"), ":2000\r\n");
        assert_eq!(t.cmd("set k v keepttl"), "+OK\r\n");
        assert_eq!(t.cmd("pttl k"), ":2000\r\n");
        assert_eq!(t.cmd("set k v keepttl ex 1"), "-ERR syntax error\r\n");
        assert_eq!(t.cmd("set k v ex"), "-ERR syntax error\r\n");
        assert_eq!(
            t.cmd("set k v ex 0"),
            "-ERR invalid expire time in 'set' command\r\n"
        );
        assert_eq!(
            t.cmd("set k v px 9223372036854775807"),
            "-ERR invalid expire time in 'set' command\r\n"
        );
        assert_eq!(
            t.cmd("set k v ex abc"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(t.cmd("set k v bogus"), "-ERR syntax error\r\n");
        assert_eq!(t.cmd("setnx k x"), ":0\r\n");
        assert_eq!(t.cmd("setnx n x"), ":1\r\n");
        assert_eq!(t.cmd("getset n y"), "$1\r\nx\r\n");
    }

    #[test]
    fn counters() {
        let mut t = run();
        assert_eq!(
            t.cmd("incrby c x"),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            t.cmd("decrby c -9223372036854775808"),
            "-ERR decrement would overflow\r\n"
        );
        assert_eq!(t.cmd("decr c"), ":-1\r\n");
        assert_eq!(t.cmd("incrby c 5"), ":4\r\n");
        assert_eq!(t.cmd("mset a 1 b 2"), "+OK\r\n");
        assert_eq!(t.cmd("mget a b zz"), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
    }
}
