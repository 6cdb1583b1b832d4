//! Property test: random operation sequences checked against
//! `std::collections::HashMap` after every step.

use super::tests::{ConstState, WeakState};
use super::{HashMap, Slot};
use proptest::prelude::*;
use std::collections::HashMap as StdMap;
use std::collections::HashSet;
use std::hash::BuildHasher;

/// Keys come from a small space so inserts hit existing keys and removes
/// hit present ones often; 200 keys still force several grows.
const KEYS: u16 = 200;

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Get(u16),
    /// `find` then `remove_at` on the returned slot.
    FindRemoveAt(u16),
    /// `remove_at` on an arbitrary, possibly vacant, slot index.
    RemoveAtRaw(u32),
    RehashStep(usize),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    prop_oneof![
        40 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        12 => key.clone().prop_map(Op::Remove),
        10 => key.clone().prop_map(Op::Get),
        8 => key.prop_map(Op::FindRemoveAt),
        3 => (0..300u32).prop_map(Op::RemoveAtRaw),
        4 => (0..6usize).prop_map(Op::RehashStep),
        1 => Just(Op::Clear),
    ]
}

/// Applies `ops` to both maps, comparing them after each one.
fn check<S: BuildHasher>(ops: &[Op], hasher: S) -> Result<(), TestCaseError> {
    let mut map: HashMap<u16, u32, S> = HashMap::with_hasher(hasher);
    let mut model: StdMap<u16, u32> = StdMap::new();
    for op in ops {
        match *op {
            Op::Insert(k, v) => {
                let (slot, old) = map.insert_full(k, v);
                prop_assert_eq!(old, model.insert(k, v));
                prop_assert_eq!(map.at(slot), Some((&k, &v)));
            }
            Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
            Op::Get(k) => prop_assert_eq!(map.get(&k), model.get(&k)),
            Op::FindRemoveAt(k) => match map.find(&k) {
                Some(slot) => {
                    let want = model.remove(&k).map(|v| (k, v));
                    prop_assert_eq!(map.remove_at(slot), want);
                    prop_assert_eq!(map.at(slot), None);
                }
                None => prop_assert!(!model.contains_key(&k)),
            },
            Op::RemoveAtRaw(i) => {
                if let Some((k, v)) = map.remove_at(Slot(i)) {
                    prop_assert_eq!(model.remove(&k), Some(v));
                }
            }
            Op::RehashStep(n) => {
                map.rehash_step(n);
            }
            Op::Clear => {
                map.clear();
                model.clear();
            }
        }
        prop_assert_eq!(map.len(), model.len());
        prop_assert!(map.len() * 4 <= map.bucket_count() * 3);
        for k in 0..KEYS {
            prop_assert_eq!(map.get(&k), model.get(&k), "key {}", k);
        }
        let got: HashSet<(u16, u32)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        let want: HashSet<(u16, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(map.iter().count(), map.len());
        prop_assert_eq!(got, want);
        for (slot, k, _) in map.iter_slots() {
            prop_assert_eq!(map.find(k), Some(slot));
            prop_assert!(slot.0 < map.slot_limit());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_std_with_default_hasher(ops in prop::collection::vec(op(), 1..400)) {
        check(&ops, foldhash::fast::RandomState::default())?;
    }

    #[test]
    fn matches_std_with_constant_hasher(ops in prop::collection::vec(op(), 1..400)) {
        check(&ops, ConstState)?;
    }

    #[test]
    fn matches_std_with_weak_hasher(ops in prop::collection::vec(op(), 1..400)) {
        check(&ops, WeakState)?;
    }
}
