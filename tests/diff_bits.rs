//! Differential tests of the bit commands (SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP) and LCS: the same bytes go to redis-server 7.0.15 and to a
//! two-core `cachectl node`, and the replies must match byte for byte, in
//! RESP2 and again after `HELLO 3`.
//!
//! Every option and every error text is asked for, including the cases
//! where Redis's order of checks decides which error (or answer) comes
//! first. BITOP's and LCS's keys are picked to live on one core
//! (`keys_on_shard`), once for each core, so that the node runs them as one
//! command whichever core the connection landed on.
//!
//! Skipped when `redis-server` is not on PATH, a failure instead with
//! `CACHECTL_REQUIRE_REDIS=1` (see `tests/common/diff.rs`).

mod common;

use common::diff::{a, block, c, compare, unchecked, Req};
use common::keys_on_shard;

/// Space-separated commands, none with empty or binary arguments.
fn cmds(lines: &[&str]) -> Vec<Req> {
    lines.iter().map(|l| c(l)).collect()
}

fn setbit_getbit() -> Vec<Req> {
    let mut v = cmds(&[
        "SETBIT k 7 1",
        "SETBIT k 7 1",
        "GET k",
        "SETBIT k 7 0",
        "SETBIT k 100 1",
        "GET k",
        "GETBIT k 100",
        "GETBIT k 99",
        "GETBIT k 4294967295",
        "GETBIT nokey 0",
        "GETBIT nokey 4294967295",
        // Clearing a bit past the end still grows the string.
        "SETBIT z 20 0",
        "GET z",
        // An integer-looking value is edited as its bytes.
        "SET n 5",
        "SETBIT n 6 1",
        "GET n",
        // The TTL survives; PERSIST answers 1 only if it did.
        "SET t abc EX 100",
        "SETBIT t 0 1",
        "PERSIST t",
        "GET t",
        // The offset is checked before the value, and before the key.
        "SETBIT k x y",
        "SETBIT k 1 y",
        "SETBIT k -1 1",
        "SETBIT k 4294967296 1",
        "SETBIT k 4294967295 2",
        "SETBIT k +1 1",
        "SETBIT k 01 1",
        "SETBIT k 1.0 1",
        "SETBIT k 99999999999999999999 1",
        "SETBIT k 1 01",
        "SETBIT k 1 -0",
        "SETBIT k 1 -1",
        "SETBIT k 1 2",
        "SETBIT k 1 1.0",
        "GETBIT k x",
        "GETBIT nokey x",
        "GETBIT nokey -1",
        "GETBIT nokey 4294967296",
        "EXISTS nokey",
        "SETBIT k 1",
        "SETBIT k",
        "GETBIT k",
        "GETBIT k 1 2",
        "setbit K 3 1",
        "getbit K 3",
    ]);
    v.extend([
        a(&[b"SETBIT", b"k", b"", b"1"]),
        a(&[b"SETBIT", b"k", b"1", b""]),
        a(&[b"GETBIT", b"k", b" 1"]),
        a(&[b"SETBIT", b"", b"0", b"1"]),
        a(&[b"GET", b""]),
    ]);
    v
}

fn bitcount() -> Vec<Req> {
    let mut v = cmds(&[
        "BITCOUNT nokey",
        // A missing key answers 0 before the range is read.
        "BITCOUNT nokey x",
        "BITCOUNT nokey 0 1 bogus",
        "BITCOUNT nokey a b c d e",
        "SET s foobar",
        "BITCOUNT s",
        "BITCOUNT s 0 0",
        "BITCOUNT s 1 1",
        "BITCOUNT s 1 1 BYTE",
        "BITCOUNT s 0 -1",
        "BITCOUNT s -1 -1",
        "BITCOUNT s -2 -1 byte",
        "BITCOUNT s 2 1",
        "BITCOUNT s 6 10",
        "BITCOUNT s -10 -20",
        "BITCOUNT s -20 -10",
        "BITCOUNT s -100 100",
        "BITCOUNT s 0 -1 BIT",
        "BITCOUNT s 5 30 bit",
        "BITCOUNT s 5 5 bit",
        "BITCOUNT s 1 1 bit",
        "BITCOUNT s 7 8 Bit",
        "BITCOUNT s -3 -1 bit",
        "BITCOUNT s -10 -20 bit",
        "BITCOUNT s 40 100 bit",
        "BITCOUNT s 47 47 bit",
        "BITCOUNT s 48 48 bit",
        "BITCOUNT s -9223372036854775808 9223372036854775807",
        "BITCOUNT s -9223372036854775808 9223372036854775807 bit",
        "BITCOUNT s 9223372036854775807 -9223372036854775808",
        // Errors, in Redis's order: too many arguments before the range,
        // both ends before the unit.
        "BITCOUNT s 0",
        "BITCOUNT s 0 1 bogus",
        "BITCOUNT s 0 1 bit x",
        "BITCOUNT s x 1 bogus",
        "BITCOUNT s 0 x bogus",
        "BITCOUNT s x 1",
        "BITCOUNT s 0 1.5",
        "BITCOUNT s 0 99999999999999999999",
        "BITCOUNT s x 1 bit extra",
        "BITCOUNT",
        "bitcount s 1 2 BYTE",
    ]);
    v.extend([
        a(&[b"SET", b"e", b""]),
        c("BITCOUNT e"),
        c("BITCOUNT e 0 -1"),
        c("BITCOUNT e 0 -1 bit"),
        a(&[b"SET", b"ff", b"\xff\xff\x00\x01"]),
        c("BITCOUNT ff"),
        c("BITCOUNT ff 1 3"),
        c("BITCOUNT ff 3 30 bit"),
        a(&[b"BITCOUNT", b"s", b"", b"1"]),
    ]);
    v
}

fn bitpos() -> Vec<Req> {
    let mut v = cmds(&[
        // The bit is checked first, then a missing key is endless zeros.
        "BITPOS nokey 0",
        "BITPOS nokey 1",
        "BITPOS nokey 2",
        "BITPOS nokey -1",
        "BITPOS nokey x",
        "BITPOS nokey 01",
        "BITPOS nokey 0 x",
        "BITPOS nokey 1 a b c d e",
        "BITPOS nokey 0 5 10 bit",
    ]);
    v.push(a(&[b"SET", b"p", b"\xff\xf0\x00"]));
    v.extend(cmds(&[
        "BITPOS p 0",
        "BITPOS p 1",
        "BITPOS p 0 1",
        "BITPOS p 1 1",
        "BITPOS p 1 2",
        "BITPOS p 0 2",
        "BITPOS p 0 3",
        "BITPOS p 1 -1",
        "BITPOS p 0 -1",
        "BITPOS p 0 0 0",
        "BITPOS p 1 2 2",
        "BITPOS p 1 2 -1",
        "BITPOS p 0 -10 -20",
        "BITPOS p 1 -10 -20",
        "BITPOS p 1 -20 -10",
        "BITPOS p 0 1 0",
        "BITPOS p 0 0 -1 byte",
        "BITPOS p 0 0 -1 BIT",
        "BITPOS p 0 5 15 bit",
        "BITPOS p 1 9 15 bit",
        "BITPOS p 1 12 23 bit",
        "BITPOS p 0 12 12 bit",
        "BITPOS p 0 -1 -1 bit",
        "BITPOS p 1 -9 -1 bit",
        "BITPOS p 0 100 200 bit",
        "BITPOS p 0 -9223372036854775808 9223372036854775807",
        "BITPOS p 1 -9223372036854775808 9223372036854775807 bit",
        "BITPOS p 0 9223372036854775807",
        // Errors: the bit, too many arguments, then start, unit, end.
        "BITPOS p 2",
        "BITPOS p x",
        "BITPOS p 3 x",
        "BITPOS p 0 x",
        "BITPOS p 1 0 x",
        "BITPOS p 1 0 x bogus",
        "BITPOS p 1 x 0 bogus",
        "BITPOS p 1 0 1 bit x",
        "BITPOS p 1 0 1 bogus",
        "BITPOS p 1 a b c d e",
        "BITPOS p 1 1.5",
        "BITPOS p",
        "BITPOS",
        "bitpos p 1 0 -1 Byte",
    ]));
    v.extend([
        // All ones: a 0 is past the end unless an end was given.
        a(&[b"SET", b"ones", b"\xff\xff"]),
        c("BITPOS ones 0"),
        c("BITPOS ones 0 0"),
        c("BITPOS ones 0 1"),
        c("BITPOS ones 0 0 -1"),
        c("BITPOS ones 0 0 -1 bit"),
        c("BITPOS ones 0 5"),
        // An empty string has no bits, not endless zeros.
        a(&[b"SET", b"e", b""]),
        c("BITPOS e 0"),
        c("BITPOS e 1"),
        c("BITPOS e 0 0"),
        c("BITPOS e 0 0 -1"),
        c("BITPOS e 0 0 -1 bit"),
        a(&[b"BITPOS", b"p", b"1", b""]),
    ]);
    v
}

/// BITOP with every key on core `shard`.
fn bitop(shard: usize) -> Vec<Req> {
    let k = keys_on_shard("bo", shard, 2, 5);
    let (d, x, y, z, m) = (&k[0], &k[1], &k[2], &k[3], &k[4]);
    let mut v = vec![
        a(&[b"SET", x.as_bytes(), b"foobar"]),
        a(&[b"SET", y.as_bytes(), b"abc"]),
        a(&[b"SET", z.as_bytes(), b"\xff\x0f"]),
    ];
    v.extend(
        [
            format!("BITOP AND {d} {x} {y}"),
            format!("GET {d}"),
            format!("BITOP OR {d} {x} {y}"),
            format!("GET {d}"),
            format!("BITOP XOR {d} {x} {y} {z}"),
            format!("GET {d}"),
            format!("BITOP NOT {d} {z}"),
            format!("GET {d}"),
            format!("bitop and {d} {x}"),
            format!("GET {d}"),
            format!("BITOP Or {d} {x} {m}"),
            format!("GET {d}"),
            // A missing source pads with zeros: AND with it is all zeros.
            format!("BITOP AND {d} {x} {m}"),
            format!("GET {d}"),
            format!("BITOP XOR {d} {x} {x}"),
            format!("GET {d}"),
            // The destination may be a source; its TTL does not survive.
            format!("EXPIRE {y} 100"),
            format!("BITOP OR {y} {y} {z}"),
            format!("GET {y}"),
            format!("TTL {y}"),
            // All sources missing or empty: the destination is deleted.
            format!("BITOP AND {d} {m} {m}"),
            format!("EXISTS {d}"),
            format!("BITOP OR {d} {m}"),
            format!("BITOP NOT {m} {m}"),
            format!("EXISTS {m}"),
            // Errors: the operation, then NOT's single source, then arity.
            format!("BITOP NOT {d} {x} {y}"),
            format!("BITOP not {d}"),
            format!("BITOP DIFF {d} {x} {y}"),
            format!("BITOP ONE {d} {x}"),
            format!("BITOP bogus {d} {x}"),
            format!("BITOP AND {d}"),
            "BITOP AND".into(),
            "BITOP".into(),
            format!("EXISTS {d}"),
            format!("COMMAND GETKEYS BITOP AND {d} {x} {y}"),
            format!("COMMAND GETKEYS BITOP NOT {d} {x}"),
            "DBSIZE".into(),
        ]
        .iter()
        .map(|s| c(s)),
    );
    v.extend([
        a(&[b"SET", m.as_bytes(), b""]),
        a(&[b"BITOP", b"OR", d.as_bytes(), m.as_bytes()]),
        c(&format!("EXISTS {d} {m}")),
        a(&[b"BITOP", b"", d.as_bytes(), x.as_bytes()]),
    ]);
    v
}

/// LCS with both keys on core `shard`.
fn lcs(shard: usize) -> Vec<Req> {
    let k = keys_on_shard("lc", shard, 2, 4);
    let (p, q, m, e) = (&k[0], &k[1], &k[2], &k[3]);
    let mut v = vec![
        c(&format!("MSET {p} ohmytext {q} mynewtext")),
        a(&[b"SET", e.as_bytes(), b""]),
    ];
    v.extend(
        [
            format!("LCS {p} {q}"),
            format!("LCS {q} {p}"),
            format!("LCS {p} {p}"),
            format!("LCS {p} {q} LEN"),
            format!("LCS {p} {q} len"),
            format!("LCS {p} {q} IDX"),
            format!("LCS {q} {p} IDX"),
            format!("LCS {p} {q} IDX WITHMATCHLEN"),
            format!("LCS {p} {q} idx minmatchlen 4 withmatchlen"),
            format!("LCS {p} {q} IDX MINMATCHLEN 2"),
            format!("LCS {p} {q} IDX MINMATCHLEN 3"),
            format!("LCS {p} {q} IDX MINMATCHLEN 100"),
            format!("LCS {p} {q} MINMATCHLEN -5 IDX"),
            format!("LCS {p} {q} MINMATCHLEN 9 MINMATCHLEN 0 IDX"),
            format!("LCS {p} {q} WITHMATCHLEN"),
            format!("LCS {p} {q} MINMATCHLEN 2"),
            format!("LCS {p} {q} LEN LEN WITHMATCHLEN"),
            format!("LCS {p} {q} IDX IDX"),
            format!("LCS {p} {p} IDX WITHMATCHLEN"),
            format!("LCS {m} {m}"),
            format!("LCS {m} {q} IDX"),
            format!("LCS {p} {m} LEN"),
            format!("LCS {e} {p}"),
            format!("LCS {e} {p} IDX WITHMATCHLEN"),
            // Errors, in Redis's order: options as they come, then LEN
            // with IDX once all are read.
            format!("LCS {p} {q} IDX LEN"),
            format!("LCS {p} {q} LEN IDX"),
            format!("LCS {p} {q} IDX IDX LEN LEN"),
            format!("LCS {p} {q} bogus"),
            format!("LCS {p} {q} IDX LEN bogus"),
            format!("LCS {p} {q} MINMATCHLEN"),
            format!("LCS {p} {q} LEN IDX MINMATCHLEN"),
            format!("LCS {p} {q} MINMATCHLEN x"),
            format!("LCS {p} {q} MINMATCHLEN x LEN IDX"),
            format!("LCS {p} {q} MINMATCHLEN 1.5 IDX"),
            format!("LCS {m} {m} bogus"),
            format!("LCS {p}"),
            "LCS".into(),
            format!("lcs {p} {q} Idx WithMatchLen MinMatchLen 3"),
            format!("COMMAND GETKEYS LCS {p} {q} IDX"),
        ]
        .iter()
        .map(|s| c(s)),
    );
    // A table over proto-max-bulk-len (512 MiB): 12001 * 12001 * 4 bytes.
    let long = vec![b'x'; 12_000];
    v.extend([
        a(&[b"SET", m.as_bytes(), &long]),
        c(&format!("LCS {m} {m}")),
        c(&format!("LCS {m} {m} LEN")),
        c(&format!("LCS {m} {m} bogus")),
        c(&format!("LCS {m} {e} LEN")),
        c(&format!("LCS {m} {p} LEN")),
    ]);
    v
}

/// Transactions and WATCH, with every key on core `shard`: SETBIT touches
/// its key when it creates it, grows it or flips the bit (Redis 7); BITOP
/// touches its destination only when it writes or deletes something.
fn watched(shard: usize) -> Vec<Req> {
    let k = keys_on_shard("wb", shard, 2, 3);
    let (w, x, m) = (&k[0], &k[1], &k[2]);
    let s = |t: String| -> Vec<Req> { vec![c(&t)] };
    [
        s(format!("SETBIT {w} 1 1")),
        s(format!("WATCH {w}")),
        s(format!("SETBIT {w} 1 1")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        // Only a new key, a longer string or a flipped bit touches it.
        s(format!("WATCH {w}")),
        s(format!("SETBIT {w} 1 0")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("WATCH {w}")),
        s(format!("SETBIT {w} 1 0")),
        s(format!("SETBIT {w} 7 0")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("WATCH {w}")),
        s(format!("SETBIT {w} 100 0")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("WATCH {m}")),
        s(format!("SETBIT {m} 0 0")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("DEL {m}")),
        s(format!("SETBIT {w} 1 1")),
        s(format!("WATCH {w}")),
        s(format!("GETBIT {w} 1")),
        s(format!("BITCOUNT {w}")),
        s(format!("BITPOS {w} 1")),
        s(format!("LCS {w} {w}")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("WATCH {x}")),
        s(format!("BITOP AND {x} {m} {m}")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("WATCH {x}")),
        s(format!("BITOP OR {x} {w}")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        s(format!("WATCH {x}")),
        s(format!("BITOP AND {x} {m}")),
        vec![block(&["MULTI", "PING", "EXEC"])],
        vec![block(&[
            "MULTI",
            &format!("SETBIT {w} 9 1"),
            &format!("SETBIT {w} x 1"),
            &format!("BITOP NOT {x} {w}"),
            &format!("BITOP NOT {x} {w} {w}"),
            &format!("BITCOUNT {x}"),
            &format!("BITPOS {x} 0 0 -1"),
            &format!("LCS {w} {x} IDX"),
            &format!("GETBIT {x} 9"),
            "EXEC",
        ])],
        vec![block(&["MULTI", &format!("SETBIT {w} 1"), "EXEC"])],
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every script; after `HELLO 3` first when `resp3`.
fn scripts(resp3: bool) -> Vec<(String, Vec<Req>)> {
    let mut all: Vec<(String, Vec<Req>)> = vec![
        ("setbit_getbit".into(), setbit_getbit()),
        ("bitcount".into(), bitcount()),
        ("bitpos".into(), bitpos()),
    ];
    for shard in 0..2 {
        all.push((format!("bitop_core{shard}"), bitop(shard)));
        all.push((format!("lcs_core{shard}"), lcs(shard)));
        all.push((format!("watched_core{shard}"), watched(shard)));
    }
    if resp3 {
        for (name, script) in &mut all {
            name.push_str("_resp3");
            script.insert(0, unchecked("HELLO 3"));
        }
    }
    all
}

fn compare_all(resp3: bool) {
    let (names, reqs): (Vec<String>, Vec<Vec<Req>>) = scripts(resp3).into_iter().unzip();
    let named: Vec<(&str, Vec<Req>)> = names.iter().map(String::as_str).zip(reqs).collect();
    compare(&named);
}

#[test]
fn redis_differential_bits_resp2() {
    compare_all(false);
}

#[test]
fn redis_differential_bits_resp3() {
    compare_all(true);
}
