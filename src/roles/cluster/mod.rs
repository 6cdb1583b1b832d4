//! `cachectl cluster`: seed 004's start/kill scripts as one command. Starts
//! an origin, N nodes (read-through to the origin, registered with the LB)
//! and an LB, all as children of this process; prints where they listen;
//! streams their output with a `[name]` prefix; and stops every one of them
//! on Ctrl-C/SIGTERM.
//!
//! Files: this one (flags and the plan of what to start), `supervise`
//! (spawning, log streaming, readiness, restarts, shutdown). Children are
//! held in a [`ChildSet`](crate::roles::children::ChildSet),
//! which stops them when dropped (also while unwinding from a panic), puts
//! each in its own process group (a terminal's Ctrl-C reaches only us, and
//! we stop them in order) and gives each `PR_SET_PDEATHSIG = SIGKILL` (if we
//! are SIGKILLed, the kernel ends them).

mod supervise;

use crate::roles::lb::registry::{Policy, Route};
use crate::roles::lb::Mode;
use crate::roles::node::CacheType;
use anyhow::bail;
use std::net::IpAddr;
use std::path::PathBuf;

/// What the cluster does when a child exits on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnExit {
    /// Start it again on the same port, with backoff; stop the cluster if it
    /// keeps dying right after starting.
    Restart,
    /// Log it and keep the rest running (to watch the LB route around it).
    Leave,
    /// Stop the whole cluster and exit non-zero.
    Stop,
}

const CLUSTER_HELP: &str = "\
Ports: the origin listens on --base-port (default 8000), node i on
--base-port + i (8001, 8002, ...), the LB on --lb-port (default --base-port +
1000 = 9000), as in seed 004. --auto-ports lets the kernel pick free ones.

Once every node is registered and healthy, a table of roles, pids and
addresses is printed, then a line `cachectl cluster ready: lb ADDR`. Child
output follows, each line prefixed with [origin], [node1], ..., [lb] (stdout
to stdout, stderr to stderr).

Stopping: Ctrl-C or SIGTERM sends SIGTERM to every child, waits up to 10s,
then SIGKILLs what is left; the cluster exits 0. If a child exits on its own,
--on-exit decides: restart it (default; on the same port, backoff from 0.5s
to 10s; after 5 deaths within 30s of starting, the cluster stops with exit
1), leave it down, or stop the cluster.

Example (seed 004's walkthrough):
  cachectl cluster --nodes 3 --cache-types lru,ttl,lru
  cachectl client --get article/1
  cachectl client --metrics";

/// Flags of `cachectl cluster`.
#[derive(clap::Args, Clone, Debug)]
#[command(after_long_help = CLUSTER_HELP)]
pub struct ClusterArgs {
    /// Number of cache nodes.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub nodes: usize,
    /// Cache type of each node, cycled over the nodes: e.g. lru,ttl,lru.
    #[arg(
        long,
        value_name = "TYPES",
        value_enum,
        value_delimiter = ',',
        default_value = "lru"
    )]
    pub cache_types: Vec<CacheType>,
    /// Keys each lru node holds (small, so a demo over the sample data
    /// sees evictions).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub capacity: usize,
    /// How long a ttl node keeps a key, e.g. 60s or 2m; a bare number is seconds.
    #[arg(long, value_name = "DURATION", default_value = "60", value_parser = crate::units::whole_secs)]
    pub ttl: u64,
    /// Executor cores per node.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub cores: usize,
    /// How the LB serves clients: redirect (LEASE, then talk to the node)
    /// or proxy (the LB forwards GET/SET/DEL).
    #[arg(long, value_enum, default_value_t = Mode::Redirect)]
    pub lb_mode: Mode,
    /// Proxy mode: how the LB picks a request's node (LB default: policy).
    #[arg(long, value_enum)]
    pub route: Option<Route>,
    /// How the LB picks a node.
    #[arg(long, value_enum, default_value_t = Policy::RoundRobin)]
    pub policy: Policy,
    /// How often the LB probes nodes, e.g. 3s or 500ms; a bare number is
    /// seconds (LB default when not given).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::duration_secs)]
    pub health_interval: Option<std::time::Duration>,
    /// The origin's port; node i gets base + i.
    #[arg(long, default_value_t = 8000)]
    pub base_port: u16,
    /// The LB's port [default: --base-port + 1000].
    #[arg(long)]
    pub lb_port: Option<u16>,
    /// Let the kernel pick every port (for tests and parallel clusters).
    #[arg(long, conflicts_with_all = ["base_port", "lb_port"])]
    pub auto_ports: bool,
    /// Address every child binds.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The origin serves the files under DIR (default: its sample data set).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The origin's simulated latency per fetch, e.g. 200ms; a bare number is
    /// milliseconds.
    #[arg(long, value_name = "DURATION", value_parser = crate::units::whole_millis)]
    pub latency: Option<u64>,
    /// What to do when a child exits on its own.
    #[arg(long, value_enum, default_value_t = OnExit::Restart)]
    pub on_exit: OnExit,
}

/// The role a child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `cachectl origin`
    Origin,
    /// `cachectl node`
    Node,
    /// `cachectl lb`
    Lb,
}

impl Kind {
    /// The subcommand.
    pub fn role(self) -> &'static str {
        match self {
            Kind::Origin => "origin",
            Kind::Node => "node",
            Kind::Lb => "lb",
        }
    }

    /// The start of the line the child prints on stdout when it is ready,
    /// followed by its address.
    pub fn ready_marker(self) -> &'static str {
        match self {
            Kind::Origin => "cachectl origin listening on ",
            Kind::Node => "cachectl node listening on ",
            Kind::Lb => "cachectl lb listening on ",
        }
    }
}

/// One child to run: its name, role, port, and flags other than `--port`
/// (a node's `--lb`/`--origin` are added when the addresses are known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// `origin`, `node1`.., `lb`: the log prefix and table row.
    pub name: String,
    /// The role.
    pub kind: Kind,
    /// The port asked for; 0 = any.
    pub port: u16,
    /// Role flags.
    pub args: Vec<String>,
    /// A short description for the table.
    pub notes: String,
}

/// The children to start, in start order: origin, LB, nodes (nodes need
/// both addresses).
///
/// # Errors
/// A message naming the flag that is wrong.
pub fn plan(a: &ClusterArgs) -> anyhow::Result<Vec<Spec>> {
    if a.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    if a.cache_types.is_empty() {
        bail!("--cache-types needs at least one of plain, ttl, lru");
    }
    if a.cores == 0 {
        bail!("--cores must be at least 1");
    }
    if a.capacity == 0 {
        bail!("--capacity must be at least 1");
    }
    if a.ttl == 0 {
        bail!("--ttl must be at least 1 second");
    }
    let (origin_port, lb_port, node_port) = if a.auto_ports {
        (0, 0, None)
    } else {
        let base = a.base_port;
        let last_node = u32::from(base) + a.nodes as u32;
        let lb = match a.lb_port {
            Some(p) => p,
            None => u16::try_from(u32::from(base) + 1000).map_err(|_| {
                anyhow::anyhow!("--base-port {base} + 1000 is past 65535; give --lb-port")
            })?,
        };
        if base == 0 || lb == 0 {
            bail!("--base-port and --lb-port must not be 0 (use --auto-ports)");
        }
        if last_node > 65535 {
            bail!(
                "--base-port {base} leaves no room for {} nodes below 65536",
                a.nodes
            );
        }
        if (u32::from(base)..=last_node).contains(&u32::from(lb)) {
            bail!("--lb-port {lb} collides with the origin/node ports {base}..={last_node}");
        }
        (base, lb, Some(base))
    };
    let bind = a.bind.to_string();
    let mut specs = Vec::with_capacity(a.nodes + 2);

    let mut args = vec!["--bind".to_string(), bind.clone()];
    let mut notes = match &a.data {
        Some(d) => {
            args.extend(["--data".into(), d.display().to_string()]);
            format!("files under {}", d.display())
        }
        None => "sample data (article/1..100, user/1..50, blob/1..10)".into(),
    };
    if let Some(ms) = a.latency {
        args.extend(["--latency".into(), ms.to_string()]);
        notes.push_str(&format!(", latency {ms}ms"));
    }
    specs.push(Spec {
        name: "origin".into(),
        kind: Kind::Origin,
        port: origin_port,
        args,
        notes,
    });

    let mut args = vec![
        "--bind".to_string(),
        bind.clone(),
        "--policy".into(),
        a.policy.name().into(),
    ];
    if a.lb_mode != Mode::Redirect {
        args.extend(["--mode".into(), a.lb_mode.name().into()]);
    }
    if let Some(route) = a.route {
        args.extend(["--route".into(), route.name().into()]);
    }
    if let Some(iv) = a.health_interval {
        args.extend(["--health-interval".into(), format!("{}ms", iv.as_millis())]);
        // The LB refuses a timeout longer than the interval; its 500ms
        // default would be, for intervals under half a second.
        if iv < std::time::Duration::from_millis(500) {
            args.extend(["--health-timeout".into(), format!("{}ms", iv.as_millis())]);
        }
    }
    specs.push(Spec {
        name: "lb".into(),
        kind: Kind::Lb,
        port: lb_port,
        args,
        notes: format!("{}, {}", a.lb_mode.name(), a.policy.name()),
    });

    for i in 0..a.nodes {
        let ty = a.cache_types[i % a.cache_types.len()];
        let mut args = vec![
            "--bind".to_string(),
            bind.clone(),
            "--cores".into(),
            a.cores.to_string(),
        ];
        let notes = match ty {
            CacheType::Plain => {
                args.extend(["--cache-type".into(), "plain".into()]);
                "plain".to_string()
            }
            CacheType::Ttl => {
                args.extend(["--cache-type".into(), "ttl".into()]);
                args.extend(["--ttl".into(), a.ttl.to_string()]);
                format!("ttl {}s", a.ttl)
            }
            CacheType::Lru => {
                args.extend(["--cache-type".into(), "lru".into()]);
                args.extend(["--capacity".into(), a.capacity.to_string()]);
                format!("lru capacity {}", a.capacity)
            }
        };
        specs.push(Spec {
            name: format!("node{}", i + 1),
            kind: Kind::Node,
            port: node_port.map_or(0, |b| b + 1 + i as u16),
            args,
            notes: format!(
                "{notes}, {} core{}",
                a.cores,
                if a.cores == 1 { "" } else { "s" }
            ),
        });
    }
    Ok(specs)
}

/// Run the cluster until SIGINT/SIGTERM (or a child failure under
/// `--on-exit stop`).
///
/// # Errors
/// Bad flags, a child that cannot start or get ready, or a child failure
/// that stopped the cluster.
pub fn run(args: ClusterArgs) -> anyhow::Result<()> {
    let specs = plan(&args)?;
    supervise::run(specs, args.on_exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        cluster: ClusterArgs,
    }

    fn specs(args: &[&str]) -> anyhow::Result<Vec<Spec>> {
        let cli = Cli::try_parse_from(std::iter::once("cluster").chain(args.iter().copied()))?;
        plan(&cli.cluster)
    }

    #[test]
    fn seed_layout() {
        let s = specs(&[
            "--cache-types",
            "lru,ttl",
            "--ttl",
            "30",
            "--capacity",
            "100",
        ])
        .unwrap();
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["origin", "lb", "node1", "node2", "node3"]);
        let ports: Vec<u16> = s.iter().map(|s| s.port).collect();
        assert_eq!(ports, [8000, 9000, 8001, 8002, 8003]);
        let joined = |i: usize| s[i].args.join(" ");
        assert!(
            joined(2).contains("--cache-type lru --capacity 100"),
            "{}",
            joined(2)
        );
        assert!(
            joined(3).contains("--cache-type ttl --ttl 30"),
            "{}",
            joined(3)
        );
        assert!(
            joined(4).contains("--cache-type lru"),
            "cycles: {}",
            joined(4)
        );
        assert!(joined(1).contains("--policy round-robin"));
        assert!(!joined(1).contains("--mode"));
    }

    #[test]
    fn auto_ports_and_modes() {
        let s = specs(&[
            "--auto-ports",
            "--nodes",
            "2",
            "--lb-mode",
            "proxy",
            "--route",
            "key",
        ])
        .unwrap();
        assert!(s.iter().all(|s| s.port == 0));
        assert!(s[1].args.join(" ").contains("--mode proxy --route key"));
        let s = specs(&["--health-interval", "200ms"]).unwrap();
        assert!(s[1]
            .args
            .join(" ")
            .contains("--health-interval 200ms --health-timeout 200ms"));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = |args: &[&str]| specs(args).unwrap_err().to_string();
        assert!(err(&["--nodes", "0"]).contains("--nodes"));
        assert!(err(&["--cache-types", "lfu"]).contains("--cache-types"));
        assert!(err(&["--base-port", "65000"]).contains("--base-port"));
        assert!(err(&["--lb-port", "8002"]).contains("--lb-port"));
        assert!(err(&["--auto-ports", "--base-port", "7000"]).contains("--base-port"));
        assert!(err(&["--ttl", "0"]).contains("--ttl"));
        assert!(err(&["--on-exit", "panic"]).contains("--on-exit"));
        assert!(err(&["--base-port", "0"]).contains("--base-port"));
    }
}
