//! One core's shard of the keyspace: our map plus TTLs, LRU order, memory
//! accounting and counters. No I/O, no runtime, no clock: every call that
//! cares about time takes `now` (milliseconds on the node's monotonic clock),
//! so expiry and eviction are tested without sleeping.
//!
//! Invariants:
//! - every key with a TTL is in `expiring` exactly once, at `entry.ttl_idx`;
//! - with [`Eviction::Lru`], every key is in the LRU list exactly once;
//! - `used` is the sum of the collections' running byte totals.

pub mod bits;
mod entries;
pub mod float;
mod glob;
pub mod lazyfree;
pub mod lcs;
pub(crate) mod lru;
pub mod rdb;
pub(crate) mod record;
pub mod score;
mod shard;
mod stats;
pub mod types;
mod value;

pub use bits::{BitError, BitOp, BitposRange, Unit};
pub use entries::Val;
pub use float::LongDouble;
pub use glob::glob_match;
pub use lcs::{LcsError, LcsMatch, LcsTable};
pub use shard::keyspace::Deadline;
pub use shard::strings::GetExpiry;
pub use shard::typed::Write;
pub use shard::{
    parse_i64, Encodings, Eviction, ExpireCond, SetCond, SetExpiry, SetOutcome, Shard, ShardConfig,
    StoreError, Ttl,
};
pub use stats::ShardStats;
pub use value::{string_encoding, Coll, Type, Typed, Value};

/// What a write of a string entry is charged against `maxmemory` before
/// it runs: its record (`record.rs`) at the size class the slab gives it,
/// with room for a TTL, since a default TTL or a kept one may give it one.
/// Once written, an entry is charged what its record really takes.
#[inline]
pub fn entry_cost(key_len: usize, value_len: usize) -> usize {
    record::cost(record::TTL, key_len, value_len)
}
