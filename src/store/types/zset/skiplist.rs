//! The big sorted set's order: Redis's skiplist (`zskiplist` in t_zset.c)
//! with a span on every link, so rank lookups and "how many come before
//! this bound" are O(log n) like the searches themselves.
//!
//! Layout, for the cache: a node is one record in a flat arena of
//! [`Link`]s, addressed by the index of its first slot (a `u32`, [`NIL`]
//! for none), so there is no unsafe pointer juggling and a node never
//! moves while linked. Slot 0 of a record is its header (its own score,
//! its level and the index of its member and back link in `meta`); slots
//! 1..=level are its links. Every link also carries the score of the node
//! it points to, so a search decides from the record it stands on whether
//! to step forward, and touches the next record only to step onto it (and
//! a member only on a tie of scores). Redis's node keeps its levels inline
//! for the same reason; with a separate links allocation per node, ZADD
//! took two cache misses per step and ran at 0.81× Redis's ops/s
//! (docs/BENCH.md, 2026-12-03). Freed records go on a free list per
//! level and are reused by nodes of that level. The head is the record at
//! 0: no element, [`MAX_LEVEL`] links.
//!
//! Invariants:
//! - following level-0 links from the head visits every element once, in
//!   (score, member) order, and `back` is the reverse of that walk;
//! - a link's `span` is how many level-0 steps it jumps over, so the spans
//!   summed along any path from the head to a node give its 1-based rank;
//! - a link's `score` is its target's score (unused when `next` is NIL);
//! - links above `level` of the head are `NIL` with span 0.

/// No node.
pub const NIL: u32 = u32::MAX;
/// Most levels a node can have (Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_LEVEL: usize = 32;
const HEAD: u32 = 0;

/// One arena slot: a link, or (slot 0 of a record) the header, whose
/// `next` is the node's `meta` index, `span` its level, `score` its score.
#[derive(Clone, Copy, Debug)]
struct Link {
    next: u32,
    span: u32,
    score: f64,
}

const EMPTY: Link = Link {
    next: NIL,
    span: 0,
    score: 0.0,
};

/// What a search needs only on a tie, and `prev` needs.
#[derive(Clone, Debug, Default)]
struct Meta {
    member: Box<[u8]>,
    back: u32,
}

/// A skiplist of (score, member) in Redis's order: by score, then by member
/// bytes (`memcmp`, shorter first on a common prefix). It does not check
/// that members are distinct; the sorted set's map does.
#[derive(Clone, Debug)]
pub struct SkipList {
    arena: Vec<Link>,
    /// Per level (index level − 1): records of that size free for reuse.
    free: Vec<Vec<u32>>,
    meta: Vec<Meta>,
    free_meta: Vec<u32>,
    tail: u32,
    len: usize,
    level: usize,
    /// xorshift state for node levels.
    rng: u64,
}

impl SkipList {
    /// An empty list.
    pub fn new() -> Self {
        let mut arena = vec![EMPTY; 1 + MAX_LEVEL];
        arena[0] = Link {
            next: NIL,
            span: MAX_LEVEL as u32,
            score: 0.0,
        };
        SkipList {
            arena,
            free: vec![Vec::new(); MAX_LEVEL],
            meta: Vec::new(),
            free_meta: Vec::new(),
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
        self.arena[x as usize + 1 + i]
    }

    #[inline]
    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        &mut self.arena[x as usize + 1 + i]
    }

    #[inline]
    fn meta_of(&self, x: u32) -> &Meta {
        &self.meta[self.arena[x as usize].next as usize]
    }

    #[inline]
    fn meta_mut(&mut self, x: u32) -> &mut Meta {
        let m = self.arena[x as usize].next as usize;
        &mut self.meta[m]
    }

    #[inline]
    fn score_of(&self, x: u32) -> f64 {
        self.arena[x as usize].score
    }

    /// Node `x`'s level.
    #[inline]
    fn level_of(&self, x: u32) -> usize {
        self.arena[x as usize].span as usize
    }

    /// The last node at each level that comes before (`score`, `member`)
    /// (the head if none), and the rank (count of elements passed) at
    /// each. Decides on the links' scores; reads a member only on a tie.
    fn path_to(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
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
                let ahead =
                    l.score < score || (l.score == score && *self.meta_of(l.next).member < *member);
                if !ahead {
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
                if l.next == NIL || !pred(l.score, &self.meta_of(l.next).member) {
                    break;
                }
                n += l.span as usize;
                x = l.next;
            }
        }
        n
    }

    /// A record of `level` links: a freed one of that size, or a new one.
    fn alloc(&mut self, level: usize, score: f64, meta: u32) -> u32 {
        let header = Link {
            next: meta,
            span: level as u32,
            score,
        };
        let x = match self.free[level - 1].pop() {
            Some(x) => x,
            None => {
                let x = self.arena.len();
                assert!(x + 1 + level < NIL as usize, "skiplist arena full");
                self.arena.resize(x + 1 + level, EMPTY);
                x as u32
            }
        };
        self.arena[x as usize] = header;
        x
    }

    /// Insert `member`, which must not be in the list.
    pub fn insert(&mut self, score: f64, member: Box<[u8]>) {
        let (mut update, mut rank) = self.path_to(score, &member);
        let level = self.random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = self.len as u32;
            }
            self.level = level;
        }
        let meta = Meta {
            member,
            back: if update[0] == HEAD { NIL } else { update[0] },
        };
        let m = match self.free_meta.pop() {
            Some(m) => {
                self.meta[m as usize] = meta;
                m
            }
            None => {
                self.meta.push(meta);
                (self.meta.len() - 1) as u32
            }
        };
        let x = self.alloc(level, score, m);
        for i in 0..level {
            let prev = self.link(update[i], i);
            let passed = rank[0] - rank[i];
            *self.link_mut(x, i) = Link {
                next: prev.next,
                span: prev.span - passed,
                score: prev.score,
            };
            *self.link_mut(update[i], i) = Link {
                next: x,
                span: passed + 1,
                score,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.link_mut(u, i).span += 1;
        }
        match self.link(x, 0).next {
            NIL => self.tail = x,
            n => self.meta_mut(n).back = x,
        }
        self.len += 1;
    }

    /// Remove `member` with `score`; its bytes, or `None` if absent.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<Box<[u8]>> {
        let (update, _) = self.path_to(score, member);
        let x = self.link(update[0], 0).next;
        if x == NIL || self.score_of(x) != score || *self.meta_of(x).member != *member {
            return None;
        }
        Some(self.unlink(x, &update))
    }

    /// Remove the first element, with no search: the head precedes it at
    /// every level. Its member and score, or `None` when empty.
    pub fn pop_first(&mut self) -> Option<(Box<[u8]>, f64)> {
        let x = self.first();
        if x == NIL {
            return None;
        }
        let score = self.score_of(x);
        Some((self.unlink(x, &[HEAD; MAX_LEVEL]), score))
    }

    /// Unlink node `x`, whose predecessors at each level are `update`.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) -> Box<[u8]> {
        let xl = self.level_of(x);
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let l = self.link(u, i);
            if l.next == x {
                let own = self.link(x, i);
                *self.link_mut(u, i) = Link {
                    next: own.next,
                    span: l.span + own.span - 1,
                    score: own.score,
                };
            } else {
                debug_assert!(i >= xl);
                self.link_mut(u, i).span -= 1;
            }
        }
        let back = self.meta_of(x).back;
        match self.link(x, 0).next {
            NIL => self.tail = back,
            n => self.meta_mut(n).back = back,
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        let m = self.arena[x as usize].next;
        self.free[xl - 1].push(x);
        self.free_meta.push(m);
        std::mem::take(&mut self.meta[m as usize].member)
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
        (&self.meta_of(x).member, self.score_of(x))
    }

    /// The node after `x` in order, `NIL` at the end.
    #[inline]
    pub fn next(&self, x: u32) -> u32 {
        self.link(x, 0).next
    }

    /// The node before `x` in order, `NIL` at the start.
    #[inline]
    pub fn prev(&self, x: u32) -> u32 {
        self.meta_of(x).back
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `(score, member) < (s, m)` in the sorted set's order.
    fn before(score: f64, member: &[u8], s: f64, m: &[u8]) -> bool {
        score < s || (score == s && member < m)
    }

    /// The level-0 walk, back links, spans and cached scores all agree.
    fn check(l: &SkipList) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        let (mut x, mut prev) = (l.first(), NIL);
        while x != NIL {
            assert_eq!(l.prev(x), prev);
            let (m, s) = l.get(x);
            out.push((m.to_vec(), s));
            assert_eq!(l.at_rank(out.len() - 1), x);
            for i in 0..l.level_of(x) {
                let link = l.link(x, i);
                if link.next != NIL {
                    assert_eq!(link.score, l.score_of(link.next));
                }
            }
            (prev, x) = (x, l.next(x));
        }
        assert_eq!(l.last(), prev);
        assert_eq!(out.len(), l.len());
        assert!(out
            .windows(2)
            .all(|w| before(w[0].1, &w[0].0, w[1].1, &w[1].0)));
        out
    }

    #[test]
    fn records_are_reused_and_the_order_holds_through_churn() {
        let mut l = SkipList::new();
        for round in 0..3u32 {
            for i in 0..2000u32 {
                let s = f64::from((i * 7919 + round) % 1000);
                l.insert(s, format!("m{i}").into_bytes().into());
            }
            let all = check(&l);
            assert_eq!(all.len(), 2000);
            assert_eq!(
                l.count_while(|s, _| s < 500.0),
                all.iter().filter(|e| e.1 < 500.0).count()
            );
            let arena = l.arena.len();
            let (half, rest) = all.split_at(all.len() / 2);
            for (m, s) in half {
                assert_eq!(l.pop_first(), Some((m.clone().into(), *s)));
            }
            check(&l);
            for (m, s) in rest.iter().rev() {
                assert_eq!(l.remove(*s, m).as_deref(), Some(&m[..]));
            }
            assert_eq!(l.pop_first(), None);
            assert_eq!(l.remove(1.0, b"m1"), None);
            assert_eq!((l.len(), l.first(), l.last()), (0, NIL, NIL));
            // The next round's nodes fit in the freed records, mostly.
            if round > 0 {
                assert!(
                    l.arena.len() <= arena + arena / 4,
                    "{} > {arena}",
                    l.arena.len()
                );
            }
        }
    }
}
