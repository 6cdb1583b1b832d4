//! Tests of the string calls in `strings.rs`. Expected answers marked
//! "Redis" were read from redis-server 7.0.15.

use super::super::{Eviction, SetCond, SetExpiry, ShardConfig, Ttl};
use super::*;

/// Redis's default `proto-max-bulk-len`.
const MAX_BULK: usize = 512 * 1024 * 1024;

fn shard() -> Shard {
    Shard::new(ShardConfig::default())
}

fn set(s: &mut Shard, k: &str, v: &str, expiry: SetExpiry, now: u64) {
    s.set(
        k.as_bytes(),
        v.as_bytes(),
        expiry,
        SetCond::Always,
        false,
        now,
    )
    .unwrap();
}

/// `used` must equal the sum of entry costs, whatever was edited.
fn assert_accounting(s: &Shard) {
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

/// The last-use stamp of a key, read without a lookup.
fn access(s: &Shard, k: &[u8]) -> u32 {
    let slot = s.map.find_hashed(s.map.hash_one(k), k).unwrap();
    s.map.at(slot).unwrap().1.access
}

/// (hits, misses) so far.
fn counts(s: &Shard) -> (u64, u64) {
    (s.stats().hits, s.stats().misses)
}

fn raw(s: &Shard, k: &[u8]) -> Option<Vec<u8>> {
    let slot = s.map.find_hashed(s.map.hash_one(k), k)?;
    Some(s.map.at(slot)?.1.value.as_str()?.to_vec())
}

#[test]
fn append_creates_grows_and_keeps_the_ttl() {
    let mut s = shard();
    // Redis creates the key even for an empty tail.
    assert_eq!(s.append(b"e", b"", MAX_BULK, 0), Ok(0));
    assert_eq!(raw(&s, b"e").as_deref(), Some(&b""[..]));
    assert_eq!(s.append(b"k", b"Hello", MAX_BULK, 0), Ok(5));
    assert_eq!(s.append(b"k", b" World", MAX_BULK, 0), Ok(11));
    assert_eq!(raw(&s, b"k").as_deref(), Some(&b"Hello World"[..]));
    set(&mut s, "t", "a", SetExpiry::At(100), 0);
    assert_eq!(s.append(b"t", b"b", MAX_BULK, 10), Ok(2));
    assert_eq!(s.ttl(b"t", 10), Ttl::Ms(90));
    // Past its TTL the key is missing: APPEND starts afresh, with no TTL.
    assert_eq!(s.append(b"t", b"c", MAX_BULK, 100), Ok(1));
    assert_eq!(s.ttl(b"t", 100), Ttl::Persistent);
    assert_eq!(counts(&s), (0, 0));
    assert_accounting(&s);
}

#[test]
fn append_refuses_past_the_limit() {
    let mut s = shard();
    assert_eq!(s.append(b"k", b"abc", 4, 0), Ok(3));
    // Redis: reaching the limit exactly is fine, even with an empty tail.
    assert_eq!(s.append(b"k", b"d", 4, 0), Ok(4));
    assert_eq!(s.append(b"k", b"", 4, 0), Ok(4));
    assert_eq!(s.append(b"k", b"e", 4, 0), Err(StoreError::StringTooLong));
    assert_eq!(raw(&s, b"k").as_deref(), Some(&b"abcd"[..]));
    assert_eq!(
        s.append(b"n", b"abcde", 4, 0),
        Err(StoreError::StringTooLong)
    );
    assert_eq!(raw(&s, b"n"), None);
    assert_eq!(
        StoreError::StringTooLong.to_string(),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_accounting(&s);
}

#[test]
fn strlen_counts_a_hit_or_miss() {
    let mut s = shard();
    assert_eq!(s.strlen(b"none", 0), Ok(0));
    set(&mut s, "k", "Hello World", SetExpiry::Clear, 0);
    assert_eq!(s.strlen(b"k", 0), Ok(11));
    assert_eq!(counts(&s), (1, 1));
}

#[test]
fn getrange_clamps_as_redis_7() {
    // Redis, on "Hello World".
    let table: &[(i64, i64, &str)] = &[
        (0, 3, "Hell"),
        (-3, -1, "rld"),
        (0, -1, "Hello World"),
        (10, 100, "d"),
        (5, 3, ""),
        (-1, -5, ""),
        (-100, -50, "H"),
        (-100, 100, "Hello World"),
        (-5, -100, ""),
        (11, 11, ""),
        (12, 20, ""),
        (-11, 0, "H"),
        (-12, 0, "H"),
        (3, -100, ""),
        (0, 0, "H"),
        (-1, -1, "d"),
        (100, -1, ""),
        (-100, -12, "H"),
        (-100, -11, "H"),
        (i64::MIN, i64::MAX, "Hello World"),
        (i64::MAX, i64::MIN, ""),
    ];
    let mut s = shard();
    set(&mut s, "s", "Hello World", SetExpiry::Clear, 0);
    for &(a, b, want) in table {
        assert_eq!(s.getrange(b"s", a, b, 0), Ok(want.as_bytes()), "{a} {b}");
    }
    // Redis: an empty value gives nothing whatever the range.
    set(&mut s, "e", "", SetExpiry::Clear, 0);
    for (a, b) in [
        (0, -1),
        (0, 0),
        (-1, -1),
        (-1, 0),
        (1, 2),
        (0, -100),
        (-100, -100),
    ] {
        assert_eq!(s.getrange(b"e", a, b, 0), Ok(&b""[..]), "{a} {b}");
    }
    assert_eq!(s.getrange(b"none", 0, -1, 0), Ok(&b""[..]));
    assert_eq!(counts(&s), (table.len() as u64 + 7, 1));
}

#[test]
fn setrange_pads_and_overwrites() {
    let mut s = shard();
    // Redis: "SETRANGE x 5 ab" on a missing key.
    assert_eq!(s.setrange(b"x", 5, b"ab", MAX_BULK, 0), Ok(7));
    assert_eq!(raw(&s, b"x").as_deref(), Some(&b"\0\0\0\0\0ab"[..]));
    assert_eq!(s.setrange(b"x", 1, b"YZ", MAX_BULK, 0), Ok(7));
    assert_eq!(s.setrange(b"x", 6, b"0123", MAX_BULK, 0), Ok(10));
    assert_eq!(raw(&s, b"x").as_deref(), Some(&b"\0YZ\0\0a0123"[..]));
    set(&mut s, "t", "Hello World", SetExpiry::At(100), 0);
    assert_eq!(s.setrange(b"t", 6, b"Redis", MAX_BULK, 0), Ok(11));
    assert_eq!(raw(&s, b"t").as_deref(), Some(&b"Hello Redis"[..]));
    assert_eq!(s.ttl(b"t", 0), Ttl::Ms(100));
    assert_eq!(counts(&s), (0, 0));
    assert_accounting(&s);
}

#[test]
fn setrange_with_nothing_to_write() {
    let mut s = shard();
    // Redis: 0 and no key, whatever the offset, even one past the limit.
    assert_eq!(s.setrange(b"x", 0, b"", MAX_BULK, 0), Ok(0));
    assert_eq!(s.setrange(b"x", MAX_BULK, b"", MAX_BULK, 0), Ok(0));
    assert_eq!(s.len(), 0);
    // Redis: the current length, even past the limit.
    set(&mut s, "y", "abc", SetExpiry::Clear, 0);
    assert_eq!(s.setrange(b"y", 100, b"", MAX_BULK, 0), Ok(3));
    assert_eq!(s.setrange(b"y", MAX_BULK, b"", MAX_BULK, 0), Ok(3));
    assert_eq!(raw(&s, b"y").as_deref(), Some(&b"abc"[..]));
}

#[test]
fn setrange_refuses_past_the_limit_before_allocating() {
    let mut s = shard();
    // Redis: offset 536870911 with one byte is the most it takes.
    assert_eq!(s.setrange(b"x", 15, b"a", 16, 0), Ok(16));
    assert_eq!(
        s.setrange(b"x", 16, b"a", 16, 0),
        Err(StoreError::StringTooLong)
    );
    assert_eq!(
        s.setrange(b"y", 16, b"a", 16, 0),
        Err(StoreError::StringTooLong)
    );
    assert_eq!(raw(&s, b"y"), None);
    // Would need more memory than any machine has: refused, not attempted.
    assert_eq!(
        s.setrange(b"y", usize::MAX - 1, b"ab", MAX_BULK, 0),
        Err(StoreError::StringTooLong)
    );
    assert_eq!(
        s.setrange(b"x", MAX_BULK, b"a", MAX_BULK, 0),
        Err(StoreError::StringTooLong)
    );
    assert_eq!(raw(&s, b"x").map(|v| v.len()), Some(16));
    assert_accounting(&s);
}

#[test]
fn getdel_returns_and_removes() {
    let mut s = shard();
    set(&mut s, "k", "v", SetExpiry::At(100), 0);
    assert_eq!(s.getdel(b"k", 0).unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(s.getdel(b"k", 0), Ok(None));
    assert_eq!((s.len(), s.expiring_len()), (0, 0));
    set(&mut s, "k", "w", SetExpiry::At(100), 0);
    assert_eq!(s.getdel(b"k", 100), Ok(None));
    assert_eq!(counts(&s), (1, 2));
    assert_eq!(s.stats().expired, 1);
    assert_accounting(&s);
}

#[test]
fn getex_changes_the_ttl_after_reading() {
    let mut s = shard();
    set(&mut s, "k", "v", SetExpiry::At(100_000), 0);
    assert_eq!(
        s.getex(b"k", GetExpiry::Keep, 0).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(s.ttl(b"k", 0), Ttl::Ms(100_000));
    assert_eq!(
        s.getex(b"k", GetExpiry::Persist, 0).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(s.ttl(b"k", 0), Ttl::Persistent);
    assert_eq!(s.expiring_len(), 0);
    assert_eq!(
        s.getex(b"k", GetExpiry::At(50), 10).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(s.ttl(b"k", 10), Ttl::Ms(40));
    assert_eq!(
        s.getex(b"k", GetExpiry::At(20), 10).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(s.ttl(b"k", 10), Ttl::Ms(10));
    // Redis: PXAT in the past answers the value, then the key is gone.
    assert_eq!(
        s.getex(b"k", GetExpiry::At(10), 10).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(s.ttl(b"k", 10), Ttl::Missing);
    assert_eq!((s.len(), s.expiring_len()), (0, 0));
    assert_eq!(s.stats().expired, 0);
    assert_eq!(s.getex(b"k", GetExpiry::Persist, 10), Ok(None));
    assert_eq!(counts(&s), (5, 1));
    assert_accounting(&s);
}

#[test]
fn incr_by_float_in_extended_precision() {
    let mut s = shard();
    let text = |r: Result<Box<[u8]>, StoreError>| r.map(|t| String::from_utf8(t.into()).unwrap());
    // Redis: 10.6, where f64 would give 10.59999999999999964.
    set(&mut s, "k", "10.5", SetExpiry::At(1000), 0);
    assert_eq!(
        text(s.incr_by_float(b"k", b"0.1", 0)).as_deref(),
        Ok("10.6")
    );
    assert_eq!(raw(&s, b"k").as_deref(), Some(&b"10.6"[..]));
    assert_eq!(s.ttl(b"k", 0), Ttl::Ms(1000));
    assert_eq!(text(s.incr_by_float(b"k", b"-5.6", 0)).as_deref(), Ok("5"));
    assert_eq!(
        text(s.incr_by_float(b"n", b"3.0e3", 0)).as_deref(),
        Ok("3000")
    );
    assert_eq!(
        text(s.incr_by_float(b"n", b"-0x1p2", 0)).as_deref(),
        Ok("2996")
    );
    set(&mut s, "i", "10", SetExpiry::Clear, 0);
    assert_eq!(text(s.incr_by_float(b"i", b"5", 0)).as_deref(), Ok("15"));
    assert_eq!(counts(&s), (0, 0));
    assert_accounting(&s);
}

#[test]
fn incr_by_float_errors_change_nothing() {
    let mut s = shard();
    set(&mut s, "bad", "abc", SetExpiry::Clear, 0);
    set(&mut s, "k", "1.5", SetExpiry::Clear, 0);
    set(&mut s, "big", "1e4932", SetExpiry::Clear, 0);
    for (key, incr, err) in [
        (&b"bad"[..], &b"1"[..], StoreError::NotFloat),
        (b"k", b"abc", StoreError::NotFloat),
        (b"k", b" 1", StoreError::NotFloat),
        (b"k", b"nan", StoreError::NotFloat),
        (b"k", b"", StoreError::NotFloat),
        (b"k", b"inf", StoreError::NanOrInfinity),
        (b"big", b"1e4932", StoreError::NanOrInfinity),
        (b"missing", b"x", StoreError::NotFloat),
        (b"missing", b"-inf", StoreError::NanOrInfinity),
    ] {
        assert_eq!(s.incr_by_float(key, incr, 0), Err(err));
    }
    assert_eq!(raw(&s, b"k").as_deref(), Some(&b"1.5"[..]));
    assert_eq!(raw(&s, b"bad").as_deref(), Some(&b"abc"[..]));
    assert_eq!(raw(&s, b"missing"), None);
    assert_eq!(
        StoreError::NotFloat.to_string(),
        "ERR value is not a valid float"
    );
    assert_eq!(
        StoreError::NanOrInfinity.to_string(),
        "ERR increment would produce NaN or Infinity"
    );
    assert_accounting(&s);
}

#[test]
fn writes_are_uses_and_reads_are_uses() {
    let mut s = shard();
    set(&mut s, "a", "1", SetExpiry::Clear, 0);
    let mut now = 0;
    let mut step = |s: &mut Shard, f: &dyn Fn(&mut Shard, u64)| {
        now += 5_000;
        f(s, now);
        assert_eq!(access(s, b"a"), super::super::access_secs(now));
    };
    step(&mut s, &|s, t| {
        let _ = s.append(b"a", b"1", MAX_BULK, t);
    });
    step(&mut s, &|s, t| {
        let _ = s.append(b"a", b"1", 2, t);
    }); // refused: still a use
    step(&mut s, &|s, t| {
        let _ = s.setrange(b"a", 0, b"2", MAX_BULK, t);
    });
    step(&mut s, &|s, t| {
        let _ = s.setrange(b"a", 0, b"", MAX_BULK, t);
    });
    step(&mut s, &|s, t| {
        let _ = s.incr_by_float(b"a", b"1", t);
    });
    step(&mut s, &|s, t| {
        let _ = s.incr_by_float(b"a", b"x", t);
    }); // refused: still a use
    step(&mut s, &|s, t| {
        let _ = s.strlen(b"a", t);
    });
    step(&mut s, &|s, t| {
        let _ = s.getrange(b"a", 0, 0, t);
    });
    step(&mut s, &|s, t| {
        let _ = s.getex(b"a", GetExpiry::Keep, t);
    });
    // Writes count no hit or miss; the three reads each counted a hit.
    assert_eq!(counts(&s), (3, 0));
}

#[test]
fn new_keys_get_the_default_ttl() {
    let mut s = Shard::new(ShardConfig {
        default_ttl_ms: Some(500),
        ..ShardConfig::default()
    });
    s.append(b"a", b"x", MAX_BULK, 0).unwrap();
    s.setrange(b"b", 2, b"x", MAX_BULK, 0).unwrap();
    s.incr_by_float(b"c", b"1.5", 0).unwrap();
    for k in [&b"a"[..], b"b", b"c"] {
        assert_eq!(s.ttl(k, 100), Ttl::Ms(400));
    }
    // Existing keys keep what they had.
    s.append(b"a", b"y", MAX_BULK, 100).unwrap();
    assert_eq!(s.ttl(b"a", 100), Ttl::Ms(400));
}

#[test]
fn growth_is_refused_when_memory_is_full() {
    let mut s = shard();
    set(&mut s, "k", "1.5", SetExpiry::Clear, 0);
    // No room for a single byte more.
    s.cfg.maxmemory = Some(s.used_bytes());
    assert_eq!(s.append(b"k", b"x", MAX_BULK, 0), Err(StoreError::Oom));
    assert_eq!(s.append(b"n", b"x", MAX_BULK, 0), Err(StoreError::Oom));
    assert_eq!(s.setrange(b"k", 5, b"x", MAX_BULK, 0), Err(StoreError::Oom));
    assert_eq!(s.incr_by_float(b"k", b"0.25", 0), Err(StoreError::Oom));
    assert_eq!(s.incr_by_float(b"n", b"1", 0), Err(StoreError::Oom));
    // What does not grow still runs; the limit is not passed.
    assert_eq!(s.setrange(b"k", 0, b"2", MAX_BULK, 0), Ok(3));
    assert_eq!(s.append(b"k", b"", MAX_BULK, 0), Ok(3));
    assert_eq!(s.incr_by_float(b"k", b"1", 0).as_deref(), Ok(&b"3.5"[..]));
    // Over the limit, as Redis's `denyoom`, even what would not grow or
    // would fail for another reason is refused with OOM first.
    s.cfg.maxmemory = Some(s.used_bytes() - 1);
    assert_eq!(s.append(b"k", b"", MAX_BULK, 0), Err(StoreError::Oom));
    assert_eq!(s.setrange(b"k", 0, b"", MAX_BULK, 0), Err(StoreError::Oom));
    assert_eq!(s.incr_by_float(b"k", b"x", 0), Err(StoreError::Oom));
    assert_eq!(s.append(b"k", b"xx", 2, 0), Err(StoreError::Oom));
    assert_eq!(raw(&s, b"k").as_deref(), Some(&b"3.5"[..]));
    // Reads and deletes never need room.
    assert_eq!(s.strlen(b"k", 0), Ok(3));
    assert_eq!(s.getdel(b"k", 0).unwrap().as_deref(), Some(&b"3.5"[..]));
    assert_accounting(&s);
}

#[test]
fn making_room_may_evict_the_key_itself() {
    let mut s = Shard::new(ShardConfig {
        eviction: Eviction::Lru,
        ..ShardConfig::default()
    });
    set(&mut s, "k", "1.5", SetExpiry::Clear, 0);
    set(&mut s, "j", "7", SetExpiry::Clear, 0);
    s.cfg.maxmemory = Some(s.used_bytes());
    // "k" is the least recently used: growing it evicts it first, and the
    // write then sees a missing key, as Redis (evicting first) would.
    assert_eq!(s.incr_by_float(b"k", b"100", 0).as_deref(), Ok(&b"100"[..]));
    assert_eq!(raw(&s, b"j").as_deref(), Some(&b"7"[..]));
    assert_eq!(s.stats().evicted, 1);
    set(&mut s, "j", "7", SetExpiry::Clear, 0);
    s.cfg.maxmemory = Some(s.used_bytes());
    assert_eq!(s.append(b"k", b"0000", MAX_BULK, 0), Ok(4));
    assert_eq!(raw(&s, b"k").as_deref(), Some(&b"0000"[..]));
    assert_accounting(&s);
}

#[test]
fn substr_range_bounds() {
    assert_eq!(substr_range(0, 0, -1), 0..0);
    assert_eq!(substr_range(5, 0, -1), 0..5);
    assert_eq!(substr_range(5, -2, -1), 3..5);
    assert_eq!(substr_range(5, 4, 4), 4..5);
    assert_eq!(substr_range(5, 5, 9), 0..0);
    assert_eq!(substr_range(5, i64::MIN, -1), 0..5);
}

/// Regression: APPEND and SETRANGE on the LRU victim itself reserved only
/// the growth, then evicted the key and recreated it with its full entry
/// cost, ending a few bytes past maxmemory.
#[test]
fn append_and_setrange_on_the_evicted_key_stay_within_maxmemory() {
    for setrange in [false, true] {
        let mut s = Shard::new(ShardConfig {
            eviction: Eviction::Lru,
            ..ShardConfig::default()
        });
        for i in 0..10u8 {
            let k = format!("k{i}").into_bytes();
            s.set(k, &b"v"[..], SetExpiry::Clear, SetCond::Always, false, 0)
                .unwrap();
        }
        let limit = s.used_bytes() + 3;
        s.set_maxmemory(Some(limit));
        if setrange {
            s.setrange(b"k0", 0, b"abcdef", MAX_BULK, 0).unwrap();
        } else {
            s.append(b"k0", b"abcdef", MAX_BULK, 0).unwrap();
        }
        assert!(s.used_bytes() <= limit, "{} > {limit}", s.used_bytes());
    }
}
