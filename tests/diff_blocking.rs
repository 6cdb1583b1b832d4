//! Differential tests of the blocking list commands where they need not
//! block: keys with items (on one core and across both), the order of
//! their checks and errors, short timeouts on missing keys, and inside
//! MULTI; RESP2 and after HELLO 3. Blocking itself (wake-ups, FIFO,
//! disconnects) is in `node_blocking.rs`.

mod common;

use common::diff::{block, c, compare, on_cores, unchecked};
use common::keys_on_shard;

const LINES: &[&str] = &[
    "RPUSH {a} 1 2 3",
    "RPUSH {x} 4 5",
    "BLPOP {b} {a} {x} 0",
    "BRPOP {y} {x} {a} 0",
    "BLPOP {a} 0.5",
    "BLPOP {b} 0.01",
    "BRPOP {b} {y} 0.01",
    "BLPOP {a} -1",
    "BLPOP {a} abc",
    "BLPOP {a} 1e400",
    "BLPOP {a}",
    "SET {b} s",
    "BLPOP {b} {a} 0",
    "BLPOP {y} {b} 0",
    "BLMOVE {a} {x} LEFT RIGHT 0",
    "LRANGE {x} 0 -1",
    "BLMOVE {x} {x} RIGHT LEFT 0",
    "LRANGE {x} 0 -1",
    "BLMOVE {a} {x} UP RIGHT 0",
    "BLMOVE {a} {x} LEFT RIGHT -1",
    "BLMOVE {b} {x} LEFT RIGHT 0",
    "BLMOVE {x} {b} LEFT RIGHT 0",
    "BLMOVE {y} {x} LEFT RIGHT 0.01",
    "BRPOPLPUSH {x} {a} 0",
    "BRPOPLPUSH {x} {a} x",
    "LRANGE {a} 0 -1",
    "RPUSH {y} 7 8 9",
    "BLMPOP 0 2 {b} {y} LEFT",
    "BLMPOP 0 2 {a} {y} RIGHT COUNT 10",
    "BLMPOP 0 1 {y} LEFT COUNT 10",
    "BLMPOP 0 0 {y} LEFT",
    "BLMPOP 0 3 {y} LEFT",
    "BLMPOP 0 1 {y} UP",
    "BLMPOP 0 1 {y} LEFT COUNT 0",
    "BLMPOP 0 1 {y} LEFT COUNT 1 COUNT 2",
    "BLMPOP -1 1 {y} LEFT",
    "BLMPOP 0.01 1 {y} LEFT",
    "EXISTS {a} {x} {y}",
    // Sorted sets.
    "ZADD {a} 1 m 2 n 3 o",
    "ZADD {x} 1.5 p",
    "BZPOPMIN {b} {a} 0",
    "BZPOPMAX {y} {x} {a} 0",
    "BZPOPMIN {x} 0.01",
    "BZPOPMIN {a} -1",
    "BZPOPMIN {a} x",
    "SET {b} s",
    "BZPOPMAX {b} {a} 0",
    "BZMPOP 0 2 {y} {a} MIN COUNT 5",
    "ZADD {a} 1 m 2 n",
    "BZMPOP 0 1 {a} MAX",
    "BZMPOP 0 0 {a} MAX",
    "BZMPOP 0 1 {a} UP",
    "BZMPOP 0 1 {a} MIN COUNT 0",
    "BZMPOP -1 1 {a} MIN",
    "BZMPOP 0.01 1 {y} MIN",
    "EXISTS {a} {x}",
];

#[test]
fn redis_differential_blocking_lists() {
    let mut resp3 = vec![unchecked("HELLO 3")];
    resp3.extend(on_cores("b", LINES));
    let s = |k: &str| keys_on_shard("b", if k == "a" { 0 } else { 1 }, 2, 1)[0].clone();
    let (a, x) = (s("a"), s("x"));
    let multi = vec![
        c(&format!("RPUSH {a} 1")),
        block(&[
            "MULTI",
            &format!("BLPOP {x} 0"),
            &format!("BLPOP {a} 0"),
            &format!("BLMOVE {x} {a} LEFT LEFT 0"),
            &format!("BRPOPLPUSH {x} {a} 0"),
            &format!("BLMPOP 0 1 {x} LEFT"),
            &format!("BZPOPMIN {x} 0"),
            &format!("BZMPOP 0 1 {x} MIN"),
            "EXEC",
        ]),
    ];
    compare(&[
        ("blocking lists", on_cores("b", LINES)),
        ("resp3", resp3),
        ("in multi", multi),
    ]);
}
