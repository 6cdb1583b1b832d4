//! What a run prints: seed 000's results table plus latency percentiles,
//! the same as JSON (`--json`), and HdrHistogram's percentile text format
//! (`--hgrm`) for plotting.

use super::driver::Outcome;
use super::tally::Cause;
use crate::roles::children::ChildExit;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Percentiles of one latency histogram, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample.
    pub max: u64,
}

impl Summary {
    /// Summarize `h` (all zeros when empty).
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The `--hold` barrier, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct HoldReport {
    /// Tasks, each of which had to hold a connection at the barrier.
    pub tasks: u64,
    /// Connects that succeeded.
    pub connected: u64,
    /// Connections the workers held open at the barrier, re-checked there
    /// (open, and nothing received from the server).
    pub held_client_side: u64,
    /// Connections the nodes counted open at that moment (embedded cluster;
    /// an LB health probe in flight counts too).
    pub open_server_side: Option<u64>,
    /// Start → all connected, seconds.
    pub connect_phase_s: f64,
    /// All connected → all blocks done, seconds.
    pub block_phase_s: f64,
    /// The barrier check, excluded from the runtime, seconds.
    pub check_pause_s: f64,
    /// Which side fell short and by how many; `None` when every task's
    /// connection was held and the nodes agreed. A shortfall fails the run.
    pub shortfall: Option<String>,
}

/// Succeeded units per second, under a JSON key that names the unit (seed
/// 000 printed "operations/sec" for what were tasks per second).
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    /// `tasks`, `requests` or `leases`.
    pub unit: &'static str,
    /// Per second of runtime.
    pub per_s: f64,
}

impl Serialize for Throughput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(&format!("{}_per_s", self.unit), &self.per_s)?;
        m.end()
    }
}

/// Latency summaries by phase.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyReport {
    /// Lease round trip.
    pub lease: Summary,
    /// Node TCP handshake.
    pub connect: Summary,
    /// One command.
    pub op: Summary,
}

/// Kernel TCP counters that explain slow connects, as deltas over the run.
/// They are for the whole network namespace, not just this run's sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KernelCounters {
    /// SYNs dropped because a listen queue was full (`TcpExt ListenOverflows`).
    pub listen_overflows: u64,
    /// All SYNs dropped by listeners (`TcpExt ListenDrops`).
    pub listen_drops: u64,
    /// TCP segments retransmitted (`Tcp RetransSegs`).
    pub retrans_segs: u64,
}

impl KernelCounters {
    /// Read the counters now (zeros where /proc is unreadable).
    pub fn read() -> KernelCounters {
        let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
        let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
        KernelCounters {
            listen_overflows: proc_counter(&netstat, "TcpExt:", "ListenOverflows"),
            listen_drops: proc_counter(&netstat, "TcpExt:", "ListenDrops"),
            retrans_segs: proc_counter(&snmp, "Tcp:", "RetransSegs"),
        }
    }

    /// `self - before`, per counter.
    pub fn since(&self, before: &KernelCounters) -> KernelCounters {
        KernelCounters {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            listen_drops: self.listen_drops.saturating_sub(before.listen_drops),
            retrans_segs: self.retrans_segs.saturating_sub(before.retrans_segs),
        }
    }
}

/// A counter from /proc/net/{netstat,snmp}: a header line of names and a
/// value line, both starting with `prefix`.
fn proc_counter(text: &str, prefix: &str, name: &str) -> u64 {
    let mut lines = text.lines().filter(|l| l.starts_with(prefix));
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if let Some(pos) = names.split_whitespace().position(|n| n == name) {
            return values
                .split_whitespace()
                .nth(pos)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
    }
    0
}

/// CPU time used by bench and every process it started (reaped children),
/// seconds. Unlike the runtime, this does not depend on what else the
/// machine is running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CpuUsage {
    /// User-mode seconds.
    pub user_s: f64,
    /// Kernel-mode seconds (on loopback this includes the TCP stack).
    pub sys_s: f64,
}

impl CpuUsage {
    /// This process plus its reaped children, now.
    pub fn read() -> CpuUsage {
        let mut total = CpuUsage::default();
        for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
            // SAFETY: getrusage fills the zeroed struct we own.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(who, &mut ru) } == 0 {
                let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
                total.user_s += secs(ru.ru_utime);
                total.sys_s += secs(ru.ru_stime);
            }
        }
        total
    }

    /// `self - before`.
    pub fn since(&self, before: &CpuUsage) -> CpuUsage {
        CpuUsage {
            user_s: self.user_s - before.user_s,
            sys_s: self.sys_s - before.sys_s,
        }
    }
}

/// Everything a run reports.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `c50k`, `steady` or `leases`.
    pub mode: &'static str,
    /// Where the load went, in words.
    pub target: String,
    /// The mode's settings.
    pub settings: serde_json::Value,
    /// Worker processes.
    pub workers: usize,
    /// Units started (tasks, requests or leases).
    pub attempted: u64,
    /// Units verified.
    pub succeeded: u64,
    /// Units failed.
    pub failed: u64,
    /// Units cut short by Ctrl-C.
    pub unfinished: u64,
    /// Failures by cause.
    pub failures: BTreeMap<Cause, u64>,
    /// Failed connection attempts that were not units (steady mode's
    /// reconnects), by cause. They fail the run too.
    pub connect_failures: BTreeMap<Cause, u64>,
    /// The run, seconds (cluster start-up excluded).
    pub runtime_s: f64,
    /// Succeeded units per second of runtime, named by the unit:
    /// `tasks_per_s`, `requests_per_s` or `leases_per_s`.
    #[serde(flatten)]
    pub throughput: Throughput,
    /// Commands answered as expected.
    pub commands: u64,
    /// Commands per second of runtime.
    pub commands_per_s: f64,
    /// GET hits.
    pub hits: u64,
    /// GET misses (steady mode).
    pub misses: u64,
    /// The `--hold` barrier.
    pub hold: Option<HoldReport>,
    /// Latency percentiles, µs.
    pub latency_us: LatencyReport,
    /// Starting the embedded cluster, seconds.
    pub setup_s: f64,
    /// Every process bench started and how it ended.
    pub processes: Vec<ChildExit>,
    /// Kernel TCP counter deltas over the run.
    pub kernel: KernelCounters,
    /// CPU used by bench, its workers and its cluster, start-up included.
    pub cpu: CpuUsage,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
}

impl Report {
    /// Assemble the report of a finished run.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mode: &'static str,
        target: String,
        settings: serde_json::Value,
        workers: usize,
        outcome: &Outcome,
        setup: std::time::Duration,
        processes: Vec<ChildExit>,
        kernel: KernelCounters,
        cpu: CpuUsage,
    ) -> Report {
        let t = &outcome.tally;
        let secs = outcome.runtime.as_secs_f64().max(1e-9);
        let hold = outcome.hold.as_ref().map(|h| HoldReport {
            tasks: h.tasks,
            connected: h.connected,
            shortfall: h.shortfall(),
            held_client_side: h.held,
            open_server_side: h.server_open,
            connect_phase_s: h.connect_phase.as_secs_f64(),
            block_phase_s: (secs - h.connect_phase.as_secs_f64()).max(0.0),
            check_pause_s: h.check_pause.as_secs_f64(),
        });
        let l = &outcome.latencies;
        let unit = match mode {
            "steady" => "requests",
            "leases" => "leases",
            _ => "tasks",
        };
        Report {
            mode,
            target,
            settings,
            workers,
            attempted: t.attempted(),
            succeeded: t.succeeded(),
            failed: t.failed(),
            unfinished: t.unfinished(),
            failures: t.failures().clone(),
            connect_failures: t.connect_failures.clone(),
            runtime_s: secs,
            throughput: Throughput {
                unit,
                per_s: t.succeeded() as f64 / secs,
            },
            commands: t.commands,
            commands_per_s: t.commands as f64 / secs,
            hits: t.hits,
            misses: t.misses,
            hold,
            latency_us: LatencyReport {
                lease: Summary::of(&l.lease),
                connect: Summary::of(&l.connect),
                op: Summary::of(&l.op),
            },
            setup_s: setup.as_secs_f64(),
            processes,
            kernel,
            cpu,
            interrupted: outcome.interrupted,
        }
    }

    /// The human-readable results: seed 000's table, then the rest.
    pub fn table(&self) -> String {
        let (attempted, ok, failed, unit) = match self.mode {
            "steady" => (
                "Total Requests Sent",
                "Verified Replies",
                "Failed Requests",
                "requests/sec",
            ),
            "leases" => (
                "Total Lease Requests",
                "Leases Granted",
                "Failed Lease Requests",
                "leases/sec",
            ),
            _ => (
                "Total Attempted Connections",
                "Successful Task Completions",
                "Failed Task Completions",
                "tasks/sec",
            ),
        };
        let mut s = String::new();
        let w = 28;
        let _ = writeln!(s, "================ SYSTEM TEST RESULTS ================");
        let _ = writeln!(s, "{attempted:<w$}: {}", self.attempted);
        let _ = writeln!(s, "{ok:<w$}: {}", self.succeeded);
        let _ = writeln!(s, "{failed:<w$}: {}", self.failed);
        let _ = writeln!(
            s,
            "{:<w$}: {:.2} seconds",
            "Total Execution Runtime", self.runtime_s
        );
        let _ = writeln!(
            s,
            "{:<w$}: {:.2} {unit}",
            "Empirical System Throughput", self.throughput.per_s
        );
        let _ = writeln!(s, "=====================================================");
        if self.unfinished > 0 {
            let _ = writeln!(s, "{:<w$}: {}", "Unfinished (interrupted)", self.unfinished);
        }
        for (cause, n) in &self.failures {
            let _ = writeln!(s, "  failed, {:<19}: {n}", cause.label());
        }
        for (cause, n) in &self.connect_failures {
            let _ = writeln!(s, "  reconnect failed, {:<9}: {n}", cause.label());
        }
        if self.mode != "leases" {
            let _ = writeln!(
                s,
                "{:<w$}: {} ({:.0} commands/sec)",
                "Commands verified", self.commands, self.commands_per_s
            );
        }
        if self.mode == "steady" {
            let _ = writeln!(
                s,
                "{:<w$}: {} hits, {} misses",
                "GETs", self.hits, self.misses
            );
        }
        if let Some(h) = &self.hold {
            let server = h.open_server_side.map_or("not checked".to_string(), |n| {
                format!("{n} counted by the nodes")
            });
            let _ = writeln!(
                s,
                "{:<w$}: {} of {} held by clients, {server}",
                "Open at once (--hold)", h.held_client_side, h.tasks
            );
            if let Some(short) = &h.shortfall {
                let _ = writeln!(s, "{:<w$}: {short}", "HOLD FELL SHORT");
            }
            let _ = writeln!(
                s,
                "{:<w$}: connect {:.2} s + blocks {:.2} s (barrier check {:.3} s not counted)",
                "Phases", h.connect_phase_s, h.block_phase_s, h.check_pause_s
            );
        }
        let _ = writeln!(s, "{:<w$}: {}", "Target", self.target);
        if self.mode == "steady" {
            let how = match self.settings["rate"].as_f64() {
                Some(_) => format!(
                    "from each request's scheduled send time (coordinated-omission corrected; \
                     sends paced on a {} µs grid, which the figures include)",
                    super::pace::TICK.as_micros()
                ),
                None => "closed loop: not corrected for coordinated omission (use --rate)".into(),
            };
            let _ = writeln!(s, "{:<w$}: {how}", "op latency");
        }
        let _ = writeln!(
            s,
            "\nLatency (µs)        count       p50       p90       p99     p99.9       max"
        );
        for (name, sum) in [
            ("lease", &self.latency_us.lease),
            ("connect", &self.latency_us.connect),
            ("op", &self.latency_us.op),
        ] {
            if sum.count > 0 {
                let _ = writeln!(
                    s,
                    "{name:<14} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    sum.count, sum.p50, sum.p90, sum.p99, sum.p999, sum.max
                );
            }
        }
        let k = &self.kernel;
        if k.listen_overflows + k.listen_drops > 0 {
            let _ = writeln!(
                s,
                "\nkernel: {} listen-queue overflows, {} SYNs dropped, {} retransmits during the run",
                k.listen_overflows, k.listen_drops, k.retrans_segs
            );
        }
        if self.cpu.user_s + self.cpu.sys_s > 0.0 {
            let _ = writeln!(
                s,
                "\nCPU used by bench and its processes: {:.2} s user + {:.2} s system",
                self.cpu.user_s, self.cpu.sys_s
            );
        }
        let clean = self.processes.iter().filter(|p| p.clean()).count();
        let _ = writeln!(
            s,
            "\nProcesses started: {} ({} workers{}); {} exited cleanly, all reaped",
            self.processes.len(),
            self.workers,
            if self.setup_s > 0.0 {
                format!(", cluster ready in {:.2} s", self.setup_s)
            } else {
                String::new()
            },
            clean
        );
        for p in self.processes.iter().filter(|p| !p.clean()) {
            let _ = writeln!(s, "  {} (pid {}) ended {:?}", p.role, p.pid, p);
        }
        s
    }
}

/// `h` in HdrHistogram's percentile-distribution text format (as
/// `outputPercentileDistribution` writes it, 5 ticks per half distance),
/// values in milliseconds as wrk2 and the HdrHistogram plotter expect.
pub fn hgrm(h: &Histogram<u64>) -> String {
    const SCALE: f64 = 1000.0; // µs → ms
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    s,
                    "{value:12.3} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
            }
        }
    }
    let sub_buckets = (2.0 * 10f64.powi(i32::from(h.sigfig())))
        .log2()
        .ceil()
        .exp2() as u64;
    let _ = writeln!(
        s,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    );
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / SCALE,
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    );
    s
}

/// The path a non-op histogram goes to: `out.hgrm` → `out.lease.hgrm`.
pub fn sibling_path(path: &std::path::Path, phase: &str) -> std::path::PathBuf {
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => path.with_file_name(format!(
            "{}.{phase}.{}",
            stem.to_string_lossy(),
            ext.to_string_lossy()
        )),
        _ => {
            let mut p = path.as_os_str().to_owned();
            p.push(format!(".{phase}"));
            p.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::bench::tally::{new_histogram, Latencies, Tally};
    use std::time::Duration;

    fn outcome() -> Outcome {
        let mut tally = Tally::default();
        tally.commands = 196;
        tally.hits = 98;
        tally.begin(100);
        (0..98).for_each(|_| tally.succeed());
        tally.fail(Cause::WrongValue);
        tally.fail(Cause::ConnectRefused);
        let mut latencies = Latencies::default();
        for v in 1..=100 {
            Latencies::record(&mut latencies.op, v * 10);
        }
        Outcome {
            tally,
            latencies,
            runtime: Duration::from_secs(2),
            hold: None,
            interrupted: false,
            exits: Vec::new(),
        }
    }

    #[test]
    fn table_has_the_seed_rows_and_every_failure_cause() {
        let r = Report::new(
            "c50k",
            "direct 127.0.0.1:1".into(),
            serde_json::json!({}),
            2,
            &outcome(),
            Duration::ZERO,
            Vec::new(),
            KernelCounters::default(),
            CpuUsage::default(),
        );
        let t = r.table();
        assert!(t.contains("Total Attempted Connections : 100"), "{t}");
        assert!(t.contains("Successful Task Completions : 98"), "{t}");
        assert!(t.contains("Failed Task Completions     : 2"), "{t}");
        assert!(
            t.contains("Total Execution Runtime     : 2.00 seconds"),
            "{t}"
        );
        assert!(t.contains("49.00 tasks/sec"), "{t}");
        assert!(t.contains("wrong value"), "{t}");
        assert!(t.contains("node: connection refused"), "{t}");
        assert_eq!(r.latency_us.op.count, 100);
        assert!(r.latency_us.op.p50 >= 495 && r.latency_us.op.p50 <= 505);
        assert_eq!(r.latency_us.lease.count, 0);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["failures"]["wrong_value"], 1);
        assert_eq!(json["tasks_per_s"], 49.0, "the unit is in the key");
        assert!(json.get("throughput_per_s").is_none());
        assert_eq!(json["latency_us"]["op"]["max"], 1000);
    }

    #[test]
    fn hgrm_is_hdrhistograms_text_format() {
        let mut h = new_histogram();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let text = hgrm(&h);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().trim_start().starts_with("Value"));
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(2)
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        let last = rows.last().unwrap();
        assert_eq!(last.len(), 3, "the 100% row has no 1/(1-p) column");
        assert_eq!(last[1], "1.000000000000");
        assert_eq!(last[2], "1000");
        assert_eq!(last[0], "1.000", "1000 µs is 1 ms");
        // Counts never decrease along the distribution.
        let counts: Vec<u64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
        assert!(text.contains("#[Max     =        1.000, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
    }

    #[test]
    fn sibling_paths() {
        let p = std::path::Path::new("/tmp/run.hgrm");
        assert_eq!(
            sibling_path(p, "lease"),
            std::path::Path::new("/tmp/run.lease.hgrm")
        );
        let p = std::path::Path::new("out");
        assert_eq!(
            sibling_path(p, "connect"),
            std::path::Path::new("out.connect")
        );
    }

    #[test]
    fn proc_counters_parse() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 1 22 33\nIpExt: A\nIpExt: 5\n";
        assert_eq!(proc_counter(text, "TcpExt:", "ListenOverflows"), 22);
        assert_eq!(proc_counter(text, "TcpExt:", "ListenDrops"), 33);
        assert_eq!(proc_counter(text, "TcpExt:", "Nope"), 0);
        let a = KernelCounters {
            listen_overflows: 5,
            listen_drops: 7,
            retrans_segs: 9,
        };
        let b = KernelCounters {
            listen_overflows: 2,
            ..a
        };
        assert_eq!(b.since(&a).listen_overflows, 0);
        assert_eq!(a.since(&b).listen_overflows, 3);
    }
}
