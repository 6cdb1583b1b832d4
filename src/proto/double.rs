//! Doubles as Redis 7.0 writes them in replies (`addReplyDouble`): C's
//! `%.17g`, with `inf` and `-inf` spelled out. Scores come back as
//! `1.1000000000000001`, not `1.1`: 7.0 prints 17 significant digits
//! (7.2 moved to the shortest round-trip form), and clients compare bytes.

/// Append `d` as `printf("%.17g", d)` does, `inf`/`-inf` for infinities.
pub fn write_g17(out: &mut Vec<u8>, d: f64) {
    if d.is_infinite() {
        out.extend_from_slice(if d > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if d.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if d == 0.0 {
        out.extend_from_slice(if d.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // 17 significant digits, rounded as printf rounds (Rust's `{:e}` with
    // a precision rounds the exact binary value half-to-even, as glibc).
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e}'s exponent is an integer");
    if (-4..17).contains(&exp) {
        // Fixed notation with 17 - 1 - exp decimals, trailing zeros cut.
        let decimals = (16 - exp) as usize;
        let fixed = format!("{:.*}", decimals, d);
        out.extend_from_slice(trim_zeros(&fixed).as_bytes());
    } else {
        out.extend_from_slice(trim_zeros(mantissa).as_bytes());
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    }
}

/// `%g` drops trailing zeros after the point, and the point if nothing
/// follows it.
fn trim_zeros(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(d: f64) -> String {
        let mut v = Vec::new();
        write_g17(&mut v, d);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn matches_printf_g17() {
        // Each right-hand side is what glibc's printf("%.17g") prints.
        assert_eq!(g(1.1), "1.1000000000000001");
        assert_eq!(g(0.1), "0.10000000000000001");
        assert_eq!(g(1.0), "1");
        assert_eq!(g(-2.5), "-2.5");
        assert_eq!(g(10.0), "10");
        assert_eq!(g(1e20), "1e+20");
        assert_eq!(g(1e16), "10000000000000000");
        assert_eq!(g(1e17), "1e+17");
        assert_eq!(g(3e-5), "3.0000000000000001e-05");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(g(1.5e-300), "1.5000000000000001e-300");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(0.0), "0");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::MAX), "1.7976931348623157e+308");
    }
}
