//! [`Big`]: the few unsigned arbitrary-precision operations that exact
//! decimal <-> binary conversion of an 80-bit float needs. Little-endian
//! `u32` limbs, always trimmed (no high zero limb), so zero is an empty vector.
//! Sizes stay small (at most ~24,000 bits, from `5^10,100`), so schoolbook
//! algorithms are plenty.

use std::cmp::Ordering;

/// An unsigned integer of any size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Big(Vec<u32>);

impl Big {
    /// The value `v`.
    pub(super) fn from_u128(v: u128) -> Big {
        let mut b = Big((0..4).map(|i| (v >> (32 * i)) as u32).collect());
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    /// True for zero.
    pub(super) fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of significant bits (0 for zero).
    pub(super) fn bit_len(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => 32 * self.0.len() as u64 - u64::from(top.leading_zeros()),
        }
    }

    /// Bit `i` (0 = least significant); bits past the top are 0.
    pub(super) fn bit(&self, i: u64) -> bool {
        let limb = (i / 32) as usize;
        limb < self.0.len() && (self.0[limb] >> (i % 32)) & 1 == 1
    }

    /// Whether any bit below position `i` is set.
    pub(super) fn any_below(&self, i: u64) -> bool {
        let full = ((i / 32) as usize).min(self.0.len());
        if self.0[..full].iter().any(|&l| l != 0) {
            return true;
        }
        let rest = i % 32;
        full < self.0.len() && rest != 0 && self.0[full] & ((1u32 << rest) - 1) != 0
    }

    /// The 64 bits starting at bit `from` (bits past the top read as 0).
    pub(super) fn bits_u64(&self, from: u64) -> u64 {
        (0..64)
            .filter(|&j| self.bit(from + j))
            .fold(0u64, |acc, j| acc | 1 << j)
    }

    /// `self * m + a`.
    pub(super) fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let t = u64::from(*limb) * u64::from(m) + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    /// `self * 5^k`.
    pub(super) fn mul_pow5(&mut self, mut k: u64) {
        // 5^13 is the largest power of five that fits in a u32.
        const P13: u32 = 1_220_703_125;
        while k >= 13 {
            self.mul_add_small(P13, 0);
            k -= 13;
        }
        self.mul_add_small(5u32.pow(k as u32), 0);
    }

    /// `self << n`.
    pub(super) fn shl(&mut self, n: u64) {
        if self.is_zero() {
            return;
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        if bits != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    /// `self >> 1`.
    fn shr1(&mut self) {
        let mut carry = 0u32;
        for limb in self.0.iter_mut().rev() {
            let next = *limb & 1;
            *limb = (*limb >> 1) | (carry << 31);
            carry = next;
        }
        self.trim();
    }

    /// `self + other`.
    pub(super) fn add(&mut self, other: &Big) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        let mut carry = 0u64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let t = u64::from(*limb) + u64::from(other.0.get(i).copied().unwrap_or(0)) + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self - other`; `other` must not be larger.
    pub(super) fn sub(&mut self, other: &Big) {
        debug_assert!(*self >= *other);
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let t = i64::from(*limb) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(t < 0);
            *limb = t.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    /// Divide by `d`, returning the remainder.
    pub(super) fn divrem_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let t = (rem << 32) | u64::from(*limb);
            *limb = (t / u64::from(d)) as u32;
            rem = t % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    /// `(self / d, self % d != 0)` when the quotient is known to be below
    /// `2^(top + 1)`: one bit at a time, which is cheap for a short quotient.
    pub(super) fn div_short_quotient(mut self, d: &Big, top: u32) -> (u128, bool) {
        debug_assert!(top < 128 && !d.is_zero());
        let mut shifted = d.clone();
        shifted.shl(u64::from(top));
        let mut q = 0u128;
        for i in (0..=top).rev() {
            if self >= shifted {
                self.sub(&shifted);
                q |= 1 << i;
            }
            shifted.shr1();
        }
        debug_assert!(self < *d, "quotient wider than 2^(top + 1)");
        (q, !self.is_zero())
    }

    /// The decimal digits (`"0"` for zero).
    pub(super) fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.divrem_small(1_000_000_000));
        }
        let mut out = chunks
            .pop()
            .map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Big) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(v: u128) -> Big {
        Big::from_u128(v)
    }

    #[test]
    fn arithmetic_matches_u128() {
        let vals = [
            0u128,
            1,
            7,
            u32::MAX as u128,
            1 << 32,
            u64::MAX as u128,
            12345678901234567890123,
        ];
        for &a in &vals {
            for &b in &vals {
                let mut s = big(a);
                s.add(&big(b));
                assert_eq!(s, big(a + b));
                assert_eq!(big(a).cmp(&big(b)), a.cmp(&b));
                if a >= b {
                    let mut d = big(a);
                    d.sub(&big(b));
                    assert_eq!(d, big(a - b));
                }
            }
            for sh in [0u64, 1, 31, 32, 33, 40] {
                let mut x = big(a);
                x.shl(sh);
                assert_eq!(x, big(a << sh), "{a} << {sh}");
            }
            assert_eq!(big(a).bit_len(), 128 - u64::from(a.leading_zeros()));
            assert_eq!(big(a).to_decimal(), a.to_string());
        }
    }

    #[test]
    fn bits_and_powers() {
        let x = big(0b1011_0000u128 << 40);
        assert!(x.bit(44) && x.bit(45) && !x.bit(46) && x.bit(47));
        assert!(!x.any_below(44) && x.any_below(45) && !x.bit(10_000));
        assert_eq!(x.bits_u64(44), 0b1011);
        let mut p = big(3);
        p.mul_pow5(27);
        assert_eq!(p, big(3 * 5u128.pow(27)));
        let mut t = big(10);
        t.mul_add_small(1_000_000_000, 7);
        assert_eq!(t.to_decimal(), "10000000007");
    }

    #[test]
    fn short_division() {
        let (q, r) = big(1_000_000_007 << 20).div_short_quotient(&big(3), 60);
        assert_eq!((q, r), ((1_000_000_007u128 << 20) / 3, true));
        let (q, r) = big(15).div_short_quotient(&big(5), 3);
        assert_eq!((q, r), (3, false));
        // 10^40 / 5^40 = 2^40, exactly.
        let mut n = big(1);
        n.mul_pow5(40);
        n.shl(40);
        let mut d = big(1);
        d.mul_pow5(40);
        assert_eq!(n.div_short_quotient(&d, 41), (1 << 40, false));
    }
}
