//! `HashMap`: the store's own chained hash map with incremental rehash and
//! stable slot handles.
//!
//! # Shape
//! - Entries live in an arena (`arena.rs`): fixed pages of link words and
//!   `(K, V)` pairs, plus a free list. A node is its key, value and a `u32`
//!   `next` link; the hash is recomputed when a rehash moves it. Nodes
//!   never move in memory, so a [`Slot`] names one entry from insert until
//!   that entry is removed, across any number of rehashes.
//! - Bucket tables (`table.rs`) are power-of-two arrays of chain heads.
//! - Growth doubles the bucket count once `len` would pass 0.75 × buckets.
//!   Like Redis's dict, the move is incremental: the old table is kept
//!   beside the new one and every insert or remove moves a few old buckets,
//!   so no single call pays for a whole rehash. Tables, rehash and their
//!   invariants are `chains.rs`, shared with [`RecordMap`].
//! - Arena indices stay below `u32::MAX`, which is the end-of-chain
//!   sentinel.
//!
//! A stale [`Slot`] (its entry removed) may later name a different entry
//! once the free list reuses it; holders must drop handles on removal.

mod arena;
mod chains;
mod iter;
pub mod pool;
pub mod prefetch;
mod records;
mod scan;
pub mod slab;
mod table;
mod touch;

#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests;

pub use iter::{Iter, IterSlots, Keys, Values};
pub use pool::Pool;
pub use records::{Layout, RecordMap, HEADER};

use arena::{Arena, NIL};
use chains::{buckets_for, Chains};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::mem;

/// The arena with the map's hasher: what [`Chains`] needs to relink nodes.
struct Nodes<'a, K, V, S> {
    arena: &'a mut Arena<K, V>,
    hasher: &'a S,
}

impl<K: Hash, V, S: BuildHasher> chains::Links for Nodes<'_, K, V, S> {
    #[inline]
    fn next(&self, i: u32) -> u32 {
        self.arena.next(i)
    }

    #[inline]
    fn set_next(&mut self, i: u32, to: u32) {
        self.arena.set_next(i, to);
    }

    /// Recomputed: the arena keeps no hashes (see `arena.rs`).
    #[inline]
    fn hash(&self, i: u32) -> u64 {
        self.arena
            .get(i)
            .map_or(0, |(k, _)| self.hasher.hash_one(k))
    }
}

/// A stable handle to one entry: valid from insert until that entry is
/// removed, across rehashes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Slot(pub u32);

impl Slot {
    /// The arena index this handle names.
    #[inline]
    pub fn index(self) -> u32 {
        self.0
    }
}

/// A separately chained hash map with incremental rehash and stable
/// [`Slot`] handles.
pub struct HashMap<K, V, S = foldhash::fast::RandomState> {
    arena: Arena<K, V>,
    chains: Chains,
    hasher: S,
}

impl<K: Clone, V: Clone, S: Clone> Clone for HashMap<K, V, S> {
    fn clone(&self) -> Self {
        HashMap {
            arena: self.arena.clone(),
            chains: self.chains.clone(),
            hasher: self.hasher.clone(),
        }
    }
}

impl<K, V> HashMap<K, V> {
    /// An empty map; allocates nothing until the first insert.
    pub fn new() -> Self {
        Self::with_hasher(Default::default())
    }

    /// An empty map that holds `n` entries without growing.
    pub fn with_capacity(n: usize) -> Self {
        Self::with_capacity_and_hasher(n, Default::default())
    }
}

impl<K, V, S: Default> Default for HashMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// An empty map using `hasher`; allocates nothing until the first insert.
    pub fn with_hasher(hasher: S) -> Self {
        Self::with_capacity_and_hasher(0, hasher)
    }

    /// An empty map using `hasher` that holds `n` entries without growing.
    pub fn with_capacity_and_hasher(n: usize, hasher: S) -> Self {
        HashMap {
            arena: Arena::with_capacity(n),
            chains: Chains::with_capacity(n),
            hasher,
        }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.chains.len()
    }

    /// True if the map holds no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buckets in the newest table.
    #[inline]
    pub fn bucket_count(&self) -> usize {
        self.chains.buckets()
    }

    /// True while an incremental rehash is in progress.
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        self.chains.is_rehashing()
    }

    /// The map's hash builder.
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// One past the highest slot index ever used; random indices below it
    /// sample entries (some slots will be vacant).
    #[inline]
    pub fn slot_limit(&self) -> u32 {
        self.arena.limit()
    }

    /// Bytes held by the bucket tables and arena (not what keys and values
    /// point to).
    pub fn heap_bytes(&self) -> usize {
        self.arena.heap_bytes() + self.chains.heap_bytes()
    }

    /// Key and value at `slot`, or `None` if the slot is vacant.
    #[inline]
    pub fn at(&self, slot: Slot) -> Option<(&K, &V)> {
        self.arena.get(slot.0)
    }

    /// Key and mutable value at `slot`, or `None` if the slot is vacant.
    #[inline]
    pub fn at_mut(&mut self, slot: Slot) -> Option<(&K, &mut V)> {
        self.arena.get_mut(slot.0)
    }

    /// Removes every entry, keeping the newest table's buckets. Every
    /// outstanding [`Slot`] becomes invalid.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.chains.clear();
    }

    /// Iterates over `(&K, &V)` in slot order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.arena, self.len())
    }

    /// Iterates over `(Slot, &K, &V)` in slot order.
    pub fn iter_slots(&self) -> IterSlots<'_, K, V> {
        IterSlots::new(&self.arena, self.len())
    }

    /// Iterates over keys in slot order.
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys::new(self.iter())
    }

    /// Iterates over values in slot order.
    pub fn values(&self) -> Values<'_, K, V> {
        Values::new(self.iter())
    }

    /// Calls `f` on every entry with a mutable value, in slot order.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(Slot, &K, &mut V)) {
        for i in 0..self.arena.limit() {
            if let Some((key, value)) = self.arena.get_mut(i) {
                f(Slot(i), key, value);
            }
        }
    }
}

impl<K, V, S> HashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Removes live slot `i`, filed under `hash`, whose predecessor in its
    /// chain is `prev`.
    #[inline]
    fn unlink(&mut self, hash: u64, prev: u32, i: u32) -> Option<(K, V)> {
        let (chains, mut nodes) = self.split();
        chains.unlink(hash, prev, i, &mut nodes);
        self.arena.free(i)
    }

    /// Removes the entry at `slot`, or returns `None` if the slot is vacant.
    pub fn remove_at(&mut self, slot: Slot) -> Option<(K, V)> {
        self.step();
        let hash = self.hash_one(self.arena.get(slot.0)?.0);
        let prev = {
            let (chains, nodes) = self.split();
            chains.predecessor(hash, slot.0, &nodes)?
        };
        self.unlink(hash, prev, slot.0)
    }

    /// Moves up to `n` non-empty old buckets (skipping at most `10 × n` empty
    /// ones) to the new table. Returns true if the rehash is still in
    /// progress afterwards; false if there was none or it just finished.
    pub fn rehash_step(&mut self, n: usize) -> bool {
        let (chains, mut nodes) = self.split();
        chains.rehash_step(n, &mut nodes)
    }

    /// One rehash step on behalf of a mutating call.
    #[inline]
    fn step(&mut self) {
        let (chains, mut nodes) = self.split();
        chains.step(&mut nodes);
    }

    /// The chains, and the arena as they see it: links, and each node's
    /// hash recomputed from its key.
    #[inline]
    fn split(&mut self) -> (&mut Chains, Nodes<'_, K, V, S>) {
        let nodes = Nodes {
            arena: &mut self.arena,
            hasher: &self.hasher,
        };
        (&mut self.chains, nodes)
    }

    /// The hash this map uses for `k`, for [`find_hashed`](Self::find_hashed).
    #[inline]
    pub fn hash_one<Q: Hash + ?Sized>(&self, k: &Q) -> u64 {
        self.hasher.hash_one(k)
    }

    /// Finds `k` given its precomputed [`hash_one`](Self::hash_one).
    #[inline]
    pub fn find_hashed<Q>(&self, hash: u64, k: &Q) -> Option<Slot>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let (_, i) = self.arena.find(self.chains.head(hash), k)?;
        Some(Slot(i))
    }

    /// Start loading the bucket a lookup of `hash` reads first.
    ///
    /// Why: on a map larger than the cache every lookup pays a chain of
    /// dependent misses (bucket, node, key bytes). A caller that knows
    /// several hashes ahead issues [`prefetch_bucket`](Self::prefetch_bucket)
    /// for all of them, then [`prefetch_node`](Self::prefetch_node) for all,
    /// then [`with_first`](Self::with_first) for all, so the misses of
    /// different keys overlap instead of queueing one behind another.
    #[inline]
    pub fn prefetch_bucket(&self, hash: u64) {
        self.chains.prefetch(hash);
    }

    /// Start loading the first node of `hash`'s chain (reads the bucket).
    #[inline]
    pub fn prefetch_node(&self, hash: u64) {
        let head = self.chains.head(hash);
        if head != NIL {
            self.arena.prefetch(head);
        }
    }

    /// Call `f` with the first node of `hash`'s chain, if any (reads the
    /// bucket and the node), e.g. to prefetch the bytes its key points to.
    #[inline]
    pub fn with_first(&self, hash: u64, f: impl FnOnce(&K, &V)) {
        if let Some((k, v)) = self.arena.get(self.chains.head(hash)) {
            f(k, v);
        }
    }

    /// The slot holding `k`, if present.
    #[inline]
    pub fn find<Q>(&self, k: &Q) -> Option<Slot>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.is_empty() {
            return None;
        }
        self.find_hashed(self.hash_one(k), k)
    }

    /// The value for `k`, if present.
    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(k)?;
        self.arena.get(slot.0).map(|(_, v)| v)
    }

    /// Key and value for `k`, if present.
    #[inline]
    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(k)?;
        self.arena.get(slot.0)
    }

    /// The value for `k` mutably, if present.
    #[inline]
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(k)?;
        self.arena.get_mut(slot.0).map(|(_, v)| v)
    }

    /// True if `k` is present.
    #[inline]
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(k).is_some()
    }

    /// Inserts `k → v`, returning the previous value if `k` was present (its
    /// slot and key are kept).
    #[inline]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.insert_full(k, v).1
    }

    /// Inserts `k → v`, returning the entry's slot and the previous value if
    /// `k` was present (its slot and key are kept).
    ///
    /// # Panics
    /// If the map already holds `u32::MAX - 1` entries.
    pub fn insert_full(&mut self, k: K, v: V) -> (Slot, Option<V>) {
        self.step();
        let hash = self.hash_one(&k);
        if let Some((_, i)) = self.arena.find(self.chains.head(hash), &k) {
            let old = self.arena.get_mut(i).map(|(_, cur)| mem::replace(cur, v));
            return (Slot(i), old);
        }
        (self.insert_absent_hashed_unstepped(hash, k, v), None)
    }

    /// The insertion half shared by the two insert paths (the rehash step
    /// has already run).
    fn insert_absent_hashed_unstepped(&mut self, hash: u64, k: K, v: V) -> Slot {
        if self.chains.full() {
            let (chains, mut nodes) = self.split();
            let grown = chains.grow(&mut nodes);
            // The arena can never need more than the new table's 0.75 load.
            self.arena.reserve_total(grown / 4 * 3);
        }
        let i = self.arena.alloc(k, v);
        let (chains, mut nodes) = self.split();
        chains.push(hash, i, &mut nodes);
        Slot(i)
    }

    /// Inserts `k → v` for a key the caller has just looked up with
    /// [`find_hashed`](Self::find_hashed) and not found, given that lookup's
    /// `hash`: skips the second chain walk [`insert_full`](Self::insert_full)
    /// would do. Inserting a key that is present breaks the map (checked in
    /// debug builds).
    ///
    /// # Panics
    /// If the map already holds `u32::MAX - 1` entries.
    pub fn insert_absent_hashed(&mut self, hash: u64, k: K, v: V) -> Slot {
        debug_assert!(
            self.find_hashed(hash, &k).is_none(),
            "insert_absent_hashed of a present key"
        );
        self.step();
        self.insert_absent_hashed_unstepped(hash, k, v)
    }

    /// Removes `k`, returning its value if it was present.
    #[inline]
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(k).map(|(_, v)| v)
    }

    /// Removes `k`, returning the stored key and value if it was present.
    pub fn remove_entry<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.step();
        if self.is_empty() {
            return None;
        }
        let hash = self.hash_one(k);
        let (prev, i) = self.arena.find(self.chains.head(hash), k)?;
        self.unlink(hash, prev, i)
    }

    /// Makes room for `additional` more entries without growing the table
    /// or arena. Finishes any rehash in progress.
    pub fn reserve(&mut self, additional: usize) {
        let want = buckets_for(self.len().saturating_add(additional));
        self.arena
            .reserve_total(self.len().saturating_add(additional));
        let (chains, mut nodes) = self.split();
        chains.reserve_buckets(want, &mut nodes);
    }
}
