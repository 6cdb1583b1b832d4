//! `cachectl lb` with real processes: nodes register over their links,
//! leases follow the policy, dead/hung nodes leave the pool and come back,
//! the LB restarts without taking nodes down, and bad input is answered.

mod common;

use common::{
    connect, free_port, poll_until, redis_conn, run_cachectl, Closed, Lb, LineConn, Node, RespConn,
    SLOW,
};
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;

/// One LEASE: the node's address, or the error line.
fn lease(lb: &Lb) -> Result<SocketAddr, String> {
    let reply = lb.request("LEASE");
    match reply.strip_prefix("NODE:") {
        Some(a) => Ok(a.parse().expect("lease is an address")),
        None => Err(reply),
    }
}

fn node_with_lb(lb: &Lb) -> Node {
    Node::start(&["--cores", "1", "--lb", &lb.addr.to_string()])
}

/// The leased address serves data, directly (nothing flows through the LB).
fn assert_serves(addr: SocketAddr, key: &str) {
    let mut con = redis_conn(addr);
    let _: () = redis::cmd("SET").arg(key).arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg(key).query(&mut con).unwrap();
    assert_eq!(v, "v");
}

#[test]
fn two_nodes_register_and_round_robin_alternates() {
    let lb = Lb::start(&[]);
    assert_eq!(lease(&lb), Err("ERROR:no healthy nodes".into()));
    let (a, b) = (node_with_lb(&lb), node_with_lb(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);

    let leases: Vec<SocketAddr> = (0..10).map(|_| lease(&lb).unwrap()).collect();
    for pair in leases.windows(2) {
        assert_ne!(pair[0], pair[1], "round-robin alternates: {leases:?}");
    }
    let seen: HashSet<_> = leases.iter().copied().collect();
    assert_eq!(seen, HashSet::from([a.addr(), b.addr()]));
    for (i, addr) in seen.iter().enumerate() {
        assert_serves(*addr, &format!("k{i}"));
    }
    let m = lb.metrics();
    assert_eq!(m["leases"], 10);
    assert_eq!(m["nodes_healthy"], 2);
    for n in m["nodes"].as_array().unwrap() {
        assert_eq!(n["leases"], 5, "{m}");
        assert_eq!(n["linked"], true);
        assert_eq!(n["cores"], 1);
    }
}

#[test]
fn least_loaded_steers_leases_away_from_a_busy_node() {
    // Probes every 2 s (timing out after 2 s, see `Lb::start`): soon
    // enough to see the busy node's clients, never so tight that a loaded
    // machine makes one late.
    let lb = Lb::start(&["--policy", "least-loaded", "--health-interval", "2s"]);
    let (busy, idle) = (node_with_lb(&lb), node_with_lb(&lb));
    lb.wait_healthy(&[busy.addr(), idle.addr()]);
    // Thirty idle clients on one node, each admitted (answered a PING).
    let _held: Vec<RespConn> = (0..30)
        .map(|_| {
            let mut c = busy.resp();
            assert_eq!(c.cmd("PING"), "+PONG\r\n");
            c
        })
        .collect();
    poll_until(
        SLOW,
        "a probe to see the busy node's clients",
        || match lb.node(busy.addr()) {
            Some(n) if n["clients"].as_u64() >= Some(30) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    for _ in 0..10 {
        assert_eq!(lease(&lb), Ok(idle.addr()), "{}", lb.metrics());
    }
}

#[test]
fn killed_node_leaves_the_pool_through_its_closed_link() {
    // Probes are a minute apart: only the link can tell the LB in time.
    let lb = Lb::start(&["--health-interval", "60s"]);
    let (mut dead, alive) = (node_with_lb(&lb), node_with_lb(&lb));
    lb.wait_healthy(&[dead.addr(), alive.addr()]);
    dead.proc().signal(libc::SIGKILL);
    let n = lb.wait_state(dead.addr(), "down");
    assert_eq!(n["reason"], "registration link closed");
    for _ in 0..6 {
        assert_eq!(lease(&lb), Ok(alive.addr()));
    }
    assert_eq!(lb.metrics()["evictions"], 1);
}

#[test]
fn killed_node_without_a_link_is_evicted_by_the_probe() {
    let lb = Lb::start(&["--health-interval", "2s"]);
    // Seed 000's one-shot registration: no link, host = our IP.
    let mut seed = Node::start(&["--cores", "1"]);
    let alive = node_with_lb(&lb);
    assert_eq!(
        lb.request(&format!("REGISTER:{}", seed.addr().port())),
        "OK"
    );
    lb.wait_healthy(&[seed.addr(), alive.addr()]);
    assert_eq!(lb.node(seed.addr()).unwrap()["linked"], false);
    seed.proc().signal(libc::SIGKILL);
    let n = lb.wait_state(seed.addr(), "down");
    assert!(
        n["reason"].as_str().unwrap().starts_with("unreachable"),
        "{n}"
    );
    assert!(n["probe_failures"].as_u64() >= Some(1));
    for _ in 0..6 {
        assert_eq!(lease(&lb), Ok(alive.addr()));
    }
}

#[test]
fn hung_node_is_evicted_by_timeout_and_readmitted_after_cont() {
    // A generous timeout: on a loaded machine the healthy node must not
    // miss a probe, or the strict lease checks below would flap.
    let lb = Lb::start(&["--health-interval", "2s", "--health-timeout", "2s"]);
    let (mut hung, alive) = (node_with_lb(&lb), node_with_lb(&lb));
    lb.wait_healthy(&[hung.addr(), alive.addr()]);
    hung.proc().pause();
    let n = lb.wait_state(hung.addr(), "down");
    assert_eq!(n["reason"], "probe timed out", "the link stays open: {n}");
    assert_eq!(n["linked"], true);
    for _ in 0..6 {
        assert_eq!(lease(&lb), Ok(alive.addr()));
    }
    hung.proc().signal(libc::SIGCONT);
    lb.wait_healthy(&[hung.addr(), alive.addr()]);
    let seen: HashSet<_> = (0..4).map(|_| lease(&lb).unwrap()).collect();
    assert!(seen.contains(&hung.addr()), "re-admitted node gets leases");
    let m = lb.metrics();
    assert_eq!(m["readmissions"], 1, "{m}");
    assert_serves(hung.addr(), "after-cont");
}

#[test]
fn lb_restart_leaves_nodes_serving_and_they_re_register() {
    let lb = Lb::start(&["--health-interval", "2s"]);
    let port = lb.addr.port().to_string();
    let (a, b) = (node_with_lb(&lb), node_with_lb(&lb));
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let mut lb = lb;
    assert!(lb.proc.stop().success(), "SIGTERM stops the LB cleanly");
    for (i, n) in [&a, &b].iter().enumerate() {
        assert_serves(n.addr(), &format!("during-restart-{i}"));
    }
    let lb = Lb::start(&["--port", &port, "--health-interval", "2s"]);
    lb.wait_healthy(&[a.addr(), b.addr()]);
    let seen: HashSet<_> = (0..4).map(|_| lease(&lb).unwrap()).collect();
    assert_eq!(seen, HashSet::from([a.addr(), b.addr()]));
}

#[test]
fn node_serves_without_its_lb_and_registers_once_it_appears() {
    let port = free_port();
    let lb_addr = format!("127.0.0.1:{port}");
    let mut node = Node::start(&["--cores", "1", "--lb", &lb_addr]);
    assert_serves(node.addr(), "no-lb-yet");
    poll_until(SLOW, "the node to report the missing LB", || {
        if node.proc().stderr().contains("registering with LB") {
            Ok(())
        } else {
            Err(node.proc().stderr())
        }
    });
    let lb = Lb::start(&["--port", &port.to_string()]);
    lb.wait_healthy(&[node.addr()]);
    assert_eq!(lease(&lb), Ok(node.addr()));
    let log = node.proc().stderr();
    assert_eq!(
        log.matches("registering with LB").count(),
        1,
        "retries that fail the same way are logged once:\n{log}"
    );
    // Stopping the node closes its link first: the LB stops leasing it.
    assert!(node.stop().success());
    let n = lb.wait_state(node.addr(), "down");
    assert_eq!(n["reason"], "registration link closed");
}

#[test]
fn garbage_gets_an_error_and_the_lb_keeps_serving() {
    let mut lb = Lb::start(&[]);
    let mut c = LineConn::new(connect(lb.addr));
    for bad in [
        &b"HELLO WORLD"[..],
        b"REGISTER:notaport",
        b"REGISTER:bad/host:1:1",
        b"REGISTER:h:1:0",
        b"\x00\xff\x01",
        b"GET:key",
    ] {
        let reply = c.request(bad);
        assert!(reply.starts_with("ERROR:"), "{bad:?} -> {reply}");
    }
    assert_eq!(c.request(b"PING"), "PONG", "same connection still served");
    assert_eq!(c.request(b"LEASE"), "ERROR:no healthy nodes");

    // Unrecoverable framing: one error, then the connection closes.
    let mut r = RespConn::new(connect(lb.addr));
    r.send(b"*1\r\n$abc\r\n");
    match r.read_to_close() {
        Closed::Yes(b) => assert!(b.starts_with(b"-ERR Protocol error"), "{b:?}"),
        Closed::No(b) => panic!("not closed: {b:?}"),
    }
    let mut long = connect(lb.addr);
    long.write_all(&vec![b'A'; 10_000]).unwrap();
    let mut r = RespConn::new(long);
    match r.read_to_close() {
        Closed::Yes(b) => assert!(b.starts_with(b"ERROR:"), "{b:?}"),
        Closed::No(b) => panic!("not closed: {b:?}"),
    }
    assert_eq!(lb.request("PING"), "PONG");
    assert!(lb.proc.try_status().is_none(), "LB still running");
    let m = lb.metrics();
    assert_eq!(m["protocol_errors"], 2, "{m}");
    assert!(m["request_errors"].as_u64() >= Some(6), "{m}");
}

#[test]
fn resp_form_serves_redis_clients() {
    let lb = Lb::start(&[]);
    let mut con = redis_conn(lb.addr);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let err = redis::cmd("LEASE").query::<String>(&mut con).unwrap_err();
    assert!(err.to_string().contains("no healthy nodes"), "{err}");

    // A node registered by hand (no link), twice: one entry.
    let node = Node::start(&["--cores", "2"]);
    for _ in 0..2 {
        let ok: String = redis::cmd("REGISTER")
            .arg(node.addr().to_string())
            .arg(2)
            .query(&mut con)
            .unwrap();
        assert_eq!(ok, "OK");
    }
    lb.wait_healthy(&[node.addr()]);
    let lease: String = redis::cmd("LEASE").query(&mut con).unwrap();
    assert_eq!(lease, node.addr().to_string());
    let nodes: Vec<String> = redis::cmd("NODES").query(&mut con).unwrap();
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert!(
        nodes[0].starts_with(&format!("{} healthy cores=2", node.addr())),
        "{nodes:?}"
    );
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert!(info.contains("role:lb\r\n"), "{info}");
    assert!(info.contains("nodes_healthy:1\r\n"), "{info}");
    let json: String = redis::cmd("METRICS").query(&mut con).unwrap();
    let m: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(m["registrations"], 2);
    assert_eq!(m["nodes_registered"], 1);
    let err = redis::cmd("FLUSHALL")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("unknown command"), "{err}");
    let err = redis::cmd("REGISTER")
        .arg("nohost")
        .arg(2)
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("HOST:PORT"), "{err}");
}

#[test]
fn bad_flags_name_the_flag() {
    for (args, flag) in [
        (&["lb", "--health-timeout", "5s"][..], "--health-timeout"),
        (&["lb", "--policy", "random"], "--policy"),
        (&["lb", "--health-interval", "soon"], "--health-interval"),
        (&["node", "--lb", "nohost"], "--lb"),
        (
            &["node", "--lb", "127.0.0.1:1", "--advertise", "x:0"],
            "--advertise",
        ),
        (&["node", "--advertise", "10.0.0.1:7000"], "--lb"),
    ] {
        let out = run_cachectl(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}
