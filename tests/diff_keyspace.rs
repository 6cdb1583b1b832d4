//! Differential tests of the keyspace and string commands added with the
//! command table: RENAME, RENAMENX, COPY and MSETNX with their keys on one
//! core and on both, EXPIREAT and its kin, TYPE, OBJECT, MEMORY USAGE,
//! UNLINK, TOUCH, SETNX, SET EXAT/PXAT, the COMMAND and CLIENT
//! subcommands, and the same after HELLO 3.

mod common;

use common::diff::{block, c, compare, on_cores, unchecked, Req};
use common::keys_on_shard;

fn rename_copy_msetnx() -> Vec<Req> {
    on_cores(
        "k",
        &[
            "RENAME {a} {b}",
            "SET {a} 1",
            "RENAME {a} {a}",
            "RENAMENX {a} {a}",
            "RENAME {a}",
            "RENAME {a} {b}",
            "GET {a}",
            "GET {b}",
            // Across cores, with the TTL moving along.
            "SET {a} v EX 100",
            "RENAME {a} {x}",
            "TTL {x}",
            "EXISTS {a}",
            "RENAMENX {x} {b}",
            "RENAMENX {x} {y}",
            "GET {y}",
            "TTL {y}",
            "RENAME {y} {b}",
            "GET {b}",
            "TTL {b}",
            "COPY {b} {b}",
            "COPY {b} {x} DB 1",
            "COPY {b} {x} DB x",
            "COPY {b} {x} bogus",
            "COPY {b} {x}",
            "COPY {b} {x}",
            "COPY {b} {x} REPLACE",
            "COPY {b} {x} db 0 replace",
            "GET {x}",
            "TTL {x}",
            "COPY nokey {x}",
            "DEL {a} {b} {x} {y}",
            "MSETNX {a} 1 {x}",
            "MSETNX {a} 1 {x} 2",
            "MSETNX {a} 3 {y} 4",
            "MGET {a} {x} {y}",
            "MSETNX {b} 1 {y} 2",
            "MGET {b} {y}",
            // BITOP and LCS with keys on both cores.
            "SET {a} foobar",
            "SET {x} fooqux",
            "BITOP AND {y} {a} {x}",
            "GET {y}",
            "BITOP OR {b} {x} {a} nokey",
            "GET {b}",
            "LCS {a} {x}",
            "LCS {a} {x} LEN",
            "LCS {a} {x} IDX WITHMATCHLEN",
        ],
    )
}

fn expiry_and_introspection() -> Vec<Req> {
    on_cores(
        "k",
        &[
            "SET {a} 12",
            "EXPIREAT {a} 99999999999",
            // Absolute times compare exactly; a TTL this far out rounds by the
            // round trip.
            "EXPIRETIME {a}",
            "EXPIRETIME nokey",
            "PERSIST {a}",
            "EXPIRETIME {a}",
            "PEXPIRETIME {a}",
            "EXPIREAT {a} 1",
            "EXISTS {a}",
            "SET {a} v",
            "PEXPIREAT {a} 99999999999999 NX",
            "PEXPIREAT {a} 99999999999999 NX",
            "PEXPIREAT {a} 1 GT",
            "EXPIREAT {a} abc",
            "EXPIREAT {a} 10 bogus",
            "EXPIREAT {a} 9223372036854775807",
            "SET {a} v EXAT 99999999999",
            "PEXPIRETIME {a}",
            "SET {a} v PXAT 0",
            "SET {a} v EXAT 1 PX 3",
            "SETNX {a} w",
            "SETNX {b} w",
            "SETNX {b}",
            "TYPE {b}",
            "TYPE nokey",
            "SET n 123",
            "OBJECT ENCODING n",
            "OBJECT REFCOUNT n",
            "OBJECT ENCODING {b}",
            "SET long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "OBJECT ENCODING long",
            "OBJECT REFCOUNT long",
            "OBJECT ENCODING nokey",
            "OBJECT FREQ nokey",
            "OBJECT FREQ n",
            "OBJECT IDLETIME nokey",
            "OBJECT ENCODING",
            "OBJECT ENCODING n extra",
            "OBJECT bogus n",
            "OBJECT",
            "OBJECT HELP x",
            "MEMORY USAGE nokey",
            "MEMORY USAGE",
            "MEMORY USAGE n SAMPLES x",
            "MEMORY USAGE n bogus",
            "MEMORY bogus",
            "UNLINK {a} {b} {x} nokey",
            "UNLINK",
            "TOUCH n long nokey",
            "TOUCH",
            "COMMAND GETKEYS MSET {a} 1 {x} 2",
            "COMMAND GETKEYS MSET {a} 1 {x}",
            "COMMAND GETKEYS nope",
            "COMMAND GETKEYS",
            "COMMAND LIST bogus",
            "COMMAND bogus",
            "CLIENT bogus",
            "CLIENT SETNAME",
            "CLIENT NO-EVICT maybe",
            "CLIENT NO-EVICT on",
            "CLIENT KILL",
            "CLIENT KILL 1.2.3.4:5",
            "CLIENT KILL id x",
            "CLIENT KILL id 99999",
            "CLIENT KILL bogus x",
            "CLIENT KILL addr 1.2.3.4:5 skipme maybe",
            "CLIENT KILL addr 1.2.3.4:5 skipme",
            "CLIENT LIST type bogus",
            "CLIENT LIST id x",
            "CLIENT LIST id 99999",
            "CLIENT LIST bogus",
            "CONFIG GET",
            "CONFIG bogus",
            "CONFIG SET bogus 1",
            "TIME x",
            "SELECT x",
            "WAIT",
            "WAIT x 0",
            "WAIT 0 x",
            "WAIT 0 -1",
            "WAIT 1 10",
            "SHUTDOWN bogus",
            "SHUTDOWN ABORT",
            "SHUTDOWN SAVE NOSAVE",
            "SHUTDOWN ABORT NOW",
        ],
    )
}

/// Transactions with a command whose keys live on both cores.
fn spanning_transactions() -> Vec<Req> {
    let s0 = keys_on_shard("k", 0, 2, 2);
    let s1 = keys_on_shard("k", 1, 2, 2);
    let (a, b, x, y) = (&s0[0], &s0[1], &s1[0], &s1[1]);
    vec![
        block(&[
            "MULTI",
            &format!("SET {a} 1"),
            &format!("RENAME {a} {x}"),
            &format!("GET {x}"),
            &format!("INCR {x}"),
            &format!("MSETNX {b} 1 {y} 2"),
            &format!("MGET {a} {b} {x} {y}"),
            &format!("COPY {x} {a}"),
            &format!("RENAME nokey {y}"),
            "DBSIZE",
            "PING",
            "EXEC",
        ]),
        c(&format!("MGET {a} {b} {x} {y}")),
        block(&["MULTI", &format!("RENAMENX {a} {y}"), "FLUSHALL", "EXEC"]),
        c("DBSIZE"),
    ]
}

fn resp3() -> Vec<Req> {
    let mut s = vec![unchecked("HELLO 3")];
    s.extend(on_cores(
        "k",
        &[
            "SET {a} 1",
            "OBJECT ENCODING nokey",
            "COPY nokey {x}",
            "RENAME {a} {x}",
            "MSETNX {b} 1 {y} 2",
            "EXPIRETIME {x}",
            "MEMORY USAGE nokey",
        ],
    ));
    s
}

#[test]
fn redis_differential_keyspace() {
    compare(&[
        ("rename, copy, msetnx", rename_copy_msetnx()),
        ("expiry and introspection", expiry_and_introspection()),
        ("resp3", resp3()),
        ("spanning transactions", spanning_transactions()),
    ]);
}
