//! [`Pack`]: Redis's listpack idea, a list of byte strings in one flat
//! buffer, each entry its length (LEB128, one byte up to 127) then its
//! bytes. A small hash of ten short fields is one allocation of about
//! 200 bytes instead of twenty boxes and their headers. Every lookup walks
//! the buffer, which is what Redis does too and is fast while an entry
//! count stays in the low hundreds (the encodings' limits).
//!
//! Positions are byte offsets of an entry's start; a caller gets them from
//! [`Pack::find_pair`] and uses them before the next change.

/// Byte strings in one buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pack {
    buf: Vec<u8>,
    /// Entries held.
    len: usize,
}

/// Read the entry at `at`: its bytes and the offset of the next entry.
#[inline]
fn entry(buf: &[u8], at: usize) -> (&[u8], usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, at);
    loop {
        let b = buf[i];
        n |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[i..i + n], i + n)
}

/// `bytes` as an entry appended to `out`.
fn encode(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut n = bytes.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
}

impl Pack {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the buffer in use (what the owner charges for it).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The buffer itself: what a key's record stores (`store::entries`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Refill from `bytes`, a buffer [`as_bytes`](Self::as_bytes) gave,
    /// reusing this one's allocation. The entries are counted by one walk,
    /// as cheap as the lookup that follows it.
    pub fn load(&mut self, bytes: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        self.len = 0;
        while at < bytes.len() {
            at = entry(bytes, at).1;
            self.len += 1;
        }
        debug_assert_eq!(at, bytes.len(), "a pack's bytes end at an entry's end");
    }

    /// Append an entry. The buffer grows to the exact size, as Redis's
    /// listpack does (it reallocs on every insert): amortised doubling
    /// left a small hash's buffer up to half empty, and small values are
    /// most of a cache's memory. The allocator rounds to its size classes
    /// and grows in place within one, so most pushes copy nothing.
    pub fn push(&mut self, bytes: &[u8]) {
        let mut header = 1;
        while bytes.len() >> (7 * header) != 0 {
            header += 1;
        }
        self.buf.reserve_exact(header + bytes.len());
        encode(&mut self.buf, bytes);
        self.len += 1;
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.buf.len()).then(|| {
                let (e, next) = entry(&self.buf, at);
                at = next;
                e
            })
        })
    }

    /// The entries taken two by two (a hash's fields and values).
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut it = self.iter();
        std::iter::from_fn(move || Some((it.next()?, it.next()?)))
    }

    /// The `k`-th pair.
    pub fn pair(&self, k: usize) -> Option<(&[u8], &[u8])> {
        self.pairs().nth(k)
    }

    /// Offset of the first entry of the pair whose first entry is `key`.
    pub fn find_pair(&self, key: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at < self.buf.len() {
            let (k, next) = entry(&self.buf, at);
            if k == key {
                return Some(at);
            }
            at = entry(&self.buf, next).1;
        }
        None
    }

    /// The entry after the one at `at` (a pair's second).
    pub fn next_of(&self, at: usize) -> &[u8] {
        let next = entry(&self.buf, at).1;
        entry(&self.buf, next).0
    }

    /// Replace the entry after the one at `at` with `bytes`.
    pub fn replace_next(&mut self, at: usize, bytes: &[u8]) {
        let start = entry(&self.buf, at).1;
        let end = entry(&self.buf, start).1;
        let mut new = Vec::with_capacity(bytes.len() + 2);
        encode(&mut new, bytes);
        self.buf.splice(start..end, new);
    }

    /// Remove `n` entries from the one at `at` (their order kept).
    pub fn remove(&mut self, at: usize, n: usize) {
        let mut end = at;
        for _ in 0..n {
            end = entry(&self.buf, end).1;
        }
        self.buf.drain(at..end);
        self.len -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_any_length_round_trip() {
        let long = vec![7u8; 300];
        let mut p = Pack::default();
        for e in [&b""[..], b"a", &long, b"bc", &[0x80; 128], b"z"] {
            p.push(e);
        }
        assert_eq!(p.len(), 6);
        let got: Vec<&[u8]> = p.iter().collect();
        assert_eq!(got, [&b""[..], b"a", &long, b"bc", &[0x80; 128], b"z"]);
        let at = p.find_pair(b"").unwrap();
        assert_eq!(p.next_of(at), b"a");
        let at = p.find_pair(&long).unwrap();
        assert_eq!(p.next_of(at), b"bc");
        let at = p.find_pair(b"a");
        assert_eq!(at, None);
        // The pair (long, bc) gets a new second entry.
        let at = p.find_pair(&long).unwrap();
        p.replace_next(at, b"xyz");
        assert_eq!(p.pair(1), Some((&long[..], &b"xyz"[..])));
        p.remove(at, 2);
        let got: Vec<&[u8]> = p.iter().collect();
        assert_eq!(got, [&b""[..], b"a", &[0x80; 128], b"z"]);
        assert_eq!(p.bytes(), 1 + 2 + 2 + 128 + 2);
        assert_eq!(p.len(), 4);
        // Its bytes load back as the same entries, into a used buffer too.
        let mut q = Pack::default();
        q.push(&long);
        q.load(p.as_bytes());
        assert_eq!(q, p);
        q.load(&[]);
        assert!(q.is_empty() && q.bytes() == 0);
    }
}
