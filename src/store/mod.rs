//! One core's shard of the keyspace: our map plus TTLs, LRU order, memory
//! accounting and counters. No I/O, no runtime, no clock: every call that
//! cares about time takes `now` (milliseconds on the node's monotonic clock),
//! so expiry and eviction are tested without sleeping.
//!
//! Invariants:
//! - every key with a TTL is in `expiring` exactly once, at `entry.ttl_idx`;
//! - with [`Eviction::Lru`], every key is in the LRU list exactly once;
//! - `used` is the sum of [`entry_cost`] over all entries.

pub mod bits;
pub mod float;
mod glob;
pub mod lazyfree;
pub mod lcs;
mod lru;
pub mod rdb;
pub mod score;
mod shard;
mod stats;
pub mod types;
mod value;

pub use bits::{BitError, BitOp, BitposRange, Unit};
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

/// Bytes we charge for one entry beyond its key and value: the arena node
/// (hash, chain link, two boxed slices, expiry, index), a bucket share, the
/// LRU links and the allocator's per-allocation headers. An estimate; the
/// RSS check in the integration tests keeps it honest.
pub const ENTRY_OVERHEAD: usize = 96;

/// What one entry costs against `maxmemory`.
#[inline]
pub fn entry_cost(key_len: usize, value_len: usize) -> usize {
    key_len + value_len + ENTRY_OVERHEAD
}
