//! Steady-state load, as memtier_benchmark / redis-benchmark drive it:
//! long-lived connections, each sending batches of `--pipeline` requests
//! (SET or GET by `--ratio`, keys uniform over `--keyspace`) until the
//! deadline.
//!
//! Every value is a function of its key, so any GET hit can be checked even
//! with many writers; a hit with other bytes counts as a wrong value.
//!
//! With `--rate`, each connection sends its batches on a fixed schedule and
//! a request's latency runs from its *scheduled* send time, not from when it
//! actually went out. A stalled server therefore shows up as the latency
//! every request scheduled during the stall would have seen (the
//! coordinated-omission correction wrk2 makes), instead of as one slow
//! sample.

use super::ctx::{Ctx, Live};
use super::net::{self, Conn};
use super::pace::Pacer;
use super::tally::{Cause, Phase};
use super::wire::Ratio;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Settings every connection of a worker shares.
pub struct Spec {
    /// When to stop sending.
    pub deadline: Instant,
    /// Connections in this worker (for this worker's rate share).
    pub connections: usize,
    /// Requests per batch.
    pub pipeline: usize,
    /// SET:GET mix.
    pub ratio: Ratio,
    /// Distinct keys.
    pub keyspace: u64,
    /// Value size.
    pub value_size: usize,
    /// This worker's requests per second, if fixed-rate.
    pub rate: Option<f64>,
    /// Where connections wait for their next batch when fixed-rate.
    pub pacer: Option<Rc<Pacer>>,
    /// RNG seed.
    pub seed: u64,
}

/// The key for key number `n`. The value size is part of it so runs with
/// different `--value-size` against the same server never disagree.
pub fn key(n: u64, value_size: usize) -> Vec<u8> {
    format!("bench:{value_size}:{n}").into_bytes()
}

/// The value stored under key number `n`: `n`'s digits repeated, cut to `size`.
pub fn value(n: u64, size: usize) -> Vec<u8> {
    let unit = format!("{n}-");
    unit.bytes().cycle().take(size).collect()
}

/// Wait after a failed connect before retrying, so a dead server is not spun on.
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Drive connection number `idx` until the deadline, reconnecting after a
/// connection-level failure.
pub async fn connection(ctx: Rc<Ctx>, spec: Rc<Spec>, idx: usize, _live: Live) {
    let mut rng =
        fastrand::Rng::with_seed(spec.seed ^ (idx as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    // Seconds between this connection's batches when fixed-rate.
    let interval = spec
        .rate
        .map(|r| Duration::from_secs_f64(spec.pipeline as f64 * spec.connections as f64 / r));
    // Stagger connections over one interval so batches don't all fire at once.
    let mut next = Instant::now()
        + interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(idx as f64 / spec.connections as f64)
        });
    let mut attempt = idx as u64;
    while Instant::now() < spec.deadline && !ctx.flags.stopped() {
        let opened = {
            // Only the connect burst is paced; the connection then runs freely.
            let _slot = ctx.slot().await;
            ctx.open(attempt, None).await
        };
        let mut conn = match opened {
            Ok(c) => c,
            Err(cause) => {
                // A failed (re)connect carried no request: it is counted
                // apart, never as a request's outcome.
                ctx.tally.borrow_mut().fail_connect(cause);
                glommio::timer::sleep(RETRY_PAUSE).await;
                attempt += 1;
                continue;
            }
        };
        attempt += 1;
        let mut batch = Batch::default();
        while Instant::now() < spec.deadline && !ctx.flags.stopped() {
            let sent_at = match (interval, &spec.pacer) {
                (Some(i), Some(pacer)) => {
                    pacer.until(next).await;
                    let scheduled = next;
                    next += i;
                    scheduled
                }
                _ => Instant::now(),
            };
            batch.fill(&spec, &mut rng);
            if let Err(cause) = run_batch(&ctx, &spec, &mut conn, &batch, sent_at).await {
                // The connection can't be trusted after a transport failure.
                if !matches!(cause, Cause::WrongValue | Cause::ErrorReply) {
                    break;
                }
            }
        }
    }
}

/// One batch of requests and their encoding.
#[derive(Default)]
struct Batch {
    /// (is SET, key number) per request.
    ops: Vec<(bool, u64)>,
    bytes: Vec<u8>,
}

impl Batch {
    fn fill(&mut self, spec: &Spec, rng: &mut fastrand::Rng) {
        self.ops.clear();
        self.bytes.clear();
        let total = spec.ratio.set + spec.ratio.get;
        for _ in 0..spec.pipeline {
            let is_set = rng.u32(0..total) < spec.ratio.set;
            let n = rng.u64(0..spec.keyspace);
            let key = key(n, spec.value_size);
            if is_set {
                net::command(&mut self.bytes, &[b"SET", &key, &value(n, spec.value_size)]);
            } else {
                net::command(&mut self.bytes, &[b"GET", &key]);
            }
            self.ops.push((is_set, n));
        }
    }
}

/// Send a batch and judge every reply. Returns the first connection-level
/// failure (after counting every request it took down with it); wrong values
/// and error replies are counted per request and reading goes on.
async fn run_batch(
    ctx: &Ctx,
    spec: &Spec,
    conn: &mut Conn,
    batch: &Batch,
    sent_at: Instant,
) -> Result<(), Cause> {
    ctx.tally.borrow_mut().begin(batch.ops.len() as u64);
    if let Err(cause) = conn.send(&batch.bytes).await {
        fail_n(ctx, cause, batch.ops.len());
        return Err(cause);
    }
    let mut first_err = None;
    for (done, &(is_set, n)) in batch.ops.iter().enumerate() {
        let judged = if is_set {
            conn.reply(net::expect_ok).await.map(|()| None)
        } else {
            let want = value(n, spec.value_size);
            conn.reply(|r| net::expect_value(r, &want, true))
                .await
                .map(Some)
        };
        match judged {
            Ok(hit) => {
                ctx.record(Phase::Op, sent_at);
                let mut t = ctx.tally.borrow_mut();
                t.succeed();
                t.commands += 1;
                match hit {
                    Some(true) => t.hits += 1,
                    Some(false) => t.misses += 1,
                    None => {}
                }
            }
            Err(cause @ (Cause::WrongValue | Cause::ErrorReply)) => {
                ctx.fail(cause);
                first_err.get_or_insert(cause);
            }
            Err(cause) => {
                fail_n(ctx, cause, batch.ops.len() - done);
                return Err(cause);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

fn fail_n(ctx: &Ctx, cause: Cause, n: usize) {
    ctx.tally.borrow_mut().fail_n(cause, n as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_a_function_of_the_key() {
        assert_eq!(value(12, 7), b"12-12-1");
        assert_eq!(value(12, 0), b"");
        assert_eq!(value(12, 7), value(12, 7));
        assert_ne!(value(12, 7), value(13, 7));
        assert_eq!(key(5, 32), b"bench:32:5");
    }

    #[test]
    fn batches_follow_the_ratio() {
        let spec = Spec {
            deadline: Instant::now(),
            connections: 1,
            pipeline: 1000,
            ratio: Ratio { set: 1, get: 3 },
            keyspace: 10,
            value_size: 4,
            rate: None,
            pacer: None,
            seed: 1,
        };
        let mut b = Batch::default();
        b.fill(&spec, &mut fastrand::Rng::with_seed(7));
        let sets = b.ops.iter().filter(|(s, _)| *s).count();
        assert!(
            (150..350).contains(&sets),
            "about a quarter SETs, got {sets}"
        );
        assert!(b.ops.iter().all(|&(_, n)| n < 10));
        let only_gets = Spec {
            ratio: Ratio { set: 0, get: 1 },
            ..spec
        };
        b.fill(&only_gets, &mut fastrand::Rng::with_seed(7));
        assert!(b.ops.iter().all(|(s, _)| !s));
    }
}
