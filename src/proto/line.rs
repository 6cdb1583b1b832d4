//! Seed 000's line protocol: `OP:KEY[:VALUE]\n`.
//!
//! Requests: `SET:key:value`, `GET:key`, `DEL:key`, `PING`-style `PING:`
//! (op names case-insensitive, `\r\n` accepted). Replies, one line each:
//! `OK`, `VALUE:<value>`, `NOT_FOUND`, `DELETED`, `PONG`, `ERROR:<message>`.
//! Keys and values cannot contain `:` or newlines here — the format has no
//! escaping — so such requests are rejected with `ERROR:`; use RESP for
//! binary data. Each line is independent, so a bad line is answered and the
//! connection carries on.

use super::ProtoError;
use std::ops::Range;

/// The operations the line protocol has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOp {
    /// `SET:key:value`
    Set,
    /// `GET:key`
    Get,
    /// `DEL:key`
    Del,
    /// `PING:` (or bare `PING`)
    Ping,
}

/// A line that could be framed but not understood; answered with `ERROR:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The op is not SET/GET/DEL/PING.
    #[error("unknown operation")]
    UnknownOp,
    /// Too few or too many `:`-separated fields for the op.
    #[error("wrong number of fields (keys and values cannot contain ':')")]
    Fields,
    /// An empty key.
    #[error("empty key")]
    EmptyKey,
}

/// One framed line: its op and argument ranges (key, then value for SET).
pub type Parsed = Result<(LineOp, Vec<Range<usize>>), LineError>;

/// Parse one line from the front of `buf`. `Ok(None)` means incomplete.
///
/// # Errors
/// [`ProtoError::InlineTooLong`] when no newline arrives within `max_line`
/// bytes: the stream can't be resynchronised then.
pub fn parse_line(buf: &[u8], max_line: usize) -> Result<Option<(usize, Parsed)>, ProtoError> {
    Ok(split_line(buf, max_line)?.map(|(used, line)| (used, split(line))))
}

/// The first line of `buf`, without its `\n` or `\r\n`, and the bytes it
/// takes up with its terminator; `Ok(None)` until a newline arrives. For
/// every newline-framed protocol (this one, the LB's, the origin's JSON).
///
/// # Errors
/// [`ProtoError::InlineTooLong`] when no newline comes within `max_line`
/// bytes.
pub fn split_line(buf: &[u8], max_line: usize) -> Result<Option<(usize, &[u8])>, ProtoError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > max_line {
            return Err(ProtoError::InlineTooLong);
        }
        return Ok(None);
    };
    if nl > max_line {
        return Err(ProtoError::InlineTooLong);
    }
    let line = &buf[..nl];
    Ok(Some((nl + 1, line.strip_suffix(b"\r").unwrap_or(line))))
}

fn split(line: &[u8]) -> Parsed {
    let mut fields: Vec<Range<usize>> = Vec::with_capacity(3);
    let mut start = 0;
    for (i, &b) in line.iter().enumerate() {
        if b == b':' {
            fields.push(start..i);
            start = i + 1;
        }
    }
    fields.push(start..line.len());
    let op = &line[fields[0].clone()];
    let (op, want) = if op.eq_ignore_ascii_case(b"SET") {
        (LineOp::Set, 3)
    } else if op.eq_ignore_ascii_case(b"GET") {
        (LineOp::Get, 2)
    } else if op.eq_ignore_ascii_case(b"DEL") {
        (LineOp::Del, 2)
    } else if op.eq_ignore_ascii_case(b"PING") {
        // `PING` and `PING:` both mean ping.
        let extra = fields.len() == 2 && fields[1].is_empty();
        return if fields.len() == 1 || extra {
            Ok((LineOp::Ping, Vec::new()))
        } else {
            Err(LineError::Fields)
        };
    } else {
        return Err(LineError::UnknownOp);
    };
    if fields.len() != want {
        return Err(LineError::Fields);
    }
    fields.remove(0);
    if fields[0].is_empty() {
        return Err(LineError::EmptyKey);
    }
    Ok((op, fields))
}

/// Append a `VALUE:` reply, or an `ERROR:` if the value has a newline the
/// line framing cannot carry.
pub fn value(out: &mut Vec<u8>, v: &[u8]) {
    if v.contains(&b'\n') {
        error(out, "value contains a newline; read it over RESP");
    } else {
        out.extend_from_slice(b"VALUE:");
        out.extend_from_slice(v);
        out.push(b'\n');
    }
}

/// Append a bare status line such as `OK` or `NOT_FOUND`.
pub fn status(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(b'\n');
}

/// Append `ERROR:<msg>`.
pub fn error(out: &mut Vec<u8>, msg: &str) {
    out.extend_from_slice(b"ERROR:");
    out.extend_from_slice(msg.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(buf: &[u8]) -> Result<(LineOp, Vec<&[u8]>), LineError> {
        let (_, p) = parse_line(buf, 1024).unwrap().unwrap();
        p.map(|(op, r)| (op, r.into_iter().map(|r| &buf[r]).collect()))
    }

    #[test]
    fn table() {
        assert_eq!(
            fields(b"SET:k:v\n"),
            Ok((LineOp::Set, vec![&b"k"[..], b"v"]))
        );
        assert_eq!(
            fields(b"set:k:\r\n"),
            Ok((LineOp::Set, vec![&b"k"[..], b""]))
        );
        assert_eq!(fields(b"GET:k\n"), Ok((LineOp::Get, vec![&b"k"[..]])));
        assert_eq!(fields(b"DEL:k\n"), Ok((LineOp::Del, vec![&b"k"[..]])));
        assert_eq!(fields(b"PING\n"), Ok((LineOp::Ping, vec![])));
        assert_eq!(fields(b"PING:\n"), Ok((LineOp::Ping, vec![])));
        assert_eq!(fields(b"SET:k:v:w\n"), Err(LineError::Fields));
        assert_eq!(fields(b"GET:a:b\n"), Err(LineError::Fields));
        assert_eq!(fields(b"GET\n"), Err(LineError::Fields));
        assert_eq!(fields(b"GET:\n"), Err(LineError::EmptyKey));
        assert_eq!(fields(b"FOO:k\n"), Err(LineError::UnknownOp));
        assert_eq!(parse_line(b"GET:k", 1024), Ok(None));
        assert_eq!(parse_line(&[b'a'; 20], 10), Err(ProtoError::InlineTooLong));
    }

    #[test]
    fn lines() {
        let l = |b: &'static [u8], max| split_line(b, max);
        assert_eq!(l(b"abc\ndef", 10), Ok(Some((4, &b"abc"[..]))));
        assert_eq!(l(b"abc\r\n", 10), Ok(Some((5, &b"abc"[..]))));
        assert_eq!(l(b"\n", 10), Ok(Some((1, &b""[..]))));
        assert_eq!(l(b"abc", 10), Ok(None));
        assert_eq!(l(b"abcdef", 5), Err(ProtoError::InlineTooLong));
        assert_eq!(l(b"abcdef\n", 5), Err(ProtoError::InlineTooLong));
        assert_eq!(l(b"abcde\n", 5), Ok(Some((6, &b"abcde"[..]))));
    }

    #[test]
    fn replies() {
        let mut o = Vec::new();
        value(&mut o, b"a:b");
        value(&mut o, b"a\nb");
        status(&mut o, "OK");
        assert_eq!(
            o,
            b"VALUE:a:b\nERROR:value contains a newline; read it over RESP\nOK\n".to_vec()
        );
    }
}
