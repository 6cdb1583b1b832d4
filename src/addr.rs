//! `host:port` addresses as every role takes them: a node's `--lb`,
//! `--origin` and `--advertise`, the LB's registry keys, the client's
//! targets, with the validation every REGISTER form shares. Shared here so
//! no role borrows another's internals.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

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

pub(crate) fn parse_port(s: &str) -> Result<u16, AddrError> {
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

/// A node's socket address. IP literals (what nodes advertise by default)
/// need no lookup; a DNS name is resolved with the blocking resolver, on
/// the calling thread.
///
/// The LB does not resolve names this way on its executor: probes and
/// registrations use `roles::lb::admission::resolve` (glommio's blocking
/// pool, with a time limit), and the proxy pool connects to the address a
/// node's last good probe reached. The proxy pool calls this only for a
/// node no probe has reached, which is never leasable or forwarded to, so
/// in practice it sees IP literals only.
pub fn resolve(addr: &HostPort) -> io::Result<SocketAddr> {
    if let Some(ip) = addr.ip() {
        return Ok(SocketAddr::new(ip, addr.port));
    }
    (addr.host.as_str(), addr.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name has no address"))
}
