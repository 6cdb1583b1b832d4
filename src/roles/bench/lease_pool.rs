//! Pooled lease connections (`--lease-conns N`): a worker keeps N
//! persistent connections to the LB and pipelines many tasks' `LEASE\n`
//! requests over them.
//!
//! Every task still takes its own lease — the LB still picks a node per
//! request, by its policy — so what a task does is unchanged. What goes
//! away is one TCP connection lifecycle per lease (socket, bind, handshake,
//! accept, FIN both ways, TIME_WAIT): with a fresh connection per lease that
//! was about a third of a C50K run's CPU, spread over the worker, the LB and
//! the kernel between them (docs/BENCH.md).
//!
//! How: a task queues a reply slot on one connection (a *lane*, round
//! robin) and wakes that lane's driver. The driver takes everything queued
//! (at most [`MAX_BATCH`]), writes that many `LEASE\n` in one write and
//! reads as many reply lines. The LB answers one connection's requests in
//! order, one line each, so the k-th line belongs to the k-th slot. A lane
//! whose replies stop making sense (timeout, garbage) can no longer be
//! trusted to be in step: the rest of its batch fails with that cause and
//! the driver reconnects for the next batch. A close is different: the
//! unanswered requests go out again on a fresh connection while that makes
//! progress, so an LB that answers one request per connection (or closes
//! idle ones) still works, only slower (see [`exchange_batch`]). Requests
//! queued while a batch is out go in the next one, so the batch size
//! follows the load.

use super::net::{self, ConnectError};
use super::tally::Cause;
use futures_channel::oneshot;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::timeout;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// Most requests in one write. Large enough that a burst of thousands of
/// tasks needs few round trips; small enough that one slow batch does not
/// hold many tasks past `--timeout`.
pub const MAX_BATCH: usize = 1024;
/// A reply line longer than this is not the LB talking.
const MAX_LINE: usize = 256;
/// A node address, or why there is none.
type Answer = Result<SocketAddr, Cause>;

/// One task's request: where its answer goes, and the key it leases for
/// (`--cluster`: the LB names that key's owner), if any.
struct Pending {
    tx: oneshot::Sender<Answer>,
    key: Option<Box<[u8]>>,
}

/// One persistent LB connection and the tasks waiting on it.
#[derive(Default)]
struct Lane {
    /// Reply slots in request order, not yet sent.
    queue: RefCell<VecDeque<Pending>>,
    /// The driver, when it is idle.
    waker: Cell<Option<Waker>>,
    /// Set by [`LeasePool::close`].
    closed: Cell<bool>,
}

impl Lane {
    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// A worker's persistent LB connections. Single-threaded (one executor).
pub struct LeasePool {
    lanes: Vec<Rc<Lane>>,
    next: Cell<usize>,
}

impl LeasePool {
    /// Start `conns` lane drivers on the current executor. Connections are
    /// opened lazily, by the first batch of each lane, from `sources`
    /// (round robin; `None` = the kernel's choice).
    ///
    /// # Panics
    /// If `conns` is 0 (the caller takes fresh connections instead).
    pub fn start(lb: SocketAddr, sources: &[Ipv4Addr], conns: usize, limit: Duration) -> LeasePool {
        assert!(conns > 0, "a lease pool needs at least one connection");
        let lanes: Vec<Rc<Lane>> = (0..conns).map(|_| Rc::default()).collect();
        for (i, lane) in lanes.iter().enumerate() {
            let source = (!sources.is_empty()).then(|| sources[i % sources.len()]);
            glommio::spawn_local(drive(lane.clone(), lb, source, limit)).detach();
        }
        LeasePool {
            lanes,
            next: Cell::new(0),
        }
    }

    /// Take one lease over the pool.
    ///
    /// The wait is bounded without a timer of its own: the lane's driver
    /// bounds each connect and each batch exchange by `--timeout`, so a
    /// request waits at most for the batch ahead of it and its own.
    ///
    /// # Errors
    /// The [`Cause`] to count, as for a fresh-connection lease.
    pub async fn lease(&self, key: Option<&[u8]>) -> Answer {
        let i = self.next.get();
        self.next.set(i.wrapping_add(1));
        let lane = &self.lanes[i % self.lanes.len()];
        if lane.closed.get() {
            return Err(Cause::Closed);
        }
        let (tx, rx) = oneshot::channel();
        lane.queue.borrow_mut().push_back(Pending {
            tx,
            key: key.map(Box::from),
        });
        lane.wake();
        // A dropped sender means the driver is gone (the pool closed).
        rx.await.unwrap_or(Err(Cause::Closed))
    }

    /// Stop the drivers; their connections close and queued requests fail.
    pub fn close(&self) {
        for lane in &self.lanes {
            lane.closed.set(true);
            lane.wake();
        }
    }
}

impl Drop for LeasePool {
    fn drop(&mut self) {
        self.close();
    }
}

/// One lane: wait for requests, exchange them in batches, reconnect when
/// the connection can no longer be trusted.
async fn drive(lane: Rc<Lane>, lb: SocketAddr, source: Option<Ipv4Addr>, limit: Duration) {
    let mut conn: Option<TcpStream> = None;
    let mut lines = LineBuf::default();
    let mut out = Vec::new();
    loop {
        poll_fn(|cx| {
            if lane.closed.get() || !lane.queue.borrow().is_empty() {
                Poll::Ready(())
            } else {
                lane.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await;
        if lane.closed.get() {
            // Dropping the queued senders fails their requests as `Closed`.
            lane.queue.borrow_mut().clear();
            return;
        }
        let mut batch: VecDeque<_> = {
            let mut q = lane.queue.borrow_mut();
            let k = q.len().min(MAX_BATCH);
            q.drain(..k).collect()
        };
        exchange_batch(
            &mut conn, lb, source, limit, &mut out, &mut batch, &mut lines,
        )
        .await;
    }
}

/// Exchange one batch, reconnecting while that makes progress; every slot
/// of `batch` is answered when this returns.
///
/// A connection the LB closes is not by itself a failed lease: an LB may
/// close a kept connection when it has been idle, or answer only one
/// request per connection (seed 000's clients close after one). So on a
/// close, the unanswered requests go out again on a fresh connection — as
/// long as the connection that closed had answered at least one of them or
/// had been reused from an earlier batch. A fresh connection that closes
/// without a single answer fails the rest as `Closed`, so this always ends.
/// Any other error (timeout, garbage) fails the rest with that cause.
async fn exchange_batch(
    conn: &mut Option<TcpStream>,
    lb: SocketAddr,
    source: Option<Ipv4Addr>,
    limit: Duration,
    out: &mut Vec<u8>,
    batch: &mut VecDeque<Pending>,
    lines: &mut LineBuf,
) {
    loop {
        out.clear();
        for p in batch.iter() {
            net::lease_request(out, p.key.as_deref());
        }
        let (before, reused) = (batch.len(), conn.is_some());
        let result = exchange(conn, lb, source, limit, out, batch, lines).await;
        if result.is_ok() && lines.is_empty() {
            return;
        }
        // Out of step with the LB (or it closed): start over next time.
        *conn = None;
        lines.clear();
        match result {
            // Replies nobody asked for: the batch itself was answered.
            Ok(()) => return,
            Err(Cause::Closed) if batch.len() < before || reused => continue,
            Err(cause) => {
                for p in batch.drain(..) {
                    let _ = p.tx.send(Err(cause));
                }
                return;
            }
        }
    }
}

/// Send `out` (one LEASE request per slot in `batch`) and hand each reply line
/// to its slot, in order, connecting first if needed. Answered slots leave
/// `batch`; on an error the unanswered ones stay there for the caller.
async fn exchange(
    conn: &mut Option<TcpStream>,
    lb: SocketAddr,
    source: Option<Ipv4Addr>,
    limit: Duration,
    out: &[u8],
    batch: &mut VecDeque<Pending>,
    lines: &mut LineBuf,
) -> Result<(), Cause> {
    if conn.is_none() {
        let stream = net::connect(lb, source, limit).await.map_err(|e| match e {
            ConnectError::Refused => Cause::LeaseRefused,
            ConnectError::Timeout => Cause::LeaseTimeout,
            ConnectError::Io(_) => Cause::Io,
        })?;
        *conn = Some(stream);
    }
    let stream = conn.as_mut().expect("connected above");
    // One timer for the whole exchange, not one per read: the batch is
    // bounded by MAX_BATCH, and a timer per await is measurable here.
    let exchange = async {
        stream.write_all(out).await.map_err(|e| net::io_cause(&e))?;
        while !batch.is_empty() {
            while let Some(line) = lines.next_line() {
                let answer = net::parse_lease_line(line);
                if answer == Err(Cause::Protocol) {
                    return Err(Cause::Protocol);
                }
                let p = batch.pop_front().expect("one slot per request");
                // The task may have stopped waiting (Ctrl-C); nothing to do.
                let _ = p.tx.send(answer);
                if batch.is_empty() {
                    return Ok(());
                }
            }
            if lines.full() {
                return Err(Cause::Protocol);
            }
            let n = stream
                .read(lines.space())
                .await
                .map_err(|e| net::io_cause(&e))?;
            if n == 0 {
                return Err(Cause::Closed);
            }
            lines.filled(n);
        }
        Ok(())
    };
    match timeout(limit, async { Ok(exchange.await) }).await {
        Err(_) => Err(Cause::LeaseTimeout),
        Ok(r) => r,
    }
}

/// Bytes read from the LB and not yet split into lines.
struct LineBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for LineBuf {
    fn default() -> LineBuf {
        // Room for a few hundred replies per read (`NODE:127.0.0.1:NNNNN\n`).
        LineBuf {
            buf: vec![0; 8 * 1024],
            start: 0,
            end: 0,
        }
    }
}

impl LineBuf {
    /// The next complete line, without its `\n`.
    fn next_line(&mut self) -> Option<&[u8]> {
        let pending = &self.buf[self.start..self.end];
        let nl = pending.iter().position(|&b| b == b'\n')?;
        let line = &self.buf[self.start..self.start + nl];
        self.start += nl + 1;
        Some(line)
    }

    /// Free space to read into, after moving the partial line to the front.
    fn space(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// A partial line too long to be a reply.
    fn full(&self) -> bool {
        self.end - self.start >= MAX_LINE && !self.buf[self.start..self.end].contains(&b'\n')
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_splits_replies_and_keeps_partial_lines() {
        let mut l = LineBuf::default();
        let data = b"NODE:127.0.0.1:1\nNODE:127.0.0.1:2\nNODE:12";
        l.space()[..data.len()].copy_from_slice(data);
        l.filled(data.len());
        assert_eq!(l.next_line(), Some(&b"NODE:127.0.0.1:1"[..]));
        assert_eq!(l.next_line(), Some(&b"NODE:127.0.0.1:2"[..]));
        assert_eq!(l.next_line(), None);
        assert!(!l.is_empty() && !l.full());
        let rest = b"7.0.0.1:3\n";
        l.space()[..rest.len()].copy_from_slice(rest);
        l.filled(rest.len());
        assert_eq!(l.next_line(), Some(&b"NODE:127.0.0.1:3"[..]));
        assert!(l.is_empty());
        let junk = [b'x'; MAX_LINE];
        l.space()[..junk.len()].copy_from_slice(&junk);
        l.filled(junk.len());
        assert!(l.full());
    }
}
