//! Cluster mode (`cachectl node --cluster`, `cachectl lb --mode cluster`):
//! every core is a Redis Cluster shard on its own port, clients are
//! redirected with `-MOVED`, the LB owns the slot map, and a slot is never
//! served by two owners. Real cluster clients (the `redis` crate's cluster
//! client, `redis-cli -c`) drive it as they would drive Redis Cluster.

mod common;

use common::cluster::{lb_cluster, wait_map, ClusterNode};
use common::{connect, Node, RespConn};
use redis::cluster::ClusterClient;
use redis::Commands;
use std::net::SocketAddr;

/// A key whose slot `CLUSTER KEYSLOT` on `conn` puts in `want`'s range.
fn key_in(conn: &mut RespConn, prefix: &str, want: impl Fn(u16) -> bool) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| want(slot(conn, k)))
        .expect("a key in the range")
}

/// A connection of the `redis` crate's cluster client, seeded with `seed`
/// (`redis://host:port/`).
fn cluster_con(seed: impl AsRef<str>) -> redis::cluster::ClusterConnection {
    ClusterClient::new(vec![seed.as_ref()])
        .unwrap()
        .get_connection()
        .unwrap()
}

fn slot(conn: &mut RespConn, key: &str) -> u16 {
    let r = conn.cmd(&format!("CLUSTER KEYSLOT {key}"));
    r.trim_start_matches(':').trim().parse().unwrap()
}

#[test]
fn a_cluster_node_serves_each_core_as_a_shard() {
    let cn = ClusterNode::start(&[]);
    let (p0, p1) = (cn.core_ports[0], cn.core_ports[1]);
    let mut c0 = cn.core(0);
    // CLUSTER SLOTS: two ranges, one per core, each naming its core's port.
    let slots = c0.cmd("CLUSTER SLOTS");
    assert!(
        slots.starts_with("*2\r\n*3\r\n:0\r\n:8191\r\n*4\r\n$9\r\n127.0.0.1\r\n"),
        "{slots:?}"
    );
    assert!(slots.contains(&format!(":{p0}\r\n")) && slots.contains(&format!(":{p1}\r\n")));
    assert!(slots.contains(":8192\r\n:16383\r\n"), "{slots:?}");
    let nodes = c0.cmd("CLUSTER NODES");
    assert!(
        nodes.contains("myself,master") && nodes.contains("0-8191"),
        "{nodes:?}"
    );
    let info = c0.cmd("CLUSTER INFO");
    assert!(
        info.contains("cluster_state:ok\r\ncluster_slots_assigned:16384"),
        "{info:?}"
    );
    let myid = c0.cmd("CLUSTER MYID");
    assert!(nodes.contains(&format!(
        "{} 127.0.0.1:{p0}@",
        &myid[myid.len() - 42..myid.len() - 2]
    )));
    assert!(c0.cmd("INFO cluster").contains("cluster_enabled:1"));
    // A key of core 1 on core 0's port: MOVED to core 1's port.
    let k1 = key_in(&mut c0, "k", |s| s >= 8192);
    let s1 = slot(&mut c0, &k1);
    assert_eq!(
        c0.cmd(&format!("SET {k1} v")),
        format!("-MOVED {s1} 127.0.0.1:{p1}\r\n")
    );
    let mut c1 = cn.core(1);
    assert_eq!(c1.cmd(&format!("SET {k1} v")), "+OK\r\n");
    // Two slots in one command: CROSSSLOT on a core port, served on the
    // node's main port, where every key of the node is.
    let k0 = key_in(&mut c0, "k", |s| s < 8192);
    assert_eq!(
        c0.cmd(&format!("MGET {k0} {k1}")),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    let mut main = cn.node.resp();
    assert_eq!(
        main.cmd(&format!("MGET {k0} {k1}")),
        "*2\r\n$-1\r\n$1\r\nv\r\n"
    );
    // Hash tags keep keys together on one core.
    let t = slot(&mut c0, "{t}");
    let tagged = if t >= 8192 { &mut c1 } else { &mut c0 };
    assert_eq!(tagged.cmd("MSET {t}a 1 {t}b 2"), "+OK\r\n");
    assert_eq!(
        tagged.cmd(&format!("CLUSTER COUNTKEYSINSLOT {t}")),
        ":2\r\n"
    );
    let listed = tagged.cmd(&format!("CLUSTER GETKEYSINSLOT {t} 1"));
    assert!(listed.starts_with("*1\r\n$4\r\n{t}"), "{listed:?}");
    assert_eq!(
        c0.cmd("CLUSTER COUNTKEYSINSLOT 16384"),
        "-ERR Invalid slot\r\n"
    );
    // Keyless keyspace commands on a core port cover that core's shard, so
    // a client summing DBSIZE over the shards counts every key once.
    let size = |c: &mut RespConn| {
        c.cmd("DBSIZE")
            .trim_start_matches(':')
            .trim()
            .parse::<i64>()
            .unwrap()
    };
    let (n0, n1, all) = (size(&mut c0), size(&mut c1), size(&mut main));
    assert_eq!((n0 + n1, all), (3, 3), "{n0} + {n1}: k1, {{t}}a and {{t}}b");
    assert_eq!(c0.cmd(&format!("KEYS {k1}")), "*0\r\n");
    assert_eq!(
        c1.cmd(&format!("KEYS {k1}")),
        format!("*1\r\n${}\r\n{k1}\r\n", k1.len())
    );
    // The LB owns the map: administrators' subcommands say so.
    let refused = c0.cmd("CLUSTER ADDSLOTS 1");
    assert!(
        refused.starts_with("-ERR CLUSTER ADDSLOTS is not available: the LB"),
        "{refused}"
    );
    assert_eq!(c0.cmd("READONLY"), "+OK\r\n");
    assert_eq!(c0.cmd("ASKING"), "+OK\r\n");
}

#[test]
fn a_plain_node_has_cluster_support_disabled() {
    let node = Node::start(&[]);
    let mut c = node.resp();
    for cmd in [
        "CLUSTER SLOTS",
        "CLUSTER INFO",
        "CLUSTER KEYSLOT a",
        "READONLY",
        "ASKING",
    ] {
        assert_eq!(
            c.cmd(cmd),
            "-ERR This instance has cluster support disabled\r\n",
            "{cmd}"
        );
    }
    assert!(c.cmd("INFO cluster").contains("cluster_enabled:0"));
}

#[test]
fn the_redis_crate_cluster_client_works_from_a_core_port_and_from_the_main_port() {
    let cn = ClusterNode::start(&[]);
    for seed in [cn.core_addr(1), cn.node.addr()] {
        let mut con = cluster_con(format!("redis://{seed}/"));
        for i in 0..200 {
            let _: () = con.set(format!("crate:{i}"), i).unwrap();
        }
        for i in 0..200 {
            let v: i64 = con.get(format!("crate:{i}")).unwrap();
            assert_eq!(v, i);
        }
        let _: () = con.set("{user7}.name", "ann").unwrap();
        let _: () = con.set("{user7}.age", "40").unwrap();
        let both: Vec<String> = con.mget(&["{user7}.name", "{user7}.age"]).unwrap();
        assert_eq!(both, ["ann", "40"]);
        let n: i64 = con.del(&["{user7}.name", "{user7}.age"]).unwrap();
        assert_eq!(n, 2);
    }
}

#[test]
fn redis_cli_follows_moved_between_cores() {
    // redis-cli comes with redis-server, which `.ci/run` installs.
    let cn = ClusterNode::start(&[]);
    let mut c0 = cn.core(0);
    let k1 = key_in(&mut c0, "cli", |s| s >= 8192);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-c", "-p", &cn.core_ports[0].to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", &k1, "followed"]), "OK");
    assert_eq!(cli(&["GET", &k1]), "followed");
}

#[test]
fn cluster_clients_bootstrap_from_the_lb_and_a_crashed_nodes_slots_are_served_again() {
    let (lb, mut nodes) = lb_cluster(2, "2s");
    // Key commands at the LB are redirected; data never flows through it.
    let mut at_lb = RespConn::new(connect(lb.addr));
    let moved = at_lb.cmd("SET foo bar");
    assert!(moved.starts_with("-MOVED 12182 127.0.0.1:"), "{moved}");
    // LEASE key names the core that owns the key, in all three forms.
    let line = lb.request("LEASE:foo");
    let owner = line
        .strip_prefix("NODE:")
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(moved.trim_end(), format!("-MOVED 12182 {owner}"));
    let resp = at_lb.cmd("LEASE foo");
    assert_eq!(resp, format!("${}\r\n{owner}\r\n", owner.len()));
    let json = lb.request(r#"{"op":"LEASE","key":"foo"}"#);
    assert_eq!(json, format!(r#"{{"node":"{owner}","ok":true}}"#));
    let mut at_owner = RespConn::new(connect(owner.parse().unwrap()));
    assert_eq!(at_owner.cmd("SET foo bar"), "+OK\r\n");
    let mut con = cluster_con(format!("redis://{}/", lb.addr));
    for i in 0..300 {
        let _: () = con.set(format!("lb:{i}"), format!("v{i}")).unwrap();
    }
    // Which keys live on the node about to crash.
    let victim: Vec<String> = nodes[1]
        .core_ports
        .iter()
        .flat_map(|&p| {
            let mut c = RespConn::new(connect(SocketAddr::from(([127, 0, 0, 1], p))));
            (0..300)
                .map(|i| format!("lb:{i}"))
                .filter(|k| c.cmd(&format!("GET {k}")).starts_with('$'))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!victim.is_empty() && victim.len() < 300, "{}", victim.len());
    nodes[1].node.proc().kill();
    // Its link was closed by its kernel: the survivor takes every slot at once.
    wait_map(&lb, &nodes[0].core_ports);
    let mut con = cluster_con(format!("redis://{}/", lb.addr));
    for i in 0..300 {
        let k = format!("lb:{i}");
        let got: Option<String> = con.get(&k).unwrap();
        if victim.contains(&k) {
            assert_eq!(got, None, "{k} died with its node (no replicas)");
        } else {
            assert_eq!(got, Some(format!("v{i}")), "{k} kept its value");
        }
    }
    nodes[0].node.assert_running();
}

#[test]
fn a_slot_that_comes_back_starts_empty() {
    let (lb, mut nodes) = lb_cluster(1, "2s");
    let seed = format!("redis://{}/", lb.addr);
    let mut con = cluster_con(seed.clone());
    for i in 0..200 {
        let _: () = con.set(format!("back:{i}"), "old").unwrap();
    }
    // A second node joins and takes half the slots, with their keys.
    let at = lb.addr.to_string();
    let mut b = ClusterNode::start(&["--lb", &at]);
    let both: Vec<u16> = nodes[0]
        .core_ports
        .iter()
        .chain(&b.core_ports)
        .copied()
        .collect();
    wait_map(&lb, &both);
    wait_owned(&[lb.addr, nodes[0].core_addr(0)], &b.core_ports);
    // It dies (SIGKILL: no time to hand anything on): its slots come back
    // to the first node, which gave their keys away.
    b.node.proc().kill();
    wait_map(&lb, &nodes[0].core_ports);
    let mut con = cluster_con(seed);
    let mut kept = 0;
    for i in 0..200 {
        let got: Option<String> = con.get(format!("back:{i}")).unwrap();
        match got.as_deref() {
            Some("old") => kept += 1,
            None => {}
            other => panic!("back:{i} = {other:?}"),
        }
    }
    // Half the slots went away and came back empty; the rest kept theirs.
    assert!(kept > 50 && kept < 150, "{kept} of 200 kept");
    nodes[0].node.assert_running();
}

#[test]
fn a_stopped_node_hands_its_slots_back_warm_with_their_latest_values() {
    let (lb, mut nodes) = lb_cluster(1, "2s");
    let seed = format!("redis://{}/", lb.addr);
    let mut con = cluster_con(seed.clone());
    const N: usize = 500;
    for i in 0..N {
        let _: () = con.set(format!("leave:{i}"), "old").unwrap();
    }
    let mut b = ClusterNode::start(&["--lb", &lb.addr.to_string()]);
    wait_owned(&[lb.addr, nodes[0].core_addr(0)], &b.core_ports);
    // Written while half of them live on the new node, some with a TTL.
    for i in 0..N {
        let _: () = con.set(format!("leave:{i}"), format!("new{i}")).unwrap();
        if i % 2 == 0 {
            let _: () = con.pexpire(format!("leave:{i}"), 600_000).unwrap();
        }
    }
    let on_b = keys_on(&b);
    assert!(on_b > N / 4, "{on_b} keys on the new node");
    // SIGTERM: it moves its slots back before it exits, cleanly.
    let status = b.node.stop();
    let log = exit_log(&mut b, Some(status));
    assert!(log.contains("every slot has moved off this node"), "{log}");
    wait_map(&lb, &nodes[0].core_ports);
    let mut con = cluster_con(seed);
    for i in 0..N {
        let k = format!("leave:{i}");
        let got: Option<String> = con.get(&k).unwrap();
        assert_eq!(got, Some(format!("new{i}")), "{k}");
        let ttl: i64 = con.pttl(&k).unwrap();
        match i % 2 {
            0 => assert!(ttl > 0, "{k}: PTTL {ttl}"),
            _ => assert_eq!(ttl, -1, "{k}"),
        }
    }
    nodes[0].node.assert_running();
}

/// What `node` logged, once it exited with `status` (`None`: it had not
/// exited), which must be a success.
fn exit_log(node: &mut ClusterNode, status: Option<std::process::ExitStatus>) -> String {
    let p = node.node.proc();
    assert!(status.is_some_and(|s| s.success()), "{}", p.output_report());
    p.join_stderr();
    p.stderr()
}

/// Keys on `node`, over all its cores (each core port counts its own).
fn keys_on(node: &ClusterNode) -> usize {
    (0..node.core_ports.len())
        .map(|c| {
            let r = node.core(c).cmd("DBSIZE");
            r.trim_start_matches(':').trim().parse::<usize>().unwrap()
        })
        .sum()
}

#[test]
fn a_node_stopped_while_slots_move_into_it_loses_none_of_their_keys() {
    let (lb, nodes) = lb_cluster(1, "2s");
    const N: usize = 40_000;
    let mut a = nodes[0].node.redis();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.set(format!("mid:{i}"), format!("v{i}")).ignore();
        }
        let _: () = pipe.query(&mut a).unwrap();
    }
    let mut b = ClusterNode::start(&["--lb", &lb.addr.to_string()]);
    // The move has started once B holds a key; stop B there for a moment
    // to see that A still holds most of B's share, then ask B to stop.
    common::poll_until(common::SLOW, "keys streaming into B", || {
        match keys_on(&b) {
            0 => Err("none yet".into()),
            n => Ok(n),
        }
    });
    b.node.proc().pause();
    let on_a = keys_on(&nodes[0]);
    // Meanwhile a transaction on A's main port with a key of a moving slot
    // is refused whole, not cut in two by the move (its keys may be on
    // both cores, so no one core can judge it as a core port's is).
    let mut main = nodes[0].node.resp();
    // Each core's own port marks the slots moving out of that core.
    let listing: String = (0..2)
        .map(|c| nodes[0].core(c).cmd("CLUSTER NODES"))
        .collect();
    let moving: Vec<u16> = listing
        .split(" [")
        .skip(1)
        .filter_map(|t| t.split_once("->-")?.0.parse().ok())
        .collect();
    assert!(!moving.is_empty(), "no slot moving out of A: {listing}");
    // (Found here, not by CLUSTER KEYSLOT: B's lease must not run out.)
    let find = |prefix: &str, want: &dyn Fn(u16) -> bool| {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|k| want(cachectl::ownership::slot_for(k.as_bytes())))
            .unwrap()
    };
    let key = find("tx:", &|s| s == moving[0]);
    let plain = find("plain:", &|s| !moving.contains(&s));
    for line in ["MULTI", &format!("SET {plain} 1"), &format!("SET {key} 1")] {
        assert!(main.cmd(line).starts_with('+'), "{line}");
    }
    assert_eq!(
        main.cmd("EXEC"),
        "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    );
    assert_eq!(
        main.cmd(&format!("EXISTS {plain}")),
        ":0\r\n",
        "nothing of it ran"
    );
    b.node.proc().signal(libc::SIGTERM);
    b.node.proc().signal(libc::SIGCONT);
    assert!(
        on_a > N * 6 / 10,
        "{on_a} of {N} keys still on A: not mid-move"
    );
    // B finishes taking the slots, then hands them back warm: every key
    // it had taken comes back with it.
    let status = b.node.proc().wait_timeout(common::STOP_TIMEOUT);
    let log = exit_log(&mut b, status);
    assert!(log.contains("every slot has moved off this node"), "{log}");
    wait_map(&lb, &nodes[0].core_ports);
    assert_eq!(keys_on(&nodes[0]), N);
    for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.get(format!("mid:{i}"));
        }
        let got: Vec<Option<String>> = pipe.query(&mut a).unwrap();
        for (i, v) in chunk.iter().zip(got) {
            assert_eq!(v, Some(format!("v{i}")), "mid:{i}");
        }
    }
}

#[test]
fn a_second_sigterm_cuts_a_leave_short() {
    let (lb, mut nodes) = lb_cluster(2, "2s");
    let mut b = nodes.pop().unwrap();
    // A leave needs the other node to take the map (a renewal, 200 ms)
    // before a key moves; the second signal comes well before that.
    // (Apart, or the kernel merges the two into one pending signal.)
    b.node.proc().signal(libc::SIGTERM);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let status = b.node.stop();
    let log = exit_log(&mut b, Some(status));
    assert!(log.contains("asked again to stop: leaving now"), "{log}");
    // Its slots are A's once its lease is over.
    wait_map(&lb, &nodes[0].core_ports);
    nodes[0].node.assert_running();
}

#[test]
fn cachectl_client_follows_the_map_from_a_lease() {
    let (lb, nodes) = lb_cluster(2, "2s");
    let at = lb.addr.to_string();
    // Keyless leases name either node; a key of the other one is MOVED to
    // its owner's core port, and the client follows.
    for i in 0..20 {
        let (code, out, err) =
            common::seed::client(&["--lb", &at, "--set", &format!("cli:{i}"), "v"]);
        assert_eq!((code, out.as_str()), (0, "OK\n"), "{err}");
    }
    for i in 0..20 {
        let (code, out, err) = common::seed::client(&["--lb", &at, "--get", &format!("cli:{i}")]);
        assert_eq!((code, out.as_str()), (0, "v\n"), "{err}");
    }
    // Every key is on its owner: the cores' DBSIZEs add up to 20.
    let total: i64 = nodes
        .iter()
        .flat_map(|n| (0..2).map(move |c| n.core(c).cmd("DBSIZE")))
        .map(|r| r.trim_start_matches(':').trim().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 20);
}

/// CLUSTER SLOTS at `at`, and the epoch CLUSTER INFO names.
fn slots_and_epoch(at: SocketAddr) -> (String, u64) {
    let mut c = RespConn::new(connect(at));
    let info = c.cmd("CLUSTER INFO");
    let epoch = info
        .lines()
        .find_map(|l| l.strip_prefix("cluster_current_epoch:"))
        .and_then(|e| e.trim().parse().ok())
        .unwrap_or_else(|| panic!("no epoch in {info:?}"));
    (c.cmd("CLUSTER SLOTS"), epoch)
}

#[test]
fn an_lb_restart_keeps_the_map_and_every_key() {
    let port = common::fixed_port().to_string();
    let flags = [
        "--mode",
        "cluster",
        "--cluster-lease",
        "3s",
        "--port",
        &port,
        "--health-interval",
        "500ms",
        "--health-timeout",
        "400ms",
    ];
    let mut lb = common::Lb::start(&flags);
    let a = ClusterNode::start(&["--lb", &lb.addr.to_string()]);
    wait_map(&lb, &a.core_ports);
    // A join, so the map is not the one a fresh LB would compute.
    let b = ClusterNode::start(&["--lb", &lb.addr.to_string()]);
    wait_owned(&[lb.addr, a.core_addr(0)], &b.core_ports);
    let all: Vec<u16> = a.core_ports.iter().chain(&b.core_ports).copied().collect();
    wait_map(&lb, &all);
    let mut con = cluster_con(format!("redis://{}/", lb.addr));
    for i in 0..300 {
        let _: () = con.set(format!("lbr:{i}"), format!("v{i}")).unwrap();
    }
    let (slots, epoch) = slots_and_epoch(lb.addr);
    assert_eq!(slots_and_epoch(b.core_addr(0)), (slots.clone(), epoch));
    // The LB dies and comes back on its port, well within the lease.
    lb.proc.kill();
    // The dead LB's listener lingers for a moment after the process is
    // reaped, while the kernel tears down its io_uring.
    common::poll_until(common::SLOW, "the LB's port to be free", || {
        std::net::TcpListener::bind(lb.addr)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    let lb = common::Lb::start(&flags);
    // It adopts the nodes' map: same owners, an epoch that goes on.
    common::poll_until(common::SLOW, "the LB carrying on the map", || {
        let (now, e) = slots_and_epoch(lb.addr);
        match now == slots && e >= epoch {
            true => Ok(()),
            false => Err(format!("epoch {e}: {now}")),
        }
    });
    // Past its quiet period the map stays, and every key is where it was.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(slots_and_epoch(lb.addr).0, slots);
    assert_eq!(slots_and_epoch(a.core_addr(1)).0, slots);
    let mut con = cluster_con(format!("redis://{}/", lb.addr));
    for i in 0..300 {
        let v: Option<String> = con.get(format!("lbr:{i}")).unwrap();
        assert_eq!(v, Some(format!("v{i}")), "lbr:{i}");
    }
}

#[test]
fn a_hung_node_stops_serving_before_its_slots_move() {
    let (lb, mut nodes) = lb_cluster(2, "1s");
    // A key core 0 of the node about to hang owns.
    let mut c = nodes[1].core(0);
    let key = (0..100_000)
        .map(|i| format!("hung{i}"))
        .find(|k| c.cmd(&format!("SET {k} old")) == "+OK\r\n")
        .unwrap();
    nodes[1].node.proc().pause();
    // Its probes fail and its lease runs out; then its slots move.
    wait_map(&lb, &nodes[0].core_ports);
    let mut con = cluster_con(format!("redis://{}/", lb.addr));
    let _: () = con.set(&key, "new").unwrap();
    // Woken, the hung node must not serve its old value: its lease is over.
    nodes[1].node.proc().signal(libc::SIGCONT);
    let got = c.cmd(&format!("GET {key}"));
    assert!(
        got.starts_with("-CLUSTERDOWN") || got.starts_with("-MOVED"),
        "the hung node answered {got:?}"
    );
    let v: String = con.get(&key).unwrap();
    assert_eq!(v, "new");
}

/// MULTI/EXEC on a core port against a one-node Redis Cluster holding every
/// slot, byte for byte: EXEC checks the keys of every queued command
/// together (`-CROSSSLOT` across slots, which discards the transaction),
/// after a queued error's EXECABORT and a failed WATCH, and counts a
/// rejected call.
#[test]
fn exec_checks_the_whole_transaction_as_redis_cluster_does() {
    let conf = std::env::temp_dir().join(format!("cachectl-rc-{}.conf", std::process::id()));
    let conf_s = conf.to_string_lossy().to_string();
    let Some(redis) =
        common::RedisServer::start(&["--cluster-enabled", "yes", "--cluster-config-file", &conf_s])
    else {
        return;
    };
    let mut r = RespConn::new(connect(redis.addr()));
    assert_eq!(r.cmd("CLUSTER ADDSLOTSRANGE 0 16383"), "+OK\r\n");
    common::poll_until(common::POLL_TIMEOUT, "cluster_state:ok", || {
        match r.cmd("CLUSTER INFO").contains("cluster_state:ok") {
            true => Ok(()),
            false => Err("not ok yet".into()),
        }
    });
    let cn = ClusterNode::start(&["--cores", "1"]);
    let mut ours = cn.core(0);
    // `a` and `b` are in different slots (15495 and 3300); `{a}x` is in a's.
    let script = [
        "MULTI",
        "SET a 1",
        "SET b 2",
        "EXEC",
        "EXEC",
        "GET a",
        "MULTI",
        "SET {a}x 1",
        "SET a 2",
        "EXEC",
        "WATCH a",
        "SET a 5",
        "MULTI",
        "SET a 1",
        "SET b 1",
        "EXEC",
        "GET a",
        "MULTI",
        "SET a 1",
        "SET nosuch",
        "SET b 1",
        "EXEC",
        "MULTI",
        "PING",
        "EXEC",
    ];
    for line in script {
        assert_eq!(ours.cmd(line), r.cmd(line), "{line}");
    }
    // Calls, rejected and failed calls (the times differ, of course).
    let counts = |c: &mut RespConn| -> Vec<String> {
        let stats = c.cmd("INFO commandstats");
        let exec = stats.lines().find(|l| l.starts_with("cmdstat_exec:"));
        let fields = exec.map(|l| l.trim_start_matches("cmdstat_exec:").split(','));
        fields
            .into_iter()
            .flatten()
            .filter(|f| !f.starts_with("usec"))
            .map(str::to_string)
            .collect()
    };
    let theirs = counts(&mut r);
    assert_eq!(counts(&mut ours), theirs);
    assert_eq!(theirs, ["calls=5", "rejected_calls=1", "failed_calls=2"]);
    drop(redis);
    let _ = std::fs::remove_file(conf);
}

/// Wait until the LB's map gives every shard on `ports` some slots, and
/// every node on `at` has that map (its CLUSTER NODES agrees).
fn wait_owned(at: &[SocketAddr], ports: &[u16]) {
    for &a in at {
        common::poll_until(
            common::SLOW,
            &format!("{ports:?} owning slots at {a}"),
            || {
                let nodes = RespConn::new(connect(a)).cmd("CLUSTER NODES");
                let owning = ports.iter().all(|p| {
                    nodes.lines().any(|l| {
                        l.contains(&format!("127.0.0.1:{p}@"))
                            && l.split(' ').nth(8).is_some_and(|r| !r.is_empty())
                    })
                });
                if owning {
                    Ok(())
                } else {
                    Err(nodes)
                }
            },
        );
    }
}

#[test]
fn a_join_moves_keys_warm_with_their_ttls_and_a_reader_never_misses() {
    let (lb, nodes) = lb_cluster(1, "2s");
    let seed = format!("redis://{}/", lb.addr);
    let mut con = cluster_con(seed.clone());
    const N: usize = 3000;
    for i in 0..N {
        let _: () = con.set(format!("warm:{i}"), format!("v{i}")).unwrap();
        if i % 3 == 0 {
            let _: () = con.pexpire(format!("warm:{i}"), 600_000).unwrap();
        }
    }
    for i in 0..50 {
        let _: () = con
            .hset_multiple(format!("warmh:{i}"), &[("f", "1"), ("g", "2")])
            .unwrap();
    }
    // A reader that goes round every key while the slots move: it may be
    // redirected (MOVED, ASK, TRYAGAIN) but must never miss or see another
    // value.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let halt = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut con = cluster_con(seed);
        let (mut reads, mut errors) = (0u64, 0u64);
        let mut i = 0;
        while !halt.load(std::sync::atomic::Ordering::Relaxed) {
            let k = format!("warm:{}", i % N);
            match con.get::<_, Option<String>>(&k) {
                Ok(v) => {
                    assert_eq!(v, Some(format!("v{}", i % N)), "{k} during the move");
                    reads += 1;
                }
                Err(_) => {
                    errors += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            i += 1;
        }
        (reads, errors)
    });
    // A writer, all through the move: INCR on counters, and DEL then SET
    // on other keys (a key deleted on the owner and written anew at the
    // target must not be overwritten by an older value in flight). An
    // error leaves that key's outcome unknown: it is not checked.
    const W: usize = 200;
    for i in 0..W {
        let _: () = con.set(format!("ctr:{i}"), 0).unwrap();
        let _: () = con.set(format!("re:{i}"), "start").unwrap();
    }
    let halt = stop.clone();
    let seed_w = format!("redis://{}/", lb.addr);
    let writer = std::thread::spawn(move || {
        let mut con = cluster_con(seed_w);
        let mut acked = vec![0i64; W];
        let mut last: Vec<Option<String>> = vec![Some("start".into()); W];
        let mut unsure = vec![false; W];
        let mut errors: Vec<String> = Vec::new();
        let mut j = 0usize;
        while !halt.load(std::sync::atomic::Ordering::Relaxed) {
            let i = j % W;
            match con.incr::<_, _, i64>(format!("ctr:{i}"), 1) {
                Ok(_) => acked[i] += 1,
                Err(_) => unsure[i] = true,
            }
            let k = format!("re:{i}");
            let v = format!("w{j}");
            let done = con
                .del::<_, i64>(&k)
                .and_then(|_| con.set::<_, _, ()>(&k, &v));
            if let Err(e) = &done {
                if errors.len() < 5 {
                    errors.push(e.to_string());
                }
            }
            last[i] = done.is_ok().then_some(v);
            j += 1;
        }
        (acked, last, unsure, errors)
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let b = ClusterNode::start(&["--lb", &lb.addr.to_string()]);
    let all = [nodes[0].core_addr(0), b.core_addr(0), lb.addr];
    wait_owned(&all, &b.core_ports);
    wait_owned(&all, &nodes[0].core_ports);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, errors) = reader.join().unwrap();
    assert!(reads > 0, "the reader read nothing");
    eprintln!("reader: {reads} reads, {errors} redirect errors during the move");
    let (acked, last, unsure, errors) = writer.join().unwrap();
    // Every key, on whichever node now owns it, with its TTL.
    let mut con = cluster_con(format!("redis://{}/", lb.addr));
    for i in 0..N {
        let k = format!("warm:{i}");
        let v: Option<String> = con.get(&k).unwrap();
        assert_eq!(v, Some(format!("v{i}")), "{k}");
        let ttl: i64 = con.pttl(&k).unwrap();
        if i % 3 == 0 {
            assert!(ttl > 0 && ttl <= 600_000, "{k}: PTTL {ttl}");
        } else {
            assert_eq!(ttl, -1, "{k}");
        }
    }
    for i in 0..50 {
        let h: std::collections::HashMap<String, String> =
            con.hgetall(format!("warmh:{i}")).unwrap();
        assert_eq!(h.len(), 2, "warmh:{i}");
    }
    let (mut checked, mut rewritten) = (0, 0);
    for i in 0..W {
        let n: i64 = con.get(format!("ctr:{i}")).unwrap();
        let v: Option<String> = con.get(format!("re:{i}")).unwrap();
        // A DEL that landed and a SET that failed leave the key gone.
        rewritten += usize::from(v.is_some());
        if !unsure[i] {
            assert_eq!(n, acked[i], "ctr:{i}: every acknowledged INCR, once");
        }
        if let Some(want) = &last[i] {
            assert_eq!(v.as_ref(), Some(want), "re:{i}: the last SET");
            checked += 1;
        }
    }
    eprintln!(
        "writer: {} INCRs acknowledged, {checked}/{W} rewritten keys checked; errors {errors:?}",
        acked.iter().sum::<i64>()
    );
    assert!(acked.iter().sum::<i64>() > 0, "the writer wrote nothing");
    // The client follows every -ASK, -MOVED and -TRYAGAIN of the move.
    assert!(
        errors.is_empty(),
        "writes failed during the move: {errors:?}"
    );
    // The keys really moved: the new node's cores hold about half.
    let on_b: usize = (0..2)
        .map(|c| {
            let r = b.core(c).cmd("DBSIZE");
            r.trim_start_matches(':').trim().parse::<usize>().unwrap()
        })
        .sum();
    assert!(
        on_b > N / 4 && on_b < 3 * N / 4,
        "{on_b} keys on the new node"
    );
    let on_a: usize = (0..2)
        .map(|c| {
            let r = nodes[0].core(c).cmd("DBSIZE");
            r.trim_start_matches(':').trim().parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(
        on_a + on_b,
        N + 50 + W + rewritten,
        "no key is on both nodes, none is lost"
    );
}
