//! Client memory limits, as Redis 7's: `client-query-buffer-limit` (one
//! client's unparsed input), `maxmemory-clients` (every client's buffers
//! together, enforced by closing the biggest clients first: client
//! eviction) and `client-output-buffer-limit normal` (one client's unsent
//! replies).
//!
//! What is counted is the capacity of each connection's read and write
//! buffers, as Redis counts allocations (`sdsZmallocSize`), not the bytes
//! in use: a 512 MB bulk whose header was read holds 512 MB of room at
//! once. A connection reports its size only when a buffer's capacity
//! changes ([`account`]), which on the hot path is two loads and a compare
//! per read; the node-wide total is one atomic touched on those changes.

use super::clients::Entry;
use super::core::Core;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Redis's floor for an enabled `maxmemory-clients` (`getClientEvictionLimit`):
/// a smaller bound would leave no client able to talk to the node.
const EVICTION_FLOOR: usize = 128 * 1024;

/// How often each core looks whether the node is over `maxmemory-clients`
/// while it is on (see [`spawn_watch`]).
const WATCH_EVERY: Duration = Duration::from_millis(10);

/// How often it looks whether the limit was turned on.
const WATCH_IDLE: Duration = Duration::from_millis(100);

/// Redis's `PROTO_REPLY_CHUNK_BYTES`: a client's fixed reply buffer, which
/// Redis leaves out of the output-buffer limit; only replies past it count.
pub const REPLY_BUF: usize = 16 * 1024;

/// `maxmemory-clients` as set: bytes (0: off), or a percentage of
/// maxmemory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientsLimit {
    /// A size in bytes; 0 turns client eviction off.
    Bytes(usize),
    /// This percentage of `maxmemory` (off while maxmemory is 0).
    Percent(u8),
}

impl ClientsLimit {
    /// Redis stores a percentage as a negative number (`PERCENT_CONFIG`).
    fn encode(self) -> i64 {
        match self {
            ClientsLimit::Bytes(n) => n as i64,
            ClientsLimit::Percent(p) => -i64::from(p),
        }
    }

    fn decode(v: i64) -> Self {
        if v < 0 {
            ClientsLimit::Percent((-v) as u8)
        } else {
            ClientsLimit::Bytes(v as usize)
        }
    }
}

impl std::fmt::Display for ClientsLimit {
    /// As Redis's CONFIG GET shows it: bytes, or `10%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientsLimit::Bytes(n) => write!(f, "{n}"),
            ClientsLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Read a `maxmemory-clients` value as Redis's CONFIG SET does: digits and
/// `%` (at most 100), or a memory value (see [`crate::units::redis_memory`])
/// taken as a signed size, so a saturated one wraps negative and reads as a
/// percentage exactly as in Redis. The error is Redis's reason.
///
/// # Errors
/// Redis's text for a value that is neither, or a percentage over 100.
pub fn parse_clients_limit(value: &[u8]) -> Result<ClientsLimit, String> {
    let not = || "argument must be a memory or percent value".to_string();
    let over = || "percentage argument must be less or equal to 100".to_string();
    let v = match value.strip_suffix(b"%") {
        Some(digits) => {
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(not());
            }
            let n = digits.iter().fold(0u64, |n, &d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            });
            if n > 100 {
                return Err(over());
            }
            -(n as i64)
        }
        None => crate::units::redis_memory(value).ok_or_else(not)? as i64,
    };
    if v < -100 {
        return Err(over());
    }
    Ok(ClientsLimit::decode(v))
}

/// `--maxmemory-clients`: `0`, a size with the other size flags' units
/// (`64mb`), or a percentage of `--maxmemory` (`10%`).
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_clients_flag(s: &str) -> Result<ClientsLimit, String> {
    match s.trim().strip_suffix('%') {
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= 100 => Ok(ClientsLimit::Percent(p)),
            _ => Err(format!("'{s}' is not a percentage from 0% to 100%")),
        },
        None => crate::units::parse_bytes(s).map(ClientsLimit::Bytes),
    }
}

/// `--client-query-buffer-limit`: a size of at least 1 MiB, Redis's floor.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_query_limit(s: &str) -> Result<usize, String> {
    let n = crate::units::parse_bytes(s)?;
    if n < 1 << 20 {
        return Err(format!("'{s}' is below the 1mb Redis allows"));
    }
    Ok(n)
}

/// The node-wide state of the client limits, in [`super::core::Shared`].
#[derive(Debug)]
pub struct ClientMem {
    /// Bytes held by every connection's buffers (INFO `mem_clients_normal`).
    total: AtomicUsize,
    /// `maxmemory-clients`, encoded as Redis does (negative: a percentage).
    setting: AtomicI64,
    /// Per core: at least the size of its biggest evictable client (raised
    /// when a client grows past it, made exact when the core looks; see
    /// [`evict`]).
    biggest: Box<[AtomicUsize]>,
    /// Clients closed by client eviction (INFO `evicted_clients`).
    evicted: AtomicU64,
    /// `client-query-buffer-limit`, read only when a read buffer grows.
    pub query_limit: AtomicUsize,
}

impl ClientMem {
    /// Limits at start, for `cores` cores.
    pub fn new(cores: usize, limit: ClientsLimit, query_limit: usize) -> Self {
        ClientMem {
            total: AtomicUsize::new(0),
            setting: AtomicI64::new(limit.encode()),
            biggest: (0..cores).map(|_| AtomicUsize::new(0)).collect(),
            evicted: AtomicU64::new(0),
            query_limit: AtomicUsize::new(query_limit),
        }
    }

    /// `maxmemory-clients` as set.
    pub fn setting(&self) -> ClientsLimit {
        ClientsLimit::decode(self.setting.load(Ordering::Relaxed))
    }

    /// CONFIG SET maxmemory-clients.
    pub fn set(&self, limit: ClientsLimit) {
        self.setting.store(limit.encode(), Ordering::Relaxed);
    }

    /// The bound in bytes with `maxmemory` in force, 0 when off; as Redis's
    /// `getClientEvictionLimit`, never below [`EVICTION_FLOOR`].
    pub fn limit(&self, maxmemory: usize) -> usize {
        let bytes = match self.setting() {
            ClientsLimit::Bytes(n) => n,
            ClientsLimit::Percent(p) => (maxmemory as u128 * u128::from(p) / 100) as usize,
        };
        if bytes == 0 {
            0
        } else {
            bytes.max(EVICTION_FLOOR)
        }
    }

    /// Bytes every client's buffers hold now.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Clients closed by client eviction so far.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

/// Connection `e` now holds `bytes` in its buffers. Called after every read
/// and write; costs a compare unless a capacity changed. When the change
/// takes the node over `maxmemory-clients`, eviction runs at once, and may
/// close `e` itself: the caller checks [`Entry::evicted`].
#[inline]
pub fn account(core: &Core, e: &Entry, bytes: usize) {
    let was = e.mem.get();
    if was == bytes {
        return;
    }
    changed(core, e, was, bytes);
}

#[inline(never)]
fn changed(core: &Core, e: &Entry, was: usize, bytes: usize) {
    if e.evicted.get() {
        // Its bytes left the total when it was evicted.
        return;
    }
    e.mem.set(bytes);
    let mem = &core.shared.client_mem;
    if bytes < was {
        mem.total.fetch_sub(was - bytes, Ordering::Relaxed);
        return;
    }
    let total = mem.total.fetch_add(bytes - was, Ordering::Relaxed) + (bytes - was);
    let mine = &mem.biggest[core.id];
    if bytes > mine.load(Ordering::Relaxed) && !e.no_evict.get() {
        mine.store(bytes, Ordering::Relaxed);
    }
    let limit = mem.limit(core.shared.maxmemory.load(Ordering::Relaxed));
    if limit > 0 && total >= limit {
        evict(core, limit);
    }
}

/// Connection `e` ends: its bytes leave the total.
pub fn forget(core: &Core, e: &Entry) {
    if !e.evicted.get() {
        let was = e.mem.replace(0);
        core.shared
            .client_mem
            .total
            .fetch_sub(was, Ordering::Relaxed);
    }
}

/// Close clients while the node is at or over `limit` (Redis's
/// `evictClients`), biggest first.
///
/// Why this shape: the clients live on different cores, and a core can
/// close only its own (it shuts their sockets down, as CLIENT KILL does).
/// Each core publishes a bound on its biggest evictable client: raised at
/// once when one of its clients grows past it (a store only then, not per
/// request), and made exact whenever the core looks here. A core closes
/// its own biggest client only if no other core published a bigger bound;
/// otherwise the core holding the bigger client closes it at its own look,
/// within [`WATCH_EVERY`] (the watch every core runs while the limit is
/// on), or, if its bound was stale (that client shrank or left), it
/// publishes the exact size and the first core closes its own at its next
/// look. So the node closes its biggest clients first, as Redis does,
/// without asking the other cores on the hot path, and is back under the
/// limit within two watch periods; two cores whose biggest clients are the
/// same size may both close theirs.
pub fn evict(core: &Core, limit: usize) {
    let mem = &core.shared.client_mem;
    loop {
        let candidate = core.conns.biggest_evictable();
        let size = candidate.as_ref().map_or(0, |e| e.mem.get());
        mem.biggest[core.id].store(size, Ordering::Relaxed);
        let Some(e) = candidate else { return };
        if mem.total() < limit {
            return;
        }
        let bigger_elsewhere = mem
            .biggest
            .iter()
            .enumerate()
            .any(|(c, b)| c != core.id && b.load(Ordering::Relaxed) > size);
        if bigger_elsewhere {
            return;
        }
        close(core, &e);
    }
}

/// Evict `e`: its bytes leave the total now (its task frees them when it
/// next runs), and its socket is shut down, which ends its connection.
fn close(core: &Core, e: &Rc<Entry>) {
    let mem = &core.shared.client_mem;
    e.evicted.set(true);
    let was = e.mem.replace(0);
    mem.total.fetch_sub(was, Ordering::Relaxed);
    mem.evicted.fetch_add(1, Ordering::Relaxed);
    log::info!("Evicting client: {}", e.line(core.now()));
    // SAFETY: `e.fd` is open: the entry is removed before its connection
    // closes the socket, on this same thread (as `Registry::kill`).
    unsafe { libc::shutdown(e.fd, libc::SHUT_RDWR) };
}

/// Each core's look at the node's client memory: while `maxmemory-clients`
/// is on and the node is over it, evict (see [`evict`] for why every core
/// looks). Under the limit a look is one load. Ends when the core stops.
pub fn spawn_watch(core: &Rc<Core>) {
    let core = core.clone();
    glommio::spawn_local(async move {
        while !core.life.stopping() {
            let mem = &core.shared.client_mem;
            let limit = mem.limit(core.shared.maxmemory.load(Ordering::Relaxed));
            if limit == 0 {
                glommio::timer::sleep(WATCH_IDLE).await;
                continue;
            }
            if mem.total() >= limit {
                evict(&core, limit);
            }
            glommio::timer::sleep(WATCH_EVERY).await;
        }
    })
    .detach();
}

/// What the normal class's `client-output-buffer-limit` says of a reply
/// about to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it.
    Send,
    /// Write it, but close the client if it is still over the soft limit
    /// after this many ms.
    SendWithin(u64),
    /// Close the client without writing.
    Close,
}

/// Whether `pending` bytes of replies reach the hard limit of `limit` (read
/// only for a write past [`REPLY_BUF`]): for the owner core that writes a
/// delegated read's answer itself, which has no soft-limit clock.
#[inline]
pub fn over_hard(pending: usize, limit: &super::pubsub::LiveLimit) -> bool {
    pending > REPLY_BUF && {
        let hard = limit.get().hard;
        hard > 0 && pending - REPLY_BUF >= hard
    }
}

/// A normal client's soft-limit clock (Redis's
/// `obuf_soft_limit_reached_time`).
#[derive(Debug, Default)]
pub struct OutputCheck {
    soft_since: Option<u64>,
}

impl OutputCheck {
    /// A write of at most [`REPLY_BUF`] bytes, or one that fell under the
    /// soft limit: the soft clock stops.
    #[inline]
    pub fn under(&mut self) {
        self.soft_since = None;
    }

    /// Redis's `checkClientOutputBufferLimits` for `pending` bytes of
    /// unsent replies at node-clock `now`: at or past the hard limit, or
    /// past the soft one for more than its seconds, the client is closed;
    /// the first [`REPLY_BUF`] bytes do not count.
    pub fn check(
        &mut self,
        pending: usize,
        limit: super::pubsub::OutputLimit,
        now: u64,
    ) -> Verdict {
        let used = pending.saturating_sub(REPLY_BUF);
        if limit.hard > 0 && used >= limit.hard {
            return Verdict::Close;
        }
        if limit.soft == 0 || used < limit.soft {
            self.soft_since = None;
            return Verdict::Send;
        }
        let since = *self.soft_since.get_or_insert(now);
        let deadline = since + limit.soft_secs * 1000;
        if now > deadline {
            Verdict::Close
        } else {
            Verdict::SendWithin(deadline + 1 - now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::node::pubsub::OutputLimit;

    #[test]
    fn maxmemory_clients_reads_as_redis() {
        let ok = |v: &str| parse_clients_limit(v.as_bytes()).unwrap().to_string();
        assert_eq!(ok("10%"), "10%");
        assert_eq!(ok("0%"), "0");
        assert_eq!(ok("5mb"), "5242880");
        assert_eq!(ok("5k"), "5000");
        assert_eq!(ok("100%"), "100%");
        // 2^64 - 1 is -1 as a signed size: 1%, as Redis shows it.
        assert_eq!(ok("18446744073709551615"), "1%");
        let err = |v: &str| parse_clients_limit(v.as_bytes()).unwrap_err();
        for bad in [
            "-5%", "5%%", " 5%", "+5%", "1.5%", "%", "abc", "-1", "50KB%",
        ] {
            assert_eq!(
                err(bad),
                "argument must be a memory or percent value",
                "{bad}"
            );
        }
        for over in ["101%", "1000%", "9223372036854775808"] {
            assert_eq!(
                err(over),
                "percentage argument must be less or equal to 100",
                "{over}"
            );
        }
    }

    #[test]
    fn the_limit_follows_maxmemory_and_has_a_floor() {
        let m = ClientMem::new(2, ClientsLimit::Percent(10), 1 << 30);
        assert_eq!(m.limit(0), 0, "a percentage of no maxmemory is off");
        assert_eq!(m.limit(100 << 20), 10 << 20);
        m.set(ClientsLimit::Bytes(1000));
        assert_eq!(m.limit(0), EVICTION_FLOOR);
        m.set(ClientsLimit::Bytes(0));
        assert_eq!(m.limit(1 << 30), 0);
        assert!(parse_clients_flag("101%").is_err());
        assert_eq!(
            parse_clients_flag("64mb"),
            Ok(ClientsLimit::Bytes(64 << 20))
        );
        assert!(parse_query_limit("1023kb").is_err());
        assert_eq!(parse_query_limit("1gb"), Ok(1 << 30));
    }

    #[test]
    fn output_limits_as_redis_checks_them() {
        let l = OutputLimit {
            hard: 100_000,
            soft: 50_000,
            soft_secs: 2,
        };
        let mut c = OutputCheck::default();
        assert_eq!(c.check(REPLY_BUF + 49_999, l, 0), Verdict::Send);
        assert_eq!(c.check(REPLY_BUF + 100_000, l, 0), Verdict::Close);
        // Over soft: the clock starts, and runs while it stays over.
        assert_eq!(
            c.check(REPLY_BUF + 60_000, l, 1000),
            Verdict::SendWithin(2001)
        );
        assert_eq!(
            c.check(REPLY_BUF + 60_000, l, 2500),
            Verdict::SendWithin(501)
        );
        assert_eq!(c.check(REPLY_BUF + 60_000, l, 3001), Verdict::Close);
        // Back under it resets the clock.
        assert_eq!(c.check(10, l, 3001), Verdict::Send);
        assert_eq!(
            c.check(REPLY_BUF + 60_000, l, 9000),
            Verdict::SendWithin(2001)
        );
        let none = OutputLimit {
            hard: 0,
            soft: 0,
            soft_secs: 0,
        };
        assert_eq!(c.check(usize::MAX, none, 0), Verdict::Send);
    }
}
