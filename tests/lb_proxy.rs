//! `cachectl lb --mode proxy` with real processes: clients send GET/SET/DEL
//! to the LB in RESP, the line form and seed 004's JSON; the LB forwards
//! them to nodes over pooled connections, retries on another node when one
//! dies or hangs, keeps pipelined replies in order, and answers garbage
//! without falling over.

mod common;

use common::{connect, poll_until, redis_conn, Closed, Lb, LineConn, Node, RespConn, SLOW};
use serde_json::{json, Value};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// `cachectl lb --port 0 --mode proxy --proxy-timeout 10s <extra>`
/// (`extra` may set either flag). The long timeout keeps a slow debug node
/// on a loaded machine from turning into a retry that would spoil the exact
/// counts some tests check.
fn proxy_lb(extra: &[&str]) -> Lb {
    let mut args = Vec::new();
    if !extra.contains(&"--mode") {
        args.extend(["--mode", "proxy"]);
    }
    if !extra.contains(&"--proxy-timeout") {
        args.extend(["--proxy-timeout", "10s"]);
    }
    args.extend_from_slice(extra);
    Lb::start(&args)
}

/// The METRICS entry of node `addr`, which must be registered.
fn node_entry(lb: &Lb, addr: SocketAddr) -> Value {
    lb.node(addr)
        .unwrap_or_else(|| panic!("{addr} not registered: {}", lb.metrics()))
}

/// A one-core node that registers with `lb` and keeps a liveness link.
fn linked_node(lb: &Lb) -> Node {
    Node::start(&["--cores", "1", "--lb", &lb.addr.to_string()])
}

/// A one-core node registered one-shot (no link, as seed 000 and
/// `redis-cli` register): only a probe can tell the LB it died.
fn unlinked_node(lb: &Lb) -> Node {
    let node = Node::start(&["--cores", "1"]);
    let reply = RespConn::new(connect(lb.addr)).cmd(&format!("REGISTER {}", node.addr()));
    assert_eq!(reply, "+OK\r\n");
    node
}

/// The node's own METRICS.
fn node_metrics(node: &Node) -> Value {
    let json: String = redis::cmd("METRICS").query(&mut node.redis()).unwrap();
    serde_json::from_str(&json).unwrap()
}

/// GETs the node itself counted.
fn node_gets(node: &Node) -> u64 {
    node_metrics(node)["ops"]["get"].as_u64().unwrap_or(0)
}

/// Write `key` = `value` straight into each of `nodes`, bypassing the LB.
fn preload(nodes: &[&Node], pairs: &[(String, String)]) {
    for n in nodes {
        let mut con = n.redis();
        for (k, v) in pairs {
            let _: () = redis::cmd("SET").arg(k).arg(v).query(&mut con).unwrap();
        }
    }
}

fn pairs(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("{prefix}{i}"), format!("value-of-{prefix}{i}")))
        .collect()
}

fn json_request(c: &mut LineConn, req: Value) -> Value {
    let reply = c.request(req.to_string().as_bytes());
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{req} -> {reply:?}: {e}"))
}

#[test]
fn get_set_del_in_every_form() {
    let lb = proxy_lb(&["--route", "key"]);
    let (a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);

    // RESP, through a real client library.
    let mut con = redis_conn(lb.addr);
    let ok: String = redis::cmd("SET")
        .arg("k1")
        .arg("v1")
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: Option<String> = redis::cmd("GET").arg("k1").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("v1"));
    let v: Option<String> = redis::cmd("GET").arg("missing").query(&mut con).unwrap();
    assert_eq!(v, None);
    let n: i64 = redis::cmd("DEL").arg("k1").query(&mut con).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("DEL").arg("k1").query(&mut con).unwrap();
    assert_eq!(n, 0);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    // Binary-safe both ways, byte for byte.
    let mut raw = RespConn::new(connect(lb.addr));
    let bin: &[u8] = b"a\r\nb\0\xff";
    assert_eq!(raw.call(&[b"SET", b"bin", bin]), b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"bin"]), b"$6\r\na\r\nb\0\xff\r\n");
    assert_eq!(raw.call(&[b"GET", b"nothing"]), b"$-1\r\n");

    // Seed 000's line form, as a node speaks it.
    let mut line = lb.line();
    assert_eq!(line.request(b"SET:k2:hello world"), "OK");
    assert_eq!(line.request(b"GET:k2"), "VALUE:hello world");
    assert_eq!(line.request(b"get k2"), "VALUE:hello world");
    assert_eq!(line.request(b"DEL:k2"), "DELETED");
    assert_eq!(line.request(b"DEL:k2"), "NOT_FOUND");
    assert_eq!(line.request(b"GET:k2"), "NOT_FOUND");
    assert_eq!(line.request(b"SET:k3:"), "OK");
    assert_eq!(line.request(b"GET:k3"), "VALUE:");
    assert_eq!(
        line.request(b"GET:bin"),
        "ERROR:value contains a newline; read it over RESP"
    );

    // Seed 004's JSON.
    let mut js = LineConn::new(connect(lb.addr));
    let body = "Hello, \"world\" — ünïcode\ttab";
    assert_eq!(
        json_request(
            &mut js,
            json!({"op": "SET", "key": "article/1", "value": body})
        ),
        json!({"ok": true, "key": "article/1"})
    );
    assert_eq!(
        json_request(&mut js, json!({"op": "GET", "key": "article/1"})),
        json!({"ok": true, "key": "article/1", "value": body})
    );
    assert_eq!(
        json_request(&mut js, json!({"op": "GET", "key": "article/404"})),
        json!({"ok": false, "key": "article/404", "error": "not found"})
    );
    assert_eq!(
        json_request(&mut js, json!({"op": "DEL", "key": "article/1"})),
        json!({"ok": true, "key": "article/1", "deleted": 1})
    );
    assert_eq!(
        json_request(&mut js, json!({"op": "PING"})),
        json!({"ok": true, "reply": "PONG"})
    );

    // What one form wrote, the others read (key routing sends a key to one node).
    assert_eq!(line.request(b"SET:shared:from-line"), "OK");
    let v: String = redis::cmd("GET").arg("shared").query(&mut con).unwrap();
    assert_eq!(v, "from-line");
    assert_eq!(
        json_request(&mut js, json!({"op": "GET", "key": "shared"}))["value"],
        "from-line"
    );

    // LEASE still works in proxy mode.
    let lease = line.request(b"LEASE");
    let leased: SocketAddr = lease.strip_prefix("NODE:").unwrap().parse().unwrap();
    assert!([a.addr(), b.addr()].contains(&leased), "{lease}");

    // METRICS, asked in JSON: every data request above was forwarded once.
    let m = json_request(&mut js, json!({"op": "METRICS"}));
    assert_eq!(m["role"], "lb");
    assert_eq!(m["mode"], "proxy");
    assert_eq!(m["route"], "key");
    let data_requests = 8 + 9 + 4 + 3;
    assert_eq!(m["forwarded"], data_requests, "{m}");
    let per_node: u64 = m["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["forwarded"].as_u64().unwrap())
        .sum();
    assert_eq!(per_node, data_requests, "{m}");
    assert_eq!(m["retries"], 0, "{m}");
    assert_eq!(m["proxy_errors"], 0, "{m}");
}

#[test]
fn round_robin_spreads_requests_over_two_nodes() {
    let lb = proxy_lb(&[]);
    let (a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    preload(&[&a, &b], &pairs("rr", 10));
    let mut con = redis_conn(lb.addr);
    for i in 0..100 {
        let key = format!("rr{}", i % 10);
        let v: String = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        assert_eq!(v, format!("value-of-{key}"));
    }
    // Round-robin alternates, so each node served exactly half — by its
    // own count, and by the LB's.
    assert_eq!((node_gets(&a), node_gets(&b)), (50, 50));
    let m = lb.metrics();
    assert_eq!(m["forwarded"], 100, "{m}");
    for n in [&a, &b] {
        let entry = node_entry(&lb, n.addr());
        assert_eq!(entry["forwarded"], 50, "{entry}");
        assert_eq!(entry["proxy_failures"], 0, "{entry}");
        assert_eq!(entry["in_flight"], 0, "{entry}");
        // One client, one request at a time: one pooled connection suffices.
        assert_eq!(
            entry["pool_connects"], 1,
            "pooled connections are reused: {entry}"
        );
        assert_eq!(entry["leases"], 0, "forwarding is not leasing: {entry}");
    }
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(info.contains("mode:proxy\r\n"), "{info}");
    assert!(info.contains("forwarded:100\r\n"), "{info}");
    assert!(info.contains(",forwarded=50,"), "{info}");
    let nodes: Vec<String> = redis::cmd("NODES").query(&mut con).unwrap();
    assert!(
        nodes.iter().all(|l| l.contains(" forwarded=50 ")),
        "{nodes:?}"
    );
}

#[test]
fn key_route_keeps_reads_coherent_over_nodes() {
    let lb = proxy_lb(&["--route", "key"]);
    let (a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let mut con = redis_conn(lb.addr);
    let kv = pairs("coherent", 100);
    for (k, v) in &kv {
        let _: () = redis::cmd("SET").arg(k).arg(v).query(&mut con).unwrap();
    }
    for (k, v) in &kv {
        let got: String = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(&got, v, "{k} reads what was written through the LB");
    }
    // Each key lives on exactly one node, and both nodes got a share.
    let keys = |n: &Node| node_metrics(n)["keys"].as_u64().unwrap();
    let (ka, kb) = (keys(&a), keys(&b));
    assert_eq!(ka + kb, 100, "{ka} + {kb}");
    assert!(ka > 0 && kb > 0, "both nodes own keys: {ka}, {kb}");
}

/// Run GETs of preloaded keys through the LB on a thread until told to stop;
/// returns (requests, failures as text).
fn get_loop(
    lb: SocketAddr,
    kv: Vec<(String, String)>,
    done: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<(usize, Vec<String>)> {
    thread::spawn(move || {
        let mut con = redis_conn(lb);
        let mut failures = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            let (k, v) = &kv[i % kv.len()];
            match redis::cmd("GET").arg(k).query::<Option<String>>(&mut con) {
                Ok(Some(got)) if &got == v => {}
                other => failures.push(format!("request {i}: GET {k} -> {other:?}")),
            }
            i += 1;
            done.store(i, Ordering::Relaxed);
        }
        (i, failures)
    })
}

/// Kill `victim` while a client loops GETs through the LB; every request
/// must succeed. Returns the LB's METRICS afterwards.
fn kill_mid_run(lb: &Lb, victim: &mut Node, other: &Node) -> Value {
    let kv = pairs("loop", 20);
    preload(&[victim, other], &kv);
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let client = get_loop(lb.addr, kv, done.clone(), stop.clone());
    let progress = |at_least: usize| {
        poll_until(SLOW, &format!("{at_least} GETs through the LB"), || {
            let n = done.load(Ordering::Relaxed);
            if n >= at_least {
                Ok(n)
            } else {
                Err(n.to_string())
            }
        })
    };
    progress(200);
    victim.proc().signal(libc::SIGKILL);
    let at_kill = done.load(Ordering::Relaxed);
    let n = lb.wait_state(victim.addr(), "down");
    // Keep going well past the eviction.
    progress(at_kill + 500);
    stop.store(true, Ordering::Relaxed);
    let (total, failures) = client.join().expect("client thread");
    assert!(
        failures.is_empty(),
        "all requests succeed; {} of {total} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(n["state"], "down");
    let m = lb.metrics();
    assert_eq!(m["proxy_errors"], 0, "{m}");
    m
}

#[test]
fn killed_unlinked_node_requests_are_retried_on_the_other_node() {
    // Probes a minute apart and no links: the LB learns of the death only
    // from a forwarded request failing, which is retried, and the probe it
    // triggers.
    let lb = proxy_lb(&["--health-interval", "60s"]);
    let (mut victim, other) = (unlinked_node(&lb), unlinked_node(&lb));
    lb.wait_healthy(&[victim.addr(), other.addr()]);
    let m = kill_mid_run(&lb, &mut victim, &other);
    assert!(m["retries"].as_u64() >= Some(1), "{m}");
    assert!(m["node_failures"].as_u64() >= Some(1), "{m}");
    let dead = node_entry(&lb, victim.addr());
    assert!(
        dead["reason"].as_str().unwrap().starts_with("unreachable"),
        "evicted by the probe a failure triggered: {dead}"
    );
    assert!(dead["proxy_failures"].as_u64() >= Some(1), "{dead}");
}

#[test]
fn killed_linked_node_requests_keep_succeeding() {
    let lb = proxy_lb(&["--health-interval", "60s"]);
    let (mut victim, other) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[victim.addr(), other.addr()]);
    kill_mid_run(&lb, &mut victim, &other);
    let dead = node_entry(&lb, victim.addr());
    assert_eq!(dead["reason"], "registration link closed", "{dead}");
}

#[test]
fn hung_node_times_out_and_its_requests_go_elsewhere() {
    // The link of a stopped process stays open: only timeouts can tell.
    let lb = proxy_lb(&[
        "--health-interval",
        "60s",
        "--health-timeout",
        "3s",
        "--proxy-timeout",
        "3s",
    ]);
    let (mut hung, alive) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[hung.addr(), alive.addr()]);
    let kv = pairs("hung", 4);
    preload(&[&hung, &alive], &kv);
    let mut con = redis_conn(lb.addr);
    // Warm both pools, so the hung node's idle connection looks usable.
    for (k, v) in &kv {
        let got: String = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(&got, v);
    }
    hung.proc().pause();
    for i in 0..20 {
        let (k, v) = &kv[i % kv.len()];
        let got: String = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(&got, v, "request {i}");
    }
    let n = lb.wait_state(hung.addr(), "down");
    assert_eq!(n["reason"], "probe timed out", "{n}");
    let m = lb.metrics();
    assert!(m["retries"].as_u64() >= Some(1), "{m}");
    assert_eq!(m["proxy_errors"], 0, "{m}");
    hung.proc().signal(libc::SIGCONT);
}

#[test]
fn pipelined_requests_get_replies_in_order() {
    let lb = proxy_lb(&[]);
    let (a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let kv = pairs("pipe", 50);
    preload(&[&a, &b], &kv);

    // RESP: 1,500 requests in one write — more than one batch, spread over
    // both nodes — with PINGs and METRICS among them.
    let mut want: Vec<Vec<u8>> = Vec::new();
    let mut req = Vec::new();
    for i in 0..1500 {
        if i % 100 == 7 {
            req.extend(common::encode(&[b"PING"]));
            want.push(b"+PONG\r\n".to_vec());
        } else if i % 300 == 11 {
            req.extend(common::encode(&[b"GET", b"no-such-key"]));
            want.push(b"$-1\r\n".to_vec());
        } else {
            let (k, v) = &kv[i % kv.len()];
            req.extend(common::encode(&[b"GET", k.as_bytes()]));
            want.push(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
        }
    }
    req.extend(common::encode(&[b"METRICS"]));
    let mut r = RespConn::new(connect(lb.addr));
    r.send(&req);
    for (i, w) in want.iter().enumerate() {
        let got = r.read_reply();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(w),
            "reply {i}"
        );
    }
    let metrics = r.read_reply();
    assert!(metrics.starts_with(b"$"), "METRICS comes last");

    // Line form and JSON: 200 requests each in one write.
    let mut line = connect(lb.addr);
    let mut js = connect(lb.addr);
    let (mut lreq, mut jreq) = (String::new(), String::new());
    for i in 0..200 {
        let (k, _) = &kv[i % kv.len()];
        lreq.push_str(&format!("GET:{k}\n"));
        jreq.push_str(&format!("{}\n", json!({"op": "GET", "key": k})));
        if i % 50 == 3 {
            lreq.push_str("PING\n");
            jreq.push_str("{\"op\":\"PING\"}\n");
        }
    }
    line.write_all(lreq.as_bytes()).unwrap();
    js.write_all(jreq.as_bytes()).unwrap();
    let (mut line, mut js) = (LineConn::new(line), LineConn::new(js));
    for i in 0..200 {
        let (k, v) = &kv[i % kv.len()];
        assert_eq!(line.read_line(), format!("VALUE:{v}"), "line reply {i}");
        let got: Value = serde_json::from_str(&js.read_line()).unwrap();
        assert_eq!(
            got,
            json!({"ok": true, "key": k, "value": v}),
            "JSON reply {i}"
        );
        if i % 50 == 3 {
            assert_eq!(line.read_line(), "PONG");
            assert_eq!(js.read_line(), r#"{"ok":true,"reply":"PONG"}"#);
        }
    }
    // The batches really went to both nodes.
    assert!(node_gets(&a) > 100 && node_gets(&b) > 100);
}

/// The value of `key` on `node` itself, bypassing the LB.
fn direct_get(node: &Node, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(&mut node.redis()).unwrap()
}

/// Keys `"{prefix}{i}"` that `--route key` puts on `on` rather than on
/// `other`: each is written through the LB and looked up on both nodes.
fn keys_routed_to(lb: &Lb, on: &Node, other: &Node, prefix: &str, n: usize) -> Vec<String> {
    let mut con = redis_conn(lb.addr);
    let mut keys = Vec::new();
    for i in 0.. {
        let k = format!("{prefix}{i}");
        let _: () = redis::cmd("SET").arg(&k).arg("v0").query(&mut con).unwrap();
        match (direct_get(on, &k), direct_get(other, &k)) {
            (Some(_), None) => keys.push(k),
            (None, Some(_)) => {}
            both => panic!("{k} must be on exactly one node: {both:?}"),
        }
        if keys.len() == n {
            return keys;
        }
    }
    unreachable!()
}

/// The error a `--route key` LB answers a SET or DEL with when its node
/// failed after the request may have reached it.
const MAY_HAVE_BEEN_APPLIED: &str = "may have been applied there, so it was not retried";

/// `--route key` promises that a key's reads go where its writes went.
/// A SET or DEL that timed out on a hung node may still be applied there
/// (the request waits in the node's socket), so retrying it on another node
/// would apply it twice: the DEL's count would come from a node that never
/// had the key, and the other node would keep a copy that turns stale and
/// is read once the first node leaves. Such a write must get an error that
/// says it may have been applied, and go nowhere else; a GET is retried.
#[test]
fn key_route_write_to_a_hung_node_is_not_applied_twice() {
    let lb = proxy_lb(&[
        "--route",
        "key",
        "--proxy-timeout",
        "3s",
        "--health-interval",
        "5s",
        "--health-timeout",
        "5s",
    ]);
    let (mut a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let keys = keys_routed_to(&lb, &a, &b, "hung-", 6);
    let (sets, dels) = keys.split_at(3);
    let mut r = RespConn::new(connect(lb.addr));
    a.proc().pause();
    // One pipelined write: one attempt on the hung node for all of them.
    let mut req = Vec::new();
    for k in sets {
        req.extend(common::encode(&[b"SET", k.as_bytes(), b"v1"]));
    }
    for k in dels {
        req.extend(common::encode(&[b"DEL", k.as_bytes()]));
    }
    req.extend(common::encode(&[b"GET", sets[0].as_bytes()]));
    req.extend(common::encode(&[b"PING"]));
    r.send(&req);
    let mut replies: Vec<String> = (0..keys.len() + 2)
        .map(|_| String::from_utf8_lossy(&r.read_reply()).into_owned())
        .collect();
    a.proc().signal(libc::SIGCONT);
    assert_eq!(replies.pop().unwrap(), "+PONG\r\n", "one reply per request");
    let get = replies.pop().unwrap();
    // The node was stopped before the requests went out, so it answered
    // none: each write is told it may have been applied.
    for (k, reply) in keys.iter().zip(&replies) {
        let op = if sets.contains(k) { "SET" } else { "DEL" };
        let want = format!(
            "-ERR {}: no reply within --proxy-timeout 3s; the {op} {MAY_HAVE_BEEN_APPLIED}\r\n",
            a.addr()
        );
        assert_eq!(reply, &want, "{op} {k} on a hung node");
    }
    // The GET is retried on the other node, which never had the key.
    assert_eq!(get, "$-1\r\n", "GET {} retried", sets[0]);
    let m = lb.metrics();
    assert_eq!(
        (m["retries"].as_u64(), m["proxy_errors"].as_u64()),
        (Some(1), Some(6)),
        "{m}"
    );
    // The hung node, resumed, applies what waited in its socket; the other
    // node got none of it.
    for k in &keys {
        let want = sets.contains(k).then(|| "v1".to_string());
        poll_until(
            SLOW,
            &format!("{k} on the resumed node"),
            || match direct_get(&a, k) {
                got if got == want => Ok(()),
                got => Err(format!("{got:?}")),
            },
        );
        assert_eq!(direct_get(&b, k), None, "{k} was applied twice");
    }
    // Written through the LB after the hang, then its node is killed: the
    // key must not come back from the other node with an older value.
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let mut con = redis_conn(lb.addr);
    for k in sets {
        let _: () = redis::cmd("SET").arg(k).arg("v2").query(&mut con).unwrap();
    }
    a.proc().signal(libc::SIGKILL);
    lb.wait_state(a.addr(), "down");
    for k in sets {
        let got: Option<String> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert!(
            got.is_none(),
            "{k} was last written v2 on the dead node, and reads {got:?}"
        );
    }
}

/// SETs and DELs through a `--route key` LB while one node is killed in
/// the middle of a pipelined batch. A node that dies takes its keys with
/// it, so its keys may read as missing afterwards; but every request gets
/// exactly one reply, in order; a SET is never refused; a DEL counts what
/// the cache held; and a GET never returns anything but the last value
/// written (or nothing, for a key the dead node took with it).
#[test]
fn key_route_sets_and_dels_through_a_node_kill() {
    let lb = proxy_lb(&["--route", "key", "--health-interval", "60s"]);
    let (mut a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    // Keys on both nodes; all start at "v0".
    let on_a = keys_routed_to(&lb, &a, &b, "kill-", 20);
    let on_b = keys_routed_to(&lb, &b, &a, "kill-", 20);
    let keys: Vec<&String> = on_a.iter().chain(&on_b).collect();
    // What each key may hold: one value, or (after the kill) either of two.
    let mut model: Vec<Vec<Option<String>>> = vec![vec![Some("v0".into())]; keys.len()];
    let mut rng = fastrand::Rng::with_seed(15);
    let mut r = RespConn::new(connect(lb.addr));
    let kill_round = 10;
    for round in 0..30 {
        // One write per key, then a GET of every key, then a PING.
        let mut req = Vec::new();
        let mut writes = Vec::new();
        for k in &keys {
            if rng.bool() {
                let v = format!("v{round}");
                req.extend(common::encode(&[b"SET", k.as_bytes(), v.as_bytes()]));
                writes.push(Some(v));
            } else {
                req.extend(common::encode(&[b"DEL", k.as_bytes()]));
                writes.push(None);
            }
        }
        for k in &keys {
            req.extend(common::encode(&[b"GET", k.as_bytes()]));
        }
        req.extend(common::encode(&[b"PING"]));
        r.send(&req);
        if round == kill_round {
            // The batch is on its way; the node dies under it.
            a.proc().signal(libc::SIGKILL);
        }
        for (i, write) in writes.iter().enumerate() {
            let reply = String::from_utf8_lossy(&r.read_reply()).into_owned();
            let lost_with_a = round == kill_round && i < on_a.len();
            match write {
                Some(_) => assert_eq!(reply, "+OK\r\n", "round {round}: SET {}", keys[i]),
                None => {
                    let held = model[i].iter().any(Option::is_some);
                    let empty = model[i].iter().any(Option::is_none);
                    let ok = (reply == ":1\r\n" && (held || lost_with_a))
                        || (reply == ":0\r\n" && (empty || lost_with_a));
                    assert!(
                        ok,
                        "round {round}: DEL {} -> {reply:?}, model {:?}",
                        keys[i], model[i]
                    );
                }
            }
            model[i] = if lost_with_a {
                // Applied on the dead node (and lost), or retried on the other.
                vec![None, write.clone()]
            } else {
                vec![write.clone()]
            };
        }
        if round == kill_round {
            // The dead node's other keys went with it.
            for m in &mut model[..on_a.len()] {
                m.push(None);
            }
        }
        for (i, k) in keys.iter().enumerate() {
            let got = match r.read_reply().as_slice() {
                b"$-1\r\n" => None,
                bulk => {
                    let text = String::from_utf8_lossy(bulk).into_owned();
                    let v = text.split("\r\n").nth(1).unwrap_or_default().to_string();
                    assert_eq!(text, format!("${}\r\n{v}\r\n", v.len()), "GET {k}");
                    Some(v)
                }
            };
            assert!(
                model[i].contains(&got),
                "round {round}: GET {k} -> {got:?}, may be {:?}",
                model[i]
            );
            model[i] = vec![got];
        }
        assert_eq!(
            r.read_reply(),
            b"+PONG\r\n",
            "round {round}: one reply per request"
        );
    }
    let m = lb.metrics();
    assert_eq!(m["proxy_errors"], 0, "{m}");
    assert_eq!(node_entry(&lb, a.addr())["state"], "down", "{m}");
}

/// A bulk-string reply.
fn bulk(v: &[u8]) -> Vec<u8> {
    let mut r = format!("${}\r\n", v.len()).into_bytes();
    r.extend_from_slice(v);
    r.extend_from_slice(b"\r\n");
    r
}

/// The LB drains as a node does (see `roles::lifecycle`): on SIGTERM it
/// refuses new connections, forwards every request its clients had already
/// sent, delivers every reply, and exits 0; the nodes keep serving.
///
/// Four connections each pipeline 5,400 requests through the LB (21,600 in
/// all: SETs, GETs of 4 KiB values and GETs that must see the SET before
/// them, over two nodes by key). Every byte of them has reached the LB when
/// SIGTERM arrives, while most of the 29 MB of replies are still unsent.
#[test]
fn sigterm_answers_every_request_in_flight_through_the_proxy() {
    let mut lb = proxy_lb(&["--route", "key"]);
    let (a, b) = (linked_node(&lb), linked_node(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let bigs: Vec<(String, Vec<u8>)> = (0..32)
        .map(|i| (format!("big{i}"), vec![b'a' + (i % 26) as u8; 4096]))
        .collect();
    let mut pre = RespConn::new(connect(lb.addr));
    for (k, v) in &bigs {
        pre.send(&common::encode(&[b"SET", k.as_bytes(), v]));
    }
    for _ in &bigs {
        assert_eq!(pre.read_reply(), b"+OK\r\n");
    }
    let batches = (0..4)
        .map(|c| {
            let (mut req, mut want) = (Vec::new(), Vec::new());
            for j in 0..1800 {
                let (k, v) = (format!("w{c}-{j}"), format!("value-{c}-{j}"));
                let (big, big_value) = &bigs[(j * 7 + c) % bigs.len()];
                req.extend(common::encode(&[b"SET", k.as_bytes(), v.as_bytes()]));
                req.extend(common::encode(&[b"GET", big.as_bytes()]));
                req.extend(common::encode(&[b"GET", k.as_bytes()]));
                want.extend_from_slice(b"+OK\r\n");
                want.extend(bulk(big_value));
                want.extend(bulk(v.as_bytes()));
            }
            (req, want)
        })
        .collect();
    let addr = lb.addr;
    let status = lb.proc.sigterm_mid_batch(addr, batches);
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}\n{}",
        lb.proc.output_report()
    );
    // Both nodes got a share, and serve on without their LB.
    for n in [&a, &b] {
        assert!(node_gets(n) > 1000, "{}", node_metrics(n));
    }
}

#[test]
fn garbage_in_each_form_gets_an_error_and_the_lb_keeps_serving() {
    let mut lb = proxy_lb(&["--max-value", "1kb"]);
    let node = linked_node(&lb);
    lb.wait_healthy(&[node.addr()]);
    preload(&[&node], &[("small".into(), "ok".into())]);

    let mut line = lb.line();
    for bad in [
        &b"HELLO WORLD"[..],
        b"GET:a:b",
        b"SET:k",
        b"SET::v",
        b"GET:",
        b"DEL",
        b"\x00\xff\x01",
    ] {
        let reply = line.request(bad);
        assert!(reply.starts_with("ERROR:"), "{bad:?} -> {reply}");
    }
    assert_eq!(
        line.request(b"GET:small"),
        "VALUE:ok",
        "same connection still served"
    );

    let mut js = LineConn::new(connect(lb.addr));
    for bad in [
        "{bad",
        "{\"op\":\"GET\"}",
        "{\"op\":\"GET\",\"key\":\"\"}",
        "{\"op\":\"GET\",\"key\":7}",
        "{\"op\":\"SET\",\"key\":\"k\"}",
        "{\"op\":\"FLY\"}",
        "[\"GET\",\"small\"]",
        "GET:small",
    ] {
        let reply: Value = serde_json::from_str(&js.request(bad.as_bytes()))
            .unwrap_or_else(|e| panic!("{bad}: reply is not JSON: {e}"));
        assert_eq!(reply["ok"], false, "{bad} -> {reply}");
        assert!(reply["error"].is_string(), "{bad} -> {reply}");
    }
    assert_eq!(
        json_request(&mut js, json!({"op": "GET", "key": "small"}))["value"],
        "ok"
    );

    let mut resp = RespConn::new(connect(lb.addr));
    assert_eq!(
        resp.cmd("GET"),
        "-ERR wrong number of arguments for 'GET'\r\n"
    );
    assert_eq!(
        resp.cmd("SET k v EX 10"),
        "-ERR wrong number of arguments for 'SET'\r\n"
    );
    assert_eq!(resp.cmd("FLUSHALL"), "-ERR unknown command 'FLUSHALL'\r\n");
    // A value on the node bigger than --max-value: an error, and the
    // connection (and the pooled one behind it) stays in step.
    let big = "x".repeat(5000);
    preload(&[&node], &[("big".into(), big)]);
    let reply = resp.cmd("GET big");
    assert!(reply.starts_with("-ERR value is larger than"), "{reply}");
    assert_eq!(resp.cmd("GET small"), "$2\r\nok\r\n");

    // Unrecoverable framing: one error, then that connection closes.
    let mut r = RespConn::new(connect(lb.addr));
    r.send(b"*1\r\n$abc\r\n");
    match r.read_to_close() {
        Closed::Yes(b) => assert!(b.starts_with(b"-ERR Protocol error"), "{b:?}"),
        Closed::No(b) => panic!("not closed: {b:?}"),
    }
    // A SET over --max-value is refused, and the connection carries on...
    assert_eq!(
        String::from_utf8_lossy(&resp.call(&[b"SET", b"k", &[b'v'; 2000]])),
        "-ERR key or value is larger than --max-value (1024 bytes)\r\n"
    );
    let line_set = format!("SET:k:{}", "v".repeat(2000));
    assert_eq!(
        line.request(line_set.as_bytes()),
        "ERROR:key or value is larger than --max-value (1024 bytes)"
    );
    assert_eq!(resp.cmd("GET small"), "$2\r\nok\r\n");
    // ...unless it is past what the framing reads at all: then it is
    // refused before it is read, and that connection closes.
    let mut r = RespConn::new(connect(lb.addr));
    r.send(&common::encode(&[b"SET", b"k", &[b'v'; 5000]]));
    match r.read_to_close() {
        Closed::Yes(b) => assert!(b.starts_with(b"-ERR Protocol error"), "{b:?}"),
        Closed::No(b) => panic!("not closed: {b:?}"),
    }
    let mut long = connect(lb.addr);
    long.write_all(&vec![b'A'; 10_000]).unwrap();
    match RespConn::new(long).read_to_close() {
        Closed::Yes(b) => assert!(b.starts_with(b"ERROR:"), "{b:?}"),
        Closed::No(b) => panic!("not closed: {b:?}"),
    }

    lb.assert_running();
    assert_eq!(lb.line().request(b"GET:small"), "VALUE:ok");
    let m = lb.metrics();
    assert_eq!(m["protocol_errors"], 3, "{m}");
    assert!(m["request_errors"].as_u64() >= Some(20), "{m}");
    assert_eq!(m["proxy_errors"], 0, "{m}");
}

#[test]
fn no_node_to_answer_is_a_clear_error_not_a_hang() {
    let lb = proxy_lb(&["--health-interval", "60s"]);
    let mut line = lb.line();
    let mut js = LineConn::new(connect(lb.addr));
    let mut resp = RespConn::new(connect(lb.addr));
    assert_eq!(line.request(b"GET:k"), "ERROR:no healthy nodes");
    assert_eq!(
        json_request(&mut js, json!({"op": "GET", "key": "k"})),
        json!({"ok": false, "error": "no healthy nodes"})
    );
    assert_eq!(resp.cmd("GET k"), "-ERR no healthy nodes\r\n");

    // The only node dies without a link: both attempts fail, the client is
    // told so at once, and the probe that failure triggered evicts it.
    let mut node = unlinked_node(&lb);
    lb.wait_healthy(&[node.addr()]);
    assert_eq!(resp.cmd("SET k v"), "+OK\r\n");
    node.proc().signal(libc::SIGKILL);
    let reply = resp.cmd("GET k");
    assert!(
        reply.starts_with("-ERR no healthy node answered") || reply == "-ERR no healthy nodes\r\n",
        "{reply}"
    );
    lb.wait_state(node.addr(), "down");
    assert_eq!(line.request(b"GET:k"), "ERROR:no healthy nodes");
    let m = lb.metrics();
    assert!(m["proxy_errors"].as_u64() >= Some(5), "{m}");
}

#[test]
fn redirect_mode_refuses_data_requests_and_names_proxy_mode() {
    let lb = proxy_lb(&["--mode", "redirect"]);
    let reply = lb.line().request(b"GET:k");
    assert!(
        reply.starts_with("ERROR:GET is not served here") && reply.contains("--mode proxy"),
        "{reply}"
    );
    // Seed 004's client asks a redirect-mode LB for METRICS in JSON.
    let mut js = LineConn::new(connect(lb.addr));
    let m = json_request(&mut js, json!({"op": "METRICS"}));
    assert_eq!(
        (m["role"].as_str(), m["mode"].as_str()),
        (Some("lb"), Some("redirect"))
    );
    let err = json_request(&mut js, json!({"op": "GET", "key": "k"}));
    assert_eq!(err["ok"], false, "{err}");
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<String>(&mut redis_conn(lb.addr))
        .unwrap_err();
    assert!(err.to_string().contains("--mode proxy"), "{err}");
}
