//! One C50K task, as seed 000's stress test runs it: take a lease, connect
//! to the leased node, run a verified mutation block (SET a key only this
//! task uses, GET it back and compare, optionally DEL it), close.
//!
//! With `--hold` the task parks at the barrier between connecting and the
//! block, connection open, until every task of every worker has connected.

use super::ctx::{Ctx, Live};
use super::net::{self, Conn};
use super::tally::{Cause, Phase};
use std::rc::Rc;
use std::time::Instant;

/// Settings every task of a worker shares.
pub struct Spec {
    /// Tags this run's keys.
    pub run_id: u64,
    /// Wait at the barrier with the connection open.
    pub hold: bool,
    /// End the block with DEL.
    pub del: bool,
    /// Pad values to at least this many bytes.
    pub value_size: usize,
    /// Send the block's commands in one write (`--pipelined-block`).
    pub pipelined: bool,
    /// Lease by key (`--cluster`): go straight to the core that owns it.
    pub keyed: bool,
}

/// The key task `i` writes: unique per task and per run.
pub fn key(run_id: u64, i: u64) -> Vec<u8> {
    format!("c50k:{run_id:x}:{i}").into_bytes()
}

/// The value task `i` writes: it names the task, so a value that landed
/// under the wrong key is caught, and is padded to `size` bytes.
pub fn value(run_id: u64, i: u64, size: usize) -> Vec<u8> {
    let mut v = format!("task-{i}-of-{run_id:x}").into_bytes();
    if v.len() < size {
        v.resize(size, b'.');
    }
    v
}

/// Run task `i` to completion, counting its outcome in `ctx`.
pub async fn task(ctx: Rc<Ctx>, spec: Rc<Spec>, i: u64, _live: Live) {
    ctx.tally.borrow_mut().begin(1);
    let slot = ctx.slot().await;
    // Boxed, like the block below: with --hold all of a worker's tasks are
    // alive at once, and a task future is allocated at the size of its
    // largest await. Unboxed that is ~2 KiB (the connect and reply futures)
    // × 12,500 tasks of fresh memory per worker; boxed, only the few
    // hundred tasks inside a phase hold that state at any moment.
    let key = spec.keyed.then(|| key(spec.run_id, i));
    let opened = Box::pin(ctx.open(i, key.as_deref())).await;
    if spec.hold {
        ctx.settled.set(ctx.settled.get() + 1);
        // Held connections stay open by design; the slot only paces the
        // connect burst (kept under the listen backlogs).
        drop(slot);
    }
    let mut conn = match opened {
        Ok(c) => c,
        Err(cause) => return ctx.fail(cause),
    };
    if spec.hold {
        ctx.held_fds.borrow_mut().push(conn.fd());
        // Closed (never signalled) when the parent says go; the error is the go.
        let _ = ctx.barrier.acquire(1).await;
        if ctx.flags.stopped() {
            return;
        }
    }
    match Box::pin(block(&ctx, &spec, &mut conn, i)).await {
        Ok(commands) => {
            let mut t = ctx.tally.borrow_mut();
            t.succeed();
            t.commands += commands;
            t.hits += 1;
        }
        Err(cause) => ctx.fail(cause),
    }
}

/// SET, GET + compare, optional DEL; returns the number of commands run.
async fn block(ctx: &Ctx, spec: &Spec, conn: &mut Conn, i: u64) -> Result<u64, Cause> {
    let key = key(spec.run_id, i);
    let value = value(spec.run_id, i, spec.value_size);
    let mut out = Vec::with_capacity(64 + 2 * key.len() + value.len());
    if spec.pipelined {
        return pipelined_block(ctx, spec, conn, &key, &value, out).await;
    }

    net::command(&mut out, &[b"SET", &key, &value]);
    let t = Instant::now();
    conn.send(&out).await?;
    conn.reply(net::expect_ok).await?;
    ctx.record(Phase::Op, t);

    out.clear();
    net::command(&mut out, &[b"GET", &key]);
    let t = Instant::now();
    conn.send(&out).await?;
    conn.reply(|r| net::expect_value(r, &value, false)).await?;
    ctx.record(Phase::Op, t);

    if !spec.del {
        return Ok(2);
    }
    out.clear();
    net::command(&mut out, &[b"DEL", &key]);
    let t = Instant::now();
    conn.send(&out).await?;
    conn.reply(|r| net::expect_int(r, 1)).await?;
    ctx.record(Phase::Op, t);
    Ok(3)
}

/// The same block with every command in one write, then each reply read
/// and judged in order (RESP answers a connection's commands in order).
/// Each command's latency runs from that one send to its own reply. Still a
/// real check: the GET must return this task's value, which only the SET
/// before it on the same connection can have stored.
async fn pipelined_block(
    ctx: &Ctx,
    spec: &Spec,
    conn: &mut Conn,
    key: &[u8],
    value: &[u8],
    mut out: Vec<u8>,
) -> Result<u64, Cause> {
    net::command(&mut out, &[b"SET", key, value]);
    net::command(&mut out, &[b"GET", key]);
    if spec.del {
        net::command(&mut out, &[b"DEL", key]);
    }
    let t = Instant::now();
    conn.send(&out).await?;
    conn.reply(net::expect_ok).await?;
    ctx.record(Phase::Op, t);
    conn.reply(|r| net::expect_value(r, value, false)).await?;
    ctx.record(Phase::Op, t);
    if !spec.del {
        return Ok(2);
    }
    conn.reply(|r| net::expect_int(r, 1)).await?;
    ctx.record(Phase::Op, t);
    Ok(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_unique_per_task_and_run() {
        assert_ne!(key(1, 5), key(1, 6));
        assert_ne!(key(1, 5), key(2, 5));
        assert_ne!(value(1, 5, 0), value(1, 6, 0));
        assert_eq!(value(0xab, 7, 0), b"task-7-of-ab");
        assert_eq!(value(0xab, 7, 20).len(), 20);
        assert!(value(0xab, 7, 20).starts_with(b"task-7-of-ab"));
    }
}
