//! An intrusive doubly linked LRU list over the keyspace's slots: O(1)
//! touch, insert, remove, pop-oldest and [`replace`](Lru::replace) (for a
//! record that moved to a slot of another size class).
//!
//! Links are found by slot number in pages: a slot is a size class (its
//! top 6 bits) and an index in the class, and each class has a directory
//! of fixed pages of links, so growing never copies the links already
//! there.

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

/// Bytes one slot's links take.
pub const LINK_BYTES: usize = std::mem::size_of::<Links>();

/// Links per page.
const PAGE: usize = 1024;
/// Bits of a slot below its size class (see `map::slab`).
const INDEX_BITS: u32 = 26;

/// Recency order of slots: head is the most recently used.
#[derive(Default)]
pub struct Lru {
    /// `[class][index / PAGE][index % PAGE]`.
    links: Vec<Vec<Box<[Links]>>>,
    head: u32,
    tail: u32,
    len: usize,
}

impl Lru {
    /// An empty list.
    pub fn new() -> Self {
        Lru {
            links: Vec::new(),
            head: NONE,
            tail: NONE,
            len: 0,
        }
    }

    /// Number of slots in the list.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the links of the slots in the list (pages are filled as
    /// slots are, so at any size worth bounding this is what they hold).
    pub fn heap_bytes(&self) -> usize {
        self.len * std::mem::size_of::<Links>()
    }

    #[inline]
    fn at(&mut self, slot: u32) -> &mut Links {
        let (c, i) = (
            (slot >> INDEX_BITS) as usize,
            (slot & ((1 << INDEX_BITS) - 1)) as usize,
        );
        if self.links.len() <= c {
            self.links.resize_with(c + 1, Vec::new);
        }
        let class = &mut self.links[c];
        while class.len() <= i / PAGE {
            let unlinked = Links {
                prev: NONE,
                next: NONE,
            };
            class.push(vec![unlinked; PAGE].into_boxed_slice());
        }
        &mut class[i / PAGE][i % PAGE]
    }

    #[inline]
    fn get(&self, slot: u32) -> Links {
        let (c, i) = (
            (slot >> INDEX_BITS) as usize,
            (slot & ((1 << INDEX_BITS) - 1)) as usize,
        );
        self.links[c][i / PAGE][i % PAGE]
    }

    /// Puts `new` in `old`'s place in the order, for an entry that moved
    /// slots. `old` must be in the list and `new` not.
    pub fn replace(&mut self, old: u32, new: u32) {
        let l = self.get(old);
        *self.at(new) = l;
        if l.prev != NONE {
            self.at(l.prev).next = new;
        } else {
            self.head = new;
        }
        if l.next != NONE {
            self.at(l.next).prev = new;
        } else {
            self.tail = new;
        }
    }

    /// Add `slot` as the most recently used. It must not be in the list.
    pub fn push_front(&mut self, slot: u32) {
        let head = self.head;
        *self.at(slot) = Links {
            prev: NONE,
            next: head,
        };
        if head != NONE {
            self.at(head).prev = slot;
        } else {
            self.tail = slot;
        }
        self.head = slot;
        self.len += 1;
    }

    /// Take `slot` out of the list. It must be in the list.
    pub fn unlink(&mut self, slot: u32) {
        let Links { prev, next } = self.get(slot);
        if prev != NONE {
            self.at(prev).next = next;
        } else {
            self.head = next;
        }
        if next != NONE {
            self.at(next).prev = prev;
        } else {
            self.tail = prev;
        }
        self.len -= 1;
    }

    /// Mark `slot` as just used.
    #[inline]
    pub fn touch(&mut self, slot: u32) {
        if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    /// The least recently used slot, if any.
    pub fn oldest(&self) -> Option<u32> {
        (self.tail != NONE).then_some(self.tail)
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.links.clear();
        self.head = NONE;
        self.tail = NONE;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(l: &Lru) -> Vec<u32> {
        let mut v = Vec::new();
        let mut c = l.head;
        while c != NONE {
            v.push(c);
            c = l.get(c).next;
        }
        v
    }

    #[test]
    fn recency_order() {
        let mut l = Lru::new();
        for s in [3, 1, 7] {
            l.push_front(s);
        }
        assert_eq!(order(&l), vec![7, 1, 3]);
        l.touch(3);
        assert_eq!(order(&l), vec![3, 7, 1]);
        assert_eq!(l.oldest(), Some(1));
        l.unlink(7);
        assert_eq!(order(&l), vec![3, 1]);
        l.unlink(1);
        l.unlink(3);
        assert_eq!(l.oldest(), None);
        assert_eq!(l.len(), 0);
        let far = (5 << INDEX_BITS) | 70_000;
        for s in [1, 2, 3] {
            l.push_front(s);
        }
        l.replace(2, far);
        assert_eq!(order(&l), vec![3, far, 1]);
        l.replace(3, 9);
        l.replace(1, 8);
        assert_eq!(order(&l), vec![9, far, 8]);
        assert_eq!(l.oldest(), Some(8));
    }
}
