//! `cachectl cluster` with real processes: start, serve, restart a dead child,
//! stop with nothing left behind.

mod common;

use cachectl::roles::origin::sample;
use common::seed::{client, gone, SLOW};
use common::{connect, poll_until, redis_conn, run_cachectl, LineConn, Proc};
use serde_json::Value;
use std::net::SocketAddr;

/// One row of the table `cachectl cluster` prints.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    pid: u32,
    addr: SocketAddr,
}

/// A `cachectl cluster` child process and its table.
struct Cluster {
    proc: Proc,
    rows: Vec<Row>,
}

impl Cluster {
    const READY: &'static str = "cachectl cluster ready: lb ";

    fn start(extra: &[&str]) -> Cluster {
        let mut args = vec!["cluster", "--auto-ports"];
        args.extend_from_slice(extra);
        let proc = Proc::cachectl(&args, Cluster::READY);
        // The table is printed in one write right before the ready line.
        let rows: Vec<Row> = proc
            .stdout()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let (name, pid, addr) = (w.next()?, w.next()?, w.next()?);
                let known = name == "origin" || name == "lb" || name.starts_with("node");
                known.then_some(())?;
                Some(Row {
                    name: name.to_string(),
                    pid: pid.parse().ok()?,
                    addr: addr.parse().ok()?,
                })
            })
            .collect();
        Cluster { proc, rows }
    }

    fn row(&self, name: &str) -> &Row {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.rows))
    }

    fn pids(&self) -> Vec<u32> {
        self.rows.iter().map(|r| r.pid).collect()
    }
}

fn assert_all_gone(pids: &[u32]) {
    poll_until(SLOW, "every child process gone", || {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| !gone(p)).collect();
        left.is_empty()
            .then_some(())
            .ok_or(format!("still running: {left:?}"))
    });
}

#[test]
fn cluster_starts_serves_and_stops_everything() {
    let mut c = Cluster::start(&["--nodes", "2", "--cache-types", "lru,ttl"]);
    let names: Vec<&str> = c.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["origin", "lb", "node1", "node2"],
        "{}",
        c.proc.stdout()
    );
    let nodes = [c.row("node1").addr, c.row("node2").addr];

    // The LB leases its nodes.
    let lease = LineConn::new(connect(c.row("lb").addr)).request(b"LEASE");
    let leased: SocketAddr = lease.strip_prefix("NODE:").expect(&lease).parse().unwrap();
    assert!(nodes.contains(&leased), "{leased} not in {nodes:?}");
    // A node reads through to the origin.
    let v: String = redis::cmd("GET")
        .arg("article/5")
        .query(&mut redis_conn(nodes[1]))
        .unwrap();
    assert_eq!(v, sample::article(5));
    // And the client, through the LB.
    let lb = c.row("lb").addr.to_string();
    let (code, out, _) = client(&["--lb", &lb, "--get", "user/3"]);
    assert_eq!((code, out.trim_end()), (0, sample::user(3).as_str()));
    // Children's output is streamed with their name.
    poll_until(SLOW, "prefixed child logs", || {
        let err = c.proc.stderr();
        (err.contains("[node1] ") && err.contains("[lb] "))
            .then_some(())
            .ok_or(err)
    });

    let pids = c.pids();
    assert!(c.proc.stop().success(), "{}", c.proc.output_report());
    assert_all_gone(&pids);
}

#[test]
fn cluster_restarts_a_dead_child_on_its_port() {
    let mut c = Cluster::start(&["--nodes", "2"]);
    let old = c.row("node2").clone();
    // SAFETY: kill(2) on a pid the cluster printed and still runs.
    assert_eq!(unsafe { libc::kill(old.pid as i32, libc::SIGKILL) }, 0);
    let new_pid: u32 = poll_until(SLOW, "node2 restarted", || {
        let err = c.proc.stderr();
        err.lines()
            .find_map(|l| {
                l.split_once("node2 restarted as pid ")
                    .map(|(_, p)| p.trim().parse().ok())
            })
            .flatten()
            .ok_or(err)
    });
    assert_ne!(new_pid, old.pid);
    // Same address, serving again (and read-through works on it).
    let v: String = poll_until(SLOW, "node2 serving again", || {
        let addr = old.addr;
        std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
        redis::cmd("GET")
            .arg("user/9")
            .query(&mut redis_conn(addr))
            .map_err(|e| e.to_string())
    });
    assert_eq!(v, sample::user(9));

    let mut pids = c.pids();
    pids.push(new_pid);
    assert!(c.proc.stop().success(), "{}", c.proc.output_report());
    assert_all_gone(&pids);
}

#[test]
fn cluster_stops_when_a_child_dies_under_on_exit_stop() {
    let mut c = Cluster::start(&["--nodes", "1", "--on-exit", "stop"]);
    let origin = c.row("origin").pid;
    // SAFETY: kill(2) on a pid the cluster printed and still runs.
    assert_eq!(unsafe { libc::kill(origin as i32, libc::SIGKILL) }, 0);
    let status = c
        .proc
        .wait_timeout(SLOW)
        .expect("the cluster stops by itself");
    assert_eq!(status.code(), Some(1));
    c.proc.join_stderr();
    assert!(
        c.proc.stderr().contains("origin (pid"),
        "{}",
        c.proc.stderr()
    );
    assert_all_gone(&c.pids());
}

#[test]
fn cluster_children_die_with_a_killed_cluster() {
    let mut c = Cluster::start(&["--nodes", "1"]);
    // No chance to clean up: the kernel's parent-death signal must do it.
    c.proc.kill();
    assert_all_gone(&c.pids());
}

#[test]
fn cluster_bad_flags_name_the_flag() {
    let out = run_cachectl(&["cluster", "--nodes", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nodes"));
    let out = run_cachectl(&["cluster", "--cache-types", "lru,lfu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cache-types"));
}

#[test]
fn cluster_in_proxy_mode_serves_the_client_through_the_lb() {
    let mut c = Cluster::start(&["--nodes", "2", "--lb-mode", "proxy", "--route", "key"]);
    let lb = c.row("lb").addr.to_string();
    let p = ["--lb", lb.as_str(), "--proxy"];
    let run = |extra: &[&str]| client(&[&p[..], extra].concat());
    // A miss on the node is read through from the origin.
    let (code, out, err) = run(&["--get", "article/9"]);
    // The value's bytes, then the newline the client adds.
    assert_eq!(
        (code, out),
        (0, format!("{}\n", sample::article(9))),
        "{err}"
    );
    assert_eq!(run(&["--set", "color", "blue"]).0, 0);
    assert_eq!(
        run(&["--get", "color"]),
        (0, "blue\n".into(), String::new())
    );
    let (code, out, _) = run(&["--metrics"]);
    assert_eq!(code, 0);
    let m: Value = serde_json::from_str(&out).expect("the LB's METRICS is JSON");
    assert_eq!(m["nodes_healthy"], 2, "{m}");
    let pids = c.pids();
    assert!(c.proc.stop().success(), "{}", c.proc.output_report());
    assert_all_gone(&pids);
}
