//! Exact LRU on a real 2-core node: `--capacity` is split over the cores,
//! each core evicts its own least recently used key, and what counts as a
//! "use" is what Redis 7 counts. The expected survivors come from a model
//! of each shard's recency list, so every key is checked, not a count.
//!
//! Redis 7 refreshes a key's LRU clock in `lookupKey` unless the lookup
//! passes `LOOKUP_NOTOUCH`: GET, MGET (`lookupKeyRead`), SET (also NX/XX
//! that do not apply: `setGenericCommand` looks the key up for write
//! first), INCR/DECR/INCRBY (even on a value that is not an integer),
//! EXPIRE/PEXPIRE (even when NX/XX/GT/LT refuse) and PERSIST
//! (`lookupKeyWrite`) touch the key; EXISTS, TTL and PTTL look it up with
//! `LOOKUP_NOTOUCH` (`db.c` `existsCommand`, `expire.c` `ttlGenericCommand`).

mod common;

use common::{encode, keys_on_shard, Node, RespConn};
use std::collections::{BTreeMap, HashSet};

const CORES: usize = 2;

/// Send `cmds` as pipelines of up to 200 and return every reply's bytes.
fn pipeline(con: &mut RespConn, cmds: &[Vec<String>]) -> Vec<Vec<u8>> {
    let mut replies = Vec::with_capacity(cmds.len());
    for chunk in cmds.chunks(200) {
        let mut bytes = Vec::new();
        for c in chunk {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
            bytes.extend_from_slice(&encode(&args));
        }
        con.send(&bytes);
        for _ in chunk {
            replies.push(con.read_reply());
        }
    }
    replies
}

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// One shard's recency list as the node should keep it, oldest first.
struct Shard {
    cap: usize,
    order: Vec<String>,
    evicted: usize,
}

impl Shard {
    fn new(cap: usize) -> Self {
        Shard {
            cap,
            order: Vec::new(),
            evicted: 0,
        }
    }

    /// A write of a key that is not there.
    fn insert(&mut self, key: &str) {
        if self.order.len() >= self.cap {
            self.order.remove(0);
            self.evicted += 1;
        }
        self.order.push(key.to_string());
    }

    /// A use of a key that is there.
    fn touch(&mut self, key: &str) {
        let i = self
            .order
            .iter()
            .position(|k| k == key)
            .expect("touching a live key");
        let k = self.order.remove(i);
        self.order.push(k);
    }

    fn holds(&self) -> HashSet<&str> {
        self.order.iter().map(String::as_str).collect()
    }
}

/// How the test uses a live key, and whether Redis counts it as a use.
#[derive(Clone, Copy, Debug)]
enum Access {
    Get,
    Mget,
    Incr,
    IncrNotInteger,
    Set,
    SetNxRefused,
    SetXx,
    Expire,
    ExpireXxRefused,
    Persist,
    Exists,
    Ttl,
    Pttl,
    Untouched,
}

const ACCESSES: [Access; 14] = [
    Access::Get,
    Access::Mget,
    Access::Incr,
    Access::IncrNotInteger,
    Access::Set,
    Access::SetNxRefused,
    Access::SetXx,
    Access::Expire,
    Access::ExpireXxRefused,
    Access::Persist,
    Access::Exists,
    Access::Ttl,
    Access::Pttl,
    Access::Untouched,
];

impl Access {
    /// Whether Redis 7 refreshes the key's LRU clock.
    fn touches(self) -> bool {
        !matches!(
            self,
            Access::Exists | Access::Ttl | Access::Pttl | Access::Untouched
        )
    }

    /// The request, and the reply a live key `k` gets.
    fn request(self, k: &str) -> Option<(Vec<String>, &'static str)> {
        Some(match self {
            Access::Get => (cmd(&["GET", k]), "$"),
            Access::Mget => (cmd(&["MGET", k, "no-such-key"]), "*2"),
            Access::Incr => (cmd(&["INCR", k]), ":"),
            Access::IncrNotInteger => (cmd(&["INCRBY", k, "5"]), "-ERR value is not an integer"),
            Access::Set => (cmd(&["SET", k, "7"]), "+OK"),
            Access::SetNxRefused => (cmd(&["SET", k, "7", "NX"]), "$-1"),
            Access::SetXx => (cmd(&["SET", k, "7", "XX"]), "+OK"),
            Access::Expire => (cmd(&["EXPIRE", k, "100000"]), ":1"),
            // The key has no TTL, so XX refuses.
            Access::ExpireXxRefused => (cmd(&["EXPIRE", k, "100000", "XX"]), ":0"),
            Access::Persist => (cmd(&["PERSIST", k]), ":0"),
            Access::Exists => (cmd(&["EXISTS", k]), ":1"),
            Access::Ttl => (cmd(&["TTL", k]), ":-1"),
            Access::Pttl => (cmd(&["PTTL", k]), ":-1"),
            Access::Untouched => return None,
        })
    }
}

/// A two-core LRU node holding at most `capacity` keys.
fn lru_node(capacity: usize) -> Node {
    Node::start(&[
        "--cores",
        "2",
        "--cache-type",
        "lru",
        "--capacity",
        &capacity.to_string(),
    ])
}

#[test]
fn lru_is_exact_per_core_and_counts_the_uses_redis_counts() {
    let capacity = 2000;
    let per_core = capacity / CORES;
    let node = lru_node(capacity);
    let mut con = node.resp();
    let mut model: Vec<Shard> = (0..CORES).map(|_| Shard::new(per_core)).collect();
    // 2 × capacity keys, interleaved over the shards; each shard keeps its
    // newest half.
    let first: Vec<Vec<String>> = (0..CORES)
        .map(|s| keys_on_shard("key:", s, CORES, 2 * per_core))
        .collect();
    // Survivor j of each shard gets ACCESSES[j % n] below; the ones INCRBY
    // will fail on hold text.
    let access_of = |i: usize| (i >= per_core).then(|| ACCESSES[(i - per_core) % ACCESSES.len()]);
    let mut writes = Vec::new();
    for i in 0..2 * per_core {
        for (s, keys) in first.iter().enumerate() {
            let value = match access_of(i) {
                Some(Access::IncrNotInteger) => format!("text{i}"),
                _ => i.to_string(),
            };
            writes.push(cmd(&["SET", &keys[i], &value]));
            model[s].insert(&keys[i]);
        }
    }
    for r in pipeline(&mut con, &writes) {
        assert_eq!(r, b"+OK\r\n");
    }
    assert_eq!(con.cmd("DBSIZE"), format!(":{capacity}\r\n"));
    // EXISTS in oldest-first order keeps the order even if it did touch.
    for (s, keys) in first.iter().enumerate() {
        let probes: Vec<Vec<String>> = keys.iter().map(|k| cmd(&["EXISTS", k])).collect();
        let held: Vec<bool> = pipeline(&mut con, &probes)
            .iter()
            .map(|r| r == b":1\r\n")
            .collect();
        let expected: Vec<bool> = (0..keys.len()).map(|i| i >= per_core).collect();
        assert!(held == expected, "shard {s} after the first writes");
    }

    // Use the oldest 700 survivors of each shard, one access each.
    let used = 700;
    let mut uses = Vec::new();
    let mut expected_replies = Vec::new();
    for j in 0..used {
        for (s, keys) in first.iter().enumerate() {
            let k = &keys[per_core + j];
            let access = access_of(per_core + j).unwrap();
            if let Some((req, reply)) = access.request(k) {
                uses.push(req);
                expected_replies.push((access, k.clone(), reply));
            }
            if access.touches() {
                model[s].touch(k);
            }
        }
    }
    for (r, (access, k, want)) in pipeline(&mut con, &uses).iter().zip(&expected_replies) {
        let r = String::from_utf8_lossy(r);
        assert!(
            r.starts_with(want),
            "{access:?} {k}: {r:?}, expected {want}…"
        );
    }

    // Half a shard of new keys each: the least recently used go.
    let fresh: Vec<Vec<String>> = (0..CORES)
        .map(|s| keys_on_shard("new:", s, CORES, per_core / 2))
        .collect();
    let mut writes = Vec::new();
    for i in 0..per_core / 2 {
        for (s, keys) in fresh.iter().enumerate() {
            writes.push(cmd(&["SET", &keys[i], "n"]));
            model[s].insert(&keys[i]);
        }
    }
    pipeline(&mut con, &writes);

    // Every key, checked: which survived, against the model.
    let mut wrong: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for s in 0..CORES {
        let keep = model[s].holds();
        let all: Vec<&String> = first[s].iter().chain(&fresh[s]).collect();
        let probes: Vec<Vec<String>> = all.iter().map(|k| cmd(&["EXISTS", k])).collect();
        let held = pipeline(&mut con, &probes);
        for (i, (k, r)) in all.iter().zip(&held).enumerate() {
            let is_held = r == b":1\r\n";
            if is_held != keep.contains(k.as_str()) {
                let what = match (i < first[s].len()).then(|| access_of(i)).flatten() {
                    Some(a) => format!("{a:?} (Redis: use = {})", a.touches()),
                    None if i < per_core => "evicted by the first writes".into(),
                    None => "a new key".into(),
                };
                let e = wrong.entry(what).or_default();
                if is_held {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "keys that survived against the model / were evicted against it, by access: {wrong:#?}"
    );
    assert_eq!(con.cmd("DBSIZE"), format!(":{capacity}\r\n"));
    let json = con.call(&[b"METRICS"]);
    let json = String::from_utf8_lossy(&json);
    let m: serde_json::Value =
        serde_json::from_str(json.split_once("\r\n").unwrap().1.trim_end()).unwrap();
    let evicted: usize = model.iter().map(|s| s.evicted).sum();
    assert_eq!(m["evicted"].as_u64(), Some(evicted as u64), "{m}");
    for (s, shard) in m["shards"].as_array().unwrap().iter().enumerate() {
        assert_eq!(shard["keys"].as_u64(), Some(per_core as u64), "shard {s}");
    }
}

#[test]
fn a_capacity_that_does_not_divide_by_the_cores_is_never_exceeded() {
    // 2,001 keys over 2 cores: one core holds 1,001, the other 1,000.
    let capacity = 2001;
    let node = lru_node(capacity);
    let mut con = node.resp();
    let written = 1500;
    let keys: Vec<Vec<String>> = (0..CORES)
        .map(|s| keys_on_shard("k:", s, CORES, written))
        .collect();
    let writes: Vec<Vec<String>> = (0..written)
        .flat_map(|i| keys.iter().map(move |ks| cmd(&["SET", &ks[i], "v"])))
        .collect();
    pipeline(&mut con, &writes);
    assert_eq!(con.cmd("DBSIZE"), format!(":{capacity}\r\n"));
    // The first `capacity % cores` cores take one key more.
    let caps = [1001, 1000];
    for (s, ks) in keys.iter().enumerate() {
        let probes: Vec<Vec<String>> = ks.iter().map(|k| cmd(&["EXISTS", k])).collect();
        let held: Vec<bool> = pipeline(&mut con, &probes)
            .iter()
            .map(|r| r == b":1\r\n")
            .collect();
        let expected: Vec<bool> = (0..written).map(|i| i >= written - caps[s]).collect();
        assert!(
            held == expected,
            "shard {s} must hold exactly its newest {} keys; holds {}",
            caps[s],
            held.iter().filter(|&&h| h).count()
        );
    }
}
