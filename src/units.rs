//! Sizes and durations as every role's flags take them (`--maxmemory 100mb`,
//! the LB's `--max-value 1mb`, `--health-interval 250ms`, the origin's
//! `--latency 200ms`).
//!
//! A duration flag keeps the meaning its bare number always had (seconds
//! for `--ttl`, milliseconds for the origin's `--latency`), so scripts
//! written before units existed still work: [`Bare`] names that unit.
//! The `whole_*` parsers serve flags stored as an integer count of their
//! unit; a value finer than that unit is refused, not rounded.

use std::time::Duration;

/// Parse `123`, `64kb`, `100mb`, `2gb` (case-insensitive, 1024-based).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, mult) = [
        ("kb", 1usize << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1 << 10),
        ("m", 1 << 20),
        ("g", 1 << 30),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|d| (d.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    let n: usize = digits
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a byte size (try 100mb)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// A memory value as Redis's CONFIG SET reads one (`memtoull`): decimal
/// digits, then nothing, `b`, `k`, `kb`, `m`, `mb`, `g` or `gb` in any case,
/// where `k`/`m`/`g` are powers of 1000 and `kb`/`mb`/`gb` of 1024. As in
/// Redis, no digits read as 0, too many saturate (`strtoull`), and the unit
/// multiplies with 64-bit wrap-around; the caller's range check then
/// answers. `None`: not a memory value (a sign, a blank, a fraction,
/// another unit).
pub fn redis_memory(value: &[u8]) -> Option<u64> {
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit = value[digits..].to_ascii_lowercase();
    let mult: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1 << 10,
        b"m" => 1_000_000,
        b"mb" => 1 << 20,
        b"g" => 1_000_000_000,
        b"gb" => 1 << 30,
        _ => return None,
    };
    let n = value[..digits].iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(n.wrapping_mul(mult))
}

/// What a number without a unit means for one flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bare {
    /// Microseconds (`--spin-us`, `--slowlog-log-slower-than`).
    Micros,
    /// Milliseconds (the origin's `--latency`, the client's `--timeout`).
    Millis,
    /// Seconds (`--ttl`, the LB's intervals, the bench's `--duration`).
    Secs,
}

impl Bare {
    fn nanos(self) -> u128 {
        match self {
            Bare::Micros => 1_000,
            Bare::Millis => 1_000_000,
            Bare::Secs => 1_000_000_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Bare::Micros => "microseconds",
            Bare::Millis => "milliseconds",
            Bare::Secs => "seconds",
        }
    }
}

/// Longest duration any flag takes: about 31 years, far past any sane
/// TTL or interval, and small enough that no role overflows converting it.
pub const MAX_DURATION: Duration = Duration::from_secs(1_000_000_000);

/// Why a duration flag's value was refused (clap prefixes the flag's name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given.
    #[error("an empty value is not a duration (try 3s or 500ms)")]
    Empty,
    /// The number part is not a non-negative decimal.
    #[error("'{0}' is not a duration (try 3s or 500ms)")]
    NotANumber(String),
    /// The number is followed by something other than a known unit.
    #[error("'{input}' has an unknown unit '{unit}' (use us, ms, s, m or h)")]
    UnknownUnit {
        /// The value as given.
        input: String,
        /// The text after the number.
        unit: String,
    },
    /// Longer than [`MAX_DURATION`].
    #[error("'{0}' is too long (the most is 1000000000s)")]
    TooLong(String),
    /// Finer than the flag's own unit, which it stores as a whole count.
    #[error("'{input}' is not a whole number of {unit}, the finest this flag takes")]
    TooFine {
        /// The value as given.
        input: String,
        /// The flag's unit.
        unit: &'static str,
    },
}

/// Parse `250ms`, `3s`, `1.5m`, `2h`, `100us` (case-insensitive); a bare
/// number is in `bare`'s unit. Precision below a nanosecond is dropped.
///
/// # Errors
/// A [`DurationError`] saying what is wrong with `s`.
pub fn parse_duration(s: &str, bare: Bare) -> Result<Duration, DurationError> {
    let t = s.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let not_a_number = || DurationError::NotANumber(s.to_string());
    if num.is_empty() {
        return Err(not_a_number());
    }
    let scale: u128 = match unit.trim() {
        "" => bare.nanos(),
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" | "sec" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(DurationError::UnknownUnit {
                input: s.to_string(),
                unit: other.to_string(),
            })
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(not_a_number());
    }
    let too_long = || DurationError::TooLong(s.to_string());
    // Digits beyond this many cannot be under MAX_DURATION in any unit.
    if int.trim_start_matches('0').len() > 20 {
        return Err(too_long());
    }
    let whole: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| not_a_number())?
    };
    let mut nanos = whole * scale;
    // The fraction digit by digit, so `0.1s` is exactly 100ms.
    let mut place = scale;
    for d in frac.bytes() {
        place /= 10;
        nanos += u128::from(d - b'0') * place;
    }
    if nanos > MAX_DURATION.as_nanos() {
        return Err(too_long());
    }
    let nanos = u64::try_from(nanos).map_err(|_| too_long())?;
    Ok(Duration::from_nanos(nanos))
}

/// `d` as a whole count of `unit`.
fn whole(s: &str, unit: Bare) -> Result<u64, DurationError> {
    let d = parse_duration(s, unit)?;
    if d.as_nanos() % unit.nanos() != 0 {
        return Err(DurationError::TooFine {
            input: s.to_string(),
            unit: unit.name(),
        });
    }
    // At most MAX_DURATION, so it fits.
    Ok((d.as_nanos() / unit.nanos()) as u64)
}

/// A duration flag whose bare number is seconds, e.g. the LB's
/// `--health-interval` (clap value parser).
///
/// # Errors
/// See [`parse_duration`].
pub fn duration_secs(s: &str) -> Result<Duration, DurationError> {
    parse_duration(s, Bare::Secs)
}

/// A flag stored as whole seconds (`--ttl 90`, `--ttl 2m`).
///
/// # Errors
/// See [`parse_duration`]; [`DurationError::TooFine`] for `1500ms`.
pub fn whole_secs(s: &str) -> Result<u64, DurationError> {
    whole(s, Bare::Secs)
}

/// A flag stored as whole milliseconds (`--latency 200`, `--latency 1.5s`).
///
/// # Errors
/// See [`parse_duration`]; [`DurationError::TooFine`] for `1500us`.
pub fn whole_millis(s: &str) -> Result<u64, DurationError> {
    whole(s, Bare::Millis)
}

/// A flag stored as whole microseconds (`--spin-us 50`, `--spin-us 1ms`).
///
/// # Errors
/// See [`parse_duration`].
pub fn whole_micros(s: &str) -> Result<u64, DurationError> {
    whole(s, Bare::Micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_memory_values_read_as_config_set_does() {
        assert_eq!(redis_memory(b"2MB"), Some(2 << 20));
        assert_eq!(redis_memory(b"2m"), Some(2_000_000));
        assert_eq!(redis_memory(b"2000k"), Some(2_000_000));
        assert_eq!(redis_memory(b"1048576b"), Some(1 << 20));
        assert_eq!(redis_memory(b"mb"), Some(0));
        assert_eq!(redis_memory(b""), Some(0));
        assert_eq!(redis_memory(b"99999999999999999999"), Some(u64::MAX));
        for bad in [&b"1.5mb"[..], b" 2mb", b"2 mb", b"+2", b"-5", b"2tb"] {
            assert_eq!(redis_memory(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sizes_parse_and_bad_ones_say_why() {
        assert_eq!(parse_bytes("123"), Ok(123));
        assert_eq!(parse_bytes("64kb"), Ok(64 << 10));
        assert_eq!(parse_bytes("100MB"), Ok(100 << 20));
        assert_eq!(parse_bytes(" 2g "), Ok(2 << 30));
        assert_eq!(parse_bytes("7b"), Ok(7));
        assert!(parse_bytes("lots").unwrap_err().contains("not a byte size"));
        assert!(parse_bytes("99999999999999999999gb").is_err());
    }

    #[test]
    fn durations_take_units_and_bare_numbers_keep_their_unit() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("200ms", Bare::Secs), Ok(ms(200)));
        assert_eq!(parse_duration("3s", Bare::Millis), Ok(ms(3000)));
        assert_eq!(parse_duration("1m", Bare::Micros), Ok(ms(60_000)));
        assert_eq!(parse_duration("2h", Bare::Secs), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("1.5S", Bare::Secs), Ok(ms(1500)));
        assert_eq!(parse_duration(" 0.1s ", Bare::Secs), Ok(ms(100)));
        assert_eq!(parse_duration(".5s", Bare::Secs), Ok(ms(500)));
        assert_eq!(parse_duration("250 ms", Bare::Secs), Ok(ms(250)));
        assert_eq!(parse_duration("1min", Bare::Secs), Ok(ms(60_000)));
        assert_eq!(
            parse_duration("100us", Bare::Secs),
            Ok(Duration::from_micros(100))
        );
        assert_eq!(parse_duration("200", Bare::Millis), Ok(ms(200)));
        assert_eq!(parse_duration("200", Bare::Secs), Ok(ms(200_000)));
        assert_eq!(
            parse_duration("200", Bare::Micros),
            Ok(Duration::from_micros(200))
        );
        assert_eq!(parse_duration("0", Bare::Secs), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1000000000s", Bare::Secs), Ok(MAX_DURATION));
    }

    #[test]
    fn bad_durations_say_why() {
        let err = |s| parse_duration(s, Bare::Secs).unwrap_err();
        assert_eq!(err(""), DurationError::Empty);
        assert_eq!(err("  "), DurationError::Empty);
        assert_eq!(err("fast"), DurationError::NotANumber("fast".into()));
        assert_eq!(err("-1s"), DurationError::NotANumber("-1s".into()));
        assert_eq!(err("."), DurationError::NotANumber(".".into()));
        assert_eq!(err("1.2.3s"), DurationError::NotANumber("1.2.3s".into()));
        assert_eq!(err("ms"), DurationError::NotANumber("ms".into()));
        assert_eq!(
            err("3d"),
            DurationError::UnknownUnit {
                input: "3d".into(),
                unit: "d".into()
            }
        );
        assert_eq!(
            err("1000000001s"),
            DurationError::TooLong("1000000001s".into())
        );
        assert_eq!(
            err("99999999999999999999999999h"),
            DurationError::TooLong("99999999999999999999999999h".into())
        );
        assert!(err("3d").to_string().contains("use us, ms, s, m or h"));
        assert!(err("fast").to_string().contains("try 3s or 500ms"));
    }

    #[test]
    fn whole_counts_refuse_what_their_unit_cannot_hold() {
        assert_eq!(whole_secs("90"), Ok(90));
        assert_eq!(whole_secs("2m"), Ok(120));
        assert_eq!(whole_secs("3000ms"), Ok(3));
        assert_eq!(
            whole_secs("1500ms"),
            Err(DurationError::TooFine {
                input: "1500ms".into(),
                unit: "seconds"
            })
        );
        assert_eq!(whole_millis("200"), Ok(200));
        assert_eq!(whole_millis("200ms"), Ok(200));
        assert_eq!(whole_millis("1.5s"), Ok(1500));
        assert_eq!(whole_millis("2000us"), Ok(2));
        assert!(whole_millis("1500us").is_err());
        assert_eq!(whole_micros("1ms"), Ok(1000));
        assert_eq!(whole_micros("50"), Ok(50));
        assert!(whole_secs("0.5")
            .unwrap_err()
            .to_string()
            .contains("not a whole number of seconds"));
    }
}
