//! DUMP and RESTORE payloads: one value in Redis's RDB serialization, then
//! the RDB version (2 bytes, little-endian) and a CRC-64 of all before it
//! (8 bytes, little-endian; Jones's polynomial, as Redis's `crc64`).
//!
//! - **Writing**, we use the plain RDB types that every Redis since 2.x
//!   reads: a string (`0`, integers in RDB's integer encoding, as Redis
//!   does), a list (`1`), a set (`2`), a hash (`4`) and a sorted set with
//!   binary scores (`5`). So redis-server 7.0 RESTOREs what our DUMP writes,
//!   and a short string's payload is byte for byte Redis's. We never
//!   compress (Redis would LZF-compress strings over 20 bytes).
//! - **Reading**, we take those, the older text-score sorted set (`3`), and
//!   what redis-server 7.0's own DUMP writes for small values: LZF strings,
//!   intsets (`11`), listpack hashes (`16`) and sorted sets (`17`), and
//!   quicklists of listpacks (`18`). The ziplist encodings of Redis before
//!   7.0 are refused as a bad format.
//!
//! Cluster mode's slot moves carry keys from core to core in this format
//! too (`RESTORE … REPLACE ABSTTL`, as Redis's MIGRATE does).

mod listpack;
mod lzf;

use super::shard::Encodings;
use super::types::{AddFlags, End, Hash, List, Set, ZSet};
use super::value::{Coll, Value};
use listpack::Elem;

/// The RDB version we write: redis-server 7.0's, so it takes our payloads.
pub const RDB_VERSION: u16 = 10;

const CRC64: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;

/// Why a payload was refused, with Redis's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    /// Too short, a newer RDB version, or a checksum that does not match.
    #[error("ERR DUMP payload version or checksum are wrong")]
    Checksum,
    /// The checksum holds but the value inside does not parse.
    #[error("ERR Bad data format")]
    Format,
}

/// `value` as a DUMP payload.
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::Str(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s);
        }
        Value::Coll(c) => match &**c {
            Coll::List(l) => {
                out.push(TYPE_LIST);
                put_len(&mut out, l.len() as u64);
                for item in l.iter() {
                    put_string(&mut out, item);
                }
            }
            Coll::Set(s) => {
                out.push(TYPE_SET);
                put_len(&mut out, s.len() as u64);
                for mut m in s.iter() {
                    put_string(&mut out, m.as_ref());
                }
            }
            Coll::Hash(h) => {
                out.push(TYPE_HASH);
                put_len(&mut out, h.len() as u64);
                for (f, v) in h.iter() {
                    put_string(&mut out, f);
                    put_string(&mut out, v);
                }
            }
            Coll::ZSet(z) => {
                out.push(TYPE_ZSET_2);
                put_len(&mut out, z.len() as u64);
                for (m, score) in z.iter_at(0, false) {
                    put_string(&mut out, m);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
        },
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Check a payload's version and checksum, as Redis's
/// `verifyDumpPayload`: the body before them, or [`RdbError::Checksum`].
pub fn verify(payload: &[u8]) -> Result<&[u8], RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::Checksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8 bytes"));
    if version > RDB_VERSION || CRC64.checksum(&payload[..payload.len() - 8]) != crc {
        return Err(RdbError::Checksum);
    }
    Ok(body)
}

/// The value a payload holds, built with `enc`'s compact-encoding limits.
///
/// # Errors
/// [`RdbError::Checksum`] or [`RdbError::Format`], as RESTORE reports them.
pub fn restore(payload: &[u8], enc: &Encodings) -> Result<Value, RdbError> {
    let body = verify(payload)?;
    let mut r = Reader { buf: body, at: 0 };
    read_value(&mut r, enc).ok_or(RdbError::Format)
}

/// RDB's length encoding: 6 bits, 14 bits, or a marker and 32 or 64 bits
/// big-endian.
fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string as Redis's `rdbSaveRawString` writes one (without LZF): an
/// integer of up to 11 characters that reads back the same and fits 32
/// bits in RDB's integer encoding, anything else by length.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Some(n) = super::parse_i64(s) {
            if let Ok(v) = i8::try_from(n) {
                out.push(0xC0);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i16::try_from(n) {
                out.push(0xC1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i32::try_from(n) {
                out.push(0xC2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A cursor over a payload's body.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

/// A length, or one of RDB's special string encodings.
enum Len {
    Plain(u64),
    Special(u8),
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn len_or_special(&mut self) -> Option<Len> {
        let b = self.byte()?;
        Some(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3f)),
            1 => Len::Plain((u64::from(b & 0x3f) << 8) | u64::from(self.byte()?)),
            2 if b == 0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().ok()?,
            ))),
            2 if b == 0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
            3 => Len::Special(b & 0x3f),
            _ => return None,
        })
    }

    /// A count of elements: a plain length that is not absurd for the
    /// bytes left (every element takes at least one byte), so a forged
    /// count cannot make us reserve memory.
    fn count(&mut self) -> Option<usize> {
        match self.len_or_special()? {
            Len::Plain(n) if n <= (self.buf.len() - self.at) as u64 => Some(n as usize),
            _ => None,
        }
    }

    fn string(&mut self) -> Option<Vec<u8>> {
        match self.len_or_special()? {
            Len::Plain(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            Len::Special(0) => Some(int_text(i64::from(self.take(1)?[0] as i8))),
            Len::Special(1) => Some(int_text(i64::from(i16::from_le_bytes(
                self.take(2)?.try_into().ok()?,
            )))),
            Len::Special(2) => Some(int_text(i64::from(i32::from_le_bytes(
                self.take(4)?.try_into().ok()?,
            )))),
            Len::Special(3) => {
                let clen = self.plain_len()?;
                let len = self.plain_len()?;
                // Redis's strings stop at 512 MB; a forged length must not
                // make us reserve more than the payload could hold.
                if len > (1 << 29) || len > clen.saturating_mul(256) {
                    return None;
                }
                lzf::decompress(self.take(clen)?, len)
            }
            Len::Special(_) => None,
        }
    }

    fn plain_len(&mut self) -> Option<usize> {
        match self.len_or_special()? {
            Len::Plain(n) => usize::try_from(n).ok(),
            Len::Special(_) => None,
        }
    }

    /// The old sorted set's text score: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) and that many characters.
    fn text_double(&mut self) -> Option<f64> {
        match self.byte()? {
            253 => Some(f64::NAN),
            254 => Some(f64::INFINITY),
            255 => Some(f64::NEG_INFINITY),
            n => std::str::from_utf8(self.take(usize::from(n))?)
                .ok()?
                .parse()
                .ok(),
        }
    }
}

fn int_text(n: i64) -> Vec<u8> {
    itoa::Buffer::new().format(n).as_bytes().to_vec()
}

/// The value after the type byte. An empty collection is refused, as
/// Redis refuses it (a key never holds one).
fn read_value(r: &mut Reader<'_>, enc: &Encodings) -> Option<Value> {
    let kind = r.byte()?;
    let coll = match kind {
        TYPE_STRING => return Some(Value::Str(r.string()?.into_boxed_slice())),
        TYPE_LIST => {
            let mut l = List::new();
            for _ in 0..r.count()? {
                l.push(End::Right, &r.string()?);
            }
            Coll::List(l)
        }
        TYPE_SET => {
            let mut s = Set::new();
            for _ in 0..r.count()? {
                if !s.insert(&r.string()?, enc) {
                    return None;
                }
            }
            Coll::Set(s)
        }
        TYPE_HASH => {
            let mut h = Hash::new();
            for _ in 0..r.count()? {
                let f = r.string()?;
                if !h.set(&f, &r.string()?, enc) {
                    return None;
                }
            }
            Coll::Hash(h)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let mut z = ZSet::new();
            for _ in 0..r.count()? {
                let m = r.string()?;
                let score = if kind == TYPE_ZSET {
                    r.text_double()?
                } else {
                    f64::from_le_bytes(r.take(8)?.try_into().ok()?)
                };
                zadd_new(&mut z, &m, score, enc)?;
            }
            Coll::ZSet(z)
        }
        TYPE_SET_INTSET => {
            let mut s = Set::new();
            for n in listpack::intset(&r.string()?)? {
                if !s.insert(&int_text(n), enc) {
                    return None;
                }
            }
            Coll::Set(s)
        }
        TYPE_HASH_LISTPACK => {
            let blob = r.string()?;
            let elems = pairs(&blob)?;
            let mut h = Hash::new();
            for pair in elems.chunks_exact(2) {
                if !h.set(&pair[0].to_bytes(), &pair[1].to_bytes(), enc) {
                    return None;
                }
            }
            Coll::Hash(h)
        }
        TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let elems = pairs(&blob)?;
            let mut z = ZSet::new();
            for pair in elems.chunks_exact(2) {
                let score = match &pair[1] {
                    Elem::Int(n) => *n as f64,
                    Elem::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok()?,
                };
                zadd_new(&mut z, &pair[0].to_bytes(), score, enc)?;
            }
            Coll::ZSet(z)
        }
        TYPE_LIST_QUICKLIST_2 => {
            let mut l = List::new();
            for _ in 0..r.count()? {
                // 1: a plain node of one big item; 2: a listpack of items.
                match r.plain_len()? {
                    1 => l.push(End::Right, &r.string()?),
                    2 => {
                        let blob = r.string()?;
                        for e in listpack::elements(&blob)? {
                            l.push(End::Right, &e.to_bytes());
                        }
                    }
                    _ => return None,
                }
            }
            Coll::List(l)
        }
        _ => return None,
    };
    (!coll.is_empty()).then(|| Value::Coll(Box::new(coll)))
}

/// A listpack of field-value (or member-score) pairs.
fn pairs(blob: &[u8]) -> Option<Vec<Elem<'_>>> {
    let elems = listpack::elements(blob)?;
    (elems.len() % 2 == 0).then_some(elems)
}

/// Add a member that must be new, with a score that must be a number
/// (Redis refuses a payload with a NaN score or a member twice).
fn zadd_new(z: &mut ZSet, member: &[u8], score: f64, enc: &Encodings) -> Option<()> {
    if score.is_nan() || z.score(member).is_some() {
        return None;
    }
    z.add(member, score, AddFlags::default(), enc).ok()?;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc() -> Encodings {
        Encodings::default()
    }

    #[test]
    fn a_string_payload_is_redis_s_byte_for_byte() {
        // redis-server 7.0.15: DUMP of "hello" and of "123".
        let hello = dump(&Value::from(&b"hello"[..]));
        assert_eq!(&hello[..9], b"\x00\x05hello\x0a\x00");
        assert_eq!(
            hello,
            b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a"[..].to_vec()
        );
        let n = dump(&Value::from(&b"123"[..]));
        assert_eq!(&n[..4], b"\x00\xc0\x7b\x0a");
        assert_eq!(restore(&hello, &enc()).unwrap(), Value::from(&b"hello"[..]));
    }

    #[test]
    fn every_type_round_trips() {
        let e = enc();
        let mut h = Hash::new();
        let mut s = Set::new();
        let mut ints = Set::new();
        let mut l = List::new();
        let mut z = ZSet::new();
        for i in 0..600 {
            let t = format!("m{i}");
            h.set(t.as_bytes(), format!("{i}").as_bytes(), &e);
            s.insert(t.as_bytes(), &e);
            ints.insert(format!("{}", i * 1000 - 7).as_bytes(), &e);
            l.push(End::Left, t.as_bytes());
            z.add(t.as_bytes(), f64::from(i) / 3.0, AddFlags::default(), &e)
                .unwrap();
        }
        for c in [
            Coll::Hash(h),
            Coll::Set(s),
            Coll::Set(ints),
            Coll::List(l),
            Coll::ZSet(z),
        ] {
            let v = Value::Coll(Box::new(c));
            let back = restore(&dump(&v), &e).unwrap();
            assert_eq!(back.kind(), v.kind());
            assert_eq!(back.encoding(), v.encoding());
            assert_eq!(dump(&back), dump(&v), "{:?}", v.kind());
        }
        let long = vec![b'z'; 100_000];
        let v = Value::from(&long[..]);
        assert_eq!(restore(&dump(&v), &e).unwrap(), v);
    }

    #[test]
    fn refuses_bad_payloads_with_redis_s_errors() {
        let e = enc();
        let mut p = dump(&Value::from(&b"hello"[..]));
        assert_eq!(restore(&p[..9], &e), Err(RdbError::Checksum));
        let last = p.len() - 1;
        p[last] ^= 1;
        assert_eq!(restore(&p, &e), Err(RdbError::Checksum));
        // A body that is not a value, under a good checksum.
        let sealed = |body: &[u8]| {
            let mut out = body.to_vec();
            out.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = CRC64.checksum(&out);
            out.extend_from_slice(&crc.to_le_bytes());
            out
        };
        assert_eq!(restore(&sealed(b"\x00\x09hi"), &e), Err(RdbError::Format));
        assert_eq!(
            restore(&sealed(b"\x02\x00"), &e),
            Err(RdbError::Format),
            "empty set"
        );
        assert_eq!(
            restore(&sealed(b"\x02\x02\x01a\x01a"), &e),
            Err(RdbError::Format),
            "a member twice"
        );
        assert_eq!(
            restore(&sealed(b"\x0a\x00"), &e),
            Err(RdbError::Format),
            "a ziplist"
        );
        assert_eq!(
            restore(&sealed(b"\x02\x80\xff\xff\xff\xff"), &e),
            Err(RdbError::Format),
            "a count past the payload"
        );
        let mut newer = b"\x00\x01a".to_vec();
        newer.extend_from_slice(&11u16.to_le_bytes());
        let crc = CRC64.checksum(&newer);
        newer.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&newer, &e), Err(RdbError::Checksum), "RDB 11");
    }

    #[test]
    fn reads_what_redis_7_0_dumps() {
        // redis-server 7.0.15: DUMP of a 43-byte string (LZF) and of
        // RPUSH l a b 1 (a quicklist of one listpack).
        let big =
            b"\x00\xc3\x09\x2b\x01aa\xe0\x1e\x00\x01aa\x0a\x00\xd9\x9d\x83\xcb\x95\xf3\x90\xef";
        assert_eq!(restore(big, &enc()).unwrap(), Value::from(&[b'a'; 43][..]));
        let list = b"\x12\x01\x02\x0f\x0f\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\x01\x01\xff\x0a\x00\xe0\x1b\xabJG\xceY\"";
        let Value::Coll(c) = restore(list, &enc()).unwrap() else {
            panic!("not a list")
        };
        let Coll::List(l) = *c else {
            panic!("not a list")
        };
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"b", b"1"]);
    }

    #[test]
    fn reads_lzf_strings() {
        // "aaaaaaaaaa" (10 bytes) compressed to 5: 0xC3, clen 5, len 10.
        let mut body = vec![TYPE_STRING, 0xC3, 5, 10];
        body.extend_from_slice(&[0x00, b'a', 0xE0, 0x00, 0x00]);
        body.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore(&body, &enc()).unwrap(),
            Value::from(&b"aaaaaaaaaa"[..])
        );
    }
}
