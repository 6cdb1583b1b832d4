//! Messages between cores. A request for a key another core owns travels as
//! a [`Hop`] carrying its own copy of the data and a reply channel; a client
//! connection batches every op of one read for the same owner into one hop.

use crate::cmd::merge::merge;
use crate::cmd::{Merge, OpBatch, Part};
use crate::proto::{Proto, Reply};
use crate::store::ShardStats;
use futures_channel::oneshot;
use serde::Serialize;

/// Bytes reserved per reply up front: a short bulk string or status.
const TYPICAL_REPLY: usize = 32;

/// Encoded replies of a batch: reply `i` is `buf[ends[i-1]..ends[i]]`,
/// and `parts[i]` says what its command reported (a count to sum, for a
/// split command's part).
#[derive(Default, Debug)]
pub struct Replies {
    /// The replies, back to back, in the proto the batch asked for.
    pub buf: Vec<u8>,
    /// End offset of each reply in `buf`.
    pub ends: Vec<usize>,
    /// What each command reported.
    pub parts: Vec<Part>,
    /// Slow-log entries of the commands that ran slow, for the requester
    /// to complete with its client's address and name (see `cmdstats`).
    /// Empty, and not allocated, unless one did.
    pub slow: Vec<crate::cmd::slowlog::Draft>,
}

impl Replies {
    /// Reply `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    /// What command `i` reported, with its reply bytes.
    pub fn part(&self, i: usize) -> (Part, &[u8]) {
        (self.parts[i], self.get(i))
    }

    /// Empty, with room for `n` replies of a typical size, so that encoding
    /// a batch does not grow the buffers step by step.
    pub fn with_capacity(n: usize) -> Replies {
        Replies {
            buf: Vec::with_capacity(n * TYPICAL_REPLY),
            ends: Vec::with_capacity(n),
            parts: Vec::with_capacity(n),
            slow: Vec::new(),
        }
    }

    /// Close the reply just written at the end of `buf`, which reported
    /// `part`.
    pub fn seal(&mut self, part: Part) {
        self.ends.push(self.buf.len());
        self.parts.push(part);
    }

    /// Forget all replies, keeping capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
        self.parts.clear();
        self.slow.clear();
    }
}

/// A whole-shard question, for commands that need every core.
#[derive(Debug, Clone, Copy)]
pub enum Query {
    /// Counters and sizes, for DBSIZE, INFO and METRICS.
    Snapshot,
    /// FLUSHALL.
    Flush,
}

/// One core's answer to [`Query::Snapshot`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// The core (shard) number.
    pub core: usize,
    /// Keys in the shard.
    pub keys: usize,
    /// Keys with a TTL.
    pub expires: usize,
    /// The shard's estimate of the TTL those keys have left, ms.
    pub avg_ttl_ms: u64,
    /// Bytes charged against maxmemory.
    pub used_memory: usize,
    /// The part of it that is the keys' own records and collections.
    pub dataset: usize,
    /// Hits, misses, expirations, evictions.
    pub shard: ShardStats,
    /// Each command's calls, time, rejections and failures on this core,
    /// by name.
    pub commands: Vec<(String, super::cmdstats::Counts)>,
    /// Error replies this core wrote, by code (`ERR`, `WRONGTYPE` …).
    pub errors: Vec<(String, u64)>,
    /// Error replies this core wrote.
    pub error_replies: u64,
    /// Connections this core accepted.
    pub connections_received: u64,
    /// Connections refused because of maxclients.
    pub rejected_connections: u64,
    /// Batches this core sent to other cores.
    pub hops_sent: u64,
    /// Ops other cores sent here to run.
    pub hop_ops_served: u64,
    /// This core's clients blocked right now (BLPOP …).
    pub blocked_clients: u64,
    /// Read-through fetches sent to the origin.
    pub origin_fetches: u64,
    /// GET misses that waited on a fetch already in flight.
    pub coalesced_waits: u64,
    /// Origin fetches that failed or timed out.
    pub origin_errors: u64,
    /// Misses answered from the negative cache.
    pub negative_hits: u64,
}

/// Where one reply of a read comes from.
#[derive(Clone, Copy, Debug)]
pub enum Src {
    /// Reply `i` the requesting core produced itself.
    Local(u32),
    /// Reply `i` of the batch for core `c`.
    Remote(u16, u32),
}

/// One step of a read's answer, in request order.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// One reply.
    One(Src),
    /// The next `n` steps merge into one reply (a split multi-key command).
    Group(Merge, u32),
}

/// Write the replies `steps` name, in order, merging groups.
pub fn assemble<'a>(
    steps: &[Step],
    resolve: impl Fn(Src) -> (Part, &'a [u8]),
    proto: Proto,
    out: &mut Vec<u8>,
) {
    let mut i = 0;
    while i < steps.len() {
        match steps[i] {
            Step::One(src) => {
                out.extend_from_slice(resolve(src).1);
                i += 1;
            }
            Step::Group(how, n) => {
                let n = n as usize;
                let parts = steps[i + 1..i + 1 + n].iter().map(|s| match s {
                    Step::One(src) => resolve(*src),
                    Step::Group(..) => unreachable!("groups do not nest"),
                });
                merge(how, parts, n, &mut Reply::new(out, proto));
                i += 1 + n;
            }
        }
    }
}

/// What the requesting core already answered of a read it hands over with
/// [`Hop::Direct`]: the owner runs its ops and writes the whole answer.
#[derive(Default, Debug)]
pub struct Finish {
    /// Replies written before the read needed another core.
    pub prefix: Vec<u8>,
    /// The read's steps; empty means "the owner's replies, in order".
    pub steps: Vec<Step>,
    /// Replies the requester produced itself, named by `Src::Local`.
    pub local: Replies,
}

impl Finish {
    /// The bytes to send: the prefix, then every step resolved against the
    /// requester's replies and the owner's `remote` replies. Takes the
    /// prefix; the steps and local replies stay, for [`Spare`].
    pub fn answer(&mut self, remote: Replies, proto: Proto) -> Vec<u8> {
        if self.steps.is_empty() && self.prefix.is_empty() {
            return remote.buf;
        }
        let mut out = std::mem::take(&mut self.prefix);
        // Merged groups add an array header or turn into one integer: a
        // little slack covers them in one allocation.
        out.reserve(self.local.buf.len() + remote.buf.len() + 16 * self.steps.len());
        if self.steps.is_empty() {
            out.extend_from_slice(&remote.buf);
            return out;
        }
        let local = &self.local;
        assemble(
            &self.steps,
            |src| match src {
                Src::Local(i) => local.part(i as usize),
                Src::Remote(_, i) => remote.part(i as usize),
            },
            proto,
            &mut out,
        );
        out
    }
}

/// The buffers of a delegated read, emptied and sent back with its
/// completion. The requesting core allocated most of them: it reuses them
/// for its next hop instead of the owner freeing them (freeing another
/// thread's memory costs more, and the next hop would allocate anew).
#[derive(Debug)]
pub struct Spare {
    /// The core that ran the batch: which of the plan's batches `ops` was.
    pub owner: usize,
    /// The batch, cleared.
    pub ops: OpBatch,
    /// The plan's steps, cleared.
    pub steps: Vec<Step>,
    /// The plan's local replies, cleared.
    pub local: Replies,
    /// The buffer the answer was written from, cleared.
    pub out: Vec<u8>,
}

impl Spare {
    /// Bytes of heap these buffers hold: a read that was one huge pipeline
    /// leaves buffers not worth keeping per connection.
    pub fn heap_bytes(&self) -> usize {
        self.ops.heap_bytes()
            + self.steps.capacity() * std::mem::size_of::<Step>()
            + self.local.buf.capacity()
            + self.local.ends.capacity() * std::mem::size_of::<usize>()
            + self.out.capacity()
    }

    /// Empty `ops`, `finish`'s buffers and `out` for their way back.
    pub fn new(owner: usize, mut ops: OpBatch, finish: Finish, mut out: Vec<u8>) -> Spare {
        let Finish {
            mut steps,
            mut local,
            ..
        } = finish;
        ops.clear();
        steps.clear();
        local.clear();
        out.clear();
        Spare {
            owner,
            ops,
            steps,
            local,
            out,
        }
    }
}

/// The end of a delegated read: how the write went, and its buffers.
#[derive(Debug)]
pub struct Finished {
    /// How the write went.
    pub outcome: Delegated,
    /// The read's buffers, for the requester to reuse.
    pub spare: Spare,
    /// Slow-log entries of its commands, for the requester to complete.
    pub slow: Vec<crate::cmd::slowlog::Draft>,
}

/// How a delegated batch ended (see [`Hop::Direct`]).
#[derive(Debug)]
pub enum Delegated {
    /// Every reply byte was written to the client socket.
    Done,
    /// The socket was full: the requesting core must write these bytes.
    Rest(Vec<u8>),
    /// The socket failed (the client is gone): close the connection.
    Failed,
}

/// A message from one core to another.
pub enum Hop {
    /// Run these ops and write the read's whole answer straight to the
    /// client's socket.
    ///
    /// Used when the receiving core is the only other core a read needs: the
    /// requester ships what it answered itself in `finish`, the owner runs
    /// its ops, assembles the answer in request order and writes it, and
    /// the requester is never woken for replies it would only copy. The
    /// requester awaits `done` before it writes anything else to, or
    /// closes, `fd` — so replies stay in order and the fd cannot be reused
    /// while the owner may still write to it.
    Direct {
        /// The ops, in the client's order.
        ops: OpBatch,
        /// The requester's part of the answer.
        finish: Finish,
        /// How to encode the replies.
        proto: Proto,
        /// The client socket.
        fd: std::os::fd::RawFd,
        /// Completion, read lazily by the requester.
        done: oneshot::Sender<Finished>,
        /// Held while a command of this read spans cores: dropped once the
        /// owner has run its ops, the command's last part.
        spanning: Option<super::multi::Spanning>,
    },
    /// Run these ops (all owned by the receiver) and answer in order.
    Ops {
        /// The ops, in the client's order.
        ops: OpBatch,
        /// How to encode the replies.
        proto: Proto,
        /// Where the replies go.
        reply: oneshot::Sender<Replies>,
    },
    /// Answer a whole-shard question.
    Query {
        /// The question.
        query: Query,
        /// Where the answer goes.
        reply: oneshot::Sender<Snapshot>,
    },
    /// WATCH these keys of the receiver for a connection of another core;
    /// answer their expiry deadlines.
    Watch {
        /// The keys.
        keys: Vec<Box<[u8]>>,
        /// The connection's watch.
        watch: std::sync::Arc<super::watch::Watch>,
        /// Deadlines of the keys that have a TTL (node-clock ms).
        reply: oneshot::Sender<Vec<u64>>,
    },
    /// CLIENT LIST: this core's connections that `filter` keeps.
    Clients {
        /// Which.
        filter: super::clients::Filter,
        /// Their lines, by id.
        reply: oneshot::Sender<Vec<(u64, String)>>,
    },
    /// CLIENT KILL: close this core's connections that `filter` keeps.
    Kill {
        /// Which.
        filter: super::clients::Filter,
        /// How many.
        reply: oneshot::Sender<usize>,
    },
    /// KEYS, SCAN or RANDOMKEY: answer this about the receiver's shard
    /// (see `node::keys`).
    Keys {
        /// The question.
        ask: super::keys::Ask,
        /// Where the answer goes.
        reply: oneshot::Sender<super::keys::Answer>,
    },
    /// A client of another core blocks on these keys of the receiver
    /// (see `node::blocking`); answered once it is registered.
    Block {
        /// The keys.
        keys: Vec<Box<[u8]>>,
        /// Who waits.
        waiter: super::blocking::Waiter,
        /// Registered.
        done: oneshot::Sender<()>,
    },
    /// Client `id` no longer waits on these keys of the receiver.
    Unblock {
        /// The keys.
        keys: Vec<Box<[u8]>>,
        /// The client.
        id: u64,
    },
    /// Use these compact-encoding sizes (CONFIG SET hash-max-listpack-entries …).
    Encodings(crate::store::Encodings),
    /// Zero the counters (CONFIG RESETSTAT).
    ResetStats,
    /// Take this share of a new node-wide maxmemory (CONFIG SET).
    Maxmemory(usize),
    /// Use this eviction policy (CONFIG SET maxmemory-policy).
    Eviction(crate::store::Eviction),
    /// CLIENT UNPAUSE: wake this core's connections held by a pause.
    Unpause,
    /// Be held by a transaction that spans cores: acknowledge, then block
    /// this core's thread, running only the transaction's [`TxMsg`]s,
    /// until it sends `Release` (see `node::multi`).
    Park {
        /// The transaction's messages to this core.
        inbox: std::sync::mpsc::Receiver<TxMsg>,
        /// Told once this core is held, with a pointer to it for the
        /// holder to run commands on its shard while it is held.
        ack: std::sync::mpsc::Sender<super::multi::Parked>,
    },
    /// Deliver a published message, or answer a PUBSUB question (see
    /// `node::pubsub`).
    Pubsub(super::pubsub::PubsubHop),
}

/// What a transaction sends a core it holds.
pub enum TxMsg {
    /// Run these parts in order and answer with their outcomes.
    Run {
        /// This core's share of the transaction, in transaction order.
        parts: Vec<TxPart>,
        /// How to encode replies.
        proto: Proto,
        /// Where the outcomes go.
        reply: std::sync::mpsc::Sender<Vec<TxOut>>,
    },
    /// The transaction is done: go back to serving everything.
    Release,
}

/// One core's share of a transaction: ops on its keys, or a whole-shard
/// question (DBSIZE, FLUSHALL, INFO inside MULTI), in transaction order.
#[derive(Debug)]
pub enum TxPart {
    /// Consecutive ops on this core's keys.
    Ops(OpBatch),
    /// A whole-shard question.
    Query(Query),
}

/// The outcome of one [`TxPart`].
#[derive(Debug)]
pub enum TxOut {
    /// The ops' replies.
    Replies(Replies),
    /// The shard's snapshot (after flushing, for `Query::Flush`).
    Snapshot(Snapshot),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(parts: &[&[u8]]) -> Replies {
        let mut r = Replies::default();
        for p in parts {
            r.buf.extend_from_slice(p);
            r.seal(Part::Reply);
        }
        r
    }

    #[test]
    fn answer_interleaves_prefix_local_remote_and_groups_in_request_order() {
        // PING (before the plan), GET remote, GET local, MGET local+remote, DEL remote+local.
        let mut finish = Finish {
            prefix: b"+PONG\r\n".to_vec(),
            steps: vec![
                Step::One(Src::Remote(1, 0)),
                Step::One(Src::Local(0)),
                Step::Group(Merge::Array, 2),
                Step::One(Src::Local(1)),
                Step::One(Src::Remote(1, 1)),
                Step::Group(Merge::Sum, 2),
                Step::One(Src::Remote(1, 2)),
                Step::One(Src::Local(2)),
            ],
            local: {
                let mut r = replies(&[b"$1\r\nb\r\n", b"$1\r\nx\r\n"]);
                r.seal(Part::Count(1));
                r
            },
        };
        let mut remote = replies(&[b"$1\r\na\r\n", b"$-1\r\n"]);
        remote.seal(Part::Count(1));
        assert_eq!(
            finish.answer(remote, Proto::Resp2),
            b"+PONG\r\n$1\r\na\r\n$1\r\nb\r\n*2\r\n$1\r\nx\r\n$-1\r\n:2\r\n".to_vec()
        );
    }

    #[test]
    fn spare_buffers_come_back_empty_with_their_capacity() {
        let mut ops = OpBatch::default();
        let (get, _) = crate::cmd::table::lookup(b"get").unwrap();
        ops.push(get, &[b"get", b"k"]);
        let mut finish = Finish {
            prefix: b":1\r\n".to_vec(),
            steps: vec![Step::One(Src::Local(0)), Step::One(Src::Remote(1, 0))],
            local: replies(&[b"+OK\r\n"]),
        };
        let out = finish.answer(replies(&[b"$-1\r\n"]), Proto::Resp2);
        assert_eq!(out, b":1\r\n+OK\r\n$-1\r\n".to_vec());
        let spare = Spare::new(1, ops, finish, out);
        assert_eq!(spare.owner, 1);
        assert!(spare.ops.is_empty() && spare.ops.capacity() > 0);
        assert!(spare.steps.is_empty() && spare.steps.capacity() >= 2);
        assert!(spare.local.buf.is_empty() && spare.local.ends.is_empty());
        assert!(spare.out.is_empty() && spare.out.capacity() > 0);
        assert!(spare.heap_bytes() > 0);
    }

    #[test]
    fn plain_answer_is_the_owners_replies_after_the_prefix() {
        let remote = replies(&[b"+OK\r\n", b"$1\r\n1\r\n"]);
        let bare = Finish::default().answer(replies(&[b"+OK\r\n", b"$1\r\n1\r\n"]), Proto::Resp2);
        assert_eq!(bare, b"+OK\r\n$1\r\n1\r\n".to_vec());
        let mut prefixed = Finish {
            prefix: b":7\r\n".to_vec(),
            ..Finish::default()
        };
        assert_eq!(
            prefixed.answer(remote, Proto::Resp2),
            b":7\r\n+OK\r\n$1\r\n1\r\n".to_vec()
        );
    }
}
