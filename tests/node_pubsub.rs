//! Pub/sub on a two-core node with real clients on both cores: a message
//! published on one core reaches the subscribers of both and PUBLISH
//! counts them all, each publisher's messages arrive in order, PUBLISH
//! costs no hop while nobody subscribes, and a subscriber that never reads
//! is disconnected at Redis's pubsub output-buffer limit.
//!
//! A connection's core is its CLIENT ID modulo the core count (ids are
//! `seq * cores + core`); the kernel spreads connections over the cores'
//! `SO_REUSEPORT` listeners, so tests open connections until they have
//! the cores they need.

mod common;

use common::{encode, poll_until, Node, RespConn, POLL_TIMEOUT};
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A RESP2 connection accepted by core `core` of the two-core node.
fn client_on(node: &Node, core: u64) -> RespConn {
    for _ in 0..200 {
        let mut c = node.resp();
        let id = int(&c.cmd("CLIENT ID"));
        if id as u64 % 2 == core {
            return c;
        }
    }
    panic!("no connection landed on core {core} in 200 tries");
}

/// The integer of an integer reply.
fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
}

fn message(channel: &str, payload: &str) -> String {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
}

/// Read exactly `want.len()` bytes and compare them.
fn expect_bytes(c: &mut RespConn, want: &str) {
    let mut got = vec![0; want.len()];
    c.stream.read_exact(&mut got).expect("read the push");
    assert_eq!(String::from_utf8_lossy(&got), want);
}

/// Read until what came ends with `suffix` (a reply of unknown length,
/// like HELLO's, which names the client id).
fn read_until(c: &mut RespConn, suffix: &[u8]) {
    let mut got = Vec::new();
    let mut byte = [0u8];
    while !got.ends_with(suffix) {
        c.stream.read_exact(&mut byte).expect("read the reply");
        got.push(byte[0]);
    }
}

/// Hop batches the node's cores have sent, from METRICS.
fn hops_sent(c: &mut RespConn) -> u64 {
    let reply = c.call(&[b"METRICS"]);
    let body = &reply[reply.iter().position(|&b| b == b'\n').unwrap() + 1..reply.len() - 2];
    let v: serde_json::Value = serde_json::from_slice(body).expect("METRICS is JSON");
    v["shards"]
        .as_array()
        .expect("per-shard figures")
        .iter()
        .map(|s| s["hops_sent"].as_u64().expect("hops_sent"))
        .sum()
}

#[test]
fn a_message_from_one_core_reaches_subscribers_on_both() {
    let mut node = Node::start(&[]);
    let mut subs = Vec::new();
    for core in [0, 1] {
        for _ in 0..2 {
            let mut s = client_on(&node, core);
            assert_eq!(
                s.cmd("SUBSCRIBE news"),
                "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
            );
            subs.push(s);
        }
    }
    let mut by_pattern = client_on(&node, 1);
    assert_eq!(
        by_pattern.cmd("PSUBSCRIBE ne*"),
        "*3\r\n$10\r\npsubscribe\r\n$3\r\nne*\r\n:1\r\n"
    );
    // A RESP3 subscriber on core 0 gets push frames.
    let mut resp3 = client_on(&node, 0);
    resp3.send(&encode(&[b"HELLO", b"3"]));
    read_until(&mut resp3, b"$7\r\nmodules\r\n*0\r\n");
    resp3.send(&encode(&[b"SUBSCRIBE", b"news"]));
    expect_bytes(&mut resp3, ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");

    for core in [0, 1] {
        let mut publisher = client_on(&node, core);
        let payload = format!("from core {core}");
        assert_eq!(
            publisher.call(&[b"PUBLISH", b"news", payload.as_bytes()]),
            b":6\r\n",
            "four channel subscribers, a pattern and a RESP3 one, on both cores"
        );
        for s in &mut subs {
            expect_bytes(s, &message("news", &payload));
        }
        expect_bytes(
            &mut by_pattern,
            &format!(
                "*4\r\n$8\r\npmessage\r\n$3\r\nne*\r\n$4\r\nnews\r\n${}\r\n{payload}\r\n",
                payload.len()
            ),
        );
        expect_bytes(
            &mut resp3,
            &format!(
                ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{payload}\r\n",
                payload.len()
            ),
        );
        // Node-wide answers from either core.
        assert_eq!(
            publisher.cmd("PUBSUB NUMSUB news none"),
            "*4\r\n$4\r\nnews\r\n:5\r\n$4\r\nnone\r\n:0\r\n"
        );
        assert_eq!(publisher.cmd("PUBSUB NUMPAT"), ":1\r\n");
        assert_eq!(publisher.cmd("PUBSUB CHANNELS"), "*1\r\n$4\r\nnews\r\n");
        assert_eq!(
            publisher.cmd("PUBSUB CHANNELS n?ws"),
            "*1\r\n$4\r\nnews\r\n"
        );
        assert_eq!(publisher.cmd("PUBSUB CHANNELS x*"), "*0\r\n");
    }

    // A subscriber that leaves is no longer counted.
    drop(subs.pop());
    drop(by_pattern);
    let mut publisher = client_on(&node, 0);
    poll_until(
        POLL_TIMEOUT,
        "the closed subscribers to be gone",
        || match (
            publisher.cmd("PUBSUB NUMSUB news"),
            publisher.cmd("PUBSUB NUMPAT"),
        ) {
            (n, p) if n.ends_with(":4\r\n") && p == ":0\r\n" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    assert_eq!(publisher.cmd("PUBLISH news last"), ":4\r\n");
    for s in &mut subs {
        expect_bytes(s, &message("news", "last"));
    }
    // Subscribers waiting for mail do not hold up a clean stop.
    assert!(node.stop().success());
}

#[test]
fn each_publishers_order_holds_over_1000_messages() {
    const MESSAGES: usize = 1000;
    const CHUNK: usize = 50;
    let node = Node::start(&[]);
    let subscribers: Vec<_> = [0, 1]
        .into_iter()
        .map(|core| {
            let mut s = client_on(&node, core);
            s.cmd("SUBSCRIBE order");
            thread::spawn(move || {
                let mut next = [0usize; 2];
                for _ in 0..2 * MESSAGES {
                    let m = String::from_utf8(s.read_reply()).unwrap();
                    let payload = m.rsplit("\r\n").nth(1).unwrap();
                    let (p, i) = payload.split_once(':').unwrap();
                    let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
                    assert_eq!(
                        i, next[p],
                        "publisher {p}'s messages out of order on core {core}"
                    );
                    next[p] += 1;
                }
                next
            })
        })
        .collect();
    let publishers: Vec<_> = [0, 1]
        .into_iter()
        .map(|core| {
            let mut p = client_on(&node, core);
            thread::spawn(move || {
                // Pipelined, so several messages are in flight at once.
                for start in (0..MESSAGES).step_by(CHUNK) {
                    let mut batch = Vec::new();
                    for i in start..start + CHUNK {
                        let payload = format!("{core}:{i}");
                        batch.extend(encode(&[b"PUBLISH", b"order", payload.as_bytes()]));
                    }
                    p.send(&batch);
                    for _ in 0..CHUNK {
                        assert_eq!(p.read_reply(), b":2\r\n", "a subscriber on each core");
                    }
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    for s in subscribers {
        assert_eq!(s.join().unwrap(), [MESSAGES; 2]);
    }
}

#[test]
fn publish_costs_no_hop_while_nobody_subscribes() {
    let node = Node::start(&[]);
    let mut publisher = client_on(&node, 0);
    let before = hops_sent(&mut publisher);
    for i in 0..100 {
        let payload = i.to_string();
        assert_eq!(
            publisher.call(&[b"PUBLISH", b"quiet", payload.as_bytes()]),
            b":0\r\n"
        );
    }
    assert_eq!(
        publisher.cmd("PUBSUB NUMSUB quiet"),
        "*2\r\n$5\r\nquiet\r\n:0\r\n"
    );
    assert_eq!(publisher.cmd("PUBSUB CHANNELS"), "*0\r\n");
    assert_eq!(publisher.cmd("PUBSUB NUMPAT"), ":0\r\n");
    assert_eq!(hops_sent(&mut publisher), before, "no core was asked");

    // A subscriber on the other core is worth a hop.
    let mut sub = client_on(&node, 1);
    sub.cmd("SUBSCRIBE loud");
    assert_eq!(publisher.cmd("PUBLISH loud x"), ":1\r\n");
    expect_bytes(&mut sub, &message("loud", "x"));
    assert_eq!(hops_sent(&mut publisher), before + 1);
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_at_the_output_limit() {
    // Redis's default limit: the hard 32 MB (its soft 8 MB would take 60 s
    // over it to act).
    let mut node = Node::start(&[]);
    let mut slow = node.resp();
    assert_eq!(
        slow.cmd("SUBSCRIBE feed"),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n"
    );
    // A subscriber that keeps up, counting the bytes it is sent.
    let mut healthy = node.raw();
    healthy
        .write_all(&encode(&[b"SUBSCRIBE", b"feed"]))
        .unwrap();
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n";
    let mut head = vec![0; confirm.len()];
    healthy.read_exact(&mut head).unwrap();
    assert_eq!(head, confirm);
    // The bytes to expect, once the publisher knows them, and the bytes
    // read so far.
    let want = Arc::new(AtomicUsize::new(usize::MAX));
    let progress = Arc::new(AtomicUsize::new(0));
    let (target, read) = (want.clone(), progress.clone());
    let reader = thread::spawn(move || {
        // Short read timeouts, to notice the target once everything came.
        healthy
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut got = 0;
        let mut chunk = vec![0; 1 << 16];
        while got < target.load(Ordering::SeqCst) {
            match healthy.read(&mut chunk) {
                Ok(0) => panic!("the healthy subscriber was closed after {got} bytes"),
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("the healthy subscriber: {e}"),
            }
            read.store(got, Ordering::SeqCst);
        }
        (got, healthy)
    });

    let payload = vec![b'x'; 64 * 1024];
    let one = message("feed", &"x".repeat(payload.len())).len();
    let mut publisher = node.resp();
    let (mut published, mut cut_at) = (0usize, None);
    // 2,000 messages are 128 MB: far past 32 MB plus what the kernel buffers.
    for i in 0..2000 {
        let n = int(&String::from_utf8(publisher.call(&[b"PUBLISH", b"feed", &payload])).unwrap());
        published += 1;
        if n == 1 {
            cut_at = Some(i);
            break;
        }
        assert_eq!(n, 2);
        // Let the healthy subscriber catch up now and then, so only the
        // slow one can reach the limit however the machine schedules.
        if published % 32 == 0 {
            poll_until(
                POLL_TIMEOUT,
                "the healthy subscriber to catch up",
                || match progress.load(Ordering::SeqCst) {
                    n if n >= published * one => Ok(()),
                    n => Err(format!("{n} of {} bytes", published * one)),
                },
            );
        }
    }
    let cut_at = cut_at.expect("the slow subscriber was never disconnected");
    assert!(
        cut_at > 32 * 16,
        "cut off after only {cut_at} messages of 64 KiB"
    );
    want.store(published * one, Ordering::SeqCst);
    let (got, _healthy) = reader.join().unwrap();
    assert_eq!(got, published * one, "the healthy one got everything");

    // The slow one finds what the kernel had buffered, then the close; the
    // node never sent it what it held past the limit.
    match slow.read_to_close() {
        common::Closed::Yes(bytes) => assert!(
            bytes.len() < cut_at * one && bytes.len() < 32 << 20,
            "{} bytes reached the slow subscriber",
            bytes.len()
        ),
        common::Closed::No(bytes) => panic!("still open after {} bytes", bytes.len()),
    }
    assert_eq!(
        publisher.cmd("PUBSUB NUMSUB feed"),
        "*2\r\n$4\r\nfeed\r\n:1\r\n"
    );
    node.assert_running();
    poll_until(
        POLL_TIMEOUT,
        "the node to log why it closed the subscriber",
        || {
            let err = node.proc().stderr();
            match err.contains("over the pubsub output buffer limit") {
                true => Ok(()),
                false => Err(err),
            }
        },
    );
}

#[test]
fn config_set_output_limit_applies_to_subscribers_already_subscribed() {
    let node = Node::start(&[]);
    let mut slow = node.resp();
    assert_eq!(
        slow.cmd("SUBSCRIBE feed"),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n"
    );
    let mut admin = node.resp();
    let set: &[&[u8]] = &[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        b"pubsub 1mb 0 0",
    ];
    assert_eq!(admin.call(set), b"+OK\r\n");
    assert!(admin
        .cmd("CONFIG GET client-output-buffer-limit")
        .contains("pubsub 1048576 0 0"));
    // 64 KiB messages: under Redis's default (32 MB hard) the cut would come
    // after more than 512 of them (see the test above); under 1 MB it comes
    // after 16 plus what the kernel buffers for the unread socket.
    let payload = vec![b'x'; 64 * 1024];
    let cut_at = (0..2000).find(|_| {
        let reply = String::from_utf8(admin.call(&[b"PUBLISH", b"feed", &payload])).unwrap();
        int(&reply) == 0
    });
    let cut_at = cut_at.expect("the subscriber was never disconnected");
    assert!(cut_at < 32 * 16, "cut off only after {cut_at} messages");
}

#[test]
fn publish_inside_a_transaction_reaches_the_other_core_after_its_writes() {
    let node = Node::start(&[]);
    let mut sub = client_on(&node, 1);
    sub.cmd("SUBSCRIBE txch");
    let mut publisher = client_on(&node, 0);
    let key = common::keys_on_shard("tx", 1, 2, 1).remove(0);
    assert_eq!(publisher.cmd("MULTI"), "+OK\r\n");
    assert_eq!(publisher.cmd(&format!("SET {key} written")), "+QUEUED\r\n");
    assert_eq!(publisher.cmd("PUBLISH txch hi"), "+QUEUED\r\n");
    assert_eq!(publisher.cmd("PUBSUB NUMSUB txch"), "+QUEUED\r\n");
    assert_eq!(
        publisher.cmd("EXEC"),
        "*3\r\n+OK\r\n:1\r\n*2\r\n$4\r\ntxch\r\n:1\r\n"
    );
    expect_bytes(&mut sub, &message("txch", "hi"));
    // Told of the change, a reader finds it made.
    assert_eq!(node.resp().cmd(&format!("GET {key}")), "$7\r\nwritten\r\n");
}
