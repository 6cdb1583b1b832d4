//! Raw-socket clients that return the exact bytes a server sent: RESP
//! requests and replies, and seed 000's one-line protocol.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};

/// Encode a request as a RESP multibulk array.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Split a space-separated command into arguments (no quoting).
pub fn words(cmd: &str) -> Vec<&[u8]> {
    cmd.split(' ').map(str::as_bytes).collect()
}

/// Length of the first complete RESP2 reply in `buf`, or `None` if `buf`
/// holds only part of one.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    let cr = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = buf.first()?;
    let after = cr + 2;
    let num = || -> i64 {
        std::str::from_utf8(&buf[1..cr])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad RESP header {:?}", String::from_utf8_lossy(&buf[..cr])))
    };
    match head {
        // RESP3's null, double, boolean and big number are one line too.
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n = num();
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' => {
            // A RESP3 map's count is of pairs.
            let n = if *head == b'%' { 2 * num() } else { num() };
            let mut pos = after;
            for _ in 0..n.max(0) {
                pos += reply_len(&buf[pos..])?;
            }
            Some(pos)
        }
        other => panic!(
            "not a RESP reply (starts with {:?}): {:?}",
            *other as char,
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ),
    }
}

/// What a read that expects the peer to close found.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// EOF (or reset) after these bytes.
    Yes(Vec<u8>),
    /// Still open after [`IO_TIMEOUT`](super::IO_TIMEOUT), having sent these bytes.
    No(Vec<u8>),
}

/// A raw RESP client: sends bytes, returns exact reply bytes.
pub struct RespConn {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RespConn {
    /// Wrap a connected socket.
    pub fn new(stream: TcpStream) -> Self {
        RespConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Send a request and return its one reply, byte for byte.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args));
        self.read_reply()
    }

    /// [`RespConn::call`] with a space-separated command, reply as text.
    pub fn cmd(&mut self, cmd: &str) -> String {
        let reply = self.call(&words(cmd));
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// Write raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Read exactly one complete reply.
    ///
    /// # Panics
    /// On EOF or timeout before a complete reply.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = (!self.buf.is_empty())
                .then(|| reply_len(&self.buf))
                .flatten()
            {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "connection closed with a partial reply {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!(
                    "reading a reply: {e}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Read until the server closes the connection (or [`IO_TIMEOUT`](super::IO_TIMEOUT)).
    pub fn read_to_close(&mut self) -> Closed {
        let mut got = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Closed::Yes(got),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Closed::Yes(got)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Closed::No(got)
                }
                Err(e) => panic!("reading until close: {e}"),
            }
        }
    }

    /// Close our write side (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// A seed-000 line protocol client: one request line, one reply line.
pub struct LineConn {
    reader: BufReader<TcpStream>,
}

impl LineConn {
    /// Wrap a connected socket.
    pub fn new(stream: TcpStream) -> Self {
        LineConn {
            reader: BufReader::new(stream),
        }
    }

    /// Send `line` (a `\n` is appended) and return the reply line without
    /// its newline.
    pub fn request(&mut self, line: &[u8]) -> String {
        let mut req = line.to_vec();
        req.push(b'\n');
        self.reader.get_mut().write_all(&req).expect("write line");
        self.read_line()
    }

    /// Read one reply line, without its newline.
    ///
    /// # Panics
    /// On EOF or timeout.
    pub fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut line)
            .expect("read reply line");
        assert!(
            n > 0 && line.ends_with(b"\n"),
            "connection closed: {line:?}"
        );
        line.pop();
        String::from_utf8_lossy(&line).into_owned()
    }
}
