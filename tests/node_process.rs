//! `cachectl node` as a process: the client limit, clean shutdown on
//! SIGTERM/SIGINT (a drain that answers every request already sent), and
//! flag errors that name the flag.

mod common;

use common::{
    connect, encode, keys_on_shard, poll_until, run_cachectl, Closed, Node, RespConn, POLL_TIMEOUT,
    STOP_TIMEOUT,
};
use std::io::Write;
use std::net::TcpListener;
use std::thread;

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

/// A bulk-string reply.
fn bulk(v: &[u8]) -> Vec<u8> {
    let mut r = format!("${}\r\n", v.len()).into_bytes();
    r.extend_from_slice(v);
    r.extend_from_slice(b"\r\n");
    r
}

/// Connections in the drain tests, and SET/GET/GET triples on each.
const DRAIN_CONNS: usize = 5;
const DRAIN_TRIPLES: usize = 1800;

/// The batch of connection `c`: `SET w<c>-<j> <value>`, `GET` of a big
/// value, `GET w<c>-<j>` (which must see the SET), `DRAIN_TRIPLES` times.
/// Returns (requests, the replies they must get).
fn drain_batch(c: usize, bigs: &[(String, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let (mut req, mut want) = (Vec::new(), Vec::new());
    for j in 0..DRAIN_TRIPLES {
        let (k, v) = (format!("w{c}-{j}"), format!("value-{c}-{j}"));
        let (big, big_value) = &bigs[(j * 7 + c) % bigs.len()];
        req.extend(encode(&[b"SET", k.as_bytes(), v.as_bytes()]));
        req.extend(encode(&[b"GET", big.as_bytes()]));
        req.extend(encode(&[b"GET", k.as_bytes()]));
        want.extend_from_slice(b"+OK\r\n");
        want.extend(bulk(big_value));
        want.extend(bulk(v.as_bytes()));
    }
    (req, want)
}

/// 4 KiB values on both cores: their replies overflow the socket buffers,
/// so a server is still answering a batch when the signal comes.
fn big_values() -> Vec<(String, Vec<u8>)> {
    keys_on_shard("big", 0, 2, 16)
        .into_iter()
        .chain(keys_on_shard("big", 1, 2, 16))
        .enumerate()
        .map(|(i, k)| (k, vec![b'a' + (i % 26) as u8; 4096]))
        .collect()
}

/// The drain contract: on SIGTERM the node refuses new connections at once,
/// answers every request its open connections have already sent — also
/// those it has not read yet — delivers every reply, and exits 0. Redis
/// only finishes the command it is running and then closes its clients, so
/// a pipeline in flight loses its replies there.
///
/// Five connections each pipeline 5,400 requests (27,000 in all: SETs,
/// GETs of 4 KiB values and GETs that must see the SET before them, on
/// keys of both cores, so cross-core hops are in flight). Every byte of
/// them has reached the node when SIGTERM arrives, while most of the 35 MB
/// of replies are still unsent: the client has read one reply.
#[test]
fn sigterm_answers_every_pipelined_request_already_sent() {
    let mut node = Node::start(&[]);
    let bigs = big_values();
    let mut pre = node.resp();
    for (k, v) in &bigs {
        pre.send(&encode(&[b"SET", k.as_bytes(), v]));
    }
    for _ in &bigs {
        assert_eq!(pre.read_reply(), b"+OK\r\n");
    }
    let keys: Vec<String> = (0..DRAIN_TRIPLES).map(|j| format!("w0-{j}")).collect();
    let owners: std::collections::HashSet<usize> = keys
        .iter()
        .map(|k| cachectl::ownership::shard_for(k.as_bytes(), 2))
        .collect();
    assert_eq!(owners.len(), 2, "the batch has keys on both cores");
    let addr = node.addr();
    let batches = (0..DRAIN_CONNS).map(|c| drain_batch(c, &bigs)).collect();
    let status = node.proc().sigterm_mid_batch(addr, batches);
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}\n{}",
        node.proc().output_report()
    );
    assert!(
        matches!(pre.read_to_close(), Closed::Yes(ref b) if b.is_empty()),
        "the idle connection is closed without a reply"
    );
}

/// A client that never stops sending cannot hold a stopping node: the node
/// answers what had arrived when SIGTERM came, stops reading, and exits
/// long before its 10 s drain deadline. The replies the client gets are
/// all correct and end at a reply boundary (nothing half-written).
#[test]
fn sigterm_with_a_client_still_sending_stops_at_a_reply_boundary() {
    let mut node = Node::start(&[]);
    let stream = connect(node.addr());
    let mut w = stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        // SET/GET pairs until the node closes the connection.
        for i in 0u64.. {
            let v = i.to_string();
            let mut req = encode(&[b"SET", b"stream", v.as_bytes()]);
            req.extend(encode(&[b"GET", b"stream"]));
            if w.write_all(&req).is_err() {
                return i;
            }
        }
        unreachable!()
    });
    let mut r = RespConn::new(stream);
    let pair = |r: &mut RespConn, i: u64| {
        assert_eq!(r.read_reply(), b"+OK\r\n", "SET {i}");
        assert_eq!(
            String::from_utf8_lossy(&r.read_reply()),
            String::from_utf8_lossy(&bulk(i.to_string().as_bytes())),
            "GET {i}"
        );
    };
    for i in 0..1000 {
        pair(&mut r, i);
    }
    let signalled = std::time::Instant::now();
    node.proc().signal(libc::SIGTERM);
    // EOF, or a reset: the client's unread requests make the close one. The
    // replies before it were acknowledged first, so none of them is lost.
    let rest = match r.read_to_close() {
        Closed::Yes(b) => b,
        Closed::No(b) => panic!("still open after SIGTERM, {} bytes later", b.len()),
    };
    let status = node.proc().wait_timeout(STOP_TIMEOUT).expect("node exits");
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{}", node.proc().output_report());
    assert!(
        took < std::time::Duration::from_secs(8),
        "the node took {took:?} to stop: a client still sending held its drain"
    );
    let pairs_sent = writer.join().expect("writer");
    // The rest are whole replies, each the right one, in order.
    let (mut pos, mut reply) = (0, 2000u64);
    while pos < rest.len() {
        let n = common::reply_len(&rest[pos..]).unwrap_or_else(|| {
            panic!(
                "reply {reply} is cut off: {:?}",
                String::from_utf8_lossy(&rest[pos..])
            )
        });
        let want = if reply % 2 == 0 {
            b"+OK\r\n".to_vec()
        } else {
            bulk((reply / 2).to_string().as_bytes())
        };
        assert_eq!(
            String::from_utf8_lossy(&rest[pos..pos + n]),
            String::from_utf8_lossy(&want),
            "reply {reply}"
        );
        pos += n;
        reply += 1;
    }
    assert!(
        reply / 2 <= pairs_sent,
        "{reply} replies to {pairs_sent} pairs"
    );
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

/// SHUTDOWN stops the node as a signal does: the client that sent it is
/// closed without a reply and the process exits 0; its refused forms
/// answer Redis's errors and stop nothing.
#[test]
fn shutdown_stops_the_node_cleanly() {
    let mut node = Node::start(&[]);
    let mut r = node.redis();
    for (args, want) in [
        (vec!["SHUTDOWN", "ABORT"], "No shutdown in progress."),
        (vec!["SHUTDOWN", "bogus"], "syntax error"),
        (vec!["SHUTDOWN", "SAVE"], "nothing on disk"),
    ] {
        let err = redis::cmd(args[0])
            .arg(&args[1..])
            .query::<()>(&mut r)
            .unwrap_err();
        assert!(err.to_string().contains(want), "{args:?}: {err}");
    }
    let mut conn = admitted(&node);
    conn.send(&common::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(
        matches!(conn.read_to_close(), Closed::Yes(ref b) if b.is_empty()),
        "SHUTDOWN closes its connection without a reply"
    );
    let status = node
        .proc()
        .wait_timeout(std::time::Duration::from_secs(30))
        .unwrap_or_else(|| {
            panic!(
                "still running after SHUTDOWN\n{}",
                node.proc().output_report()
            )
        });
    assert_eq!(status.code(), Some(0), "{}", node.proc().output_report());
}
