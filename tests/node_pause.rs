//! CLIENT PAUSE on a two-core node: what a pause holds, on either core,
//! and that held commands run, in order, once it ends. Nothing here times
//! anything: pauses are long and ended by CLIENT UNPAUSE, or short and
//! only awaited.

mod common;

use common::{encode, keys_on_shard, words, Node, RespConn};
use std::io::{ErrorKind, Read};

/// The pipelined requests, RESP-encoded back to back.
fn pipeline(cmds: &[&str]) -> Vec<u8> {
    cmds.iter().flat_map(|c| encode(&words(c))).collect()
}

/// True if `conn` has no reply waiting (without waiting for one).
fn nothing_yet(conn: &mut RespConn) -> bool {
    conn.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let idle = matches!(conn.stream.read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    conn.stream.set_nonblocking(false).unwrap();
    idle
}

#[test]
fn write_pause_holds_writes_on_both_cores_until_unpause() {
    let node = Node::start(&[]);
    let a = &keys_on_shard("p", 0, 2, 1)[0];
    let x = &keys_on_shard("p", 1, 2, 1)[0];
    let mut admin = node.resp();
    assert_eq!(admin.cmd(&format!("MSET {a} old {x} old")), "+OK\r\n");
    assert_eq!(admin.cmd("CLIENT PAUSE 100000 WRITE"), "+OK\r\n");

    // Each writer's PING is answered before its held SET, which waits.
    let mut writers: Vec<RespConn> = [a, x]
        .iter()
        .map(|k| {
            let mut w = node.resp();
            w.send(&pipeline(&[
                "PING",
                &format!("SET {k} new"),
                &format!("GET {k}"),
            ]));
            assert_eq!(w.read_reply(), b"+PONG\r\n");
            w
        })
        .collect();

    // Reads, and a transaction of reads, run during the pause and see the
    // old values; nothing the writers sent has run.
    let mut reader = node.resp();
    for _ in 0..50 {
        assert_eq!(
            reader.cmd(&format!("MGET {a} {x}")),
            "*2\r\n$3\r\nold\r\n$3\r\nold\r\n"
        );
    }
    reader.send(&pipeline(&["MULTI", &format!("GET {x}"), "EXEC"]));
    assert_eq!(reader.read_reply(), b"+OK\r\n");
    assert_eq!(reader.read_reply(), b"+QUEUED\r\n");
    assert_eq!(reader.read_reply(), b"*1\r\n$3\r\nold\r\n");
    for w in &mut writers {
        assert!(nothing_yet(w), "a held SET answered during the pause");
    }

    assert_eq!(admin.cmd("CLIENT UNPAUSE"), "+OK\r\n");
    for w in &mut writers {
        assert_eq!(w.read_reply(), b"+OK\r\n");
        assert_eq!(w.read_reply(), b"$3\r\nnew\r\n");
    }
    assert_eq!(
        reader.cmd(&format!("MGET {a} {x}")),
        "*2\r\n$3\r\nnew\r\n$3\r\nnew\r\n"
    );
}

#[test]
fn write_pause_holds_a_queued_write_and_its_exec() {
    let node = Node::start(&[]);
    let mut admin = node.resp();
    let mut tx = node.resp();
    assert_eq!(tx.cmd("MULTI"), "+OK\r\n");
    assert_eq!(tx.cmd("INCR n"), "+QUEUED\r\n");
    assert_eq!(admin.cmd("CLIENT PAUSE 100000 WRITE"), "+OK\r\n");
    // EXEC of a queued write waits, and so does a write being queued.
    tx.send(&pipeline(&["EXEC", "MULTI", "INCR n", "EXEC"]));
    for _ in 0..20 {
        assert_eq!(admin.cmd("GET n"), "$-1\r\n");
    }
    assert!(nothing_yet(&mut tx));
    assert_eq!(admin.cmd("CLIENT UNPAUSE"), "+OK\r\n");
    assert_eq!(tx.read_reply(), b"*1\r\n:1\r\n");
    assert_eq!(tx.read_reply(), b"+OK\r\n");
    assert_eq!(tx.read_reply(), b"+QUEUED\r\n");
    assert_eq!(tx.read_reply(), b"*1\r\n:2\r\n");
}

#[test]
fn a_pause_that_ends_by_itself_runs_the_held_commands_in_order() {
    let node = Node::start(&[]);
    let mut admin = node.resp();
    // ALL holds every command, CLIENT UNPAUSE too (as in Redis), so this
    // pause only ends at its deadline.
    assert_eq!(admin.cmd("CLIENT PAUSE 200 ALL"), "+OK\r\n");
    let mut c = node.resp();
    c.send(&pipeline(&["SET n 1", "INCR n", "GET n", "PING"]));
    admin.send(&pipeline(&["CLIENT UNPAUSE"]));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b":2\r\n");
    assert_eq!(c.read_reply(), b"$1\r\n2\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    assert_eq!(admin.read_reply(), b"+OK\r\n");
    // After it, nothing is held.
    assert_eq!(c.cmd("SET n 3"), "+OK\r\n");
}
