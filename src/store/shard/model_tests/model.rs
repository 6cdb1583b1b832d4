//! The reference model: the keyspace as a `std` HashMap of values with
//! absolute expiry times and last-use seconds, a recency list (oldest first)
//! and the byte account of [`entry_cost`], written from the shard's documented
//! rules (Redis 7.0's lookups: read, no-touch read, write) rather than from
//! its code.
//!
//! It keeps dead keys until something reclaims them, as the shard does:
//! they still take a capacity slot, bytes and a place in the LRU order.

use super::{expire_cond, name, set_cond, Exp, Op, MAX_BULK};
use crate::store::{entry_cost, Deadline, Eviction, ShardConfig, ShardStats, StoreError, Ttl};
use crate::store::{SetCond, Shard};
use proptest::prelude::*;
use std::collections::HashMap as StdMap;

/// One key's state.
pub(super) struct MEntry {
    pub value: Vec<u8>,
    /// Absolute expiry, ms; 0 for none.
    pub at: u64,
    /// Last use, whole seconds of the clock.
    pub access: u32,
}

/// The model keyspace.
pub(super) struct Model {
    pub entries: StdMap<Vec<u8>, MEntry>,
    /// Recency, least recently used first; empty when recency is not tracked.
    pub lru: Vec<Vec<u8>>,
    pub stats: ShardStats,
    /// Evictions the shard made in the current op not yet matched by the
    /// model's own.
    pub pending: usize,
    /// The current op found the LRU empty while still over maxmemory.
    pub emptied: bool,
    cfg: ShardConfig,
    tracks: bool,
}

/// Redis's rule: a key with expiry `at` is gone once `now >= at`.
fn dead(at: u64, now: u64) -> bool {
    at != 0 && now >= at
}

fn secs(now: u64) -> u32 {
    u32::try_from(now / 1000 + crate::store::shard::ACCESS_BASE).unwrap_or(u32::MAX)
}

/// Redis's `string2ll`: exactly the canonical decimal form of an `i64`.
fn int(v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let n: i64 = s.parse().ok()?;
    (n.to_string() == s).then_some(n)
}

type Reply = Result<String, TestCaseError>;

fn out(v: impl std::fmt::Debug) -> Reply {
    Ok(format!("{v:?}"))
}

impl Model {
    pub fn new(cfg: ShardConfig) -> Self {
        Model {
            entries: StdMap::new(),
            lru: Vec::new(),
            stats: ShardStats::default(),
            pending: 0,
            emptied: false,
            tracks: cfg.eviction == Eviction::Lru || cfg.capacity.is_some(),
            cfg,
        }
    }

    pub fn used(&self) -> usize {
        self.entries
            .iter()
            .map(|(k, e)| {
                crate::store::record::cost(
                    crate::store::record::ttl_flag(e.at),
                    k.len(),
                    e.value.len(),
                )
            })
            .sum()
    }

    /// The live entry, without side effects.
    fn live(&self, k: &[u8], now: u64) -> Option<&MEntry> {
        self.entries.get(k).filter(|e| !dead(e.at, now))
    }

    /// Finds a key, reclaiming it (an expiry) if dead.
    fn lookup(&mut self, k: &[u8], now: u64) -> bool {
        match self.entries.get(k) {
            None => false,
            Some(e) if dead(e.at, now) => {
                self.remove(k);
                self.stats.expired += 1;
                false
            }
            Some(_) => true,
        }
    }

    /// A read lookup: counts a hit or a miss; a use when `touch`.
    fn read(&mut self, k: &[u8], now: u64, touch: bool) -> bool {
        let found = self.lookup(k, now);
        if found {
            self.stats.hits += 1;
            if touch {
                self.touch(k, now);
            }
        } else {
            self.stats.misses += 1;
        }
        found
    }

    fn touch(&mut self, k: &[u8], now: u64) {
        if let Some(e) = self.entries.get_mut(k) {
            e.access = secs(now);
        }
        if self.tracks {
            self.lru.retain(|x| x != k);
            self.lru.push(k.to_vec());
        }
    }

    fn remove(&mut self, k: &[u8]) -> Option<MEntry> {
        let e = self.entries.remove(k)?;
        self.lru.retain(|x| x != k);
        Some(e)
    }

    fn entry(&mut self, k: &[u8]) -> &mut MEntry {
        self.entries.get_mut(k).expect("live key")
    }

    fn evict(&mut self) -> bool {
        if self.lru.is_empty() {
            return false;
        }
        let k = self.lru.remove(0);
        self.entries.remove(&k);
        self.stats.evicted += 1;
        self.pending = self.pending.saturating_sub(1);
        true
    }

    /// The memory check before a write of `incoming` more bytes, with the
    /// shard's table overhead `over`. Under LRU it evicts no more keys than
    /// the shard did (see the module docs of `model_tests`).
    fn make_room(&mut self, incoming: usize, over: usize) -> Result<(), StoreError> {
        let Some(limit) = self.cfg.maxmemory else {
            return Ok(());
        };
        // The shard charges a new key's LRU link too when it tracks recency.
        let tracks = self.cfg.eviction == Eviction::Lru || self.cfg.capacity.is_some();
        let incoming = incoming
            + if tracks {
                crate::store::lru::LINK_BYTES
            } else {
                0
            };
        let over_limit = |m: &Model| over + m.used() + incoming > limit;
        match self.cfg.eviction {
            Eviction::NoEviction if over_limit(self) => {
                self.stats.oom_rejections += 1;
                Err(StoreError::Oom)
            }
            Eviction::NoEviction => Ok(()),
            Eviction::Lru => {
                while over_limit(self) && self.pending > 0 && self.evict() {}
                if over_limit(self) && self.lru.is_empty() {
                    self.emptied = true;
                }
                Ok(())
            }
        }
    }

    fn default_expiry(&self, now: u64) -> u64 {
        self.cfg.default_ttl_ms.map_or(0, |t| now + t.max(1))
    }

    fn insert_new(&mut self, k: &[u8], value: Vec<u8>, at: u64, now: u64) {
        if let Some(cap) = self.cfg.capacity {
            while self.entries.len() >= cap && self.evict() {}
        }
        let access = secs(now);
        self.entries
            .insert(k.to_vec(), MEntry { value, at, access });
        if self.tracks {
            self.lru.push(k.to_vec());
        }
    }

    /// Writes `value` as RENAME's and COPY's destination half do.
    fn write_entry(
        &mut self,
        k: &[u8],
        value: Vec<u8>,
        at: u64,
        replace: bool,
        now: u64,
    ) -> Result<(), Vec<u8>> {
        let existing = self.lookup(k, now);
        if existing && !replace {
            self.touch(k, now);
            return Err(value);
        }
        if dead(at, now) {
            self.remove(k);
            self.stats.expired += 1;
            return Ok(());
        }
        if existing {
            let e = self.entry(k);
            e.value = value;
            e.at = at;
            self.touch(k, now);
        } else {
            self.insert_new(k, value, at, now);
        }
        Ok(())
    }

    /// Runs `op`; `over` is the shard's overhead before it, `shard` the
    /// shard after it (read only to learn which keys a random sweep took).
    pub fn run(&mut self, op: &Op, now: u64, over: usize, shard: &Shard) -> Reply {
        self.emptied = false;
        match op {
            Op::Set {
                k,
                v,
                exp,
                cond,
                want_old,
            } => {
                let k = &name(*k);
                out(self.set(k, v, exp, set_cond(*cond), *want_old, now, over))
            }
            Op::Get(k) => {
                let k = &name(*k);
                let found = self.read(k, now, true);
                out(found.then(|| self.entries[k].value.clone()))
            }
            Op::Exists(k) => out(self.lookup(&name(*k), now)),
            Op::Del(k) => {
                let k = &name(*k);
                out(self.lookup(k, now) && self.remove(k).is_some())
            }
            Op::Ttl(k) => {
                let k = &name(*k);
                out(match self.lookup(k, now) {
                    false => Ttl::Missing,
                    true if self.entries[k].at == 0 => Ttl::Persistent,
                    true => Ttl::Ms(self.entries[k].at - now),
                })
            }
            Op::Persist(k) => {
                let k = &name(*k);
                if !self.lookup(k, now) {
                    return out(false);
                }
                self.touch(k, now);
                let e = self.entry(k);
                let had = e.at != 0;
                e.at = 0;
                out(had)
            }
            Op::ExpireAt { k, d, cond } => {
                let (k, at) = (&name(*k), now.saturating_add_signed(*d));
                out(self.expire_at(k, at, expire_cond(*cond), now))
            }
            Op::Incr { k, by } => out(self.incr(&name(*k), *by, now, over)),
            Op::Append { k, tail } => out(self.append(&name(*k), tail, now, over)),
            Op::SetRange { k, off, bytes } => out(self.setrange(&name(*k), *off, bytes, now, over)),
            Op::GetDel(k) => {
                let k = &name(*k);
                let found = self.read(k, now, true);
                out(found.then(|| self.remove(k).expect("live").value))
            }
            Op::GetEx { k, how, d } => {
                let k = &name(*k);
                if !self.read(k, now, true) {
                    return out(None::<Vec<u8>>);
                }
                let value = self.entries[k].value.clone();
                match how {
                    0 => {}
                    1 => self.entry(k).at = 0,
                    _ if now + d - 3 <= now => {
                        self.remove(k);
                    }
                    _ => self.entry(k).at = now + d - 3,
                }
                out(Some(value))
            }
            Op::Take(k) => {
                let k = &name(*k);
                let found = self.lookup(k, now);
                out(found
                    .then(|| self.remove(k).map(|e| (e.value, e.at)))
                    .flatten())
            }
            Op::Put {
                k,
                v,
                d,
                replace,
                moved,
            } => {
                let k = &name(*k);
                let at = d.map_or(0, |d| now + d - 3);
                let cost = entry_cost(k.len(), v.len());
                if *moved {
                    if self.cfg.eviction == Eviction::Lru {
                        let _ = self.make_room(cost, over);
                    }
                    out(self.write_entry(k, v.clone(), at, *replace, now))
                } else {
                    out(self
                        .make_room(cost, over)
                        .map(|()| self.write_entry(k, v.clone(), at, *replace, now).is_ok()))
                }
            }
            Op::Touch(k) => out(self.read(&name(*k), now, true)),
            Op::Idle(k) => {
                let k = &name(*k);
                let found = self.read(k, now, false);
                let idle = |e: &MEntry| u64::from(secs(now).saturating_sub(e.access)) * 1000;
                out(found.then(|| idle(&self.entries[k])))
            }
            Op::ExpireTime(k) => {
                let k = &name(*k);
                out(match self.read(k, now, false) {
                    false => Deadline::Missing,
                    true if self.entries[k].at == 0 => Deadline::Persistent,
                    true => Deadline::At(self.entries[k].at),
                })
            }
            Op::Advance(_) => Ok(String::new()),
            Op::Sweep(_) => {
                let gone: Vec<Vec<u8>> = self
                    .entries
                    .keys()
                    .filter(|k| shard.map.find(&k[..]).is_none())
                    .cloned()
                    .collect();
                for k in &gone {
                    let at = self.entries[k].at;
                    prop_assert!(dead(at, now), "sweep took live {:?} (at {})", k, at);
                    self.remove(k);
                    self.stats.expired += 1;
                }
                out((true, gone.len()))
            }
            Op::Flush => {
                self.entries.clear();
                self.lru.clear();
                Ok(String::new())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn set(
        &mut self,
        k: &[u8],
        v: &[u8],
        exp: &Exp,
        cond: SetCond,
        want_old: bool,
        now: u64,
        over: usize,
    ) -> Result<(bool, Option<Vec<u8>>), StoreError> {
        self.make_room(entry_cost(k.len(), v.len()), over)?;
        let existing = self.lookup(k, now);
        let applies = match cond {
            SetCond::Always => true,
            SetCond::IfAbsent => !existing,
            SetCond::IfPresent => existing,
        };
        if !applies {
            if existing {
                self.touch(k, now);
            }
            let old = (existing && want_old).then(|| self.entries[k].value.clone());
            return Ok((false, old));
        }
        let at = match exp {
            Exp::Clear => self.default_expiry(now),
            Exp::In(d) => now + d,
            Exp::Keep if existing => self.entries[k].at,
            Exp::Keep => self.default_expiry(now),
        };
        if existing {
            let e = self.entry(k);
            let old = std::mem::replace(&mut e.value, v.to_vec());
            e.at = at;
            self.touch(k, now);
            Ok((true, want_old.then_some(old)))
        } else {
            self.insert_new(k, v.to_vec(), at, now);
            Ok((true, None))
        }
    }

    fn expire_at(&mut self, k: &[u8], at: u64, cond: crate::store::ExpireCond, now: u64) -> bool {
        use crate::store::ExpireCond::*;
        if !self.lookup(k, now) {
            return false;
        }
        self.touch(k, now);
        let cur = self.entries[k].at;
        let ok = match cond {
            Always => true,
            Nx => cur == 0,
            Xx => cur != 0,
            Gt => cur != 0 && at > cur,
            Lt => cur == 0 || at < cur,
            XxLt => cur != 0 && at < cur,
        };
        if ok && at <= now {
            self.remove(k);
        } else if ok {
            self.entry(k).at = at;
        }
        ok
    }

    fn incr(&mut self, k: &[u8], by: i64, now: u64, over: usize) -> Result<i64, StoreError> {
        self.make_room(entry_cost(k.len(), 20), over)?;
        let existing = self.lookup(k, now);
        if existing {
            self.touch(k, now);
        }
        let cur = match existing {
            true => int(&self.entries[k].value).ok_or(StoreError::NotInteger)?,
            false => 0,
        };
        let new = cur.checked_add(by).ok_or(StoreError::Overflow)?;
        let text = new.to_string().into_bytes();
        if existing {
            self.entry(k).value = text;
        } else {
            let at = self.default_expiry(now);
            self.insert_new(k, text, at, now);
        }
        Ok(new)
    }

    fn append(
        &mut self,
        k: &[u8],
        tail: &[u8],
        now: u64,
        over: usize,
    ) -> Result<usize, StoreError> {
        let fits = |len: usize| len + tail.len() <= MAX_BULK;
        let peeked = self.live(k, now).map(|e| e.value.len());
        let growth = match peeked {
            Some(len) if fits(len) => tail.len(),
            None => entry_cost(k.len(), tail.len()),
            Some(_) => 0,
        };
        self.make_room(growth, over)?;
        if self.lookup(k, now) {
            self.touch(k, now);
            let e = self.entry(k);
            if !fits(e.value.len()) {
                return Err(StoreError::StringTooLong);
            }
            e.value.extend_from_slice(tail);
            Ok(e.value.len())
        } else {
            if peeked.is_some() {
                self.make_room(entry_cost(k.len(), tail.len()), over)?;
            }
            let at = self.default_expiry(now);
            self.insert_new(k, tail.to_vec(), at, now);
            Ok(tail.len())
        }
    }

    fn setrange(
        &mut self,
        k: &[u8],
        off: usize,
        bytes: &[u8],
        now: u64,
        over: usize,
    ) -> Result<usize, StoreError> {
        let want = Some(off + bytes.len()).filter(|&w| w <= MAX_BULK && !bytes.is_empty());
        let peeked = self.live(k, now).map(|e| e.value.len());
        let growth = match (want, peeked) {
            (None, _) => 0,
            (Some(w), Some(len)) => w.saturating_sub(len),
            (Some(w), None) => entry_cost(k.len(), w),
        };
        self.make_room(growth, over)?;
        let existing = self.lookup(k, now);
        if existing {
            self.touch(k, now);
        }
        if bytes.is_empty() {
            return Ok(self.entries.get(k).map_or(0, |e| e.value.len()));
        }
        let want = want.ok_or(StoreError::StringTooLong)?;
        let mut v = self
            .entries
            .get(k)
            .map_or_else(Vec::new, |e| e.value.clone());
        if v.len() < want {
            v.resize(want, 0);
        }
        v[off..want].copy_from_slice(bytes);
        let len = v.len();
        if existing {
            self.entry(k).value = v;
        } else {
            if peeked.is_some() {
                self.make_room(entry_cost(k.len(), want), over)?;
            }
            let at = self.default_expiry(now);
            self.insert_new(k, v, at, now);
        }
        Ok(len)
    }
}
