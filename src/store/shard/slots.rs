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

impl Shard {
    /// Live keys in cluster slot `slot`.
    pub fn count_in_slot(&self, slot: u16, now: u64) -> usize {
        self.map
            .iter()
            .filter(|(k, e)| !expired(e.expires_at, now) && slot_for(k) == slot)
            .count()
    }

    /// Up to `count` live keys of cluster slot `slot`, in no set order.
    pub fn keys_in_slot(&self, slot: u16, count: usize, now: u64) -> Vec<Box<[u8]>> {
        self.map
            .iter()
            .filter(|(k, e)| !expired(e.expires_at, now) && slot_for(k) == slot)
            .take(count)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Delete every key whose cluster slot `lost` names, returning how many
    /// went. A core calls it for the slots it stops owning, so a slot it
    /// later regains starts empty. Values are freed as DEL frees them.
    pub fn drop_slots(&mut self, lost: impl Fn(u16) -> bool) -> usize {
        let gone: Vec<Slot> = self
            .map
            .iter_slots()
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
