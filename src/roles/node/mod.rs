//! `cachectl node`: the data plane.
//!
//! One glommio executor per core. Each core owns one [`Shard`] of the
//! keyspace and its own `SO_REUSEPORT` listener on the shared port, so the
//! kernel spreads connections over cores. A request on a key another core
//! owns (see [`shard_for`](crate::ownership::shard_for)) is carried there as a
//! [`hop::Hop`] over a glommio shared channel; nothing on the data path locks.

pub(crate) mod blocking;
mod clients;
mod climits;
mod cmdstats;
mod conn;
mod core;
mod global;
pub mod hop;
mod keys;
mod mempeak;
mod mesh;
mod migrate;
pub mod multi;
mod origin;
mod pause;
mod pipeline;
pub mod pubsub;
mod register;
pub mod routing;
mod session;
mod settings;
mod tail;
mod watch;

use self::core::{Core, Counters, Shared};
use crate::proto::Limits;
use crate::roles::lifecycle;
use crate::store::{Eviction, Shard, ShardConfig};
use anyhow::{bail, Context};
use glommio::net::TcpListener;
use glommio::{Latency, LocalExecutorPoolBuilder, PoolPlacement, Shares};
use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use conn::MAX_CLIENTS_REPLY;

/// Cache behaviour of a node, as seed 004's proxies have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CacheType {
    /// Keys live until deleted or given a TTL (like Redis).
    Plain,
    /// Every key expires `--ttl` seconds after it was written.
    Ttl,
    /// At most `--capacity` keys; the least recently used go first.
    Lru,
}

/// What to do at `--maxmemory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MaxmemoryPolicy {
    /// Refuse writes with `-OOM`.
    Noeviction,
    /// Evict least recently used keys.
    AllkeysLru,
}

/// Flags of `cachectl node`.
#[derive(clap::Args, Clone, Debug)]
#[command(group(clap::ArgGroup::new("link").args(["lb", "cluster"]).multiple(true)))]
pub struct NodeArgs {
    /// TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 12345)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Executor cores (shards); default: all online CPUs.
    #[arg(long)]
    pub cores: Option<usize>,
    /// Pin each executor to its own CPU.
    #[arg(long)]
    pub pin: bool,
    /// Listen backlog (capped by net.core.somaxconn; a warning says so).
    #[arg(long, default_value_t = 8192)]
    pub backlog: u32,
    /// Most client connections; default: what the open-file limit allows.
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Largest bulk string in a request, e.g. 512mb; a bare number is bytes
    /// (Redis: proto-max-bulk-len).
    #[arg(long, default_value = "512mb", value_parser = crate::units::parse_bytes)]
    pub max_bulk: usize,
    /// Most arguments in one request.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_args: usize,
    /// Longest inline or line-protocol request, e.g. 64kb; a bare number is bytes.
    #[arg(long, default_value = "64kb", value_parser = crate::units::parse_bytes)]
    pub max_inline: usize,
    /// Cache behaviour: plain, ttl (uses --ttl) or lru (uses --capacity).
    #[arg(long, value_enum, default_value_t = CacheType::Plain)]
    pub cache_type: CacheType,
    /// TTL given to every key by `--cache-type ttl`, e.g. 60s or 2m; a bare
    /// number is seconds.
    #[arg(long, default_value = "60", value_parser = crate::units::whole_secs)]
    pub ttl: u64,
    /// Most keys held by `--cache-type lru` (split over cores, the first
    /// `capacity % cores` taking one more; at least one per core).
    #[arg(long, default_value_t = 1_000_000)]
    pub capacity: usize,
    /// Memory bound for keys and values, e.g. 100mb or 2gb (split over cores).
    #[arg(long, value_parser = crate::units::parse_bytes)]
    pub maxmemory: Option<usize>,
    /// Policy at --maxmemory; default: allkeys-lru for lru nodes, else noeviction.
    #[arg(long, value_enum)]
    pub maxmemory_policy: Option<MaxmemoryPolicy>,
    /// Read-through origin: a GET miss fetches the key from this server
    /// (RESP `GET`), caches and returns it.
    #[arg(long, value_parser = crate::addr::parse_host_port)]
    pub origin: Option<crate::addr::HostPort>,
    /// How long an origin fetch may take before the GET fails, e.g. 1s or
    /// 250ms; a bare number is milliseconds.
    #[arg(long, default_value = "1000", value_parser = crate::units::whole_millis)]
    pub origin_timeout: u64,
    /// Cache "not found" answers from the origin this long, e.g. 30s; a bare
    /// number is seconds (default: not cached, every miss asks the origin).
    #[arg(long, value_parser = crate::units::whole_secs)]
    pub negative_ttl: Option<u64>,
    /// io_uring registered buffer memory per executor, e.g. 256kb; a bare
    /// number is bytes.
    #[arg(long, default_value = "256kb", value_parser = crate::units::parse_bytes)]
    pub io_memory: usize,
    /// Busy-poll this long before parking an idle executor, e.g. 50us; a
    /// bare number is microseconds (trades CPU for latency; 0 = off).
    #[arg(long, default_value = "0", value_parser = crate::units::whole_micros)]
    pub spin_us: u64,
    /// Register with the load balancer at HOST:PORT and keep a liveness link
    /// to it (retried with backoff while the LB is unreachable).
    #[arg(long, value_parser = crate::addr::parse_host_port)]
    pub lb: Option<crate::addr::HostPort>,
    /// HOST:PORT clients should use for this node, sent to the LB (default:
    /// the bound address and port; with a wildcard --bind, the local IP of
    /// the connection to the LB).
    #[arg(long, value_parser = crate::addr::parse_host_port, requires = "link")]
    pub advertise: Option<crate::addr::HostPort>,
    /// Cluster mode: every core is a Redis Cluster shard on its own port
    /// (--core-ports), and a key of another shard gets -MOVED. With --lb the
    /// LB's slot map and ownership lease decide (run it with --mode
    /// cluster); without, the node is a cluster of its own cores.
    #[arg(long)]
    pub cluster: bool,
    /// With --cluster: core i listens on BASE+i (default BASE: --port + 1);
    /// 0 gives every core a free port of its own.
    #[arg(long, requires = "cluster")]
    pub core_ports: Option<u16>,
    /// Close a client idle this long, e.g. 300 or 5m; a bare number is
    /// seconds, 0 never (Redis's `timeout`; changeable with CONFIG SET timeout).
    #[arg(long, default_value = "0", value_parser = crate::units::whole_secs)]
    pub timeout: u64,
    /// Require clients to AUTH with this password (Redis's `requirepass`;
    /// visible in `ps`, so prefer --requirepass-file).
    #[arg(long, value_name = "PASSWORD", conflicts_with = "requirepass_file")]
    pub requirepass: Option<String>,
    /// Read the password clients must AUTH with from the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub requirepass_file: Option<std::path::PathBuf>,
    /// Read the cluster secret shared with the LB from FILE (one trailing
    /// newline is trimmed): it proves this node to the LB at registration
    /// and in every probe. Never shown or logged.
    #[arg(long, value_name = "FILE", value_parser = crate::secret::parse_secret_file)]
    pub cluster_secret_file: Option<crate::secret::ClusterSecret>,
    /// Protected mode, as Redis's `protected-mode`: bound beyond loopback with
    /// no password and no --cluster-secret-file, serve only clients from
    /// 127.0.0.1 and ::1 and refuse others with Redis's -DENIED error.
    #[arg(long, value_name = "yes|no", default_value = "yes", action = clap::ArgAction::Set,
          value_parser = crate::protected::parse_yes_no)]
    pub protected_mode: bool,
    /// Output-buffer limit of a subscribed client, as Redis's
    /// `client-output-buffer-limit pubsub`: "HARD SOFT SECONDS". A
    /// subscriber with HARD bytes unread, or more than SOFT for over
    /// SECONDS, is disconnected; 0 turns a limit off.
    #[arg(
        long,
        value_name = "LIMITS",
        default_value = "32mb 8mb 60",
        value_parser = pubsub::parse_limit
    )]
    pub pubsub_output_limit: pubsub::OutputLimit,
    /// Output-buffer limits by class, as Redis's `client-output-buffer-limit`:
    /// "CLASS HARD SOFT SECONDS ..." with CLASS normal, pubsub or replica,
    /// e.g. "normal 64mb 16mb 10". A normal client with HARD bytes of replies
    /// unsent, or more than SOFT for over SECONDS, is disconnected; 0 turns a
    /// limit off. Applied after --pubsub-output-limit; changeable with CONFIG SET.
    #[arg(long, value_name = "LIMITS", value_parser = parse_output_limits)]
    pub client_output_buffer_limit: Option<settings::ClassLimits>,
    /// Most unparsed input one client may hold, e.g. 1gb (Redis's
    /// `client-query-buffer-limit`; at least 1mb); a client past it is
    /// closed. Changeable with CONFIG SET.
    #[arg(long, default_value = "1gb", value_parser = climits::parse_query_limit)]
    pub client_query_buffer_limit: usize,
    /// Bound on every client's input and output buffers together, e.g. 64mb,
    /// or a percentage of --maxmemory such as 10% (Redis's
    /// `maxmemory-clients`; 0 = off). Past it the clients with the biggest
    /// buffers are closed first, except those that ran CLIENT NO-EVICT on.
    #[arg(long, default_value = "0", value_parser = climits::parse_clients_flag)]
    pub maxmemory_clients: climits::ClientsLimit,
    /// Log commands that run at least this long, e.g. 10ms; a bare number is
    /// microseconds (Redis's `slowlog-log-slower-than`; -1 logs none, 0 every
    /// command); changeable with CONFIG SET.
    #[arg(long, default_value = "10000", allow_negative_numbers = true,
          value_parser = parse_slowlog_threshold)]
    pub slowlog_log_slower_than: i64,
    /// Entries the slow log keeps (Redis's `slowlog-max-len`);
    /// changeable with CONFIG SET.
    #[arg(long, default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub slowlog_max_len: u64,
}

/// `--slowlog-log-slower-than`: `-1` (log nothing) or a duration whose bare
/// number is microseconds, as whole microseconds.
///
/// # Errors
/// A [`crate::units::DurationError`] for anything else.
pub fn parse_slowlog_threshold(s: &str) -> Result<i64, crate::units::DurationError> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    // Within MAX_DURATION, so the microseconds fit an i64.
    crate::units::whole_micros(s).map(|us| us as i64)
}

/// `--client-output-buffer-limit`: Redis's CONFIG SET syntax, units as
/// Redis reads them.
///
/// # Errors
/// Redis's message for a value it would refuse.
pub fn parse_output_limits(s: &str) -> Result<settings::ClassLimits, String> {
    settings::output_limits(s.as_bytes())
        .map(settings::ClassLimits)
        .map_err(String::from)
}

/// Settings derived from the flags, shared by all cores.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The flags as given.
    pub args: NodeArgs,
    /// Request size limits.
    pub limits: Limits,
    /// Whole-node memory bound.
    pub maxmemory: Option<usize>,
    /// Eviction policy at start.
    pub eviction: Eviction,
    /// Eviction policy now (CONFIG SET maxmemory-policy).
    pub policy: settings::LivePolicy,
    /// The password clients must AUTH with at start (`CONFIG SET
    /// requirepass` changes the live one in [`Shared`]).
    pub requirepass: Option<Vec<u8>>,
}

impl NodeConfig {
    /// Validate flags and derive the settings.
    ///
    /// # Errors
    /// A message naming the flag that is wrong.
    pub fn new(args: NodeArgs) -> anyhow::Result<Self> {
        if args.cores == Some(0) {
            bail!("--cores must be at least 1");
        }
        if args.cache_type == CacheType::Ttl && args.ttl == 0 {
            bail!("--ttl must be at least 1 second");
        }
        if args.cache_type == CacheType::Lru && args.capacity == 0 {
            bail!("--capacity must be at least 1");
        }
        if args.maxmemory == Some(0) {
            bail!("--maxmemory must be more than 0");
        }
        let eviction = match (args.maxmemory_policy, args.cache_type) {
            (Some(MaxmemoryPolicy::AllkeysLru), _) | (None, CacheType::Lru) => Eviction::Lru,
            _ => Eviction::NoEviction,
        };
        let limits = Limits {
            max_bulk: args.max_bulk,
            max_args: args.max_args,
            max_inline: args.max_inline,
        };
        let requirepass = match (&args.requirepass, &args.requirepass_file) {
            (Some(p), _) => Some(p.as_bytes().to_vec()),
            (None, Some(path)) => {
                let text = std::fs::read(path)
                    .with_context(|| format!("--requirepass-file {}", path.display()))?;
                let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.is_empty() {
                    bail!(
                        "--requirepass-file {}: the first line is empty",
                        path.display()
                    );
                }
                Some(line.to_vec())
            }
            (None, None) => None,
        };
        if requirepass.as_deref() == Some(b"") {
            bail!("--requirepass must not be empty");
        }
        Ok(NodeConfig {
            maxmemory: args.maxmemory,
            eviction,
            policy: settings::LivePolicy::new(eviction),
            limits,
            requirepass,
            args,
        })
    }

    /// Redis's name for the eviction policy in force.
    pub fn policy_name(&self) -> &'static str {
        settings::policy_name(self.policy.get())
    }

    /// The shard settings for one of `n` cores.
    fn shard_config(&self, core: usize, n: usize) -> ShardConfig {
        ShardConfig {
            eviction: self.eviction,
            capacity: (self.args.cache_type == CacheType::Lru)
                .then(|| core_share(self.args.capacity, core, n)),
            maxmemory: self.maxmemory.map(|m| m / n),
            default_ttl_ms: (self.args.cache_type == CacheType::Ttl).then(|| self.args.ttl * 1000),
            seed: 0x5eed ^ core as u64,
            encodings: Default::default(),
        }
    }
}

/// Core `core`'s share of a key capacity split over `n` cores: the shares
/// add up to `total` (the first `total % n` cores take one more), except
/// that every core gets room for at least one key.
fn core_share(total: usize, core: usize, n: usize) -> usize {
    (total / n + usize::from(core < total % n)).max(1)
}

/// File descriptors kept back from maxclients: listeners, io_uring rings,
/// eventfds, the mesh, logs — Redis reserves 32; we have more per core.
fn reserved_fds(cores: usize) -> usize {
    64 + 16 * cores
}

/// Run a node until SIGINT/SIGTERM.
///
/// # Errors
/// Bad flags, a port that cannot be bound, or an executor that fails to start.
pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let cfg = NodeConfig::new(args)?;
    let cores = cfg
        .args
        .cores
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let limit = crate::sys::raise_nofile_limit().context("raising the open-file limit")? as usize;
    let cap = limit.saturating_sub(reserved_fds(cores)).max(1);
    let maxclients = match cfg.args.maxclients {
        Some(m) if m > cap => {
            log::warn!(
                "--maxclients {m} exceeds what the open-file limit {limit} allows; using {cap}"
            );
            cap
        }
        Some(m) => m,
        None => cap,
    };
    log::info!("open-file limit {limit}: accepting up to {maxclients} clients");
    let a = &cfg.args;
    if crate::protected::guards(a.protected_mode, a.bind, a.cluster_secret_file.is_some())
        && cfg.requirepass.is_none()
    {
        log::warn!(
            "protected mode: bound to {} with no password and no cluster secret, so only \
             clients from 127.0.0.1 and ::1 are served (--requirepass-file, \
             --cluster-secret-file or --protected-mode no lift it)",
            a.bind
        );
    }
    if cfg.args.cache_type == CacheType::Lru && cfg.args.capacity < cores {
        log::warn!(
            "--capacity {} is less than --cores {cores}: every core holds at least one key, so up to {cores} are kept",
            cfg.args.capacity
        );
    }
    crate::sys::warn_if_backlog_capped(cfg.args.backlog);

    // Bind every core's listener here, before the executors start, so that
    // `--port 0` resolves once and all cores share the port.
    let first = crate::sys::listener(
        SocketAddr::new(cfg.args.bind, cfg.args.port),
        cfg.args.backlog,
        true,
    )
    .with_context(|| {
        format!(
            "binding {}:{} (--bind/--port)",
            cfg.args.bind, cfg.args.port
        )
    })?;
    let addr = first
        .local_addr()?
        .as_socket()
        .context("listener has no socket address")?;
    let mut fds = vec![first.into_raw_fd()];
    for _ in 1..cores {
        fds.push(crate::sys::listener(addr, cfg.args.backlog, true)?.into_raw_fd());
    }
    if cfg.args.cluster && cfg.args.advertise.is_none() && addr.ip().is_unspecified() {
        anyhow::bail!(
            "--cluster with a wildcard --bind {} needs --advertise HOST:PORT: the slot map \
             and every -MOVED name the address clients reach this node at",
            addr.ip()
        );
    }
    let (core_fds, core_ports) = if cfg.args.cluster {
        core_listeners(&cfg.args, addr, cores)?
    } else {
        (Vec::new(), Vec::new())
    };
    let cluster = cfg.args.cluster.then(|| {
        let me = register::advertised_addr(cfg.args.advertise.as_ref(), addr, None);
        let at = |p: u16| crate::addr::HostPort {
            host: me.host.clone(),
            port: p,
        };
        let addrs: Vec<_> = core_ports.iter().map(|&p| at(p)).collect();
        Arc::new(routing::Routing::new(
            me,
            cores,
            &addrs,
            cfg.args.lb.is_none(),
        ))
    });

    // `signal`: asked to stop (SIGINT, SIGTERM, SHUTDOWN). `stop`: the
    // cores stop. A cluster node with an LB leaves in between (its slots
    // move off it warm: `register::renew_loop`), so its link thread sets
    // `stop`; otherwise they are one flag.
    // `again`: asked a second time, which cuts a leave short.
    let (signal, again) = crate::sys::stop_flags()?;
    let stop = match (&cluster, &cfg.args.lb) {
        (Some(_), Some(_)) => Arc::new(AtomicBool::new(false)),
        _ => signal.clone(),
    };
    // The node clock: every core's `now` and the lease's deadline.
    let clock = Instant::now();
    if let Some(lb) = cfg.args.lb.clone() {
        let link = register::Link {
            lb,
            advertise: cfg.args.advertise.clone(),
            bound: addr,
            cores,
            secret: cfg.args.cluster_secret_file.clone(),
            cluster: cluster.clone().map(|r| (r, core_ports.clone())),
            clock,
        };
        register::spawn(link, signal.clone(), again, stop.clone())
            .context("starting the LB registration thread")?;
    }
    let origin = match &cfg.args.origin {
        Some(hp) => Some(
            std::net::ToSocketAddrs::to_socket_addrs(&(hp.host.as_str(), hp.port))
                .ok()
                .and_then(|mut a| a.next())
                .with_context(|| format!("--origin {hp}: cannot resolve"))?,
        ),
        None => None,
    };
    let (cfg_slower_than, cfg_slowlog_len) =
        (cfg.args.slowlog_log_slower_than, cfg.args.slowlog_max_len);
    let (cfg_clients_limit, cfg_query_limit) = (
        cfg.args.maxmemory_clients,
        cfg.args.client_query_buffer_limit,
    );
    let shared = Arc::new(Shared {
        encodings: std::sync::Mutex::default(),
        timeout_secs: std::sync::atomic::AtomicU64::new(cfg.args.timeout),
        protected_mode: std::sync::atomic::AtomicBool::new(cfg.args.protected_mode),
        maxmemory: AtomicUsize::new(cfg.maxmemory.unwrap_or(0)),
        max_bulk: AtomicUsize::new(cfg.limits.max_bulk),
        output_limits: settings::OutputLimits::new(cfg.args.pubsub_output_limit),
        stop: signal.clone(),
        requirepass: std::sync::RwLock::new(cfg.requirepass.clone()),
        cfg,
        epoch: clock,
        epoch_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        clients: AtomicUsize::new(0),
        maxclients: settings::MaxClients::new(maxclients, cap),
        addr,
        origin,
        tx_gate: AtomicBool::new(false),
        spanning: Box::leak((0..cores).map(|_| multi::Counter::default()).collect()),
        pubsub: pubsub::Directory::new(cores),
        slowlog: cmdstats::SlowSettings::new(cfg_slower_than, cfg_slowlog_len),
        slow_log: std::sync::Mutex::default(),
        pause: pause::Pause::default(),
        client_mem: climits::ClientMem::new(cores, cfg_clients_limit, cfg_query_limit),
        mem_peak: mempeak::MemPeak::new(cores),
        cluster,
        core_ports: core_ports.clone(),
    });
    if let Some(classes) = &shared.cfg.args.client_output_buffer_limit {
        shared.output_limits.set(&classes.0);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let mesh = Arc::new(mesh::Handout::new(mesh::build(cores)));
    let placement = if shared.cfg.args.pin {
        PoolPlacement::MaxSpread(cores, None)
    } else {
        PoolPlacement::Unbound(cores)
    };
    let mut builder = LocalExecutorPoolBuilder::new(placement)
        .name("cachectl-node")
        .io_memory(shared.cfg.args.io_memory)
        // Every idle client keeps a read poll armed; with glommio's default
        // 128-entry ring, io_poll_find showed at ~9% of a node's CPU with
        // 12,500 connections (C50K). A deeper ring removes it.
        .ring_depth(4096);
    if shared.cfg.args.spin_us > 0 {
        builder = builder.spin_before_park(Duration::from_micros(shared.cfg.args.spin_us));
    }
    let started = Arc::new(AtomicUsize::new(0));
    spawn_start_watchdog(started.clone(), cores);
    let handles = builder
        .on_all_shards(move || {
            let (shared, mesh, stop, done, fds, started) = (
                shared.clone(),
                mesh.clone(),
                stop.clone(),
                done.clone(),
                (fds.clone(), core_fds.clone()),
                started.clone(),
            );
            async move { core_main(shared, mesh, stop, done, fds, started).await }
        })
        .map_err(|e| anyhow::anyhow!("starting executors: {e}"))?;
    for r in handles.join_all() {
        r.map_err(|e| anyhow::anyhow!("executor failed: {e:?}"))??;
    }
    log::info!("node stopped");
    Ok(())
}

/// Cluster mode's per-core listeners: core i on BASE+i (BASE defaults to
/// the main port + 1; 0 gives each core a free port), and the ports bound.
fn core_listeners(
    args: &NodeArgs,
    main: SocketAddr,
    cores: usize,
) -> anyhow::Result<(Vec<i32>, Vec<u16>)> {
    let base = args.core_ports.unwrap_or(main.port().saturating_add(1));
    let (mut fds, mut ports) = (Vec::new(), Vec::new());
    for c in 0..cores {
        let port = if base == 0 {
            0
        } else {
            u16::try_from(usize::from(base) + c)
                .ok()
                .with_context(|| format!("--core-ports {base}: core {c}'s port is past 65535"))?
        };
        let l = crate::sys::listener(SocketAddr::new(main.ip(), port), args.backlog, false)
            .with_context(|| format!("binding core {c}'s port {port} (--core-ports)"))?;
        let bound = l
            .local_addr()?
            .as_socket()
            .context("listener has no socket address")?;
        ports.push(bound.port());
        fds.push(l.into_raw_fd());
    }
    Ok((fds, ports))
}

/// How long the cores may take to connect to each other and start serving.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// Turn a stalled start into a clear failure. Under heavy load about one
/// start in a few hundred of a two-core node has been seen to park both
/// executors before they finished connecting their channels (glommio 0.9;
/// not yet understood). A process that never serves but looks alive is the
/// worst outcome for a supervisor, so the node exits non-zero instead, and
/// `cachectl cluster`/`bench` or an init system can start it again.
fn spawn_start_watchdog(started: Arc<AtomicUsize>, cores: usize) {
    std::thread::spawn(move || {
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if started.load(Ordering::SeqCst) >= cores {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        log::error!(
            "only {} of {cores} cores started within {START_DEADLINE:?}; exiting so a supervisor can restart the node",
            started.load(Ordering::SeqCst)
        );
        std::process::exit(70);
    });
}

async fn core_main(
    shared: Arc<Shared>,
    mesh: Arc<mesh::Handout>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    (fds, core_fds): (Vec<i32>, Vec<i32>),
    started: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    // glommio 0.9 can lose the wake-up of a shared-channel connection made
    // while this executor sleeps (seen as ~1% of two-core starts hanging
    // while connecting, with nothing pending). A short ticker keeps the
    // reactor polling its channel wakers until every channel is connected.
    let joined = Rc::new(Cell::new(false));
    let ticker = joined.clone();
    glommio::spawn_local(async move {
        while !ticker.get() {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
    })
    .detach();
    let ends = mesh.take().context("more executors than cores")?;
    let id = ends.id;
    let n = fds.len();
    let (senders, receivers) = ends.connect().await;
    joined.set(true);
    // SAFETY: each fd was created by `sys::listener` above and is handed to
    // exactly one core (indexed by the unique id of its channel ends).
    let listener = unsafe { TcpListener::from_raw_fd(fds[id]) };
    // SAFETY: as above, for cluster mode's per-core listeners.
    let own_port = core_fds
        .get(id)
        .map(|&fd| unsafe { TcpListener::from_raw_fd(fd) });
    let core = Rc::new(Core {
        id,
        n,
        shard: RefCell::new(Shard::new(shared.cfg.shard_config(id, n))),
        mesh: senders,
        shared: shared.clone(),
        counters: Counters::default(),
        next_client: Cell::new(0),
        conns: clients::Registry::default(),
        watched: RefCell::default(),
        life: lifecycle::Lifecycle::new(),
        origin: shared.origin.map(|addr| {
            origin::Origin::new(
                addr,
                Duration::from_millis(shared.cfg.args.origin_timeout.max(1)),
                shared.cfg.args.negative_ttl.map(|s| s * 1000),
            )
        }),
        pubsub: RefCell::default(),
        paused: pause::Waiters::default(),
        blocked: RefCell::default(),
        attempting: Cell::default(),
        cluster: shared.cluster.clone().map(routing::Local::new),
    });
    self::core::spawn_hop_servers(&core, receivers);
    self::core::spawn_expiry_sweeper(&core);
    if core.cluster.is_some() {
        migrate::spawn(&core);
    }
    climits::spawn_watch(&core);
    let watcher = core.clone();
    glommio::spawn_local(async move {
        lifecycle::wait_for(&stop).await;
        if watcher.id == 0 {
            log::info!("stopping: no new connections, finishing in-flight replies");
        }
        watcher.life.stop();
    })
    .detach();
    // "Listening" is announced once every core serves, so a client that
    // waits for the line never meets a core that is still starting.
    if started.fetch_add(1, Ordering::SeqCst) + 1 == n {
        // Cluster mode names each core's own port in the same line, so a
        // supervisor that waits for it knows every address.
        let ports: Vec<String> = shared.core_ports.iter().map(u16::to_string).collect();
        let ports = match ports.is_empty() {
            true => String::new(),
            false => format!(", cluster core ports {}", ports.join(",")),
        };
        println!(
            "cachectl node listening on {} ({n} cores, maxclients {}{ports})",
            shared.addr, shared.maxclients
        );
    }
    // See `conn::Queues`: accepts and probes are not queued behind clients.
    let queues = conn::Queues {
        control: glommio::executor().create_task_queue(
            Shares::Static(1000),
            Latency::NotImportant,
            "control",
        ),
        data: glommio::executor().current_task_queue(),
    };
    let accepting = conn::accept_loop(core.clone(), listener, routing::Entry::Main, queues);
    let own_core = core.clone();
    let accepting = async move {
        match own_port {
            Some(l) => {
                let own = conn::accept_loop(own_core, l, routing::Entry::CorePort, queues);
                futures_lite::future::zip(accepting, own).await;
            }
            None => accepting.await,
        }
    };
    glommio::spawn_local_into(accepting, queues.control)
        .map_err(|e| anyhow::anyhow!("starting the accept loops: {e}"))?
        .await;
    // Let connections finish the replies they are writing.
    core.life
        .drain(Instant::now() + Duration::from_secs(10))
        .await;
    // Keep serving other cores' hops until every core is done.
    done.fetch_add(1, Ordering::SeqCst);
    while done.load(Ordering::SeqCst) < n {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::core_share;

    #[test]
    fn capacity_shares_add_up_to_the_capacity() {
        for (total, n) in [(2000, 2), (2001, 2), (100, 3), (7, 4), (4, 4)] {
            let shares: Vec<usize> = (0..n).map(|c| core_share(total, c, n)).collect();
            assert_eq!(shares.iter().sum::<usize>(), total, "{total} over {n}");
            assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1);
        }
        assert_eq!(core_share(2001, 0, 2), 1001);
        assert_eq!(core_share(2001, 1, 2), 1000);
        // Fewer keys than cores: one each.
        assert_eq!((0..4).map(|c| core_share(2, c, 4)).sum::<usize>(), 4);
    }
}
