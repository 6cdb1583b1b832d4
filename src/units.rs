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

#[cfg(test)]
mod tests {
    use super::parse_bytes;

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
