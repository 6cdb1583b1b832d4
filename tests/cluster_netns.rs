//! Cluster mode across hosts: each host is a network namespace with its own
//! address, joined by a veth link to a bridge in a "switch" namespace, so
//! the LB, two nodes and a client talk as over a network, and a host is
//! partitioned by taking its switch port down. Checked here: advertised
//! addresses, a partition (the cut-off node stops serving before its slots
//! are served elsewhere) and its healing, and `kill -9` of a node.
//!
//! Needs root and `ip netns`. Without them the test prints a notice and
//! passes, unless `CACHECTL_REQUIRE_NETNS=1` (CI sets it), which makes a
//! missing capability a failure.

mod common;

use common::{poll_until, Proc, RespConn, CACHECTL, SLOW};
use redis::cluster::ClusterClient;
use redis::Commands;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

/// Hosts by index: their address is 10.77.0.<index + 1>.
const HOSTS: [&str; 4] = ["lb", "n1", "n2", "cl"];
const LB: usize = 0;
const N1: usize = 1;
const N2: usize = 2;
const CLIENT: usize = 3;

/// The namespaces of one test run, deleted when dropped.
struct Net {
    prefix: String,
}

impl Net {
    /// Build the switch and the hosts, or say why not.
    fn build() -> Result<Net, String> {
        // SAFETY: a plain getter.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let net = Net {
            prefix: format!("cc{}", std::process::id()),
        };
        let sw = net.ns_name("sw");
        ip(&["netns", "add", &sw])?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        for (i, h) in HOSTS.iter().enumerate() {
            let ns = net.ns_name(h);
            let port = format!("v{i}");
            ip(&["netns", "add", &ns])?;
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", host_ip(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    fn ns_name(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    fn ns(&self, i: usize) -> String {
        self.ns_name(HOSTS[i])
    }

    /// Cut host `i` off the switch, or put it back.
    fn link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&[
            "-n",
            &self.ns_name("sw"),
            "link",
            "set",
            &format!("v{i}"),
            state,
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// `cachectl <args>` on host `i`, once it prints `ready`.
    fn spawn(&self, i: usize, args: &[&str], ready: &str) -> Proc {
        let ns = self.ns(i);
        let mut all = vec!["netns", "exec", &ns, CACHECTL];
        all.extend_from_slice(args);
        Proc::spawn("ip", &all, |l| l.starts_with(ready))
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in HOSTS.iter().chain(&["sw"]) {
            let _ = ip(&["netns", "del", &self.ns_name(h)]);
        }
    }
}

fn host_ip(i: usize) -> String {
    format!("10.77.0.{}", i + 1)
}

fn addr(i: usize, port: u16) -> SocketAddr {
    format!("{}:{port}", host_ip(i)).parse().unwrap()
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Move the calling thread into namespace `ns`: its sockets from now on
/// are that host's.
fn enter(ns: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("netns file");
    // SAFETY: setns on an open namespace file; affects this thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// One request on a fresh connection from host `from`'s namespace.
fn ask_from(net: &Net, from: usize, to: SocketAddr, cmd: &str) -> Result<String, String> {
    let (ns, cmd) = (net.ns(from), cmd.to_string());
    std::thread::spawn(move || {
        enter(&ns);
        let s = TcpStream::connect_timeout(&to, Duration::from_millis(500))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        Ok(RespConn::new(s).cmd(&cmd))
    })
    .join()
    .expect("the probe thread")
}

/// A connection of the `redis` crate's cluster client, seeded with the LB.
fn cluster_con(lb: SocketAddr) -> redis::cluster::ClusterConnection {
    ClusterClient::new(vec![format!("redis://{lb}/")])
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The port of core 0 and core 1 of a node whose core ports start at `base`.
fn cores(base: u16) -> [u16; 2] {
    [base, base + 1]
}

#[test]
fn a_cluster_over_network_namespaces_survives_a_partition_and_a_kill() {
    let net = match Net::build() {
        Ok(n) => n,
        Err(why) => {
            let msg = format!("cluster_netns: skipped, network namespaces unavailable: {why}");
            assert!(
                std::env::var_os("CACHECTL_REQUIRE_NETNS").is_none(),
                "{msg} (CACHECTL_REQUIRE_NETNS is set)"
            );
            eprintln!("{msg}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("cachectl-netns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, "netns test secret\n").unwrap();
    let secret = secret.to_string_lossy().to_string();
    let lb_ip = host_ip(LB);
    let _lb = net.spawn(
        LB,
        &[
            "lb",
            "--mode",
            "cluster",
            "--bind",
            &lb_ip,
            "--port",
            "7600",
            "--cluster-lease",
            "2s",
            "--health-interval",
            "500ms",
            "--health-timeout",
            "400ms",
            "--cluster-secret-file",
            &secret,
        ],
        "cachectl lb listening on ",
    );
    let lb_at = format!("{lb_ip}:7600");
    let node = |i: usize| {
        let me = host_ip(i);
        let adv = format!("{me}:7000");
        net.spawn(
            i,
            &[
                "node",
                "--cluster",
                "--bind",
                "0.0.0.0",
                "--advertise",
                &adv,
                "--port",
                "7000",
                "--core-ports",
                "7001",
                "--cores",
                "2",
                "--lb",
                &lb_at,
                "--cluster-secret-file",
                &secret,
            ],
            "cachectl node listening on ",
        )
    };
    let mut n1 = node(N1);
    let n2 = node(N2);
    // This thread is the client host from here on.
    enter(&net.ns(CLIENT));
    let lb = addr(LB, 7600);
    // Every core of both nodes, named by its advertised address.
    poll_until(SLOW, "a map of both nodes at their addresses", || {
        let mut c = RespConn::new(common::connect(lb));
        let nodes = c.cmd("CLUSTER NODES");
        let info = c.cmd("CLUSTER INFO");
        let all = [N1, N2].iter().all(|&h| {
            cores(7001)
                .iter()
                .all(|p| nodes.contains(&format!("{}:{p}@", host_ip(h))))
        });
        match all && info.contains("cluster_slots_assigned:16384") {
            true => Ok(()),
            false => Err(format!("{info}\n{nodes}")),
        }
    });
    let mut con = cluster_con(lb);
    for i in 0..200 {
        let _: () = con.set(format!("net:{i}"), format!("v{i}")).unwrap();
    }
    // A key of n2's, by the LB's CLUSTER NODES.
    let owner_of = |key: &str| -> usize {
        let slots = RespConn::new(common::connect(lb)).cmd(&format!("CLUSTER KEYSLOT {key}"));
        let slot: u16 = slots.trim_start_matches(':').trim().parse().unwrap();
        let nodes = RespConn::new(common::connect(lb)).cmd("CLUSTER NODES");
        let line = nodes
            .lines()
            .find(|l| {
                l.split(' ').skip(8).any(|r| {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    let (a, b): (u16, u16) = (a.parse().unwrap_or(1), b.parse().unwrap_or(0));
                    (a..=b).contains(&slot)
                })
            })
            .unwrap_or_else(|| panic!("no owner of {slot} in {nodes}"));
        if line.contains(&host_ip(N1)) {
            N1
        } else {
            N2
        }
    };
    let k2 = (0..200)
        .map(|i| format!("net:{i}"))
        .find(|k| owner_of(k) == N2)
        .expect("a key on n2");

    // Partition n2. Until its slots are served by n1, n2 may serve them;
    // once n1 serves one, n2 must already refuse it.
    net.link(N2, false);
    let cut = Instant::now();
    let get = format!("GET {k2}");
    let n1_core = |c: usize| addr(N1, cores(7001)[c]);
    let serves = |r: &str| r.starts_with('$');
    let mut n1_took = None;
    while cut.elapsed() < Duration::from_secs(20) {
        // n1 first, then n2: if n1 already serves the key, n2 must not.
        let on_n1 = (0..2)
            .map(|c| RespConn::new(common::connect(n1_core(c))).cmd(&get))
            .any(|r| serves(&r));
        let on_n2 = (0..2).map(|c| ask_from(&net, N2, addr(N2, cores(7001)[c]), &get));
        let n2_serving = on_n2.into_iter().flatten().any(|r| serves(&r));
        if on_n1 {
            assert!(
                !n2_serving,
                "{k2} served by n1 and by the cut-off n2 at once"
            );
            n1_took = Some(cut.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = n1_took.expect("n1 never took over n2's slots");
    eprintln!(
        "n1 served n2's slots {:.2} s after the cut",
        took.as_secs_f64()
    );
    // Not before n2's lease (2 s, renewed every 200 ms) could have ended.
    assert!(took >= Duration::from_millis(1500), "after {took:?}");
    // n2, cut off, refuses everything.
    let refused = ask_from(&net, N2, addr(N2, 7001), &get).unwrap();
    assert!(refused.starts_with("-CLUSTERDOWN"), "{refused}");

    // New writes while n2 is away, once the LB shows the new map (it shows
    // a map only once its owners apply it), then the partition heals.
    poll_until(SLOW, "the LB showing n1 as the only owner", || {
        let nodes = RespConn::new(common::connect(lb)).cmd("CLUSTER NODES");
        let n2_owns = nodes.lines().any(|l| {
            l.contains(&host_ip(N2)) && l.split(' ').nth(8).is_some_and(|r| !r.is_empty())
        });
        match n2_owns {
            false => Ok(()),
            true => Err(nodes),
        }
    });
    let mut con = cluster_con(lb);
    for i in 0..200 {
        let _: () = con.set(format!("net:{i}"), format!("w{i}")).unwrap();
    }
    net.link(N2, true);
    // n2 rejoins: the keys it serves again came from n1, warm; it never
    // serves its values from before the partition.
    poll_until(SLOW, "n2 owning slots again", || {
        let nodes = RespConn::new(common::connect(lb)).cmd("CLUSTER NODES");
        let back = nodes.lines().any(|l| {
            l.contains(&host_ip(N2)) && l.split(' ').nth(8).is_some_and(|r| !r.is_empty())
        });
        let moving = RespConn::new(common::connect(n1_core(0))).cmd("CLUSTER NODES");
        match back && moving.contains(&host_ip(N2)) {
            true => Ok(()),
            false => Err(nodes),
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let mut con = cluster_con(lb);
    for i in 0..200 {
        let v: Option<String> = con.get(format!("net:{i}")).unwrap();
        assert_eq!(
            v,
            Some(format!("w{i}")),
            "net:{i} after the partition healed"
        );
    }

    // kill -9 n1: its link is reset by its kernel, so n2 serves every
    // slot at once (well within a lease), and n2's own keys keep theirs.
    let on_n2: Vec<usize> = (0..200)
        .filter(|i| owner_of(&format!("net:{i}")) == N2)
        .collect();
    n1.kill();
    let killed = Instant::now();
    poll_until(SLOW, "n2 owning every slot", || {
        let info = RespConn::new(common::connect(addr(N2, 7001))).cmd("CLUSTER INFO");
        let nodes = RespConn::new(common::connect(lb)).cmd("CLUSTER NODES");
        match info.contains("cluster_slots_assigned:16384") && !nodes.contains(&host_ip(N1)) {
            true => Ok(()),
            false => Err(nodes),
        }
    });
    eprintln!(
        "n2 owned every slot {:.2} s after kill -9 of n1",
        killed.elapsed().as_secs_f64()
    );
    let mut con = cluster_con(lb);
    for i in on_n2 {
        let v: Option<String> = con.get(format!("net:{i}")).unwrap();
        assert_eq!(v, Some(format!("w{i}")), "net:{i} on the survivor");
    }
    drop(n2);
    let _ = std::fs::remove_dir_all(&dir);
}
