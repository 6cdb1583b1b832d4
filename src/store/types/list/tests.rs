//! [`List`] against a `VecDeque` model over random op sequences. Items
//! come in sizes from empty to longer than a node (5,000 bytes), so runs
//! of pushes fill nodes, start new ones, give a big item a node of its own,
//! and mid-list edits split nodes; after every op the items both ways, the
//! length, every index and the heap total are checked.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

#[derive(Clone, Debug)]
enum Op {
    Push(End, Vec<u8>),
    PushMany(End, Vec<u8>, usize),
    Pop(End),
    Set(usize, Vec<u8>),
    Insert(Vec<u8>, bool, Vec<u8>),
    Remove(Vec<u8>, i64),
    Trim(usize, usize),
}

/// An item: one of a few values (so LREM and LINSERT find matches) in a
/// size that matters to the packing.
fn item() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..4,
        prop::sample::select(vec![0usize, 1, 3, 127, 128, 700, 5000]),
    )
        .prop_map(|(b, len)| vec![b'a' + b; len])
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![Just(End::Left), Just(End::Right)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (end(), item()).prop_map(|(e, i)| Op::Push(e, i)),
        2 => (end(), item(), 1usize..200).prop_map(|(e, i, n)| Op::PushMany(e, i, n)),
        3 => end().prop_map(Op::Pop),
        1 => (0usize..400, item()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => (item(), any::<bool>(), item()).prop_map(|(p, a, v)| Op::Insert(p, a, v)),
        1 => (item(), -5i64..5).prop_map(|(v, n)| Op::Remove(v, n)),
        1 => (0usize..100, 0usize..100).prop_map(|(l, r)| Op::Trim(l, r)),
    ]
}

fn apply(l: &mut List, m: &mut VecDeque<Vec<u8>>, op: &Op) {
    match op {
        Op::Push(e, v) => {
            l.push(*e, v);
            match e {
                End::Left => m.push_front(v.clone()),
                End::Right => m.push_back(v.clone()),
            }
        }
        Op::PushMany(e, v, n) => {
            for i in 0..*n {
                let mut v = v.clone();
                v.extend_from_slice(&(i as u16).to_le_bytes());
                apply(l, m, &Op::Push(*e, v));
            }
        }
        Op::Pop(e) => {
            let got = l.pop(*e, |b| b.to_vec());
            let want = match e {
                End::Left => m.pop_front(),
                End::Right => m.pop_back(),
            };
            assert_eq!(got, want, "pop {e:?}");
        }
        Op::Set(i, v) => {
            let want = *i < m.len();
            if want {
                m[*i] = v.clone();
            }
            assert_eq!(l.set(*i, v), want, "set {i}");
        }
        Op::Insert(p, after, v) => {
            let at = m.iter().position(|x| x == p);
            if let Some(at) = at {
                m.insert(if *after { at + 1 } else { at }, v.clone());
            }
            assert_eq!(l.insert(p, *after, v), at.is_some(), "insert");
        }
        Op::Remove(v, n) => {
            let mut quota = if *n == 0 {
                usize::MAX
            } else {
                n.unsigned_abs() as usize
            };
            let mut keep: Vec<bool> = vec![true; m.len()];
            let order: Vec<usize> = if *n < 0 {
                (0..m.len()).rev().collect()
            } else {
                (0..m.len()).collect()
            };
            let mut gone = 0;
            for i in order {
                if quota > 0 && &m[i] == v {
                    keep[i] = false;
                    quota -= 1;
                    gone += 1;
                }
            }
            let mut k = keep.iter();
            m.retain(|_| *k.next().unwrap());
            assert_eq!(l.remove(v, *n), gone, "remove");
        }
        Op::Trim(left, right) => {
            l.trim(*left, *right);
            if left + right >= m.len() {
                m.clear();
            } else {
                m.drain(..left);
                m.truncate(m.len() - right);
            }
        }
    }
}

fn check(l: &List, m: &VecDeque<Vec<u8>>) {
    assert_eq!(l.len(), m.len());
    assert!(l.iter().eq(m.iter().map(|v| &v[..])), "forward");
    assert!(l.iter_rev().eq(m.iter().rev().map(|v| &v[..])), "backward");
    for (i, v) in m.iter().enumerate() {
        assert_eq!(l.get(i), Some(&v[..]), "get {i}");
    }
    assert_eq!(l.get(m.len()), None);
    let mid = m.len() / 3;
    assert!(l.iter_from(mid).eq(m.iter().skip(mid).map(|v| &v[..])));
    let heap: usize = l.nodes.iter().map(Node::heap).sum();
    assert_eq!(l.heap, heap, "running heap total");
    assert!(l.nodes.iter().all(|n| n.count() > 0), "no empty node");
    assert_eq!(l.nodes.iter().map(Node::count).sum::<usize>(), l.len);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn list_matches_a_deque(ops in prop::collection::vec(op(), 1..60)) {
        let mut l = List::new();
        let mut m = VecDeque::new();
        for op in &ops {
            apply(&mut l, &mut m, op);
            check(&l, &m);
        }
        let copy = l.clone();
        prop_assert_eq!(&copy, &l);
        // The copy keeps its own heap total, and it stays right as the
        // copy changes.
        check(&copy, &m);
        let mut copy = copy;
        apply(&mut copy, &mut m, &Op::Push(End::Left, b"after".to_vec()));
        check(&copy, &m);
    }
}

#[test]
fn many_small_items_pack_into_few_nodes() {
    let mut l = List::new();
    for i in 0..10_000u32 {
        l.push(End::Right, format!("{i:03}").as_bytes());
    }
    // 10,000 items of 3-4 bytes: 59,000 bytes packed, so 15 nodes of
    // 4 KiB, against 10,000 boxes; capacity stops at a full node's size.
    assert!(l.nodes.len() <= 16, "{} nodes", l.nodes.len());
    assert!(l.mem() < 64_000, "{} bytes", l.mem());
    assert_eq!(l.get(5000), Some(&b"5000"[..]));
    let mut one = List::new();
    one.push(End::Left, b"x");
    assert_eq!(one.mem(), 64 + std::mem::size_of::<Node>());
}

#[test]
fn equal_lists_compare_equal_however_split() {
    let mut a = List::new();
    let mut b = List::new();
    for i in 0..3000u32 {
        a.push(End::Right, &i.to_le_bytes());
        b.push(End::Left, &(2999 - i).to_le_bytes());
    }
    assert_eq!(a, b);
    b.set(10, b"x");
    assert_ne!(a, b);
}
