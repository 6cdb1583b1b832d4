//! What every blocking command (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP,
//! BZPOPMIN, BZPOPMAX, BZMPOP) shares at the command layer: its timeout,
//! as Redis reads it, and the keys whose change may let it through.
//!
//! A blocking command is an ordinary [`Run::Shard`](super::Run::Shard) row
//! with [`Flags::BLOCKING`]: its handler does the non-blocking work (pop if
//! it can) and, finding nothing, writes its null reply, or nothing at all
//! when [`Ctx::may_block`](super::Ctx::may_block) is set, which is how
//! `node::blocking` learns to block the client. Inside MULTI the flag is
//! never set, so the command answers at once, as in Redis.

use super::spec::{Flags, Spec};
use crate::store::LongDouble;

/// Why a timeout argument is refused, with Redis's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutError {
    /// Not a number.
    #[error("ERR timeout is not a float or out of range")]
    NotFloat,
    /// Below zero.
    #[error("ERR timeout is negative")]
    Negative,
    /// Too far away to add to the clock.
    #[error("ERR timeout is out of range")]
    OutOfRange,
}

/// 2^63, the first double past `i64::MAX`.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// Unix time in ms well past this century (year 2109).
const CLOCK_BOUND: f64 = 4_398_046_511_104.0;

/// A blocking command's timeout argument in milliseconds, 0 for "forever",
/// as Redis's `getTimeoutFromObjectOrReply` reads seconds: any float Redis
/// takes (`0.1` is 100 ms), truncated to whole milliseconds.
///
/// # Errors
/// [`TimeoutError`], in Redis's order.
pub fn timeout_ms(arg: &[u8]) -> Result<u64, TimeoutError> {
    // Redis's own float reader decides what is a number; the value itself
    // then fits a double as well as Redis's long double for any timeout
    // that is not out of range.
    LongDouble::parse(arg).ok_or(TimeoutError::NotFloat)?;
    let secs: f64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(TimeoutError::NotFloat)?;
    let ms = (secs * 1000.0).trunc();
    // Redis casts to a long long: on x86 a value past its range becomes
    // LLONG_MIN, so a huge timeout is "negative" there too.
    if !(0.0..I64_LIMIT).contains(&ms) {
        return Err(TimeoutError::Negative);
    }
    // Redis then adds its clock (Unix ms) and refuses what overflows; any
    // clock of this century is below CLOCK_BOUND, so this is that check to
    // within a window no client meets.
    if ms >= I64_LIMIT - CLOCK_BOUND {
        return Err(TimeoutError::OutOfRange);
    }
    Ok(ms as u64)
}

/// Where a blocking command's timeout is: last, except for BLMPOP and
/// BZMPOP, which put it first.
pub fn timeout_arg<'a>(spec: &Spec, args: &[&'a [u8]]) -> Option<&'a [u8]> {
    debug_assert!(spec.flags.has(Flags::BLOCKING));
    match spec.name {
        "blmpop" | "bzmpop" => args.get(1).copied(),
        _ => args.last().copied(),
    }
}

/// The keys a blocked client waits on: every key of the command, except
/// that BLMOVE and BRPOPLPUSH wait only on their source.
pub fn wake_keys<'a>(spec: &Spec, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut keys: Vec<&[u8]> = spec
        .keys
        .positions(args)
        .into_iter()
        .flatten()
        .map(|p| args[p])
        .collect();
    if matches!(spec.name, "blmove" | "brpoplpush") {
        keys.truncate(1);
    }
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis_reads_them() {
        assert_eq!(timeout_ms(b"0"), Ok(0));
        assert_eq!(timeout_ms(b"1"), Ok(1000));
        assert_eq!(timeout_ms(b"0.1"), Ok(100));
        assert_eq!(timeout_ms(b"1.5e0"), Ok(1500));
        assert_eq!(timeout_ms(b"0.0009"), Ok(0));
        assert_eq!(timeout_ms(b"-1"), Err(TimeoutError::Negative));
        assert_eq!(timeout_ms(b"abc"), Err(TimeoutError::NotFloat));
        assert_eq!(timeout_ms(b""), Err(TimeoutError::NotFloat));
        assert_eq!(timeout_ms(b"1e300"), Err(TimeoutError::Negative));
        assert_eq!(
            timeout_ms(b"9223372036854770"),
            Err(TimeoutError::OutOfRange)
        );
        assert_eq!(timeout_ms(b"9223372036"), Ok(9_223_372_036_000));
    }
}
