//! The `cachectl` binary: one executable, the role chosen by subcommand.

use cachectl::roles;

// Every request allocates a little (keys and values on write, hop batches);
// glibc malloc showed up at ~15% of a node's CPU under MSET load, mimalloc's
// thread-local free lists suit one-thread-per-core well (Redis ships jemalloc
// for the same reason).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

/// A distributed in-memory cache: thread-per-core nodes, a lease-handing
/// load balancer, and a C50K load driver.
#[derive(Parser)]
#[command(name = "cachectl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Run a cache node (the data plane): RESP2 + seed 000's line protocol.
    Node(roles::node::NodeArgs),
    /// Run the load balancer (the control plane): registration, health
    /// checks, leases, metrics.
    Lb(roles::lb::LbArgs),
    /// Drive load: seed 000's C50K stress test (default), steady state, or
    /// lease-only; starts a local cluster unless given --lb or --target.
    Bench(roles::bench::BenchArgs),
    /// Run seed 004's origin: the source of truth nodes read through to
    /// (JSON lines + RESP GET; sample data or files under --data).
    Origin(roles::origin::OriginArgs),
    /// Talk to the cache: --get/--set/--del/--metrics through the LB (or a
    /// node with --target), or an interactive prompt.
    Client(roles::client::ClientArgs),
    /// Start an origin, N nodes and an LB as one supervised group; Ctrl-C
    /// stops them all.
    Cluster(roles::cluster::ClusterArgs),
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.role {
        Role::Node(args) => roles::node::run(args),
        Role::Lb(args) => roles::lb::run(args),
        Role::Bench(args) => roles::bench::run(args),
        Role::Origin(args) => roles::origin::run(args),
        // The client's exit code carries the outcome (found, not found, ...).
        Role::Client(args) => std::process::exit(roles::client::run(args)),
        Role::Cluster(args) => roles::cluster::run(args),
    };
    if let Err(e) = result {
        eprintln!("cachectl: {e:#}");
        std::process::exit(1);
    }
}
