//! The origin's sockets: the accept loop and one task per connection.
//!
//! A connection's protocol is fixed by its first byte: `*` is RESP (what the
//! node's read-through and `redis-cli` send), anything else is the JSON
//! line protocol of [`super::json`]. Requests on one connection are answered
//! in order; each GET waits out `--latency` on a timer, so a slow fetch
//! parks only its own connection.

use super::data::{validate_key, FetchError, Source};
use super::json;
use super::OriginConfig;
use crate::proto::{self, line, reply, Limits};
use crate::roles::lifecycle::Lifecycle;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use serde_json::{json, Value};
use std::cell::Cell;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// First read buffer; requests are a key long.
const READ_BUF: usize = 1024;
/// Longest JSON request line.
pub const MAX_LINE: usize = 64 * 1024;
/// How long one reply write may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// RESP limits: origin requests carry a key, never a value.
const LIMITS: Limits = Limits {
    max_bulk: MAX_LINE,
    max_args: 16,
    max_inline: MAX_LINE,
};

/// Counters, owned by the one executor (plain cells, no atomics).
#[derive(Default)]
pub struct Counters {
    /// GET requests of either protocol, found or not, valid or not.
    pub fetches: Cell<u64>,
    /// Fetches that returned a value.
    pub hits: Cell<u64>,
    /// Fetches of a valid key with no value.
    pub misses: Cell<u64>,
    /// Fetches refused because of the key.
    pub invalid_keys: Cell<u64>,
    /// Fetches that failed reading (or hit `--max-value`).
    pub read_errors: Cell<u64>,
    /// Fetches waiting out `--latency` or a file read right now.
    pub in_flight: Cell<u64>,
    /// Value bytes sent.
    pub bytes_served: Cell<u64>,
    /// Every request, of any kind.
    pub requests: Cell<u64>,
    /// Malformed requests (bad JSON, bad RESP framing, unknown commands).
    pub protocol_errors: Cell<u64>,
    /// Connections accepted.
    pub connections: Cell<u64>,
    /// Connections open now.
    pub open: Cell<u64>,
}

fn add(c: &Cell<u64>, n: u64) {
    c.set(c.get() + n);
}

fn sub(c: &Cell<u64>, n: u64) {
    c.set(c.get().saturating_sub(n));
}

/// The origin's state, owned by its executor.
pub struct Origin {
    /// Settings.
    pub cfg: OriginConfig,
    /// Where values come from.
    pub source: Source,
    /// Counters.
    pub counters: Counters,
    /// Start time.
    pub epoch: Instant,
    /// Listening address.
    pub addr: SocketAddr,
    /// Accepting, open connections, and the stop.
    pub life: Lifecycle,
}

impl Origin {
    /// The counters as the METRICS JSON object.
    pub fn metrics(&self) -> Value {
        let c = &self.counters;
        json!({
            "role": "origin",
            "addr": self.addr.to_string(),
            "source": self.source.describe(),
            "latency_ms": self.cfg.latency.as_millis() as u64,
            "uptime_s": self.epoch.elapsed().as_secs_f64(),
            "fetches": c.fetches.get(),
            "hits": c.hits.get(),
            "misses": c.misses.get(),
            "invalid_keys": c.invalid_keys.get(),
            "read_errors": c.read_errors.get(),
            "in_flight": c.in_flight.get(),
            "bytes_served": c.bytes_served.get(),
            "requests": c.requests.get(),
            "protocol_errors": c.protocol_errors.get(),
            "connections_received": c.connections.get(),
            "connected_clients": c.open.get(),
        })
    }

    /// One fetch: validate, wait out the latency, read, count.
    async fn fetch(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FetchError> {
        let c = &self.counters;
        add(&c.fetches, 1);
        // A malformed key is the client's mistake: refuse it at once, without
        // the simulated backend delay.
        if let Err(e) = validate_key(key) {
            add(&c.invalid_keys, 1);
            return Err(e.into());
        }
        add(&c.in_flight, 1);
        if !self.cfg.latency.is_zero() {
            glommio::timer::sleep(self.cfg.latency).await;
        }
        let result = self.source.fetch(key, self.cfg.max_value).await;
        sub(&c.in_flight, 1);
        match &result {
            Ok(Some(v)) => {
                add(&c.hits, 1);
                add(&c.bytes_served, v.len() as u64);
            }
            Ok(None) => add(&c.misses, 1),
            Err(e) if e.is_bad_key() => add(&c.invalid_keys, 1),
            Err(e) => {
                log::warn!("fetching {:?}: {e}", String::from_utf8_lossy(key));
                add(&c.read_errors, 1);
            }
        }
        result
    }
}

/// Accept connections until the origin stops.
pub async fn accept_loop(o: Rc<Origin>, listener: TcpListener) {
    while let Some(stream) = o.life.accept(&listener).await {
        add(&o.counters.connections, 1);
        glommio::spawn_local(serve(o.clone(), stream)).detach();
    }
}

/// The protocol of a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Json,
    Resp,
}

/// What a connection does after answering what it has read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Continue,
    Close,
}

/// Per-connection parsing state.
struct Conn {
    wire: Option<Wire>,
    /// Skipping the rest of an over-long JSON line (already answered).
    discarding: bool,
    args: proto::Args,
}

/// Serve one connection until EOF, QUIT, a RESP framing error, or shutdown.
async fn serve(o: Rc<Origin>, mut stream: TcpStream) {
    let fd = stream.as_raw_fd();
    o.life.track(fd);
    add(&o.counters.open, 1);
    let mut conn = Conn {
        wire: None,
        discarding: false,
        args: proto::Args::default(),
    };
    let mut buf = vec![0u8; READ_BUF];
    let mut end = 0usize;
    let mut out = Vec::new();
    loop {
        if end == buf.len() {
            // Both parsers reject requests over MAX_LINE-ish, so this is bounded.
            buf.resize(buf.len() * 2, 0);
        }
        match stream.read(&mut buf[end..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => end += n,
        }
        let wire = *conn.wire.get_or_insert(if buf[0] == b'*' {
            Wire::Resp
        } else {
            Wire::Json
        });
        let (used, after) = match wire {
            Wire::Json => json_requests(&o, &mut conn, &buf[..end], &mut out).await,
            Wire::Resp => resp_requests(&o, &mut conn, &buf[..end], &mut out).await,
        };
        buf.copy_within(used..end, 0);
        end -= used;
        if buf.len() > READ_BUF && end <= READ_BUF {
            buf.truncate(READ_BUF);
            buf.shrink_to_fit();
        }
        if !out.is_empty() {
            let write = stream.write_all(&out);
            match glommio::timer::timeout(WRITE_TIMEOUT, async { Ok(write.await) }).await {
                Ok(Ok(())) => out.clear(),
                _ => break,
            }
        }
        if after == After::Close || o.life.stopping() {
            break;
        }
    }
    o.life.untrack(fd);
    sub(&o.counters.open, 1);
    let _ = stream.close().await;
}

/// Answer every complete JSON line in `buf`; returns the bytes consumed.
async fn json_requests(
    o: &Origin,
    conn: &mut Conn,
    buf: &[u8],
    out: &mut Vec<u8>,
) -> (usize, After) {
    let mut start = 0;
    while start < buf.len() {
        let rest = &buf[start..];
        if conn.discarding {
            match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    conn.discarding = false;
                    start += nl + 1;
                    continue;
                }
                None => return (buf.len(), After::Continue),
            }
        }
        // Reworded: a JSON client is not told about RESP inline requests.
        match line::split_line(rest, MAX_LINE).map_err(|_| json::LineTooLong(MAX_LINE)) {
            Ok(None) => break,
            Ok(Some((used, line))) => {
                start += used;
                // Blank lines (a stray `\r\n` from telnet) are not requests.
                if !line.iter().all(u8::is_ascii_whitespace) {
                    json_request(o, line, out).await;
                }
            }
            Err(e) => {
                // A JSON line can be resynchronised at the next newline, so
                // the connection survives; answer once, skip the rest.
                add(&o.counters.requests, 1);
                add(&o.counters.protocol_errors, 1);
                json::error(out, &e.to_string());
                conn.discarding = true;
            }
        }
    }
    (start, After::Continue)
}

async fn json_request(o: &Origin, line: &[u8], out: &mut Vec<u8>) {
    add(&o.counters.requests, 1);
    let req = match json::parse_request(line) {
        Ok(r) => r,
        Err(e) => {
            add(&o.counters.protocol_errors, 1);
            json::error(out, &e.to_string());
            return;
        }
    };
    match req {
        json::Request::Get(key) => match o.fetch(key.as_bytes()).await {
            Ok(Some(v)) => json::found(out, &key, &v),
            Ok(None) => json::key_error(out, &key, "not found"),
            Err(e) => json::key_error(out, &key, &e.to_string()),
        },
        json::Request::Metrics => json::metrics(out, o.metrics()),
        json::Request::Ping => json::pong(out),
    }
}

/// Answer every complete RESP request in `buf`; returns the bytes consumed.
async fn resp_requests(
    o: &Origin,
    conn: &mut Conn,
    buf: &[u8],
    out: &mut Vec<u8>,
) -> (usize, After) {
    let mut start = 0;
    while start < buf.len() {
        match proto::parse_request(&buf[start..], &LIMITS, &mut conn.args) {
            Ok(None) => break,
            Ok(Some(used)) => {
                let args: Vec<&[u8]> = conn.args.iter(&buf[start..]).collect();
                start += used;
                if args.is_empty() {
                    continue;
                }
                if resp_request(o, &args, out).await == After::Close {
                    return (start, After::Close);
                }
            }
            Err(e) => {
                // RESP framing cannot be resynchronised: answer and close,
                // as Redis does.
                add(&o.counters.requests, 1);
                add(&o.counters.protocol_errors, 1);
                reply::error(out, &e.reply_text());
                return (buf.len(), After::Close);
            }
        }
    }
    (start, After::Continue)
}

async fn resp_request(o: &Origin, args: &[&[u8]], out: &mut Vec<u8>) -> After {
    add(&o.counters.requests, 1);
    let name = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
    let arity_ok = match name.as_str() {
        "get" => args.len() == 2,
        "metrics" | "quit" => args.len() == 1,
        "ping" => args.len() <= 2,
        _ => true,
    };
    if !arity_ok {
        add(&o.counters.protocol_errors, 1);
        reply::error(
            out,
            &format!("ERR wrong number of arguments for '{name}' command"),
        );
        return After::Continue;
    }
    match name.as_str() {
        "get" => match o.fetch(args[1]).await {
            Ok(Some(v)) => reply::bulk(out, &v),
            Ok(None) => reply::nil(out),
            Err(e) => reply::error(out, &format!("ERR {e}")),
        },
        "metrics" => reply::bulk(out, o.metrics().to_string().as_bytes()),
        "ping" if args.len() == 2 => reply::bulk(out, args[1]),
        "ping" => reply::simple(out, "PONG"),
        "quit" => {
            reply::simple(out, "OK");
            return After::Close;
        }
        // Client libraries send these while connecting.
        "client" | "select" => reply::simple(out, "OK"),
        "command" => reply::array(out, 0),
        _ => {
            add(&o.counters.protocol_errors, 1);
            // An error line must not contain CR/LF; names are client bytes.
            let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
            reply::error(out, &format!("ERR unknown command '{shown}'"));
        }
    }
    After::Continue
}
