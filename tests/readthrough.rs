//! Seed 004's cache tier on real processes: read-through from `cachectl
//! origin`, request coalescing, TTL and LRU cache types, and maxmemory.

mod common;

use common::{poll_until, Node, Proc};
use redis::Commands;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const ORIGIN_READY: &str = "cachectl origin listening on ";

struct Origin {
    proc: Proc,
    addr: SocketAddr,
}

impl Origin {
    fn start(extra: &[&str]) -> Origin {
        let mut args = vec!["origin", "--port", "0"];
        args.extend_from_slice(extra);
        let proc = Proc::cachectl(&args, ORIGIN_READY);
        let addr = common::addr_after(proc.ready_line(), ORIGIN_READY).expect("origin address");
        Origin { proc, addr }
    }

    /// The origin's own count of fetches it served.
    fn fetches(&self) -> u64 {
        let mut con = common::redis_conn(self.addr);
        let json: String = redis::cmd("METRICS")
            .query(&mut con)
            .expect("origin METRICS");
        let v: serde_json::Value = serde_json::from_str(&json).expect("origin METRICS is JSON");
        v["fetches"].as_u64().expect("fetches counter")
    }
}

fn node_metrics(node: &Node) -> serde_json::Value {
    let mut con = node.redis();
    let json: String = redis::cmd("METRICS").query(&mut con).expect("node METRICS");
    serde_json::from_str(&json).expect("node METRICS is JSON")
}

fn shard_sum(m: &serde_json::Value, field: &str) -> u64 {
    m["shards"]
        .as_array()
        .expect("shards")
        .iter()
        .map(|s| s[field].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn read_through_fills_the_cache_and_the_second_get_stays_local() {
    let origin = Origin::start(&[]);
    let node = Node::start(&["--origin", &origin.addr.to_string()]);
    let mut con = node.redis();
    let first: Option<String> = con.get("article/1").unwrap();
    let text = first.expect("article/1 comes from the origin's sample data");
    assert!(!text.is_empty());
    assert_eq!(origin.fetches(), 1);
    let second: Option<String> = con.get("article/1").unwrap();
    assert_eq!(second.as_deref(), Some(text.as_str()));
    assert_eq!(
        origin.fetches(),
        1,
        "the second GET must be served from the cache"
    );
    // A key the origin does not have: nil, and (no --negative-ttl) asked again.
    let missing: Option<String> = con.get("article/999999").unwrap();
    assert_eq!(missing, None);
    let _: Option<String> = con.get("article/999999").unwrap();
    assert_eq!(origin.fetches(), 3);
    // MGET mixes cached, fetched and missing keys, in order.
    let vals: Vec<Option<String>> = con.get(&["article/1", "article/2", "nope/1"]).unwrap();
    assert_eq!(vals[0].as_deref(), Some(text.as_str()));
    assert!(vals[1].is_some());
    assert_eq!(vals[2], None);
    let m = node_metrics(&node);
    assert_eq!(shard_sum(&m, "origin_fetches"), origin.fetches());
}

#[test]
fn negative_ttl_caches_not_found() {
    let origin = Origin::start(&[]);
    let node = Node::start(&["--origin", &origin.addr.to_string(), "--negative-ttl", "60"]);
    let mut con = node.redis();
    for _ in 0..5 {
        let v: Option<String> = con.get("nope/1").unwrap();
        assert_eq!(v, None);
    }
    assert_eq!(origin.fetches(), 1);
    assert_eq!(shard_sum(&node_metrics(&node), "negative_hits"), 4);
}

#[test]
fn concurrent_misses_of_one_cold_key_make_one_origin_fetch() {
    // The origin answers slowly so every GET arrives while the fetch is in flight.
    let origin = Origin::start(&["--latency", "2000"]);
    let node = Node::start(&[
        "--origin",
        &origin.addr.to_string(),
        "--origin-timeout",
        "30000",
    ]);
    let clients = 100;
    let conns: Vec<redis::Connection> = (0..clients).map(|_| node.redis()).collect();
    let gate = Arc::new(Barrier::new(clients));
    let handles: Vec<_> = conns
        .into_iter()
        .map(|mut con| {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.wait();
                let v: Option<String> = con.get("article/42").expect("GET");
                v
            })
        })
        .collect();
    let values: Vec<Option<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let first = values[0].clone().expect("value from origin");
    assert!(values.iter().all(|v| v.as_deref() == Some(first.as_str())));
    assert_eq!(
        origin.fetches(),
        1,
        "100 concurrent misses must coalesce into one fetch"
    );
    let m = node_metrics(&node);
    assert_eq!(shard_sum(&m, "origin_fetches"), 1);
    assert_eq!(shard_sum(&m, "coalesced_waits"), 99);
}

#[test]
fn origin_down_is_a_clear_error_and_nothing_is_cached() {
    let mut origin = Origin::start(&[]);
    let addr = origin.addr.to_string();
    let node = Node::start(&["--origin", &addr, "--origin-timeout", "500"]);
    let mut con = node.redis();
    let ok: Option<String> = con.get("article/3").unwrap();
    assert!(ok.is_some());
    origin.proc.stop();
    let err = con
        .get::<_, Option<String>>("article/4")
        .expect_err("origin is down");
    assert!(err.to_string().contains("origin"), "{err}");
    // Cached keys still work; the node is up.
    let cached: Option<String> = con.get("article/3").unwrap();
    assert_eq!(cached, ok);
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 1, "a failed fetch must not be cached");
}

#[test]
fn slow_origin_times_out_instead_of_hanging() {
    let origin = Origin::start(&["--latency", "5000"]);
    let node = Node::start(&[
        "--origin",
        &origin.addr.to_string(),
        "--origin-timeout",
        "200",
    ]);
    let mut con = node.redis();
    let err = con
        .get::<_, Option<String>>("article/5")
        .expect_err("timeout");
    assert!(err.to_string().contains("timed out"), "{err}");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn ttl_cache_type_expires_every_key() {
    let node = Node::start(&["--cache-type", "ttl", "--ttl", "1"]);
    let mut con = node.redis();
    let _: () = con.set("k", "v").unwrap();
    let ttl: i64 = con.ttl("k").unwrap();
    assert!((0..=1).contains(&ttl), "ttl {ttl}");
    poll_until(Duration::from_secs(10), "k to expire", || {
        let v: Option<String> = con.get("k").map_err(|e| e.to_string())?;
        v.map_or(Ok(()), |v| Err(format!("still {v}")))
    });
}

#[test]
fn lru_capacity_bounds_keys_and_evicts_the_least_recently_used() {
    // One core so "least recently used" is global, not per shard.
    let node = Node::start(&["--cache-type", "lru", "--capacity", "100", "--cores", "1"]);
    let mut con = node.redis();
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
    }
    let _: Option<String> = con.get("k0").unwrap(); // k0 is now the most recent; k1 the oldest
    let _: () = con.set("k100", 100).unwrap();
    let has = |con: &mut redis::Connection, k: &str| -> bool { con.exists(k).unwrap() };
    assert!(has(&mut con, "k0"));
    assert!(!has(&mut con, "k1"));
    assert!(has(&mut con, "k2"));
    for i in 101..1000 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
        let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert!(n <= 100, "{n} keys after writing k{i}");
    }
    let m = node_metrics(&node);
    assert_eq!(m["evicted"].as_u64(), Some(900));
}

#[test]
fn lru_capacity_holds_across_cores() {
    let node = Node::start(&["--cache-type", "lru", "--capacity", "100"]);
    let mut con = node.redis();
    for i in 0..2000 {
        let _: () = con.set(format!("key:{i}"), i).unwrap();
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(n <= 100 && n > 0, "{n}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[test]
fn maxmemory_holds_while_writing_ten_times_the_bound() {
    let bound: u64 = 32 << 20;
    let node = Node::start(&["--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru"]);
    let base = rss_kib(node.pid()) * 1024;
    let mut con = node.redis();
    let value = vec![b'x'; 16 * 1024];
    let mut peak = 0;
    // 10x the bound in 16 KiB values, pipelined 64 at a time.
    for batch in 0..(10 * bound / (16 * 1024) / 64) {
        let mut pipe = redis::pipe();
        for j in 0..64 {
            pipe.set(format!("big:{batch}:{j}"), &value).ignore();
        }
        let () = pipe.query(&mut con).unwrap();
        peak = peak.max(rss_kib(node.pid()) * 1024);
    }
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    assert!(used <= bound, "used_memory {used} > maxmemory {bound}");
    // RSS also counts allocator slack and freed-but-kept pages; it must stay
    // within a small multiple of the bound, not grow with what was written.
    let growth = peak.saturating_sub(base);
    assert!(
        growth <= 2 * bound,
        "RSS grew by {growth} bytes for a {bound}-byte bound"
    );
    let m = node_metrics(&node);
    assert!(m["evicted"].as_u64().unwrap() > 0);
}

#[test]
fn maxmemory_without_policy_refuses_writes_with_oom() {
    let node = Node::start(&["--maxmemory", "1mb"]);
    let mut con = node.redis();
    let value = vec![b'y'; 64 * 1024];
    let mut refused = None;
    for i in 0..64 {
        if let Err(e) = con.set::<_, _, ()>(format!("v{i}"), &value) {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("writes past 1mb must be refused");
    assert_eq!(e.code(), Some("OOM"), "{e}");
    assert!(
        e.to_string()
            .contains("command not allowed when used memory > 'maxmemory'"),
        "{e}"
    );
    // Reads and deletes still work, and deleting makes room again.
    let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(n > 0);
    let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    let _: () = con.set("after", "flush").unwrap();
}
