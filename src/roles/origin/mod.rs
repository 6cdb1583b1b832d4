//! `cachectl origin`: seed 004's source of truth. Nodes started with
//! `--origin` read through to it on a miss; people and scripts can ask it
//! directly with newline-terminated JSON, and `redis-cli` with RESP.
//!
//! One glommio executor serves every connection; the state is an `Rc` that
//! no task borrows across an await. Files: `json` (the JSON protocol, no
//! I/O), `data` (keys → values: the sample set or files), `sample` (the
//! generated data set), `server` (sockets and counters). The protocol is
//! documented in docs/SEED004.md and in `cachectl origin --help`.

pub mod data;
pub mod json;
pub mod sample;
mod server;

use self::data::Source;
use self::server::Origin;
use crate::roles::lifecycle::{self, Lifecycle};
use anyhow::{bail, Context};
use glommio::net::TcpListener;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The protocol summary `cachectl origin --help` prints after the flags.
const PROTOCOL_HELP: &str = "\
Protocols (one port; the first byte of a connection picks one):
  JSON lines: one object per line each way. Requests:
    {\"op\":\"GET\",\"key\":\"article/1\"}
        -> {\"ok\":true,\"key\":\"article/1\",\"value\":\"...\"}
           (a value that is not UTF-8 comes base64-encoded with \"encoding\":\"base64\")
        -> {\"ok\":false,\"error\":\"not found\",\"key\":\"article/1\"}
        -> {\"ok\":false,\"error\":\"invalid key: '..' is not allowed in keys\",\"key\":\"../x\"}
    {\"op\":\"METRICS\"} -> {\"ok\":true,\"metrics\":{\"fetches\":N,\"hits\":N,\"misses\":N,...}}
    {\"op\":\"PING\"}    -> {\"ok\":true,\"pong\":true}
    A malformed line gets {\"ok\":false,\"error\":\"...\"} and the connection carries on.
  RESP (first byte '*', as redis-cli and the node's read-through send):
    GET key -> bulk string or nil;  METRICS -> bulk JSON;  PING -> +PONG;  QUIT

Keys are relative paths: segments separated by '/', none empty, '.' or '..';
no leading '/'. Every GET is a fetch (counted in METRICS, found or not).

Data: without --data, a built-in generated set: article/1..100 (text),
user/1..50 (JSON), blob/1..10 (binary). With --data DIR, the regular files
under DIR, read on each fetch; symlinks may not lead outside DIR.

Example:
  cachectl origin --port 8000 --latency 50
  printf '{\"op\":\"GET\",\"key\":\"article/1\"}\\n' | nc -q1 127.0.0.1 8000
  redis-cli -p 8000 GET user/7";

/// Flags of `cachectl origin`.
#[derive(clap::Args, Clone, Debug)]
#[command(after_long_help = PROTOCOL_HELP)]
pub struct OriginArgs {
    /// TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Serve the files under DIR, key = path relative to DIR (e.g.
    /// article/1); default: the built-in sample data set.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Simulated backend latency added to every fetch, e.g. 200ms or 1s; a
    /// bare number is milliseconds (a timer: other clients are served meanwhile).
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = crate::units::whole_millis)]
    pub latency: u64,
    /// Largest file served, e.g. 64mb (a bare number is bytes); larger ones
    /// are refused with an error.
    #[arg(long, value_name = "BYTES", value_parser = crate::units::parse_bytes, default_value = "64mb")]
    pub max_value: usize,
    /// Listen backlog (capped by net.core.somaxconn; a warning says so).
    #[arg(long, default_value_t = 1024)]
    pub backlog: u32,
    /// io_uring registered buffer memory for the executor, e.g. 256kb; a bare
    /// number is bytes.
    #[arg(long, default_value = "256kb", value_parser = crate::units::parse_bytes)]
    pub io_memory: usize,
}

/// Validated settings of a running origin.
#[derive(Clone, Debug)]
pub struct OriginConfig {
    /// The flags as given.
    pub args: OriginArgs,
    /// Delay added to every fetch.
    pub latency: Duration,
    /// Largest value served.
    pub max_value: usize,
}

impl OriginConfig {
    /// Check the flags.
    ///
    /// # Errors
    /// A message naming the flag that is wrong.
    pub fn new(args: OriginArgs) -> anyhow::Result<OriginConfig> {
        // An hour is far past any useful simulation and keeps the timer sane.
        if args.latency > 3_600_000 {
            bail!("--latency must be at most 3600000 ms (one hour)");
        }
        if args.max_value == 0 {
            bail!("--max-value must be more than 0");
        }
        if args.backlog == 0 {
            bail!("--backlog must be at least 1");
        }
        Ok(OriginConfig {
            latency: Duration::from_millis(args.latency),
            max_value: args.max_value,
            args,
        })
    }
}

/// Run the origin until SIGINT/SIGTERM.
///
/// # Errors
/// Bad flags, an unreadable `--data`, a port that cannot be bound, or an
/// executor that fails to start.
pub fn run(args: OriginArgs) -> anyhow::Result<()> {
    let cfg = OriginConfig::new(args)?;
    let source = match &cfg.args.data {
        Some(dir) => Source::dir(dir).with_context(|| format!("--data {}", dir.display()))?,
        None => Source::sample(),
    };
    let want = SocketAddr::new(cfg.args.bind, cfg.args.port);
    let (sock, addr) = lifecycle::bind(want, cfg.args.backlog)?;
    let stop = crate::sys::stop_flag()?;
    log::info!(
        "serving {}; latency {:?} per fetch",
        source.describe(),
        cfg.latency
    );
    println!("cachectl origin listening on {addr}");
    let io_memory = cfg.args.io_memory;
    lifecycle::run_executor("cachectl-origin", io_memory, sock, move |listener| {
        origin_main(cfg, source, addr, listener, stop)
    })?;
    log::info!("origin stopped");
    Ok(())
}

async fn origin_main(
    cfg: OriginConfig,
    source: Source,
    addr: SocketAddr,
    listener: TcpListener,
    stop: Arc<AtomicBool>,
) {
    let o = Rc::new(Origin {
        cfg,
        source,
        counters: Default::default(),
        epoch: Instant::now(),
        addr,
        life: Lifecycle::new(),
    });
    let watcher = o.clone();
    glommio::spawn_local(async move {
        watcher.life.watch(&stop).await;
        log::info!("stopping: no new connections, finishing in-flight fetches");
    })
    .detach();
    server::accept_loop(o.clone(), listener).await;
    // In-flight fetches may still be waiting out --latency.
    let deadline = Instant::now() + Duration::from_secs(5) + o.cfg.latency;
    o.life.drain(deadline).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        origin: OriginArgs,
    }

    fn cfg(args: &[&str]) -> anyhow::Result<OriginConfig> {
        let cli = Cli::try_parse_from(std::iter::once("origin").chain(args.iter().copied()))?;
        OriginConfig::new(cli.origin)
    }

    #[test]
    fn defaults_match_the_seed() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.args.port, 8000);
        assert_eq!(c.latency, Duration::ZERO);
        assert_eq!(c.max_value, 64 << 20);
        assert!(c.args.data.is_none());
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = |args: &[&str]| cfg(args).unwrap_err().to_string();
        assert!(err(&["--latency", "x"]).contains("--latency"));
        assert!(err(&["--latency", "9999999"]).contains("--latency"));
        assert!(err(&["--max-value", "0"]).contains("--max-value"));
        assert!(err(&["--max-value", "lots"]).contains("--max-value"));
        assert!(err(&["--port", "70000"]).contains("--port"));
        assert_eq!(
            cfg(&["--latency", "250"]).unwrap().latency,
            Duration::from_millis(250)
        );
    }
}
