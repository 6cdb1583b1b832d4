//! Process plumbing: the open-file limit, listening sockets we build
//! ourselves (glommio's `TcpListener::bind` hard-codes a backlog of 1024),
//! and the stop signals.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag that SIGINT or SIGTERM sets; the process polls it to stop cleanly.
///
/// # Errors
/// The signal handler could not be installed.
pub fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    Ok(stop_flags()?.0)
}

/// [`stop_flag`], and a second flag that a SIGINT or SIGTERM arriving
/// after the first one sets: asked again, a stop that takes its time (a
/// cluster node's warm leave) is cut short.
///
/// # Errors
/// The signal handler could not be installed.
pub fn stop_flags() -> io::Result<(Arc<AtomicBool>, Arc<AtomicBool>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let again = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let (stop, again) = (stop.clone(), again.clone());
        let action = move || {
            if stop.swap(true, Ordering::SeqCst) {
                again.store(true, Ordering::SeqCst);
            }
        };
        // SAFETY: the action only swaps and stores atomics, which is
        // async-signal-safe: no allocation, lock or I/O.
        unsafe { signal_hook::low_level::register(sig, action) }?;
    }
    Ok((stop, again))
}

/// Raise the soft open-file limit to the hard one; returns the new soft limit.
///
/// # Errors
/// The `getrlimit`/`setrlimit` error, if any.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            let want = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
                return Err(io::Error::last_os_error());
            }
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

/// The kernel's cap on listen backlogs, if readable.
pub fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A non-blocking TCP listener with `SO_REUSEADDR`, optionally
/// `SO_REUSEPORT` (so each core can own a listener on the same port), and
/// the given backlog.
///
/// # Errors
/// Any socket, bind or listen error.
pub fn listener(addr: SocketAddr, backlog: u32, reuse_port: bool) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux, so
    // servers get small replies out at once without one setsockopt per
    // connection (a C50K run accepts 50,000 in a burst).
    sock.set_nodelay(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(sock)
}

/// Warn when the kernel will silently shorten the requested backlog.
pub fn warn_if_backlog_capped(backlog: u32) {
    if let Some(max) = somaxconn() {
        if backlog > max {
            log::warn!(
                "--backlog {backlog} is capped by the kernel to net.core.somaxconn={max}; \
                 raise it with `sysctl -w net.core.somaxconn={backlog}` for bigger connect bursts"
            );
        }
    }
}

/// Resident set size of this process in bytes (from `/proc/self/statm`).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(1) as u64)
}

/// Format a byte count the way Redis's `*_human` INFO fields do.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.2}{}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_raised_to_hard() {
        let soft = raise_nofile_limit().unwrap();
        assert!(soft >= 1024);
    }

    #[test]
    fn accepted_sockets_inherit_nodelay_from_the_listener() {
        let l = listener("127.0.0.1:0".parse().unwrap(), 16, false).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let accepted = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn human() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.50K");
    }

    #[test]
    fn listener_binds_port_zero() {
        let s = listener("127.0.0.1:0".parse().unwrap(), 128, true).unwrap();
        assert_ne!(s.local_addr().unwrap().as_socket().unwrap().port(), 0);
    }
}
