//! `cachectl node` data path through the real `redis` crate: pipelining,
//! binary safety, keys owned by different cores in one command, and expiry.
//!
//! Key ownership comes from the library's own `shard_for`, so every test that
//! claims "both cores" picks keys that really land on both.

mod common;

use cachectl::ownership::shard_for;
use common::{keys_on_shard, poll_until, Node, SLOW};
use redis::Value;
use std::collections::HashMap;
use std::thread;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn pipeline_of_1000_mixed_commands_replies_in_order() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    // Value keys and counter keys on both cores, interleaved.
    let vals: Vec<String> = keys_on_shard("pv", 0, 2, 20)
        .into_iter()
        .zip(keys_on_shard("pv", 1, 2, 20))
        .flat_map(|(a, b)| [a, b])
        .collect();
    let ctrs: Vec<String> = keys_on_shard("pc", 0, 2, 8)
        .into_iter()
        .zip(keys_on_shard("pc", 1, 2, 8))
        .flat_map(|(a, b)| [a, b])
        .collect();
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut model: HashMap<String, String> = HashMap::new();
    let mut counters: HashMap<String, i64> = HashMap::new();
    let mut pipe = redis::pipe();
    let mut want = Vec::new();
    for i in 0..1000 {
        match i % 7 {
            0..=2 => {
                let k = &vals[rng.usize(..vals.len())];
                let v = format!("value-{i}-{}", "x".repeat(rng.usize(..64)));
                pipe.cmd("SET").arg(k).arg(&v);
                model.insert(k.clone(), v);
                want.push(Value::Okay);
            }
            3..=4 => {
                let k = &vals[rng.usize(..vals.len())];
                pipe.cmd("GET").arg(k);
                want.push(model.get(k).map_or(Value::Nil, |v| bulk(v)));
            }
            5 => {
                let k = &ctrs[rng.usize(..ctrs.len())];
                let by = rng.i64(-5..=5);
                pipe.cmd("INCRBY").arg(k).arg(by);
                let n = counters.entry(k.clone()).or_insert(0);
                *n += by;
                want.push(Value::Int(*n));
            }
            _ => {
                // A multi-key read across both cores inside the pipeline.
                let (a, b) = (
                    &vals[rng.usize(..vals.len())],
                    &ctrs[rng.usize(..ctrs.len())],
                );
                pipe.cmd("MGET").arg(a).arg(b).arg("never-set");
                let get = |m: Option<String>| m.map_or(Value::Nil, |v| bulk(&v));
                want.push(Value::Array(vec![
                    get(model.get(a).cloned()),
                    get(counters.get(b).map(i64::to_string)),
                    Value::Nil,
                ]));
            }
        }
    }
    let got: Vec<Value> = pipe.query(&mut con).expect("pipeline");
    assert_eq!(got.len(), 1000);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "reply {i} of the pipeline");
    }
    // The store agrees with the model afterwards, key by key.
    for (k, v) in &model {
        let got: String = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(&got, v, "{k}");
    }
}

#[test]
fn binary_keys_and_values_round_trip() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    let all: Vec<u8> = (0..=255u8).collect();
    let rev: Vec<u8> = all.iter().rev().copied().collect();
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (all.clone(), rev.clone()),
        (
            b"crlf\r\nin key".to_vec(),
            b"\r\n\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
        ),
        (
            b"\xc3\x28 not utf-8 \xff\xfe".to_vec(),
            b"\x00\x00\x00".to_vec(),
        ),
        (b"empty value".to_vec(), Vec::new()),
        (Vec::new(), b"empty key".to_vec()),
        (b"\x00".to_vec(), b"\x00".to_vec()),
    ];
    // A 1 MiB value makes the node grow its read buffer mid-request.
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    pairs.push((b"big\n".to_vec(), big));
    let owners: Vec<usize> = pairs.iter().map(|(k, _)| shard_for(k, 2)).collect();
    assert!(owners.contains(&0) && owners.contains(&1), "{owners:?}");

    for (k, v) in &pairs {
        redis::cmd("SET").arg(k).arg(v).exec(&mut con).unwrap();
        let got: Vec<u8> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(&got, v, "GET {:?}", k.escape_ascii().to_string());
    }
    redis::cmd("FLUSHALL").exec(&mut con).unwrap();

    let mut mset = redis::cmd("MSET");
    for (k, v) in &pairs {
        mset.arg(k).arg(v);
    }
    mset.exec(&mut con).unwrap();
    let mut mget = redis::cmd("MGET");
    for (k, _) in pairs.iter().rev() {
        mget.arg(k);
    }
    let got: Vec<Vec<u8>> = mget.query(&mut con).unwrap();
    let want: Vec<Vec<u8>> = pairs.iter().rev().map(|(_, v)| v.clone()).collect();
    assert_eq!(got, want, "MGET of binary keys, reversed");
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&pairs[0].0)
        .arg(&pairs[1].0)
        .arg(b"\x00\x01")
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, 2);
    // A near-miss key (one byte different) is a different key.
    let mut near = all.clone();
    near[255] = 0;
    let none: Option<Vec<u8>> = redis::cmd("GET").arg(&near).query(&mut con).unwrap();
    assert_eq!(none, None);
}

/// Keys alternating between core 0 and core 1.
fn mixed(prefix: &str, per_core: usize) -> Vec<String> {
    keys_on_shard(prefix, 0, 2, per_core)
        .into_iter()
        .zip(keys_on_shard(prefix, 1, 2, per_core))
        .flat_map(|(a, b)| [a, b])
        .collect()
}

#[test]
fn multi_key_commands_span_both_cores() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    let keys = mixed("x", 5);
    let owners: Vec<usize> = keys.iter().map(|k| shard_for(k.as_bytes(), 2)).collect();
    assert_eq!(owners, vec![0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);

    let mut mset = redis::cmd("MSET");
    for (i, k) in keys.iter().enumerate() {
        mset.arg(k).arg(format!("v{i}"));
    }
    mset.exec(&mut con).unwrap();

    // Order follows the request, whatever core answers first.
    let order = [9, 0, 3, 3, 8, 1, 6];
    let mut mget = redis::cmd("MGET");
    for &i in &order {
        mget.arg(&keys[i]);
        mget.arg(format!("missing-{i}"));
    }
    let got: Vec<Option<String>> = mget.query(&mut con).unwrap();
    let want: Vec<Option<String>> = order
        .iter()
        .flat_map(|&i| [Some(format!("v{i}")), None])
        .collect();
    assert_eq!(got, want);

    let exists: i64 = redis::cmd("EXISTS")
        .arg(&keys[0])
        .arg(&keys[1])
        .arg(&keys[1])
        .arg("missing")
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, 3, "duplicates count once per mention");

    // DEL counts keys that existed; a key named twice is deleted once.
    let deleted: i64 = redis::cmd("DEL")
        .arg(&keys[0])
        .arg(&keys[1])
        .arg(&keys[1])
        .arg("missing")
        .arg(&keys[2])
        .query(&mut con)
        .unwrap();
    assert_eq!(deleted, 3);
    let left: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(left, 7);
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys[..4]).query(&mut con).unwrap();
    assert_eq!(got, vec![None, None, None, Some("v3".into())]);

    // MSET overwrites on both cores atomically per key; last write wins.
    redis::cmd("MSET")
        .arg(&keys[4])
        .arg("a")
        .arg(&keys[5])
        .arg("b")
        .arg(&keys[4])
        .arg("c")
        .exec(&mut con)
        .unwrap();
    let got: Vec<String> = redis::cmd("MGET")
        .arg(&keys[4])
        .arg(&keys[5])
        .query(&mut con)
        .unwrap();
    assert_eq!(got, vec!["c", "b"]);
}

#[test]
fn concurrent_clients_cross_core_commands_stay_consistent() {
    let node = Node::start(&[]);
    let addr = node.addr();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            // Each worker owns its keys, two per core.
            let keys = mixed(&format!("w{t}-"), 2);
            thread::spawn(move || {
                let mut con = common::redis_conn(addr);
                for round in 0..150 {
                    let mut mset = redis::cmd("MSET");
                    for (i, k) in keys.iter().enumerate() {
                        mset.arg(k).arg(format!("{t}:{round}:{i}"));
                    }
                    mset.exec(&mut con).unwrap();
                    let got: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
                    let want: Vec<String> = (0..keys.len())
                        .map(|i| format!("{t}:{round}:{i}"))
                        .collect();
                    assert_eq!(got, want, "worker {t} round {round}");
                    let n: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut con).unwrap();
                    assert_eq!(n, 4);
                }
                let n: i64 = redis::cmd("DEL").arg(&keys).query(&mut con).unwrap();
                assert_eq!(n, 4);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut node.redis()).unwrap();
    assert_eq!(n, 0);
}

fn get(con: &mut redis::Connection, k: &str) -> Option<String> {
    redis::cmd("GET").arg(k).query(con).unwrap()
}

fn ttl(con: &mut redis::Connection, k: &str) -> i64 {
    redis::cmd("TTL").arg(k).query(con).unwrap()
}

#[test]
fn px_keys_disappear_on_both_cores() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    for k in mixed("px", 1) {
        redis::cmd("SET")
            .arg(&k)
            .arg("v")
            .arg("PX")
            .arg(100)
            .exec(&mut con)
            .unwrap();
        poll_until(SLOW, &format!("{k} to expire"), || {
            match get(&mut con, &k) {
                None => Ok(()),
                Some(v) => Err(format!("still {v:?}")),
            }
        });
        assert_eq!(ttl(&mut con, &k), -2);
        let n: i64 = redis::cmd("EXISTS").arg(&k).query(&mut con).unwrap();
        assert_eq!(n, 0);
    }
}

#[test]
fn ttl_counts_down_then_the_key_is_gone() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    // SET and TTL in one pipeline: the node runs them back to back, so a
    // loaded machine cannot put a second between them.
    let (first,): (i64,) = redis::pipe()
        .cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(2)
        .ignore()
        .cmd("TTL")
        .arg("k")
        .query(&mut con)
        .unwrap();
    assert!((1..=2).contains(&first), "TTL right after EX 2: {first}");
    let mut seen = vec![first];
    poll_until(SLOW, "TTL to reach -2", || {
        let t = ttl(&mut con, "k");
        if seen.last() != Some(&t) {
            seen.push(t);
        }
        if t == -2 {
            Ok(())
        } else {
            Err(format!("TTL {t}"))
        }
    });
    // Non-increasing, and never -1 (the key never lost its TTL).
    assert!(seen.windows(2).all(|w| w[1] <= w[0]), "{seen:?}");
    assert!(!seen.contains(&-1), "{seen:?}");
    assert_eq!(get(&mut con, "k"), None);
}

/// `field:value` of an INFO text.
fn info_field(info: &str, field: &str) -> Option<String> {
    info.split("\r\n")
        .find_map(|l| Some(l.strip_prefix(field)?.strip_prefix(':')?.to_string()))
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    let keys = mixed("active", 150);
    let mut pipe = redis::pipe();
    for k in &keys {
        pipe.cmd("SET").arg(k).arg("v").arg("PX").arg(50).ignore();
    }
    pipe.cmd("SET").arg("keeper").arg("v").ignore();
    pipe.exec(&mut con).unwrap();
    // Only DBSIZE and INFO from here: neither reads a key, so only the
    // active sweep can shrink the count.
    poll_until(SLOW, "DBSIZE to fall to 1", || {
        let n: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("DBSIZE {n}"))
        }
    });
    let info: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert_eq!(info_field(&info, "expired_keys").as_deref(), Some("300"));
    assert_eq!(info_field(&info, "keyspace_misses").as_deref(), Some("0"));
    assert_eq!(
        info_field(&info, "db0").as_deref(),
        Some("keys=1,expires=0,avg_ttl=0")
    );
    assert_eq!(get(&mut con, "keeper").as_deref(), Some("v"));
}

#[test]
fn persist_stops_expiry() {
    let node = Node::start(&[]);
    let mut con = node.redis();
    for k in mixed("keep", 1) {
        let witness = format!("{k}-witness");
        // `k` and its witness get the same TTL, and PERSIST follows in the
        // same pipeline. PERSIST answers 0 only if `k` expired first, which
        // takes a stall longer than the TTL: then try again with a longer one.
        let persisted = [200, 2_000, 20_000].into_iter().any(|px| {
            let (n,): (i64,) = redis::pipe()
                .cmd("SET")
                .arg(&k)
                .arg("v")
                .arg("PX")
                .arg(px)
                .ignore()
                .cmd("SET")
                .arg(&witness)
                .arg("v")
                .arg("PX")
                .arg(px)
                .ignore()
                .cmd("PERSIST")
                .arg(&k)
                .query(&mut con)
                .unwrap();
            n == 1
        });
        assert!(persisted, "PERSIST {k} found no TTL to remove");
        // The witness was set after `k` with the same TTL: once it is gone,
        // `k` would have been too.
        poll_until(SLOW, "the witness to expire", || {
            match get(&mut con, &witness) {
                None => Ok(()),
                Some(_) => Err("witness still there".into()),
            }
        });
        assert_eq!(get(&mut con, &k).as_deref(), Some("v"), "{k} survived");
        assert_eq!(ttl(&mut con, &k), -1);
    }
}
