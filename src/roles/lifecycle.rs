//! How a server role accepts and stops, shared by `node`, `lb` and `origin`:
//! one executor's accept loop, its open connections, and a clean stop.
//!
//! A stop goes: SIGINT/SIGTERM sets a flag ([`crate::sys::stop_flag`]; a
//! signal handler may do nothing more); [`Lifecycle::watch`] sees it, closes
//! the accept gate and ends every connection's pending read; each
//! connection then finishes the reply it is writing and exits; and
//! [`Lifecycle::drain`] waits for that, up to a deadline. No reply in flight
//! is cut off, and no new request is read.
//!
//! The free functions are the same steps for a role whose connection set
//! lives in its own state rather than in a [`Lifecycle`] (the node's `Core`),
//! and [`bind`] and [`run_executor`] start a server that runs on one
//! executor (the LB, the origin).

use anyhow::Context;
use glommio::net::{TcpListener, TcpStream};
use glommio::sync::Semaphore;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the signal flag is polled: a stop is not latency-critical, and
/// polling keeps the signal handler a plain atomic store.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How long to wait after a failed accept before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// How often a drain checks whether the connections are gone.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// One executor's listening side: the accept gate, the open connections and
/// whether a stop has begun. Owned by the executor; nothing here locks.
pub struct Lifecycle {
    /// Never signalled, only closed: an accept races a wait on it, so a stop
    /// also wakes an accept that is parked with no client in sight.
    gate: Semaphore,
    /// Set when the stop begins.
    stopping: Cell<bool>,
    /// Open connection sockets, so a stop can end their reads.
    conns: RefCell<HashSet<RawFd>>,
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle::new()
    }
}

impl Lifecycle {
    /// A lifecycle that accepts until stopped.
    pub fn new() -> Lifecycle {
        Lifecycle {
            gate: Semaphore::new(0),
            stopping: Cell::new(false),
            conns: RefCell::new(HashSet::new()),
        }
    }

    /// Count `fd` as an open connection until [`untrack`](Self::untrack).
    pub fn track(&self, fd: RawFd) {
        self.conns.borrow_mut().insert(fd);
    }

    /// The connection on `fd` is closing.
    pub fn untrack(&self, fd: RawFd) {
        self.conns.borrow_mut().remove(&fd);
    }

    /// True once a stop has begun: a connection exits after its current reply.
    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// The next client; `None` once stopped.
    pub async fn accept(&self, listener: &TcpListener) -> Option<TcpStream> {
        accept(listener, &self.gate).await
    }

    /// Stop now: no new connections, and every open connection's pending
    /// read returns 0 so it exits after the reply it is writing.
    pub fn stop(&self) {
        self.stopping.set(true);
        self.gate.close();
        end_reads(self.conns.borrow().iter().copied());
    }

    /// Wait until `stop` is set, then [`stop`](Self::stop).
    pub async fn watch(&self, stop: &AtomicBool) {
        wait_for(stop).await;
        self.stop();
    }

    /// Wait until every tracked connection is gone, or `deadline` passes.
    pub async fn drain(&self, deadline: Instant) {
        wait_until(|| self.conns.borrow().is_empty(), deadline).await;
    }
}

/// Raise the open-file limit and bind the listener of a one-executor server
/// at `addr`; returns it with the address it got (the real port for port 0).
///
/// # Errors
/// The limit cannot be read, or the address cannot be bound.
pub fn bind(addr: SocketAddr, backlog: u32) -> anyhow::Result<(socket2::Socket, SocketAddr)> {
    let limit = crate::sys::raise_nofile_limit().context("raising the open-file limit")?;
    log::info!("open-file limit {limit}");
    crate::sys::warn_if_backlog_capped(backlog);
    let sock = crate::sys::listener(addr, backlog, false)
        .with_context(|| format!("binding {addr} (--bind/--port)"))?;
    let bound = sock
        .local_addr()?
        .as_socket()
        .context("listener has no socket address")?;
    Ok((sock, bound))
}

/// Run `main` on a new executor named `name`, handing it `sock` as its
/// listener, and wait until it returns.
///
/// # Errors
/// The executor cannot start, or it panicked.
pub fn run_executor<F, Fut>(
    name: &str,
    io_memory: usize,
    sock: socket2::Socket,
    main: F,
) -> anyhow::Result<()>
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let handle = LocalExecutorBuilder::new(Placement::Unbound)
        .name(name)
        .io_memory(io_memory)
        .spawn(move || async move {
            // SAFETY: the fd is the listening socket `sock` gives up here.
            let listener = unsafe { TcpListener::from_raw_fd(sock.into_raw_fd()) };
            main(listener).await
        })
        .map_err(|e| anyhow::anyhow!("starting the executor: {e}"))?;
    handle
        .join()
        .map_err(|e| anyhow::anyhow!("executor failed: {e:?}"))
}

/// Accept the next client from `listener`; `None` once `gate` is closed.
/// A failed accept is logged and retried.
async fn accept(listener: &TcpListener, gate: &Semaphore) -> Option<TcpStream> {
    loop {
        let accepted = futures_lite::future::or(async { Some(listener.accept().await) }, async {
            // Never granted: this only returns when the gate is closed.
            let _ = gate.acquire(1).await;
            None
        })
        .await?;
        match accepted {
            Ok(stream) => return Some(stream),
            Err(e) => {
                // EMFILE and friends: the client waits in the backlog while
                // we back off; the server must not die of it.
                log::warn!("accept failed: {e}");
                glommio::timer::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Return once `stop` is set (polled, so it works with any setter).
pub async fn wait_for(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        glommio::timer::sleep(STOP_POLL).await;
    }
}

/// End the pending read of each connection socket in `fds` (it returns 0),
/// leaving its write side open for the reply in flight.
fn end_reads(fds: impl IntoIterator<Item = RawFd>) {
    for fd in fds {
        // SAFETY: a plain syscall that touches no memory. Callers pass the
        // open sockets of live connection tasks, where SHUT_RD only makes
        // a pending read return 0.
        unsafe { libc::shutdown(fd, libc::SHUT_RD) };
    }
}

/// Return once `done()` holds or `deadline` passes, checking every 5 ms.
async fn wait_until(done: impl Fn() -> bool, deadline: Instant) {
    while !done() && Instant::now() < deadline {
        glommio::timer::sleep(DRAIN_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::rc::Rc;
    use std::sync::Arc;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(64 * 1024)
            .make()
            .expect("executor")
            .run(f)
    }

    #[test]
    fn end_reads_ends_a_blocked_read_but_not_writes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        end_reads([server.as_raw_fd()]);
        let mut b = [0u8; 8];
        assert_eq!(server.read(&mut b).unwrap(), 0, "read ends at once");
        server.write_all(b"bye").unwrap();
        client.read_exact(&mut b[..3]).unwrap();
        assert_eq!(&b[..3], b"bye", "the reply still gets out");
    }

    #[test]
    fn stop_ends_accepts_and_tracked_reads() {
        run(async {
            let life = Rc::new(Lifecycle::new());
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = TcpStream::connect(addr).await.unwrap();
            let mut server = life.accept(&listener).await.expect("a client");
            life.track(server.as_raw_fd());
            let stop = Arc::new(AtomicBool::new(false));
            let (l, s) = (life.clone(), stop.clone());
            let watcher = glommio::spawn_local(async move { l.watch(&s).await });
            assert!(!life.stopping());
            stop.store(true, Ordering::Relaxed);
            // The watcher ends the server's pending read; the reply still goes out.
            let mut b = [0u8; 8];
            assert_eq!(server.read(&mut b).await.unwrap(), 0);
            assert!(life.stopping());
            server.write_all(b"bye").await.unwrap();
            client.read_exact(&mut b[..3]).await.unwrap();
            assert_eq!(&b[..3], b"bye");
            watcher.await;
            assert!(life.accept(&listener).await.is_none(), "gate closed");
            life.untrack(server.as_raw_fd());
            life.drain(Instant::now() + Duration::from_secs(5)).await;
        });
    }

    #[test]
    fn drain_gives_up_at_the_deadline() {
        run(async {
            let life = Lifecycle::new();
            life.track(12345);
            let start = Instant::now();
            life.drain(start + Duration::from_millis(30)).await;
            assert!(start.elapsed() >= Duration::from_millis(30));
            assert!(start.elapsed() < Duration::from_secs(5));
        });
    }

    #[test]
    fn stop_wakes_a_parked_accept() {
        run(async {
            let life = Rc::new(Lifecycle::new());
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let l = life.clone();
            glommio::spawn_local(async move {
                glommio::timer::sleep(Duration::from_millis(20)).await;
                l.stop();
            })
            .detach();
            assert!(life.accept(&listener).await.is_none());
        });
    }
}
