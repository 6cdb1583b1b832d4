//! Differential tests of the sorted-set commands against redis-server
//! 7.0.15, byte for byte, in RESP2 and again after HELLO 3: every command
//! with its options, errors and edge cases, both encodings (OBJECT
//! ENCODING across the 128-member and 64-byte limits), and the multi-key
//! commands with their keys on one core and on both.
//!
//! Not compared byte for byte: ZRANDMEMBER with fewer members asked than
//! held (random; only its reply type is compared) and ZSCAN of a skiplist
//! set (hash order).

mod common;

use common::diff::{a, compare, Req};
use common::keys_on_shard;

/// `lines` with `{a}`, `{b}` (core 0) and `{x}`, `{y}` (core 1) replaced by
/// keys, once in RESP2 and once after HELLO 3.
fn both(name: &'static str, lines: &[&str]) -> Vec<(&'static str, Vec<Req>)> {
    let s0 = keys_on_shard("z", 0, 2, 2);
    let s1 = keys_on_shard("z", 1, 2, 2);
    let full: Vec<String> = (1..=128).map(|i| format!("{i} m{i}")).collect();
    let full = full.join(" ");
    let sub = |l: &str| {
        l.replace("{128}", &full)
            .replace("{a}", &s0[0])
            .replace("{b}", &s0[1])
            .replace("{x}", &s1[0])
            .replace("{y}", &s1[1])
    };
    let resp2: Vec<Req> = lines.iter().map(|l| req(&sub(l))).collect();
    let mut resp3 = vec![req("?HELLO 3")];
    resp3.extend(lines.iter().map(|l| req(&sub(l))));
    vec![(name, resp2), (name, resp3)]
}

/// A line's words, split at spaces; `"…"` holds one word (maybe empty
/// or with spaces).
fn words(line: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').expect("closing quote");
            out.push(q.as_bytes()[..end].to_vec());
            rest = q[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest.as_bytes()[..end].to_vec());
            rest = rest[end..].trim_start();
        }
    }
    out
}

/// A line starting with `?` is compared by reply type only.
fn req(line: &str) -> Req {
    let (typed, line) = match line.strip_prefix('?') {
        Some(l) => (true, l),
        None => (false, line),
    };
    let w = words(line);
    let args: Vec<&[u8]> = w.iter().map(Vec::as_slice).collect();
    match a(&args) {
        Req::Reply(bytes) if typed => Req::Unchecked(bytes),
        r => r,
    }
}

const ADD: &[&str] = &[
    "ZADD {a} 1 one 2 two 3 three",
    "ZADD {a} 1 one",
    "ZADD {a} CH 5 one 2 two 7 new",
    "ZRANGE {a} 0 -1 WITHSCORES",
    "ZADD {a} NX 10 one 11 eleven",
    "ZADD {a} XX 10 one 12 twelve",
    "ZADD {a} XX CH 20 one",
    "ZADD {a} GT CH 1 one 30 two",
    "ZADD {a} LT CH 100 one 0 two",
    "ZADD {a} XX GT 50 one",
    "ZADD {a} gt xx ch 60 one 1 nothere",
    "ZADD {a} INCR 5 one",
    "ZADD {a} INCR 5 fresh",
    "ZADD {a} NX INCR 5 one",
    "ZADD {a} XX INCR 5 nothere",
    "ZADD {a} GT INCR -1 one",
    "ZADD {a} LT INCR -1 one",
    "ZADD {a} NX XX 1 m",
    "ZADD {a} GT LT 1 m",
    "ZADD {a} NX GT 1 m",
    "ZADD {a} NX LT 1 m",
    "ZADD {a} INCR 1 a 2 b",
    "ZADD {a} 1",
    "ZADD {a} 1 a 2",
    "ZADD {a} nan a",
    "ZADD {a} NX",
    "ZADD {a} abc a",
    "ZADD {a} 1 a notafloat b",
    "ZADD {a} 1e400 a",
    "ZADD {a} 1e-400 a",
    "ZADD {a} inf pinf -inf minf +inf pinf2",
    "ZADD {a} 1.5 f 0.1 g -0 negzero 3e-5 small 1e20 big",
    "ZADD {a} INCR +inf pinf",
    "ZADD {a} INCR -inf pinf",
    "ZSCORE {a} pinf",
    "ZADD {a} \"\" x",
    "ZADD {a} \" 1\" x",
    "ZRANGE {a} 0 -1 WITHSCORES",
    "ZINCRBY {a} 2.5 one",
    "ZINCRBY {a} 1 brandnew",
    "ZINCRBY {a} x one",
    "ZINCRBY {a} -inf minf",
    "ZINCRBY {a} +inf minf",
    "ZINCRBY {a} 1",
    "ZADD {a} XX 1 a",
    "EXISTS {x}",
    "ZADD {x} XX 1 a",
    "EXISTS {x}",
    "ZADD {x} XX INCR 1 a",
    "SET {b} str",
    "ZADD {b} 1 a",
    "ZADD {b} x a",
    "ZINCRBY {b} 1 a",
    "ZCARD {a}",
    "ZCARD nokey",
    "ZCARD {b}",
    "ZSCORE {a} one",
    "ZSCORE {a} missing",
    "ZSCORE nokey m",
    "ZSCORE {b} m",
    "ZMSCORE {a} one missing two",
    "ZMSCORE nokey a b",
    "ZMSCORE {b} a",
    "ZMSCORE {a}",
    "ZREM {a} one missing two",
    "ZREM {a} missing",
    "ZREM nokey a",
    "ZREM {b} a",
    "ZREM {a}",
    "ZRANK {a} three",
    "ZREVRANK {a} three",
    "ZRANK {a} missing",
    "ZRANK nokey a",
    "ZRANK {b} a",
    "ZRANK {a} three WITHSCORE",
    "TYPE {a}",
    "OBJECT ENCODING {a}",
];

const RANGES: &[&str] = &[
    "ZADD {a} 1 a 2 b 3 c 4 d 5 e 5 ee 6 f",
    "ZRANGE {a} 0 -1",
    "ZRANGE {a} 0 -1 WITHSCORES",
    "ZRANGE {a} 2 4 withscores",
    "ZRANGE {a} -3 -1",
    "ZRANGE {a} -100 100",
    "ZRANGE {a} 5 2",
    "ZRANGE {a} 10 20",
    "ZRANGE {a} 0 -1 REV",
    "ZRANGE {a} 0 1 REV WITHSCORES",
    "ZRANGE {a} x 1",
    "ZRANGE {a} 0 1 LIMIT 0 1",
    "ZRANGE {a} 0 1 LIMIT 0 -1",
    "ZRANGE {a} 0 1 BOGUS",
    "ZRANGE {a} 0 1 LIMIT 0",
    "ZRANGE {a} (1 5 BYSCORE",
    "ZRANGE {a} 1 (5 BYSCORE WITHSCORES",
    "ZRANGE {a} -inf +inf BYSCORE LIMIT 1 3",
    "ZRANGE {a} -inf +inf BYSCORE LIMIT -1 3",
    "ZRANGE {a} -inf +inf BYSCORE LIMIT 2 -1",
    "ZRANGE {a} -inf +inf BYSCORE LIMIT 100 1",
    "ZRANGE {a} -inf +inf BYSCORE LIMIT 0 0",
    "ZRANGE {a} +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES",
    "ZRANGE {a} 5 (2 BYSCORE REV",
    "ZRANGE {a} x 2 BYSCORE",
    "ZRANGE {a} nan 2 BYSCORE",
    "ZRANGE {a} ((1 2 BYSCORE",
    "ZRANGE {a} \"\" 3 BYSCORE",
    "ZRANGE {a} - + BYLEX",
    "ZRANGE {a} - + BYLEX WITHSCORES",
    "ZRANGE {a} a b BYLEX",
    "ZRANGE {a} 0 1 BYSCORE BYLEX",
    "ZRANGE {a} 0 1 REV REV",
    "ZRANGE nokey 0 -1",
    "ZRANGE {b} 0 -1",
    "SET {b} s",
    "ZRANGE {b} 0 -1",
    "ZRANGE {b} x -1",
    "ZREVRANGE {a} 0 2 WITHSCORES",
    "ZREVRANGE {a} 0 2 REV",
    "ZREVRANGE {a} -2 -1",
    "ZRANGEBYSCORE {a} 2 5",
    "ZRANGEBYSCORE {a} (2 (5 WITHSCORES",
    "ZRANGEBYSCORE {a} -inf +inf LIMIT 2 2",
    "ZRANGEBYSCORE {a} -inf +inf BYSCORE",
    "ZRANGEBYSCORE {a} -inf +inf REV",
    "ZRANGEBYSCORE {a} a b",
    "ZRANGEBYSCORE {a} 1 2 LIMIT x 1",
    "ZREVRANGEBYSCORE {a} 5 2",
    "ZREVRANGEBYSCORE {a} +inf -inf WITHSCORES LIMIT 1 3",
    "ZREVRANGEBYSCORE {a} 2 5",
    "ZCOUNT {a} 2 5",
    "ZCOUNT {a} (2 (5",
    "ZCOUNT {a} -inf +inf",
    "ZCOUNT {a} 5 2",
    "ZCOUNT {a} x 2",
    "ZCOUNT nokey 1 2",
    "ZCOUNT {b} 1 2",
    "ZCOUNT {b} x 2",
    "DEL {x}",
    "ZADD {x} 0 a 0 b 0 c 0 d 0 e 0 foo 0 food",
    "ZRANGEBYLEX {x} - +",
    "ZRANGEBYLEX {x} [b (e",
    "ZRANGEBYLEX {x} (b [foo",
    "ZRANGEBYLEX {x} [f +",
    "ZRANGEBYLEX {x} - + LIMIT 1 2",
    "ZRANGEBYLEX {x} - + LIMIT -1 2",
    "ZRANGEBYLEX {x} + -",
    "ZRANGEBYLEX {x} - -",
    "ZRANGEBYLEX {x} a +",
    "ZRANGEBYLEX {x} [a ++",
    "ZRANGEBYLEX {x} - + WITHSCORES",
    "ZREVRANGEBYLEX {x} + -",
    "ZREVRANGEBYLEX {x} (e [b",
    "ZREVRANGEBYLEX {x} + - LIMIT 0 3",
    "ZREVRANGEBYLEX {x} - +",
    "ZLEXCOUNT {x} - +",
    "ZLEXCOUNT {x} [b (e",
    "ZLEXCOUNT {x} b e",
    "ZLEXCOUNT nokey - +",
    "ZLEXCOUNT {b} - +",
    "ZRANGESTORE {y} {x} 0 2",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZRANGESTORE {y} {a} (1 +inf BYSCORE LIMIT 1 2",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZRANGESTORE {y} {a} +inf -inf BYSCORE REV",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZRANGESTORE {y} {x} [b [d BYLEX",
    "ZRANGE {y} 0 -1",
    "ZRANGESTORE {y} {a} 0 -1 WITHSCORES",
    "ZRANGESTORE {y} {a} 0 -1 LIMIT 0 1",
    "ZRANGESTORE {y} {a} 10 20",
    "EXISTS {y}",
    "ZRANGESTORE {y} nokey 0 -1",
    "ZRANGESTORE {y} {b} 0 -1",
    "ZRANGESTORE {b} {x} 0 0",
    "TYPE {b}",
    "ZRANGESTORE {y} {x} 0",
    "OBJECT ENCODING {b}",
];

const REMOVE_POP: &[&str] = &[
    "ZADD {a} 1 a 2 b 3 c 4 d 5 e 6 f 7 g",
    "ZREMRANGEBYRANK {a} 0 0",
    "ZREMRANGEBYRANK {a} -2 -1",
    "ZREMRANGEBYRANK {a} 5 1",
    "ZREMRANGEBYRANK {a} x 1",
    "ZRANGE {a} 0 -1",
    "ZREMRANGEBYSCORE {a} (2 3",
    "ZREMRANGEBYSCORE {a} x 3",
    "ZREMRANGEBYSCORE nokey 1 2",
    "ZRANGE {a} 0 -1 WITHSCORES",
    "ZADD {x} 0 a 0 b 0 c 0 d",
    "ZREMRANGEBYLEX {x} (a [c",
    "ZREMRANGEBYLEX {x} a c",
    "ZRANGE {x} 0 -1",
    "ZREMRANGEBYLEX {x} - +",
    "EXISTS {x}",
    "ZADD {a} 10 h 11 i 12 j",
    "ZPOPMIN {a}",
    "ZPOPMAX {a}",
    "ZPOPMIN {a} 2",
    "ZPOPMAX {a} 2",
    "ZPOPMIN {a} 0",
    "ZPOPMIN {a} -1",
    "ZPOPMIN {a} x",
    "ZPOPMIN {a} 1 2",
    "ZPOPMIN nokey",
    "ZPOPMIN nokey 3",
    "ZPOPMAX {a} 100",
    "EXISTS {a}",
    "SET {b} s",
    "ZPOPMIN {b}",
    "ZPOPMIN {b} -1",
    "ZADD {a} 1 a 2 b 3 c",
    "ZADD {x} 1 xa 2 xb",
    "ZMPOP 1 {a} MIN",
    "ZMPOP 2 nokey {x} MAX COUNT 5",
    "ZMPOP 2 nokey {x} MAX",
    "ZMPOP 2 {a} {x} MIN COUNT 10",
    "ZMPOP 1 {a} MIN",
    "ZMPOP 0 {a} MIN",
    "ZMPOP x {a} MIN",
    "ZMPOP -1 {a} MIN",
    "ZMPOP 2 {a} MIN",
    "ZMPOP 1 {a} MIDDLE",
    "ZMPOP 1 {a} MIN COUNT 0",
    "ZMPOP 1 {a} MIN COUNT x",
    "ZMPOP 1 {a} MIN COUNT 1 COUNT 1",
    "ZMPOP 1 {a} MIN BOGUS",
    "ZMPOP 2 {a} {b} MIN",
    "ZMPOP 1 {b} MIN",
    "ZADD {a} 1 a 2 b 3 c",
    "ZRANDMEMBER {a} 3",
    "ZRANDMEMBER {a} 5 WITHSCORES",
    "ZRANDMEMBER {a} 0",
    "?ZRANDMEMBER {a}",
    "?ZRANDMEMBER {a} 2",
    "?ZRANDMEMBER {a} -5 WITHSCORES",
    "?ZRANDMEMBER {a} 1 WITHSCORES",
    "ZRANDMEMBER {a} 1 BOGUS",
    "ZRANDMEMBER {a} 1 WITHSCORES x",
    "ZRANDMEMBER {a} x",
    "ZRANDMEMBER {a} -9223372036854775808",
    "ZRANDMEMBER {a} 9223372036854775807 WITHSCORES",
    "ZRANDMEMBER nokey",
    "ZRANDMEMBER nokey 3",
    "ZRANDMEMBER {b}",
    "ZRANDMEMBER {b} 1",
    "ZSCAN {a} 0",
    "ZSCAN {a} 0 MATCH b*",
    "ZSCAN {a} 0 COUNT 1",
    "ZSCAN {a} 0 COUNT 0",
    "ZSCAN {a} 0 COUNT x",
    "ZSCAN {a} 0 BOGUS 1",
    "ZSCAN {a} 0 MATCH",
    "ZSCAN {a} x",
    "ZSCAN {a} -1",
    "ZSCAN nokey 0",
    "ZSCAN {b} 0",
    "ZSCAN {b} x",
];

const ALGEBRA: &[&str] = &[
    "ZADD {a} 1 a 2 b 3 c",
    "ZADD {x} 10 b 20 c 30 d",
    "ZADD {b} 100 c 200 e",
    "ZUNION 2 {a} {x}",
    "ZUNION 2 {a} {x} WITHSCORES",
    "ZUNION 3 {a} {x} {b} WITHSCORES",
    "ZUNION 2 {a} {x} WEIGHTS 2 0.5 WITHSCORES",
    "ZUNION 2 {a} {x} AGGREGATE MIN WITHSCORES",
    "ZUNION 2 {a} {x} AGGREGATE max WITHSCORES",
    "ZUNION 2 {a} {x} AGGREGATE avg",
    "ZUNION 2 {a} {x} WEIGHTS 1",
    "ZUNION 2 {a} {x} WEIGHTS 1 x",
    "ZUNION 2 {a} nokey WITHSCORES",
    "ZUNION 0 {a}",
    "ZUNION -1 {a}",
    "ZUNION x {a}",
    "ZUNION 3 {a} {x}",
    "ZUNION 2 {a} {x} BOGUS",
    "ZINTER 2 {a} {x} WITHSCORES",
    "ZINTER 3 {a} {x} {b} WITHSCORES",
    "ZINTER 2 {a} {x} WEIGHTS 2 3 AGGREGATE MAX WITHSCORES",
    "ZINTER 2 {a} nokey",
    "ZINTER 1 {a}",
    "ZDIFF 2 {a} {x} WITHSCORES",
    "ZDIFF 3 {x} {a} {b}",
    "ZDIFF 1 nokey",
    "ZDIFF 2 {a} {x} WEIGHTS 1 1",
    "ZDIFF 2 {a} {x} AGGREGATE SUM",
    "ZUNIONSTORE {y} 2 {a} {x}",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZUNIONSTORE {y} 2 {a} {x} WITHSCORES",
    "ZINTERSTORE {y} 2 {a} {x} WEIGHTS 1 -1",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZINTERSTORE {y} 2 {a} nokey",
    "EXISTS {y}",
    "ZDIFFSTORE {y} 2 {x} {a}",
    "ZRANGE {y} 0 -1 WITHSCORES",
    "ZUNIONSTORE {y} 0 {a}",
    "ZDIFFSTORE {y} 0 {a}",
    "ZINTERSTORE {y} 3 {a} {x}",
    "ZUNIONSTORE {a} 2 {a} {x}",
    "ZRANGE {a} 0 -1 WITHSCORES",
    "ZADD {b} inf p",
    "ZADD {x} -inf p",
    "ZUNION 2 {b} {x} WITHSCORES",
    "ZUNION 2 {b} {x} WEIGHTS 0 1 WITHSCORES",
    "ZINTER 2 {b} {x} WITHSCORES",
    "ZINTERCARD 2 {a} {x}",
    "ZINTERCARD 2 {a} {x} LIMIT 1",
    "ZINTERCARD 2 {a} {x} LIMIT 0",
    "ZINTERCARD 2 {a} {x} LIMIT -1",
    "ZINTERCARD 2 {a} {x} LIMIT x",
    "ZINTERCARD 2 {a} {x} WITHSCORES",
    "ZINTERCARD 0 {a}",
    "ZINTERCARD 3 {a} {x}",
    "ZINTERCARD 1 nokey",
    "SET {y} s",
    "ZUNION 2 {a} {y}",
    "ZUNION 2 {y} nokey BOGUS",
    "ZINTERCARD 1 {y}",
    "ZUNIONSTORE {y} 1 {a}",
    "TYPE {y}",
];

/// Encodings across the limits, and the scores' text in both.
const ENCODINGS: &[&str] = &[
    "ZADD {a} {128}",
    "OBJECT ENCODING {a}",
    "ZADD {a} 129 m129",
    "OBJECT ENCODING {a}",
    "ZRANGE {a} 60 70 WITHSCORES",
    "ZRANK {a} m100",
    "ZREVRANK {a} m100",
    "ZCOUNT {a} (10 100",
    "ZRANGEBYSCORE {a} 120 +inf LIMIT 2 3 WITHSCORES",
    "ZREVRANGEBYSCORE {a} 20 -inf LIMIT 2 3",
    "ZREMRANGEBYRANK {a} 0 99",
    "OBJECT ENCODING {a}",
    "ZCARD {a}",
    "ZRANGE {a} 0 -1",
    "ZPOPMIN {a} 3",
    "ZPOPMAX {a}",
    "ZADD {x} 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "OBJECT ENCODING {x}",
    "ZADD {y} 1 short",
    "ZADD {y} 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "OBJECT ENCODING {y}",
    "ZADD {y} 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "OBJECT ENCODING {y}",
    "ZUNIONSTORE {b} 1 {a}",
    "OBJECT ENCODING {b}",
    "ZUNIONSTORE {b} 2 {a} {x}",
    "OBJECT ENCODING {b}",
    "ZRANGESTORE {b} {a} 0 3",
    "OBJECT ENCODING {b}",
    "ZADD {b} 0.1 p 1.1 q 3.3 r 1e17 s 123456789.125 t -2.5e-7 u",
    "ZRANGE {b} 0 -1 WITHSCORES",
    "ZSCAN {b} 0",
    "ZSCORE {b} q",
    "ZINCRBY {b} 0.2 p",
    "ZADD {b} INCR 1e308 s",
    "ZADD {b} INCR 1e308 s",
    "ZADD {b} INCR 1e308 s",
];

/// The skiplist encoding through the range, lex and algebra paths, wrong
/// arities.
const BIG: &[&str] = &[
    "ZADD {a} {128}",
    "ZADD {a} 0 zz",
    "OBJECT ENCODING {a}",
    "ZRANGE {a} 0 4 REV WITHSCORES",
    "ZRANGE {a} (5 10 BYSCORE LIMIT 1 2 WITHSCORES",
    "ZRANGE {a} 10 (5 BYSCORE REV LIMIT 1 2",
    "ZRANGE {a} [m1 (m2 BYLEX",
    "ZREMRANGEBYSCORE {a} 100 (120",
    "ZREMRANGEBYLEX {a} - (m1",
    "ZCARD {a}",
    "ZRANK {a} zz",
    "ZSCORE {a} m5",
    "ZADD {a} -0 nz",
    "ZSCORE {a} nz",
    "ZUNIONSTORE {x} 2 {a} {a} WEIGHTS 1 0.5",
    "OBJECT ENCODING {x}",
    "ZRANGE {x} 0 5 WITHSCORES",
    "ZINTER 2 {a} {x} AGGREGATE MIN",
    "ZDIFFSTORE {y} 2 {a} {x}",
    "EXISTS {y}",
    "ZPOPMAX {a} 3",
    "ZMPOP 1 {a} MIN COUNT 2",
    "ZADD",
    "ZADD {a}",
    "ZINCRBY {a} 1",
    "ZREM {a}",
    "ZSCORE {a}",
    "ZCARD",
    "ZRANGE {a} 0",
    "ZRANGESTORE {a} {x} 0",
    "ZCOUNT {a} 1",
    "ZPOPMIN",
    "ZMPOP 1 {a}",
    "ZUNION 1",
    "ZUNIONSTORE {a} 1",
    "ZSCAN {a}",
    "ZRANDMEMBER",
    "ZINTERCARD 1",
];

#[test]
fn skiplist_paths_and_arity_match_redis() {
    compare(&both("big", BIG));
}

#[test]
fn zadd_and_point_queries_match_redis() {
    compare(&both("add", ADD));
}

#[test]
fn ranges_match_redis() {
    compare(&both("ranges", RANGES));
}

#[test]
fn removal_pops_and_scans_match_redis() {
    compare(&both("remove", REMOVE_POP));
}

#[test]
fn union_inter_diff_match_redis() {
    compare(&both("algebra", ALGEBRA));
}

#[test]
fn encodings_and_score_text_match_redis() {
    compare(&both("encodings", ENCODINGS));
}
