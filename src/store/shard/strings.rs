//! The store half of Redis's string commands beyond GET, SET and INCRBY:
//! APPEND, STRLEN, GETRANGE (and SUBSTR), SETRANGE, GETDEL, GETEX and
//! INCRBYFLOAT, with Redis 7.0.15's side effects.
//!
//! How each looks its key up decides what a differential test can see
//! (the terms of `keyspace.rs`):
//! - STRLEN, GETRANGE, GETDEL and GETEX do a *read* lookup
//!   (`lookupKeyRead`): a hit or a miss is counted and a live key is used;
//! - APPEND, SETRANGE and INCRBYFLOAT do a *write* lookup
//!   (`lookupKeyWrite`): no hit or miss, a live key is used even when the
//!   command then fails.
//!
//! The three writes that can grow memory are `denyoom` in Redis: refused
//! while over `maxmemory`, before the key is looked up, so here the memory
//! check ([`Shard::make_room`]) comes first too, sized from a side-effect-free
//! peek at the current value. That check may evict the key itself (under LRU);
//! the write lookup after it then finds it missing, just as Redis, which
//! evicts before running a command, would.
//!
//! Every write here keeps the key's TTL; a key they create gets the default
//! TTL, if one is set, like any new key.

use super::{Shard, StoreError};
use crate::map::Slot;
use crate::store::float::LongDouble;
use crate::store::{entry_cost, Value};

/// What GETEX does to the key's TTL once it has read the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetExpiry {
    /// Leave it (GETEX with no option).
    Keep,
    /// Expire at this node-clock time, ms (EX, PX, EXAT, PXAT); a time not
    /// after `now` deletes the key after the read, as Redis does for an
    /// EXAT/PXAT in the past.
    At(u64),
    /// Drop it (PERSIST).
    Persist,
}

impl Shard {
    /// The live value of `key`, without reclaiming, counting or touching:
    /// `Ok(None)` if missing, `Err(WrongType)` if it is not a string.
    fn peek(&self, hash: u64, key: &[u8], now: u64) -> Result<Option<&[u8]>, StoreError> {
        let Some((_, e)) = self
            .map
            .find_hashed(hash, key)
            .and_then(|slot| self.map.at(slot))
        else {
            return Ok(None);
        };
        if e.expires_at != 0 && e.expires_at <= now {
            return Ok(None);
        }
        e.value.as_str().map(Some).ok_or(StoreError::WrongType)
    }

    /// The length of `key`'s live string value, without reclaiming,
    /// counting or using it; `None` if it is missing or not a string.
    pub fn peek_len(&self, key: &[u8], now: u64) -> Option<usize> {
        let hash = self.map.hash_one(key);
        self.peek(hash, key, now).ok().flatten().map(<[u8]>::len)
    }

    /// A read lookup (`lookupKeyRead`): reclaims an expired key, counts a
    /// hit or a miss, and uses a live key.
    fn read_slot(&mut self, key: &[u8], now: u64) -> Option<Slot> {
        let found = self.lookup(key, now);
        match found {
            Some(slot) => {
                self.stats.hits += 1;
                self.touch(slot, now);
            }
            None => self.stats.misses += 1,
        }
        found
    }

    fn value_len(&self, slot: Slot) -> usize {
        self.map.at(slot).map_or(0, |(_, e)| e.value.mem())
    }

    /// APPEND: add `tail` to the end of the value, creating the key if it
    /// is missing (even with an empty `tail`, as Redis does). Returns the new
    /// length. A write lookup: no hit or miss, a use of a live key.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the growth cannot fit under `maxmemory`
    /// (checked first); [`StoreError::StringTooLong`] when the result would
    /// pass `max_bulk` (the node's `proto-max-bulk-len`), leaving the value
    /// as it was. A missing key is held to the same limit, which Redis need
    /// not check since no argument can pass it.
    pub fn append(
        &mut self,
        key: &[u8],
        tail: &[u8],
        max_bulk: usize,
        now: u64,
    ) -> Result<usize, StoreError> {
        let hash = self.map.hash_one(key);
        // Another type: nothing grows, and the write lookup below refuses it
        // (Redis refuses for memory before it looks at the type).
        let old = self.peek(hash, key, now).map(|v| v.map(<[u8]>::len));
        let old = old.unwrap_or(Some(usize::MAX));
        let fits = |len: usize| len.checked_add(tail.len()).is_some_and(|t| t <= max_bulk);
        let growth = match old {
            Some(len) if fits(len) => tail.len(),
            None if fits(0) => entry_cost(key.len(), tail.len()),
            _ => 0,
        };
        self.make_room(growth)?;
        match self.lookup_hashed(hash, key, now) {
            Some(slot) => {
                self.touch(slot, now);
                self.str_at(slot)?;
                if !fits(self.value_len(slot)) {
                    return Err(StoreError::StringTooLong);
                }
                Ok(self.edit_value(slot, |v| {
                    v.reserve_exact(tail.len());
                    v.extend_from_slice(tail);
                    v.len()
                }))
            }
            None => {
                if !fits(0) {
                    return Err(StoreError::StringTooLong);
                }
                if old.is_some() {
                    // Making room evicted this very key, and a new entry
                    // costs its overhead too, not just the tail.
                    self.make_room(entry_cost(key.len(), tail.len()))?;
                }
                let at = self.default_expiry(now);
                self.insert_new(hash, key, Value::Str(tail.into()), at, now);
                Ok(tail.len())
            }
        }
    }

    /// STRLEN: the value's length, 0 for a missing key. A read lookup: a
    /// hit or miss, and a use.
    pub fn strlen(&mut self, key: &[u8], now: u64) -> Result<usize, StoreError> {
        Ok(self.get(key, now)?.map_or(0, <[u8]>::len))
    }

    /// GETRANGE (SUBSTR): the bytes from `start` to `end`, both inclusive,
    /// negative counting from the end, clamped to the value as Redis 7.0
    /// clamps them (see [`substr_range`]); empty for a missing key. A read
    /// lookup: a hit or miss, and a use.
    pub fn getrange(
        &mut self,
        key: &[u8],
        start: i64,
        end: i64,
        now: u64,
    ) -> Result<&[u8], StoreError> {
        Ok(match self.get(key, now)? {
            Some(v) => &v[substr_range(v.len(), start, end)],
            None => &[],
        })
    }

    /// SETRANGE: write `bytes` at `offset`, zero-padding the value (or a new
    /// one) up to it, and return the new length. An empty `bytes` changes
    /// nothing and returns the current length (0 for a missing key, which
    /// stays missing), whatever the offset, as in Redis. A write lookup: no
    /// hit or miss, a use of a live key. The cmd layer refuses a negative
    /// offset ("ERR offset is out of range") before calling this.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the growth cannot fit under `maxmemory`
    /// (checked first); [`StoreError::StringTooLong`] when `offset +
    /// bytes.len()` passes `max_bulk`, checked before anything is allocated.
    pub fn setrange(
        &mut self,
        key: &[u8],
        offset: usize,
        bytes: &[u8],
        max_bulk: usize,
        now: u64,
    ) -> Result<usize, StoreError> {
        let hash = self.map.hash_one(key);
        let want = offset
            .checked_add(bytes.len())
            .filter(|&w| w <= max_bulk && !bytes.is_empty());
        // Another type: nothing grows; the write lookup below refuses it.
        let peeked = self.peek(hash, key, now).map(|v| v.map(<[u8]>::len));
        let peeked = peeked.unwrap_or(Some(usize::MAX));
        let growth = match (want, peeked) {
            (None, _) => 0,
            (Some(w), Some(len)) => w.saturating_sub(len),
            (Some(w), None) => entry_cost(key.len(), w),
        };
        self.make_room(growth)?;
        let slot = self.lookup_hashed(hash, key, now);
        if let Some(slot) = slot {
            self.touch(slot, now);
            self.str_at(slot)?;
        }
        if bytes.is_empty() {
            return Ok(slot.map_or(0, |s| self.value_len(s)));
        }
        let want = want.ok_or(StoreError::StringTooLong)?;
        let write = |v: &mut Vec<u8>| {
            if v.len() < want {
                v.reserve_exact(want - v.len());
                v.resize(want, 0);
            }
            v[offset..want].copy_from_slice(bytes);
            v.len()
        };
        match slot {
            Some(slot) => Ok(self.edit_value(slot, write)),
            None => {
                if peeked.is_some() {
                    // As in `append`: making room evicted this very key.
                    self.make_room(entry_cost(key.len(), want))?;
                }
                let mut v = Vec::new();
                write(&mut v);
                let at = self.default_expiry(now);
                self.insert_new(hash, key, Value::Str(v.into()), at, now);
                Ok(want)
            }
        }
    }

    /// GETDEL: remove the key and return its value; `None` if missing. A
    /// read lookup: a hit or a miss.
    pub fn getdel(&mut self, key: &[u8], now: u64) -> Result<Option<Box<[u8]>>, StoreError> {
        let Some(slot) = self.read_slot(key, now) else {
            return Ok(None);
        };
        self.str_at(slot)?;
        Ok(match self.remove_slot(slot, true) {
            Some((Some(Value::Str(s)), _)) => Some(s),
            _ => None,
        })
    }

    /// GETEX: the value, then the TTL changed as `how` says (a time not
    /// after `now` deletes the key, not counted as an expiry, as in Redis);
    /// `None` if missing, changing nothing. A read lookup: a hit or a miss,
    /// and a use.
    pub fn getex(
        &mut self,
        key: &[u8],
        how: GetExpiry,
        now: u64,
    ) -> Result<Option<Box<[u8]>>, StoreError> {
        let Some(slot) = self.read_slot(key, now) else {
            return Ok(None);
        };
        let value: Box<[u8]> = self.str_at(slot)?.into();
        match how {
            GetExpiry::At(at) if at <= now => {
                self.delete_slot(slot);
            }
            GetExpiry::At(at) => {
                self.set_expiry(slot, at);
            }
            GetExpiry::Persist => {
                self.set_expiry(slot, 0);
            }
            GetExpiry::Keep => {}
        }
        Ok(Some(value))
    }

    /// INCRBYFLOAT: add the float text `incr` to the value (a missing key
    /// counts as 0) in x87 extended precision and store and return the sum
    /// as Redis writes it (see [`LongDouble`]): `10.5` plus `0.1` is `10.6`.
    /// Keeps the TTL. A write lookup: no hit or miss, a use of a live key
    /// even when the command fails.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the new text cannot fit under `maxmemory`
    /// (checked first); [`StoreError::NotFloat`] when the value or `incr` is
    /// not a float as Redis reads one; [`StoreError::NanOrInfinity`] when
    /// the sum is not finite. On an error the key is left as it was.
    pub fn incr_by_float(
        &mut self,
        key: &[u8],
        incr: &[u8],
        now: u64,
    ) -> Result<Box<[u8]>, StoreError> {
        let hash = self.map.hash_one(key);
        let peeked = self.peek(hash, key, now);
        // Another type grows nothing; the write lookup below refuses it
        // (Redis refuses for memory before it looks at the type).
        let other_type = peeked.is_err();
        let current = peeked.unwrap_or(None);
        let existed = current.is_some();
        let planned = float_sum(current, incr);
        let growth = match (&planned, current.map(<[u8]>::len)) {
            _ if other_type => 0,
            (Ok(text), Some(len)) => text.len().saturating_sub(len),
            (Ok(text), None) => entry_cost(key.len(), text.len()),
            (Err(_), _) => 0,
        };
        self.make_room(growth)?;
        match self.lookup_hashed(hash, key, now) {
            Some(slot) => {
                self.touch(slot, now);
                self.str_at(slot)?;
                // Making room evicts other keys only, so the value is the
                // one the sum was planned from.
                let text = planned?;
                self.edit_value(slot, |v| *v = text.to_vec());
                Ok(text)
            }
            None => {
                // Gone since the peek: making room evicted it, and Redis,
                // evicting before the command, would have started from 0.
                let text = if existed {
                    float_sum(None, incr)?
                } else {
                    planned?
                };
                let at = self.default_expiry(now);
                self.insert_new(hash, key, Value::Str(text.clone()), at, now);
                Ok(text)
            }
        }
    }
}

/// INCRBYFLOAT's arithmetic on the stored text (`None`: missing) and the
/// increment, in Redis's order: the value is read first.
fn float_sum(current: Option<&[u8]>, incr: &[u8]) -> Result<Box<[u8]>, StoreError> {
    let base = match current {
        Some(v) => LongDouble::parse(v).ok_or(StoreError::NotFloat)?,
        None => LongDouble::ZERO,
    };
    let step = LongDouble::parse(incr).ok_or(StoreError::NotFloat)?;
    let sum = base.checked_add(step).ok_or(StoreError::NanOrInfinity)?;
    Ok(sum.to_human().into_bytes().into_boxed_slice())
}

/// The bytes GETRANGE returns from a value of `len` bytes, as Redis 7.0
/// computes them: both ends negative with `start > end` is empty; negative
/// ends count from the end; then both are clamped into the value (`start`
/// up to 0, `end` down to the last byte), and `start > end` or an empty
/// value is empty.
fn substr_range(len: usize, start: i64, end: i64) -> std::ops::Range<usize> {
    if start < 0 && end < 0 && start > end {
        return 0..0;
    }
    // A value is at most 512 MiB-ish, so `len` fits an i64 with room to add.
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let from_end = |i: i64| if i < 0 { i.saturating_add(n) } else { i };
    let start = from_end(start).max(0);
    let end = from_end(end).max(0).min(n - 1);
    if len == 0 || start > end {
        return 0..0;
    }
    start as usize..end as usize + 1
}

#[cfg(test)]
mod tests;
