//! One node of a [`List`](super::List): a run of items packed into one
//! byte buffer, as a listpack packs them in a Redis quicklist node.
//!
//! An entry is `len` as LEB128, the item's bytes, then `len` again as
//! LEB128 with its bytes reversed, so the buffer can be walked from either
//! end (listpack's back-length idea): 2 bytes of overhead for an item of
//! up to 127 bytes, against 16 for a `Box<[u8]>` plus its allocation.
//!
//! The live entries are `buf[head..]`. Popping the first entry only moves
//! `head`, and pushing a first entry writes into that gap when it fits, so
//! both ends of a node are O(1) amortised; when the gap is too small the
//! node is copied once with a new gap in front (a bounded copy: nodes are
//! kept under [`NODE_BYTES`]). Edits inside a node (LSET, LINSERT, LREM)
//! move the node's tail bytes, O(node) as in a listpack.

/// Live bytes a node grows to before a push starts a new one (an item
/// longer than this gets a node of its own). Redis's default
/// `list-max-listpack-size -2` is 8 KiB; half that keeps the copies a
/// front push or a mid-node edit makes shorter, at one more node header
/// per 4 KiB.
pub(super) const NODE_BYTES: usize = 4096;

/// Most gap a front push leaves when it has to copy the node: enough for
/// many more front pushes of small items, little memory otherwise.
const FRONT_GAP: usize = 256;

/// A packed run of items.
#[derive(Clone, Debug, Default)]
pub(super) struct Node {
    /// Dead gap `..head`, then the entries.
    buf: Vec<u8>,
    /// Where the first live entry starts.
    head: u32,
    /// Entries held.
    count: u32,
}

/// Bytes of `n` as LEB128.
#[inline]
fn vsize(n: usize) -> usize {
    let (mut size, mut rest) = (1, n >> 7);
    while rest > 0 {
        size += 1;
        rest >>= 7;
    }
    size
}

/// Bytes an entry of an item of `len` bytes takes in a node.
#[inline]
pub(super) fn entry_size(len: usize) -> usize {
    len + 2 * vsize(len)
}

/// Append `item`'s entry to `out`.
fn encode(out: &mut Vec<u8>, item: &[u8]) {
    let mut n = item.len();
    let start = out.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    let hdr = out.len() - start;
    out.extend_from_slice(item);
    for i in (0..hdr).rev() {
        let b = out[start + i];
        out.push(b);
    }
}

/// The length at `buf[at..]` read forward: (length, its bytes).
#[inline]
fn read_fwd(buf: &[u8], at: usize) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, at);
    loop {
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (n, i - at);
        }
        shift += 7;
    }
}

/// The length whose reversed LEB128 ends at `buf[..end]`: (length, its
/// bytes).
#[inline]
fn read_back(buf: &[u8], end: usize) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, end);
    loop {
        i -= 1;
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (n, end - i);
        }
        shift += 7;
    }
}

impl Node {
    /// A node holding `item`.
    pub(super) fn with(item: &[u8]) -> Node {
        let mut n = Node::default();
        n.push_back(item);
        n
    }

    /// Entries held.
    #[inline]
    pub(super) fn count(&self) -> usize {
        self.count as usize
    }

    /// Heap bytes it holds (its buffer's capacity).
    #[inline]
    pub(super) fn heap(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes of its live entries.
    #[inline]
    pub(super) fn live(&self) -> usize {
        self.buf.len() - self.head as usize
    }

    /// Whether an item of `len` bytes still goes into this node.
    #[inline]
    pub(super) fn has_room(&self, len: usize) -> bool {
        self.live() + entry_size(len) <= NODE_BYTES
    }

    /// Offset of the first entry.
    #[inline]
    pub(super) fn start(&self) -> usize {
        self.head as usize
    }

    /// Offset just past the last entry.
    #[inline]
    pub(super) fn end(&self) -> usize {
        self.buf.len()
    }

    /// The item whose entry starts at `at`, and where the next one starts.
    #[inline]
    pub(super) fn item_at(&self, at: usize) -> (&[u8], usize) {
        let (len, hdr) = read_fwd(&self.buf, at);
        let from = at + hdr;
        (&self.buf[from..from + len], from + len + hdr)
    }

    /// The item whose entry ends at `end`, and where that entry starts.
    #[inline]
    pub(super) fn item_before(&self, end: usize) -> (&[u8], usize) {
        let (len, hdr) = read_back(&self.buf, end);
        let to = end - hdr;
        (&self.buf[to - len..to], to - len - hdr)
    }

    /// Offset of entry `i` (counted from the nearer end).
    pub(super) fn offset_of(&self, i: usize) -> usize {
        debug_assert!(i < self.count());
        if i <= self.count() / 2 {
            let mut at = self.start();
            for _ in 0..i {
                at = self.item_at(at).1;
            }
            at
        } else {
            let mut end = self.end();
            for _ in i..self.count() {
                end = self.item_before(end).1;
            }
            end
        }
    }

    /// Append an item. The buffer doubles from 64 bytes but never past
    /// what a full node needs, so a node filled by pushes ends near
    /// [`NODE_BYTES`] of capacity, not at the next power of two.
    pub(super) fn push_back(&mut self, item: &[u8]) {
        let (len, cap) = (self.buf.len(), self.buf.capacity());
        let need = entry_size(item.len());
        if len + need > cap {
            let head = self.head as usize;
            let want = (2 * cap).clamp(64, head + NODE_BYTES).max(len + need);
            self.buf.reserve_exact(want - len);
        }
        encode(&mut self.buf, item);
        self.count += 1;
    }

    /// Prepend an item: into the gap when it fits, else by one copy that
    /// leaves a new gap for the pushes that usually follow.
    pub(super) fn push_front(&mut self, item: &[u8]) {
        let need = entry_size(item.len());
        let head = self.head as usize;
        if head < need {
            let gap = FRONT_GAP.min(self.live()).max(need);
            let mut buf = Vec::with_capacity(gap + self.live());
            buf.resize(gap, 0);
            buf.extend_from_slice(&self.buf[head..]);
            self.buf = buf;
            self.head = gap as u32;
        }
        let at = self.head as usize - need;
        let mut entry = [0u8; 10];
        let mut n = item.len();
        let mut hdr = 0;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            entry[hdr] = if n == 0 { b } else { b | 0x80 };
            hdr += 1;
            if n == 0 {
                break;
            }
        }
        self.buf[at..at + hdr].copy_from_slice(&entry[..hdr]);
        self.buf[at + hdr..at + hdr + item.len()].copy_from_slice(item);
        let back = at + hdr + item.len();
        for i in 0..hdr {
            self.buf[back + i] = entry[hdr - 1 - i];
        }
        self.head = at as u32;
        self.count += 1;
    }

    /// Remove the first item, after `f` has seen it.
    pub(super) fn pop_front<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let (item, next) = self.item_at(self.start());
        let r = f(item);
        self.count -= 1;
        if self.count == 0 {
            self.buf.clear();
            self.head = 0;
        } else {
            self.head = next as u32;
        }
        r
    }

    /// Remove the last item, after `f` has seen it.
    pub(super) fn pop_back<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let (item, at) = self.item_before(self.end());
        let r = f(item);
        self.buf.truncate(at);
        self.count -= 1;
        if self.count == 0 {
            self.buf.clear();
            self.head = 0;
        }
        r
    }

    /// Replace the bytes `from..to` (whole entries, `removed` of them) by
    /// the entries of `items`.
    pub(super) fn splice(&mut self, from: usize, to: usize, removed: usize, items: &[&[u8]]) {
        let mut enc = Vec::new();
        for it in items {
            encode(&mut enc, it);
        }
        self.buf.splice(from..to, enc);
        self.count = (self.count as usize - removed + items.len()) as u32;
        self.compact();
    }

    /// Keep entries `keep_from..keep_to` (by position) only.
    pub(super) fn keep(&mut self, keep_from: usize, keep_to: usize) {
        let count = self.count();
        let end_off = if keep_to < count {
            self.offset_of(keep_to)
        } else {
            self.end()
        };
        self.buf.truncate(end_off);
        let start_off = if keep_from < keep_to {
            self.offset_of(keep_from)
        } else {
            self.end()
        };
        self.head = start_off as u32;
        self.count = keep_to.saturating_sub(keep_from) as u32;
        self.compact();
    }

    /// Drop the dead gap when it is most of the buffer, and give back
    /// capacity once three quarters of it is unused, so a node that lost
    /// items (LTRIM, LREM) does not keep its old size. Not called per pop:
    /// a node drained by pops is freed whole when it empties.
    pub(super) fn compact(&mut self) {
        let head = self.head as usize;
        if self.count == 0 {
            self.buf = Vec::new();
            self.head = 0;
            return;
        }
        if head > FRONT_GAP && head > self.live() {
            self.buf.drain(..head);
            self.head = 0;
        }
        if self.buf.capacity() > 4 * self.buf.len().max(16) {
            self.buf.shrink_to_fit();
        }
    }

    /// How many of its items equal `item`.
    pub(super) fn matches(&self, item: &[u8]) -> usize {
        let (mut at, mut n) = (self.start(), 0);
        while at < self.end() {
            let (it, next) = self.item_at(at);
            n += usize::from(it == item);
            at = next;
        }
        n
    }

    /// Remove `take` of the items equal to `item`, after skipping the
    /// first `skip` of them (LREM from the tail skips the earlier ones).
    /// One pass that copies what stays.
    pub(super) fn remove_matches(&mut self, item: &[u8], skip: usize, take: usize) {
        let mut out = Vec::with_capacity(self.live());
        let (mut at, mut seen, mut gone) = (self.start(), 0, 0);
        while at < self.end() {
            let (it, next) = self.item_at(at);
            let hit = it == item;
            seen += usize::from(hit);
            if hit && seen > skip && gone < take {
                gone += 1;
            } else {
                out.extend_from_slice(&self.buf[at..next]);
            }
            at = next;
        }
        self.buf = out;
        self.head = 0;
        self.count -= gone as u32;
        self.compact();
    }

    /// Cut off the second half of its entries into a node of their own,
    /// once mid-node inserts made it much larger than [`NODE_BYTES`].
    pub(super) fn split_if_big(&mut self) -> Option<Node> {
        if self.live() <= 2 * NODE_BYTES || self.count < 2 {
            return None;
        }
        let half = self.count() / 2;
        let at = self.offset_of(half);
        let tail = Node {
            buf: self.buf[at..].to_vec(),
            head: 0,
            count: (self.count() - half) as u32,
        };
        self.buf.truncate(at);
        self.buf.shrink_to_fit();
        self.count = half as u32;
        Some(tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_read_back_both_ways() {
        for len in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let item = vec![7u8; len];
            let mut buf = vec![1, 2, 3];
            encode(&mut buf, &item);
            assert_eq!(buf.len(), 3 + entry_size(len), "size of {len}");
            assert_eq!(read_fwd(&buf, 3), (len, vsize(len)));
            assert_eq!(read_back(&buf, buf.len()), (len, vsize(len)));
        }
    }

    #[test]
    fn front_pushes_fill_the_gap_then_copy_once() {
        let mut n = Node::with(b"x");
        for i in 0..300u32 {
            n.push_front(&i.to_le_bytes());
        }
        assert_eq!(n.count(), 301);
        assert_eq!(n.item_at(n.start()).0, 299u32.to_le_bytes());
        assert_eq!(n.item_before(n.end()).0, b"x");
        let first = n.pop_front(|b| b.to_vec());
        assert_eq!(first, 299u32.to_le_bytes());
        assert_eq!(n.pop_back(|b| b.to_vec()), b"x");
        assert_eq!(n.count(), 299);
    }
}
