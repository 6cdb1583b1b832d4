//! Cluster mode's shared parts: the slot map the LB computes and every node
//! follows, its text form on the registration link, and the CLUSTER replies
//! both the LB and the nodes give from it. No I/O, no clock.
//!
//! - [`map`]: the [`SlotMap`](map::SlotMap) (16384 slots → shards, an epoch)
//!   and [`map::compute`], the one function that derives it from the
//!   members, moving as few slots as it can.
//! - [`wire`]: the `RENEW`/`GRANT` lines of the ownership lease, which carry
//!   a newer map to a node.
//! - [`reply`]: CLUSTER SLOTS, SHARDS, NODES and INFO in the formats
//!   redis-cli, redis-benchmark, redis-py and the `redis` crate parse.

pub mod map;
pub mod reply;
pub mod wire;

pub use map::{compute, Shard, SlotMap};
