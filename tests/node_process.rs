//! `cachectl node` as a process: the client limit, clean shutdown on
//! SIGTERM/SIGINT, and flag errors that name the flag.

mod common;

use common::{poll_until, run_cachectl, Closed, Node, RespConn, POLL_TIMEOUT};
use std::net::TcpListener;

const MAX_CLIENTS: &[u8] = b"-ERR max number of clients reached\r\n";

/// A new client that got in: it answers PING.
fn admitted(node: &Node) -> RespConn {
    let mut c = node.resp();
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
    c
}

#[test]
fn maxclients_refuses_the_extra_client_and_recovers() {
    let mut node = Node::start(&["--maxclients", "3"]);
    let mut held: Vec<RespConn> = (0..3).map(|_| admitted(&node)).collect();

    // The fourth gets Redis's error, unprompted, and is closed.
    let mut fourth = node.resp();
    assert_eq!(fourth.read_to_close(), Closed::Yes(MAX_CLIENTS.to_vec()));
    // Also when it speaks first.
    let mut fifth = node.resp();
    fifth.send(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(fifth.read_to_close(), Closed::Yes(MAX_CLIENTS.to_vec()));
    node.assert_running();
    for c in &mut held {
        assert_eq!(c.cmd("PING"), "+PONG\r\n", "admitted clients keep working");
    }

    // Closing one frees a place (the node notices the close asynchronously).
    drop(held.pop());
    let mut replacement = poll_until(POLL_TIMEOUT, "a freed client slot", || {
        let mut c = node.resp();
        c.send(b"*1\r\n$4\r\nPING\r\n");
        let reply = c.read_reply();
        if reply == b"+PONG\r\n" {
            Ok(c)
        } else {
            assert_eq!(reply, MAX_CLIENTS, "only a refusal is acceptable");
            Err("still full".into())
        }
    });
    assert_eq!(replacement.cmd("SET k v"), "+OK\r\n");
    assert_eq!(held[0].cmd("GET k"), "$1\r\nv\r\n");
    let info = String::from_utf8(held[1].call(&[b"INFO", b"stats"])).unwrap();
    let rejected: u64 = info
        .split("\r\n")
        .find_map(|l| l.strip_prefix("rejected_connections:"))
        .expect("rejected_connections in INFO")
        .parse()
        .unwrap();
    assert!(rejected >= 2, "rejected_connections:{rejected}");
    let maxclients = String::from_utf8(held[0].call(&[b"CONFIG", b"GET", b"maxclients"]));
    assert_eq!(
        maxclients.unwrap(),
        "*2\r\n$10\r\nmaxclients\r\n$1\r\n3\r\n"
    );
    node.assert_running();
}

/// Start a node with an idle client, stop it with `sig`, expect exit 0 and
/// the client disconnected.
fn stops_cleanly_on(sig: libc::c_int) {
    let mut node = Node::start(&[]);
    let mut idle = admitted(&node);
    let mut r = node.redis();
    redis::cmd("SET").arg("k").arg("v").exec(&mut r).unwrap();
    let status = node.proc().stop_with(sig);
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after signal {sig}: {status:?}\n{}",
        node.proc().output_report()
    );
    assert!(
        matches!(idle.read_to_close(), Closed::Yes(ref b) if b.is_empty()),
        "the idle client is disconnected without a reply"
    );
}

#[test]
fn sigterm_with_an_idle_client_exits_zero() {
    stops_cleanly_on(libc::SIGTERM);
}

#[test]
fn sigint_with_an_idle_client_exits_zero() {
    stops_cleanly_on(libc::SIGINT);
}

/// Nodes started while others start, serve and stop must all serve. Found by
/// running the suite under load: about 1 in 100 starts printed its ready line
/// and then never answered (nor exited on SIGTERM) — both executors asleep in
/// `io_uring_enter` with nothing armed, woken only by a ptrace attach: a lost
/// wake-up, most likely in the glommio channel-mesh join at startup. Six
/// threads each run start → PING ×4 → SIGTERM in a loop, as the reproduction
/// outside the harness did.
#[test]
fn nodes_started_under_churn_all_serve() {
    let workers: Vec<_> = (0..6)
        .map(|w| {
            // Each node is started and dropped by this thread, which outlives
            // it, so PR_SET_PDEATHSIG stays correct.
            std::thread::spawn(move || {
                for round in 0..60 {
                    let mut node = Node::start(&[]);
                    for _ in 0..4 {
                        let mut c = node.resp();
                        c.send(b"*1\r\n$4\r\nPING\r\n");
                        let mut buf = [0u8; 7];
                        let got = std::io::Read::read_exact(&mut c.stream, &mut buf);
                        assert!(
                            got.is_ok() && &buf == b"+PONG\r\n",
                            "worker {w} round {round} (pid {}): no PONG: {got:?}",
                            node.pid()
                        );
                    }
                    assert_eq!(node.stop().code(), Some(0));
                }
            })
        })
        .collect();
    let failed: Vec<_> = workers
        .into_iter()
        .map(|w| w.join())
        .filter(Result::is_err)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 6 workers saw a node hang",
        failed.len()
    );
}

/// Run `cachectl <args>`, expect failure, and return stderr.
fn fails(args: &[&str]) -> String {
    let out = run_cachectl(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "`cachectl {}` should fail; stdout {:?}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.status.code().is_some(),
        "exited, not killed: {:?}",
        out.status
    );
    stderr
}

#[test]
fn bad_flags_name_the_flag() {
    for (args, flag) in [
        (&["node", "--port", "notanumber"][..], "--port"),
        (&["node", "--port", "70000"], "--port"),
        (&["node", "--port", "0", "--cores", "0"], "--cores"),
        (&["node", "--port", "0", "--cores", "x"], "--cores"),
        (
            &["node", "--port", "0", "--maxclients", "many"],
            "--maxclients",
        ),
        (&["node", "--port", "0", "--maxclients=-3"], "--maxclients"),
        (&["node", "--port", "0", "--max-bulk", "big"], "--max-bulk"),
        (&["node", "--port", "0", "--bind", "not-an-ip"], "--bind"),
        (
            &["node", "--port", "0", "--maxmemory", "lots"],
            "--maxmemory",
        ),
        (
            &["node", "--port", "0", "--cache-type", "fifo"],
            "--cache-type",
        ),
        (&["node", "--bogus-flag"], "--bogus-flag"),
    ] {
        let stderr = fails(args);
        assert!(
            stderr.contains(flag),
            "`cachectl {}`: stderr does not name {flag}:\n{stderr}",
            args.join(" ")
        );
    }
}

#[test]
fn a_port_in_use_is_an_error_naming_the_port() {
    // A plain std listener (no SO_REUSEPORT) blocks the node's bind.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let stderr = fails(&["node", "--port", &port, "--cores", "2"]);
    assert!(stderr.contains("--port"), "{stderr}");
    assert!(stderr.contains(&port), "{stderr}");
}

#[test]
fn help_lists_the_flags() {
    let out = run_cachectl(&["node", "--help"]);
    assert!(out.status.success(), "{:?}", out.status);
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--bind",
        "--cores",
        "--maxclients",
        "--backlog",
        "--max-bulk",
        "--max-args",
        "--max-inline",
        "--cache-type",
        "--maxmemory",
    ] {
        assert!(help.contains(flag), "`node --help` lacks {flag}:\n{help}");
    }
    let top = run_cachectl(&["--help"]);
    assert!(top.status.success());
    assert!(String::from_utf8_lossy(&top.stdout).contains("node"));
}
