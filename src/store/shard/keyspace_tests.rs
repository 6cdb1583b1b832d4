//! Tests of the keyspace calls in `keyspace.rs`.

use super::keyspace::Deadline;
use super::*;
use std::collections::{HashMap as StdMap, HashSet};

fn shard() -> Shard {
    Shard::new(ShardConfig::default())
}

fn set(s: &mut Shard, k: &str, v: &str, now: u64) {
    s.set(
        k.as_bytes(),
        v.as_bytes(),
        SetExpiry::Clear,
        SetCond::Always,
        false,
        now,
    )
    .unwrap();
}

fn set_until(s: &mut Shard, k: &str, v: &str, at: u64, now: u64) {
    s.set(
        k.as_bytes(),
        v.as_bytes(),
        SetExpiry::At(at),
        SetCond::Always,
        false,
        now,
    )
    .unwrap();
}

/// A full scan from cursor 0, counting how often each key comes back.
fn scan_all(
    s: &mut Shard,
    count: usize,
    pattern: Option<&[u8]>,
    now: u64,
) -> StdMap<Vec<u8>, usize> {
    let mut seen = StdMap::new();
    let mut cursor = 0;
    loop {
        let mut out = Vec::new();
        cursor = s.scan(cursor, count, pattern, now, &mut out);
        for k in out {
            *seen.entry(k.into_vec()).or_default() += 1;
        }
        if cursor == 0 {
            return seen;
        }
    }
}

fn names(keys: &[&str]) -> HashSet<Vec<u8>> {
    keys.iter().map(|k| k.as_bytes().to_vec()).collect()
}

#[test]
fn scan_returns_each_key_once_with_any_count() {
    let mut s = shard();
    for i in 0..1000 {
        set(&mut s, &format!("key:{i}"), "v", 0);
    }
    for count in [1, 5, 10, 1000] {
        let seen = scan_all(&mut s, count, None, 0);
        assert_eq!(seen.len(), 1000, "count {count}");
        assert!(seen.values().all(|&n| n == 1));
    }
    // tests/unit/scan.tcl "SCAN MATCH".
    let seen = scan_all(&mut s, 10, Some(b"key:1??"), 0);
    assert_eq!(seen.len(), 100);
    assert!(seen.keys().all(|k| k.starts_with(b"key:1") && k.len() == 7));
    assert_eq!(s.stats(), ShardStats::default());
}

#[test]
fn scan_step_visits_about_count_slots() {
    let mut s = shard();
    for i in 0..100 {
        set(&mut s, &format!("k{i}"), "v", 0);
    }
    let mut out = Vec::new();
    let next = s.scan(0, 10, Some(b"nomatch"), 0, &mut out);
    // Buckets were visited until ten keys were seen, though none matched.
    assert_ne!(next, 0);
    assert!(out.is_empty());
    // Whole buckets: at least the count, and a few more at most.
    let next = s.scan(next, 10, None, 0, &mut out);
    assert_ne!(next, 0);
    assert!((10..20).contains(&out.len()), "{}", out.len());
}

#[test]
fn scan_across_a_growing_shard_returns_all_original_keys() {
    // tests/unit/scan.tcl "SCAN guarantees check under write load", with
    // deletes of new keys as well, through several table doublings.
    let mut s = shard();
    for i in 0..100 {
        set(&mut s, &format!("orig:{i}"), "v", 0);
    }
    let mut seen: StdMap<Vec<u8>, usize> = StdMap::new();
    let (mut cursor, mut added, mut steps) = (0u64, 0u32, 0);
    loop {
        let mut out = Vec::new();
        cursor = s.scan(cursor, 3, None, 0, &mut out);
        for k in out {
            *seen.entry(k.into_vec()).or_default() += 1;
        }
        steps += 1;
        if cursor == 0 {
            break;
        }
        // Writes stop at some point so the scan can catch up with them.
        for _ in 0..if added < 3000 { 10 } else { 0 } {
            set(&mut s, &format!("added:{added}"), "v", 0);
            if added % 3 == 0 {
                s.del(format!("added:{}", added / 2).as_bytes(), 0);
            }
            added += 1;
        }
    }
    assert!(s.len() > 500, "the shard grew: {}", s.len());
    assert!(steps > 30);
    // At least once, as Redis promises: a key can come back twice only
    // because the table doubled during the scan.
    for i in 0..100 {
        let k = format!("orig:{i}").into_bytes();
        assert!(seen.get(&k) >= Some(&1), "{}", String::from_utf8_lossy(&k));
    }
}

#[test]
fn scan_hides_expired_keys_and_reclaims_those_that_match() {
    let mut s = shard();
    set(&mut s, "live", "v", 0);
    set_until(&mut s, "dead:a", "v", 50, 0);
    set_until(&mut s, "dead:b", "v", 50, 0);
    set_until(&mut s, "other", "v", 50, 0);
    // Before the deadline all four are there.
    assert_eq!(scan_all(&mut s, 10, None, 49).len(), 4);
    // Only the expired keys that match are reclaimed, as in Redis.
    let seen = scan_all(&mut s, 10, Some(b"dead:*"), 50);
    assert!(seen.is_empty());
    assert_eq!(s.len(), 2);
    assert_eq!(s.stats().expired, 2);
    let seen = scan_all(&mut s, 10, None, 50);
    assert_eq!(
        seen.keys().cloned().collect::<HashSet<_>>(),
        names(&["live"])
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s.expiring_len(), 0);
    assert_eq!(s.stats().expired, 3);
}

#[test]
fn star_pattern_lists_the_empty_key() {
    let mut s = shard();
    set(&mut s, "", "v", 0);
    set(&mut s, "a", "v", 0);
    assert_eq!(scan_all(&mut s, 10, Some(b"*"), 0).len(), 2);
    let mut out = Vec::new();
    s.keys(b"*", 0, &mut out);
    assert_eq!(out.len(), 2);
    // Only the special case does: for the matcher `**` needs a byte.
    out.clear();
    s.keys(b"**", 0, &mut out);
    assert_eq!(out, vec![Box::from(&b"a"[..])]);
}

#[test]
fn scan_cursor_out_of_range_or_after_flush_ends_quietly() {
    let mut s = shard();
    for i in 0..50 {
        set(&mut s, &format!("k{i}"), "v", 0);
    }
    let mut out = Vec::new();
    assert_eq!(s.scan(1 << 32, 10, None, 0, &mut out), 0);
    assert_eq!(s.scan(u64::MAX, 10, None, 0, &mut out), 0);
    assert!(out.is_empty());
    // Any cursor below 2^32 names buckets: it goes on from there, as in
    // Redis, and ends.
    let mut cursor = 50;
    while {
        cursor = s.scan(cursor, 10, None, 0, &mut out);
        cursor != 0
    } {}
    assert!(!out.is_empty() && out.len() <= 50);
    out.clear();
    let mid = s.scan(0, 30, None, 0, &mut out);
    assert_ne!(mid, 0);
    s.flush();
    out.clear();
    assert_eq!(s.scan(mid, 10, None, 0, &mut out), 0);
    assert!(out.is_empty());
}

#[test]
fn keys_filters_by_pattern_and_skips_expired_without_reclaiming() {
    // tests/unit/keyspace.tcl "KEYS with pattern".
    let mut s = shard();
    for k in ["key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c"] {
        set(&mut s, k, "hello", 0);
    }
    set_until(&mut s, "foo_dead", "v", 10, 0);
    let mut out = Vec::new();
    s.keys(b"foo*", 10, &mut out);
    let got: HashSet<Vec<u8>> = out.into_iter().map(Vec::from).collect();
    assert_eq!(got, names(&["foo_a", "foo_b", "foo_c"]));
    let mut out = Vec::new();
    s.keys(b"*", 10, &mut out);
    assert_eq!(out.len(), 6);
    // Redis's KEYS leaves expired keys to the sweeper.
    assert_eq!(s.len(), 7);
    assert_eq!(s.stats(), ShardStats::default());
}

#[test]
fn random_key_sees_every_key_and_never_an_expired_one() {
    // tests/unit/keyspace.tcl "RANDOMKEY", "against empty DB", "regression 1".
    let mut s = shard();
    assert_eq!(s.random_key(0), None);
    set(&mut s, "x", "10", 0);
    s.del(b"x", 0);
    assert_eq!(s.random_key(0), None);
    set(&mut s, "foo", "x", 0);
    set(&mut s, "bar", "y", 0);
    let seen: HashSet<Vec<u8>> = (0..100)
        .map(|_| s.random_key(0).unwrap().into_vec())
        .collect();
    assert_eq!(seen, names(&["foo", "bar"]));
    set_until(&mut s, "gone", "v", 5, 0);
    for _ in 0..100 {
        assert_ne!(s.random_key(5).as_deref(), Some(&b"gone"[..]));
    }
    assert_eq!(s.stats().hits + s.stats().misses, 0);
}

#[test]
fn random_key_ends_when_almost_every_slot_is_vacant_or_expired() {
    let mut s = shard();
    for i in 0..20_000 {
        set(&mut s, &format!("k{i}"), "v", 0);
    }
    for i in 1..20_000 {
        s.del(format!("k{i}").as_bytes(), 0);
    }
    assert_eq!(s.random_key(0).as_deref(), Some(&b"k0"[..]));
    // Now only expired keys besides one live key.
    for i in 0..20_000 {
        set_until(&mut s, &format!("t{i}"), "v", 10, 0);
    }
    assert_eq!(s.random_key(10).as_deref(), Some(&b"k0"[..]));
    s.del(b"k0", 10);
    // Nothing live: every expired key it meets is reclaimed on the way.
    assert_eq!(s.random_key(10), None);
    assert_eq!(s.len(), 0);
    assert_eq!(s.stats().expired, 20_000);
}

#[test]
fn take_then_put_moves_the_value_and_its_ttl() {
    let mut src = shard();
    let mut dst = shard();
    set_until(&mut src, "mykey", "foo", 100_000, 0);
    set(&mut src, "plain", "bar", 0);
    let (v, at) = src.take(b"mykey", 1000).unwrap();
    assert_eq!((v.as_str().unwrap(), at), (&b"foo"[..], 100_000));
    assert!(!src.exists(b"mykey", 1000));
    assert_eq!(src.expiring_len(), 0);
    assert_eq!(dst.put(b"mykey2", v, at, true, 1200), Ok(true));
    assert_eq!(dst.ttl(b"mykey2", 1200), Ttl::Ms(98_800));
    assert_eq!(dst.expire_time(b"mykey2", 1200), Deadline::At(100_000));
    assert_eq!(dst.get(b"mykey2", 1200), Ok(Some(&b"foo"[..])));
    // A key without a TTL moves without one.
    let (v, at) = src.take(b"plain", 1000).unwrap();
    assert_eq!(at, 0);
    dst.put(b"plain", v, at, true, 1000).unwrap();
    assert_eq!(dst.ttl(b"plain", 1000), Ttl::Persistent);
    // Write lookups: no hits or misses on the source.
    assert_eq!(src.take(b"nokey", 1000), None);
    assert_eq!((src.stats().hits, src.stats().misses), (0, 0));
    assert_eq!(src.used, 0);
    assert_eq!(
        src.used_bytes(),
        src.map.live_bytes() + src.map.index_bytes()
    );
}

#[test]
fn take_of_an_expired_key_reclaims_it() {
    let mut s = shard();
    set_until(&mut s, "k", "v", 10, 0);
    assert_eq!(s.take(b"k", 10), None);
    assert_eq!((s.len(), s.stats().expired), (0, 1));
}

#[test]
fn put_without_replace_refuses_a_live_key_and_counts_a_use() {
    let mut s = shard();
    set(&mut s, "mykey2", "bar", 0);
    assert_eq!(s.idle_ms(b"mykey2", 9000), Some(9000));
    assert_eq!(
        s.put(b"mykey2", b"foo"[..].into(), 0, false, 9000),
        Ok(false)
    );
    assert_eq!(s.idle_ms(b"mykey2", 12_000), Some(3000));
    assert_eq!(s.get(b"mykey2", 12_000), Ok(Some(&b"bar"[..])));
    // An expired destination does not count as existing.
    set_until(&mut s, "old", "v", 100, 0);
    assert_eq!(s.put(b"old", b"new"[..].into(), 0, false, 100), Ok(true));
    assert_eq!(s.get(b"old", 100), Ok(Some(&b"new"[..])));
    assert_eq!(s.ttl(b"old", 100), Ttl::Persistent);
}

#[test]
fn put_with_replace_does_not_inherit_the_destination_ttl() {
    // tests/unit/keyspace.tcl "RENAME with volatile key, should not inherit
    // TTL of target key".
    let mut s = shard();
    set(&mut s, "mykey", "foo", 0);
    set_until(&mut s, "mykey2", "bar", 100_000, 0);
    let (v, at) = s.take(b"mykey", 0).unwrap();
    assert_eq!(s.put(b"mykey2", v, at, true, 0), Ok(true));
    assert_eq!(s.ttl(b"mykey2", 0), Ttl::Persistent);
    assert_eq!(s.get(b"mykey2", 0), Ok(Some(&b"foo"[..])));
    assert_eq!((s.len(), s.expiring_len()), (1, 0));
    assert_eq!(s.used_bytes(), s.map.live_bytes() + s.map.index_bytes());
    assert_eq!(s.map.live_bytes(), crate::store::record::cost(0, 6, 3));
}

#[test]
fn put_of_an_elapsed_deadline_writes_a_key_that_is_already_gone() {
    let mut s = shard();
    set(&mut s, "dst", "old", 0);
    assert_eq!(s.put(b"dst", b"v"[..].into(), 500, true, 500), Ok(true));
    assert!(!s.exists(b"dst", 500));
    assert_eq!((s.len(), s.stats().expired), (0, 1));
    assert_eq!(s.put(b"fresh", b"v"[..].into(), 400, false, 500), Ok(true));
    assert_eq!((s.len(), s.stats().expired), (0, 2));
    // Refused before any of that when the live destination stays.
    set(&mut s, "dst", "old", 500);
    assert_eq!(s.put(b"dst", b"v"[..].into(), 500, false, 500), Ok(false));
    assert_eq!(s.get(b"dst", 500), Ok(Some(&b"old"[..])));
}

#[test]
fn put_honours_maxmemory_eviction_and_capacity() {
    let limit = 16 * 1024;
    let v = Value::Str(vec![b'x'; 1000].into_boxed_slice());
    let mut none = Shard::new(ShardConfig {
        maxmemory: Some(limit),
        ..Default::default()
    });
    let mut refused = 0;
    for i in 0..100 {
        match none.put(format!("k{i}").as_bytes(), v.clone(), 0, true, 0) {
            Ok(true) => {}
            Err(StoreError::Oom) => refused += 1,
            other => panic!("{other:?}"),
        }
        assert!(none.used_bytes() <= limit);
    }
    assert!(refused > 80);
    assert_eq!(none.stats().oom_rejections, refused);

    let mut lru = Shard::new(ShardConfig {
        maxmemory: Some(limit),
        eviction: Eviction::Lru,
        ..Default::default()
    });
    for i in 0..100 {
        assert_eq!(
            lru.put(format!("k{i}").as_bytes(), v.clone(), 0, true, 0),
            Ok(true)
        );
        assert!(lru.used_bytes() <= limit);
    }
    assert!(lru.stats().evicted > 80);
    assert!(lru.exists(b"k99", 0));

    let mut cap = Shard::new(ShardConfig {
        capacity: Some(2),
        ..Default::default()
    });
    for k in ["a", "b", "c"] {
        cap.put(k.as_bytes(), v.clone(), 0, true, 0).unwrap();
    }
    assert_eq!(cap.len(), 2);
    assert!(!cap.exists(b"a", 0));
}

#[test]
fn put_moved_is_never_refused_for_memory_and_hands_back_a_refused_value() {
    let limit = 16 * 1024;
    let mut none = Shard::new(ShardConfig {
        maxmemory: Some(limit),
        ..Default::default()
    });
    let v = Value::Str(vec![b'x'; 1000].into_boxed_slice());
    for i in 0..40 {
        assert_eq!(
            none.put_moved(format!("k{i}").as_bytes(), v.clone(), 0, true, 0),
            Ok(())
        );
    }
    assert_eq!(none.len(), 40);
    assert!(none.used_bytes() > limit);
    assert_eq!(none.stats().oom_rejections, 0);
    // RENAMENX onto a live key: nothing written, the value comes back.
    let back = none.put_moved(b"k0", b"other"[..].into(), 77, false, 0);
    assert_eq!(back, Err(b"other"[..].into()));
    assert_eq!(none.get(b"k0", 0).unwrap().map(<[u8]>::len), (Some(1000)));
    assert_eq!(none.ttl(b"k0", 0), Ttl::Persistent);

    let mut lru = Shard::new(ShardConfig {
        maxmemory: Some(limit),
        eviction: Eviction::Lru,
        ..Default::default()
    });
    for i in 0..40 {
        assert_eq!(
            lru.put_moved(format!("k{i}").as_bytes(), v.clone(), 0, true, 0),
            Ok(())
        );
        assert!(lru.used_bytes() <= limit);
    }
    assert!(lru.stats().evicted > 20);
}

#[test]
fn peek_entry_copies_with_ttl_and_reads_like_copy() {
    let mut s = shard();
    set_until(&mut s, "mykey", "foobar", 100_000, 0);
    let (v, at) = s.peek_entry(b"mykey", 5000).unwrap();
    assert_eq!((v.as_str().unwrap(), at), (&b"foobar"[..], 100_000));
    assert_eq!(s.get(b"mykey", 5000), Ok(Some(&b"foobar"[..])));
    assert_eq!(s.peek_entry(b"nokey", 5000), None);
    // One hit each for peek_entry and get, one miss.
    assert_eq!((s.stats().hits, s.stats().misses), (2, 1));
    // A use: the idle time restarts.
    set(&mut s, "idle", "v", 0);
    s.peek_entry(b"idle", 7000);
    assert_eq!(s.idle_ms(b"idle", 7000), Some(0));
    // A copy into another shard is independent of the source.
    let mut dst = shard();
    let (v, at) = s.peek_entry(b"mykey", 5000).unwrap();
    dst.put(b"mynewkey", v, at, false, 5000).unwrap();
    s.set(
        &b"mykey"[..],
        &b"hoge"[..],
        SetExpiry::Keep,
        SetCond::Always,
        false,
        5000,
    )
    .unwrap();
    assert_eq!(dst.get(b"mynewkey", 5000), Ok(Some(&b"foobar"[..])));
    assert_eq!(dst.expire_time(b"mynewkey", 5000), Deadline::At(100_000));
}

#[test]
fn expire_time_reports_the_absolute_deadline() {
    let mut s = shard();
    assert_eq!(s.expire_time(b"k", 0), Deadline::Missing);
    set(&mut s, "k", "v", 0);
    assert_eq!(s.expire_time(b"k", 0), Deadline::Persistent);
    s.expire_at(b"k", 60_000, ExpireCond::Always, 0);
    assert_eq!(s.expire_time(b"k", 59_999), Deadline::At(60_000));
    assert_eq!(s.expire_time(b"k", 60_000), Deadline::Missing);
    assert_eq!((s.len(), s.stats().expired), (0, 1));
    // Two hits and two misses: Redis 7's no-touch read counts them.
    assert_eq!((s.stats().hits, s.stats().misses), (2, 2));
}

#[test]
fn expire_time_is_not_a_use() {
    let mut s = shard();
    set(&mut s, "k", "v", 0);
    s.expire_time(b"k", 5000);
    assert_eq!(s.idle_ms(b"k", 5000), Some(5000));
}

#[test]
fn touch_key_counts_a_use_and_a_hit_or_miss() {
    let mut s = Shard::new(ShardConfig {
        capacity: Some(3),
        ..Default::default()
    });
    for k in ["a", "b", "c"] {
        set(&mut s, k, "v", 0);
    }
    assert!(s.touch_key(b"a", 4000));
    assert!(!s.touch_key(b"nokey", 4000));
    assert_eq!((s.stats().hits, s.stats().misses), (1, 1));
    assert_eq!(s.idle_ms(b"a", 6000), Some(2000));
    assert_eq!(s.idle_ms(b"b", 6000), Some(6000));
    // a was touched, so b is now the least recently used.
    set(&mut s, "d", "v", 6000);
    assert!(!s.exists(b"b", 6000));
    assert!(s.exists(b"a", 6000));
    // An expired key is not there to touch.
    set_until(&mut s, "e", "v", 7000, 6000);
    assert!(!s.touch_key(b"e", 7000));
}

#[test]
fn idle_time_restarts_on_uses_only() {
    let mut s = shard();
    set(&mut s, "k", "v", 0);
    assert_eq!(s.idle_ms(b"k", 999), Some(0));
    assert_eq!(s.idle_ms(b"k", 10_500), Some(10_000));
    // No-touch reads leave it alone.
    s.exists(b"k", 11_000);
    s.ttl(b"k", 11_000);
    s.memory_usage(b"k", 11_000);
    let mut out = Vec::new();
    s.scan(0, 10, None, 11_000, &mut out);
    s.keys(b"*", 11_000, &mut out);
    assert_eq!(s.idle_ms(b"k", 12_000), Some(12_000));
    // Uses restart it: GET, a refused SET NX, INCR, EXPIRE, PERSIST.
    s.get(b"k", 20_000).unwrap();
    assert_eq!(s.idle_ms(b"k", 25_000), Some(5000));
    s.set(
        &b"k"[..],
        &b"w"[..],
        SetExpiry::Clear,
        SetCond::IfAbsent,
        false,
        30_000,
    )
    .unwrap();
    assert_eq!(s.idle_ms(b"k", 30_000), Some(0));
    s.incr_by(b"n", 1, 31_000).unwrap();
    assert_eq!(s.idle_ms(b"n", 40_000), Some(9000));
    s.incr_by(b"n", 1, 40_000).unwrap();
    assert_eq!(s.idle_ms(b"n", 40_000), Some(0));
    s.expire_at(b"n", 1_000_000, ExpireCond::Nx, 45_000);
    assert_eq!(s.idle_ms(b"n", 45_000), Some(0));
    s.persist(b"n", 50_000);
    assert_eq!(s.idle_ms(b"n", 51_000), Some(1000));
    assert_eq!(s.idle_ms(b"nokey", 51_000), None);
}

#[test]
fn idle_ms_reads_like_object_idletime() {
    let mut s = shard();
    set_until(&mut s, "k", "v", 1000, 0);
    assert_eq!(s.idle_ms(b"k", 999), Some(0));
    assert_eq!(s.idle_ms(b"k", 1000), None);
    assert_eq!(s.idle_ms(b"nokey", 1000), None);
    assert_eq!((s.stats().hits, s.stats().misses), (1, 2));
    assert_eq!((s.len(), s.stats().expired), (0, 1));
}

#[test]
fn memory_usage_is_the_entry_cost_of_a_live_key() {
    let mut s = shard();
    set(&mut s, "key", "value", 0);
    set_until(&mut s, "gone", "v", 10, 0);
    // Its record, and a bucket head's four bytes.
    let record = crate::store::record::cost(0, 3, 5);
    assert_eq!(record, 24);
    assert_eq!(s.memory_usage(b"key", 10), Some(record + 4));
    assert_eq!(s.memory_usage(b"gone", 10), None);
    assert_eq!(s.memory_usage(b"nokey", 10), None);
    // Reclaims nothing and counts nothing, as Redis's bare lookup.
    assert_eq!(s.len(), 2);
    assert_eq!(s.stats(), ShardStats::default());
}
