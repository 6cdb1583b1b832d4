//! Arguments → [`Command`], with Redis's arity and syntax rules.

use super::error::{unknown, CmdError};
use super::table::{self, Kind};
use super::{Combine, Command, Global, Op, SetTtl};
use crate::store::{parse_i64, ExpireCond, SetCond};

/// The checks Redis makes before it runs (or queues) any command: the name
/// is known, the arity fits, and the connection may run it: a connection
/// that has not authenticated (`authed == false`) may only run commands
/// flagged `no_auth`, and an unknown command or a wrong arity is reported
/// as such first. Inside MULTI, a command that fails here makes EXEC abort;
/// one that passes is queued, and any other error it has is its reply when
/// EXEC runs it.
///
/// # Errors
/// A [`CmdError`] with the text Redis would reply.
pub fn admit(args: &[&[u8]], authed: bool) -> Result<&'static table::Spec, CmdError> {
    let Some((&name, rest)) = args.split_first() else {
        return Err(CmdError::Syntax);
    };
    let Some(spec) = table::lookup(name) else {
        return Err(unknown(name, rest));
    };
    if !table::arity_ok(spec.arity, args.len()) {
        return Err(CmdError::Arity(spec.name));
    }
    if !authed && !spec.flags.contains(&"no_auth") {
        return Err(CmdError::NoAuth);
    }
    Ok(spec)
}

/// Parse a request's arguments (`args[0]` is the name) into a command,
/// after [`admit`]'s checks.
///
/// # Errors
/// A [`CmdError`] with the text Redis would reply.
pub fn parse<'a>(args: &[&'a [u8]], authed: bool) -> Result<(Kind, Command<'a>), CmdError> {
    let spec = admit(args, authed)?;
    let rest = &args[1..];
    let cmd = match spec.kind {
        Kind::Ping => match rest {
            [] => Command::Ping(None),
            [m] => Command::Ping(Some(m)),
            _ => return Err(CmdError::Arity("ping")),
        },
        Kind::Echo => Command::Echo(rest[0]),
        Kind::Get => Command::Key(Op::Get(rest[0])),
        Kind::Set => parse_set(rest)?,
        Kind::Del => Command::Multi(Combine::Sum, rest.iter().map(|k| Op::Del(*k)).collect()),
        Kind::Exists => Command::Multi(Combine::Sum, rest.iter().map(|k| Op::Exists(*k)).collect()),
        Kind::Mget => Command::Multi(Combine::Array, rest.iter().map(|k| Op::Get(*k)).collect()),
        Kind::Mset => {
            if !rest.len().is_multiple_of(2) {
                return Err(CmdError::Arity("mset"));
            }
            let ops = rest
                .chunks_exact(2)
                .map(|kv| Op::Set {
                    key: kv[0],
                    value: kv[1],
                    ttl: SetTtl::Clear,
                    cond: SetCond::Always,
                    get: false,
                })
                .collect();
            Command::Multi(Combine::AllOk, ops)
        }
        Kind::Incr => Command::Key(Op::IncrBy(rest[0], 1)),
        Kind::Decr => Command::Key(Op::IncrBy(rest[0], -1)),
        Kind::Incrby => Command::Key(Op::IncrBy(rest[0], int(rest[1])?)),
        Kind::Decrby => {
            let d = int(rest[1])?;
            // Redis rejects DECRBY i64::MIN because it cannot be negated.
            Command::Key(Op::IncrBy(
                rest[0],
                d.checked_neg().ok_or(CmdError::DecrOverflow)?,
            ))
        }
        Kind::Expire | Kind::Pexpire => parse_expire(spec.kind, rest)?,
        Kind::Ttl => Command::Key(Op::Ttl {
            key: rest[0],
            ms: false,
        }),
        Kind::Pttl => Command::Key(Op::Ttl {
            key: rest[0],
            ms: true,
        }),
        Kind::Persist => Command::Key(Op::Persist(rest[0])),
        Kind::Dbsize => Command::Global(Global::DbSize),
        Kind::Flushall | Kind::Flushdb => match rest {
            [] => Command::Global(Global::Flush),
            [m] if m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async") => {
                Command::Global(Global::Flush)
            }
            _ => return Err(CmdError::Syntax),
        },
        Kind::Select => match int(rest[0])? {
            0 => Command::Select,
            _ => return Err(CmdError::DbIndex),
        },
        Kind::Info => Command::Global(Global::Info(
            rest.iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect(),
        )),
        Kind::Command => parse_command(rest)?,
        Kind::Client => parse_client(rest)?,
        Kind::Config => {
            if rest[0].eq_ignore_ascii_case(b"get") {
                match rest {
                    [_, pattern] => Command::ConfigGet(pattern),
                    _ => return Err(CmdError::Arity("config|get")),
                }
            } else if rest[0].eq_ignore_ascii_case(b"set") {
                let pairs = &rest[1..];
                if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
                    return Err(CmdError::Arity("config|set"));
                }
                Command::ConfigSet(pairs.chunks_exact(2).map(|p| (p[0], p[1])).collect())
            } else {
                return Err(CmdError::UnknownSub {
                    sub: super::error::show(rest[0]),
                    cmd: "CONFIG",
                });
            }
        }
        Kind::Quit => Command::Quit,
        Kind::Multi => Command::TxMulti,
        Kind::Exec => Command::TxExec,
        Kind::Discard => Command::TxDiscard,
        Kind::Watch => Command::Watch(rest.to_vec()),
        // SETEX / PSETEX key time value: SET with EX / PX, same checks.
        Kind::Setex | Kind::Psetex => {
            let (name, scale) = if spec.kind == Kind::Setex {
                ("setex", 1000)
            } else {
                ("psetex", 1)
            };
            let n = int(rest[1])?;
            if n <= 0 {
                return Err(CmdError::InvalidExpire(name));
            }
            let ms = relative_ms(n, scale).ok_or(CmdError::InvalidExpire(name))?;
            Command::Key(Op::Set {
                key: rest[0],
                value: rest[2],
                ttl: SetTtl::In(ms as u64),
                cond: SetCond::Always,
                get: false,
            })
        }
        // GETSET key value: SET … GET.
        Kind::Getset => Command::Key(Op::Set {
            key: rest[0],
            value: rest[1],
            ttl: SetTtl::Clear,
            cond: SetCond::Always,
            get: true,
        }),
        Kind::Unwatch => Command::Unwatch,
        Kind::Metrics => Command::Global(Global::Metrics),
        Kind::Nodestat => Command::NodeStat,
        Kind::Hello => parse_hello(rest)?,
        Kind::Auth => match rest {
            [pass] => Command::Auth { user: None, pass },
            [user, pass] => Command::Auth {
                user: Some(user),
                pass,
            },
            _ => return Err(CmdError::Syntax),
        },
    };
    Ok((spec.kind, cmd))
}

fn int(b: &[u8]) -> Result<i64, CmdError> {
    parse_i64(b).ok_or(CmdError::NotInteger)
}

fn parse_set<'a>(rest: &[&'a [u8]]) -> Result<Command<'a>, CmdError> {
    let (key, value) = (rest[0], rest[1]);
    let mut ttl = SetTtl::Clear;
    // Which expiry option was given; Redis accepts one kind repeated
    // (`EX 1 EX 2` uses the last) but not two kinds.
    let mut ttl_kind: Option<&'static str> = None;
    let mut cond = SetCond::Always;
    let mut get = false;
    let mut i = 2;
    while i < rest.len() {
        let opt = rest[i];
        let next = rest.get(i + 1);
        if opt.eq_ignore_ascii_case(b"NX") && cond != SetCond::IfPresent {
            cond = SetCond::IfAbsent;
        } else if opt.eq_ignore_ascii_case(b"XX") && cond != SetCond::IfAbsent {
            cond = SetCond::IfPresent;
        } else if opt.eq_ignore_ascii_case(b"GET") {
            get = true;
        } else if opt.eq_ignore_ascii_case(b"KEEPTTL") && ttl_kind.is_none_or(|k| k == "KEEPTTL") {
            ttl = SetTtl::Keep;
            ttl_kind = Some("KEEPTTL");
        } else if let (Some(kind), Some(next)) = (expiry_kind(opt), next) {
            if ttl_kind.is_some_and(|k| k != kind) {
                return Err(CmdError::Syntax);
            }
            let n = int(next)?;
            let scale = if kind == "EX" { 1000 } else { 1 };
            if n <= 0 {
                return Err(CmdError::InvalidExpire("set"));
            }
            ttl = SetTtl::In(relative_ms(n, scale).ok_or(CmdError::InvalidExpire("set"))? as u64);
            ttl_kind = Some(kind);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(Command::Key(Op::Set {
        key,
        value,
        ttl,
        cond,
        get,
    }))
}

fn expiry_kind(opt: &[u8]) -> Option<&'static str> {
    if opt.eq_ignore_ascii_case(b"EX") {
        Some("EX")
    } else if opt.eq_ignore_ascii_case(b"PX") {
        Some("PX")
    } else {
        None
    }
}

/// Redis rejects an expiry whose absolute Unix time (now + ms) overflows an
/// i64. This layer has no clock, so it reserves 2^42 ms (until the year
/// 2109) for "now": the same answer as Redis for every time before then.
const NOW_HEADROOM_MS: i64 = 1 << 42;

/// `n` units of `scale` ms, if that is a representable relative expiry.
fn relative_ms(n: i64, scale: i64) -> Option<i64> {
    n.checked_mul(scale)
        .filter(|&ms| ms <= i64::MAX - NOW_HEADROOM_MS)
}

fn parse_expire<'a>(kind: Kind, rest: &[&'a [u8]]) -> Result<Command<'a>, CmdError> {
    let name = if kind == Kind::Expire {
        "expire"
    } else {
        "pexpire"
    };
    let n = int(rest[1])?;
    let scale = if kind == Kind::Expire { 1000 } else { 1 };
    let ms = relative_ms(n, scale).ok_or(CmdError::InvalidExpire(name))?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &rest[2..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(CmdError::UnsupportedOption(super::error::show(opt))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::ExpireFlags);
    }
    if gt && lt {
        return Err(CmdError::GtLt);
    }
    let cond = match (nx, xx, gt, lt) {
        (true, ..) => ExpireCond::Nx,
        (_, _, true, _) => ExpireCond::Gt,
        (_, true, _, true) => ExpireCond::XxLt,
        (_, _, _, true) => ExpireCond::Lt,
        (_, true, ..) => ExpireCond::Xx,
        _ => ExpireCond::Always,
    };
    Ok(Command::Key(Op::Expire {
        key: rest[0],
        ms,
        cond,
    }))
}

fn parse_command<'a>(rest: &[&'a [u8]]) -> Result<Command<'a>, CmdError> {
    let Some((sub, names)) = rest.split_first() else {
        return Ok(Command::CommandInfo(None));
    };
    if sub.eq_ignore_ascii_case(b"count") {
        if !names.is_empty() {
            return Err(CmdError::Arity("command|count"));
        }
        Ok(Command::CommandCount)
    } else if sub.eq_ignore_ascii_case(b"docs") {
        Ok(Command::CommandDocs)
    } else if sub.eq_ignore_ascii_case(b"info") {
        Ok(Command::CommandInfo(Some(names.to_vec())))
    } else {
        Err(CmdError::UnknownSub {
            sub: super::error::show(sub),
            cmd: "COMMAND",
        })
    }
}

/// HELLO's arguments, checked in Redis's order: the version, then each
/// option (an unknown one, or one short of its arguments, is a syntax
/// error naming it), validating SETNAME's name as it goes.
fn parse_hello<'a>(rest: &[&'a [u8]]) -> Result<Command<'a>, CmdError> {
    let (version, opts) = match rest.split_first() {
        None => (None, rest),
        Some((v, opts)) => {
            let v = parse_i64(v).ok_or(CmdError::HelloVersion)?;
            if !(2..=3).contains(&v) {
                return Err(CmdError::NoProto);
            }
            (Some(v as u8), opts)
        }
    };
    let (mut auth, mut setname) = (None, None);
    let mut j = 0;
    while j < opts.len() {
        let (opt, more) = (opts[j], opts.len() - 1 - j);
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            auth = Some((opts[j + 1], opts[j + 2]));
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            let name = opts[j + 1];
            if !name.iter().all(|&b| (b'!'..=b'~').contains(&b)) {
                return Err(CmdError::ClientName);
            }
            setname = Some(name);
            j += 2;
        } else {
            return Err(CmdError::HelloOption(super::error::show(opt)));
        }
    }
    Ok(Command::Hello {
        version,
        auth,
        setname,
    })
}

fn parse_client<'a>(rest: &[&'a [u8]]) -> Result<Command<'a>, CmdError> {
    let sub = rest[0];
    let arity = |n: usize, name: &'static str| {
        if rest.len() == n {
            Ok(())
        } else {
            Err(CmdError::Arity(name))
        }
    };
    if sub.eq_ignore_ascii_case(b"setname") {
        arity(2, "client|setname")?;
        let ok = rest[1].iter().all(|&b| (b'!'..=b'~').contains(&b));
        if !ok {
            return Err(CmdError::ClientName);
        }
        Ok(Command::ClientSetName(rest[1]))
    } else if sub.eq_ignore_ascii_case(b"getname") {
        arity(1, "client|getname")?;
        Ok(Command::ClientGetName)
    } else if sub.eq_ignore_ascii_case(b"id") {
        arity(1, "client|id")?;
        Ok(Command::ClientId)
    } else if sub.eq_ignore_ascii_case(b"setinfo") {
        arity(3, "client|setinfo")?;
        Ok(Command::ClientSetInfo)
    } else {
        Err(CmdError::UnknownSub {
            sub: super::error::show(sub),
            cmd: "CLIENT",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command<'_>, CmdError> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        parse(&args, true).map(|(_, c)| c)
    }

    #[test]
    fn table() {
        let k: &[u8] = b"k";
        let v: &[u8] = b"v";
        let set = |ttl, cond, get| {
            Ok(Command::Key(Op::Set {
                key: k,
                value: v,
                ttl,
                cond,
                get,
            }))
        };
        assert_eq!(p("get k"), Ok(Command::Key(Op::Get(k))));
        assert_eq!(p("GET"), Err(CmdError::Arity("get")));
        assert_eq!(p("get a b"), Err(CmdError::Arity("get")));
        assert_eq!(p("set k v"), set(SetTtl::Clear, SetCond::Always, false));
        assert_eq!(
            p("set k v ex 10"),
            set(SetTtl::In(10_000), SetCond::Always, false)
        );
        assert_eq!(
            p("set k v px 10 nx get"),
            set(SetTtl::In(10), SetCond::IfAbsent, true)
        );
        assert_eq!(
            p("set k v xx keepttl"),
            set(SetTtl::Keep, SetCond::IfPresent, false)
        );
        assert_eq!(p("set k v nx xx"), Err(CmdError::Syntax));
        assert_eq!(p("set k v ex 1 px 1"), Err(CmdError::Syntax));
        assert_eq!(
            p("set k v ex 1 ex 2"),
            set(SetTtl::In(2000), SetCond::Always, false)
        );
        assert_eq!(
            p("set k v keepttl keepttl"),
            set(SetTtl::Keep, SetCond::Always, false)
        );
        assert_eq!(p("set k v keepttl ex 1"), Err(CmdError::Syntax));
        assert_eq!(
            p("set k v px 9223372036854775807"),
            Err(CmdError::InvalidExpire("set"))
        );
        assert_eq!(
            p("pexpire k 9223372036854775807"),
            Err(CmdError::InvalidExpire("pexpire"))
        );
        assert_eq!(
            p("expire k 9223372036854775"),
            Err(CmdError::InvalidExpire("expire"))
        );
        assert_eq!(p("command count x"), Err(CmdError::Arity("command|count")));
        assert_eq!(p("set k v ex"), Err(CmdError::Syntax));
        assert_eq!(p("set k v ex 0"), Err(CmdError::InvalidExpire("set")));
        assert_eq!(p("set k v ex -5"), Err(CmdError::InvalidExpire("set")));
        assert_eq!(p("set k v ex abc"), Err(CmdError::NotInteger));
        assert_eq!(
            p("set k v ex 9223372036854775807"),
            Err(CmdError::InvalidExpire("set"))
        );
        assert_eq!(p("set k v bogus"), Err(CmdError::Syntax));
        assert_eq!(p("mset a 1 b"), Err(CmdError::Arity("mset")));
        assert_eq!(p("incrby k x"), Err(CmdError::NotInteger));
        assert_eq!(
            p("decrby k -9223372036854775808"),
            Err(CmdError::DecrOverflow)
        );
        assert_eq!(p("select 1"), Err(CmdError::DbIndex));
        assert_eq!(p("select 0"), Ok(Command::Select));
        assert_eq!(p("expire k 10 nx xx"), Err(CmdError::ExpireFlags));
        assert_eq!(p("expire k 10 gt lt"), Err(CmdError::GtLt));
        assert_eq!(
            p("expire k 10 bogus"),
            Err(CmdError::UnsupportedOption("bogus".into()))
        );
        assert_eq!(
            p("client setname a b"),
            Err(CmdError::Arity("client|setname"))
        );
        assert!(matches!(
            p("client bogus"),
            Err(CmdError::UnknownSub { .. })
        ));
        assert!(matches!(p("frob a"), Err(CmdError::Unknown { .. })));
        assert_eq!(p("ping a b"), Err(CmdError::Arity("ping")));
        assert_eq!(
            p("del a b"),
            Ok(Command::Multi(
                Combine::Sum,
                vec![Op::Del(&b"a"[..]), Op::Del(&b"b"[..])]
            ))
        );
    }
}
