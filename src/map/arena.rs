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
//! # Blocks
//! Pages are allocated one at a time while the arena is small, and in
//! blocks of [`BLOCK`] pages once it holds [`BIG`] pages, each block's
//! memory touched when it is allocated. Why: fresh memory costs a page
//! fault on its first write, and at ~20 bytes an entry a 4 KiB page of
//! pairs faulted on one insert in ~200, so a fault (several µs on this VM)
//! was the map's p99.9. A block takes its ~40 faults at once, on one
//! insert in 8192, which is off the p99.9 and far below 1 ms.
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
use std::ptr::NonNull;

/// End of a chain. `u32` links keep a node small; the highest index is
/// given up so the sentinel needs no `Option` tag.
pub(super) const NIL: u32 = u32::MAX;
/// Entries per page; a power of two so an index splits with a shift.
const PAGE: usize = 256;
/// Pages per block once the arena is big.
const BLOCK: usize = 32;
/// Pages an arena holds before it allocates them in blocks: below this a
/// block's spare pages would be a real share of a small map's memory.
const BIG: usize = 256;
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

/// One allocation of `len` pages of free entries, owned by the arena and
/// freed only when it is cleared or dropped.
struct Block<K, V> {
    first: NonNull<Page<K, V>>,
    len: usize,
}

impl<K, V> Block<K, V> {
    /// `len` pages of free entries; with `touch`, every OS page of them
    /// written once now (see the module docs).
    fn new(len: usize, touch: bool) -> Self {
        let mut pages = Box::<[Page<K, V>]>::new_uninit_slice(len);
        for page in pages.iter_mut() {
            let page = page.as_mut_ptr();
            // SAFETY: `page` points at this block's memory, of one `Page`.
            // `links` is written in full; `pairs` is an array of
            // `MaybeUninit`, whose bytes may hold anything.
            unsafe {
                std::ptr::addr_of_mut!((*page).links).write([VACANT | FREE_END; PAGE]);
                if touch {
                    let pairs = std::ptr::addr_of_mut!((*page).pairs);
                    super::touch::touch(pairs.cast(), mem::size_of_val(&*pairs));
                }
            }
        }
        // SAFETY: every page's `links` is initialised above, and `pairs`
        // needs no initialisation.
        let pages = unsafe { pages.assume_init() };
        let first = NonNull::new(Box::into_raw(pages).cast::<Page<K, V>>()).expect("a box");
        Block { first, len }
    }

    /// Page `n` of the block.
    fn page(&self, n: usize) -> NonNull<Page<K, V>> {
        debug_assert!(n < self.len);
        // SAFETY: within the block's allocation.
        unsafe { self.first.add(n) }
    }
}

impl<K, V> Drop for Block<K, V> {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.first.as_ptr(), self.len);
        // SAFETY: made by `Box::into_raw` of a boxed slice of `len` pages in
        // `Block::new`, freed only here. A `Page` has no drop of its own:
        // the arena drops its live pairs first.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Entry storage with a free list.
pub(super) struct Arena<K, V> {
    /// Every page in index order, each in one of `blocks`.
    pages: Vec<NonNull<Page<K, V>>>,
    /// The allocations behind `pages`; the last may have pages not yet in
    /// `pages`.
    blocks: Vec<Block<K, V>>,
    /// Pages in all the blocks.
    held: usize,
    /// One past the highest index handed out.
    limit: u32,
    /// Head of the free list, or `FREE_END`.
    free: u32,
}

// SAFETY: the arena owns its blocks and every pair in them, as a
// `Vec<Box<Page<K, V>>>` would; the pointers are never shared outside it.
unsafe impl<K: Send, V: Send> Send for Arena<K, V> {}
// SAFETY: as above; `&Arena` only reads.
unsafe impl<K: Sync, V: Sync> Sync for Arena<K, V> {}

impl<K, V> Arena<K, V> {
    /// An empty arena whose directory has room for `n` entries' pages.
    pub(super) fn with_capacity(n: usize) -> Self {
        Arena {
            pages: Vec::with_capacity(n.div_ceil(PAGE)),
            blocks: Vec::new(),
            held: 0,
            limit: 0,
            free: FREE_END,
        }
    }

    /// Page `n`, if allocated.
    #[inline]
    fn page(&self, n: usize) -> Option<&Page<K, V>> {
        // SAFETY: a page of a live block; `&self` keeps it from being
        // written meanwhile.
        self.pages.get(n).map(|p| unsafe { p.as_ref() })
    }

    /// Page `n`, which must be allocated.
    #[inline]
    fn page_mut(&mut self, n: usize) -> &mut Page<K, V> {
        // SAFETY: a page of a live block; `&mut self` makes this the only
        // reference to it.
        unsafe { self.pages[n].as_mut() }
    }

    /// Append one page: the next of the last block, or a new block.
    fn push_page(&mut self) {
        if self.held == self.pages.len() {
            let big = self.pages.len() >= BIG;
            let len = if big { BLOCK } else { 1 };
            self.blocks.push(Block::new(len, big));
            self.held += len;
        }
        let last = self.blocks.last().expect("a block with room");
        let page = last.page(self.pages.len() - (self.held - last.len));
        self.pages.push(page);
    }

    /// One past the highest index ever handed out (free ones included).
    #[inline]
    pub(super) fn limit(&self) -> u32 {
        self.limit
    }

    /// Bytes of pages (spare ones of the last block included) and
    /// directories.
    pub(super) fn heap_bytes(&self) -> usize {
        self.held * mem::size_of::<Page<K, V>>() + self.pages_capacity_bytes()
    }

    /// Bytes of the directories alone.
    pub(super) fn pages_capacity_bytes(&self) -> usize {
        self.pages.capacity() * mem::size_of::<NonNull<Page<K, V>>>()
            + self.blocks.capacity() * mem::size_of::<Block<K, V>>()
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
        match self.page(i as usize / PAGE) {
            Some(p) if i < self.limit => p.links[i as usize % PAGE],
            _ => VACANT | FREE_END,
        }
    }

    #[inline]
    fn word_mut(&mut self, i: u32) -> &mut u32 {
        &mut self.page_mut(i as usize / PAGE).links[i as usize % PAGE]
    }

    /// Drops every entry; all indices become invalid.
    pub(super) fn clear(&mut self) {
        self.drop_live();
        self.pages.clear();
        self.blocks.clear();
        self.held = 0;
        self.limit = 0;
        self.free = FREE_END;
    }

    fn drop_live(&mut self) {
        if !mem::needs_drop::<(K, V)>() {
            return;
        }
        for i in 0..self.limit {
            if live(self.word(i)) {
                let p = self.page_mut(i as usize / PAGE);
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
                self.push_page();
            }
            self.limit += 1;
            i
        };
        let p = self.page_mut(i as usize / PAGE);
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
        let free = mem::replace(&mut self.free, i);
        let p = self.page_mut(i as usize / PAGE);
        p.links[i as usize % PAGE] = VACANT | free;
        // SAFETY: the word was live, so the pair is initialised; the word
        // now says free, so it is never read again.
        Some(unsafe { p.pairs[i as usize % PAGE].assume_init_read() })
    }

    /// Hint the CPU to load entry `i`.
    #[inline]
    pub(super) fn prefetch(&self, i: u32) {
        if let Some(p) = self.page(i as usize / PAGE) {
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
            unsafe { self.page(i as usize / PAGE)?.pairs[i as usize % PAGE].assume_init_ref() };
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
            unsafe { self.page_mut(i as usize / PAGE).pairs[i as usize % PAGE].assume_init_mut() };
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
        // The pairs first: the blocks then free memory with no live pair.
        self.drop_live();
    }
}

impl<K: Clone, V: Clone> Clone for Arena<K, V> {
    fn clone(&self) -> Self {
        let mut out = Arena::with_capacity(self.pages.len() * PAGE);
        for n in 0..self.pages.len() {
            out.push_page();
            let src = self.page(n).expect("a page below the count");
            let page = out.page_mut(n);
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
            // Page by page, so a panicking clone drops the pages before
            // (and leaks, never double-drops, this one's).
            out.limit = (((n + 1) * PAGE) as u32).min(self.limit);
        }
        out.limit = self.limit;
        out.free = self.free;
        out
    }
}
