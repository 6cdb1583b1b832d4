//! A set of distinct members, in Redis 7.0's two encodings:
//! - `intset`: a sorted `Vec<i64>` while every member is an integer as
//!   Redis's `string2ll` reads one (so it prints back the same bytes) and
//!   there are at most `set-max-intset-entries`;
//! - `hashtable`: our [`HashMap`] of members once a member is not such an
//!   integer or there are too many. 7.0 has no listpack sets. A set
//!   converts once and never back, as in Redis.
//!
//! Keeping the intset sorted gives SMEMBERS, SSCAN and the whole-set
//! SRANDMEMBER of a small integer set Redis's own order.
//!
//! Memory (`mem`): 8 bytes per intset member; a hashtable member's bytes
//! plus [`TABLE_ENTRY`].

use crate::map::{HashMap, Slot};
use crate::store::{parse_i64, Encodings};

/// Bytes charged per member of a hashtable set beyond its bytes: the arena
/// node (hash, link, a boxed slice: 32), a bucket share and the box's
/// allocator header.
pub const TABLE_ENTRY: usize = 56;

/// The members of a big set.
type Table = HashMap<Box<[u8]>, ()>;

#[derive(Clone, Debug)]
enum Repr {
    /// Sorted, distinct.
    Ints(Vec<i64>),
    /// Boxed: a table's struct is ~130 bytes, and every small value would
    /// pay for it inline in its `Coll` (`bench/hash_memory.sh`).
    Table(Box<Table>),
}

/// A set of distinct members.
#[derive(Clone, Debug)]
pub struct Set {
    repr: Repr,
    /// Running byte total (see [`Value::mem`](crate::store::Value::mem)).
    mem: usize,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            repr: Repr::Ints(Vec::new()),
            mem: 0,
        }
    }
}

/// Content equality, whatever the encodings.
impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|mut m| other.contains(m.as_ref()))
    }
}

/// A member as a set hands it out: an intset's integer, or a hashtable's
/// bytes. `as_ref` gives the bytes either way.
#[derive(Clone, Copy)]
pub enum Member<'a> {
    /// An intset member.
    Int(i64, itoa::Buffer),
    /// A hashtable member.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    fn int(n: i64) -> Self {
        Member::Int(n, itoa::Buffer::new())
    }

    /// The member's bytes.
    pub fn as_ref(&mut self) -> &[u8] {
        match self {
            Member::Int(n, buf) => buf.format(*n).as_bytes(),
            Member::Bytes(b) => b,
        }
    }

    /// The member's bytes, owned.
    pub fn to_boxed(mut self) -> Box<[u8]> {
        self.as_ref().into()
    }
}

impl Set {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Members held.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.len(),
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
            Repr::Ints(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// True while it is an intset (SSCAN then answers in one step).
    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    /// True if `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => parse_i64(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Table(t) => t.contains_key(m),
        }
    }

    /// Add `m`; true if it was not a member. Converts to a hashtable for a
    /// member that is no integer, or once the intset passes its count
    /// (Redis's `setTypeAdd`).
    pub fn insert(&mut self, m: &[u8], enc: &Encodings) -> bool {
        if let Repr::Ints(v) = &mut self.repr {
            if let Some(n) = parse_i64(m) {
                let Err(i) = v.binary_search(&n) else {
                    return false;
                };
                v.insert(i, n);
                self.mem += 8;
                // Redis caps the setting at 2^30 (intset internals).
                if v.len() > enc.set_intset_entries.min(1 << 30) {
                    self.convert();
                }
                return true;
            }
            self.convert();
        }
        let Repr::Table(t) = &mut self.repr else {
            unreachable!("converted above")
        };
        let hash = t.hash_one(m);
        if t.find_hashed(hash, m).is_some() {
            return false;
        }
        t.insert_absent_hashed(hash, m.into(), ());
        self.mem += m.len() + TABLE_ENTRY;
        true
    }

    /// Remove `m`; true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => {
                let Some(Ok(i)) = parse_i64(m).map(|n| v.binary_search(&n)) else {
                    return false;
                };
                v.remove(i);
                self.mem -= 8;
            }
            Repr::Table(t) => {
                if t.remove(m).is_none() {
                    return false;
                }
                self.mem -= m.len() + TABLE_ENTRY;
            }
        }
        true
    }

    /// The members, in the encoding's order (an intset's ascending).
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let (ints, table) = match &self.repr {
            Repr::Ints(v) => (Some(v.iter().map(|&n| Member::int(n))), None),
            Repr::Table(t) => (None, Some(t.keys().map(|k| Member::Bytes(k)))),
        };
        ints.into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// Where a random member is: an intset index or a table slot.
    fn random_at(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        match &self.repr {
            Repr::Ints(v) => (!v.is_empty()).then(|| rng.usize(..v.len())),
            Repr::Table(t) => super::random_slot(t, rng).map(|s| s.0 as usize),
        }
    }

    fn at(&self, i: usize) -> Member<'_> {
        match &self.repr {
            Repr::Ints(v) => Member::int(v[i]),
            Repr::Table(t) => match t.at(Slot(i as u32)) {
                Some((k, _)) => Member::Bytes(k),
                None => unreachable!("a live slot"),
            },
        }
    }

    /// A member picked at random with `rng` (each about equally likely);
    /// `None` when empty.
    pub fn random(&self, rng: &mut fastrand::Rng) -> Option<Member<'_>> {
        self.random_at(rng).map(|i| self.at(i))
    }

    /// Up to `count` distinct members picked at random, each subset about
    /// equally likely (SRANDMEMBER with a positive count): all of them, in
    /// order, when `count` covers the set.
    pub fn random_distinct(&self, count: usize, rng: &mut fastrand::Rng) -> Vec<Member<'_>> {
        // Redis's CASE 3: when most members are wanted, drop random ones
        // from a copy instead of drawing (and redrawing) wanted ones.
        if count.saturating_mul(3) > self.len() {
            return super::sample_of(self.iter().collect(), count, rng);
        }
        let mut picked = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            if let Some(i) = self.random_at(rng) {
                if picked.insert(i) {
                    out.push(self.at(i));
                }
            }
        }
        out
    }

    /// Remove and return a random member (SPOP); `None` when empty.
    pub fn pop(&mut self, rng: &mut fastrand::Rng) -> Option<Box<[u8]>> {
        let i = self.random_at(rng)?;
        let m = self.at(i).to_boxed();
        match &mut self.repr {
            Repr::Ints(v) => {
                v.remove(i);
                self.mem -= 8;
            }
            Repr::Table(t) => {
                t.remove_at(Slot(i as u32));
                self.mem -= m.len() + TABLE_ENTRY;
            }
        }
        Some(m)
    }

    /// One SSCAN step from `cursor`: calls `f` on about `count` members and
    /// returns the cursor to go on from (0 at the end). An intset answers
    /// everything at once with cursor 0, as in Redis.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match &self.repr {
            Repr::Ints(_) => {
                self.iter().for_each(f);
                0
            }
            Repr::Table(t) => match u32::try_from(cursor) {
                Ok(c) => {
                    // The map lends entries for the call only; their slots
                    // name them for as long as `self` is borrowed.
                    let mut slots = Vec::with_capacity(count.min(1024));
                    let next = t.scan(c, count, |s, _, _| slots.push(s));
                    for (k, _) in slots.into_iter().filter_map(|s| t.at(s)) {
                        f(Member::Bytes(k));
                    }
                    u64::from(next)
                }
                // Past any slot: nothing left.
                Err(_) => 0,
            },
        }
    }

    /// Convert an intset to a hashtable (a no-op on one).
    fn convert(&mut self) {
        let Repr::Ints(v) = &self.repr else {
            return;
        };
        let mut t = Table::with_capacity(v.len() + 1);
        let mut mem = 0;
        let mut buf = itoa::Buffer::new();
        for &n in v {
            let m = buf.format(n).as_bytes();
            mem += m.len() + TABLE_ENTRY;
            t.insert(m.into(), ());
        }
        self.repr = Repr::Table(Box::new(t));
        self.mem = mem;
    }
}

#[cfg(test)]
#[path = "set/tests.rs"]
mod tests;
