//! One bucket table: a power-of-two array of chain heads.

use super::arena::NIL;
use std::mem;

/// Chain heads, one per bucket.
///
/// Heads are stored bit-inverted (`!index`) so that an all-zero array means
/// "every bucket empty". That lets a new table come from `vec![0; n]`, which
/// the allocator serves as fresh zeroed pages (calloc/mmap) instead of a
/// memset of the whole table: growing to 16M buckets costs no 64 MiB write
/// on the inserting call, and pages fault in as the rehash reaches them.
#[derive(Clone, Default)]
pub(super) struct Table {
    heads: Vec<u32>,
    /// `heads.len() - 1`, or 0 for the unallocated table.
    mask: usize,
}

impl Table {
    /// A table of `buckets` empty buckets; `buckets` must be a power of two.
    pub(super) fn with_buckets(buckets: usize) -> Self {
        debug_assert!(buckets.is_power_of_two());
        Table {
            heads: vec![0; buckets],
            mask: buckets - 1,
        }
    }

    /// Number of buckets (0 before the first allocation).
    #[inline]
    pub(super) fn buckets(&self) -> usize {
        self.heads.len()
    }

    /// `buckets() - 1` (0 for the unallocated table): the hash bits used.
    #[inline]
    pub(super) fn mask(&self) -> usize {
        self.mask
    }

    /// True if this table has no buckets at all.
    #[inline]
    pub(super) fn is_unallocated(&self) -> bool {
        self.heads.is_empty()
    }

    /// The bucket a hash falls in. Only meaningful for an allocated table.
    #[inline]
    pub(super) fn bucket(&self, hash: u64) -> usize {
        // Truncation on 32-bit targets is fine: only the low bits are used.
        hash as usize & self.mask
    }

    /// First node of bucket `b`, or `NIL`.
    #[inline]
    pub(super) fn head(&self, b: usize) -> u32 {
        !self.heads[b]
    }

    /// Hint the CPU to load bucket `b`'s head.
    #[inline]
    pub(super) fn prefetch(&self, b: usize) {
        if let Some(h) = self.heads.get(b) {
            super::prefetch::read(h);
        }
    }

    /// Makes `i` the first node of bucket `b`.
    #[inline]
    pub(super) fn set_head(&mut self, b: usize, i: u32) {
        self.heads[b] = !i;
    }

    /// Empties every bucket, keeping the allocation.
    pub(super) fn clear(&mut self) {
        self.heads.fill(!NIL);
    }

    /// Bytes reserved for heads.
    pub(super) fn heap_bytes(&self) -> usize {
        self.heads.capacity() * mem::size_of::<u32>()
    }
}
