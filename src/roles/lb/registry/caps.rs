//! The registry's caps: how many addresses one source IP, and all sources
//! together, may have registered (`--max-registrations-per-source`,
//! `--max-nodes`), so a flood of REGISTERs cannot grow the table (and the
//! probes it drives) without bound.

use std::net::IpAddr;

/// How many entries the registry holds: per source IP and in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Most entries whose first registration came from one IP.
    pub per_source: usize,
    /// Most entries in all.
    pub total: usize,
}

impl Default for Caps {
    fn default() -> Caps {
        Caps {
            per_source: 64,
            total: 1024,
        }
    }
}

/// Why a new address was not taken in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The source already registered its share.
    #[error(
        "{from} already registered {cap} nodes (--max-registrations-per-source); \
         nodes down that long are forgotten after --forget-after intervals"
    )]
    PerSource {
        /// The registering IP.
        from: IpAddr,
        /// The cap.
        cap: usize,
    },
    /// The registry is full.
    #[error("the LB already has {0} nodes registered (--max-nodes)")]
    Total(usize),
}
