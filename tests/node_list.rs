//! Differential tests of the non-blocking list commands against
//! redis-server 7.0.15, byte for byte, in RESP2 and again after `HELLO 3`
//! (the null bulk and null array differ there), on a two-core node.
//!
//! Every command's replies, its errors in Redis's order of checks (a bad
//! argument against a missing key, a wrong type against a bad argument),
//! WRONGTYPE, deleted-when-empty keys, lists long enough to span many
//! packed nodes (and edits in their middle), and the two-key commands
//! (LMOVE, RPOPLPUSH, LMPOP) with keys on the same core and on different
//! cores, inside MULTI too.
//!
//! Skipped, with a notice on the terminal, when `redis-server` is not on
//! PATH; a failure instead with `CACHECTL_REQUIRE_REDIS=1`.

mod common;

use common::diff::{a, block, c, compare_scripts, Req};
use common::keys_on_shard;

fn script(lines: &[&str]) -> Vec<Req> {
    lines.iter().map(|l| c(l)).collect()
}

fn pushes_and_pops() -> Vec<Req> {
    script(&[
        "LPUSH l a b c",
        "RPUSH l d e",
        "LRANGE l 0 -1",
        "LPUSHX l x",
        "RPUSHX l y z",
        "LPUSHX nokey x",
        "RPUSHX nokey x",
        "EXISTS nokey",
        "LLEN l",
        "LLEN nokey",
        "LPOP l",
        "RPOP l",
        "LPOP l 2",
        "RPOP l 2",
        "LPOP l 0",
        "RPOP l 0",
        "LPOP nokey",
        "RPOP nokey",
        "LPOP nokey 2",
        "RPOP nokey 0",
        "LPOP l abc",
        "LPOP l -1",
        "LPOP nokey -1",
        "LPOP l 1.5",
        "LPOP l 1 2",
        "RPOP l 1 2",
        "LPOP l 100",
        "EXISTS l",
        "LLEN l",
        "RPUSH one v",
        "RPOP one 1",
        "EXISTS one",
        "RPUSH one v",
        "LPOP one",
        "EXISTS one",
        "LPUSH",
        "LPUSH l",
        "RPUSH l",
        "LPUSHX l",
        "LPOP",
        "LLEN",
        "LLEN a b",
        "OBJECT ENCODING nokey",
        "RPUSH enc 1 2 3",
        "OBJECT ENCODING enc",
        "TYPE enc",
        "SET s v",
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s 2",
        "LPOP s abc",
        "LLEN s",
        "COPY enc enc2",
        "LRANGE enc2 0 -1",
        "RPUSH enc2 4",
        "LLEN enc",
        "RENAME enc2 enc3",
        "LRANGE enc3 0 -1",
        "EXPIRE enc3 100",
        "LPOP enc3",
        "PERSIST enc3",
        "TYPE enc3",
        "DEL enc3",
        "GET s",
        "GET enc",
        "APPEND enc x",
        "INCR enc",
    ])
}

fn reads() -> Vec<Req> {
    script(&[
        "RPUSH l a b c d e a b",
        "LRANGE l 0 -1",
        "LRANGE l 0 0",
        "LRANGE l -2 -1",
        "LRANGE l -100 100",
        "LRANGE l 5 2",
        "LRANGE l 7 10",
        "LRANGE l -1 -2",
        "LRANGE l 2 -3",
        "LRANGE l -9223372036854775808 9223372036854775807",
        "LRANGE l a 1",
        "LRANGE l 1 b",
        "LRANGE nokey 0 -1",
        "LRANGE nokey a b",
        "LRANGE l 0",
        "LINDEX l 0",
        "LINDEX l -1",
        "LINDEX l 6",
        "LINDEX l 7",
        "LINDEX l -7",
        "LINDEX l -8",
        "LINDEX l -9223372036854775808",
        "LINDEX l abc",
        "LINDEX nokey abc",
        "LINDEX nokey 0",
        "LINDEX l",
        "LPOS l a",
        "LPOS l b",
        "LPOS l z",
        "LPOS l a RANK 2",
        "LPOS l a RANK 3",
        "LPOS l a RANK -1",
        "LPOS l a RANK -2",
        "LPOS l a RANK -3",
        "LPOS l a COUNT 0",
        "LPOS l a COUNT 1",
        "LPOS l a COUNT 5",
        "LPOS l z COUNT 0",
        "LPOS l a RANK -1 COUNT 0",
        "LPOS l a RANK 2 COUNT 0",
        "LPOS l a MAXLEN 1",
        "LPOS l a MAXLEN 5",
        "LPOS l a MAXLEN 6",
        "LPOS l a MAXLEN 6 COUNT 0",
        "LPOS l b RANK -1 MAXLEN 1",
        "LPOS l b RANK -1 MAXLEN 2",
        "LPOS l a RANK -9223372036854775808",
        "LPOS l a RANK -9223372036854775808 COUNT 1",
        "LPOS l a RANK 9223372036854775807",
        "LPOS l a RANK 0",
        "LPOS l a RANK x",
        "LPOS l a COUNT -1",
        "LPOS l a COUNT x",
        "LPOS l a MAXLEN -1",
        "LPOS l a MAXLEN x",
        "LPOS l a FOO",
        "LPOS l a RANK",
        "LPOS l a COUNT 1 RANK 0",
        "LPOS l a rank 2 count 2 maxlen 0",
        "LPOS nokey a",
        "LPOS nokey a COUNT 1",
        "LPOS nokey a RANK 0",
        "LPOS l",
        "SET s v",
        "LRANGE s 0 -1",
        "LRANGE s a b",
        "LINDEX s 0",
        "LINDEX s abc",
        "LPOS s a",
        "LPOS s a RANK 0",
    ])
}

fn edits() -> Vec<Req> {
    script(&[
        "RPUSH l a b c a b c a",
        "LSET l 0 A",
        "LSET l -1 Z",
        "LSET l 7 x",
        "LSET l -8 x",
        "LSET l abc x",
        "LSET nokey 0 x",
        "LSET nokey abc x",
        "LRANGE l 0 -1",
        "LINSERT l BEFORE b B",
        "LINSERT l after c C",
        "LINSERT l before nothere x",
        "LINSERT l middle b x",
        "LINSERT nokey before a x",
        "LINSERT nokey middle a x",
        "LRANGE l 0 -1",
        "LREM l 1 b",
        "LREM l -1 c",
        "LREM l 0 a",
        "LREM l 0 nothere",
        "LREM l x a",
        "LREM nokey 0 a",
        "LREM nokey x a",
        "LRANGE l 0 -1",
        "LREM l 0 B",
        "LREM l 0 C",
        "LREM l 0 b",
        "LREM l 0 c",
        "LRANGE l 0 -1",
        "LREM l 0 A",
        "LREM l 0 Z",
        "EXISTS l",
        "RPUSH t 0 1 2 3 4 5 6 7 8 9",
        "LTRIM t 1 -2",
        "LRANGE t 0 -1",
        "LTRIM t -3 100",
        "LRANGE t 0 -1",
        "LTRIM t 0 0",
        "LRANGE t 0 -1",
        "LTRIM t a 0",
        "LTRIM t 0 b",
        "LTRIM nokey 0 1",
        "LTRIM nokey a 1",
        "LTRIM t 1 0",
        "EXISTS t",
        "RPUSH t 1 2",
        "LTRIM t 5 10",
        "EXISTS t",
        "LSET l",
        "LINSERT l before a",
        "LREM l 0",
        "LTRIM l 0",
        "SET s v",
        "LSET s 0 x",
        "LSET s abc x",
        "LINSERT s before a x",
        "LINSERT s middle a x",
        "LREM s 0 a",
        "LREM s x a",
        "LTRIM s 0 1",
        "LTRIM s x 1",
    ])
}

/// Lists of thousands of items and big items, so they span many nodes:
/// indexes, ranges and edits that land in the middle, and both ends.
fn long_lists() -> Vec<Req> {
    let mut v = Vec::new();
    let items: Vec<String> = (0..3000).map(|i| format!("item-{i}")).collect();
    let mut args: Vec<&[u8]> = vec![b"RPUSH", b"big"];
    args.extend(items.iter().map(|s| s.as_bytes()));
    v.push(a(&args));
    args[0] = b"LPUSH";
    v.push(a(&args));
    let large = vec![b'x'; 10_000];
    let medium = vec![b'y'; 300];
    v.push(a(&[b"RPUSH", b"big", &large, &medium, b"", &large]));
    v.push(a(&[b"LPUSH", b"big", &medium, &large]));
    v.extend(script(&[
        "LLEN big",
        "LINDEX big 0",
        "LINDEX big 2999",
        "LINDEX big 3001",
        "LINDEX big 4500",
        "LINDEX big -3",
        "LINDEX big -5000",
        "LRANGE big 2990 3010",
        "LRANGE big -10 -1",
        "LRANGE big 100 140",
        "LPOS big item-7",
        "LPOS big item-7 RANK -1",
        "LPOS big item-7 COUNT 0",
        "LPOS big item-2999 MAXLEN 3000",
        "LPOS big item-2999 MAXLEN 3001",
        "LSET big 1500 mid",
        "LSET big -1500 mid2",
        "LINSERT big AFTER item-1000 new1",
        "LINSERT big BEFORE item-2000 new2",
        "LRANGE big 1495 1505",
        "LREM big 2 item-5",
        "LREM big -1 item-6",
        "LREM big 0 item-9",
        "LLEN big",
        "LPOP big 3",
        "RPOP big 2",
        "LTRIM big 1000 -1000",
        "LLEN big",
        "LRANGE big 0 3",
        "LRANGE big -3 -1",
        "LTRIM big 1 1",
        "LRANGE big 0 -1",
    ]));
    // Many front pushes then back pops: the pushes fill node gaps.
    for i in 0..300 {
        v.push(c(&format!("LPUSH q {i}")));
    }
    v.extend(script(&[
        "RPOP q 150",
        "LRANGE q 0 5",
        "LPOP q 200",
        "EXISTS q",
    ]));
    // Binary items.
    v.push(a(&[b"RPUSH", b"bin", b"\x00\xff", b"a\r\nb", b"", b"\x00"]));
    v.push(a(&[b"LPOS", b"bin", b""]));
    v.push(a(&[b"LREM", b"bin", b"0", b"\x00"]));
    v.push(a(&[b"LINSERT", b"bin", b"AFTER", b"", b"\r\n"]));
    v.extend(script(&["LRANGE bin 0 -1"]));
    v
}

/// LMOVE, RPOPLPUSH and LMPOP with `src` and `dst` on cores `s` and `d`.
fn two_keys(s: usize, d: usize) -> Vec<Req> {
    let ks = keys_on_shard("src", s, 2, 1);
    let kd = keys_on_shard("dst", d, 2, 1);
    let ke = keys_on_shard("gone", 1 - s, 2, 1);
    let (src, dst, gone) = (&ks[0], &kd[0], &ke[0]);
    let lines = [
        format!("RPUSH {src} a b c d"),
        format!("LMOVE {src} {dst} LEFT RIGHT"),
        format!("LMOVE {src} {dst} RIGHT LEFT"),
        format!("LMOVE {src} {dst} left left"),
        format!("LRANGE {src} 0 -1"),
        format!("LRANGE {dst} 0 -1"),
        format!("RPOPLPUSH {src} {dst}"),
        format!("EXISTS {src}"),
        format!("LMOVE {src} {dst} LEFT RIGHT"),
        format!("RPOPLPUSH {src} {dst}"),
        format!("LRANGE {dst} 0 -1"),
        format!("LMOVE {dst} {dst} LEFT RIGHT"),
        format!("LMOVE {dst} {dst} RIGHT RIGHT"),
        format!("RPOPLPUSH {dst} {dst}"),
        format!("LRANGE {dst} 0 -1"),
        format!("LMOVE {dst} {src} UP LEFT"),
        format!("LMOVE {dst} {src} LEFT DOWN"),
        format!("LMOVE {gone} {src} UP LEFT"),
        format!("SET {gone} str"),
        format!("LMOVE {dst} {gone} LEFT LEFT"),
        format!("RPOPLPUSH {dst} {gone}"),
        format!("LMOVE {gone} {dst} LEFT LEFT"),
        format!("RPOPLPUSH {gone} {dst}"),
        format!("RPOPLPUSH {src} {gone}"),
        format!("LMOVE {src} {gone} LEFT LEFT"),
        format!("LRANGE {dst} 0 -1"),
        format!("GET {gone}"),
        format!("DEL {gone}"),
        format!("LMOVE {dst} {dst} LEFT LEFT"),
        format!("RPUSH {src} x y z"),
        format!("LMPOP 2 {dst} {src} LEFT"),
        format!("LMPOP 2 {gone} {src} RIGHT COUNT 2"),
        format!("LMPOP 2 {src} {dst} right count 10"),
        format!("LMPOP 2 {src} {dst} LEFT"),
        format!("LMPOP 3 {src} {dst} {gone} LEFT"),
        format!("RPUSH {dst} 1 2 3"),
        format!("SET {gone} str"),
        format!("LMPOP 2 {src} {gone} LEFT"),
        format!("LMPOP 2 {dst} {gone} LEFT"),
        format!("LMPOP 2 {gone} {dst} LEFT"),
        format!("LMPOP 1 {dst} LEFT COUNT 0"),
        format!("LMPOP 1 {dst} LEFT COUNT -1"),
        format!("LMPOP 1 {dst} LEFT COUNT x"),
        format!("LMPOP 1 {dst} LEFT COUNT 1 COUNT 1"),
        format!("LMPOP 1 {dst} LEFT COUNT 0 COUNT 1"),
        format!("LMPOP 1 {dst} LEFT COUNT"),
        format!("LMPOP 1 {dst} LEFT FOO"),
        format!("LMPOP 1 {dst} MIDDLE"),
        format!("LMPOP 0 {dst} LEFT"),
        format!("LMPOP -1 {dst} LEFT"),
        format!("LMPOP x {dst} LEFT"),
        format!("LMPOP 3 {dst} LEFT"),
        format!("LMPOP 2 {dst} LEFT"),
        format!("LMPOP 9223372036854775807 {dst} LEFT"),
        format!("LMPOP 1 {dst} left count 9223372036854775807"),
        format!("EXISTS {dst}"),
        "LMPOP 1 k".into(),
        "LMOVE a b LEFT".into(),
        "RPOPLPUSH a".into(),
        format!("RPUSH {src} m"),
    ];
    let mut v: Vec<Req> = lines.iter().map(|l| c(l)).collect();
    v.push(block(&[
        "MULTI",
        &format!("LMOVE {src} {dst} LEFT LEFT"),
        &format!("RPOPLPUSH {dst} {src}"),
        &format!("LMPOP 2 {dst} {src} LEFT COUNT 5"),
        &format!("LMOVE {src} {dst} UP LEFT"),
        "EXEC",
    ]));
    v.push(c(&format!("EXISTS {src} {dst}")));
    v
}

fn in_multi() -> Vec<Req> {
    vec![
        block(&[
            "MULTI",
            "RPUSH m a b c",
            "LPOP m 2",
            "LPOP m abc",
            "LRANGE m 0 -1",
            "LPOS m c COUNT 0",
            "RPOP m",
            "RPOP m",
            "LPOP m 1",
            "EXEC",
        ]),
        c("EXISTS m"),
    ]
}

/// WATCH of a list, then one command on it, then a transaction: EXEC
/// fails exactly when Redis's command signalled a change (a push, a pop, an
/// LREM that removed something, every LTRIM of an existing key) and runs
/// when it did not (LREM or LINSERT that found nothing, pops of a missing
/// key, reads). `other` is a key on another core, for the two-key commands.
fn watched(core: usize) -> Vec<Req> {
    let k = &keys_on_shard("w", core, 2, 1)[0];
    let other = &keys_on_shard("o", 1 - core, 2, 1)[0];
    let cmds = [
        format!("LPUSH {k} x"),
        format!("RPUSHX {k} x"),
        "LPUSHX nokey x".to_string(),
        format!("LPOP {k}"),
        format!("RPOP {k} 0"),
        "LPOP nokey".to_string(),
        format!("LSET {k} 0 v"),
        format!("LSET {k} 99 v"),
        format!("LINSERT {k} BEFORE a v"),
        format!("LINSERT {k} BEFORE nothere v"),
        format!("LREM {k} 0 a"),
        format!("LREM {k} 0 nothere"),
        format!("LTRIM {k} 0 -1"),
        "LTRIM nokey 0 -1".to_string(),
        format!("LRANGE {k} 0 -1"),
        format!("LPOS {k} a"),
        format!("LMOVE {k} {other} LEFT LEFT"),
        format!("LMOVE {other} {k} LEFT LEFT"),
        format!("LMOVE nokey {k} LEFT LEFT"),
        format!("RPOPLPUSH {k} {k}"),
        format!("LMPOP 2 nokey {k} LEFT"),
        "LMPOP 1 nokey LEFT".to_string(),
    ];
    let mut v = Vec::new();
    for cmd in &cmds {
        v.push(c(&format!("DEL {k} {other}")));
        v.push(c(&format!("RPUSH {k} a b a")));
        v.push(c(&format!("RPUSH {other} o")));
        v.push(c(&format!("WATCH {k}")));
        v.push(c(cmd));
        v.push(block(&["MULTI", "PING", "EXEC"]));
    }
    v
}

/// Every script.
fn scripts() -> Vec<(String, Vec<Req>)> {
    let mut all: Vec<(String, Vec<Req>)> = vec![
        ("pushes_and_pops".into(), pushes_and_pops()),
        ("reads".into(), reads()),
        ("edits".into(), edits()),
        ("long_lists".into(), long_lists()),
        ("in_multi".into(), in_multi()),
    ];
    for (s, d) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        all.push((format!("two_keys_{s}{d}"), two_keys(s, d)));
    }
    for core in 0..2 {
        all.push((format!("watched_core{core}"), watched(core)));
    }
    all
}

#[test]
fn redis_differential_lists_resp2() {
    compare_scripts(scripts(), false);
}

#[test]
fn redis_differential_lists_resp3() {
    compare_scripts(scripts(), true);
}
