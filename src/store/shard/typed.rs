//! Typed access to the collection a key holds, for every collection
//! command: find the key, refuse another type with WRONGTYPE, create it
//! when a write needs it, keep the memory total in step with what the
//! command changed, and delete the key once its collection is empty
//! (Redis never keeps an empty hash, list, set or sorted set).
//!
//! The lookups follow Redis 7.0 (see `keyspace.rs` for the terms): a read
//! (`lookupKeyRead`) counts a hit or a miss and is a use; a write
//! (`lookupKeyWrite`) counts neither and is a use. Both check the type only
//! after the lookup, so a key of another type is still counted and used.

use super::{Shard, StoreError, SLAB_ROOM};
use crate::map::Slot;
use crate::store::types::Hash;
use crate::store::{entry_cost, Coll, Type, Typed, Val, Value};

/// How a collection write treats memory and a missing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    /// Bytes the write may add, for the `maxmemory` check made before it
    /// runs (Redis's `denyoom` commands), or `None` for a write that cannot
    /// grow memory (HDEL, LPOP), which is never refused for it.
    pub grows: Option<usize>,
    /// Create the key, empty, when it is missing (HSET, LPUSH); otherwise a
    /// missing key is left missing and the write does not run (LPUSHX, a
    /// ZADD with XX).
    pub create: bool,
}

impl Write {
    /// A write that may add `bytes` and creates a missing key.
    pub fn grow(bytes: usize) -> Write {
        Write {
            grows: Some(bytes),
            create: true,
        }
    }

    /// A write that may add `bytes` to an existing key only.
    pub fn grow_existing(bytes: usize) -> Write {
        Write {
            grows: Some(bytes),
            create: false,
        }
    }

    /// A write that only removes or reorders (never refused for memory,
    /// never creates).
    pub fn shrink() -> Write {
        Write {
            grows: None,
            create: false,
        }
    }
}

impl Shard {
    /// A read of the `T` at `key`: `Ok(None)` when there is no live key.
    ///
    /// # Errors
    /// [`StoreError::WrongType`] when `key` holds another type.
    pub fn read<T: Typed>(&mut self, key: &[u8], now: u64) -> Result<Option<&T>, StoreError> {
        let Some(slot) = self.lookup(key, now) else {
            self.stats.misses += 1;
            return Ok(None);
        };
        self.stats.hits += 1;
        self.touch(slot, now);
        match self.map.at(slot).map(|(_, e)| e.value) {
            Some(Val::Coll(c)) => T::of(c).map(Some).ok_or(StoreError::WrongType),
            Some(Val::HashPack(p)) if T::TYPE == Type::Hash => {
                // A record's listpack is read through a copy in a buffer
                // the shard keeps: the entries are contiguous and small
                // (the encoding's limits), so this is one short memcpy.
                let Coll::Hash(h) = &mut self.scratch else {
                    unreachable!("the scratch collection is a hash")
                };
                h.load_pack_bytes(p);
                Ok(T::of(&self.scratch))
            }
            _ => Err(StoreError::WrongType),
        }
    }

    /// A write to the `T` at `key`: runs `f` on it (on a new empty one when
    /// the key is missing and `how.create`) and returns what `f` returned,
    /// or `Ok(None)` when the key is missing and not created. Afterwards
    /// the key's charge is the collection's new size, and a collection left
    /// empty deletes the key.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when `how.grows` does not fit under `maxmemory`
    /// (checked first, before the lookup, as Redis refuses `denyoom`
    /// commands); [`StoreError::WrongType`] when `key` holds another type.
    pub fn modify<T: Typed, R>(
        &mut self,
        key: &[u8],
        how: Write,
        now: u64,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<Option<R>, StoreError> {
        if let Some(bytes) = how.grows {
            self.make_room(bytes)?;
        }
        let hash = self.map.hash_one(key);
        let slot = match self.lookup_hashed(hash, key, now) {
            Some(slot) => {
                self.touch(slot, now);
                match self.map.at(slot).map(|(_, e)| e.value) {
                    Some(Val::Coll(c)) if T::of(c).is_some() => slot,
                    Some(Val::HashPack(_)) if T::TYPE == Type::Hash => slot,
                    _ => return Err(StoreError::WrongType),
                }
            }
            None if how.create => {
                let at = self.default_expiry(now);
                let empty = Value::Coll(Box::new(T::empty().wrap()));
                self.insert_new(hash, key, empty, at, now)
            }
            None => return Ok(None),
        };
        if self.map.hash_pack_at(slot).is_some() {
            return Ok(Some(self.modify_hash_pack(slot, f)));
        }
        let Some(c) = self.map.coll_mut(slot) else {
            unreachable!("checked above")
        };
        let before = c.mem();
        let Some(t) = T::of_mut(c) else {
            unreachable!("checked above")
        };
        let r = f(t);
        let (after, empty) = (c.mem(), c.is_empty());
        self.used = self.used - before + after;
        if empty {
            self.delete_slot(slot);
        }
        Ok(Some(r))
    }

    /// [`modify`](Self::modify) of the listpack hash that live `slot`'s
    /// record holds: `f` runs on a copy, which goes back into the record
    /// (moving it when its size class changes), into the pool if `f` made
    /// it a hashtable, or nowhere if `f` emptied it. The record's bytes are
    /// counted with the records, so `used` changes only when it moves to
    /// the pool.
    fn modify_hash_pack<T: Typed, R>(&mut self, slot: Slot, f: impl FnOnce(&mut T) -> R) -> R {
        // The copy is made in the scratch buffer, so a write allocates
        // nothing unless the hash outgrows every size it had before.
        let mut c = std::mem::replace(&mut self.scratch, Coll::Hash(Hash::new()));
        let Coll::Hash(h) = &mut c else {
            unreachable!("the scratch collection is a hash")
        };
        h.load_pack_bytes(self.map.hash_pack_at(slot).expect("a listpack hash"));
        let r = f(T::of_mut(&mut c).expect("the caller checked the type"));
        match &c {
            Coll::Hash(h) if h.is_empty() => self.delete_slot(slot),
            Coll::Hash(h) if h.is_compact() => {
                let p = h.pack_bytes().expect("a listpack");
                let new = self.map.set_hash_pack(slot, p).expect(SLAB_ROOM);
                self.moved(slot, new);
            }
            _ => {
                // It became a hashtable: it moves to the pool, and the
                // scratch buffer stays the fresh one.
                self.replace_value(slot, Value::Coll(Box::new(c)), false);
                return r;
            }
        }
        self.scratch = c;
        r
    }

    /// The destination of a `…STORE` command (SINTERSTORE, ZUNIONSTORE,
    /// LMOVE's target when new): `key` becomes `value` whatever it held,
    /// with no TTL (the default TTL applies), or is deleted when `value` is
    /// empty, as Redis's `setKey`/`dbDelete` do. Returns whether a key was
    /// there before, so the caller can tell WATCH of a change.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the new value does not fit under
    /// `maxmemory`; nothing changes then.
    pub fn store<T: Typed>(&mut self, key: &[u8], value: T, now: u64) -> Result<bool, StoreError> {
        let value = Value::Coll(Box::new(value.wrap()));
        let empty = matches!(&value, Value::Coll(c) if c.is_empty());
        self.make_room(if empty {
            0
        } else {
            entry_cost(key.len(), value.mem())
        })?;
        let hash = self.map.hash_one(key);
        let existing = self.lookup_hashed(hash, key, now);
        if empty {
            if let Some(slot) = existing {
                self.delete_slot(slot);
            }
            return Ok(existing.is_some());
        }
        let at = self.default_expiry(now);
        match existing {
            Some(slot) => {
                let (slot, old) = self.replace_value(slot, value, false);
                let slot = self.set_expiry(slot, at);
                self.touch(slot, now);
                if let Some(old) = old {
                    self.dispose(old);
                }
                Ok(true)
            }
            None => {
                self.insert_new(hash, key, value, at, now);
                Ok(false)
            }
        }
    }
}
