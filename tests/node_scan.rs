//! SCAN on a real two-core node with a real client: a full scan of 20,000
//! keys spread over both cores, while another connection keeps inserting
//! and deleting other keys (so both shards grow and rehash under the
//! scan), returns every one of the 20,000 exactly once; SCAN, KEYS and
//! RANDOMKEY queued in MULTI/EXEC answer inside EXEC's array; and KEYS
//! never sees half of a transaction that spans cores.

mod common;

use cachectl::ownership::shard_for;
use common::{poll_until, Node, POLL_TIMEOUT};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

const STABLE: usize = 20_000;
/// Keys the writer inserts per batch, and how many of its older ones it
/// deletes: the keyspace grows by the difference each batch.
const INSERTS: u64 = 500;
const DELETES: u64 = 250;
/// The writer's batches, at most.
const MAX_BATCHES: u64 = 60;
/// SCAN calls between two waits for the writer to finish another batch.
const CALLS_PER_BATCH: u64 = 25;
/// SCAN's COUNT.
const COUNT: usize = 20;

fn stable_key(i: usize) -> String {
    format!("stable:{i}")
}

/// One SCAN step: the next cursor (checked to be a decimal u64) and keys.
fn scan_step(con: &mut redis::Connection, cursor: &str, count: usize) -> (String, Vec<String>) {
    let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(cursor)
        .arg("COUNT")
        .arg(count)
        .query(con)
        .unwrap_or_else(|e| panic!("SCAN {cursor}: {e}"));
    assert!(
        next.parse::<u64>().is_ok(),
        "cursor {next:?} is a decimal u64"
    );
    (next, keys)
}

#[test]
fn a_scan_under_concurrent_writes_returns_every_key_present_throughout() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    let mut pipe = redis::pipe();
    for i in 0..STABLE {
        pipe.cmd("SET").arg(stable_key(i)).arg(i).ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let on_core1 = (0..STABLE)
        .filter(|&i| shard_for(stable_key(i).as_bytes(), 2) == 1)
        .count();
    assert!(
        on_core1 > STABLE / 4 && on_core1 < STABLE * 3 / 4,
        "keys spread over both cores: {on_core1} on core 1"
    );

    // The writer: on its own connection, from the scan's first step on,
    // batches of inserts of new keys and deletes of its older ones.
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let (go, started) = mpsc::channel::<()>();
    let writer = {
        let (stop, batches) = (stop.clone(), batches.clone());
        let mut w = node.redis();
        thread::spawn(move || {
            if started.recv().is_err() {
                return;
            }
            for b in 0..MAX_BATCHES {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut pipe = redis::pipe();
                for i in b * INSERTS..(b + 1) * INSERTS {
                    pipe.cmd("SET").arg(format!("churn:{i}")).arg("x").ignore();
                }
                // Keys of this batch or an earlier one: each DEL removes one.
                for i in b * DELETES..(b + 1) * DELETES {
                    pipe.cmd("DEL").arg(format!("churn:{i}")).ignore();
                }
                let _: () = pipe.query(&mut w).expect("writer batch");
                batches.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0u64;
    let mut waited_for = 0;
    loop {
        let (next, keys) = scan_step(&mut con, &cursor, COUNT);
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
        calls += 1;
        if calls == 1 {
            go.send(()).expect("writer waiting");
        }
        if calls.is_multiple_of(CALLS_PER_BATCH) && waited_for < MAX_BATCHES {
            // Make sure writes land between the scan's steps, however the
            // threads happen to be scheduled.
            poll_until(POLL_TIMEOUT, "another writer batch", || {
                let done = batches.load(Ordering::SeqCst);
                if done > waited_for {
                    waited_for = done;
                    Ok(())
                } else {
                    Err(format!("{done} batches"))
                }
            });
        }
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(calls < 1_000_000, "the scan ends");
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");

    // At most COUNT keys a call: at least STABLE / COUNT calls, so at
    // least 40 batches landed during the scan, growing each shard from
    // about 10,000 keys past 12,288, where its table doubles.
    assert!(
        waited_for >= 40,
        "{waited_for} writer batches during the scan"
    );
    let total = batches.load(Ordering::SeqCst);
    let size: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(
        size,
        STABLE as u64 + total * (INSERTS - DELETES),
        "every write landed"
    );
    eprintln!("{calls} SCAN calls, {total} writer batches, {size} keys at the end");
    let missing: Vec<String> = (0..STABLE)
        .map(stable_key)
        .filter(|k| !seen.contains_key(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} stable keys never returned, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let repeated: Vec<(&String, &usize)> = seen
        .iter()
        .filter(|(k, &n)| k.starts_with("stable:") && n > 1)
        .collect();
    assert!(
        repeated.is_empty(),
        "stable keys returned twice: {repeated:?}"
    );
}

#[test]
fn scan_keys_and_randomkey_run_inside_multi_exec() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    let names = common::keys_on_shard("m", 0, 2, 30)
        .into_iter()
        .chain(common::keys_on_shard("m", 1, 2, 30))
        .collect::<Vec<_>>();
    let mut pipe = redis::pipe();
    for k in &names {
        pipe.cmd("SET").arg(k).arg("v").ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let mut want = names.clone();
    want.sort();

    // A whole scan, each step its own transaction.
    let mut cursor = "0".to_string();
    let mut got = Vec::new();
    loop {
        let (step,): ((String, Vec<String>),) = redis::pipe()
            .atomic()
            .cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(7)
            .query(&mut con)
            .unwrap();
        got.extend(step.1);
        if step.0 == "0" {
            break;
        }
        cursor = step.0;
    }
    got.sort();
    assert_eq!(got, want);

    // KEYS and RANDOMKEY with a write before them in the same transaction.
    let (set, mut keys, random): (String, Vec<String>, String) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("m-new")
        .arg("v")
        .cmd("KEYS")
        .arg("m*")
        .cmd("RANDOMKEY")
        .query(&mut con)
        .unwrap();
    assert_eq!(set, "OK");
    keys.sort();
    let mut with_new = want.clone();
    with_new.push("m-new".into());
    with_new.sort();
    assert_eq!(keys, with_new, "KEYS sees the transaction's own write");
    assert!(with_new.contains(&random), "RANDOMKEY gave {random:?}");

    // A SCAN error is that command's reply inside EXEC.
    let mut raw = node.resp();
    assert_eq!(raw.cmd("MULTI"), "+OK\r\n");
    assert_eq!(raw.cmd("SCAN x"), "+QUEUED\r\n");
    assert_eq!(raw.cmd("DBSIZE"), "+QUEUED\r\n");
    assert_eq!(raw.cmd("EXEC"), "*2\r\n-ERR invalid cursor\r\n:61\r\n");
}

/// Writers loop transactions that create or delete two keys together, one
/// on each core, while readers loop KEYS: every KEYS sees both keys or
/// neither, never half a transaction. (Without KEYS counting itself as a
/// command spanning cores this fails within a few hundred rounds.)
#[test]
fn keys_never_sees_half_a_transaction_across_cores() {
    const ROUNDS: usize = 400;
    let node = Node::start(&[]);
    let a = common::keys_on_shard("iso", 0, 2, 1).remove(0);
    let x = common::keys_on_shard("iso", 1, 2, 1).remove(0);
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut con = node.redis();
            let done = done.clone();
            thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::SeqCst) {
                    let keys: Vec<String> = redis::cmd("KEYS").arg("iso*").query(&mut con).unwrap();
                    assert!(keys.len() != 1, "KEYS saw half a transaction: {keys:?}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let mut con = node.redis();
            let (a, x) = (a.clone(), x.clone());
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let _: () = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&a)
                        .arg(1)
                        .ignore()
                        .cmd("SET")
                        .arg(&x)
                        .arg(1)
                        .ignore()
                        .query(&mut con)
                        .unwrap();
                    let _: () = redis::pipe()
                        .atomic()
                        .cmd("DEL")
                        .arg(&a)
                        .ignore()
                        .cmd("DEL")
                        .arg(&x)
                        .ignore()
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        assert!(r.join().expect("reader") > 0, "every reader ran");
    }
}
