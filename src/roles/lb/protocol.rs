//! The LB wire protocol, with no I/O: request parsing over `&[u8]`, reply
//! encoding into a caller-owned buffer, and the node probe's request/reply.
//!
//! A connection's dialect is fixed by its first byte: `*` is RESP (what
//! `redis-cli` and Redis client libraries send), anything else is the line
//! form (seed 000's `REGISTER:12345\n` and `LEASE\n`). We do not reuse
//! [`crate::proto::detect_dialect`] here: it reads a bare `LEASE\n` as a
//! Redis inline command, but on the LB port that line is the line form, as
//! agreed with the lease clients. Line-form words may be separated by `:`
//! or blanks, so a human on `telnet` can type `REGISTER 10.0.0.5:7000 2`.

use crate::proto::{reply, resp, Limits, ProtoError};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;

/// Longest line-form request (and RESP inline line) we wait for.
pub const MAX_LINE: usize = 4096;

/// RESP size limits on the LB port: its requests are all tiny.
pub const RESP_LIMITS: Limits = Limits {
    max_bulk: MAX_LINE,
    max_args: 16,
    max_inline: MAX_LINE,
};

/// How a connection talks; decided by its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// RESP2 multibulk requests and replies.
    Resp,
    /// One request per line, one-line replies (`NODE:h:p`, `OK`, `ERROR:m`).
    Line,
}

impl Dialect {
    /// The dialect of a connection whose first byte is `first`.
    pub fn of_first_byte(first: u8) -> Dialect {
        if first == b'*' {
            Dialect::Resp
        } else {
            Dialect::Line
        }
    }
}

/// A `host:port` a client can connect to: the key of the node registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// An IP literal (IPv6 without brackets) or a DNS name.
    pub host: String,
    /// A non-zero TCP port.
    pub port: u16,
}

/// Why a `host:port` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// No `:port` part.
    #[error("'{0}' is not HOST:PORT")]
    NoPort(String),
    /// The port is not a number in 1..=65535.
    #[error("'{0}' is not a port (1-65535)")]
    BadPort(String),
    /// The host is empty, too long, or has characters no host name has.
    #[error("'{0}' is not a host name or IP address")]
    BadHost(String),
}

impl HostPort {
    /// Build from a host and port, checking both.
    ///
    /// # Errors
    /// [`AddrError`] for an empty or malformed host or a zero port.
    pub fn new(host: &str, port: u16) -> Result<HostPort, AddrError> {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if port == 0 {
            return Err(AddrError::BadPort("0".into()));
        }
        if !valid_host(host) {
            return Err(AddrError::BadHost(host.into()));
        }
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }

    /// Parse `host:port`, `[v6]:port` or `v6:port` (the last `:` splits).
    ///
    /// # Errors
    /// [`AddrError`] naming what is wrong.
    pub fn parse(s: &str) -> Result<HostPort, AddrError> {
        let (host, port) = s
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| AddrError::NoPort(s.into()))?;
        HostPort::new(host, parse_port(port)?)
    }

    /// The host as an IP address, if it is a literal one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A clap value parser for `HOST:PORT` flags.
///
/// # Errors
/// The [`AddrError`] message.
pub fn parse_host_port(s: &str) -> Result<HostPort, String> {
    HostPort::parse(s).map_err(|e| e.to_string())
}

fn parse_port(s: &str) -> Result<u16, AddrError> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(AddrError::BadPort(s.into())),
    }
}

/// DNS names (letters, digits, `-`, `.`, `_`) or IP literals, ≤ 253 bytes.
fn valid_host(h: &str) -> bool {
    if h.is_empty() || h.len() > 253 {
        return false;
    }
    if h.parse::<IpAddr>().is_ok() {
        return true;
    }
    h.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
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
    /// A line with bytes no request has.
    #[error("request is not text")]
    NotText,
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
    ranges: &mut Vec<Range<usize>>,
) -> Result<Option<(usize, Option<Parsed>)>, ProtoError> {
    match dialect {
        Dialect::Line => parse_line(buf),
        Dialect::Resp => {
            let Some(used) = resp::parse_request(buf, &RESP_LIMITS, ranges)? else {
                return Ok(None);
            };
            if ranges.is_empty() {
                return Ok(Some((used, None)));
            }
            let args: Vec<&[u8]> = ranges.iter().map(|r| &buf[r.clone()]).collect();
            Ok(Some((used, Some(resp_request(&args)))))
        }
    }
}

fn parse_line(buf: &[u8]) -> Result<Option<(usize, Option<Parsed>)>, ProtoError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_LINE {
            return Err(ProtoError::InlineTooLong);
        }
        return Ok(None);
    };
    if nl > MAX_LINE {
        return Err(ProtoError::InlineTooLong);
    }
    let Ok(line) = std::str::from_utf8(&buf[..nl]) else {
        return Ok(Some((nl + 1, Some(Err(RequestError::NotText)))));
    };
    let line = line.trim();
    if line.is_empty() {
        return Ok(Some((nl + 1, None)));
    }
    Ok(Some((nl + 1, Some(line_request(line)))))
}

/// A line-form request: `WORD` or `WORD:rest` or `WORD rest`.
fn line_request(line: &str) -> Parsed {
    if line.bytes().any(|b| b.is_ascii_control()) {
        return Err(RequestError::NotText);
    }
    let (word, rest) = match line.find(|c: char| c == ':' || c.is_ascii_whitespace()) {
        Some(i) => (&line[..i], line[i + 1..].trim()),
        None => (line, ""),
    };
    let no_args = |req: Request, name: &'static str| {
        if rest.is_empty() {
            Ok(req)
        } else {
            Err(RequestError::Arity(name))
        }
    };
    match word.to_ascii_uppercase().as_str() {
        "LEASE" => no_args(Request::Lease, "LEASE"),
        "METRICS" => no_args(Request::Metrics, "METRICS"),
        "INFO" => Ok(Request::Info),
        "NODES" => no_args(Request::Nodes, "NODES"),
        // Seed 000's line protocol pings as `PING:`; a trailing payload is ignored.
        "PING" => Ok(Request::Ping),
        "QUIT" => no_args(Request::Quit, "QUIT"),
        "REGISTER" => line_register(rest),
        _ => Err(RequestError::UnknownCommand(printable(word))),
    }
}

/// `REGISTER:` arguments: `<port>`, `<host>:<port>`, `<host>:<port>:<cores>`
/// (blanks also separate; IPv6 hosts go in brackets).
fn line_register(rest: &str) -> Parsed {
    if rest.is_empty() {
        return Err(RequestError::Arity("REGISTER"));
    }
    let (host, fields) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| AddrError::BadHost(rest.into()))?;
            let after = after
                .strip_prefix(|c: char| c == ':' || c.is_ascii_whitespace())
                .ok_or_else(|| AddrError::NoPort(rest.into()))?;
            (Some(h), split_fields(after))
        }
        None => {
            let mut f = split_fields(rest);
            let host = (f.len() > 1).then(|| f.remove(0));
            (host, f)
        }
    };
    let (port, cores, link) = match fields.as_slice() {
        [port] => (*port, None, false),
        [port, cores] if host.is_some() => (*port, Some(*cores), true),
        _ => return Err(RequestError::Arity("REGISTER")),
    };
    registration(host, port, cores, link)
}

fn split_fields(s: &str) -> Vec<&str> {
    s.split(|c: char| c == ':' || c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect()
}

fn registration(host: Option<&str>, port: &str, cores: Option<&str>, link: bool) -> Parsed {
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
    Ok(Request::Register(Registration {
        host,
        port,
        cores,
        link,
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
        "LEASE" => exact(Request::Lease, 0, "LEASE"),
        "METRICS" => exact(Request::Metrics, 0, "METRICS"),
        "INFO" => Ok(Request::Info),
        "NODES" => exact(Request::Nodes, 0, "NODES"),
        "PING" => Ok(Request::Ping),
        "QUIT" => Ok(Request::Quit),
        "CLIENT" | "SELECT" => Ok(Request::Handshake),
        "REGISTER" => resp_register(&args[1..]),
        _ => Err(RequestError::UnknownCommand(printable(&name))),
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

/// What the LB answers; encoded per dialect by [`encode`].
#[derive(Debug)]
pub enum Reply<'a> {
    /// A lease: `NODE:host:port` / bulk `host:port`.
    Node(&'a HostPort),
    /// No node can be leased right now.
    NoHealthyNodes,
    /// `OK` / `+OK`.
    Ok,
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
}

/// The line that ends a multi-line line-form reply (INFO, NODES).
pub const END: &str = "END";

/// Append `reply` in `dialect` to `out`.
pub fn encode(dialect: Dialect, reply: &Reply<'_>, out: &mut Vec<u8>) {
    match dialect {
        Dialect::Resp => encode_resp(reply, out),
        Dialect::Line => encode_line(reply, out),
    }
}

fn encode_resp(r: &Reply<'_>, out: &mut Vec<u8>) {
    match r {
        Reply::Node(a) => reply::bulk(out, a.to_string().as_bytes()),
        Reply::NoHealthyNodes => reply::error(out, "ERR no healthy nodes"),
        Reply::Ok => reply::simple(out, "OK"),
        Reply::Pong => reply::simple(out, "PONG"),
        Reply::Error(m) => reply::error(out, &format!("ERR {}", one_line(m))),
        Reply::Json(s) | Reply::Info(s) => reply::bulk(out, s.as_bytes()),
        Reply::Lines(v) => {
            reply::array(out, v.len());
            for l in v.iter() {
                reply::bulk(out, l.as_bytes());
            }
        }
    }
}

fn encode_line(r: &Reply<'_>, out: &mut Vec<u8>) {
    let mut line = |s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.push(b'\n');
    };
    match r {
        Reply::Node(a) => line(&format!("NODE:{a}")),
        Reply::NoHealthyNodes => line("ERROR:no healthy nodes"),
        Reply::Ok => line("OK"),
        Reply::Pong => line("PONG"),
        Reply::Error(m) => line(&format!("ERROR:{}", one_line(m))),
        Reply::Json(s) => line(&one_line(s)),
        Reply::Info(s) => {
            for l in s.lines() {
                line(l);
            }
            line(END);
        }
        Reply::Lines(v) => {
            for l in v.iter() {
                line(&one_line(l));
            }
            line(END);
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The health probe's request: `NODESTAT`, which every cachectl node answers
/// with its live client count.
pub const PROBE_REQUEST: &[u8] = b"*1\r\n$8\r\nNODESTAT\r\n";

/// What a node said to a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct NodeStat {
    /// Client connections open on the node, the probe's own included.
    pub clients: u64,
    /// The node's maxclients, if it said.
    pub maxclients: Option<u64>,
    /// The node's cores, if it said.
    pub cores: Option<u32>,
}

/// A probe reply that means the node must not get leases.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeReplyError {
    /// The node refused the connection for maxclients.
    #[error("node is at maxclients")]
    Full,
    /// Not a reply a node sends.
    #[error("unexpected probe reply: {0}")]
    Malformed(String),
}

/// Parse the reply to [`PROBE_REQUEST`]; `Ok(None)` means incomplete.
///
/// A bulk `clients=N ...` is a cachectl node. Any other error reply (e.g. a
/// plain Redis server's "unknown command") still proves a live, serving
/// process, so it counts as healthy with no load figure (clients 0).
///
/// # Errors
/// [`ProbeReplyError`] for a full node or bytes that are not RESP.
pub fn parse_probe_reply(buf: &[u8]) -> Result<Option<NodeStat>, ProbeReplyError> {
    let Some(nl) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > MAX_LINE {
            return Err(ProbeReplyError::Malformed("reply line too long".into()));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..nl]);
    match buf[0] {
        b'-' if head.contains("max number of clients") => Err(ProbeReplyError::Full),
        b'-' => Ok(Some(NodeStat::default())),
        b'$' => {
            let len: usize = head[1..]
                .parse()
                .map_err(|_| ProbeReplyError::Malformed(printable(&head)))?;
            if len > MAX_LINE {
                return Err(ProbeReplyError::Malformed("bulk too long".into()));
            }
            let body = nl + 2;
            if buf.len() < body + len + 2 {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&buf[body..body + len]);
            parse_stat(&text).map(Some)
        }
        _ => Err(ProbeReplyError::Malformed(printable(&head))),
    }
}

fn parse_stat(text: &str) -> Result<NodeStat, ProbeReplyError> {
    let mut stat = NodeStat::default();
    let mut saw_clients = false;
    for pair in text.split_ascii_whitespace() {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        match k {
            "clients" => {
                stat.clients = v
                    .parse()
                    .map_err(|_| ProbeReplyError::Malformed(printable(text)))?;
                saw_clients = true;
            }
            "maxclients" => stat.maxclients = v.parse().ok(),
            "cores" => stat.cores = v.parse().ok(),
            _ => {}
        }
    }
    if saw_clients {
        Ok(stat)
    } else {
        Err(ProbeReplyError::Malformed(printable(text)))
    }
}

/// The line a cachectl node sends to register and open its liveness link.
pub fn register_line(addr: &HostPort, cores: usize) -> String {
    let host = if addr.host.contains(':') {
        format!("[{}]", addr.host)
    } else {
        addr.host.clone()
    };
    format!("REGISTER:{host}:{}:{cores}\n", addr.port)
}

#[cfg(test)]
mod tests;
