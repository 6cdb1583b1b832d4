//! The embedded local cluster bench starts (an LB and nodes), held in a
//! [`ChildSet`] so none outlives the run (see [`crate::roles::children`]).

use super::resp_reply::{self, Reply};
use crate::roles::children::{ask, cachectl, lb_metrics, ChildExit, ChildSet, STOP_GRACE};
use crate::secret::SecretFile;
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{ChildStderr, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long a child gets to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the LB gets to admit every node.
const ADMIT_TIMEOUT: Duration = Duration::from_secs(30);

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
    let role = set.role(idx).to_string();
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
    ///
    /// With `cluster_mode` the LB runs `--mode cluster` and the nodes
    /// `--cluster` with a port per core, and this returns once every node
    /// serves under the LB's slot map (CLUSTER INFO says `ok`). A fresh
    /// LB hands out its first map only after its quiet period (one lease,
    /// see docs/CLUSTER.md), so that takes a few seconds.
    pub fn start(
        nodes: usize,
        node_cores: usize,
        maxclients: usize,
        cluster_mode: bool,
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
            // Probes every 5 s with a 5 s timeout, not the LB's 3 s and
            // 0.5 s: a node answers its probe ahead of its clients
            // (`node::conn::Queues`), but in a churning run the probe's
            // connect waits in the same kernel accept queue as thousands of
            // the run's connects, and the LB shares two CPUs with them.
            // This cluster is there to carry load, not to test failure
            // detection: an eviction fails the run.
            "--health-interval",
            "5s",
            "--health-timeout",
            "5s",
        ])?;
        cmd.arg(crate::secret::FLAG).arg(secret.path());
        if cluster_mode {
            cmd.args(["--mode", "cluster"]);
        }
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
            if cluster_mode {
                cmd.args(["--cluster", "--core-ports", "0"]);
            }
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
        if cluster_mode {
            cluster.wait_serving(stop)?;
        }
        Ok(cluster)
    }

    /// Cluster mode: poll every node until its CLUSTER INFO says
    /// `cluster_state:ok` (every slot owned, and it holds its lease), and
    /// then the LB until it shows that map (it shows a map only once the
    /// owners say they apply it), so every LEASE names a serving owner.
    fn wait_serving(&self, stop: &AtomicBool) -> anyhow::Result<()> {
        let deadline = Instant::now() + ADMIT_TIMEOUT;
        let req = b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n";
        for &node in self.nodes.iter().chain(std::iter::once(&self.lb)) {
            let mut last = String::new();
            loop {
                if stop.load(Ordering::Relaxed) {
                    bail!("interrupted while the nodes took the slot map");
                }
                if Instant::now() > deadline {
                    bail!(
                        "{node} did not serve the slot map within {ADMIT_TIMEOUT:?} (last: {last})"
                    );
                }
                let done = |b: &[u8]| !matches!(resp_reply::parse(b), Ok(None));
                match ask(node, req, done).map(|b| String::from_utf8_lossy(&b).into_owned()) {
                    Ok(info) if info.contains("cluster_state:ok") => break,
                    Ok(info) => last = info.lines().nth(1).unwrap_or("").to_string(),
                    Err(e) => last = format!("{e:#}"),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
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
