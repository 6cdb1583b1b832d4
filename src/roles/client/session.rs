//! How the client reaches the cache: a route (a node directly, a lease from
//! the LB, or the LB as a proxy), blocking RESP connections, and retries
//! with backoff that take a fresh lease each time — so a dead node is routed
//! around as soon as the LB has evicted it.

use crate::addr::HostPort;
use crate::proto::client::{self as resp, Reply};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A reply, owned (the parser's borrows end with the read buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `+text`
    Simple(String),
    /// `-text`
    Error(String),
    /// `:n`
    Int(i64),
    /// A bulk string.
    Bulk(Vec<u8>),
    /// The null bulk string or array.
    Nil,
    /// An array.
    Array(Vec<Answer>),
}

impl From<Reply<'_>> for Answer {
    fn from(r: Reply<'_>) -> Answer {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match r {
            Reply::Simple(s) => Answer::Simple(text(s)),
            Reply::Error(s) => Answer::Error(text(s)),
            Reply::Int(n) => Answer::Int(n),
            Reply::Bulk(Some(b)) => Answer::Bulk(b.to_vec()),
            Reply::Bulk(None) | Reply::Array(None) => Answer::Nil,
            Reply::Array(Some(items)) => {
                Answer::Array(items.into_iter().map(Answer::from).collect())
            }
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The name did not resolve.
    #[error("{addr}: cannot resolve: {source}")]
    Resolve {
        /// What we tried to resolve.
        addr: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// Connect, write or read failed (refused, reset, timed out).
    #[error("{addr}: {source}")]
    Io {
        /// The peer.
        addr: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The peer closed before a whole reply arrived.
    #[error("{addr}: connection closed before a reply")]
    Closed {
        /// The peer.
        addr: SocketAddr,
    },
    /// The peer's bytes are not RESP.
    #[error("{addr}: not a RESP reply: {error}")]
    BadReply {
        /// The peer.
        addr: SocketAddr,
        /// What the parser said.
        error: resp::ReplyError,
    },
    /// A reply larger than we accept.
    #[error("{addr}: reply larger than {MAX_REPLY} bytes")]
    TooBig {
        /// The peer.
        addr: SocketAddr,
    },
    /// The LB answered LEASE with something other than an address.
    #[error("{lb}: LEASE answered {answer}")]
    NoLease {
        /// The LB.
        lb: String,
        /// Its answer (e.g. `ERR no healthy nodes`).
        answer: String,
    },
    /// The server is at its client limit.
    #[error("{addr}: {text}")]
    Busy {
        /// The server.
        addr: SocketAddr,
        /// Its error text.
        text: String,
    },
}

impl Failure {
    /// Whether another attempt (with a fresh lease) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Io { .. } | Failure::Closed { .. } | Failure::Busy { .. } => true,
            Failure::Resolve { .. } => true,
            // "no healthy nodes" passes once a node is (re)admitted; a lease
            // that is not an address never will.
            Failure::NoLease { answer, .. } => answer.contains("no healthy nodes"),
            Failure::BadReply { .. } | Failure::TooBig { .. } => false,
        }
    }
}

/// The attempts ran out (or a failure was final).
#[derive(Debug, thiserror::Error)]
#[error("unavailable after {attempts} attempt{}: {last}", if *.attempts == 1 { "" } else { "s" })]
pub struct GaveUp {
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    pub last: Failure,
}

/// Largest reply accepted (METRICS of a big LB is tens of KiB; values may
/// be large, but not this large).
pub const MAX_REPLY: usize = 512 * 1024 * 1024;

/// One blocking RESP connection.
pub struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    /// Connect to the first address `hp` resolves to that accepts.
    ///
    /// # Errors
    /// [`Failure::Resolve`] or the last connect error.
    pub fn open(hp: &HostPort, timeout: Duration) -> Result<Conn, Failure> {
        let addrs: Vec<SocketAddr> = (hp.host.as_str(), hp.port)
            .to_socket_addrs()
            .map_err(|source| Failure::Resolve {
                addr: hp.to_string(),
                source,
            })?
            .collect();
        let mut last = None;
        for addr in addrs {
            match Conn::open_addr(addr, timeout) {
                Ok(c) => return Ok(c),
                Err(f) => last = Some(f),
            }
        }
        Err(last.unwrap_or_else(|| Failure::Resolve {
            addr: hp.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        }))
    }

    fn open_addr(addr: SocketAddr, timeout: Duration) -> Result<Conn, Failure> {
        let io = |source| Failure::Io { addr, source };
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            addr,
            buf: Vec::new(),
        })
    }

    /// The peer's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Send one command and read its reply.
    ///
    /// # Errors
    /// A [`Failure`]; the connection should be dropped after one.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Answer, Failure> {
        let mut req = Vec::new();
        resp::command(&mut req, args);
        let addr = self.addr;
        let io = |source| Failure::Io { addr, source };
        self.stream.write_all(&req).map_err(io)?;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match resp::parse(&self.buf) {
                Ok(Some((r, used))) => {
                    let answer = Answer::from(r);
                    self.buf.drain(..used);
                    return Ok(answer);
                }
                Ok(None) if self.buf.len() > MAX_REPLY => return Err(Failure::TooBig { addr }),
                Ok(None) => {}
                Err(error) => return Err(Failure::BadReply { addr, error }),
            }
            let n = self.stream.read(&mut chunk).map_err(io)?;
            if n == 0 {
                return Err(Failure::Closed { addr });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// How requests reach the cache.
#[derive(Debug, Clone)]
pub enum Route {
    /// `--target`: one node, no LB.
    Direct(HostPort),
    /// `--lb` in redirect mode: LEASE, then talk to the leased node.
    Lease(HostPort),
    /// `--lb --proxy`: send everything to the LB, which forwards.
    Proxy(HostPort),
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The data path: the node (direct or leased) or the proxying LB.
    Data,
    /// The LB itself (its METRICS).
    Lb,
}

/// Retry settings.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Connect/read/write timeout of one attempt.
    pub timeout: Duration,
    /// Print a line on stderr before each retry.
    pub notify: bool,
}

/// First backoff; doubled per retry up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The wait before retry `n` (0-based): exponential, capped, with ±20%
/// jitter so clients that failed together do not retry in lockstep.
pub fn backoff(n: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << n.min(16))
        .min(MAX_BACKOFF);
    base.mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// A client session: a route and the data connection it keeps open.
pub struct Session {
    route: Route,
    retry: Retry,
    data: Option<Conn>,
}

impl Session {
    /// A session that connects on first use.
    pub fn new(route: Route, retry: Retry) -> Session {
        Session {
            route,
            retry,
            data: None,
        }
    }

    /// The route.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The address of the open data connection, if any.
    pub fn data_peer(&self) -> Option<SocketAddr> {
        self.data.as_ref().map(Conn::addr)
    }

    /// Run one command at `dest`, retrying retryable failures with backoff
    /// (a fresh connection, and in lease mode a fresh lease, each time).
    ///
    /// # Errors
    /// [`GaveUp`] when the attempts ran out or a failure was final.
    pub fn call(&mut self, dest: Dest, args: &[&[u8]]) -> Result<Answer, GaveUp> {
        let mut attempt = 0;
        loop {
            // A kept connection may have been closed by the server while we
            // were idle (REPL); that costs one silent reconnect, not a retry.
            let reused = dest == Dest::Data && self.data.is_some();
            let result = self.attempt(dest, args);
            let failure = match result {
                Ok(answer) => return Ok(answer),
                Err(f) => f,
            };
            self.data = None;
            if reused && failure.retryable() {
                continue;
            }
            attempt += 1;
            if !failure.retryable() || attempt > self.retry.retries {
                return Err(GaveUp {
                    attempts: attempt,
                    last: failure,
                });
            }
            let wait = backoff(attempt - 1);
            if self.retry.notify {
                eprintln!(
                    "cachectl client: {failure}; retry {attempt}/{} in {}ms",
                    self.retry.retries,
                    wait.as_millis()
                );
            }
            std::thread::sleep(wait);
        }
    }

    fn attempt(&mut self, dest: Dest, args: &[&[u8]]) -> Result<Answer, Failure> {
        let answer = self.attempt_once(dest, args)?;
        // `--proxy` asked a redirect-mode LB (the one `cachectl cluster`
        // starts by default) to forward: it refuses and says to LEASE. The
        // user wants the value from that LB, and it has said how to get it,
        // so take leases from it for the rest of the session.
        if let (Dest::Data, Route::Proxy(lb), Answer::Error(text)) = (dest, &self.route, &answer) {
            if is_redirect_refusal(text) {
                if self.retry.notify {
                    eprintln!(
                        "cachectl client: {lb} runs in redirect mode, not proxy; \
                         taking a lease from it instead"
                    );
                }
                self.route = Route::Lease(lb.clone());
                self.data = None;
                return self.attempt_once(dest, args);
            }
        }
        Ok(answer)
    }

    fn attempt_once(&mut self, dest: Dest, args: &[&[u8]]) -> Result<Answer, Failure> {
        let timeout = self.retry.timeout;
        let (answer, peer) = match dest {
            Dest::Lb => {
                let lb = match &self.route {
                    Route::Lease(lb) | Route::Proxy(lb) => lb,
                    Route::Direct(node) => node,
                };
                let mut conn = Conn::open(lb, timeout)?;
                (conn.call(args)?, conn.addr())
            }
            Dest::Data => {
                if self.data.is_none() {
                    let target = match &self.route {
                        Route::Direct(hp) | Route::Proxy(hp) => hp.clone(),
                        // Keyless, so a retry may be leased another node
                        // (a lease by key names the same one each time, in
                        // redirect mode even a dead one). In cluster mode
                        // the leased node redirects to the key's owner.
                        Route::Lease(lb) => lease(lb, timeout)?,
                    };
                    self.data = Some(Conn::open(&target, timeout)?);
                }
                let conn = self.data.as_mut().expect("just opened");
                let mut answer = conn.call(args)?;
                let mut peer = conn.addr();
                // Cluster mode: follow -MOVED (and keep the new connection)
                // or -ASK (one command, after ASKING), as redis-cli -c does.
                for _ in 0..MAX_REDIRECTS {
                    let Some((ask, to)) = redirect(&answer) else {
                        break;
                    };
                    let mut conn = Conn::open(&to, timeout)?;
                    if ask {
                        conn.call(&[b"ASKING"])?;
                    }
                    answer = conn.call(args)?;
                    peer = conn.addr();
                    if !ask {
                        self.data = Some(conn);
                    }
                }
                (answer, peer)
            }
        };
        // A server at maxclients answers this and closes; another node (or
        // the same one a moment later) may have room.
        if let Answer::Error(text) = &answer {
            if text.contains("max number of clients reached") {
                return Err(Failure::Busy {
                    addr: peer,
                    text: text.clone(),
                });
            }
        }
        Ok(answer)
    }
}

/// Whether `text` is a redirect-mode LB refusing a data request (its
/// wording is in `roles::lb::server`).
fn is_redirect_refusal(text: &str) -> bool {
    text.contains("this LB hands out leases (--mode redirect)")
}

/// How many cluster redirects one command follows (a map in flux may send
/// it on more than once).
const MAX_REDIRECTS: usize = 5;

/// A cluster redirect in `answer`: (`-ASK`?, where to).
fn redirect(answer: &Answer) -> Option<(bool, HostPort)> {
    let Answer::Error(text) = answer else {
        return None;
    };
    let (ask, rest) = match text.split_once(' ')? {
        ("MOVED", rest) => (false, rest),
        ("ASK", rest) => (true, rest),
        _ => return None,
    };
    let (_slot, addr) = rest.split_once(' ')?;
    HostPort::parse(addr.trim()).ok().map(|hp| (ask, hp))
}

/// Ask the LB for a node, on a connection of its own (the LB expects a
/// lease client to ask once and go).
fn lease(lb: &HostPort, timeout: Duration) -> Result<HostPort, Failure> {
    let answer = Conn::open(lb, timeout)?.call(&[b"LEASE"])?;
    let no_lease = |answer: String| Failure::NoLease {
        lb: lb.to_string(),
        answer,
    };
    match answer {
        Answer::Bulk(addr) => {
            let text = String::from_utf8_lossy(&addr).into_owned();
            HostPort::parse(&text).map_err(|e| no_lease(format!("{text:?} ({e})")))
        }
        Answer::Error(e) => Err(no_lease(e)),
        other => Err(no_lease(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 0..40 {
            let b = backoff(n);
            let base = FIRST_BACKOFF
                .saturating_mul(1 << n.min(16))
                .min(MAX_BACKOFF);
            assert!(
                b >= base.mul_f64(0.8) && b <= base.mul_f64(1.2),
                "{n}: {b:?}"
            );
        }
        assert!(backoff(30) <= MAX_BACKOFF.mul_f64(1.2));
    }

    #[test]
    fn answers_from_replies() {
        assert_eq!(Answer::from(Reply::Bulk(None)), Answer::Nil);
        assert_eq!(Answer::from(Reply::Int(3)), Answer::Int(3));
        assert_eq!(
            Answer::from(Reply::Array(Some(vec![Reply::Simple(b"OK")]))),
            Answer::Array(vec![Answer::Simple("OK".into())])
        );
    }

    #[test]
    fn refused_connections_are_retried_then_given_up() {
        // A port that was just free: nothing listens there.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let route = Route::Direct(HostPort::new("127.0.0.1", port).unwrap());
        let retry = Retry {
            retries: 2,
            timeout: Duration::from_secs(5),
            notify: false,
        };
        let err = Session::new(route, retry)
            .call(Dest::Data, &[b"PING"])
            .unwrap_err();
        assert_eq!(err.attempts, 3);
        assert!(err.last.retryable());
        assert!(
            err.to_string().starts_with("unavailable after 3 attempts"),
            "{err}"
        );
    }

    #[test]
    fn cluster_redirects_are_recognised() {
        let hp = |s| HostPort::parse(s).unwrap();
        let e = |s: &str| Answer::Error(s.into());
        assert_eq!(
            redirect(&e("MOVED 3999 127.0.0.1:7002")),
            Some((false, hp("127.0.0.1:7002")))
        );
        assert_eq!(
            redirect(&e("ASK 12 10.0.0.1:7001")),
            Some((true, hp("10.0.0.1:7001")))
        );
        assert_eq!(redirect(&e("ERR MOVED 1 a:1")), None);
        assert_eq!(redirect(&e("MOVED 1")), None);
        assert_eq!(redirect(&Answer::Nil), None);
    }

    #[test]
    fn proxy_route_falls_back_to_leases_on_a_redirect_lb() {
        let lb = TcpListener::bind("127.0.0.1:0").unwrap();
        let node = TcpListener::bind("127.0.0.1:0").unwrap();
        let lb_port = lb.local_addr().unwrap().port();
        let node_port = node.local_addr().unwrap().port();
        let read = |s: &mut std::net::TcpStream| {
            let mut got = [0u8; 128];
            let n = s.read(&mut got).unwrap();
            got[..n].to_vec()
        };
        let server = std::thread::spawn(move || {
            // First the GET sent to the LB itself, as --proxy does.
            let (mut s, _) = lb.accept().unwrap();
            assert_eq!(read(&mut s), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
            s.write_all(
                b"-ERR GET is not served here: this LB hands out leases (--mode redirect); \
                  LEASE a node and send it there, or run the LB with --mode proxy\r\n",
            )
            .unwrap();
            // Then a lease on a connection of its own.
            let (mut s, _) = lb.accept().unwrap();
            assert_eq!(read(&mut s), b"*1\r\n$5\r\nLEASE\r\n");
            let addr = format!("127.0.0.1:{node_port}");
            s.write_all(format!("${}\r\n{addr}\r\n", addr.len()).as_bytes())
                .unwrap();
            let (mut s, _) = node.accept().unwrap();
            assert_eq!(read(&mut s), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
            s.write_all(b"$1\r\nv\r\n").unwrap();
        });
        let retry = Retry {
            retries: 0,
            timeout: Duration::from_secs(10),
            notify: false,
        };
        let route = Route::Proxy(HostPort::new("127.0.0.1", lb_port).unwrap());
        let mut session = Session::new(route, retry);
        assert_eq!(
            session.call(Dest::Data, &[b"GET", b"k"]).unwrap(),
            Answer::Bulk(b"v".to_vec())
        );
        assert!(matches!(session.route(), Route::Lease(_)));
        server.join().unwrap();
    }

    #[test]
    fn talks_resp_to_a_server() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut got = [0u8; 64];
            let n = s.read(&mut got).unwrap();
            assert_eq!(&got[..n], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
            // Split across writes: the reader must wait for the rest.
            s.write_all(b"$5\r\nhel").unwrap();
            s.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(b"lo\r\n").unwrap();
        });
        let mut conn = Conn::open(
            &HostPort::new("127.0.0.1", port).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(
            conn.call(&[b"GET", b"k"]).unwrap(),
            Answer::Bulk(b"hello".to_vec())
        );
        server.join().unwrap();
    }
}
