//! Blocking list commands on a two-core node with clients on both cores:
//! a waiter on one core woken by a push on the other, FIFO order among
//! three waiters, timeouts (fractional, RESP2 and RESP3), a waiter that
//! disconnects leaving nothing behind, BLMOVE between keys of different
//! cores, BLMPOP, and no blocking inside MULTI.
//!
//! A connection's core is its CLIENT ID modulo the core count; a key's is
//! `keys_on_shard`'s. The order of waiters is made certain by waiting, after
//! each BLPOP is sent, until INFO counts one more blocked client.

mod common;

use common::{keys_on_shard, poll_until, Node, RespConn, POLL_TIMEOUT};
use std::time::{Duration, Instant};

/// A RESP2 connection accepted by core `core` of the two-core node.
fn client_on(node: &Node, core: u64) -> RespConn {
    for _ in 0..200 {
        let mut c = node.resp();
        let id: u64 = c
            .cmd("CLIENT ID")
            .trim_start_matches(':')
            .trim_end()
            .parse()
            .expect("CLIENT ID is an integer");
        if id % 2 == core {
            return c;
        }
    }
    panic!("no connection landed on core {core} in 200 tries");
}

/// INFO's `blocked_clients`.
fn blocked(c: &mut RespConn) -> u64 {
    let info = c.cmd("INFO clients");
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

/// Wait until `n` clients are blocked.
fn until_blocked(c: &mut RespConn, n: u64) {
    poll_until(POLL_TIMEOUT, &format!("{n} blocked clients"), || {
        let b = blocked(c);
        if b == n {
            Ok(())
        } else {
            Err(format!("{b} blocked"))
        }
    });
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn pair(a: &str, b: &str) -> String {
    format!("*2\r\n{}{}", bulk(a), bulk(b))
}

#[test]
fn a_waiter_is_woken_by_a_push_on_another_core() {
    let node = Node::start(&[]);
    for (waiter_core, key_core) in [(0, 1), (1, 0), (0, 0)] {
        let key = &keys_on_shard(&format!("wake{waiter_core}{key_core}"), key_core, 2, 1)[0];
        let mut waiter = client_on(&node, waiter_core);
        let mut pusher = client_on(&node, 1 - waiter_core);
        waiter.send(format!("BLPOP nokey {key} 0\r\n").as_bytes());
        until_blocked(&mut pusher, 1);
        assert_eq!(pusher.cmd(&format!("RPUSH {key} v1 v2")), ":2\r\n");
        let got = String::from_utf8(waiter.read_reply()).unwrap();
        assert_eq!(got, pair(key, "v1"));
        // The waiter took exactly one; nobody is left blocked.
        assert_eq!(
            pusher.cmd(&format!("LRANGE {key} 0 -1")),
            "*1\r\n$2\r\nv2\r\n"
        );
        until_blocked(&mut pusher, 0);
        // The connection goes on serving after it was blocked.
        assert_eq!(waiter.cmd("PING"), "+PONG\r\n");
        pusher.cmd(&format!("DEL {key}"));
    }
}

#[test]
fn three_waiters_are_served_in_arrival_order() {
    let node = Node::start(&[]);
    let key = &keys_on_shard("fifo", 1, 2, 1)[0];
    let mut admin = node.resp();
    let mut waiters: Vec<RespConn> = Vec::new();
    for (i, core) in [0u64, 1, 0].into_iter().enumerate() {
        let mut w = client_on(&node, core);
        w.send(format!("BRPOP {key} 0\r\n").as_bytes());
        until_blocked(&mut admin, i as u64 + 1);
        waiters.push(w);
    }
    // One push of three: RPUSH appends a, b, c; BRPOP takes from the
    // right, so the oldest waiter gets c, then b, then a.
    assert_eq!(admin.cmd(&format!("RPUSH {key} a b c")), ":3\r\n");
    let want = ["c", "b", "a"];
    for (w, item) in waiters.iter_mut().zip(want) {
        assert_eq!(String::from_utf8(w.read_reply()).unwrap(), pair(key, item));
    }
    assert_eq!(admin.cmd(&format!("EXISTS {key}")), ":0\r\n");
    until_blocked(&mut admin, 0);
}

#[test]
fn timeouts_answer_the_null_array() {
    let node = Node::start(&[]);
    let mut c = node.resp();
    let t = Instant::now();
    assert_eq!(c.cmd("BLPOP nokey 0.3"), "*-1\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    // BLMOVE times out with the null array too, as in Redis.
    assert_eq!(c.cmd("BLMOVE a{t} b{t} LEFT RIGHT 0.1"), "*-1\r\n");
    assert_eq!(c.cmd("BLMPOP 0.1 2 x y LEFT"), "*-1\r\n");
    c.cmd("HELLO 3");
    assert_eq!(c.cmd("BRPOP nokey 0.1"), "_\r\n");
    let mut admin = node.resp();
    assert_eq!(blocked(&mut admin), 0);
    // Bad timeouts are refused before anything blocks.
    assert_eq!(c.cmd("BLPOP k -1"), "-ERR timeout is negative\r\n");
    assert_eq!(
        c.cmd("BLPOP k x"),
        "-ERR timeout is not a float or out of range\r\n"
    );
}

#[test]
fn a_waiter_that_disconnects_takes_nothing_and_leaves_no_trace() {
    let node = Node::start(&[]);
    let key = &keys_on_shard("gone", 0, 2, 1)[0];
    let mut admin = client_on(&node, 1);
    {
        let mut w = client_on(&node, 1);
        w.send(format!("BLPOP {key} 0\r\n").as_bytes());
        until_blocked(&mut admin, 1);
        drop(w);
    }
    until_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&format!("RPUSH {key} v")), ":1\r\n");
    // Nothing took it.
    assert_eq!(admin.cmd(&format!("LLEN {key}")), ":1\r\n");
    // A later waiter is served at once from it.
    let mut w = client_on(&node, 0);
    assert_eq!(w.cmd(&format!("BLPOP {key} 0")), pair(key, "v"));
}

#[test]
fn blmove_between_cores_moves_atomically_once_woken() {
    let node = Node::start(&[]);
    let src = &keys_on_shard("src", 0, 2, 1)[0];
    let dst = &keys_on_shard("dst", 1, 2, 1)[0];
    let mut admin = node.resp();
    let mut w = client_on(&node, 1);
    w.send(format!("BLMOVE {src} {dst} LEFT RIGHT 0\r\n").as_bytes());
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&format!("RPUSH {dst} old")), ":1\r\n");
    assert_eq!(admin.cmd(&format!("LPUSH {src} x")), ":1\r\n");
    assert_eq!(String::from_utf8(w.read_reply()).unwrap(), bulk("x"));
    assert_eq!(
        admin.cmd(&format!("LRANGE {dst} 0 -1")),
        "*2\r\n$3\r\nold\r\n$1\r\nx\r\n"
    );
    assert_eq!(admin.cmd(&format!("EXISTS {src}")), ":0\r\n");
    // BLMPOP woken by a push takes up to COUNT.
    let mut w = client_on(&node, 0);
    w.send(format!("BLMPOP 0 2 nokey {src} RIGHT COUNT 5\r\n").as_bytes());
    until_blocked(&mut admin, 1);
    admin.cmd(&format!("RPUSH {src} 1 2 3"));
    assert_eq!(
        String::from_utf8(w.read_reply()).unwrap(),
        format!("*2\r\n{}*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n", bulk(src))
    );
}

#[test]
fn a_key_of_another_type_does_not_unblock_a_waiter() {
    let node = Node::start(&[]);
    let key = &keys_on_shard("typed", 1, 2, 1)[0];
    let mut admin = node.resp();
    let mut w = client_on(&node, 0);
    w.send(format!("BLPOP {key} 0\r\n").as_bytes());
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&format!("SET {key} s")), "+OK\r\n");
    admin.cmd(&format!("DEL {key}"));
    // Still blocked, as in Redis (a string never wakes a list waiter).
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(blocked(&mut admin), 1);
    admin.cmd(&format!("RPUSH {key} v"));
    assert_eq!(String::from_utf8(w.read_reply()).unwrap(), pair(key, "v"));
}

#[test]
fn inside_multi_nothing_blocks() {
    let node = Node::start(&[]);
    let mut c = node.resp();
    assert_eq!(c.cmd("MULTI"), "+OK\r\n");
    assert_eq!(c.cmd("BLPOP nokey 0"), "+QUEUED\r\n");
    assert_eq!(c.cmd("BLMOVE a{m} b{m} LEFT LEFT 0"), "+QUEUED\r\n");
    assert_eq!(c.cmd("BLMPOP 0 1 nokey LEFT"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*3\r\n*-1\r\n$-1\r\n*-1\r\n");
}

#[test]
fn a_sorted_set_waiter_is_woken_across_cores() {
    let node = Node::start(&[]);
    let key = &keys_on_shard("z", 1, 2, 1)[0];
    let mut admin = client_on(&node, 1);
    let mut w = client_on(&node, 0);
    w.send(format!("BZPOPMIN {key} 0\r\n").as_bytes());
    until_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&format!("ZADD {key} 2 b 1 a")), ":2\r\n");
    assert_eq!(
        String::from_utf8(w.read_reply()).unwrap(),
        format!("*3\r\n{}{}{}", bulk(key), bulk("a"), bulk("1"))
    );
    let mut w = client_on(&node, 1);
    w.send(b"BZMPOP 0.1 1 nokey MAX\r\n");
    assert_eq!(String::from_utf8(w.read_reply()).unwrap(), "*-1\r\n");
    assert_eq!(admin.cmd(&format!("ZCARD {key}")), ":1\r\n");
}
