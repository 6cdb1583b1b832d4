//! Differential tests of the hash commands against redis-server 7.0.15,
//! on a two-core node, in RESP2 and RESP3.
//!
//! Byte for byte (`common::diff`) wherever Redis's order is known: a
//! listpack hash keeps insertion order in both, so HGETALL, HKEYS, HVALS,
//! HSCAN and a covering HRANDFIELD of a small hash match exactly, as do
//! every error (in Redis's order of checks) and OBJECT ENCODING across the
//! listpack → hashtable conversion. A hashtable hash's order is each
//! server's own, so [`big_hashes_unordered`] compares its replies sorted,
//! full HSCANs as sets, and random picks by shape, count and membership.
//!
//! Skipped, with a notice on the terminal, when `redis-server` is not on
//! PATH; a failure instead with `CACHECTL_REQUIRE_REDIS=1`.

mod common;

use common::diff::{a, c, compare, unchecked, Req};
use common::unordered::{full_scans_agree, items, Both, How, R};
use common::{Node, RedisServer};
use std::collections::BTreeSet;

fn script() -> Vec<Req> {
    let long = "x".repeat(65);
    let mut v: Vec<Req> = [
        "HSET h f1 v1 f2 v2 f3 v3",
        "HSET h f1 new f4 v4",
        "HGET h f1",
        "HGET h nope",
        "HGET nokey f",
        "HMGET h f1 nope f4",
        "HMGET nokey a b",
        "HMSET h f5 v5 f6 v6",
        "HGETALL h",
        "HKEYS h",
        "HVALS h",
        "HLEN h",
        "HLEN nokey",
        "HEXISTS h f2",
        "HEXISTS h nope",
        "HEXISTS nokey f",
        "HSTRLEN h f1",
        "HSTRLEN h nope",
        "HSTRLEN nokey f",
        "HDEL h f2 nope f3",
        "HGETALL h",
        "HSETNX h f1 other",
        "HSETNX h f9 v9",
        "HGETALL h",
        "OBJECT ENCODING h",
        "HGETALL nokey",
        "HKEYS nokey",
        "HVALS nokey",
        "HSCAN h 0",
        "HSCAN h 0 MATCH f*",
        "HSCAN h 0 match f1 count 1",
        "HSCAN h 0 COUNT 0",
        "HSCAN h 0 COUNT x",
        "HSCAN h 0 MATCH",
        "HSCAN h 0 BOGUS 1",
        "HSCAN h x",
        "HSCAN h -1",
        "HSCAN nokey 0",
        "HSCAN nokey 0 COUNT 0",
        "HSCAN nokey x",
        "HRANDFIELD nokey",
        "HRANDFIELD nokey 3",
        "HRANDFIELD nokey 3 WITHVALUES",
        "HRANDFIELD h 0",
        "HRANDFIELD h 100",
        "HRANDFIELD h 100 WITHVALUES",
        "HRANDFIELD h 100 withvalues",
        "HRANDFIELD h 1 BOGUS",
        "HRANDFIELD h 1 WITHVALUES x",
        "HRANDFIELD h x",
        "HRANDFIELD h -9223372036854775808",
        "HRANDFIELD h 4611686018427387904 WITHVALUES",
        "HRANDFIELD h -4611686018427387904 WITHVALUES",
        "HINCRBY c n 5",
        "HINCRBY c n -7",
        "HINCRBY c n x",
        "HINCRBY c n 1.5",
        "HINCRBY h f1 1",
        "HSET c big 9223372036854775807",
        "HINCRBY c big 1",
        "HINCRBY c big 0",
        "HSET c sp ' 1'",
        "HINCRBY c sp 1",
        "HINCRBYFLOAT c fl 10.5",
        "HINCRBYFLOAT c fl 0.1",
        "HINCRBYFLOAT c fl -5e3",
        "HINCRBYFLOAT c n 1",
        "HINCRBYFLOAT c fl x",
        "HINCRBYFLOAT c fl inf",
        "HINCRBYFLOAT c fl nan",
        "HINCRBYFLOAT h f1 1",
        "HSET c huge 1e4932",
        "HINCRBYFLOAT c huge 1e4932",
        "HINCRBYFLOAT c fresh 3.0e2",
        "HGETALL c",
        "HSET s a",
        "HSET s a b c",
        "HSET s",
        "HMSET s a",
        "HMSET s a b c",
        "HSETNX s a",
        "HGET s",
        "HDEL s",
        "HINCRBY s a",
        "HRANDFIELD",
        "HSCAN s",
        "SET str v",
        "HSET str a b",
        "HSETNX str a b",
        "HGET str a",
        "HMGET str a",
        "HGETALL str",
        "HDEL str a",
        "HLEN str",
        "HEXISTS str a",
        "HSTRLEN str a",
        "HKEYS str",
        "HVALS str",
        "HINCRBY str a 1",
        "HINCRBY str a x",
        "HINCRBYFLOAT str a 1",
        "HINCRBYFLOAT str a x",
        "HRANDFIELD str",
        "HRANDFIELD str 2",
        "HRANDFIELD str x",
        "HSCAN str 0",
        "HSCAN str x",
        "HDEL h f1 f4 f5 f6 f9",
        "EXISTS h",
        "TYPE c",
    ]
    .into_iter()
    .map(c)
    .collect();
    // Conversions: a long field, a long value, HINCRBY's long field, and
    // HSETNX of a long value to a field that exists (no conversion).
    v.extend([
        c("HSET lf a 1"),
        a(&[b"HSETNX", b"lf", b"a", long.as_bytes()]),
        c("OBJECT ENCODING lf"),
        a(&[b"HSET", b"lf", long.as_bytes(), b"1"]),
        c("OBJECT ENCODING lf"),
        a(&[b"HSET", b"lv", b"a", long.as_bytes()]),
        c("OBJECT ENCODING lv"),
        a(&[b"HINCRBY", b"li", long.as_bytes(), b"1"]),
        c("OBJECT ENCODING li"),
        a(&[b"HSET", b"l64", b"a", "y".repeat(64).as_bytes()]),
        c("OBJECT ENCODING l64"),
    ]);
    // 512 fields (Redis 7.0.15's default) stay a listpack, the 513th
    // converts; HDEL never converts back.
    let fields: Vec<String> = (0..512)
        .flat_map(|i| [format!("f{i}"), format!("{i}")])
        .collect();
    let mut hset: Vec<&[u8]> = vec![b"HSET", b"n"];
    hset.extend(fields.iter().map(String::as_bytes));
    v.extend([
        a(&hset),
        c("OBJECT ENCODING n"),
        c("HGETALL n"),
        c("HSET n f0 again"),
        c("OBJECT ENCODING n"),
        c("HSET n extra 1"),
        c("OBJECT ENCODING n"),
        c("HDEL n extra"),
        c("OBJECT ENCODING n"),
        c("HLEN n"),
    ]);
    v
}

#[test]
fn hashes_byte_for_byte_in_resp2_and_resp3() {
    let mut resp3 = vec![unchecked("HELLO 3")];
    resp3.extend(script());
    compare(&[("hash", script()), ("hash resp3", resp3)]);
}

#[test]
fn big_hashes_unordered() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    for proto in ["2", "3"] {
        let mut b = Both::new(&redis, &node);
        b.same(&format!("HELLO {proto}"), How::Shape);
        let mut hset: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"big".to_vec()];
        for i in 0..600 {
            hset.push(format!("field:{i}").into_bytes());
            hset.push(format!("value-{}", i * 7).into_bytes());
        }
        let args: Vec<&[u8]> = hset.iter().map(Vec::as_slice).collect();
        b.same_args(&args, How::Exact);
        b.same("OBJECT ENCODING big", How::Exact);
        b.same("HLEN big", How::Exact);
        b.same("HGETALL big", How::Sorted(2));
        b.same("HKEYS big", How::Sorted(1));
        b.same("HVALS big", How::Sorted(1));
        b.same("HMGET big field:1 nope field:599", How::Exact);
        b.same("HINCRBY big n 3", How::Exact);
        b.same("HINCRBYFLOAT big n 0.25", How::Exact);
        b.same("HDEL big field:0 field:1 nope", How::Exact);
        b.same("HGETALL big", How::Sorted(2));
        b.same("HRANDFIELD big 1000", How::Sorted(1));
        b.same(
            "HRANDFIELD big 1000 WITHVALUES",
            How::Sorted(if proto == "2" { 2 } else { 1 }),
        );
        for cmd in [
            "HRANDFIELD big 5",
            "HRANDFIELD big 250 WITHVALUES",
            "HRANDFIELD big -500",
            "HRANDFIELD big -3 WITHVALUES",
            "HRANDFIELD big 1",
        ] {
            // Random picks: the same shape, members of the hash, distinct
            // for a positive count.
            let got = b.same(cmd, How::Shape);
            let all = format!("{:?}", b.node.cmd("HGETALL big"));
            let pairs = cmd.ends_with("WITHVALUES");
            let picks = items(&got);
            let fields: Vec<&R> = if pairs && proto == "2" {
                picks.iter().step_by(2).collect()
            } else if pairs {
                picks.iter().map(|p| &items(p)[0]).collect()
            } else {
                picks.iter().collect()
            };
            for f in &fields {
                let R::Leaf(f) = f else { panic!("a field") };
                assert!(all.contains(&format!("{f:?}")), "{cmd}: {f:?}");
            }
            if !cmd.contains('-') {
                let distinct: BTreeSet<&&R> = fields.iter().collect();
                assert_eq!(distinct.len(), fields.len(), "{cmd} repeats a field");
            }
        }
        let one = b.same("HRANDFIELD big", How::Shape);
        assert!(matches!(one, R::Leaf(ref l) if l.starts_with(b"$")));
        full_scans_agree(&mut b, "HSCAN", "big", "", 2);
        full_scans_agree(&mut b, "HSCAN", "big", "COUNT 7", 2);
        full_scans_agree(&mut b, "HSCAN", "big", "MATCH field:1* COUNT 3", 2);
        b.check();
    }
}
