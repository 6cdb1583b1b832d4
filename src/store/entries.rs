//! `Entries`: one shard's keys as records (`record.rs`) in our
//! [`RecordMap`], with the pool of collections and the TTL index.
//!
//! A string lives inside its key's record, and so does a listpack hash
//! (its entries are the value bytes; see [`Coll::inline`]). Any other
//! collection lives in `colls`, a [`Pool`], and its record holds the 4-byte
//! index. The TTL index
//! (`expiring`, every key with a TTL once, for the sweeper's uniform
//! sampling) stays here because each entry records its place in it.
//!
//! Records move when they change size class (a longer value, a TTL added);
//! every call that can move one returns the record's new [`Slot`]. This
//! type keeps its own TTL index right; a caller that holds slots elsewhere
//! (the shard's LRU list) swaps the old slot for the new.

use super::record::{self, Head, Rec, COLL, HASH_PACK, NOT_STR, TTL};
use super::types::Hash;
use super::value::{string_encoding, Coll, Type, Value};
use crate::map::{Pool, RecordMap, Slot};

/// A key's value as stored: borrowed bytes or a collection.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    /// A string.
    Str(&'a [u8]),
    /// A listpack hash's entries, held in the record.
    HashPack(&'a [u8]),
    /// Any other collection, in the pool.
    Coll(&'a Coll),
}

impl<'a> Val<'a> {
    /// The string, if this is one.
    #[inline]
    pub fn as_str(self) -> Option<&'a [u8]> {
        match self {
            Val::Str(s) => Some(s),
            Val::HashPack(_) | Val::Coll(_) => None,
        }
    }

    /// An owned copy.
    pub fn to_value(self) -> Value {
        match self {
            Val::Str(s) => Value::Str(s.into()),
            Val::HashPack(p) => owned(HASH_PACK, p),
            Val::Coll(c) => Value::Coll(Box::new(c.clone())),
        }
    }

    /// Its type.
    pub fn kind(self) -> Type {
        match self {
            Val::Str(_) => Type::String,
            Val::HashPack(_) => Type::Hash,
            Val::Coll(c) => c.kind(),
        }
    }

    /// What OBJECT ENCODING says of it.
    pub fn encoding(self) -> &'static str {
        match self {
            Val::Str(s) => string_encoding(s),
            Val::HashPack(_) => "listpack",
            Val::Coll(c) => c.encoding(),
        }
    }

    /// Bytes it is charged, as [`Value::mem`].
    pub fn mem(self) -> usize {
        match self {
            Val::Str(s) | Val::HashPack(s) => s.len(),
            Val::Coll(c) => std::mem::size_of::<Coll>() + c.mem(),
        }
    }

    /// True if it equals `v`.
    pub fn same_as(self, v: &Value) -> bool {
        match (self, v) {
            (Val::Str(a), Value::Str(b)) => a == &b[..],
            (Val::HashPack(a), Value::Coll(b)) => **b == Coll::Hash(Hash::from_pack_bytes(a)),
            (Val::Coll(a), Value::Coll(b)) => a == &**b,
            _ => false,
        }
    }
}

/// What a key's record says, decoded.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    /// The value.
    pub value: Val<'a>,
    /// Expiry in node-clock ms; 0 means none.
    pub expires_at: u64,
    /// Last use (`shard::access_secs`).
    pub access: u32,
}

/// One shard's records, collections and TTL index.
#[derive(Default)]
pub struct Entries {
    map: RecordMap<Rec>,
    colls: Pool<Coll>,
    /// Slots of keys with a TTL; each such record holds its index here.
    expiring: Vec<Slot>,
}

impl Entries {
    /// Keys held.
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys with a TTL.
    pub fn expiring_len(&self) -> usize {
        self.expiring.len()
    }

    /// The `i`th key with a TTL (in no set order), for sampling.
    pub fn expiring_at(&self, i: usize) -> Slot {
        self.expiring[i]
    }

    /// Bytes of live records: every key's own cost.
    pub fn live_bytes(&self) -> usize {
        self.map.live_bytes()
    }

    /// Bytes of what indexes the keys: bucket tables, each collection's
    /// pool slot and each TTL index entry (not what collections hold beyond
    /// their slot). Pages and directories are left out: they grow in steps
    /// that would make a small bound jump, and at any size worth bounding
    /// they are full.
    pub fn index_bytes(&self) -> usize {
        self.map.table_bytes()
            + self.colls.len() * std::mem::size_of::<Option<Coll>>()
            + self.expiring.len() * std::mem::size_of::<Slot>()
    }

    /// Where live `slot` sits in the TTL index, if it has a TTL (for the
    /// tests' invariant checks).
    #[cfg(test)]
    pub fn ttl_index(&self, slot: Slot) -> Option<u32> {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        (h.flags & TTL != 0).then(|| record::ttl(body, &h).1)
    }

    /// The hash of `key` for the `_hashed` calls.
    #[inline]
    pub fn hash_one(&self, key: &[u8]) -> u64 {
        self.map.hash_one(key)
    }

    /// The slot of `key`, given its hash.
    #[inline]
    pub fn find_hashed(&self, hash: u64, key: &[u8]) -> Option<Slot> {
        self.map.find_hashed(hash, key).map(Slot)
    }

    /// The slot of `key`.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<Slot> {
        self.map.find(key).map(Slot)
    }

    /// Start loading the bucket (`depth` 0) or first record (1) a lookup of
    /// `hash` reads (see `Shard::prefetch`).
    #[inline]
    pub fn prefetch(&self, hash: u64, depth: u8) {
        self.map.prefetch(hash, depth);
    }

    /// Key and entry at a live `slot`; `None` for a dead one.
    #[inline]
    pub fn at(&self, slot: Slot) -> Option<(&[u8], EntryRef<'_>)> {
        if !self.map.is_live(slot.0) {
            return None;
        }
        Some(self.decode(slot))
    }

    fn decode(&self, slot: Slot) -> (&[u8], EntryRef<'_>) {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        let v = &body[h.value()..h.value() + h.vlen];
        let value = if h.flags & COLL != 0 {
            let coll = self
                .colls
                .get(coll_index(v))
                .expect("a record's collection");
            Val::Coll(coll)
        } else if h.flags & HASH_PACK != 0 {
            Val::HashPack(v)
        } else {
            Val::Str(v)
        };
        let e = EntryRef {
            value,
            expires_at: record::ttl(body, &h).0,
            access: record::access(body),
        };
        (&body[h.key..h.key + h.klen], e)
    }

    /// What live `slot` costs (MEMORY USAGE): its record, its share of a
    /// bucket head, and a pooled collection's slot and contents.
    pub fn cost(&self, slot: Slot) -> usize {
        let (_, e) = self.decode(slot);
        let coll = match e.value {
            Val::Str(_) | Val::HashPack(_) => 0,
            Val::Coll(c) => std::mem::size_of::<Coll>() + c.mem(),
        };
        self.map.record_bytes(slot.0) + 4 + coll
    }

    /// The expiry of live `slot` (0 = none): a lookup's one question before
    /// it hands the slot on, answered without decoding the value.
    #[inline]
    pub fn expires_at(&self, slot: Slot) -> u64 {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        record::ttl(body, &h).0
    }

    /// The string of live `slot`; `None` if it holds a collection.
    #[inline]
    pub fn str_at(&self, slot: Slot) -> Option<&[u8]> {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        (h.flags & NOT_STR == 0).then(|| &body[h.value()..h.value() + h.vlen])
    }

    /// The listpack hash entries of live `slot`, if its record holds some.
    #[inline]
    pub fn hash_pack_at(&self, slot: Slot) -> Option<&[u8]> {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        (h.flags & HASH_PACK != 0).then(|| &body[h.value()..h.value() + h.vlen])
    }

    /// Makes `pack` the listpack hash entries of live `slot` (which holds a
    /// listpack hash), keeping its access time and TTL. Returns the new
    /// slot; `None`, changing nothing, if the slab is full.
    pub fn set_hash_pack(&mut self, slot: Slot, pack: &[u8]) -> Option<Slot> {
        let h = Head::read(self.map.body(slot.0));
        debug_assert_ne!(h.flags & HASH_PACK, 0, "set_hash_pack of a listpack hash");
        let slot = if pack.len() == h.vlen {
            slot
        } else {
            self.relayout(slot, h.flags, pack.len())?
        };
        self.write_value(slot, pack);
        Some(slot)
    }

    /// The collection at live `slot`, mutably, if it holds one.
    pub fn coll_mut(&mut self, slot: Slot) -> Option<&mut Coll> {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        if h.flags & COLL == 0 {
            return None;
        }
        let i = coll_index(&body[h.value()..h.value() + h.vlen]);
        self.colls.get_mut(i)
    }

    /// Sets the last use of live `slot`.
    #[inline]
    pub fn set_access(&mut self, slot: Slot, access: u32) {
        record::set_access(self.map.body_mut(slot.0), access);
    }

    /// Stores a new `key` (absent, with hash `hash`) with `value`, last use
    /// `access` and expiry `at` (0 = none). `None`, storing nothing, if the
    /// slab is full.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        access: u32,
        at: u64,
    ) -> Option<Slot> {
        let ttl = if at != 0 { TTL } else { 0 };
        let ttl_idx = self.expiring.len() as u32;
        let r = match value {
            Value::Str(s) => return self.insert_str(hash, key, &s, access, at),
            Value::Coll(c) if c.inline() => {
                let pack = inline_bytes(&c);
                let len = record::body_len(ttl | HASH_PACK, key.len(), pack.len());
                self.map.insert_hashed(hash, len, |b| {
                    record::write(b, access, ttl | HASH_PACK, key, pack, (at, ttl_idx))
                })?
            }
            Value::Coll(c) => {
                let i = self.colls.insert(*c);
                let len = record::body_len(ttl | COLL, key.len(), 4);
                let idx = i.to_le_bytes();
                let r = self.map.insert_hashed(hash, len, |b| {
                    record::write(b, access, ttl | COLL, key, &idx, (at, ttl_idx))
                });
                if r.is_none() {
                    self.colls.remove(i);
                }
                r?
            }
        };
        if at != 0 {
            self.expiring.push(Slot(r));
        }
        Some(Slot(r))
    }

    /// [`insert`](Self::insert) of a string, from borrowed bytes: the
    /// record is the only copy made.
    pub fn insert_str(
        &mut self,
        hash: u64,
        key: &[u8],
        value: &[u8],
        access: u32,
        at: u64,
    ) -> Option<Slot> {
        let ttl = if at != 0 { TTL } else { 0 };
        let ttl_idx = self.expiring.len() as u32;
        let len = record::body_len(ttl, key.len(), value.len());
        let r = self.map.insert_hashed(hash, len, |b| {
            record::write(b, access, ttl, key, value, (at, ttl_idx))
        })?;
        if at != 0 {
            self.expiring.push(Slot(r));
        }
        Some(Slot(r))
    }

    /// Lays live `slot` out again for `flags` and a value of `vlen` bytes,
    /// keeping its access time, its key, the first bytes of its value (as
    /// many as both lengths have) and, if both layouts have one, its expiry
    /// pair. The caller writes the rest. Returns the record's slot, which
    /// is new if it changed size class; `None`, changing nothing, if the
    /// slab is full.
    fn relayout(&mut self, slot: Slot, flags: u8, vlen: usize) -> Option<Slot> {
        let h = Head::read(self.map.body(slot.0));
        let new_len = record::body_len(flags, h.klen, vlen);
        // Where the key goes: everything before it is the fixed part.
        let new_key = new_len - h.klen - vlen;
        let kept = h.key..h.key + h.klen + h.vlen.min(vlen);
        let (access, pair) = {
            let b = self.map.body(slot.0);
            (record::access(b), record::ttl(b, &h))
        };
        let r = if new_key < h.key {
            // Moving left: a smaller record copies only its own length of
            // the old one, which can end before the old key and value did,
            // so they are saved first (a rare path: a TTL dropped, or a
            // value shrunk below a length boundary).
            let saved = self.map.body(slot.0)[kept].to_vec();
            let r = self.map.resize(slot.0, new_len)?;
            let b = self.map.body_mut(r);
            b[new_key..new_key + saved.len()].copy_from_slice(&saved);
            record::write_head(b, access, flags, h.klen, vlen, pair);
            r
        } else {
            let r = self.map.resize(slot.0, new_len)?;
            let b = self.map.body_mut(r);
            b.copy_within(kept, new_key);
            record::write_head(b, access, flags, h.klen, vlen, pair);
            r
        };
        let new = Slot(r);
        // A TTL kept through the move keeps its index entry, which must now
        // name the new slot (one being added is indexed by the caller).
        if new != slot && flags & h.flags & TTL != 0 {
            self.expiring[pair.1 as usize] = new;
        }
        Some(new)
    }

    /// Replaces the value of live `slot`, keeping its access time and TTL.
    /// Returns the new slot and the old value: always when it was a
    /// pooled collection (so the caller can free it off the core), a string
    /// or a listpack hash only when `keep_old`. `None`, changing nothing, if the slab is full.
    pub fn set_value(
        &mut self,
        slot: Slot,
        value: Value,
        keep_old: bool,
    ) -> Option<(Slot, Option<Value>)> {
        let (old_flags, old_coll, old_bytes) = {
            let body = self.map.body(slot.0);
            let h = Head::read(body);
            let v = &body[h.value()..h.value() + h.vlen];
            let coll = (h.flags & COLL != 0).then(|| coll_index(v));
            let s = (keep_old && coll.is_none()).then(|| Box::<[u8]>::from(v));
            (h.flags, coll, s)
        };
        let ttl = old_flags & TTL;
        let slot = match value {
            Value::Str(s) => {
                let slot = self.relayout(slot, ttl, s.len())?;
                self.write_value(slot, &s);
                slot
            }
            Value::Coll(c) if c.inline() => {
                let pack = inline_bytes(&c);
                let slot = self.relayout(slot, ttl | HASH_PACK, pack.len())?;
                self.write_value(slot, pack);
                slot
            }
            Value::Coll(c) => {
                let slot = self.relayout(slot, ttl | COLL, 4)?;
                let i = self.colls.insert(*c);
                self.write_value(slot, &i.to_le_bytes());
                slot
            }
        };
        let old = match old_coll {
            Some(i) => self.colls.remove(i).map(|c| Value::Coll(Box::new(c))),
            None => old_bytes.map(|b| owned(old_flags, &b)),
        };
        Some((slot, old))
    }

    /// [`set_value`](Self::set_value) to a string, from borrowed bytes.
    pub fn set_str(
        &mut self,
        slot: Slot,
        value: &[u8],
        keep_old: bool,
    ) -> Option<(Slot, Option<Value>)> {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        if h.flags & NOT_STR != 0 {
            return self.set_value(slot, Value::Str(value.into()), keep_old);
        }
        let old = keep_old.then(|| Value::Str(body[h.value()..h.value() + h.vlen].into()));
        if value.len() == h.vlen {
            // The usual overwrite: same length, same layout, bytes in place.
            let at = h.value();
            self.map.body_mut(slot.0)[at..at + value.len()].copy_from_slice(value);
            return Some((slot, old));
        }
        let slot = self.relayout(slot, h.flags & TTL, value.len())?;
        self.write_value(slot, value);
        Some((slot, old))
    }

    /// Writes the value bytes of live `slot`, laid out for their length.
    fn write_value(&mut self, slot: Slot, v: &[u8]) {
        let body = self.map.body_mut(slot.0);
        let h = Head::read(body);
        debug_assert_eq!(h.vlen, v.len());
        body[h.value()..h.value() + v.len()].copy_from_slice(v);
    }

    /// Lets `edit` change the string at live `slot` (grow it, shrink it,
    /// flip bytes); returns the new slot and what `edit` returned. `None`,
    /// changing nothing, if the slab is full.
    pub fn edit_str<R>(
        &mut self,
        slot: Slot,
        edit: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> Option<(Slot, R)> {
        let (flags, mut v) = {
            let body = self.map.body(slot.0);
            let h = Head::read(body);
            debug_assert_eq!(h.flags & NOT_STR, 0, "edit_str of a string");
            (h.flags, body[h.value()..h.value() + h.vlen].to_vec())
        };
        let r = edit(&mut v);
        let slot = self.relayout(slot, flags, v.len())?;
        self.write_value(slot, &v);
        Some((slot, r))
    }

    /// Gives live `slot` the expiry `at` (0 = none), keeping the TTL index
    /// right. Returns the new slot; `None`, changing nothing, if the slab is
    /// full.
    pub fn set_expiry(&mut self, slot: Slot, at: u64) -> Option<Slot> {
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        let (_, idx) = record::ttl(body, &h);
        match (h.flags & TTL != 0, at != 0) {
            (false, false) => Some(slot),
            (true, true) => {
                record::set_ttl(self.map.body_mut(slot.0), &h, at, idx);
                Some(slot)
            }
            (false, true) => {
                let slot = self.relayout(slot, h.flags | TTL, h.vlen)?;
                let idx = self.expiring.len() as u32;
                let body = self.map.body_mut(slot.0);
                let nh = Head::read(body);
                record::set_ttl(body, &nh, at, idx);
                self.expiring.push(slot);
                Some(slot)
            }
            (true, false) => {
                let new = self.relayout(slot, h.flags & !TTL, h.vlen)?;
                self.drop_ttl_index(idx);
                Some(new)
            }
        }
    }

    /// Removes `expiring[idx]`, fixing the index of the entry moved into it.
    fn drop_ttl_index(&mut self, idx: u32) {
        let idx = idx as usize;
        self.expiring.swap_remove(idx);
        if let Some(&moved) = self.expiring.get(idx) {
            let body = self.map.body_mut(moved.0);
            let h = Head::read(body);
            let (at, _) = record::ttl(body, &h);
            record::set_ttl(body, &h, at, idx as u32);
        }
    }

    /// Removes live `slot`. Returns its expiry and, when it held a pooled
    /// collection, the collection (to be freed off the core if big); a
    /// string or listpack hash is copied out only when `keep_str`.
    pub fn remove(&mut self, slot: Slot, keep_str: bool) -> Option<(Option<Value>, u64)> {
        if !self.map.is_live(slot.0) {
            return None;
        }
        let body = self.map.body(slot.0);
        let h = Head::read(body);
        let (at, idx) = record::ttl(body, &h);
        let v = &body[h.value()..h.value() + h.vlen];
        let value = if h.flags & COLL != 0 {
            let i = coll_index(v);
            self.colls.remove(i).map(|c| Value::Coll(Box::new(c)))
        } else {
            keep_str.then(|| owned(h.flags, v))
        };
        self.map.remove(slot.0);
        if h.flags & TTL != 0 {
            self.drop_ttl_index(idx);
        }
        Some((value, at))
    }

    /// Every live key and entry, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, &[u8], EntryRef<'_>)> + '_ {
        self.map.iter().map(move |r| {
            let (k, e) = self.decode(Slot(r));
            (Slot(r), k, e)
        })
    }

    /// One step of a cursor scan, as Redis's SCAN takes one: buckets in
    /// `dictScan` order until `count` entries (at least one) were seen or
    /// `10 × count` buckets visited, or the scan is done (cursor 0).
    pub fn scan(
        &self,
        mut cursor: u64,
        count: usize,
        mut f: impl FnMut(Slot, &[u8], EntryRef<'_>),
    ) -> u64 {
        let want = count.max(1);
        let mut visits = want.saturating_mul(10);
        let mut found = 0;
        loop {
            cursor = self.map.scan(cursor, |r| {
                let (k, e) = self.decode(Slot(r));
                f(Slot(r), k, e);
                found += 1;
            });
            visits -= 1;
            if cursor == 0 || found >= want || visits == 0 {
                return cursor;
            }
        }
    }

    /// A live key's slot chosen uniformly at random, after up to `tries`
    /// samples.
    pub fn random(&self, rng: &mut fastrand::Rng, tries: usize) -> Option<Slot> {
        self.map.random(rng, tries).map(Slot)
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.map.clear();
        self.colls.clear();
        self.expiring.clear();
    }
}

/// The value a string or listpack-hash record's bytes `v` stand for.
fn owned(flags: u8, v: &[u8]) -> Value {
    if flags & HASH_PACK != 0 {
        Value::Coll(Box::new(Coll::Hash(Hash::from_pack_bytes(v))))
    } else {
        Value::Str(v.into())
    }
}

/// The record bytes of a collection kept inline ([`Coll::inline`]).
fn inline_bytes(c: &Coll) -> &[u8] {
    match c {
        Coll::Hash(h) => h.pack_bytes().expect("an inline hash is a listpack"),
        _ => unreachable!("only listpack hashes are kept inline"),
    }
}

/// A collection's pool index from its record's 4 value bytes.
fn coll_index(v: &[u8]) -> u32 {
    u32::from_le_bytes(v[..4].try_into().expect("a collection index"))
}
