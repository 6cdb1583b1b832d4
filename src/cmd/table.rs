//! The command table: names, Redis arities and flags, used for arity errors,
//! per-command counters and the `COMMAND` reply that `redis-cli` reads.

/// Every command the node knows, as a dense index for per-command counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Kind {
    Ping,
    Echo,
    Get,
    Set,
    Del,
    Exists,
    Mget,
    Mset,
    Incr,
    Decr,
    Incrby,
    Decrby,
    Expire,
    Pexpire,
    Ttl,
    Pttl,
    Persist,
    Dbsize,
    Flushall,
    Flushdb,
    Select,
    Info,
    Command,
    Client,
    Config,
    Quit,
    Metrics,
    Nodestat,
    Auth,
    Hello,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    Setex,
    Psetex,
    Getset,
}

/// One row of the table.
pub struct Spec {
    /// Lower-case name, as Redis prints it in errors.
    pub name: &'static str,
    /// The command.
    pub kind: Kind,
    /// Redis arity: `n` exactly n arguments (with the name), `-n` at least n.
    pub arity: i32,
    /// Redis command flags, for `COMMAND`.
    pub flags: &'static [&'static str],
    /// First key position, last key position (-1 = last arg), key step.
    pub keys: (i32, i32, i32),
}

const W: &[&str] = &["write", "denyoom"];
const R: &[&str] = &["readonly", "fast"];
const F: &[&str] = &["fast"];
/// Commands a connection may run before it authenticates.
const NO_AUTH: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];

/// All commands, in `Kind` order.
pub const TABLE: &[Spec] = &[
    Spec {
        name: "ping",
        kind: Kind::Ping,
        arity: -1,
        flags: F,
        keys: (0, 0, 0),
    },
    Spec {
        name: "echo",
        kind: Kind::Echo,
        arity: 2,
        flags: F,
        keys: (0, 0, 0),
    },
    Spec {
        name: "get",
        kind: Kind::Get,
        arity: 2,
        flags: R,
        keys: (1, 1, 1),
    },
    Spec {
        name: "set",
        kind: Kind::Set,
        arity: -3,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "del",
        kind: Kind::Del,
        arity: -2,
        flags: &["write"],
        keys: (1, -1, 1),
    },
    Spec {
        name: "exists",
        kind: Kind::Exists,
        arity: -2,
        flags: R,
        keys: (1, -1, 1),
    },
    Spec {
        name: "mget",
        kind: Kind::Mget,
        arity: -2,
        flags: R,
        keys: (1, -1, 1),
    },
    Spec {
        name: "mset",
        kind: Kind::Mset,
        arity: -3,
        flags: W,
        keys: (1, -1, 2),
    },
    Spec {
        name: "incr",
        kind: Kind::Incr,
        arity: 2,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "decr",
        kind: Kind::Decr,
        arity: 2,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "incrby",
        kind: Kind::Incrby,
        arity: 3,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "decrby",
        kind: Kind::Decrby,
        arity: 3,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "expire",
        kind: Kind::Expire,
        arity: -3,
        flags: &["write", "fast"],
        keys: (1, 1, 1),
    },
    Spec {
        name: "pexpire",
        kind: Kind::Pexpire,
        arity: -3,
        flags: &["write", "fast"],
        keys: (1, 1, 1),
    },
    Spec {
        name: "ttl",
        kind: Kind::Ttl,
        arity: 2,
        flags: R,
        keys: (1, 1, 1),
    },
    Spec {
        name: "pttl",
        kind: Kind::Pttl,
        arity: 2,
        flags: R,
        keys: (1, 1, 1),
    },
    Spec {
        name: "persist",
        kind: Kind::Persist,
        arity: 2,
        flags: &["write", "fast"],
        keys: (1, 1, 1),
    },
    Spec {
        name: "dbsize",
        kind: Kind::Dbsize,
        arity: 1,
        flags: &["readonly"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "flushall",
        kind: Kind::Flushall,
        arity: -1,
        flags: &["write"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "flushdb",
        kind: Kind::Flushdb,
        arity: -1,
        flags: &["write"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "select",
        kind: Kind::Select,
        arity: 2,
        flags: F,
        keys: (0, 0, 0),
    },
    Spec {
        name: "info",
        kind: Kind::Info,
        arity: -1,
        flags: &["loading", "stale"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "command",
        kind: Kind::Command,
        arity: -1,
        flags: &["loading", "stale"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "client",
        kind: Kind::Client,
        arity: -2,
        flags: &["loading", "stale"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "config",
        kind: Kind::Config,
        arity: -2,
        flags: &["loading", "stale"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "quit",
        kind: Kind::Quit,
        arity: -1,
        flags: NO_AUTH,
        keys: (0, 0, 0),
    },
    Spec {
        name: "metrics",
        kind: Kind::Metrics,
        arity: 1,
        flags: &["loading", "stale"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "nodestat",
        kind: Kind::Nodestat,
        arity: 1,
        // The LB's probe: it reveals only load figures (issue 12 gives it
        // its own authentication).
        flags: NO_AUTH,
        keys: (0, 0, 0),
    },
    Spec {
        name: "auth",
        kind: Kind::Auth,
        arity: -2,
        flags: NO_AUTH,
        keys: (0, 0, 0),
    },
    Spec {
        name: "hello",
        kind: Kind::Hello,
        arity: -1,
        flags: NO_AUTH,
        keys: (0, 0, 0),
    },
    Spec {
        name: "multi",
        kind: Kind::Multi,
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "exec",
        kind: Kind::Exec,
        arity: 1,
        flags: &["noscript", "loading", "stale", "skip_slowlog"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "discard",
        kind: Kind::Discard,
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "watch",
        kind: Kind::Watch,
        arity: -2,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        keys: (1, -1, 1),
    },
    Spec {
        name: "unwatch",
        kind: Kind::Unwatch,
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        keys: (0, 0, 0),
    },
    Spec {
        name: "setex",
        kind: Kind::Setex,
        arity: 4,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "psetex",
        kind: Kind::Psetex,
        arity: 4,
        flags: W,
        keys: (1, 1, 1),
    },
    Spec {
        name: "getset",
        kind: Kind::Getset,
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        keys: (1, 1, 1),
    },
];

/// Number of commands, for sizing per-command counter arrays.
pub const COUNT: usize = TABLE.len();

/// Longer than any command name: a request whose name is longer is
/// unknown without a lookup.
const MAX_NAME: usize = 16;

/// Look a command up by name, case-insensitively, in constant time: the
/// name is lower-cased into a stack buffer and found in a hash map built
/// once from [`TABLE`].
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    by_name().get(&*lower).map(|&i| &TABLE[i])
}

/// Index into [`TABLE`] by lower-case name.
fn by_name() -> &'static std::collections::HashMap<&'static [u8], usize, foldhash::fast::RandomState>
{
    static MAP: std::sync::OnceLock<
        std::collections::HashMap<&'static [u8], usize, foldhash::fast::RandomState>,
    > = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        TABLE
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_bytes(), i))
            .collect()
    })
}

/// Whether `argc` (including the name) satisfies `arity`.
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_kind_order() {
        for (i, s) in TABLE.iter().enumerate() {
            assert_eq!(s.kind as usize, i, "{}", s.name);
        }
        assert_eq!(lookup(b"GeT").map(|s| s.kind), Some(Kind::Get));
        assert!(lookup(b"nope").is_none());
        assert!(lookup(b"a-name-longer-than-any-command").is_none());
        for s in TABLE {
            assert!(s.name.len() <= MAX_NAME, "{}", s.name);
            assert_eq!(
                lookup(s.name.to_uppercase().as_bytes()).map(|f| f.kind),
                Some(s.kind)
            );
        }
        assert!(arity_ok(-2, 5) && !arity_ok(-2, 1) && arity_ok(2, 2) && !arity_ok(2, 3));
    }
}
