//! Running an [`Op`] on the shard that owns its key, and encoding the reply
//! in the client's dialect.

use super::{Op, SetTtl};
use crate::proto::{line, reply, Dialect};
use crate::store::{SetExpiry, SetOutcome, Shard, StoreError, Ttl};

/// Run `op` on `shard` at time `now` and append its reply to `out`.
pub fn apply<B>(shard: &mut Shard, op: Op<B>, now: u64, dialect: Dialect, out: &mut Vec<u8>)
where
    B: AsRef<[u8]> + Into<Box<[u8]>>,
{
    match dialect {
        Dialect::Resp => apply_resp(shard, op, now, out),
        Dialect::Line => apply_line(shard, op, now, out),
    }
}

fn store_error(out: &mut Vec<u8>, e: StoreError) {
    reply::error(out, &e.to_string());
}

fn apply_resp<B>(shard: &mut Shard, op: Op<B>, now: u64, out: &mut Vec<u8>)
where
    B: AsRef<[u8]> + Into<Box<[u8]>>,
{
    match op {
        Op::Get(k) => match shard.get(k.as_ref(), now) {
            Some(v) => reply::bulk(out, v),
            None => reply::nil(out),
        },
        Op::Set {
            key,
            value,
            ttl,
            cond,
            get,
        } => {
            let expiry = match ttl {
                SetTtl::Clear => SetExpiry::Clear,
                SetTtl::Keep => SetExpiry::Keep,
                SetTtl::In(ms) => SetExpiry::At(now.saturating_add(ms)),
            };
            match shard.set(key, value, expiry, cond, get, now) {
                Err(e) => store_error(out, e),
                Ok(SetOutcome { old: Some(old), .. }) => reply::bulk(out, &old),
                Ok(SetOutcome { applied: true, .. }) if !get => reply::simple(out, "OK"),
                Ok(_) => reply::nil(out),
            }
        }
        Op::Del(k) => reply::int(out, i64::from(shard.del(k.as_ref(), now))),
        Op::Exists(k) => reply::int(out, i64::from(shard.exists(k.as_ref(), now))),
        Op::IncrBy(k, d) => match shard.incr_by(k.as_ref(), d, now) {
            Ok(n) => reply::int(out, n),
            Err(e) => store_error(out, e),
        },
        Op::Expire { key, ms, cond } => {
            // A negative or zero relative time means "already expired".
            let at = if ms <= 0 {
                now
            } else {
                now.saturating_add(ms as u64)
            };
            reply::int(out, i64::from(shard.expire_at(key.as_ref(), at, cond, now)));
        }
        Op::Ttl { key, ms } => match shard.ttl(key.as_ref(), now) {
            Ttl::Missing => reply::int(out, -2),
            Ttl::Persistent => reply::int(out, -1),
            // Redis rounds TTL to the nearest second.
            Ttl::Ms(left) if !ms => reply::int(out, ((left + 500) / 1000) as i64),
            Ttl::Ms(left) => reply::int(out, left as i64),
        },
        Op::Persist(k) => reply::int(out, i64::from(shard.persist(k.as_ref(), now))),
    }
}

/// The line protocol only produces GET, SET and DEL.
fn apply_line<B>(shard: &mut Shard, op: Op<B>, now: u64, out: &mut Vec<u8>)
where
    B: AsRef<[u8]> + Into<Box<[u8]>>,
{
    match op {
        Op::Get(k) => match shard.get(k.as_ref(), now) {
            Some(v) => line::value(out, v),
            None => line::status(out, "NOT_FOUND"),
        },
        Op::Set {
            key, value, cond, ..
        } => match shard.set(key, value, SetExpiry::Clear, cond, false, now) {
            Ok(_) => line::status(out, "OK"),
            Err(e) => line::error(out, &e.to_string()),
        },
        Op::Del(k) => {
            let s = if shard.del(k.as_ref(), now) {
                "DELETED"
            } else {
                "NOT_FOUND"
            };
            line::status(out, s);
        }
        _ => line::error(out, "unsupported operation"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetCond, ShardConfig};

    fn run(shard: &mut Shard, op: Op<&[u8]>, now: u64) -> String {
        let mut out = Vec::new();
        apply(shard, op, now, Dialect::Resp, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn resp_replies() {
        let mut s = Shard::new(ShardConfig::default());
        let k: &[u8] = b"k";
        let set = |v: &'static [u8], ttl, cond, get| Op::Set {
            key: k,
            value: v,
            ttl,
            cond,
            get,
        };
        assert_eq!(run(&mut s, Op::Get(k), 0), "$-1\r\n");
        assert_eq!(
            run(
                &mut s,
                set(b"v", SetTtl::In(1500), SetCond::Always, false),
                0
            ),
            "+OK\r\n"
        );
        assert_eq!(run(&mut s, Op::Ttl { key: k, ms: false }, 0), ":2\r\n");
        assert_eq!(run(&mut s, Op::Ttl { key: k, ms: true }, 0), ":1500\r\n");
        assert_eq!(
            run(
                &mut s,
                set(b"w", SetTtl::Clear, SetCond::IfAbsent, false),
                0
            ),
            "$-1\r\n"
        );
        assert_eq!(
            run(&mut s, set(b"w", SetTtl::Clear, SetCond::Always, true), 0),
            "$1\r\nv\r\n"
        );
        assert_eq!(run(&mut s, Op::Ttl { key: k, ms: false }, 0), ":-1\r\n");
        assert_eq!(
            run(&mut s, Op::IncrBy(k, 1), 0),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(run(&mut s, Op::Del(k), 0), ":1\r\n");
        assert_eq!(run(&mut s, Op::Ttl { key: k, ms: false }, 0), ":-2\r\n");
        assert_eq!(run(&mut s, Op::IncrBy(k, -3), 0), ":-3\r\n");
        assert_eq!(run(&mut s, Op::Exists(k), 0), ":1\r\n");
    }

    #[test]
    fn line_replies() {
        let mut s = Shard::new(ShardConfig::default());
        let mut out = Vec::new();
        let k: &[u8] = b"k";
        apply(&mut s, Op::Get(k), 0, Dialect::Line, &mut out);
        let set = Op::Set {
            key: k,
            value: &b"a:b"[..],
            ttl: SetTtl::Clear,
            cond: SetCond::Always,
            get: false,
        };
        apply(&mut s, set, 0, Dialect::Line, &mut out);
        apply(&mut s, Op::Get(k), 0, Dialect::Line, &mut out);
        apply(&mut s, Op::Del(k), 0, Dialect::Line, &mut out);
        apply(&mut s, Op::Del(k), 0, Dialect::Line, &mut out);
        assert_eq!(
            out,
            b"NOT_FOUND\nOK\nVALUE:a:b\nDELETED\nNOT_FOUND\n".to_vec()
        );
    }
}
