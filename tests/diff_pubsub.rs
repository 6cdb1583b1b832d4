//! Differential tests of pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE,
//! PUNSUBSCRIBE, PUBLISH and PUBSUB against redis-server 7.0.15, byte for
//! byte: confirmations and errors on one connection in RESP2 and RESP3,
//! then messages and counts between several connections.
//!
//! The shared harness marks the end of each request with an ECHO, which a
//! subscribed RESP2 connection may not run: so in RESP2 every request here
//! ends unsubscribed (a `block` that subscribes, does its part and
//! unsubscribes). Channel names differ per script, since the node-wide
//! PUBSUB answers would otherwise see a previous script's connection that
//! is still closing.

mod common;

use common::diff::{block, c, closes, compare, unchecked, Req};
use common::{connect, encode, words, Node, RedisServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

fn resp2_confirmations() -> Vec<Req> {
    vec![
        // Not subscribed to anything.
        c("UNSUBSCRIBE"),
        c("PUNSUBSCRIBE"),
        c("UNSUBSCRIBE r1 r2"),
        c("PUNSUBSCRIBE r*"),
        c("SUBSCRIBE"),
        c("PSUBSCRIBE"),
        // A channel twice counts once; unsubscribing from one never
        // subscribed answers the count as it stands.
        block(&[
            "SUBSCRIBE r1 r2 r1",
            "UNSUBSCRIBE r2 nope",
            "UNSUBSCRIBE r1",
        ]),
        // Patterns are answered in subscription order.
        block(&["PSUBSCRIBE rp* rq? rp*", "PUNSUBSCRIBE"]),
        block(&[
            "SUBSCRIBE r3",
            "PSUBSCRIBE rp*",
            "UNSUBSCRIBE",
            "UNSUBSCRIBE",
            "PUNSUBSCRIBE",
            "PUNSUBSCRIBE",
        ]),
        block(&[
            "SUBSCRIBE r4",
            "PSUBSCRIBE r4",
            "PUNSUBSCRIBE r4",
            "UNSUBSCRIBE r4",
        ]),
        c("PUBLISH r-nobody x"),
        c("PUBLISH r1"),
        c("PUBLISH r1 a b"),
    ]
}

/// What a subscribed RESP2 connection may not run, in Redis's order of
/// checks: unknown commands and arity first, then the subscribed context.
fn resp2_context() -> Vec<Req> {
    vec![
        block(&[
            "SUBSCRIBE s1",
            "GET k",
            "SET k v",
            "ECHO x",
            "MULTI",
            "PUBLISH s1 x",
            "PUBSUB NUMSUB s1",
            "PUBSUB HELP",
            "CLIENT ID",
            "HELLO 3",
            "DBSIZE",
            "FOO bar",
            "GET",
            "PING",
            "PING hi",
            "PING a b",
            "UNSUBSCRIBE",
            // No longer subscribed: back to normal.
            "PING",
            "PING hi",
        ]),
        block(&["PSUBSCRIBE s*", "GET k", "PING", "PUNSUBSCRIBE", "GET k"]),
        // Inline commands are the same commands.
        Req::Reply(b"SUBSCRIBE s2\r\nGET k\r\nPING\r\nUNSUBSCRIBE\r\n".to_vec()),
        // QUIT is allowed, and closes.
        closes(&[encode(&words("SUBSCRIBE s3")), encode(&words("QUIT"))].concat()),
    ]
}

fn pubsub_subcommands() -> Vec<Req> {
    vec![
        c("PUBSUB"),
        c("PUBSUB FOO"),
        c("PUBSUB NUMPAT x"),
        c("PUBSUB CHANNELS a b"),
        c("PUBSUB channels a b"),
        c("PUBSUB NUMSUB"),
        c("PUBSUB NUMSUB p-none1 p-none2"),
        c("PUBSUB CHANNELS p-none*"),
        block(&["SUBSCRIBE p1", "UNSUBSCRIBE"]),
        c("PUBSUB NUMSUB p1"),
        // Inside a transaction, in order with its writes.
        block(&[
            "MULTI",
            "SET p-tx 1",
            "PUBLISH p-none x",
            "PUBSUB NUMSUB p-none",
            "PUBSUB NUMPAT",
            "PUBSUB CHANNELS p-none*",
            "CLIENT KILL ID 999999",
            "CLIENT KILL 1.2.3.4:5",
            "GET p-tx",
            "EXEC",
        ]),
    ]
}

/// RESP3: confirmations are pushes, anything may run while subscribed, and
/// a connection's own message comes before PUBLISH's count.
fn resp3() -> Vec<Req> {
    vec![
        unchecked("HELLO 3"),
        c("UNSUBSCRIBE"),
        c("SUBSCRIBE t1 t2"),
        c("PSUBSCRIBE t*"),
        c("PUBLISH t1 hi"),
        c("PUBLISH t3 x"),
        c("PUBLISH u x"),
        c("PING"),
        c("PING hi"),
        c("GET k"),
        c("SET k v"),
        c("PUBSUB NUMSUB t1 t2 t3"),
        c("PUBSUB CHANNELS t1*"),
        c("UNSUBSCRIBE t1"),
        c("PUNSUBSCRIBE"),
        c("PUBLISH t1 nobody"),
        c("UNSUBSCRIBE"),
        c("UNSUBSCRIBE"),
        c("PSUBSCRIBE t? t?"),
        c("PUBLISH t9 once"),
        c("PUNSUBSCRIBE t? never"),
    ]
}

#[test]
fn subscribe_and_unsubscribe_confirmations_match_redis() {
    compare(&[
        ("resp2 confirmations", resp2_confirmations()),
        ("resp2 context", resp2_context()),
        ("pubsub subcommands", pubsub_subcommands()),
        ("resp3", resp3()),
    ]);
}

/// Marks the end of what a connection was sent: `PING <MARK>` answers
/// with the mark as a bulk string, alone or (subscribed, RESP2) as the
/// end of `["pong", mark]`.
const MARK: &str = "--end-of-step--";

/// One step of a script over several connections.
struct Step {
    /// Which connection sends.
    conn: usize,
    /// What it sends, space-separated.
    cmd: &'static str,
    /// Whether the sender's reply is compared (HELLO's names the client id).
    checked: bool,
}

fn on(conn: usize, cmd: &'static str) -> Step {
    Step {
        conn,
        cmd,
        checked: true,
    }
}

/// Read from `s` up to the answer to `PING MARK`, which is stripped.
fn read_to_mark(s: &mut TcpStream) -> Vec<u8> {
    let bulk = format!("${}\r\n{MARK}\r\n", MARK.len()).into_bytes();
    let pong = [&b"*2\r\n$4\r\npong\r\n"[..], &bulk].concat();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    while !buf.ends_with(&bulk) {
        let n = s.read(&mut chunk).expect("read to the mark");
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    let cut = if buf.ends_with(&pong) {
        pong.len()
    } else {
        bulk.len()
    };
    buf.truncate(buf.len() - cut);
    buf
}

/// Run `steps` over `n` connections to `addr`: after each, what every
/// connection received (the sender first, so whatever its command caused
/// has happened before the others are read).
fn run_conns(addr: SocketAddr, n: usize, steps: &[Step]) -> Vec<Vec<Vec<u8>>> {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| connect(addr)).collect();
    let mark = encode(&[b"PING", MARK.as_bytes()]);
    let mut got = Vec::new();
    for step in steps {
        let mut seen = vec![Vec::new(); n];
        let order = std::iter::once(step.conn).chain((0..n).filter(|&i| i != step.conn));
        for i in order {
            let s = &mut conns[i];
            if i == step.conn {
                s.write_all(&encode(&words(step.cmd))).unwrap();
            }
            s.write_all(&mark).unwrap();
            let bytes = read_to_mark(s);
            seen[i] = if i == step.conn && !step.checked {
                Vec::new()
            } else {
                bytes
            };
        }
        got.push(seen);
    }
    got
}

/// Messages and counts between connections: two subscribers (one by
/// channel, one by pattern, later one in RESP3) and a publisher. No
/// connection has two patterns that match one message: Redis sends those
/// copies in its dictionary's order, which changes from run to run.
#[test]
fn messages_and_counts_between_connections_match_redis() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let (a, b, p, r3) = (0, 1, 2, 3);
    let steps = [
        on(a, "SUBSCRIBE news other"),
        on(b, "PSUBSCRIBE n* o?her"),
        on(p, "PUBLISH news hello"),
        on(p, "PUBLISH nope x"),
        on(p, "PUBLISH other x"),
        on(p, "PUBSUB NUMSUB news other none"),
        on(p, "PUBSUB NUMPAT"),
        on(p, "PUBSUB CHANNELS o*"),
        on(a, "UNSUBSCRIBE news"),
        on(p, "PUBLISH news again"),
        on(b, "PUNSUBSCRIBE n*"),
        on(p, "PUBLISH news third"),
        on(a, "SUBSCRIBE news"),
        on(p, "PUBLISH other y"),
        Step {
            conn: r3,
            cmd: "HELLO 3",
            checked: false,
        },
        on(r3, "SUBSCRIBE news"),
        on(r3, "PSUBSCRIBE o*"),
        on(p, "PUBLISH news pushed"),
        on(p, "PUBLISH other both"),
        on(r3, "PUBLISH news from-resp3"),
        on(p, "PUBSUB NUMSUB news"),
        on(a, "UNSUBSCRIBE other"),
        // One channel left: UNSUBSCRIBE alone would answer several in the
        // order of Redis's dictionary.
        on(a, "UNSUBSCRIBE"),
        on(p, "PUBLISH other last"),
    ];
    let want = run_conns(redis.addr(), 4, &steps);
    let got = run_conns(node.addr(), 4, &steps);
    // The harness reads what it should: redis counted two receivers, one
    // by channel and one by pattern.
    assert_eq!(want[2][p], b":2\r\n");
    assert!(want[2][a].starts_with(b"*3\r\n$7\r\nmessage\r\n$4\r\nnews"));
    assert!(want[2][b].starts_with(b"*4\r\n$8\r\npmessage\r\n$2\r\nn*"));
    let mut diffs = Vec::new();
    for ((step, w), g) in steps.iter().zip(&want).zip(&got) {
        for (i, (w, g)) in w.iter().zip(g).enumerate() {
            if w != g {
                diffs.push(format!(
                    "after {} on {}: connection {i}\n    redis: {:?}\n    node:  {:?}",
                    step.cmd,
                    step.conn,
                    String::from_utf8_lossy(w),
                    String::from_utf8_lossy(g)
                ));
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
