//! The bit commands' arithmetic (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP) as
//! pure functions over byte strings, with Redis 7.0's exact rules for
//! negative indexes, clamping and the BYTE|BIT unit, plus the argument
//! checks whose error texts are specific to these commands.
//!
//! Bit 0 is the most significant bit of the first byte, as in Redis. A
//! missing key reads as the empty string everywhere except BITPOS, whose
//! answer for a missing key is [`bitpos_missing`] (Redis treats a missing
//! key as an endless run of zeros there, but an empty string as empty).

use super::parse_i64;

/// An argument of a bit command that Redis refuses, with its reply text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BitError {
    /// A bit offset that is not an integer, is negative, or addresses a
    /// byte at or past `proto-max-bulk-len`.
    #[error("ERR bit offset is not an integer or out of range")]
    Offset,
    /// A SETBIT value other than 0 or 1.
    #[error("ERR bit is not an integer or out of range")]
    Value,
    /// A BITPOS bit argument that is not an integer.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// A BITPOS bit argument that is an integer other than 0 or 1.
    #[error("ERR The bit argument must be 1 or 0.")]
    PosBit,
    /// BITOP NOT with other than one source key.
    #[error("ERR BITOP NOT must be called with a single source key.")]
    NotArity,
}

/// Parse a GETBIT/SETBIT offset as Redis's `getBitOffsetFromArgument` does
/// for those commands: a strict integer (no `+`, blanks or leading zeros),
/// not negative, whose byte (`offset / 8`) is below `max_bulk` (the node's
/// `proto-max-bulk-len`, 512 MiB by default, so offsets up to 2^32 - 1).
/// The `#N` form belongs to BITFIELD only and is refused here.
///
/// # Errors
/// [`BitError::Offset`].
pub fn parse_bit_offset(arg: &[u8], max_bulk: usize) -> Result<u64, BitError> {
    let n = parse_i64(arg).ok_or(BitError::Offset)?;
    if n < 0 || (n >> 3) as u64 >= max_bulk as u64 {
        return Err(BitError::Offset);
    }
    Ok(n as u64)
}

/// Parse SETBIT's value: the integer 0 or 1.
///
/// # Errors
/// [`BitError::Value`] for anything else, integer or not.
pub fn parse_bit_value(arg: &[u8]) -> Result<u8, BitError> {
    match parse_i64(arg) {
        Some(0) => Ok(0),
        Some(1) => Ok(1),
        _ => Err(BitError::Value),
    }
}

/// Parse BITPOS's bit argument: the integer 0 or 1.
///
/// # Errors
/// [`BitError::NotInteger`] when it is not an integer, [`BitError::PosBit`]
/// when it is another integer.
pub fn parse_bitpos_bit(arg: &[u8]) -> Result<u8, BitError> {
    match parse_i64(arg).ok_or(BitError::NotInteger)? {
        0 => Ok(0),
        1 => Ok(1),
        _ => Err(BitError::PosBit),
    }
}

/// The unit of a BITCOUNT/BITPOS range (Redis 7's `BYTE|BIT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Indexes count bytes (the default).
    Byte,
    /// Indexes count bits.
    Bit,
}

impl Unit {
    /// `BYTE` or `BIT`, any case; `None` is Redis's syntax error.
    pub fn parse(arg: &[u8]) -> Option<Unit> {
        if arg.eq_ignore_ascii_case(b"byte") {
            Some(Unit::Byte)
        } else if arg.eq_ignore_ascii_case(b"bit") {
            Some(Unit::Bit)
        } else {
            None
        }
    }
}

/// GETBIT: the bit at `offset`; 0 past the end.
pub fn getbit(v: &[u8], offset: u64) -> u8 {
    match usize::try_from(offset >> 3).ok().and_then(|i| v.get(i)) {
        Some(byte) => (byte >> (7 - (offset & 7))) & 1,
        None => 0,
    }
}

/// SETBIT on a value: grow it with zero bytes so `offset` exists, set the
/// bit to `bit` (any non-zero counts as 1) and return the bit it replaced.
///
/// # Panics
/// When `offset / 8` does not fit in `usize`; offsets that passed
/// [`parse_bit_offset`] always do.
pub fn setbit_in(v: &mut Vec<u8>, offset: u64, bit: u8) -> u8 {
    let byte = usize::try_from(offset >> 3).expect("bit offset checked by parse_bit_offset");
    if byte >= v.len() {
        // Exact, not amortized: the shard stores values as boxed slices,
        // so spare capacity would only be reallocated away afterwards.
        v.reserve_exact(byte + 1 - v.len());
        v.resize(byte + 1, 0);
    }
    let mask = 0x80u8 >> (offset & 7);
    let old = u8::from(v[byte] & mask != 0);
    if bit != 0 {
        v[byte] |= mask;
    } else {
        v[byte] &= !mask;
    }
    old
}

/// Turn a Redis range into an inclusive `[start, end]` within `total`
/// positions, as BITCOUNT and BITPOS do: negative indexes count from the
/// end, both ends clamp at 0, the end clamps at `total - 1`. An empty result
/// comes back with `start > end`.
fn clamp_range(mut start: i64, mut end: i64, total: i64) -> (i64, i64) {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start, end)
}

/// `v.len()` in `unit`s. A string's length is far below `i64::MAX / 8`
/// (Redis asserts as much), so neither the cast nor the product overflows
/// in practice; saturating keeps the arithmetic defined regardless.
fn total_len(v: &[u8], unit: Unit) -> i64 {
    let bytes = i64::try_from(v.len()).unwrap_or(i64::MAX);
    match unit {
        Unit::Byte => bytes,
        Unit::Bit => bytes.saturating_mul(8),
    }
}

fn popcount(v: &[u8]) -> u64 {
    let words = v.chunks_exact(8);
    let tail = words.remainder();
    let in_words: u64 = words
        .map(|w| u64::from(u64::from_ne_bytes(w.try_into().expect("chunk of 8")).count_ones()))
        .sum();
    in_words + tail.iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

/// BITCOUNT: the set bits of `v`, or of the inclusive `(start, end, unit)`
/// range. Redis's rules: when both ends are negative and `start > end` the
/// answer is 0 before any clamping (so `-10 -20` on a short string is 0, not
/// the count of its first byte); otherwise negative ends count from the end,
/// then both clamp into the string, and an empty range counts 0.
pub fn bitcount(v: &[u8], range: Option<(i64, i64, Unit)>) -> u64 {
    let Some((start, end, unit)) = range else {
        return popcount(v);
    };
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    let (start, end) = clamp_range(start, end, total_len(v, unit));
    if start > end {
        return 0;
    }
    let (start, end) = (start as usize, end as usize);
    match unit {
        Unit::Byte => popcount(&v[start..=end]),
        Unit::Bit => {
            let (first, last) = (start >> 3, end >> 3);
            let all = popcount(&v[first..=last]);
            // Bits of the edge bytes that lie outside the range.
            let before = v[first] & !(0xffu8 >> (start & 7));
            let after = v[last] & (0x7fu8 >> (end & 7));
            all - u64::from(before.count_ones()) - u64::from(after.count_ones())
        }
    }
}

/// The range arguments of BITPOS, in the three shapes Redis accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitposRange {
    /// `BITPOS key bit`: the whole string.
    All,
    /// `BITPOS key bit start`: from a byte index to the end (no unit can be
    /// given without an end).
    From(i64),
    /// `BITPOS key bit start end [BYTE|BIT]`.
    Between(i64, i64, Unit),
}

/// BITPOS on an existing string: the position (in bits, from the start of
/// the string) of the first bit equal to `bit` (any non-zero counts as 1)
/// within the range, or -1 when there is none. The rules, as Redis 7.0:
/// - indexes are clamped as in [`bitcount`] but without its shortcut for a
///   crossed pair of negative ends, so `-10 -20` on a 6-byte string
///   searches byte 0 as Redis does; an empty range, which includes every
///   range of an empty string, is -1 for either bit;
/// - looking for a 0 in a range that has none gives -1 when an end was
///   given, but when it was not ([`BitposRange::All`] / [`BitposRange::From`])
///   the string counts as padded with zeros on the right, so the answer is
///   the string's length in bits.
///
/// A missing key is not an empty string here: see [`bitpos_missing`].
pub fn bitpos(v: &[u8], bit: u8, range: BitposRange) -> i64 {
    let bit = bit != 0;
    let (start, end, unit, end_given) = match range {
        BitposRange::All => (0, total_len(v, Unit::Byte) - 1, Unit::Byte, false),
        BitposRange::From(s) => (s, total_len(v, Unit::Byte) - 1, Unit::Byte, false),
        BitposRange::Between(s, e, u) => (s, e, u, true),
    };
    let (start, end) = clamp_range(start, end, total_len(v, unit));
    if start > end {
        return -1;
    }
    let (first_bit, last_bit) = match unit {
        Unit::Byte => (start as u64 * 8, end as u64 * 8 + 7),
        Unit::Bit => (start as u64, end as u64),
    };
    match find_bit(v, bit, first_bit, last_bit) {
        Some(pos) => pos as i64,
        None if !bit && !end_given => (last_bit + 1) as i64,
        None => -1,
    }
}

/// BITPOS's answer for a missing key: Redis reads it as endless zeros,
/// whatever the range, so the first 0 is at 0 and there is no 1.
pub fn bitpos_missing(bit: u8) -> i64 {
    if bit != 0 {
        -1
    } else {
        0
    }
}

/// The first bit equal to `bit` in the inclusive bit range, which lies
/// within `v`.
fn find_bit(v: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
    // Bits set where a byte matches; the edge masks drop bits outside the
    // range.
    let matches = |i: usize| if bit { v[i] } else { !v[i] };
    let head = matches(fb) & (0xff >> (first & 7));
    let head = if fb == lb {
        head & !(0x7f >> (last & 7))
    } else {
        head
    };
    if head != 0 {
        return Some(fb as u64 * 8 + u64::from(head.leading_zeros()));
    }
    if fb == lb {
        return None;
    }
    let no_match = if bit { 0x00 } else { 0xff };
    if let Some(k) = v[fb + 1..lb].iter().position(|&b| b != no_match) {
        let i = fb + 1 + k;
        return Some(i as u64 * 8 + u64::from(matches(i).leading_zeros()));
    }
    let tail = matches(lb) & !(0x7f >> (last & 7));
    (tail != 0).then(|| lb as u64 * 8 + u64::from(tail.leading_zeros()))
}

/// A BITOP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    /// Bitwise AND of all sources.
    And,
    /// Bitwise OR of all sources.
    Or,
    /// Bitwise XOR of all sources.
    Xor,
    /// Bitwise NOT of the single source.
    Not,
}

impl BitOp {
    /// `AND`, `OR`, `XOR` or `NOT`, any case; `None` is Redis's syntax
    /// error (Redis 7.0 has no DIFF, DIFF1, ANDOR or ONE).
    pub fn parse(arg: &[u8]) -> Option<BitOp> {
        [
            (&b"and"[..], BitOp::And),
            (b"or", BitOp::Or),
            (b"xor", BitOp::Xor),
            (b"not", BitOp::Not),
        ]
        .into_iter()
        .find(|(name, _)| arg.eq_ignore_ascii_case(name))
        .map(|(_, op)| op)
    }

    /// Check the number of source keys. Redis does this before looking any
    /// key up, so the command layer calls it then too.
    ///
    /// # Errors
    /// [`BitError::NotArity`] for NOT with other than one source.
    pub fn check_sources(self, n: usize) -> Result<(), BitError> {
        if self == BitOp::Not && n != 1 {
            return Err(BitError::NotArity);
        }
        Ok(())
    }
}

/// BITOP: the result of `op` over the sources (a missing key is an empty
/// string). The result is as long as the longest source, shorter ones
/// counting as padded with zero bytes, so AND with a missing key is all
/// zeros, not empty. An empty result means Redis deletes the destination.
///
/// # Errors
/// [`BitError::NotArity`] as [`BitOp::check_sources`].
pub fn bitop(op: BitOp, srcs: &[&[u8]]) -> Result<Vec<u8>, BitError> {
    op.check_sources(srcs.len())?;
    let Some((first, rest)) = srcs.split_first() else {
        return Ok(Vec::new());
    };
    let max = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = Vec::with_capacity(max);
    out.extend_from_slice(first);
    out.resize(max, 0);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in rest {
                out.iter_mut().zip(s.iter()).for_each(|(o, b)| *o &= b);
                // Past a shorter source its padding zeros clear the rest.
                out[s.len()..].fill(0);
            }
        }
        BitOp::Or => {
            for s in rest {
                out.iter_mut().zip(s.iter()).for_each(|(o, b)| *o |= b);
            }
        }
        BitOp::Xor => {
            for s in rest {
                out.iter_mut().zip(s.iter()).for_each(|(o, b)| *o ^= b);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
