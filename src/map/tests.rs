//! Unit tests for `HashMap`.

use super::{HashMap, Slot};
use std::hash::{BuildHasher, Hasher};

/// A hasher that sends every key to the same hash, so all keys share one
/// chain and every lookup falls back to key comparison.
#[derive(Clone, Copy, Default)]
pub(super) struct ConstState;

impl BuildHasher for ConstState {
    type Hasher = ConstHasher;
    fn build_hasher(&self) -> ConstHasher {
        ConstHasher
    }
}

/// The hasher built by [`ConstState`].
pub(super) struct ConstHasher;

impl Hasher for ConstHasher {
    fn finish(&self) -> u64 {
        42
    }
    fn write(&mut self, _: &[u8]) {}
}

/// A hasher that keeps only the low four bits of the key's byte sum: 16
/// distinct hashes, so chains are long but still spread over buckets.
#[derive(Clone, Copy, Default)]
pub(super) struct WeakState;

impl BuildHasher for WeakState {
    type Hasher = WeakHasher;
    fn build_hasher(&self) -> WeakHasher {
        WeakHasher(0)
    }
}

/// The hasher built by [`WeakState`].
pub(super) struct WeakHasher(u64);

impl Hasher for WeakHasher {
    fn finish(&self) -> u64 {
        self.0 & 0xF
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.wrapping_add(u64::from(*b));
        }
    }
}

#[test]
fn a_u64_pair_costs_20_bytes_of_arena() {
    let mut m: HashMap<u64, u64> = HashMap::with_capacity(0);
    for k in 0..2560 {
        m.insert(k, k);
    }
    // Ten full pages of 256 pairs and link words; the directory besides.
    let pages = m.arena.heap_bytes() - m.arena.pages_capacity_bytes();
    assert_eq!(pages, 10 * 256 * 20);
}

#[test]
fn a_big_arena_takes_its_pages_in_blocks_and_keeps_every_pair() {
    use std::rc::Rc;
    let v = Rc::new(());
    // Past 256 pages of 256 (where blocks of 32 pages begin), and into a
    // second block's spare pages.
    const N: u64 = 256 * 256 + 40 * 256 + 7;
    let mut m = HashMap::new();
    for k in 0..N {
        m.insert(k, (k, v.clone()));
    }
    let page = 256 * (4 + std::mem::size_of::<(u64, (u64, Rc<()>))>());
    let pages = m.arena.heap_bytes() - m.arena.pages_capacity_bytes();
    assert_eq!(pages, (256 + 2 * 32) * page, "two blocks after 256 pages");
    for k in (0..N).step_by(3) {
        assert_eq!(m.remove(&k).map(|(x, _)| x), Some(k));
    }
    let c = m.clone();
    for k in 0..N {
        let want = (k % 3 != 0).then_some(k);
        assert_eq!(m.get(&k).map(|x| x.0), want, "{k}");
        assert_eq!(c.get(&k).map(|x| x.0), want, "{k} in the clone");
    }
    let live = (N - N.div_ceil(3)) as usize;
    assert_eq!(Rc::strong_count(&v), 1 + 2 * live);
    drop(c);
    assert_eq!(Rc::strong_count(&v), 1 + live);
    m.clear();
    assert_eq!(Rc::strong_count(&v), 1);
    assert_eq!(m.arena.heap_bytes(), m.arena.pages_capacity_bytes());
}

#[test]
fn values_are_dropped_once_by_remove_clear_and_drop() {
    use std::rc::Rc;
    let v = Rc::new(());
    let mut m = HashMap::new();
    for k in 0..1000u32 {
        m.insert(k, v.clone());
    }
    assert_eq!(Rc::strong_count(&v), 1001);
    for k in 0..100u32 {
        m.remove(&k);
    }
    assert_eq!(Rc::strong_count(&v), 901);
    let copy = m.clone();
    assert_eq!(Rc::strong_count(&v), 1801);
    drop(copy);
    m.insert(5000, v.clone());
    m.clear();
    assert_eq!(Rc::strong_count(&v), 1);
    for k in 0..10u32 {
        m.insert(k, v.clone());
    }
    drop(m);
    assert_eq!(Rc::strong_count(&v), 1);
}

#[test]
fn insert_get_replace_remove() {
    let mut m = HashMap::new();
    assert!(m.is_empty());
    assert_eq!(m.get(&1u64), None);
    assert_eq!(m.insert(1u64, "a"), None);
    assert_eq!(m.insert(2, "b"), None);
    assert_eq!(m.len(), 2);
    assert_eq!(m.get(&1), Some(&"a"));
    assert!(m.contains_key(&2));
    assert!(!m.contains_key(&3));

    let (slot, old) = m.insert_full(1, "A");
    assert_eq!(old, Some("a"));
    assert_eq!(m.find(&1), Some(slot), "replace keeps the slot");
    assert_eq!(m.len(), 2);

    *m.get_mut(&2).unwrap() = "B";
    assert_eq!(m.get(&2), Some(&"B"));
    assert_eq!(m.remove(&2), Some("B"));
    assert_eq!(m.remove(&2), None);
    assert_eq!(m.remove_entry(&1), Some((1, "A")));
    assert!(m.is_empty());
}

#[test]
fn borrowed_lookups() {
    let mut m: HashMap<String, u32> = HashMap::new();
    m.insert("hello".to_string(), 1);
    assert_eq!(m.get("hello"), Some(&1));
    let h = m.hash_one("hello");
    assert_eq!(m.find_hashed(h, "hello"), m.find("hello"));
    assert_eq!(m.remove("hello"), Some(1));

    let mut b: HashMap<Box<[u8]>, u32> = HashMap::new();
    b.insert(Box::from(&b"key"[..]), 7);
    assert_eq!(b.get(&b"key"[..]), Some(&7));
}

#[test]
fn grows_by_doubling_at_three_quarters() {
    let mut m = HashMap::new();
    assert_eq!(m.bucket_count(), 0);
    m.insert(0u32, ());
    assert_eq!(m.bucket_count(), 8);
    for i in 1..6 {
        m.insert(i, ());
    }
    assert_eq!((m.len(), m.bucket_count()), (6, 8), "6/8 is exactly 0.75");
    m.insert(6, ());
    assert_eq!(m.bucket_count(), 16);
    for i in 7..12 {
        m.insert(i, ());
    }
    assert_eq!((m.len(), m.bucket_count()), (12, 16));
    m.insert(12, ());
    assert_eq!(m.bucket_count(), 32);
}

#[test]
fn with_capacity_does_not_grow() {
    for n in [1, 6, 7, 100, 1000] {
        let mut m = HashMap::with_capacity(n);
        let buckets = m.bucket_count();
        for i in 0..n {
            m.insert(i, i);
        }
        assert_eq!(m.bucket_count(), buckets, "n = {n}");
        assert!(!m.is_rehashing());
    }
}

#[test]
fn lookups_correct_while_rehashing() {
    let mut m = HashMap::new();
    let mut seen_rehash = false;
    for i in 0..5_000u64 {
        m.insert(i, i * 10);
        if m.is_rehashing() {
            seen_rehash = true;
            // Every key, old table or new, must be reachable mid-rehash.
            for j in (0..=i).step_by(37).chain([i]) {
                assert_eq!(m.get(&j), Some(&(j * 10)), "key {j} after inserting {i}");
            }
            assert_eq!(m.get(&(i + 1)), None);
        }
    }
    assert!(seen_rehash);
    while m.rehash_step(1) {}
    assert!(!m.is_rehashing());
    assert!(!m.rehash_step(1));
    for j in 0..5_000 {
        assert_eq!(m.get(&j), Some(&(j * 10)));
    }
}

#[test]
fn removes_while_rehashing() {
    let mut m = HashMap::new();
    for i in 0..7u32 {
        m.insert(i, i);
    }
    assert!(m.is_rehashing());
    // Removes drive the rehash too; every one must still find its key.
    for i in 0..7 {
        assert_eq!(m.remove(&i), Some(i));
    }
    assert!(m.is_empty());
    assert!(!m.is_rehashing());
}

#[test]
fn rehash_finishes_before_next_grow() {
    // The module docs claim inserts alone always drain a rehash before the
    // next grow is due; check that the fallback never has work to do.
    let mut m = HashMap::new();
    for i in 0..200_000u64 {
        let grows = (m.len() + 1) * 4 > m.bucket_count() * 3;
        if grows {
            assert!(!m.is_rehashing(), "grow at len {} found a rehash", m.len());
        }
        m.insert(i, ());
    }
}

#[test]
fn slots_stable_across_rehash() {
    let mut m = HashMap::new();
    let slots: Vec<Slot> = (0..100u64).map(|i| m.insert_full(i, i).0).collect();
    for i in 100..50_000u64 {
        m.insert(i, i);
    }
    for (i, s) in slots.iter().enumerate() {
        let i = i as u64;
        assert_eq!(m.at(*s), Some((&i, &i)));
        assert_eq!(m.find(&i), Some(*s));
    }
    *m.at_mut(slots[5]).unwrap().1 = 555;
    assert_eq!(m.get(&5), Some(&555));
    assert_eq!(m.remove_at(slots[5]), Some((5, 555)));
    assert_eq!(m.at(slots[5]), None);
    assert_eq!(m.remove_at(slots[5]), None);
    assert_eq!(m.get(&5), None);
}

#[test]
fn free_list_reuses_slots() {
    let mut m = HashMap::new();
    let a = m.insert_full("a", 1).0;
    let b = m.insert_full("b", 2).0;
    let c = m.insert_full("c", 3).0;
    assert_eq!(m.slot_limit(), 3);
    m.remove(&"b");
    assert_eq!(m.at(b), None);
    let d = m.insert_full("d", 4).0;
    assert_eq!(d, b, "freed slot is reused");
    assert_eq!(m.slot_limit(), 3);
    m.remove_at(a);
    m.remove_at(c);
    let e = m.insert_full("e", 5).0;
    assert_eq!(e, c, "free list is LIFO");
    assert_eq!(m.at(Slot(99)), None);
    assert_eq!(m.at(Slot(u32::MAX)), None);
}

#[test]
fn clear_resets() {
    let mut m = HashMap::new();
    for i in 0..100u32 {
        m.insert(i, i);
    }
    let buckets = m.bucket_count();
    m.clear();
    assert!(m.is_empty());
    assert!(!m.is_rehashing());
    assert_eq!(m.slot_limit(), 0);
    assert_eq!(m.bucket_count(), buckets);
    assert_eq!(m.get(&5), None);
    assert_eq!(m.iter().count(), 0);
    m.insert(5, 50);
    assert_eq!(m.get(&5), Some(&50));
    assert_eq!(m.len(), 1);
}

#[test]
fn iteration_matches_len_and_slots() {
    let mut m = HashMap::new();
    for i in 0..1_000u32 {
        m.insert(i, i + 1);
    }
    for i in (0..1_000).step_by(3) {
        m.remove(&i);
    }
    assert_eq!(m.iter().count(), m.len());
    assert_eq!(m.iter().len(), m.len());
    assert_eq!(m.keys().count(), m.len());
    let by_values: u32 = m.values().sum();
    let by_iter: u32 = m.iter().map(|(_, v)| v).sum();
    assert_eq!(by_values, by_iter);
    for (slot, k, v) in m.iter_slots() {
        assert_eq!(m.find(k), Some(slot));
        assert_eq!(*v, k + 1);
    }
    m.for_each_mut(|_, _, v| *v = 0);
    assert!(m.values().all(|v| *v == 0));
}

#[test]
fn all_keys_colliding_still_works() {
    let mut m = HashMap::with_hasher(ConstState);
    for i in 0..500u32 {
        assert_eq!(m.insert(i, i), None);
    }
    while m.rehash_step(8) {}
    for i in 0..500 {
        assert_eq!(m.get(&i), Some(&i));
    }
    for i in (0..500).step_by(2) {
        assert_eq!(m.remove(&i), Some(i));
    }
    assert_eq!(m.len(), 250);
    for i in 0..500 {
        assert_eq!(m.contains_key(&i), i % 2 == 1);
    }
}

#[test]
fn heap_bytes_tracks_growth() {
    let mut m: HashMap<u64, u64> = HashMap::new();
    assert_eq!(m.heap_bytes(), 0);
    for i in 0..1_000 {
        m.insert(i, i);
    }
    // At least the arena for 1000 nodes of 20 bytes and 2048 four-byte
    // heads, and at most one page more.
    assert!(m.heap_bytes() >= 1_000 * 20 + 2_048 * 4);
    assert!(m.heap_bytes() <= 1_024 * 20 + 2_048 * 4 + 256 * 20 + 64);
}

#[test]
fn reserve_makes_room() {
    let mut m = HashMap::new();
    for i in 0..7u32 {
        m.insert(i, ());
    }
    assert!(m.is_rehashing());
    m.reserve(1_000);
    assert!(!m.is_rehashing());
    let buckets = m.bucket_count();
    for i in 7..1_007 {
        m.insert(i, ());
    }
    assert_eq!(m.bucket_count(), buckets);
    assert_eq!(m.len(), 1_007);
}

#[test]
fn debug_and_collect() {
    let m: HashMap<u8, u8> = [(1, 2)].into_iter().collect();
    assert_eq!(format!("{m:?}"), "{1: 2}");
    let mut n = m.clone();
    n.extend([(3, 4)]);
    assert_eq!(n.len(), 2);
    assert_eq!(m.len(), 1);
}
