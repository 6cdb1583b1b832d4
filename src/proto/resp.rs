//! RESP2 request parsing: multibulk arrays and inline commands.
//!
//! The parser never copies: it records each argument as a byte range into the
//! caller's buffer, so a pipelined read of many commands costs one scan.

use super::ProtoError;
use std::ops::Range;

/// Size limits, as Redis's `proto-max-bulk-len` and friends.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk string accepted (Redis: 512 MiB).
    pub max_bulk: usize,
    /// Most elements in one request array (Redis rejects over 1024*1024*1024;
    /// we default lower because each element costs a range).
    pub max_args: usize,
    /// Longest inline command line (Redis: 64 KiB).
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_inline: 64 * 1024,
        }
    }
}

/// Longest `*<n>\r\n` / `$<n>\r\n` header we wait for before calling it junk.
const MAX_HEADER: usize = 32;

/// Parse one request from the front of `buf`.
///
/// On success returns the number of bytes consumed and fills `args` with the
/// argument ranges (cleared first). An empty `args` with a non-zero count is a
/// blank inline line or `*0`, which Redis silently skips. `Ok(None)` means the
/// request is incomplete.
///
/// # Errors
/// A [`ProtoError`] when the bytes cannot be a valid request.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtoError> {
    args.clear();
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf, limits, args),
        Some(_) => parse_inline(buf, limits, args),
    }
}

/// Find `\r\n` in `buf[from..]`, returning the index of `\r`.
#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i + 1..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                let nl = i + 1 + p;
                if buf[nl - 1] == b'\r' {
                    return Some(nl - 1);
                }
                i = nl;
            }
            None => return None,
        }
    }
    None
}

/// Parse the decimal number of a `*` / `$` header; `None` if not a number.
#[inline]
fn parse_len(digits: &[u8]) -> Option<i64> {
    let (neg, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if neg { -n } else { n })
}

/// Read a header line starting at `pos` (which holds the type byte).
/// Returns `(value, index after CRLF)`.
fn header(buf: &[u8], pos: usize, bad: ProtoError) -> Result<Option<(i64, usize)>, ProtoError> {
    let Some(cr) = find_crlf(buf, pos + 1) else {
        if buf.len() - pos > MAX_HEADER {
            return Err(ProtoError::HeaderTooLong);
        }
        return Ok(None);
    };
    if cr - pos > MAX_HEADER {
        return Err(ProtoError::HeaderTooLong);
    }
    match parse_len(&buf[pos + 1..cr]) {
        Some(n) => Ok(Some((n, cr + 2))),
        None => Err(bad),
    }
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtoError> {
    let Some((count, mut pos)) = header(buf, 0, ProtoError::InvalidMultibulkLength)? else {
        return Ok(None);
    };
    // Redis treats `*-1` and `*0` as "nothing to do".
    if count <= 0 {
        return Ok(Some(pos));
    }
    if count as u64 > limits.max_args as u64 {
        return Err(ProtoError::InvalidMultibulkLength);
    }
    for _ in 0..count {
        let Some(&tag) = buf.get(pos) else {
            return Ok(None);
        };
        if tag != b'$' {
            return Err(ProtoError::ExpectedDollar(tag as char));
        }
        let Some((len, body)) = header(buf, pos, ProtoError::InvalidBulkLength)? else {
            return Ok(None);
        };
        if len < 0 || len as u64 > limits.max_bulk as u64 {
            return Err(ProtoError::InvalidBulkLength);
        }
        let end = body + len as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtoError::MissingCrlf);
        }
        args.push(body..end);
        pos = end + 2;
    }
    Ok(Some(pos))
}

/// Inline commands: one line, arguments split on blanks, with Redis's
/// quoting rules (`"..."` with escapes, `'...'` literal).
fn parse_inline(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtoError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline {
            return Err(ProtoError::InlineTooLong);
        }
        return Ok(None);
    };
    if nl > limits.max_inline {
        return Err(ProtoError::InlineTooLong);
    }
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    split_inline(&buf[..line_end], args)?;
    Ok(Some(nl + 1))
}

/// Split an inline line into ranges. Backslash escapes inside double quotes
/// (`"\x41\n"`) would need decoding into a new buffer, which ranges into the
/// input cannot express, so they are kept literally — a known difference
/// from Redis's `sdssplitargs`. `redis-cli` never sends inline commands and
/// telnet users rarely need escapes; plain and quoted forms work as in Redis.
fn split_inline(line: &[u8], args: &mut Vec<Range<usize>>) -> Result<(), ProtoError> {
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let quote = line[i];
        if quote == b'"' || quote == b'\'' {
            let start = i + 1;
            let Some(len) = line[start..].iter().position(|&b| b == quote) else {
                return Err(ProtoError::UnbalancedQuotes);
            };
            let end = start + len;
            // A closing quote must be followed by a blank or the end, as in Redis.
            if end + 1 < line.len() && !line[end + 1].is_ascii_whitespace() {
                return Err(ProtoError::UnbalancedQuotes);
            }
            args.push(start..end);
            i = end + 1;
        } else {
            let start = i;
            while i < line.len() && !line[i].is_ascii_whitespace() {
                i += 1;
            }
            args.push(start..i);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(usize, Vec<Vec<u8>>)>, ProtoError>;

    fn parse(buf: &[u8]) -> Parsed {
        let mut args = Vec::new();
        let r = parse_request(buf, &Limits::default(), &mut args)?;
        Ok(r.map(|n| (n, args.iter().map(|r| buf[r.clone()].to_vec()).collect())))
    }

    #[test]
    fn table() {
        type Case = (
            &'static [u8],
            Result<Option<(usize, Vec<&'static [u8]>)>, ProtoError>,
        );
        let cases: Vec<Case> = vec![
            (b"*1\r\n$4\r\nPING\r\n", Ok(Some((14, vec![b"PING"])))),
            (
                b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
                Ok(Some((20, vec![b"GET", b"k"]))),
            ),
            (b"*2\r\n$3\r\nGET\r\n$1\r\nk", Ok(None)),
            (b"*2\r\n$3\r\nGET\r\n", Ok(None)),
            (b"*2\r", Ok(None)),
            (b"*0\r\n", Ok(Some((4, vec![])))),
            (b"*-1\r\n", Ok(Some((5, vec![])))),
            (b"*x\r\n", Err(ProtoError::InvalidMultibulkLength)),
            (b"*1\r\n$-1\r\n", Err(ProtoError::InvalidBulkLength)),
            (b"*1\r\n$abc\r\n", Err(ProtoError::InvalidBulkLength)),
            (b"*1\r\n+PING\r\n", Err(ProtoError::ExpectedDollar('+'))),
            (b"*1\r\n$4\r\nPINGxx", Err(ProtoError::MissingCrlf)),
            (b"*1\r\n$0\r\n\r\n", Ok(Some((10, vec![b""])))),
            (b"PING\r\n", Ok(Some((6, vec![b"PING"])))),
            (b"SET  k   v\n", Ok(Some((11, vec![b"SET", b"k", b"v"])))),
            (
                b"SET k \"a b\"\r\n",
                Ok(Some((13, vec![b"SET", b"k", b"a b"]))),
            ),
            (b"SET k \"a b\r\n", Err(ProtoError::UnbalancedQuotes)),
            (b"\r\n", Ok(Some((2, vec![])))),
            (b"PIN", Ok(None)),
        ];
        for (input, want) in cases {
            let got = parse(input);
            let want =
                want.map(|o| o.map(|(n, v)| (n, v.into_iter().map(<[u8]>::to_vec).collect())));
            assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_bulk: 4,
            max_args: 2,
            max_inline: 8,
        };
        let mut a = Vec::new();
        assert_eq!(
            parse_request(b"*1\r\n$5\r\nhello\r\n", &limits, &mut a),
            Err(ProtoError::InvalidBulkLength)
        );
        assert_eq!(
            parse_request(b"*3\r\n", &limits, &mut a),
            Err(ProtoError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_request(b"PING PING PING", &limits, &mut a),
            Err(ProtoError::InlineTooLong)
        );
        assert_eq!(
            parse_request(&[b'*'; 40], &limits, &mut a),
            Err(ProtoError::HeaderTooLong)
        );
    }

    #[test]
    fn pipelined_requests_parse_one_at_a_time() {
        let buf = b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
        let (n, args) = parse(buf).unwrap().unwrap();
        assert_eq!(args, vec![b"PING".to_vec()]);
        let (m, args) = parse(&buf[n..]).unwrap().unwrap();
        assert_eq!(args, vec![b"ECHO".to_vec(), b"hi".to_vec()]);
        assert_eq!(n + m, buf.len());
    }

    #[test]
    fn binary_bulk_is_kept_verbatim() {
        let buf = b"*1\r\n$4\r\n\x00\r\n\xff\r\n";
        let (_, args) = parse(buf).unwrap().unwrap();
        assert_eq!(args, vec![b"\x00\r\n\xff".to_vec()]);
    }
}
