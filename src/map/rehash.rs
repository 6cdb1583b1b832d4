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
        let mut i = self.tables[OLD].head(b);
        self.tables[OLD].set_head(b, NIL);
        while i != NIL {
            let next = self.arena.next(i);
            // A chain node is always live (invariant 1), so `hash` is Some.
            if let Some(hash) = self.arena.hash(i) {
                let nb = self.tables[NEW].bucket(hash);
                self.arena.set_next(i, self.tables[NEW].head(nb));
                self.tables[NEW].set_head(nb, i);
                self.old_len -= 1;
            }
            i = next;
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
        if buckets == 0 {
            self.tables[NEW] = Table::with_buckets(super::MIN_BUCKETS);
        } else {
            self.start_rehash(buckets * 2);
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
