//! `used_memory_peak`: the most memory the node has held, as INFO and
//! MEMORY STATS report it.
//!
//! Each core posts its shard's `used_bytes` after every expiry sweep (ten
//! times a second) and the sum is folded into the peak then, and again
//! whenever INFO or MEMORY STATS computes the total itself. Redis samples
//! its peak from `serverCron` the same way, so a spike shorter than a
//! sweep can be missed by both.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Each core's last posted shard memory and the node's peak.
pub struct MemPeak {
    per_core: Box<[AtomicUsize]>,
    peak: AtomicUsize,
}

impl MemPeak {
    /// Nothing posted yet, for `cores` cores.
    pub fn new(cores: usize) -> Self {
        MemPeak {
            per_core: (0..cores).map(|_| AtomicUsize::new(0)).collect(),
            peak: AtomicUsize::new(0),
        }
    }

    /// Core `core`'s shard now holds `used` bytes; `extra` is what the node
    /// holds beside the shards (client buffers).
    pub fn post(&self, core: usize, used: usize, extra: usize) {
        if let Some(c) = self.per_core.get(core) {
            c.store(used, Ordering::Relaxed);
        }
        let total: usize = self
            .per_core
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        self.observe(total + extra);
    }

    /// Folds a total computed elsewhere into the peak; returns the peak.
    pub fn observe(&self, total: usize) -> usize {
        self.peak.fetch_max(total, Ordering::Relaxed).max(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_highest_sum_seen() {
        let p = MemPeak::new(2);
        p.post(0, 100, 10);
        p.post(1, 50, 10);
        assert_eq!(p.observe(0), 160);
        p.post(0, 10, 0);
        assert_eq!(p.observe(0), 160);
        assert_eq!(p.observe(500), 500);
    }
}
