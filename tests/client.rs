//! Seed 004's `cachectl client` with real processes: routes, exit codes,
//! retries, leases around a dead node, the prompt.

mod common;

use common::seed::{client, Kid, SLOW};
use common::{connect, free_port, poll_until, LineConn, Node, Proc, CACHECTL};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn client_target_round_trip_and_exit_codes() {
    let node = Node::start(&[]);
    let target = node.addr().to_string();
    let t = ["--target", target.as_str()];
    let run = |extra: &[&str]| client(&[&t[..], extra].concat());

    assert_eq!(
        run(&["--set", "greeting", "hello world"]),
        (0, "OK\n".into(), String::new())
    );
    assert_eq!(
        run(&["--get", "greeting"]),
        (0, "hello world\n".into(), String::new())
    );
    assert_eq!(
        run(&["--del", "greeting"]),
        (0, "(integer) 1\n".into(), String::new())
    );
    assert_eq!(
        run(&["--get", "greeting"]),
        (1, "(nil)\n".into(), String::new())
    );
    assert_eq!(
        run(&["--del", "greeting"]),
        (1, "(integer) 0\n".into(), String::new())
    );

    assert_eq!(run(&["--set", "session", "abc", "--ttl", "100"]).0, 0);
    let ttl: i64 = redis::cmd("TTL")
        .arg("session")
        .query(&mut node.redis())
        .unwrap();
    assert!((1..=100).contains(&ttl), "TTL {ttl}");

    let (code, out, _) = run(&["--metrics"]);
    assert_eq!(code, 0);
    let m: Value = serde_json::from_str(&out).expect("node METRICS is JSON");
    assert!(m.get("keys").is_some(), "{m}");

    // A server error is exit 4, on stderr: this node refuses writes past
    // its memory bound.
    let full = Node::start(&["--maxmemory", "1kb"]);
    let target = full.addr().to_string();
    let big = "x".repeat(4096);
    let (code, out, err) = client(&["--target", &target, "--set", "big", &big]);
    assert_eq!((code, out.as_str()), (4, ""));
    assert!(err.starts_with("(error) OOM"), "{err}");
}

#[test]
fn client_bad_flags_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--get", "a", "--del", "b"][..], "--get"),
        (&["--ttl", "5", "--get", "a"], "--ttl"),
        (
            &["--target", "127.0.0.1:1", "--get", "a", "--timeout", "0"],
            "--timeout",
        ),
        (&["--lb", "nowhere", "--get", "a"], "--lb"),
        (&["--metrics", "--node", "--proxy"], "--node"),
    ] {
        let (code, _, err) = client(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn client_gives_up_with_one_line_and_exit_3() {
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let (code, out, err) = client(&["--target", &addr, "--retries", "2", "--quiet", "--get", "k"]);
    assert_eq!((code, out.as_str()), (3, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("cachectl client: unavailable after 3 attempts: "),
        "{err}"
    );

    // Through an LB that has no nodes: the lease is refused, retried, and
    // the message says why.
    let lb = Proc::cachectl(&["lb", "--port", "0"], "cachectl lb listening on ");
    let lb_addr = common::addr_after(lb.ready_line(), "listening on ")
        .unwrap()
        .to_string();
    let (code, _, err) = client(&["--lb", &lb_addr, "--retries", "1", "--quiet", "--get", "k"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no healthy nodes"), "{err}");
    // Without --quiet, each retry is announced before the final line.
    let (code, _, err) = client(&["--lb", &lb_addr, "--retries", "1", "--get", "k"]);
    assert_eq!(code, 3);
    assert!(err.lines().next().unwrap().contains("retry 1/1"), "{err}");
}

#[test]
fn client_retries_until_a_node_appears() {
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let mut kid = Kid::spawn(&[
        "client",
        "--target",
        &target,
        "--retries",
        "1000",
        "--set",
        "k",
        "late",
    ]);
    // It failed at least once and is backing off...
    kid.wait_stderr("retry 1/1000");
    // ...and a node that shows up on that port gets the write.
    let port_s = port.to_string();
    let node = Node::start(&["--port", &port_s]);
    let (status, out) = kid.finish();
    assert_eq!((status.code(), out.as_str()), (Some(0), "OK\n"));
    let v: String = redis::cmd("GET").arg("k").query(&mut node.redis()).unwrap();
    assert_eq!(v, "late");
}

#[test]
fn client_leases_and_routes_around_a_dead_node() {
    // Probes are rare, and the nodes register one-shot (no liveness link),
    // so the LB keeps leasing a node after it died: the client must notice
    // and take another lease.
    let lb = Proc::cachectl(
        &[
            "lb",
            "--port",
            "0",
            "--health-interval",
            "60s",
            "--health-timeout",
            "5s",
        ],
        "cachectl lb listening on ",
    );
    let lb_sock = common::addr_after(lb.ready_line(), "listening on ").unwrap();
    let lb_addr = lb_sock.to_string();
    let mut dead = Node::start(&[]);
    let live = Node::start(&[]);
    for n in [&dead, &live] {
        let reg = format!("REGISTER:{}", n.addr());
        assert_eq!(
            LineConn::new(connect(lb_sock)).request(reg.as_bytes()),
            "OK"
        );
    }
    poll_until(SLOW, "both nodes leasable", || {
        let m = client(&["--lb", &lb_addr, "--metrics", "--quiet"]);
        let m: Value = serde_json::from_str(&m.1).map_err(|e| e.to_string())?;
        (m["nodes_healthy"] == 2).then_some(()).ok_or(m.to_string())
    });
    dead.proc().kill();
    // Round-robin hands out the dead node every other lease; every write
    // still lands, on the live node, and some took a retry to get there.
    let mut retried = 0;
    for i in 0..4 {
        let key = format!("after{i}");
        let (code, out, err) = client(&["--lb", &lb_addr, "--set", &key, "v"]);
        assert_eq!((code, out.as_str()), (0, "OK\n"), "{err}");
        retried += usize::from(err.contains("retry 1/"));
    }
    assert!(retried > 0, "no client was leased the dead node");
    let mut conn = live.redis();
    for i in 0..4 {
        let key = format!("after{i}");
        let v: Option<String> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
        assert_eq!(v.as_deref(), Some("v"), "{key} is on the live node");
    }
}

#[test]
fn client_prompt_reads_commands_from_stdin() {
    let node = Node::start(&[]);
    let mut child = Command::new(CACHECTL)
        .args(["client", "--target", &node.addr().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script =
        "set a \"b c\"\nget a\n\nGET missing\ndel a\nbogus\nset k\nping\nmetrics\nquit\nget a\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "OK",
            "b c",
            "(nil)",
            "(integer) 1",
            "(error) unknown command 'bogus' (try help)",
            "(error) usage: set KEY VALUE [TTL]",
            "PONG",
        ],
        "{stdout}"
    );
    let m: Value = serde_json::from_str(lines[7]).expect("metrics line is JSON");
    assert!(m.get("keys").is_some());
    assert_eq!(lines.len(), 8, "nothing after quit: {stdout}");
}
