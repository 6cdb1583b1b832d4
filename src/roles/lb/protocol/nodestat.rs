//! The health probe on the wire: the `NODESTAT` request and the parse of a
//! node's reply (no I/O; the probe task in `lb/probe.rs` does the talking).

use super::{first_line, printable, MAX_LINE};
use crate::proto::client::{self, Header, Reply};

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
        Header::Error(_) => Ok(Some(NodeStat::default())),
        Header::Bulk(Some(len)) if len > MAX_LINE => {
            Err(ProbeReplyError::Malformed("bulk too long".into()))
        }
        Header::Bulk(Some(_)) => match client::parse(buf) {
            Ok(Some((Reply::Bulk(Some(body)), _))) => {
                parse_stat(&String::from_utf8_lossy(body)).map(Some)
            }
            Ok(None) => Ok(None),
            _ => Err(malformed()),
        },
        _ => Err(malformed()),
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
