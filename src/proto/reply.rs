//! RESP2 reply encoding into a caller-owned buffer.

/// Append `+text\r\n`.
#[inline]
pub fn simple(out: &mut Vec<u8>, text: &str) {
    out.push(b'+');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Append `-text\r\n`; `text` must not contain CR or LF.
#[inline]
pub fn error(out: &mut Vec<u8>, text: &str) {
    out.push(b'-');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Append `-` + raw error bytes + CRLF, for errors that echo client bytes.
#[inline]
pub fn error_bytes(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'-');
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Append `:n\r\n`.
#[inline]
pub fn int(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Append `$len\r\nbytes\r\n`.
#[inline]
pub fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(bytes.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// Append the null bulk string `$-1\r\n`.
#[inline]
pub fn nil(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// Append `*n\r\n`, the header of an array of `n` replies that follow.
#[inline]
pub fn array(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Read back an integer reply produced by [`int`]; used when partial replies
/// from several shards are summed. `None` for anything else (e.g. an error).
pub fn read_int(reply: &[u8]) -> Option<i64> {
    let digits = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        let mut o = Vec::new();
        simple(&mut o, "OK");
        error(&mut o, "ERR x");
        int(&mut o, -42);
        bulk(&mut o, b"a\r\nb");
        nil(&mut o);
        array(&mut o, 2);
        assert_eq!(
            o,
            b"+OK\r\n-ERR x\r\n:-42\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n".to_vec()
        );
        assert_eq!(read_int(b":17\r\n"), Some(17));
        assert_eq!(read_int(b"-ERR\r\n"), None);
    }
}
