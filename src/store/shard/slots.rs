//! The keyspace by cluster slot: what CLUSTER COUNTKEYSINSLOT and
//! GETKEYSINSLOT read, and the purge of the slots a core loses.
//!
//! There is no per-slot index: each call walks the shard once, hashing
//! every key's slot. That is O(keys) per call, which these commands and
//! slot hand-offs can afford (they are rare); an index would cost every
//! insert and delete instead.

use super::keyspace::expired;
use super::Shard;
use crate::map::Slot;
use crate::ownership::slot_for;
use crate::store::Value;

impl Shard {
    /// Live keys in cluster slot `slot`.
    pub fn count_in_slot(&self, slot: u16, now: u64) -> usize {
        self.map
            .iter()
            .filter(|(_, k, e)| !expired(e.expires_at, now) && slot_for(k) == slot)
            .count()
    }

    /// Up to `count` live keys of cluster slot `slot`, in no set order.
    pub fn keys_in_slot(&self, slot: u16, count: usize, now: u64) -> Vec<Box<[u8]>> {
        self.map
            .iter()
            .filter(|(_, k, e)| !expired(e.expires_at, now) && slot_for(k) == slot)
            .take(count)
            .map(|(_, k, _)| Box::from(k))
            .collect()
    }

    /// One step of a cursor scan (as [`Shard::scan`]) keeping the live keys
    /// whose cluster slot `want` names: what a warm slot move streams.
    /// Returns the cursor to go on from, 0 when the scan is done. A key
    /// present for the whole scan is returned exactly once.
    pub fn scan_slots(
        &self,
        cursor: u32,
        count: usize,
        want: impl Fn(u16) -> bool,
        now: u64,
        out: &mut Vec<Box<[u8]>>,
    ) -> u32 {
        let next = self.map.scan(u64::from(cursor), count, |_, k, e| {
            if !expired(e.expires_at, now) && want(slot_for(k)) {
                out.push(k.into());
            }
        });
        // Bucket cursors stay below 2^32 (see `map::chains`).
        next as u32
    }

    /// A copy of a live `key`'s value and absolute expiry (0 = none), for a
    /// slot move: not a use, and no hit or miss is counted.
    pub fn export(&self, key: &[u8], now: u64) -> Option<(Value, u64)> {
        let (_, e) = self.map.at(self.map.find(key)?)?;
        (!expired(e.expires_at, now)).then(|| (e.value.to_value(), e.expires_at))
    }

    /// Delete `key` if it still holds `value` with expiry `expires_at`:
    /// a slot move's last step once the target has stored that copy. A key
    /// written meanwhile stays, to be sent again. Returns whether it went.
    pub fn remove_if_unchanged(&mut self, key: &[u8], value: &Value, expires_at: u64) -> bool {
        let Some(slot) = self.map.find(key) else {
            return false;
        };
        let same = self
            .map
            .at(slot)
            .is_some_and(|(_, e)| e.expires_at == expires_at && e.value.same_as(value));
        if same {
            self.delete_slot(slot);
        }
        same
    }

    /// Delete every key whose cluster slot `lost` names, returning how many
    /// went. A core calls it for the slots it stops owning, so a slot it
    /// later regains starts empty. Values are freed as DEL frees them.
    pub fn drop_slots(&mut self, lost: impl Fn(u16) -> bool) -> usize {
        let gone: Vec<Slot> = self
            .map
            .iter()
            .filter(|(_, k, _)| lost(slot_for(k)))
            .map(|(s, _, _)| s)
            .collect();
        for &s in &gone {
            self.delete_slot(s);
        }
        gone.len()
    }
}

#[cfg(test)]
mod tests {
    use crate::ownership::slot_for;
    use crate::store::shard::{SetCond, SetExpiry};
    use crate::store::{Shard, ShardConfig};

    #[test]
    fn counts_lists_and_drops_by_slot() {
        let mut s = Shard::new(ShardConfig::default());
        for k in ["{a}1", "{a}2", "{a}3", "b", "c"] {
            s.set(
                k.as_bytes(),
                &b"v"[..],
                SetExpiry::Clear,
                SetCond::Always,
                false,
                0,
            )
            .unwrap();
        }
        s.set(
            &b"{a}dead"[..],
            &b"v"[..],
            SetExpiry::At(5),
            SetCond::Always,
            false,
            0,
        )
        .unwrap();
        let a = slot_for(b"a");
        assert_eq!(s.count_in_slot(a, 10), 3);
        assert_eq!(s.count_in_slot(a, 0), 4);
        assert_eq!(s.keys_in_slot(a, 2, 10).len(), 2);
        assert_eq!(
            s.keys_in_slot(slot_for(b"b"), 10, 10),
            vec![Box::from(&b"b"[..])]
        );
        assert_eq!(s.drop_slots(|x| x == a), 4);
        assert_eq!(s.len(), 2);
        assert_eq!(s.count_in_slot(a, 0), 0);
    }
}
