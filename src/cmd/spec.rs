//! The shape of a command: one [`Spec`] row naming its handler.
//!
//! A row says everything the node needs to route and check a command
//! without knowing the command: its name and arity, its flags, where its
//! keys are ([`Keys`], as `COMMAND INFO` reports them) and how it runs
//! ([`Run`]). The node reads the owner cores off the key positions, so no
//! command has routing code of its own.

use super::client::Conn;
use crate::proto::Reply;
use crate::store::Shard;

/// Redis command flags, in the order `COMMAND` prints them, plus two of
/// ours (never printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(u32);

/// Printed names of the Redis flags, bit `i` named by entry `i`.
const NAMES: [&str; 16] = [
    "write",
    "readonly",
    "denyoom",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_slowlog",
    "fast",
    "no_auth",
    "may_replicate",
    "no_async_loading",
    "no_multi",
    "allow_busy",
];

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// Changes data.
    pub const WRITE: Flags = Flags(1 << 0);
    /// Only reads data.
    pub const READONLY: Flags = Flags(1 << 1);
    /// Refused when over maxmemory (may grow memory).
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 3);
    /// Pub/Sub.
    pub const PUBSUB: Flags = Flags(1 << 4);
    /// Not allowed in scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    /// May block the client (BLPOP).
    pub const BLOCKING: Flags = Flags(1 << 6);
    /// Allowed while loading.
    pub const LOADING: Flags = Flags(1 << 7);
    /// Allowed on a stale replica.
    pub const STALE: Flags = Flags(1 << 8);
    /// Not logged by SLOWLOG.
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 9);
    /// O(1) or O(log n).
    pub const FAST: Flags = Flags(1 << 10);
    /// Allowed before AUTH.
    pub const NO_AUTH: Flags = Flags(1 << 11);
    /// May be replicated (PUBLISH).
    pub const MAY_REPLICATE: Flags = Flags(1 << 12);
    /// Refused while an async load is in progress (CLUSTER's admin
    /// subcommands).
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 13);
    /// Not allowed inside MULTI.
    pub const NO_MULTI: Flags = Flags(1 << 14);
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: Flags = Flags(1 << 15);
    /// Ours: on a read-through node, a miss of its key may be fetched from
    /// the origin (GET, and MGET's parts).
    pub const FETCH: Flags = Flags(1 << 24);
    /// Ours: it changes how later requests are answered or allowed (HELLO,
    /// AUTH, CONFIG): replies planned before it are written first, in the
    /// protocol and under the credentials they were asked in.
    pub const BARRIER: Flags = Flags(1 << 25);

    /// Both sets of flags.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether every flag of `f` is set.
    #[inline]
    pub const fn has(self, f: Flags) -> bool {
        self.0 & f.0 == f.0
    }

    /// The Redis flags' names, in `COMMAND`'s order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        NAMES
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
    }
}

/// Where a command's keys are among its arguments (the name is argument
/// 0): `first`, `last` (negative counts from the end, -1 = the last
/// argument) and `step`, as Redis's legacy key spec. `first == 0` means no
/// keys. Commands whose keys are counted by an argument (ZUNIONSTORE's
/// `numkeys`, LMPOP's) also name that argument's position in `counted`:
/// the keys are then the legacy ones plus the `numkeys` arguments after it,
/// what Redis's `movablekeys` commands find with their key-number spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    /// First key's position; 0 for none.
    pub first: i32,
    /// Last key's position; negative counts from the end.
    pub last: i32,
    /// Positions between keys (2 for MSET's key/value pairs).
    pub step: i32,
    /// Position of a `numkeys` argument counting the keys that follow it;
    /// 0 for none.
    pub counted: i32,
}

/// The positions of a request's keys, in order (see [`Keys::positions`]).
pub type Positions =
    std::iter::Chain<std::iter::StepBy<std::ops::RangeInclusive<usize>>, std::ops::Range<usize>>;

impl Keys {
    /// No keys.
    pub const NONE: Keys = Keys {
        first: 0,
        last: 0,
        step: 0,
        counted: 0,
    };
    /// One key, the first argument.
    pub const ONE: Keys = Keys {
        first: 1,
        last: 1,
        step: 1,
        counted: 0,
    };
    /// Every argument is a key.
    pub const ALL: Keys = Keys {
        first: 1,
        last: -1,
        step: 1,
        counted: 0,
    };

    /// Keys at `first..=last` (a legacy spec with step 1).
    pub const fn between(first: i32, last: i32) -> Keys {
        Keys {
            first,
            last,
            step: 1,
            counted: 0,
        }
    }

    /// The `numkeys` keys after the argument at `at`, after the keys
    /// `first..=last` if `first > 0` (ZUNIONSTORE: `between(1, 1)` and
    /// `at` 2; LMPOP: none and 1).
    pub const fn counted(self, at: i32) -> Keys {
        Keys {
            counted: at,
            ..self
        }
    }

    /// The positions of the keys of `args`: the legacy range, then the
    /// counted keys. `None` when the arguments do not fit: a legacy range
    /// past the end, or a `numkeys` that is not a positive integer naming
    /// arguments that exist; the command's handler then gives its own
    /// error (Redis's "numkeys should be greater than 0" and the like).
    pub fn positions(self, args: &[&[u8]]) -> Option<Positions> {
        let fixed = self.range(args.len())?;
        if self.counted <= 0 {
            return Some(fixed.chain(0..0));
        }
        let at = self.counted as usize;
        let n = crate::store::parse_i64(args.get(at)?)?;
        let n = usize::try_from(n).ok().filter(|&n| n > 0)?;
        let end = at.checked_add(1)?.checked_add(n)?;
        (end <= args.len()).then(|| fixed.chain(at + 1..end))
    }

    /// `first..=last, step` as positions into `argc` arguments; `None` when
    /// the arguments do not fit the spec (an MSET with a key and no value).
    pub fn range(self, argc: usize) -> Option<std::iter::StepBy<std::ops::RangeInclusive<usize>>> {
        if self.first == 0 {
            #[allow(clippy::reversed_empty_ranges)]
            return Some((1..=0).step_by(1));
        }
        let last = if self.last < 0 {
            argc as i32 + self.last
        } else {
            self.last
        };
        if last < self.first || last as usize >= argc {
            return None;
        }
        // MSET's pairs: the arguments from the first key to the last
        // one must be whole groups of `step`.
        if (last - self.first + 1) % self.step != 0 {
            return None;
        }
        Some((self.first as usize..=last as usize).step_by(self.step as usize))
    }
}

/// What a handler's run produced, for merging the parts of a split
/// command without reading reply bytes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// It wrote one reply.
    Reply,
    /// It wrote an error reply.
    Error,
    /// It wrote nothing and counted this much (DEL, EXISTS): summed.
    Count(i64),
    /// It wrote nothing and succeeded (MSET): all parts OK is `+OK`.
    Done,
}

/// How the parts of a split multi-key command merge into its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The sum of the parts' counts (DEL, EXISTS, UNLINK, TOUCH).
    Sum,
    /// An array of the parts' replies, in key order (MGET).
    Array,
    /// `+OK` if every part succeeded, else the first error (MSET).
    AllOk,
}

/// A command that runs on the core owning its keys: it gets the whole
/// request (argument 0 is the name) and writes one reply.
pub type ShardFn = fn(&mut Ctx<'_>, &[&[u8]], &mut Reply<'_>);

/// One key group of a split command (argument 0 is the name, then one
/// group of `step` arguments starting with its key), run on that key's
/// owner. It either writes its reply or reports a count or success.
pub type PartFn = fn(&mut Ctx<'_>, &[&[u8]], &mut Reply<'_>) -> Part;

/// A command answered on the connection's own core, without a shard.
pub type ConnFn = fn(&mut Conn<'_>, &[&[u8]], &mut Reply<'_>);

/// Commands the node coordinates itself: they wait on other cores, change
/// what the connection is doing, or answer for every core at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeCmd {
    /// MULTI
    Multi,
    /// EXEC
    Exec,
    /// DISCARD
    Discard,
    /// WATCH key [key ...]
    Watch,
    /// UNWATCH
    Unwatch,
    /// QUIT
    Quit,
    /// DBSIZE
    DbSize,
    /// FLUSHALL / FLUSHDB [ASYNC|SYNC]
    Flush,
    /// INFO [section ...]
    Info,
    /// METRICS (ours: JSON counters)
    Metrics,
    /// MEMORY STATS: every core's memory figures.
    MemoryStats,
    /// CLIENT LIST [TYPE t] [ID id ...]: every core's connections.
    ClientList,
    /// CLIENT INFO: this connection.
    ClientInfo,
    /// CLIENT KILL: close connections on any core.
    ClientKill,
    /// A pub/sub command: it changes the connection's subscriptions or
    /// reaches the subscribers of every core.
    Pubsub(PubsubCmd),
    /// CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT: the keys of one slot.
    KeysInSlot,
    /// KEYS pattern: every core's matching keys.
    Keys,
    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: one step on
    /// the core the cursor is on.
    Scan,
    /// RANDOMKEY: a key chosen uniformly over every core.
    RandomKey,
}

/// The pub/sub commands (`cmd/pubsub.rs`), run by `node::pubsub`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubsubCmd {
    /// SUBSCRIBE channel [channel ...]
    Subscribe,
    /// UNSUBSCRIBE [channel ...]
    Unsubscribe,
    /// PSUBSCRIBE pattern [pattern ...]
    Psubscribe,
    /// PUNSUBSCRIBE [pattern ...]
    Punsubscribe,
    /// PUBLISH channel message
    Publish,
    /// PUBSUB CHANNELS [pattern]
    Channels,
    /// PUBSUB NUMSUB [channel ...]
    Numsub,
    /// PUBSUB NUMPAT
    Numpat,
}

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Run {
    /// On the core that owns its keys.
    Shard(ShardFn),
    /// Split by key group, each group on its key's owner, parts merged.
    Split(PartFn, Merge),
    /// On the connection's core, without a shard.
    Conn(ConnFn),
    /// Coordinated by the node.
    Node(NodeCmd),
}

/// One row of the command table.
pub struct Spec {
    /// Lower-case name, as Redis prints it in errors.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (with the name), `-n` at least n.
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Key positions.
    pub keys: Keys,
    /// The handler.
    pub run: Run,
    /// Subcommands (CLIENT, CONFIG, OBJECT …), each a row of its own named
    /// `container|sub` as Redis names them; a request with an argument
    /// after the name runs the subcommand it names.
    pub subs: &'static [Spec],
}

impl Spec {
    /// A row; `const` so each family's table is a plain `static` slice.
    pub const fn new(name: &'static str, arity: i32, flags: Flags, keys: Keys, run: Run) -> Spec {
        Spec {
            name,
            arity,
            flags,
            keys,
            run,
            subs: &[],
        }
    }

    /// A container command: `run` answers it without a subcommand (COMMAND
    /// alone), `subs` are its subcommands.
    pub const fn container(
        name: &'static str,
        arity: i32,
        flags: Flags,
        run: Run,
        subs: &'static [Spec],
    ) -> Spec {
        Spec {
            name,
            arity,
            flags,
            keys: Keys::NONE,
            run,
            subs,
        }
    }

    /// The name after `container|`, for a subcommand; the name otherwise.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }
}

/// Flags of a command that reads data in O(1).
pub const READ_FAST: Flags = Flags::READONLY.with(Flags::FAST);
/// Flags of a command that writes data and may grow memory.
pub const WRITE_GROW: Flags = Flags::WRITE.with(Flags::DENYOOM);
/// Flags of a command that writes data and may grow memory, in O(1).
pub const WRITE_GROW_FAST: Flags = WRITE_GROW.with(Flags::FAST);
/// Flags of a command that writes data in O(1).
pub const WRITE_FAST: Flags = Flags::WRITE.with(Flags::FAST);

/// What a [`Ctx`] calls with each key a handler changed.
pub type OnChange<'a> = dyn FnMut(&[u8]) + 'a;

/// The shards of a command whose keys live on several cores, held for it
/// by the node while it runs (see `node::multi`).
pub trait Span {
    /// The shard that owns `key`, if another core's; `None` for a key of
    /// the core running the command, whose shard is [`Ctx::shard`].
    fn shard(&mut self, key: &[u8]) -> Option<&mut Shard>;
    /// `key` changed: its WATCHes fail.
    fn changed(&mut self, key: &[u8]);
}

/// What a shard handler works with: the owner core's shard and clock.
pub struct Ctx<'a> {
    /// The shard that owns the command's keys. A command with several keys
    /// reaches each through [`Ctx::shard_of`] instead, which also works
    /// when they live on different cores.
    pub shard: &'a mut Shard,
    /// The other cores' shards, while a command spanning cores runs.
    pub span: Option<&'a mut dyn Span>,
    /// Node-clock milliseconds: every command of one read sees the same.
    pub now: u64,
    /// Unix time in ms at node-clock zero, to convert absolute times
    /// (EXPIREAT, EXPIRETIME).
    pub epoch_unix_ms: u64,
    /// Largest string a command may build (`proto-max-bulk-len`).
    pub max_bulk: usize,
    /// Told of every key a command changed (Redis's `signalModifiedKey`):
    /// set only while some connection WATCHes a key of this shard or is
    /// blocked on one.
    pub on_change: Option<&'a mut OnChange<'a>>,
    /// Whether a blocking command (BLPOP …) runs as one that may block.
    pub blocking: Blocking,
}

/// How a blocking command (BLPOP …) runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Blocking {
    /// It may not block (inside MULTI, or any other command): finding
    /// nothing, it answers its null at once, as Redis does.
    #[default]
    Never,
    /// Its first try as a command that may block: finding nothing, it
    /// writes no reply, so the node blocks the client.
    First,
    /// A blocked client's retry after a key it waits on changed: as
    /// `First`, and a key that now holds another type counts as empty
    /// (Redis only wakes a client for its own type, so it stays blocked).
    Retry,
}

impl Blocking {
    /// True when finding nothing writes no reply.
    #[inline]
    pub fn may_block(self) -> bool {
        self != Blocking::Never
    }
}

impl Ctx<'_> {
    /// A handler changed `key`: a WATCH of it fails.
    #[inline]
    pub fn changed(&mut self, key: &[u8]) {
        if let Some(span) = &mut self.span {
            span.changed(key);
        } else if let Some(f) = &mut self.on_change {
            f(key);
        }
    }

    /// The shard that owns `key`: this one, unless the command spans cores.
    pub fn shard_of(&mut self, key: &[u8]) -> &mut Shard {
        match self.span.as_deref_mut().and_then(|s| s.shard(key)) {
            Some(other) => other,
            None => self.shard,
        }
    }

    /// Unix time in ms now.
    pub fn unix_ms(&self) -> u64 {
        self.epoch_unix_ms + self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges() {
        let pos = |k: Keys, argc| k.range(argc).map(|r| r.collect::<Vec<_>>());
        assert_eq!(pos(Keys::ONE, 2), Some(vec![1]));
        assert_eq!(pos(Keys::ALL, 4), Some(vec![1, 2, 3]));
        let mset = Keys {
            first: 1,
            last: -1,
            step: 2,
            counted: 0,
        };
        assert_eq!(pos(mset, 5), Some(vec![1, 3]));
        assert_eq!(pos(mset, 4), None);
        assert_eq!(pos(Keys::NONE, 3), Some(vec![]));
        let two = Keys {
            first: 1,
            last: 2,
            step: 1,
            counted: 0,
        };
        assert_eq!(pos(two, 3), Some(vec![1, 2]));
        assert_eq!(pos(two, 2), None);
    }

    #[test]
    fn flag_names_in_redis_order() {
        let f = Flags::WRITE
            .with(Flags::FAST)
            .with(Flags::DENYOOM)
            .with(Flags::FETCH);
        assert_eq!(f.names().collect::<Vec<_>>(), ["write", "denyoom", "fast"]);
        assert!(f.has(Flags::FETCH) && !f.has(Flags::READONLY));
    }
}
