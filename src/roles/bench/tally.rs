//! Result accounting: what was attempted, what succeeded, every failure by
//! cause, and latency histograms — kept per worker, merged by the parent.
//!
//! Invariant, by construction: `attempted == succeeded + failed() +
//! unfinished()`. A unit (a task, a request or a lease) is counted as
//! attempted by [`Tally::begin`] and then settled at most once by
//! [`Tally::succeed`] or [`Tally::fail`]; both refuse (panic) to settle a
//! unit that was never begun, and `unfinished` is what was begun and not
//! settled, never clamped. A tally read from a worker's pipe is checked the
//! same way ([`TryFrom<RawTally>`]), so a parent never merges counts that
//! don't add up. Connection attempts that are not units (steady mode's
//! reconnects) are kept apart in [`Tally::connect_failures`].

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
#[serde(try_from = "RawTally", into = "RawTally")]
pub struct Tally {
    /// Units begun: tasks, requests or leases depending on the mode.
    attempted: u64,
    /// Units that completed and verified.
    succeeded: u64,
    /// Failed units by cause; causes with zero count are absent.
    failures: BTreeMap<Cause, u64>,
    /// Failed connection attempts that are not units themselves (steady
    /// mode reconnects; the requests they would have carried were never
    /// sent), by cause.
    pub connect_failures: BTreeMap<Cause, u64>,
    /// Commands answered as expected (SET, GET, DEL each count one).
    pub commands: u64,
    /// GETs that found their key (steady mode; C50K GETs always must).
    pub hits: u64,
    /// GETs that found nothing (steady mode only).
    pub misses: u64,
    /// Connections held open at the `--hold` barrier.
    pub held: u64,
}

/// [`Tally`] on the wire: plain fields, checked on the way in.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RawTally {
    attempted: u64,
    succeeded: u64,
    #[serde(default)]
    failures: BTreeMap<Cause, u64>,
    #[serde(default)]
    connect_failures: BTreeMap<Cause, u64>,
    commands: u64,
    hits: u64,
    misses: u64,
    held: u64,
}

/// Counts that settle more units than were begun.
#[derive(Debug, thiserror::Error)]
#[error("a tally settles {settled} units but begins only {attempted}")]
pub struct Unbalanced {
    settled: u64,
    attempted: u64,
}

impl TryFrom<RawTally> for Tally {
    type Error = Unbalanced;
    fn try_from(r: RawTally) -> Result<Tally, Unbalanced> {
        let settled = r.succeeded + r.failures.values().sum::<u64>();
        if settled > r.attempted {
            return Err(Unbalanced {
                settled,
                attempted: r.attempted,
            });
        }
        Ok(Tally {
            attempted: r.attempted,
            succeeded: r.succeeded,
            failures: r.failures,
            connect_failures: r.connect_failures,
            commands: r.commands,
            hits: r.hits,
            misses: r.misses,
            held: r.held,
        })
    }
}

impl From<Tally> for RawTally {
    fn from(t: Tally) -> RawTally {
        RawTally {
            attempted: t.attempted,
            succeeded: t.succeeded,
            failures: t.failures,
            connect_failures: t.connect_failures,
            commands: t.commands,
            hits: t.hits,
            misses: t.misses,
            held: t.held,
        }
    }
}

impl Tally {
    /// Count `n` units as begun; each must later succeed or fail once.
    pub fn begin(&mut self, n: u64) {
        self.attempted += n;
    }

    /// Settle one begun unit as verified.
    ///
    /// # Panics
    /// If no begun unit is left to settle: a bug in the bench, which must
    /// never report more outcomes than attempts.
    pub fn succeed(&mut self) {
        self.settle_one();
        self.succeeded += 1;
    }

    /// Settle one begun unit as failed by `cause`.
    ///
    /// # Panics
    /// As [`Tally::succeed`].
    pub fn fail(&mut self, cause: Cause) {
        self.settle_one();
        *self.failures.entry(cause).or_insert(0) += 1;
    }

    /// Settle `n` begun units as failed by `cause`.
    ///
    /// # Panics
    /// As [`Tally::succeed`].
    pub fn fail_n(&mut self, cause: Cause, n: u64) {
        for _ in 0..n {
            self.fail(cause);
        }
    }

    /// Count a failed connection attempt that is not itself a unit.
    pub fn fail_connect(&mut self, cause: Cause) {
        *self.connect_failures.entry(cause).or_insert(0) += 1;
    }

    fn settle_one(&mut self) {
        assert!(
            self.unfinished() > 0,
            "bench accounting: an outcome for a unit never begun ({self:?})"
        );
    }

    /// Units begun.
    pub fn attempted(&self) -> u64 {
        self.attempted
    }

    /// Units verified.
    pub fn succeeded(&self) -> u64 {
        self.succeeded
    }

    /// Failed units by cause.
    pub fn failures(&self) -> &BTreeMap<Cause, u64> {
        &self.failures
    }

    /// Failures of one cause.
    pub fn failed_by(&self, cause: Cause) -> u64 {
        self.failures.get(&cause).copied().unwrap_or(0)
    }

    /// All failed units.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Failed connection attempts that were not units.
    pub fn connects_failed(&self) -> u64 {
        self.connect_failures.values().sum()
    }

    /// Units begun and neither succeeded nor failed (only an interrupted
    /// run has any). Never negative: settling checks it first.
    pub fn unfinished(&self) -> u64 {
        self.attempted - self.succeeded - self.failed()
    }

    /// Add another worker's counts to these.
    pub fn merge(&mut self, other: &Tally) {
        self.attempted += other.attempted;
        self.succeeded += other.succeeded;
        for (&cause, &n) in &other.failures {
            *self.failures.entry(cause).or_insert(0) += n;
        }
        for (&cause, &n) in &other.connect_failures {
            *self.connect_failures.entry(cause).or_insert(0) += n;
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
        let mut t = Tally::default();
        t.begin(10);
        for _ in 0..6 {
            t.succeed();
        }
        t.fail(Cause::Timeout);
        t.fail(Cause::Timeout);
        t.fail(Cause::WrongValue);
        assert_eq!(t.failed(), 3);
        assert_eq!(t.failed_by(Cause::Timeout), 2);
        assert_eq!(t.failed_by(Cause::Closed), 0);
        assert_eq!(t.unfinished(), 1);
        assert_eq!(t.attempted(), t.succeeded() + t.failed() + t.unfinished());
    }

    #[test]
    #[should_panic(expected = "never begun")]
    fn an_outcome_without_an_attempt_is_refused() {
        let mut t = Tally::default();
        t.begin(1);
        t.fail(Cause::ConnectRefused);
        t.fail(Cause::ConnectRefused);
    }

    #[test]
    fn connect_failures_are_not_units() {
        let mut t = Tally::default();
        t.begin(4);
        t.fail_connect(Cause::ConnectRefused);
        t.fail_connect(Cause::ConnectTimeout);
        t.fail_n(Cause::Closed, 4);
        assert_eq!((t.attempted(), t.failed(), t.unfinished()), (4, 4, 0));
        assert_eq!(t.connects_failed(), 2);
    }

    /// Any sequence of begins and settles keeps the invariant, in one worker
    /// and merged over several.
    #[test]
    fn the_invariant_holds_for_any_sequence() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut total = Tally::default();
        for _ in 0..20 {
            let mut t = Tally::default();
            for _ in 0..500 {
                match rng.u8(0..4) {
                    0 => t.begin(rng.u64(1..4)),
                    1 if t.unfinished() > 0 => t.succeed(),
                    2 if t.unfinished() > 0 => t.fail(Cause::ALL[rng.usize(..Cause::ALL.len())]),
                    _ => t.fail_connect(Cause::ConnectRefused),
                }
                assert_eq!(t.attempted(), t.succeeded() + t.failed() + t.unfinished());
            }
            let wire: Tally = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            assert_eq!(wire, t);
            total.merge(&wire);
            assert_eq!(
                total.attempted(),
                total.succeeded() + total.failed() + total.unfinished()
            );
        }
    }

    #[test]
    fn tallies_merge_by_cause() {
        let mut a = Tally {
            commands: 8,
            held: 5,
            ..Tally::default()
        };
        a.begin(5);
        (0..4).for_each(|_| a.succeed());
        a.fail(Cause::ConnectRefused);
        let mut b = Tally {
            commands: 10,
            hits: 5,
            held: 7,
            ..Tally::default()
        };
        b.begin(7);
        (0..5).for_each(|_| b.succeed());
        b.fail(Cause::ConnectRefused);
        b.fail(Cause::LeaseError);
        a.merge(&b);
        assert_eq!(a.attempted(), 12);
        assert_eq!(a.succeeded(), 9);
        assert_eq!(a.failed_by(Cause::ConnectRefused), 2);
        assert_eq!(a.failed_by(Cause::LeaseError), 1);
        assert_eq!(a.failed(), 3);
        assert_eq!((a.commands, a.hits, a.held), (18, 5, 12));
        assert_eq!(a.unfinished(), 0);
    }

    #[test]
    fn tally_survives_json() {
        let mut t = Tally::default();
        t.begin(3);
        t.fail(Cause::LeaseTimeout);
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("\"lease_timeout\":1"), "{json}");
        assert_eq!(serde_json::from_str::<Tally>(&json).unwrap(), t);
    }

    #[test]
    fn a_tally_that_does_not_add_up_is_refused_off_the_wire() {
        let json = r#"{"attempted":1,"succeeded":1,"failures":{"timeout":1},
            "commands":0,"hits":0,"misses":0,"held":0}"#;
        let err = serde_json::from_str::<Tally>(json).unwrap_err();
        assert!(err.to_string().contains("settles 2 units"), "{err}");
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
