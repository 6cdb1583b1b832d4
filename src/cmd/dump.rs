//! DUMP and RESTORE: a key's value as Redis's serialized payload, and back
//! (the format is in `store::rdb`). RESTORE takes Redis 7's options
//! (REPLACE, ABSTTL, IDLETIME, FREQ), checks them in Redis's order and
//! answers with its texts. Cluster mode's slot moves send keys with
//! `RESTORE … REPLACE ABSTTL`, as Redis's MIGRATE does.

use super::error::CmdError;
use super::spec::{Ctx, Flags, Keys, Run, Spec, WRITE_GROW};
use super::string::unix_to_node;
use super::{fail, int, store_fail};
use crate::proto::Reply;
use crate::store::rdb;

/// The family's rows.
pub const COMMANDS: &[Spec] = &[
    Spec::new("dump", 2, Flags::READONLY, Keys::ONE, Run::Shard(dump)),
    Spec::new("restore", -4, WRITE_GROW, Keys::ONE, Run::Shard(restore)),
];

fn dump(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match ctx.shard.peek_entry(args[1], ctx.now) {
        Some((value, _)) => w.bulk(&rdb::dump(&value)),
        None => w.nil(),
    }
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct Opts {
    replace: bool,
    absttl: bool,
    idle_secs: Option<u64>,
    freq: Option<u8>,
}

/// A refusal of RESTORE's options.
enum Bad {
    Cmd(CmdError),
    Text(&'static str),
}

impl From<CmdError> for Bad {
    fn from(e: CmdError) -> Bad {
        Bad::Cmd(e)
    }
}

/// Redis's `restoreCommand` option loop: IDLETIME and FREQ exclude each
/// other (the second is a syntax error), and each value is checked as it
/// is read.
fn opts(args: &[&[u8]]) -> Result<Opts, Bad> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        let more = i + 1 < args.len();
        if a.eq_ignore_ascii_case(b"replace") {
            o.replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            o.absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more && o.freq.is_none() {
            let n = int(args[i + 1])?;
            if n < 0 {
                return Err(Bad::Text("ERR Invalid IDLETIME value, must be >= 0"));
            }
            o.idle_secs = Some(n as u64);
            i += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more && o.idle_secs.is_none() {
            let n = int(args[i + 1])?;
            let Ok(f) = u8::try_from(n) else {
                return Err(Bad::Text("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            };
            o.freq = Some(f);
            i += 1;
        } else {
            return Err(Bad::Cmd(CmdError::Syntax));
        }
        i += 1;
    }
    Ok(o)
}

fn restore(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (key, now) = (args[1], ctx.now);
    let o = match opts(&args[4..]) {
        Ok(o) => o,
        Err(Bad::Cmd(e)) => return fail(w, e),
        Err(Bad::Text(e)) => return w.error(e),
    };
    if !o.replace && ctx.shard.peek_type(key, now).is_some() {
        return w.error("BUSYKEY Target key name already exists.");
    }
    let ttl = match int(args[2]) {
        Ok(t) if t < 0 => return w.error("ERR Invalid TTL value, must be >= 0"),
        Ok(t) => t,
        Err(e) => return fail(w, e),
    };
    let value = match rdb::restore(args[3], &ctx.shard.encodings()) {
        Ok(v) => v,
        Err(e) => return w.error(&e.to_string()),
    };
    // FREQ sets an LFU counter, which only an LFU policy keeps; we have
    // none, so it is checked and dropped, as Redis drops it under LRU.
    let _ = o.freq;
    let unix_now = ctx.unix_ms() as i64;
    let at = match (ttl, o.absttl) {
        (0, _) => None,
        (t, true) => Some(t),
        (t, false) => Some(unix_now.saturating_add(t)),
    };
    if let Some(at) = at.filter(|&at| at <= unix_now) {
        // Already expired: Redis deletes what it would have replaced and
        // writes nothing.
        let _ = at;
        if o.replace && ctx.shard.del(key, now) {
            ctx.changed(key);
        }
        return w.ok();
    }
    let expires_at = at.map_or(0, |at| unix_to_node(ctx, at));
    match ctx.shard.put(key, value, expires_at, true, now) {
        Ok(_) => {
            if let Some(idle) = o.idle_secs {
                ctx.shard.set_idle(key, idle, now);
            }
            ctx.changed(key);
            w.ok();
        }
        Err(e) => store_fail(w, e),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{run, Bench};
    use crate::proto::Proto;

    fn args(t: &mut Bench, a: &[&[u8]]) -> String {
        t.args(a, Proto::Resp2)
    }

    /// The payload DUMP gives for `key`.
    fn dumped(t: &mut Bench, key: &str) -> Vec<u8> {
        let r = t.reply(&[b"dump", key.as_bytes()], Proto::Resp2);
        let nl = r.iter().position(|&b| b == b'\n').unwrap();
        r[nl + 1..r.len() - 2].to_vec()
    }

    #[test]
    fn dump_and_restore_every_type() {
        let mut t = run();
        t.cmd("rpush l a b c");
        t.cmd("hset h f v g w");
        t.cmd("sadd s 1 2 x");
        t.cmd("zadd z 1 a 2.5 b");
        t.cmd("set k hello");
        for key in ["l", "h", "s", "z", "k"] {
            let payload = dumped(&mut t, key);
            t.cmd(&format!("rename {key} old"));
            assert_eq!(
                args(&mut t, &[b"restore", key.as_bytes(), b"0", &payload]),
                "+OK\r\n"
            );
            assert_eq!(t.cmd(&format!("dump {key}")), t.cmd("dump old"), "{key}");
            t.cmd("del old");
        }
        assert_eq!(t.cmd("dump missing"), "$-1\r\n");
    }

    #[test]
    fn restore_options_and_errors_as_redis() {
        let mut t = run();
        t.cmd("set k v");
        let p = dumped(&mut t, "k");
        let r = |t: &mut Bench, extra: &[&[u8]]| {
            let mut a: Vec<&[u8]> = vec![b"restore", b"k", b"0", &p];
            a.extend_from_slice(extra);
            args(t, &a)
        };
        assert_eq!(
            r(&mut t, &[]),
            "-BUSYKEY Target key name already exists.\r\n"
        );
        assert_eq!(r(&mut t, &[b"replace"]), "+OK\r\n");
        assert_eq!(r(&mut t, &[b"bogus"]), "-ERR syntax error\r\n");
        assert_eq!(
            r(&mut t, &[b"replace", b"idletime", b"-1"]),
            "-ERR Invalid IDLETIME value, must be >= 0\r\n"
        );
        assert_eq!(
            r(&mut t, &[b"replace", b"freq", b"256"]),
            "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"
        );
        assert_eq!(
            r(&mut t, &[b"replace", b"idletime", b"1", b"freq", b"1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            args(&mut t, &[b"restore", b"n", b"-1", &p]),
            "-ERR Invalid TTL value, must be >= 0\r\n"
        );
        assert_eq!(
            args(&mut t, &[b"restore", b"n", b"x", &p]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            args(&mut t, &[b"restore", b"n", b"0", b"junk"]),
            "-ERR DUMP payload version or checksum are wrong\r\n"
        );
        // A TTL that has passed (ABSTTL 1): the replaced key goes, none is
        // written.
        assert_eq!(r(&mut t, &[b"replace", b"absttl"]), "+OK\r\n");
        let mut a: Vec<&[u8]> = vec![b"restore", b"k", b"1", &p, b"replace", b"absttl"];
        assert_eq!(args(&mut t, &a), "+OK\r\n");
        assert_eq!(t.cmd("exists k"), ":0\r\n");
        a[2] = b"100000";
        a.truncate(4);
        assert_eq!(args(&mut t, &a), "+OK\r\n");
        assert_eq!(t.cmd("pttl k"), ":100000\r\n");
        let a: Vec<&[u8]> = vec![b"restore", b"i", b"0", &p, b"idletime", b"50"];
        assert_eq!(args(&mut t, &a), "+OK\r\n");
        assert_eq!(t.cmd("object idletime i"), ":50\r\n");
    }
}
