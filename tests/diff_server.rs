//! Differential tests of SLOWLOG and its settings against redis-server
//! 7.0.15: byte for byte where the reply is deterministic, and for SLOWLOG
//! GET with each entry's id, time, duration and client address masked.
//! Run with `CACHECTL_REQUIRE_REDIS=1` to fail instead of skipping when
//! `redis-server` is missing.

mod common;

use common::diff::{a, c, compare, unchecked, Req};
use common::{connect, encode, words, Node, RedisServer, RespConn};

fn slowlog() -> Vec<Req> {
    [
        // Nothing is logged while the threshold is -1, so LEN is exact.
        "CONFIG SET slowlog-log-slower-than -1",
        "SLOWLOG RESET",
        "SLOWLOG LEN",
        "SLOWLOG GET",
        "SLOWLOG GET 0",
        "SLOWLOG GET -1",
        "SLOWLOG GET -2",
        "SLOWLOG GET x",
        "SLOWLOG GET 1 2",
        "slowlog get 1 2 3",
        "SLOWLOG",
        "SLOWLOG FOO",
        "SLOWLOG LEN x",
        "SLOWLOG RESET x",
        "SLOWLOG HELP",
        "slowlog help",
        "SLOWLOG HELP x",
        // One name at a time: a glob lists them in Redis's dict order,
        // which changes from run to run.
        "CONFIG GET slowlog-log-slower-than",
        "CONFIG GET slowlog-max-len",
        "CONFIG SET slowlog-log-slower-than -2",
        "CONFIG SET slowlog-log-slower-than abc",
        "CONFIG SET slowlog-max-len -1",
        "CONFIG SET slowlog-max-len 1k",
        "CONFIG SET slowlog-max-len 9223372036854775808",
        "CONFIG SET slowlog-log-slower-than +5",
        "CONFIG SET slowlog-log-slower-than 5.0",
        "CONFIG SET slowlog-max-len 5 slowlog-log-slower-than -5",
        "CONFIG GET slowlog-max-len",
        // Every command is logged from here (the harness's ECHO marks too,
        // on both servers alike).
        "CONFIG SET slowlog-log-slower-than 0",
        "PING",
        "SLOWLOG LEN",
        "CONFIG SET slowlog-max-len 2",
        // A shorter log is cut at its next entry, not at once.
        "SLOWLOG LEN",
        "PING",
        "SLOWLOG LEN",
        "SLOWLOG RESET",
        "CONFIG SET slowlog-log-slower-than -1",
        "SLOWLOG LEN",
        "CONFIG SET slowlog-max-len 128 slowlog-log-slower-than 10000",
        "CONFIG GET slowlog-log-slower-than",
        "CONFIG GET slowlog-max-len",
    ]
    .iter()
    .map(|s| c(s))
    .chain([a(&[b"CONFIG", b"SET", b"slowlog-max-len", b" 5"])])
    .collect()
}

fn slowlog_resp3() -> Vec<Req> {
    let mut v = vec![unchecked("HELLO 3")];
    v.extend(
        [
            "CONFIG SET slowlog-log-slower-than -1",
            "SLOWLOG RESET",
            "SLOWLOG LEN",
            "SLOWLOG GET",
            "SLOWLOG HELP",
            "SLOWLOG GET x",
            "CONFIG SET slowlog-log-slower-than 10000",
        ]
        .iter()
        .map(|s| c(s)),
    );
    v
}

#[test]
fn slowlog_matches_redis() {
    compare(&[("slowlog", slowlog()), ("slowlog resp3", slowlog_resp3())]);
}

/// A RESP reply as a tree, to mask an entry's volatile fields.
#[derive(Debug, PartialEq, Eq)]
enum V {
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<V>),
    Other(Vec<u8>),
}

fn parse(buf: &[u8], pos: &mut usize) -> V {
    let end = *pos + buf[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
    let line = &buf[*pos + 1..end];
    let kind = buf[*pos];
    *pos = end + 2;
    let n = || std::str::from_utf8(line).unwrap().parse::<i64>().unwrap();
    match kind {
        b':' => V::Int(n()),
        b'$' => {
            let len = n() as usize;
            let v = buf[*pos..*pos + len].to_vec();
            *pos += len + 2;
            V::Bulk(v)
        }
        b'*' => V::Array((0..n()).map(|_| parse(buf, pos)).collect()),
        _ => V::Other(line.to_vec()),
    }
}

/// SLOWLOG GET's entries with id, time, duration and address masked.
fn masked(reply: &[u8]) -> Vec<V> {
    let V::Array(entries) = parse(reply, &mut 0) else {
        panic!("not an array: {}", reply.escape_ascii());
    };
    entries
        .into_iter()
        .map(|e| {
            let V::Array(mut f) = e else {
                panic!("entry {e:?}")
            };
            assert_eq!(f.len(), 6, "{f:?}");
            for i in [0, 1, 2] {
                assert!(matches!(f[i], V::Int(n) if n >= 0), "{f:?}");
                f[i] = V::Int(0);
            }
            assert!(matches!(&f[4], V::Bulk(a) if a.starts_with(b"127.0.0.1:")));
            f[4] = V::Bulk(vec![]);
            V::Array(f)
        })
        .collect()
}

/// The commands a client ran, as SLOWLOG GET shows them (without keys: a
/// command run on another core of the node is logged under its table name,
/// in lower case, see the report).
fn logged(conn: &mut RespConn) -> Vec<V> {
    let long = "v".repeat(300);
    let mut many = vec!["CONFIG", "GET"];
    many.extend(std::iter::repeat_n("nosuch*", 40));
    let reqs: Vec<Vec<u8>> = vec![
        encode(&words("CONFIG SET slowlog-log-slower-than 0")),
        encode(&words("SLOWLOG RESET")),
        encode(&words("PING")),
        encode(&[b"ECHO", long.as_bytes()]),
        encode(&words("AUTH nopassword")),
        encode(&words("AUTH someone nopassword")),
        encode(&words("HELLO 2 AUTH default secret")),
        encode(&words("CLIENT SETNAME tester")),
        encode(&many.iter().map(|s| s.as_bytes()).collect::<Vec<_>>()),
        // Refused before running: not logged.
        encode(&words("PING a b c")),
        encode(&words("MULTI")),
        encode(&words("PING")),
        encode(&words("ECHO inside")),
        // EXEC is not logged; the commands it ran are.
        encode(&words("EXEC")),
        encode(&words("CONFIG SET slowlog-log-slower-than -1")),
    ];
    for r in &reqs {
        conn.send(r);
        conn.read_reply();
    }
    let got = conn.call(&words("SLOWLOG GET -1"));
    conn.cmd("CONFIG SET slowlog-log-slower-than 10000");
    masked(&got)
}

#[test]
fn slowlog_entries_match_redis_but_for_ids_times_and_addresses() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let want = logged(&mut RespConn::new(connect(redis.addr())));
    let got = logged(&mut RespConn::new(connect(node.addr())));
    assert!(want.len() > 10, "{want:?}");
    assert_eq!(got, want);
}
