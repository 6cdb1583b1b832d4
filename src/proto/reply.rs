//! Reply encoding into a caller-owned buffer.
//!
//! [`Reply`] is the one interface commands answer through: it writes RESP2,
//! RESP3 or seed 000's line protocol, whichever the connection speaks
//! ([`Proto`]), so no handler, hop or merge step matches on the protocol.
//! The free functions below are the RESP2 encodings it builds on, also used
//! directly by the roles that only ever speak RESP2 (the LB, the origin).

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

/// Which reply encoding a connection gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Proto {
    /// RESP2, every connection's protocol until `HELLO 3`.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`: typed nulls, maps, sets, verbatim strings.
    Resp3,
    /// Seed 000's line protocol, which answers only GET, SET, DEL and PING.
    Line,
}

impl Proto {
    /// The `proto` figure HELLO reports.
    pub fn version(self) -> i64 {
        match self {
            Proto::Resp3 => 3,
            Proto::Resp2 | Proto::Line => 2,
        }
    }
}

/// Writes replies in one connection's protocol into a buffer.
///
/// The line protocol has no types: a bulk is `VALUE:…`, a null is
/// `NOT_FOUND`, a status is its text, an error is `ERROR:…` (without Redis's
/// `ERR ` prefix), and an integer can only be DEL's count (`DELETED` or
/// `NOT_FOUND`); it has no aggregates, and none of its commands makes one.
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    proto: Proto,
}

impl<'a> Reply<'a> {
    /// A writer appending to `out` in `proto`.
    #[inline]
    pub fn new(out: &'a mut Vec<u8>, proto: Proto) -> Self {
        Reply { out, proto }
    }

    /// The protocol being written.
    #[inline]
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// The buffer, for splicing in replies encoded elsewhere in this same
    /// protocol (another core's, a merged group's).
    #[inline]
    pub fn raw(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// `+OK`.
    #[inline]
    pub fn ok(&mut self) {
        self.simple("OK");
    }

    /// A status reply such as `+PONG`.
    #[inline]
    pub fn simple(&mut self, text: &str) {
        match self.proto {
            Proto::Line => super::line::status(self.out, text),
            _ => simple(self.out, text),
        }
    }

    /// An error reply; `text` starts with its code (`ERR …`, `WRONGTYPE …`)
    /// and has no CR or LF. Counted in this thread's error tally
    /// ([`errors`](super::errors)).
    #[inline]
    pub fn error(&mut self, text: &str) {
        super::errors::count(text.as_bytes());
        match self.proto {
            Proto::Line => super::line::error(self.out, text.strip_prefix("ERR ").unwrap_or(text)),
            _ => error(self.out, text),
        }
    }

    /// An error reply whose text echoes client bytes (not UTF-8 safe).
    #[inline]
    pub fn error_bytes(&mut self, text: &[u8]) {
        super::errors::count(text);
        match self.proto {
            Proto::Line => {
                let t = text.strip_prefix(b"ERR ").unwrap_or(text);
                super::line::error(self.out, &String::from_utf8_lossy(t));
            }
            _ => error_bytes(self.out, text),
        }
    }

    /// An integer reply.
    #[inline]
    pub fn int(&mut self, n: i64) {
        match self.proto {
            Proto::Line => {
                super::line::status(self.out, if n > 0 { "DELETED" } else { "NOT_FOUND" })
            }
            _ => int(self.out, n),
        }
    }

    /// A bulk string.
    #[inline]
    pub fn bulk(&mut self, bytes: &[u8]) {
        match self.proto {
            Proto::Line => super::line::value(self.out, bytes),
            _ => bulk(self.out, bytes),
        }
    }

    /// The null reply where a string could be (a missing key): `$-1`, or
    /// RESP3's `_`.
    #[inline]
    pub fn nil(&mut self) {
        match self.proto {
            Proto::Resp2 => nil(self.out),
            Proto::Resp3 => self.out.extend_from_slice(b"_\r\n"),
            Proto::Line => super::line::status(self.out, "NOT_FOUND"),
        }
    }

    /// The null array (EXEC after a WATCH failed): `*-1`, or RESP3's `_`.
    #[inline]
    pub fn null_array(&mut self) {
        match self.proto {
            Proto::Resp3 => self.out.extend_from_slice(b"_\r\n"),
            _ => self.out.extend_from_slice(b"*-1\r\n"),
        }
    }

    /// The header of an array of `n` replies that follow.
    #[inline]
    pub fn array(&mut self, n: usize) {
        self.aggregate(b'*', n);
    }

    /// The header of a map of `n` key/value pairs (2n replies) that follow:
    /// RESP3's `%n`, a flat array of 2n in RESP2.
    #[inline]
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Proto::Resp3 => self.aggregate(b'%', n),
            _ => self.aggregate(b'*', 2 * n),
        }
    }

    /// The header of a set of `n` replies that follow: RESP3's `~n`, an
    /// array in RESP2.
    #[inline]
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Proto::Resp3 => self.aggregate(b'~', n),
            _ => self.aggregate(b'*', n),
        }
    }

    /// A double (a score): RESP3's `,` type, a bulk string in RESP2, both
    /// written as Redis 7.0 writes them ([`write_g17`](super::double::write_g17)).
    pub fn double(&mut self, d: f64) {
        let mut text = Vec::with_capacity(24);
        super::double::write_g17(&mut text, d);
        match self.proto {
            Proto::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(&text);
                self.out.extend_from_slice(b"\r\n");
            }
            _ => self.bulk(&text),
        }
    }

    /// Text meant for people (INFO): RESP3's verbatim string of format
    /// `txt`, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.proto {
            Proto::Resp3 => {
                self.out.push(b'=');
                let mut b = itoa::Buffer::new();
                self.out
                    .extend_from_slice(b.format(text.len() + 4).as_bytes());
                self.out.extend_from_slice(b"\r\ntxt:");
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
            _ => self.bulk(text),
        }
    }

    fn aggregate(&mut self, kind: u8, n: usize) {
        debug_assert!(
            self.proto != Proto::Line,
            "the line protocol has no aggregates"
        );
        self.out.push(kind);
        let mut b = itoa::Buffer::new();
        self.out.extend_from_slice(b.format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
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
    }

    fn each(f: impl Fn(&mut Reply<'_>)) -> [String; 3] {
        [Proto::Resp2, Proto::Resp3, Proto::Line].map(|p| {
            let mut out = Vec::new();
            f(&mut Reply::new(&mut out, p));
            String::from_utf8(out).unwrap()
        })
    }

    #[test]
    fn one_writer_three_protocols() {
        assert_eq!(each(|w| w.ok()), ["+OK\r\n", "+OK\r\n", "OK\n"]);
        assert_eq!(each(|w| w.nil()), ["$-1\r\n", "_\r\n", "NOT_FOUND\n"]);
        assert_eq!(
            each(|w| w.bulk(b"v")),
            ["$1\r\nv\r\n", "$1\r\nv\r\n", "VALUE:v\n"]
        );
        assert_eq!(
            each(|w| w.error("ERR no")),
            ["-ERR no\r\n", "-ERR no\r\n", "ERROR:no\n"]
        );
        assert_eq!(each(|w| w.int(1)), [":1\r\n", ":1\r\n", "DELETED\n"]);
        assert_eq!(each(|w| w.int(0))[2], "NOT_FOUND\n");
        let [r2, r3, _] = each(|w| {
            if w.proto() != Proto::Line {
                w.map(1);
                w.bulk(b"k");
                w.set(2);
                w.int(1);
                w.int(2);
            }
        });
        assert_eq!(r2, "*2\r\n$1\r\nk\r\n*2\r\n:1\r\n:2\r\n");
        assert_eq!(r3, "%1\r\n$1\r\nk\r\n~2\r\n:1\r\n:2\r\n");
        let [r2, r3, _] = each(|w| {
            if w.proto() != Proto::Line {
                w.verbatim(b"# Server");
            }
        });
        assert_eq!(r2, "$8\r\n# Server\r\n");
        assert_eq!(r3, "=12\r\ntxt:# Server\r\n");
    }
}
