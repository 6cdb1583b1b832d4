//! LZF decompression, as liblzf's `lzf_decompress`: Redis compresses RDB
//! strings longer than 20 bytes with it (`rdbcompression yes`, the default),
//! so the DUMP payloads redis-server writes carry it. We never compress
//! what we write; we only read it.
//!
//! The stream is a run of items. A control byte below 32 starts a literal
//! run of `ctrl + 1` bytes. Anything else is a back reference: length
//! `ctrl >> 5` (7 means "add the next byte"), plus 2, copied from
//! `((ctrl & 31) << 8) + next + 1` bytes back in the output, which may
//! overlap what it writes.

/// Decompress `input` into exactly `len` bytes; `None` for a stream that is
/// malformed or does not come to `len`.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(i..i + run)?;
            if out.len() + run > len {
                return None;
            }
            out.extend_from_slice(lit);
            i += run;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            n += 2;
            if back > out.len() || out.len() + n > len {
                return None;
            }
            let from = out.len() - back;
            // Byte by byte: the reference may overlap what it produces.
            for k in 0..n {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::decompress;

    #[test]
    fn literals_and_overlapping_back_references() {
        // "aaaaaaaaaa": one literal 'a', then a reference 1 back, 9 long
        // (7 + 0 extra + 2 = 9).
        let stream = [0x00, b'a', 0xE0, 0x00, 0x00];
        assert_eq!(decompress(&stream, 10).unwrap(), b"aaaaaaaaaa");
        // "abcabcabc": literal "abc", then 6 from 3 back (len field 4).
        let stream = [0x02, b'a', b'b', b'c', 0x80, 0x02];
        assert_eq!(decompress(&stream, 9).unwrap(), b"abcabcabc");
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert_eq!(decompress(&[0x02, b'a'], 3), None, "literal cut short");
        assert_eq!(
            decompress(&[0x20, 0x05], 3),
            None,
            "reference before the start"
        );
        assert_eq!(decompress(&[0x01, b'a', b'b'], 1), None, "longer than said");
        assert_eq!(decompress(&[0x00, b'a'], 2), None, "shorter than said");
    }
}
