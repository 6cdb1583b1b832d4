//! Key ownership: the one place that decides which slot and core own a key.
//!
//! Keys hash to one of 16,384 slots with CRC16-XMODEM, exactly as Redis
//! Cluster does (including `{hash tags}`), so a slot-aware client library can
//! compute ownership itself, and a cluster map can later hand out slot
//! ranges per node core without changing any key's slot.

/// Number of hash slots.
pub const SLOTS: u16 = 16384;

/// Slice-by-16 tables: every request computes this, and byte-at-a-time
/// CRC16 showed at ~5% of a 2-core node's CPU on pipelined GETs.
const CRC16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

/// The hash slot of `key`. If the key contains `{tag}` with a non-empty tag,
/// only the tag is hashed, so related keys can be forced onto one owner.
#[inline]
pub fn slot_for(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    CRC16.checksum(hashed) % SLOTS
}

/// The shard (core) of `n` that owns `key` on a node outside cluster mode.
/// A node in cluster mode asks its slot map instead (`node::routing`),
/// which gives a fresh one-node cluster the same ranges.
#[inline]
pub fn shard_for(key: &[u8], n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    core_in_range(slot_for(key), n)
}

/// The core of `n` whose contiguous range holds `slot`: the first
/// `16384 mod n` cores hold `⌊16384/n⌋ + 1` slots each, the others
/// `⌊16384/n⌋`, in core order — what `cluster::compute` gives a fresh node.
///
/// Ranges rather than `slot % n`: a cluster map hands out contiguous ranges
/// (so CLUSTER SLOTS stays short), and a node that joins a cluster then
/// keeps every key on the core it was on.
#[inline]
pub fn core_in_range(slot: u16, n: usize) -> usize {
    let (s, total) = (usize::from(slot), usize::from(SLOTS));
    let (base, extra) = (total / n, total % n);
    let long = extra * (base + 1);
    if s < long {
        s / (base + 1)
    } else {
        extra + (s - long) / base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_cluster_slots() {
        // Values from `CLUSTER KEYSLOT` on Redis.
        assert_eq!(slot_for(b"foo"), 12182);
        assert_eq!(slot_for(b"bar"), 5061);
        assert_eq!(slot_for(b"{user1000}.following"), slot_for(b"user1000"));
        assert_eq!(slot_for(b"foo{}{bar}"), slot_for(b"foo{}{bar}"));
        assert_eq!(slot_for(b""), 0);
    }

    #[test]
    fn core_ranges_are_contiguous_and_match_a_fresh_cluster_map() {
        for n in 1..=12 {
            let fresh = crate::cluster::compute(&crate::cluster::SlotMap::empty(), &shards(n));
            let mut last = 0;
            for slot in 0..SLOTS {
                let c = core_in_range(slot, n);
                assert!(c == last || c == last + 1, "n={n} slot={slot}");
                assert_eq!(fresh.owner(slot), Some(c), "n={n} slot={slot}");
                last = c;
            }
            assert_eq!(last, n - 1);
        }
    }

    fn shards(n: usize) -> Vec<crate::cluster::Shard> {
        let node = crate::addr::HostPort::new("127.0.0.1", 7000).unwrap();
        (0..n as u16)
            .map(|c| crate::cluster::Shard::new(node.clone(), c, node.clone()))
            .collect()
    }

    #[test]
    fn shards_cover_all_cores() {
        let mut seen = [0usize; 3];
        for i in 0..3000 {
            seen[shard_for(format!("key:{i}").as_bytes(), 3)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}
