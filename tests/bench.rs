//! `cachectl bench` as a user runs it: real processes, real sockets, the
//! JSON report checked for exact counts, and every process it started
//! checked to be gone afterwards.

mod common;

use common::{run_cachectl, run_cachectl_within, Node, CACHECTL};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run `cachectl bench <args> --json -` and parse stdout as the report.
fn bench_json(args: &[&str]) -> (Output, serde_json::Value) {
    let mut full = vec!["bench"];
    full.extend_from_slice(args);
    full.extend(["--json", "-"]);
    // A C50K run of a debug build takes 15–20 s on an idle 2-core machine;
    // this only catches a run that hangs.
    let out = run_cachectl_within(&full, Duration::from_secs(300));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "bench {args:?} printed no JSON report ({e}); status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Panic unless every process in the report's `processes` list is gone.
fn assert_all_gone(report: &serde_json::Value, expect_at_least: usize) {
    let procs = report["processes"].as_array().expect("processes list");
    assert!(
        procs.len() >= expect_at_least,
        "expected ≥ {expect_at_least} processes, report lists {procs:?}"
    );
    for p in procs {
        let pid = p["pid"].as_u64().expect("pid");
        // A reused pid would not be running cachectl again this soon.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let still = String::from_utf8_lossy(&cmdline).contains("cachectl");
        assert!(!still, "{} (pid {pid}) is still running", p["role"]);
        assert_eq!(p["code"], 0, "{p} did not exit cleanly");
        assert_eq!(p["killed"], false, "{p} had to be killed");
    }
}

#[test]
fn hold_500_against_the_embedded_cluster_counts_every_task() {
    let dir = std::env::temp_dir().join(format!("cachectl-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hgrm = dir.join("run.hgrm");
    let (out, r) = bench_json(&[
        "--tasks",
        "500",
        "--hold",
        "--del",
        "--nodes",
        "2",
        "--workers",
        "2",
        "--hgrm",
        hgrm.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "bench failed:\n{}", stderr(&out));
    assert_eq!(r["mode"], "c50k");
    assert_eq!(r["attempted"], 500);
    assert_eq!(r["succeeded"], 500);
    assert_eq!(r["failed"], 0);
    assert_eq!(r["unfinished"], 0);
    assert_eq!(r["failures"], serde_json::json!({}));
    // SET + GET + DEL per task.
    assert_eq!(r["commands"], 1500);
    // All 500 open at the same moment, by the clients' count and the nodes' own.
    assert_eq!(r["hold"]["held_client_side"], 500);
    // The nodes' count may include an LB health probe in flight (one per node).
    let server = r["hold"]["open_server_side"]
        .as_u64()
        .expect("nodes counted");
    assert!((500..=502).contains(&server), "nodes counted {server} open");
    let lat = &r["latency_us"];
    assert_eq!(lat["lease"]["count"], 500);
    assert_eq!(lat["connect"]["count"], 500);
    assert_eq!(lat["op"]["count"], 1500);
    for phase in ["lease", "connect", "op"] {
        let s = &lat[phase];
        let (p50, p99, max) = (s["p50"].as_u64(), s["p99"].as_u64(), s["max"].as_u64());
        assert!(p50 <= p99 && p99 <= max, "{phase}: {s}");
    }
    // 1 LB + 2 nodes + 2 workers, all exited 0 and gone.
    assert_all_gone(&r, 5);
    // The seed's table went to stderr (stdout carries the JSON).
    let err = stderr(&out);
    assert!(err.contains("Successful Task Completions : 500"), "{err}");

    let op = std::fs::read_to_string(&hgrm).expect("--hgrm file");
    assert!(op.trim_start().starts_with("Value"), "{op}");
    assert!(op.contains("Total count    =         1500]"), "{op}");
    let lease = std::fs::read_to_string(dir.join("run.lease.hgrm")).expect("lease hgrm");
    assert!(lease.contains("Total count    =          500]"), "{lease}");
    assert!(dir.join("run.connect.hgrm").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hold_500_in_cluster_mode_sends_each_task_to_its_key_s_owner() {
    let (out, r) = bench_json(&[
        "--tasks",
        "500",
        "--hold",
        "--del",
        "--nodes",
        "2",
        "--workers",
        "2",
        "--cluster",
    ]);
    assert!(out.status.success(), "bench failed:\n{}", stderr(&out));
    // A task on the wrong core would be told -MOVED, a failure here.
    assert_eq!(r["attempted"], 500);
    assert_eq!(r["succeeded"], 500);
    assert_eq!(r["failures"], serde_json::json!({}));
    assert_eq!(r["commands"], 1500);
    assert_eq!(r["settings"]["cluster"], true);
    assert_eq!(r["hold"]["held_client_side"], 500);
    assert_all_gone(&r, 5);
    let err = stderr(&out);
    assert!(err.contains("each leasing its key's owner"), "{err}");
}

#[test]
fn seed_style_leases_and_pipelined_blocks_count_every_command() {
    // --lease-conns 0: a fresh LB connection per lease, as seed 000;
    // --pipelined-block: SET, GET and DEL in one write, each reply checked.
    let (out, r) = bench_json(&[
        "--tasks",
        "300",
        "--hold",
        "--del",
        "--pipelined-block",
        "--lease-conns",
        "0",
        "--nodes",
        "1",
        "--workers",
        "2",
    ]);
    assert!(out.status.success(), "bench failed:\n{}", stderr(&out));
    assert_eq!(r["succeeded"], 300);
    assert_eq!(r["failed"], 0);
    assert_eq!(r["commands"], 900);
    assert_eq!(r["settings"]["lease_conns_per_worker"], 0);
    assert_eq!(r["settings"]["pipelined_block"], true);
    assert_eq!(r["latency_us"]["lease"]["count"], 300);
    assert_eq!(r["latency_us"]["op"]["count"], 900);
    assert_eq!(r["hold"]["held_client_side"], 300);
    assert_all_gone(&r, 4);
}

/// An LB that answers `LEASE` lines with `node` and closes each connection
/// after `per_conn` answers (1: one lease per connection, like seed 000's).
/// Returns its address and a count of the connections it accepted.
fn closing_lb(node: SocketAddr, per_conn: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            count.fetch_add(1, Ordering::Relaxed);
            std::thread::spawn(move || {
                let reply = format!("NODE:{node}\n");
                let (mut buf, mut chunk, mut answered) = (Vec::new(), [0u8; 4096], 0);
                loop {
                    while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                        buf.drain(..=nl);
                        if s.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                        answered += 1;
                        if answered == per_conn {
                            // Close gracefully, as the real LB does: FIN,
                            // then drain what the client still sends, so no
                            // reset destroys the answers in flight.
                            let _ = s.shutdown(std::net::Shutdown::Write);
                            while matches!(s.read(&mut chunk), Ok(n) if n > 0) {}
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[test]
fn pooled_leases_survive_an_lb_that_closes_connections() {
    let node = Node::start(&["--cores", "1"]);
    for per_conn in [1, 7] {
        let (lb, accepted) = closing_lb(node.addr(), per_conn);
        let lb = lb.to_string();
        let (out, r) = bench_json(&[
            "--lb",
            &lb,
            "--tasks",
            "200",
            "--hold",
            "--workers",
            "2",
            "--lease-conns",
            "2",
        ]);
        assert!(
            out.status.success(),
            "per_conn {per_conn}: bench failed:\n{}",
            stderr(&out)
        );
        assert_eq!(r["succeeded"], 200, "per_conn {per_conn}: {r}");
        assert_eq!(r["latency_us"]["lease"]["count"], 200);
        // Every lease was answered on some connection; with 7 per connection
        // that takes at least 200 / 7 of them.
        let conns = accepted.load(Ordering::Relaxed);
        assert!(
            conns >= 200 / per_conn,
            "per_conn {per_conn}: {conns} connections"
        );
        assert_all_gone(&r, 2);
    }
}

#[test]
fn steady_mode_against_a_node_verifies_values() {
    let node = Node::start(&["--cores", "1"]);
    let target = node.addr().to_string();
    let (out, r) = bench_json(&[
        "--target",
        &target,
        "--duration",
        "2s",
        "--connections",
        "8",
        "--pipeline",
        "4",
        "--ratio",
        "1:1",
        "--keyspace",
        "200",
        "--value-size",
        "40",
        "--workers",
        "2",
    ]);
    assert!(out.status.success(), "bench failed:\n{}", stderr(&out));
    assert_eq!(r["mode"], "steady");
    let ok = r["succeeded"].as_u64().unwrap();
    assert!(ok > 0, "no request succeeded: {r}");
    assert_eq!(r["failed"], 0);
    assert_eq!(r["attempted"], ok);
    assert_eq!(r["latency_us"]["op"]["count"], ok);
    assert_eq!(r["latency_us"]["lease"]["count"], 0, "direct: no leases");
    assert_eq!(r["latency_us"]["connect"]["count"], 8);
    // With 200 keys and half the requests SETs, GETs hit and were compared.
    assert!(r["hits"].as_u64().unwrap() > 0, "{r}");
    // Every key the bench wrote is on the node exactly as it wrote it, and
    // nothing else is. Uniform SETs miss one of 200 keys with probability
    // 200 × (199/200)^SETs, ≈ 4e-7 at 4,000 SETs: from there every key must
    // be present. A machine loaded enough to do fewer in 2 s may leave keys
    // unwritten, never wrong.
    let sets = ok - r["hits"].as_u64().unwrap() - r["misses"].as_u64().unwrap();
    assert!(sets > 0, "no SET in 2 s: {r}");
    let mut con = node.redis();
    let mut present = 0;
    for n in 0..200u64 {
        let key = format!("bench:40:{n}");
        let v: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
        let want: Vec<u8> = format!("{n}-").bytes().cycle().take(40).collect();
        match v {
            Some(v) => {
                assert_eq!(v, want, "{key}");
                present += 1;
            }
            None => assert!(sets < 4_000, "{key} missing after {sets} SETs: {r}"),
        }
    }
    let n: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, present, "nothing but the keyspace was written");
    assert_all_gone(&r, 2);
}

/// A RESP server on a free port that answers each command with
/// `answer(command name)` (which may also take its time), one thread per
/// connection.
fn fake_server(answer: impl Fn(&[u8]) -> &'static [u8] + Send + Sync + 'static) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some((cmd, used)) = parse_command(&buf) {
                        buf.drain(..used);
                        if s.write_all(answer(&cmd)).is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// A RESP server that answers SET with +OK and GET with the wrong value.
fn lying_server() -> SocketAddr {
    fake_server(|cmd| {
        if cmd.eq_ignore_ascii_case(b"GET") {
            b"$5\r\nwrong\r\n"
        } else {
            b"+OK\r\n"
        }
    })
}

/// The command name of one complete RESP array request, and its length.
fn parse_command(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let line = |from: usize| -> Option<(&[u8], usize)> {
        let end = buf[from..].windows(2).position(|w| w == b"\r\n")? + from;
        Some((&buf[from..end], end + 2))
    };
    let (head, mut pos) = line(0)?;
    let n: usize = std::str::from_utf8(head.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    let mut name = Vec::new();
    for i in 0..n {
        let (len, next) = line(pos)?;
        let len: usize = std::str::from_utf8(len.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        if buf.len() < next + len + 2 {
            return None;
        }
        if i == 0 {
            name = buf[next..next + len].to_vec();
        }
        pos = next + len + 2;
    }
    Some((name, pos))
}

/// A RESP server that answers SET with +OK and GET with a miss, except
/// that every reply due in `[after, after + stall)` from its first request
/// waits until the stall is over: a server that freezes once, for a known
/// time.
fn stalling_server(after: Duration, stall: Duration) -> SocketAddr {
    let epoch = std::sync::OnceLock::<Instant>::new();
    fake_server(move |cmd| {
        let t0 = *epoch.get_or_init(Instant::now);
        let (from, to) = (t0 + after, t0 + after + stall);
        let now = Instant::now();
        if now >= from && now < to {
            std::thread::sleep(to - now);
        }
        if cmd.eq_ignore_ascii_case(b"GET") {
            b"$-1\r\n"
        } else {
            b"+OK\r\n"
        }
    })
}

/// `--rate` corrects for coordinated omission: against a server that
/// freezes for 1.5 s of a 4 s run, the requests scheduled during the freeze
/// are charged the time they waited, so the high percentiles show the
/// stall. Closed loop, each connection sends nothing while it waits, so
/// the stall is one sample per connection and the percentiles miss it.
#[test]
fn rate_mode_shows_a_stall_that_closed_loop_hides() {
    let run = |rate: Option<&str>| {
        let server = stalling_server(Duration::from_secs(1), Duration::from_millis(1500));
        let target = server.to_string();
        let mut args = vec![
            "--target",
            &target,
            "--duration",
            "4s",
            "--connections",
            "4",
            "--workers",
            "1",
            "--timeout",
            "30s",
        ];
        if let Some(r) = rate {
            args.extend(["--rate", r]);
        }
        let (out, r) = bench_json(&args);
        assert!(out.status.success(), "bench {args:?}:\n{}", stderr(&out));
        // The table says which kind of latency it prints.
        let label = if rate.is_some() {
            "coordinated-omission corrected"
        } else {
            "closed loop: not corrected"
        };
        assert!(stderr(&out).contains(label), "{}", stderr(&out));
        r["latency_us"]["op"].clone()
    };
    let corrected = run(Some("2000"));
    let closed = run(None);
    eprintln!("corrected: {corrected}\nclosed loop: {closed}");
    let us = |s: &serde_json::Value, q: &str| s[q].as_u64().unwrap();
    // ~37% of the scheduled requests fall in the stall and wait 0–1.5 s:
    // p90 is about 1.1 s. Generous bounds for a loaded machine.
    assert!(us(&corrected, "p90") >= 500_000, "corrected: {corrected}");
    assert!(us(&corrected, "max") >= 1_200_000, "corrected: {corrected}");
    // Closed loop: four samples of ~1.5 s among thousands of fast ones.
    assert!(us(&closed, "max") >= 1_200_000, "closed: {closed}");
    assert!(us(&closed, "p90") < 200_000, "closed: {closed}");
    assert!(
        us(&closed, "count") > 10 * 4,
        "closed loop kept sending: {closed}"
    );
}

#[test]
fn wrong_values_are_counted_and_fail_the_run() {
    let liar = lying_server().to_string();
    let (out, r) = bench_json(&["--target", &liar, "--tasks", "40", "--workers", "2"]);
    assert!(!out.status.success(), "a run with wrong values must fail");
    assert!(stderr(&out).contains("wrong value"), "{}", stderr(&out));
    assert_eq!(r["attempted"], 40);
    assert_eq!(r["succeeded"], 0);
    assert_eq!(r["failures"]["wrong_value"], 40);
    assert_eq!(r["failed"], 40);
}

/// `--hold` is enforced, not just reported: a node that admits only 50
/// clients refuses the rest after their handshake, and the run fails naming
/// the side that fell short and by how many.
#[test]
fn a_hold_that_falls_short_fails_and_says_by_how_many() {
    let node = Node::start(&["--cores", "1", "--maxclients", "50"]);
    let target = node.addr().to_string();
    let (out, r) = bench_json(&["--target", &target, "--tasks", "150", "--workers", "2"]);
    assert!(!out.status.success(), "a short hold must fail");
    let err = stderr(&out);
    assert!(
        err.contains("--hold: not every connection was open"),
        "{err}"
    );
    let held = r["hold"]["held_client_side"].as_u64().unwrap();
    assert!(held < 150, "only 50 can be held, report says {held}");
    assert_eq!(r["hold"]["tasks"], 150);
    let short = r["hold"]["shortfall"].as_str().expect("a shortfall");
    assert!(
        short.contains(&format!("held {held} of 150")) && short.contains("short"),
        "{short}"
    );
    assert!(
        err.contains("HOLD FELL SHORT"),
        "the table says so too: {err}"
    );
}

/// An address nothing listens on: a port bound and dropped at once.
fn refused_target() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Steady mode counts a failed (re)connect apart from requests: nothing was
/// sent on it, so it is no request's outcome, yet it fails the run.
#[test]
fn steady_connect_failures_are_not_requests() {
    let target = refused_target();
    let (out, r) = bench_json(&[
        "--target",
        &target,
        "--duration",
        "500ms",
        "--connections",
        "2",
        "--workers",
        "1",
    ]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(r["attempted"], 0, "{r}");
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(r["unfinished"], 0, "{r}");
    let refused = r["connect_failures"]["connect_refused"].as_u64().unwrap();
    assert!(refused >= 2, "{r}");
    assert!(
        stderr(&out).contains("connection attempt(s) failed"),
        "{}",
        stderr(&out)
    );
}

/// The design card's own command, at full size, in both C50K modes: the
/// default holds all 50,000 connections at once, checked from both sides;
/// `--no-hold` is seed 000's churn, which used to outrun the node's client
/// count and get the only node evicted. One test, so the two runs never
/// overlap (100,000 sockets at once would only measure the machine).
#[test]
fn c50k_at_full_size_passes_in_both_modes() {
    for mode in [&[][..], &["--no-hold"][..]] {
        let mut args = vec!["--tasks", "50000"];
        args.extend_from_slice(mode);
        let (out, r) = bench_json(&args);
        assert!(
            out.status.success(),
            "bench {args:?} failed:\n{}",
            stderr(&out)
        );
        assert_eq!(r["attempted"], 50_000, "{args:?}");
        assert_eq!(r["succeeded"], 50_000, "{args:?}");
        assert_eq!(r["failed"], 0, "{args:?}");
        assert_eq!(r["commands"], 100_000, "{args:?}");
        assert!(r["tasks_per_s"].as_f64().unwrap() > 0.0, "{args:?}");
        if mode.is_empty() {
            assert_eq!(r["hold"]["held_client_side"], 50_000);
            assert!(r["hold"]["shortfall"].is_null(), "{}", r["hold"]);
        } else {
            assert!(r["hold"].is_null(), "--no-hold holds nothing");
        }
        assert_all_gone(&r, 4);
    }
}

#[test]
fn refused_connections_are_counted_by_cause() {
    let target = refused_target();
    let (out, r) = bench_json(&["--target", &target, "--tasks", "25", "--workers", "1"]);
    assert!(!out.status.success());
    assert_eq!(r["attempted"], 25);
    assert_eq!(r["failures"]["connect_refused"], 25);
    assert_eq!(r["succeeded"], 0);
}

#[test]
fn lease_only_mode_measures_the_lb() {
    let (out, r) = bench_json(&[
        "--leases-only",
        "--connections",
        "50",
        "--duration",
        "1s",
        "--workers",
        "2",
    ]);
    assert!(out.status.success(), "bench failed:\n{}", stderr(&out));
    assert_eq!(r["mode"], "leases");
    let ok = r["succeeded"].as_u64().unwrap();
    assert!(ok > 0, "{r}");
    assert_eq!(r["failed"], 0);
    assert_eq!(r["latency_us"]["lease"]["count"], ok);
    assert_eq!(r["latency_us"]["op"]["count"], 0);
    assert_all_gone(&r, 4);
}

#[test]
fn bad_flags_name_the_flag() {
    for (args, flag) in [
        (&["bench", "--tasks", "0"][..], "--tasks"),
        (&["bench", "--tasks", "5", "--duration", "1"], "--tasks"),
        (&["bench", "--hold", "--pipeline", "2"], "--hold"),
        (&["bench", "--ratio", "x"], "--ratio"),
        (&["bench", "--target", "not-an-address"], "--target"),
        (
            &["bench", "--tasks", "50000", "--hold", "--workers", "1"],
            "--workers",
        ),
        (
            &["bench", "--leases-only", "--target", "127.0.0.1:1"],
            "--target",
        ),
        (
            &["bench", "--target", "127.0.0.1:1", "--lease-conns", "2"],
            "--lease-conns",
        ),
        (
            &["bench", "--duration", "1", "--pipelined-block"],
            "--pipelined-block",
        ),
        (&["bench", "--duration", "1", "--no-hold"], "--no-hold"),
        (&["bench", "--duration", "1", "--cluster"], "--cluster"),
        (
            &["bench", "--cluster", "--target", "127.0.0.1:1"],
            "--cluster",
        ),
        (&["bench", "--hold", "--no-hold"], "--no-hold"),
    ] {
        let out = run_cachectl(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

/// Command lines of the processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // Field 4 (after the parenthesised name, which may hold spaces).
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            (ppid == pid).then(|| String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

#[test]
fn ctrl_c_stops_everything_bench_started() {
    let dir = std::env::temp_dir().join(format!("cachectl-bench-int-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let mut child = Command::new(CACHECTL)
        .args([
            "bench",
            "--duration",
            "120s",
            "--connections",
            "20",
            "--json",
            json.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the run to be under way: its progress lines go to stderr.
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 1024];
        while let Ok(n) = err.read(&mut chunk) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Workers are spawned after the cluster is ready; count this
        // bench's own (by parent pid), not those of tests running beside it.
        let workers = children_of(child.id())
            .iter()
            .filter(|cmd| cmd.contains("--worker"))
            .count();
        if workers > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "bench never started its workers");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bench did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = reader.join().unwrap();
    assert!(!status.success(), "an interrupted run exits non-zero");
    assert!(err.contains("interrupted"), "{err}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("report written")).unwrap();
    assert_eq!(r["interrupted"], true);
    assert_all_gone(&r, 3);
    let _ = std::fs::remove_dir_all(&dir);
}
