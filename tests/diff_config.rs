//! Differential tests of CLIENT REPLY, CLIENT PAUSE's checks, CONFIG SET
//! and GET of the settings the node changes live, and COMMAND DOCS,
//! against redis-server 7.0.15, in RESP2 and after HELLO 3.
//!
//! The harness compares each request's replies byte for byte, so a reply
//! that CLIENT REPLY drops shows as a missing one. Every request must end
//! with replies on again: the harness's end mark is a command too.

mod common;

use common::diff::{a, block, c, compare, raw, unchecked, Req};
use common::{connect, encode, keys_on_shard, words, Node, RedisServer};
use std::io::{Read, Write};

/// `line` with `{a}` on core 0 and `{x}` on core 1 of the two-core node.
fn keyed(line: &str) -> String {
    let s0 = keys_on_shard("k", 0, 2, 1);
    let s1 = keys_on_shard("k", 1, 2, 1);
    line.replace("{a}", &s0[0]).replace("{x}", &s1[0])
}

fn keyed_block(cmds: &[&str]) -> Req {
    let lines: Vec<String> = cmds.iter().map(|l| keyed(l)).collect();
    block(&lines.iter().map(String::as_str).collect::<Vec<_>>())
}

fn client_reply() -> Vec<Req> {
    vec![
        block(&[
            "CLIENT REPLY OFF",
            "PING",
            "SET k v",
            "GET k",
            "CLIENT REPLY ON",
            "GET k",
        ]),
        block(&["CLIENT REPLY SKIP", "PING a", "PING b"]),
        block(&["CLIENT REPLY SKIP", "CLIENT REPLY SKIP", "PING a", "PING b"]),
        block(&["CLIENT REPLY SKIP", "NOSUCH", "PING c"]),
        block(&["CLIENT REPLY SKIP", "GET", "PING c"]),
        block(&[
            "CLIENT REPLY OFF",
            "CLIENT REPLY SKIP",
            "PING d",
            "CLIENT REPLY ON",
            "PING e",
        ]),
        block(&["CLIENT REPLY SKIP", "CLIENT REPLY ON", "PING f"]),
        block(&["CLIENT REPLY OFF", "CLIENT REPLY foo", "CLIENT REPLY ON"]),
        c("CLIENT REPLY foo"),
        c("CLIENT REPLY"),
        c("CLIENT REPLY on off"),
        c("CLIENT REPLY On"),
        // An empty inline line is a request too: it uses up the SKIP.
        raw(&[
            encode(&words("CLIENT REPLY SKIP")),
            b"\r\n".to_vec(),
            encode(&words("PING h")),
        ]
        .concat()),
        // Replies from the other core, and a read that mixes both.
        keyed_block(&[
            "CLIENT REPLY OFF",
            "SET {a} 1",
            "SET {x} 2",
            "CLIENT REPLY ON",
            "MGET {a} {x}",
        ]),
        keyed_block(&["CLIENT REPLY SKIP", "GET {x}", "GET {a}", "GET {x}"]),
        keyed_block(&["SET {a} 3", "CLIENT REPLY SKIP", "MGET {x} {a}", "INCR {x}"]),
        block(&["CLIENT REPLY SKIP", "MULTI", "SET k 1", "EXEC"]),
        block(&["MULTI", "CLIENT REPLY SKIP", "EXEC", "PING g"]),
    ]
}

fn client_pause_checks() -> Vec<Req> {
    [
        "CLIENT PAUSE",
        "CLIENT PAUSE x",
        "CLIENT PAUSE 1.5",
        "CLIENT PAUSE -1",
        "CLIENT PAUSE +1",
        "CLIENT PAUSE 1 foo",
        "CLIENT PAUSE x foo",
        "CLIENT PAUSE 1 write x",
        "CLIENT PAUSE 0",
        "CLIENT PAUSE 0 WRITE",
        "CLIENT PAUSE 9223372036854775807",
        "SET k v",
        "CLIENT UNPAUSE x",
        "CLIENT UNPAUSE",
    ]
    .iter()
    .map(|l| c(l))
    .collect()
}

/// The compact-encoding sizes: set, read back under both names, refused
/// with Redis's texts, and obeyed by the next write.
fn encodings() -> Vec<Req> {
    [
        "CONFIG SET hash-max-listpack-entries 2",
        "CONFIG GET hash-max-listpack-entries",
        "CONFIG GET hash-max-ziplist-entries",
        "CONFIG SET hash-max-ziplist-value 1kb",
        "CONFIG GET hash-max-listpack-value",
        "CONFIG SET zset-max-listpack-value -1",
        "CONFIG SET zset-max-ziplist-entries x",
        "CONFIG SET set-max-intset-entries -1",
        "CONFIG SET set-max-intset-entries 600",
        "CONFIG GET set-max-intset-entries",
        "CONFIG SET zset-max-listpack-entries 0",
        "CONFIG GET zset-max-listpack-value",
        "HSET {a} f1 v f2 v",
        "OBJECT ENCODING {a}",
        "HSET {a} f3 v",
        "OBJECT ENCODING {a}",
        "HSET {x} f 01234567890",
        "OBJECT ENCODING {x}",
        "CONFIG SET hash-max-listpack-entries 128 hash-max-listpack-value 64 set-max-intset-entries 512 zset-max-listpack-entries 128",
        "DEL {a} {x}",
    ]
    .iter()
    .map(|l| c(&keyed(l)))
    .collect()
}

fn config() -> Vec<Req> {
    let mut s: Vec<Req> = [
        "CONFIG SET maxmemory-policy foo",
        "CONFIG SET maxmemory-policy allkeys-lru",
        "CONFIG GET maxmemory-policy",
        "CONFIG SET maxmemory-policy NOEVICTION",
        "CONFIG GET maxmemory-policy",
        "CONFIG SET maxclients 0",
        "CONFIG SET maxclients x",
        "CONFIG SET maxclients 4294967296",
        "CONFIG SET maxclients 100",
        "CONFIG GET maxclients",
        "CONFIG SET timeout 1 timeout 2",
        "CONFIG SET timeout 5 Timeout 6",
        "CONFIG SET timeout -1 nosuch 1",
        "CONFIG SET timeout 1 nosuch",
        // All or none: a bad value anywhere changes nothing.
        "CONFIG SET timeout 5 maxclients 0",
        "CONFIG GET timeout",
        "CONFIG SET maxmemory 1mb maxmemory-policy foo",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory-policy allkeys-lru timeout 3 maxmemory 2mb",
        "CONFIG GET maxmemory-policy",
        "CONFIG GET timeout",
        "CONFIG GET maxmemory",
        "CONFIG GET client-output-buffer-limit",
        "CONFIG SET maxmemory 0 maxmemory-policy noeviction timeout 0",
        "CONFIG GET maxmemory",
        // Redis's memory values: k/m/g are powers of 1000, kb/mb/gb of 1024.
        "CONFIG SET maxmemory 1m",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 3KB",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 1.5mb",
        "CONFIG SET maxmemory -1",
        "CONFIG SET maxmemory 2tb",
        "CONFIG SET maxmemory 99999999999999999999",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 0",
        "CONFIG GET proto-max-bulk-len",
        "CONFIG SET proto-max-bulk-len 100",
        "CONFIG SET proto-max-bulk-len mb",
        "CONFIG SET proto-max-bulk-len +2000000",
        "CONFIG SET proto-max-bulk-len 2000k",
        "CONFIG GET proto-max-bulk-len",
        // The live limit applies at once, to requests and to grown strings.
        "SETRANGE big 1999999 x",
        "SETRANGE big 2000000 x",
        "STRLEN big",
        "APPEND big y",
        "DEL big",
        "CONFIG SET proto-max-bulk-len 1MB",
        "CONFIG GET proto-max-bulk-len",
        "CONFIG SET proto-max-bulk-len 512mb",
        "CONFIG GET proto-max-bulk-len",
        "CONFIG GET maxmemory-policy",
        "CONFIG GET timeout",
        "CONFIG SET requirepass s3cret",
        "AUTH s3cret",
        "CONFIG GET requirepass",
    ]
    .iter()
    .map(|l| c(l))
    .collect();
    s.push(a(&[b"CONFIG", b"SET", b"requirepass", b""]));
    for v in [
        &b"pubsub 1mb 512kb 10"[..],
        b"pubsub 1mb",
        b"foo 1 2 3",
        b"master 1 2 3",
        b"pubsub x 1 2",
        b"pubsub 1 x 2",
        b"pubsub 1 2 x",
        b"pubsub 1 2 -1",
        b"pubsub 1.5mb 2 3",
        b"pubsub  1 2 3",
        b"PUBSUB 2m 1k +5 normal 0 0 0",
        b"replica 1 2 3",
        b"slave 4kb 2k -0",
        b"",
        b"pubsub 32mb 8mb 60 replica 256mb 64mb 60",
    ] {
        s.push(a(&[b"CONFIG", b"SET", b"client-output-buffer-limit", v]));
        s.push(c("CONFIG GET client-output-buffer-limit"));
    }
    s.push(c("CONFIG GET requirepass"));
    s
}

fn command_docs() -> Vec<Req> {
    [
        "COMMAND DOCS set",
        "COMMAND DOCS get nosuch",
        "COMMAND DOCS GETSET incr",
        "COMMAND DOCS client|reply",
        "COMMAND DOCS config|set client|pause",
        "COMMAND DOCS shutdown object|encoding",
        "COMMAND DOCS nosuch",
    ]
    .iter()
    .map(|l| c(l))
    .collect()
}

fn resp3() -> Vec<Req> {
    let mut s = vec![unchecked("HELLO 3")];
    s.extend(command_docs());
    s.push(block(&["CLIENT REPLY SKIP", "PING a", "PING b"]));
    s.push(c("CONFIG GET maxmemory-policy"));
    s
}

#[test]
fn redis_differential_config() {
    compare(&[
        ("client reply", client_reply()),
        ("client pause checks", client_pause_checks()),
        ("config set and get", config()),
        ("encodings", encodings()),
        ("command docs", command_docs()),
        ("resp3", resp3()),
    ]);
}

/// A reply read back with its RESP type, for comparing docs whose map
/// order Redis does not fix.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Line(u8, Vec<u8>),
    Bulk(Vec<u8>),
    Agg(u8, Vec<Value>),
}

fn read_value(s: &mut impl Read, buf: &mut Vec<u8>) -> Value {
    let line = loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..i + 2).take(i).collect();
            break line;
        }
        let mut chunk = [0u8; 65536];
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    };
    let (kind, rest) = (line[0], &line[1..]);
    let n = || -> usize { std::str::from_utf8(rest).unwrap().parse().unwrap() };
    match kind {
        b'$' => {
            let len = n();
            while buf.len() < len + 2 {
                let mut chunk = [0u8; 65536];
                let got = s.read(&mut chunk).expect("read");
                assert!(got > 0, "closed");
                buf.extend_from_slice(&chunk[..got]);
            }
            let v = buf[..len].to_vec();
            buf.drain(..len + 2);
            Value::Bulk(v)
        }
        b'*' | b'~' => {
            let items = (0..n()).map(|_| read_value(s, buf)).collect();
            Value::Agg(kind, items)
        }
        b'%' => {
            let items = (0..2 * n()).map(|_| read_value(s, buf)).collect();
            Value::Agg(kind, items)
        }
        _ => Value::Line(kind, rest.to_vec()),
    }
}

/// COMMAND DOCS client's doc, with its subcommands (a map Redis orders by
/// its dict, differently on every start) sorted, keeping only `keep`'s.
fn sorted_subcommands(doc: Value, keep: &dyn Fn(&[u8]) -> bool) -> Value {
    let Value::Agg(kind, fields) = doc else {
        panic!("not a map: {doc:?}")
    };
    let mut out = Vec::new();
    for pair in fields.chunks(2) {
        out.push(pair[0].clone());
        match (&pair[0], &pair[1]) {
            (Value::Bulk(k), Value::Agg(sk, subs)) if k == b"subcommands" => {
                let mut entries: Vec<(Value, Value)> = subs
                    .chunks(2)
                    .filter(|p| matches!(&p[0], Value::Bulk(n) if keep(n)))
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                entries.sort();
                let flat = entries.into_iter().flat_map(|(k, v)| [k, v]).collect();
                out.push(Value::Agg(*sk, flat));
            }
            (_, v) => out.push(v.clone()),
        }
    }
    Value::Agg(kind, out)
}

fn docs_of(addr: std::net::SocketAddr, hello3: bool, name: &str) -> Value {
    let mut s = connect(addr);
    let mut buf = Vec::new();
    if hello3 {
        s.write_all(&encode(&words("HELLO 3"))).unwrap();
        read_value(&mut s, &mut buf);
    }
    s.write_all(&encode(&[b"COMMAND", b"DOCS", name.as_bytes()]))
        .unwrap();
    match read_value(&mut s, &mut buf) {
        Value::Agg(_, mut entry) if entry.len() == 2 => entry.remove(1),
        other => panic!("COMMAND DOCS {name}: {other:?}"),
    }
}

/// A container's docs match Redis's once the subcommands the node lacks
/// are left out (and the two only Redis 7.2 has, which 7.0.15 lacks), in
/// both protocols.
#[test]
fn redis_differential_container_docs() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    for hello3 in [false, true] {
        for container in ["client", "config", "command", "object"] {
            let ours = docs_of(node.addr(), hello3, container);
            let Value::Agg(_, fields) = &ours else {
                panic!("{ours:?}")
            };
            let names: Vec<Vec<u8>> = fields
                .chunks(2)
                .filter(|p| p[0] == Value::Bulk(b"subcommands".to_vec()))
                .flat_map(|p| match &p[1] {
                    Value::Agg(_, subs) => subs.chunks(2).map(|s| s[0].clone()).collect(),
                    _ => vec![],
                })
                .filter_map(|v| match v {
                    Value::Bulk(n) => Some(n),
                    _ => None,
                })
                .collect();
            assert!(names.len() >= 4, "{container}: {names:?}");
            let only_72 = |n: &[u8]| n == b"client|setinfo" || n == b"client|no-touch";
            let keep = |n: &[u8]| names.iter().any(|m| m == n) && !only_72(n);
            assert_eq!(
                sorted_subcommands(ours.clone(), &keep),
                sorted_subcommands(docs_of(redis.addr(), hello3, container), &keep),
                "COMMAND DOCS {container} (HELLO 3: {hello3})"
            );
        }
    }
}
