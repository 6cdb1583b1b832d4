//! Scores and ranges as Redis 7.0 reads them from arguments: a score is
//! `strtod`'s whole input (`string2d`: `inf`, `-inf`, `+inf` yes, `nan` and
//! overflow no), a score range bound may start with `(` to exclude it, and
//! a lexical bound is `-`, `+`, `[member` or `(member`.
//!
//! Hex floats (`0x1p3`), which glibc's `strtod` also reads, are refused
//! here: no client sends them, and reading them exactly as glibc rounds
//! them is code nobody would exercise.

/// An inclusive or exclusive score interval (`ZRANGEBYSCORE z (1 +inf`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// `(min`: the bound itself is out.
    pub minex: bool,
    /// Upper bound.
    pub max: f64,
    /// `(max`: the bound itself is out.
    pub maxex: bool,
}

/// One end of a lexical range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[m`: `m` itself is in.
    In(&'a [u8]),
    /// `(m`: `m` itself is out.
    Ex(&'a [u8]),
}

/// A lexical interval (`ZRANGEBYLEX z [a (c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LexRange<'a> {
    /// Lower end.
    pub min: LexBound<'a>,
    /// Upper end.
    pub max: LexBound<'a>,
}

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtod` makes of the longest number at the start of `s`: the value,
/// the bytes it used (0 when there is no number, as `strtod` leaves `endptr`
/// at the start), and whether it set `ERANGE` with an infinite or zero
/// result (overflow, or underflow to zero).
fn strtod(s: &[u8]) -> (f64, usize, bool) {
    let mut i = s.iter().take_while(|&&b| is_space(b)).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let word = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if word(b"infinity") {
        return (sign(f64::INFINITY), i + 8, false);
    }
    if word(b"inf") {
        return (sign(f64::INFINITY), i + 3, false);
    }
    if word(b"nan") {
        // `nan(chars)` is one token too.
        let mut n = i + 3;
        if s.get(n) == Some(&b'(') {
            let inner = s[n + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if s.get(n + 1 + inner) == Some(&b')') {
                n += inner + 2;
            }
        }
        return (f64::NAN, n, false);
    }
    let start = i;
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(i);
    i += int;
    let mut frac = 0;
    if s.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        if int + frac > 0 {
            i += 1 + frac;
        }
    }
    if int + frac == 0 {
        return (0.0, 0, false);
    }
    let nonzero = s[start..i].iter().any(|b| (b'1'..=b'9').contains(b));
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let e = digits(j);
        if e > 0 {
            i = j + e;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).expect("ASCII");
    let v: f64 = text.parse().expect("a decimal number Rust reads");
    let range = v.is_infinite() || (v == 0.0 && nonzero);
    (sign(v), i, range)
}

/// A score argument, as Redis's `getDoubleFromObject` reads it: all of it
/// one number, no leading blank, no overflow or underflow to zero, no NaN.
pub fn parse_score(s: &[u8]) -> Option<f64> {
    if s.first().is_none_or(|&b| is_space(b)) {
        return None;
    }
    let (v, used, range) = strtod(s);
    (used == s.len() && !range && !v.is_nan()).then_some(v)
}

/// One end of a score range (`zslParseRange`): `strtod` up to the first
/// NUL, which must take all of it; an empty bound is 0, leading blanks and
/// overflow to an infinity are fine, NaN is not. Returns the value and
/// whether it is exclusive.
fn score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, s) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
    let (v, used, _) = strtod(s);
    (used == s.len() && !v.is_nan()).then_some((v, ex))
}

/// `min max` of ZRANGEBYSCORE, ZCOUNT and the rest.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = score_bound(min)?;
    let (max, maxex) = score_bound(max)?;
    Some(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

/// One end of a lexical range (`zslParseLexRangeItem`). Redis reads `+`
/// and `-` as C strings, so a NUL after them ends them too.
fn lex_bound(arg: &[u8]) -> Option<LexBound<'_>> {
    let alone = arg.get(1).is_none_or(|&b| b == 0);
    match arg.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Ex(&arg[1..])),
        b'[' => Some(LexBound::In(&arg[1..])),
        _ => None,
    }
}

/// `min max` of ZRANGEBYLEX, ZLEXCOUNT and ZREMRANGEBYLEX.
pub fn parse_lex_range<'a>(min: &'a [u8], max: &'a [u8]) -> Option<LexRange<'a>> {
    Some(LexRange {
        min: lex_bound(min)?,
        max: lex_bound(max)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_as_string2d() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"5."), Some(5.0));
        assert_eq!(parse_score(b"4e-320"), Some(4e-320));
        for bad in [
            &b"nan"[..],
            b"",
            b" 1",
            b"1 ",
            b"1e400",
            b"1e-400",
            b"abc",
            b".",
            b"1e",
            b"1\x002",
            b"-",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", bad.escape_ascii());
        }
    }

    #[test]
    fn score_bounds_as_zsl_parse_range() {
        let r = parse_score_range(b"(1", b"+inf").unwrap();
        assert_eq!(
            (r.min, r.minex, r.max, r.maxex),
            (1.0, true, f64::INFINITY, false)
        );
        let r = parse_score_range(b"", b" 2").unwrap();
        assert_eq!((r.min, r.max), (0.0, 2.0));
        let r = parse_score_range(b"(", b"1e400").unwrap();
        assert_eq!((r.min, r.minex, r.max), (0.0, true, f64::INFINITY));
        assert_eq!(parse_score_range(b"3\x00x", b"4").unwrap().min, 3.0);
        assert!(parse_score_range(b"nan", b"1").is_none());
        assert!(parse_score_range(b"1", b"x").is_none());
        assert!(parse_score_range(b"((1", b"2").is_none());
    }

    #[test]
    fn lex_bounds() {
        let r = parse_lex_range(b"-", b"+").unwrap();
        assert_eq!((r.min, r.max), (LexBound::Min, LexBound::Max));
        let r = parse_lex_range(b"[a", b"(").unwrap();
        assert_eq!((r.min, r.max), (LexBound::In(b"a"), LexBound::Ex(b"")));
        assert!(parse_lex_range(b"a", b"+").is_none());
        assert!(parse_lex_range(b"-", b"++").is_none());
        assert!(parse_lex_range(b"", b"+").is_none());
    }
}
