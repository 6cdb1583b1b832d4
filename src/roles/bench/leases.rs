//! Lease-only load: each client takes a lease (connect to the LB, `LEASE`,
//! read the answer, close) again and again until the deadline, measuring the
//! control plane alone — its throughput and the latency of a lease under
//! 1,000 or 10,000 concurrent clients.

use super::tally::Phase;
use super::wire::Dest;
use super::worker::{Ctx, Live};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Pause after a failed lease so a down LB is not spun on.
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Lease client number `idx`, until `deadline`.
pub async fn client(ctx: Rc<Ctx>, deadline: Instant, idx: usize, _live: Live) {
    let Dest::Lease(lb) = ctx.dest else {
        unreachable!("lease-only mode always has an LB (checked by Plan::new)")
    };
    // Spread clients over source addresses, then step through them so one
    // client's consecutive leases don't reuse one (source, port) pair's ports.
    let mut n = idx as u64;
    while Instant::now() < deadline && !ctx.flags.stopped() {
        ctx.tally.borrow_mut().attempted += 1;
        let t = Instant::now();
        match ctx.lease(lb, n).await {
            Ok(_) => {
                ctx.record(Phase::Lease, t);
                ctx.leased_one();
                let mut tally = ctx.tally.borrow_mut();
                tally.succeeded += 1;
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
