//! An intrusive doubly linked LRU list over map slots: O(1) touch, insert,
//! remove and pop-oldest, with links stored in a `Vec` indexed by slot number
//! (the map's slots are stable until removal, so indices never dangle).

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

/// Recency order of slots: head is the most recently used.
#[derive(Default)]
pub struct Lru {
    links: Vec<Links>,
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

    /// Bytes of link storage.
    pub fn heap_bytes(&self) -> usize {
        self.links.capacity() * std::mem::size_of::<Links>()
    }

    /// Add `slot` as the most recently used. It must not be in the list.
    pub fn push_front(&mut self, slot: u32) {
        let i = slot as usize;
        if self.links.len() <= i {
            self.links.resize(
                i + 1,
                Links {
                    prev: NONE,
                    next: NONE,
                },
            );
        }
        self.links[i] = Links {
            prev: NONE,
            next: self.head,
        };
        if self.head != NONE {
            self.links[self.head as usize].prev = slot;
        } else {
            self.tail = slot;
        }
        self.head = slot;
        self.len += 1;
    }

    /// Take `slot` out of the list. It must be in the list.
    pub fn unlink(&mut self, slot: u32) {
        let Links { prev, next } = self.links[slot as usize];
        if prev != NONE {
            self.links[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NONE {
            self.links[next as usize].prev = prev;
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
            c = l.links[c as usize].next;
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
    }
}
