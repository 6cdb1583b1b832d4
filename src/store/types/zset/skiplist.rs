//! The big sorted set's order: Redis's skiplist (`zskiplist` in t_zset.c)
//! with a span on every link, so rank lookups and "how many come before
//! this bound" are O(log n) like the searches themselves.
//!
//! Nodes live in a `Vec` and link by index (`u32`, [`NIL`] for none), with a
//! free list, so there is no unsafe pointer juggling and a node never moves
//! while linked. Node 0 is the head: no element, [`MAX_LEVEL`] links.
//!
//! Invariants:
//! - following `links[0]` from the head visits every element once, in
//!   (score, member) order, and `back` is the reverse of that walk;
//! - a link's `span` is how many level-0 steps it jumps over, so the spans
//!   summed along any path from the head to a node give its 1-based rank;
//! - links above `level` of the head are `NIL` with span 0.

/// No node.
pub const NIL: u32 = u32::MAX;
/// Most levels a node can have (Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_LEVEL: usize = 32;
const HEAD: u32 = 0;

#[derive(Clone, Copy, Debug)]
struct Link {
    next: u32,
    span: u32,
}

#[derive(Clone, Debug)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    back: u32,
    links: Box<[Link]>,
}

/// A skiplist of (score, member) in Redis's order: by score, then by member
/// bytes (`memcmp`, shorter first on a common prefix). It does not check
/// that members are distinct; the sorted set's map does.
#[derive(Clone, Debug)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    tail: u32,
    len: usize,
    level: usize,
    /// xorshift state for node levels.
    rng: u64,
}

/// `(score, member) < (s, m)` in the sorted set's order.
#[inline]
fn before(score: f64, member: &[u8], s: f64, m: &[u8]) -> bool {
    score < s || (score == s && member < m)
}

impl SkipList {
    /// An empty list.
    pub fn new() -> Self {
        let head = Node {
            member: Box::default(),
            score: 0.0,
            back: NIL,
            links: vec![Link { next: NIL, span: 0 }; MAX_LEVEL].into_boxed_slice(),
        };
        SkipList {
            nodes: vec![head],
            free: Vec::new(),
            tail: NIL,
            len: 0,
            level: 1,
            rng: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Redis's `zslRandomLevel`: each level up with probability 1/4.
    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if level >= MAX_LEVEL || self.rng & 3 != 0 {
                return level;
            }
            level += 1;
        }
    }

    #[inline]
    fn link(&self, x: u32, i: usize) -> Link {
        self.nodes[x as usize].links[i]
    }

    #[inline]
    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        &mut self.nodes[x as usize].links[i]
    }

    /// The last node at each level for which `pred` holds (the head if
    /// none), and the rank (count of elements passed) at each.
    fn path(&self, pred: impl Fn(f64, &[u8]) -> bool) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let n = &self.nodes[l.next as usize];
                if !pred(n.score, &n.member) {
                    break;
                }
                rank[i] += l.span;
                x = l.next;
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// How many elements satisfy `pred`, which must hold for a prefix of
    /// the order (everything below some bound) and fail after it.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut n = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL {
                    break;
                }
                let nd = &self.nodes[l.next as usize];
                if !pred(nd.score, &nd.member) {
                    break;
                }
                n += l.span as usize;
                x = l.next;
            }
        }
        n
    }

    /// Insert `member`, which must not be in the list.
    pub fn insert(&mut self, score: f64, member: Box<[u8]>) {
        let (mut update, mut rank) = self.path(|s, m| before(s, m, score, &member));
        let level = self.random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let node = Node {
            member,
            score,
            back: if update[0] == HEAD { NIL } else { update[0] },
            links: vec![Link { next: NIL, span: 0 }; level].into_boxed_slice(),
        };
        let x = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..level {
            let prev = self.link(update[i], i);
            let passed = rank[0] - rank[i];
            *self.link_mut(x, i) = Link {
                next: prev.next,
                span: prev.span - passed,
            };
            *self.link_mut(update[i], i) = Link {
                next: x,
                span: passed + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.link_mut(u, i).span += 1;
        }
        match self.link(x, 0).next {
            NIL => self.tail = x,
            n => self.nodes[n as usize].back = x,
        }
        self.len += 1;
    }

    /// Remove `member` with `score`; its bytes, or `None` if absent.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<Box<[u8]>> {
        let (update, _) = self.path(|s, m| before(s, m, score, member));
        let x = self.link(update[0], 0).next;
        if x == NIL {
            return None;
        }
        let n = &self.nodes[x as usize];
        if n.score != score || &*n.member != member {
            return None;
        }
        Some(self.unlink(x, &update))
    }

    /// Unlink node `x`, whose predecessors at each level are `update`.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) -> Box<[u8]> {
        let xl = self.nodes[x as usize].links.len();
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let l = self.link(u, i);
            if l.next == x {
                let own = self.link(x, i);
                *self.link_mut(u, i) = Link {
                    next: own.next,
                    span: l.span + own.span - 1,
                };
            } else {
                debug_assert!(i >= xl);
                self.link_mut(u, i).span -= 1;
            }
        }
        let back = self.nodes[x as usize].back;
        match self.link(x, 0).next {
            NIL => self.tail = back,
            n => self.nodes[n as usize].back = back,
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        self.free.push(x);
        let node = &mut self.nodes[x as usize];
        node.links = Box::default();
        std::mem::take(&mut node.member)
    }

    /// The node at 0-based `rank`, `NIL` past the end.
    pub fn at_rank(&self, rank: usize) -> u32 {
        if rank >= self.len {
            return NIL;
        }
        let want = rank + 1;
        let mut x = HEAD;
        let mut passed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next == NIL || passed + l.span as usize > want {
                    break;
                }
                passed += l.span as usize;
                x = l.next;
            }
            if passed == want {
                return x;
            }
        }
        NIL
    }

    /// Node `x`'s member and score.
    #[inline]
    pub fn get(&self, x: u32) -> (&[u8], f64) {
        let n = &self.nodes[x as usize];
        (&n.member, n.score)
    }

    /// The node after `x` in order, `NIL` at the end.
    #[inline]
    pub fn next(&self, x: u32) -> u32 {
        self.link(x, 0).next
    }

    /// The node before `x` in order, `NIL` at the start.
    #[inline]
    pub fn prev(&self, x: u32) -> u32 {
        self.nodes[x as usize].back
    }

    /// The first node, `NIL` when empty.
    pub fn first(&self) -> u32 {
        self.link(HEAD, 0).next
    }

    /// The last node, `NIL` when empty.
    pub fn last(&self) -> u32 {
        self.tail
    }
}
