//! The LB wire protocol, with no I/O: request parsing over `&[u8]`, reply
//! encoding into a caller-owned buffer, and the node probe's request/reply.
//!
//! A connection's dialect is fixed by its first byte: `*` is RESP (what
//! `redis-cli` and Redis client libraries send), `{` is seed 004's
//! newline-terminated JSON ([`json`]), anything else is the line form (seed
//! 000's `REGISTER:12345\n`, `LEASE\n`, `GET:key\n`). We do not reuse
//! [`crate::proto::detect_dialect`] here: it reads a bare `LEASE\n` as a
//! Redis inline command, but on the LB port that line is the line form, as
//! agreed with the lease clients. Line-form words may be separated by `:`
//! or blanks, so a human on `telnet` can type `REGISTER 10.0.0.5:7000 2`.
//!
//! Data requests (`GET`/`SET`/`DEL`) parse in every mode; a redirect-mode
//! LB answers them with an error, a proxy-mode LB forwards them.

pub mod json;
mod line;
mod nodestat;

pub use crate::addr::{parse_host_port, AddrError, HostPort};
pub use nodestat::{
    parse_probe_reply, parse_stat, probe_request, NodeStat, ProbeReplyError, PROBE_REQUEST,
};

use crate::addr::parse_port;
use crate::proto::{reply, resp, Limits, ProtoError};
use std::net::IpAddr;

/// Longest line-form request (and RESP inline line) we wait for.
pub const MAX_LINE: usize = 4096;

/// Longest line on a registered node's link: a MAP report of a cluster of
/// a thousand 16-core nodes with fragmented ranges fits.
pub const MAX_MAP_LINE: usize = 4 << 20;

/// RESP size limits on the LB port in redirect mode: its requests are all
/// tiny.
pub const RESP_LIMITS: Limits = Limits {
    max_bulk: MAX_LINE,
    max_args: 16,
    max_inline: MAX_LINE,
};

/// How large a request may be before the connection is given up on.
#[derive(Clone, Copy, Debug)]
pub struct Framing {
    /// RESP limits.
    pub resp: Limits,
    /// Longest line-form or JSON request line.
    pub max_line: usize,
    /// Longest key or value in a data request. A longer one that still fits
    /// the framing is answered with an error; the connection carries on.
    pub max_value: usize,
}

impl Framing {
    /// Redirect mode: every request is a few dozen bytes.
    pub const CONTROL: Framing = Framing {
        resp: RESP_LIMITS,
        max_line: MAX_LINE,
        max_value: MAX_LINE,
    };

    /// A registered node's link: its MAP report lists every shard and
    /// range of the cluster, up to [`MAX_MAP_LINE`].
    pub const LINK: Framing = Framing {
        resp: RESP_LIMITS,
        max_line: MAX_MAP_LINE,
        max_value: MAX_LINE,
    };

    /// Proxy mode: a SET carries a value of up to `max_value` bytes, plus
    /// room for the command, the key and (in JSON) escapes. Control
    /// requests keep their 4 KiB whatever `max_value` is.
    pub fn proxy(max_value: usize) -> Framing {
        let line = max_value.saturating_add(MAX_LINE);
        Framing {
            resp: Limits {
                max_bulk: max_value.max(MAX_LINE),
                max_args: 16,
                max_inline: line,
            },
            max_line: line,
            max_value,
        }
    }
}

/// How a connection talks; decided by its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// RESP2 multibulk requests and replies.
    Resp,
    /// One request per line, one-line replies (`NODE:h:p`, `OK`, `ERROR:m`).
    Line,
    /// Seed 004: one JSON object per line, each way.
    Json,
}

impl Dialect {
    /// The dialect of a connection whose first byte is `first`.
    pub fn of_first_byte(first: u8) -> Dialect {
        match first {
            b'*' => Dialect::Resp,
            b'{' => Dialect::Json,
            _ => Dialect::Line,
        }
    }
}

/// A node asking to join the lease pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The advertised host; `None` means "the IP this request came from"
    /// (seed 000's `REGISTER:<port>` form).
    pub host: Option<String>,
    /// The advertised port.
    pub port: u16,
    /// The node's executor cores (its shards); 1 when not given.
    pub cores: u32,
    /// The connection stays open as a liveness link: its close marks the
    /// node down at once. Only cachectl's `REGISTER:<host>:<port>:<cores>`
    /// line form asks for this; one-shot forms (seed 000, `redis-cli`) don't.
    pub link: bool,
    /// Cluster mode: each core's own port, by core (the line form's fourth
    /// field, `p0,p1,...`); empty for a node outside cluster mode.
    pub core_ports: Vec<u16>,
}

impl Registration {
    /// The address to register, filling in the peer's IP when none was given.
    ///
    /// # Errors
    /// [`AddrError`] when the given host is not valid.
    pub fn addr(&self, peer: IpAddr) -> Result<HostPort, AddrError> {
        match &self.host {
            Some(h) => HostPort::new(h, self.port),
            None => HostPort::new(&peer.to_string(), self.port),
        }
    }
}

/// One LB request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Hand out one node address.
    Lease,
    /// Hand out the address that serves this key: in cluster mode the core
    /// that owns its slot, otherwise the node key routing picks for it.
    LeaseKey(Vec<u8>),
    /// Add or refresh a node.
    Register(Registration),
    /// Counters and node table as one line of JSON.
    Metrics,
    /// Counters in Redis's INFO format.
    Info,
    /// One line per registered node.
    Nodes,
    /// Liveness check.
    Ping,
    /// Close the connection after replying OK.
    Quit,
    /// Connection set-up chatter from client libraries (`CLIENT SETINFO`,
    /// `SELECT 0`, ...): answered `+OK` so they connect.
    Handshake,
    /// A data request, forwarded to a node in proxy mode.
    Data(DataOp),
    /// A node's answer (hex MAC) to the LB's registration challenge; line
    /// form only (see [`crate::secret`]).
    Auth(String),
    /// Cluster mode: a node renews its ownership lease, saying the epoch
    /// all its cores apply and the newest they have drained
    /// (`RENEW:<epoch>:<drained>`, see [`crate::cluster::wire`]).
    Renew(crate::cluster::wire::Renewal),
    /// Cluster mode: a node reports the map it serves by, once on
    /// registering (`MAP:<epoch>:<map>`), so a restarted LB carries it on.
    Map(Box<crate::cluster::SlotMap>),
}

/// A data request a proxy-mode LB forwards to a node. Keys and values are
/// owned: the client's read buffer moves on while the node answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataOp {
    /// `GET key`
    Get(Vec<u8>),
    /// `SET key value`
    Set(Vec<u8>, Vec<u8>),
    /// `DEL key`
    Del(Vec<u8>),
}

impl DataOp {
    /// The key the request is about.
    pub fn key(&self) -> &[u8] {
        match self {
            DataOp::Get(k) | DataOp::Set(k, _) | DataOp::Del(k) => k,
        }
    }

    /// The command name, upper-case.
    pub fn name(&self) -> &'static str {
        match self {
            DataOp::Get(_) => "GET",
            DataOp::Set(..) => "SET",
            DataOp::Del(_) => "DEL",
        }
    }
}

/// A request that was framed but cannot be served; answered, and the
/// connection carries on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not a command of this port.
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    /// Wrong number of arguments.
    #[error("wrong number of arguments for '{0}'")]
    Arity(&'static str),
    /// A REGISTER whose address is wrong.
    #[error("{0}")]
    Addr(#[from] AddrError),
    /// A REGISTER whose core count is not a number in 1..=65535.
    #[error("'{0}' is not a core count (1-65535)")]
    BadCores(String),
    /// A REGISTER whose core ports are not one port per core.
    #[error("'{0}' is not one port per core, comma-separated")]
    BadCorePorts(String),
    /// A RENEW whose epoch is not a number.
    #[error("'{0}' is not an epoch")]
    BadEpoch(String),
    /// A MAP report that does not parse.
    #[error("bad MAP report: {0}")]
    BadMap(#[from] crate::cluster::wire::WireError),
    /// A line with bytes no request has.
    #[error("request is not text")]
    NotText,
    /// A line-form data request with the wrong number of fields.
    #[error(
        "wrong number of fields for '{0}' (keys and values cannot contain ':' here; use RESP)"
    )]
    Fields(&'static str),
    /// A line-form or JSON data request with an empty key.
    #[error("empty key")]
    EmptyKey,
    /// A JSON line that is not a request object.
    #[error("invalid JSON request: {0}")]
    Json(String),
    /// A data request whose key or value is over `--max-value`.
    #[error("key or value is larger than --max-value ({0} bytes)")]
    TooLarge(usize),
}

/// One parsed request (or the reason it can't be served).
pub type Parsed = Result<Request, RequestError>;

/// Parse one request from the front of `buf` in `dialect`.
///
/// Returns the bytes consumed and the request; `Ok(None)` means incomplete.
/// A blank line or `*0` yields `(n, None)` inside: nothing to answer.
///
/// # Errors
/// A [`ProtoError`] when the stream cannot be resynchronised (an overlong
/// line, a malformed RESP header); the caller answers once and closes.
pub fn parse(
    dialect: Dialect,
    buf: &[u8],
    framing: &Framing,
    args: &mut resp::Args,
) -> Result<Option<(usize, Option<Parsed>)>, ProtoError> {
    let parsed = parse_any(dialect, buf, framing, args)?;
    let too_large = |op: &DataOp| {
        let value = match op {
            DataOp::Set(_, v) => v.len(),
            _ => 0,
        };
        op.key().len().max(value) > framing.max_value
    };
    Ok(parsed.map(|(used, p)| match p {
        Some(Ok(Request::Data(op))) if too_large(&op) => {
            (used, Some(Err(RequestError::TooLarge(framing.max_value))))
        }
        p => (used, p),
    }))
}

fn parse_any(
    dialect: Dialect,
    buf: &[u8],
    framing: &Framing,
    parsed_args: &mut resp::Args,
) -> Result<Option<(usize, Option<Parsed>)>, ProtoError> {
    match dialect {
        Dialect::Line => line::parse_line(buf, framing.max_line),
        Dialect::Json => json::parse(buf, framing.max_line),
        Dialect::Resp => {
            let Some(used) = resp::parse_request(buf, &framing.resp, parsed_args)? else {
                return Ok(None);
            };
            if parsed_args.is_empty() {
                return Ok(Some((used, None)));
            }
            let args: Vec<&[u8]> = parsed_args.iter(buf).collect();
            Ok(Some((used, Some(resp_request(&args)))))
        }
    }
}

fn registration(host: Option<&str>, port: &str, cores: Option<&str>, link: bool) -> Parsed {
    registration_with_ports(host, port, cores, link, None)
}

fn registration_with_ports(
    host: Option<&str>,
    port: &str,
    cores: Option<&str>,
    link: bool,
    ports: Option<&str>,
) -> Parsed {
    let port = parse_port(port)?;
    let host = match host {
        Some(h) => Some(HostPort::new(h, port)?.host),
        None => None,
    };
    let cores = match cores {
        None => 1,
        Some(c) => match c.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => n,
            _ => return Err(RequestError::BadCores(printable(c))),
        },
    };
    let core_ports = match ports {
        None => Vec::new(),
        Some(p) => {
            let bad = || RequestError::BadCorePorts(printable(p));
            let list: Vec<u16> = p
                .split(',')
                .map(|x| crate::addr::parse_port(x).map_err(|_| bad()))
                .collect::<Result<_, _>>()?;
            if list.len() != cores as usize {
                return Err(bad());
            }
            list
        }
    };
    Ok(Request::Register(Registration {
        host,
        port,
        cores,
        link,
        core_ports,
    }))
}

/// A RESP request from its arguments (at least one).
fn resp_request(args: &[&[u8]]) -> Parsed {
    let name = String::from_utf8_lossy(args[0]).to_ascii_uppercase();
    let argc = args.len() - 1;
    let exact = |req: Request, n: usize, label: &'static str| {
        if argc == n {
            Ok(req)
        } else {
            Err(RequestError::Arity(label))
        }
    };
    match name.as_str() {
        "LEASE" if argc == 1 && !args[1].is_empty() => Ok(Request::LeaseKey(args[1].to_vec())),
        "LEASE" if argc == 1 => Err(RequestError::EmptyKey),
        "LEASE" => exact(Request::Lease, 0, "LEASE"),
        "METRICS" => exact(Request::Metrics, 0, "METRICS"),
        "INFO" => Ok(Request::Info),
        "NODES" => exact(Request::Nodes, 0, "NODES"),
        "PING" => Ok(Request::Ping),
        "QUIT" => Ok(Request::Quit),
        "CLIENT" | "SELECT" => Ok(Request::Handshake),
        "REGISTER" => resp_register(&args[1..]),
        // One key each, as the node's line protocol has them: a multi-key
        // DEL would need its keys split over nodes and the counts summed.
        "GET" | "DEL" | "SET" => resp_data(&name, args),
        _ => Err(RequestError::UnknownCommand(printable(&name))),
    }
}

/// `GET key`, `DEL key`, `SET key value`; `name` is upper-case.
fn resp_data(name: &str, args: &[&[u8]]) -> Parsed {
    let op = match (name, args) {
        ("GET", [_, k]) => DataOp::Get(k.to_vec()),
        ("DEL", [_, k]) => DataOp::Del(k.to_vec()),
        ("SET", [_, k, v]) => DataOp::Set(k.to_vec(), v.to_vec()),
        ("GET", _) => return Err(RequestError::Arity("GET")),
        ("DEL", _) => return Err(RequestError::Arity("DEL")),
        _ => return Err(RequestError::Arity("SET")),
    };
    Ok(Request::Data(op))
}

impl From<DataOp> for Request {
    fn from(op: DataOp) -> Request {
        Request::Data(op)
    }
}

/// `REGISTER host:port [cores]` or `REGISTER port` (host = the peer's IP).
fn resp_register(args: &[&[u8]]) -> Parsed {
    match args {
        [addr] | [addr, _] => {
            let addr = text(addr)?;
            let cores = match args.get(1) {
                Some(c) => Some(text(c)?),
                None => None,
            };
            match addr.rsplit_once(':') {
                Some((host, port)) => registration(Some(host), port, cores, false),
                None if cores.is_none() => registration(None, addr, None, false),
                None => Err(AddrError::NoPort(printable(addr)).into()),
            }
        }
        _ => Err(RequestError::Arity("REGISTER")),
    }
}

fn text(b: &[u8]) -> Result<&str, RequestError> {
    std::str::from_utf8(b).map_err(|_| RequestError::NotText)
}

/// Shorten and strip what would break a one-line error reply.
fn printable(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The first line of a peer's reply in `buf` (without its CRLF), shown
/// safely in an error message.
pub(super) fn first_line(buf: &[u8]) -> String {
    // A shown line is at most 64 characters: don't scan further for its end.
    let head = &buf[..buf.len().min(66)];
    let line = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(head, |cr| &head[..cr]);
    printable(&String::from_utf8_lossy(line))
}

/// What the LB answers; encoded per dialect by [`encode`].
#[derive(Debug)]
pub enum Reply<'a> {
    /// A lease: `NODE:host:port` / bulk `host:port`.
    Node(&'a HostPort),
    /// No node can be leased right now.
    NoHealthyNodes,
    /// `OK` / `+OK`.
    Ok,
    /// A registration challenge: `CHALLENGE:<hex nonce>`.
    Challenge(&'a str),
    /// Cluster mode: a lease renewal's `GRANT:...` line (`cluster::wire`).
    Grant(&'a str),
    /// `PONG` / `+PONG`.
    Pong,
    /// `ERROR:msg` / `-ERR msg`.
    Error(&'a str),
    /// One line of JSON / a bulk string.
    Json(&'a str),
    /// Redis INFO text (CRLF lines): a bulk string, or LF lines then `END`.
    Info(&'a str),
    /// A list of lines: an array of bulk strings, or the lines then `END`.
    Lines(&'a [String]),
    /// A GET hit: bulk / `VALUE:v` / `{"ok":true,"key":k,"value":v}`.
    Value {
        /// The key asked for (JSON echoes it).
        key: &'a [u8],
        /// Its value.
        value: &'a [u8],
    },
    /// A GET miss: nil / `NOT_FOUND` / `{"ok":false,"key":k,"error":"not found"}`.
    NotFound {
        /// The key asked for.
        key: &'a [u8],
    },
    /// A SET done: `+OK` / `OK` / `{"ok":true,"key":k}`.
    Stored {
        /// The key written.
        key: &'a [u8],
    },
    /// A DEL done: `:n` / `DELETED` (or `NOT_FOUND` for 0) / JSON with the count.
    Deleted {
        /// The key deleted.
        key: &'a [u8],
        /// Keys removed (0 or 1).
        count: i64,
    },
    /// A node's error reply, relayed: `-<text>` verbatim (its `ERR`/`OOM`
    /// prefix kept), `ERROR:<text>` without `ERR `, or a JSON error.
    NodeError(&'a str),
}

/// The line that ends a multi-line line-form reply (INFO, NODES).
pub const END: &str = "END";

/// Append `reply` in `dialect` to `out`.
pub fn encode(dialect: Dialect, reply: &Reply<'_>, out: &mut Vec<u8>) {
    match dialect {
        Dialect::Resp => encode_resp(reply, out),
        Dialect::Line => line::encode_line(reply, out),
        Dialect::Json => json::encode(reply, out),
    }
}

fn encode_resp(r: &Reply<'_>, out: &mut Vec<u8>) {
    match r {
        Reply::Node(a) => reply::bulk(out, a.to_string().as_bytes()),
        Reply::NoHealthyNodes => reply::error(out, "ERR no healthy nodes"),
        Reply::Ok => reply::simple(out, "OK"),
        Reply::Challenge(n) => reply::simple(out, &format!("CHALLENGE {n}")),
        Reply::Grant(g) => reply::simple(out, g),
        Reply::Pong => reply::simple(out, "PONG"),
        Reply::Error(m) => reply::error(out, &format!("ERR {}", one_line(m))),
        Reply::Json(s) | Reply::Info(s) => reply::bulk(out, s.as_bytes()),
        Reply::Lines(v) => {
            reply::array(out, v.len());
            for l in v.iter() {
                reply::bulk(out, l.as_bytes());
            }
        }
        Reply::Value { value, .. } => reply::bulk(out, value),
        Reply::NotFound { .. } => reply::nil(out),
        Reply::Stored { .. } => reply::simple(out, "OK"),
        Reply::Deleted { count, .. } => reply::int(out, *count),
        Reply::NodeError(m) => reply::error(out, &one_line(m)),
    }
}

/// `s` with CR and LF replaced, so it fits a one-line reply.
pub fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests;
