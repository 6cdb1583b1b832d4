//! Bytes ↔ frames, with no I/O.
//!
//! Parsers take `&[u8]` and say how much they consumed: `Ok(None)` means "need
//! more bytes" (not an error), a typed [`ProtoError`] means the stream is
//! malformed and cannot be resynchronised, so the caller answers with
//! [`ProtoError::reply_text`] and closes the connection, as Redis does.

pub mod client;
pub mod double;
pub mod errors;
pub mod line;
pub mod reply;
pub mod resp;

pub use reply::{Proto, Reply};
pub use resp::{parse_request, Args, Limits};

/// Which wire protocol a client connection speaks; decided on its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// RESP2 multibulk requests or Redis inline commands.
    Resp,
    /// Seed 000's `OP:KEY[:VALUE]\n` line protocol.
    Line,
}

/// Malformed input that ends a connection after one error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// `*<n>` header that is not a number or is out of range.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$<n>` header that is not a number, negative, or over the limit.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An array element that does not start with `$`.
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    /// Bulk data not followed by CRLF.
    #[error("Protocol error: expected CRLF after bulk data")]
    MissingCrlf,
    /// A `*` or `$` header line longer than any valid one.
    #[error("Protocol error: too big mbulk count string")]
    HeaderTooLong,
    /// An inline command line over the inline limit without a newline.
    #[error("Protocol error: too big inline request")]
    InlineTooLong,
    /// An inline command with an unterminated quote.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
}

impl ProtoError {
    /// The RESP error line (without `-` and CRLF) Redis would send for this.
    pub fn reply_text(&self) -> String {
        format!("ERR {self}")
    }
}

/// Guess the dialect from the first bytes of a connection.
///
/// RESP arrays start with `*`. Seed 000's protocol is `WORD:` on the first
/// line; a Redis inline command never has `:` right after its first word.
/// Returns `None` until enough bytes arrived to tell.
pub fn detect_dialect(buf: &[u8]) -> Option<Dialect> {
    let first = *buf.first()?;
    if first == b'*' {
        return Some(Dialect::Resp);
    }
    // A bare `PING` is both a Redis inline command and a line-protocol
    // request. Line clients end lines with LF alone, telnet and Redis tools
    // with CRLF: let the terminator decide.
    if buf.len() >= 5 && buf[..4].eq_ignore_ascii_case(b"PING") {
        match buf[4] {
            b'\n' => return Some(Dialect::Line),
            b'\r' => return Some(Dialect::Resp),
            _ => {}
        }
    }
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b':' if i > 0 => return Some(Dialect::Line),
            b if b.is_ascii_alphabetic() => continue,
            _ => return Some(Dialect::Resp),
        }
    }
    // Only letters so far: wait for a delimiter (bounded by the inline limit
    // the RESP parser enforces once we give up waiting).
    if buf.len() > 64 {
        Some(Dialect::Resp)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_dialects() {
        assert_eq!(detect_dialect(b"*1\r\n"), Some(Dialect::Resp));
        assert_eq!(detect_dialect(b"GET:k\n"), Some(Dialect::Line));
        assert_eq!(detect_dialect(b"GET k\r\n"), Some(Dialect::Resp));
        assert_eq!(detect_dialect(b"PING\r\n"), Some(Dialect::Resp));
        assert_eq!(detect_dialect(b"PING\n"), Some(Dialect::Line));
        assert_eq!(detect_dialect(b"ping\n"), Some(Dialect::Line));
        assert_eq!(detect_dialect(b"PING hi\n"), Some(Dialect::Resp));
        assert_eq!(detect_dialect(b"GE"), None);
        assert_eq!(detect_dialect(b""), None);
        assert_eq!(detect_dialect(b":x"), Some(Dialect::Resp));
    }
}
