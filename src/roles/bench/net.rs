//! Client sockets for worker processes: connect from a chosen loopback
//! source address, take a lease, and read RESP replies — every await bounded
//! by a timeout.
//!
//! Why our own connect: glommio's `TcpStream::connect` cannot bind a source
//! address first, and 50,000 connections from one source address to one LB
//! port would run out of ephemeral ports (28,232 per source/destination
//! pair). So we build the socket with socket2 (non-blocking, bound to
//! 127.0.0.N with `IP_BIND_ADDRESS_NO_PORT` so the port is picked per
//! destination at connect time), start a non-blocking connect, hand the
//! socket to glommio, and wait for the handshake with a zero-length send:
//! while the socket is still in SYN_SENT the kernel answers EAGAIN, glommio
//! then parks on POLLOUT in io_uring, and the retry returns 0 once
//! established or the connect error (e.g. ECONNREFUSED) once failed. A
//! blocking connect would stall the whole executor whenever a SYN is
//! dropped by a full listen backlog (a one-second retransmit).

use super::resp_reply::{self, Reply};
use super::tally::Cause;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::timeout;
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::time::Duration;

/// Why a TCP connect failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The peer refused (nothing listening, or a full backlog answered RST).
    #[error("connection refused")]
    Refused,
    /// The handshake did not finish in time.
    #[error("connect timed out")]
    Timeout,
    /// Anything else (no free local port, bad address...).
    #[error("connect failed: {0}")]
    Io(#[from] io::Error),
}

/// Run `fut` to completion, or give up after `limit` (`None`).
///
/// The timer is armed only if `fut` does not finish on its first poll. Most
/// of a client's writes do (a small request into an empty socket buffer),
/// and so do reads whose reply is already there; a glommio timer costs a
/// B-tree insert and remove on the reactor, which at 50,000 tasks × several
/// awaits each is measurable.
pub async fn bounded<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = std::pin::pin!(fut);
    if let Some(out) = futures_lite::future::poll_once(fut.as_mut()).await {
        return Some(out);
    }
    timeout(limit, async { Ok(fut.await) }).await.ok()
}

/// Create a non-blocking socket bound to `source` (when `dest` is on
/// loopback) and start connecting it to `dest`.
fn start_connect(dest: SocketAddr, source: Option<Ipv4Addr>) -> io::Result<Socket> {
    let sock = Socket::new(
        Domain::for_address(dest),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    if let (Some(src), IpAddr::V4(ip)) = (source, dest.ip()) {
        if ip.is_loopback() {
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on an fd we own, with a valid int option.
            let rc = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&sock),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            sock.bind(&SocketAddr::new(IpAddr::V4(src), 0).into())?;
        }
    }
    sock.set_nodelay(true)?;
    match sock.connect(&dest.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(sock)
}

fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED) | Some(libc::ECONNRESET)
    )
}

/// Whether a connection that has not sent a request yet is still open and
/// the server has said nothing on it: the `--hold` barrier's re-check. A
/// server that refused the client after the handshake (Redis's "max number
/// of clients reached" reply, then a close) has either sent bytes or closed,
/// so a successful connect alone does not count as held. Reads nothing out
/// (`MSG_PEEK`) and never blocks (`MSG_DONTWAIT`).
pub fn open_and_silent(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: `fd` is an open socket (its task is parked at the barrier
    // and owns it until the barrier opens); one byte into our own buffer.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// Connect to `dest` from `source`, waiting at most `limit` for the handshake.
///
/// # Errors
/// [`ConnectError`] saying whether it was refused, timed out, or failed otherwise.
pub async fn connect(
    dest: SocketAddr,
    source: Option<Ipv4Addr>,
    limit: Duration,
) -> Result<TcpStream, ConnectError> {
    let sock = match start_connect(dest, source) {
        Ok(s) => s,
        Err(e) if refused(&e) => return Err(ConnectError::Refused),
        Err(e) => return Err(ConnectError::Io(e)),
    };
    // glommio links socket2 0.4, we use 0.5: hand the fd over instead.
    // SAFETY: `sock` is an open TCP socket we own; ownership moves here.
    let mut stream = unsafe { TcpStream::from_raw_fd(sock.into_raw_fd()) };
    // See the module comment: a zero-length send completes when the
    // handshake does.
    match bounded(limit, stream.write(&[])).await {
        None => Err(ConnectError::Timeout),
        Some(Err(e)) if refused(&e) => Err(ConnectError::Refused),
        Some(Err(e)) => Err(ConnectError::Io(e)),
        Some(Ok(_)) => Ok(stream),
    }
}

/// Append one lease request in the LB's line form: `LEASE\n`, or with a
/// key `LEASE <key>\n` (the LB names the owner of the key's slot in
/// cluster mode). Blank-separated, as bench's keys hold `:`.
pub fn lease_request(out: &mut Vec<u8>, key: Option<&[u8]>) {
    out.extend_from_slice(b"LEASE");
    if let Some(k) = key {
        out.push(b' ');
        out.extend_from_slice(k);
    }
    out.push(b'\n');
}

/// Take one lease from the LB at `lb`: connect, `LEASE\n` (or `LEASE
/// <key>\n`), read the one-line answer, close. Returns the node address it
/// names.
///
/// # Errors
/// The [`Cause`] to count: `LeaseRefused`, `LeaseTimeout`, `LeaseError`
/// (the LB said `ERROR:`), `Protocol`, `Closed` or `Io`.
pub async fn lease(
    lb: SocketAddr,
    source: Option<Ipv4Addr>,
    limit: Duration,
    key: Option<&[u8]>,
) -> Result<SocketAddr, Cause> {
    let mut req = Vec::with_capacity(8 + key.map_or(0, <[u8]>::len));
    lease_request(&mut req, key);
    let mut stream = connect(lb, source, limit).await.map_err(|e| match e {
        ConnectError::Refused => Cause::LeaseRefused,
        ConnectError::Timeout => Cause::LeaseTimeout,
        ConnectError::Io(_) => Cause::Io,
    })?;
    let exchange = async {
        stream.write_all(&req).await?;
        // NODE:<host>:<port>\n is short; 256 bytes is generous for a host name.
        let mut buf = [0u8; 256];
        let mut len = 0;
        loop {
            let n = stream.read(&mut buf[len..]).await?;
            if n == 0 {
                return Ok(Err(Cause::Closed));
            }
            len += n;
            if let Some(end) = buf[..len].iter().position(|&b| b == b'\n') {
                return Ok(parse_lease_line(&buf[..end]));
            }
            if len == buf.len() {
                return Ok(Err(Cause::Protocol));
            }
        }
    };
    match timeout(limit, async { Ok(exchange.await) }).await {
        Err(_) => Err(Cause::LeaseTimeout),
        Ok(Err(e)) => Err(io_cause(&e)),
        Ok(Ok(result)) => result,
    }
}

/// Parse the LB's one-line answer (without its `\n`): `NODE:<host>:<port>`
/// or `ERROR:<message>`.
///
/// # Errors
/// `LeaseError` for `ERROR:`, `Protocol` for anything unparseable.
pub fn parse_lease_line(line: &[u8]) -> Result<SocketAddr, Cause> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.starts_with(b"ERROR") {
        return Err(Cause::LeaseError);
    }
    let rest = line.strip_prefix(b"NODE:").ok_or(Cause::Protocol)?;
    let text = std::str::from_utf8(rest).map_err(|_| Cause::Protocol)?;
    let (host, port) = text.rsplit_once(':').ok_or(Cause::Protocol)?;
    let port: u16 = port.parse().map_err(|_| Cause::Protocol)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| Cause::Protocol)?
    };
    Ok(SocketAddr::new(ip, port))
}

/// The cause to count for a socket error mid-exchange.
pub fn io_cause(e: &io::Error) -> Cause {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => Cause::Closed,
        io::ErrorKind::TimedOut => Cause::Timeout,
        _ => Cause::Io,
    }
}

/// Append a RESP command (an array of bulk strings), as a client sends it.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    crate::proto::reply::array(out, args.len());
    for a in args {
        crate::proto::reply::bulk(out, a);
    }
}

/// First read buffer: room for a few pipelined small replies.
const READ_BUF: usize = 512;
/// A reply larger than this means the server is not answering our commands.
const MAX_REPLY: usize = 64 * 1024 * 1024;

/// A RESP connection: send commands, read replies one at a time.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    limit: Duration,
}

impl Conn {
    /// Wrap a connected stream; `limit` bounds every write and reply wait.
    pub fn new(stream: TcpStream, limit: Duration) -> Conn {
        Conn {
            stream,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            limit,
        }
    }

    /// The socket, for [`open_and_silent`].
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Write `bytes` fully.
    ///
    /// # Errors
    /// `Timeout`, `Closed` or `Io`.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Cause> {
        match bounded(self.limit, self.stream.write_all(bytes)).await {
            None => Err(Cause::Timeout),
            Some(Err(e)) => Err(io_cause(&e)),
            Some(Ok(())) => Ok(()),
        }
    }

    /// Wait for the next reply and judge it with `judge`.
    ///
    /// # Errors
    /// `Timeout`, `Closed`, `Io`, `Protocol` for bytes that are not RESP,
    /// or whatever `judge` returns.
    pub async fn reply<T>(
        &mut self,
        judge: impl FnOnce(Reply<'_>) -> Result<T, Cause>,
    ) -> Result<T, Cause> {
        loop {
            match resp_reply::parse(&self.buf[self.start..self.end]) {
                Err(_) => return Err(Cause::Protocol),
                Ok(Some((reply, used))) => {
                    let verdict = judge(reply);
                    self.start += used;
                    if self.start == self.end {
                        self.start = 0;
                        self.end = 0;
                    }
                    return verdict;
                }
                Ok(None) => self.fill().await?,
            }
        }
    }

    /// Read more bytes, making room first.
    async fn fill(&mut self) -> Result<(), Cause> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() >= MAX_REPLY {
                return Err(Cause::Protocol);
            } else {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
        }
        let (stream, space) = (&mut self.stream, &mut self.buf[self.end..]);
        match bounded(self.limit, stream.read(space)).await {
            None => Err(Cause::Timeout),
            Some(Err(e)) => Err(io_cause(&e)),
            Some(Ok(0)) => Err(Cause::Closed),
            Some(Ok(n)) => {
                self.end += n;
                Ok(())
            }
        }
    }
}

/// Judge a SET reply: `+OK`.
///
/// # Errors
/// `ErrorReply` for `-ERR...`, `Protocol` for anything else.
pub fn expect_ok(r: Reply<'_>) -> Result<(), Cause> {
    match r {
        Reply::Simple(b"OK") => Ok(()),
        Reply::Error(_) => Err(Cause::ErrorReply),
        _ => Err(Cause::Protocol),
    }
}

/// Judge a GET reply against the value that must be there: `Ok(true)` on a
/// match, `Ok(false)` for a miss when `miss_ok`.
///
/// # Errors
/// `WrongValue` for another value (or a miss when not `miss_ok`),
/// `ErrorReply`, `Protocol`.
pub fn expect_value(r: Reply<'_>, want: &[u8], miss_ok: bool) -> Result<bool, Cause> {
    match r {
        Reply::Bulk(Some(v)) if v == want => Ok(true),
        Reply::Bulk(Some(_)) => Err(Cause::WrongValue),
        Reply::Bulk(None) if miss_ok => Ok(false),
        Reply::Bulk(None) => Err(Cause::WrongValue),
        Reply::Error(_) => Err(Cause::ErrorReply),
        _ => Err(Cause::Protocol),
    }
}

/// Judge an integer reply that must equal `want` (DEL's count).
///
/// # Errors
/// `WrongValue` for another number, `ErrorReply`, `Protocol`.
pub fn expect_int(r: Reply<'_>, want: i64) -> Result<(), Cause> {
    match r {
        Reply::Int(n) if n == want => Ok(()),
        Reply::Int(_) => Err(Cause::WrongValue),
        Reply::Error(_) => Err(Cause::ErrorReply),
        _ => Err(Cause::Protocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_lines_parse() {
        assert_eq!(
            parse_lease_line(b"NODE:127.0.0.1:4000"),
            Ok("127.0.0.1:4000".parse().unwrap())
        );
        assert_eq!(
            parse_lease_line(b"NODE:localhost:7\r"),
            Ok("127.0.0.1:7".parse().unwrap())
        );
        assert_eq!(
            parse_lease_line(b"NODE:[::1]:9"),
            Ok("[::1]:9".parse().unwrap())
        );
        assert_eq!(
            parse_lease_line(b"ERROR:no healthy nodes"),
            Err(Cause::LeaseError)
        );
        assert_eq!(parse_lease_line(b"NODE:127.0.0.1"), Err(Cause::Protocol));
        assert_eq!(parse_lease_line(b"NODE:host:99999"), Err(Cause::Protocol));
        assert_eq!(parse_lease_line(b"hello"), Err(Cause::Protocol));
    }

    #[test]
    fn commands_encode_as_resp_arrays() {
        let mut out = Vec::new();
        command(&mut out, &[b"SET", b"k", b"v"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    }

    #[test]
    fn judges_sort_replies_into_causes() {
        assert_eq!(expect_ok(Reply::Simple(b"OK")), Ok(()));
        assert_eq!(expect_ok(Reply::Error(b"ERR x")), Err(Cause::ErrorReply));
        assert_eq!(expect_ok(Reply::Int(1)), Err(Cause::Protocol));
        assert_eq!(expect_value(Reply::Bulk(Some(b"v")), b"v", false), Ok(true));
        assert_eq!(
            expect_value(Reply::Bulk(Some(b"w")), b"v", true),
            Err(Cause::WrongValue)
        );
        assert_eq!(expect_value(Reply::Bulk(None), b"v", true), Ok(false));
        assert_eq!(
            expect_value(Reply::Bulk(None), b"v", false),
            Err(Cause::WrongValue)
        );
        assert_eq!(expect_int(Reply::Int(1), 1), Ok(()));
        assert_eq!(expect_int(Reply::Int(0), 1), Err(Cause::WrongValue));
    }
}
