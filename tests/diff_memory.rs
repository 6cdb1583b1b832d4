//! Differential tests of MEMORY STATS and INFO's memory section against
//! redis-server 7.0.15. The figures differ by design (another allocator,
//! another layout), so what is compared is what a client parses: the
//! errors byte for byte, and for each field the node reports, that Redis
//! reports it too, with the same reply type and in the same order. Run with
//! `CACHECTL_REQUIRE_REDIS=1` to fail instead of skipping when
//! `redis-server` is missing.

mod common;

use common::diff::{c, compare};
use common::{connect, words, Node, RedisServer, RespConn};

#[test]
fn memory_stats_errors_match_redis() {
    compare(&[(
        "memory stats",
        vec![
            c("MEMORY STATS extra"),
            c("MEMORY stats a b"),
            c("MEMORY NOSUCH"),
        ],
    )]);
}

/// One RESP2 reply's top level: field name → reply type byte, in order, for
/// the flat name/value array MEMORY STATS answers with.
fn stats_fields(conn: &mut RespConn) -> Vec<(String, u8)> {
    let reply = conn.call(&words("MEMORY STATS"));
    let mut pos = 0;
    let n = header(&reply, &mut pos, b'*');
    let mut out = Vec::new();
    for _ in 0..n / 2 {
        let name = bulk(&reply, &mut pos);
        let kind = reply[pos];
        skip(&reply, &mut pos);
        out.push((name, kind));
    }
    out
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let end = *pos + buf[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
    let l = &buf[*pos..end];
    *pos = end + 2;
    l
}

fn header(buf: &[u8], pos: &mut usize, kind: u8) -> usize {
    let l = line(buf, pos);
    assert_eq!(l[0], kind, "{}", l.escape_ascii());
    std::str::from_utf8(&l[1..]).unwrap().parse().unwrap()
}

fn bulk(buf: &[u8], pos: &mut usize) -> String {
    let len = header(buf, pos, b'$');
    let s = String::from_utf8(buf[*pos..*pos + len].to_vec()).unwrap();
    *pos += len + 2;
    s
}

fn skip(buf: &[u8], pos: &mut usize) {
    match buf[*pos] {
        b'$' => {
            bulk(buf, pos);
        }
        b'*' => {
            let n = header(buf, pos, b'*');
            for _ in 0..n {
                skip(buf, pos);
            }
        }
        _ => {
            line(buf, pos);
        }
    }
}

fn load(conn: &mut RespConn) {
    for i in 0..100 {
        conn.call(&[b"SET", format!("key:{i}").as_bytes(), b"some value"]);
    }
    conn.call(&words("EXPIRE key:1 1000"));
}

#[test]
fn memory_stats_fields_are_redis_s_with_redis_s_types_and_order() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&["--cores", "2"]);
    let mut r = RespConn::new(connect(redis.addr()));
    let mut n = RespConn::new(connect(node.addr()));
    load(&mut r);
    load(&mut n);
    let want = stats_fields(&mut r);
    let got = stats_fields(&mut n);
    assert!(got.len() >= 10, "{got:?}");
    let mut last = 0;
    for (name, kind) in &got {
        let Some(at) = want.iter().position(|(w, _)| w == name) else {
            panic!("MEMORY STATS field {name} is not Redis's: {want:?}");
        };
        assert_eq!(want[at].1, *kind, "{name}: reply type");
        assert!(at >= last, "{name} out of Redis's order");
        last = at;
    }
    // The figures a client reads are the node's own and add up.
    let text = n.cmd("MEMORY STATS");
    assert!(text.contains("keys.count\r\n:100\r\n"), "{text}");
    let used: usize = info(&mut n, "used_memory").parse().unwrap();
    let dataset: usize = info(&mut n, "used_memory_dataset").parse().unwrap();
    assert!(dataset > 100 * 20 && dataset < used, "{dataset} of {used}");
}

fn info(conn: &mut RespConn, field: &str) -> String {
    let text = conn.cmd("INFO memory");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .to_string()
}

#[test]
fn info_memory_fields_are_redis_s() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let names = |conn: &mut RespConn| -> Vec<String> {
        let text = conn.cmd("INFO memory");
        text.lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .filter(|k| !k.starts_with('$'))
            .collect()
    };
    let want = names(&mut RespConn::new(connect(redis.addr())));
    let got = names(&mut RespConn::new(connect(node.addr())));
    for field in [
        "used_memory_peak",
        "used_memory_dataset",
        "used_memory_overhead",
        "mem_fragmentation_ratio",
    ] {
        assert!(got.iter().any(|g| g == field), "node lacks {field}");
    }
    for g in &got {
        assert!(want.contains(g), "INFO memory field {g} is not Redis's");
    }
}
