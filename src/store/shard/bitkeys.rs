//! The shard's side of the bit commands and LCS: SETBIT's in-place write and
//! BITOP's store-or-delete of its destination. The reads (GETBIT, BITCOUNT,
//! BITPOS, BITOP's sources, LCS) need nothing new: Redis looks their keys up
//! with `lookupKeyRead`, which counts a hit or miss and refreshes recency,
//! and that is exactly [`Shard::get`]; the arithmetic is in
//! [`crate::store::bits`] and [`crate::store::lcs`].

use super::{SetCond, SetExpiry, Shard, StoreError};
use crate::store::bits::setbit_in;
use crate::store::{entry_cost, Value};

impl Shard {
    /// SETBIT: set the bit at `offset` (from
    /// [`parse_bit_offset`](crate::store::bits::parse_bit_offset)) to `bit`
    /// (non-zero counts as 1) and return the bit it replaced. A missing key
    /// is created as zero bytes up to the offset (with the default TTL, as
    /// any new key); an existing one is grown with zero bytes if needed and
    /// keeps its TTL. A use of the key (Redis looks it up for writing), but
    /// not a hit or miss.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the growth cannot fit under `maxmemory`;
    /// nothing changes then.
    pub fn setbit(&mut self, key: &[u8], offset: u64, bit: u8, now: u64) -> Result<u8, StoreError> {
        let want = usize::try_from(offset >> 3)
            .ok()
            .and_then(|b| b.checked_add(1))
            .expect("bit offset checked by parse_bit_offset");
        let hash = self.map.hash_one(key);
        let current = self
            .lookup_hashed(hash, key, now)
            .and_then(|s| self.map.at(s))
            .map(|(_, e)| e.value.as_str().map(<[u8]>::len));
        let growth = match current {
            Some(Some(len)) => want.saturating_sub(len),
            // Another type: the write below refuses it, after the memory
            // check, as in Redis.
            Some(None) => 0,
            None => entry_cost(key.len(), want),
        };
        self.make_room(growth)?;
        // Look again: making room may have evicted this very key.
        match self.lookup_hashed(hash, key, now) {
            Some(slot) => {
                self.touch(slot, now);
                self.str_at(slot)?;
                Ok(self.edit_value(slot, |v| setbit_in(v, offset, bit)))
            }
            None => {
                let mut v = Vec::new();
                setbit_in(&mut v, offset, bit);
                let at = self.default_expiry(now);
                self.insert_new(hash, key, Value::Str(v.into()), at, now);
                Ok(0)
            }
        }
    }

    /// BITOP's write of its result: a non-empty `value` replaces the key as
    /// a plain SET does (dropping any TTL; the default TTL applies), an
    /// empty one deletes the key, as Redis does. Returns the value's length,
    /// which is BITOP's reply.
    ///
    /// # Errors
    /// [`StoreError::Oom`] when the value cannot fit under `maxmemory`, or,
    /// for a delete, when the shard is already over it (BITOP is a
    /// `denyoom` command in Redis, refused while memory is over the limit
    /// whatever it would write).
    pub fn store_or_delete(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        now: u64,
    ) -> Result<usize, StoreError> {
        if value.is_empty() {
            self.make_room(0)?;
            self.del(key, now);
            return Ok(0);
        }
        let len = value.len();
        self.set(
            key,
            value.into_boxed_slice(),
            SetExpiry::Clear,
            SetCond::Always,
            false,
            now,
        )?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ShardConfig;
    use super::*;
    use crate::store::bits::getbit;
    use crate::store::{Eviction, Ttl};

    fn shard() -> Shard {
        Shard::new(ShardConfig::default())
    }

    /// `used` must equal the sum of entry costs, whatever was edited.
    fn assert_accounting(s: &mut Shard) {
        let sum: usize = s
            .map
            .iter()
            .map(|(_, k, e)| {
                crate::store::record::cost(
                    crate::store::record::ttl_flag(e.expires_at),
                    k.len(),
                    e.value.mem(),
                )
            })
            .sum();
        assert_eq!(s.entry_bytes(), sum);
    }

    #[test]
    fn setbit_creates_grows_and_returns_the_old_bit() {
        let mut s = shard();
        assert_eq!(s.setbit(b"k", 7, 1, 0), Ok(0));
        assert_eq!(s.get(b"k", 0), Ok(Some(&[0x01][..])));
        assert_eq!(s.setbit(b"k", 7, 1, 0), Ok(1));
        assert_eq!(s.setbit(b"k", 7, 0, 0), Ok(1));
        assert_eq!(s.get(b"k", 0), Ok(Some(&[0x00][..])));
        assert_eq!(s.setbit(b"k", 8 * 9, 1, 0), Ok(0));
        let v = s.get(b"k", 0).unwrap().unwrap().to_vec();
        assert_eq!(v.len(), 10);
        assert_eq!(v[9], 0x80);
        assert_eq!(getbit(&v, 72), 1);
        // Clearing a bit past the end still grows the string, as in Redis.
        assert_eq!(s.setbit(b"z", 100, 0, 0), Ok(0));
        assert_eq!(s.get(b"z", 0), Ok(Some(&[0u8; 13][..])));
        assert_accounting(&mut s);
    }

    #[test]
    fn setbit_keeps_the_ttl_and_touches_but_counts_no_hit() {
        let mut s = shard();
        s.set(
            &b"k"[..],
            &b"a"[..],
            SetExpiry::At(100),
            SetCond::Always,
            false,
            0,
        )
        .unwrap();
        assert_eq!(s.setbit(b"k", 6, 1, 10), Ok(0));
        assert_eq!(s.ttl(b"k", 10), Ttl::Ms(90));
        assert_eq!(s.stats().hits + s.stats().misses, 0);
        assert_eq!(s.get(b"k", 10), Ok(Some(&b"c"[..])));
        // An expired key is gone: SETBIT starts from zeros and no TTL.
        assert_eq!(s.setbit(b"k", 6, 1, 100), Ok(0));
        assert_eq!(s.get(b"k", 100), Ok(Some(&[0x02][..])));
        assert_eq!(s.ttl(b"k", 100), Ttl::Persistent);
        assert_accounting(&mut s);
    }

    #[test]
    fn setbit_on_a_new_key_takes_the_default_ttl() {
        let mut s = Shard::new(ShardConfig {
            default_ttl_ms: Some(50),
            ..ShardConfig::default()
        });
        s.setbit(b"k", 0, 1, 10).unwrap();
        assert_eq!(s.ttl(b"k", 10), Ttl::Ms(50));
    }

    #[test]
    fn setbit_refuses_growth_past_maxmemory_and_changes_nothing() {
        let mut s = Shard::new(ShardConfig {
            maxmemory: Some(4096),
            ..ShardConfig::default()
        });
        s.setbit(b"k", 0, 1, 0).unwrap();
        let used = s.used_bytes();
        assert_eq!(s.setbit(b"k", 8 * 100_000, 1, 0), Err(StoreError::Oom));
        assert_eq!(s.get(b"k", 0), Ok(Some(&[0x80][..])));
        assert_eq!(s.used_bytes(), used);
        assert_eq!(s.setbit(b"new", 8 * 100_000, 1, 0), Err(StoreError::Oom));
        assert!(!s.exists(b"new", 0));
        // Within the string no room is needed, even when full.
        assert_eq!(s.setbit(b"k", 1, 1, 0), Ok(0));
        assert_accounting(&mut s);
    }

    #[test]
    fn setbit_under_lru_evicts_others_to_grow() {
        let mut s = Shard::new(ShardConfig {
            eviction: Eviction::Lru,
            maxmemory: Some(12 << 10),
            ..ShardConfig::default()
        });
        for i in 0..200 {
            s.setbit(format!("k{i}").as_bytes(), 0, 1, 0).unwrap();
        }
        assert_eq!(s.stats().evicted, 0);
        s.setbit(b"big", 8 * 6000, 1, 0).unwrap();
        assert!(s.used_bytes() <= 12 << 10, "{} bytes", s.used_bytes());
        // Some of the small keys made room, not all of them.
        assert!(s.stats().evicted > 0 && s.len() > 1, "{} keys", s.len());
        assert_eq!(s.get(b"big", 0).unwrap().map(<[u8]>::len), (Some(6001)));
        assert_accounting(&mut s);
    }

    #[test]
    fn store_or_delete_sets_like_set_and_deletes_on_empty() {
        let mut s = shard();
        s.set(
            &b"d"[..],
            &b"old"[..],
            SetExpiry::At(100),
            SetCond::Always,
            false,
            0,
        )
        .unwrap();
        assert_eq!(s.store_or_delete(b"d", b"\x01\x02".to_vec(), 0), Ok(2));
        assert_eq!(s.get(b"d", 0), Ok(Some(&b"\x01\x02"[..])));
        assert_eq!(s.ttl(b"d", 0), Ttl::Persistent);
        assert_eq!(s.store_or_delete(b"d", Vec::new(), 0), Ok(0));
        assert!(!s.exists(b"d", 0));
        // Deleting what is not there is fine.
        assert_eq!(s.store_or_delete(b"d", Vec::new(), 0), Ok(0));
        // Writes look keys up for writing: no hits or misses (as Redis's
        // keyspace_hits/misses show for BITOP's destination); the one hit
        // is the GET above.
        assert_eq!((s.stats().hits, s.stats().misses), (1, 0));
        assert_accounting(&mut s);
    }

    #[test]
    fn store_or_delete_refuses_when_over_maxmemory() {
        let mut s = Shard::new(ShardConfig {
            maxmemory: Some(2048),
            ..ShardConfig::default()
        });
        assert_eq!(
            s.store_or_delete(b"d", vec![1; 4096], 0),
            Err(StoreError::Oom)
        );
        assert!(!s.exists(b"d", 0));
        assert_eq!(s.store_or_delete(b"d", Vec::new(), 0), Ok(0));
    }
}
