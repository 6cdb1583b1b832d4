//! cachectl: a distributed in-memory cache — thread-per-core nodes on
//! io_uring, a control plane that hands out leases, and a C50K load driver,
//! in one binary.
//!
//! Layers, bottom up (each depends only on the ones above it in this list):
//! - [`map`]: our own chained hash map with incremental rehash and stable slots.
//! - [`store`]: one core's shard: the map plus TTL, LRU, memory accounting.
//!   No I/O, no clock (time is passed in).
//! - [`proto`]: bytes ↔ frames (RESP2, inline, seed 000's line protocol). No I/O.
//! - [`cmd`]: frames → typed commands → replies, run against a shard.
//! - [`shard_for`](ownership::shard_for): the one function that decides which
//!   core (and, in a cluster, which slot) owns a key.
//! - [`cluster`]: the slot map of cluster mode, its wire form and the
//!   CLUSTER replies, shared by the LB and the node. No I/O.
//! - [`roles`]: sockets, executors and tasks: `node` (data plane), `lb`
//!   (control plane: leases or proxy), `bench` (load driver), `origin`
//!   (source of truth), `client` (CLI), `cluster` (local cluster).
//! - [`link`]: the REGISTER line a node opens its LB link with.
//! - [`sys`]: process-level plumbing (file limits, listening sockets);
//!   [`addr`] and [`units`]: `host:port` and byte-size flags every role takes;
//!   [`secret`]: the cluster secret and its challenge-responses (LB, node).

pub mod addr;
pub mod cluster;
pub mod cmd;
pub mod link;
pub mod map;
pub mod ownership;
pub mod protected;
pub mod proto;
pub mod roles;
pub mod secret;
pub mod store;
pub mod sys;
pub mod units;
