//! Differential tests of KEYS, SCAN and RANDOMKEY against redis-server
//! 7.0.15, on a two-core node.
//!
//! Byte for byte (the harness in `common::diff`): KEYS over a keyspace of
//! one key at a time, so its reply cannot differ by order, with the glob
//! corner cases and the empty key; RANDOMKEY on an empty keyspace and on
//! one key of either core; every SCAN error, in Redis's order; all of them
//! inside MULTI and after HELLO 3. SCAN's cursors are the node's own (it
//! walks one core after the other), so a successful SCAN is compared as a
//! set instead: [`keys_and_full_scans_list_the_same_sets`] fills both
//! servers alike and compares sorted KEYS replies and the sorted keys of
//! full scans with MATCH, COUNT and TYPE.
//!
//! Skipped, with a notice on the terminal, when `redis-server` is not on
//! PATH; a failure instead with `CACHECTL_REQUIRE_REDIS=1`.

mod common;

use common::diff::{a, block, c, compare, unchecked, Req};
use common::{keys_on_shard, redis_conn, Node, RedisServer};
use std::collections::BTreeSet;

/// Keys with the bytes glob patterns treat specially.
const KEYS: &[&[u8]] = &[
    b"",
    b"a",
    b"ab",
    b"hello",
    b"hallo",
    b"h?llo",
    b"x*y",
    b"[",
    b"]",
    b"\\",
    b"a]b",
    b"-",
    b"^",
    b"\xc3\xa9",
    b"\xff",
    b"\x80",
    b"A",
    b"a\nb",
    b"foo:bar:1",
];

/// Patterns, each the corner of Redis's `stringmatchlen` it is named by.
const PATTERNS: &[&[u8]] = &[
    b"*",
    b"",
    b"?",
    b"??",
    b"**",
    b"*?",
    b"?*",
    b"a*",
    b"*a",
    b"*b",
    b"a",
    b"A",
    b"[a]",
    b"[^a]",
    b"[a-z]",
    b"[z-a]",
    b"[A-a]",
    b"[]",
    b"[^]",
    b"[",
    b"[a",
    b"[^",
    b"\\",
    b"\\a",
    b"a\\",
    b"\\\\",
    b"[\\]]",
    b"[]]",
    b"[\\",
    b"[a-]",
    b"[-a]",
    b"[-]",
    b"[\\-]",
    b"[a-\xff]",
    b"[\x80-]",
    b"[\x80-\xff]",
    b"h[ae]llo",
    b"h[^e]llo",
    b"h?llo",
    b"h\\?llo",
    b"h*llo",
    b"h**o",
    b"x\\*y",
    b"x*y",
    b"*\\*",
    b"a]b",
    b"a[]]b",
    b"a?b",
    b"foo:*:1",
    b"foo:*:",
    b"*:*:*",
    b"\xc3?",
    b"??*",
    b"*******************a",
];

/// SET `key` to a value, then KEYS with every pattern: at most one key
/// matches, so the replies compare byte for byte.
fn globs_on(key: &[u8]) -> Vec<Req> {
    let mut s = vec![a(&[b"SET", key, b"v"])];
    s.extend(PATTERNS.iter().map(|p| a(&[b"KEYS", p])));
    s
}

/// `{a}` on core 0 and `{x}` on core 1 of the two-core node.
fn script(lines: &[&str]) -> Vec<Req> {
    let s0 = &keys_on_shard("k", 0, 2, 1)[0];
    let s1 = &keys_on_shard("k", 1, 2, 1)[0];
    lines
        .iter()
        .map(|l| c(&l.replace("{a}", s0).replace("{x}", s1)))
        .collect()
}

fn randomkey_and_keys() -> Vec<Req> {
    let mut s = script(&[
        "RANDOMKEY",
        "KEYS *",
        "SET {a} 1",
        "RANDOMKEY",
        "KEYS *",
        "KEYS {a}",
        "DEL {a}",
        "SET {x} 2",
        "RANDOMKEY",
        "KEYS *",
        "KEYS {x}*",
        "DEL {x}",
        "RANDOMKEY",
        "KEYS",
        "KEYS a b",
        "RANDOMKEY x",
        "randomkey",
        "keys *",
    ]);
    s.extend([
        a(&[b"SET", b"", b"empty"]),
        c("RANDOMKEY"),
        c("KEYS *"),
        a(&[b"KEYS", b""]),
        a(&[b"DEL", b""]),
        c("RANDOMKEY"),
    ]);
    s
}

fn scan_errors() -> Vec<Req> {
    let mut s = script(&[
        "SET {a} 1",
        "SET {x} 2",
        "SCAN",
        "SCAN x",
        "SCAN 1.5",
        "SCAN 0x1",
        "SCAN -",
        "SCAN +",
        "SCAN 18446744073709551616",
        "SCAN -18446744073709551616",
        "SCAN 99999999999999999999999",
        "SCAN x COUNT 0",
        "SCAN x BOGUS",
        "SCAN 0 COUNT",
        "SCAN 0 COUNT 0",
        "SCAN 0 COUNT -1",
        "SCAN 0 COUNT x",
        "SCAN 0 COUNT +5",
        "SCAN 0 COUNT 1.5",
        "SCAN 0 COUNT 9223372036854775808",
        "SCAN 0 COUNT 0 COUNT x",
        "SCAN 0 COUNT x COUNT 0",
        "SCAN 0 MATCH",
        "SCAN 0 TYPE",
        "SCAN 0 MATCH * COUNT",
        "SCAN 0 BOGUS 1",
        "SCAN 0 COUNT 1 BOGUS",
        "SCAN 0 TYPE hash COUNT 0",
        "SCAN 0 MATCH a MATCH",
        "scan 0 count 0",
        "SCAN 0 KEY x",
    ]);
    s.extend([
        a(&[b"SCAN", b" 1"]),
        a(&[b"SCAN", b"1 "]),
        a(&[b"SCAN", b"\t1"]),
        a(&[b"SCAN", b"0", b"COUNT", b" 5"]),
        a(&[b"SCAN", b"0", b"COUNT", b"5\x00"]),
        a(&[b"SCAN", b"0", b"COUNT", b""]),
    ]);
    s
}

fn in_multi() -> Vec<Req> {
    let s0 = &keys_on_shard("k", 0, 2, 1)[0];
    let s1 = &keys_on_shard("k", 1, 2, 1)[0];
    let set0 = format!("SET {s0} 1");
    let set1 = format!("SET {s1} 2");
    let keys1 = format!("KEYS {s1}");
    vec![
        block(&[
            "MULTI",
            "RANDOMKEY",
            "KEYS *",
            set0.as_str(),
            "RANDOMKEY",
            "KEYS *",
            "SCAN x",
            "SCAN 0 COUNT 0",
            "SCAN 0 COUNT y",
            "EXEC",
        ]),
        block(&["MULTI", set1.as_str(), keys1.as_str(), "KEYS k*z", "EXEC"]),
        // An arity error while queueing aborts the transaction.
        block(&["MULTI", "KEYS *", "KEYS", "EXEC"]),
        block(&["MULTI", "SCAN", "RANDOMKEY", "EXEC"]),
        c("DBSIZE"),
    ]
}

/// Every byte-for-byte script, after `HELLO 3` first when `resp3`.
fn scripts(resp3: bool) -> Vec<(String, Vec<Req>)> {
    let mut all: Vec<(String, Vec<Req>)> = vec![
        ("randomkey and keys".into(), randomkey_and_keys()),
        ("scan errors".into(), scan_errors()),
        ("in multi".into(), in_multi()),
    ];
    for key in KEYS {
        all.push((
            format!("globs on {:?}", key.escape_ascii().to_string()),
            globs_on(key),
        ));
    }
    if resp3 {
        for (name, s) in &mut all {
            name.push_str(" (RESP3)");
            s.insert(0, unchecked("HELLO 3"));
        }
    }
    all
}

#[test]
fn keys_randomkey_and_scan_errors_match_redis() {
    let all = scripts(false);
    let borrowed: Vec<(&str, Vec<Req>)> = all.into_iter().map(|(n, s)| (leak(n), s)).collect();
    compare(&borrowed);
}

#[test]
fn the_same_after_hello_3() {
    let all = scripts(true);
    let borrowed: Vec<(&str, Vec<Req>)> = all.into_iter().map(|(n, s)| (leak(n), s)).collect();
    compare(&borrowed);
}

/// A script name for `compare`, which takes `&str`s (a few bytes per test
/// run, for the test's life).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The keys of a whole SCAN with `opts`, sorted; fails on a repeated key
/// (none is written during the scan) or a non-decimal cursor.
fn full_scan(con: &mut redis::Connection, opts: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    for _ in 0..100_000 {
        let (next, got): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg(opts)
            .query(con)
            .unwrap_or_else(|e| panic!("SCAN {cursor} {opts:?}: {e}"));
        assert!(next.parse::<u64>().is_ok(), "decimal u64 cursor: {next:?}");
        keys.extend(got);
        if next == "0" {
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "SCAN {opts:?} repeated a key");
            return keys;
        }
        cursor = next;
    }
    panic!("SCAN {opts:?} did not end");
}

#[test]
fn keys_and_full_scans_list_the_same_sets() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let mut r = redis_conn(redis.addr());
    let mut n = redis_conn(node.addr());
    let mut keys: Vec<Vec<u8>> = KEYS.iter().map(|k| k.to_vec()).collect();
    keys.extend((0..300).map(|i| format!("user:{i}").into_bytes()));
    keys.extend((0..50).map(|i| format!("{{tag}}:{i}").into_bytes()));
    for con in [&mut r, &mut n] {
        let _: () = redis::cmd("FLUSHALL").query(con).unwrap();
        for k in &keys {
            let _: () = redis::cmd("SET").arg(k).arg("v").query(con).unwrap();
        }
    }
    let on_core1 = keys
        .iter()
        .filter(|k| cachectl::ownership::shard_for(k, 2) == 1)
        .count();
    assert!(on_core1 > 0 && on_core1 < keys.len(), "keys on both cores");

    let sorted_keys = |con: &mut redis::Connection, p: &[u8]| -> Vec<Vec<u8>> {
        let mut got: Vec<Vec<u8>> = redis::cmd("KEYS").arg(p).query(con).unwrap();
        got.sort();
        got
    };
    let mut patterns: Vec<&[u8]> = PATTERNS.to_vec();
    patterns.extend([
        &b"user:1*"[..],
        b"user:?",
        b"*:1?",
        b"{tag}*",
        b"\\{tag\\}:[0-4]",
    ]);
    for p in &patterns {
        let want = sorted_keys(&mut r, p);
        assert_eq!(
            sorted_keys(&mut n, p),
            want,
            "KEYS {:?}",
            p.escape_ascii().to_string()
        );
        let m: &[&[u8]] = &[b"MATCH", p];
        assert_eq!(
            full_scan(&mut n, m),
            want,
            "SCAN MATCH {:?}",
            p.escape_ascii().to_string()
        );
        assert_eq!(
            full_scan(&mut r, m),
            want,
            "redis's SCAN MATCH agrees with its KEYS"
        );
    }

    let all: BTreeSet<Vec<u8>> = keys.iter().cloned().collect();
    let all: Vec<Vec<u8>> = all.into_iter().collect();
    let option_sets: &[&[&[u8]]] = &[
        &[],
        &[b"COUNT", b"1"],
        &[b"COUNT", b"3"],
        &[b"COUNT", b"1000"],
        &[b"COUNT", b"9223372036854775807"],
        &[b"TYPE", b"string"],
        &[b"type", b"STRING", b"count", b"7"],
        &[b"TYPE", b"hash"],
        &[b"TYPE", b"nosuchtype"],
        &[b"TYPE", b"none"],
        &[b"MATCH", b"user:*", b"COUNT", b"2", b"TYPE", b"string"],
        &[b"MATCH", b"a", b"MATCH", b"user:7"],
    ];
    for opts in option_sets {
        let want = full_scan(&mut r, opts);
        assert_eq!(full_scan(&mut n, opts), want, "SCAN {opts:?}");
    }
    assert_eq!(full_scan(&mut n, &[]), all, "a plain SCAN lists every key");

    for _ in 0..50 {
        let k: Vec<u8> = redis::cmd("RANDOMKEY").query(&mut n).unwrap();
        assert!(all.binary_search(&k).is_ok(), "RANDOMKEY gave {k:?}");
    }
}
