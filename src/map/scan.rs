//! A resumable cursor scan over the arena's slots (the map half of SCAN).
//!
//! # Why a slot index is a sound cursor
//! Redis's dict needs its reverse-binary cursor because a rehash moves
//! entries between buckets, so a bucket-order cursor could skip them. Our
//! entries never move: a [`Slot`] names one entry from its insert until its
//! removal, however many rehashes or grows happen in between (see the
//! module docs of `map`), and a grow only appends slots to the arena. So
//! scanning slot indices in increasing order and handing the next index
//! back as the cursor visits every slot below the arena's limit exactly
//! once, and an entry present for the whole scan sits in one slot the whole
//! time: it is returned exactly once. Entries inserted or removed during
//! the scan may or may not be returned, as in Redis; a removal that frees a
//! slot the scan has passed, followed by an insert reusing it, yields
//! nothing, and one the scan has not reached yields the new entry.
//!
//! [`HashMap::clear`] empties the arena and starts its indices again from
//! zero. A cursor from before the clear then either lies past the new limit
//! (the scan ends at once) or names slots of entries inserted since, which
//! are returned; it never panics or returns a removed entry.

use super::{HashMap, Slot};

/// Slots a step may visit per entry it was asked for: bounds the work of a
/// step over a sparse stretch of the arena, like Redis's `count * 10` limit
/// on empty buckets in SCAN.
const VISITS_PER_ENTRY: usize = 10;

impl<K, V, S> HashMap<K, V, S> {
    /// One step of a cursor scan: calls `f` on the live entries in slot
    /// order from slot `cursor`, stopping after `count` entries (at least
    /// one) or `10 × count` slots visited, and returns the cursor to resume
    /// from, 0 once the arena's end is reached. Start a scan with cursor 0;
    /// see the module docs for what a scan guarantees.
    pub fn scan(&self, cursor: u32, count: usize, mut f: impl FnMut(Slot, &K, &V)) -> u32 {
        let limit = self.arena.limit();
        let want = count.max(1);
        let mut visits = want.saturating_mul(VISITS_PER_ENTRY);
        let mut found = 0;
        let mut i = cursor;
        while i < limit && found < want && visits > 0 {
            if let Some((k, v)) = self.arena.get(i) {
                f(Slot(i), k, v);
                found += 1;
            }
            i += 1;
            visits -= 1;
        }
        // `i` only grows from `cursor`, so a returned non-zero cursor is
        // always past the one given and a scan always ends.
        if i >= limit {
            0
        } else {
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ConstState, WeakState};
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap as StdMap, HashSet};
    use std::hash::BuildHasher;

    #[test]
    fn empty_map_scan_is_done_at_once() {
        let m: HashMap<u32, u32> = HashMap::new();
        let mut calls = 0;
        assert_eq!(m.scan(0, 10, |_, _, _| calls += 1), 0);
        assert_eq!(m.scan(12345, 10, |_, _, _| calls += 1), 0);
        assert_eq!(calls, 0);
    }

    #[test]
    fn count_bounds_entries_and_visits() {
        let mut m: HashMap<u32, u32> = HashMap::new();
        for k in 0..100 {
            m.insert(k, k);
        }
        let mut seen = Vec::new();
        let next = m.scan(0, 7, |_, k, _| seen.push(*k));
        assert_eq!(seen.len(), 7);
        assert_eq!(next, 7);
        // Remove slots 7..=96: a step of count 2 visits at most 20 of them.
        for k in 7..97 {
            m.remove(&k);
        }
        seen.clear();
        let next = m.scan(7, 2, |_, k, _| seen.push(*k));
        assert!(seen.is_empty());
        assert_eq!(next, 27);
        // Count 0 is treated as 1, so a scan still makes progress.
        seen.clear();
        let mut cursor = 0;
        loop {
            cursor = m.scan(cursor, 0, |_, k, _| seen.push(*k));
            if cursor == 0 {
                break;
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 5, 6, 97, 98, 99]);
    }

    #[test]
    fn slots_given_to_f_name_their_entries() {
        let mut m: HashMap<String, usize> = HashMap::new();
        for i in 0..50 {
            m.insert(format!("k{i}"), i);
        }
        let mut cursor = 0;
        loop {
            cursor = m.scan(cursor, 4, |slot, k, v| {
                assert_eq!(m.at(slot), Some((k, v)));
                assert_eq!(m.find(k.as_str()), Some(slot));
            });
            if cursor == 0 {
                break;
            }
        }
    }

    #[test]
    fn cursor_from_before_clear_never_panics() {
        let mut m: HashMap<u32, u32> = HashMap::new();
        for k in 0..1000 {
            m.insert(k, k);
        }
        let mid = m.scan(0, 600, |_, _, _| {});
        assert_eq!(mid, 600);
        m.clear();
        // Past the new (empty) arena: the scan ends at once.
        assert_eq!(m.scan(mid, 10, |_, _, _| panic!("nothing is live")), 0);
        // Refilled past the old cursor: only new entries come back.
        for k in 5000..5700 {
            m.insert(k, k);
        }
        let mut seen = HashSet::new();
        let mut cursor = mid;
        loop {
            cursor = m.scan(cursor, 50, |_, k, _| {
                assert!(seen.insert(*k));
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 100);
        assert!(seen.iter().all(|k| (5000..5700).contains(k)));
    }

    /// Keys come from a small space so removes hit present keys and
    /// re-inserts reuse freed slots; 400 keys force several grows.
    const KEYS: u16 = 400;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16),
        Remove(u16),
        /// One scan step with this count.
        Step(usize),
        RehashStep(usize),
        /// Growth without inserts (a finished rehash to a larger table).
        Reserve(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0..KEYS;
        prop_oneof![
            30 => key.clone().prop_map(Op::Insert),
            15 => key.prop_map(Op::Remove),
            25 => (0..12usize).prop_map(Op::Step),
            4 => (0..6usize).prop_map(Op::RehashStep),
            1 => (0..600usize).prop_map(Op::Reserve),
        ]
    }

    /// Runs `ops` with scans interleaved: every key present from the start
    /// of a scan to its end must have come back exactly once, and every
    /// entry handed to `f` must be live with its current value.
    fn check<S: BuildHasher>(prefill: u16, ops: &[Op], hasher: S) -> Result<(), TestCaseError> {
        let mut map: HashMap<u16, u32, S> = HashMap::with_hasher(hasher);
        let mut model: StdMap<u16, u32> = StdMap::new();
        let mut version = 0u32;
        for k in 0..prefill {
            map.insert(k, version);
            model.insert(k, version);
        }
        let mut cursor = 0u32;
        // Keys present since this scan began, and how often each came back.
        let mut stable: HashSet<u16> = model.keys().copied().collect();
        let mut seen: StdMap<u16, usize> = StdMap::new();
        for op in ops {
            match *op {
                Op::Insert(k) => {
                    version += 1;
                    map.insert(k, version);
                    model.insert(k, version);
                }
                Op::Remove(k) => {
                    prop_assert_eq!(map.remove(&k), model.remove(&k));
                    stable.remove(&k);
                }
                Op::Step(count) => {
                    let mut got = Vec::new();
                    let next = map.scan(cursor, count, |slot, k, v| got.push((slot, *k, *v)));
                    for (slot, k, v) in got {
                        prop_assert_eq!(model.get(&k), Some(&v));
                        prop_assert_eq!(map.find(&k), Some(slot));
                        *seen.entry(k).or_default() += 1;
                    }
                    prop_assert!(next == 0 || next > cursor);
                    cursor = next;
                    if cursor == 0 {
                        for k in &stable {
                            prop_assert_eq!(seen.get(k), Some(&1), "key {} present throughout", k);
                        }
                        stable = model.keys().copied().collect();
                        seen.clear();
                    }
                }
                Op::RehashStep(n) => {
                    map.rehash_step(n);
                }
                Op::Reserve(n) => map.reserve(n),
            }
        }
        // Finish the scan in progress without further changes.
        loop {
            cursor = map.scan(cursor, 16, |_, k, _| *seen.entry(*k).or_default() += 1);
            if cursor == 0 {
                break;
            }
        }
        for k in &stable {
            prop_assert_eq!(seen.get(k), Some(&1), "key {} present throughout", k);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn scan_returns_keys_present_throughout_once(
            prefill in 0..300u16,
            ops in prop::collection::vec(op(), 1..400),
        ) {
            check(prefill, &ops, foldhash::fast::RandomState::default())?;
        }

        #[test]
        fn scan_with_constant_hasher(
            prefill in 0..300u16,
            ops in prop::collection::vec(op(), 1..400),
        ) {
            check(prefill, &ops, ConstState)?;
        }

        #[test]
        fn scan_with_weak_hasher(
            prefill in 0..300u16,
            ops in prop::collection::vec(op(), 1..400),
        ) {
            check(prefill, &ops, WeakState)?;
        }
    }
}
