//! Running the cluster's children: spawn each with piped output, stream
//! that output with a `[name]` prefix, wait for ready lines, print the
//! table, then watch for exits (restart / leave / stop) and signals.
//!
//! Everything that spawns runs on the main thread: `PR_SET_PDEATHSIG` is tied
//! to the spawning thread, so a child spawned from a short-lived thread
//! would be killed when that thread ends.

use super::{Kind, OnExit, Spec};
use crate::roles::children::{lb_metrics, ChildExit, ChildSet, STOP_GRACE};
use crate::secret::{self, SecretFile};
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long a child gets to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the LB gets to admit every node.
const ADMIT_TIMEOUT: Duration = Duration::from_secs(30);
/// A child that lived this long before dying starts its backoff afresh.
const STABLE: Duration = Duration::from_secs(30);
/// Deaths within [`STABLE`] of starting, in a row, before we give up.
const MAX_QUICK_DEATHS: u32 = 5;
/// How often the main loop looks at children and the signal flag.
const TICK: Duration = Duration::from_millis(100);

/// A ready line seen by a stdout-forwarding thread.
struct Ready {
    member: usize,
    pid: u32,
    addr: SocketAddr,
}

/// One planned child and its current process.
struct Member {
    spec: Spec,
    /// Index of the current process in the [`ChildSet`].
    idx: Option<usize>,
    pid: u32,
    addr: Option<SocketAddr>,
    started: Instant,
    quick_deaths: u32,
    restart_at: Option<Instant>,
}

struct Cluster {
    members: Vec<Member>,
    procs: ChildSet,
    ready_tx: mpsc::Sender<Ready>,
    ready_rx: mpsc::Receiver<Ready>,
    stop: Arc<AtomicBool>,
    /// The cluster secret the LB and the nodes share, generated for this
    /// run (removed when the cluster stops).
    secret: SecretFile,
}

/// Write one line to stdout or stderr, ignoring a closed pipe: losing our
/// output must not take the children down with us.
fn emit(to_stderr: bool, line: &[u8]) {
    let _ = if to_stderr {
        std::io::stderr().lock().write_all(line)
    } else {
        std::io::stdout().lock().write_all(line)
    };
}

/// Copy `from` line by line to our stdout/stderr as `[name] line`; on
/// stdout, report the ready line through `ready`.
fn forward(
    from: impl Read + Send + 'static,
    name: String,
    to_stderr: bool,
    ready: Option<(mpsc::Sender<Ready>, usize, u32, &'static str)>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if let Some((tx, member, pid, marker)) = &ready {
                let text = String::from_utf8_lossy(&line);
                if let Some((_, rest)) = text.split_once(marker) {
                    if let Some(addr) = rest.split_whitespace().next().and_then(|a| a.parse().ok())
                    {
                        let _ = tx.send(Ready {
                            member: *member,
                            pid: *pid,
                            addr,
                        });
                    }
                }
            }
            if !line.ends_with(b"\n") {
                line.push(b'\n');
            }
            let mut out = format!("[{name}] ").into_bytes();
            out.extend_from_slice(&line);
            emit(to_stderr, &out);
        }
    });
}

impl Cluster {
    /// The address of the first member of `kind`, once ready.
    fn addr_of(&self, kind: Kind) -> Option<SocketAddr> {
        self.members.iter().find(|m| m.spec.kind == kind)?.addr
    }

    /// Start member `i` (again). Nodes get `--lb` and `--origin`.
    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("finding the cachectl executable")?;
        let m = &self.members[i];
        // A restart reuses the port the member got, so its address in the
        // table (and in the LB) stays true.
        let port = m.addr.map_or(m.spec.port, |a| a.port());
        let mut cmd = Command::new(exe);
        cmd.arg(m.spec.kind.role())
            .arg("--port")
            .arg(port.to_string())
            .args(&m.spec.args);
        if m.spec.kind == Kind::Node {
            let lb = self
                .addr_of(Kind::Lb)
                .context("the LB has no address yet")?;
            let origin = self
                .addr_of(Kind::Origin)
                .context("the origin has no address yet")?;
            cmd.arg("--lb").arg(lb.to_string());
            cmd.arg("--origin").arg(origin.to_string());
        }
        // Unless the member was given a secret of its own.
        let own = m.spec.args.iter().any(|a| a.starts_with(secret::FLAG));
        if matches!(m.spec.kind, Kind::Node | Kind::Lb) && !own {
            cmd.arg(secret::FLAG).arg(self.secret.path());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let name = m.spec.name.clone();
        let marker = m.spec.kind.ready_marker();
        let idx = self.procs.spawn(&name, &mut cmd)?;
        let child = self.procs.child(idx);
        let pid = child.id();
        let out = child.stdout.take().context("child stdout")?;
        let err = child.stderr.take().context("child stderr")?;
        forward(
            out,
            name.clone(),
            false,
            Some((self.ready_tx.clone(), i, pid, marker)),
        );
        forward(err, name, true, None);
        let m = &mut self.members[i];
        m.idx = Some(idx);
        m.pid = pid;
        m.started = Instant::now();
        m.restart_at = None;
        Ok(())
    }

    /// Record ready lines that arrived within `wait`.
    fn take_ready(&mut self, wait: Duration) {
        let Ok(first) = self.ready_rx.recv_timeout(wait) else {
            return;
        };
        let mut next = Some(first);
        while let Some(r) = next {
            let m = &mut self.members[r.member];
            // A line from a process that was since replaced is stale.
            if m.pid == r.pid {
                let again = m.addr.is_some();
                m.addr = Some(r.addr);
                if again {
                    log::info!("{} is back on {} (pid {})", m.spec.name, r.addr, r.pid);
                }
            }
            next = self.ready_rx.try_recv().ok();
        }
    }

    /// The exit of member `i`'s current process, if it has exited.
    fn exited(&mut self, i: usize) -> Option<ChildExit> {
        let idx = self.members[i].idx?;
        self.procs.try_exit(idx)
    }

    /// Start member `i` and wait for its ready line.
    fn start_and_wait(&mut self, i: usize) -> anyhow::Result<()> {
        self.spawn(i)?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let name = self.members[i].spec.name.clone();
        while self.members[i].addr.is_none() {
            if let Some(exit) = self.exited(i) {
                bail!(
                    "{name} exited before it was ready ({}); see its output above",
                    how(&exit)
                );
            }
            if self.stop.load(Ordering::Relaxed) {
                bail!("interrupted while starting {name}");
            }
            if Instant::now() > deadline {
                bail!("{name} printed no ready line within {READY_TIMEOUT:?}");
            }
            self.take_ready(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Poll the LB until it counts every node healthy.
    fn wait_admitted(&mut self) -> anyhow::Result<()> {
        let lb = self.addr_of(Kind::Lb).context("no LB")?;
        let want = self
            .members
            .iter()
            .filter(|m| m.spec.kind == Kind::Node)
            .count() as u64;
        let deadline = Instant::now() + ADMIT_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if self.stop.load(Ordering::Relaxed) {
                bail!("interrupted while the LB admitted the nodes");
            }
            if let Some((i, exit)) =
                (0..self.members.len()).find_map(|i| Some((i, self.exited(i)?)))
            {
                bail!(
                    "{} exited during start-up ({})",
                    self.members[i].spec.name,
                    how(&exit)
                );
            }
            match lb_metrics(lb) {
                Ok(m) if m["nodes_healthy"].as_u64() == Some(want) => return Ok(()),
                Ok(m) => last = format!("{} of {want} nodes healthy", m["nodes_healthy"]),
                Err(e) => last = format!("{e:#}"),
            }
            self.take_ready(Duration::from_millis(50));
        }
        bail!("the LB did not admit all nodes within {ADMIT_TIMEOUT:?} (last: {last})")
    }

    /// The table of what runs where, then the ready line, in one write.
    fn print_table(&self) {
        let mut t = String::from("cachectl cluster:\n");
        t.push_str(&format!(
            "  {:<8} {:<8} {:<22} {}\n",
            "ROLE", "PID", "ADDRESS", "NOTES"
        ));
        for m in &self.members {
            let addr = m.addr.map_or("-".into(), |a| a.to_string());
            t.push_str(&format!(
                "  {:<8} {:<8} {:<22} {}\n",
                m.spec.name, m.pid, addr, m.spec.notes
            ));
        }
        let lb = self.addr_of(Kind::Lb).map_or("-".into(), |a| a.to_string());
        t.push_str(&format!(
            "cachectl cluster ready: lb {lb} (try: cachectl client --lb {lb} --get article/1)\n"
        ));
        emit(false, t.as_bytes());
    }

    /// Handle members that exited; `Err` when the cluster must stop.
    fn reap(&mut self, on_exit: OnExit) -> anyhow::Result<()> {
        for i in 0..self.members.len() {
            let Some(exit) = self.exited(i) else { continue };
            let m = &mut self.members[i];
            m.idx = None;
            let name = m.spec.name.clone();
            match on_exit {
                OnExit::Stop => bail!(
                    "{name} (pid {}) exited: {}; stopping the cluster",
                    m.pid,
                    how(&exit)
                ),
                OnExit::Leave => {
                    log::warn!(
                        "{name} (pid {}) exited: {}; leaving it down",
                        m.pid,
                        how(&exit)
                    );
                }
                OnExit::Restart => {
                    if m.started.elapsed() >= STABLE {
                        m.quick_deaths = 0;
                    }
                    m.quick_deaths += 1;
                    if m.quick_deaths >= MAX_QUICK_DEATHS {
                        bail!(
                            "{name} died {MAX_QUICK_DEATHS} times within {STABLE:?} of starting \
                             (last: {}); stopping the cluster",
                            how(&exit)
                        );
                    }
                    let wait = Duration::from_millis(500)
                        .saturating_mul(1 << (m.quick_deaths - 1))
                        .min(Duration::from_secs(10));
                    log::warn!(
                        "{name} (pid {}) exited: {}; restarting in {wait:?}",
                        m.pid,
                        how(&exit)
                    );
                    m.restart_at = Some(Instant::now() + wait);
                }
            }
        }
        if self
            .members
            .iter()
            .all(|m| m.idx.is_none() && m.restart_at.is_none())
        {
            bail!("every child has exited");
        }
        Ok(())
    }

    /// Restart members whose backoff is over.
    fn restart_due(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        for i in 0..self.members.len() {
            if self.members[i].restart_at.is_some_and(|t| t <= now) {
                self.spawn(i)?;
                let m = &self.members[i];
                log::info!("{} restarted as pid {}", m.spec.name, m.pid);
            }
        }
        Ok(())
    }

    /// Supervise until a signal (Ok) or a failure that stops the cluster.
    fn watch(&mut self, on_exit: OnExit) -> anyhow::Result<()> {
        while !self.stop.load(Ordering::Relaxed) {
            self.take_ready(TICK);
            self.reap(on_exit)?;
            self.restart_due()?;
        }
        log::info!("stopping the cluster");
        Ok(())
    }

    /// SIGTERM everyone, SIGKILL stragglers after the grace period, and
    /// report how each ended.
    fn shutdown(&mut self) {
        for exit in self.procs.stop_all(STOP_GRACE) {
            if exit.killed {
                log::warn!(
                    "{} (pid {}) ignored SIGTERM and was killed",
                    exit.role,
                    exit.pid
                );
            }
        }
    }
}

/// How a child ended, in words.
fn how(exit: &ChildExit) -> String {
    match (exit.code, exit.signal) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown status".into(),
    }
}

/// Start `specs` in order, print the table, and supervise until a signal.
///
/// # Errors
/// A child that fails to start, or a failure that stopped the cluster;
/// every child is stopped either way.
pub fn run(specs: Vec<Spec>, on_exit: OnExit) -> anyhow::Result<()> {
    let stop = crate::sys::stop_flag()?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut cluster = Cluster {
        members: specs
            .into_iter()
            .map(|spec| Member {
                spec,
                idx: None,
                pid: 0,
                addr: None,
                started: Instant::now(),
                quick_deaths: 0,
                restart_at: None,
            })
            .collect(),
        procs: ChildSet::default(),
        ready_tx,
        ready_rx,
        stop,
        secret: SecretFile::generate().context("writing the cluster secret file")?,
    };
    // On any error below, dropping `cluster` drops the ChildSet, which stops
    // every child; shutdown() does the same explicitly and logs stragglers.
    let started = (|| {
        for i in 0..cluster.members.len() {
            cluster.start_and_wait(i)?;
        }
        cluster.wait_admitted()
    })();
    if let Err(e) = started {
        cluster.shutdown();
        return Err(e);
    }
    cluster.print_table();
    let result = cluster.watch(on_exit);
    cluster.shutdown();
    result
}
