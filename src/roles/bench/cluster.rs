//! Child processes bench starts — the embedded cluster (an LB and nodes)
//! and the client workers — and the guarantee that none outlives the run.
//!
//! Three layers make sure of that:
//! - [`ChildSet`] stops every child it started when dropped: on success, on
//!   an error return, and while unwinding from a panic. Stopping is SIGTERM
//!   (nodes and the LB exit cleanly on it), then SIGKILL after a grace period.
//! - Children run in their own process group, so a Ctrl-C at the terminal
//!   reaches only bench, which then stops them in order instead of having
//!   them die mid-reply.
//! - Each child has `PR_SET_PDEATHSIG = SIGKILL`: if bench itself is killed
//!   (SIGKILL, OOM) the kernel kills the children. Linux ties that signal
//!   to the spawning *thread*, so children are only spawned from the main
//!   thread.

use super::resp_reply::{self, Reply};
use crate::secret::SecretFile;
use anyhow::{bail, Context};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long a child gets to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long children get to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long the LB gets to admit every node.
const ADMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChildExit {
    /// Role and index, e.g. `node 2`.
    pub role: String,
    /// Process id.
    pub pid: u32,
    /// Exit code, if it exited by itself.
    pub code: Option<i32>,
    /// Signal that ended it, if any.
    pub signal: Option<i32>,
    /// Whether bench had to SIGKILL it after the grace period.
    pub killed: bool,
}

impl ChildExit {
    /// A clean exit: code 0, not killed.
    pub fn clean(&self) -> bool {
        self.code == Some(0) && !self.killed
    }
}

struct Kid {
    role: String,
    child: Child,
    exit: Option<ChildExit>,
}

/// Children that are stopped (and reaped) when the set is dropped.
#[derive(Default)]
pub struct ChildSet {
    kids: Vec<Kid>,
}

impl ChildSet {
    /// Spawn `cmd` as `role`, in its own process group and with a parent-death
    /// signal. Returns its index in the set.
    ///
    /// # Errors
    /// The spawn error, with the role.
    pub fn spawn(&mut self, role: &str, cmd: &mut Command) -> anyhow::Result<usize> {
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("starting {role}"))?;
        self.kids.push(Kid {
            role: role.to_string(),
            child,
            exit: None,
        });
        Ok(self.kids.len() - 1)
    }

    /// The child at `idx`.
    pub fn child(&mut self, idx: usize) -> &mut Child {
        &mut self.kids[idx].child
    }

    /// If the child at `idx` has exited, how.
    pub fn try_exit(&mut self, idx: usize) -> Option<ChildExit> {
        let kid = &mut self.kids[idx];
        if kid.exit.is_none() {
            if let Ok(Some(status)) = kid.child.try_wait() {
                kid.exit = Some(exit_of(&kid.role, kid.child.id(), status, false));
            }
        }
        kid.exit.clone()
    }

    /// Wait up to `grace` for every child to exit by itself (workers do once
    /// they have reported), then stop the rest; returns how each ended.
    pub fn wait_all(&mut self, grace: Duration) -> Vec<ChildExit> {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && (0..self.kids.len()).any(|i| self.try_exit(i).is_none())
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stop_all(STOP_GRACE)
    }

    /// SIGTERM every child still running, SIGKILL those still running after
    /// `grace`, reap them all; returns how each ended.
    pub fn stop_all(&mut self, grace: Duration) -> Vec<ChildExit> {
        for i in 0..self.kids.len() {
            if self.try_exit(i).is_none() {
                // SAFETY: kill(2) on a child we have not reaped yet, so the
                // pid cannot have been reused.
                unsafe { libc::kill(self.kids[i].child.id() as libc::pid_t, libc::SIGTERM) };
            }
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && (0..self.kids.len()).any(|i| self.try_exit(i).is_none())
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        for kid in &mut self.kids {
            if kid.exit.is_none() {
                let _ = kid.child.kill();
                let status = kid.child.wait();
                kid.exit = Some(match status {
                    Ok(s) => exit_of(&kid.role, kid.child.id(), s, true),
                    Err(_) => ChildExit {
                        role: kid.role.clone(),
                        pid: kid.child.id(),
                        code: None,
                        signal: Some(libc::SIGKILL),
                        killed: true,
                    },
                });
            }
        }
        self.kids.iter().filter_map(|k| k.exit.clone()).collect()
    }
}

impl Drop for ChildSet {
    fn drop(&mut self) {
        self.stop_all(STOP_GRACE);
    }
}

fn exit_of(role: &str, pid: u32, status: ExitStatus, killed: bool) -> ChildExit {
    ChildExit {
        role: role.to_string(),
        pid,
        code: status.code(),
        signal: status.signal(),
        killed,
    }
}

/// A `cachectl` command for a child role, logging only warnings unless the
/// user set `RUST_LOG` (dozens of children at `info` would drown the output),
/// and with mimalloc's transparent huge pages off unless the user set
/// `MIMALLOC_ALLOW_THP`.
///
/// Why no THP: every child of a C50K run touches tens of MiB of fresh
/// memory (a task or connection state per socket), and with THP each first
/// touch zeroes a whole 2 MiB page. On the 2-core VM this was measured on,
/// that zeroing took 20–40 % of the workers' and nodes' CPU in some runs
/// (`clear_page_erms` under `do_huge_pmd_anonymous_page`) and stalled nodes
/// long enough to overflow their accept queues; without THP, page faults
/// are 3–6 % and a run uses 5–20 % less CPU (docs/BENCH.md).
pub fn cachectl(args: &[&str]) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("finding the cachectl executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(args);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        cmd.env("MIMALLOC_ALLOW_THP", "0");
    }
    Ok(cmd)
}

/// Read `stdout` until a line contains `marker`; return the address after
/// it. A thread keeps draining the pipe afterwards so the child never
/// blocks (or dies of SIGPIPE) writing to it.
fn wait_ready(
    set: &mut ChildSet,
    idx: usize,
    stdout: ChildStdout,
    marker: &'static str,
    stop: &AtomicBool,
) -> anyhow::Result<SocketAddr> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { return };
            if let Some(rest) = line.split_once(marker).map(|(_, r)| r) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
                break;
            }
        }
        for _ in lines {}
    });
    let deadline = Instant::now() + READY_TIMEOUT;
    let role = set.kids[idx].role.clone();
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(addr) => {
                return addr
                    .parse()
                    .with_context(|| format!("{role} printed a bad address {addr:?}"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) | Err(mpsc::RecvTimeoutError::Timeout)
                if set.try_exit(idx).is_some() =>
            {
                let exit = set.try_exit(idx).expect("just checked");
                bail!("{role} exited before it was ready ({exit:?}); see its log above")
            }
            Err(_) if stop.load(Ordering::Relaxed) => bail!("interrupted while starting {role}"),
            Err(_) if Instant::now() > deadline => {
                bail!("{role} did not print \"{marker}\" within {READY_TIMEOUT:?}")
            }
            Err(_) => {}
        }
    }
}

/// Copy a child's stderr (its log) to ours line by line until `quiet` is
/// set, then drop its lines: once bench stops the cluster, each side
/// noticing the other go ("registration link closed") is expected, not news.
fn forward_stderr(from: ChildStderr, quiet: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if !quiet.load(Ordering::Relaxed) {
                eprintln!("{line}");
            }
        }
    });
}

/// The local cluster of the embedded default: one LB, several nodes.
pub struct Cluster {
    procs: ChildSet,
    lb: SocketAddr,
    nodes: Vec<SocketAddr>,
    quiet: Arc<AtomicBool>,
    /// The secret the LB and nodes share; last, so it is removed after
    /// `procs` has stopped them.
    _secret: SecretFile,
}

impl Cluster {
    /// Start an LB and `nodes` nodes registered with it; return once the LB
    /// has admitted every node to its lease pool.
    ///
    /// # Errors
    /// A child that fails to start or to get ready, or Ctrl-C meanwhile
    /// (everything started so far is stopped).
    pub fn start(
        nodes: usize,
        node_cores: usize,
        maxclients: usize,
        stop: &AtomicBool,
    ) -> anyhow::Result<Cluster> {
        let mut procs = ChildSet::default();
        let quiet = Arc::new(AtomicBool::new(false));
        let secret = SecretFile::generate().context("writing the cluster secret file")?;
        let backlog = crate::sys::somaxconn().unwrap_or(4096).to_string();
        let mut cmd = cachectl(&[
            "lb",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--backlog",
            &backlog,
            // Probes share two cores with 50,000 busy connections, and the
            // probe's handshake waits in the same accept queue as the run's
            // connects. The run's own cluster is not a test of failure
            // detection: an eviction there fails the run (see
            // `Cluster::evictions`), so only a node silent for 5 s counts
            // as down. A node's first probe still runs as it registers.
            "--health-interval",
            "5s",
            "--health-timeout",
            "5s",
        ])?;
        cmd.arg(crate::secret::FLAG).arg(secret.path());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let idx = procs.spawn("lb", &mut cmd)?;
        let err = procs.child(idx).stderr.take().context("lb stderr")?;
        forward_stderr(err, quiet.clone());
        let out = procs.child(idx).stdout.take().context("lb stdout")?;
        let lb = wait_ready(&mut procs, idx, out, "cachectl lb listening on ", stop)?;
        let lb_text = lb.to_string();
        let (cores, maxclients) = (node_cores.to_string(), maxclients.to_string());
        let mut addrs = Vec::with_capacity(nodes);
        for n in 0..nodes {
            let mut cmd = cachectl(&[
                "node",
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--cores",
                &cores,
                "--maxclients",
                &maxclients,
                "--backlog",
                &backlog,
                "--lb",
                &lb_text,
            ])?;
            cmd.arg(crate::secret::FLAG).arg(secret.path());
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let role = format!("node {n}");
            let idx = procs.spawn(&role, &mut cmd)?;
            let err = procs.child(idx).stderr.take().context("node stderr")?;
            forward_stderr(err, quiet.clone());
            let out = procs.child(idx).stdout.take().context("node stdout")?;
            addrs.push(wait_ready(
                &mut procs,
                idx,
                out,
                "cachectl node listening on ",
                stop,
            )?);
        }
        let cluster = Cluster {
            procs,
            lb,
            nodes: addrs,
            quiet,
            _secret: secret,
        };
        cluster.wait_admitted(stop)?;
        Ok(cluster)
    }

    /// The LB's address.
    pub fn lb(&self) -> SocketAddr {
        self.lb
    }

    /// The nodes' addresses.
    pub fn nodes(&self) -> &[SocketAddr] {
        &self.nodes
    }

    /// Poll the LB's METRICS until it counts every node healthy.
    fn wait_admitted(&self, stop: &AtomicBool) -> anyhow::Result<()> {
        let deadline = Instant::now() + ADMIT_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if stop.load(Ordering::Relaxed) {
                bail!("interrupted while the LB admitted nodes");
            }
            match lb_metrics(self.lb) {
                Ok(m) if m["nodes_healthy"].as_u64() == Some(self.nodes.len() as u64) => {
                    return Ok(())
                }
                Ok(m) => last = format!("{} of {} healthy", m["nodes_healthy"], self.nodes.len()),
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("the LB did not admit all nodes within {ADMIT_TIMEOUT:?} (last: {last})")
    }

    /// Client connections open on all nodes now, by asking each node
    /// (`NODESTAT`) — the server side's own count, not the bench's.
    ///
    /// # Errors
    /// A node that does not answer.
    pub fn open_clients(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for &node in &self.nodes {
            // Our own probe connection is one of the node's clients.
            total += nodestat_clients(node)?.saturating_sub(1);
        }
        Ok(total)
    }

    /// A sentence naming the nodes the LB evicted during the run, or `None`
    /// if it evicted none (or could not be asked, which is logged).
    pub fn evictions(&self) -> Option<String> {
        let m = match lb_metrics(self.lb) {
            Ok(m) => m,
            Err(e) => {
                log::warn!("asking the LB for evictions: {e:#}");
                return None;
            }
        };
        let evicted: Vec<String> = m["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["evictions"].as_u64().unwrap_or(0) > 0)
            .map(|n| {
                let why = n["reason"]
                    .as_str()
                    .map_or(String::new(), |r| format!(", {r}"));
                format!("{} ({}×{why})", n["addr"], n["evictions"])
            })
            .collect();
        (!evicted.is_empty()).then(|| {
            format!(
                "the local cluster's LB evicted {} during the run: {}",
                if evicted.len() == 1 {
                    "a node"
                } else {
                    "nodes"
                },
                evicted.join(", ")
            )
        })
    }

    /// Stop the LB and nodes (SIGTERM, then SIGKILL after a grace period).
    pub fn stop(mut self) -> Vec<ChildExit> {
        self.quiet.store(true, Ordering::Relaxed);
        self.procs.stop_all(STOP_GRACE)
    }
}

/// Timeout for the parent's own small requests (METRICS, NODESTAT).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One request/reply on a fresh blocking connection.
fn ask(addr: SocketAddr, request: &[u8], done: impl Fn(&[u8]) -> bool) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(PROBE_TIMEOUT))?;
    s.set_write_timeout(Some(PROBE_TIMEOUT))?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !done(&buf) {
        let n = s
            .read(&mut chunk)
            .with_context(|| format!("reading from {addr}"))?;
        if n == 0 {
            bail!("{addr} closed the connection mid-reply");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf)
}

/// The LB's METRICS, parsed.
///
/// # Errors
/// No answer, or an answer that is not JSON.
pub fn lb_metrics(lb: SocketAddr) -> anyhow::Result<serde_json::Value> {
    let line = ask(lb, b"METRICS\n", |b| b.contains(&b'\n'))?;
    serde_json::from_slice(&line).context("the LB's METRICS is not JSON")
}

/// A node's `clients=` figure from `NODESTAT`.
///
/// # Errors
/// No answer, or one without `clients=`.
pub fn nodestat_clients(node: SocketAddr) -> anyhow::Result<u64> {
    let buf = ask(node, b"*1\r\n$8\r\nNODESTAT\r\n", |b| {
        !matches!(resp_reply::parse(b), Ok(None))
    })?;
    let text = match resp_reply::parse(&buf) {
        Ok(Some((Reply::Bulk(Some(text)), _))) => String::from_utf8_lossy(text).into_owned(),
        other => bail!("{node} answered NODESTAT with {other:?}"),
    };
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix("clients="))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{node}: no clients= in NODESTAT reply {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_set_stops_what_it_started() {
        let mut set = ChildSet::default();
        let idx = set
            .spawn("sleeper", Command::new("sleep").arg("600"))
            .unwrap();
        let pid = set.child(idx).id();
        assert!(set.try_exit(idx).is_none());
        let exits = set.stop_all(Duration::from_secs(10));
        assert_eq!(exits.len(), 1);
        assert_eq!(exits[0].pid, pid);
        assert_eq!(exits[0].signal, Some(libc::SIGTERM));
        assert!(!exits[0].clean());
        // Reaped: the pid no longer names a process of ours.
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                    .map_or(true, |c| !c.starts_with("sleep"))
        );
    }

    #[test]
    fn dropping_the_set_stops_children() {
        let pid = {
            let mut set = ChildSet::default();
            let idx = set
                .spawn("sleeper", Command::new("sleep").arg("600"))
                .unwrap();
            set.child(idx).id()
        };
        let gone = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .map_or(true, |c| !c.starts_with("sleep"));
        assert!(gone, "sleep {pid} survived its ChildSet");
    }

    #[test]
    fn a_clean_exit_is_recorded() {
        let mut set = ChildSet::default();
        set.spawn("true", &mut Command::new("true")).unwrap();
        let exits = set.wait_all(Duration::from_secs(30));
        assert!(exits[0].clean(), "{exits:?}");
    }
}
