//! The set against a `BTreeSet` model over random op sequences, with a
//! small intset limit so sequences cross the intset → hashtable boundary
//! by count and by a member that is no integer.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

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
    Insert(Vec<u8>),
    Remove(Vec<u8>),
    Pop,
    Random(usize),
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    // Mostly integers from a small range (so members repeat), some that
    // look like integers but are not canonical, some plain bytes.
    prop_oneof![
        6 => (-5i64..10).prop_map(|n| n.to_string().into_bytes()),
        1 => prop_oneof![Just(b"01".to_vec()), Just(b"-0".to_vec()), Just(b"+1".to_vec())],
        1 => proptest::collection::vec(b'a'..b'd', 0..3),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => member().prop_map(Op::Insert),
        2 => member().prop_map(Op::Remove),
        1 => Just(Op::Pop),
        1 => (0usize..12).prop_map(Op::Random),
    ]
}

fn bytes(s: &Set) -> Vec<Vec<u8>> {
    s.iter().map(|m| m.to_boxed().into_vec()).collect()
}

proptest! {
    #[test]
    fn set_matches_a_btreeset(ops in proptest::collection::vec(op(), 1..80)) {
        let mut s = Set::new();
        let mut m: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut rng = fastrand::Rng::with_seed(11);
        let (mut all_ints, mut most) = (true, 0);
        for op in ops {
            match op {
                Op::Insert(x) => {
                    all_ints &= parse_i64(&x).is_some();
                    prop_assert_eq!(s.insert(&x, &ENC), m.insert(x));
                    most = most.max(m.len());
                }
                Op::Remove(x) => prop_assert_eq!(s.remove(&x), m.remove(&x)),
                Op::Pop => match s.pop(&mut rng) {
                    Some(x) => prop_assert!(m.remove(&*x)),
                    None => prop_assert!(m.is_empty()),
                },
                Op::Random(n) => {
                    let got: Vec<Vec<u8>> = s
                        .random_distinct(n, &mut rng)
                        .into_iter()
                        .map(|x| x.to_boxed().into_vec())
                        .collect();
                    prop_assert_eq!(got.len(), n.min(m.len()));
                    let distinct: BTreeSet<Vec<u8>> = got.iter().cloned().collect();
                    prop_assert_eq!(distinct.len(), got.len());
                    prop_assert!(distinct.is_subset(&m));
                    if let Some(x) = s.random(&mut rng) {
                        prop_assert!(m.contains(x.to_boxed().as_ref()));
                    }
                }
            }
            prop_assert_eq!(s.len(), m.len());
            prop_assert_eq!(s.is_compact(), all_ints && most <= ENC.set_intset_entries);
            let expected_mem: usize = if s.is_compact() {
                8 * m.len()
            } else {
                m.iter().map(|x| x.len() + TABLE_ENTRY).sum()
            };
            prop_assert_eq!(s.mem(), expected_mem);
            let got = bytes(&s);
            if s.is_compact() {
                // Ascending, as Redis's intset.
                let mut sorted = got.clone();
                sorted.sort_by_key(|x| parse_i64(x));
                prop_assert_eq!(&sorted, &got);
            }
            let got: BTreeSet<Vec<u8>> = got.into_iter().collect();
            prop_assert_eq!(&got, &m);
            for x in &m {
                prop_assert!(s.contains(x));
            }
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            loop {
                cursor = s.scan(cursor, 2, |x| assert!(seen.insert(x.to_boxed().into_vec())));
                if cursor == 0 {
                    break;
                }
            }
            prop_assert_eq!(&seen, &m);
        }
    }
}

#[test]
fn intset_members_are_canonical_integers_only() {
    let mut s = Set::new();
    let enc = Encodings::default();
    assert!(s.insert(b"10", &enc));
    assert!(s.insert(b"-3", &enc));
    assert!(!s.insert(b"10", &enc));
    assert!(!s.contains(b"010"));
    assert_eq!(s.encoding(), "intset");
    assert!(s.insert(b"010", &enc));
    assert_eq!(s.encoding(), "hashtable");
    assert!(s.contains(b"10") && s.contains(b"010") && s.contains(b"-3"));
}

#[test]
fn popping_a_big_set_empty_ends() {
    let mut s = Set::new();
    let enc = Encodings::default();
    for i in 0..5000 {
        s.insert(format!("m{i}").as_bytes(), &enc);
    }
    let mut rng = fastrand::Rng::with_seed(1);
    let mut seen = BTreeSet::new();
    while let Some(m) = s.pop(&mut rng) {
        assert!(seen.insert(m));
    }
    assert_eq!(seen.len(), 5000);
    assert_eq!(s.mem(), 0);
}
