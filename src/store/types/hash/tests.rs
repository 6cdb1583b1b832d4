//! The hash against a `BTreeMap` model over random op sequences, with
//! small limits so sequences cross the listpack → hashtable boundary by
//! count and by length.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Limits small enough for short sequences to pass them.
const ENC: Encodings = Encodings {
    hash_entries: 6,
    hash_value: 8,
    set_intset_entries: 6,
    zset_entries: 6,
    zset_value: 8,
};

#[derive(Clone, Debug)]
enum Op {
    Set(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Random,
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    // Mostly short (few distinct fields, so updates and removals hit),
    // sometimes past the listpack's value limit.
    prop_oneof![
        4 => proptest::collection::vec(b'a'..b'e', 0..3),
        1 => proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (bytes(), bytes()).prop_map(|(f, v)| Op::Set(f, v)),
        2 => bytes().prop_map(Op::Remove),
        1 => Just(Op::Random),
    ]
}

/// What `mem` must be for `h`'s content in its encoding.
fn expected_mem(h: &Hash) -> usize {
    if h.is_compact() {
        let mut p = Pack::default();
        for (f, v) in h.iter() {
            p.push(f);
            p.push(v);
        }
        p.bytes()
    } else {
        h.iter().map(|(f, v)| f.len() + v.len() + TABLE_ENTRY).sum()
    }
}

/// Whether `m` may still be a listpack under [`ENC`], given the longest
/// field or value ever written.
fn may_be_compact(m: &BTreeMap<Vec<u8>, Vec<u8>>, longest: usize, most: usize) -> bool {
    longest <= ENC.hash_value && most <= ENC.hash_entries && m.len() <= ENC.hash_entries
}

proptest! {
    #[test]
    fn hash_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..80)) {
        let mut h = Hash::new();
        let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut longest, mut most) = (0, 0);
        for op in ops {
            match op {
                Op::Set(f, v) => {
                    let added = h.set(&f, &v, &ENC);
                    longest = longest.max(f.len()).max(v.len());
                    prop_assert_eq!(added, m.insert(f, v).is_none());
                    most = most.max(m.len());
                }
                Op::Remove(f) => prop_assert_eq!(h.remove(&f), m.remove(&f).is_some()),
                Op::Random => {
                    match h.random(&mut rng) {
                        Some((f, v)) => prop_assert_eq!(m.get(f).map(Vec::as_slice), Some(v)),
                        None => prop_assert!(m.is_empty()),
                    }
                    let mut picks = 0;
                    h.random_each(5, &mut rng, |f, v| {
                        picks += 1;
                        assert_eq!(m.get(f).map(Vec::as_slice), Some(v));
                    });
                    prop_assert_eq!(picks, if m.is_empty() { 0 } else { 5 });
                    let d = h.random_distinct(3, &mut rng);
                    prop_assert_eq!(d.len(), m.len().min(3));
                    let fields: BTreeSet<&[u8]> = d.iter().map(|(f, _)| *f).collect();
                    prop_assert_eq!(fields.len(), d.len());
                    for (f, v) in d {
                        prop_assert_eq!(m.get(f).map(Vec::as_slice), Some(v));
                    }
                }
            }
            prop_assert_eq!(h.len(), m.len());
            prop_assert_eq!(h.mem(), expected_mem(&h));
            // Converts exactly when a limit is passed, and never back.
            prop_assert_eq!(h.is_compact(), may_be_compact(&m, longest, most));
            let got: BTreeMap<Vec<u8>, Vec<u8>> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&got, &m);
            for f in m.keys() {
                prop_assert_eq!(h.get(f), m.get(f).map(Vec::as_slice));
            }
            // A full scan in steps of 2 sees every field exactly once.
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, 2, |f, _| assert!(seen.insert(f.to_vec())));
                if cursor == 0 {
                    break;
                }
            }
            prop_assert_eq!(seen.len(), m.len());
        }
    }
}

#[test]
fn a_listpack_keeps_insertion_order_through_removals() {
    let mut h = Hash::new();
    for f in [b"c", b"a", b"b"] {
        h.set(f, b"v", &Encodings::default());
    }
    h.remove(b"a");
    h.set(b"a", b"w", &Encodings::default());
    h.set(b"c", b"x", &Encodings::default());
    let got: Vec<(&[u8], &[u8])> = h.iter().collect();
    assert_eq!(got, [(&b"c"[..], &b"x"[..]), (b"b", b"v"), (b"a", b"w")]);
    assert_eq!(h.encoding(), "listpack");
    h.set(b"long", &[b'x'; 65], &Encodings::default());
    assert_eq!(h.encoding(), "hashtable");
}
