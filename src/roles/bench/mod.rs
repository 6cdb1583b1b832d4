//! `cachectl bench`: the load driver — seed 000's C50K stress test, a
//! memtier-style steady-state mode, and a lease-only mode for the LB.
//!
//! Process layout (why: the 20,000 open-file limit is per process and
//! hard, so 50,000 connections need several processes on each side):
//!
//! ```text
//!  cachectl bench (parent: plan, cluster, barrier, report)
//!   ├─ cachectl lb            ┐ embedded cluster, only without --lb/--target
//!   ├─ cachectl node × N      ┘ (cluster.rs)
//!   └─ cachectl bench --worker × W   one glommio executor each, thousands
//!                                    of tasks; JSON lines over pipes (wire.rs)
//! ```
//!
//! Files: `args` (flags → plan), `cluster` (children that never outlive
//! the run), `driver` (parent ↔ workers), `worker` (the executor side),
//! `ctx` (what a worker's tasks share),
//! `c50k` / `steady` / `leases` (one task of each mode), `pace` (one
//! timer paces every fixed-rate client of a worker), `net` (client
//! sockets), `lease_pool` (`--lease-conns`: leases pipelined over kept LB
//! connections), `tally` (counts and histograms), `report` (table, JSON,
//! hgrm), `wire` (messages). The RESP *reply* parser is
//! [`crate::proto::client`], known here as `resp_reply`.

mod args;
pub mod c50k;
pub mod cluster;
pub mod ctx;
mod driver;
pub mod lease_pool;
pub mod leases;
pub mod net;
pub mod pace;
pub mod report;
/// The RESP reply parser lives in `crate::proto::client`; re-exported under
/// the name this module's files use.
pub use crate::proto::client as resp_reply;
pub mod steady;
pub mod tally;
pub mod wire;
pub mod worker;

pub use args::{BenchArgs, Mode, Plan, Target};

use anyhow::{bail, Context};
use report::{CpuUsage, KernelCounters, Report};
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wire::{Dest, Job, Work};

/// Run `cachectl bench` (or, with the hidden `--worker`, one of its workers).
///
/// # Errors
/// Bad flags, a cluster or worker that fails, or a run with failures (after
/// the report is printed, so nothing is hidden).
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.worker {
        return worker::run();
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = Plan::new(&args, cpus)?;
    crate::sys::raise_nofile_limit().context("raising the open-file limit")?;

    // First Ctrl-C: stop workers, stop the cluster, report what was done.
    // A second one exits at once (children then die of PDEATHSIG).
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }

    let kernel_before = KernelCounters::read();
    let cpu_before = CpuUsage::read();
    let setup_start = Instant::now();
    let cluster = match plan.target {
        Target::Embedded {
            nodes,
            node_cores,
            maxclients,
        } => {
            eprintln!(
                "starting a local cluster: 1 lb + {nodes} node(s) × {node_cores} core(s), \
                 maxclients {maxclients} each"
            );
            let cluster_mode = matches!(plan.mode, Mode::C50k { cluster: true, .. });
            Some(cluster::Cluster::start(
                nodes,
                node_cores,
                maxclients,
                cluster_mode,
                &stop,
            )?)
        }
        _ => None,
    };
    let setup = if cluster.is_some() {
        setup_start.elapsed()
    } else {
        Duration::ZERO
    };
    let dest = plan.dest(cluster.as_ref().map(cluster::Cluster::lb));
    let target = describe(dest, cluster.as_ref());
    eprintln!(
        "{} on {target} with {} worker process(es)",
        mode_line(&plan.mode),
        plan.workers
    );
    let outcome = driver::drive(jobs(&plan, dest), &stop, cluster.as_ref());
    // The run's own cluster is sized for it, so an eviction there (a node
    // the LB found full or slow) is a fault of the run, never a result.
    let evictions = cluster.as_ref().and_then(cluster::Cluster::evictions);
    // Stop the cluster whatever the outcome; an error return below would
    // also do it (the ChildSet guard), but then we couldn't report it.
    let cluster_exits = cluster.map(cluster::Cluster::stop).unwrap_or_default();
    let outcome = outcome?;
    let kernel = KernelCounters::read().since(&kernel_before);

    let mut processes = cluster_exits;
    processes.extend(outcome.exits.iter().cloned());
    let report = Report::new(
        mode_name(&plan.mode),
        target,
        settings(&plan),
        plan.workers,
        &outcome,
        setup,
        processes,
        kernel,
        CpuUsage::read().since(&cpu_before),
    );
    // With `--json -` stdout carries only the JSON; the table goes to stderr.
    if plan.json.as_deref() == Some(std::path::Path::new("-")) {
        eprint!("{}", report.table());
    } else {
        print!("{}", report.table());
    }
    write_outputs(&plan, &report, &outcome)?;

    if outcome.interrupted {
        bail!("interrupted; the report above covers the part that ran");
    }
    if let Some(short) = report.hold.as_ref().and_then(|h| h.shortfall.as_ref()) {
        bail!("--hold: not every connection was open at the barrier: {short}");
    }
    if let Some(evicted) = evictions {
        bail!("{evicted}");
    }
    let wrong = outcome.tally.failed_by(tally::Cause::WrongValue);
    if wrong > 0 {
        bail!("{wrong} wrong value(s) read back: data integrity failure");
    }
    if report.failed > 0 {
        bail!("{} of {} failed", report.failed, report.attempted);
    }
    let reconnects: u64 = report.connect_failures.values().sum();
    if reconnects > 0 {
        bail!("{reconnects} connection attempt(s) failed");
    }
    if let Some(bad) = report.processes.iter().find(|p| !p.clean()) {
        bail!(
            "{} (pid {}) did not exit cleanly: {bad:?}",
            bad.role,
            bad.pid
        );
    }
    Ok(())
}

/// Split the plan into one job per worker.
fn jobs(plan: &Plan, dest: Dest) -> Vec<Job> {
    let w = plan.workers;
    let share = |total: u64, i: usize| total / w as u64 + u64::from((i as u64) < total % w as u64);
    let run_id = fastrand::u64(..);
    let mut first = 0;
    (0..w)
        .map(|i| {
            let work = match &plan.mode {
                Mode::C50k {
                    tasks,
                    hold,
                    del,
                    value_size,
                    pipelined,
                    cluster,
                } => {
                    let count = share(*tasks, i);
                    first += count;
                    Work::C50k {
                        first: first - count,
                        count,
                        run_id,
                        hold: *hold,
                        del: *del,
                        value_size: *value_size,
                        pipelined: *pipelined,
                        keyed: *cluster,
                    }
                }
                Mode::Steady(s) => {
                    let connections = share(s.connections as u64, i) as usize;
                    Work::Steady {
                        connections,
                        duration_ms: s.duration.as_millis() as u64,
                        pipeline: s.pipeline,
                        ratio: s.ratio,
                        keyspace: s.keyspace,
                        value_size: s.value_size,
                        rate: s
                            .rate
                            .map(|r| r * connections as f64 / s.connections as f64),
                        seed: s.seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d),
                    }
                }
                Mode::Leases {
                    clients,
                    duration,
                    rate,
                } => {
                    let mine = share(*clients as u64, i) as usize;
                    Work::Leases {
                        clients: mine,
                        duration_ms: duration.as_millis() as u64,
                        rate: rate.map(|r| r * mine as f64 / *clients as f64),
                    }
                }
            };
            Job {
                worker: i,
                dest,
                sources: plan.sources.clone(),
                timeout_ms: plan.timeout.as_millis() as u64,
                concurrency: plan.concurrency,
                lease_conns: plan.lease_conns,
                work,
            }
        })
        .collect()
}

fn mode_name(mode: &Mode) -> &'static str {
    match mode {
        Mode::C50k { .. } => "c50k",
        Mode::Steady(_) => "steady",
        Mode::Leases { .. } => "leases",
    }
}

fn mode_line(mode: &Mode) -> String {
    match mode {
        Mode::C50k {
            tasks,
            hold,
            pipelined,
            cluster,
            ..
        } => {
            format!(
                "C50K: {tasks} tasks{}{}{}",
                if *hold { ", held open together" } else { "" },
                if *pipelined {
                    ", each block in one write"
                } else {
                    ""
                },
                if *cluster {
                    ", each leasing its key's owner (cluster mode)"
                } else {
                    ""
                }
            )
        }
        Mode::Steady(s) => format!(
            "steady: {} connections × pipeline {} for {:?}{}",
            s.connections,
            s.pipeline,
            s.duration,
            s.rate.map_or(String::new(), |r| format!(" at {r} req/s"))
        ),
        Mode::Leases {
            clients,
            duration,
            rate,
        } => format!(
            "lease-only: {clients} clients for {duration:?}{}",
            rate.map_or(String::new(), |r| format!(" at {r} leases/s"))
        ),
    }
}

fn describe(dest: Dest, cluster: Option<&cluster::Cluster>) -> String {
    match (dest, cluster) {
        (Dest::Lease(lb), Some(c)) => format!(
            "local cluster (lb {lb}, {} node(s): {})",
            c.nodes().len(),
            c.nodes()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (Dest::Lease(lb), None) => format!("lb {lb}"),
        (Dest::Direct(addr), _) => format!("{addr} directly"),
    }
}

fn settings(plan: &Plan) -> serde_json::Value {
    let mut v = match &plan.mode {
        Mode::C50k {
            tasks,
            hold,
            del,
            value_size,
            pipelined,
            cluster,
        } => serde_json::json!({
            "tasks": tasks, "hold": hold, "del": del, "value_size": value_size,
            "pipelined_block": pipelined, "cluster": cluster,
        }),
        Mode::Steady(s) => serde_json::json!({
            "connections": s.connections,
            "duration_s": s.duration.as_secs_f64(),
            "pipeline": s.pipeline,
            "ratio": format!("{}:{}", s.ratio.set, s.ratio.get),
            "keyspace": s.keyspace,
            "value_size": s.value_size,
            "rate": s.rate,
            "seed": s.seed,
        }),
        Mode::Leases {
            clients,
            duration,
            rate,
        } => serde_json::json!({
            "clients": clients, "duration_s": duration.as_secs_f64(), "rate": rate,
        }),
    };
    v["concurrency_per_worker"] = plan.concurrency.into();
    v["lease_conns_per_worker"] = plan.lease_conns.into();
    v["timeout_s"] = plan.timeout.as_secs_f64().into();
    v["source_addresses"] = plan.sources.len().into();
    if let Target::Embedded {
        nodes,
        node_cores,
        maxclients,
    } = plan.target
    {
        v["nodes"] = nodes.into();
        v["node_cores"] = node_cores.into();
        v["node_maxclients"] = maxclients.into();
    }
    v
}

/// `--json` and `--hgrm`.
fn write_outputs(plan: &Plan, report: &Report, outcome: &driver::Outcome) -> anyhow::Result<()> {
    if let Some(path) = &plan.json {
        let text = serde_json::to_string_pretty(report).expect("reports serialize");
        if path.as_os_str() == "-" {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")?;
        } else {
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing --json {}", path.display()))?;
        }
    }
    if let Some(path) = &plan.hgrm {
        let l = &outcome.latencies;
        let files = [
            (path.clone(), &l.op),
            (report::sibling_path(path, "lease"), &l.lease),
            (report::sibling_path(path, "connect"), &l.connect),
        ];
        for (p, h) in files {
            if p == *path || !h.is_empty() {
                std::fs::write(&p, report::hgrm(h))
                    .with_context(|| format!("writing --hgrm {}", p.display()))?;
            }
        }
    }
    Ok(())
}
