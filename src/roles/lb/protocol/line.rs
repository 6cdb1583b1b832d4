//! The line form on the LB port, with no I/O: seed 000's `WORD:args` lines
//! (`LEASE`, `REGISTER:12345`, `GET:key`, `SET:key:value`), blanks also
//! accepted as separators for people on `telnet`, and one-line replies —
//! for data requests, exactly the replies a node sends (`VALUE:v`,
//! `NOT_FOUND`, `OK`, `DELETED`, `ERROR:msg`).

use super::{
    one_line, printable, registration_with_ports, AddrError, DataOp, Parsed, Reply, Request,
    RequestError, END,
};
use crate::proto::line::split_line;
use crate::proto::{line as line_reply, ProtoError};

pub(super) fn parse_line(
    buf: &[u8],
    max_line: usize,
) -> Result<Option<(usize, Option<Parsed>)>, ProtoError> {
    let Some((used, line)) = split_line(buf, max_line)? else {
        return Ok(None);
    };
    let nl = used - 1;
    let Ok(line) = std::str::from_utf8(line) else {
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
    let sep = line.find(|c: char| c == ':' || c.is_ascii_whitespace());
    let (word, rest) = match sep {
        Some(i) => (&line[..i], line[i + 1..].trim()),
        None => (line, ""),
    };
    let colon = sep.is_some_and(|i| line.as_bytes()[i] == b':');
    let no_args = |req: Request, name: &'static str| {
        if rest.is_empty() {
            Ok(req)
        } else {
            Err(RequestError::Arity(name))
        }
    };
    match word.to_ascii_uppercase().as_str() {
        "LEASE" if rest.is_empty() => Ok(Request::Lease),
        "LEASE" => line_data(rest, colon, "LEASE").map(|[k, _]| Request::LeaseKey(k)),
        "METRICS" => no_args(Request::Metrics, "METRICS"),
        "INFO" => Ok(Request::Info),
        "NODES" => no_args(Request::Nodes, "NODES"),
        // Seed 000's line protocol pings as `PING:`; a trailing payload is ignored.
        "PING" => Ok(Request::Ping),
        "QUIT" => no_args(Request::Quit, "QUIT"),
        "REGISTER" => line_register(rest),
        "RENEW" => crate::cluster::wire::parse_renew(rest)
            .map(Request::Renew)
            .ok_or_else(|| RequestError::BadEpoch(printable(rest))),
        "MAP" => crate::cluster::wire::parse_map_report(rest)
            .map(|m| Request::Map(Box::new(m)))
            .map_err(RequestError::from),
        "AUTH" if rest.is_empty() => Err(RequestError::Arity("AUTH")),
        "AUTH" => Ok(Request::Auth(rest.to_string())),
        "GET" => line_data(rest, colon, "GET").map(|[k, _]| DataOp::Get(k).into()),
        "DEL" => line_data(rest, colon, "DEL").map(|[k, _]| DataOp::Del(k).into()),
        "SET" => line_data(rest, colon, "SET").map(|[k, v]| DataOp::Set(k, v).into()),
        _ => Err(RequestError::UnknownCommand(printable(word))),
    }
}

/// The key and (for SET) value of a line-form data request, checked as the
/// node checks them: `GET:key`, `SET:key:value` (`:` separates, so neither
/// may contain one), or blank-separated for `telnet` (`SET key value`).
/// Empty keys are refused; an empty SET value (`SET:k:`) is fine.
fn line_data(rest: &str, colon: bool, name: &'static str) -> Result<[Vec<u8>; 2], RequestError> {
    let fields: Vec<&str> = if colon {
        rest.split(':').collect()
    } else {
        rest.split_ascii_whitespace().collect()
    };
    let want = if name == "SET" { 2 } else { 1 };
    if fields.len() != want {
        return Err(RequestError::Fields(name));
    }
    if fields[0].is_empty() {
        return Err(RequestError::EmptyKey);
    }
    let value = fields.get(1).map_or(Vec::new(), |v| v.as_bytes().to_vec());
    Ok([fields[0].as_bytes().to_vec(), value])
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
    let (port, cores, link, ports) = match fields.as_slice() {
        [port] => (*port, None, false, None),
        [port, cores] if host.is_some() => (*port, Some(*cores), true, None),
        [port, cores, ports] if host.is_some() => (*port, Some(*cores), true, Some(*ports)),
        _ => return Err(RequestError::Arity("REGISTER")),
    };
    registration_with_ports(host, port, cores, link, ports)
}

fn split_fields(s: &str) -> Vec<&str> {
    s.split(|c: char| c == ':' || c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect()
}

pub(super) fn encode_line(r: &Reply<'_>, out: &mut Vec<u8>) {
    let mut line = |s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.push(b'\n');
    };
    match r {
        Reply::Node(a) => line(&format!("NODE:{a}")),
        Reply::NoHealthyNodes => line("ERROR:no healthy nodes"),
        Reply::Ok => line("OK"),
        Reply::Challenge(n) => line(&format!("CHALLENGE:{n}")),
        Reply::Grant(g) => line(g),
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
        // The node's own line-protocol replies, so a seed 000 client reads
        // the LB exactly as it reads a node.
        Reply::Value { value, .. } => line_reply::value(out, value),
        Reply::NotFound { .. } | Reply::Deleted { count: 0, .. } => line("NOT_FOUND"),
        Reply::Stored { .. } => line("OK"),
        Reply::Deleted { .. } => line("DELETED"),
        Reply::NodeError(m) => {
            let m = one_line(m);
            line(&format!("ERROR:{}", m.strip_prefix("ERR ").unwrap_or(&m)));
        }
    }
}
