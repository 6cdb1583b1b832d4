//! DUMP and RESTORE against a real redis-server 7.0:
//! - error replies and short-string payloads match byte for byte (the
//!   differential harness);
//! - a payload either server DUMPs, RESTOREd into the other, gives the same
//!   value, TTL and type, for every type, in its compact and its full
//!   encoding (Redis's listpacks, intsets, quicklists and LZF strings
//!   included).

mod common;

use common::diff::{a, c, compare, Req};
use common::{Node, RedisServer};
use redis::{Connection, Value};

fn errors_and_strings() -> Vec<Req> {
    let hello = b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";
    let mut bad = hello.to_vec();
    bad[3] ^= 1;
    vec![
        c("SET s hello"),
        c("DUMP s"),
        c("SET n 123"),
        c("DUMP n"),
        c("SET n -70000"),
        c("DUMP n"),
        c("SET n 12345678901"),
        c("DUMP n"),
        c("DUMP missing"),
        c("DUMP"),
        c("RESTORE"),
        c("RESTORE k 0"),
        a(&[b"RESTORE", b"s", b"0", hello]),
        a(&[b"RESTORE", b"k", b"0", hello, b"bogus"]),
        a(&[b"RESTORE", b"k", b"-1", hello]),
        a(&[b"RESTORE", b"k", b"x", hello]),
        a(&[b"RESTORE", b"k", b"0", &bad]),
        a(&[b"RESTORE", b"k", b"0", b"short"]),
        a(&[b"RESTORE", b"k", b"0", hello, b"IDLETIME", b"-1"]),
        a(&[b"RESTORE", b"k", b"0", hello, b"IDLETIME", b"x"]),
        a(&[b"RESTORE", b"k", b"0", hello, b"FREQ", b"300"]),
        a(&[
            b"RESTORE",
            b"k",
            b"0",
            hello,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ]),
        a(&[b"RESTORE", b"k", b"0", hello, b"IDLETIME"]),
        a(&[b"RESTORE", b"k", b"0", hello]),
        c("GET k"),
        a(&[
            b"RESTORE",
            b"k",
            b"0",
            hello,
            b"REPLACE",
            b"IDLETIME",
            b"100",
        ]),
        c("OBJECT IDLETIME k"),
        a(&[b"RESTORE", b"k", b"1", hello, b"REPLACE", b"ABSTTL"]),
        c("EXISTS k"),
        a(&[b"RESTORE", b"k", b"100000", hello]),
        c("TYPE k"),
        c("LPUSH l x"),
        a(&[b"RESTORE", b"l", b"0", hello, b"REPLACE"]),
        c("TYPE l"),
    ]
}

#[test]
fn errors_and_short_strings_match_redis_byte_for_byte() {
    compare(&[("dump", errors_and_strings())]);
}

/// Fill `key` with a value of `kind` of `n` elements (`big` elements are
/// longer than a listpack takes), through `con`.
fn fill(con: &mut Connection, kind: &str, key: &str, n: usize, big: bool) {
    let pad = if big { "x".repeat(100) } else { String::new() };
    let mut cmd = match kind {
        "string" => {
            let v = format!("{pad}{}", "ab".repeat(n));
            redis::cmd("SET").arg(key).arg(v).clone()
        }
        "list" => redis::cmd("RPUSH").arg(key).clone(),
        "set" | "intset" => redis::cmd("SADD").arg(key).clone(),
        "hash" => redis::cmd("HSET").arg(key).clone(),
        "zset" => redis::cmd("ZADD").arg(key).clone(),
        _ => unreachable!(),
    };
    if kind != "string" {
        for i in 0..n {
            match kind {
                "list" => cmd.arg(format!("{pad}item{i}")).arg(i),
                "set" => cmd.arg(format!("{pad}m{i}")),
                "intset" => cmd.arg(i as i64 * 7919 - 50_000),
                "hash" => cmd.arg(format!("{pad}f{i}")).arg(i),
                "zset" => cmd.arg(i as f64 / 4.0 - 3.0).arg(format!("{pad}m{i}")),
                _ => unreachable!(),
            };
        }
    }
    let _: Value = cmd.query(con).unwrap();
}

/// What a key holds, in a form that compares across servers (members
/// sorted where the type has no order).
fn contents(con: &mut Connection, key: &str) -> (String, Vec<String>) {
    let kind: String = redis::cmd("TYPE").arg(key).query(con).unwrap();
    let mut items: Vec<String> = match kind.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(con).unwrap()],
        "list" => redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(con)
            .unwrap(),
        "set" => redis::cmd("SMEMBERS").arg(key).query(con).unwrap(),
        "hash" => redis::cmd("HGETALL").arg(key).query(con).unwrap(),
        "zset" => redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(con)
            .unwrap(),
        other => panic!("unexpected type {other}"),
    };
    if kind == "set" {
        items.sort();
    }
    if kind == "hash" {
        let mut pairs: Vec<String> = items.chunks(2).map(|p| p.join("=")).collect();
        pairs.sort();
        items = pairs;
    }
    (kind, items)
}

fn dump(con: &mut Connection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query(con).unwrap()
}

fn restore(con: &mut Connection, key: &str, ttl: u64, payload: &[u8]) -> Result<(), String> {
    redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg("REPLACE")
        .query::<()>(con)
        .map_err(|e| e.to_string())
}

#[test]
fn payloads_cross_between_redis_and_a_node_both_ways() {
    let Some(redis_server) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let mut r = common::redis_conn(redis_server.addr());
    let mut n = node.redis();
    let cases = [
        ("string", 3, false),
        ("string", 40, false),
        ("string", 5000, true),
        ("list", 5, false),
        ("list", 300, true),
        ("set", 5, false),
        ("set", 700, false),
        ("intset", 20, false),
        ("intset", 600, false),
        ("hash", 5, false),
        ("hash", 20, true),
        ("hash", 600, false),
        ("zset", 5, false),
        ("zset", 200, false),
        ("zset", 10, true),
    ];
    for (i, &(kind, len, big)) in cases.iter().enumerate() {
        let key = format!("{kind}:{i}");
        for from_redis in [true, false] {
            let (src, dst) = if from_redis {
                (&mut r, &mut n)
            } else {
                (&mut n, &mut r)
            };
            let label = format!("{key} from {}", if from_redis { "redis" } else { "node" });
            let _: Value = redis::cmd("DEL").arg(&key).query(src).unwrap();
            fill(src, kind, &key, len, big);
            let payload = dump(src, &key);
            restore(dst, &key, 100_000, &payload).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(contents(dst, &key), contents(src, &key), "{label}");
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(dst).unwrap();
            assert!((90_000..=100_000).contains(&ttl), "{label}: PTTL {ttl}");
            let enc = |c: &mut Connection| -> String {
                redis::cmd("OBJECT")
                    .arg("ENCODING")
                    .arg(&key)
                    .query(c)
                    .unwrap()
            };
            assert_eq!(enc(dst), enc(src), "{label}: OBJECT ENCODING");
        }
    }
}
