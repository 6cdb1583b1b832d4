//! The chains every map here shares: two bucket tables, the incremental
//! rehash between them, and the walk from a hash to its one chain.
//!
//! Nodes live elsewhere (the [`HashMap`](super::HashMap)'s arena, the
//! [`RecordMap`](super::RecordMap)'s slab); `Chains` only needs to read and
//! write a node's `next` link and read the hash it was filed under, which
//! the [`Links`] trait gives it. So the load factor, the doubling, the
//! rehash and the invariants below are written once for both maps.
//!
//! # Growth and incremental rehash
//! A grow allocates a table twice the size and keeps the old one; from then
//! on every insert and remove moves up to [`STEP_BUCKETS`] non-empty old
//! buckets (skipping at most ten empty ones per bucket asked for, as Redis
//! does) before doing its own work. Moving a node is relinking: the stored
//! hash picks its new bucket and the node stays where it is.
//!
//! Why a rehash always ends before the next grow: a grow to `2B` buckets
//! happens at `0.75 B` entries and the next at `1.5 B`, at least `0.75 B`
//! inserts later. Each insert advances the cursor by at least
//! `STEP_BUCKETS` (4) old buckets, so the `B` old buckets are drained within
//! `B / 4` inserts. `grow` still finishes a leftover rehash first so that at
//! most two tables ever exist; that path is bounded by one table's size.
//!
//! # Invariants
//! 1. Every live node is in exactly one chain, and every node reached
//!    through a chain is live.
//! 2. While rehashing (the old table is allocated), old buckets below
//!    `cursor` are empty. A node whose old bucket `hash & old_mask` is
//!    `>= cursor` is in that old bucket; every other node is in bucket
//!    `hash & new_mask` of the new table. Inserts follow the same rule, so a
//!    lookup always knows the one chain a key can be in and walks only that
//!    chain, where Redis walks both tables' chains on a miss.
//! 3. `old_len` counts the nodes in the old table; the rehash ends (the old
//!    table is dropped) as soon as it reaches zero.
//! 4. `len <= 0.75 × buckets()` after every insert.

use super::arena::NIL;
use super::table::Table;
use std::mem;

/// Index of the newest table: inserts past the cursor and all lookups after
/// a rehash go here.
const NEW: usize = 0;
/// Index of the table being drained during a rehash.
const OLD: usize = 1;
/// Smallest bucket table ever allocated.
pub(super) const MIN_BUCKETS: usize = 8;
/// Non-empty old buckets moved per insert or remove while rehashing.
const STEP_BUCKETS: usize = 4;
/// Empty old buckets that may be skipped per bucket asked for, so a step over
/// a sparse stretch of the old table stays bounded.
const EMPTY_VISITS_PER_BUCKET: usize = 10;

/// What the chains need of the node store: each live node's `next` link and
/// the hash it was filed under. Only the hash's low bits are ever used (as
/// many as the table has buckets), so a store may keep just 32 of them.
pub(super) trait Links {
    /// The chain successor of live node `i`.
    fn next(&self, i: u32) -> u32;
    /// Points live node `i` at a new successor.
    fn set_next(&mut self, i: u32, to: u32);
    /// The hash live node `i` was filed under.
    fn hash(&self, i: u32) -> u64;
}

/// Buckets needed to hold `n` entries at load factor 0.75 (0 for `n == 0`).
pub(super) fn buckets_for(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let needed = n.saturating_mul(4).div_ceil(3);
    needed
        .max(MIN_BUCKETS)
        .checked_next_power_of_two()
        .unwrap_or(1 << (usize::BITS - 1))
}

/// Two bucket tables and the rehash state between them.
#[derive(Clone, Default)]
pub(super) struct Chains {
    /// `[NEW, OLD]`; `OLD` is unallocated unless a rehash is in progress.
    tables: [Table; 2],
    /// Next old bucket to move to the new table.
    cursor: usize,
    /// Nodes still in the old table.
    old_len: usize,
    len: usize,
}

impl Chains {
    /// Chains with room for `n` nodes before the first grow.
    pub(super) fn with_capacity(n: usize) -> Self {
        let buckets = buckets_for(n);
        let table = if buckets == 0 {
            Table::default()
        } else {
            Table::with_buckets(buckets)
        };
        Chains {
            tables: [table, Table::default()],
            ..Chains::default()
        }
    }

    /// Nodes linked in.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Buckets in the newest table.
    #[inline]
    pub(super) fn buckets(&self) -> usize {
        self.tables[NEW].buckets()
    }

    /// True while an incremental rehash is in progress.
    #[inline]
    pub(super) fn is_rehashing(&self) -> bool {
        !self.tables[OLD].is_unallocated()
    }

    /// Bytes the bucket tables hold.
    pub(super) fn heap_bytes(&self) -> usize {
        self.tables[NEW].heap_bytes() + self.tables[OLD].heap_bytes()
    }

    /// Unlinks everything, keeping the newest table's buckets.
    pub(super) fn clear(&mut self) {
        self.tables[NEW].clear();
        self.tables[OLD] = Table::default();
        self.cursor = 0;
        self.old_len = 0;
        self.len = 0;
    }

    /// Table and bucket where a node with `hash` lives (invariant 2).
    /// Only meaningful once the new table is allocated.
    #[inline]
    fn locate(&self, hash: u64) -> (usize, usize) {
        let old = &self.tables[OLD];
        if !old.is_unallocated() {
            let b = old.bucket(hash);
            if b >= self.cursor {
                return (OLD, b);
            }
        }
        (NEW, self.tables[NEW].bucket(hash))
    }

    /// First node of the one chain a node with `hash` can be in, or `NIL`.
    #[inline]
    pub(super) fn head(&self, hash: u64) -> u32 {
        if self.len == 0 {
            return NIL;
        }
        let (t, b) = self.locate(hash);
        self.tables[t].head(b)
    }

    /// Start loading the bucket `hash` falls in (see `HashMap::prefetch_bucket`).
    #[inline]
    pub(super) fn prefetch(&self, hash: u64) {
        if self.len == 0 {
            return;
        }
        let (t, b) = self.locate(hash);
        self.tables[t].prefetch(b);
    }

    /// True when one more node would pass the 0.75 load factor.
    #[inline]
    pub(super) fn full(&self) -> bool {
        (self.len + 1) * 4 > self.buckets() * 3
    }

    /// Links node `i` (its `next` is overwritten) at the head of `hash`'s
    /// chain. The caller grows first when [`full`](Self::full).
    #[inline]
    pub(super) fn push(&mut self, hash: u64, i: u32, links: &mut impl Links) {
        let (t, b) = self.locate(hash);
        links.set_next(i, self.tables[t].head(b));
        self.tables[t].set_head(b, i);
        if t == OLD {
            self.old_len += 1;
        }
        self.len += 1;
    }

    /// Unlinks node `i`, filed under `hash`, whose predecessor in its chain
    /// is `prev` (`NIL` for the head).
    #[inline]
    pub(super) fn unlink(&mut self, hash: u64, prev: u32, i: u32, links: &mut impl Links) {
        let (t, b) = self.locate(hash);
        let next = links.next(i);
        if prev == NIL {
            self.tables[t].set_head(b, next);
        } else {
            links.set_next(prev, next);
        }
        if t == OLD {
            self.old_len -= 1;
        }
        self.len -= 1;
    }

    /// The predecessor of `target` in `hash`'s chain: `Some(NIL)` if it is
    /// the head, `None` if it is not in the chain.
    #[inline]
    pub(super) fn predecessor(&self, hash: u64, target: u32, links: &impl Links) -> Option<u32> {
        let mut prev = NIL;
        let mut i = self.head(hash);
        while i != NIL {
            if i == target {
                return Some(prev);
            }
            prev = i;
            i = links.next(i);
        }
        None
    }

    /// Puts node `new` in the place of `old` in `hash`'s chain (`new` takes
    /// over `old`'s successor), for a node that moved in its store. Returns
    /// false, changing nothing, if `old` is not in that chain.
    pub(super) fn replace(
        &mut self,
        hash: u64,
        old: u32,
        new: u32,
        links: &mut impl Links,
    ) -> bool {
        let Some(prev) = self.predecessor(hash, old, links) else {
            return false;
        };
        links.set_next(new, links.next(old));
        if prev == NIL {
            let (t, b) = self.locate(hash);
            self.tables[t].set_head(b, new);
        } else {
            links.set_next(prev, new);
        }
        true
    }

    /// Moves up to `n` non-empty old buckets (skipping at most `10 × n` empty
    /// ones) to the new table. Returns true if the rehash is still in
    /// progress afterwards; false if there was none or it just finished.
    pub(super) fn rehash_step(&mut self, n: usize, links: &mut impl Links) -> bool {
        if !self.is_rehashing() {
            return false;
        }
        let mut empty_left = n.saturating_mul(EMPTY_VISITS_PER_BUCKET);
        for _ in 0..n {
            if self.old_len == 0 {
                break;
            }
            // Invariant 3 guarantees a non-empty bucket at or past the
            // cursor while `old_len > 0`, so this cannot run off the end.
            while self.tables[OLD].head(self.cursor) == NIL {
                self.cursor += 1;
                empty_left = empty_left.saturating_sub(1);
                if empty_left == 0 {
                    return true;
                }
            }
            self.move_bucket(self.cursor, links);
            self.cursor += 1;
            // A drained chunk of the old table goes now, not with the
            // whole table at the end (see `table.rs`).
            if self.cursor.is_multiple_of(1 << 16) {
                self.tables[OLD].release_below(self.cursor);
            }
        }
        if self.old_len == 0 {
            self.end_rehash();
            return false;
        }
        true
    }

    /// One rehash step on behalf of a mutating call.
    #[inline]
    pub(super) fn step(&mut self, links: &mut impl Links) {
        if self.is_rehashing() {
            self.rehash_step(STEP_BUCKETS, links);
        }
    }

    /// Relinks every node of old bucket `b` into the new table.
    fn move_bucket(&mut self, b: usize, links: &mut impl Links) {
        let [new, old] = &mut self.tables;
        let mut i = old.head(b);
        old.set_head(b, NIL);
        while i != NIL {
            let rest = links.next(i);
            let nb = new.bucket(links.hash(i));
            links.set_next(i, new.head(nb));
            new.set_head(nb, i);
            self.old_len -= 1;
            i = rest;
        }
    }

    /// Drops the drained old table.
    fn end_rehash(&mut self) {
        self.tables[OLD] = Table::default();
        self.cursor = 0;
        self.old_len = 0;
    }

    /// Moves every remaining old bucket now.
    fn finish_rehash(&mut self, links: &mut impl Links) {
        while self.rehash_step(usize::MAX, links) {}
    }

    /// Starts doubling the bucket count (allocating the first table if
    /// none); returns the new bucket count.
    pub(super) fn grow(&mut self, links: &mut impl Links) -> usize {
        let buckets = self.buckets();
        let grown = (buckets * 2).max(MIN_BUCKETS);
        if buckets == 0 {
            self.tables[NEW] = Table::with_buckets(grown);
        } else {
            self.start_rehash(grown, links);
        }
        grown
    }

    /// Makes a table of `buckets` the new one and begins draining the
    /// current one into it.
    fn start_rehash(&mut self, buckets: usize, links: &mut impl Links) {
        // A second grow during a rehash would need a third table; finishing
        // the old rehash keeps the two-table invariant. See the module docs
        // for why inserts alone never reach this with work left.
        self.finish_rehash(links);
        let table = Table::with_buckets(buckets);
        self.tables[OLD] = mem::replace(&mut self.tables[NEW], table);
        self.cursor = 0;
        self.old_len = self.len;
        if self.old_len == 0 {
            self.end_rehash();
        }
    }

    /// Rehashes everything into `buckets` buckets right away, if that is
    /// more than there are.
    pub(super) fn reserve_buckets(&mut self, buckets: usize, links: &mut impl Links) {
        if buckets <= self.buckets() {
            return;
        }
        if self.tables[NEW].is_unallocated() {
            self.tables[NEW] = Table::with_buckets(buckets);
            return;
        }
        self.start_rehash(buckets, links);
        self.finish_rehash(links);
    }

    /// One step of a bucket-order cursor scan, Redis's `dictScan`: calls `f`
    /// on every node of the buckets the cursor names and returns the next
    /// cursor, 0 once done. Start with 0.
    ///
    /// Why bucket order: a node's bucket follows from its hash alone, so it
    /// holds however the node moves in its store, and the reverse-binary
    /// cursor (counting up from the high bucket bits) visits every bucket a
    /// node can be in exactly once even when the table doubles between
    /// steps. While rehashing, the old (smaller) table's bucket and all the
    /// new table's buckets it expands to are visited in the same step, so a
    /// node is seen wherever invariant 2 has put it. A node present for the
    /// whole scan is returned at least once, as in Redis; one can come back
    /// twice only if the table grew during the scan.
    pub(super) fn scan(&self, cursor: u64, links: &impl Links, mut f: impl FnMut(u32)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mut walk = |t: &Table, b: usize| {
            let mut i = t.head(b);
            while i != NIL {
                f(i);
                i = links.next(i);
            }
        };
        let mut v = cursor;
        if !self.is_rehashing() {
            let t = &self.tables[NEW];
            let m = t.mask() as u64;
            walk(t, (v & m) as usize);
            v |= !m;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            // The old table is always the smaller one: tables only double.
            let (small, large) = (&self.tables[OLD], &self.tables[NEW]);
            let (m0, m1) = (small.mask() as u64, large.mask() as u64);
            walk(small, (v & m0) as usize);
            loop {
                walk(large, (v & m1) as usize);
                // Increment the bits the larger mask adds, in reverse.
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }
}
