//! The health probe on the wire: the `NODESTAT` request (plain, or with the
//! nonce and address of an authenticated probe) and the strict parse of a
//! node's reply (no I/O; the probe task in `lb/probe.rs` does the talking,
//! and [`crate::secret`] checks the MAC).

use super::{first_line, printable, HostPort, MAX_LINE};
use crate::proto::client::{self, Header, Reply};

/// The plain health probe: `NODESTAT`, which every cachectl node answers
/// with its live client count.
pub const PROBE_REQUEST: &[u8] = b"*1\r\n$8\r\nNODESTAT\r\n";

/// The probe request: plain, or `NODESTAT <nonce> <host:port>` when the LB
/// holds a secret (the node signs its answer for that nonce and address).
pub fn probe_request(auth: Option<(&str, &HostPort)>) -> Vec<u8> {
    let Some((nonce, addr)) = auth else {
        return PROBE_REQUEST.to_vec();
    };
    let addr = addr.to_string();
    let mut out = b"*3\r\n$8\r\nNODESTAT\r\n".to_vec();
    for arg in [nonce, addr.as_str()] {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

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
    /// An error reply: whatever answers it is not a serving cachectl node.
    #[error("error reply: {0}")]
    Refused(String),
    /// Not a reply a node sends.
    #[error("unexpected probe reply: {0}")]
    Malformed(String),
}

/// The text of a reply to a probe request; `Ok(None)` means incomplete.
///
/// Strict: only a bulk string counts. Any error reply is a failure (a
/// plain Redis server, or anything else that answers `-ERR`, is not a
/// node leases may go to); maxclients' error keeps its own [`Full`]
/// verdict, since a full node is alive but can take no one.
///
/// # Errors
/// [`ProbeReplyError`] for a full node, an error reply, or bytes that are
/// not a bulk string.
///
/// [`Full`]: ProbeReplyError::Full
pub fn parse_probe_reply(buf: &[u8]) -> Result<Option<String>, ProbeReplyError> {
    let malformed = || ProbeReplyError::Malformed(first_line(buf));
    let header = match client::parse_header(buf) {
        Ok(Some((h, _))) => h,
        Ok(None) if buf.len() > MAX_LINE => {
            return Err(ProbeReplyError::Malformed("reply line too long".into()))
        }
        Ok(None) => return Ok(None),
        Err(_) => return Err(malformed()),
    };
    match header {
        Header::Error(e) if String::from_utf8_lossy(e).contains("max number of clients") => {
            Err(ProbeReplyError::Full)
        }
        Header::Error(_) => Err(ProbeReplyError::Refused(first_line(buf))),
        Header::Bulk(Some(len)) if len > MAX_LINE => {
            Err(ProbeReplyError::Malformed("bulk too long".into()))
        }
        Header::Bulk(Some(_)) => match client::parse(buf) {
            Ok(Some((Reply::Bulk(Some(body)), used))) if used == buf.len() => {
                match std::str::from_utf8(body) {
                    Ok(text) => Ok(Some(text.to_string())),
                    Err(_) => Err(malformed()),
                }
            }
            Ok(None) => Ok(None),
            // Bytes after the reply: nothing a node sends.
            _ => Err(malformed()),
        },
        _ => Err(malformed()),
    }
}

/// The figures in a NODESTAT line (`clients=N maxclients=M cores=C ...`);
/// `clients=` is required, other keys (a `mac=` included) are skipped.
///
/// # Errors
/// [`ProbeReplyError::Malformed`] when `clients=` is missing or not a number.
pub fn parse_stat(text: &str) -> Result<NodeStat, ProbeReplyError> {
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
