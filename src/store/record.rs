//! The bytes of one key's record: everything a key has, in one slab record
//! (see `map::slab`), with no pointer and no allocation of its own.
//!
//! ```text
//!  0        4        8        12  13   14    15          (+12 with a TTL)
//!  ├─ next ─┼─ hash ─┼─ access ┼flags┼klen┼vlen┼[expires_at u64 · ttl_idx u32]┼─ key ─┼─ value ─┤
//!  └─ map header ───┘└─ the body this module lays out ─────────────────────────────────────────┘
//! ```
//!
//! - `next`, `hash`: the map's chain link and the low 32 bits of the key's
//!   hash (`map::records`).
//! - `access`: last use, in the seconds of `shard::access_secs`
//!   (OBJECT IDLETIME, LRU order under CONFIG SET).
//! - `flags`: [`TTL`] when the expiry pair is present, [`COLL`] when the
//!   value is a collection (then the value bytes are its 4-byte index in
//!   the shard's collection pool), [`HASH_PACK`] when the value is a
//!   listpack hash's entries, kept here instead of in the pool.
//! - `klen`, `vlen`: LEB128 lengths, one byte each below 128, two below
//!   16 KiB; a 512 MB string needs five.
//! - `expires_at` (node-clock ms) and `ttl_idx` (the key's place in the TTL
//!   index) exist only for a key with a TTL: a key without one pays nothing.
//! - key and value bytes, unaligned and unpadded.
//!
//! So a 16-byte key with a 32-byte value is 8 + 7 + 48 = 63 bytes: one
//! 64-byte record. The slab rounds to its class (8-byte steps to 256).

use crate::map::Layout;

/// Flag: the record carries `expires_at` and `ttl_idx`.
pub const TTL: u8 = 1;
/// Flag: the value is a collection's pool index.
pub const COLL: u8 = 2;
/// Flag: the value is a listpack hash's entries (`types::Pack`'s bytes).
pub const HASH_PACK: u8 = 4;
/// The flags that make a value something other than a string.
pub const NOT_STR: u8 = COLL | HASH_PACK;
/// Bytes of the expiry pair.
const TTL_BYTES: usize = 12;
/// Where the lengths start: after `access` and `flags`.
const LENS: usize = 5;

/// The fixed part of a body, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub flags: u8,
    pub klen: usize,
    pub vlen: usize,
    /// Offset of the key in the body; the value follows it.
    pub key: usize,
}

impl Head {
    /// Decodes the head of a written body.
    #[inline]
    pub fn read(body: &[u8]) -> Head {
        let flags = body[4];
        let (klen, a) = varint(&body[LENS..]);
        let (vlen, b) = varint(&body[LENS + a..]);
        let ttl = if flags & TTL != 0 { TTL_BYTES } else { 0 };
        Head {
            flags,
            klen,
            vlen,
            key: LENS + a + b + ttl,
        }
    }

    /// Offset of the value.
    #[inline]
    pub fn value(&self) -> usize {
        self.key + self.klen
    }

    /// Offset of the expiry pair, if the record has one.
    #[inline]
    fn ttl(&self) -> Option<usize> {
        (self.flags & TTL != 0).then(|| self.key - TTL_BYTES)
    }
}

/// The body length a record with these parts needs.
pub fn body_len(flags: u8, klen: usize, vlen: usize) -> usize {
    let ttl = if flags & TTL != 0 { TTL_BYTES } else { 0 };
    LENS + varint_len(klen) + varint_len(vlen) + ttl + klen + vlen
}

/// The flags of a string record with expiry `at` (0 = none).
#[cfg(test)]
pub fn ttl_flag(at: u64) -> u8 {
    if at != 0 {
        TTL
    } else {
        0
    }
}

/// What a record with these parts takes in the slab.
pub fn cost(flags: u8, klen: usize, vlen: usize) -> usize {
    crate::map::slab::record_cost(crate::map::HEADER + body_len(flags, klen, vlen))
}

/// Writes a whole body: `value` is the string, or a collection's index.
pub fn write(body: &mut [u8], access: u32, flags: u8, key: &[u8], value: &[u8], ttl: (u64, u32)) {
    let at = write_head(body, access, flags, key.len(), value.len(), ttl);
    body[at..at + key.len()].copy_from_slice(key);
    body[at + key.len()..at + key.len() + value.len()].copy_from_slice(value);
}

/// Writes the head of a body (everything before the key) and returns the
/// key's offset. `ttl` is written only when `flags` has [`TTL`].
pub fn write_head(
    body: &mut [u8],
    access: u32,
    flags: u8,
    klen: usize,
    vlen: usize,
    ttl: (u64, u32),
) -> usize {
    body[..4].copy_from_slice(&access.to_le_bytes());
    body[4] = flags;
    let a = put_varint(&mut body[LENS..], klen);
    let b = put_varint(&mut body[LENS + a..], vlen);
    let mut at = LENS + a + b;
    if flags & TTL != 0 {
        body[at..at + 8].copy_from_slice(&ttl.0.to_le_bytes());
        body[at + 8..at + 12].copy_from_slice(&ttl.1.to_le_bytes());
        at += TTL_BYTES;
    }
    at
}

/// The key layout the keyspace map reads.
pub struct Rec;

impl Layout for Rec {
    #[inline]
    fn key(body: &[u8]) -> &[u8] {
        let h = Head::read(body);
        &body[h.key..h.key + h.klen]
    }
}

/// Last use of a written body.
#[inline]
pub fn access(body: &[u8]) -> u32 {
    u32::from_le_bytes([body[0], body[1], body[2], body[3]])
}

/// Sets the last use.
#[inline]
pub fn set_access(body: &mut [u8], access: u32) {
    body[..4].copy_from_slice(&access.to_le_bytes());
}

/// `(expires_at, ttl_idx)`, or `(0, _)` without a TTL.
#[inline]
pub fn ttl(body: &[u8], h: &Head) -> (u64, u32) {
    match h.ttl() {
        Some(o) => (
            u64::from_le_bytes(body[o..o + 8].try_into().expect("8 bytes")),
            u32::from_le_bytes(body[o + 8..o + 12].try_into().expect("4 bytes")),
        ),
        None => (0, u32::MAX),
    }
}

/// Rewrites the expiry pair of a record that has one.
pub fn set_ttl(body: &mut [u8], h: &Head, at: u64, idx: u32) {
    if let Some(o) = h.ttl() {
        body[o..o + 8].copy_from_slice(&at.to_le_bytes());
        body[o + 8..o + 12].copy_from_slice(&idx.to_le_bytes());
    }
}

/// Decodes a LEB128 length: `(value, bytes read)`.
#[inline]
fn varint(b: &[u8]) -> (usize, usize) {
    // Almost every key and most values are shorter than 128 bytes.
    if b[0] < 0x80 {
        return (usize::from(b[0]), 1);
    }
    let mut v = 0usize;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    (v, 10)
}

/// Bytes a LEB128 `v` takes.
fn varint_len(v: usize) -> usize {
    let bits = usize::BITS - (v | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Writes a LEB128 `v`; returns its length.
fn put_varint(b: &mut [u8], mut v: usize) -> usize {
    let mut i = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            b[i] = byte;
            return i + 1;
        }
        b[i] = byte | 0x80;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_sized_entry_is_one_64_byte_record() {
        assert_eq!(crate::map::HEADER + body_len(0, 16, 32), 63);
        assert_eq!(crate::map::HEADER + body_len(TTL, 16, 32), 75);
    }

    #[test]
    fn bodies_round_trip_at_length_boundaries() {
        for (klen, vlen) in [
            (0, 0),
            (1, 127),
            (127, 128),
            (128, 16383),
            (3, 16384),
            (70000, 5),
        ] {
            for flags in [0, TTL, COLL, TTL | COLL, HASH_PACK, TTL | HASH_PACK] {
                let key: Vec<u8> = (0..klen).map(|i| i as u8).collect();
                let value: Vec<u8> = (0..vlen).map(|i| (i * 7) as u8).collect();
                let mut body = vec![0xAA; body_len(flags, klen, vlen) + 5];
                write(&mut body, 99, flags, &key, &value, (1234, 7));
                let h = Head::read(&body);
                assert_eq!((h.flags, h.klen, h.vlen), (flags, klen, vlen));
                assert_eq!(Rec::key(&body), &key[..]);
                assert_eq!(&body[h.value()..h.value() + vlen], &value[..]);
                assert_eq!(access(&body), 99);
                let want = if flags & TTL != 0 {
                    (1234, 7)
                } else {
                    (0, u32::MAX)
                };
                assert_eq!(ttl(&body, &h), want);
            }
        }
        for v in [0, 1, 127, 128, 16383, 16384, usize::MAX >> 1] {
            let mut b = [0u8; 10];
            let n = put_varint(&mut b, v);
            assert_eq!(n, varint_len(v));
            assert_eq!(varint(&b), (v, n));
        }
    }
}
