//! The parent's side of a run: start the worker processes, start them all
//! at one moment, open the `--hold` barrier once every worker is full, show
//! progress, and merge what they report.

use super::cluster::Cluster;
use super::tally::{Latencies, Tally};
use super::wire::{Control, Event, Job, Progress};
use crate::roles::children::{self, ChildExit, ChildSet};
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long workers get to start their executors and say ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long workers get to report after being told to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// What the `--hold` barrier saw.
#[derive(Clone, Debug)]
pub struct HoldCheck {
    /// Tasks, each of which must hold one connection at the barrier.
    pub tasks: u64,
    /// Connects that succeeded.
    pub connected: u64,
    /// Connections the workers held open at the barrier, re-checked there.
    pub held: u64,
    /// Client connections the nodes themselves counted at that moment
    /// (embedded cluster only).
    pub server_open: Option<u64>,
    /// How many more than `held` the nodes may count: the LB's health
    /// probes are clients of the nodes too (at most two in flight per node).
    pub server_slack: u64,
    /// From start until every task was connected (or failed).
    pub connect_phase: Duration,
    /// Time spent asking the nodes, excluded from the runtime.
    pub check_pause: Duration,
}

/// A finished (or interrupted) run, merged over workers.
pub struct Outcome {
    /// Counts.
    pub tally: Tally,
    /// Latencies.
    pub latencies: Latencies,
    /// From the start signal until the last worker reported, minus the
    /// barrier check pause.
    pub runtime: Duration,
    /// `--hold` only.
    pub hold: Option<HoldCheck>,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// How each worker process ended.
    pub exits: Vec<ChildExit>,
}

enum Msg {
    Event(usize, Event),
    Garbage(usize, String),
    Eof(usize),
}

/// Run `jobs`, one worker process each, to completion.
///
/// # Errors
/// A worker that cannot start, dies without reporting, or reports garbage.
/// Every worker is stopped before the error returns.
pub fn drive(
    jobs: Vec<Job>,
    stop: &AtomicBool,
    cluster: Option<&Cluster>,
) -> anyhow::Result<Outcome> {
    let n = jobs.len();
    let hold = jobs
        .iter()
        .any(|j| matches!(j.work, super::wire::Work::C50k { hold: true, .. }));
    let total_units: u64 = jobs.iter().map(units).sum();
    let mut set = ChildSet::default();
    let mut stdins: Vec<ChildStdin> = Vec::with_capacity(n);
    let (tx, rx) = mpsc::channel();
    for job in &jobs {
        let mut cmd = children::cachectl(&["bench", "--worker"])?;
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let idx = set.spawn(&format!("worker {}", job.worker), &mut cmd)?;
        let mut stdin = set.child(idx).stdin.take().context("worker stdin")?;
        let line = serde_json::to_string(job).expect("jobs always serialize");
        writeln!(stdin, "{line}").context("sending a worker its job")?;
        stdins.push(stdin);
        let stdout = set.child(idx).stdout.take().context("worker stdout")?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let msg = match serde_json::from_str(&line) {
                    Ok(ev) => Msg::Event(idx, ev),
                    Err(_) => Msg::Garbage(idx, line),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
            let _ = tx.send(Msg::Eof(idx));
        });
    }
    drop(tx);
    let tell = |stdins: &mut Vec<ChildStdin>, c: Control| {
        for s in stdins.iter_mut() {
            // A worker that died is noticed through its EOF; ignore here.
            let _ = writeln!(s, "{}", c.word());
        }
    };

    // Everyone ready, then everyone starts at once.
    let mut ready = 0;
    let deadline = Instant::now() + READY_TIMEOUT;
    while ready < n {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted while workers started");
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Msg::Event(_, Event::Ready)) => ready += 1,
            Ok(Msg::Eof(i)) => bail!(
                "worker {i} exited before it was ready ({:?})",
                set.try_exit(i)
            ),
            Ok(Msg::Garbage(i, line)) => bail!("worker {i} said {line:?}"),
            Ok(Msg::Event(i, ev)) => bail!("worker {i} sent {ev:?} before starting"),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                bail!("workers not ready within {READY_TIMEOUT:?}")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("every worker went away"),
        }
    }
    let start = Instant::now();
    tell(&mut stdins, Control::Start);

    let mut line = ProgressLine::new(total_units);
    let mut progress = vec![Progress::default(); n];
    let mut held: Vec<Option<(u64, u64)>> = vec![None; n];
    let mut done: Vec<Option<(Tally, Latencies)>> = (0..n).map(|_| None).collect();
    let mut hold_check = None;
    let mut last_done = start;
    let mut stop_sent: Option<Instant> = None;
    while done.iter().any(Option::is_none) {
        if stop.load(Ordering::Relaxed) && stop_sent.is_none() {
            tell(&mut stdins, Control::Stop);
            stop_sent = Some(Instant::now());
        }
        if stop_sent.is_some_and(|t| t.elapsed() > STOP_TIMEOUT) {
            bail!("workers did not report within {STOP_TIMEOUT:?} of being stopped");
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Msg::Event(i, Event::Progress(p))) => progress[i] = p,
            Ok(Msg::Event(
                i,
                Event::Held {
                    held: h,
                    connected: c,
                },
            )) => {
                held[i] = Some((h, c));
                if held.iter().all(Option::is_some) {
                    let connect_phase = start.elapsed();
                    let paused = Instant::now();
                    let held_total = held.iter().flatten().map(|&(h, _)| h).sum();
                    let connected = held.iter().flatten().map(|&(_, c)| c).sum();
                    let server_slack = cluster.map_or(0, |c| 2 * c.nodes().len() as u64);
                    let server_open =
                        cluster.and_then(|c| count_server_side(c, held_total, server_slack));
                    hold_check = Some(HoldCheck {
                        tasks: total_units,
                        connected,
                        held: held_total,
                        server_open,
                        server_slack,
                        connect_phase,
                        check_pause: paused.elapsed(),
                    });
                    tell(&mut stdins, Control::Go);
                }
            }
            Ok(Msg::Event(i, Event::Done { tally, latencies })) => {
                let lat = Latencies::decode(&latencies)
                    .with_context(|| format!("worker {i}'s histograms"))?;
                done[i] = Some((tally, lat));
                last_done = Instant::now();
            }
            Ok(Msg::Event(i, ev)) => bail!("worker {i} sent {ev:?} mid-run"),
            Ok(Msg::Garbage(i, text)) => bail!("worker {i} said {text:?}"),
            Ok(Msg::Eof(i)) if done[i].is_none() => {
                // Give the exit status a moment to become visible.
                std::thread::sleep(Duration::from_millis(50));
                bail!(
                    "worker {i} exited without reporting ({:?})",
                    set.try_exit(i)
                );
            }
            Ok(Msg::Eof(_)) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("every worker went away"),
        }
        let mut total = Progress::default();
        for p in &progress {
            total.add(p);
        }
        line.show(&total, start.elapsed(), false);
    }
    let mut total = Progress::default();
    for p in &progress {
        total.add(p);
    }
    line.show(&total, start.elapsed(), true);

    let mut tally = Tally::default();
    let mut latencies = Latencies::default();
    for (t, l) in done.into_iter().flatten() {
        tally.merge(&t);
        latencies.merge(&l)?;
    }
    drop(stdins);
    let exits = set.wait_all(Duration::from_secs(5));
    let pause = hold_check
        .as_ref()
        .map_or(Duration::ZERO, |h| h.check_pause);
    Ok(Outcome {
        tally,
        latencies,
        runtime: last_done.duration_since(start).saturating_sub(pause),
        hold: if hold { hold_check } else { None },
        interrupted: stop_sent.is_some(),
        exits,
    })
}

/// How long the barrier check waits for the nodes' count to agree with the
/// clients' (a completed handshake may still sit in a node's accept queue,
/// and a node notices a close only when it next reads). Generous: it is
/// only spent when the counts disagree, and it is not counted in the
/// runtime.
const CHECK_WAIT: Duration = Duration::from_secs(10);

/// Ask the nodes how many clients they have open, until that agrees with
/// what the workers hold (`held ..= held + slack`) or [`CHECK_WAIT`]
/// passes. `None` if a node won't say.
fn count_server_side(cluster: &Cluster, held: u64, slack: u64) -> Option<u64> {
    let deadline = Instant::now() + CHECK_WAIT;
    loop {
        match cluster.open_clients() {
            Ok(open) if (held..=held + slack).contains(&open) || Instant::now() > deadline => {
                return Some(open)
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                log::warn!("counting open connections on the nodes: {e:#}");
                return None;
            }
        }
    }
}

impl HoldCheck {
    /// Why the barrier did not hold every task's connection, on both
    /// sides, or `None` if it did.
    pub fn shortfall(&self) -> Option<String> {
        let mut short = Vec::new();
        if self.held < self.tasks {
            let never = self.tasks - self.connected.min(self.tasks);
            let dropped = self.connected.saturating_sub(self.held);
            short.push(format!(
                "the clients held {} of {} connections at the barrier ({} short: {never} \
                 never connected, {dropped} closed or refused by the server after connecting)",
                self.held,
                self.tasks,
                self.tasks - self.held
            ));
        }
        match self.server_open {
            Some(open) if open < self.held => short.push(format!(
                "the nodes counted {open} open client connections, {} fewer than the clients held",
                self.held - open
            )),
            Some(open) if open > self.held + self.server_slack => short.push(format!(
                "the nodes counted {open} open client connections, {} more than the clients \
                 held (beyond {} for health probes)",
                open - self.held,
                self.server_slack
            )),
            _ => {}
        }
        (!short.is_empty()).then(|| short.join("; "))
    }
}

/// The units (tasks, connections or clients) a job covers.
fn units(job: &Job) -> u64 {
    match job.work {
        super::wire::Work::C50k { count, .. } => count,
        super::wire::Work::Steady { .. } | super::wire::Work::Leases { .. } => 0,
    }
}

/// The live progress display on stderr: one rewritten line on a terminal,
/// a plain line a second otherwise (logs and CI).
struct ProgressLine {
    tty: bool,
    total: u64,
    last: Option<Instant>,
}

impl ProgressLine {
    fn new(total: u64) -> ProgressLine {
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            total,
            last: None,
        }
    }

    fn show(&mut self, p: &Progress, elapsed: Duration, last: bool) {
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        if !last && self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let of = if self.total > 0 {
            format!(" of {}", self.total)
        } else {
            String::new()
        };
        let text = format!(
            "[{:6.1}s] leased {}  connected {}  succeeded {}{}  failed {}",
            elapsed.as_secs_f64(),
            p.leased,
            p.connected,
            p.succeeded,
            of,
            p.failed
        );
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{text}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{text}");
        }
        let _ = err.flush();
    }
}
