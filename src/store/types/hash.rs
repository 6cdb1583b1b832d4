//! A hash (field → value), in Redis 7.0's two encodings:
//! - `listpack`: the fields and values one after the other in one flat
//!   buffer ([`Pack`]), in insertion order, searched linearly, as long as
//!   it holds at most `hash-max-listpack-entries` fields and no field or
//!   value longer than `hash-max-listpack-value`;
//! - `hashtable`: our [`HashMap`] once either limit is passed. A hash
//!   converts once and never back, as in Redis.
//!
//! Keeping the listpack in insertion order (a removal closes the gap) gives
//! HGETALL, HKEYS and HSCAN of a small hash Redis's own order.
//!
//! Memory (`mem`): a listpack is charged its buffer's length; a hashtable
//! its fields' and values' bytes plus [`TABLE_ENTRY`] per field.

use super::pack::Pack;
use crate::map::{HashMap, Slot};
use crate::store::Encodings;

/// Bytes charged per field of a hashtable hash beyond its field and value:
/// the arena node (hash, link, two boxed slices: 48), a bucket share and
/// the allocator's headers of the two boxes.
pub const TABLE_ENTRY: usize = 80;

/// A field → value map of a big hash.
type Table = HashMap<Box<[u8]>, Box<[u8]>>;

#[derive(Clone, Debug)]
enum Repr {
    /// Fields and values alternating.
    Pack(Pack),
    /// Boxed: a table's struct is ~130 bytes, and every small value would
    /// pay for it inline in its `Coll` (`bench/hash_memory.sh`).
    Table(Box<Table>),
}

/// A hash (field → value).
#[derive(Clone, Debug)]
pub struct Hash {
    repr: Repr,
    /// Running byte total (see [`Value::mem`](crate::store::Value::mem)).
    mem: usize,
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            repr: Repr::Pack(Pack::default()),
            mem: 0,
        }
    }
}

/// Content equality, whatever the encodings.
impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

/// Where a field is: a listpack offset or a table slot.
#[derive(Clone, Copy, Debug)]
enum At {
    Pack(usize),
    Table(Slot),
}

impl Hash {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields held.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len() / 2,
            Repr::Table(t) => t.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes charged for it, kept as it changes.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// What OBJECT ENCODING says of it.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// True while it is a listpack (HSCAN then answers in one step).
    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Pack(_))
    }

    /// A listpack's entries, as its key's record stores them; `None` for a
    /// hashtable.
    pub fn pack_bytes(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Pack(p) => Some(p.as_bytes()),
            Repr::Table(_) => None,
        }
    }

    /// A listpack hash of the entries `bytes` ([`pack_bytes`](Self::pack_bytes)
    /// gave them).
    pub fn from_pack_bytes(bytes: &[u8]) -> Hash {
        let mut h = Hash::new();
        h.load_pack_bytes(bytes);
        h
    }

    /// Become the listpack hash of `bytes`, reusing this one's buffer when
    /// it is a listpack: the shard reads a record's hash this way without
    /// an allocation per command.
    pub fn load_pack_bytes(&mut self, bytes: &[u8]) {
        match &mut self.repr {
            Repr::Pack(p) => p.load(bytes),
            Repr::Table(_) => {
                let mut p = Pack::default();
                p.load(bytes);
                self.repr = Repr::Pack(p);
            }
        }
        self.mem = bytes.len();
    }

    fn find(&self, field: &[u8]) -> Option<At> {
        match &self.repr {
            Repr::Pack(p) => p.find_pair(field).map(At::Pack),
            Repr::Table(t) => t.find(field).map(At::Table),
        }
    }

    /// `field`'s value.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self.find(field)? {
            At::Pack(at) => Some(self.pack().next_of(at)),
            At::Table(s) => self.table().at(s).map(|(_, v)| &**v),
        }
    }

    /// True if `field` is there.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.find(field).is_some()
    }

    fn pack(&self) -> &Pack {
        match &self.repr {
            Repr::Pack(p) => p,
            Repr::Table(_) => unreachable!("a listpack position"),
        }
    }

    fn table(&self) -> &Table {
        match &self.repr {
            Repr::Table(t) => t,
            Repr::Pack(_) => unreachable!("a table slot"),
        }
    }

    /// Turn into a hashtable if `len` bytes (a field or value about to be
    /// written) pass the listpack's limit: Redis's `hashTypeTryConversion`,
    /// which HSET calls on all its arguments before it writes any.
    pub fn fit(&mut self, len: usize, enc: &Encodings) {
        if len > enc.hash_value {
            self.convert();
        }
    }

    /// Set `field` to `value`, converting to a hashtable first if either is
    /// too long for a listpack and after if the fields now pass the
    /// listpack's count (Redis's `hashTypeSet`). True when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], enc: &Encodings) -> bool {
        self.fit(field.len().max(value.len()), enc);
        let r = match self.find(field) {
            Some(at) => {
                self.replace(at, value);
                false
            }
            None => {
                match &mut self.repr {
                    Repr::Pack(p) => {
                        let before = p.bytes();
                        p.push(field);
                        p.push(value);
                        self.mem += p.bytes() - before;
                    }
                    Repr::Table(t) => {
                        t.insert(field.into(), value.into());
                        self.mem += field.len() + value.len() + TABLE_ENTRY;
                    }
                }
                true
            }
        };
        if self.len() > enc.hash_entries {
            self.convert();
        }
        r
    }

    fn replace(&mut self, at: At, value: &[u8]) {
        match (&mut self.repr, at) {
            (Repr::Pack(p), At::Pack(at)) => {
                let before = p.bytes();
                p.replace_next(at, value);
                self.mem = self.mem + p.bytes() - before;
            }
            (Repr::Table(t), At::Table(s)) => {
                if let Some((_, v)) = t.at_mut(s) {
                    self.mem = self.mem + value.len() - v.len();
                    *v = value.into();
                }
            }
            _ => unreachable!("positions follow the encoding"),
        }
    }

    /// Remove `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => {
                let Some(at) = p.find_pair(field) else {
                    return false;
                };
                let before = p.bytes();
                p.remove(at, 2);
                self.mem -= before - p.bytes();
            }
            Repr::Table(t) => {
                let Some((f, v)) = t.remove_entry(field) else {
                    return false;
                };
                self.mem -= f.len() + v.len() + TABLE_ENTRY;
            }
        }
        true
    }

    /// The fields and values, in the encoding's order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let (pack, table) = match &self.repr {
            Repr::Pack(p) => (Some(p.pairs()), None),
            Repr::Table(t) => (None, Some(t.iter().map(|(f, v)| (&**f, &**v)))),
        };
        pack.into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// The field and value at position `i` of [`Hash::iter`]'s order, for
    /// a random pick: O(1) on a hashtable's slot index (vacant slots give
    /// `None`), O(i) on a listpack.
    fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Pack(p) => p.pair(i),
            Repr::Table(t) => t.at(Slot(i as u32)).map(|(f, v)| (&**f, &**v)),
        }
    }

    /// A field and its value picked at random with `rng` (each field about
    /// equally likely); `None` when empty.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Pack(p) if !p.is_empty() => p.pair(rng.usize(..p.len() / 2)),
            Repr::Pack(_) => None,
            Repr::Table(t) => super::random_slot(t, rng).and_then(|s| self.nth(s.0 as usize)),
        }
    }

    /// Call `f` on `n` fields (with their values) picked at random with
    /// replacement (HRANDFIELD with a negative count). A listpack's pairs
    /// are indexed once first, so this is O(len + n), as Redis's
    /// `lpRandomPairs`, not O(len × n).
    pub fn random_each(&self, n: u64, rng: &mut fastrand::Rng, mut f: impl FnMut(&[u8], &[u8])) {
        match &self.repr {
            Repr::Pack(_) => {
                let all: Vec<(&[u8], &[u8])> = self.iter().collect();
                if all.is_empty() {
                    return;
                }
                for _ in 0..n {
                    let (k, v) = all[rng.usize(..all.len())];
                    f(k, v);
                }
            }
            Repr::Table(_) => {
                for _ in 0..n {
                    if let Some((k, v)) = self.random(rng) {
                        f(k, v);
                    }
                }
            }
        }
    }

    /// Up to `count` distinct fields (with their values) picked at random,
    /// each subset about equally likely (HRANDFIELD with a positive count):
    /// all of them, in order, when `count` covers the hash.
    pub fn random_distinct(&self, count: usize, rng: &mut fastrand::Rng) -> Vec<(&[u8], &[u8])> {
        let Repr::Table(t) = &self.repr else {
            return super::sample_of(self.iter().collect(), count, rng);
        };
        // Redis's CASE 3: when most fields are wanted, drop random ones
        // from a copy instead of drawing (and redrawing) wanted ones.
        if count.saturating_mul(3) > t.len() {
            return super::sample_of(self.iter().collect(), count, rng);
        }
        let mut picked = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            if let Some(s) = super::random_slot(t, rng) {
                if picked.insert(s) {
                    out.extend(self.nth(s.0 as usize));
                }
            }
        }
        out
    }

    /// One HSCAN step from `cursor`: calls `f` on about `count` fields and
    /// returns the cursor to go on from (0 at the end). A listpack answers
    /// everything at once with cursor 0, as in Redis.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.repr {
            Repr::Pack(_) => {
                self.iter().for_each(|(k, v)| f(k, v));
                0
            }
            Repr::Table(t) => match u32::try_from(cursor) {
                Ok(c) => {
                    // The map lends entries for the call only; their slots
                    // name them for as long as `self` is borrowed.
                    let mut slots = Vec::with_capacity(count.min(1024));
                    let next = t.scan(c, count, |s, _, _| slots.push(s));
                    for (k, v) in slots.into_iter().filter_map(|s| t.at(s)) {
                        f(k, v);
                    }
                    u64::from(next)
                }
                // Past any slot: nothing left.
                Err(_) => 0,
            },
        }
    }

    /// Convert a listpack to a hashtable (a no-op on one).
    fn convert(&mut self) {
        let Repr::Pack(p) = &self.repr else {
            return;
        };
        let mut t = Table::with_capacity(p.len() / 2);
        let mut mem = 0;
        for (f, v) in p.pairs() {
            mem += f.len() + v.len() + TABLE_ENTRY;
            t.insert(f.into(), v.into());
        }
        self.repr = Repr::Table(Box::new(t));
        self.mem = mem;
    }
}

#[cfg(test)]
#[path = "hash/tests.rs"]
mod tests;
