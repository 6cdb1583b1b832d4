//! [`Shard`]: the keyspace one core owns.

pub(super) mod keyspace;
pub(super) mod strings;
pub(super) mod typed;

use super::entries::Entries;
use super::lru::Lru;
use super::types::Hash;
use super::{entry_cost, Coll, ShardStats, Value};
use crate::map::Slot;

mod bitkeys;
mod slots;

/// What to do when a write would go past `maxmemory` or `capacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    /// Refuse the write with an OOM error (Redis's `noeviction`).
    NoEviction,
    /// Evict the least recently used keys first (exact LRU, O(1) per access).
    Lru,
}

/// Static settings of a shard. Bounds are per shard: the node divides its
/// totals by the number of cores.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    /// The eviction policy.
    pub eviction: Eviction,
    /// Most keys held; `None` for unbounded.
    pub capacity: Option<usize>,
    /// Most bytes held (see [`entry_cost`]); `None` for unbounded.
    pub maxmemory: Option<usize>,
    /// TTL given to every key written without one (the "ttl" cache type).
    pub default_ttl_ms: Option<u64>,
    /// Seed for the sampling RNG, so sweeps are reproducible in tests.
    pub seed: u64,
    /// When small collections stop using their compact encodings.
    pub encodings: Encodings,
}

/// The sizes up to which a collection keeps its compact encoding, as
/// Redis 7.0's `*-max-listpack-*` and `set-max-intset-entries` settings
/// (same defaults). A collection converts once, when it passes them, and
/// never converts back, as in Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encodings {
    /// `hash-max-listpack-entries`: most fields of a listpack hash.
    pub hash_entries: usize,
    /// `hash-max-listpack-value`: longest field or value of one.
    pub hash_value: usize,
    /// `set-max-intset-entries`: most members of an intset.
    pub set_intset_entries: usize,
    /// `zset-max-listpack-entries`: most members of a listpack sorted set.
    pub zset_entries: usize,
    /// `zset-max-listpack-value`: longest member of one.
    pub zset_value: usize,
}

impl Default for Encodings {
    fn default() -> Self {
        Encodings {
            // Redis 7.0.15 says 512 here (CONFIG GET), not the 128 of its zsets.
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            zset_entries: 128,
            zset_value: 64,
        }
    }
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            eviction: Eviction::NoEviction,
            capacity: None,
            maxmemory: None,
            default_ttl_ms: None,
            seed: 0x5eed,
            encodings: Encodings::default(),
        }
    }
}

/// How a SET treats the key's existing TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetExpiry {
    /// Drop any TTL (plain SET); the default TTL applies if configured.
    Clear,
    /// Keep the current TTL (`KEEPTTL`).
    Keep,
    /// Expire at this time (ms on the node clock).
    At(u64),
}

/// When a SET applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCond {
    /// Always.
    Always,
    /// Only if the key is absent (`NX`).
    IfAbsent,
    /// Only if the key is present (`XX`).
    IfPresent,
}

/// Failures a caller turns into error replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Over `maxmemory` with no eviction policy.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// INCR on a value that is not a 64-bit integer.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// INCR past `i64` bounds.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// APPEND or SETRANGE would make a string longer than `proto-max-bulk-len`.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// INCRBYFLOAT on a value, or by an increment, that is not a float.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// INCRBYFLOAT whose sum is not finite.
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// A command for one type on a key holding another.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
}

/// What a SET did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the value was written (NX/XX may prevent it).
    pub applied: bool,
    /// The previous value, when asked for (SET ... GET).
    pub old: Option<Box<[u8]>>,
}

/// A key's remaining life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// No such key.
    Missing,
    /// The key never expires.
    Persistent,
    /// Milliseconds left.
    Ms(u64),
}

/// Condition flags of EXPIRE (Redis 7's NX/XX/GT/LT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireCond {
    /// Always set.
    Always,
    /// Only if the key has no TTL.
    Nx,
    /// Only if the key has a TTL.
    Xx,
    /// Only if the new expiry is later (no TTL counts as infinite).
    Gt,
    /// Only if the new expiry is sooner (no TTL counts as infinite).
    Lt,
    /// XX and LT together: the key has a TTL and the new one is sooner.
    XxLt,
}

/// The node clock in the whole seconds a record's `access` holds; Redis's LRU
/// clock has the same one-second resolution. The node clock starts at 0,
/// so the stamps start at [`ACCESS_BASE`]: RESTORE's IDLETIME can then
/// date a key up to 194 days before the node started, as Redis's
/// wall-clock LRU can.
pub(crate) fn access_secs(now: u64) -> u32 {
    u32::try_from(now / 1000 + ACCESS_BASE).unwrap_or(u32::MAX)
}

/// Where [`access_secs`] starts: 2^24 s, about 194 days.
pub(crate) const ACCESS_BASE: u64 = 1 << 24;

/// One core's keyspace. All methods take `&mut self`: the shard is owned by
/// its core and never shared, so nothing here locks.
pub struct Shard {
    /// Keys, values, expiries and the TTL index (`entries.rs`).
    map: Entries,
    /// Present only under [`Eviction::Lru`] or a key capacity, so a plain
    /// node pays nothing for recency tracking.
    lru: Option<Lru>,
    /// Bytes the collections hold beyond their pool slots (their running
    /// totals); strings are inside records, which `map` counts.
    used: usize,
    cfg: ShardConfig,
    stats: ShardStats,
    rng: fastrand::Rng,
    /// Running estimate of the TTL left on keys that have one, ms (INFO's
    /// `avg_ttl`), kept by [`Shard::expire_sample`] as Redis keeps it.
    avg_ttl_ms: u64,
    /// Where [`Shard::read`] copies a listpack hash out of its record (a
    /// hash, its buffer reused from read to read).
    scratch: Coll,
}

impl Shard {
    /// An empty shard.
    pub fn new(cfg: ShardConfig) -> Self {
        let tracks_recency = cfg.eviction == Eviction::Lru || cfg.capacity.is_some();
        Shard {
            map: Entries::default(),
            lru: tracks_recency.then(Lru::new),
            used: 0,
            rng: fastrand::Rng::with_seed(cfg.seed),
            cfg,
            stats: ShardStats::default(),
            avg_ttl_ms: 0,
            scratch: Coll::Hash(Hash::new()),
        }
    }

    /// Number of keys (including expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the shard holds no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn expiring_len(&self) -> usize {
        self.map.expiring_len()
    }

    /// Bytes charged against `maxmemory`: what the allocator holds for
    /// the keyspace — record pages, tables, the TTL index, LRU links — plus
    /// what collections hold.
    pub fn used_bytes(&self) -> usize {
        self.entry_bytes() + self.map.index_bytes() + self.lru.as_ref().map_or(0, Lru::heap_bytes)
    }

    /// The keys' own bytes (INFO's `used_memory_dataset`): their records
    /// and what their collections hold.
    pub fn dataset_bytes(&self) -> usize {
        self.entry_bytes()
    }

    /// The part of [`used_bytes`](Self::used_bytes) that is the keys' own:
    /// their records and what their collections hold.
    pub(crate) fn entry_bytes(&self) -> usize {
        self.map.live_bytes() + self.used
    }

    /// The shard's counters.
    pub fn stats(&self) -> ShardStats {
        self.stats
    }

    /// Zero the counters (CONFIG RESETSTAT).
    pub fn reset_stats(&mut self) {
        self.stats = ShardStats::default();
    }

    /// Change the memory bound (CONFIG SET maxmemory): a lower bound than
    /// what is held refuses or evicts on the next write, as in Redis.
    pub fn set_maxmemory(&mut self, bytes: Option<usize>) {
        self.cfg.maxmemory = bytes;
    }

    /// Change the eviction policy (CONFIG SET maxmemory-policy). Switching
    /// to LRU on a shard that tracked no recency builds the list once, from
    /// the keys' last-access seconds (oldest first), so the first evictions
    /// follow the same idle order OBJECT IDLETIME shows.
    pub fn set_eviction(&mut self, eviction: Eviction) {
        self.cfg.eviction = eviction;
        if eviction == Eviction::Lru && self.lru.is_none() {
            let mut slots: Vec<(u32, u32)> = self
                .map
                .iter()
                .map(|(slot, _, e)| (e.access, slot.index()))
                .collect();
            slots.sort_unstable();
            let mut lru = Lru::new();
            for (_, slot) in slots {
                lru.push_front(slot);
            }
            self.lru = Some(lru);
        }
    }

    /// Change the compact-encoding sizes (CONFIG SET hash-max-listpack-entries
    /// and the like): collections created or grown from now on follow them.
    pub fn set_encodings(&mut self, e: Encodings) {
        self.cfg.encodings = e;
    }

    /// The compact-encoding sizes in force.
    pub fn encodings(&self) -> Encodings {
        self.cfg.encodings
    }

    /// The shard's settings.
    pub fn config(&self) -> &ShardConfig {
        &self.cfg
    }

    /// Find a live key, reclaiming it first if its TTL has passed.
    fn lookup(&mut self, key: &[u8], now: u64) -> Option<Slot> {
        let hash = self.map.hash_one(key);
        self.lookup_hashed(hash, key, now)
    }

    /// [`lookup`](Self::lookup) with the key's map hash already computed, so
    /// a write that misses can insert without hashing or searching again.
    fn lookup_hashed(&mut self, hash: u64, key: &[u8], now: u64) -> Option<Slot> {
        let slot = self.map.find_hashed(hash, key)?;
        let at = self.map.expires_at(slot);
        if at != 0 && at <= now {
            self.delete_slot(slot);
            self.stats.expired += 1;
            return None;
        }
        Some(slot)
    }

    /// Count a use of `slot` at `now`: its idle time restarts and, when
    /// recency is tracked, it becomes the most recently used.
    fn touch(&mut self, slot: Slot, now: u64) {
        self.map.set_access(slot, access_secs(now));
        if let Some(lru) = &mut self.lru {
            lru.touch(slot.index());
        }
    }

    /// Removes live `slot`; returns its expiry and value (a string's bytes
    /// only when `keep_str`; a collection always, for [`dispose`](Self::dispose)).
    fn remove_slot(&mut self, slot: Slot, keep_str: bool) -> Option<(Option<Value>, u64)> {
        let (value, at) = self.map.remove(slot, keep_str)?;
        self.used -= value.as_ref().map_or(0, Value::pooled_mem);
        if let Some(lru) = &mut self.lru {
            lru.unlink(slot.index());
        }
        Some((value, at))
    }

    /// Remove `slot` and free its value (lazily, if big).
    fn delete_slot(&mut self, slot: Slot) {
        if let Some((Some(v), _)) = self.remove_slot(slot, false) {
            self.dispose(v);
        }
    }

    /// Tell the LRU list that an entry moved from `old` to `new`.
    fn moved(&mut self, old: Slot, new: Slot) -> Slot {
        if old != new {
            if let Some(lru) = &mut self.lru {
                lru.replace(old.index(), new.index());
            }
        }
        new
    }

    /// Swap the value of live `slot` for `value`, keeping `used` right;
    /// returns the entry's slot (it may move) and the old value when it was
    /// a collection or `keep_old`.
    fn replace_value(&mut self, slot: Slot, value: Value, keep_old: bool) -> (Slot, Option<Value>) {
        self.used += value.pooled_mem();
        let (new, old) = self.map.set_value(slot, value, keep_old).expect(SLAB_ROOM);
        self.used -= old.as_ref().map_or(0, Value::pooled_mem);
        (self.moved(slot, new), old)
    }

    /// Give `slot` the expiry `at` (0 = none); returns its slot (it may move).
    fn set_expiry(&mut self, slot: Slot, at: u64) -> Slot {
        let new = self.map.set_expiry(slot, at).expect(SLAB_ROOM);
        self.moved(slot, new)
    }

    /// Evict (or refuse) so that `incoming` more bytes fit. Called before a
    /// write runs, as Redis does, so a write never pushes past the bound.
    fn make_room(&mut self, incoming: usize) -> Result<(), StoreError> {
        let Some(limit) = self.cfg.maxmemory else {
            return Ok(());
        };
        // A new key also takes an LRU link when recency is tracked.
        let incoming = incoming + self.lru.as_ref().map_or(0, |_| super::lru::LINK_BYTES);
        while self.used_bytes() + incoming > limit {
            match self.cfg.eviction {
                Eviction::NoEviction => {
                    self.stats.oom_rejections += 1;
                    return Err(StoreError::Oom);
                }
                Eviction::Lru => {
                    if !self.evict_one() {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    fn evict_one(&mut self) -> bool {
        let Some(oldest) = self.lru.as_ref().and_then(Lru::oldest) else {
            return false;
        };
        // Only slots of live entries are ever in the list.
        self.delete_slot(Slot(oldest));
        self.stats.evicted += 1;
        true
    }

    /// Insert a new key (known absent, with map hash `hash`) used at `now`,
    /// honouring the key capacity.
    fn insert_new(&mut self, hash: u64, key: &[u8], value: Value, at: u64, now: u64) -> Slot {
        self.admit();
        self.used += value.pooled_mem();
        let slot = self
            .map
            .insert(hash, key, value, access_secs(now), at)
            .expect(SLAB_ROOM);
        self.admitted(slot)
    }

    /// [`insert_new`](Self::insert_new) of a string from borrowed bytes.
    fn insert_new_str(&mut self, hash: u64, key: &[u8], value: &[u8], at: u64, now: u64) -> Slot {
        self.admit();
        let slot = self
            .map
            .insert_str(hash, key, value, access_secs(now), at)
            .expect(SLAB_ROOM);
        self.admitted(slot)
    }

    /// Makes room for one more key under the key capacity.
    fn admit(&mut self) {
        if let Some(cap) = self.cfg.capacity {
            while self.map.len() >= cap && self.evict_one() {}
        }
    }

    /// Files a just-inserted key as the most recently used.
    fn admitted(&mut self, slot: Slot) -> Slot {
        if let Some(lru) = &mut self.lru {
            lru.push_front(slot.index());
        }
        slot
    }

    fn default_expiry(&self, now: u64) -> u64 {
        self.cfg.default_ttl_ms.map_or(0, |t| now + t.max(1))
    }

    /// Let `edit` change the string at a live `slot` (grow it, shrink it,
    /// flip bytes). The caller has checked that the value is a string.
    fn edit_value<R>(&mut self, slot: Slot, edit: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let (new, r) = self.map.edit_str(slot, edit).expect(SLAB_ROOM);
        self.moved(slot, new);
        r
    }

    /// The string at live `slot`: `Err(WrongType)` for another type.
    fn str_at(&self, slot: Slot) -> Result<&[u8], StoreError> {
        self.map.str_at(slot).ok_or(StoreError::WrongType)
    }

    /// GET: the live string, counting a hit or miss and refreshing recency
    /// (Redis counts the hit before it checks the type).
    ///
    /// # Errors
    /// [`StoreError::WrongType`] when the key holds another type.
    pub fn get(&mut self, key: &[u8], now: u64) -> Result<Option<&[u8]>, StoreError> {
        let Some(slot) = self.lookup(key, now) else {
            self.stats.misses += 1;
            return Ok(None);
        };
        self.stats.hits += 1;
        self.touch(slot, now);
        self.str_at(slot).map(Some)
    }

    /// The hash lookups of `key` use (see [`Shard::prefetch`]).
    #[inline]
    pub fn hash_of(&self, key: &[u8]) -> u64 {
        self.map.hash_one(key)
    }

    /// Start loading what lookups of these hashes will touch — bucket, first
    /// node, its key and value bytes — for all of them at once, so that a pipeline's
    /// cache misses overlap (see `HashMap::prefetch_bucket`). A hint only:
    /// it changes nothing and costs a few loads if the keys are cached.
    pub fn prefetch(&self, hashes: &[u64]) {
        for depth in 0..2 {
            for &h in hashes {
                self.map.prefetch(h, depth);
            }
        }
        // A string's key and value are in the node's record: loading the
        // node is all there is.
    }

    /// EXISTS: like GET but without touching counters or recency (Redis
    /// looks the key up with `LOOKUP_NOTOUCH`).
    pub fn exists(&mut self, key: &[u8], now: u64) -> bool {
        self.lookup(key, now).is_some()
    }

    /// SET. Returns whether it applied and the previous value when `want_old`.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the value cannot fit under `maxmemory`.
    pub fn set(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expiry: SetExpiry,
        cond: SetCond,
        want_old: bool,
        now: u64,
    ) -> Result<SetOutcome, StoreError> {
        // Borrowed: the record is the only copy a SET makes.
        let value = value.as_ref();
        self.make_room(entry_cost(key.as_ref().len(), value.len()))?;
        let hash = self.map.hash_one(key.as_ref());
        let existing = self.lookup_hashed(hash, key.as_ref(), now);
        // SET ... GET reads the old value first and fails on another type
        // before anything is written, as Redis's `getGenericCommand` does.
        if let (true, Some(slot)) = (want_old, existing) {
            self.str_at(slot)?;
        }
        let applies = match cond {
            SetCond::Always => true,
            SetCond::IfAbsent => existing.is_none(),
            SetCond::IfPresent => existing.is_some(),
        };
        if !applies {
            // Redis looks the key up for writing before checking NX/XX,
            // so a refused SET on a live key still counts as a use.
            if let Some(slot) = existing {
                self.touch(slot, now);
            }
            let old = match (want_old, existing) {
                (true, Some(slot)) => Some(self.str_at(slot)?.into()),
                _ => None,
            };
            return Ok(SetOutcome {
                applied: false,
                old,
            });
        }
        let at = match expiry {
            SetExpiry::Clear => self.default_expiry(now),
            SetExpiry::At(t) => t,
            SetExpiry::Keep => existing
                .and_then(|s| self.map.at(s))
                .map_or_else(|| self.default_expiry(now), |(_, e)| e.expires_at),
        };
        match existing {
            Some(slot) => {
                let (new, old) = self.map.set_str(slot, value, want_old).expect(SLAB_ROOM);
                self.used -= old.as_ref().map_or(0, Value::pooled_mem);
                let slot = self.moved(slot, new);
                let slot = self.set_expiry(slot, at);
                self.touch(slot, now);
                let old = match old {
                    Some(Value::Str(s)) => Some(s),
                    Some(other) => {
                        self.dispose(other);
                        None
                    }
                    None => None,
                };
                Ok(SetOutcome { applied: true, old })
            }
            None => {
                self.insert_new_str(hash, key.as_ref(), value, at, now);
                Ok(SetOutcome {
                    applied: true,
                    old: None,
                })
            }
        }
    }

    /// DEL of one key: whether it existed.
    pub fn del(&mut self, key: &[u8], now: u64) -> bool {
        match self
            .lookup(key, now)
            .and_then(|slot| self.remove_slot(slot, false))
        {
            Some((v, _)) => {
                if let Some(v) = v {
                    self.dispose(v);
                }
                true
            }
            None => false,
        }
    }

    /// Free a value taken out of the shard: a big collection on the free
    /// thread ([`lazyfree`](crate::store::lazyfree)), anything else here.
    fn dispose(&mut self, value: Value) {
        if let Value::Coll(c) = value {
            if c.len() >= crate::store::lazyfree::THRESHOLD {
                crate::store::lazyfree::free_later(c);
            }
        }
    }

    /// INCRBY: add `delta` to the integer value (missing counts as 0); keeps the TTL.
    ///
    /// # Errors
    /// [`StoreError::NotInteger`], [`StoreError::Overflow`], [`StoreError::Oom`].
    pub fn incr_by(&mut self, key: &[u8], delta: i64, now: u64) -> Result<i64, StoreError> {
        // An i64 takes at most 20 bytes; charging that up front is simpler
        // than computing the exact growth and never under-counts.
        self.make_room(entry_cost(key.len(), 20))?;
        let hash = self.map.hash_one(key);
        let existing = self.lookup_hashed(hash, key, now);
        // A use even if the value turns out not to be an integer (Redis
        // looks the key up for writing first).
        if let Some(slot) = existing {
            self.touch(slot, now);
        }
        let current = match existing {
            Some(slot) => parse_i64(self.str_at(slot)?).ok_or(StoreError::NotInteger)?,
            None => 0,
        };
        let new = current.checked_add(delta).ok_or(StoreError::Overflow)?;
        let mut digits = itoa::Buffer::new();
        let text = digits.format(new).as_bytes();
        match existing {
            // A string, checked above: its record takes the digits in place.
            Some(slot) => {
                let (moved, _) = self.map.set_str(slot, text, false).expect(SLAB_ROOM);
                self.moved(slot, moved);
            }
            None => {
                let at = self.default_expiry(now);
                self.insert_new_str(hash, key, text, at, now);
            }
        }
        Ok(new)
    }

    /// EXPIRE/PEXPIRE with an absolute time; a time not after `now` deletes
    /// the key (as Redis does). Returns whether the TTL was set. A use of
    /// a live key, even when the condition refuses (Redis looks it up for
    /// writing first).
    pub fn expire_at(&mut self, key: &[u8], at: u64, cond: ExpireCond, now: u64) -> bool {
        let Some(slot) = self.lookup(key, now) else {
            return false;
        };
        self.touch(slot, now);
        let Some((_, e)) = self.map.at(slot) else {
            return false;
        };
        let current = e.expires_at;
        let ok = match cond {
            ExpireCond::Always => true,
            ExpireCond::Nx => current == 0,
            ExpireCond::Xx => current != 0,
            ExpireCond::Gt => current != 0 && at > current,
            ExpireCond::Lt => current == 0 || at < current,
            ExpireCond::XxLt => current != 0 && at < current,
        };
        if !ok {
            return false;
        }
        if at <= now {
            self.delete_slot(slot);
            return true;
        }
        self.set_expiry(slot, at);
        true
    }

    /// TTL/PTTL: not a use (Redis looks the key up with `LOOKUP_NOTOUCH`).
    pub fn ttl(&mut self, key: &[u8], now: u64) -> Ttl {
        match self.lookup(key, now).and_then(|s| self.map.at(s)) {
            None => Ttl::Missing,
            Some((_, e)) if e.expires_at == 0 => Ttl::Persistent,
            Some((_, e)) => Ttl::Ms(e.expires_at - now),
        }
    }

    /// PERSIST: drop the TTL; whether there was one. A use of a live key,
    /// TTL or not, as in Redis.
    pub fn persist(&mut self, key: &[u8], now: u64) -> bool {
        let Some(slot) = self.lookup(key, now) else {
            return false;
        };
        self.touch(slot, now);
        let had = self.map.at(slot).is_some_and(|(_, e)| e.expires_at != 0);
        if had {
            self.set_expiry(slot, 0);
        }
        had
    }

    /// The estimated TTL left on keys that have one, ms; 0 before the first
    /// sample or when no key has a TTL (Redis's `avg_ttl`).
    pub fn avg_ttl_ms(&self) -> u64 {
        self.avg_ttl_ms
    }

    /// FLUSHALL on this shard.
    pub fn flush(&mut self) {
        // Every entry is freed off the core (a FLUSHALL of millions of keys
        // would stall it for as long); a small shard is not worth a hop.
        if self.map.len() >= crate::store::lazyfree::THRESHOLD {
            crate::store::lazyfree::free_later(std::mem::take(&mut self.map));
        } else {
            self.map.clear();
        }
        self.avg_ttl_ms = 0;
        if let Some(lru) = &mut self.lru {
            lru.clear();
        }
        self.used = 0;
    }

    /// One round of the active expiry sweep: check up to `samples` random
    /// keys that have a TTL and reclaim the expired ones. Returns
    /// `(checked, expired)` so the caller can decide to go again (Redis
    /// repeats while more than a quarter of a sample was expired).
    ///
    /// Each round also updates the `avg_ttl` estimate exactly as Redis's
    /// `activeExpireCycle` does: the mean TTL left on the sampled keys not
    /// yet expired, folded in with a weight of 2% (the first sample sets
    /// it), integer arithmetic included; no key with a TTL resets it to 0.
    pub fn expire_sample(&mut self, samples: usize, now: u64) -> (usize, usize) {
        if self.map.expiring_len() == 0 {
            self.avg_ttl_ms = 0;
            return (0, 0);
        }
        let mut checked = 0;
        let mut expired = 0;
        let (mut ttl_sum, mut ttl_samples) = (0u64, 0u64);
        while checked < samples && self.map.expiring_len() > 0 {
            checked += 1;
            let slot = self
                .map
                .expiring_at(self.rng.usize(..self.map.expiring_len()));
            let Some(at) = self.map.at(slot).map(|(_, e)| e.expires_at) else {
                continue;
            };
            if at <= now {
                self.delete_slot(slot);
                self.stats.expired += 1;
                expired += 1;
            } else {
                ttl_sum += at - now;
                ttl_samples += 1;
            }
        }
        if let Some(avg) = ttl_sum.checked_div(ttl_samples) {
            if self.avg_ttl_ms == 0 {
                self.avg_ttl_ms = avg;
            }
            self.avg_ttl_ms = (self.avg_ttl_ms / 50) * 49 + avg / 50;
        }
        (checked, expired)
    }
}

/// Why a full slab is not an error reply: it takes 2^26 records in each of
/// 55 size classes of one shard, far more than memory holds.
const SLAB_ROOM: &str = "the slab has room (2^26 records per size class)";

/// Parse a value as Redis's `string2ll` would: optional `-`, digits, no
/// leading zeros or `+`, no blanks, fits in `i64`.
pub fn parse_i64(v: &[u8]) -> Option<i64> {
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let s = std::str::from_utf8(v).ok()?;
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || s == "-0"
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod keyspace_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
