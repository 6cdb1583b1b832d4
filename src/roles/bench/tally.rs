//! Result accounting: what was attempted, what succeeded, every failure by
//! cause, and latency histograms — kept per worker, merged by the parent.
//!
//! Invariant: `attempted == succeeded + failed() + unfinished`, where
//! `unfinished` is only non-zero for an interrupted run. Nothing is dropped
//! silently: a task either succeeds or lands in exactly one [`Cause`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why one task (C50K), request (steady) or lease (lease-only) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The load balancer refused the TCP connection.
    LeaseRefused,
    /// No lease reply within `--timeout`.
    LeaseTimeout,
    /// The load balancer answered with an error (e.g. no healthy nodes).
    LeaseError,
    /// The data node refused the TCP connection.
    ConnectRefused,
    /// The data node's TCP handshake did not finish within `--timeout`.
    ConnectTimeout,
    /// A command's reply did not arrive within `--timeout`.
    Timeout,
    /// GET returned a value other than the one written.
    WrongValue,
    /// The server answered a command with an error reply.
    ErrorReply,
    /// A reply that is not what the command can return, or not RESP at all.
    Protocol,
    /// The server closed or reset the connection mid-exchange.
    Closed,
    /// Any other socket error (e.g. no free local port).
    Io,
}

impl Cause {
    /// Every cause, in report order.
    pub const ALL: [Cause; 11] = [
        Cause::LeaseRefused,
        Cause::LeaseTimeout,
        Cause::LeaseError,
        Cause::ConnectRefused,
        Cause::ConnectTimeout,
        Cause::Timeout,
        Cause::WrongValue,
        Cause::ErrorReply,
        Cause::Protocol,
        Cause::Closed,
        Cause::Io,
    ];

    /// A short human label for the results table.
    pub fn label(self) -> &'static str {
        match self {
            Cause::LeaseRefused => "lease: connection refused",
            Cause::LeaseTimeout => "lease: timeout",
            Cause::LeaseError => "lease: error reply",
            Cause::ConnectRefused => "node: connection refused",
            Cause::ConnectTimeout => "node: connect timeout",
            Cause::Timeout => "reply timeout",
            Cause::WrongValue => "wrong value",
            Cause::ErrorReply => "error reply",
            Cause::Protocol => "protocol error",
            Cause::Closed => "connection closed",
            Cause::Io => "other socket error",
        }
    }
}

/// Counts of one worker (or, after [`Tally::merge`], of the whole run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Units started: tasks, requests or leases depending on the mode.
    pub attempted: u64,
    /// Units that completed and verified.
    pub succeeded: u64,
    /// Failed units by cause; causes with zero count are absent.
    pub failures: BTreeMap<Cause, u64>,
    /// Commands answered as expected (SET, GET, DEL each count one).
    pub commands: u64,
    /// GETs that found their key (steady mode; C50K GETs always must).
    pub hits: u64,
    /// GETs that found nothing (steady mode only).
    pub misses: u64,
    /// Connections held open at the `--hold` barrier.
    pub held: u64,
}

impl Tally {
    /// Record one failure.
    pub fn fail(&mut self, cause: Cause) {
        *self.failures.entry(cause).or_insert(0) += 1;
    }

    /// Failures of one cause.
    pub fn failed_by(&self, cause: Cause) -> u64 {
        self.failures.get(&cause).copied().unwrap_or(0)
    }

    /// All failures.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Units neither succeeded nor failed (only an interrupted run has any).
    pub fn unfinished(&self) -> u64 {
        self.attempted
            .saturating_sub(self.succeeded)
            .saturating_sub(self.failed())
    }

    /// Add another worker's counts to these.
    pub fn merge(&mut self, other: &Tally) {
        self.attempted += other.attempted;
        self.succeeded += other.succeeded;
        for (&cause, &n) in &other.failures {
            *self.failures.entry(cause).or_insert(0) += n;
        }
        self.commands += other.commands;
        self.hits += other.hits;
        self.misses += other.misses;
        self.held += other.held;
    }
}

/// Highest latency a histogram holds, in microseconds (one hour); larger
/// values saturate rather than being lost.
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("static histogram bounds are valid")
}

/// The latency histograms every mode records (some stay empty in some modes).
#[derive(Clone, Debug)]
pub struct Latencies {
    /// Lease round trip: connect to the LB, LEASE, reply.
    pub lease: Histogram<u64>,
    /// TCP handshake with the data node (or `--target`).
    pub connect: Histogram<u64>,
    /// One command, from send (or its scheduled time with `--rate`) to reply.
    pub op: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            lease: new_histogram(),
            connect: new_histogram(),
            op: new_histogram(),
        }
    }
}

/// Which latency a sample measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A lease round trip.
    Lease,
    /// A TCP handshake with a node.
    Connect,
    /// One command.
    Op,
}

/// [`Latencies`] in transit: each histogram V2-serialized, then base64.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedLatencies {
    /// Encoded lease histogram.
    pub lease: String,
    /// Encoded connect histogram.
    pub connect: String,
    /// Encoded operation histogram.
    pub op: String,
}

/// A histogram that failed to decode or merge.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    /// Not valid base64.
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not a V2 histogram.
    #[error("histogram does not deserialize: {0}")]
    Deserialize(#[from] hdrhistogram::serialization::DeserializeError),
    /// Bounds too different to add.
    #[error("histograms cannot be merged: {0}")]
    Merge(#[from] hdrhistogram::errors::AdditionError),
}

impl Latencies {
    /// The histogram for `phase`.
    pub fn of(&mut self, phase: Phase) -> &mut Histogram<u64> {
        match phase {
            Phase::Lease => &mut self.lease,
            Phase::Connect => &mut self.connect,
            Phase::Op => &mut self.op,
        }
    }

    /// Record `micros` into `hist`, saturating at the top bound and treating
    /// sub-microsecond samples as 1 µs (the lowest bound).
    pub fn record(hist: &mut Histogram<u64>, micros: u64) {
        hist.saturating_record(micros.max(1));
    }

    /// Add another worker's histograms to these.
    ///
    /// # Errors
    /// [`HistogramError::Merge`] if the bounds differ.
    pub fn merge(&mut self, other: &Latencies) -> Result<(), HistogramError> {
        self.lease.add(&other.lease)?;
        self.connect.add(&other.connect)?;
        self.op.add(&other.op)?;
        Ok(())
    }

    /// Serialize for the pipe to the parent.
    pub fn encode(&self) -> EncodedLatencies {
        EncodedLatencies {
            lease: encode_one(&self.lease),
            connect: encode_one(&self.connect),
            op: encode_one(&self.op),
        }
    }

    /// Read back what [`Latencies::encode`] wrote.
    ///
    /// # Errors
    /// [`HistogramError`] for bytes that are not an encoded histogram.
    pub fn decode(enc: &EncodedLatencies) -> Result<Latencies, HistogramError> {
        Ok(Latencies {
            lease: decode_one(&enc.lease)?,
            connect: decode_one(&enc.connect)?,
            op: decode_one(&enc.op)?,
        })
    }
}

fn encode_one(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing into a Vec cannot fail");
    B64.encode(bytes)
}

fn decode_one(s: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = B64.decode(s)?;
    let h: Histogram<u64> = Deserializer::new().deserialize(&mut bytes.as_slice())?;
    // Re-home into our standard bounds so merges never fail on a histogram
    // that auto-sized differently.
    let mut out = new_histogram();
    out.add(&h)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_adds_up() {
        let mut t = Tally {
            attempted: 10,
            succeeded: 6,
            ..Tally::default()
        };
        t.fail(Cause::Timeout);
        t.fail(Cause::Timeout);
        t.fail(Cause::WrongValue);
        assert_eq!(t.failed(), 3);
        assert_eq!(t.failed_by(Cause::Timeout), 2);
        assert_eq!(t.failed_by(Cause::Closed), 0);
        assert_eq!(t.unfinished(), 1);
    }

    #[test]
    fn tallies_merge_by_cause() {
        let mut a = Tally {
            attempted: 5,
            succeeded: 4,
            commands: 8,
            held: 5,
            ..Tally::default()
        };
        a.fail(Cause::ConnectRefused);
        let mut b = Tally {
            attempted: 7,
            succeeded: 5,
            commands: 10,
            hits: 5,
            held: 7,
            ..Tally::default()
        };
        b.fail(Cause::ConnectRefused);
        b.fail(Cause::LeaseError);
        a.merge(&b);
        assert_eq!(a.attempted, 12);
        assert_eq!(a.succeeded, 9);
        assert_eq!(a.failed_by(Cause::ConnectRefused), 2);
        assert_eq!(a.failed_by(Cause::LeaseError), 1);
        assert_eq!(a.failed(), 3);
        assert_eq!((a.commands, a.hits, a.held), (18, 5, 12));
        assert_eq!(a.unfinished(), 0);
    }

    #[test]
    fn tally_survives_json() {
        let mut t = Tally {
            attempted: 3,
            ..Tally::default()
        };
        t.fail(Cause::LeaseTimeout);
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"lease_timeout\":1"), "{json}");
        assert_eq!(serde_json::from_str::<Tally>(&json).unwrap(), t);
    }

    #[test]
    fn histograms_merge_across_workers_through_the_wire() {
        let mut w1 = Latencies::default();
        let mut w2 = Latencies::default();
        for v in 1..=1000 {
            Latencies::record(&mut w1.op, v);
        }
        for v in 1001..=2000 {
            Latencies::record(&mut w2.op, v);
        }
        Latencies::record(&mut w2.lease, 5_000_000);
        Latencies::record(&mut w1.connect, 0);

        let mut total = Latencies::decode(&w1.encode()).unwrap();
        total
            .merge(&Latencies::decode(&w2.encode()).unwrap())
            .unwrap();

        assert_eq!(total.op.len(), 2000);
        assert_eq!(total.lease.len(), 1);
        assert_eq!(total.connect.min(), 1, "0 µs is recorded as 1 µs");
        // The median of 1..=2000 is 1000; p99 is 1980 (within 3 sig. figs).
        assert!(total.op.equivalent(total.op.value_at_quantile(0.5), 1000));
        assert!(total.op.equivalent(total.op.value_at_quantile(0.99), 1980));
        assert!(total.op.equivalent(total.op.max(), 2000));
        assert!(total.lease.equivalent(total.lease.max(), 5_000_000));
    }

    #[test]
    fn huge_values_saturate_instead_of_vanishing() {
        let mut l = Latencies::default();
        Latencies::record(&mut l.op, u64::MAX);
        assert_eq!(l.op.len(), 1);
    }

    #[test]
    fn garbage_does_not_decode() {
        let bad = EncodedLatencies {
            lease: "!!!".into(),
            ..Default::default()
        };
        assert!(matches!(
            Latencies::decode(&bad),
            Err(HistogramError::Base64(_))
        ));
        let bad = EncodedLatencies {
            lease: B64.encode(b"not a histogram"),
            ..Default::default()
        };
        assert!(Latencies::decode(&bad).is_err());
    }
}
