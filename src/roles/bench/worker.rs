//! A worker process (`cachectl bench --worker`): one glommio executor
//! running thousands of client tasks, fed by its parent over stdin and
//! reporting over stdout (see [`wire`](super::wire)).
//!
//! Why processes and not threads: the 20,000 open-file limit is per process
//! and cannot be raised, so 50,000 client sockets need at least three
//! processes whatever the thread count.

use super::ctx::{Ctx, Flags};
use super::lease_pool::LeasePool;
use super::net;
use super::pace::Pacer;
use super::tally::{Latencies, Tally};
use super::wire::{Control, Dest, Event, Job, Work};
use super::{c50k, leases, steady};
use anyhow::Context;
use glommio::sync::Semaphore;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::{Cell, RefCell};
use std::io::{BufRead, Write};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// io_uring registered-buffer memory; client sockets don't use it, so keep
/// it small (each process pins it).
const IO_MEMORY: usize = 256 * 1024;
/// io_uring ring depth. Every open socket keeps a poll armed, and closing
/// one cancels its poll, which the kernel finds by scanning one bucket of a
/// hash table sized from the ring (ilog2(2 × depth) − 5 bits, at most 8):
/// at the default depth of 128 that is 8 buckets, so with 12,500 held
/// sockets each cancel walks ~1,500 entries. 4,096 gives the maximum 256.
const RING_DEPTH: usize = 4096;
/// How often the supervisor looks at the control flags; this bounds how
/// late the `--hold` barrier opens after the parent says go.
const TICK: Duration = Duration::from_millis(2);
/// How often progress goes to the parent.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Run as a worker until the job is done or the parent says stop.
///
/// # Errors
/// A job that does not parse, or an executor that does not start.
pub fn run() -> anyhow::Result<()> {
    crate::sys::raise_nofile_limit().context("worker: raising the open-file limit")?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("worker: reading the job")?;
    let job = super::args::parse_job(&line)?;
    let flags = Arc::new(Flags::default());
    let reader_flags = flags.clone();
    std::thread::Builder::new()
        .name("bench-control".into())
        .spawn(move || read_controls(&reader_flags))
        .context("worker: starting the control reader")?;
    let ex = LocalExecutorBuilder::new(Placement::Unbound)
        .name("bench-worker")
        .io_memory(IO_MEMORY)
        .ring_depth(RING_DEPTH)
        .make()
        .map_err(|e| anyhow::anyhow!("worker: starting the executor: {e}"))?;
    let (tally, lat) = ex.run(drive(job, flags));
    emit(&Event::Done {
        tally,
        latencies: lat.encode(),
    });
    Ok(())
}

/// Turn the parent's control lines into flags. EOF (the parent is gone)
/// means stop, so a worker never outlives its parent for long.
fn read_controls(flags: &Flags) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match Control::parse(&line) {
            Some(Control::Start) => flags.start.store(true, Ordering::Relaxed),
            Some(Control::Go) => flags.go.store(true, Ordering::Relaxed),
            Some(Control::Stop) => break,
            None => log::warn!("worker: ignoring control line {line:?}"),
        }
    }
    flags.stop.store(true, Ordering::Relaxed);
}

/// Write one event line to the parent. A parent that went away is handled
/// by the control reader (EOF → stop), so a failed write is ignored here.
fn emit(ev: &Event) {
    let line = serde_json::to_string(ev).expect("events always serialize");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn drive(job: Job, flags: Arc<Flags>) -> (Tally, Latencies) {
    let timeout = Duration::from_millis(job.timeout_ms);
    let lease_pool = match job.dest {
        Dest::Lease(lb) if job.lease_conns > 0 => {
            Some(LeasePool::start(lb, &job.sources, job.lease_conns, timeout))
        }
        _ => None,
    };
    let ctx = Rc::new(Ctx {
        dest: job.dest,
        sources: job.sources.clone(),
        timeout,
        lease_pool,
        gate: Semaphore::new(job.concurrency.max(1) as u64),
        barrier: Semaphore::new(0),
        flags: flags.clone(),
        tally: RefCell::default(),
        lat: RefCell::default(),
        leased: Cell::new(0),
        connected: Cell::new(0),
        settled: Cell::new(0),
        held_fds: RefCell::default(),
        live: Cell::new(0),
    });
    emit(&Event::Ready);
    while !flags.start.load(Ordering::Relaxed) {
        if flags.stopped() {
            return (Tally::default(), Latencies::default());
        }
        glommio::timer::sleep(TICK).await;
    }
    // One pacer for every fixed-rate client of this worker (see `pace`).
    let mut pacer: Option<Rc<Pacer>> = None;
    let hold_count = match &job.work {
        Work::C50k {
            hold: true, count, ..
        } => Some(*count),
        _ => None,
    };
    match job.work {
        Work::C50k {
            first,
            count,
            run_id,
            hold,
            del,
            value_size,
            pipelined,
            keyed,
        } => {
            let spec = Rc::new(c50k::Spec {
                run_id,
                hold,
                del,
                value_size,
                pipelined,
                keyed,
            });
            for i in first..first + count {
                let live = ctx.live();
                glommio::spawn_local(c50k::task(ctx.clone(), spec.clone(), i, live)).detach();
            }
        }
        Work::Steady {
            connections,
            duration_ms,
            pipeline,
            ratio,
            keyspace,
            value_size,
            rate,
            seed,
        } => {
            let spec = Rc::new(steady::Spec {
                deadline: Instant::now() + Duration::from_millis(duration_ms),
                connections,
                pipeline,
                ratio,
                keyspace,
                value_size,
                rate,
                pacer: rate.map(|_| pacer.get_or_insert_with(Pacer::start).clone()),
                seed,
            });
            for i in 0..connections {
                let live = ctx.live();
                glommio::spawn_local(steady::connection(ctx.clone(), spec.clone(), i, live))
                    .detach();
            }
        }
        Work::Leases {
            clients,
            duration_ms,
            rate,
        } => {
            let deadline = Instant::now() + Duration::from_millis(duration_ms);
            // Each client's share of a fixed rate: one lease every `interval`.
            let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
            for i in 0..clients {
                let live = ctx.live();
                let pace = interval.map(|every| leases::Pace {
                    every,
                    first: every.mul_f64(i as f64 / clients as f64),
                    pacer: pacer.get_or_insert_with(Pacer::start).clone(),
                });
                glommio::spawn_local(leases::client(ctx.clone(), deadline, i, pace, live)).detach();
            }
        }
    }
    supervise(&ctx, hold_count).await;
    if let Some(p) = &pacer {
        p.stop();
    }
    if let Some(pool) = &ctx.lease_pool {
        pool.close();
    }
    emit(&Event::Progress(ctx.progress()));
    let tally = ctx.tally.borrow().clone();
    let lat = ctx.lat.borrow().clone();
    (tally, lat)
}

/// Watch the tasks: report progress, tell the parent when the `--hold`
/// barrier is full, open it on go, and return when all tasks ended or the
/// parent said stop.
async fn supervise(ctx: &Rc<Ctx>, hold_count: Option<u64>) {
    let mut held_sent = false;
    let mut opened = false;
    let mut last_progress = Instant::now();
    while ctx.live.get() > 0 && !ctx.flags.stopped() {
        glommio::timer::sleep(TICK).await;
        if let Some(count) = hold_count {
            if !held_sent && ctx.settled.get() == count {
                held_sent = true;
                // Not the connect count: a connection the server closed or
                // refused after its handshake is not held.
                let held = ctx
                    .held_fds
                    .borrow()
                    .iter()
                    .filter(|&&fd| net::open_and_silent(fd))
                    .count() as u64;
                ctx.tally.borrow_mut().held = held;
                emit(&Event::Progress(ctx.progress()));
                emit(&Event::Held {
                    held,
                    connected: ctx.connected.get(),
                });
            }
            if held_sent && !opened && ctx.flags.go.load(Ordering::Relaxed) {
                opened = true;
                // Closing wakes every waiter at once: a broadcast.
                ctx.barrier.close();
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            emit(&Event::Progress(ctx.progress()));
        }
    }
}
