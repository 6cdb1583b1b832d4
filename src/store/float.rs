//! [`LongDouble`]: the x87 80-bit extended float that Redis 7.0's INCRBYFLOAT
//! computes in (C `long double` on x86-64), done by hand so our answers
//! match Redis's byte for byte. A 64-bit mantissa with round-to-nearest-even,
//! exponents down to the subnormal `2^-16445`, overflow past `2^16384`.
//!
//! Three operations are enough, each exact then rounded once, as glibc does:
//! - [`LongDouble::parse`]: Redis's `string2ld` (glibc `strtold` plus
//!   Redis's refusals: blanks, `nan`, overflow, underflow to zero, 5120 bytes
//!   or more);
//! - [`LongDouble::checked_add`]: `+`, refusing a NaN or infinite sum;
//! - [`LongDouble::to_human`]: `ld2string(.., LD_STR_HUMAN)`, that is
//!   `%.17Lf` with trailing zeros and a trailing `.` removed, `-0` as `0`.
//!
//! Why not `f64`: `10.5 + 0.1` is `10.6` in Redis, while `f64` printed with 17
//! decimals gives `10.59999999999999964`.

mod big;

use big::Big;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` refuses inputs this long or longer.
const MAX_CHARS: usize = 5 * 1024;
/// Exponent (of the mantissa's last bit) of subnormals and the smallest normals.
const MIN_EXP: i64 = -16445;
/// Exponent of the largest finite values: their top bit is `2^16383`.
const MAX_EXP: i64 = 16320;
/// Exponents in the text are clamped here: far past any finite or
/// non-zero value, and small enough that the arithmetic never overflows.
const EXP_CLAMP: i64 = 1_000_000_000;

/// An x87 extended-precision value: zero, a finite number or an infinity,
/// with a sign. Never NaN: [`LongDouble::checked_add`] refuses to make one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zero,
    /// `mant * 2^exp`: `mant >= 2^63` with `exp` in `MIN_EXP..=MAX_EXP`
    /// (normal), or `mant < 2^63` with `exp == MIN_EXP` (subnormal).
    Finite {
        mant: u64,
        exp: i32,
    },
    Inf,
}

impl LongDouble {
    /// Positive zero, what INCRBYFLOAT starts a missing key from.
    pub const ZERO: LongDouble = LongDouble {
        neg: false,
        kind: Kind::Zero,
    };

    fn zero(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            kind: Kind::Zero,
        }
    }

    fn inf(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            kind: Kind::Inf,
        }
    }

    /// True unless infinite.
    pub fn is_finite(&self) -> bool {
        self.kind != Kind::Inf
    }

    /// Parse as Redis's `string2ld` does: the whole input must be one
    /// `strtold` number in the C locale — optional sign, then decimal digits
    /// with an optional `.` and `e` exponent, or `0x` hex digits with an
    /// optional `.` and `p` exponent, or `inf`/`infinity` (any case). `None`
    /// for anything else: empty, 5120 bytes or more, a leading or trailing
    /// blank, `nan`, and finite numbers too large for the type or so small
    /// they round to zero (`strtold`'s `ERANGE`). A zero written as zero
    /// (`0e-99999`) is fine.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::inf(neg));
        }
        let hex = body.len() > 2 && body[0] == b'0' && body[1] | 0x20 == b'x';
        let v = if hex {
            let d = scan_digits(&body[2..], 16)?;
            let p = scan_exponent(d.rest, b'p')?;
            if d.mag.is_zero() {
                return Some(LongDouble::zero(neg));
            }
            round_hex(neg, &d.mag, p - 4 * d.frac)
        } else {
            let d = scan_digits(body, 10)?;
            let e = scan_exponent(d.rest, b'e')?;
            if d.mag.is_zero() {
                return Some(LongDouble::zero(neg));
            }
            from_decimal(neg, d.mag, d.significant, e - d.frac)
        };
        match v.kind {
            // A non-zero number that came out infinite or zero is strtold's ERANGE.
            Kind::Zero | Kind::Inf => None,
            Kind::Finite { .. } => Some(v),
        }
    }

    /// `self + rhs`, rounded to nearest-even; `None` when the sum is NaN or
    /// infinite (INCRBYFLOAT's "increment would produce NaN or Infinity").
    pub fn checked_add(self, rhs: LongDouble) -> Option<LongDouble> {
        let sum = match (self.kind, rhs.kind) {
            (Kind::Inf, _) | (_, Kind::Inf) => return None,
            // IEEE: -0 + -0 is -0, and any other sum of zeros is +0.
            (Kind::Zero, Kind::Zero) => LongDouble::zero(self.neg && rhs.neg),
            (Kind::Zero, _) => rhs,
            (_, Kind::Zero) => self,
            (Kind::Finite { .. }, Kind::Finite { .. }) => add_finite(self, rhs),
        };
        sum.is_finite().then_some(sum)
    }

    /// The text `ld2string(.., LD_STR_HUMAN)` gives: the exact value rounded
    /// (nearest, ties to even, as glibc's printf) to 17 decimals, then
    /// trailing zeros and a trailing `.` dropped, and `-0` written `0`.
    /// Infinities are `inf` and `-inf`.
    pub fn to_human(&self) -> String {
        let (mant, exp) = match self.kind {
            Kind::Inf => return if self.neg { "-inf" } else { "inf" }.to_string(),
            Kind::Zero => return "0".to_string(),
            Kind::Finite { mant, exp } => (mant, i64::from(exp)),
        };
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17
        let (mut int, frac) = if exp >= 0 {
            let mut i = Big::from_u128(u128::from(mant));
            i.shl(exp as u64);
            (i, 0u128)
        } else {
            let sh = -exp as u64;
            let int = if sh >= 64 { 0 } else { mant >> sh };
            // The fraction times 10^17 is below 2^121, so u128 holds it;
            // from 2^-128 down the whole value is below half of 10^-17.
            let frac = if sh >= 128 {
                0
            } else {
                let f = if sh >= 64 {
                    u128::from(mant)
                } else {
                    u128::from(mant & ((1u64 << sh) - 1))
                };
                let scaled = f * SCALE;
                let q = scaled >> sh;
                let r = scaled & ((1u128 << sh) - 1);
                let half = 1u128 << (sh - 1);
                q + u128::from(r > half || (r == half && q & 1 == 1))
            };
            (Big::from_u128(u128::from(int)), frac)
        };
        let frac = if frac == SCALE {
            int.add(&Big::from_u128(1));
            0
        } else {
            frac
        };
        if int.is_zero() && frac == 0 {
            return "0".to_string();
        }
        let mut out = String::new();
        if self.neg {
            out.push('-');
        }
        out.push_str(&int.to_decimal());
        if frac != 0 {
            let digits = format!("{frac:017}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        out
    }
}

/// `x + y` for two finite values.
fn add_finite(x: LongDouble, y: LongDouble) -> LongDouble {
    let parts = |v: LongDouble| match v.kind {
        Kind::Finite { mant, exp } => (mant, i64::from(exp)),
        _ => unreachable!("finite operands"),
    };
    let (big, small) = if parts(x).1 >= parts(y).1 {
        (x, y)
    } else {
        (y, x)
    };
    let ((mb, eb), (ms, es)) = (parts(big), parts(small));
    let d = eb - es;
    // The larger is normal here (its exponent is above the smaller's), and
    // the smaller is below a quarter of its last place: the sum rounds back
    // to the larger.
    if d >= 66 {
        return big;
    }
    // Exact: both on the smaller's exponent, at most 130 bits.
    let mut a = Big::from_u128(u128::from(mb));
    a.shl(d as u64);
    let mut b = Big::from_u128(u128::from(ms));
    let neg = if big.neg == small.neg {
        a.add(&b);
        big.neg
    } else {
        match a.cmp(&b) {
            // x + (-x) is +0 when rounding to nearest.
            std::cmp::Ordering::Equal => return LongDouble::ZERO,
            std::cmp::Ordering::Greater => {
                a.sub(&b);
                big.neg
            }
            std::cmp::Ordering::Less => {
                b.sub(&a);
                a = b;
                small.neg
            }
        }
    };
    round(neg, &a, es, false)
}

/// Digits in `radix` with at most one `.` and at least one digit.
struct Digits<'a> {
    /// All the digits as one integer, the `.` ignored.
    mag: Big,
    /// How many digits came after the `.`.
    frac: i64,
    /// How many digits from the first non-zero one on.
    significant: i64,
    /// The text after the digits.
    rest: &'a [u8],
}

fn scan_digits(s: &[u8], radix: u32) -> Option<Digits<'_>> {
    let mut mag = Big::default();
    let (mut seen_digit, mut seen_point) = (false, false);
    let (mut frac, mut significant) = (0i64, 0i64);
    // Digits go into the big integer a u32's worth at a time.
    let (mut chunk, mut chunk_scale) = (0u32, 1u32);
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = char::from(c).to_digit(radix) {
            seen_digit = true;
            frac += i64::from(seen_point);
            significant += i64::from(d != 0 || significant != 0);
            chunk = chunk * radix + d;
            chunk_scale *= radix;
            if chunk_scale > u32::MAX / radix {
                mag.mul_add_small(chunk_scale, chunk);
                (chunk, chunk_scale) = (0, 1);
            }
        } else {
            break;
        }
        i += 1;
    }
    mag.mul_add_small(chunk_scale, chunk);
    seen_digit.then_some(Digits {
        mag,
        frac,
        significant,
        rest: &s[i..],
    })
}

/// An optional exponent (`e`/`p`, any case, sign, decimal digits) that must
/// end the input: strtold leaves a malformed one unread, which Redis then
/// refuses as trailing text.
fn scan_exponent(s: &[u8], mark: u8) -> Option<i64> {
    let Some((&c, rest)) = s.split_first() else {
        return Some(0);
    };
    if c | 0x20 != mark {
        return None;
    }
    let (neg, digits) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &d| {
        (acc * 10 + i64::from(d - b'0')).min(EXP_CLAMP)
    });
    Some(if neg { -v } else { v })
}

/// `mag * 10^exp` (mag not zero, `digits` long), correctly rounded.
fn from_decimal(neg: bool, mut mag: Big, digits: i64, exp: i64) -> LongDouble {
    // Cheap bounds first, so no huge power of five is ever built: the
    // largest finite value is about 1.19e4932 and half the smallest
    // subnormal about 1.8e-4951.
    if digits - 1 + exp > 4933 {
        return LongDouble::inf(neg);
    }
    if digits + exp < -4952 {
        return LongDouble::zero(neg);
    }
    if exp >= 0 {
        // 10^e = 5^e * 2^e: only the odd part needs multiplying.
        mag.mul_pow5(exp as u64);
        return round(neg, &mag, exp, false);
    }
    let k = -exp;
    let mut den = Big::from_u128(1);
    den.mul_pow5(k as u64);
    // Scale so the quotient has 66 or 67 bits: two or three below the
    // 64 kept, plus the remainder as a sticky bit, decide the rounding.
    let s = 66 + den.bit_len() as i64 - mag.bit_len() as i64;
    if s >= 0 {
        mag.shl(s as u64);
    } else {
        den.shl((-s) as u64);
    }
    let (q, sticky) = mag.div_short_quotient(&den, 67);
    round(neg, &Big::from_u128(q), -k - s, sticky)
}

/// `mag * 2^exp` from a hex text, rounded as glibc's strtold rounds it.
///
/// glibc reads a hex number into 64 bits plus a round bit and a sticky bit,
/// and when the value is subnormal shifts that right and rounds again,
/// keeping the old sticky bit but dropping the old round bit. So a value
/// just above half the smallest subnormal whose only bit past the first 64
/// is that round bit (`0x1.0000000000000001p-16446`) rounds to zero, which
/// strtold reports as underflow and Redis refuses. Only the zero/non-zero
/// outcome is visible through Redis (a subnormal prints as `0` and vanishes
/// in any sum that does not), but that one is, so we round the same way.
/// Decimal texts cannot hit this: a decimal whose bits past the 65th are all
/// zero at that magnitude needs over 16,000 digits, past Redis's 5119.
fn round_hex(neg: bool, mag: &Big, exp: i64) -> LongDouble {
    let n = mag.bit_len() as i64;
    if n > 64 && exp + n - 64 < MIN_EXP {
        let cut = (n - 64) as u64;
        let top = Big::from_u128(u128::from(mag.bits_u64(cut)));
        return round(neg, &top, exp + cut as i64, mag.any_below(cut - 1));
    }
    round(neg, mag, exp, false)
}

/// Round `mag * 2^exp` (plus a sliver below one unit of `mag` when
/// `sticky`) to the nearest extended value, ties to even: 64 significant
/// bits, or fewer in the subnormal range; infinite past the largest finite.
/// With `sticky`, `mag` must carry at least two bits below the 64 kept.
fn round(neg: bool, mag: &Big, exp: i64, sticky: bool) -> LongDouble {
    let n = mag.bit_len() as i64;
    if n == 0 {
        return LongDouble::zero(neg);
    }
    let top = exp + n - 1;
    let mut q_exp = (top - 63).max(MIN_EXP);
    if q_exp > MAX_EXP {
        return LongDouble::inf(neg);
    }
    let shift = q_exp - exp;
    let mant = if shift <= 0 {
        debug_assert!(!sticky, "too few bits to round");
        mag.bits_u64(0) << (-shift)
    } else {
        let shift = shift as u64;
        let mut m = u128::from(mag.bits_u64(shift));
        let half = mag.bit(shift - 1);
        if half && (sticky || mag.any_below(shift - 1) || m & 1 == 1) {
            m += 1;
        }
        if m == 1 << 64 {
            m = 1 << 63;
            q_exp += 1;
            if q_exp > MAX_EXP {
                return LongDouble::inf(neg);
            }
        }
        m as u64
    };
    if mant == 0 {
        return LongDouble::zero(neg);
    }
    LongDouble {
        neg,
        kind: Kind::Finite {
            mant,
            exp: q_exp as i32,
        },
    }
}

#[cfg(test)]
mod tests;
