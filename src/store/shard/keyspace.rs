//! The store half of Redis's keyspace commands on one [`Shard`]: KEYS,
//! SCAN, RANDOMKEY, the two halves of a RENAME/RENAMENX/COPY whose keys may
//! live on different cores, EXPIRETIME, TOUCH, OBJECT IDLETIME and MEMORY
//! USAGE.
//!
//! Each method states how it looks the key up, in Redis 7.0's terms, since
//! that decides the side effects a differential test can see:
//! - a *read* lookup (`lookupKeyRead`) reclaims an expired key and counts a
//!   hit or a miss; a *no-touch read* (`LOOKUP_NOTOUCH`) does the same but is
//!   not a use of the key;
//! - a *write* lookup (`lookupKeyWrite`) reclaims an expired key, counts no
//!   hit or miss, and is a use;
//! - a use restarts the key's idle time and, when recency is tracked, makes
//!   it the most recently used.
//!
//! Nothing here answers OBJECT FREQ: it needs an LFU policy, which a shard
//! does not have, so Redis's reply to it is always its "An LFU maxmemory
//! policy is not selected" error, which the command layer gives.

use super::{access_secs, Eviction, Shard, StoreError};
use crate::map::Slot;
use crate::store::entries::Val;
use crate::store::{entry_cost, glob_match, Type, Value};

/// Random slots RANDOMKEY tries before it walks the arena instead (Redis
/// bounds its own retries at 100 too, in a different case).
const RANDOM_TRIES: usize = 100;

/// A key's absolute expiry (EXPIRETIME / PEXPIRETIME).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// No such key (Redis's -2).
    Missing,
    /// The key never expires (Redis's -1).
    Persistent,
    /// The key expires at this node-clock time, ms; the caller converts to
    /// Unix time for the reply.
    At(u64),
}

/// True when an entry with expiry `at` (0 = none) is dead at `now`.
pub(super) fn expired(at: u64, now: u64) -> bool {
    at != 0 && at <= now
}

impl Shard {
    /// A read lookup: reclaims an expired key, counts a hit or a miss, and
    /// counts as a use when `touch`.
    fn lookup_read(&mut self, key: &[u8], now: u64, touch: bool) -> Option<Slot> {
        let found = self.lookup(key, now);
        match found {
            Some(slot) => {
                self.stats.hits += 1;
                if touch {
                    self.touch(slot, now);
                }
            }
            None => self.stats.misses += 1,
        }
        found
    }

    /// SCAN: one step of a cursor scan. Visits slots from `cursor` until it
    /// has seen `count` keys (at least one) or `10 × count` slots (Redis's
    /// COUNT is this kind of work hint), then filters by `pattern` and
    /// pushes the live matches onto `out`. Returns the cursor to continue
    /// from, 0 when the scan is complete; start with 0.
    ///
    /// A key present for the whole scan is returned at least once, as in
    /// Redis, and more than once only if the table grew meanwhile (the
    /// bucket-order cursor of `map::chains`); one written or deleted
    /// meanwhile may or may not be. Cursors are always below 2^32, so a caller that
    /// merges shards can keep the shard number in the high bits; a cursor
    /// from 2^32 up, or past the end, ends the scan with nothing.
    ///
    /// `pattern` `*` matches every key, the empty one included, as Redis
    /// special-cases it. As in Redis, an expired key that matches is
    /// reclaimed (and counted as expired); one that does not match is left
    /// for the sweeper. No hit or miss is counted and no key is used.
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        now: u64,
        out: &mut Vec<Box<[u8]>>,
    ) -> u64 {
        self.scan_typed(cursor, count, pattern, None, now, out)
    }

    /// [`Shard::scan`] keeping only keys of type `kind` (SCAN's TYPE), when
    /// given. The type is checked after the pattern, as Redis does.
    pub fn scan_typed(
        &mut self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        kind: Option<Type>,
        now: u64,
        out: &mut Vec<Box<[u8]>>,
    ) -> u64 {
        if cursor > u64::from(u32::MAX) {
            return 0;
        }
        let pattern = pattern.filter(|p| *p != b"*");
        let mut dead: Vec<Slot> = Vec::new();
        let next = self.map.scan(cursor, count, |slot, k, e| {
            if pattern.is_some_and(|p| !glob_match(p, k, false)) {
                return;
            }
            if kind.is_some_and(|t| e.value.kind() != t) && !expired(e.expires_at, now) {
                return;
            }
            if expired(e.expires_at, now) {
                dead.push(slot);
            } else {
                out.push(k.into());
            }
        });
        for slot in dead {
            self.delete_slot(slot);
            self.stats.expired += 1;
        }
        next
    }

    /// KEYS: pushes every live key matching `pattern` onto `out`, in no
    /// particular order (`*` matches all keys without running the matcher).
    ///
    /// Expired keys are skipped but not reclaimed, as Redis 7.0's KEYS only
    /// checks `keyIsExpired`; so `len()` and the expired count afterwards are
    /// Redis's. It takes `&mut self` like the other keyspace calls. No hit
    /// or miss is counted and no key is used.
    pub fn keys(&mut self, pattern: &[u8], now: u64, out: &mut Vec<Box<[u8]>>) {
        let all = pattern == b"*";
        let live = self.map.iter().filter(|(_, k, e)| {
            !expired(e.expires_at, now) && (all || glob_match(pattern, k, false))
        });
        out.extend(live.map(|(_, k, _)| Box::from(k)));
    }

    /// RANDOMKEY: a live key chosen at random, `None` if there is none.
    ///
    /// Samples random record slots, every live key being equally likely;
    /// expired keys it lands on are reclaimed, as Redis's `dbRandomKey` does.
    /// After 100 vacant or expired samples it walks the keys in slot order
    /// instead, so it ends even when almost every key is expired. No hit or
    /// miss is counted and the key is not used.
    pub fn random_key(&mut self, now: u64) -> Option<Box<[u8]>> {
        for _ in 0..RANDOM_TRIES {
            let Some(slot) = self.map.random(&mut self.rng, RANDOM_TRIES) else {
                break;
            };
            if let Some(key) = self.sample_slot(slot, now) {
                return Some(key);
            }
        }
        // A walk from a random point, reclaiming the expired keys it meets.
        let slots: Vec<Slot> = self.map.iter().map(|(slot, _, _)| slot).collect();
        let start = self.rng.usize(..slots.len().max(1));
        let (tail, head) = slots.split_at(start.min(slots.len()));
        for &slot in head.iter().chain(tail) {
            if let Some(key) = self.sample_slot(slot, now) {
                return Some(key);
            }
        }
        None
    }

    /// The key at `slot` if it is live; reclaims it if it has expired.
    fn sample_slot(&mut self, slot: Slot, now: u64) -> Option<Box<[u8]>> {
        let (k, e) = self.map.at(slot)?;
        if !expired(e.expires_at, now) {
            return Some(k.into());
        }
        self.delete_slot(slot);
        self.stats.expired += 1;
        None
    }

    /// The source half of a RENAME: removes a live `key` and hands back its
    /// value and absolute expiry (0 = none). A write lookup: an expired key
    /// is reclaimed and reads as absent; no hit or miss is counted.
    pub fn take(&mut self, key: &[u8], now: u64) -> Option<(Value, u64)> {
        let slot = self.lookup(key, now)?;
        let (value, at) = self.remove_slot(slot, true)?;
        Some((value?, at))
    }

    /// The source half of a COPY: a copy of a live `key`'s value and its
    /// absolute expiry (0 = none), the key left in place. A read lookup that
    /// is a use (Redis's COPY reads its source with `lookupKeyRead`): counts
    /// a hit or a miss.
    pub fn peek_entry(&mut self, key: &[u8], now: u64) -> Option<(Value, u64)> {
        let slot = self.lookup_read(key, now, true)?;
        let (_, e) = self.map.at(slot)?;
        Some((e.value.to_value(), e.expires_at))
    }

    /// The destination half of a COPY (or of anything refused when memory
    /// is short): writes `key` with `value` and the absolute expiry
    /// `expires_at` (0 = none; the default TTL does not apply, the entry
    /// keeps the expiry it came with). Returns false, writing nothing, when
    /// a live `key` exists and `!replace`; a replaced key loses its own TTL.
    ///
    /// The destination is looked up for writing: an expired one is reclaimed
    /// and does not count as existing, and a live one refused by `!replace`
    /// still counts as a use, as in Redis. The written key is used at `now`.
    ///
    /// An `expires_at` not after `now` cannot come from Redis's own RENAME
    /// or COPY (the source lookup would have expired the key), but can here
    /// when the two halves run on cores at different times: the key is then
    /// written and at once expired. That returns true, removes a replaced
    /// destination, stores nothing and counts one expired key.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the entry cannot fit under `maxmemory`
    /// without an eviction policy (checked first, like [`Shard::set`]); under
    /// LRU, keys are evicted to make room instead, and a key capacity evicts
    /// as it does for `set`.
    pub fn put(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        replace: bool,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.make_room(entry_cost(key.len(), value.mem()))?;
        Ok(self
            .write_entry(key, value, expires_at, replace, now)
            .is_ok())
    }

    /// The destination half of a RENAME/RENAMENX: as [`Shard::put`], but
    /// never refused for memory, since Redis's RENAME is not a `denyoom`
    /// command (under LRU it still evicts to make room). When a live `key`
    /// exists and `!replace` it writes nothing and hands `value` back as the
    /// error, so the caller can restore the source it took it from.
    pub fn put_moved(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        replace: bool,
        now: u64,
    ) -> Result<(), Value> {
        if self.cfg.eviction == Eviction::Lru {
            // Under LRU `make_room` only ever evicts, so it cannot fail.
            let _ = self.make_room(entry_cost(key.len(), value.mem()));
        }
        self.write_entry(key, value, expires_at, replace, now)
    }

    /// The write shared by [`Shard::put`] and [`Shard::put_moved`], after
    /// their memory checks; `Err(value)` when refused by `!replace`.
    fn write_entry(
        &mut self,
        key: &[u8],
        value: Value,
        expires_at: u64,
        replace: bool,
        now: u64,
    ) -> Result<(), Value> {
        let hash = self.map.hash_one(key);
        let existing = self.lookup_hashed(hash, key, now);
        if let (Some(slot), false) = (existing, replace) {
            self.touch(slot, now);
            return Err(value);
        }
        if expired(expires_at, now) {
            if let Some(slot) = existing {
                self.delete_slot(slot);
            }
            self.stats.expired += 1;
            return Ok(());
        }
        match existing {
            Some(slot) => {
                let (slot, old) = self.replace_value(slot, value, false);
                if let Some(old) = old {
                    self.dispose(old);
                }
                let slot = self.set_expiry(slot, expires_at);
                self.touch(slot, now);
            }
            None => {
                self.insert_new(hash, key, value, expires_at, now);
            }
        }
        Ok(())
    }

    /// TYPE, OBJECT ENCODING and OBJECT REFCOUNT: the live value of `key`,
    /// by a no-touch read (Redis's `LOOKUP_NOTOUCH`): reclaims an expired
    /// key and counts a hit or a miss, but is not a use.
    pub fn inspect(&mut self, key: &[u8], now: u64) -> Option<Val<'_>> {
        let slot = self.lookup_read(key, now, false)?;
        self.map.at(slot).map(|(_, e)| e.value)
    }

    /// The type of a live `key`, without reclaiming, counting or using it:
    /// for a check a command makes before its own lookup.
    pub fn peek_type(&self, key: &[u8], now: u64) -> Option<Type> {
        let (_, e) = self.map.at(self.map.find(key)?)?;
        (!expired(e.expires_at, now)).then(|| e.value.kind())
    }

    /// The type of a live `key`, looked up as [`Shard::inspect`] does.
    pub fn type_of(&mut self, key: &[u8], now: u64) -> Option<Type> {
        self.inspect(key, now).map(Val::kind)
    }

    /// EXPIRETIME/PEXPIRETIME: `key`'s absolute deadline in node-clock ms. A
    /// no-touch read (Redis's `LOOKUP_NOTOUCH`): reclaims an expired key and
    /// counts a hit or a miss, but is not a use.
    pub fn expire_time(&mut self, key: &[u8], now: u64) -> Deadline {
        match self
            .lookup_read(key, now, false)
            .and_then(|s| self.map.at(s))
        {
            None => Deadline::Missing,
            Some((_, e)) if e.expires_at == 0 => Deadline::Persistent,
            Some((_, e)) => Deadline::At(e.expires_at),
        }
    }

    /// TOUCH of one key: whether it exists. A read lookup that is a use
    /// (Redis's TOUCH calls `lookupKeyRead`, so it also counts a hit or a
    /// miss); the value is not read.
    pub fn touch_key(&mut self, key: &[u8], now: u64) -> bool {
        self.lookup_read(key, now, true).is_some()
    }

    /// OBJECT IDLETIME, in ms: how long since `key` was last used, in whole
    /// seconds (Redis's LRU clock ticks once a second; the reply is this
    /// divided by 1000). A no-touch read: reclaims an expired key and counts
    /// a hit or a miss (Redis looks up with `LOOKUP_NOTOUCH`), but is not a
    /// use. `None` if there is no such key.
    pub fn idle_ms(&mut self, key: &[u8], now: u64) -> Option<u64> {
        let slot = self.lookup_read(key, now, false)?;
        let (_, e) = self.map.at(slot)?;
        Some(u64::from(access_secs(now).saturating_sub(e.access)) * 1000)
    }

    /// RESTORE's IDLETIME: make a live `key` look unused for `idle_secs`
    /// (what OBJECT IDLETIME then says). Not a use, and the LRU order is
    /// left alone: eviction still sees the key as just written.
    pub fn set_idle(&mut self, key: &[u8], idle_secs: u64, now: u64) {
        if let Some(slot) = self.map.find(key) {
            let idle = u32::try_from(idle_secs).unwrap_or(u32::MAX);
            self.map
                .set_access(slot, access_secs(now).saturating_sub(idle));
        }
    }

    /// MEMORY USAGE: the bytes `key` is charged against `maxmemory`
    /// ([`entry_cost`]), `None` if there is no live such key. Counts no hit
    /// or miss and is not a use; like Redis's (a bare dictionary find), it
    /// reclaims nothing. Unlike Redis it does not answer for a key whose TTL
    /// has passed but that is not yet reclaimed: when that happens depends
    /// on each server's sweeper, so it is not a difference a client can
    /// count on.
    pub fn memory_usage(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let slot = self.map.find(key)?;
        let (_, e) = self.map.at(slot)?;
        (!expired(e.expires_at, now)).then(|| self.map.cost(slot))
    }
}
