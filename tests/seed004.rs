//! Seed 004 with real processes: `cachectl origin` (JSON lines + RESP, sample
//! data and `--data DIR`, fetch counting, latency without blocking),
//! `cachectl client` (routes, exit codes, retries, the prompt) and
//! `cachectl cluster` (start, serve, stop with nothing left behind).

mod common;

use cachectl::roles::origin::sample;
use common::{
    connect, free_port, poll_until, redis_conn, run_cachectl, LineConn, Node, Proc, CACHECTL,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Deadline for anything that involves starting processes or retries.
const SLOW: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- helpers

/// A `cachectl origin` child process.
struct Origin {
    proc: Proc,
    addr: SocketAddr,
}

impl Origin {
    const READY: &'static str = "cachectl origin listening on ";

    fn start(extra: &[&str]) -> Origin {
        let mut args = vec!["origin", "--port", "0"];
        args.extend_from_slice(extra);
        let proc = Proc::cachectl(&args, Origin::READY);
        let addr = common::addr_after(proc.ready_line(), Origin::READY)
            .unwrap_or_else(|| panic!("no address in {:?}", proc.ready_line()));
        Origin { proc, addr }
    }

    /// A JSON-lines connection.
    fn json(&self) -> JsonConn {
        JsonConn {
            reader: BufReader::new(connect(self.addr)),
        }
    }

    fn metrics(&self) -> Value {
        let m = self.json().call(&json!({"op": "METRICS"}));
        assert_eq!(m["ok"], true, "{m}");
        m["metrics"].clone()
    }
}

/// One request object per line, one response object per line.
struct JsonConn {
    reader: BufReader<TcpStream>,
}

impl JsonConn {
    fn call(&mut self, req: &Value) -> Value {
        self.raw(req.to_string().as_bytes())
    }

    /// Send `line` and a newline; read one response.
    fn raw(&mut self, line: &[u8]) -> Value {
        self.send(line);
        self.send(b"\n");
        self.read_json()
    }

    fn get(&mut self, key: &str) -> Value {
        self.call(&json!({"op": "GET", "key": key}))
    }

    /// Write without reading a response.
    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    fn read_json(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a response");
        assert!(n > 0 && line.ends_with('\n'), "connection closed: {line:?}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "cachectl-seed004-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child we start ourselves (the harness's `Proc` waits for a ready line,
/// which a client does not print); killed on drop.
struct Kid {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
}

impl Kid {
    fn spawn(args: &[&str]) -> Kid {
        let mut child = Command::new(CACHECTL)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cachectl");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Kid {
            child,
            stderr_lines: rx,
        }
    }

    /// Wait for a stderr line containing `what`.
    fn wait_stderr(&mut self, what: &str) -> String {
        let deadline = Instant::now() + SLOW;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(e) => panic!("no stderr line with {what:?}: {e}"),
            }
        }
    }

    /// Wait for the exit; returns the status and the rest of stdout.
    fn finish(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + SLOW;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "client did not finish");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (status, out)
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `cachectl client <args>`: (exit code, stdout, stderr).
fn client(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["client"];
    all.extend_from_slice(args);
    let out = run_cachectl(&all);
    (
        out.status.code().expect("client exited by itself"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `pid` is gone (no such process, or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

// ----------------------------------------------------------------- origin

#[test]
fn origin_serves_the_sample_set_in_both_protocols() {
    let origin = Origin::start(&[]);
    let mut j = origin.json();
    assert_eq!(
        j.get("article/1"),
        json!({"ok": true, "key": "article/1", "value": sample::article(1)})
    );
    assert_eq!(
        j.get("article/101"),
        json!({"ok": false, "error": "not found", "key": "article/101"})
    );
    let blob = j.get("blob/2");
    assert_eq!(blob["encoding"], "base64", "{blob}");
    assert_eq!(
        j.call(&json!({"op": "ping"})),
        json!({"ok": true, "pong": true})
    );

    let mut r = redis_conn(origin.addr);
    let user: Option<String> = redis::cmd("GET").arg("user/7").query(&mut r).unwrap();
    assert_eq!(user.as_deref(), Some(sample::user(7).as_str()));
    let missing: Option<Vec<u8>> = redis::cmd("GET").arg("user/51").query(&mut r).unwrap();
    assert_eq!(missing, None);
    let bytes: Vec<u8> = redis::cmd("GET").arg("blob/2").query(&mut r).unwrap();
    assert_eq!(bytes, sample::blob(2), "binary-safe over RESP");
    let pong: String = redis::cmd("PING").query(&mut r).unwrap();
    assert_eq!(pong, "PONG");
    let m: String = redis::cmd("METRICS").query(&mut r).unwrap();
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["role"], "origin");
    // Three GETs in each protocol.
    assert_eq!(m["fetches"], 6, "{m}");
    assert_eq!(m["hits"], 4, "{m}");
    assert_eq!(m["misses"], 2, "{m}");
}

#[test]
fn origin_counts_every_fetch_and_survives_bad_requests() {
    let origin = Origin::start(&[]);
    let mut j = origin.json();
    for bad in [
        &b"not json"[..],
        b"{\"op\":",
        b"[1,2]",
        b"{\"op\":\"SET\"}",
        b"{\"op\":\"GET\"}",
    ] {
        let reply = j.raw(bad);
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(reply["error"].as_str().is_some(), "{reply}");
    }
    // The same connection carries on.
    assert_eq!(j.get("user/1")["value"], sample::user(1));
    let dotdot = j.get("../secret");
    assert_eq!(dotdot["ok"], false);
    assert!(
        dotdot["error"].as_str().unwrap().contains("invalid key"),
        "{dotdot}"
    );
    assert_eq!(j.get("nope")["error"], "not found");
    // An over-long line is answered once and skipped; the next one works.
    let mut long = vec![b'x'; 70 * 1024];
    long.extend_from_slice(b"\n{\"op\":\"GET\",\"key\":\"article/2\"}");
    let err = j.raw(&long);
    assert!(
        err["error"].as_str().unwrap().contains("longer than"),
        "{err}"
    );
    assert_eq!(
        j.read_json(),
        json!({"ok": true, "key": "article/2", "value": sample::article(2)})
    );

    let m = origin.metrics();
    // GETs: user/1, ../secret, nope, article/2 (the missing-key GET was
    // malformed, not a fetch).
    assert_eq!(m["fetches"], 4, "{m}");
    assert_eq!(m["hits"], 2, "{m}");
    assert_eq!(m["misses"], 1, "{m}");
    assert_eq!(m["invalid_keys"], 1, "{m}");
    assert_eq!(m["protocol_errors"], 6, "{m}");

    // RESP framing errors close that connection only.
    let mut raw = connect(origin.addr);
    raw.write_all(b"*1\r\n$abc\r\n").unwrap();
    let mut got = Vec::new();
    raw.read_to_end(&mut got).unwrap();
    assert!(
        got.starts_with(b"-ERR Protocol error"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(origin.json().get("user/2")["value"], sample::user(2));
}

#[test]
fn origin_serves_a_data_dir_and_refuses_escapes() {
    let dir = TempDir::new("data");
    dir.write("article/1", b"first article");
    dir.write("deep/nested/path/page.html", b"<p>hi</p>");
    dir.write("bin/raw", &[0, 159, 146, 150, 255]);
    let outside = TempDir::new("outside");
    outside.write("secret", b"do not serve");
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("article/1"), dir.path().join("alias")).unwrap();

    let mut origin = Origin::start(&["--data", dir.path().to_str().unwrap()]);
    let mut j = origin.json();
    assert_eq!(j.get("article/1")["value"], "first article");
    assert_eq!(j.get("deep/nested/path/page.html")["value"], "<p>hi</p>");
    assert_eq!(
        j.get("alias")["value"],
        "first article",
        "symlinks inside DIR work"
    );
    assert_eq!(j.get("article/2")["error"], "not found");
    assert_eq!(
        j.get("deep/nested")["error"],
        "not found",
        "a directory is not a value"
    );
    assert_eq!(j.get("article/1/x")["error"], "not found");
    for bad in ["../outside", "deep/../../x", "/etc/passwd", "a//b", "leak"] {
        let reply = j.get(bad);
        assert_eq!(reply["ok"], false, "{bad}: {reply}");
        assert!(
            reply["error"].as_str().unwrap().starts_with("invalid key"),
            "{bad}: {reply}"
        );
    }
    let mut r = redis_conn(origin.addr);
    let raw: Vec<u8> = redis::cmd("GET").arg("bin/raw").query(&mut r).unwrap();
    assert_eq!(raw, [0, 159, 146, 150, 255]);
    let err = redis::cmd("GET")
        .arg("../outside/secret")
        .query::<Option<Vec<u8>>>(&mut r)
        .unwrap_err();
    assert!(err.to_string().contains("invalid key"), "{err}");
    // Files are read on each fetch: a change shows at once.
    dir.write("article/1", b"edited");
    assert_eq!(j.get("article/1")["value"], "edited");
    assert_eq!(origin.metrics()["invalid_keys"], 6);
    assert!(origin.proc.stop().success());
}

#[test]
fn origin_latency_does_not_block_other_clients() {
    // Long enough that both fetches are surely pending together even on a
    // loaded machine; nothing below measures time.
    let origin = Origin::start(&["--latency", "6000"]);
    let mut a = origin.json();
    let mut b = origin.json();
    a.send(b"{\"op\":\"GET\",\"key\":\"article/3\"}\n");
    b.send(b"{\"op\":\"GET\",\"key\":\"nope\"}\n");
    // While both wait out the latency, a third client is served at once,
    // and sees both fetches in flight: they overlap instead of queueing.
    poll_until(SLOW, "two fetches in flight", || {
        let m = origin.metrics();
        if m["in_flight"] == 2 {
            Ok(())
        } else {
            Err(m.to_string())
        }
    });
    assert_eq!(
        origin.json().call(&json!({"op": "PING"}))["pong"],
        true,
        "PING is answered while fetches wait"
    );
    assert_eq!(a.read_json()["value"], sample::article(3));
    assert_eq!(b.read_json()["error"], "not found");
    let m = origin.metrics();
    assert_eq!(
        (m["fetches"].as_u64(), m["in_flight"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn origin_bad_flags_name_the_flag() {
    let out = run_cachectl(&["origin", "--data", "/nonexistent/cachectl-seed004"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--data"), "{err}");
    let out = run_cachectl(&["origin", "--latency", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--latency"));
}

// ----------------------------------------------------------------- client

#[test]
fn client_target_round_trip_and_exit_codes() {
    let node = Node::start(&[]);
    let target = node.addr().to_string();
    let t = ["--target", target.as_str()];
    let run = |extra: &[&str]| client(&[&t[..], extra].concat());

    assert_eq!(
        run(&["--set", "greeting", "hello world"]),
        (0, "OK\n".into(), String::new())
    );
    assert_eq!(
        run(&["--get", "greeting"]),
        (0, "hello world\n".into(), String::new())
    );
    assert_eq!(
        run(&["--del", "greeting"]),
        (0, "(integer) 1\n".into(), String::new())
    );
    assert_eq!(
        run(&["--get", "greeting"]),
        (1, "(nil)\n".into(), String::new())
    );
    assert_eq!(
        run(&["--del", "greeting"]),
        (1, "(integer) 0\n".into(), String::new())
    );

    assert_eq!(run(&["--set", "session", "abc", "--ttl", "100"]).0, 0);
    let ttl: i64 = redis::cmd("TTL")
        .arg("session")
        .query(&mut node.redis())
        .unwrap();
    assert!((1..=100).contains(&ttl), "TTL {ttl}");

    let (code, out, _) = run(&["--metrics"]);
    assert_eq!(code, 0);
    let m: Value = serde_json::from_str(&out).expect("node METRICS is JSON");
    assert!(m.get("keys").is_some(), "{m}");

    // A server error is exit 4, on stderr: this node refuses writes past
    // its memory bound.
    let full = Node::start(&["--maxmemory", "1kb"]);
    let target = full.addr().to_string();
    let big = "x".repeat(4096);
    let (code, out, err) = client(&["--target", &target, "--set", "big", &big]);
    assert_eq!((code, out.as_str()), (4, ""));
    assert!(err.starts_with("(error) OOM"), "{err}");
}

#[test]
fn client_bad_flags_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--get", "a", "--del", "b"][..], "--get"),
        (&["--ttl", "5", "--get", "a"], "--ttl"),
        (
            &["--target", "127.0.0.1:1", "--get", "a", "--timeout", "0"],
            "--timeout",
        ),
        (&["--lb", "nowhere", "--get", "a"], "--lb"),
        (&["--metrics", "--node", "--proxy"], "--node"),
    ] {
        let (code, _, err) = client(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn client_gives_up_with_one_line_and_exit_3() {
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let (code, out, err) = client(&["--target", &addr, "--retries", "2", "--quiet", "--get", "k"]);
    assert_eq!((code, out.as_str()), (3, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("cachectl client: unavailable after 3 attempts: "),
        "{err}"
    );

    // Through an LB that has no nodes: the lease is refused, retried, and
    // the message says why.
    let lb = Proc::cachectl(&["lb", "--port", "0"], "cachectl lb listening on ");
    let lb_addr = common::addr_after(lb.ready_line(), "listening on ")
        .unwrap()
        .to_string();
    let (code, _, err) = client(&["--lb", &lb_addr, "--retries", "1", "--quiet", "--get", "k"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no healthy nodes"), "{err}");
    // Without --quiet, each retry is announced before the final line.
    let (code, _, err) = client(&["--lb", &lb_addr, "--retries", "1", "--get", "k"]);
    assert_eq!(code, 3);
    assert!(err.lines().next().unwrap().contains("retry 1/1"), "{err}");
}

#[test]
fn client_retries_until_a_node_appears() {
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let mut kid = Kid::spawn(&[
        "client",
        "--target",
        &target,
        "--retries",
        "1000",
        "--set",
        "k",
        "late",
    ]);
    // It failed at least once and is backing off...
    kid.wait_stderr("retry 1/1000");
    // ...and a node that shows up on that port gets the write.
    let port_s = port.to_string();
    let node = Node::start(&["--port", &port_s]);
    let (status, out) = kid.finish();
    assert_eq!((status.code(), out.as_str()), (Some(0), "OK\n"));
    let v: String = redis::cmd("GET").arg("k").query(&mut node.redis()).unwrap();
    assert_eq!(v, "late");
}

#[test]
fn client_leases_and_routes_around_a_dead_node() {
    // Probes are rare, and the nodes register one-shot (no liveness link),
    // so the LB keeps leasing a node after it died: the client must notice
    // and take another lease.
    let lb = Proc::cachectl(
        &[
            "lb",
            "--port",
            "0",
            "--health-interval",
            "60s",
            "--health-timeout",
            "5s",
        ],
        "cachectl lb listening on ",
    );
    let lb_sock = common::addr_after(lb.ready_line(), "listening on ").unwrap();
    let lb_addr = lb_sock.to_string();
    let mut dead = Node::start(&[]);
    let live = Node::start(&[]);
    for n in [&dead, &live] {
        let reg = format!("REGISTER:{}", n.addr());
        assert_eq!(
            LineConn::new(connect(lb_sock)).request(reg.as_bytes()),
            "OK"
        );
    }
    poll_until(SLOW, "both nodes leasable", || {
        let m = client(&["--lb", &lb_addr, "--metrics", "--quiet"]);
        let m: Value = serde_json::from_str(&m.1).map_err(|e| e.to_string())?;
        (m["nodes_healthy"] == 2).then_some(()).ok_or(m.to_string())
    });
    dead.proc().kill();
    // Round-robin hands out the dead node every other lease; every write
    // still lands, on the live node, and some took a retry to get there.
    let mut retried = 0;
    for i in 0..4 {
        let key = format!("after{i}");
        let (code, out, err) = client(&["--lb", &lb_addr, "--set", &key, "v"]);
        assert_eq!((code, out.as_str()), (0, "OK\n"), "{err}");
        retried += usize::from(err.contains("retry 1/"));
    }
    assert!(retried > 0, "no client was leased the dead node");
    let mut conn = live.redis();
    for i in 0..4 {
        let key = format!("after{i}");
        let v: Option<String> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
        assert_eq!(v.as_deref(), Some("v"), "{key} is on the live node");
    }
}

#[test]
fn client_prompt_reads_commands_from_stdin() {
    let node = Node::start(&[]);
    let mut child = Command::new(CACHECTL)
        .args(["client", "--target", &node.addr().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script =
        "set a \"b c\"\nget a\n\nGET missing\ndel a\nbogus\nset k\nping\nmetrics\nquit\nget a\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "OK",
            "b c",
            "(nil)",
            "(integer) 1",
            "(error) unknown command 'bogus' (try help)",
            "(error) usage: set KEY VALUE [TTL]",
            "PONG",
        ],
        "{stdout}"
    );
    let m: Value = serde_json::from_str(lines[7]).expect("metrics line is JSON");
    assert!(m.get("keys").is_some());
    assert_eq!(lines.len(), 8, "nothing after quit: {stdout}");
}

// ---------------------------------------------------------------- cluster

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
