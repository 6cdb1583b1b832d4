//! A sorted set: members with a score each, in (score, member) order, as
//! Redis keeps them.
//!
//! Two encodings, as Redis's (OBJECT ENCODING names them):
//! - `listpack`: up to `zset-max-listpack-entries` (128) members of up to
//!   `zset-max-listpack-value` (64) bytes, one sorted `Vec` of pairs. A
//!   member lookup scans it, as Redis scans its listpack; ranks and bounds
//!   are binary searches.
//! - `skiplist`: past either limit, a member → score map (our
//!   [`HashMap`]) for O(1) lookups beside a skiplist with spans
//!   ([`SkipList`]) for O(log n) ranks and bounds.
//!
//! A set converts once, when an insert passes a limit, and never back (the
//! `…STORE` commands build a fresh set, which starts compact).
//!
//! Every positional question is answered in ranks (0-based, ascending):
//! a score or lexical range becomes the ranks `lo..hi` of the members in
//! it, found by two searches, and the commands read or remove by rank.

mod skiplist;
#[cfg(test)]
mod tests;

use crate::map::HashMap;
use crate::store::score::{LexBound, LexRange, ScoreRange};
use crate::store::Encodings;
use skiplist::{SkipList, NIL};
use std::ops::Range;

/// Bytes charged per member of a compact set beyond its own bytes: the
/// pair in the `Vec` (a boxed slice and a score, 24) and the member's
/// allocation header.
const COMPACT_ENTRY: usize = 32;
/// Bytes charged per member of a skiplist set beyond twice its bytes (the
/// node and the map each own a copy): the node (48), its links (1.33 on
/// average, 8 each) and the map entry (about 40, plus a bucket share),
/// and two allocation headers.
const FULL_ENTRY: usize = 136;

/// A score as a listpack keeps it: Redis writes it as text and reads
/// `-0` back as the integer 0, so a compact set never holds `-0` (a
/// skiplist does).
#[inline]
fn listpack_score(s: f64) -> f64 {
    s + 0.0
}

/// The big encoding.
#[derive(Clone, Debug)]
struct Full {
    scores: HashMap<Box<[u8]>, f64>,
    order: SkipList,
}

#[derive(Clone, Debug)]
enum Repr {
    Compact(Vec<(Box<[u8]>, f64)>),
    Full(Box<Full>),
}

/// A sorted set (member → score, ordered by score then member).
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
    /// Running byte total (see [`Value::mem`](crate::store::Value::mem)).
    mem: usize,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            repr: Repr::Compact(Vec::new()),
            mem: 0,
        }
    }
}

impl PartialEq for ZSet {
    /// Same members with the same scores, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_at(0, false).eq(other.iter_at(0, false))
    }
}

/// ZADD's conditions (NX, XX, GT, LT) and INCR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Update only to a greater score.
    pub gt: bool,
    /// Update only to a lesser score.
    pub lt: bool,
    /// Add the score to the current one (0 for a new member).
    pub incr: bool,
}

/// What [`ZSet::add`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Added {
    /// A new member, with this score.
    New(f64),
    /// An existing member's score changed to this.
    Updated(f64),
    /// The member's score was already this.
    Same(f64),
    /// A condition refused it (NX on an existing member, XX on a new one,
    /// GT or LT not met).
    Skipped,
}

/// An INCR made a NaN score (`+inf` plus `-inf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotANumber;

/// Members and scores in order, from some rank, either way.
pub enum Iter<'a> {
    /// Over a compact set: the pairs, the next index (upwards) or one past
    /// it (downwards, 0 when done), and the direction.
    Compact(&'a [(Box<[u8]>, f64)], usize, bool),
    /// Over a skiplist, from a node.
    Full(&'a SkipList, u32, bool),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Compact(v, at, rev) => {
                let i = if *rev {
                    *at = at.checked_sub(1)?;
                    *at
                } else {
                    *at += 1;
                    *at - 1
                };
                v.get(i).map(|(m, s)| (&m[..], *s))
            }
            Iter::Full(list, at, rev) => {
                if *at == NIL {
                    return None;
                }
                let x = *at;
                *at = if *rev { list.prev(x) } else { list.next(x) };
                Some(list.get(x))
            }
        }
    }
}

impl ZSet {
    /// An empty one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Members held.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Compact(v) => v.len(),
            Repr::Full(f) => f.order.len(),
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
            Repr::Compact(_) => "listpack",
            Repr::Full(_) => "skiplist",
        }
    }

    /// `member`'s score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Compact(v) => v.iter().find(|(m, _)| **m == *member).map(|p| p.1),
            Repr::Full(f) => f.scores.get(member).copied(),
        }
    }

    /// `member`'s 0-based rank (ascending) and score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Compact(v) => v
                .iter()
                .position(|(m, _)| **m == *member)
                .map(|i| (i, v[i].1)),
            Repr::Full(f) => {
                let s = *f.scores.get(member)?;
                let below = f
                    .order
                    .count_while(|sc, m| sc < s || (sc == s && m < member));
                Some((below, s))
            }
        }
    }

    /// Redis's `zsetAdd`: add `member` with `score`, or update it, as
    /// `flags` allow; converts to the skiplist when `enc`'s limits are
    /// passed. The score must not be NaN.
    ///
    /// # Errors
    /// [`NotANumber`] when INCR makes a NaN; nothing changes then.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
        enc: &Encodings,
    ) -> Result<Added, NotANumber> {
        let Some(cur) = self.score(member) else {
            if flags.xx {
                return Ok(Added::Skipped);
            }
            self.insert_new(member, score, enc);
            return Ok(Added::New(score));
        };
        if flags.nx {
            return Ok(Added::Skipped);
        }
        let score = if flags.incr { score + cur } else { score };
        if score.is_nan() {
            return Err(NotANumber);
        }
        if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
            return Ok(Added::Skipped);
        }
        if score == cur {
            return Ok(Added::Same(score));
        }
        self.rescore(member, cur, score);
        Ok(Added::Updated(score))
    }

    /// Insert a member that is not there.
    fn insert_new(&mut self, member: &[u8], score: f64, enc: &Encodings) {
        if let Repr::Compact(v) = &self.repr {
            if v.len() + 1 > enc.zset_entries || member.len() > enc.zset_value {
                self.convert();
            }
        }
        match &mut self.repr {
            Repr::Compact(v) => {
                let score = listpack_score(score);
                let at = v.partition_point(|(m, s)| *s < score || (*s == score && **m < *member));
                v.insert(at, (member.into(), score));
                self.mem += COMPACT_ENTRY + member.len();
            }
            Repr::Full(f) => {
                f.scores.insert(member.into(), score);
                f.order.insert(score, member.into());
                self.mem += FULL_ENTRY + 2 * member.len();
            }
        }
    }

    /// The listpack → skiplist conversion, once.
    fn convert(&mut self) {
        let Repr::Compact(v) = &mut self.repr else {
            return;
        };
        let mut full = Full {
            scores: HashMap::with_capacity(v.len() + 1),
            order: SkipList::new(),
        };
        let mut mem = 0;
        for (m, s) in v.drain(..) {
            mem += FULL_ENTRY + 2 * m.len();
            full.scores.insert(m.clone(), s);
            full.order.insert(s, m);
        }
        self.repr = Repr::Full(Box::new(full));
        self.mem = mem;
    }

    /// Move an existing member from score `cur` to `score`.
    fn rescore(&mut self, member: &[u8], cur: f64, score: f64) {
        match &mut self.repr {
            Repr::Compact(v) => {
                let score = listpack_score(score);
                let from = v.iter().position(|(m, _)| **m == *member).expect("present");
                let (m, _) = v.remove(from);
                let at = v.partition_point(|(x, s)| *s < score || (*s == score && **x < *member));
                v.insert(at, (m, score));
            }
            Repr::Full(f) => {
                let m = f.order.remove(cur, member).expect("present");
                f.order.insert(score, m);
                *f.scores.get_mut(member).expect("present") = score;
            }
        }
    }

    /// Remove `member`; its score, if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Compact(v) => {
                let at = v.iter().position(|(m, _)| **m == *member)?;
                let (m, s) = v.remove(at);
                self.mem -= COMPACT_ENTRY + m.len();
                Some(s)
            }
            Repr::Full(f) => {
                let s = f.scores.remove(member)?;
                f.order.remove(s, member);
                self.mem -= FULL_ENTRY + 2 * member.len();
                Some(s)
            }
        }
    }

    /// Remove the members at ranks `r`; how many went.
    pub fn remove_ranks(&mut self, r: Range<usize>) -> usize {
        let r = r.start.min(self.len())..r.end.min(self.len());
        let n = r.len();
        match &mut self.repr {
            Repr::Compact(v) => {
                for (m, _) in v.drain(r) {
                    self.mem -= COMPACT_ENTRY + m.len();
                }
            }
            Repr::Full(f) => {
                for _ in 0..n {
                    let m = if r.start == 0 {
                        f.order.pop_first().expect("ranks within len").0
                    } else {
                        let (m, s) = f.order.get(f.order.at_rank(r.start));
                        let m: Box<[u8]> = m.into();
                        f.order.remove(s, &m);
                        m
                    };
                    f.scores.remove(&m);
                    self.mem -= FULL_ENTRY + 2 * m.len();
                }
            }
        }
        n
    }

    /// Remove and return the first member (`max` false) or the last.
    pub fn pop(&mut self, max: bool) -> Option<(Box<[u8]>, f64)> {
        let at = if max { self.len().checked_sub(1)? } else { 0 };
        match &mut self.repr {
            Repr::Compact(v) => {
                if v.is_empty() {
                    return None;
                }
                let (m, s) = v.remove(at);
                self.mem -= COMPACT_ENTRY + m.len();
                Some((m, s))
            }
            Repr::Full(f) => {
                let (m, s) = if max {
                    let x = f.order.last();
                    if x == NIL {
                        return None;
                    }
                    let (m, s) = f.order.get(x);
                    let m: Box<[u8]> = m.into();
                    f.order.remove(s, &m);
                    (m, s)
                } else {
                    // The head precedes the first member: no search.
                    f.order.pop_first()?
                };
                f.scores.remove(&m);
                self.mem -= FULL_ENTRY + 2 * m.len();
                Some((m, s))
            }
        }
    }

    /// How many members satisfy `pred`, which holds for a prefix of the
    /// order and fails after it.
    fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Compact(v) => v.partition_point(|(m, s)| pred(*s, m)),
            Repr::Full(f) => f.order.count_while(pred),
        }
    }

    /// The ranks of the members whose scores are in `r`.
    pub fn score_ranks(&self, r: &ScoreRange) -> Range<usize> {
        let lo = if r.minex {
            self.count_while(|s, _| s <= r.min)
        } else {
            self.count_while(|s, _| s < r.min)
        };
        let hi = if r.maxex {
            self.count_while(|s, _| s < r.max)
        } else {
            self.count_while(|s, _| s <= r.max)
        };
        lo..hi.max(lo)
    }

    /// The ranks of the members in `r`, by bytes. Meaningful when every
    /// member has the same score, as Redis says of its lexical commands.
    pub fn lex_ranks(&self, r: &LexRange<'_>) -> Range<usize> {
        let edge = |b: &LexBound<'_>, upper: bool| match *b {
            LexBound::Min => 0,
            LexBound::Max => self.len(),
            LexBound::In(x) if upper => self.count_while(|_, m| m <= x),
            LexBound::In(x) => self.count_while(|_, m| m < x),
            LexBound::Ex(x) if upper => self.count_while(|_, m| m < x),
            LexBound::Ex(x) => self.count_while(|_, m| m <= x),
        };
        let (lo, hi) = (edge(&r.min, false), edge(&r.max, true));
        lo..hi.max(lo)
    }

    /// Members and scores from ascending rank `rank`: upwards, or downwards
    /// with `rev`. Empty past the end.
    pub fn iter_at(&self, rank: usize, rev: bool) -> Iter<'_> {
        match &self.repr {
            Repr::Compact(v) => {
                if rev {
                    Iter::Compact(v, if rank < v.len() { rank + 1 } else { 0 }, true)
                } else {
                    Iter::Compact(v, rank, false)
                }
            }
            Repr::Full(f) => Iter::Full(&f.order, f.order.at_rank(rank), rev),
        }
    }

    /// The member and score at ascending rank `rank`.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_at(rank, false).next()
    }

    /// One step of ZSCAN from `cursor`: calls `f` on about `count` members
    /// and returns the next cursor (0 when done). A compact set is returned
    /// whole at once, as Redis returns a listpack.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Compact(v) => {
                for (m, s) in v {
                    f(m, *s);
                }
                0
            }
            Repr::Full(full) => {
                let Ok(c) = u32::try_from(cursor) else {
                    return 0;
                };
                u64::from(full.scores.scan(c, count, |_, m, s| f(m, *s)))
            }
        }
    }
}
