//! One bucket table: a power-of-two array of chain heads, in chunks.
//!
//! Why chunks: at millions of keys a table is tens of megabytes, and both
//! ends of its life used to land on one insert. Allocating it zeroed was
//! cheap (fresh pages), but dropping the drained old table at the end of a
//! rehash gave all its pages back at once: 8–13 ms on the insert that
//! finished a rehash to 16M buckets. Here a big table is chunks of 2^16
//! heads (256 KiB), each allocated when a head in it is first written and
//! dropped as soon as the rehash has drained it, so no insert pays for more
//! than one chunk. A table of at most 2^16 buckets is one chunk of exactly
//! its size, so small maps (a hash's fields) stay small. A lookup pays one
//! more load, of a directory that is a few kilobytes.

use super::arena::NIL;
use std::mem;

/// Heads per chunk of a big table.
const CHUNK: usize = 1 << 16;

/// Chain heads, one per bucket.
///
/// Heads are stored bit-inverted (`!index`) so that an all-zero chunk means
/// "every bucket empty", and a chunk comes from `vec![0; n]`, which the
/// allocator serves as fresh zeroed pages instead of a memset.
#[derive(Clone, Default)]
pub(super) struct Table {
    /// `None` until a head in it is written, and again once drained.
    chunks: Vec<Option<Box<[u32]>>>,
    /// Heads per chunk: `min(buckets, CHUNK)`, a power of two.
    chunk_len: usize,
    /// `log2(chunk_len)`.
    shift: u32,
    /// `buckets - 1`, or 0 for the unallocated table.
    mask: usize,
    buckets: usize,
}

impl Table {
    /// A table of `buckets` empty buckets; `buckets` must be a power of two.
    pub(super) fn with_buckets(buckets: usize) -> Self {
        debug_assert!(buckets.is_power_of_two());
        let chunk_len = buckets.min(CHUNK);
        Table {
            chunks: (0..buckets / chunk_len).map(|_| None).collect(),
            chunk_len,
            shift: chunk_len.trailing_zeros(),
            mask: buckets - 1,
            buckets,
        }
    }

    /// Number of buckets (0 before the first allocation).
    #[inline]
    pub(super) fn buckets(&self) -> usize {
        self.buckets
    }

    /// `buckets() - 1` (0 for the unallocated table): the hash bits used.
    #[inline]
    pub(super) fn mask(&self) -> usize {
        self.mask
    }

    /// True if this table has no buckets at all.
    #[inline]
    pub(super) fn is_unallocated(&self) -> bool {
        self.buckets == 0
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
        match &self.chunks[b >> self.shift] {
            Some(c) => !c[b & (self.chunk_len - 1)],
            None => NIL,
        }
    }

    /// Hint the CPU to load bucket `b`'s head.
    #[inline]
    pub(super) fn prefetch(&self, b: usize) {
        if let Some(Some(c)) = self.chunks.get(b >> self.shift) {
            super::prefetch::read(&c[b & (self.chunk_len - 1)]);
        }
    }

    /// Makes `i` the first node of bucket `b`.
    #[inline]
    pub(super) fn set_head(&mut self, b: usize, i: u32) {
        let len = self.chunk_len;
        let slot = &mut self.chunks[b >> self.shift];
        if slot.is_none() && i == NIL {
            return;
        }
        let c = slot.get_or_insert_with(|| chunk(len));
        c[b & (len - 1)] = !i;
    }

    /// Drops the chunks wholly below bucket `b`, which must all be empty
    /// (what a rehash has drained).
    #[inline]
    pub(super) fn release_below(&mut self, b: usize) {
        let end = (b >> self.shift).min(self.chunks.len());
        for c in &mut self.chunks[..end] {
            if c.is_some() {
                *c = None;
            }
        }
    }

    /// Empties every bucket (their chunks are freed; the bucket count stays).
    pub(super) fn clear(&mut self) {
        self.chunks.iter_mut().for_each(|c| *c = None);
    }

    /// Bytes reserved for heads and the directory.
    pub(super) fn heap_bytes(&self) -> usize {
        let live = self.chunks.iter().filter(|c| c.is_some()).count();
        live * self.chunk_len * mem::size_of::<u32>()
            + self.chunks.capacity() * mem::size_of::<Option<Box<[u32]>>>()
    }
}

/// A chunk of `len` empty heads, its page faults taken now (`map::touch`).
#[cold]
fn chunk(len: usize) -> Box<[u32]> {
    let mut c = vec![0u32; len].into_boxed_slice();
    // SAFETY: the chunk's own zeroed memory, written with zeros.
    unsafe { super::touch::touch(c.as_mut_ptr().cast(), mem::size_of_val(&*c)) };
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_and_go_with_their_heads() {
        let mut t = Table::with_buckets(1 << 18);
        assert_eq!(t.heap_bytes(), 4 * 16);
        assert_eq!(t.head(12345), NIL);
        t.set_head(12345, NIL);
        assert_eq!(t.heap_bytes(), 4 * 16, "writing NIL allocates nothing");
        t.set_head(12345, 7);
        t.set_head(3 << 16, 9);
        assert_eq!((t.head(12345), t.head(3 << 16)), (7, 9));
        assert_eq!(t.heap_bytes(), 2 * CHUNK * 4 + 4 * 16);
        t.set_head(12345, NIL);
        t.release_below(1 << 16);
        assert_eq!(t.heap_bytes(), CHUNK * 4 + 4 * 16);
        assert_eq!(t.head(12345), NIL);
        let small = Table::with_buckets(8);
        assert_eq!(small.chunk_len, 8);
    }
}
