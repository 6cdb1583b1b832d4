//! A list, as Redis's quicklist holds one: a deque of nodes, each a few
//! KiB of items packed into one buffer ([`node`]).
//!
//! Why this shape: a push or pop at either end touches only the end node
//! (O(1) amortised, as in Redis), and small items cost their bytes plus 2
//! instead of a `Box<[u8]>` each (16 bytes of pointer and length plus an
//! allocation of at least 16). Walks by index skip whole nodes by their
//! counts, so LINDEX, LSET and LRANGE are O(nodes + node) where Redis's are
//! O(n) too; LINSERT, LREM and LPOS scan, as in Redis.
//!
//! Memory: [`List::mem`] is the nodes' buffer capacities plus one node
//! header ([`Node`], 32 bytes) per slot of the node deque's capacity, kept
//! as a running total of the buffers as they change.
//!
//! No keys, TTLs or shards here: the command layer (`cmd/list.rs`) reaches
//! a list through `Shard::read` / `Shard::modify`.

mod node;
#[cfg(test)]
mod tests;

use node::Node;
use std::collections::VecDeque;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (LPUSH, LPOP, `LEFT`).
    Left,
    /// The tail (RPUSH, RPOP, `RIGHT`).
    Right,
}

impl End {
    /// `LEFT` or `RIGHT`, any case, as LMOVE and LMPOP take them.
    pub fn parse(b: &[u8]) -> Option<End> {
        if b.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if b.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

/// A list.
#[derive(Debug, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    /// Items held.
    len: usize,
    /// Sum of the nodes' buffer capacities.
    heap: usize,
}

impl Clone for List {
    /// A copy (COPY, a MULTI's snapshot): its buffers are allocated to
    /// their length, so the copy's heap total is its own, summed once.
    fn clone(&self) -> List {
        let nodes = self.nodes.clone();
        let heap = nodes.iter().map(Node::heap).sum();
        List {
            nodes,
            len: self.len,
            heap,
        }
    }
}

impl PartialEq for List {
    /// The same items in the same order, however they are split in nodes.
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

/// Bytes a push of `items` may add, for the `maxmemory` check.
pub fn push_cost<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> usize {
    items.into_iter().map(|i| item_cost(i.len())).sum()
}

/// Bytes a push of one item of `len` bytes may add.
pub fn item_cost(len: usize) -> usize {
    node::entry_size(len)
}

impl List {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes charged for it, kept as it changes.
    pub fn mem(&self) -> usize {
        self.heap + self.nodes.capacity() * std::mem::size_of::<Node>()
    }

    /// What OBJECT ENCODING says of it (Redis 7.0 says `quicklist` for
    /// every list).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Run `f` on node `i`, keeping the heap total, and drop the node if
    /// `f` left it empty.
    fn edit<R>(&mut self, i: usize, f: impl FnOnce(&mut Node) -> R) -> R {
        let n = &mut self.nodes[i];
        let before = n.heap();
        let r = f(n);
        let after = n.heap();
        let empty = n.count() == 0;
        self.heap = self.heap + after - before;
        if empty {
            self.heap -= after;
            self.nodes.remove(i);
        }
        r
    }

    /// Add `item` at `end`.
    pub fn push(&mut self, end: End, item: &[u8]) {
        self.len += 1;
        let at = match end {
            End::Left => 0,
            End::Right => self.nodes.len().wrapping_sub(1),
        };
        match self.nodes.get(at) {
            Some(n) if n.has_room(item.len()) => self.edit(at, |n| match end {
                End::Left => n.push_front(item),
                End::Right => n.push_back(item),
            }),
            _ => {
                // A one-node list (most small lists) holds one node slot,
                // not the deque's default of four.
                if self.nodes.is_empty() {
                    self.nodes.reserve_exact(1);
                }
                let n = Node::with(item);
                self.heap += n.heap();
                match end {
                    End::Left => self.nodes.push_front(n),
                    End::Right => self.nodes.push_back(n),
                }
            }
        }
    }

    /// Remove the item at `end`, after `f` has seen it; `None` when empty.
    pub fn pop<R>(&mut self, end: End, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(match end {
            End::Left => self.edit(0, |n| n.pop_front(f)),
            End::Right => self.edit(self.nodes.len() - 1, |n| n.pop_back(f)),
        })
    }

    /// Node and entry offset of item `i` (< len), walking node counts from
    /// the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        debug_assert!(i < self.len);
        if i < self.len / 2 {
            let mut i = i;
            for (k, n) in self.nodes.iter().enumerate() {
                if i < n.count() {
                    return (k, n.offset_of(i));
                }
                i -= n.count();
            }
        } else {
            let mut from_end = self.len - i;
            for (k, n) in self.nodes.iter().enumerate().rev() {
                if from_end <= n.count() {
                    return (k, n.offset_of(n.count() - from_end));
                }
                from_end -= n.count();
            }
        }
        unreachable!("index {i} below len {}", self.len)
    }

    /// Item `i` from the head.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.len).then(|| {
            let (k, at) = self.locate(i);
            self.nodes[k].item_at(at).0
        })
    }

    /// The items from the head.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The items from item `i` on, towards the tail.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        if i >= self.len {
            return Iter {
                list: self,
                node: self.nodes.len(),
                at: 0,
                left: 0,
            };
        }
        let (node, at) = self.locate(i);
        Iter {
            list: self,
            node,
            at,
            left: self.len - i,
        }
    }

    /// The items from the tail towards the head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter {
            list: self,
            node: self.nodes.len(),
            end: 0,
            left: self.len,
        }
    }

    /// Replace item `i`; false when there is none.
    pub fn set(&mut self, i: usize, item: &[u8]) -> bool {
        if i >= self.len {
            return false;
        }
        let (k, at) = self.locate(i);
        let next = self.nodes[k].item_at(at).1;
        self.splice_in(k, at, next, 1, item);
        true
    }

    /// Insert `item` before (or after) the first item equal to `pivot`;
    /// false when there is none.
    pub fn insert(&mut self, pivot: &[u8], after: bool, item: &[u8]) -> bool {
        for k in 0..self.nodes.len() {
            let n = &self.nodes[k];
            let mut at = n.start();
            while at < n.end() {
                let (it, next) = n.item_at(at);
                if it == pivot {
                    let off = if after { next } else { at };
                    self.len += 1;
                    self.splice_in(k, off, off, 0, item);
                    return true;
                }
                at = next;
            }
        }
        false
    }

    /// Replace `removed` entries at `from..to` of node `k` by `item`, then
    /// split the node if that made it too big.
    fn splice_in(&mut self, k: usize, from: usize, to: usize, removed: usize, item: &[u8]) {
        let tail = self.edit(k, |n| {
            n.splice(from, to, removed, &[item]);
            n.split_if_big()
        });
        if let Some(t) = tail {
            self.heap += t.heap();
            self.nodes.insert(k + 1, t);
        }
    }

    /// LREM: remove up to `count` items equal to `item` from the head
    /// (`count > 0`), from the tail (`count < 0`) or all of them (0).
    /// Returns how many went.
    pub fn remove(&mut self, item: &[u8], count: i64) -> usize {
        let mut quota = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let mut removed = 0;
        let order: Vec<usize> = if count < 0 {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        // Walk nodes in order; indexes stay valid because emptied nodes
        // are dropped only at the end.
        for k in order {
            if quota == 0 {
                break;
            }
            let n = &mut self.nodes[k];
            let matches = n.matches(item);
            if matches == 0 {
                continue;
            }
            let take = matches.min(quota);
            let skip = if count < 0 { matches - take } else { 0 };
            let before = n.heap();
            n.remove_matches(item, skip, take);
            self.heap = self.heap + n.heap() - before;
            quota -= take;
            removed += take;
        }
        self.len -= removed;
        self.drop_empty();
        removed
    }

    /// Drop nodes left empty (their buffers are already freed).
    fn drop_empty(&mut self) {
        self.nodes.retain(|n| n.count() > 0);
    }

    /// LTRIM: drop `left` items from the head and `right` from the tail.
    pub fn trim(&mut self, left: usize, right: usize) {
        if left + right >= self.len {
            self.nodes.clear();
            self.nodes.shrink_to_fit();
            self.len = 0;
            self.heap = 0;
            return;
        }
        self.len -= left + right;
        let mut left = left;
        while left > 0 {
            let count = self.nodes[0].count();
            if count <= left {
                left -= count;
                self.heap -= self.nodes[0].heap();
                self.nodes.pop_front();
            } else {
                self.edit(0, |n| n.keep(left, count));
                left = 0;
            }
        }
        let mut right = right;
        while right > 0 {
            let last = self.nodes.len() - 1;
            let count = self.nodes[last].count();
            if count <= right {
                right -= count;
                self.heap -= self.nodes[last].heap();
                self.nodes.pop_back();
            } else {
                self.edit(last, |n| n.keep(0, count - right));
                right = 0;
            }
        }
        if self.nodes.capacity() > 4 * self.nodes.len().max(4) {
            self.nodes.shrink_to_fit();
        }
    }
}

/// The items of a [`List`] towards the tail.
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    at: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut n = &self.list.nodes[self.node];
        if self.at >= n.end() {
            self.node += 1;
            n = &self.list.nodes[self.node];
            self.at = n.start();
        }
        let (item, next) = n.item_at(self.at);
        self.at = next;
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The items of a [`List`] towards the head.
pub struct RevIter<'a> {
    list: &'a List,
    node: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        if self.node == self.list.nodes.len() || self.end <= self.list.nodes[self.node].start() {
            self.node -= 1;
            self.end = self.list.nodes[self.node].end();
        }
        let (item, at) = self.list.nodes[self.node].item_before(self.end);
        self.end = at;
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
