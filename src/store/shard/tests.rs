use super::*;

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

#[test]
fn set_get_del() {
    let mut s = shard();
    set(&mut s, "a", "1", 0);
    assert_eq!(s.get(b"a", 0), Ok(Some(&b"1"[..])));
    assert!(s.del(b"a", 0));
    assert!(!s.del(b"a", 0));
    assert_eq!(s.get(b"a", 0), Ok(None));
    assert_eq!(s.stats().hits, 1);
    assert_eq!(s.stats().misses, 1);
    assert_eq!(s.map.live_bytes(), 0);
    assert_eq!(s.used_bytes(), s.map.index_bytes());
}

#[test]
fn set_conditions_and_get_option() {
    let mut s = shard();
    let r = s
        .set(
            &b"k"[..],
            &b"v1"[..],
            SetExpiry::Clear,
            SetCond::IfPresent,
            true,
            0,
        )
        .unwrap();
    assert_eq!((r.applied, r.old), (false, None));
    let r = s
        .set(
            &b"k"[..],
            &b"v1"[..],
            SetExpiry::Clear,
            SetCond::IfAbsent,
            true,
            0,
        )
        .unwrap();
    assert_eq!((r.applied, r.old), (true, None));
    let r = s
        .set(
            &b"k"[..],
            &b"v2"[..],
            SetExpiry::Clear,
            SetCond::IfAbsent,
            true,
            0,
        )
        .unwrap();
    assert_eq!((r.applied, r.old), (false, Some(b"v1"[..].into())));
    let r = s
        .set(
            &b"k"[..],
            &b"v3"[..],
            SetExpiry::Clear,
            SetCond::Always,
            true,
            0,
        )
        .unwrap();
    assert_eq!((r.applied, r.old), (true, Some(b"v1"[..].into())));
}

#[test]
fn ttl_lazy_expiry_with_injected_time() {
    let mut s = shard();
    s.set(
        &b"k"[..],
        &b"v"[..],
        SetExpiry::At(100),
        SetCond::Always,
        false,
        0,
    )
    .unwrap();
    assert_eq!(s.ttl(b"k", 40), Ttl::Ms(60));
    assert_eq!(s.get(b"k", 99), Ok(Some(&b"v"[..])));
    assert_eq!(s.get(b"k", 100), Ok(None));
    assert_eq!(s.stats().expired, 1);
    assert_eq!(s.ttl(b"k", 100), Ttl::Missing);
    assert_eq!(s.expiring_len(), 0);
}

#[test]
fn keepttl_persist_and_expire_conditions() {
    let mut s = shard();
    s.set(
        &b"k"[..],
        &b"v"[..],
        SetExpiry::At(100),
        SetCond::Always,
        false,
        0,
    )
    .unwrap();
    s.set(
        &b"k"[..],
        &b"w"[..],
        SetExpiry::Keep,
        SetCond::Always,
        false,
        0,
    )
    .unwrap();
    assert_eq!(s.ttl(b"k", 0), Ttl::Ms(100));
    assert!(!s.expire_at(b"k", 50, ExpireCond::Gt, 0));
    assert!(s.expire_at(b"k", 50, ExpireCond::Lt, 0));
    assert!(!s.expire_at(b"k", 70, ExpireCond::Nx, 0));
    assert!(s.persist(b"k", 0));
    assert!(!s.persist(b"k", 0));
    assert_eq!(s.ttl(b"k", 0), Ttl::Persistent);
    set(&mut s, "k", "x", 0);
    assert_eq!(s.ttl(b"k", 0), Ttl::Persistent);
    // An expiry in the past deletes the key.
    assert!(s.expire_at(b"k", 5, ExpireCond::Always, 10));
    assert_eq!(s.len(), 0);
}

#[test]
fn incr_rules() {
    let mut s = shard();
    assert_eq!(s.incr_by(b"n", 5, 0), Ok(5));
    assert_eq!(s.incr_by(b"n", -7, 0), Ok(-2));
    set(&mut s, "n", "abc", 0);
    assert_eq!(s.incr_by(b"n", 1, 0), Err(StoreError::NotInteger));
    set(&mut s, "n", &i64::MAX.to_string(), 0);
    assert_eq!(s.incr_by(b"n", 1, 0), Err(StoreError::Overflow));
    for bad in ["", " 1", "+1", "01", "-0", "1.0", "99999999999999999999"] {
        assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
    }
    assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
}

#[test]
fn incr_keeps_ttl() {
    let mut s = shard();
    s.set(
        &b"n"[..],
        &b"1"[..],
        SetExpiry::At(100),
        SetCond::Always,
        false,
        0,
    )
    .unwrap();
    s.incr_by(b"n", 1, 0).unwrap();
    assert_eq!(s.ttl(b"n", 0), Ttl::Ms(100));
}

#[test]
fn active_sweep_reclaims_expired_keys() {
    let mut s = shard();
    for i in 0..1000 {
        let at = if i % 2 == 0 {
            SetExpiry::At(10)
        } else {
            SetExpiry::Clear
        };
        s.set(
            format!("k{i}").into_bytes(),
            &b"v"[..],
            at,
            SetCond::Always,
            false,
            0,
        )
        .unwrap();
    }
    assert_eq!(s.expiring_len(), 500);
    let mut rounds = 0;
    while s.expiring_len() > 0 && rounds < 10_000 {
        s.expire_sample(20, 10);
        rounds += 1;
    }
    assert_eq!(s.len(), 500);
    assert_eq!(s.stats().expired, 500);
}

#[test]
fn capacity_evicts_least_recently_used() {
    let mut s = Shard::new(ShardConfig {
        capacity: Some(3),
        ..Default::default()
    });
    for k in ["a", "b", "c"] {
        set(&mut s, k, "v", 0);
    }
    s.get(b"a", 0).unwrap(); // a is now the most recent; b is the oldest
    set(&mut s, "d", "v", 0);
    assert_eq!(s.len(), 3);
    assert!(!s.exists(b"b", 0));
    assert!(s.exists(b"a", 0) && s.exists(b"c", 0) && s.exists(b"d", 0));
    assert_eq!(s.stats().evicted, 1);
}

#[test]
fn maxmemory_lru_evicts_and_noeviction_refuses() {
    let limit = 64 * 1024;
    let mut lru = Shard::new(ShardConfig {
        maxmemory: Some(limit),
        eviction: Eviction::Lru,
        ..Default::default()
    });
    let mut none = Shard::new(ShardConfig {
        maxmemory: Some(limit),
        ..Default::default()
    });
    let v = vec![b'x'; 1000];
    let mut refused = 0;
    for i in 0..1000 {
        let k = format!("key{i}").into_bytes();
        lru.set(
            k.clone(),
            v.clone(),
            SetExpiry::Clear,
            SetCond::Always,
            false,
            0,
        )
        .unwrap();
        assert!(lru.used_bytes() <= limit);
        match none.set(k, v.clone(), SetExpiry::Clear, SetCond::Always, false, 0) {
            Ok(_) => {}
            Err(StoreError::Oom) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        assert!(none.used_bytes() <= limit);
    }
    assert!(lru.stats().evicted > 900);
    assert!(lru.exists(b"key999", 0));
    assert!(refused > 900);
    // Deleting frees room again under noeviction.
    none.flush();
    assert!(none
        .set(
            &b"k"[..],
            &b"v"[..],
            SetExpiry::Clear,
            SetCond::Always,
            false,
            0
        )
        .is_ok());
}

#[test]
fn default_ttl_applies_to_plain_writes() {
    let mut s = Shard::new(ShardConfig {
        default_ttl_ms: Some(1000),
        ..Default::default()
    });
    set(&mut s, "k", "v", 5);
    assert_eq!(s.ttl(b"k", 5), Ttl::Ms(1000));
    s.incr_by(b"n", 1, 5).unwrap();
    assert_eq!(s.ttl(b"n", 5), Ttl::Ms(1000));
    assert_eq!(s.get(b"k", 1005), Ok(None));
}

#[test]
fn prefetch_is_only_a_hint_on_empty_growing_and_missing_keys() {
    let mut s = shard();
    let keys: Vec<String> = (0..2000).map(|i| format!("key:{i:012}")).collect();
    let hashes = |s: &Shard| -> Vec<u64> { keys.iter().map(|k| s.hash_of(k.as_bytes())).collect() };
    // Empty map: nothing allocated yet.
    s.prefetch(&hashes(&s));
    for (i, k) in keys.iter().enumerate() {
        set(&mut s, k, "v", 0);
        // Every step of the growth, including mid-rehash, with present
        // and absent keys alike.
        if i % 97 == 0 {
            s.prefetch(&hashes(&s));
        }
    }
    s.prefetch(&hashes(&s));
    for k in &keys {
        assert_eq!(s.get(k.as_bytes(), 0), Ok(Some(&b"v"[..])));
    }
    assert_eq!(s.get(b"absent", 0), Ok(None));
}

/// `avg_ttl` follows Redis's `activeExpireCycle`: the first sample sets the
/// estimate, later ones are folded in at 2% with Redis's integer division,
/// and a shard with no TTL left reads 0.
#[test]
fn avg_ttl_is_redis_running_estimate() {
    let mut s = Shard::new(ShardConfig::default());
    for i in 0..10u8 {
        let key = [b'k', i];
        s.set(
            &key[..],
            &b"v"[..],
            SetExpiry::At(10_000),
            SetCond::Always,
            false,
            0,
        )
        .unwrap();
    }
    s.set(
        &b"forever"[..],
        &b"v"[..],
        SetExpiry::Clear,
        SetCond::Always,
        false,
        0,
    )
    .unwrap();
    assert_eq!(s.avg_ttl_ms(), 0, "no sample yet");
    s.expire_sample(20, 0);
    // (10000/50)*49 + 10000/50, as Redis: the first sample is the estimate.
    assert_eq!(s.avg_ttl_ms(), 10_000);
    s.expire_sample(20, 1_000);
    assert_eq!(s.avg_ttl_ms(), (10_000 / 50) * 49 + 9_000 / 50);
    // Every TTL passed: those samples are expired, not averaged.
    let before = s.avg_ttl_ms();
    s.expire_sample(20, 20_000);
    assert_eq!(s.avg_ttl_ms(), before);
    while s.expiring_len() > 0 {
        s.expire_sample(20, 20_000);
    }
    s.expire_sample(20, 20_000);
    assert_eq!(s.avg_ttl_ms(), 0, "no key with a TTL resets it");
    s.set(
        &b"t"[..],
        &b"v"[..],
        SetExpiry::At(50_000),
        SetCond::Always,
        false,
        0,
    )
    .unwrap();
    s.expire_sample(20, 20_000);
    assert_eq!(s.avg_ttl_ms(), 30_000);
    s.flush();
    assert_eq!(s.avg_ttl_ms(), 0);
}

#[test]
fn switching_to_lru_live_evicts_the_longest_idle_first() {
    let mut s = shard();
    // Written at seconds 0, 1, 2; "a" is then read at second 3.
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        set(&mut s, k, &"x".repeat(100), i as u64 * 1000);
    }
    assert!(s.get(b"a", 3000).unwrap().is_some());
    // Room for the three keys, then noeviction refuses a fourth.
    s.set_maxmemory(Some(s.used_bytes() + 10));
    assert!(matches!(
        s.set(
            &b"d"[..],
            &b"y"[..],
            SetExpiry::Clear,
            SetCond::Always,
            false,
            4000
        ),
        Err(StoreError::Oom)
    ));
    s.set_eviction(Eviction::Lru);
    set(&mut s, "d", "y", 4000);
    assert!(!s.exists(b"b", 4000), "b was idle longest");
    assert!(s.exists(b"a", 4000) && s.exists(b"c", 4000) && s.exists(b"d", 4000));
    assert_eq!(s.stats().evicted, 1);
    s.set_eviction(Eviction::NoEviction);
    assert_eq!(s.config().eviction, Eviction::NoEviction);
}

/// The record layout's edges, through the shard's own calls: a binary key,
/// an empty value, values at the largest class record (1 KiB) and one
/// byte past it (its own allocation), each with and without a TTL, moved
/// across those edges by APPEND, SETRANGE, EXPIRE and PERSIST. After each
/// step every key reads back exactly and the charge is the records' sum.
#[test]
fn records_at_the_layout_edges_keep_their_bytes() {
    use crate::store::record;
    let mut s = Shard::new(ShardConfig {
        eviction: Eviction::Lru,
        ..ShardConfig::default()
    });
    let key: &[u8] = b"\x00\xff\r\n";
    // 8 (map header) + 5 + 1 (klen) + 2 (vlen) + 4 (key) + 1004 = 1024.
    let at_limit = 1004;
    assert_eq!(crate::map::HEADER + record::body_len(0, 4, at_limit), 1024);
    let mut model: std::collections::HashMap<Vec<u8>, Vec<u8>> = Default::default();
    let check = |s: &mut Shard, model: &std::collections::HashMap<Vec<u8>, Vec<u8>>| {
        for (k, v) in model {
            assert_eq!(s.get(k, 0).unwrap(), Some(&v[..]), "{k:?}");
        }
        let sum: usize = s
            .map
            .iter()
            .map(|(_, k, e)| record::cost(record::ttl_flag(e.expires_at), k.len(), e.value.mem()))
            .sum();
        assert_eq!(s.entry_bytes(), sum);
        assert_eq!(s.len(), model.len());
    };
    for len in [0, 1, at_limit - 1, at_limit, at_limit + 1, 5000] {
        let mut k = key.to_vec();
        k.extend_from_slice(&(len as u32).to_le_bytes());
        let v: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        s.set(&k[..], &v[..], SetExpiry::Clear, SetCond::Always, false, 0)
            .unwrap();
        model.insert(k.clone(), v.clone());
        check(&mut s, &model);
        // One byte longer, across the edge for at_limit.
        let grown = s.append(&k, b"\x01", usize::MAX, 0).unwrap();
        model.get_mut(&k).unwrap().push(1);
        assert_eq!(grown, len + 1);
        check(&mut s, &model);
        // A TTL adds 12 bytes to the record; dropping it takes them away.
        assert!(s.expire_at(&k, 1_000_000, ExpireCond::Always, 0));
        check(&mut s, &model);
        assert_eq!(s.ttl(&k, 0), Ttl::Ms(1_000_000));
        s.setrange(&k, 0, b"\xfe\xfe", usize::MAX, 0).unwrap();
        let m = model.get_mut(&k).unwrap();
        m.resize(m.len().max(2), 0);
        m[..2].copy_from_slice(b"\xfe\xfe");
        check(&mut s, &model);
        assert!(s.persist(&k, 0));
        assert_eq!(s.ttl(&k, 0), Ttl::Persistent);
        check(&mut s, &model);
    }
    // Every key moved records several times; each still reads back and
    // leaves nothing charged once removed (the LRU list let go of each).
    for (k, v) in &model {
        assert_eq!(s.getdel(k, 0).unwrap().as_deref(), Some(&v[..]));
    }
    assert_eq!((s.len(), s.entry_bytes()), (0, 0));
}

/// A listpack hash lives in its key's record: it grows and shrinks there
/// (moving across size classes, with and without a TTL), reads back through
/// the shard's copy, moves to the pool once it becomes a hashtable, and
/// RENAME, COPY and HDEL of every field treat it as any hash. After each
/// step the charge is the records' bytes plus the pooled collections', and
/// LRU eviction (which follows moved records) drops every key cleanly.
#[test]
fn a_small_hash_lives_in_its_record_until_it_becomes_a_table() {
    use crate::store::types::Hash;
    use crate::store::{Coll, Val, Write};
    let mut s = Shard::new(ShardConfig {
        eviction: Eviction::Lru,
        ..ShardConfig::default()
    });
    let enc = s.encodings();
    let charge = |s: &Shard| -> usize {
        s.map
            .iter()
            .map(|(slot, _, e)| {
                let pooled = match e.value {
                    Val::Coll(c) => std::mem::size_of::<Coll>() + c.mem(),
                    _ => 0,
                };
                s.map.cost(slot) - 4 - pooled
                    + match e.value {
                        Val::Coll(c) => c.mem(),
                        _ => 0,
                    }
            })
            .sum()
    };
    let hset = |s: &mut Shard, k: &[u8], f: &[u8], v: &[u8]| {
        s.modify(k, Write::grow(f.len() + v.len()), 0, |h: &mut Hash| {
            h.set(f, v, &enc)
        })
        .unwrap()
        .unwrap()
    };
    let fields = |s: &mut Shard, k: &[u8]| -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut all: Vec<_> = s
            .read::<Hash>(k, 0)
            .unwrap()
            .map(|h| h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())
            .unwrap_or_default();
        all.sort();
        all
    };
    let encoding = |s: &mut Shard, k: &[u8]| s.inspect(k, 0).map(Val::encoding);
    let mut model = Vec::new();
    // Past 128 and 256 bytes of entries: several size classes, then a TTL.
    for i in 0..40u32 {
        let (f, v) = (
            format!("field{i}"),
            format!("value-{}", "x".repeat(i as usize)),
        );
        assert!(hset(&mut s, b"h", f.as_bytes(), v.as_bytes()));
        model.push((f.into_bytes(), v.into_bytes()));
        model.sort();
        assert_eq!(fields(&mut s, b"h"), model);
        assert_eq!(encoding(&mut s, b"h"), Some("listpack"));
        let slot = s.map.find(b"h").unwrap();
        assert!(s.map.hash_pack_at(slot).is_some());
        assert_eq!(s.entry_bytes(), charge(&s));
        if i == 20 {
            assert!(s.expire_at(b"h", 1_000_000, ExpireCond::Always, 0));
        }
    }
    assert_eq!(s.ttl(b"h", 0), Ttl::Ms(1_000_000));
    // An overwrite to a shorter value, then a removal, shrink it in place.
    assert!(!hset(&mut s, b"h", b"field39", b"v"));
    model.iter_mut().find(|(f, _)| f == b"field39").unwrap().1 = b"v".to_vec();
    let gone = s
        .modify(b"h", Write::shrink(), 0, |h: &mut Hash| h.remove(b"field0"))
        .unwrap();
    assert_eq!(gone, Some(true));
    model.retain(|(f, _)| f != b"field0");
    assert_eq!(fields(&mut s, b"h"), model);
    assert_eq!(s.entry_bytes(), charge(&s));
    // COPY and RENAME keep it a record's listpack, with its fields.
    let (v, at) = s.peek_entry(b"h", 0).unwrap();
    assert!(s.put(b"copy", v, at, false, 0).unwrap());
    let (v, at) = s.take(b"copy", 0).unwrap();
    assert!(s.put_moved(b"moved", v, at, false, 0).is_ok());
    assert_eq!(fields(&mut s, b"moved"), model);
    assert_eq!(encoding(&mut s, b"moved"), Some("listpack"));
    assert_eq!(s.ttl(b"moved", 0), Ttl::Ms(1_000_000));
    // A value past hash-max-listpack-value makes it a table, in the pool;
    // the copy stays a listpack.
    let long = vec![b'L'; enc.hash_value + 1];
    assert!(hset(&mut s, b"h", b"long", &long));
    model.push((b"long".to_vec(), long));
    model.sort();
    assert_eq!(encoding(&mut s, b"h"), Some("hashtable"));
    assert!(s.map.hash_pack_at(s.map.find(b"h").unwrap()).is_none());
    assert_eq!(fields(&mut s, b"h"), model);
    assert_eq!(encoding(&mut s, b"moved"), Some("listpack"));
    assert_eq!(s.entry_bytes(), charge(&s));
    assert_eq!(s.ttl(b"h", 0), Ttl::Ms(1_000_000));
    // Removing every field of a record's listpack deletes the key.
    let all: Vec<Vec<u8>> = fields(&mut s, b"moved")
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    for f in &all {
        s.modify(b"moved", Write::shrink(), 0, |h: &mut Hash| h.remove(f))
            .unwrap();
    }
    assert_eq!(s.inspect(b"moved", 0).map(Val::kind), None);
    assert_eq!(s.entry_bytes(), charge(&s));
    // A string key beside them, then eviction of everything.
    set(&mut s, "s", "v", 0);
    assert!(hset(&mut s, b"small", b"f", b"v"));
    s.set_maxmemory(Some(1));
    // Everything older goes; the new key itself is still written.
    let _ = s.set(b"x", b"y", SetExpiry::Clear, SetCond::Always, false, 0);
    assert_eq!(s.len(), 1);
    assert_eq!(s.get(b"x", 0).unwrap(), Some(&b"y"[..]));
    assert_eq!(s.entry_bytes(), charge(&s));
}
