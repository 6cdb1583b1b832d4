//! What the collection families (`hash`, `set`) share: reading or writing
//! a key's collection with the error reply written for them, and HSCAN /
//! SSCAN's cursor and options (ZSCAN's too), as Redis's
//! `scanGenericCommand` reads them.

use super::error::CmdError;
use super::spec::Ctx;
use super::{fail, int, store_fail};
use crate::proto::Reply;
use crate::store::{Typed, Write};

/// Run `f` on the `T` at `key` (a read lookup), or `missing` when there is
/// none; WRONGTYPE is answered for them.
pub fn read<T: Typed>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    w: &mut Reply<'_>,
    missing: impl FnOnce(&mut Reply<'_>),
    f: impl FnOnce(&T, &mut Reply<'_>),
) {
    match ctx.shard.read::<T>(key, ctx.now) {
        Ok(Some(t)) => f(t, w),
        Ok(None) => missing(w),
        Err(e) => store_fail(w, e),
    }
}

/// Run `f` on the `T` at `key` as a write (see [`Shard::modify`]): what
/// `f` returned, `Some(None)` for a missing key not created, or `None`
/// once the error (OOM, WRONGTYPE) is answered.
///
/// [`Shard::modify`]: crate::store::Shard::modify
pub fn write<T: Typed, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    how: Write,
    w: &mut Reply<'_>,
    f: impl FnOnce(&mut T) -> R,
) -> Option<Option<R>> {
    match ctx.shard.modify::<T, R>(key, how, ctx.now, f) {
        Ok(r) => Some(r),
        Err(e) => {
            store_fail(w, e);
            None
        }
    }
}

/// The cursor of HSCAN/SSCAN/ZSCAN, read as Redis's `strtoul` reads it
/// (`parseScanCursorOrReply`): an optional sign, then digits up to the
/// first NUL; empty is 0, a leading blank or anything else is refused, and
/// a negative number wraps.
pub fn cursor(arg: &[u8]) -> Option<u64> {
    let s = arg.split(|&b| b == 0).next().unwrap_or(arg);
    let (neg, digits) = match s.first() {
        None => return Some(0),
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().try_fold(0u64, |v, &d| {
        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// HRANDFIELD's and SRANDMEMBER's COUNT out of Redis's bounds
/// (`-LONG_MAX..=LONG_MAX`).
pub const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// Redis's reply to a cursor it cannot read.
pub const INVALID_CURSOR: &str = "ERR invalid cursor";

/// A collection scan's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanOpts<'a> {
    /// COUNT (10 by default): entries a step looks at, a hint.
    pub count: usize,
    /// MATCH, unless absent or `*`.
    pub pattern: Option<&'a [u8]>,
}

/// Parse `COUNT n` / `MATCH p` pairs (repeatable, the last wins), as
/// Redis does after it found the key: a COUNT that is no integer or below
/// 1, or any other word, fails.
pub fn scan_opts<'a>(opts: &[&'a [u8]]) -> Result<ScanOpts<'a>, CmdError> {
    let mut o = ScanOpts {
        count: 10,
        pattern: None,
    };
    let mut i = 0;
    while i < opts.len() {
        let (word, arg) = (opts[i], opts.get(i + 1));
        match arg {
            Some(n) if word.eq_ignore_ascii_case(b"count") => {
                let n = int(n)?;
                o.count = usize::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(CmdError::Syntax)?;
            }
            Some(p) if word.eq_ignore_ascii_case(b"match") => {
                o.pattern = (*p != b"*").then_some(*p);
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(o)
}

/// Write a scan step's reply: the next cursor as a bulk string, then the
/// elements (a hash's fields and values flat).
pub fn scan_reply(w: &mut Reply<'_>, next: u64, items: &[&[u8]]) {
    w.array(2);
    w.bulk(itoa::Buffer::new().format(next).as_bytes());
    w.array(items.len());
    for i in items {
        w.bulk(i);
    }
}

/// Redis's reply to a scan of a missing key.
pub fn empty_scan(w: &mut Reply<'_>) {
    scan_reply(w, 0, &[]);
}

/// Parse the scan options, answering the error if they are bad.
pub fn scan_opts_or_fail<'a>(opts: &[&'a [u8]], w: &mut Reply<'_>) -> Option<ScanOpts<'a>> {
    scan_opts(opts).map_err(|e| fail(w, e)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_as_strtoul_reads_them() {
        assert_eq!(cursor(b"0"), Some(0));
        assert_eq!(cursor(b""), Some(0));
        assert_eq!(cursor(b"+12"), Some(12));
        assert_eq!(cursor(b"-1"), Some(u64::MAX));
        assert_eq!(cursor(b"12\x00junk"), Some(12));
        assert_eq!(cursor(b" 1"), None);
        assert_eq!(cursor(b"1x"), None);
        assert_eq!(cursor(b"-"), None);
        assert_eq!(cursor(b"18446744073709551616"), None);
    }

    #[test]
    fn options_as_redis_reads_them() {
        let o = scan_opts(&[b"COUNT", b"5", b"match", b"a*", b"count", b"7"]).unwrap();
        assert_eq!(o.count, 7);
        assert_eq!(o.pattern, Some(&b"a*"[..]));
        assert_eq!(scan_opts(&[b"match", b"*"]).unwrap().pattern, None);
        assert_eq!(scan_opts(&[b"count", b"0"]), Err(CmdError::Syntax));
        assert_eq!(scan_opts(&[b"count", b"x"]), Err(CmdError::NotInteger));
        assert_eq!(scan_opts(&[b"count"]), Err(CmdError::Syntax));
        assert_eq!(scan_opts(&[b"type", b"x"]), Err(CmdError::Syntax));
    }
}
