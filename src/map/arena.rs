//! The entry arena: every key/value lives at one `u32` index from insert
//! until removal, and bucket chains link indices.
//!
//! # Layout
//! Entries sit in pages of [`PAGE`], each page two arrays: the link words
//! and the `(K, V)` pairs. A page is allocated once and never moves, so
//! growing the arena never copies an entry: the insert that would have
//! waited for a flat `Vec`'s copy (measured at 12.7 ms growing to 10M keys)
//! waits for one page allocation. Only the page directory is a `Vec`, 256
//! times smaller.
//!
//! An entry costs its pair plus one 4-byte link word, and nothing else: no
//! stored hash (the map rehashes a key when a rehash moves it, and compares
//! keys, not hashes, on a chain walk: chains average under 1.4 nodes at
//! load 0.75) and no enum tag. For `u64` keys and values that is 20 bytes,
//! against the 17 of std's table at 7/8 load; with our 4-byte bucket heads
//! at load 0.375–0.75 the whole map stays within std's heap.
//!
//! # The link word
//! A live entry's word is its chain successor (an index, or `NIL`). A free
//! entry's word has [`VACANT`] set and continues the free list in the other
//! bits. Indices stay below `FREE_END` (2^31 − 2), so the two never meet:
//! `NIL` is `u32::MAX` and no free word is.

use std::borrow::Borrow;
use std::mem::{self, MaybeUninit};

/// End of a chain. `u32` links keep a node small; the highest index is
/// given up so the sentinel needs no `Option` tag.
pub(super) const NIL: u32 = u32::MAX;
/// Entries per page; a power of two so an index splits with a shift.
const PAGE: usize = 256;
/// Set in a free entry's link word.
const VACANT: u32 = 1 << 31;
/// End of the free list, inside a free word (`VACANT | FREE_END` is not `NIL`).
const FREE_END: u32 = VACANT - 2;

/// True for the link word of a live entry.
#[inline]
fn live(word: u32) -> bool {
    word < VACANT || word == NIL
}

/// One page: link words and pairs, `pairs[i]` initialised exactly when
/// `links[i]` is live.
struct Page<K, V> {
    links: [u32; PAGE],
    pairs: [MaybeUninit<(K, V)>; PAGE],
}

impl<K, V> Page<K, V> {
    /// A page of free entries (their words are rewritten as they are used).
    fn new() -> Box<Self> {
        let mut page = Box::<Self>::new_uninit();
        // SAFETY: `links` is written in full here; `pairs` is an array of
        // `MaybeUninit`, which needs no initialisation.
        unsafe {
            std::ptr::addr_of_mut!((*page.as_mut_ptr()).links).write([VACANT | FREE_END; PAGE]);
            page.assume_init()
        }
    }
}

/// Entry storage with a free list.
pub(super) struct Arena<K, V> {
    pages: Vec<Box<Page<K, V>>>,
    /// One past the highest index handed out.
    limit: u32,
    /// Head of the free list, or `FREE_END`.
    free: u32,
}

impl<K, V> Arena<K, V> {
    /// An empty arena whose directory has room for `n` entries' pages.
    pub(super) fn with_capacity(n: usize) -> Self {
        Arena {
            pages: Vec::with_capacity(n.div_ceil(PAGE)),
            limit: 0,
            free: FREE_END,
        }
    }

    /// One past the highest index ever handed out (free ones included).
    #[inline]
    pub(super) fn limit(&self) -> u32 {
        self.limit
    }

    /// Bytes of pages and directory.
    pub(super) fn heap_bytes(&self) -> usize {
        self.pages.len() * mem::size_of::<Page<K, V>>()
            + self.pages.capacity() * mem::size_of::<Box<Page<K, V>>>()
    }

    /// Bytes of the directory alone.
    #[cfg(test)]
    pub(super) fn pages_capacity_bytes(&self) -> usize {
        self.pages.capacity() * mem::size_of::<Box<Page<K, V>>>()
    }

    /// Makes the directory hold pages for `total` entries in all.
    pub(super) fn reserve_total(&mut self, total: usize) {
        let pages = total.div_ceil(PAGE);
        if let Some(more) = pages.checked_sub(self.pages.len()) {
            self.pages.reserve_exact(more);
        }
    }

    #[inline]
    fn word(&self, i: u32) -> u32 {
        match self.pages.get(i as usize / PAGE) {
            Some(p) if i < self.limit => p.links[i as usize % PAGE],
            _ => VACANT | FREE_END,
        }
    }

    #[inline]
    fn word_mut(&mut self, i: u32) -> &mut u32 {
        &mut self.pages[i as usize / PAGE].links[i as usize % PAGE]
    }

    /// Drops every entry; all indices become invalid.
    pub(super) fn clear(&mut self) {
        self.drop_live();
        self.pages.clear();
        self.limit = 0;
        self.free = FREE_END;
    }

    fn drop_live(&mut self) {
        if !mem::needs_drop::<(K, V)>() {
            return;
        }
        for i in 0..self.limit {
            if live(self.word(i)) {
                let p = &mut self.pages[i as usize / PAGE];
                // SAFETY: a live word means the pair is initialised; the
                // caller forgets every entry right after.
                unsafe { p.pairs[i as usize % PAGE].assume_init_drop() };
            }
        }
    }

    /// Stores a node (its successor `NIL` until linked) and returns its
    /// index.
    ///
    /// # Panics
    /// If 2^31 − 2 entries are already live.
    #[inline]
    pub(super) fn alloc(&mut self, key: K, value: V) -> u32 {
        let i = if self.free != FREE_END {
            let i = self.free;
            self.free = self.word(i) & !VACANT;
            i
        } else {
            let i = self.limit;
            assert!(i < FREE_END, "map arena is full (2^31 entries)");
            if (i as usize).is_multiple_of(PAGE) {
                self.pages.push(Page::new());
            }
            self.limit += 1;
            i
        };
        let p = &mut self.pages[i as usize / PAGE];
        p.pairs[i as usize % PAGE].write((key, value));
        p.links[i as usize % PAGE] = NIL;
        i
    }

    /// Frees live entry `i`, returning its key and value; `None` if free.
    #[inline]
    pub(super) fn free(&mut self, i: u32) -> Option<(K, V)> {
        if !live(self.word(i)) {
            return None;
        }
        let free = self.free;
        let p = &mut self.pages[i as usize / PAGE];
        p.links[i as usize % PAGE] = VACANT | free;
        self.free = i;
        // SAFETY: the word was live, so the pair is initialised; the word
        // now says free, so it is never read again.
        Some(unsafe { p.pairs[i as usize % PAGE].assume_init_read() })
    }

    /// Hint the CPU to load entry `i`.
    #[inline]
    pub(super) fn prefetch(&self, i: u32) {
        if let Some(p) = self.pages.get(i as usize / PAGE) {
            super::prefetch::read(&p.pairs[i as usize % PAGE]);
        }
    }

    /// Key and value of a live entry.
    #[inline]
    pub(super) fn get(&self, i: u32) -> Option<(&K, &V)> {
        if !live(self.word(i)) {
            return None;
        }
        // SAFETY: live word, initialised pair.
        let (k, v) =
            unsafe { self.pages[i as usize / PAGE].pairs[i as usize % PAGE].assume_init_ref() };
        Some((k, v))
    }

    /// Key and mutable value of a live entry.
    #[inline]
    pub(super) fn get_mut(&mut self, i: u32) -> Option<(&K, &mut V)> {
        if !live(self.word(i)) {
            return None;
        }
        // SAFETY: live word, initialised pair.
        let (k, v) =
            unsafe { self.pages[i as usize / PAGE].pairs[i as usize % PAGE].assume_init_mut() };
        Some((&*k, v))
    }

    /// The chain successor of live entry `i` (`NIL` for a free one, which
    /// ends any walk that reaches it).
    #[inline]
    pub(super) fn next(&self, i: u32) -> u32 {
        let w = self.word(i);
        if live(w) {
            w
        } else {
            NIL
        }
    }

    /// Points live entry `i` at a new successor.
    #[inline]
    pub(super) fn set_next(&mut self, i: u32, to: u32) {
        if live(self.word(i)) {
            *self.word_mut(i) = to;
        }
    }

    /// Walks the chain starting at `head` for `key`: `(predecessor, index)`,
    /// the predecessor `NIL` when the match is the head.
    #[inline]
    pub(super) fn find<Q>(&self, head: u32, key: &Q) -> Option<(u32, u32)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut prev = NIL;
        let mut i = head;
        while let Some((k, _)) = self.get(i) {
            if k.borrow() == key {
                return Some((prev, i));
            }
            prev = i;
            i = self.next(i);
        }
        None
    }
}

impl<K, V> Drop for Arena<K, V> {
    fn drop(&mut self) {
        self.drop_live();
    }
}

impl<K: Clone, V: Clone> Clone for Arena<K, V> {
    fn clone(&self) -> Self {
        let mut pages: Vec<Box<Page<K, V>>> = Vec::with_capacity(self.pages.len());
        for (n, src) in self.pages.iter().enumerate() {
            let mut page = Page::new();
            for j in 0..PAGE {
                let i = (n * PAGE + j) as u32;
                let w = src.links[j];
                if i < self.limit && live(w) {
                    // SAFETY: live word, initialised pair.
                    let pair = unsafe { src.pairs[j].assume_init_ref() };
                    page.pairs[j].write(pair.clone());
                }
                // Written after the pair: a panicking clone leaves this
                // entry free, so the page never drops an unwritten pair.
                page.links[j] = w;
            }
            pages.push(page);
        }
        Arena {
            pages,
            limit: self.limit,
            free: self.free,
        }
    }
}
