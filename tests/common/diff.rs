//! The differential harness: the same raw bytes go to a real
//! `redis-server` and to a two-core `cachectl node`, and the replies must
//! match byte for byte.
//!
//! Each script runs on one connection per server after a FLUSHALL, so
//! scripts carry state (SET then GET) exactly as a client would. After every
//! request that expects a reply we send a sentinel `ECHO` and read up to its
//! reply, which makes requests that answer nothing (`*0`, a blank inline
//! line) or several things (a pipelined write) comparable too. Requests
//! marked [`Req::Closes`] end the connection (QUIT, protocol errors): we read
//! until EOF and reconnect for the rest of the script.
//!
//! Skipped, with a notice on the terminal, when `redis-server` is not on
//! PATH; a failure instead with `CACHECTL_REQUIRE_REDIS=1`, which CI sets.
//! Each family of commands has its own test file (`tests/diff_*.rs`).

use super::{connect, encode, words, Node, RedisServer};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// One request of a script.
pub enum Req {
    /// Bytes after which the connection stays open.
    Reply(Vec<u8>),
    /// Bytes after which the server closes the connection.
    Closes(Vec<u8>),
    /// A request whose reply differs by design (HELLO names the client id):
    /// both servers must answer with the same reply type, not the same bytes.
    Unchecked(Vec<u8>),
}

/// A space-separated command whose reply is not compared byte for byte.
pub fn unchecked(cmd: &str) -> Req {
    Req::Unchecked(encode(&words(cmd)))
}

/// A space-separated command (no quoting), RESP-encoded.
pub fn c(cmd: &str) -> Req {
    Req::Reply(encode(&words(cmd)))
}

/// A command given as separate (binary-safe) arguments.
pub fn a(args: &[&[u8]]) -> Req {
    Req::Reply(encode(args))
}

/// Bytes sent exactly as given (inline commands, pipelines).
pub fn raw(bytes: &[u8]) -> Req {
    Req::Reply(bytes.to_vec())
}

/// Bytes after which the server must close the connection.
pub fn closes(bytes: &[u8]) -> Req {
    Req::Closes(bytes.to_vec())
}

const MARK: &str = "--end-of-request--";

/// What one request got back.
#[derive(Debug, PartialEq, Eq)]
struct Got {
    reply: Vec<u8>,
    closed: bool,
}

/// Run `script` against `addr` on a fresh keyspace (flushed over a
/// connection that first authenticates with `password`, if given).
fn run(addr: SocketAddr, script: &[Req], password: Option<&str>) -> Vec<Got> {
    let mut flush = connect(addr);
    if let Some(p) = password {
        flush.write_all(&encode(&[b"AUTH", p.as_bytes()])).unwrap();
        let mut ok = [0u8; 5];
        flush.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"+OK\r\n", "AUTH on {addr}");
    }
    flush.write_all(&encode(&words("FLUSHALL"))).unwrap();
    let mut ok = [0u8; 5];
    flush.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n", "FLUSHALL on {addr}");

    // ECHO marks the end of a reply; a connection that has not passed AUTH
    // may not run it, so with a password the mark is an unknown command,
    // which Redis reports before it checks authentication.
    let (sentinel, sentinel_reply) = match password {
        None => (
            encode(&[b"ECHO", MARK.as_bytes()]),
            format!("${}\r\n{MARK}\r\n", MARK.len()).into_bytes(),
        ),
        Some(_) => (
            encode(&[MARK.as_bytes()]),
            format!("-ERR unknown command '{MARK}', with args beginning with: \r\n").into_bytes(),
        ),
    };
    let mut conn: Option<TcpStream> = None;
    let mut out = Vec::new();
    for req in script {
        let s = conn.get_or_insert_with(|| connect(addr));
        let got = match req {
            Req::Reply(bytes) | Req::Unchecked(bytes) => {
                let mut msg = bytes.clone();
                msg.extend_from_slice(&sentinel);
                s.write_all(&msg).unwrap();
                read_until(s, |buf| buf.ends_with(&sentinel_reply), &sentinel_reply)
            }
            Req::Closes(bytes) => {
                s.write_all(bytes).unwrap();
                read_until(s, |_| false, b"")
            }
        };
        if got.closed {
            conn = None;
        }
        out.push(got);
    }
    out
}

/// Read until `done(buf)` (then strip `suffix`) or EOF.
fn read_until(s: &mut TcpStream, done: impl Fn(&[u8]) -> bool, suffix: &[u8]) -> Got {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if done(&buf) {
            buf.truncate(buf.len() - suffix.len());
            return Got {
                reply: buf,
                closed: false,
            };
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}; so far {:?}", String::from_utf8_lossy(&buf)),
        }
    }
    Got {
        reply: buf,
        closed: true,
    }
}

fn show(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

/// Run every script against both servers; panic listing every mismatch.
pub fn compare(scripts: &[(&str, Vec<Req>)]) {
    compare_with(None, scripts);
}

/// [`compare`], with both servers started with `requirepass` if given.
pub fn compare_with(password: Option<&str>, scripts: &[(&str, Vec<Req>)]) {
    let extra: Vec<&str> = password.map_or(vec![], |p| vec!["--requirepass", p]);
    let Some(redis) = RedisServer::start(&extra) else {
        return;
    };
    let node = Node::start(&extra);
    let mut mismatches = Vec::new();
    let mut total = 0;
    for (name, script) in scripts {
        let want = run(redis.addr(), script, password);
        let got = run(node.addr(), script, password);
        for ((req, w), g) in script.iter().zip(&want).zip(&got) {
            total += 1;
            let same = match req {
                Req::Unchecked(_) => {
                    w.closed == g.closed
                        && w.reply.first() == g.reply.first()
                        && !w.reply.is_empty()
                }
                _ => w == g,
            };
            if !same {
                let bytes = match req {
                    Req::Reply(b) | Req::Closes(b) | Req::Unchecked(b) => b,
                };
                mismatches.push(format!(
                    "[{name}] request {}\n    redis: {} closed={}\n    node:  {} closed={}",
                    show(bytes),
                    show(&w.reply),
                    w.closed,
                    show(&g.reply),
                    g.closed
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {total} replies differ from redis-server:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!("{total} requests: node replies match redis-server byte for byte");
}

/// A whole transaction (or a run of MULTI-state requests) as one raw
/// request: the harness's ECHO mark would itself be queued inside MULTI, so
/// it may only follow a block that leaves the MULTI state.
pub fn block(cmds: &[&str]) -> Req {
    let mut bytes = Vec::new();
    for c in cmds {
        bytes.extend_from_slice(&encode(&words(c)));
    }
    Req::Reply(bytes)
}

/// [`compare`] of `scripts` as they are, or each after `HELLO 3` (and
/// named `…_resp3`) when `resp3`.
pub fn compare_scripts(mut scripts: Vec<(String, Vec<Req>)>, resp3: bool) {
    if resp3 {
        for (name, script) in &mut scripts {
            name.push_str("_resp3");
            script.insert(0, unchecked("HELLO 3"));
        }
    }
    let named: Vec<(&str, Vec<Req>)> = scripts.into_iter().map(|(n, s)| (&*n.leak(), s)).collect();
    compare(&named);
}

/// `lines` as requests with `{a}`, `{b}` replaced by keys (named from
/// `prefix`) of core 0 and `{x}`, `{y}` by keys of core 1 of the two-core
/// node, so one script runs its multi-key commands on one core and across
/// both.
pub fn on_cores<S: AsRef<str>>(prefix: &str, lines: &[S]) -> Vec<Req> {
    let s0 = super::keys_on_shard(prefix, 0, 2, 2);
    let s1 = super::keys_on_shard(prefix, 1, 2, 2);
    lines
        .iter()
        .map(|l| {
            c(&l.as_ref()
                .replace("{a}", &s0[0])
                .replace("{b}", &s0[1])
                .replace("{x}", &s1[0])
                .replace("{y}", &s1[1]))
        })
        .collect()
}
