//! Read-through to an origin (`--origin HOST:PORT`): a GET that misses is
//! fetched from the origin with RESP `GET key`, stored, and returned.
//!
//! Concurrent misses for one key are coalesced: the key's owner core is the
//! only place its misses can happen, so a per-core table of in-flight
//! fetches ("flights") is enough — the first miss starts the fetch, later
//! ones wait on it. A failed or timed-out fetch is answered with an error and
//! nothing is cached; "not found" is cached only with `--negative-ttl`.
//!
//! A write to a key while its fetch is out (SET, DEL, INCR, EXPIRE, ...,
//! FLUSHALL) makes that fetch stale: its waiters, who asked before the
//! write, still get its answer, but it is not cached, and later misses
//! start a fresh fetch. Otherwise a DEL meant to invalidate a key would be
//! undone by the old value landing just after it. A write also drops the
//! key's negative entry, and FLUSHALL the whole negative cache.

use crate::map::HashMap;
use crate::proto::client;
use futures_channel::oneshot;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// Most idle origin connections kept per core.
const POOL: usize = 32;

/// Why an origin fetch failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer within `--origin-timeout`.
    #[error("origin timed out")]
    Timeout,
    /// Connecting, writing or reading failed.
    #[error("origin unreachable: {0}")]
    Io(String),
    /// The origin answered something that is not a bulk string or nil.
    #[error("origin sent an unexpected reply")]
    Protocol,
    /// The origin answered with an error reply.
    #[error("origin error: {0}")]
    Remote(String),
}

/// What a fetch produced: the value, or `None` for "the origin has no such key".
pub type Fetched = Result<Option<Box<[u8]>>, FetchError>;

/// Everyone waiting for one key's fetch.
type Waiters = Vec<oneshot::Sender<Fetched>>;

/// One key's fetch in flight.
#[derive(Default)]
pub struct InFlight {
    waiters: RefCell<Waiters>,
    /// Set when the key was written while the fetch was out: its answer is
    /// then older than the write and must not be cached.
    stale: Cell<bool>,
}

impl InFlight {
    /// Whether a write to the key overtook this fetch.
    pub fn is_stale(&self) -> bool {
        self.stale.get()
    }
}

/// Per-core counters of the read-through path.
#[derive(Default)]
pub struct OriginStats {
    /// Fetches sent to the origin.
    pub fetches: Cell<u64>,
    /// Misses that waited on a fetch already in flight instead of sending one.
    pub coalesced: Cell<u64>,
    /// Fetches that failed or timed out.
    pub errors: Cell<u64>,
    /// Misses answered from the negative cache.
    pub negative_hits: Cell<u64>,
}

/// One core's read-through client.
pub struct Origin {
    addr: SocketAddr,
    timeout: Duration,
    negative_ttl_ms: Option<u64>,
    idle: RefCell<Vec<TcpStream>>,
    /// The current fetch of each key being fetched.
    flights: RefCell<HashMap<Box<[u8]>, Rc<InFlight>>>,
    /// Keys the origin recently said it does not have, with their expiry.
    negative: RefCell<HashMap<Box<[u8]>, u64>>,
    /// Counters.
    pub stats: OriginStats,
}

/// Whether a new fetch must be started for a miss.
pub enum Flight {
    /// This miss started the flight: the caller spawns the fetch and ends
    /// it with [`Origin::land`].
    Leader(oneshot::Receiver<Fetched>, Rc<InFlight>),
    /// A fetch is already in flight; wait on it.
    Follower(oneshot::Receiver<Fetched>),
}

impl Origin {
    /// A client for `addr`.
    pub fn new(addr: SocketAddr, timeout: Duration, negative_ttl_ms: Option<u64>) -> Self {
        Origin {
            addr,
            timeout,
            negative_ttl_ms,
            idle: RefCell::new(Vec::new()),
            flights: RefCell::new(HashMap::new()),
            negative: RefCell::new(HashMap::new()),
            stats: OriginStats::default(),
        }
    }

    /// Whether `key` is in the negative cache at `now`.
    pub fn known_missing(&self, key: &[u8], now: u64) -> bool {
        let mut neg = self.negative.borrow_mut();
        match neg.get(key) {
            Some(&until) if until > now => {
                let c = &self.stats.negative_hits;
                c.set(c.get() + 1);
                true
            }
            Some(_) => {
                neg.remove(key);
                false
            }
            None => false,
        }
    }

    /// Join or start the flight for `key`.
    pub fn join(&self, key: &[u8]) -> Flight {
        let (tx, rx) = oneshot::channel();
        let mut flights = self.flights.borrow_mut();
        if let Some(flight) = flights.get(key) {
            flight.waiters.borrow_mut().push(tx);
            let c = &self.stats.coalesced;
            c.set(c.get() + 1);
            return Flight::Follower(rx);
        }
        let flight = Rc::new(InFlight::default());
        flight.waiters.borrow_mut().push(tx);
        flights.insert(key.into(), flight.clone());
        Flight::Leader(rx, flight)
    }

    /// `key` is being written: a fetch in flight for it goes stale (see
    /// the module docs), and a "not found" remembered for it is dropped, so
    /// a DEL invalidates a negative entry as it does a cached value.
    #[inline]
    pub fn invalidate(&self, key: &[u8]) {
        let mut flights = self.flights.borrow_mut();
        if !flights.is_empty() {
            if let Some(flight) = flights.remove(key) {
                flight.stale.set(true);
            }
        }
        let mut negative = self.negative.borrow_mut();
        if !negative.is_empty() {
            negative.remove(key);
        }
    }

    /// Every key is being removed (FLUSHALL): every fetch in flight goes
    /// stale and the negative cache is emptied.
    pub fn invalidate_all(&self) {
        let mut flights = self.flights.borrow_mut();
        for flight in flights.values() {
            flight.stale.set(true);
        }
        flights.clear();
        self.negative.borrow_mut().clear();
    }

    /// End `flight`, the fetch of `key`, handing `result` to every waiter.
    /// Unless a write overtook it, it stops being the key's flight and a
    /// "not found" is remembered if negative caching is on. The caller
    /// stores a value only if the flight is not [stale](InFlight::is_stale).
    pub fn land(&self, key: &[u8], flight: &InFlight, result: &Fetched, now: u64) {
        if !flight.is_stale() {
            self.flights.borrow_mut().remove(key);
            if let (Ok(None), Some(ttl)) = (result, self.negative_ttl_ms) {
                self.negative.borrow_mut().insert(key.into(), now + ttl);
            }
        }
        for w in flight.waiters.take() {
            // A waiter whose client went away has dropped its receiver.
            let _ = w.send(result.clone());
        }
    }

    /// Fetch `key` from the origin over a pooled connection.
    pub async fn fetch(&self, key: &[u8]) -> Fetched {
        let c = &self.stats.fetches;
        c.set(c.get() + 1);
        let result =
            glommio::timer::timeout(self.timeout, async { Ok(self.fetch_once(key).await) })
                .await
                .unwrap_or(Err(FetchError::Timeout));
        if result.is_err() {
            let e = &self.stats.errors;
            e.set(e.get() + 1);
        }
        result
    }

    async fn fetch_once(&self, key: &[u8]) -> Fetched {
        let pooled = self.idle.borrow_mut().pop();
        if let Some(stream) = pooled {
            match self.fetch_on(stream, key).await {
                // A pooled connection may have been closed by the origin
                // while idle: try once more on a fresh one.
                Err(FetchError::Io(_)) => {}
                done => return done,
            }
        }
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| FetchError::Io(e.to_string()))?;
        self.fetch_on(stream, key).await
    }

    async fn fetch_on(&self, mut stream: TcpStream, key: &[u8]) -> Fetched {
        let mut req = Vec::with_capacity(key.len() + 32);
        client::command(&mut req, &[b"GET", key]);
        stream
            .write_all(&req)
            .await
            .map_err(|e| FetchError::Io(e.to_string()))?;
        let mut buf = vec![0u8; 4096];
        let mut filled = 0;
        loop {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = stream
                .read(&mut buf[filled..])
                .await
                .map_err(|e| FetchError::Io(e.to_string()))?;
            if n == 0 {
                return Err(FetchError::Io("origin closed the connection".into()));
            }
            filled += n;
            let parsed = client::parse(&buf[..filled]).map_err(|_| FetchError::Protocol)?;
            let Some((r, used)) = parsed else { continue };
            let out = match r {
                client::Reply::Bulk(v) => Ok(v.map(Box::from)),
                client::Reply::Error(e) => {
                    Err(FetchError::Remote(String::from_utf8_lossy(e).into_owned()))
                }
                _ => Err(FetchError::Protocol),
            };
            // Only a connection that ended exactly on a reply boundary is reusable.
            if used == filled && out.is_ok() {
                let mut idle = self.idle.borrow_mut();
                if idle.len() < POOL {
                    idle.push(stream);
                }
            }
            return out;
        }
    }
}
