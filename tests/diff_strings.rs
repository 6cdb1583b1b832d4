//! Differential tests of the string commands added with the command
//! table: APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE, GETDEL, GETEX and
//! INCRBYFLOAT (Redis's long-double arithmetic and formatting), RESP2 and
//! after HELLO 3.

mod common;

use common::diff::{a, c, compare, unchecked, Req};

fn strings() -> Vec<Req> {
    let mut s: Vec<Req> = [
        "APPEND k hello",
        "APPEND k \" world\"",
        "APPEND k",
        "STRLEN k",
        "STRLEN nokey",
        "STRLEN",
        "GETRANGE k 0 -1",
        "GETRANGE k -3 -1",
        "GETRANGE k 5 1",
        "GETRANGE k -100 -50",
        "GETRANGE k 0 100",
        "GETRANGE k a 1",
        "GETRANGE k 1 a",
        "GETRANGE nokey 0 -1",
        "GETRANGE k 0",
        "SUBSTR k 1 3",
        "SETRANGE k 0 H",
        "SETRANGE k 20 !",
        "GET k",
        "SETRANGE k -1 x",
        "SETRANGE k a x",
        "SETRANGE k 536870912 x",
        "SETRANGE new 0 \"\"",
        "EXISTS new",
        "SETRANGE k 100 \"\"",
        "SETRANGE new 3 abc",
        "GET new",
        "GETDEL new",
        "GETDEL new",
        "GETDEL",
        "SET g v",
        "GETEX g",
        "GETEX g EX 100",
        "TTL g",
        "GETEX g PX 100 PX 200000",
        "TTL g",
        "GETEX g PERSIST",
        "TTL g",
        "GETEX g EX 0",
        "GETEX g EX abc",
        "GETEX g EX abc PX 1",
        "GETEX g PERSIST EX 10",
        "GETEX g EX 10 PERSIST",
        "GETEX g bogus",
        "GETEX g EX",
        "GETEX g EXAT 99999999999",
        "EXPIRETIME g",
        "GETEX g PXAT 1",
        "EXISTS g",
        "GETEX nokey EX 10",
        "GETEX nokey EX 0",
        "SET f 10.5",
        "INCRBYFLOAT f 0.1",
        "INCRBYFLOAT f -5",
        "INCRBYFLOAT f 1e3",
        "INCRBYFLOAT f 0x10",
        "INCRBYFLOAT f abc",
        "INCRBYFLOAT f \"\"",
        "INCRBYFLOAT f nan",
        "INCRBYFLOAT f inf",
        "INCRBYFLOAT f 1e400",
        "INCRBYFLOAT f -1e400",
        "INCRBYFLOAT k 1",
        "INCRBYFLOAT nf 3.0e-3",
        "INCRBYFLOAT nf 1.23456789012345678",
        "INCRBYFLOAT nf",
        "SET e 5.0e3",
        "INCRBYFLOAT e 0",
        "SET sp \" 1\"",
        "INCRBYFLOAT sp 1",
    ]
    .into_iter()
    .map(|l| {
        if l.contains('"') {
            let parts: Vec<String> = l
                .split(' ')
                .map(String::from)
                .collect::<Vec<_>>()
                .join(" ")
                .split('"')
                .enumerate()
                .flat_map(|(i, p)| {
                    if i % 2 == 1 {
                        vec![p.to_string()]
                    } else {
                        p.split(' ')
                            .filter(|w| !w.is_empty())
                            .map(String::from)
                            .collect()
                    }
                })
                .collect();
            let args: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
            a(&args)
        } else {
            c(l)
        }
    })
    .collect();
    s.push(unchecked("HELLO 3"));
    s.extend(
        [
            "GETDEL nokey",
            "GETEX nokey",
            "INCRBYFLOAT f 1.5",
            "STRLEN f",
            "GETRANGE nokey 0 1",
        ]
        .into_iter()
        .map(c),
    );
    s
}

#[test]
fn redis_differential_strings() {
    compare(&[("strings", strings())]);
}
