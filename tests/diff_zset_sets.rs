//! Differential tests of plain sets as sources of ZUNION, ZINTER, ZDIFF,
//! their STORE forms and ZINTERCARD against redis-server 7.0.15, byte for
//! byte, in RESP2 and after HELLO 3: each member of a set scores 1 and
//! weights multiply it, intsets and hashtable sets alike, mixed with
//! sorted sets and missing keys, on one core and across both (`{a}`, `{b}`
//! on core 0, `{x}`, `{y}` on core 1), and WRONGTYPE for every other type,
//! checked before the options are read.

mod common;

use common::diff::{compare_scripts, on_cores, Req};

/// Sets and sorted sets in every key: an intset `{a}`, a hashtable set
/// `{b}` and sorted sets `{x}`, `{y}`.
const SETUP: &[&str] = &[
    "SADD {a} 1 2 3 10",
    "SADD {b} m n 2 o",
    "ZADD {x} 1.5 1 2.5 2 -4 m 7 zz",
    "ZADD {y} 0.25 n 3 3",
];

/// The read forms and ZINTERCARD over every mix of sources.
const READS: &[&str] = &[
    "ZUNION 1 {a}",
    "ZUNION 1 {a} WITHSCORES",
    "ZUNION 2 {a} {b} WITHSCORES",
    "ZUNION 2 {a} {x} WITHSCORES",
    "ZUNION 4 {a} {b} {x} {y} WITHSCORES",
    "ZUNION 3 {a} {x} {missing} WITHSCORES",
    "ZUNION 2 {a} {x} WEIGHTS 2 3 WITHSCORES",
    "ZUNION 2 {b} {y} WEIGHTS -1.5 10 WITHSCORES",
    "ZUNION 2 {a} {x} AGGREGATE MIN WITHSCORES",
    "ZUNION 2 {a} {x} AGGREGATE MAX WITHSCORES",
    "ZUNION 2 {a} {x} WEIGHTS inf -inf WITHSCORES",
    "ZUNION 2 {a} {a} WITHSCORES",
    "ZUNION 2 {a} {b} WEIGHTS 0 0 WITHSCORES",
    "ZINTER 2 {a} {b}",
    "ZINTER 2 {a} {b} WITHSCORES",
    "ZINTER 2 {a} {x} WITHSCORES",
    "ZINTER 2 {x} {a} WEIGHTS 4 0.5 WITHSCORES",
    "ZINTER 2 {b} {x} AGGREGATE MAX WITHSCORES",
    "ZINTER 2 {b} {y} AGGREGATE MIN WITHSCORES",
    "ZINTER 3 {a} {b} {x} WITHSCORES",
    "ZINTER 2 {a} {a} WEIGHTS 2 3 WITHSCORES",
    "ZINTER 2 {a} {missing} WITHSCORES",
    "ZINTER 2 {a} {x} WEIGHTS inf -inf WITHSCORES",
    "ZDIFF 2 {a} {b}",
    "ZDIFF 2 {a} {b} WITHSCORES",
    "ZDIFF 2 {a} {x} WITHSCORES",
    "ZDIFF 2 {x} {a} WITHSCORES",
    "ZDIFF 3 {b} {a} {y} WITHSCORES",
    "ZDIFF 2 {a} {a}",
    "ZDIFF 2 {a} {missing} WITHSCORES",
    "ZINTERCARD 2 {a} {b}",
    "ZINTERCARD 2 {a} {x}",
    "ZINTERCARD 3 {a} {b} {x}",
    "ZINTERCARD 2 {a} {a} LIMIT 3",
    "ZINTERCARD 1 {b} LIMIT 0",
    "ZINTERCARD 2 {a} {missing}",
];

/// The STORE forms, with sets as sources and as the destination.
const STORES: &[&str] = &[
    "ZUNIONSTORE {b} 2 {a} {x}",
    "TYPE {b}",
    "ZRANGE {b} 0 -1 WITHSCORES",
    "OBJECT ENCODING {b}",
    "SADD {b} m n 2 o",
    "ZUNIONSTORE {y} 2 {a} {b} WEIGHTS 2 -1",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZINTERSTORE {dst} 2 {b} {x} AGGREGATE MAX",
    "ZRANGE {dst} 0 -1 WITHSCORES",
    "ZINTERSTORE {dst} 2 {a} {b} WEIGHTS 3 4",
    "ZRANGE {dst} 0 -1 WITHSCORES",
    "ZDIFFSTORE {dst} 2 {a} {b}",
    "ZRANGE {dst} 0 -1 WITHSCORES",
    "ZDIFFSTORE {dst} 2 {a} {a}",
    "EXISTS {dst}",
    // A set that is both a source and the destination becomes a zset.
    "ZUNIONSTORE {a} 2 {a} {x}",
    "TYPE {a}",
    "ZRANGE {a} 0 -1 WITHSCORES",
    "SADD {a} 1 2 3 10",
    "ZINTERSTORE {a} 1 {a} WEIGHTS 5",
    "TYPE {a}",
    "ZRANGE {a} 0 -1 WITHSCORES",
];

/// Other types as sources: WRONGTYPE, before option and syntax errors;
/// the errors of numkeys and options as with sorted sets.
const ERRORS: &[&str] = &[
    "SET {s} str",
    "RPUSH {l} 1 2",
    "HSET {h} f v",
    "ZUNION 2 {a} {s}",
    "ZUNION 2 {a} {l} WITHSCORES",
    "ZINTER 2 {h} {a}",
    "ZDIFF 2 {a} {l}",
    "ZINTERCARD 2 {a} {h}",
    "ZUNIONSTORE {dst} 2 {a} {l}",
    "ZINTERSTORE {dst} 2 {s} {a}",
    "ZDIFFSTORE {dst} 2 {a} {h}",
    "ZUNION 2 {a} {l} BOGUS",
    "ZINTER 2 {a} {s} WEIGHTS x y",
    "ZUNION 2 {a} {b} WEIGHTS 1 x",
    "ZUNION 2 {a} {b} AGGREGATE avg",
    "ZINTERCARD 2 {a} {b} LIMIT -1",
    "ZUNION 0 {a}",
    "ZUNION 3 {a} {b}",
    "ZDIFF 2 {a} {b} WEIGHTS 1 1",
    "ZUNIONSTORE {dst} 2 {a} {b} WITHSCORES",
    "EXISTS {dst}",
];

/// Sets past the sorted set's 128-member listpack limit, and an intset
/// past its own 512.
fn big() -> Vec<String> {
    let ints: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
    let scored: Vec<String> = (0..150).map(|i| format!("{} w{}", i * 3, i * 2)).collect();
    vec![
        "FLUSHALL".into(),
        format!("SADD {{a}} {}", ints[..300].join(" ")),
        format!("SADD {{b}} {}", ints.join(" ")),
        format!("SADD {{x}} {}", words.join(" ")),
        format!("ZADD {{y}} {}", scored.join(" ")),
        "OBJECT ENCODING {a}".into(),
        "OBJECT ENCODING {b}".into(),
        "ZUNION 2 {a} {x} WITHSCORES".into(),
        "ZINTER 2 {x} {y} WEIGHTS 2 1 WITHSCORES".into(),
        "ZDIFF 2 {b} {a}".into(),
        "ZINTERCARD 2 {a} {b}".into(),
        "ZINTERCARD 2 {a} {b} LIMIT 17".into(),
        "ZUNIONSTORE {dst} 3 {a} {x} {y}".into(),
        "OBJECT ENCODING {dst}".into(),
        "ZCARD {dst}".into(),
        "ZRANGE {dst} 0 -1 WITHSCORES".into(),
        "ZDIFFSTORE {dst} 2 {x} {y}".into(),
        "OBJECT ENCODING {dst}".into(),
        "ZRANGE {dst} 0 -1 WITHSCORES".into(),
    ]
}

/// `lines` after SETUP, with the keys `{missing}`, `{dst}`, `{s}`, `{l}`,
/// `{h}` on one core or the other: the algebra reads them all from the
/// requesting core's span.
fn script(lines: &[String]) -> Vec<Req> {
    let named = |l: &String| {
        l.replace("{missing}", "{y}-missing")
            .replace("{dst}", "{a}-dst")
            .replace("{s}", "{x}-s")
            .replace("{l}", "{b}-l")
            .replace("{h}", "{x}-h")
    };
    let mut all: Vec<String> = SETUP.iter().map(|s| s.to_string()).collect();
    all.extend(lines.iter().map(named));
    on_cores("zs", &all)
}

fn owned(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|s| s.to_string()).collect()
}

fn scripts() -> Vec<(String, Vec<Req>)> {
    vec![
        ("reads".into(), script(&owned(READS))),
        ("stores".into(), script(&owned(STORES))),
        ("errors".into(), script(&owned(ERRORS))),
        ("big".into(), script(&big())),
    ]
}

#[test]
fn set_sources_match_redis() {
    compare_scripts(scripts(), false);
}

#[test]
fn set_sources_match_redis_resp3() {
    compare_scripts(scripts(), true);
}
