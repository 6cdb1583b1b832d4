//! Differential tests of the set commands against redis-server 7.0.15, on
//! a two-core node, in RESP2 and RESP3.
//!
//! Byte for byte (`common::diff`) wherever Redis's order is known: an
//! intset is sorted in both, so SMEMBERS, SSCAN, SINTER/SUNION/SDIFF of
//! integer sets and a covering SRANDMEMBER or SPOP match exactly, as do
//! every error (in Redis's order of checks) and OBJECT ENCODING across the
//! intset → hashtable conversion. The multi-key commands name keys on both
//! cores. A hashtable set's order is each server's own, so
//! [`big_sets_unordered`] compares its replies sorted, full SSCANs as
//! sets, and random picks by count, membership and distinctness.
//!
//! Skipped, with a notice on the terminal, when `redis-server` is not on
//! PATH; a failure instead with `CACHECTL_REQUIRE_REDIS=1`.

mod common;

use common::diff::{a, c, compare, unchecked, Req};
use common::unordered::{full_scans_agree, items, Both, How, R};
use common::{keys_on_shard, Node, RedisServer};
use std::collections::BTreeSet;

fn script() -> Vec<Req> {
    let k0 = keys_on_shard("s", 0, 2, 3);
    let k1 = keys_on_shard("s", 1, 2, 3);
    let (a0, b0, c0, a1, b1, c1) = (&k0[0], &k0[1], &k0[2], &k1[0], &k1[1], &k1[2]);
    let mut v: Vec<Req> = [
        "SADD i 5 3 9 1 3".to_string(),
        "SMEMBERS i".into(),
        "OBJECT ENCODING i".into(),
        "SCARD i".into(),
        "SCARD nokey".into(),
        "SISMEMBER i 3".into(),
        "SISMEMBER i 4".into(),
        "SISMEMBER i 03".into(),
        "SISMEMBER nokey 1".into(),
        "SMISMEMBER i 1 2 3".into(),
        "SMISMEMBER nokey 1 2".into(),
        "SMEMBERS nokey".into(),
        "SREM i 3 4 3".into(),
        "SREM nokey 1".into(),
        "SMEMBERS i".into(),
        "SSCAN i 0".into(),
        "SSCAN i 0 MATCH 1*".into(),
        "SSCAN i 0 COUNT 1".into(),
        "SSCAN i 0 COUNT 0".into(),
        "SSCAN i x".into(),
        "SSCAN nokey 0".into(),
        "SSCAN i 0 NOPE".into(),
        "SRANDMEMBER nokey".into(),
        "SRANDMEMBER nokey 3".into(),
        "SRANDMEMBER nokey -3".into(),
        "SRANDMEMBER i 0".into(),
        "SRANDMEMBER i 10".into(),
        "SRANDMEMBER i x".into(),
        "SRANDMEMBER i -9223372036854775808".into(),
        "SRANDMEMBER i 1 2".into(),
        "SPOP nokey".into(),
        "SPOP nokey 2".into(),
        "SPOP i 0".into(),
        "SPOP i -1".into(),
        "SPOP i x".into(),
        "SPOP i 1 2".into(),
        "SADD p 1 2 3".into(),
        "SPOP p 3".into(),
        "EXISTS p".into(),
        "SADD p 7".into(),
        "SPOP p".into(),
        "EXISTS p".into(),
        "SADD m 1 a".into(),
        "OBJECT ENCODING m".into(),
        "SADD m2 a".into(),
        "OBJECT ENCODING m2".into(),
        "SADD m3 01".into(),
        "OBJECT ENCODING m3".into(),
        "SADD m4 -9223372036854775808 9223372036854775807".into(),
        "SMEMBERS m4".into(),
        "OBJECT ENCODING m4".into(),
        "SADD m5 9223372036854775808".into(),
        "OBJECT ENCODING m5".into(),
        // Multi-key commands on both cores.
        format!("SADD {a0} 1 2 3 4"),
        format!("SADD {a1} 3 4 5 6"),
        format!("SADD {b1} 4 6 8"),
        format!("SINTER {a0} {a1}"),
        format!("SINTER {a0} {a1} {b1}"),
        format!("SINTER {a0} nokey"),
        format!("SINTER nokey {a0}"),
        format!("SUNION {a0} {a1} {b1}"),
        format!("SUNION {a0} nokey"),
        "SUNION nokey".into(),
        format!("SDIFF {a0} {a1}"),
        format!("SDIFF {a1} {a0} {b1}"),
        format!("SDIFF {a0} nokey"),
        format!("SDIFF nokey {a0}"),
        format!("SDIFF {a0} {a0}"),
        format!("SINTERCARD 2 {a0} {a1}"),
        format!("SINTERCARD 3 {a0} {a1} {b1}"),
        format!("SINTERCARD 2 {a0} {a1} LIMIT 1"),
        format!("SINTERCARD 2 {a0} {a1} LIMIT 0"),
        format!("SINTERCARD 2 {a0} nokey"),
        format!("SINTERCARD 2 {a0} {a1} LIMIT -1"),
        format!("SINTERCARD 2 {a0} {a1} LIMIT x"),
        format!("SINTERCARD 2 {a0} {a1} LIMIT"),
        format!("SINTERCARD 2 {a0} {a1} BOGUS 1"),
        format!("SINTERCARD 0 {a0}"),
        format!("SINTERCARD -1 {a0}"),
        format!("SINTERCARD x {a0}"),
        format!("SINTERCARD 3 {a0} {a1}"),
        format!("SINTERSTORE {b0} {a0} {a1}"),
        format!("SMEMBERS {b0}"),
        format!("OBJECT ENCODING {b0}"),
        format!("SUNIONSTORE {c1} {a0} {a1} {b1}"),
        format!("SMEMBERS {c1}"),
        format!("SDIFFSTORE {c0} {a0} {a1}"),
        format!("SMEMBERS {c0}"),
        format!("SINTERSTORE {c0} {a0} nokey"),
        format!("EXISTS {c0}"),
        format!("SET {c0} str"),
        format!("SUNIONSTORE {c0} {a0}"),
        format!("TYPE {c0}"),
        format!("SDIFFSTORE {c0} {a0} {a0}"),
        format!("EXISTS {c0}"),
        format!("SINTERSTORE {a0} {a0} {a1}"),
        format!("SMEMBERS {a0}"),
        // SMOVE across cores, onto a new key, onto itself, errors.
        format!("SMOVE {a1} {a0} 5"),
        format!("SMOVE {a1} {a0} 99"),
        format!("SMOVE {a1} {a1} 6"),
        format!("SMOVE {a1} {a1} 99"),
        format!("SMOVE nokey {a0} 1"),
        format!("SMOVE {a1} {c1} x"),
        format!("SMOVE {b1} newkey 8"),
        "SMEMBERS newkey".into(),
        format!("SMOVE {b1} newkey2 4"),
        format!("SMOVE {b1} newkey2 6"),
        format!("EXISTS {b1}"),
        "SMEMBERS newkey2".into(),
        format!("SMEMBERS {a0}"),
        format!("SMEMBERS {a1}"),
        "SET str v".into(),
        format!("SMOVE str {a0} 1"),
        format!("SMOVE {a0} str 1"),
        "SMOVE nokey str 1".into(),
        format!("SINTER {a0} str"),
        "SINTER nokey str".into(),
        "SUNION nokey str".into(),
        "SDIFF nokey str".into(),
        "SINTERCARD 2 nokey str".into(),
        format!("SINTERSTORE {c0} str"),
        format!("SUNIONSTORE {c0} {a0} str"),
        "SADD str 1".into(),
        "SREM str 1".into(),
        "SISMEMBER str 1".into(),
        "SMISMEMBER str 1".into(),
        "SMEMBERS str".into(),
        "SCARD str".into(),
        "SPOP str".into(),
        "SPOP str 2".into(),
        "SPOP str x".into(),
        "SRANDMEMBER str".into(),
        "SRANDMEMBER str 2".into(),
        "SRANDMEMBER str x".into(),
        "SSCAN str 0".into(),
        "SSCAN str x".into(),
        "SADD s".into(),
        "SREM s".into(),
        "SISMEMBER s".into(),
        "SMISMEMBER s".into(),
        "SMEMBERS".into(),
        "SCARD".into(),
        "SPOP".into(),
        "SRANDMEMBER".into(),
        "SMOVE a b".into(),
        "SINTER".into(),
        "SINTERSTORE d".into(),
        "SINTERCARD 1".into(),
        "SUNIONSTORE d".into(),
        "SDIFFSTORE d".into(),
        "SSCAN s".into(),
    ]
    .iter()
    .map(|s| c(s))
    .collect();
    // 512 integers stay an intset, the 513th converts; SREM never
    // converts back.
    let members: Vec<String> = (0..512).map(|i| (i * 3).to_string()).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"n"];
    sadd.extend(members.iter().map(String::as_bytes));
    v.extend([
        a(&sadd),
        c("OBJECT ENCODING n"),
        c("SMEMBERS n"),
        c("SADD n 0"),
        c("OBJECT ENCODING n"),
        c("SADD n 1"),
        c("OBJECT ENCODING n"),
        c("SREM n 1"),
        c("OBJECT ENCODING n"),
        c("SCARD n"),
    ]);
    v
}

#[test]
fn sets_byte_for_byte_in_resp2_and_resp3() {
    let mut resp3 = vec![unchecked("HELLO 3")];
    resp3.extend(script());
    compare(&[("set", script()), ("set resp3", resp3)]);
}

/// The members of a reply (an array or set of bulk strings).
fn members(r: &R) -> Vec<R> {
    items(r).to_vec()
}

#[test]
fn big_sets_unordered() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let k0 = keys_on_shard("big", 0, 2, 2);
    let k1 = keys_on_shard("big", 1, 2, 2);
    let (x, y, dst) = (&k0[0], &k1[0], &k1[1]);
    for proto in ["2", "3"] {
        let mut b = Both::new(&redis, &node);
        b.same(&format!("HELLO {proto}"), How::Shape);
        for (key, from, step) in [(x, 0, 1), (y, 500, 2)] {
            let mut sadd: Vec<Vec<u8>> = vec![b"SADD".to_vec(), key.as_bytes().to_vec()];
            sadd.extend((0..700).map(|i| format!("m{}", from + i * step).into_bytes()));
            let args: Vec<&[u8]> = sadd.iter().map(Vec::as_slice).collect();
            b.same_args(&args, How::Exact);
        }
        b.same(&format!("OBJECT ENCODING {x}"), How::Exact);
        b.same(&format!("SCARD {x}"), How::Exact);
        b.same(&format!("SMEMBERS {x}"), How::Sorted(1));
        b.same(&format!("SINTER {x} {y}"), How::Sorted(1));
        b.same(&format!("SUNION {x} {y}"), How::Sorted(1));
        b.same(&format!("SDIFF {x} {y}"), How::Sorted(1));
        b.same(&format!("SDIFF {y} {x}"), How::Sorted(1));
        b.same(&format!("SINTERCARD 2 {x} {y}"), How::Exact);
        b.same(&format!("SINTERCARD 2 {x} {y} LIMIT 10"), How::Exact);
        b.same(&format!("SINTERSTORE {dst} {x} {y}"), How::Exact);
        b.same(&format!("SMEMBERS {dst}"), How::Sorted(1));
        b.same(&format!("SUNIONSTORE {dst} {x} {y}"), How::Exact);
        b.same(&format!("OBJECT ENCODING {dst}"), How::Exact);
        b.same(&format!("SDIFFSTORE {dst} {x} {y}"), How::Exact);
        b.same(&format!("SMEMBERS {dst}"), How::Sorted(1));
        b.same(&format!("SMISMEMBER {x} m1 m999 m699"), How::Exact);
        b.same(&format!("SMOVE {x} {y} m1"), How::Exact);
        b.same(&format!("SMOVE {x} {y} m1"), How::Exact);
        b.same(&format!("SRANDMEMBER {x} 5000"), How::Sorted(1));
        full_scans_agree(&mut b, "SSCAN", x, "", 1);
        full_scans_agree(&mut b, "SSCAN", x, "COUNT 3", 1);
        full_scans_agree(&mut b, "SSCAN", x, "MATCH m1* COUNT 5", 1);
        let all: BTreeSet<R> = members(&b.node.cmd(&format!("SMEMBERS {x}")))
            .into_iter()
            .collect();
        for (cmd, distinct) in [
            (format!("SRANDMEMBER {x} 5"), true),
            (format!("SRANDMEMBER {x} 400"), true),
            (format!("SRANDMEMBER {x} -1000"), false),
            (format!("SRANDMEMBER {x} 1"), true),
        ] {
            let got = members(&b.same(&cmd, How::Shape));
            assert!(got.iter().all(|m| all.contains(m)), "{cmd}");
            if distinct {
                let d: BTreeSet<&R> = got.iter().collect();
                assert_eq!(d.len(), got.len(), "{cmd} repeats a member");
            }
        }
        let one = b.same(&format!("SRANDMEMBER {x}"), How::Shape);
        assert!(all.contains(&one));
        // SPOP: the same counts on both; what the node popped is gone from
        // it and was there.
        let mut left = all.clone();
        for cmd in [
            format!("SPOP {x}"),
            format!("SPOP {x} 10"),
            format!("SPOP {x} 300"),
        ] {
            let got = b.same(&cmd, How::Shape);
            let popped = match &got {
                R::Leaf(_) => vec![got.clone()],
                agg => members(agg),
            };
            for m in popped {
                assert!(left.remove(&m), "{cmd} popped {m:?}, not a member");
            }
        }
        b.same(&format!("SCARD {x}"), How::Exact);
        let rest: BTreeSet<R> = members(&b.node.cmd(&format!("SMEMBERS {x}")))
            .into_iter()
            .collect();
        assert_eq!(rest, left);
        b.same(&format!("SPOP {x} 10000"), How::Shape);
        b.same(&format!("EXISTS {x}"), How::Exact);
        b.check();
    }
}
