//! Reading Redis's listpack and intset blobs, which redis-server 7.0 puts in
//! the DUMP payloads of its small hashes, sorted sets, lists (inside a
//! quicklist) and integer sets. We never write them: our DUMP writes the
//! plain RDB types, which every Redis since 2.x reads.
//!
//! A listpack is `<total bytes u32><count u16>`, its entries, then `0xFF`.
//! Each entry is an encoding byte (and length or integer), its data, and a
//! back-length of 1 to 5 bytes that lets Redis walk backwards; we walk
//! forwards only and skip it.

/// One listpack element: Redis stores integers apart from strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    /// A string.
    Bytes(&'a [u8]),
    /// An integer, which reads back as its decimal text.
    Int(i64),
}

impl Elem<'_> {
    /// The element as bytes, as Redis hands it to a command.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Elem::Bytes(b) => b.to_vec(),
            Elem::Int(n) => itoa::Buffer::new().format(*n).as_bytes().to_vec(),
        }
    }
}

/// Every element of the listpack `lp`, in order; `None` when it is
/// malformed (its sizes do not add up or an encoding is unknown).
pub fn elements(lp: &[u8]) -> Option<Vec<Elem<'_>>> {
    let total = u32::from_le_bytes(lp.get(0..4)?.try_into().ok()?) as usize;
    if total != lp.len() || total < 7 {
        return None;
    }
    let count = u16::from_le_bytes(lp.get(4..6)?.try_into().ok()?);
    let mut out = Vec::new();
    let mut i = 6;
    loop {
        let b = *lp.get(i)?;
        if b == 0xFF {
            break;
        }
        let (elem, size) = entry(&lp[i..])?;
        out.push(elem);
        i += size + backlen_size(size);
    }
    // 65535 means "count it yourself" (Redis stops counting there).
    if i + 1 != lp.len() || (count != u16::MAX && usize::from(count) != out.len()) {
        return None;
    }
    Some(out)
}

/// The element at the start of `e` and the size of its encoding and data.
fn entry(e: &[u8]) -> Option<(Elem<'_>, usize)> {
    let b = e[0];
    let int = |n: usize| -> Option<i64> {
        let raw = e.get(1..1 + n)?;
        let mut v: u64 = 0;
        for (k, &byte) in raw.iter().enumerate() {
            v |= u64::from(byte) << (8 * k);
        }
        Some(sign_extend(v, 8 * n as u32))
    };
    let string = |start: usize, len: usize| -> Option<(Elem<'_>, usize)> {
        Some((Elem::Bytes(e.get(start..start + len)?), start + len))
    };
    match b {
        _ if b & 0x80 == 0 => Some((Elem::Int(i64::from(b & 0x7f)), 1)),
        _ if b & 0xC0 == 0x80 => string(1, usize::from(b & 0x3f)),
        _ if b & 0xE0 == 0xC0 => {
            let v = (u64::from(b & 0x1f) << 8) | u64::from(*e.get(1)?);
            Some((Elem::Int(sign_extend(v, 13)), 2))
        }
        _ if b & 0xF0 == 0xE0 => {
            let len = (usize::from(b & 0x0f) << 8) | usize::from(*e.get(1)?);
            string(2, len)
        }
        0xF0 => {
            let len = u32::from_le_bytes(e.get(1..5)?.try_into().ok()?) as usize;
            string(5, len)
        }
        0xF1 => Some((Elem::Int(int(2)?), 3)),
        0xF2 => Some((Elem::Int(int(3)?), 4)),
        0xF3 => Some((Elem::Int(int(4)?), 5)),
        0xF4 => Some((Elem::Int(int(8)?), 9)),
        _ => None,
    }
}

/// `v`'s low `bits` bits read as a two's-complement number.
fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        return v as i64;
    }
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// How many bytes the back-length of an entry of `size` bytes takes.
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Every member of the intset `is`, in order; `None` when it is malformed.
pub fn intset(is: &[u8]) -> Option<Vec<i64>> {
    let width = u32::from_le_bytes(is.get(0..4)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(is.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(width, 2 | 4 | 8) || is.len() != 8 + width.checked_mul(len)? {
        return None;
    }
    Some(
        is[8..]
            .chunks_exact(width)
            .map(|c| {
                let mut v: u64 = 0;
                for (k, &byte) in c.iter().enumerate() {
                    v |= u64::from(byte) << (8 * k);
                }
                sign_extend(v, 8 * width as u32)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listpack of these raw entries (encoding + data each).
    fn lp(entries: &[&[u8]], count: u16) -> Vec<u8> {
        let mut body = Vec::new();
        for e in entries {
            body.extend_from_slice(e);
            // The back-length's value is never read; its size is.
            body.extend(std::iter::repeat_n(0, backlen_size(e.len())));
        }
        let total = (6 + body.len() + 1) as u32;
        let mut out = total.to_le_bytes().to_vec();
        out.extend(count.to_le_bytes());
        out.extend(body);
        out.push(0xFF);
        out
    }

    #[test]
    fn reads_every_encoding() {
        let long = vec![b'x'; 200];
        let mut e12 = vec![0xE0, 200];
        e12.extend(&long);
        let blob = lp(
            &[
                &[0x05],                   // 7-bit uint 5
                &[0x83, b'f', b'o', b'o'], // 6-bit string "foo"
                &[0xDF, 0xFF],             // 13-bit -1
                &e12,                      // 12-bit string of 200
                &[0xF1, 0x00, 0x80],       // int16 -32768
                &[0xF2, 0xFF, 0xFF, 0x7F], // int24 8388607
                &[0xF3, 0, 0, 0, 0x80],    // int32 min
                &[0xF4, 1, 0, 0, 0, 0, 0, 0, 0x80],
            ],
            8,
        );
        let got = elements(&blob).unwrap();
        assert_eq!(
            got,
            vec![
                Elem::Int(5),
                Elem::Bytes(b"foo"),
                Elem::Int(-1),
                Elem::Bytes(&long),
                Elem::Int(-32768),
                Elem::Int(8_388_607),
                Elem::Int(i64::from(i32::MIN)),
                Elem::Int(i64::MIN + 1),
            ]
        );
        assert_eq!(Elem::Int(-12).to_bytes(), b"-12");
    }

    #[test]
    fn refuses_malformed_listpacks() {
        let good = lp(&[&[0x05], &[0x81, b'a']], 2);
        assert!(elements(&good).is_some());
        assert!(elements(&lp(&[&[0x05]], 2)).is_none(), "count is wrong");
        assert!(elements(&lp(&[&[0xF5]], 1)).is_none(), "unknown encoding");
        assert!(elements(&good[..good.len() - 1]).is_none(), "cut short");
        assert!(
            elements(&lp(&[&[0x85, b'a']], 1)).is_none(),
            "string past the end"
        );
    }

    #[test]
    fn reads_intsets() {
        let mut is = 2u32.to_le_bytes().to_vec();
        is.extend(3u32.to_le_bytes());
        for v in [-5i16, 0, 300] {
            is.extend(v.to_le_bytes());
        }
        assert_eq!(intset(&is).unwrap(), vec![-5, 0, 300]);
        assert!(intset(&is[..is.len() - 1]).is_none());
    }
}
