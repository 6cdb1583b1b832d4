//! Frames → typed commands → replies.
//!
//! [`parse`] turns a request's arguments into a [`Command`]. Commands on keys
//! are [`Op`]s: they run on the shard that owns the key ([`exec::apply`]) and
//! travel to another core in an [`OpBatch`], which carries their bytes.
//! Multi-key commands are split into one `Op` per key so each goes to its
//! owner; [`Combine`] says how their replies merge back into one.

pub mod batch;
pub mod error;
pub mod exec;
pub mod parse;
pub mod table;

pub use batch::OpBatch;
pub use error::CmdError;
pub use parse::{admit, parse};

use crate::store::{ExpireCond, SetCond};

/// How a SET asks for its expiry, relative to the executing shard's `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTtl {
    /// Plain SET: drop the TTL.
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX`/`PX`: this many ms from now.
    In(u64),
}

/// A single-key operation, generic over how the key and value are held:
/// `&[u8]` borrowed from the read buffer (or an [`OpBatch`]), a range into
/// an `OpBatch`'s buffer while it travels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op<B> {
    /// GET key
    Get(B),
    /// SET key value [NX|XX] [GET] [EX|PX|KEEPTTL]
    Set {
        /// The key.
        key: B,
        /// The value.
        value: B,
        /// Expiry handling.
        ttl: SetTtl,
        /// NX / XX.
        cond: SetCond,
        /// The GET option: reply with the old value.
        get: bool,
    },
    /// DEL of one key (a multi-key DEL is split into these).
    Del(B),
    /// EXISTS of one key.
    Exists(B),
    /// INCR/DECR/INCRBY/DECRBY.
    IncrBy(B, i64),
    /// EXPIRE/PEXPIRE with a relative time in ms (may be ≤ 0).
    Expire {
        /// The key.
        key: B,
        /// Milliseconds from now.
        ms: i64,
        /// NX/XX/GT/LT.
        cond: ExpireCond,
    },
    /// TTL (`ms == false`) or PTTL.
    Ttl {
        /// The key.
        key: B,
        /// PTTL rather than TTL.
        ms: bool,
    },
    /// PERSIST key
    Persist(B),
}

impl<B: AsRef<[u8]>> Op<B> {
    /// The key this op touches; decides which core runs it.
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Get(k) | Op::Del(k) | Op::Exists(k) | Op::IncrBy(k, _) | Op::Persist(k) => {
                k.as_ref()
            }
            Op::Set { key, .. } | Op::Expire { key, .. } | Op::Ttl { key, .. } => key.as_ref(),
        }
    }
}

impl<B> Op<B> {
    /// The same op with each key and value passed through `f`.
    pub fn map<T>(&self, mut f: impl FnMut(&B) -> T) -> Op<T> {
        match self {
            Op::Get(k) => Op::Get(f(k)),
            Op::Set {
                key,
                value,
                ttl,
                cond,
                get,
            } => Op::Set {
                key: f(key),
                value: f(value),
                ttl: *ttl,
                cond: *cond,
                get: *get,
            },
            Op::Del(k) => Op::Del(f(k)),
            Op::Exists(k) => Op::Exists(f(k)),
            Op::IncrBy(k, d) => Op::IncrBy(f(k), *d),
            Op::Expire { key, ms, cond } => Op::Expire {
                key: f(key),
                ms: *ms,
                cond: *cond,
            },
            Op::Ttl { key, ms } => Op::Ttl {
                key: f(key),
                ms: *ms,
            },
            Op::Persist(k) => Op::Persist(f(k)),
        }
    }
}

/// How the replies of a split multi-key command merge into one reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    /// DEL, EXISTS: the sum of the integer replies.
    Sum,
    /// MGET: an array of the bulk replies, in key order.
    Array,
    /// MSET: `+OK`, or the first error.
    AllOk,
}

/// Which server-wide counters or actions a command needs from every core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Global {
    /// DBSIZE
    DbSize,
    /// FLUSHALL / FLUSHDB
    Flush,
    /// INFO [section ...] (lower-cased section names)
    Info(Vec<String>),
    /// METRICS (JSON)
    Metrics,
}

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// One key operation.
    Key(Op<&'a [u8]>),
    /// A multi-key command split into per-key ops.
    Multi(Combine, Vec<Op<&'a [u8]>>),
    /// A command that needs every core.
    Global(Global),
    /// PING [message]
    Ping(Option<&'a [u8]>),
    /// ECHO message
    Echo(&'a [u8]),
    /// SELECT 0
    Select,
    /// QUIT
    Quit,
    /// CLIENT SETNAME name
    ClientSetName(&'a [u8]),
    /// CLIENT GETNAME
    ClientGetName,
    /// CLIENT ID
    ClientId,
    /// CLIENT SETINFO (accepted and ignored, as clients send it on connect)
    ClientSetInfo,
    /// COMMAND (all), COMMAND INFO names, COMMAND COUNT, COMMAND DOCS
    CommandInfo(Option<Vec<&'a [u8]>>),
    /// COMMAND COUNT
    CommandCount,
    /// COMMAND DOCS: empty, which redis-cli accepts
    CommandDocs,
    /// CONFIG GET pattern
    ConfigGet(&'a [u8]),
    /// NODESTAT: cheap liveness + load probe for the LB.
    NodeStat,
    /// MULTI: start queueing a transaction.
    TxMulti,
    /// EXEC: run the queued transaction.
    TxExec,
    /// DISCARD: drop the queued transaction.
    TxDiscard,
    /// WATCH key [key ...]
    Watch(Vec<&'a [u8]>),
    /// UNWATCH
    Unwatch,
    /// AUTH [user] password
    Auth {
        /// The user; `None` for the one-argument form (the default user).
        user: Option<&'a [u8]>,
        /// The password.
        pass: &'a [u8],
    },
    /// CONFIG SET parameter value [parameter value ...]
    ConfigSet(Vec<(&'a [u8], &'a [u8])>),
    /// HELLO [protover [AUTH user pass] [SETNAME name]]
    Hello {
        /// 2 or 3; `None` keeps the connection's protocol.
        version: Option<u8>,
        /// AUTH user password.
        auth: Option<(&'a [u8], &'a [u8])>,
        /// SETNAME name (already validated).
        setname: Option<&'a [u8]>,
    },
}
