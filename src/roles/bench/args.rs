//! `cachectl bench` flags, and their validation into a [`Plan`]: which mode,
//! where the load goes, how it is split over worker processes.
//!
//! Flags that select a mode are `Option`s so we can tell "given" from
//! "defaulted" and refuse combinations that mean nothing (e.g. `--hold` in
//! steady mode) with a message naming the flags.

use super::wire::{Dest, Ratio};
use anyhow::{bail, Context};
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `cachectl bench`.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(
    after_help = "Modes: C50K (default: --tasks), steady state (--duration, --connections, \
    --pipeline, --ratio, --keyspace, --value-size, --rate), lease-only (--leases-only).\n\
    With neither --lb nor --target, bench starts a local LB and nodes itself and stops them after."
)]
pub struct BenchArgs {
    /// C50K mode: tasks to run (lease, connect, SET/GET verify, close) [50000].
    #[arg(long)]
    pub tasks: Option<u64>,
    /// C50K (the default): every task holds its node connection until all
    /// are connected, so all N are open at the same moment, checked from
    /// both sides; kept so scripts that say it still work.
    #[arg(long, conflicts_with = "no_hold")]
    pub hold: bool,
    /// C50K: seed 000's churn instead: each task closes its connection as
    /// soon as its block is verified, with at most --concurrency tasks in
    /// flight per worker, so the N connections are never all open at once.
    #[arg(long)]
    pub no_hold: bool,
    /// C50K: finish each task's block with DEL (and check it deleted 1 key).
    #[arg(long)]
    pub del: bool,
    /// C50K: send the block's commands (SET, GET[, DEL]) in one write, then
    /// read and check each reply in order. Measures pipelined blocks; the
    /// default sends each command after the previous reply, as seed 000.
    #[arg(long)]
    pub pipelined_block: bool,
    /// Persistent LB connections per worker that leases are pipelined over
    /// (each task still takes its own lease); 0 = a fresh connection per
    /// lease, as seed 000 [C50K: 4; other modes: 0].
    #[arg(long, value_name = "N")]
    pub lease_conns: Option<usize>,
    /// Lease-only mode: clients repeatedly take a lease from the LB and close.
    #[arg(long)]
    pub leases_only: bool,
    /// Cluster mode: the embedded cluster runs `lb --mode cluster` and
    /// `node --cluster`, and each C50K task leases its own key
    /// (`LEASE <key>`), so it goes straight to the core that owns the key.
    /// With --lb, that LB must run --mode cluster.
    #[arg(long)]
    pub cluster: bool,
    /// Use this running load balancer instead of starting a local cluster.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_addr, conflicts_with = "target")]
    pub lb: Option<SocketAddr>,
    /// Drive any RESP server directly (no lease), e.g. a redis-server.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_addr)]
    pub target: Option<SocketAddr>,
    /// Steady/lease-only: how long to run, e.g. 10s, 500ms, 2m (a bare number
    /// is seconds).
    #[arg(long, value_parser = crate::units::duration_secs)]
    pub duration: Option<Duration>,
    /// Steady/lease-only: concurrent connections (clients) [steady: 50, lease-only: 1000].
    #[arg(long)]
    pub connections: Option<usize>,
    /// Steady: requests in flight per connection [1].
    #[arg(long)]
    pub pipeline: Option<usize>,
    /// Steady: SET:GET mix, e.g. 1:10 [1:10].
    #[arg(long, value_parser = parse_ratio, value_name = "SET:GET")]
    pub ratio: Option<Ratio>,
    /// Steady: number of distinct keys [100000].
    #[arg(long)]
    pub keyspace: Option<u64>,
    /// Value size, e.g. 32 or 4kb; a bare number is bytes [steady: 32; C50K:
    /// the task's own tag, padded to this].
    #[arg(long, value_parser = crate::units::parse_bytes)]
    pub value_size: Option<usize>,
    /// Steady and lease-only: fixed total rate per second; latency is then measured
    /// from each request's scheduled time (coordinated-omission corrected).
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Client worker processes [auto: enough for the open-file limit, at least 2].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Local cluster: node processes [auto: one per 12,500 connections].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Local cluster: executor cores per node [1].
    #[arg(long)]
    pub node_cores: Option<usize>,
    /// Loopback source addresses (127.0.0.1, .2, ...) to spread client ports
    /// over [16 when a run opens over 20,000 connections to one address or
    /// churns leases, else 1].
    #[arg(long)]
    pub sources: Option<u8>,
    /// Per connect / per reply timeout, e.g. 10s or 500ms (a bare number is
    /// seconds).
    #[arg(long, value_parser = crate::units::duration_secs, default_value = "10s")]
    pub timeout: Duration,
    /// Lease+connect attempts in flight per worker [auto].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// RNG seed for steady mode's keys and ops [random].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the results as JSON to this file (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write operation latency in HdrHistogram's percentile text format to
    /// FILE (lease and connect to FILE with .lease / .connect before the extension).
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Internal: run as a worker process fed by the parent over stdin.
    #[arg(long, hide = true)]
    pub worker: bool,
}

/// What a run does.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Seed 000's stress test: N tasks, each lease → connect → verify → close.
    C50k {
        /// Number of tasks.
        tasks: u64,
        /// Hold all connections open until all are connected.
        hold: bool,
        /// End each block with DEL.
        del: bool,
        /// Minimum value size (values are padded task tags).
        value_size: usize,
        /// Send the block's commands in one write (`--pipelined-block`).
        pipelined: bool,
        /// Lease by key from an LB in cluster mode (`--cluster`).
        cluster: bool,
    },
    /// memtier-style load on long-lived connections.
    Steady(SteadyPlan),
    /// Lease throughput and latency against the LB.
    Leases {
        /// Concurrent lease clients.
        clients: usize,
        /// How long to run.
        duration: Duration,
        /// Total leases per second, if fixed-rate (`--rate`).
        rate: Option<f64>,
    },
}

/// Steady-state settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyPlan {
    /// Total connections.
    pub connections: usize,
    /// How long to run.
    pub duration: Duration,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// SET:GET mix.
    pub ratio: Ratio,
    /// Distinct keys.
    pub keyspace: u64,
    /// Value size in bytes.
    pub value_size: usize,
    /// Total requests per second, if fixed-rate.
    pub rate: Option<f64>,
    /// RNG seed.
    pub seed: u64,
}

/// Where the load goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Start a local LB and `nodes` node processes.
    Embedded {
        /// Node processes.
        nodes: usize,
        /// Cores per node.
        node_cores: usize,
        /// `--maxclients` of each node.
        maxclients: usize,
    },
    /// Lease from an existing LB.
    Lb(SocketAddr),
    /// Talk to one server directly.
    Direct(SocketAddr),
}

/// Validated settings of one run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What to do.
    pub mode: Mode,
    /// Where.
    pub target: Target,
    /// Worker processes.
    pub workers: usize,
    /// Loopback source addresses for client sockets.
    pub sources: Vec<Ipv4Addr>,
    /// Connect/reply timeout.
    pub timeout: Duration,
    /// Lease+connect attempts in flight per worker.
    pub concurrency: usize,
    /// Kept LB connections per worker for pipelined leases (0: fresh ones).
    pub lease_conns: usize,
    /// JSON output path.
    pub json: Option<PathBuf>,
    /// hgrm output path.
    pub hgrm: Option<PathBuf>,
}

/// Connections one worker process is given at most: the 20,000 open-file
/// limit minus in-flight lease sockets and the executor's own descriptors,
/// with room to spare.
pub const CONNS_PER_WORKER: u64 = 15_000;
/// Connections one node process is given at most (same reasoning; nodes
/// also reserve descriptors for their executors).
pub const CONNS_PER_NODE: u64 = 12_500;
/// Kept LB connections per worker in C50K mode by default (see
/// `lease_pool`): enough that the lanes' batches overlap, few enough that
/// each batch is large (measured in docs/BENCH.md).
pub const DEFAULT_LEASE_CONNS: usize = 4;
/// Default C50K task count: seed 000's.
pub const DEFAULT_TASKS: u64 = 50_000;
/// Lease+connect attempts in flight across all workers by default. Kept
/// under the 4,096 listen backlog (somaxconn) of the LB: a full accept
/// queue drops SYNs, and a dropped SYN costs a one-second retransmit.
const DEFAULT_INFLIGHT: usize = 2048;
/// Connections to one address a single source address carries by default.
const SINGLE_SOURCE_MAX: u64 = 20_000;
/// Most node connections a node is told to accept, under its open-file limit.
const NODE_MAXCLIENTS_CAP: usize = 19_000;

impl Plan {
    /// Check the flags and derive the plan; `cpus` is the machine's core count.
    ///
    /// # Errors
    /// A message naming the flag (or pair of flags) that is wrong.
    pub fn new(a: &BenchArgs, cpus: usize) -> anyhow::Result<Plan> {
        if let Some(rate) = a.rate {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--rate must be a positive number of requests per second");
            }
        }
        let steady_flags = [
            ("--pipeline", a.pipeline.is_some()),
            ("--ratio", a.ratio.is_some()),
            ("--keyspace", a.keyspace.is_some()),
        ];
        let steady_given = steady_flags.iter().find(|(_, given)| *given).map(|f| f.0);
        let mode = if a.leases_only {
            if let Some(flag) = steady_given.or(a.value_size.map(|_| "--value-size")) {
                bail!("{flag} does not apply to --leases-only");
            }
            c50k_only(a, "--leases-only")?;
            if a.target.is_some() {
                bail!("--leases-only needs a load balancer; it cannot be used with --target");
            }
            Mode::Leases {
                clients: positive(a.connections.unwrap_or(1000), "--connections")?,
                duration: duration(a.duration.unwrap_or(Duration::from_secs(10)))?,
                rate: a.rate,
            }
        } else if let Some(flag) = steady_given
            .or(a.rate.map(|_| "--rate"))
            .or(a.duration.map(|_| "--duration"))
            .or(a.connections.map(|_| "--connections"))
        {
            c50k_only(a, flag)?;
            let ratio = a.ratio.unwrap_or(Ratio { set: 1, get: 10 });
            Mode::Steady(SteadyPlan {
                connections: positive(a.connections.unwrap_or(50), "--connections")?,
                duration: duration(a.duration.unwrap_or(Duration::from_secs(10)))?,
                pipeline: positive(a.pipeline.unwrap_or(1), "--pipeline")?,
                ratio,
                keyspace: positive(a.keyspace.unwrap_or(100_000), "--keyspace")?,
                value_size: a.value_size.unwrap_or(32),
                rate: a.rate,
                seed: a.seed.unwrap_or_else(|| fastrand::u64(..)),
            })
        } else {
            let tasks = positive(a.tasks.unwrap_or(DEFAULT_TASKS), "--tasks")?;
            Mode::C50k {
                tasks,
                hold: !a.no_hold,
                del: a.del,
                value_size: a.value_size.unwrap_or(0),
                pipelined: a.pipelined_block,
                cluster: a.cluster,
            }
        };
        if a.cluster && a.target.is_some() {
            bail!("--cluster leases each key's owner from an LB; --target takes no leases");
        }
        if a.seed.is_some() && !matches!(mode, Mode::Steady(_)) {
            bail!("--seed only applies to steady mode (--duration, --connections, ...)");
        }
        if a.timeout.is_zero() {
            bail!("--timeout must be more than 0");
        }
        if a.concurrency == Some(0) {
            bail!("--concurrency must be at least 1");
        }

        // The connections held open at the peak decide how many processes
        // the open-file limit forces on each side.
        let units = match &mode {
            Mode::C50k { tasks, .. } => *tasks,
            Mode::Steady(s) => s.connections as u64,
            Mode::Leases { clients, .. } => *clients as u64,
        };
        let workers = match a.workers {
            Some(0) => bail!("--workers must be at least 1"),
            Some(w) => w,
            None => (units.div_ceil(CONNS_PER_WORKER) as usize).max(cpus.clamp(1, 2)),
        }
        .min(units as usize)
        .max(1);
        let concurrency = a
            .concurrency
            .unwrap_or_else(|| (DEFAULT_INFLIGHT / workers).max(16));
        let held = match &mode {
            Mode::C50k { tasks, hold, .. } => {
                if *hold {
                    *tasks
                } else {
                    (*tasks).min((workers * concurrency) as u64)
                }
            }
            Mode::Steady(s) => s.connections as u64,
            Mode::Leases { .. } => 0,
        };
        let per_worker = held.div_ceil(workers as u64) + concurrency as u64;
        if per_worker > CONNS_PER_WORKER + 4_000 {
            bail!(
                "--workers {workers} would give each worker {per_worker} open sockets, over the \
                 20,000 open-file limit of a process; use --workers {} or more",
                held.div_ceil(CONNS_PER_WORKER)
            );
        }

        let target = match (a.lb, a.target) {
            (Some(lb), _) => Target::Lb(lb),
            (None, Some(t)) => Target::Direct(t),
            (None, None) => {
                let nodes = match a.nodes {
                    Some(0) => bail!("--nodes must be at least 1"),
                    Some(n) => n,
                    None => (held.div_ceil(CONNS_PER_NODE) as usize).max(1),
                };
                let share = held.div_ceil(nodes as u64) as usize;
                let churns = matches!(mode, Mode::C50k { hold: false, .. });
                let maxclients = if churns {
                    // A task that closes and starts its next one at once
                    // outruns the node's count: the node counts a client
                    // until it reads the close, so it sees more clients
                    // than are in flight, by however many closes it has not
                    // read yet. That lag has no bound worth guessing, so a
                    // churning run's nodes may use every descriptor they
                    // have rather than refuse (and be evicted for it).
                    NODE_MAXCLIENTS_CAP
                } else {
                    // Headroom over the even share: the LB's policy need
                    // not split exactly evenly, and the harness probes
                    // nodes too.
                    (share + share / 4 + 64).min(NODE_MAXCLIENTS_CAP)
                };
                if share > NODE_MAXCLIENTS_CAP {
                    bail!(
                        "--nodes {nodes} would give each node {share} connections, over what one \
                         process can hold; use --nodes {} or more",
                        held.div_ceil(CONNS_PER_NODE)
                    );
                }
                Target::Embedded {
                    nodes,
                    node_cores: positive(a.node_cores.unwrap_or(1), "--node-cores")?,
                    maxclients,
                }
            }
        };
        if !matches!(target, Target::Embedded { .. }) {
            if a.nodes.is_some() {
                bail!("--nodes shapes the local cluster; it cannot be used with --lb or --target");
            }
            if a.node_cores.is_some() {
                bail!(
                    "--node-cores shapes the local cluster; it cannot be used with --lb or --target"
                );
            }
        }
        // 28,232 ephemeral ports per (source, destination) pair, and a
        // closed connection's port stays in TIME_WAIT: past ~20,000
        // connections to one address, spread over source addresses. One
        // source otherwise, because some servers refuse other loopback
        // addresses (redis-server's protected mode accepts only 127.0.0.1).
        let many = match &mode {
            Mode::C50k { tasks, .. } => *tasks > SINGLE_SOURCE_MAX,
            Mode::Steady(s) => s.connections as u64 > SINGLE_SOURCE_MAX,
            Mode::Leases { .. } => true,
        };
        let n_sources = match a.sources {
            Some(0) => bail!("--sources must be at least 1"),
            Some(n) => n,
            None if many => 16,
            None => 1,
        };
        let sources = (1..=n_sources)
            .map(|i| Ipv4Addr::new(127, 0, 0, i))
            .collect();
        let lease_conns = match (a.lease_conns, &target, &mode) {
            (Some(n), Target::Direct(_), _) if n > 0 => {
                bail!("--lease-conns pools connections to an LB; --target takes no leases")
            }
            (Some(n), _, _) => n,
            (None, Target::Direct(_), _) => 0,
            (None, _, Mode::C50k { .. }) => DEFAULT_LEASE_CONNS,
            (None, _, _) => 0,
        };
        Ok(Plan {
            mode,
            target,
            workers,
            sources,
            timeout: a.timeout,
            concurrency,
            lease_conns,
            json: a.json.clone(),
            hgrm: a.hgrm.clone(),
        })
    }

    /// Where workers send their load, once an embedded cluster has an LB address.
    pub fn dest(&self, lb: Option<SocketAddr>) -> Dest {
        match (&self.target, lb) {
            (Target::Direct(addr), _) => Dest::Direct(*addr),
            (Target::Lb(addr), _) => Dest::Lease(*addr),
            (Target::Embedded { .. }, Some(addr)) => Dest::Lease(addr),
            (Target::Embedded { .. }, None) => unreachable!("embedded cluster has an LB"),
        }
    }
}

/// Refuse C50K-only flags in another mode (`mode_flag` names that mode's flag).
fn c50k_only(a: &BenchArgs, mode_flag: &str) -> anyhow::Result<()> {
    for (flag, given) in [
        ("--tasks", a.tasks.is_some()),
        ("--hold", a.hold),
        ("--del", a.del),
        ("--pipelined-block", a.pipelined_block),
        ("--no-hold", a.no_hold),
        ("--cluster", a.cluster),
    ] {
        if given {
            bail!("{flag} is for C50K mode and cannot be combined with {mode_flag}");
        }
    }
    Ok(())
}

fn positive<T: PartialEq + Default + Copy>(v: T, flag: &str) -> anyhow::Result<T> {
    if v == T::default() {
        bail!("{flag} must be at least 1");
    }
    Ok(v)
}

fn duration(d: Duration) -> anyhow::Result<Duration> {
    if d.is_zero() {
        bail!("--duration must be more than 0");
    }
    Ok(d)
}

/// Parse `HOST:PORT` (a name is resolved once, here).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("'{s}' is not HOST:PORT ({e})"))?
        .next()
        .ok_or_else(|| format!("'{s}' resolves to no address"))
}

/// Parse `SET:GET`, e.g. `1:10`; at least one side must be non-zero.
pub fn parse_ratio(s: &str) -> Result<Ratio, String> {
    let bad = || format!("'{s}' is not SET:GET (try 1:10)");
    let (set, get) = s.split_once(':').ok_or_else(bad)?;
    let set: u32 = set.trim().parse().map_err(|_| bad())?;
    let get: u32 = get.trim().parse().map_err(|_| bad())?;
    if set == 0 && get == 0 {
        return Err(format!("'{s}' has no operations (both sides are 0)"));
    }
    Ok(Ratio { set, get })
}

/// Parse the worker's job line; kept here so every input is checked in one place.
///
/// # Errors
/// The JSON error, with context.
pub fn parse_job(line: &str) -> anyhow::Result<super::wire::Job> {
    serde_json::from_str(line).context("worker: reading the job from the parent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let mut full = vec!["bench"];
        full.extend_from_slice(args);
        let cli = Cli::try_parse_from(full).map_err(|e| anyhow::anyhow!("{e}"))?;
        Plan::new(&cli.bench, 2)
    }

    fn err(args: &[&str]) -> String {
        format!("{:#}", plan(args).expect_err("should be refused"))
    }

    #[test]
    fn default_is_a_held_c50k_on_an_embedded_cluster() {
        let p = plan(&[]).unwrap();
        assert_eq!(
            p.mode,
            Mode::C50k {
                tasks: 50_000,
                hold: true,
                del: false,
                value_size: 0,
                pipelined: false,
                cluster: false,
            }
        );
        assert_eq!(p.lease_conns, DEFAULT_LEASE_CONNS);
        assert!(matches!(p.target, Target::Embedded { .. }));
        assert!(p.workers >= 2);
    }

    #[test]
    fn hold_of_50k_needs_several_processes_each_side() {
        let p = plan(&["--tasks", "50000", "--hold"]).unwrap();
        assert!(p.workers as u64 * CONNS_PER_WORKER >= 50_000);
        let Target::Embedded {
            nodes, maxclients, ..
        } = p.target
        else {
            panic!("embedded")
        };
        assert!(nodes as u64 * CONNS_PER_NODE >= 50_000);
        assert!(maxclients * nodes >= 50_000 && maxclients <= NODE_MAXCLIENTS_CAP);
        assert_eq!(p.sources.len(), 16);
        assert_eq!(p.sources[0], Ipv4Addr::LOCALHOST);
        let p = plan(&["--tasks", "500"]).unwrap();
        assert_eq!(p.sources, vec![Ipv4Addr::LOCALHOST]);
        let p = plan(&["--tasks", "500", "--sources", "3"]).unwrap();
        assert_eq!(p.sources[2], Ipv4Addr::new(127, 0, 0, 3));
    }

    #[test]
    fn churn_is_opt_in_and_its_nodes_may_use_every_descriptor() {
        assert_eq!(
            plan(&["--hold"]).unwrap().mode,
            plan(&[]).unwrap().mode,
            "--hold is the default, still accepted"
        );
        let p = plan(&["--tasks", "50000", "--no-hold"]).unwrap();
        assert!(matches!(p.mode, Mode::C50k { hold: false, .. }));
        let Target::Embedded { maxclients, .. } = p.target else {
            panic!("embedded")
        };
        // Never sized to the in-flight count: the node's count lags closes.
        assert_eq!(maxclients, NODE_MAXCLIENTS_CAP);
        let e = err(&["--hold", "--no-hold"]);
        assert!(e.contains("--no-hold"), "{e}");
        let e = err(&["--duration", "1", "--no-hold"]);
        assert!(e.contains("--no-hold"), "{e}");
    }

    #[test]
    fn too_few_workers_for_a_hold_is_refused() {
        assert!(err(&["--tasks", "50000", "--hold", "--workers", "1"]).contains("--workers"));
        assert!(err(&["--tasks", "50000", "--hold", "--nodes", "1"]).contains("--nodes"));
    }

    #[test]
    fn leases_are_pooled_by_default_only_in_c50k_mode() {
        assert_eq!(
            plan(&["--tasks", "5"]).unwrap().lease_conns,
            DEFAULT_LEASE_CONNS
        );
        let seed = plan(&["--tasks", "5", "--lease-conns", "0"]).unwrap();
        assert_eq!(seed.lease_conns, 0);
        assert_eq!(plan(&["--leases-only"]).unwrap().lease_conns, 0);
        let pooled = plan(&["--leases-only", "--lease-conns", "3"]).unwrap();
        assert_eq!(pooled.lease_conns, 3);
        assert_eq!(plan(&["--duration", "1"]).unwrap().lease_conns, 0);
        let direct = plan(&["--target", "127.0.0.1:1", "--tasks", "5"]).unwrap();
        assert_eq!(direct.lease_conns, 0);
        let e = err(&["--target", "127.0.0.1:1", "--lease-conns", "2"]);
        assert!(e.contains("--lease-conns"), "{e}");
        let e = err(&["--leases-only", "--pipelined-block"]);
        assert!(e.contains("--pipelined-block"), "{e}");
    }

    #[test]
    fn lease_only_takes_a_fixed_rate() {
        let p = plan(&["--leases-only", "--connections", "1000", "--rate", "10000"]).unwrap();
        let Mode::Leases { clients, rate, .. } = p.mode else {
            panic!("not lease-only: {:?}", p.mode);
        };
        assert_eq!((clients, rate), (1000, Some(10000.0)));
        assert!(err(&["--leases-only", "--rate", "0"]).contains("--rate"));
        assert!(err(&["--leases-only", "--pipeline", "2"]).contains("--pipeline"));
    }

    #[test]
    fn steady_flags_select_steady_mode() {
        let p = plan(&["--duration", "2s", "--pipeline", "8", "--ratio", "1:1"]).unwrap();
        let Mode::Steady(s) = p.mode else {
            panic!("steady")
        };
        assert_eq!(s.duration, Duration::from_secs(2));
        assert_eq!(s.pipeline, 8);
        assert_eq!(s.ratio, Ratio { set: 1, get: 1 });
        assert_eq!(s.connections, 50);
    }

    #[test]
    fn mixing_modes_names_the_flags() {
        let e = err(&["--tasks", "10", "--duration", "1"]);
        assert!(e.contains("--tasks") && e.contains("--duration"), "{e}");
        let e = err(&["--hold", "--pipeline", "4"]);
        assert!(e.contains("--hold") && e.contains("--pipeline"), "{e}");
        let e = err(&["--leases-only", "--ratio", "1:1"]);
        assert!(e.contains("--ratio"), "{e}");
        let e = err(&["--leases-only", "--target", "127.0.0.1:1"]);
        assert!(e.contains("--target"), "{e}");
        let e = err(&["--target", "127.0.0.1:1", "--nodes", "2"]);
        assert!(e.contains("--nodes"), "{e}");
        let e = err(&["--lb", "127.0.0.1:1", "--target", "127.0.0.1:2"]);
        assert!(e.contains("--lb") || e.contains("--target"), "{e}");
        let e = err(&["--seed", "1"]);
        assert!(e.contains("--seed"), "{e}");
    }

    #[test]
    fn zero_and_garbage_values_name_the_flag() {
        for (args, flag) in [
            (&["--tasks", "0"][..], "--tasks"),
            (&["--connections", "0"], "--connections"),
            (&["--duration", "1", "--pipeline", "0"], "--pipeline"),
            (&["--workers", "0"], "--workers"),
            (&["--nodes", "0"], "--nodes"),
            (&["--duration", "0"], "--duration"),
            (&["--rate", "-5"], "--rate"),
            (&["--ratio", "0:0"], "--ratio"),
            (&["--ratio", "abc"], "--ratio"),
            (&["--duration", "soon"], "--duration"),
            (&["--target", "nowhere"], "--target"),
            (&["--timeout", "0"], "--timeout"),
            (&["--sources", "0"], "--sources"),
            (&["--tasks", "many"], "--tasks"),
        ] {
            let e = err(args);
            assert!(e.contains(flag), "{args:?} → {e}");
        }
    }

    #[test]
    fn durations_and_ratios_parse() {
        assert_eq!(
            crate::units::duration_secs("10"),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(
            crate::units::duration_secs("1.5s"),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(
            crate::units::duration_secs("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            crate::units::duration_secs("2m"),
            Ok(Duration::from_secs(120))
        );
        assert!(crate::units::duration_secs("-1").is_err());
        assert_eq!(parse_ratio("1:10"), Ok(Ratio { set: 1, get: 10 }));
        assert_eq!(parse_ratio("0:1"), Ok(Ratio { set: 0, get: 1 }));
        assert!(parse_ratio("1").is_err());
    }

    #[test]
    fn workers_never_exceed_units() {
        let p = plan(&["--tasks", "1"]).unwrap();
        assert_eq!(p.workers, 1);
        let p = plan(&["--target", "127.0.0.1:6379", "--tasks", "10"]).unwrap();
        assert_eq!(
            p.dest(None),
            Dest::Direct("127.0.0.1:6379".parse().unwrap())
        );
    }
}
