//! Sizes as every role's flags take them (`--maxmemory 100mb`, the LB's
//! `--max-value 1mb`, the origin's limits).

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

#[cfg(test)]
mod tests {
    use super::{parse_bytes, redis_memory};

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
}
