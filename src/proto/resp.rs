//! RESP2 request parsing: multibulk arrays and inline commands.
//!
//! A multibulk request is never copied: each argument is a byte range into
//! the caller's buffer, so a pipelined read of many commands costs one scan.
//! An inline command (telnet) is unquoted and unescaped as Redis's
//! `sdssplitargs` does, into a small buffer of its own.
//!
//! A request that arrives over many reads (a 7 MB SET in 4 KiB pieces, an
//! MSET of 100,000 keys) is parsed by a [`RequestParser`], which keeps its
//! place between reads: the arguments delimited so far, the bulk length it
//! waits for, how much of an inline line holds no newline. So each byte is
//! examined once however the request is split, where parsing from the
//! request's start on every read ([`parse_request`]) costs O(size² / read
//! size) for a request of many arguments.

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

/// Parse one request from the front of `buf`, from scratch.
///
/// On success returns the number of bytes consumed and fills `args` (cleared
/// first); read them with [`Args::iter`] over the same `buf`. An empty `args` with a non-zero count is a
/// blank inline line or `*0`, which Redis silently skips. `Ok(None)` means the
/// request is incomplete. A caller that reads a connection and calls this
/// again on every read re-reads the partial request each time; such callers
/// keep a [`RequestParser`] instead.
///
/// # Errors
/// A [`ProtoError`] when the bytes cannot be a valid request.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    args: &mut Args,
) -> Result<Option<usize>, ProtoError> {
    args.clear();
    match advance(&mut Place::Start, buf, limits, &mut args.ranges)? {
        None => Ok(None),
        Some(Done::Multibulk(n)) => Ok(Some(n)),
        Some(Done::Inline { used, line }) => {
            split_inline(&buf[..line], args)?;
            Ok(Some(used))
        }
    }
}

/// A request parser that keeps its place in a request that has not fully
/// arrived, so each byte of it is looked at once however it is split
/// between reads.
///
/// Call [`parse`](Self::parse) with the unparsed bytes of a connection,
/// starting at a request's first byte. After `Ok(None)` the next call must
/// pass the same request again, with whatever arrived since appended; the
/// bytes may have moved (the caller compacting or growing its buffer), as
/// every position kept here is relative to the request's first byte.
#[derive(Default, Debug)]
pub struct RequestParser {
    place: Place,
    /// The arguments of a multibulk request in progress, delimited so far.
    ranges: Vec<Range<usize>>,
}

/// How far into the request at the front of the buffer a parser got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Place {
    /// At a request boundary (or inside a `*` header, which is re-read: it
    /// is at most [`MAX_HEADER`] bytes).
    #[default]
    Start,
    /// Inside a multibulk request, the `*` header read: `left` elements
    /// still to come, the next at `pos`. `bulk` is `None` while its `$`
    /// header (at most [`MAX_HEADER`] bytes, re-read) has not fully arrived,
    /// else the length of its data, which starts at `pos`.
    Multibulk {
        left: usize,
        pos: usize,
        bulk: Option<usize>,
    },
    /// Inside an inline line: its first `scanned` bytes hold no newline.
    Inline { scanned: usize },
}

/// A request that [`advance`] found complete.
enum Done {
    /// A multibulk request of this many bytes, its arguments delimited.
    Multibulk(usize),
    /// An inline line taking `used` bytes, `line` of them before its
    /// terminator; not yet split into arguments.
    Inline { used: usize, line: usize },
}

impl RequestParser {
    /// Parse the request at the front of `buf`, resuming where the last call
    /// stopped if that one returned `Ok(None)`.
    ///
    /// On success returns the bytes the request takes and fills `args`
    /// (cleared first), as [`parse_request`] does; `Ok(None)` means the
    /// request is incomplete, and leaves `args` as it was.
    ///
    /// # Errors
    /// A [`ProtoError`] when the bytes cannot be a valid request; the parser
    /// is then back at a request boundary.
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        args: &mut Args,
    ) -> Result<Option<usize>, ProtoError> {
        match advance(&mut self.place, buf, limits, &mut self.ranges)? {
            None => Ok(None),
            Some(Done::Multibulk(n)) => {
                args.clear();
                // Hand over the ranges and keep the old allocation for the
                // next request.
                std::mem::swap(&mut args.ranges, &mut self.ranges);
                Ok(Some(n))
            }
            Some(Done::Inline { used, line }) => {
                args.clear();
                split_inline(&buf[..line], args)?;
                Ok(Some(used))
            }
        }
    }

    /// Whether the parser is inside a request (the last call returned
    /// `Ok(None)` after reading some of it).
    pub fn in_request(&self) -> bool {
        self.place != Place::Start
    }

    /// The data of the bulk string the parser waits for, as a range from the
    /// request's first byte (its CRLF follows): so a reader can make room
    /// for all of a big one at once.
    pub fn awaited_bulk(&self) -> Option<Range<usize>> {
        match self.place {
            Place::Multibulk {
                pos,
                bulk: Some(len),
                ..
            } => Some(pos..pos + len),
            _ => None,
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Bytes the parser examined, counted in tests to show that a request
    /// split over many reads is read once (see `examined_once`).
    static EXAMINED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[inline(always)]
fn examined(_n: usize) {
    #[cfg(test)]
    EXAMINED.with(|c| c.set(c.get() + _n));
}

/// Parse from `place` as far as `buf` goes. On `Ok(None)` `place` says where
/// to resume; otherwise it is back at [`Place::Start`]. Multibulk arguments
/// are appended to `ranges` as each one completes.
fn advance(
    place: &mut Place,
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<Range<usize>>,
) -> Result<Option<Done>, ProtoError> {
    let r = match *place {
        Place::Start => match buf.first() {
            None => Ok(None),
            Some(b'*') => start_multibulk(place, buf, limits, ranges),
            Some(_) => inline(place, buf, 0, limits),
        },
        Place::Multibulk { left, pos, bulk } => {
            elements(place, buf, limits, ranges, left, pos, bulk)
        }
        Place::Inline { scanned } => inline(place, buf, scanned, limits),
    };
    if !matches!(r, Ok(None)) {
        *place = Place::Start;
    }
    r
}

/// Find `\r\n` in `buf[from..]`, returning the index of `\r`.
#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i + 1..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                let nl = i + 1 + p;
                examined(nl - i);
                if buf[nl - 1] == b'\r' {
                    return Some(nl - 1);
                }
                i = nl;
            }
            None => {
                examined(buf.len() - i);
                return None;
            }
        }
    }
    None
}

/// Parse the decimal number of a `*` / `$` header; `None` if not a number.
#[inline]
fn parse_len(digits: &[u8]) -> Option<i64> {
    examined(digits.len());
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
#[inline]
fn header(buf: &[u8], pos: usize, bad: ProtoError) -> Result<Option<(i64, usize)>, ProtoError> {
    // Nearly every header is a few digits and CRLF: read those in one pass.
    // Anything else (a sign, a stray byte, a header not yet complete) takes
    // the general path below, which gives the same answer for these too.
    let mut n: i64 = 0;
    let mut i = pos + 1;
    while let Some(&d) = buf.get(i) {
        if !d.is_ascii_digit() || i - pos > 18 {
            break;
        }
        n = n * 10 + i64::from(d - b'0');
        i += 1;
    }
    if i > pos + 1 && buf.get(i) == Some(&b'\r') && buf.get(i + 1) == Some(&b'\n') {
        examined(i + 2 - pos);
        return Ok(Some((n, i + 2)));
    }
    header_slow(buf, pos, bad)
}

/// [`header`] for any bytes.
#[cold]
fn header_slow(
    buf: &[u8],
    pos: usize,
    bad: ProtoError,
) -> Result<Option<(i64, usize)>, ProtoError> {
    let Some(cr) = find_crlf(buf, pos + 1) else {
        // The header's `\r` may be the last byte here, its `\n` still to
        // come: only past that is the line surely longer than a header may
        // be, so a header is refused the same however its bytes arrive.
        if buf.len() - pos > MAX_HEADER + 1 {
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

/// The `*<count>` header of a multibulk request, then its elements.
fn start_multibulk(
    place: &mut Place,
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<Range<usize>>,
) -> Result<Option<Done>, ProtoError> {
    let Some((count, pos)) = header(buf, 0, ProtoError::InvalidMultibulkLength)? else {
        return Ok(None);
    };
    // Redis treats `*-1` and `*0` as "nothing to do".
    if count <= 0 {
        return Ok(Some(Done::Multibulk(pos)));
    }
    if count as u64 > limits.max_args as u64 {
        return Err(ProtoError::InvalidMultibulkLength);
    }
    ranges.clear();
    elements(place, buf, limits, ranges, count as usize, pos, None)
}

/// The elements of a multibulk request, `left` of them from `pos`; when
/// `bulk` is given, the header of the first was read and its data of that
/// many bytes starts at `pos`. Where it stops is saved in `place`.
fn elements(
    place: &mut Place,
    buf: &[u8],
    limits: &Limits,
    ranges: &mut Vec<Range<usize>>,
    mut left: usize,
    mut pos: usize,
    mut bulk: Option<usize>,
) -> Result<Option<Done>, ProtoError> {
    while left > 0 {
        let len = match bulk.take() {
            Some(len) => len,
            None => {
                let Some(&tag) = buf.get(pos) else {
                    break;
                };
                if tag != b'$' {
                    return Err(ProtoError::ExpectedDollar(tag as char));
                }
                let Some((len, body)) = header(buf, pos, ProtoError::InvalidBulkLength)? else {
                    break;
                };
                if len < 0 || len as u64 > limits.max_bulk as u64 {
                    return Err(ProtoError::InvalidBulkLength);
                }
                pos = body;
                len as usize
            }
        };
        let end = pos + len;
        if buf.len() < end + 2 {
            bulk = Some(len);
            break;
        }
        examined(2);
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtoError::MissingCrlf);
        }
        ranges.push(pos..end);
        pos = end + 2;
        left -= 1;
    }
    if left > 0 {
        *place = Place::Multibulk { left, pos, bulk };
        return Ok(None);
    }
    Ok(Some(Done::Multibulk(pos)))
}

/// Inline commands: one line, arguments split on blanks, with Redis's
/// quoting rules (`"..."` with escapes, `'...'` literal). The first
/// `scanned` bytes are known to hold no newline.
fn inline(
    place: &mut Place,
    buf: &[u8],
    scanned: usize,
    limits: &Limits,
) -> Result<Option<Done>, ProtoError> {
    let Some(p) = buf[scanned..].iter().position(|&b| b == b'\n') else {
        examined(buf.len() - scanned);
        if buf.len() > limits.max_inline {
            return Err(ProtoError::InlineTooLong);
        }
        *place = Place::Inline { scanned: buf.len() };
        return Ok(None);
    };
    examined(p + 1);
    let nl = scanned + p;
    if nl > limits.max_inline {
        return Err(ProtoError::InlineTooLong);
    }
    let line = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Ok(Some(Done::Inline { used: nl + 1, line }))
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
    examined(line.len());
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
mod tests;
