//! Child processes a role starts — bench's embedded cluster and client
//! workers, `cachectl cluster`'s LB and nodes — and the guarantee that none outlives its parent.
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
//!
//! Also the parent's own small blocking requests to them (`ask`, METRICS).

use anyhow::{bail, Context};
use serde::Serialize;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long children get to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

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

    /// The role the child at `idx` was started as.
    pub fn role(&self, idx: usize) -> &str {
        &self.kids[idx].role
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

/// Timeout for the parent's own small requests (METRICS, NODESTAT).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One request/reply on a fresh blocking connection: read until `done`
/// says the reply is whole.
///
/// # Errors
/// Connecting, writing or reading failed, or the peer closed mid-reply.
pub fn ask(
    addr: SocketAddr,
    request: &[u8],
    done: impl Fn(&[u8]) -> bool,
) -> anyhow::Result<Vec<u8>> {
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
