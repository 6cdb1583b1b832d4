//! RESP2 request parsing: multibulk arrays and inline commands.
//!
//! A multibulk request is never copied: each argument is a byte range into
//! the caller's buffer, so a pipelined read of many commands costs one scan.
//! An inline command (telnet) is unquoted and unescaped as Redis's
//! `sdssplitargs` does, into a small buffer of its own.

use super::ProtoError;
use std::ops::Range;

/// The arguments of one parsed request: ranges into the request's bytes
/// (multibulk) or into `decoded` (inline). Reused across requests.
#[derive(Default, Debug, Clone)]
pub struct Args {
    /// One range per argument.
    pub ranges: Vec<Range<usize>>,
    /// An inline command's arguments after unquoting and unescaping.
    decoded: Vec<u8>,
    /// Whether `ranges` index `decoded` rather than the request.
    in_decoded: bool,
}

impl Args {
    /// Arguments given as ranges into the request itself.
    pub fn from_ranges(ranges: Vec<Range<usize>>) -> Self {
        Args {
            ranges,
            ..Args::default()
        }
    }

    /// Forget the arguments, keeping the allocations.
    pub fn clear(&mut self) {
        self.ranges.clear();
        self.decoded.clear();
        self.in_decoded = false;
    }

    /// No arguments (a blank line or `*0`).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Every argument, in order, of the request whose bytes start at `req`.
    pub fn iter<'a>(&'a self, req: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let base = if self.in_decoded {
            &self.decoded[..]
        } else {
            req
        };
        self.ranges.iter().map(move |r| &base[r.clone()])
    }
}

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
/// On success returns the number of bytes consumed and fills `args` (cleared
/// first); read them with [`Args::iter`] over the same `buf`. An empty `args` with a non-zero count is a
/// blank inline line or `*0`, which Redis silently skips. `Ok(None)` means the
/// request is incomplete.
///
/// # Errors
/// A [`ProtoError`] when the bytes cannot be a valid request.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    args: &mut Args,
) -> Result<Option<usize>, ProtoError> {
    args.clear();
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf, limits, &mut args.ranges),
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
fn parse_inline(buf: &[u8], limits: &Limits, args: &mut Args) -> Result<Option<usize>, ProtoError> {
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

/// Split an inline line into arguments as Redis's `sdssplitargs` does:
/// blanks separate arguments; `"..."` takes `\n \r \t \b \a`, `\xHH` and
/// `\<c>` escapes; `'...'` takes only `\'`; a quote may open mid-argument,
/// but a closing quote must end its argument. One deliberate difference: a
/// NUL byte is an ordinary byte here, where Redis (C strings) stops reading
/// the request at it and leaves the connection waiting.
fn split_inline(line: &[u8], args: &mut Args) -> Result<(), ProtoError> {
    // `isspace` in C, which also counts the vertical tab.
    let blank = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_whitespace() || c == 0x0b);
    // A closing quote must be followed by a blank or the end of the line.
    let ends_arg = |c: Option<u8>| c.is_none() || blank(c);
    let at = |i: usize| line.get(i).copied();
    args.in_decoded = true;
    let out = &mut args.decoded;
    let mut p = 0;
    loop {
        while blank(at(p)) {
            p += 1;
        }
        if at(p).is_none() {
            return Ok(());
        }
        let start = out.len();
        let (mut dq, mut sq) = (false, false);
        loop {
            let Some(c) = at(p) else {
                if dq || sq {
                    return Err(ProtoError::UnbalancedQuotes);
                }
                break;
            };
            if dq {
                let hex_pair = at(p + 2).and_then(hex).zip(at(p + 3).and_then(hex));
                match (c, at(p + 1), hex_pair) {
                    (b'\\', Some(b'x'), Some((hi, lo))) => {
                        out.push(hi * 16 + lo);
                        p += 3;
                    }
                    (b'\\', Some(e), _) => {
                        out.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        p += 1;
                    }
                    (b'"', next, _) => {
                        if !ends_arg(next) {
                            return Err(ProtoError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    _ => out.push(c),
                }
            } else if sq {
                match (c, at(p + 1)) {
                    (b'\\', Some(b'\'')) => {
                        out.push(b'\'');
                        p += 1;
                    }
                    (b'\'', next) => {
                        if !ends_arg(next) {
                            return Err(ProtoError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    _ => out.push(c),
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => dq = true,
                    b'\'' => sq = true,
                    _ => out.push(c),
                }
            }
            p += 1;
        }
        args.ranges.push(start..out.len());
    }
}

/// The value of one hex digit.
fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(usize, Vec<Vec<u8>>)>, ProtoError>;

    fn parse(buf: &[u8]) -> Parsed {
        let mut args = Args::default();
        let r = parse_request(buf, &Limits::default(), &mut args)?;
        Ok(r.map(|n| (n, args.iter(buf).map(<[u8]>::to_vec).collect())))
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
            (
                b"SET k \"a\\x41\\n\\\"\\q\"\r\n",
                Ok(Some((21, vec![b"SET", b"k", b"aA\n\"q"]))),
            ),
            (
                b"SET k 'it\\'s \\n'\n",
                Ok(Some((17, vec![b"SET", b"k", b"it's \\n"]))),
            ),
            (b"a\"b c\"d e\n", Err(ProtoError::UnbalancedQuotes)),
            (b"a\"b c\" e\n", Ok(Some((9, vec![b"ab c", b"e"])))),
            (b"SET k \"\"\n", Ok(Some((9, vec![b"SET", b"k", b""])))),
            (b"SET k \"a\"b\n", Err(ProtoError::UnbalancedQuotes)),
            (b"PING\x00junk\n", Ok(Some((10, vec![b"PING\x00junk"])))),
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
        let mut a = Args::default();
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
