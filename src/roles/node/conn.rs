//! Accepting clients and serving one connection: read, run, write, repeat.

use super::core::{bump, Core};
use super::hop::{Delegated, Finished};
use super::pipeline::{self, After, Plan};
use super::session::Session;
use crate::roles::lifecycle;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// First read buffer size. Small on purpose: at C50K every idle connection
/// holds one, and it grows on demand for big requests.
const READ_BUF: usize = 4 * 1024;
/// Buffers that grew past this are shrunk back once drained.
const KEEP_BUF: usize = 64 * 1024;
/// Most heap a connection takes back from a delegated read (a pipeline of
/// 16 needs 1–2 KiB); bigger buffers are freed, not kept per connection.
const SPARE_KEEP: usize = 16 * 1024;
/// Redis's `client-query-buffer-limit`: a client whose unparsed input
/// exceeds this is disconnected.
const QUERY_BUF_LIMIT: usize = 1024 * 1024 * 1024;

/// The reply Redis sends to a client over `maxclients` before closing it.
pub const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// Accept clients until the core stops.
pub async fn accept_loop(core: Rc<Core>, listener: TcpListener) {
    while let Some(stream) = core.life.accept(&listener).await {
        let prev = core.shared.clients.fetch_add(1, Ordering::Relaxed);
        if prev >= core.shared.maxclients {
            core.shared.clients.fetch_sub(1, Ordering::Relaxed);
            bump(&core.counters.rejected);
            glommio::spawn_local(reject(stream)).detach();
            continue;
        }
        bump(&core.counters.connections_received);
        glommio::spawn_local(serve(core.clone(), stream)).detach();
    }
}

async fn reject(mut stream: TcpStream) {
    let write = stream.write_all(MAX_CLIENTS_REPLY);
    let _ = glommio::timer::timeout(Duration::from_secs(1), async { Ok(write.await) }).await;
    let _ = stream.close().await;
}

/// Serve one client until it closes, sends QUIT or a protocol error, or the
/// node shuts down (which ends pending reads, never replies in flight).
pub async fn serve(core: Rc<Core>, mut stream: TcpStream) {
    let fd = stream.as_raw_fd();
    core.life.track(fd);
    let mut sess = Session::new(core.client_id(), core.shared.password().is_none());
    let mut plan = Plan::default();
    let mut buf = vec![0u8; READ_BUF];
    let (mut start, mut end) = (0usize, 0usize);
    // Allocated on the first reply: at C50K most connections sit idle, and
    // untouched buffers still cost page faults when they are first used.
    let mut out: Vec<u8> = Vec::new();
    let mut hung_up = false;
    // Once stopped: the request the stop cut in two has been read to its
    // end, so a partial request left now came after the stop.
    let mut past_cut = false;
    loop {
        if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            } else if buf.len() >= QUERY_BUF_LIMIT {
                log::warn!(
                    "client {} exceeded the query buffer limit; closing",
                    sess.id
                );
                break;
            } else {
                buf.resize(buf.len() * 2, 0);
            }
        }
        // Once the node stops, read only what had arrived by then, and the
        // rest of the request it cut in two: see `lifecycle`.
        let budget = core.life.budget(fd);
        let room = match budget {
            None => buf.len() - end,
            Some(0) if start == end || past_cut => break,
            Some(0) => buf.len() - end,
            Some(b) => b.min(buf.len() - end),
        };
        match stream.read(&mut buf[end..end + room]).await {
            Ok(0) => {
                hung_up = true;
                break;
            }
            Err(_) => break,
            Ok(n) => {
                end += n;
                core.life.took(fd, n);
            }
        }
        if !finish_delegated(&mut sess, &mut plan, &mut out, &mut stream).await {
            break;
        }
        let (used, after) =
            pipeline::process(&core, &mut sess, &mut plan, &buf[start..end], fd, &mut out).await;
        start += used;
        past_cut |= budget == Some(0) && used > 0;
        if start == end {
            start = 0;
            end = 0;
            if buf.len() > KEEP_BUF {
                buf.truncate(READ_BUF);
                buf.shrink_to_fit();
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
            if out.capacity() > KEEP_BUF {
                out.shrink_to(READ_BUF);
            }
        }
        if after == After::Close {
            break;
        }
        // A client that keeps the socket full makes every read and write
        // complete at once, and this loop would never give the core back:
        // let the other connections, accepts and timers (the stop
        // watcher's too) run when the executor asks.
        glommio::yield_if_needed().await;
    }
    // Another core may still be writing to this fd: wait before closing it.
    finish_delegated(&mut sess, &mut plan, &mut out, &mut stream).await;
    if core.life.stopping() {
        // Every reply must reach the client before the fd closes.
        lifecycle::close_drained(stream).await;
    } else if hung_up {
        // The client closed first and everything it sent was read: dropping
        // the stream closes the fd, which sends our FIN. `close()` would add
        // a `shutdown` syscall per connection for nothing (C50K closes
        // 50,000 of them in a burst).
        drop(stream);
    } else {
        let _ = stream.close().await;
    }
    core.life.untrack(fd);
    core.shared.clients.fetch_sub(1, Ordering::Relaxed);
}

/// Wait for replies another core is writing to this client, and write what
/// it could not; take back the read's buffers. In the common case (a client
/// that waits for its reply before sending more) the completion is already
/// there, so this neither blocks nor costs a cross-core wake-up. Returns
/// false if the socket failed.
async fn finish_delegated(
    sess: &mut Session,
    plan: &mut Plan,
    out: &mut Vec<u8>,
    stream: &mut TcpStream,
) -> bool {
    let Some(rx) = sess.pending.take() else {
        return true;
    };
    let Ok(Finished { outcome, spare }) = rx.await else {
        return false;
    };
    if spare.heap_bytes() <= SPARE_KEEP {
        plan.restore(spare, out);
    }
    match outcome {
        Delegated::Done => true,
        Delegated::Rest(rest) => stream.write_all(&rest).await.is_ok(),
        Delegated::Failed => false,
    }
}
