//! Per-shard counters: plain integers owned by the shard's core and summed
//! across cores only when someone reads them (INFO, METRICS).

use serde::Serialize;

/// Counters kept by one shard.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ShardStats {
    /// Reads that found a live key.
    pub hits: u64,
    /// Reads that found nothing (or an expired key).
    pub misses: u64,
    /// Keys removed because their TTL passed (lazily or by the sweeper).
    pub expired: u64,
    /// Keys removed to stay within capacity or maxmemory.
    pub evicted: u64,
    /// Writes refused because of maxmemory with no eviction policy.
    pub oom_rejections: u64,
}

impl ShardStats {
    /// Add another shard's counters into this one.
    pub fn merge(&mut self, o: &ShardStats) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.expired += o.expired;
        self.evicted += o.evicted;
        self.oom_rejections += o.oom_rejections;
    }
}
