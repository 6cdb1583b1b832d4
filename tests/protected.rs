//! Protected mode, as Redis's: a node or LB bound beyond loopback with no
//! password and no cluster secret refuses non-local clients.
//!
//! The non-local peer is real: a socket bound to 127.0.0.2 before it
//! connects. Linux routes it over loopback, but Redis's `islocalClient`
//! counts only 127.0.0.1 and ::1, and so do we; the same connection to a
//! real redis-server 7.0.15 gets the same bytes.

mod common;

use common::{Lb, Node, RedisServer};
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

/// A source address Redis does not count as local.
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A connection from `src` to `dst`'s port on `src`'s own address (a
/// wildcard-bound server answers on every loopback address).
fn connect_from(src: Ipv4Addr, port: u16) -> TcpStream {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    s.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())
        .expect("bind the source address");
    s.connect(&SocketAddr::V4(SocketAddrV4::new(src, port)).into())
        .expect("connect");
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Send `req`, then read until the server closes; `None` if it stays open
/// (a served client) past a reply line.
fn refused_with(src: Ipv4Addr, port: u16, req: &[u8]) -> Option<Vec<u8>> {
    let mut s = connect_from(src, port);
    // A refused client may be closed before it writes; that is fine.
    let _ = s.write_all(req);
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(got),
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(&got)),
        }
        if got.ends_with(b"\n") {
            // A whole reply: closed right after it means refused.
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            match s.read(&mut chunk) {
                Ok(0) => return Some(got),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(got),
                _ => return None,
            }
        }
        assert!(Instant::now() < end, "no reply to {req:?}");
    }
}

/// The one reply line a served client gets to `req`.
fn served(src: Ipv4Addr, port: u16, req: &[u8]) -> String {
    let mut s = connect_from(src, port);
    s.write_all(req).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.ends_with(b"\n") {
        let n = s.read(&mut chunk).expect("a reply");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(got).unwrap()
}

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

fn denied_text() -> Vec<u8> {
    cachectl::protected::DENIED.to_vec()
}

#[test]
fn a_wildcard_node_refuses_a_non_local_client_as_redis_does() {
    let node = Node::start(&["--bind", "0.0.0.0"]);
    let port = node.addr().port();
    assert_eq!(served(LOCAL, port, PING), "+PONG\r\n");
    let got = refused_with(OTHER, port, PING).expect("127.0.0.2 was served");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&denied_text())
    );
    // CONFIG SET requirepass lifts it for the next connection, as in Redis.
    assert_eq!(
        served(LOCAL, port, b"CONFIG SET requirepass sesame\r\n"),
        "+OK\r\n"
    );
    assert!(served(OTHER, port, PING).starts_with("-NOAUTH"));
}

#[test]
fn redis_sends_the_same_bytes() {
    let Some(redis) = RedisServer::start(&["--bind", "0.0.0.0"]) else {
        return;
    };
    let port = redis.addr().port();
    assert_eq!(served(LOCAL, port, PING), "+PONG\r\n");
    let got = refused_with(OTHER, port, PING).expect("redis served 127.0.0.2");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&denied_text())
    );
}

/// `CONFIG SET protected-mode` from a local client, on a node and on a
/// redis-server side by side: the same replies (a bad value's error
/// included), and the next connection from 127.0.0.2 is served, then
/// refused again once it is back on.
#[test]
fn config_set_protected_mode_applies_to_the_next_connection_as_in_redis() {
    let node = Node::start(&["--bind", "0.0.0.0"]);
    let redis = RedisServer::start(&["--bind", "0.0.0.0"]);
    let mut ports = vec![node.addr().port()];
    ports.extend(redis.as_ref().map(|r| r.addr().port()));
    let mut replies = Vec::new();
    for &port in &ports {
        let mut seen = Vec::new();
        for req in [
            "CONFIG SET protected-mode maybe",
            "CONFIG GET protected-mode",
            "CONFIG SET protected-mode No",
            "CONFIG GET protected-mode",
        ] {
            seen.push(served_whole(LOCAL, port, req));
        }
        assert_eq!(served(OTHER, port, PING), "+PONG\r\n", "port {port}");
        assert_eq!(
            served(LOCAL, port, b"CONFIG SET protected-mode yes\r\n"),
            "+OK\r\n"
        );
        let got = refused_with(OTHER, port, PING).expect("served after protected-mode yes");
        assert_eq!(got, denied_text());
        replies.push(seen);
    }
    assert_eq!(
        replies[0][0],
        "-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - \
         argument must be 'yes' or 'no'\r\n"
    );
    assert_eq!(replies[0][3], "*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n");
    if let Some(theirs) = replies.get(1) {
        assert_eq!(&replies[0], theirs);
    }
}

/// The whole reply to the inline command `cmd` (one value, perhaps over
/// several lines), on a new connection from `src`.
fn served_whole(src: Ipv4Addr, port: u16, cmd: &str) -> String {
    common::RespConn::new(connect_from(src, port)).cmd(cmd)
}

#[test]
fn the_flag_a_password_a_secret_or_a_loopback_bind_lift_it() {
    let dir = std::env::temp_dir().join(format!("cachectl-protected-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pass = dir.join("pass");
    std::fs::write(&pass, "sesame\n").unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let (pass, secret) = (pass.to_str().unwrap(), secret.to_str().unwrap());
    let open = Node::start(&["--bind", "0.0.0.0", "--protected-mode", "no"]);
    assert_eq!(served(OTHER, open.addr().port(), PING), "+PONG\r\n");
    let with_pass = Node::start(&["--bind", "0.0.0.0", "--requirepass-file", pass]);
    assert!(served(OTHER, with_pass.addr().port(), PING).starts_with("-NOAUTH"));
    let with_secret = Node::start(&["--bind", "0.0.0.0", "--cluster-secret-file", secret]);
    assert_eq!(served(OTHER, with_secret.addr().port(), PING), "+PONG\r\n");
    // Bound to loopback: never guarded (the bench's clients come from
    // 127.0.0.1..16). 127.0.0.2 reaches a 127.0.0.1 listener only by its
    // address, so connect there from 127.0.0.2.
    let lo = Node::start(&[]);
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::V4(SocketAddrV4::new(OTHER, 0)).into())
        .unwrap();
    s.connect(&lo.addr().into()).unwrap();
    let mut s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(PING).unwrap();
    let mut got = [0u8; 7];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"+PONG\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wildcard_lb_refuses_non_local_clients_in_each_protocol() {
    let lb = Lb::start(&["--bind", "0.0.0.0"]);
    let port = lb.addr.port();
    let text = cachectl::roles::lb::DENIED_TEXT;
    assert_eq!(served(LOCAL, port, b"PING\n"), "PONG\n");
    let resp = refused_with(OTHER, port, PING).expect("RESP client served");
    assert_eq!(
        String::from_utf8(resp).unwrap(),
        format!("-DENIED {text}\r\n")
    );
    let line = refused_with(OTHER, port, b"PING\n").expect("line client served");
    assert_eq!(
        String::from_utf8(line).unwrap(),
        format!("ERROR:DENIED {text}\n")
    );
    let json = refused_with(OTHER, port, b"{\"op\":\"METRICS\"}\n").expect("JSON client served");
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"], format!("DENIED {text}"));
    // A node registering from 127.0.0.2 is refused too.
    let reg = refused_with(OTHER, port, b"REGISTER:4000\n").expect("registration served");
    assert!(reg.starts_with(b"ERROR:DENIED"));
    let open = Lb::start(&["--bind", "0.0.0.0", "--protected-mode", "no"]);
    assert_eq!(served(OTHER, open.addr.port(), b"PING\n"), "PONG\n");
}
