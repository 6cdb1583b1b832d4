//! The ownership lease on the registration link, in the LB's line protocol.
//!
//! ```text
//! node -> LB   RENEW:<epoch>[:<drained>[:leaving]]
//!                                             the newest epoch every core
//!                                             applies, and the newest whose
//!                                             moving slots every core has
//!                                             streamed out (0 or absent:
//!                                             none); `leaving`: the node is
//!                                             stopping and hands its slots
//!                                             on warm first
//! LB -> node   GRANT:<lease_ms>:<epoch>       renewed; your map is current
//!              GRANT:<lease_ms>:<epoch>:<map> renewed; here is a newer map
//! node -> LB   MAP:<epoch>:<map>              once, on (re-)registering: the
//!                                             map this node serves by, so a
//!                                             restarted LB carries it on
//! LB -> node   OK
//! ```
//!
//! A node serves its slots only until `lease_ms` after it *sent* the
//! RENEW that was granted, and the LB counts the lease from when it
//! *answered*, which is later: so the node's lease always runs out first
//! on the LB's clock, however long the line took (see docs/CLUSTER.md).
//!
//! The map's text is space-separated tokens, shards first:
//! `s=<node host:port>/<core>/<client host:port>` in index order, then
//! `r=<first>-<last>/<shard index>` per range of slots, then
//! `m=<first>-<last>/<target shard index>` per range of slots whose keys
//! are moving to another shard while their owner still serves them, and
//! `a=<first>-<last>/<target shard index>` per range of moves only
//! announced (the target takes ASKING; the owner does not stream yet). Hosts
//! never hold spaces or `/` (see [`HostPort`]).

use super::map::{MapError, Shard, SlotMap};
use crate::addr::{AddrError, HostPort};

/// The request word.
pub const RENEW: &str = "RENEW";
/// The reply word.
pub const GRANT: &str = "GRANT";
/// The word of a node's map report.
pub const MAP: &str = "MAP";

/// Why a GRANT line or its map was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not `GRANT:<lease_ms>:<epoch>[:<map>]`.
    #[error("not a GRANT line: {0}")]
    NotGrant(String),
    /// Not `MAP:<epoch>:<map>`.
    #[error("not a MAP report: {0}")]
    NotMap(String),
    /// A token that is neither `s=` nor `r=` as described.
    #[error("bad map token '{0}'")]
    Token(String),
    /// A shard's address.
    #[error("bad address in map: {0}")]
    Addr(#[from] AddrError),
    /// The ranges.
    #[error(transparent)]
    Map(#[from] MapError),
}

/// What a node says when it renews.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Renewal {
    /// The newest epoch every core applies.
    pub applied: u64,
    /// The newest epoch whose moving slots every core has streamed to
    /// their targets and holds no key of (never more than `applied`).
    pub drained: u64,
    /// The node is stopping (SIGTERM): it asks for its slots to be moved
    /// off it, warm, before it goes.
    pub leaving: bool,
}

/// The word a leaving node adds to its RENEW.
const LEAVING: &str = "leaving";

/// A RENEW line.
pub fn renew_line(r: Renewal) -> String {
    match r.leaving {
        true => format!("{RENEW}:{}:{}:{LEAVING}\n", r.applied, r.drained),
        false => format!("{RENEW}:{}:{}\n", r.applied, r.drained),
    }
}

/// A RENEW request's argument: `<epoch>`, `<epoch>:<drained>` or
/// `<epoch>:<drained>:leaving`.
pub fn parse_renew(arg: &str) -> Option<Renewal> {
    let mut f = arg.trim().splitn(3, ':');
    let applied = f.next()?.parse().ok()?;
    let drained = match f.next() {
        Some(d) => d.parse().ok()?,
        None => 0,
    };
    let leaving = match f.next() {
        Some(LEAVING) => true,
        Some(_) => return None,
        None => false,
    };
    Some(Renewal {
        applied,
        drained,
        leaving,
    })
}

/// A node's map report line.
pub fn map_line(m: &SlotMap) -> String {
    format!("{MAP}:{}:{}\n", m.epoch(), encode_map(m))
}

/// A MAP request's argument, `<epoch>:<map>`.
///
/// # Errors
/// A bad epoch, or the map's first bad token, address or range.
pub fn parse_map_report(arg: &str) -> Result<SlotMap, WireError> {
    let (epoch, text) = arg
        .trim()
        .split_once(':')
        .ok_or_else(|| WireError::NotMap(arg.chars().take(120).collect()))?;
    let epoch = epoch
        .parse()
        .map_err(|_| WireError::NotMap(arg.chars().take(120).collect()))?;
    decode_map(epoch, text)
}

/// The GRANT reply's text (no newline): the map only when `map` is given.
pub fn grant_text(lease_ms: u64, epoch: u64, map: Option<&SlotMap>) -> String {
    match map {
        Some(m) => format!("{GRANT}:{lease_ms}:{epoch}:{}", encode_map(m)),
        None => format!("{GRANT}:{lease_ms}:{epoch}"),
    }
}

/// A parsed GRANT.
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    /// How long the lease runs from when the node sent its RENEW.
    pub lease_ms: u64,
    /// The LB's current epoch.
    pub epoch: u64,
    /// The map at that epoch, when the node's was older.
    pub map: Option<SlotMap>,
}

/// Parse a GRANT line (trimmed).
///
/// # Errors
/// [`WireError`] for anything but a well-formed grant and map.
pub fn parse_grant(line: &str) -> Result<Grant, WireError> {
    let bad = || WireError::NotGrant(line.chars().take(120).collect());
    let rest = line
        .strip_prefix(GRANT)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    let mut parts = rest.splitn(3, ':');
    let lease_ms = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let epoch = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let map = match parts.next() {
        Some(text) => Some(decode_map(epoch, text)?),
        None => None,
    };
    Ok(Grant {
        lease_ms,
        epoch,
        map,
    })
}

/// The map's tokens.
pub fn encode_map(m: &SlotMap) -> String {
    let mut out = String::new();
    for s in m.shards() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("s={}/{}/{}", s.node, s.core, s.addr));
    }
    for span in m.spans() {
        out.push_str(&format!(" r={}-{}/{}", span.start, span.end, span.shard));
    }
    for span in m.move_spans() {
        out.push_str(&format!(" m={}-{}/{}", span.start, span.end, span.shard));
    }
    for span in m.announce_spans() {
        out.push_str(&format!(" a={}-{}/{}", span.start, span.end, span.shard));
    }
    out
}

/// A map from its tokens, at `epoch`, checked as [`SlotMap::from_parts`]
/// checks.
///
/// # Errors
/// The first bad token, address or range.
pub fn decode_map(epoch: u64, text: &str) -> Result<SlotMap, WireError> {
    let mut shards = Vec::new();
    let mut ranges = Vec::new();
    let (mut moves, mut announced) = (Vec::new(), Vec::new());
    for tok in text.split_ascii_whitespace() {
        let bad = || WireError::Token(tok.chars().take(120).collect());
        if let Some(s) = tok.strip_prefix("s=") {
            let mut f = s.split('/');
            let (Some(node), Some(core), Some(addr), None) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                return Err(bad());
            };
            let core: u16 = core.parse().map_err(|_| bad())?;
            shards.push(Shard::new(
                HostPort::parse(node)?,
                core,
                HostPort::parse(addr)?,
            ));
        } else if let Some((kind, r)) = tok
            .split_once('=')
            .filter(|(k, _)| matches!(*k, "r" | "m" | "a"))
        {
            let (span, shard) = r.split_once('/').ok_or_else(bad)?;
            let (a, b) = span.split_once('-').ok_or_else(bad)?;
            let num = |x: &str| x.parse::<u32>().map_err(|_| bad());
            let range = (num(a)?, num(b)?, shard.parse::<usize>().map_err(|_| bad())?);
            match kind {
                "r" => ranges.push(range),
                "m" => moves.push(range),
                _ => announced.push(range),
            }
        } else {
            return Err(bad());
        }
    }
    Ok(SlotMap::from_parts(epoch, shards, &ranges)?
        .with_moves(&moves)?
        .with_announced(&announced)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::compute;

    fn map() -> SlotMap {
        let members: Vec<Shard> = [("127.0.0.1", 7000), ("::1", 7100)]
            .iter()
            .flat_map(|&(h, p)| {
                let node = HostPort::new(h, p).unwrap();
                (0..2)
                    .map(move |c| Shard::new(node.clone(), c, HostPort::new(h, p + 1 + c).unwrap()))
            })
            .collect();
        compute(&compute(&SlotMap::empty(), &members[..2]), &members)
    }

    #[test]
    fn a_map_survives_the_line() {
        let m = map();
        let line = grant_text(3000, m.epoch(), Some(&m));
        let g = parse_grant(&line).unwrap();
        assert_eq!((g.lease_ms, g.epoch), (3000, 2));
        assert_eq!(g.map.unwrap(), m);
        let g = parse_grant(&grant_text(500, 9, None)).unwrap();
        assert_eq!((g.lease_ms, g.epoch, g.map), (500, 9, None));
        let moving = m.clone().with_moves(&[(0, 9, 3), (20, 20, 2)]).unwrap();
        let g = parse_grant(&grant_text(3000, moving.epoch(), Some(&moving))).unwrap();
        assert_eq!(g.map.as_ref(), Some(&moving));
        assert_eq!(moving.moving(5), Some(3));
        assert_eq!(moving.moving(10), None);
        let announced = m.clone().with_announced(&[(0, 9, 3)]).unwrap();
        let g = parse_grant(&grant_text(3000, announced.epoch(), Some(&announced))).unwrap();
        assert_eq!(g.map.as_ref(), Some(&announced));
        assert_eq!(
            (announced.moving(5), announced.migrating(5)),
            (Some(3), None)
        );
        assert_eq!(moving.migrating(5), Some(3));
        let r = Renewal {
            applied: 4,
            drained: 3,
            leaving: false,
        };
        assert_eq!(renew_line(r), "RENEW:4:3\n");
        assert_eq!(parse_renew("4:3"), Some(r));
        assert_eq!(parse_renew("4").map(|r| r.drained), Some(0));
        assert_eq!(parse_renew("4:x"), None);
        let going = Renewal { leaving: true, ..r };
        assert_eq!(renew_line(going), "RENEW:4:3:leaving\n");
        assert_eq!(parse_renew("4:3:leaving"), Some(going));
        assert_eq!(parse_renew("4:3:staying"), None);
        let line = map_line(&moving);
        let arg = line.trim_end().strip_prefix("MAP:").unwrap();
        assert_eq!(parse_map_report(arg).as_ref(), Ok(&moving));
        assert!(matches!(
            parse_map_report("x:s=1"),
            Err(WireError::NotMap(_))
        ));
        assert!(parse_map_report("3:r=0-1/9").is_err());
    }

    #[test]
    fn malformed_grants_are_refused() {
        for line in [
            "GRANT",
            "GRANT:x:1",
            "GRANT:1",
            "OK",
            "GRANT:1:2:s=127.0.0.1:7000/0",
            "GRANT:1:2:s=127.0.0.1:7000/x/127.0.0.1:7001",
            "GRANT:1:2:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-16384/0",
            "GRANT:1:2:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-5/1",
            "GRANT:1:2:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-5/0 r=5-6/0",
            "GRANT:1:2:q=1",
            "GRANT:1:2:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-5/0 m=0-5/0",
            "GRANT:1:2:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-5/0 m=6-6/0",
            "GRANT:1:2:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-5/0 m=0-1/3",
        ] {
            assert!(parse_grant(line).is_err(), "{line}");
        }
    }
}
