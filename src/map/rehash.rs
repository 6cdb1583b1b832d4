//! Growth and incremental rehash.
//!
//! A grow allocates a table twice the size and keeps the old one; from then
//! on every insert and remove moves up to [`STEP_BUCKETS`] non-empty old
//! buckets (skipping at most ten empty ones per bucket asked for, as Redis
//! does) before doing its own work. Moving a node is relinking: the stored
//! hash picks its new bucket and the node stays where it is in the arena.
//!
//! Why a rehash always ends before the next grow: a grow to `2B` buckets
//! happens at `0.75 B` entries and the next at `1.5 B`, at least `0.75 B`
//! inserts later. Each insert advances the cursor by at least
//! `STEP_BUCKETS` (4) old buckets, so the `B` old buckets are drained within
//! `B / 4` inserts. `grow` still finishes a leftover rehash first so that at
//! most two tables ever exist; that path is bounded by one table's size.

use super::table::Table;
use super::{HashMap, NEW, NIL, OLD};
use std::mem;

/// Non-empty old buckets moved per insert or remove while rehashing.
const STEP_BUCKETS: usize = 4;
/// Empty old buckets that may be skipped per bucket asked for, so a step over
/// a sparse stretch of the old table stays bounded.
const EMPTY_VISITS_PER_BUCKET: usize = 10;

impl<K, V, S> HashMap<K, V, S> {
    /// Moves up to `n` non-empty old buckets (skipping at most `10 × n` empty
    /// ones) to the new table. Returns true if the rehash is still in
    /// progress afterwards; false if there was none or it just finished.
    pub fn rehash_step(&mut self, n: usize) -> bool {
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
            self.move_bucket(self.cursor);
            self.cursor += 1;
        }
        if self.old_len == 0 {
            self.end_rehash();
            return false;
        }
        true
    }

    /// One rehash step on behalf of a mutating call.
    #[inline]
    pub(super) fn step(&mut self) {
        if self.is_rehashing() {
            self.rehash_step(STEP_BUCKETS);
        }
    }

    /// Relinks every node of old bucket `b` into the new table.
    fn move_bucket(&mut self, b: usize) {
        let [new, old] = &mut self.tables;
        let mut i = old.head(b);
        old.set_head(b, NIL);
        // A chain node is always live (invariant 1), so `link_mut` only
        // returns `None` at the `NIL` end of the chain.
        while let Some((hash, next)) = self.arena.link_mut(i) {
            let nb = new.bucket(hash);
            let rest = mem::replace(next, new.head(nb));
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
    fn finish_rehash(&mut self) {
        while self.rehash_step(usize::MAX) {}
    }

    /// Starts doubling the bucket count (allocating the first table if none).
    pub(super) fn grow(&mut self) {
        let buckets = self.tables[NEW].buckets();
        let grown = (buckets * 2).max(super::MIN_BUCKETS);
        // The arena can never need more than the new table's 0.75 load.
        self.arena.reserve_total(grown / 4 * 3);
        if buckets == 0 {
            self.tables[NEW] = Table::with_buckets(grown);
        } else {
            self.start_rehash(grown);
        }
    }

    /// Makes a table of `buckets` the new one and begins draining the
    /// current one into it.
    fn start_rehash(&mut self, buckets: usize) {
        // A second grow during a rehash would need a third table; finishing
        // the old rehash keeps the two-table invariant. See the module docs
        // for why inserts alone never reach this with work left.
        self.finish_rehash();
        let table = Table::with_buckets(buckets);
        self.tables[OLD] = mem::replace(&mut self.tables[NEW], table);
        self.cursor = 0;
        self.old_len = self.len;
        if self.old_len == 0 {
            self.end_rehash();
        }
    }

    /// Rehashes everything into a table of `buckets` right away.
    pub(super) fn resize(&mut self, buckets: usize) {
        if self.tables[NEW].is_unallocated() {
            self.tables[NEW] = Table::with_buckets(buckets);
            return;
        }
        self.start_rehash(buckets);
        self.finish_rehash();
    }
}
