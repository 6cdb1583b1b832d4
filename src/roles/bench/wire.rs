//! What the parent and its worker processes say to each other: one JSON
//! object per line. The parent writes a [`Job`] then [`Control`] words to a
//! worker's stdin; the worker writes [`Event`]s to its stdout.

use super::tally::{EncodedLatencies, Tally};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};

/// A SET:GET mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratio {
    /// SET weight.
    pub set: u32,
    /// GET weight.
    pub get: u32,
}

/// Where a worker's connections go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dest {
    /// Take a lease from this LB, then connect to the node it names.
    Lease(SocketAddr),
    /// Connect to this server directly.
    Direct(SocketAddr),
}

/// One worker's share of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Worker index (for messages).
    pub worker: usize,
    /// Where the load goes.
    pub dest: Dest,
    /// Loopback source addresses to bind client sockets to.
    pub sources: Vec<Ipv4Addr>,
    /// Connect and reply timeout, milliseconds.
    pub timeout_ms: u64,
    /// Lease+connect attempts in flight at once.
    pub concurrency: usize,
    /// Kept LB connections to pipeline leases over; 0 = a fresh connection
    /// per lease.
    #[serde(default)]
    pub lease_conns: usize,
    /// The work itself.
    pub work: Work,
}

/// The mode-specific part of a [`Job`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Work {
    /// C50K tasks `first..first + count`.
    C50k {
        /// First task number (task numbers are unique across workers).
        first: u64,
        /// Number of tasks.
        count: u64,
        /// Tags this run's keys so runs never read each other's values.
        run_id: u64,
        /// Wait at the barrier with the connection open.
        hold: bool,
        /// End the block with DEL.
        del: bool,
        /// Pad values to at least this many bytes.
        value_size: usize,
        /// Send the block's commands in one write.
        #[serde(default)]
        pipelined: bool,
        /// Lease by key (`--cluster`).
        #[serde(default)]
        keyed: bool,
    },
    /// Steady-state connections.
    Steady {
        /// Connections this worker opens.
        connections: usize,
        /// Run time, milliseconds.
        duration_ms: u64,
        /// Requests in flight per connection.
        pipeline: usize,
        /// SET:GET mix.
        ratio: Ratio,
        /// Distinct keys.
        keyspace: u64,
        /// Value size.
        value_size: usize,
        /// This worker's share of the fixed rate, requests per second.
        rate: Option<f64>,
        /// RNG seed (already distinct per worker).
        seed: u64,
    },
    /// Lease-only clients.
    Leases {
        /// Concurrent clients in this worker.
        clients: usize,
        /// Run time, milliseconds.
        duration_ms: u64,
        /// This worker's share of the fixed lease rate, per second.
        rate: Option<f64>,
    },
}

/// Parent → worker, one word per line after the job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Start the work (all workers get it at the same moment).
    Start,
    /// Leave the `--hold` barrier.
    Go,
    /// Stop now and report what was done (Ctrl-C).
    Stop,
}

impl Control {
    /// The line this word travels as.
    pub fn word(self) -> &'static str {
        match self {
            Control::Start => "start",
            Control::Go => "go",
            Control::Stop => "stop",
        }
    }

    /// Parse a line written by [`Control::word`].
    pub fn parse(line: &str) -> Option<Control> {
        match line.trim() {
            "start" => Some(Control::Start),
            "go" => Some(Control::Go),
            "stop" => Some(Control::Stop),
            _ => None,
        }
    }
}

/// Worker → parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Executor up, job accepted; waiting for [`Control::Start`].
    Ready,
    /// Cumulative counters, a few times a second.
    Progress(Progress),
    /// `--hold`: every task is connected or failed; waiting for [`Control::Go`].
    Held {
        /// Connections open and silent at the barrier (re-checked there).
        held: u64,
        /// Connects that succeeded; `connected - held` were closed or
        /// answered by the server before the barrier.
        connected: u64,
    },
    /// Final results; the worker exits after this.
    Done {
        /// Counts.
        tally: Tally,
        /// Latency histograms.
        latencies: EncodedLatencies,
    },
}

/// Cumulative counters of one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Leases obtained.
    pub leased: u64,
    /// Node connections established.
    pub connected: u64,
    /// Units finished successfully.
    pub succeeded: u64,
    /// Units failed.
    pub failed: u64,
}

impl Progress {
    /// Add another worker's counters.
    pub fn add(&mut self, o: &Progress) {
        self.leased += o.leased;
        self.connected += o.connected;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_single_lines() {
        let ev = Event::Progress(Progress {
            leased: 1,
            connected: 2,
            succeeded: 3,
            failed: 4,
        });
        let line = serde_json::to_string(&ev).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), ev);
        let held = serde_json::to_string(&Event::Held {
            held: 9,
            connected: 10,
        })
        .unwrap();
        assert_eq!(held, r#"{"event":"held","held":9,"connected":10}"#);
    }

    #[test]
    fn control_words_round_trip() {
        for c in [Control::Start, Control::Go, Control::Stop] {
            assert_eq!(Control::parse(&format!("{}\n", c.word())), Some(c));
        }
        assert_eq!(Control::parse("jump"), None);
    }
}
