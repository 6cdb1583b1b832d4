//! The client side of RESP2, no I/O: encode a command, and parse one server
//! *reply* from `&[u8]`.
//!
//! `crate::proto::resp` parses requests (what a server reads); clients — the
//! load driver, the node's origin fetches, the LB's probes and proxy — need
//! the other direction.

use super::reply;

/// Append a command as a client sends it: an array of bulk strings.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    reply::array(out, args.len());
    for a in args {
        reply::bulk(out, a);
    }
}

/// One parsed reply, borrowing from the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `+text`
    Simple(&'a [u8]),
    /// `-text`
    Error(&'a [u8]),
    /// `:n`
    Int(i64),
    /// `$n` bulk string; `None` is the null bulk `$-1`.
    Bulk(Option<&'a [u8]>),
    /// `*n` array; `None` is the null array `*-1`.
    Array(Option<Vec<Reply<'a>>>),
}

/// The first line of a reply: its type and what the line says. For a bulk
/// or an array, the line is only a length; what follows is not yet read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header<'a> {
    /// `+text`
    Simple(&'a [u8]),
    /// `-text`
    Error(&'a [u8]),
    /// `:n`
    Int(i64),
    /// `$n`: `n` bytes and a CRLF follow; `None` is the null bulk `$-1`.
    Bulk(Option<usize>),
    /// `*n`: `n` replies follow; `None` is the null array `*-1`.
    Array(Option<usize>),
}

/// Input that is not a RESP2 reply; the connection cannot be trusted after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The first byte is not one of `+ - : $ *`.
    #[error("unexpected reply type byte {0:#04x}")]
    BadType(u8),
    /// A length or integer header that is not a number, or out of range.
    #[error("invalid number in reply header")]
    BadNumber,
    /// A header line or bulk data not terminated by CRLF.
    #[error("reply line not terminated by CRLF")]
    MissingCrlf,
    /// Arrays nested deeper than we accept (a hostile or broken server).
    #[error("reply nested too deeply")]
    TooDeep,
}

/// Deepest array nesting accepted; real servers answer our commands with
/// flat replies, so this only stops runaway recursion.
const MAX_DEPTH: usize = 32;

/// Parse one reply from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a reply (read more and
/// call again), or `Ok(Some((reply, consumed)))`.
///
/// # Errors
/// [`ReplyError`] when the bytes cannot be a RESP2 reply.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, ReplyError> {
    parse_at(buf, 0, 0)
}

/// Parse only the first line of the reply at the front of `buf`, so that a
/// caller can act on a bulk's length (refuse it, skip it unbuffered) before
/// its bytes arrive.
///
/// Returns `Ok(None)` when the line is not complete yet, or
/// `Ok(Some((header, consumed)))` where `consumed` covers the line and its
/// CRLF only.
///
/// # Errors
/// [`ReplyError`] when the line cannot start a RESP2 reply.
pub fn parse_header(buf: &[u8]) -> Result<Option<(Header<'_>, usize)>, ReplyError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    // Reject a bad type byte before waiting for a line end it may never send.
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(ReplyError::BadType(kind));
    }
    let Some(line_end) = find_crlf(buf, 1)? else {
        return Ok(None);
    };
    let line = &buf[1..line_end];
    let header = match kind {
        b'+' => Header::Simple(line),
        b'-' => Header::Error(line),
        b':' => Header::Int(number(line)?),
        b'$' => Header::Bulk(length(line)?),
        b'*' => Header::Array(length(line)?),
        _ => return Err(ReplyError::BadType(kind)),
    };
    Ok(Some((header, line_end + 2)))
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply<'_>, usize)>, ReplyError> {
    if depth > MAX_DEPTH {
        return Err(ReplyError::TooDeep);
    }
    let Some((header, used)) = parse_header(&buf[at..])? else {
        return Ok(None);
    };
    let next = at + used;
    let reply = match header {
        Header::Simple(s) => Reply::Simple(s),
        Header::Error(e) => Reply::Error(e),
        Header::Int(n) => Reply::Int(n),
        Header::Bulk(None) => Reply::Bulk(None),
        Header::Bulk(Some(n)) => {
            let end = next.checked_add(n).ok_or(ReplyError::BadNumber)?;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ReplyError::MissingCrlf);
            }
            return Ok(Some((Reply::Bulk(Some(&buf[next..end])), end + 2 - at)));
        }
        Header::Array(None) => Reply::Array(None),
        Header::Array(Some(n)) => {
            // Don't trust `n` for the allocation: a partial buffer of a huge
            // array would otherwise reserve memory we never fill.
            let mut items = Vec::with_capacity(n.min(64));
            let mut pos = next;
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    None => return Ok(None),
                    Some((item, used)) => {
                        items.push(item);
                        pos += used;
                    }
                }
            }
            return Ok(Some((Reply::Array(Some(items)), pos - at)));
        }
    };
    Ok(Some((reply, next - at)))
}

/// Index of the CR of the first CRLF at or after `from`; a bare LF is
/// malformed (a RESP header line always ends in CRLF).
fn find_crlf(buf: &[u8], from: usize) -> Result<Option<usize>, ReplyError> {
    let Some(rest) = buf.get(from..) else {
        return Ok(None);
    };
    match rest.iter().position(|&b| b == b'\n') {
        None => Ok(None),
        Some(lf) if lf > 0 && rest[lf - 1] == b'\r' => Ok(Some(from + lf - 1)),
        Some(_) => Err(ReplyError::MissingCrlf),
    }
}

/// A number as Redis writes one: `str::parse` alone would also take `+2`,
/// `02` and `-0`, which no server sends and hiredis refuses.
fn number(digits: &[u8]) -> Result<i64, ReplyError> {
    let magnitude = digits.strip_prefix(b"-").unwrap_or(digits);
    let canonical = match magnitude {
        [] => false,
        [b'0'] => magnitude.len() == digits.len(),
        [first, ..] => *first != b'0' && magnitude.iter().all(u8::is_ascii_digit),
    };
    std::str::from_utf8(digits)
        .ok()
        .filter(|_| canonical)
        .and_then(|s| s.parse().ok())
        .ok_or(ReplyError::BadNumber)
}

/// A bulk or array length: `-1` (null) or a count.
fn length(digits: &[u8]) -> Result<Option<usize>, ReplyError> {
    match number(digits)? {
        -1 => Ok(None),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| ReplyError::BadNumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> Reply<'_> {
        let (r, used) = parse(buf).unwrap().unwrap();
        assert_eq!(used, buf.len(), "consumed all of {buf:?}");
        r
    }

    #[test]
    fn parses_each_type() {
        assert_eq!(one(b"+OK\r\n"), Reply::Simple(b"OK"));
        assert_eq!(one(b"-ERR nope\r\n"), Reply::Error(b"ERR nope"));
        assert_eq!(one(b":-12\r\n"), Reply::Int(-12));
        assert_eq!(one(b"$3\r\nabc\r\n"), Reply::Bulk(Some(b"abc")));
        assert_eq!(one(b"$0\r\n\r\n"), Reply::Bulk(Some(b"")));
        assert_eq!(one(b"$-1\r\n"), Reply::Bulk(None));
        assert_eq!(one(b"*-1\r\n"), Reply::Array(None));
        assert_eq!(
            one(b"*2\r\n$1\r\na\r\n:7\r\n"),
            Reply::Array(Some(vec![Reply::Bulk(Some(b"a")), Reply::Int(7)]))
        );
    }

    #[test]
    fn bulk_may_contain_crlf() {
        assert_eq!(one(b"$4\r\na\r\nb\r\n"), Reply::Bulk(Some(b"a\r\nb")));
    }

    #[test]
    fn every_prefix_needs_more() {
        let whole: &[u8] = b"*3\r\n+OK\r\n$5\r\nhello\r\n*1\r\n:1\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse(&whole[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        assert!(parse(whole).unwrap().is_some());
    }

    #[test]
    fn stops_after_the_first_reply() {
        let (r, used) = parse(b"+OK\r\n$1\r\nx\r\n").unwrap().unwrap();
        assert_eq!(r, Reply::Simple(b"OK"));
        assert_eq!(used, 5);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse(b"?x\r\n"), Err(ReplyError::BadType(b'?')));
        assert_eq!(parse(b":12a\r\n"), Err(ReplyError::BadNumber));
        // Found by fuzz/lb_protocol: the LB's probe took `$+2` for a bulk.
        for odd in [
            &b"$+2\r\nab\r\n"[..],
            b"$02\r\nab\r\n",
            b":+1\r\n",
            b":-0\r\n",
            b"*01\r\n:1\r\n",
        ] {
            assert_eq!(parse(odd), Err(ReplyError::BadNumber), "{odd:?}");
        }
        assert_eq!(parse(b"$-5\r\n"), Err(ReplyError::BadNumber));
        assert_eq!(parse(b"$2\r\nabcd\r\n"), Err(ReplyError::MissingCrlf));
        assert_eq!(parse(b"*1\r\n?\r\n"), Err(ReplyError::BadType(b'?')));
        // A header ended by a bare LF is not RESP.
        assert_eq!(parse(b":1\n"), Err(ReplyError::MissingCrlf));
        assert_eq!(parse(b"\n"), Err(ReplyError::BadType(b'\n')));
    }

    #[test]
    fn commands_are_arrays_of_bulks() {
        let mut o = Vec::new();
        command(&mut o, &[b"SET", b"k", b"a\r\nb"]);
        assert_eq!(o, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
    }

    #[test]
    fn headers_come_before_their_bodies() {
        let head = |b| parse_header(b).unwrap().unwrap();
        assert_eq!(head(b"+OK\r\n"), (Header::Simple(b"OK"), 5));
        assert_eq!(head(b"-ERR x\r\n"), (Header::Error(b"ERR x"), 8));
        assert_eq!(head(b":-3\r\n"), (Header::Int(-3), 5));
        assert_eq!(head(b"$-1\r\n"), (Header::Bulk(None), 5));
        assert_eq!(head(b"*-1\r\n"), (Header::Array(None), 5));
        assert_eq!(head(b"*2\r\n:1\r\n"), (Header::Array(Some(2)), 4));
        // The body need not be there: this is how a client refuses a bulk
        // too large to buffer before any of it arrives.
        assert_eq!(
            head(b"$1000000000\r\n"),
            (Header::Bulk(Some(1_000_000_000)), 13)
        );
        assert_eq!(parse_header(b""), Ok(None));
        assert_eq!(parse_header(b"$12\r"), Ok(None));
        assert_eq!(parse_header(b"?"), Err(ReplyError::BadType(b'?')));
        assert_eq!(parse_header(b"$-2\r\n"), Err(ReplyError::BadNumber));
        assert_eq!(parse_header(b"*x\r\n"), Err(ReplyError::BadNumber));
        assert_eq!(parse_header(b"+OK\n"), Err(ReplyError::MissingCrlf));
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(&deep), Err(ReplyError::TooDeep));
    }
}
