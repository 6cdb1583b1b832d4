//! Seed 004's cache tier on real processes: read-through from `cachectl
//! origin`, request coalescing, TTL and LRU cache types, and maxmemory.
//! Races of the read-through path are driven by [`HeldOrigin`], a small
//! origin server inside the test that answers each fetch only when told.

mod common;

use common::{poll_until, reply_len, Node, Proc, RespConn};
use redis::Commands;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
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

/// Deadline for a condition that depends on processes and threads making
/// progress on a loaded machine.
const SLOW: Duration = Duration::from_secs(60);

/// A stand-in origin that holds every fetch until the test answers it, to
/// put a node's read-through at a chosen point of a race. It is a real TCP
/// server speaking the origin's RESP side as `node::origin` uses it: one
/// `GET key` request at a time per connection, one reply (bulk, nil or
/// error) each. Requests queue up until [`HeldOrigin::answer_all`]; with
/// [`HeldOrigin::auto`] they are answered at once.
struct HeldOrigin {
    addr: SocketAddr,
    state: Arc<Held>,
}

#[derive(Default)]
struct Held {
    queue: Mutex<HeldQueue>,
    stop: AtomicBool,
}

#[derive(Default)]
struct HeldQueue {
    /// Requests received so far (answered or not).
    received: usize,
    /// Keys of requests not answered yet, with the way to answer each.
    pending: VecDeque<(String, mpsc::Sender<Vec<u8>>)>,
    /// The reply every new request gets at once, if set.
    auto: Option<Vec<u8>>,
}

impl HeldOrigin {
    fn start() -> HeldOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the held origin");
        let addr = listener.local_addr().expect("held origin address");
        let state = Arc::new(Held::default());
        let accepting = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = accepting.clone();
                thread::spawn(move || serve_held(conn, &state));
            }
        });
        HeldOrigin { addr, state }
    }

    fn arg(&self) -> String {
        self.addr.to_string()
    }

    /// Requests received so far.
    fn received(&self) -> usize {
        self.state.queue.lock().unwrap().received
    }

    /// Wait until `n` requests in all have arrived.
    fn wait_received(&self, n: usize) {
        poll_until(SLOW, &format!("{n} requests at the origin"), || {
            let got = self.received();
            if got >= n {
                Ok(())
            } else {
                Err(format!("{got} received"))
            }
        });
    }

    /// Answer every request waiting so far with `reply` (raw RESP); returns
    /// their keys.
    fn answer_all(&self, reply: &[u8]) -> Vec<String> {
        let mut q = self.state.queue.lock().unwrap();
        q.pending
            .drain(..)
            .map(|(key, tx)| {
                // The node may have given up on it (timeout): nobody reads.
                let _ = tx.send(reply.to_vec());
                key
            })
            .collect()
    }

    /// Answer waiting and future requests at once with `reply`.
    fn auto(&self, reply: &[u8]) {
        self.answer_all(reply);
        self.state.queue.lock().unwrap().auto = Some(reply.to_vec());
    }
}

impl Drop for HeldOrigin {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let mut q = self.state.queue.lock().unwrap();
        // Dropping the senders ends the connection threads that wait.
        q.pending.clear();
        q.auto = None;
        drop(q);
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One origin connection: read a `GET key`, queue it, write the answer the
/// test gives, repeat until the node closes the connection.
fn serve_held(mut conn: TcpStream, state: &Held) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let len = loop {
            if let Some(n) = (!buf.is_empty()).then(|| reply_len(&buf)).flatten() {
                break n;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let req: Vec<u8> = buf.drain(..len).collect();
        let text = String::from_utf8_lossy(&req);
        let parts: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            parts.get(..3),
            Some(&["*2", "$3", "GET"][..]),
            "the node sends `GET key`: {text:?}"
        );
        let key = parts[4].to_string();
        let (tx, rx) = mpsc::channel();
        {
            let mut q = state.queue.lock().unwrap();
            q.received += 1;
            match &q.auto {
                Some(reply) => tx.send(reply.clone()).unwrap(),
                None => q.pending.push_back((key, tx)),
            }
        }
        match rx.recv() {
            Ok(reply) => {
                if conn.write_all(&reply).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// RESP bulk string `v`.
fn bulk(v: &str) -> Vec<u8> {
    format!("${}\r\n{v}\r\n", v.len()).into_bytes()
}

/// Wait until the node's shards together count `want` in METRICS `field`.
fn wait_metric(node: &Node, field: &str, want: u64) {
    poll_until(SLOW, &format!("METRICS {field} = {want}"), || {
        let got = shard_sum(&node_metrics(node), field);
        if got == want {
            Ok(())
        } else {
            Err(format!("{field} = {got}"))
        }
    });
}

/// `n` connections to `node`, each sending `GET key` at the same moment
/// from its own thread; join the handles for the exact reply bytes.
fn concurrent_gets(node: &Node, key: &str, n: usize) -> Vec<thread::JoinHandle<Vec<u8>>> {
    let conns: Vec<RespConn> = (0..n)
        .map(|_| {
            let con = node.resp();
            // Waiting on a held fetch may take long on a loaded machine.
            con.stream.set_read_timeout(Some(SLOW)).unwrap();
            con
        })
        .collect();
    let gate = Arc::new(Barrier::new(n));
    conns
        .into_iter()
        .map(|mut con| {
            let gate = gate.clone();
            let key = key.to_string();
            thread::spawn(move || {
                gate.wait();
                con.call(&[b"GET", key.as_bytes()])
            })
        })
        .collect()
}

/// A GET on its own connection and thread (it may wait on the origin).
fn get_in_background(node: &Node, key: &str) -> thread::JoinHandle<Vec<u8>> {
    concurrent_gets(node, key, 1).pop().unwrap()
}

fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

#[test]
fn concurrent_misses_of_one_cold_key_make_one_origin_fetch() {
    // The origin holds the fetch until every client is counted as waiting
    // on it, so the test does not depend on how fast the clients arrive.
    let origin = HeldOrigin::start();
    let node = Node::start(&["--origin", &origin.arg(), "--origin-timeout", "600000"]);
    let clients = 100;
    let handles = concurrent_gets(&node, "article/42", clients);
    origin.wait_received(1);
    wait_metric(&node, "coalesced_waits", clients as u64 - 1);
    assert_eq!(origin.answer_all(&bulk("the article")), ["article/42"]);
    for h in handles {
        assert_eq!(text(&h.join().unwrap()), text(&bulk("the article")));
    }
    assert_eq!(
        origin.received(),
        1,
        "100 concurrent misses must coalesce into one fetch"
    );
    let m = node_metrics(&node);
    assert_eq!(shard_sum(&m, "origin_fetches"), 1);
    assert_eq!(shard_sum(&m, "coalesced_waits"), 99);
    // Cached now: no further fetch.
    let mut con = node.resp();
    assert_eq!(con.call(&[b"GET", b"article/42"]), bulk("the article"));
    assert_eq!(origin.received(), 1);
}

#[test]
fn an_origin_error_reaches_every_waiter_and_the_next_get_retries() {
    let origin = HeldOrigin::start();
    let node = Node::start(&["--origin", &origin.arg(), "--origin-timeout", "600000"]);
    let clients = 20;
    let handles = concurrent_gets(&node, "k", clients);
    origin.wait_received(1);
    wait_metric(&node, "coalesced_waits", clients as u64 - 1);
    origin.answer_all(b"-ERR disk on fire\r\n");
    for h in handles {
        assert_eq!(
            text(&h.join().unwrap()),
            "-ERR origin error: ERR disk on fire\r\n"
        );
    }
    assert_eq!(origin.received(), 1);
    let m = node_metrics(&node);
    assert_eq!(shard_sum(&m, "origin_errors"), 1);
    assert_eq!(m["keys"], 0, "an error is not cached");
    // The next GET asks the origin again.
    let again = get_in_background(&node, "k");
    origin.wait_received(2);
    origin.answer_all(&bulk("fine now"));
    assert_eq!(text(&again.join().unwrap()), text(&bulk("fine now")));
}

#[test]
fn an_origin_timeout_reaches_every_waiter_and_the_next_get_retries() {
    let origin = HeldOrigin::start();
    // Long enough for 20 clients to join the one fetch on a loaded machine;
    // if some join only after it timed out, they start (and time out) a
    // fetch of their own, which the counts below allow for.
    let node = Node::start(&["--origin", &origin.arg(), "--origin-timeout", "3000"]);
    let clients = 20;
    let handles = concurrent_gets(&node, "k", clients);
    for h in handles {
        // A waiter that hangs fails on its read timeout (SLOW).
        assert_eq!(text(&h.join().unwrap()), "-ERR origin timed out\r\n");
    }
    let m = node_metrics(&node);
    let fetches = shard_sum(&m, "origin_fetches");
    assert!(fetches >= 1);
    assert_eq!(fetches + shard_sum(&m, "coalesced_waits"), clients as u64);
    assert_eq!(shard_sum(&m, "origin_errors"), fetches);
    assert_eq!(origin.received() as u64, fetches);
    assert_eq!(m["keys"], 0, "a timeout is not cached");
    // The next GET asks the origin again, and this time it answers.
    let again = get_in_background(&node, "k");
    origin.wait_received(fetches as usize + 1);
    origin.answer_all(&bulk("late but here"));
    assert_eq!(text(&again.join().unwrap()), text(&bulk("late but here")));
}

#[test]
fn a_set_during_the_fetch_wins_over_the_origin_value() {
    let origin = HeldOrigin::start();
    let node = Node::start(&["--origin", &origin.arg(), "--origin-timeout", "600000"]);
    let reader = get_in_background(&node, "k");
    origin.wait_received(1);
    let mut writer = node.resp();
    assert_eq!(writer.cmd("SET k mine"), "+OK\r\n");
    assert_eq!(writer.cmd("GET k"), text(&bulk("mine")));
    origin.answer_all(&bulk("origin"));
    // The reader's GET came before the SET: the origin's answer is right for it.
    assert_eq!(text(&reader.join().unwrap()), text(&bulk("origin")));
    // But the fetch must not overwrite the newer SET.
    assert_eq!(writer.cmd("GET k"), text(&bulk("mine")));
    assert_eq!(origin.received(), 1);
}

#[test]
fn a_delete_during_the_fetch_keeps_the_fetched_value_out_of_the_cache() {
    // The application updates the origin and DELs the key to invalidate
    // it while a fetch of the old value is in flight. The old value must
    // not land in the cache, or it would be served until evicted.
    let origin = HeldOrigin::start();
    let node = Node::start(&["--origin", &origin.arg(), "--origin-timeout", "600000"]);
    let mut writer = node.resp();
    let scenarios: [(&str, &[&str]); 3] = [
        ("del", &["DEL del"]),
        ("setdel", &["SET setdel mine", "DEL setdel"]),
        ("flush", &["FLUSHALL"]),
    ];
    for (key, writes) in scenarios {
        let fetched = origin.received();
        let reader = get_in_background(&node, key);
        origin.wait_received(fetched + 1);
        for w in writes {
            let r = writer.cmd(w);
            assert!(!r.starts_with('-'), "{w}: {r}");
        }
        origin.answer_all(&bulk("old"));
        // The reader asked before the write: the old value is its answer.
        assert_eq!(text(&reader.join().unwrap()), text(&bulk("old")));
        assert_eq!(
            writer.call(&[b"EXISTS", key.as_bytes()]),
            b":0\r\n",
            "{writes:?} during the fetch of {key}: the fetched value came back"
        );
        // The next GET fetches the current value.
        let next = get_in_background(&node, key);
        origin.wait_received(fetched + 2);
        origin.answer_all(&bulk("new"));
        assert_eq!(text(&next.join().unwrap()), text(&bulk("new")), "{key}");
    }
}

#[test]
fn pipelined_writes_after_a_read_through_get_keep_request_order() {
    // One core, so every key is the connection's own: the GETs of a
    // pipeline may wait on the origin, and the writes after them must
    // still run after them.
    let origin = HeldOrigin::start();
    origin.auto(&bulk("from origin"));
    let node = Node::start(&[
        "--cores",
        "1",
        "--origin",
        &origin.arg(),
        "--origin-timeout",
        "600000",
    ]);
    let mut con = node.resp();
    assert_eq!(con.cmd("SET k v1"), "+OK\r\n");
    let pipeline: Vec<u8> = [
        &["GET", "k"][..],
        &["SET", "k", "v2"],
        &["GET", "k"],
        &["DEL", "k"],
        &["GET", "k"],
        &["EXISTS", "k"],
    ]
    .iter()
    .flat_map(|args| {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        common::encode(&args)
    })
    .collect();
    con.send(&pipeline);
    let replies: Vec<String> = (0..6).map(|_| text(&con.read_reply())).collect();
    assert_eq!(
        replies,
        [
            text(&bulk("v1")),
            "+OK\r\n".to_string(),
            text(&bulk("v2")),
            ":1\r\n".to_string(),
            text(&bulk("from origin")),
            ":1\r\n".to_string(),
        ]
    );
    assert_eq!(origin.received(), 1);
    // Ops after a GET that fetches see the fetched value, as they would
    // one request at a time.
    origin.auto(&bulk("41"));
    con.send(
        &[
            common::encode(&[b"GET", b"n"]),
            common::encode(&[b"INCR", b"n"]),
        ]
        .concat(),
    );
    assert_eq!(con.read_reply(), bulk("41"));
    assert_eq!(con.read_reply(), b":42\r\n");
    assert_eq!(con.cmd("GET n"), text(&bulk("42")));
    assert_eq!(origin.received(), 2);
}

#[test]
fn a_negative_entry_expires_after_its_ttl_and_the_next_get_fetches_again() {
    let origin = HeldOrigin::start();
    let node = Node::start(&[
        "--origin",
        &origin.arg(),
        "--negative-ttl",
        "1",
        "--origin-timeout",
        "600000",
    ]);
    let mut con = node.resp();
    let first = get_in_background(&node, "gone");
    origin.wait_received(1);
    // Taken before the origin answers, so before the entry's TTL starts.
    let answered = std::time::Instant::now();
    origin.auto(b"$-1\r\n");
    assert_eq!(first.join().unwrap(), b"$-1\r\n");
    assert_eq!(con.cmd("GET gone"), "$-1\r\n");
    if answered.elapsed() < Duration::from_millis(900) {
        // Still inside the TTL for sure: answered by the negative cache.
        assert_eq!(origin.received(), 1);
        assert_eq!(shard_sum(&node_metrics(&node), "negative_hits"), 1);
    }
    poll_until(SLOW, "a GET after the negative TTL to fetch again", || {
        assert_eq!(con.cmd("GET gone"), "$-1\r\n");
        match origin.received() {
            1 => Err("still answered from the negative cache".to_string()),
            _ => Ok(()),
        }
    });
    let lived = answered.elapsed();
    assert!(
        lived >= Duration::from_millis(990),
        "the negative entry lasted only {lived:?} of its 1 s"
    );
}

#[test]
fn a_write_drops_the_negative_entry_of_its_key() {
    // "Not found" is cached for a minute; then the key is created at the
    // origin and the application DELs it from the cache, as it would after
    // any origin update. The next GET must ask the origin, not the
    // negative cache.
    let origin = HeldOrigin::start();
    origin.auto(b"$-1\r\n");
    let node = Node::start(&[
        "--origin",
        &origin.arg(),
        "--negative-ttl",
        "60",
        "--origin-timeout",
        "600000",
    ]);
    let mut con = node.resp();
    assert_eq!(con.cmd("GET later"), "$-1\r\n");
    assert_eq!(con.cmd("GET later"), "$-1\r\n");
    assert_eq!(origin.received(), 1, "the second GET is a negative hit");
    origin.auto(&bulk("created"));
    assert_eq!(con.cmd("DEL later"), ":0\r\n");
    assert_eq!(con.cmd("GET later"), text(&bulk("created")));
    assert_eq!(origin.received(), 2);
    // The same after SET + DEL, and after FLUSHALL.
    origin.auto(b"$-1\r\n");
    assert_eq!(con.cmd("GET other"), "$-1\r\n");
    assert_eq!(con.cmd("SET other x"), "+OK\r\n");
    assert_eq!(con.cmd("DEL other"), ":1\r\n");
    origin.auto(&bulk("created"));
    assert_eq!(con.cmd("GET other"), text(&bulk("created")));
    origin.auto(b"$-1\r\n");
    assert_eq!(con.cmd("GET third"), "$-1\r\n");
    assert_eq!(con.cmd("FLUSHALL"), "+OK\r\n");
    origin.auto(&bulk("created"));
    assert_eq!(con.cmd("GET third"), text(&bulk("created")));
    assert_eq!(origin.received(), 6);
}

#[test]
fn read_through_fills_the_cache_and_the_second_get_stays_local() {
    let origin = Origin::start(&[]);
    let node = Node::start(&[
        "--origin",
        &origin.addr.to_string(),
        "--origin-timeout",
        "600000",
    ]);
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
    let node = Node::start(&[
        "--origin",
        &origin.addr.to_string(),
        "--negative-ttl",
        "60",
        "--origin-timeout",
        "600000",
    ]);
    let mut con = node.redis();
    for _ in 0..5 {
        let v: Option<String> = con.get("nope/1").unwrap();
        assert_eq!(v, None);
    }
    assert_eq!(origin.fetches(), 1);
    assert_eq!(shard_sum(&node_metrics(&node), "negative_hits"), 4);
}

#[test]
fn origin_down_is_a_clear_error_and_nothing_is_cached() {
    let mut origin = Origin::start(&[]);
    let addr = origin.addr.to_string();
    // Long: the first fetch must succeed on a loaded machine; once the
    // origin is down, connecting fails at once.
    let node = Node::start(&["--origin", &addr, "--origin-timeout", "30000"]);
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
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    // used_memory includes client buffers (as Redis's does); the keys'
    // bound is maxmemory.
    let used = field("used_memory") - field("mem_clients_normal");
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
