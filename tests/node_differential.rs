//! Differential tests: the same raw bytes go to a real `redis-server` and to
//! a two-core `cachectl node`, and the replies must match byte for byte.
//!
//! Each script runs on one connection per server after a FLUSHALL, so
//! scripts carry state (SET then GET) exactly as a client would. After every
//! request that expects a reply we send a sentinel `ECHO` and read up to its
//! reply, which makes requests that answer nothing (`*0`, a blank inline
//! line) or several things (a pipelined write) comparable too. Requests
//! marked [`Req::Closes`] end the connection (QUIT, protocol errors): we read
//! until EOF and reconnect for the rest of the script.
//!
//! Skipped, with a notice on the terminal, when `redis-server` is not on
//! PATH; a failure instead with `CACHECTL_REQUIRE_REDIS=1`, which CI sets.

mod common;

use common::diff::{a, block, c, closes, compare, compare_with, raw, unchecked, Req};
use common::keys_on_shard;

fn strings() -> Vec<Req> {
    [
        "SET k v",
        "GET k",
        "GET missing",
        "SET k v2 NX",
        "GET k",
        "SET n v NX",
        "SET missing v XX",
        "SET k v3 XX",
        "SET k v4 GET",
        "SET fresh v GET",
        "SET k v5 NX GET",
        "SET k v6 XX GET",
        "SET nokey v XX GET",
        "EXISTS nokey",
        "set k v7 nx",
        "set k v8 xx get",
        // KEEPTTL keeps the TTL (PERSIST then finds one); plain SET drops it.
        "SET t v EX 100",
        "SET t v2 KEEPTTL",
        "PERSIST t",
        "SET t v EX 100",
        "SET t v3",
        "PERSIST t",
        "TTL t",
        "SET k v EX 10 PX 10",
        "SET k v PX 10 EX 10",
        "SET k v KEEPTTL EX 10",
        "SET k v EX 10 KEEPTTL",
        "SET k v EX 0",
        "SET k v EX -1",
        "SET k v PX 0",
        "SET k v EX abc",
        "SET k v EX 1.5",
        "SET k v EX",
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v BOGUS",
        "SET k v EX 9223372036854775807",
        "SETEX se 100 v",
        // PERSIST answers 1 only for a key that had a TTL (a TTL figure
        // would depend on how long the round trip took).
        "PERSIST se",
        "GET se",
        "SETEX se 0 v",
        "SETEX se -5 v",
        "SETEX se x v",
        "SETEX se 9223372036854775807 v",
        "SETEX se 10",
        "PSETEX pe 100000 v",
        "PERSIST pe",
        "PSETEX pe 0 v",
        "PSETEX pe 1.5 v",
        "GETSET gs a",
        "GETSET gs b",
        "GET gs",
        "SET gs v EX 100",
        "GETSET gs c",
        "TTL gs",
        "GETSET gs",
        "SET k",
        "GET",
        "GET a b",
        "GET k",
        "ECHO",
        "ECHO hi",
        "ECHO a b",
        "PING",
        "PING hello",
        "PING a b",
        "DBSIZE",
    ]
    .into_iter()
    .map(c)
    .collect()
}

fn multi_key() -> Vec<Req> {
    // Keys on both cores, interleaved, so every multi-key reply is merged.
    let s0 = keys_on_shard("d", 0, 2, 3);
    let s1 = keys_on_shard("d", 1, 2, 3);
    let (a0, a1, a2, b0, b1, b2) = (&s0[0], &s0[1], &s0[2], &s1[0], &s1[1], &s1[2]);
    [
        format!("MSET {a0} 1 {b0} 2 {a1} 3 {b1} 4"),
        format!("MGET {b0} {a0} missing {b1} {a1} {b2}"),
        format!("EXISTS {a0} {a0} {b0} {b0} missing {a2}"),
        format!("DEL {a0} missing {b0}"),
        format!("DEL {a0} {b0}"),
        format!("EXISTS {a0} {b0} {a1} {b1}"),
        format!("MSET {a2} x {b2} y {a2} z"),
        format!("MGET {a2} {b2}"),
        "DBSIZE".into(),
        format!("DEL {a1} {b1} {a2} {b2} {a1}"),
        "DBSIZE".into(),
        format!("MSET {a0}"),
        format!("MSET {a0} 1 {b0}"),
        "MGET".into(),
        "DEL".into(),
        "EXISTS".into(),
    ]
    .iter()
    .map(|s| c(s))
    .collect()
}

fn counters() -> Vec<Req> {
    let mut v: Vec<Req> = [
        "INCR c",
        "INCR c",
        "DECR c",
        "INCRBY c 10",
        "DECRBY c 20",
        "INCRBY c -1",
        "DECRBY c -15",
        "GET c",
        "DECR fresh",
        "INCRBY c abc",
        "INCRBY c 1.5",
        "DECRBY c x",
        "INCRBY c 99999999999999999999",
        "SET big 9223372036854775807",
        "INCR big",
        "INCRBY big 1",
        "GET big",
        "SET small -9223372036854775808",
        "DECR small",
        "DECRBY small 1",
        "INCRBY small -1",
        "INCR small",
        "SET s abc",
        "INCR s",
        "SET s 01",
        "INCR s",
        "SET s +1",
        "INCR s",
        "SET s -0",
        "INCR s",
        "SET s 1.0",
        "DECR s",
        "GET s",
        "SET s 9223372036854775806",
        "INCR s",
        "INCR s",
        "INCR",
        "INCRBY c",
        "DECRBY c 1 2",
    ]
    .into_iter()
    .map(c)
    .collect();
    v.push(a(&[b"SET", b"s", b" 1"]));
    v.push(c("INCR s"));
    v.push(a(&[b"SET", b"s", b"1 "]));
    v.push(c("INCR s"));
    v
}

fn expiry() -> Vec<Req> {
    [
        "EXPIRE missing 10",
        "TTL missing",
        "PTTL missing",
        "PERSIST missing",
        "SET k v",
        "TTL k",
        "PTTL k",
        "PERSIST k",
        "EXPIRE k 10 XX",
        "EXPIRE k 10 GT",
        "EXPIRE k 1000 LT",
        "PERSIST k",
        "EXPIRE k 100 NX",
        "EXPIRE k 10 NX",
        "EXPIRE k 50 GT",
        "EXPIRE k 200 GT",
        "EXPIRE k 300 LT",
        "EXPIRE k 150 LT",
        "EXPIRE k 120 XX",
        "EXPIRE k 110 XX LT",
        "EXPIRE k 500 gt xx",
        "EXPIRE k 10 nx nx",
        "EXPIRE k 10 NX XX",
        "EXPIRE k 10 NX GT",
        "EXPIRE k 10 GT LT",
        "EXPIRE k 10 bogus",
        "EXPIRE k 10 1",
        "EXPIRE k abc",
        "EXPIRE k 9223372036854775807",
        "PEXPIRE k 100000",
        "PERSIST k",
        "PERSIST k",
        "TTL k",
        "EXPIRE k -1",
        "GET k",
        "EXISTS k",
        "TTL k",
        "SET k v",
        "PEXPIRE k 0",
        "EXISTS k",
        "SET k v",
        "PEXPIRE k -100 XX",
        "PEXPIRE k -100",
        "DBSIZE",
        "EXPIRE k",
        "TTL",
        "PTTL a b",
        "PERSIST",
    ]
    .into_iter()
    .map(c)
    .collect()
}

fn server() -> Vec<Req> {
    let mut v: Vec<Req> = [
        "SET a 1",
        "DBSIZE",
        "DBSIZE x",
        "FLUSHDB",
        "DBSIZE",
        "SET a 1",
        "FLUSHALL ASYNC",
        "FLUSHALL SYNC",
        "flushdb async",
        "FLUSHALL bogus",
        "FLUSHALL async extra",
        "SELECT 0",
        "SELECT 1",
        "SELECT -1",
        "SELECT x",
        "SELECT",
        "CONFIG GET save",
        "CONFIG GET appendonly",
        "CONFIG GET databases",
        "CONFIG GET maxmemory",
        "CONFIG GET maxmemory-policy",
        "CONFIG GET nosuch",
        "CONFIG GET",
        "CONFIG",
        "CONFIG bogus",
        "CLIENT GETNAME",
        "CLIENT SETNAME foo",
        "CLIENT GETNAME",
        "CLIENT SETNAME ",
        "CLIENT GETNAME",
        "CLIENT GETNAME x",
        "CLIENT ID x",
        "CLIENT SETNAME",
        "CLIENT bogus",
        "CLIENT",
        "COMMAND bogus",
        "COMMAND DOCS nosuch",
        "foo",
        "foo a b",
        "FOO 1 2 3",
    ]
    .into_iter()
    .map(c)
    .collect();
    v.push(a(&[b"CLIENT", b"SETNAME", b"a b"]));
    v.push(a(&[b"CLIENT", b"SETNAME", b"a\nb"]));
    v.push(a(&[b""]));
    // Redis cuts an unknown command's name and args at 128 bytes each.
    let long = "x".repeat(300);
    v.push(a(&[long.as_bytes(), long.as_bytes(), b"y"]));
    v
}

fn inline_and_binary() -> Vec<Req> {
    vec![
        raw(b"PING\r\n"),
        raw(b"PING\n"),
        raw(b"  PING   \r\n"),
        raw(b"\r\n"),
        raw(b"*0\r\n"),
        raw(b"*-1\r\n"),
        raw(b"SET k 'a b'\r\n"),
        raw(b"GET k\r\n"),
        raw(b"ECHO \"x y\"\r\n"),
        raw(b"SET k:1 v\r\nGET k:1\r\n"),
        raw(b"PING\r\n*1\r\n$4\r\nPING\r\nECHO a\r\n*2\r\n$4\r\nECHO\r\n$1\r\nb\r\n"),
        raw(b"*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n"),
        raw(b"*1\r\n$0\r\n\r\n"),
        a(&[b"SET", b"\x00\r\n\xff", b"\r\n\x00\x80\xfe"]),
        a(&[b"GET", b"\x00\r\n\xff"]),
        a(&[b"MSET", b"\xc3\x28", b"", b"k\r\n", b"\n"]),
        a(&[b"MGET", b"\xc3\x28", b"k\r\n", b"\x00\r\n\xff", b"none"]),
        a(&[b"EXISTS", b"\xc3\x28", b"k\r\n", b"k\r"]),
        a(&[b"DEL", b"\xc3\x28", b"k\r\n", b"k\r"]),
        c("DBSIZE"),
    ]
}

fn closing() -> Vec<Req> {
    vec![
        c("PING"),
        closes(b"*1\r\n$4\r\nQUIT\r\n"),
        closes(b"QUIT\r\n"),
        closes(b"*2\r\n$4\r\nQUIT\r\n$1\r\nx\r\n"),
        closes(b"*x\r\n"),
        closes(b"*abc\r\n"),
        closes(b"*99999999999999999999\r\n"),
        closes(b"*1\r\n$-5\r\n"),
        closes(b"*1\r\n$abc\r\n"),
        closes(b"*1\r\n+PING\r\n"),
        closes(b"*2\r\n$4\r\nECHO\r\n:12\r\n"),
        closes(b"SET k \"a b\r\n"),
        closes(b"ECHO \"a\"b\r\n"),
        closes(b"ECHO 'a\r\n"),
        // Replies to earlier requests in the same read come first.
        closes(b"PING\r\n*1\r\n$4\r\nPING\r\n*y\r\n"),
        c("PING"),
    ]
}

/// HELLO's errors, and every reply type in RESP3 after `HELLO 3` (then
/// back to RESP2 after `HELLO 2`).
fn resp3() -> Vec<Req> {
    vec![
        c("HELLO 4"),
        c("HELLO 1"),
        c("HELLO abc"),
        c("HELLO 3 AUTH"),
        c("HELLO 3 AUTH default"),
        c("HELLO 3 SETNAME"),
        c("HELLO 3 BOGUS x"),
        a(&[b"HELLO", b"3", b"SETNAME", b"a b"]),
        c("HELLO 3 AUTH nobody pass"),
        c("GET missing"),
        unchecked("HELLO 3 SETNAME conn1"),
        c("CLIENT GETNAME"),
        c("GET missing"),
        c("SET k v"),
        c("GET k"),
        c("SET k v2 GET"),
        c("SET k v NX"),
        c("SET fresh v XX GET"),
        c("MGET k missing k"),
        c("DEL k missing"),
        c("EXISTS k fresh"),
        c("INCR n"),
        c("INCRBY n x"),
        c("TTL n"),
        c("EXPIRE n 100"),
        c("PERSIST n"),
        c("PING"),
        c("PING hi"),
        c("ECHO x"),
        c("CONFIG GET appendonly"),
        c("CONFIG GET nosuchsetting"),
        c("DBSIZE"),
        c("INFO keyspace"),
        c("NOSUCHCMD a"),
        c("GET"),
        unchecked("HELLO"),
        unchecked("HELLO 2"),
        c("GET missing"),
        c("MGET missing"),
        c("CONFIG GET appendonly"),
        c("INFO keyspace"),
    ]
}

/// AUTH without a password configured: the default user has `nopass`.
fn auth_without_password() -> Vec<Req> {
    vec![
        c("AUTH x"),
        c("AUTH default anything"),
        c("AUTH nobody x"),
        c("AUTH a b c"),
        c("AUTH"),
        c("HELLO 2 AUTH nobody x"),
        unchecked("HELLO 2 AUTH default x"),
        c("CONFIG GET requirepass"),
        c("GET k"),
    ]
}

/// A password set: what an unauthenticated client may do and the errors
/// it gets, then AUTH, then the password changed and cleared live.
fn auth_with_password() -> Vec<Req> {
    vec![
        c("GET k"),
        c("SET k v BOGUS"),
        c("PING"),
        c("NOSUCH x"),
        c("GET"),
        c("DBSIZE"),
        c("HELLO 3"),
        c("HELLO 3 AUTH default wrong"),
        c("HELLO 3 AUTH nobody s3cret"),
        c("AUTH wrong"),
        c("AUTH default wrong"),
        c("AUTH nobody s3cret"),
        c("AUTH a b c"),
        c("GET k"),
        c("AUTH s3cret"),
        c("GET k"),
        c("SET k v"),
        c("CONFIG GET requirepass"),
        closes(b"QUIT\r\n"),
        // A new connection must authenticate again.
        c("GET k"),
        unchecked("HELLO 3 AUTH default s3cret"),
        c("GET k"),
        c("CONFIG SET requirepass other"),
        c("CONFIG SET requirepass"),
        c("CONFIG SET nosuchsetting 1"),
        c("CONFIG SET requirepass a nosuchsetting 1"),
        closes(b"QUIT\r\n"),
        c("GET k"),
        c("AUTH s3cret"),
        c("AUTH other"),
        c("GET k"),
        c("CONFIG SET requirepass \"\""),
        a(&[b"CONFIG", b"SET", b"requirepass", b""]),
        closes(b"QUIT\r\n"),
        c("GET k"),
        c("AUTH other"),
    ]
}

#[test]
fn redis_differential_auth() {
    compare(&[("auth without a password", auth_without_password())]);
    compare_with(
        Some("s3cret"),
        &[("auth with a password", auth_with_password())],
    );
}

/// MULTI/EXEC/DISCARD: queueing, runtime errors inside EXEC without
/// rollback, EXECABORT after a refused command, the state errors, and
/// keys on both cores of the node.
fn transactions() -> Vec<Req> {
    vec![
        c("EXEC"),
        c("DISCARD"),
        block(&[
            "MULTI",
            "SET a 1",
            "INCR a",
            "SET b x",
            "INCR b",
            "MGET a b c",
            "SET k v BOGUS",
            "DBSIZE",
            "PING",
            "ECHO hi",
            "DEL a missing",
            "EXISTS a b",
            "EXEC",
        ]),
        block(&["MULTI", "NOSUCH x", "SET a 9", "EXEC"]),
        c("GET a"),
        block(&["MULTI", "GET", "SET a 9", "EXEC"]),
        c("GET a"),
        block(&["MULTI", "MULTI", "SET a 10", "EXEC"]),
        c("GET a"),
        block(&["MULTI", "SET a 11", "DISCARD"]),
        c("GET a"),
        block(&["MULTI", "EXEC"]),
        block(&["MULTI", "EXEC extra", "DISCARD"]),
        block(&["MULTI", "FLUSHALL", "SET only 1", "DBSIZE", "EXEC"]),
        c("DBSIZE"),
        block(&[
            "MULTI",
            "MSET p 1 q 2 r 3",
            "MGET p q r",
            "INCRBY p 5",
            "EXPIRE q 100",
            "TTL q",
            "PERSIST q",
            "TTL q",
            "EXEC",
        ]),
        // The same in RESP3.
        unchecked("HELLO 3"),
        block(&[
            "MULTI",
            "GET nothing",
            "MGET p nothing",
            "SET x 1 NX",
            "SET x 2 NX",
            "EXEC",
        ]),
        block(&["MULTI", "NOSUCH", "EXEC"]),
        unchecked("HELLO 2"),
        c("MGET p q r x"),
    ]
}

/// WATCH: a change to a watched key (by anyone, this connection too) makes
/// EXEC answer a null array; a write that changes nothing does not; FLUSHALL
/// counts only for keys that existed; UNWATCH, EXEC and DISCARD end the watch.
fn watches() -> Vec<Req> {
    vec![
        c("WATCH"),
        c("UNWATCH x"),
        c("SET k 1"),
        c("WATCH k"),
        c("SET k 2"),
        block(&["MULTI", "GET k", "EXEC"]),
        c("WATCH k"),
        block(&["MULTI", "GET k", "EXEC"]),
        block(&["MULTI", "WATCH k", "GET k", "EXEC"]),
        c("WATCH k"),
        c("UNWATCH"),
        c("SET k 3"),
        block(&["MULTI", "GET k", "EXEC"]),
        c("WATCH k"),
        c("DISCARD"),
        c("SET k 4"),
        block(&["MULTI", "GET k", "EXEC"]),
        c("WATCH k"),
        block(&["MULTI", "SET k 5", "DISCARD"]),
        c("SET k 6"),
        block(&["MULTI", "GET k", "EXEC"]),
        // Writes that change nothing leave a watch alone.
        c("WATCH k missing"),
        c("SET k 7 NX"),
        c("DEL missing"),
        c("INCR k"),
        c("EXPIRE missing 10"),
        c("PERSIST k"),
        block(&["MULTI", "GET k", "EXEC"]),
        c("SET s text"),
        c("WATCH s"),
        c("INCR s"),
        block(&["MULTI", "GET s", "EXEC"]),
        // DEL, EXPIRE and MSET of a watched key change it.
        c("WATCH k"),
        c("DEL k"),
        block(&["MULTI", "PING", "EXEC"]),
        c("SET k 1"),
        c("WATCH k"),
        c("EXPIRE k 100"),
        block(&["MULTI", "PING", "EXEC"]),
        c("WATCH k s"),
        c("MSET a 1 s 2"),
        block(&["MULTI", "PING", "EXEC"]),
        // FLUSHALL: only watched keys that existed.
        c("WATCH nothere"),
        c("FLUSHALL"),
        block(&["MULTI", "PING", "EXEC"]),
        c("SET f 1"),
        c("WATCH f"),
        c("FLUSHALL"),
        block(&["MULTI", "PING", "EXEC"]),
        // A refused command still ends the watch with the transaction.
        c("SET g 1"),
        c("WATCH g"),
        block(&["MULTI", "NOSUCH", "EXEC"]),
        c("SET g 2"),
        block(&["MULTI", "GET g", "EXEC"]),
        // RESP3's null.
        unchecked("HELLO 3"),
        c("WATCH g"),
        c("SET g 3"),
        block(&["MULTI", "GET g", "EXEC"]),
        unchecked("HELLO 2"),
    ]
}

#[test]
fn redis_differential_transactions() {
    compare(&[("transactions", transactions()), ("watch", watches())]);
}

#[test]
fn redis_differential() {
    compare(&[
        ("strings", strings()),
        ("multi-key", multi_key()),
        ("counters", counters()),
        ("expiry", expiry()),
        ("server", server()),
        ("inline+binary", inline_and_binary()),
        ("closing", closing()),
        ("resp3", resp3()),
    ]);
}

/// Corners that differed from redis-server 7.0.15 when first written and
/// were fixed in the node.
fn corners() -> Vec<Req> {
    vec![
        c("SET k v PX 9223372036854775807"),
        c("SET k v"),
        c("PEXPIRE k 9223372036854775807"),
        c("EXPIRE k 9223372036854775"),
        c("TTL k"),
        c("SET n 1"),
        c("DECRBY n -9223372036854775808"),
        c("SET p v"),
        c("EXPIRE p 100 XX LT"),
        c("TTL p"),
        c("SET k v KEEPTTL KEEPTTL"),
        c("SET k v EX 100 EX 200"),
        c("TTL k"),
        c("SET k v PX 100000 PX 200000"),
        c("COMMAND INFO nosuch"),
        c("COMMAND COUNT x"),
        a(&[b"foo", b"a\x00b"]),
        a(&[b"bad\xff", b"\xfe"]),
    ]
}

#[test]
fn redis_differential_corners() {
    compare(&[("corners", corners())]);
}

/// Inline commands are split as Redis's `sdssplitargs` does: escapes in
/// double quotes, `\'` in single quotes, quotes that open mid-argument, and
/// a closing quote that must end its argument.
#[test]
fn redis_differential_inline_escapes() {
    compare(&[
        (
            "inline escapes",
            vec![
                raw(b"SET k \"a\\x41\\n\\\"\\q\"\r\n"),
                c("GET k"),
                raw(b"ECHO \"\\t\\x4g\\r\\b\\a\\\\\"\r\n"),
                raw(b"SET k2 'it\\'s \\n'\r\n"),
                c("GET k2"),
                raw(b"SET k3 a\"b c\"\r\n"),
                c("GET k3"),
                raw(b"SET k4 \"\"\r\n"),
                c("GET k4"),
                raw(b"ECHO   \t spaced\t\r\n"),
            ],
        ),
        ("inline unbalanced quotes", vec![closes(b"ECHO \"a\"b\r\n")]),
        ("inline unclosed quote", vec![closes(b"ECHO 'abc\r\n")]),
    ]);
}
