//! The entry arena: every key/value lives in one `Vec` slot from insert until
//! removal, and bucket chains link slots by `u32` index.
//!
//! One flat `Vec` rather than fixed-size chunks: a chunked arena never
//! copies on growth, but its extra directory hop cost ~40% on `get` at 1M
//! keys when measured. The price of the flat `Vec` is that growing it may
//! copy the arena (glibc `mremap`s blocks past its mmap threshold instead,
//! so the copy is at most ~32 MiB; measured up to ~9 ms). That is far less
//! than a full rehash, and the map sizes the arena together with each table
//! grow (see `reserve_total`), so it happens once per doubling.
//!
//! Vacant slots form a LIFO free list threaded through `Entry::Vacant`, so a
//! removal followed by an insert reuses the hot slot instead of growing the
//! `Vec`. The arena knows nothing about buckets; it only stores each node's
//! full hash and `next` link so the tables can relink nodes without touching
//! keys.

use super::chains::Links;
use std::borrow::Borrow;
use std::mem;

/// End of a chain or of the free list. `u32` links keep a node small; the
/// highest index is given up so the sentinel needs no `Option` tag.
pub(super) const NIL: u32 = u32::MAX;

/// One arena slot.
///
/// The fields sit inline in the variant (not in a nested struct) so rustc can
/// put the tag in the padding next to `next`: for `u64` keys and values a slot
/// is 32 bytes instead of 40.
#[derive(Clone)]
pub(super) enum Entry<K, V> {
    /// A live node in some bucket chain.
    Occupied {
        hash: u64,
        next: u32,
        key: K,
        value: V,
    },
    /// A free slot; `next_free` continues the free list.
    Vacant { next_free: u32 },
}

/// Slot storage with a free list.
#[derive(Clone)]
pub(super) struct Arena<K, V> {
    entries: Vec<Entry<K, V>>,
    /// Head of the free list, or `NIL`.
    free: u32,
}

impl<K, V> Arena<K, V> {
    /// An empty arena with room for `n` entries.
    pub(super) fn with_capacity(n: usize) -> Self {
        Arena {
            entries: Vec::with_capacity(n),
            free: NIL,
        }
    }

    /// One past the highest index ever handed out (vacant slots included).
    #[inline]
    pub(super) fn limit(&self) -> u32 {
        // `alloc` never lets the length pass `NIL`, so this cannot truncate.
        self.entries.len() as u32
    }

    /// Bytes reserved for slots.
    pub(super) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * mem::size_of::<Entry<K, V>>()
    }

    /// Reserves room for `additional` more slots beyond those already free.
    pub(super) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Makes room for `total` slots in all, allocating exactly that many so
    /// the arena's capacity tracks the bucket table's instead of `Vec`'s own
    /// doubling (which would hold up to 33% more unused slots).
    pub(super) fn reserve_total(&mut self, total: usize) {
        if let Some(more) = total.checked_sub(self.entries.len()) {
            self.entries.reserve_exact(more);
        }
    }

    /// Drops every entry; all indices become invalid.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.free = NIL;
    }

    /// Stores a node and returns its index.
    ///
    /// # Panics
    /// If `u32::MAX - 1` slots are already live (about 128 GiB of nodes).
    #[inline]
    pub(super) fn alloc(&mut self, hash: u64, next: u32, key: K, value: V) -> u32 {
        let node = Entry::Occupied {
            hash,
            next,
            key,
            value,
        };
        if self.free != NIL {
            let i = self.free;
            let slot = &mut self.entries[i as usize];
            if let Entry::Vacant { next_free } = *slot {
                self.free = next_free;
            }
            *slot = node;
            return i;
        }
        let i = self.entries.len();
        assert!(i < NIL as usize, "map arena is full (u32 index space)");
        self.entries.push(node);
        i as u32
    }

    /// Frees slot `i`, returning its chain successor, key and value; `None`
    /// if vacant.
    #[inline]
    pub(super) fn free(&mut self, i: u32) -> Option<(u32, K, V)> {
        let slot = self.entries.get_mut(i as usize)?;
        if matches!(slot, Entry::Vacant { .. }) {
            return None;
        }
        let vacant = Entry::Vacant {
            next_free: self.free,
        };
        match mem::replace(slot, vacant) {
            Entry::Occupied {
                next, key, value, ..
            } => {
                self.free = i;
                Some((next, key, value))
            }
            Entry::Vacant { .. } => None,
        }
    }

    /// The stored hash of a live slot.
    #[inline]
    pub(super) fn hash_at(&self, i: u32) -> Option<u64> {
        match self.entries.get(i as usize) {
            Some(Entry::Occupied { hash, .. }) => Some(*hash),
            _ => None,
        }
    }

    /// Hint the CPU to load slot `i`.
    #[inline]
    pub(super) fn prefetch(&self, i: u32) {
        if let Some(e) = self.entries.get(i as usize) {
            super::prefetch::read(e);
        }
    }

    /// Key and value of a live slot.
    #[inline]
    pub(super) fn get(&self, i: u32) -> Option<(&K, &V)> {
        match self.entries.get(i as usize) {
            Some(Entry::Occupied { key, value, .. }) => Some((key, value)),
            _ => None,
        }
    }

    /// Key and mutable value of a live slot.
    #[inline]
    pub(super) fn get_mut(&mut self, i: u32) -> Option<(&K, &mut V)> {
        match self.entries.get_mut(i as usize) {
            Some(Entry::Occupied { key, value, .. }) => Some((key, value)),
            _ => None,
        }
    }

    /// Walks the chain starting at `head` for `key`.
    ///
    /// Returns `(predecessor, index)`; the predecessor is `NIL` when the match
    /// is the chain head. Hashes are compared first so a long chain costs one
    /// integer compare per node, not one key compare.
    #[inline]
    pub(super) fn find<Q>(&self, head: u32, hash: u64, key: &Q) -> Option<(u32, u32)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut prev = NIL;
        let mut i = head;
        while let Some(Entry::Occupied {
            hash: h,
            next,
            key: k,
            ..
        }) = self.entries.get(i as usize)
        {
            if *h == hash && k.borrow() == key {
                return Some((prev, i));
            }
            prev = i;
            i = *next;
        }
        None
    }

    /// All slots in index order, for iteration.
    #[inline]
    pub(super) fn entries(&self) -> &[Entry<K, V>] {
        &self.entries
    }

    /// All slots in index order, mutably, for iteration.
    #[inline]
    pub(super) fn entries_mut(&mut self) -> &mut [Entry<K, V>] {
        &mut self.entries
    }
}

impl<K, V> Links for Arena<K, V> {
    /// `NIL` for a vacant slot, which ends any walk that reaches it.
    #[inline]
    fn next(&self, i: u32) -> u32 {
        match self.entries.get(i as usize) {
            Some(Entry::Occupied { next, .. }) => *next,
            _ => NIL,
        }
    }

    #[inline]
    fn set_next(&mut self, i: u32, to: u32) {
        if let Some(Entry::Occupied { next, .. }) = self.entries.get_mut(i as usize) {
            *next = to;
        }
    }

    #[inline]
    fn hash(&self, i: u32) -> u64 {
        self.hash_at(i).unwrap_or(0)
    }
}
