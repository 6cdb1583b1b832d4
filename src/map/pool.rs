//! `Pool<T>`: values at stable `u32` indices, stored in fixed-size pages so
//! that growing never moves or copies what is already there.
//!
//! Why pages: a flat `Vec` copies everything it holds when it outgrows its
//! allocation, and at millions of entries that copy is one insert that
//! waits milliseconds. A page is allocated once and never moves; only the
//! directory of page pointers is a `Vec`, and it is a few hundred times
//! smaller than the values.

/// Values per page; a power of two so an index splits with a shift.
const PAGE: usize = 256;

/// Values at stable indices with a free list.
pub struct Pool<T> {
    pages: Vec<Box<[Option<T>]>>,
    /// Indices freed by `remove`, reused last-in first-out.
    free: Vec<u32>,
    /// One past the highest index handed out.
    limit: u32,
    len: usize,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool {
            pages: Vec::new(),
            free: Vec::new(),
            limit: 0,
            len: 0,
        }
    }
}

impl<T> Pool<T> {
    /// Values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of pages, directory and free list (not what values point to).
    pub fn heap_bytes(&self) -> usize {
        self.pages.len() * PAGE * std::mem::size_of::<Option<T>>()
            + self.pages.capacity() * std::mem::size_of::<Box<[Option<T>]>>()
            + self.free.capacity() * 4
    }

    /// Stores `value` and returns its index.
    pub fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            self.pages[i as usize / PAGE][i as usize % PAGE] = Some(value);
            return i;
        }
        let i = self.limit;
        assert!(i < u32::MAX, "pool is full (u32 index space)");
        if i as usize / PAGE == self.pages.len() {
            self.pages.push((0..PAGE).map(|_| None).collect());
        }
        self.pages[i as usize / PAGE][i as usize % PAGE] = Some(value);
        self.limit += 1;
        i
    }

    /// Takes the value at `i` out, freeing the index.
    pub fn remove(&mut self, i: u32) -> Option<T> {
        let v = self.slot_mut(i)?.take()?;
        self.free.push(i);
        self.len -= 1;
        Some(v)
    }

    /// The value at `i`.
    #[inline]
    pub fn get(&self, i: u32) -> Option<&T> {
        self.pages.get(i as usize / PAGE)?[i as usize % PAGE].as_ref()
    }

    /// The value at `i`, mutably.
    #[inline]
    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.slot_mut(i)?.as_mut()
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Option<T>> {
        Some(&mut self.pages.get_mut(i as usize / PAGE)?[i as usize % PAGE])
    }

    /// One past the highest index ever handed out.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The indices of every value held, in order.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.limit).filter(|&i| self.get(i).is_some())
    }

    /// Drops every value; indices start again from zero.
    pub fn clear(&mut self) {
        *self = Pool::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_stable_and_reused() {
        let mut p = Pool::default();
        let ids: Vec<u32> = (0..1000).map(|i| p.insert(i)).collect();
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
        assert_eq!(p.remove(500), Some(500));
        assert_eq!(p.remove(500), None);
        assert_eq!(p.get(500), None);
        assert_eq!(p.insert(7), 500);
        assert_eq!(p.get(999), Some(&999));
        *p.get_mut(3).unwrap() += 10;
        assert_eq!(p.get(3), Some(&13));
        assert_eq!(p.len(), 1000);
        assert_eq!(p.get(1000), None);
        assert_eq!(p.get(u32::MAX), None);
    }
}
