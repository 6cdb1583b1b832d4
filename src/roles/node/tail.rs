//! The tail of a delegated read's answer: what the client's socket could not
//! take when the owner core wrote the answer (see `Hop::Direct`).
//!
//! The owner used to hand the tail back to the requesting connection, which
//! writes it only before its next write or close; a connection waits for
//! its client's next request before either, and a client waits for the
//! rest of its reply before sending one. So a reply bigger than the socket
//! buffer (a GET of a 20 MB value whose key is on another core) stalled
//! until the client gave up. Now the owner finishes the write itself, and
//! completes the hop only then: the requester still awaits that completion
//! before it writes anything else, so replies stay in order.

use super::climits::REPLY_BUF;
use super::core::Core;
use super::hop::Delegated;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Write `buf[sent..]` to the client socket `fd`, waiting for room as the
/// connection's own write would: under the normal class's soft output
/// limit (the client must take a tail over it within its seconds) and the
/// idle `timeout` (a write that makes no progress that long fails, as the
/// connection's does). The socket belongs to another core's connection, so
/// it is polled with a timer (1 ms, backing off to 10 ms while the client
/// takes nothing) rather than registered with this core's reactor; this
/// only runs for answers the socket could not take at once.
pub async fn finish(core: &Core, fd: RawFd, buf: &[u8], mut sent: usize) -> Delegated {
    let limit = core.shared.output_limits.normal.get();
    let over_soft =
        |sent: usize| limit.soft > 0 && (buf.len() - sent).saturating_sub(REPLY_BUF) >= limit.soft;
    let start = Instant::now();
    let soft_deadline = start + Duration::from_secs(limit.soft_secs);
    let idle = core.shared.timeout_secs.load(Ordering::Relaxed);
    let mut progress = start;
    let mut pause = Duration::from_millis(1);
    loop {
        let before = sent;
        match send_some(fd, buf, &mut sent) {
            Some(true) => return Delegated::Done,
            None => return Delegated::Failed,
            Some(false) => {}
        }
        let now = Instant::now();
        if sent > before {
            progress = now;
            pause = Duration::from_millis(1);
        }
        let stuck = idle > 0 && now.duration_since(progress) >= Duration::from_secs(idle);
        if stuck || (over_soft(sent) && now > soft_deadline) {
            if !stuck {
                log::warn!(
                    "Client fd={fd} scheduled to be closed ASAP for overcoming of output buffer \
                     limits. ({} bytes unsent)",
                    buf.len() - sent
                );
            }
            // The requester may be waiting for the client's next request:
            // ending its read is what closes the client.
            // SAFETY: the requester keeps `fd` open until it has our outcome.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            return Delegated::Failed;
        }
        glommio::timer::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Write `buf[*sent..]` to `fd` without blocking, advancing `sent`:
/// `Some(true)` when all of it went, `Some(false)` when the socket is full,
/// `None` when it failed.
pub fn send_some(fd: RawFd, buf: &[u8], sent: &mut usize) -> Option<bool> {
    while *sent < buf.len() {
        // SAFETY: the requesting core keeps `fd` open until it has received
        // our `Delegated` (see `Hop::Direct`), and `buf[sent..]` is valid.
        let n = unsafe {
            libc::send(
                fd,
                buf[*sent..].as_ptr().cast(),
                buf.len() - *sent,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n > 0 {
            *sent += n as usize;
            continue;
        }
        match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Some(false),
            _ => return None,
        }
    }
    Some(true)
}
