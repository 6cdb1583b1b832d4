//! Running an [`Op`] on the shard that owns its key, answering through the
//! connection's [`Reply`] writer (RESP2, RESP3 or the line protocol alike).

use super::{Op, SetTtl};
use crate::proto::Reply;
use crate::store::{SetExpiry, SetOutcome, Shard, StoreError, Ttl};

/// Run `op` on `shard` at time `now` and write its reply to `w`. Returns
/// whether it changed the key (what Redis calls "signalModifiedKey", which
/// makes a WATCH of it fail): a write that applied, not a refused SET NX,
/// an INCR of a non-integer or a DEL of a missing key.
pub fn apply<B>(shard: &mut Shard, op: Op<B>, now: u64, w: &mut Reply<'_>) -> bool
where
    B: AsRef<[u8]> + Into<Box<[u8]>>,
{
    match op {
        Op::Get(k) => {
            match shard.get(k.as_ref(), now) {
                Some(v) => w.bulk(v),
                None => w.nil(),
            }
            false
        }
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
                Err(e) => {
                    store_error(w, e);
                    false
                }
                Ok(SetOutcome { applied, old }) => {
                    match old {
                        Some(old) => w.bulk(&old),
                        None if applied && !get => w.ok(),
                        None => w.nil(),
                    }
                    applied
                }
            }
        }
        Op::Del(k) => {
            let gone = shard.del(k.as_ref(), now);
            w.int(i64::from(gone));
            gone
        }
        Op::Exists(k) => {
            w.int(i64::from(shard.exists(k.as_ref(), now)));
            false
        }
        Op::IncrBy(k, d) => match shard.incr_by(k.as_ref(), d, now) {
            Ok(n) => {
                w.int(n);
                true
            }
            Err(e) => {
                store_error(w, e);
                false
            }
        },
        Op::Expire { key, ms, cond } => {
            // A negative or zero relative time means "already expired".
            let at = if ms <= 0 {
                now
            } else {
                now.saturating_add(ms as u64)
            };
            let set = shard.expire_at(key.as_ref(), at, cond, now);
            w.int(i64::from(set));
            set
        }
        Op::Ttl { key, ms } => {
            match shard.ttl(key.as_ref(), now) {
                Ttl::Missing => w.int(-2),
                Ttl::Persistent => w.int(-1),
                // Redis rounds TTL to the nearest second.
                Ttl::Ms(left) if !ms => w.int(((left + 500) / 1000) as i64),
                Ttl::Ms(left) => w.int(left as i64),
            }
            false
        }
        Op::Persist(k) => {
            let done = shard.persist(k.as_ref(), now);
            w.int(i64::from(done));
            done
        }
    }
}

fn store_error(w: &mut Reply<'_>, e: StoreError) {
    w.error(&e.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Proto;
    use crate::store::{SetCond, ShardConfig};

    fn run(shard: &mut Shard, op: Op<&[u8]>, now: u64) -> String {
        let mut out = Vec::new();
        apply(shard, op, now, &mut Reply::new(&mut out, Proto::Resp2));
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
        let mut w = Reply::new(&mut out, Proto::Line);
        let k: &[u8] = b"k";
        apply(&mut s, Op::Get(k), 0, &mut w);
        let set = Op::Set {
            key: k,
            value: &b"a:b"[..],
            ttl: SetTtl::Clear,
            cond: SetCond::Always,
            get: false,
        };
        apply(&mut s, set, 0, &mut w);
        apply(&mut s, Op::Get(k), 0, &mut w);
        apply(&mut s, Op::Del(k), 0, &mut w);
        apply(&mut s, Op::Del(k), 0, &mut w);
        assert_eq!(
            out,
            b"NOT_FOUND\nOK\nVALUE:a:b\nDELETED\nNOT_FOUND\n".to_vec()
        );
    }
}
