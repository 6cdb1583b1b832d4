//! How a server role accepts and stops, shared by `node`, `lb` and `origin`:
//! one executor's accept loop, its open connections, and a clean stop.
//!
//! **The drain contract.** On SIGINT/SIGTERM a server stops accepting (its
//! listeners close, so a new connection is refused) and drains: every
//! request an open connection had *sent* when the stop began — read by the
//! server already, or still waiting in the socket's receive queue — is
//! answered, and every reply is delivered before the connection is closed.
//! A request cut in two by that moment is read to its end and answered too
//! (with whatever arrived together with its tail); anything a client sends
//! later is neither read nor applied. The drain is bounded by the role's
//! drain deadline (10 s for the node and the LB), after which the process
//! exits whatever is left. Redis, by comparison, finishes only the command
//! it is running and then closes its clients, so replies to a pipeline in
//! flight are lost there.
//!
//! A stop goes: SIGINT/SIGTERM sets a flag ([`crate::sys::stop_flag`]; a
//! signal handler may do nothing more); [`Lifecycle::watch`] sees it,
//! closes the accept gate, notes how many bytes each connection's receive
//! queue holds (its [`budget`](Lifecycle::budget)), and ends every
//! connection's pending read; each connection reads and answers its budget
//! ([`Lifecycle::took`] counts it down), then closes with [`close_drained`],
//! which waits until the client's kernel has every reply (a close with
//! unread input sends a reset, and a reset discards replies not yet sent);
//! and [`Lifecycle::drain`] waits for all that, up to a deadline.
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
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the signal flag is polled: a stop is not latency-critical, and
/// polling keeps the signal handler a plain atomic store.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How long to wait after a failed accept before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// How often a drain checks whether the connections are gone, and a
/// closing connection whether its replies have been acknowledged.
const DRAIN_POLL: Duration = Duration::from_millis(5);
/// Longest [`close_drained`] waits for the client to take its replies.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);
/// Linux's `TCP_CLOSE` state in `tcp_info`: reset, or closed both ways.
const TCP_STATE_CLOSE: u8 = 7;

/// One executor's listening side: the accept gate, the open connections and
/// whether a stop has begun. Owned by the executor; nothing here locks.
pub struct Lifecycle {
    /// Never signalled, only closed: an accept races a wait on it, so a stop
    /// also wakes an accept that is parked with no client in sight.
    gate: Semaphore,
    /// Set when the stop begins.
    stopping: Cell<bool>,
    /// Open connection sockets, so a stop can end their reads; once stopped,
    /// each one's budget: the bytes it may still read (see [`Lifecycle::budget`]).
    conns: RefCell<HashMap<RawFd, Option<usize>>>,
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
            conns: RefCell::new(HashMap::new()),
        }
    }

    /// Count `fd` as an open connection until [`untrack`](Self::untrack).
    /// A connection accepted just before the stop, and tracked after it,
    /// is stopped at once like the others.
    pub fn track(&self, fd: RawFd) {
        let budget = self.stopping.get().then(|| stop_reading(fd));
        self.conns.borrow_mut().insert(fd, budget);
    }

    /// The connection on `fd` is closing.
    pub fn untrack(&self, fd: RawFd) {
        self.conns.borrow_mut().remove(&fd);
    }

    /// True once a stop has begun: a connection answers its
    /// [`budget`](Self::budget), closes with [`close_drained`] and exits.
    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// How many more bytes connection `fd` may read: `None` until the stop;
    /// then what its receive queue held when the stop began, less what it
    /// has read since ([`took`](Self::took)). Its reads return 0 once the
    /// queue is empty.
    pub fn budget(&self, fd: RawFd) -> Option<usize> {
        // Every read asks: before the stop, answer without the map lookup
        // (a SipHash of the fd cost ~110 instructions per request).
        if !self.stopping.get() {
            return None;
        }
        self.conns.borrow().get(&fd).copied().flatten()
    }

    /// Connection `fd` read `n` bytes: count them against its budget.
    pub fn took(&self, fd: RawFd, n: usize) {
        if !self.stopping.get() {
            return;
        }
        if let Some(Some(b)) = self.conns.borrow_mut().get_mut(&fd) {
            *b = b.saturating_sub(n);
        }
    }

    /// The next client; `None` once stopped.
    pub async fn accept(&self, listener: &TcpListener) -> Option<TcpStream> {
        accept(listener, &self.gate).await
    }

    /// Stop now: no new connections; every open connection gets its
    /// budget (the input it has received) and its pending read returns 0.
    pub fn stop(&self) {
        if self.stopping.replace(true) {
            return;
        }
        self.gate.close();
        for (&fd, budget) in self.conns.borrow_mut().iter_mut() {
            *budget = Some(stop_reading(fd));
        }
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
        // a read of an empty receive queue return 0 (queued input, and
        // input that still arrives, stay readable).
        unsafe { libc::shutdown(fd, libc::SHUT_RD) };
    }
}

/// The bytes waiting in `fd`'s receive queue; then end its pending read.
fn stop_reading(fd: RawFd) -> usize {
    let queued = ioctl_len(fd, libc::FIONREAD).unwrap_or(0);
    end_reads([fd]);
    queued
}

/// A queue length from `ioctl` (`FIONREAD`: received, unread;
/// `TIOCOUTQ`: sent, not yet acknowledged); `None` if the call fails.
fn ioctl_len(fd: RawFd, request: libc::Ioctl) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: a query ioctl on a socket the caller keeps open, writing one
    // c_int we own.
    let rc = unsafe { libc::ioctl(fd, request, &mut n) };
    (rc == 0).then(|| usize::try_from(n).unwrap_or(0))
}

/// Whether the TCP socket `fd` is closed both ways or was reset (so
/// nothing more will be acknowledged).
fn tcp_closed(fd: RawFd) -> bool {
    // SAFETY: tcp_info is plain old data; all zeroes is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, which we own.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    rc != 0 || info.tcpi_state == TCP_STATE_CLOSE
}

/// Close a connection at the end of a drain without losing a reply: send
/// FIN after the replies, wait (up to [`CLOSE_LIMIT`]) until the client's
/// kernel has acknowledged all of them, then close. Closing a socket whose
/// receive queue is not empty (a client that sent more after the stop)
/// makes the kernel send a reset and discard every reply it has not sent
/// yet; once they are acknowledged, they are safe in the client's receive
/// queue, which a reset does not clear.
pub async fn close_drained(stream: TcpStream) {
    let fd = stream.as_raw_fd();
    if stream.shutdown(std::net::Shutdown::Write).await.is_ok() {
        let unacked = || ioctl_len(fd, libc::TIOCOUTQ).is_some_and(|n| n > 0);
        wait_until(
            || !unacked() || tcp_closed(fd),
            Instant::now() + CLOSE_LIMIT,
        )
        .await;
    }
    drop(stream);
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
    fn stop_budgets_what_each_connection_has_received() {
        run(async {
            let life = Lifecycle::new();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = TcpStream::connect(addr).await.unwrap();
            let mut server = life.accept(&listener).await.expect("a client");
            life.track(server.as_raw_fd());
            assert_eq!(
                life.budget(server.as_raw_fd()),
                None,
                "no limit before the stop"
            );
            client.write_all(b"0123456789").await.unwrap();
            // Until the bytes are in the server's receive queue.
            while ioctl_len(server.as_raw_fd(), libc::FIONREAD) != Some(10) {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            life.stop();
            assert_eq!(life.budget(server.as_raw_fd()), Some(10));
            let mut b = [0u8; 4];
            assert_eq!(server.read(&mut b).await.unwrap(), 4);
            life.took(server.as_raw_fd(), 4);
            assert_eq!(life.budget(server.as_raw_fd()), Some(6));
            // A connection tracked after the stop is stopped at once.
            let mut late_client = TcpStream::connect(addr).await.unwrap();
            late_client.write_all(b"abc").await.unwrap();
            let late = listener.accept().await.unwrap();
            while ioctl_len(late.as_raw_fd(), libc::FIONREAD) != Some(3) {
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
            life.track(late.as_raw_fd());
            assert_eq!(life.budget(late.as_raw_fd()), Some(3));
            let mut rest = Vec::new();
            let mut late = late;
            late.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, b"abc", "queued input is read, then EOF");
        });
    }

    #[test]
    fn close_drained_delivers_the_replies_despite_unread_input() {
        // A reply larger than the socket buffers, and a client that sent
        // more than the server read: a plain close would reset the
        // connection and drop the part of the reply not yet sent.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reply: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let want = reply.clone();
        let client = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(b"unread input").unwrap();
            std::thread::sleep(Duration::from_millis(200));
            let mut got = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                match c.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
            got
        });
        let (server, _) = listener.accept().unwrap();
        run(async move {
            // SAFETY: the accepted socket's fd, given up by `server`.
            let mut s = unsafe { TcpStream::from_raw_fd(server.into_raw_fd()) };
            s.write_all(&reply).await.unwrap();
            close_drained(s).await;
        });
        assert!(client.join().unwrap() == want, "the whole reply arrived");
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
