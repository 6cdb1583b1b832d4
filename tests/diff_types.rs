//! Differential tests of what every type shares: TYPE and OBJECT ENCODING
//! of each (small and grown past its compact encoding), WRONGTYPE from
//! every string command on a collection (and nil from MGET), SET over a
//! collection, RENAME and COPY of each type within one core and across
//! both, EXPIRE/TTL/PERSIST and DEL/UNLINK/EXISTS on each, and a key whose
//! collection empties disappearing; RESP2 and after HELLO 3.

mod common;

use common::diff::{compare, on_cores, unchecked};

/// The command that creates a small value of each collection type in
/// `{a}`, and its TYPE name.
const MAKERS: &[(&str, &str)] = &[
    ("HSET {a} f v g w", "hash"),
    ("RPUSH {a} 1 2 3", "list"),
    ("SADD {a} 1 2 3", "set"),
    ("SADD {a} m n o", "set"),
    ("ZADD {a} 1 m 2 n", "zset"),
];

/// String commands on a key holding another type: Redis's WRONGTYPE,
/// except MGET's nil.
const STRING_CMDS: &[&str] = &[
    "GET {a}",
    "MGET {a} {x}",
    "APPEND {a} x",
    "STRLEN {a}",
    "GETRANGE {a} 0 -1",
    "SETRANGE {a} 0 x",
    "GETDEL {a}",
    "GETEX {a}",
    "GETEX {a} EX 10",
    "GETEX {a} EX bogus",
    "GETSET {a} x",
    "SET {a} x GET",
    "SET {a} x NX GET",
    "INCR {a}",
    "INCRBY {a} 2",
    "DECR {a}",
    "INCRBYFLOAT {a} 1.5",
    "SETBIT {a} 3 1",
    "GETBIT {a} 3",
    "BITCOUNT {a}",
    "BITPOS {a} 1",
    "BITOP AND {b} {a}",
    "LCS {a} {b}",
    "SETNX {a} x",
    "MSETNX {a} x {b} y",
];

fn each_type() -> Vec<String> {
    let mut l: Vec<String> = Vec::new();
    for (make, _) in MAKERS {
        l.push("FLUSHALL".into());
        l.push(make.to_string());
        l.push("TYPE {a}".into());
        l.push("OBJECT ENCODING {a}".into());
        l.push("EXISTS {a}".into());
        for cmd in STRING_CMDS {
            l.push(cmd.to_string());
        }
        l.push("TYPE {a}".into());
        // TTLs work on every type.
        l.push("EXPIRE {a} 100".into());
        l.push("TTL {a}".into());
        l.push("PERSIST {a}".into());
        l.push("TTL {a}".into());
        // RENAME and COPY move the value whatever it is, on one core and
        // across both, TTL included.
        l.push("PEXPIRE {a} 100000".into());
        l.push("RENAME {a} {b}".into());
        l.push("TYPE {b}".into());
        l.push("RENAME {b} {x}".into());
        l.push("TYPE {x}".into());
        l.push("OBJECT ENCODING {x}".into());
        l.push("COPY {x} {y}".into());
        l.push("TYPE {y}".into());
        l.push("COPY {x} {a}".into());
        l.push("TYPE {a}".into());
        l.push("COPY {x} {a}".into());
        l.push("COPY {x} {a} REPLACE".into());
        l.push("DEL {a}".into());
        l.push("UNLINK {x} {y}".into());
        l.push("EXISTS {a} {x} {y}".into());
        // SET replaces a collection.
        l.push(make.to_string());
        l.push("SET {a} str".into());
        l.push("TYPE {a}".into());
        l.push("GET {a}".into());
    }
    l
}

fn growth_and_emptying() -> Vec<String> {
    let mut l: Vec<String> = vec!["FLUSHALL".into()];
    // Past 128 fields or members, and past 64 bytes, the compact
    // encodings convert; past 512 integers an intset does.
    let many: Vec<String> = (0..130).map(|i| format!("f{i} {i}")).collect();
    l.push(format!("HSET {{a}} {}", many.join(" ")));
    l.push("OBJECT ENCODING {a}".into());
    l.push(format!("HSET {{b}} f {}", "v".repeat(65)));
    l.push("OBJECT ENCODING {b}".into());
    let members: Vec<String> = (0..130).map(|i| format!("{i} m{i}")).collect();
    l.push(format!("ZADD {{x}} {}", members.join(" ")));
    l.push("OBJECT ENCODING {x}".into());
    let ints: Vec<String> = (0..513).map(|i| i.to_string()).collect();
    l.push(format!("SADD {{y}} {}", ints.join(" ")));
    l.push("OBJECT ENCODING {y}".into());
    l.push("SADD {y} notanumber".into());
    l.push("OBJECT ENCODING {y}".into());
    l.push("TYPE {a}".into());
    l.push("DEL {a} {b} {x} {y}".into());
    // A key whose collection empties is deleted.
    l.push("RPUSH {a} 1".into());
    l.push("LPOP {a}".into());
    l.push("EXISTS {a}".into());
    l.push("TYPE {a}".into());
    l.push("HSET {a} f v".into());
    l.push("HDEL {a} f".into());
    l.push("EXISTS {a}".into());
    l.push("SADD {a} m".into());
    l.push("SREM {a} m".into());
    l.push("EXISTS {a}".into());
    l.push("ZADD {a} 1 m".into());
    l.push("ZREM {a} m".into());
    l.push("EXISTS {a}".into());
    l.push("DBSIZE".into());
    l
}

#[test]
fn redis_differential_types() {
    let mut resp3 = vec![unchecked("HELLO 3")];
    resp3.extend(on_cores("t", &each_type()));
    compare(&[
        ("each type", on_cores("t", &each_type())),
        ("growth and emptying", on_cores("t", &growth_and_emptying())),
        ("resp3", resp3),
    ]);
}
