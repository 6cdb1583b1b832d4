//! The `cachectl` binary: one executable, the role chosen by subcommand.

use cachectl::roles;
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
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.role {
        Role::Node(args) => roles::node::run(args),
        Role::Lb(args) => roles::lb::run(args),
    };
    if let Err(e) = result {
        eprintln!("cachectl: {e:#}");
        std::process::exit(1);
    }
}
