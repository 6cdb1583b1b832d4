//! Helpers shared by the fuzz targets: a strict RESP2/RESP3 reply reader
//! (written apart from the crate's own client parser, so a reply that
//! cachectl writes wrong is not read wrong the same way) and argv
//! splitting.

/// One RESP value, as the reader found it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text`
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$n` or `$-1` (nil, RESP2 only).
    Bulk(Option<Vec<u8>>),
    /// `*n` or `*-1` (nil, RESP2 only).
    Array(Option<Vec<Value>>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `,` double.
    Double(Vec<u8>),
    /// RESP3 `#t` / `#f`.
    Bool(bool),
    /// RESP3 `(` big number.
    BigNumber(Vec<u8>),
    /// RESP3 `=` verbatim string: format and text.
    Verbatim(Vec<u8>, Vec<u8>),
    /// RESP3 `%` map.
    Map(Vec<(Value, Value)>),
    /// RESP3 `~` set.
    Set(Vec<Value>),
    /// RESP3 `>` push.
    Push(Vec<Value>),
}

/// Deepest nesting the reader follows (no command nests deeper than a few).
const MAX_DEPTH: usize = 32;

/// Read exactly one value from the front of `buf`, returning it and the
/// bytes it took. `resp3` allows RESP3's types and forbids RESP2's nils.
///
/// # Errors
/// A description of the first byte that breaks the format, or of the
/// value being incomplete.
pub fn read(buf: &[u8], resp3: bool) -> Result<(Value, usize), String> {
    let mut r = Reader { buf, pos: 0, resp3 };
    let v = r.value(0)?;
    Ok((v, r.pos))
}

/// Read `buf` as exactly one complete value with nothing after it.
///
/// # Errors
/// As [`read`], or when bytes follow the value.
pub fn read_one(buf: &[u8], resp3: bool) -> Result<Value, String> {
    let (v, used) = read(buf, resp3)?;
    if used != buf.len() {
        return Err(format!("{} bytes after the reply", buf.len() - used));
    }
    Ok(v)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    resp3: bool,
}

impl Reader<'_> {
    /// A line's bytes (no CR or LF inside), consuming its CRLF.
    fn line(&mut self) -> Result<&[u8], String> {
        let rest = &self.buf[self.pos..];
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("incomplete line")?;
        if nl == 0 || rest[nl - 1] != b'\r' {
            return Err(format!("LF without CR at {}", self.pos + nl));
        }
        let line = &rest[..nl - 1];
        if line.contains(&b'\r') {
            return Err(format!("CR inside a line at {}", self.pos));
        }
        self.pos += nl + 1;
        Ok(line)
    }

    fn int(&mut self) -> Result<i64, String> {
        let line = self.line()?;
        let text = std::str::from_utf8(line).map_err(|_| "integer not ASCII")?;
        // As Redis writes them: no `+`, no leading zeros, no `-0`.
        let canonical = text.parse::<i64>().map(|n| n.to_string());
        match canonical {
            Ok(c) if c == text => Ok(text.parse().expect("parsed above")),
            _ => Err(format!("not an integer: {text:?}")),
        }
    }

    /// A length header: `-1` (when `nil_ok`) or a count.
    fn len(&mut self, nil_ok: bool) -> Result<Option<usize>, String> {
        match self.int()? {
            -1 if nil_ok && !self.resp3 => Ok(None),
            n if n >= 0 => Ok(Some(n as usize)),
            n => Err(format!("bad length {n}")),
        }
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let end = self.pos.checked_add(n).ok_or("length overflow")?;
        if self.buf.len() < end + 2 {
            return Err("incomplete bulk".into());
        }
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(format!("no CRLF after bulk at {end}"));
        }
        let b = self.buf[self.pos..end].to_vec();
        self.pos = end + 2;
        Ok(b)
    }

    fn values(&mut self, n: usize, depth: usize) -> Result<Vec<Value>, String> {
        // Each value takes at least 3 bytes: don't trust `n` for capacity.
        let mut v = Vec::with_capacity(n.min(self.buf.len() / 3));
        for _ in 0..n {
            v.push(self.value(depth + 1)?);
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        let Some(&tag) = self.buf.get(self.pos) else {
            return Err("no reply".into());
        };
        self.pos += 1;
        let resp3_only = matches!(tag, b'_' | b',' | b'#' | b'(' | b'=' | b'%' | b'~' | b'>');
        if resp3_only && !self.resp3 {
            return Err(format!("RESP3 type {:?} in a RESP2 reply", tag as char));
        }
        Ok(match tag {
            b'+' => Value::Simple(self.line()?.to_vec()),
            b'-' => Value::Error(self.line()?.to_vec()),
            b':' => Value::Int(self.int()?),
            b'$' => match self.len(true)? {
                None => Value::Bulk(None),
                Some(n) => Value::Bulk(Some(self.bytes(n)?)),
            },
            b'*' => match self.len(true)? {
                None => Value::Array(None),
                Some(n) => Value::Array(Some(self.values(n, depth)?)),
            },
            b'_' => {
                if !self.line()?.is_empty() {
                    return Err("bytes after _".into());
                }
                Value::Null
            }
            b',' => {
                let line = self.line()?.to_vec();
                let text = std::str::from_utf8(&line).map_err(|_| "double not ASCII")?;
                if !matches!(text, "inf" | "-inf" | "nan") && text.parse::<f64>().is_err() {
                    return Err(format!("not a double: {text:?}"));
                }
                Value::Double(line)
            }
            b'#' => match self.line()? {
                b"t" => Value::Bool(true),
                b"f" => Value::Bool(false),
                other => return Err(format!("not a boolean: {other:?}")),
            },
            b'(' => {
                let line = self.line()?.to_vec();
                let digits = line.strip_prefix(b"-").unwrap_or(&line);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err("not a big number".into());
                }
                Value::BigNumber(line)
            }
            b'=' => {
                let n = self.len(false)?.expect("no nil");
                let b = self.bytes(n)?;
                if b.len() < 4 || b[3] != b':' {
                    return Err("verbatim string without a format".into());
                }
                Value::Verbatim(b[..3].to_vec(), b[4..].to_vec())
            }
            b'%' => {
                let n = self.len(false)?.expect("no nil");
                let flat = self.values(n.checked_mul(2).ok_or("map too long")?, depth)?;
                let mut pairs = Vec::with_capacity(n);
                let mut it = flat.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Value::Map(pairs)
            }
            b'~' => {
                let n = self.len(false)?.expect("no nil");
                Value::Set(self.values(n, depth)?)
            }
            b'>' => {
                let n = self.len(false)?.expect("no nil");
                Value::Push(self.values(n, depth)?)
            }
            other => return Err(format!("unknown type byte {other:#04x}")),
        })
    }
}

/// Encode `args` as a RESP multibulk request.
pub fn multibulk<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let args: Vec<&[u8]> = args.into_iter().collect();
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_redis_writes() {
        let v = read_one(b"*3\r\n$1\r\na\r\n:-5\r\n$-1\r\n", false).unwrap();
        assert_eq!(
            v,
            Value::Array(Some(vec![
                Value::Bulk(Some(b"a".to_vec())),
                Value::Int(-5),
                Value::Bulk(None)
            ]))
        );
        let m = read_one(b"%1\r\n+k\r\n,1.5\r\n", true).unwrap();
        assert_eq!(
            m,
            Value::Map(vec![(
                Value::Simple(b"k".to_vec()),
                Value::Double(b"1.5".to_vec())
            )])
        );
        assert!(read_one(b"=8\r\ntxt:abcd\r\n", true).is_ok());
    }

    #[test]
    fn refuses_what_a_client_would_choke_on() {
        for (bad, resp3) in [
            (&b"_\r\n"[..], false),
            (b"$-1\r\n", true),
            (b"+a\nb\r\n", false),
            (b":01\r\n", false),
            (b"$3\r\nab\r\n", false),
            (b"*2\r\n:1\r\n", false),
            (b"+OK\r\n+OK\r\n", false),
            (b"+OK", false),
            (b"!3\r\nabc\r\n", true),
        ] {
            assert!(
                read_one(bad, resp3).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn multibulk_encodes() {
        assert_eq!(
            multibulk([&b"GET"[..], b"k"]),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
    }
}
