//! Side by side with redis-server where Redis promises no order (a big
//! hash's fields, a hashtable set's members) or no content (random picks):
//! the same commands go to both servers on one connection each, and the
//! replies are compared after sorting their elements, or by shape only.

use super::{Node, RedisServer};
use std::io::{Read, Write};
use std::net::TcpStream;

/// A reply, parsed just enough to sort its elements.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum R {
    /// Any non-aggregate reply, its exact bytes.
    Leaf(Vec<u8>),
    /// An aggregate: its type byte and its elements (a map's keys and
    /// values in turn).
    Agg(u8, Vec<R>),
}

fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[..end], end + 2))
}

/// Parse one complete reply; `None` while `buf` holds only part of one.
pub fn try_parse(buf: &[u8]) -> Option<(R, usize)> {
    let (head, n) = line(buf)?;
    let count = || {
        std::str::from_utf8(&head[1..])
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    match head[0] {
        b'$' | b'=' if count() >= 0 => {
            let len = n + count() as usize + 2;
            (buf.len() >= len).then(|| (R::Leaf(buf[..len].to_vec()), len))
        }
        t @ (b'*' | b'~' | b'%' | b'>') if count() >= 0 => {
            let items = count() as usize * if t == b'%' { 2 } else { 1 };
            let mut at = n;
            let mut v = Vec::with_capacity(items);
            for _ in 0..items {
                let (r, used) = try_parse(&buf[at..])?;
                v.push(r);
                at += used;
            }
            Some((R::Agg(t, v), at))
        }
        _ => Some((R::Leaf(buf[..n].to_vec()), n)),
    }
}

/// Parse one complete reply.
pub fn parse(buf: &[u8]) -> (R, usize) {
    try_parse(buf).expect("a complete reply")
}

/// A connection that reads RESP2 and RESP3 replies whole.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Send a request; its reply, parsed.
    pub fn call(&mut self, args: &[&[u8]]) -> R {
        self.stream.write_all(&super::encode(args)).expect("write");
        loop {
            if let Some((r, n)) = try_parse(&self.buf) {
                self.buf.drain(..n);
                return r;
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("closed mid-reply"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("reading a reply: {e}"),
            }
        }
    }

    /// [`Conn::call`] with a space-separated command.
    pub fn cmd(&mut self, cmd: &str) -> R {
        self.call(&super::words(cmd))
    }
}

/// How two replies are compared.
#[derive(Clone, Copy, Debug)]
pub enum How {
    /// Byte for byte.
    Exact,
    /// The top aggregate's elements sorted, in groups of this many (2 for
    /// a hash's fields and values).
    Sorted(usize),
    /// A scan reply: the second element's items sorted in groups.
    Scan(usize),
    /// The type byte and the element count only (a leaf's type byte).
    Shape,
}

/// `r` as compared under `how`.
pub fn normal(r: R, how: How) -> R {
    let sort = |v: Vec<R>, g: usize| {
        let mut groups: Vec<Vec<R>> = v.chunks(g).map(<[R]>::to_vec).collect();
        groups.sort();
        groups.concat()
    };
    match (r, how) {
        (R::Agg(t, v), How::Sorted(g)) => R::Agg(t, sort(v, g)),
        (R::Agg(t, mut v), How::Scan(g)) if v.len() == 2 => {
            if let R::Agg(t2, items) = v.pop().unwrap() {
                v.push(R::Agg(t2, sort(items, g)));
            }
            R::Agg(t, v)
        }
        (R::Agg(t, v), How::Shape) => R::Agg(t, vec![R::Leaf(vec![]); v.len()]),
        (R::Leaf(l), How::Shape) => R::Leaf(l[..1].to_vec()),
        (r, _) => r,
    }
}

/// One connection to each server.
pub struct Both {
    /// To redis-server.
    pub redis: Conn,
    /// To the node.
    pub node: Conn,
    /// Mismatches so far.
    pub bad: Vec<String>,
    total: usize,
}

impl Both {
    /// Connect to both (flushed).
    pub fn new(redis: &RedisServer, node: &Node) -> Both {
        let mut b = Both {
            redis: Conn::new(super::connect(redis.addr())),
            node: Conn::new(node.raw()),
            bad: Vec::new(),
            total: 0,
        };
        b.same("FLUSHALL", How::Exact);
        b
    }

    /// Send `args` to both; the two replies, parsed.
    pub fn both(&mut self, args: &[&[u8]]) -> (R, R) {
        let want = self.redis.call(args);
        let got = self.node.call(args);
        (want, got)
    }

    /// Send `args` to both and note a difference under `how`; the node's
    /// reply.
    pub fn same_args(&mut self, args: &[&[u8]], how: How) -> R {
        let (want, got) = self.both(args);
        self.total += 1;
        if normal(want.clone(), how) != normal(got.clone(), how) {
            self.bad.push(format!(
                "{:?} ({how:?})\n    redis: {want:?}\n    node:  {got:?}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>()
            ));
        }
        got
    }

    /// [`Both::same_args`] with a space-separated command.
    pub fn same(&mut self, cmd: &str, how: How) -> R {
        self.same_args(&super::words(cmd), how)
    }

    /// Panic listing every mismatch.
    pub fn check(self) {
        assert!(
            self.bad.is_empty(),
            "{} of {} replies differ from redis-server:\n{}",
            self.bad.len(),
            self.total,
            self.bad.join("\n")
        );
        eprintln!("{} requests: node replies match redis-server", self.total);
    }
}

/// The elements of an aggregate reply.
pub fn items(r: &R) -> &[R] {
    match r {
        R::Agg(_, v) => v,
        R::Leaf(l) => panic!("not an aggregate: {:?}", String::from_utf8_lossy(l)),
    }
}

/// A full scan (`cmd` is HSCAN, SSCAN or ZSCAN) of `key` with `opts`, in
/// steps on the node, checked to return each item (group of `g`) once,
/// and compared with Redis's own full scan (one step of a huge COUNT).
pub fn full_scans_agree(b: &mut Both, cmd: &str, key: &str, opts: &str, g: usize) {
    let call = |c: &mut Conn, cursor: &[u8], more: &[&str]| {
        let mut args: Vec<&[u8]> = vec![cmd.as_bytes(), key.as_bytes(), cursor];
        args.extend(opts.split_whitespace().map(str::as_bytes));
        args.extend(more.iter().map(|m| m.as_bytes()));
        let r = c.call(&args);
        let v = items(&r).to_vec();
        let R::Leaf(next) = &v[0] else {
            panic!("a cursor")
        };
        // "$1\r\n0\r\n" ends the scan.
        let text = String::from_utf8_lossy(next).into_owned();
        let next = text.rsplit("\r\n").nth(1).unwrap().to_string();
        let groups: Vec<Vec<R>> = items(&v[1]).chunks(g).map(<[R]>::to_vec).collect();
        (next, groups)
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, groups) = call(&mut b.node, cursor.as_bytes(), &[]);
        for e in groups {
            assert!(seen.insert(e.clone()), "{cmd} {key} returned {e:?} twice");
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    let (_, want) = call(&mut b.redis, b"0", &["COUNT", "100000"]);
    let want: std::collections::BTreeSet<Vec<R>> = want.into_iter().collect();
    assert_eq!(seen, want, "{cmd} {key} {opts}");
}
