//! Tests of KEYS, SCAN and RANDOMKEY in `keys.rs`, on shards held in
//! the test as a two-core node holds them.

use super::*;
use crate::ownership::shard_for;
use crate::store::{SetCond, SetExpiry, ShardConfig};
use std::collections::HashSet;

fn set(s: &mut Shard, k: &[u8], px: Option<u64>) {
    let expiry = px.map_or(SetExpiry::Clear, SetExpiry::At);
    s.set(k, &b"v"[..], expiry, SetCond::Always, false, 0)
        .unwrap();
}

/// Two shards as a two-core node holds them: each key on its owner.
fn node(keys: &[Vec<u8>]) -> Vec<Shard> {
    let mut shards: Vec<Shard> = (0..2).map(|_| Shard::new(ShardConfig::default())).collect();
    for k in keys {
        set(&mut shards[shard_for(k, 2)], k, None);
    }
    shards
}

/// Run one command on `shards` as `run_held` does; the RESP2 reply.
fn run(shards: &mut [Shard], line: &[&[u8]], now: u64) -> Vec<u8> {
    let (_, spec) = cmd::admit(line, true).expect("admitted");
    let cmd::Run::Node(node_cmd) = spec.run else {
        panic!("not a node command")
    };
    let n = shards.len();
    let mut out = Vec::new();
    run_held(
        node_cmd,
        line,
        n,
        |c, a| Some(answer(&mut shards[c], a, now)),
        &mut Reply::new(&mut out, Proto::Resp2),
    );
    out
}

fn scan_error(line: &[&[u8]]) -> Option<KeysError> {
    Request::parse(NodeCmd::Scan, line, 2).err()
}

#[test]
fn cursors_parse_as_strtoul_reads_them() {
    let ok = |s: &[u8]| parse_cursor(s).ok();
    assert_eq!(ok(b"0"), Some(0));
    assert_eq!(ok(b"17"), Some(17));
    assert_eq!(ok(b"+5"), Some(5));
    assert_eq!(ok(b"007"), Some(7));
    assert_eq!(ok(b""), Some(0));
    assert_eq!(ok(b"-0"), Some(0));
    assert_eq!(ok(b"-1"), Some(u64::MAX));
    assert_eq!(ok(b"-18446744073709551615"), Some(1));
    assert_eq!(ok(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(ok(b"1\0x"), Some(1));
    assert_eq!(ok(b"\x001"), Some(0));
    for bad in [
        &b"18446744073709551616"[..],
        b"-18446744073709551616",
        b" 1",
        b"\t1",
        b"1 ",
        b"1\t",
        b"x",
        b"0x1",
        b"1.5",
        b"-",
        b"+",
        b"+-1",
        b"+ 1",
    ] {
        assert_eq!(parse_cursor(bad), Err(KeysError::InvalidCursor), "{bad:?}");
    }
}

#[test]
fn node_cursors_walk_the_cores_in_turn() {
    for n in [1, 2, 3] {
        for c in 0..n {
            for s in [0u64, 1, 99, u64::from(u32::MAX)] {
                let at = NodeCursor { core: c, shard: s };
                assert_eq!(NodeCursor::decode(at.encode(n), n), at);
            }
        }
    }
    assert_eq!(NodeCursor::decode(0, 2), NodeCursor { core: 0, shard: 0 });
    let core0 = NodeCursor { core: 0, shard: 5 };
    assert_eq!(core0.after(7, 2), 14);
    assert_eq!(core0.after(0, 2), 1, "core 1's start");
    let core1 = NodeCursor { core: 1, shard: 5 };
    assert_eq!(core1.after(7, 2), 15);
    assert_eq!(core1.after(0, 2), 0, "done after the last core");
    assert_eq!(NodeCursor { core: 0, shard: 3 }.after(0, 1), 0);
    // Any u64 decodes to a real core.
    assert_eq!(
        NodeCursor::decode(u64::MAX, 3).core,
        (u64::MAX % 3) as usize
    );
}

#[test]
fn scan_errors_come_in_redis_order() {
    use CmdError::{NotInteger, Syntax};
    let cmd_err = |e| Some(KeysError::Cmd(e));
    assert_eq!(
        scan_error(&[b"scan", b"x", b"count", b"0"]),
        Some(KeysError::InvalidCursor)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"count", b"0"]),
        cmd_err(Syntax)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"count", b"-1"]),
        cmd_err(Syntax)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"count", b"x"]),
        cmd_err(NotInteger)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"count", b"0", b"count", b"x"]),
        cmd_err(Syntax)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"count", b"x", b"count", b"0"]),
        cmd_err(NotInteger)
    );
    assert_eq!(scan_error(&[b"scan", b"0", b"count"]), cmd_err(Syntax));
    assert_eq!(scan_error(&[b"scan", b"0", b"match"]), cmd_err(Syntax));
    assert_eq!(scan_error(&[b"scan", b"0", b"type"]), cmd_err(Syntax));
    assert_eq!(
        scan_error(&[b"scan", b"0", b"bogus", b"1"]),
        cmd_err(Syntax)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"count", b"1", b"bogus"]),
        cmd_err(Syntax)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"type", b"hash", b"count", b"0"]),
        cmd_err(Syntax)
    );
    assert_eq!(
        scan_error(&[b"scan", b"0", b"CoUnT", b"3", b"MATCH", b"*", b"type", b"x"]),
        None
    );
}

#[test]
fn scan_options_are_read_as_redis_reads_them() {
    let parse = |line: &[&[u8]]| Request::parse(NodeCmd::Scan, line, 2).unwrap().unwrap();
    let r = parse(&[b"scan", b"0"]);
    assert_eq!(
        r.ask,
        Ask::Scan {
            cursor: 0,
            count: DEFAULT_COUNT,
            pattern: None,
            kind: None,
        }
    );
    assert!(r.keep);
    // The last MATCH and TYPE win; names compare up to a NUL, as strcasecmp.
    let r = parse(&[
        b"scan",
        b"7",
        b"match",
        b"a*",
        b"count\0x",
        b"3",
        b"match",
        b"b*",
        b"type",
        b"STRING\0z",
    ]);
    let want = Ask::Scan {
        cursor: 3,
        count: 3,
        pattern: Some(Box::from(&b"b*"[..])),
        kind: Some(Type::String),
    };
    assert_eq!(
        (r.ask.clone(), r.at, r.keep),
        (want, NodeCursor { core: 1, shard: 3 }, true)
    );
    let hashes = parse(&[b"scan", b"0", b"type", b"hash"]);
    assert!(
        hashes.keep
            && matches!(
                hashes.ask,
                Ask::Scan {
                    kind: Some(Type::Hash),
                    ..
                }
            )
    );
    assert!(!parse(&[b"scan", b"0", b"type", b"string", b"type", b""]).keep);
    assert!(!parse(&[b"scan", b"0", b"type", b"stream"]).keep);
    assert_eq!(r.cores(2), 1..2);
    let keys = Request::parse(NodeCmd::Keys, &[b"keys", b"*"], 2)
        .unwrap()
        .unwrap();
    assert_eq!(keys.cores(2), 0..2);
    assert_eq!(Request::parse(NodeCmd::DbSize, &[b"dbsize"], 2), Ok(None));
}

#[test]
fn keys_concatenates_every_core_and_matches_globs() {
    let all: Vec<Vec<u8>> = [&b""[..], b"a", b"ab", b"b", b"h?llo", b"hello", b"x*y"]
        .iter()
        .map(|k| k.to_vec())
        .collect();
    let mut shards = node(&all);
    assert!(shards.iter().all(|s| !s.is_empty()), "keys on both cores");
    let listed = |shards: &mut [Shard], p: &[u8]| -> HashSet<Vec<u8>> {
        let mut got = HashSet::new();
        for shard in shards.iter_mut() {
            got.extend(
                answer(shard, &Ask::Keys(p.into()), 0)
                    .keys
                    .iter()
                    .map(|k| k.to_vec()),
            );
        }
        got
    };
    let set = |ks: &[&[u8]]| ks.iter().map(|k| k.to_vec()).collect::<HashSet<_>>();
    assert_eq!(listed(&mut shards, b"*"), all.iter().cloned().collect());
    assert_eq!(listed(&mut shards, b""), set(&[b""]));
    assert_eq!(listed(&mut shards, b"a*"), set(&[b"a", b"ab"]));
    assert_eq!(listed(&mut shards, b"h\\?llo"), set(&[b"h?llo"]));
    assert_eq!(listed(&mut shards, b"h[^?]llo"), set(&[b"hello"]));
    assert_eq!(listed(&mut shards, b"x\\*y"), set(&[b"x*y"]));
    assert_eq!(listed(&mut shards, b"nope"), set(&[]));
    // The reply is one array of both cores' keys.
    let reply = run(&mut shards, &[b"keys", b"*"], 0);
    assert!(
        reply.starts_with(b"*7\r\n"),
        "{:?}",
        reply.escape_ascii().to_string()
    );
    assert_eq!(run(&mut shards, &[b"keys", b"zz*"], 0), b"*0\r\n".to_vec());
}

#[test]
fn a_full_scan_returns_every_key_while_maps_grow() {
    let stable: Vec<Vec<u8>> = (0..500).map(|i| format!("key:{i}").into_bytes()).collect();
    let mut shards = node(&stable);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut cursor = b"0".to_vec();
    let mut calls = 0;
    let mut cores_seen = HashSet::new();
    loop {
        let reply = run(&mut shards, &[b"scan", &cursor, b"count", b"5"], 0);
        let (next, keys) = parse_scan_reply(&reply);
        cores_seen.insert(NodeCursor::decode(parse_cursor(&cursor).unwrap(), 2).core);
        seen.extend(keys);
        // Other keys come and go meanwhile: the shards grow and rehash.
        for j in 0..4 {
            let k = format!("tmp:{calls}:{j}").into_bytes();
            set(&mut shards[shard_for(&k, 2)], &k, None);
        }
        let old = format!("tmp:{}:0", calls / 2).into_bytes();
        shards[shard_for(&old, 2)].del(&old, 0);
        calls += 1;
        if next == b"0" {
            break;
        }
        cursor = next;
        assert!(calls < 10_000, "the scan ends");
    }
    assert_eq!(cores_seen, HashSet::from([0, 1]));
    let grown: usize = shards.iter().map(Shard::len).sum();
    assert!(grown > stable.len() + 400, "the shards grew: {grown} keys");
    // At least once (Redis's promise): twice only where a table doubled
    // during the scan.
    for k in &stable {
        assert!(seen.iter().any(|s| s == k), "{k:?} returned");
    }
}

/// SCAN's RESP2 reply: the cursor and the keys.
fn parse_scan_reply(r: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let text = r.to_vec();
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    assert_eq!(lines.next(), Some(&b"*2"[..]));
    lines.next();
    let cursor = lines.next().unwrap().to_vec();
    let n: usize = std::str::from_utf8(&lines.next().unwrap()[1..])
        .unwrap()
        .parse()
        .unwrap();
    let keys = (0..n).map(|_| {
        lines.next();
        lines.next().unwrap().to_vec()
    });
    (cursor, keys.collect())
}

#[test]
fn scan_filters_by_match_and_type_and_reclaims_expired_matches() {
    let mut shards = node(&[b"a1".to_vec(), b"a2".to_vec(), b"b1".to_vec()]);
    let k = b"a3".to_vec();
    set(&mut shards[shard_for(&k, 2)], &k, Some(5));
    let full = |shards: &mut [Shard], extra: &[&[u8]]| {
        let mut cursor = b"0".to_vec();
        let mut keys = Vec::new();
        loop {
            let mut line: Vec<&[u8]> = vec![b"scan", &cursor];
            line.extend_from_slice(extra);
            let (next, got) = parse_scan_reply(&run(shards, &line, 10));
            keys.extend(got);
            if next == b"0" {
                keys.sort();
                return keys;
            }
            cursor = next;
        }
    };
    assert_eq!(
        full(&mut shards, &[b"type", b"hash"]),
        Vec::<Vec<u8>>::new()
    );
    let expired: u64 = shards.iter().map(|s| s.stats().expired).sum();
    assert_eq!(
        expired, 1,
        "a filter that keeps nothing still walks the shard"
    );
    assert_eq!(
        full(&mut shards, &[b"match", b"a*", b"type", b"String"]),
        [b"a1".to_vec(), b"a2".to_vec()]
    );
    assert_eq!(full(&mut shards, &[]).len(), 3);
}

#[test]
fn scan_replies_and_errors_are_redis_bytes() {
    let mut shards = node(&[]);
    assert_eq!(
        run(&mut shards, &[b"scan", b"0"], 0),
        b"*2\r\n$1\r\n1\r\n*0\r\n".to_vec()
    );
    assert_eq!(
        run(&mut shards, &[b"scan", b"1"], 0),
        b"*2\r\n$1\r\n0\r\n*0\r\n".to_vec()
    );
    assert_eq!(
        run(&mut shards, &[b"scan", b"-1"], 0),
        b"*2\r\n$1\r\n0\r\n*0\r\n".to_vec()
    );
    assert_eq!(
        run(&mut shards, &[b"scan", b"x"], 0),
        b"-ERR invalid cursor\r\n".to_vec()
    );
    assert_eq!(
        run(&mut shards, &[b"scan", b"0", b"count", b"0"], 0),
        b"-ERR syntax error\r\n".to_vec()
    );
    assert_eq!(
        run(&mut shards, &[b"scan", b"0", b"count", b"y"], 0),
        b"-ERR value is not an integer or out of range\r\n".to_vec()
    );
    assert_eq!(run(&mut shards, &[b"randomkey"], 0), b"$-1\r\n".to_vec());
    let mut out = Vec::new();
    run_held(
        NodeCmd::Keys,
        &[b"keys", b"*"],
        2,
        |_, _| None,
        &mut Reply::new(&mut out, Proto::Resp2),
    );
    assert_eq!(
        out,
        b"-ERR shard unavailable (node shutting down)\r\n".to_vec()
    );
}

#[test]
fn randomkey_weighs_cores_by_their_keys() {
    assert_eq!(pick(&[3, 1], 0), Some(0));
    assert_eq!(pick(&[3, 1], 2), Some(0));
    assert_eq!(pick(&[3, 1], 3), Some(1));
    assert_eq!(pick(&[0, 2], 0), Some(1));
    assert_eq!(pick(&[3, 1], 4), None);
    // One key on one core: always that key, whichever core is empty.
    for k in [&b"only"[..], b"other", b""] {
        let mut shards = node(&[k.to_vec()]);
        let mut want = Vec::new();
        Reply::new(&mut want, Proto::Resp2).bulk(k);
        for _ in 0..20 {
            assert_eq!(run(&mut shards, &[b"randomkey"], 0), want);
        }
    }
    // A shard whose keys have all expired weighs nothing.
    let mut shards = node(&[b"live".to_vec()]);
    let dead = (0..)
        .map(|i| format!("dead{i}").into_bytes())
        .find(|k| shard_for(k, 2) != shard_for(b"live", 2))
        .unwrap();
    set(&mut shards[shard_for(&dead, 2)], &dead, Some(5));
    for _ in 0..20 {
        assert_eq!(
            run(&mut shards, &[b"randomkey"], 10),
            b"$4\r\nlive\r\n".to_vec()
        );
    }
}
