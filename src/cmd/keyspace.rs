//! The keyspace commands on single shards: DEL and its kin, expiry, TYPE,
//! OBJECT and MEMORY USAGE, with Redis 7's options and error texts.

use super::client::Conn;
use super::error::{show, CmdError};
use super::spec::{Ctx, Flags, Keys, Merge, NodeCmd, Part, Run, Spec, READ_FAST, WRITE_FAST};
use super::string::unix_to_node;
use super::{fail, int};
use crate::proto::Reply;
use crate::store::{Deadline, ExpireCond, Ttl, Type};

/// OBJECT's and MEMORY's subcommands' key: the argument after the
/// subcommand.
const SECOND: Keys = Keys {
    first: 2,
    last: 2,
    step: 1,
    counted: 0,
};

const OBJECT: &[Spec] = &[
    Spec::new(
        "object|encoding",
        3,
        Flags::READONLY,
        SECOND,
        Run::Shard(object_encoding),
    ),
    Spec::new(
        "object|freq",
        3,
        Flags::READONLY,
        SECOND,
        Run::Shard(object_freq),
    ),
    Spec::new(
        "object|idletime",
        3,
        Flags::READONLY,
        SECOND,
        Run::Shard(object_idletime),
    ),
    Spec::new(
        "object|refcount",
        3,
        Flags::READONLY,
        SECOND,
        Run::Shard(object_refcount),
    ),
    Spec::new(
        "object|help",
        2,
        Flags::LOADING.with(Flags::STALE),
        Keys::NONE,
        Run::Conn(object_help),
    ),
];

const MEMORY: &[Spec] = &[
    Spec::new(
        "memory|usage",
        -3,
        Flags::READONLY,
        SECOND,
        Run::Shard(memory_usage),
    ),
    Spec::new(
        "memory|stats",
        2,
        Flags::NONE,
        Keys::NONE,
        Run::Node(NodeCmd::MemoryStats),
    ),
    Spec::new(
        "memory|help",
        2,
        Flags::LOADING.with(Flags::STALE),
        Keys::NONE,
        Run::Conn(memory_help),
    ),
];

/// RENAME's and COPY's two keys.
const TWO: Keys = Keys {
    first: 1,
    last: 2,
    step: 1,
    counted: 0,
};

/// The keyspace family.
pub const COMMANDS: &[Spec] = &[
    Spec::new(
        "del",
        -2,
        Flags::WRITE,
        Keys::ALL,
        Run::Split(del_part, Merge::Sum),
    ),
    Spec::new(
        "unlink",
        -2,
        WRITE_FAST,
        Keys::ALL,
        Run::Split(del_part, Merge::Sum),
    ),
    Spec::new(
        "exists",
        -2,
        READ_FAST,
        Keys::ALL,
        Run::Split(exists_part, Merge::Sum),
    ),
    Spec::new(
        "touch",
        -2,
        READ_FAST,
        Keys::ALL,
        Run::Split(touch_part, Merge::Sum),
    ),
    Spec::new("rename", 3, Flags::WRITE, TWO, Run::Shard(rename)),
    Spec::new("renamenx", 3, WRITE_FAST, TWO, Run::Shard(renamenx)),
    Spec::new("copy", -3, super::spec::WRITE_GROW, TWO, Run::Shard(copy)),
    Spec::new("expire", -3, WRITE_FAST, Keys::ONE, Run::Shard(expire)),
    Spec::new("pexpire", -3, WRITE_FAST, Keys::ONE, Run::Shard(pexpire)),
    Spec::new("expireat", -3, WRITE_FAST, Keys::ONE, Run::Shard(expireat)),
    Spec::new(
        "pexpireat",
        -3,
        WRITE_FAST,
        Keys::ONE,
        Run::Shard(pexpireat),
    ),
    Spec::new("ttl", 2, READ_FAST, Keys::ONE, Run::Shard(ttl)),
    Spec::new("pttl", 2, READ_FAST, Keys::ONE, Run::Shard(pttl)),
    Spec::new(
        "expiretime",
        2,
        READ_FAST,
        Keys::ONE,
        Run::Shard(expiretime),
    ),
    Spec::new(
        "pexpiretime",
        2,
        READ_FAST,
        Keys::ONE,
        Run::Shard(pexpiretime),
    ),
    Spec::new("persist", 2, WRITE_FAST, Keys::ONE, Run::Shard(persist)),
    Spec::new("type", 2, READ_FAST, Keys::ONE, Run::Shard(type_of)),
    Spec::container(
        "object",
        -2,
        Flags::NONE,
        Run::Conn(super::server::no_sub),
        OBJECT,
    ),
    Spec::container(
        "memory",
        -2,
        Flags::NONE,
        Run::Conn(super::server::no_sub),
        MEMORY,
    ),
];

fn del_part(ctx: &mut Ctx<'_>, args: &[&[u8]], _: &mut Reply<'_>) -> Part {
    let gone = ctx.shard.del(args[1], ctx.now);
    if gone {
        ctx.changed(args[1]);
    }
    Part::Count(i64::from(gone))
}

fn exists_part(ctx: &mut Ctx<'_>, args: &[&[u8]], _: &mut Reply<'_>) -> Part {
    Part::Count(i64::from(ctx.shard.exists(args[1], ctx.now)))
}

fn touch_part(ctx: &mut Ctx<'_>, args: &[&[u8]], _: &mut Reply<'_>) -> Part {
    Part::Count(i64::from(ctx.shard.touch_key(args[1], ctx.now)))
}

/// RENAME / RENAMENX: the value moves with its TTL, whichever cores the
/// two keys live on.
fn rename_generic(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>, nx: bool) {
    let (src, dst, now) = (args[1], args[2], ctx.now);
    let answer = |w: &mut Reply<'_>, done: bool| {
        if nx {
            w.int(i64::from(done));
        } else {
            w.ok();
        }
    };
    if src == dst {
        return match ctx.shard_of(src).exists(src, now) {
            true => answer(w, false),
            false => w.error("ERR no such key"),
        };
    }
    if !ctx.shard_of(src).exists(src, now) {
        return w.error("ERR no such key");
    }
    if nx && ctx.shard_of(dst).exists(dst, now) {
        return answer(w, false);
    }
    let Some((value, at)) = ctx.shard_of(src).take(src, now) else {
        return w.error("ERR no such key");
    };
    if let Err(value) = ctx.shard_of(dst).put_moved(dst, value, at, true, now) {
        // Cannot happen with `replace`; put the value back rather than lose it.
        let _ = ctx.shard_of(src).put_moved(src, value, at, true, now);
        return answer(w, false);
    }
    ctx.changed(src);
    ctx.changed(dst);
    answer(w, true);
}

fn rename(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    rename_generic(ctx, args, w, false);
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    rename_generic(ctx, args, w, true);
}

/// COPY source destination [DB destination-db] [REPLACE]: this node has
/// one database, so DB may only name 0.
fn copy(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (src, dst, now) = (args[1], args[2], ctx.now);
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if args[i].eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            match int(args[i + 1]) {
                Ok(0) => {}
                Ok(_) => return fail(w, CmdError::DbIndex),
                Err(e) => return fail(w, e),
            }
            i += 1;
        } else {
            return fail(w, CmdError::Syntax);
        }
        i += 1;
    }
    if src == dst {
        return w.error("ERR source and destination objects are the same");
    }
    let Some((value, at)) = ctx.shard_of(src).peek_entry(src, now) else {
        return w.int(0);
    };
    match ctx.shard_of(dst).put(dst, value, at, replace, now) {
        Ok(true) => {
            ctx.changed(dst);
            w.int(1);
        }
        Ok(false) => w.int(0),
        Err(e) => super::store_fail(w, e),
    }
}

/// EXPIRE's NX/XX/GT/LT, checked as Redis 7 checks them.
fn expire_cond(opts: &[&[u8]]) -> Result<ExpireCond, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in opts {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(CmdError::UnsupportedOption(show(opt))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::ExpireFlags);
    }
    if gt && lt {
        return Err(CmdError::GtLt);
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCond::Nx,
        (_, _, true, _) => ExpireCond::Gt,
        (_, true, _, true) => ExpireCond::XxLt,
        (_, _, _, true) => ExpireCond::Lt,
        (_, true, ..) => ExpireCond::Xx,
        _ => ExpireCond::Always,
    })
}

/// EXPIRE and its kin: `scale` ms per unit, relative to now or absolute.
/// A time already past deletes the key, as in Redis.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[&[u8]],
    w: &mut Reply<'_>,
    scale: i64,
    relative: bool,
    cmd: &'static str,
) {
    let at = int(args[2]).and_then(|n| {
        let bad = CmdError::InvalidExpire(cmd);
        let ms = n.checked_mul(scale).ok_or(bad.clone())?;
        let abs = if relative {
            ms.checked_add(ctx.unix_ms() as i64).ok_or(bad)?
        } else {
            ms
        };
        let cond = expire_cond(&args[3..])?;
        Ok((abs, cond))
    });
    match at {
        Ok((abs, cond)) => {
            let at = unix_to_node(ctx, abs);
            let set = ctx.shard.expire_at(args[1], at, cond, ctx.now);
            if set {
                ctx.changed(args[1]);
            }
            w.int(i64::from(set));
        }
        Err(e) => fail(w, e),
    }
}

fn expire(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    expire_generic(ctx, args, w, 1000, true, "expire");
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    expire_generic(ctx, args, w, 1, true, "pexpire");
}

fn expireat(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    expire_generic(ctx, args, w, 1000, false, "expireat");
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    expire_generic(ctx, args, w, 1, false, "pexpireat");
}

/// Redis rounds TTL and EXPIRETIME in seconds to the nearest second.
fn seconds(ms: u64) -> i64 {
    ((ms + 500) / 1000) as i64
}

fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], w: &mut Reply<'_>, ms: bool) {
    match ctx.shard.ttl(key, ctx.now) {
        Ttl::Missing => w.int(-2),
        Ttl::Persistent => w.int(-1),
        Ttl::Ms(left) if ms => w.int(left as i64),
        Ttl::Ms(left) => w.int(seconds(left)),
    }
}

fn ttl(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    ttl_generic(ctx, args[1], w, false);
}

fn pttl(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    ttl_generic(ctx, args[1], w, true);
}

fn expiretime_generic(ctx: &mut Ctx<'_>, key: &[u8], w: &mut Reply<'_>, ms: bool) {
    match ctx.shard.expire_time(key, ctx.now) {
        Deadline::Missing => w.int(-2),
        Deadline::Persistent => w.int(-1),
        Deadline::At(at) if ms => w.int((at + ctx.epoch_unix_ms) as i64),
        Deadline::At(at) => w.int(seconds(at + ctx.epoch_unix_ms)),
    }
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    expiretime_generic(ctx, args[1], w, false);
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    expiretime_generic(ctx, args[1], w, true);
}

fn persist(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let done = ctx.shard.persist(args[1], ctx.now);
    if done {
        ctx.changed(args[1]);
    }
    w.int(i64::from(done));
}

fn type_of(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    w.simple(
        ctx.shard
            .type_of(args[1], ctx.now)
            .map_or("none", Type::name),
    );
}

/// Redis shares the objects of the integers below this, and reports their
/// refcount as `OBJ_SHARED_REFCOUNT`.
const SHARED_INTEGERS: i64 = 10_000;

fn object_help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    super::server::help(w, "object", super::help::OBJECT);
}

fn memory_help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    super::server::help(w, "memory", super::help::MEMORY);
}

fn object_freq(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    // Without an LFU policy Redis refuses for any key that exists.
    if !ctx.shard.exists(args[2], ctx.now) {
        return w.nil();
    }
    w.error(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
         Please note that when switching between policies at runtime LRU and LFU data \
         will take some time to adjust.",
    );
}

fn object_idletime(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.idle_ms(args[2], ctx.now) {
        Some(ms) => w.int((ms / 1000) as i64),
        None => w.nil(),
    }
}

fn object_encoding(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.inspect(args[2], ctx.now) {
        Some(value) => w.bulk(value.encoding().as_bytes()),
        None => w.nil(),
    }
}

fn object_refcount(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let Some(value) = ctx.shard.inspect(args[2], ctx.now) else {
        return w.nil();
    };
    let shared = value.encoding() == "int"
        && value
            .as_str()
            .and_then(crate::store::parse_i64)
            .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
    w.int(if shared { i32::MAX as i64 } else { 1 });
}

/// MEMORY USAGE key [SAMPLES count]: the sample count only matters for
/// aggregates; it must still be an integer.
fn memory_usage(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match &args[3..] {
        [] => {}
        [opt, n] if opt.eq_ignore_ascii_case(b"samples") => {
            if let Err(e) = int(n) {
                return fail(w, e);
            }
        }
        _ => return fail(w, CmdError::Syntax),
    }
    match ctx.shard.memory_usage(args[2], ctx.now) {
        Some(n) => w.int(n as i64),
        None => w.nil(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;

    #[test]
    fn expiry() {
        let mut t = run();
        assert_eq!(t.cmd("expire k 10"), ":0\r\n");
        t.cmd("set k v");
        assert_eq!(
            t.cmd("expire k 10 nx xx"),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            t.cmd("expire k 10 gt lt"),
            "-ERR GT and LT options at the same time are not compatible\r\n"
        );
        assert_eq!(
            t.cmd("expire k 10 bogus"),
            "-ERR Unsupported option bogus\r\n"
        );
        assert_eq!(
            t.cmd("pexpire k 9223372036854775807"),
            "-ERR invalid expire time in 'pexpire' command\r\n"
        );
        assert_eq!(t.cmd("expire k 10"), ":1\r\n");
        assert_eq!(t.cmd("ttl k"), ":10\r\n");
        // Unix time 1,700,000,001,000 ms now; 10 s later.
        assert_eq!(t.cmd("pexpiretime k"), ":1700000011000\r\n");
        assert_eq!(t.cmd("expiretime k"), ":1700000011\r\n");
        assert_eq!(t.cmd("expireat k 1700000100"), ":1\r\n");
        assert_eq!(t.cmd("pttl k"), ":99000\r\n");
        assert_eq!(t.cmd("persist k"), ":1\r\n");
        assert_eq!(t.cmd("expiretime k"), ":-1\r\n");
        assert_eq!(t.cmd("expiretime nokey"), ":-2\r\n");
        // A time already past deletes the key.
        assert_eq!(t.cmd("pexpireat k 5"), ":1\r\n");
        assert_eq!(t.cmd("exists k"), ":0\r\n");
    }

    #[test]
    fn del_exists_type_object() {
        let mut t = run();
        t.cmd("mset a 1 b 2");
        assert_eq!(t.cmd("exists a b a c"), ":3\r\n");
        assert_eq!(t.cmd("type a"), "+string\r\n");
        assert_eq!(t.cmd("type c"), "+none\r\n");
        assert_eq!(t.cmd("object encoding a"), "$3\r\nint\r\n");
        assert_eq!(t.cmd("object refcount a"), ":2147483647\r\n");
        t.cmd("set s hello");
        assert_eq!(t.cmd("object encoding s"), "$6\r\nembstr\r\n");
        assert_eq!(t.cmd("object encoding zz"), "$-1\r\n");
        assert_eq!(
            t.cmd("object bogus a"),
            "-ERR unknown subcommand 'bogus'. Try OBJECT HELP.\r\n"
        );
        assert_eq!(t.cmd("del a b c"), ":2\r\n");
        assert_eq!(t.cmd("unlink s"), ":1\r\n");
    }
}
