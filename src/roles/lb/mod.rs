//! `cachectl lb`: the control plane. Nodes register, a background task
//! probes them, and clients ask for a lease (a node address) and then talk
//! to that node directly — data never flows through the LB.
//!
//! One glommio executor runs everything: the accept loop, a task per
//! connection (a registration link is just a connection that stays open),
//! and the probe task. The state is an [`Rc<RefCell<Registry>>`] that no
//! task holds across an await, so nothing locks. The wire protocol (both
//! forms) and the health-check state machine are described in docs/LB.md.

pub mod metrics;
mod probe;
pub mod protocol;
pub mod registry;
mod server;

use self::registry::{Policy, Registry};
use self::server::Lb;
use anyhow::{bail, Context};
use glommio::net::TcpListener;
use glommio::sync::Semaphore;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// How often every node is probed, e.g. 3s or 250ms.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub health_interval: Duration,
    /// How long a probe may take before its node is evicted, e.g. 500ms.
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    pub health_timeout: Duration,
    /// Health intervals a down node without a link stays listed before it is
    /// dropped from the registry.
    #[arg(long, default_value_t = 10)]
    pub forget_after: u32,
    /// Close client connections idle this long (registration links are
    /// exempt); 0 never closes them.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub idle_timeout: Duration,
    /// io_uring registered buffer memory for the executor, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    pub io_memory: usize,
}

/// Parse `3s`, `500ms`, `2m`, `1.5s`; a bare number is seconds.
///
/// # Errors
/// A message showing the expected form.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t.as_str(), 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v * scale < 1e9 => {
            Ok(Duration::from_secs_f64(v * scale))
        }
        _ => Err(format!("'{s}' is not a duration (try 3s or 500ms)")),
    }
}

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
        Ok(LbConfig {
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
    let limit = crate::sys::raise_nofile_limit().context("raising the open-file limit")?;
    log::info!("open-file limit {limit}");
    crate::sys::warn_if_backlog_capped(cfg.args.backlog);
    let want = SocketAddr::new(cfg.args.bind, cfg.args.port);
    let sock = crate::sys::listener(want, cfg.args.backlog, false)
        .with_context(|| format!("binding {want} (--bind/--port)"))?;
    let addr = sock
        .local_addr()?
        .as_socket()
        .context("listener has no socket address")?;
    let fd = sock.into_raw_fd();

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    println!("cachectl lb listening on {addr}");
    log::info!(
        "policy {}, probing every {:?} with a {:?} timeout",
        cfg.args.policy.name(),
        cfg.health_interval,
        cfg.health_timeout
    );
    let io_memory = cfg.args.io_memory;
    let handle = LocalExecutorBuilder::new(Placement::Unbound)
        .name("cachectl-lb")
        .io_memory(io_memory)
        .spawn(move || async move {
            // SAFETY: `fd` is the listener built above, handed over once.
            let listener = unsafe { TcpListener::from_raw_fd(fd) };
            lb_main(cfg, addr, listener, stop).await
        })
        .map_err(|e| anyhow::anyhow!("starting the executor: {e}"))?;
    handle
        .join()
        .map_err(|e| anyhow::anyhow!("executor failed: {e:?}"))?;
    log::info!("lb stopped");
    Ok(())
}

async fn lb_main(cfg: LbConfig, addr: SocketAddr, listener: TcpListener, stop: Arc<AtomicBool>) {
    let lb = Rc::new(Lb {
        registry: RefCell::new(Registry::new(
            cfg.args.policy,
            cfg.forget_after.as_millis() as u64,
        )),
        counters: Default::default(),
        cfg,
        epoch: Instant::now(),
        addr,
        conns: RefCell::new(Default::default()),
        stopping: Cell::new(false),
    });
    glommio::spawn_local(probe::probe_loop(lb.clone())).detach();
    let gate = Rc::new(Semaphore::new(0));
    glommio::spawn_local(watch_for_stop(lb.clone(), stop, gate.clone())).detach();
    server::accept_loop(lb.clone(), listener, gate).await;
    // Let connections finish the replies they are writing; their reads were
    // ended by `watch_for_stop`.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !lb.conns.borrow().is_empty() && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}

/// Poll the signal flag; on a stop, close the accept gate and end every
/// connection's pending read (links included, so nodes see the LB go).
async fn watch_for_stop(lb: Rc<Lb>, stop: Arc<AtomicBool>, gate: Rc<Semaphore>) {
    while !stop.load(Ordering::Relaxed) {
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    log::info!("stopping: no new connections, finishing in-flight replies");
    lb.stopping.set(true);
    gate.close();
    for &fd in lb.conns.borrow().iter() {
        // SAFETY: fd is an open socket owned by a live connection task;
        // SHUT_RD only makes its pending read return 0.
        unsafe { libc::shutdown(fd, libc::SHUT_RD) };
    }
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
        let c = cfg(&["--policy", "least-loaded", "--idle-timeout", "0"]).unwrap();
        assert_eq!(c.args.policy, Policy::LeastLoaded);
        assert_eq!(c.idle_timeout, None);
    }
}
