//! Lease-only load: each client takes a lease (connect to the LB, `LEASE`,
//! read the answer, close) again and again until the deadline, measuring the
//! control plane alone — its throughput and the latency of a lease under
//! 1,000 or 10,000 concurrent clients. With `--rate` the clients take
//! leases on a fixed schedule, for latency below saturation.

use super::ctx::{Ctx, Live};
use super::pace::Pacer;
use super::tally::Phase;
use super::wire::Dest;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Pause after a failed lease so a down LB is not spun on.
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// A fixed-rate schedule for one client (`--rate`).
#[derive(Clone)]
pub struct Pace {
    /// Time between this client's leases.
    pub every: Duration,
    /// Offset of the first lease, so clients don't all fire at once.
    pub first: Duration,
    /// The worker's pacer the client waits on.
    pub pacer: Rc<Pacer>,
}

/// Lease client number `idx`, until `deadline`. With a `pace`, leases go out
/// on a fixed schedule and each latency is measured from its scheduled time,
/// so a slow LB is charged for the leases it delayed (coordinated omission).
pub async fn client(ctx: Rc<Ctx>, deadline: Instant, idx: usize, pace: Option<Pace>, _live: Live) {
    let mut next = Instant::now() + pace.as_ref().map_or(Duration::ZERO, |p| p.first);
    let Dest::Lease(lb) = ctx.dest else {
        unreachable!("lease-only mode always has an LB (checked by Plan::new)")
    };
    // Spread clients over source addresses, then step through them so one
    // client's consecutive leases don't reuse one (source, port) pair's ports.
    let mut n = idx as u64;
    while Instant::now() < deadline && !ctx.flags.stopped() {
        let t = match &pace {
            None => Instant::now(),
            Some(p) => {
                p.pacer.until(next).await;
                let scheduled = next;
                next += p.every;
                scheduled
            }
        };
        if Instant::now() >= deadline {
            break;
        }
        ctx.tally.borrow_mut().begin(1);
        match ctx.lease(lb, n, None).await {
            Ok(_) => {
                ctx.record(Phase::Lease, t);
                ctx.leased_one();
                let mut tally = ctx.tally.borrow_mut();
                tally.succeed();
                tally.commands += 1;
            }
            Err(cause) => {
                ctx.fail(cause);
                glommio::timer::sleep(RETRY_PAUSE).await;
            }
        }
        n += 1;
    }
}
