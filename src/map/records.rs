//! `RecordMap`: a chained hash map whose entries are byte records in a
//! [`Slab`], for the keyspace, where one record holds everything a key has.
//!
//! A record is the map's 8-byte header — the `next` link and the low 32
//! bits of the key's hash — then a body the caller lays out. The caller
//! tells the map where the key sits in a body through [`Layout`]; the map
//! compares keys and never reads the rest. Tables, load factor, doubling
//! and the incremental rehash are the same [`Chains`] as
//! [`HashMap`](super::HashMap)'s.
//!
//! Unlike the `HashMap`'s slots, a record can move: when a body changes to
//! a length of another size class, [`resize`](RecordMap::resize) copies it
//! to a record of that class and relinks the chain, and the old handle
//! dies. A caller that keeps handles elsewhere (an LRU list, a TTL index)
//! swaps them then. That is why [`scan`](RecordMap::scan) walks buckets, not
//! handles: a key's bucket does not change when its record moves.
//!
//! Why 32 hash bits: they pick the bucket (tables stay below 2^32 buckets,
//! as handles do) and screen out almost every other key of a chain before
//! its bytes are compared.

use super::arena::NIL;
use super::chains::{Chains, Links};
use super::slab::Slab;
use std::hash::BuildHasher;
use std::marker::PhantomData;

/// Bytes of the map's header at the start of every record.
pub const HEADER: usize = 8;

/// Where a record body keeps its key.
pub trait Layout {
    /// The key of `body` (a live record's bytes after the header, possibly
    /// longer than what the caller wrote).
    fn key(body: &[u8]) -> &[u8];
}

impl Links for Slab {
    #[inline]
    fn next(&self, i: u32) -> u32 {
        let r = self.get(i);
        u32::from_le_bytes([r[0], r[1], r[2], r[3]])
    }

    #[inline]
    fn set_next(&mut self, i: u32, to: u32) {
        self.get_mut(i)[..4].copy_from_slice(&to.to_le_bytes());
    }

    #[inline]
    fn hash(&self, i: u32) -> u64 {
        let r = self.get(i);
        u64::from(u32::from_le_bytes([r[4], r[5], r[6], r[7]]))
    }
}

/// A chained map of byte records keyed by the bytes [`Layout`] finds.
pub struct RecordMap<L, S = foldhash::fast::RandomState> {
    slab: Slab,
    chains: Chains,
    hasher: S,
    layout: PhantomData<fn() -> L>,
}

impl<L, S: Default> Default for RecordMap<L, S> {
    fn default() -> Self {
        RecordMap {
            slab: Slab::default(),
            chains: Chains::default(),
            hasher: S::default(),
            layout: PhantomData,
        }
    }
}

impl<L: Layout, S: BuildHasher> RecordMap<L, S> {
    /// Records held.
    #[inline]
    pub fn len(&self) -> usize {
        self.chains.len()
    }

    /// True when no record is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by records, pages and bucket tables.
    pub fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes() + self.chains.heap_bytes()
    }

    /// Bytes of live records (see `Slab::live_bytes`).
    pub fn live_bytes(&self) -> usize {
        self.slab.live_bytes()
    }

    /// Bytes of the bucket tables.
    pub fn table_bytes(&self) -> usize {
        self.chains.heap_bytes()
    }

    /// The hash lookups of `key` use, for the `_hashed` calls. Only its low
    /// 32 bits matter.
    #[inline]
    pub fn hash_one(&self, key: &[u8]) -> u64 {
        u64::from(self.hasher.hash_one(key) as u32)
    }

    /// The record holding `key`, given `hash = hash_one(key)`.
    #[inline]
    pub fn find_hashed(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let mut i = self.chains.head(hash);
        while i != NIL {
            let r = self.slab.get(i);
            if self.slab.hash(i) == hash && L::key(&r[HEADER..]) == key {
                return Some(i);
            }
            i = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
        }
        None
    }

    /// The record holding `key`.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        if self.is_empty() {
            return None;
        }
        self.find_hashed(self.hash_one(key), key)
    }

    /// Live record `r`'s body (at least as long as was asked for).
    #[inline]
    pub fn body(&self, r: u32) -> &[u8] {
        &self.slab.get(r)[HEADER..]
    }

    /// Live record `r`'s body, mutably. Its key must not change.
    #[inline]
    pub fn body_mut(&mut self, r: u32) -> &mut [u8] {
        &mut self.slab.get_mut(r)[HEADER..]
    }

    /// Bytes live record `r` takes in its slab: its class's size (or, for a
    /// huge record, its allocation).
    pub fn record_bytes(&self, r: u32) -> usize {
        self.slab.record_bytes(r)
    }

    /// True if `r` names a live record.
    #[inline]
    pub fn is_live(&self, r: u32) -> bool {
        self.slab.is_live(r)
    }

    /// A new record with room for a `body_len`-byte body, filed under
    /// `hash` (of a key known to be absent). `write` fills the body, key
    /// first: the record is linked in once it is written. `None` if the
    /// slab has no room (2^26 records of its size class and every larger one).
    pub fn insert_hashed(
        &mut self,
        hash: u64,
        body_len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Option<u32> {
        self.chains.step(&mut self.slab);
        let r = self.slab.alloc(HEADER + body_len)?;
        let rec = self.slab.get_mut(r);
        rec[4..8].copy_from_slice(&(hash as u32).to_le_bytes());
        write(&mut rec[HEADER..]);
        debug_assert_eq!(self.hash_one(L::key(self.body(r))), hash);
        if self.chains.full() {
            self.chains.grow(&mut self.slab);
        }
        self.chains.push(hash, r, &mut self.slab);
        Some(r)
    }

    /// Gives live record `r` room for a `body_len`-byte body and returns
    /// its handle, which is `r` unless the record had to move to another
    /// size class (its first bytes copied over, `r` then dead). `None`,
    /// changing nothing, if the slab has no room.
    pub fn resize(&mut self, r: u32, body_len: usize) -> Option<u32> {
        let len = HEADER + body_len;
        if self.slab.fits(r, len) {
            self.slab.resize_huge(r, len);
            return Some(r);
        }
        let to = self.slab.alloc(len)?;
        let keep = self.slab.get(r).len().min(len);
        // Records are in one slab, so the copy goes through a buffer the
        // size of the smaller record (at most 1 KiB unless huge).
        let bytes = self.slab.get(r)[..keep].to_vec();
        self.slab.get_mut(to)[..keep].copy_from_slice(&bytes);
        let hash = self.slab.hash(r);
        let moved = self.chains.replace(hash, r, to, &mut self.slab);
        debug_assert!(moved, "resize of a record not in its chain");
        self.slab.free(r);
        Some(to)
    }

    /// Unlinks and frees live record `r`; the caller has read what it needs
    /// from the body. False if `r` is not a linked record.
    pub fn remove(&mut self, r: u32) -> bool {
        self.chains.step(&mut self.slab);
        if !self.slab.is_live(r) {
            return false;
        }
        let hash = self.slab.hash(r);
        let Some(prev) = self.chains.predecessor(hash, r, &self.slab) else {
            return false;
        };
        self.chains.unlink(hash, prev, r, &mut self.slab);
        self.slab.free(r);
        true
    }

    /// Every live record, in handle order (not bucket order).
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.slab.iter()
    }

    /// One step of a cursor scan (Redis's `dictScan`, see `chains.rs`):
    /// calls `f` on the records of the next bucket or buckets and returns
    /// the cursor to go on from, 0 once done. Cursors stay below 2^32.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(u32)) -> u64 {
        self.chains.scan(cursor, &self.slab, &mut f)
    }

    /// A live record chosen uniformly at random after up to `tries` samples.
    pub fn random(&self, rng: &mut fastrand::Rng, tries: usize) -> Option<u32> {
        self.slab.random(rng, tries)
    }

    /// Start loading what a lookup of `hash` reads: the bucket at `depth`
    /// 0, the first record (reading the bucket) at 1. See
    /// `HashMap::prefetch_bucket` for why in two rounds.
    #[inline]
    pub fn prefetch(&self, hash: u64, depth: u8) {
        match depth {
            0 => self.chains.prefetch(hash),
            _ => match self.chains.head(hash) {
                NIL => {}
                head => super::prefetch::read(self.slab.get(head)),
            },
        }
    }

    /// Frees every record.
    pub fn clear(&mut self) {
        self.slab.clear();
        self.chains.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashSet};

    /// Test bodies: a length byte, the key, then a filler of the value
    /// length given.
    struct Lb;
    impl Layout for Lb {
        fn key(body: &[u8]) -> &[u8] {
            &body[1..1 + body[0] as usize]
        }
    }

    fn put(m: &mut RecordMap<Lb>, key: &[u8], fill: usize) -> u32 {
        let hash = m.hash_one(key);
        match m.find_hashed(hash, key) {
            Some(r) => {
                let r = m.resize(r, 1 + key.len() + fill).unwrap();
                m.body_mut(r)[1 + key.len()..1 + key.len() + fill].fill(fill as u8);
                r
            }
            None => m
                .insert_hashed(hash, 1 + key.len() + fill, |b| {
                    b[0] = key.len() as u8;
                    b[1..1 + key.len()].copy_from_slice(key);
                    b[1 + key.len()..1 + key.len() + fill].fill(fill as u8);
                })
                .unwrap(),
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Put(u16, usize),
        Del(u16),
        Step,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..300u16, prop_oneof![0..40usize, 200..300usize, 1000..1100usize])
                .prop_map(|(k, f)| Op::Put(k, f)),
            3 => (0..300u16).prop_map(Op::Del),
            2 => Just(Op::Step),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Against a `BTreeMap`: every key is found with its bytes, across
        /// moves between classes and rehashes, and a scan that runs through
        /// the changes returns every key present throughout.
        #[test]
        fn matches_a_model_and_scans_completely(ops in prop::collection::vec(op(), 1..400)) {
            let mut m: RecordMap<Lb> = RecordMap::default();
            let mut model: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
            let mut cursor = 0u64;
            let mut stable: HashSet<Vec<u8>> = HashSet::new();
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            for op in ops {
                match op {
                    Op::Put(k, fill) => {
                        let key = format!("key:{k}").into_bytes();
                        put(&mut m, &key, fill);
                        model.insert(key, fill);
                    }
                    Op::Del(k) => {
                        let key = format!("key:{k}").into_bytes();
                        let r = m.find(&key);
                        prop_assert_eq!(r.is_some(), model.remove(&key).is_some());
                        if let Some(r) = r {
                            prop_assert!(m.remove(r));
                        }
                        stable.remove(&key);
                    }
                    Op::Step => {
                        cursor = m.scan(cursor, |r| {
                            seen.insert(Lb::key(m.body(r)).to_vec());
                        });
                        if cursor == 0 {
                            for k in &stable {
                                prop_assert!(seen.contains(k), "scan missed {:?}", k);
                            }
                            stable = model.keys().cloned().collect();
                            seen.clear();
                        }
                    }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for (k, &fill) in &model {
                let r = m.find(k).unwrap();
                let body = m.body(r);
                prop_assert_eq!(Lb::key(body), &k[..]);
                let v = &body[1 + k.len()..1 + k.len() + fill];
                prop_assert!(v.iter().all(|&b| b == fill as u8));
            }
            prop_assert_eq!(m.iter().count(), model.len());
        }
    }

    #[test]
    fn a_record_moves_when_its_class_changes() {
        let mut m: RecordMap<Lb> = RecordMap::default();
        let a = put(&mut m, b"a", 10);
        assert_eq!(put(&mut m, b"a", 12), a, "same class: in place");
        let b = put(&mut m, b"a", 100);
        assert_ne!(b, a);
        assert!(!m.is_live(a));
        assert_eq!(m.find(b"a"), Some(b));
        let h = put(&mut m, b"a", 5000);
        assert_eq!(put(&mut m, b"a", 9000), h, "huge stays huge in place");
        assert_eq!(m.len(), 1);
    }
}
