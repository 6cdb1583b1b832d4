//! Transactions across cores, with a real client library: MULTI/EXEC is
//! atomic and isolated whichever cores its keys live on, and commands that
//! span cores never see half of one.

mod common;

use common::{encode, keys_on_shard, Node};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

const WRITERS: usize = 4;
const ROUNDS: i64 = 300;

/// Several clients loop `MULTI; INCR a; INCR b; EXEC` with `a` and `b` on
/// different cores, while readers `MGET a b` (itself spanning both cores)
/// and must always see equal values; every EXEC sees its own two
/// increments land together, and nothing is lost.
#[test]
fn concurrent_transactions_across_cores_are_atomic_and_isolated() {
    let node = Node::start(&["--cores", "2"]);
    let a = keys_on_shard("tx-a", 0, 2, 1).remove(0);
    let b = keys_on_shard("tx-b", 1, 2, 1).remove(0);
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut con = node.redis();
            let (a, b, done) = (a.clone(), b.clone(), done.clone());
            thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let (x, y): (Option<i64>, Option<i64>) =
                        redis::cmd("MGET").arg(&a).arg(&b).query(&mut con).unwrap();
                    assert_eq!(x, y, "MGET saw half a transaction");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let mut con = node.redis();
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let (x, y): (i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("INCR")
                        .arg(&a)
                        .cmd("INCR")
                        .arg(&b)
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(x, y, "a transaction's two increments landed apart");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0, "the readers ran");
    let mut con = node.redis();
    let (x, y): (i64, i64) = redis::cmd("MGET").arg(&a).arg(&b).query(&mut con).unwrap();
    let want = WRITERS as i64 * ROUNDS;
    assert_eq!((x, y), (want, want), "every increment counted once");
    eprintln!("{reads} MGETs during {want} transactions, all consistent");
}

/// A transaction whose keys all live on this core, on another core, or on
/// both gives the same replies, in order, with runtime errors in place and
/// nothing rolled back.
#[test]
fn exec_replies_are_in_order_on_any_cores() {
    let node = Node::start(&["--cores", "2"]);
    let mut c = node.resp();
    // This connection's core is unknown (SO_REUSEPORT picks it), so the
    // three layouts cover local, remote and spanning either way.
    for (shards, tag) in [
        (&[0usize, 0][..], "core 0"),
        (&[1, 1], "core 1"),
        (&[0, 1], "both"),
    ] {
        let x = keys_on_shard(&format!("{tag}-x"), shards[0], 2, 1).remove(0);
        let y = keys_on_shard(&format!("{tag}-y"), shards[1], 2, 1).remove(0);
        let mut req = encode(&[b"MULTI"]);
        for cmd in [
            vec!["SET", &x, "v"],
            vec!["INCR", &y],
            vec!["INCR", &x],
            vec!["MGET", &x, &y],
            vec!["DEL", &x, &y],
        ] {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            req.extend_from_slice(&encode(&args));
        }
        req.extend_from_slice(&encode(&[b"EXEC"]));
        c.send(&req);
        assert_eq!(c.read_reply(), b"+OK\r\n", "{tag}");
        for _ in 0..5 {
            assert_eq!(c.read_reply(), b"+QUEUED\r\n", "{tag}");
        }
        let exec = String::from_utf8(c.read_reply()).unwrap();
        assert_eq!(
            exec,
            "*5\r\n+OK\r\n:1\r\n-ERR value is not an integer or out of range\r\n\
             *2\r\n$1\r\nv\r\n$1\r\n1\r\n:2\r\n",
            "{tag}"
        );
    }
}

/// The classic WATCH retry loop: clients read a counter on another core,
/// and write it back plus one in a transaction that fails if anyone wrote
/// it meanwhile. Every success adds exactly one; failures retry.
#[test]
fn watch_retry_loops_add_exactly_one_per_success() {
    let node = Node::start(&["--cores", "2"]);
    let key = keys_on_shard("tx-counter", 1, 2, 1).remove(0);
    const CLIENTS: usize = 4;
    const EACH: i64 = 150;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut con = node.redis();
            let key = key.clone();
            thread::spawn(move || {
                let (mut wins, mut retries) = (0i64, 0u64);
                while wins < EACH {
                    redis::cmd("WATCH").arg(&key).exec(&mut con).unwrap();
                    let v: Option<i64> = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
                    let done: Option<(String,)> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&key)
                        .arg(v.unwrap_or(0) + 1)
                        .query(&mut con)
                        .unwrap();
                    match done {
                        Some(_) => wins += 1,
                        None => retries += 1,
                    }
                }
                retries
            })
        })
        .collect();
    let retries: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    let mut con = node.redis();
    let v: i64 = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
    assert_eq!(
        v,
        CLIENTS as i64 * EACH,
        "one increment per successful EXEC"
    );
    eprintln!("{v} increments, {retries} retries after a watched change");
}

/// Another connection's write, on either core, and a TTL that passes, each
/// make a watching EXEC answer the null array.
#[test]
fn watch_sees_other_connections_and_expiry() {
    let node = Node::start(&["--cores", "2"]);
    let mut other = node.resp();
    for shard in 0..2 {
        let k = keys_on_shard("watched", shard, 2, 1).remove(0);
        let mut c = node.resp();
        assert_eq!(c.call(&[b"WATCH", k.as_bytes()]), b"+OK\r\n");
        assert_eq!(other.call(&[b"SET", k.as_bytes(), b"x"]), b"+OK\r\n");
        c.send(&encode(&[b"MULTI"]));
        c.send(&encode(&[b"GET", k.as_bytes()]));
        c.send(&encode(&[b"EXEC"]));
        assert_eq!(c.read_reply(), b"+OK\r\n");
        assert_eq!(c.read_reply(), b"+QUEUED\r\n");
        assert_eq!(
            c.read_reply(),
            b"*-1\r\n",
            "shard {shard}: a write elsewhere"
        );
    }
    let k = keys_on_shard("expiring", 1, 2, 1).remove(0);
    let mut c = node.resp();
    assert_eq!(
        c.call(&[b"SET", k.as_bytes(), b"v", b"PX", b"200"]),
        b"+OK\r\n"
    );
    assert_eq!(c.call(&[b"WATCH", k.as_bytes()]), b"+OK\r\n");
    // Nobody touches the key: its TTL passing alone fails the EXEC.
    std::thread::sleep(std::time::Duration::from_millis(400));
    c.send(&encode(&[b"MULTI"]));
    c.send(&encode(&[b"PING"]));
    c.send(&encode(&[b"EXEC"]));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+QUEUED\r\n");
    assert_eq!(c.read_reply(), b"*-1\r\n", "an expired watched key");
}

/// A RENAME whose keys live on different cores moves the value as one
/// step: readers asking for both keys see it in exactly one of them,
/// never in neither or both, and none is lost.
#[test]
fn renames_across_cores_are_atomic() {
    let node = Node::start(&["--cores", "2"]);
    let a = keys_on_shard("rn-a", 0, 2, 1).remove(0);
    let b = keys_on_shard("rn-b", 1, 2, 1).remove(0);
    let mut con = node.redis();
    let _: () = redis::cmd("SET").arg(&a).arg("v").query(&mut con).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut con = node.redis();
            let (a, b, done) = (a.clone(), b.clone(), done.clone());
            thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let n: i64 = redis::cmd("EXISTS")
                        .arg(&a)
                        .arg(&b)
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(n, 1, "the value was in {n} of the two keys");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 0..2_000 {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let _: () = redis::cmd("RENAME")
            .arg(from)
            .arg(to)
            .query(&mut con)
            .unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0, "the readers ran");
    let v: Option<String> = redis::cmd("GET").arg(&a).query(&mut con).unwrap();
    assert_eq!(
        v.as_deref(),
        Some("v"),
        "2,000 renames end where they began"
    );
}
