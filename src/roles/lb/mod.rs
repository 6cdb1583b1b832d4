//! `cachectl lb`: the load balancer. Nodes register, a background task
//! probes them, and clients either
//! - ask for a lease (a node address) and then talk to that node directly —
//!   data never flows through the LB (`--mode redirect`, the default); or
//! - send GET/SET/DEL to the LB, which forwards each to a healthy node over
//!   pooled connections and relays the reply (`--mode proxy`, seed 004).
//!
//! One glommio executor runs everything: the accept loop, a task per
//! connection (a registration link is just a connection that stays open),
//! the probe task, and proxy mode's node connections. The state is an
//! [`Rc<RefCell<Registry>>`] that no task holds across an await, so nothing
//! locks. The wire protocol (all three forms), the health-check state
//! machine and proxy mode are described in docs/LB.md.
//!
//! Modules: [`protocol`] and [`relay`] are bytes ↔ requests/replies with no
//! I/O; [`registry`] is the sans-I/O node table and routing; `admission`
//! decides which addresses may register; `server`, `probe`, `pool` and
//! `proxy` do the I/O; [`metrics`] renders counters. Who may register and
//! how the cluster secret is checked: docs/SECURITY.md.

mod admission;
pub mod metrics;
mod pool;
mod probe;
pub mod protocol;
mod proxy;
pub mod registry;
pub mod relay;
mod server;
pub use server::DENIED_TEXT;
mod cluster;
pub mod slots;
mod state;

use self::pool::Pools;
use self::protocol::Framing;
use self::registry::{Caps, Policy, Registry, Route};
use self::state::Lb;
use crate::roles::lifecycle::{self, Lifecycle};
use anyhow::bail;
use glommio::net::TcpListener;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the LB does with data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Clients LEASE a node address and talk to the node themselves.
    Redirect,
    /// Clients send GET/SET/DEL to the LB, which forwards them to nodes.
    Proxy,
    /// The LB owns a Redis Cluster slot map over the nodes' cores (nodes
    /// run with --cluster): clients bootstrap from CLUSTER SLOTS here and
    /// go to each key's core; key commands sent here get -MOVED.
    Cluster,
}

impl Mode {
    /// The flag spelling.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Redirect => "redirect",
            Mode::Proxy => "proxy",
            Mode::Cluster => "cluster",
        }
    }
}

/// Flags of `cachectl lb`.
#[derive(clap::Args, Clone, Debug)]
pub struct LbArgs {
    /// TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8888)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Listen backlog (capped by net.core.somaxconn; a warning says so).
    #[arg(long, default_value_t = 8192)]
    pub backlog: u32,
    /// How leases pick a node.
    #[arg(long, value_enum, default_value_t = Policy::RoundRobin)]
    pub policy: Policy,
    /// How often every node is probed, e.g. 3s or 250ms (a bare number is seconds).
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub health_interval: Duration,
    /// How long a probe may take before its node is evicted, e.g. 500ms (a
    /// bare number is seconds).
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    pub health_timeout: Duration,
    /// Health intervals a down node without a link stays listed before it is
    /// dropped from the registry.
    #[arg(long, default_value_t = 10)]
    pub forget_after: u32,
    /// Close client connections idle this long, e.g. 60s or 5m; a bare number
    /// is seconds, 0 never closes them (registration links are exempt).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub idle_timeout: Duration,
    /// io_uring registered buffer memory for the executor, e.g. 256kb; a bare
    /// number is bytes.
    #[arg(long, default_value = "256kb", value_parser = crate::units::parse_bytes)]
    pub io_memory: usize,
    /// redirect: clients LEASE a node and talk to it; proxy: the LB forwards
    /// GET/SET/DEL to nodes itself.
    #[arg(long, value_enum, default_value_t = Mode::Redirect)]
    pub mode: Mode,
    /// Proxy mode: pick a request's node by --policy, or by key (the same
    /// key always goes to the same healthy node).
    #[arg(long, value_enum, default_value_t = Route::Policy)]
    pub route: Route,
    /// Proxy mode: most connections the LB keeps open to one node.
    #[arg(long, default_value_t = 16)]
    pub pool_size: usize,
    /// Proxy mode: how long one attempt on a node may take before the
    /// request is retried on another node, e.g. 1s or 250ms (a bare number
    /// is seconds).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub proxy_timeout: Duration,
    /// Proxy mode: largest value a request or a node's reply may carry
    /// through the LB, e.g. 1mb (a bare number is bytes).
    #[arg(long, value_parser = crate::units::parse_bytes, default_value = "1mb")]
    pub max_value: usize,
    /// Read the cluster secret from FILE (one trailing newline is trimmed):
    /// nodes must prove it to register and in every probe. Without it, a
    /// node may register only the IP its connection comes from.
    #[arg(long, value_name = "FILE", value_parser = crate::secret::parse_secret_file)]
    pub cluster_secret_file: Option<crate::secret::ClusterSecret>,
    /// Protected mode, as Redis's: bound beyond loopback with no
    /// --cluster-secret-file, serve only clients (and nodes) from 127.0.0.1
    /// and ::1 and refuse others with a DENIED error.
    #[arg(long, value_name = "yes|no", default_value = "yes", action = clap::ArgAction::Set,
          value_parser = crate::protected::parse_yes_no)]
    pub protected_mode: bool,
    /// Most registered addresses whose registration came from one IP.
    #[arg(long, default_value_t = 64)]
    pub max_registrations_per_source: usize,
    /// Most registered addresses in all.
    #[arg(long, default_value_t = 1024)]
    pub max_nodes: usize,
    /// Cluster mode: the ownership lease a node renews to serve its slots,
    /// e.g. 3s (a bare number is seconds). A node that cannot renew for
    /// this long stops serving; its slots move only after it ran out.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub cluster_lease: Duration,
}

// Every duration flag of every role parses alike (crate::units); a bare
// number here is seconds.
use crate::units::duration_secs as parse_duration;

/// Largest `--pool-size`: each pooled connection is a file descriptor per
/// node, and more than this many requests in flight to one node from one
/// executor would not go any faster.
const MAX_POOL: usize = 1024;
/// Largest `--max-value`, the node's own default bulk limit.
const MAX_VALUE: usize = 512 << 20;

/// Validated settings of a running LB.
#[derive(Clone, Debug)]
pub struct LbConfig {
    /// The flags as given.
    pub args: LbArgs,
    /// Probe period.
    pub health_interval: Duration,
    /// Probe deadline.
    pub health_timeout: Duration,
    /// How long a down, unlinked node stays listed.
    pub forget_after: Duration,
    /// Idle limit for client connections, if any.
    pub idle_timeout: Option<Duration>,
    /// Request size limits of the mode.
    pub framing: Framing,
}

impl LbConfig {
    /// Check the flags.
    ///
    /// # Errors
    /// A message naming the flag that is wrong.
    pub fn new(args: LbArgs) -> anyhow::Result<LbConfig> {
        if args.health_interval < Duration::from_millis(10) {
            bail!("--health-interval must be at least 10ms");
        }
        if args.health_timeout.is_zero() {
            bail!("--health-timeout must be more than 0");
        }
        // A probe that may outlive the interval would overlap the next one
        // for the same node, and eviction could never be timely.
        if args.health_timeout > args.health_interval {
            bail!(
                "--health-timeout ({:?}) must not exceed --health-interval ({:?})",
                args.health_timeout,
                args.health_interval
            );
        }
        if args.forget_after == 0 {
            bail!("--forget-after must be at least 1 (interval)");
        }
        if args.backlog == 0 {
            bail!("--backlog must be at least 1");
        }
        if !(1..=MAX_POOL).contains(&args.pool_size) {
            bail!("--pool-size must be between 1 and {MAX_POOL}");
        }
        if args.proxy_timeout < Duration::from_millis(1) {
            bail!("--proxy-timeout must be at least 1ms");
        }
        if !(1..=MAX_VALUE).contains(&args.max_value) {
            bail!(
                "--max-value must be between 1 byte and {} MiB",
                MAX_VALUE >> 20
            );
        }
        if args.max_registrations_per_source == 0 {
            bail!("--max-registrations-per-source must be at least 1");
        }
        if args.max_nodes == 0 {
            bail!("--max-nodes must be at least 1");
        }
        let framing = match args.mode {
            Mode::Redirect => Framing::CONTROL,
            // Cluster clients send whole key commands here before a MOVED
            // points them on, values included.
            Mode::Proxy | Mode::Cluster => Framing::proxy(args.max_value),
        };
        Ok(LbConfig {
            framing,
            health_interval: args.health_interval,
            health_timeout: args.health_timeout,
            forget_after: args.health_interval * args.forget_after,
            idle_timeout: (!args.idle_timeout.is_zero()).then_some(args.idle_timeout),
            args,
        })
    }
}

/// Run the LB until SIGINT/SIGTERM.
///
/// # Errors
/// Bad flags, a port that cannot be bound, or an executor that fails to start.
pub fn run(args: LbArgs) -> anyhow::Result<()> {
    let cfg = LbConfig::new(args)?;
    let want = SocketAddr::new(cfg.args.bind, cfg.args.port);
    let (sock, addr) = lifecycle::bind(want, cfg.args.backlog)?;
    let stop = crate::sys::stop_flag()?;
    println!("cachectl lb listening on {addr}");
    if cfg.args.cluster_secret_file.is_none() {
        log::warn!(
            "no --cluster-secret-file: any process that reaches this port can register \
             its own host's ports as nodes (only the IP it connects from is accepted); \
             see docs/SECURITY.md"
        );
    }
    let a = &cfg.args;
    if crate::protected::guards(a.protected_mode, a.bind, a.cluster_secret_file.is_some()) {
        log::warn!(
            "protected mode: bound to {} with no cluster secret, so only clients and nodes \
             from 127.0.0.1 and ::1 are served (--cluster-secret-file or --protected-mode no \
             lift it)",
            a.bind
        );
    }
    log::info!(
        "{} mode, policy {}, probing every {:?} with a {:?} timeout",
        cfg.args.mode.name(),
        cfg.args.policy.name(),
        cfg.health_interval,
        cfg.health_timeout
    );
    if cfg.args.mode == Mode::Proxy {
        log::info!(
            "proxy: route by {}, {} connections per node, {:?} per attempt",
            cfg.args.route.name(),
            cfg.args.pool_size,
            cfg.args.proxy_timeout
        );
    }
    let io_memory = cfg.args.io_memory;
    lifecycle::run_executor("cachectl-lb", io_memory, sock, move |listener| {
        lb_main(cfg, addr, listener, stop)
    })?;
    log::info!("lb stopped");
    Ok(())
}

async fn lb_main(cfg: LbConfig, addr: SocketAddr, listener: TcpListener, stop: Arc<AtomicBool>) {
    let pools = Pools::new(cfg.args.pool_size);
    let lease_ms = cfg.args.cluster_lease.as_millis() as u64;
    let mut registry = Registry::new(cfg.args.policy, cfg.forget_after.as_millis() as u64);
    registry.set_caps(Caps {
        per_source: cfg.args.max_registrations_per_source,
        total: cfg.args.max_nodes,
    });
    let lb = Rc::new(Lb {
        registry: RefCell::new(registry),
        counters: Default::default(),
        cfg,
        epoch: Instant::now(),
        addr,
        life: Lifecycle::new(),
        pools,
        // The LB clock starts at 0 here: nothing moves for one lease, which
        // any lease a previous LB granted outlives no longer.
        slots: RefCell::new(slots::Slots::new(lease_ms, lease_ms + slots::DRIFT_MS)),
    });
    glommio::spawn_local(probe::probe_loop(lb.clone())).detach();
    if lb.cfg.args.mode == Mode::Cluster {
        glommio::spawn_local(cluster::tick_loop(lb.clone())).detach();
    }
    // The stop ends links' reads too, so nodes see the LB go.
    let watcher = lb.clone();
    glommio::spawn_local(async move {
        watcher.life.watch(&stop).await;
        log::info!("stopping: no new connections, finishing in-flight replies");
    })
    .detach();
    server::accept_loop(lb.clone(), listener).await;
    // As long as a node's drain: a client's requests in flight through the
    // LB wait on the nodes' replies.
    lb.life
        .drain(Instant::now() + Duration::from_secs(10))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        lb: LbArgs,
    }

    fn cfg(args: &[&str]) -> anyhow::Result<LbConfig> {
        let cli = Cli::try_parse_from(std::iter::once("lb").chain(args.iter().copied()))?;
        LbConfig::new(cli.lb)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e30").is_err());
    }

    #[test]
    fn defaults_match_the_seed() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.args.port, 8888);
        assert_eq!(c.args.backlog, 8192);
        assert_eq!(c.health_interval, Duration::from_secs(3));
        assert_eq!(c.health_timeout, Duration::from_millis(500));
        assert_eq!(c.forget_after, Duration::from_secs(30));
        assert_eq!(c.args.policy, Policy::RoundRobin);
        assert_eq!(c.args.mode, Mode::Redirect);
        assert_eq!(c.framing.max_line, protocol::MAX_LINE);
        assert_eq!(c.args.max_registrations_per_source, 64);
        assert_eq!(c.args.max_nodes, 1024);
        assert!(c.args.cluster_secret_file.is_none());
    }

    #[test]
    fn proxy_flags() {
        let c = cfg(&["--mode", "proxy", "--route", "key", "--max-value", "64kb"]).unwrap();
        assert_eq!((c.args.mode, c.args.route), (Mode::Proxy, Route::Key));
        assert_eq!(c.args.pool_size, 16);
        assert_eq!(c.args.proxy_timeout, Duration::from_secs(1));
        assert_eq!(c.framing.resp.max_bulk, 64 * 1024);
        let err = |args: &[&str]| cfg(args).unwrap_err().to_string();
        assert!(err(&["--pool-size", "0"]).contains("--pool-size"));
        assert!(err(&["--pool-size", "5000"]).contains("--pool-size"));
        assert!(err(&["--proxy-timeout", "0s"]).contains("--proxy-timeout"));
        assert!(err(&["--max-value", "0"]).contains("--max-value"));
        assert!(err(&["--max-value", "1gb"]).contains("--max-value"));
        assert!(err(&["--max-value", "lots"]).contains("--max-value"));
        assert!(err(&["--mode", "tunnel"]).contains("--mode"));
        assert!(err(&["--route", "random"]).contains("--route"));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = |args: &[&str]| cfg(args).unwrap_err().to_string();
        assert!(err(&["--health-timeout", "5s"]).contains("--health-timeout"));
        assert!(err(&["--health-interval", "1ms"]).contains("--health-interval"));
        assert!(err(&["--health-timeout", "0ms"]).contains("--health-timeout"));
        assert!(err(&["--forget-after", "0"]).contains("--forget-after"));
        assert!(err(&["--policy", "random"]).contains("--policy"));
        assert!(err(&["--health-interval", "x"]).contains("--health-interval"));
        assert!(err(&["--max-nodes", "0"]).contains("--max-nodes"));
        assert!(err(&["--max-registrations-per-source", "0"])
            .contains("--max-registrations-per-source"));
        assert!(err(&["--cluster-secret-file", "/nonexistent/s"]).contains("--cluster-secret-file"));
        let c = cfg(&["--policy", "least-loaded", "--idle-timeout", "0"]).unwrap();
        assert_eq!(c.args.policy, Policy::LeastLoaded);
        assert_eq!(c.idle_timeout, None);
    }
}
