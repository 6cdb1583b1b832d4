//! Iterators and the std trait impls built on them.
//!
//! Iteration walks the arena in slot order, not the bucket tables, so it is
//! unaffected by a rehash in progress and costs `O(slot_limit)`.

use super::arena::Arena;
use super::{HashMap, Slot};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::iter::FusedIterator;

/// Iterator over `(Slot, &K, &V)` in slot order.
pub struct IterSlots<'a, K, V> {
    arena: &'a Arena<K, V>,
    next: u32,
    /// Live entries not yet yielded, for an exact `size_hint`.
    left: usize,
}

impl<'a, K, V> IterSlots<'a, K, V> {
    pub(super) fn new(arena: &'a Arena<K, V>, len: usize) -> Self {
        IterSlots {
            arena,
            next: 0,
            left: len,
        }
    }
}

impl<'a, K, V> Iterator for IterSlots<'a, K, V> {
    type Item = (Slot, &'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            // Skips scanning a vacant tail of the arena.
            return None;
        }
        while self.next < self.arena.limit() {
            let i = self.next;
            self.next += 1;
            if let Some((k, v)) = self.arena.get(i) {
                self.left -= 1;
                return Some((Slot(i), k, v));
            }
        }
        None
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for IterSlots<'_, K, V> {}
impl<K, V> FusedIterator for IterSlots<'_, K, V> {}

/// Iterator over `(&K, &V)` in slot order.
pub struct Iter<'a, K, V>(IterSlots<'a, K, V>);

impl<'a, K, V> Iter<'a, K, V> {
    pub(super) fn new(arena: &'a Arena<K, V>, len: usize) -> Self {
        Iter(IterSlots::new(arena, len))
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(_, k, v)| (k, v))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

/// Iterator over keys in slot order.
pub struct Keys<'a, K, V>(Iter<'a, K, V>);

impl<'a, K, V> Keys<'a, K, V> {
    pub(super) fn new(iter: Iter<'a, K, V>) -> Self {
        Keys(iter)
    }
}

impl<'a, K, V> Iterator for Keys<'a, K, V> {
    type Item = &'a K;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, _)| k)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Keys<'_, K, V> {}
impl<K, V> FusedIterator for Keys<'_, K, V> {}

/// Iterator over values in slot order.
pub struct Values<'a, K, V>(Iter<'a, K, V>);

impl<'a, K, V> Values<'a, K, V> {
    pub(super) fn new(iter: Iter<'a, K, V>) -> Self {
        Values(iter)
    }
}

impl<'a, K, V> Iterator for Values<'a, K, V> {
    type Item = &'a V;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(_, v)| v)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Values<'_, K, V> {}
impl<K, V> FusedIterator for Values<'_, K, V> {}

impl<'a, K, V, S> IntoIterator for &'a HashMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for HashMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> Extend<(K, V)> for HashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K, V, S> FromIterator<(K, V)> for HashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = HashMap::with_hasher(S::default());
        map.extend(iter);
        map
    }
}
