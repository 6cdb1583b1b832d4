//! Messages between cores. A request for a key another core owns travels as
//! a [`Hop`] carrying its own copy of the data and a reply channel; a client
//! connection batches every op of one read for the same owner into one hop.

use crate::cmd::Op;
use crate::proto::Dialect;
use crate::store::ShardStats;
use futures_channel::oneshot;
use serde::Serialize;

/// Encoded replies of a batch: reply `i` is `buf[ends[i-1]..ends[i]]`.
#[derive(Default, Debug)]
pub struct Replies {
    /// The replies, back to back, in the dialect the batch asked for.
    pub buf: Vec<u8>,
    /// End offset of each reply in `buf`.
    pub ends: Vec<usize>,
}

impl Replies {
    /// Reply `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    /// Close the reply just written at the end of `buf`.
    pub fn seal(&mut self) {
        self.ends.push(self.buf.len());
    }

    /// Forget all replies, keeping capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
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
    /// Bytes charged against maxmemory.
    pub used_memory: usize,
    /// Hits, misses, expirations, evictions.
    pub shard: ShardStats,
    /// Commands run, by name, on connections this core accepted.
    pub commands: Vec<(String, u64)>,
    /// Connections this core accepted.
    pub connections_received: u64,
    /// Connections refused because of maxclients.
    pub rejected_connections: u64,
    /// Batches this core sent to other cores.
    pub hops_sent: u64,
    /// Ops other cores sent here to run.
    pub hop_ops_served: u64,
    /// Read-through fetches sent to the origin.
    pub origin_fetches: u64,
    /// GET misses that waited on a fetch already in flight.
    pub coalesced_waits: u64,
    /// Origin fetches that failed or timed out.
    pub origin_errors: u64,
    /// Misses answered from the negative cache.
    pub negative_hits: u64,
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
    /// Run these ops and write the replies straight to the client's socket.
    ///
    /// Used when every request of a read belongs to the receiving core: the
    /// requester then has nothing to add, so the owner answers the client
    /// itself and the requester is not woken for a reply it would only copy.
    /// The requester awaits `done` before it writes anything else to, or
    /// closes, `fd` — so replies stay in order and the fd cannot be reused
    /// while the owner may still write to it.
    Direct {
        /// The ops, in the client's order.
        ops: Vec<Op<Box<[u8]>>>,
        /// How to encode the replies.
        dialect: Dialect,
        /// The client socket.
        fd: std::os::fd::RawFd,
        /// Completion, read lazily by the requester.
        done: oneshot::Sender<Delegated>,
    },
    /// Run these ops (all owned by the receiver) and answer in order.
    Ops {
        /// The ops, in the client's order.
        ops: Vec<Op<Box<[u8]>>>,
        /// How to encode the replies.
        dialect: Dialect,
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
}
