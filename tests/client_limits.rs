//! Client memory limits, as Redis 7's: `client-query-buffer-limit`,
//! `maxmemory-clients` (client eviction, `CLIENT NO-EVICT`),
//! `client-output-buffer-limit normal`, and `timeout` against idle and
//! slow-loris clients. Each test checks that the limit closes the client
//! that passed it and that the others are still served; where the outcome
//! does not depend on how a server sizes its buffers, the same script also
//! runs against redis-server 7.0.15 (skipped without it, unless
//! CACHECTL_REQUIRE_REDIS=1), and CONFIG SET/GET texts are compared byte for
//! byte.

mod common;

use common::diff::{a, c, compare};
use common::{encode, poll_until, Node, RedisServer, IO_TIMEOUT};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A raw client socket.
fn dial(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Send one command and read its whole reply (RESP2).
fn call(s: &mut TcpStream, args: &[&[u8]]) -> Vec<u8> {
    s.write_all(&encode(args)).expect("write");
    read_reply(s).expect("a reply")
}

/// One whole RESP2 reply, or `None` if the server closed first.
fn read_reply(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if let Some(n) = common::reply_len(&got) {
            got.truncate(n);
            return Some(got);
        }
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read: {e} after {} bytes", got.len()),
        }
    }
}

/// Read until `want` bytes came or the server closed; how many came.
fn read_bytes(s: &mut TcpStream, want: usize) -> usize {
    let mut got = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    while got < want {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("read: {e} after {got} bytes"),
        }
    }
    got
}

/// Whether the server has closed `s`: EOF or a reset within `wait`, with no
/// bytes before it (a reply would mean it was served).
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1];
    let closed = match s.read(&mut b) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Ok(_) => panic!("got a byte from a client that should be closed or silent"),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("read: {e}"),
    };
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    closed
}

/// The header of `SET key <len bytes>`, whose value is still to come.
fn set_header(key: &str, len: usize) -> Vec<u8> {
    format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${len}\r\n", key.len()).into_bytes()
}

/// A field of INFO.
fn info(s: &mut TcpStream, field: &str) -> u64 {
    let text = String::from_utf8(call(s, &[b"INFO", b"everything"])).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

/// Whether CLIENT LIST (asked on `s`) still shows client `id`.
fn listed(s: &mut TcpStream, id: u64) -> bool {
    let text = String::from_utf8(call(s, &[b"CLIENT", b"LIST"])).unwrap();
    text.lines().any(|l| l.contains(&format!("id={id} ")))
}

fn client_id(s: &mut TcpStream) -> u64 {
    let r = call(s, &[b"CLIENT", b"ID"]);
    std::str::from_utf8(&r[1..r.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

/// Set `mid` to 300 KB (through `s`), then open a client that pipelines
/// `gets` GETs of it and reads nothing; the client and its id.
fn never_reads(s: &mut TcpStream, addr: SocketAddr, gets: usize) -> (TcpStream, u64) {
    let mid = vec![b'y'; 300_000];
    assert_eq!(call(s, &[b"SET", b"mid", &mid]), b"+OK\r\n");
    let mut stuck = dial(addr);
    let id = client_id(&mut stuck);
    stuck
        .write_all(&encode(&[b"GET", b"mid"]).repeat(gets))
        .unwrap();
    (stuck, id)
}

/// A server of either kind: the node under test, or redis-server.
struct Server {
    addr: SocketAddr,
    _node: Option<Node>,
    _redis: Option<RedisServer>,
}

/// The node with `node_flags`, and redis-server (if installed) with the
/// same limits set by CONFIG SET: both get the same script.
fn both(node_flags: &[&str], config: &[(&str, &str)]) -> Vec<(&'static str, Server)> {
    let node = Node::start(node_flags);
    let mut v = vec![(
        "node",
        Server {
            addr: node.addr(),
            _node: Some(node),
            _redis: None,
        },
    )];
    if let Some(redis) = RedisServer::start(&[]) {
        let mut s = dial(redis.addr());
        for (k, val) in config {
            assert_eq!(
                call(&mut s, &[b"CONFIG", b"SET", k.as_bytes(), val.as_bytes()]),
                b"+OK\r\n"
            );
        }
        v.push((
            "redis-server",
            Server {
                addr: redis.addr(),
                _node: None,
                _redis: Some(redis),
            },
        ));
    }
    v
}

#[test]
fn the_query_buffer_limit_closes_only_the_client_past_it() {
    for (name, srv) in both(
        &["--client-query-buffer-limit", "1mb"],
        &[("client-query-buffer-limit", "1mb")],
    ) {
        let mut ok = dial(srv.addr);
        let mut big = dial(srv.addr);
        // 2 MB declared, and more than the limit of it sent.
        big.write_all(&set_header("big", 2_000_000)).unwrap();
        let sent = big.write_all(&vec![b'x'; 1_200_000]);
        assert!(
            sent.is_err() || closed_within(&mut big, Duration::from_secs(10)),
            "{name}: a 2 MB bulk passed a 1mb query buffer limit"
        );
        // Under the limit, another client is served.
        let value = vec![b'v'; 900_000];
        assert_eq!(call(&mut ok, &[b"SET", b"k", &value]), b"+OK\r\n", "{name}");
        assert_eq!(call(&mut ok, &[b"STRLEN", b"k"]), b":900000\r\n", "{name}");
        // Raised live, the same 2 MB now goes in.
        assert_eq!(
            call(
                &mut ok,
                &[b"CONFIG", b"SET", b"client-query-buffer-limit", b"4mb"]
            ),
            b"+OK\r\n"
        );
        let mut again = dial(srv.addr);
        let value = vec![b'x'; 2_000_000];
        assert_eq!(
            call(&mut again, &[b"SET", b"big", &value]),
            b"+OK\r\n",
            "{name}"
        );
        assert_eq!(
            call(&mut ok, &[b"STRLEN", b"big"]),
            b":2000000\r\n",
            "{name}"
        );
    }
}

/// Two clients declare big bulks (600 KB, then 500 KB) and send a little
/// of each; together they pass a 1 MB `maxmemory-clients`. The biggest
/// evictable one must go, the other finish its SET, and a third, small
/// client stay served. With `no_evict`, the 600 KB client runs CLIENT
/// NO-EVICT on first, so the 500 KB one goes instead.
fn eviction_script(name: &str, addr: SocketAddr, no_evict: bool) {
    let mut small = dial(addr);
    let mut first = dial(addr);
    let mut second = dial(addr);
    if no_evict {
        assert_eq!(
            call(&mut first, &[b"CLIENT", b"NO-EVICT", b"on"]),
            b"+OK\r\n"
        );
    }
    let (a_len, b_len) = (600_000, 500_000);
    first.write_all(&set_header("a", a_len)).unwrap();
    first.write_all(&[b'a'; 1000]).unwrap();
    // The first client's room is counted before the second declares.
    poll_until(Duration::from_secs(10), "the first bulk counted", || {
        let held = info(&mut small, "mem_clients_normal");
        (held >= a_len as u64)
            .then_some(())
            .ok_or(format!("{name}: mem_clients_normal {held}"))
    });
    second.write_all(&set_header("b", b_len)).unwrap();
    second.write_all(&[b'b'; 1000]).unwrap();
    let (gone, kept, kept_len, kept_key) = if no_evict {
        (&mut second, &mut first, a_len, "a")
    } else {
        (&mut first, &mut second, b_len, "b")
    };
    assert!(
        closed_within(gone, Duration::from_secs(10)),
        "{name}: the biggest evictable client was not evicted"
    );
    // The one kept finishes its request.
    kept.write_all(&vec![kept_key.as_bytes()[0]; kept_len - 1000])
        .unwrap();
    kept.write_all(b"\r\n").unwrap();
    assert_eq!(read_reply(kept).as_deref(), Some(&b"+OK\r\n"[..]), "{name}");
    assert_eq!(
        call(&mut small, &[b"STRLEN", kept_key.as_bytes()]),
        format!(":{kept_len}\r\n").into_bytes(),
        "{name}"
    );
    assert_eq!(info(&mut small, "evicted_clients"), 1, "{name}");
}

#[test]
fn maxmemory_clients_evicts_the_biggest_client_first() {
    for (name, srv) in both(
        &["--maxmemory-clients", "1mb"],
        &[("maxmemory-clients", "1mb")],
    ) {
        eviction_script(name, srv.addr, false);
    }
}

#[test]
fn client_no_evict_exempts_a_client() {
    // Set live, as a percentage of maxmemory: 10% of 10mb.
    for (name, srv) in both(&["--maxmemory", "10mb"], &[("maxmemory", "10mb")]) {
        let mut s = dial(srv.addr);
        assert_eq!(
            call(&mut s, &[b"CONFIG", b"SET", b"maxmemory-clients", b"10%"]),
            b"+OK\r\n"
        );
        eviction_script(name, srv.addr, true);
    }
    // CLIENT INFO shows the flag as Redis does.
    let node = Node::start(&[]);
    let mut s = dial(node.addr());
    assert_eq!(call(&mut s, &[b"CLIENT", b"NO-EVICT", b"ON"]), b"+OK\r\n");
    let line = String::from_utf8(call(&mut s, &[b"CLIENT", b"INFO"])).unwrap();
    assert!(line.contains(" flags=e "), "{line}");
    assert_eq!(call(&mut s, &[b"CLIENT", b"NO-EVICT", b"off"]), b"+OK\r\n");
    let line = String::from_utf8(call(&mut s, &[b"CLIENT", b"INFO"])).unwrap();
    assert!(line.contains(" flags=N "), "{line}");
}

#[test]
fn the_big_bulk_attack_is_evicted_and_the_node_stays_small() {
    // The attack of issue 12, scaled down: 8 clients each declare a 512 MB
    // bulk and start sending it. Each one's room alone passes a 64mb
    // maxmemory-clients, so each is closed at its header, while an
    // ordinary client keeps being served.
    let node = Node::start(&["--maxmemory", "64mb", "--maxmemory-clients", "64mb"]);
    let mut ok = dial(node.addr());
    let mut attackers: Vec<TcpStream> = (0..8).map(|_| dial(node.addr())).collect();
    for (i, s) in attackers.iter_mut().enumerate() {
        s.write_all(&set_header(&format!("k{i}"), 512 << 20))
            .unwrap();
        // Any of these writes may fail once the node closes the socket.
        let _ = s.write_all(&vec![b'x'; 1 << 20]);
    }
    for s in &mut attackers {
        assert!(
            closed_within(s, Duration::from_secs(10)),
            "an attacker was kept"
        );
    }
    assert_eq!(call(&mut ok, &[b"PING"]), b"+PONG\r\n");
    assert_eq!(info(&mut ok, "evicted_clients"), 8);
    let held = info(&mut ok, "mem_clients_normal");
    assert!(held < 1 << 20, "clients still hold {held} bytes");
}

#[test]
fn the_output_buffer_hard_limit_closes_a_client_with_a_big_reply() {
    for (name, srv) in both(
        &["--client-output-buffer-limit", "normal 1mb 0 0"],
        &[("client-output-buffer-limit", "normal 1mb 0 0")],
    ) {
        let mut s = dial(srv.addr);
        let big = vec![b'x'; 2 << 20];
        let mid = vec![b'y'; 300_000];
        assert_eq!(call(&mut s, &[b"SET", b"big", &big]), b"+OK\r\n");
        assert_eq!(call(&mut s, &[b"SET", b"mid", &mid]), b"+OK\r\n");
        // A reply under the limit is sent.
        let mut under = dial(srv.addr);
        let reply = call(&mut under, &[b"GET", b"mid"]);
        assert_eq!(reply.len(), 300_000 + 11, "{name}");
        // One over it closes the client, with nothing sent.
        let mut over = dial(srv.addr);
        over.write_all(&encode(&[b"GET", b"big"])).unwrap();
        assert_eq!(
            read_reply(&mut over).map(|r| r.len()),
            None,
            "{name}: a 2 MB reply passed 1mb"
        );
        // A pipeline it never reads: GETs of 300 KB, 40 of them.
        let mut pipe = dial(srv.addr);
        let id = client_id(&mut pipe);
        let one = encode(&[b"GET", b"mid"]);
        pipe.write_all(&one.repeat(40)).unwrap();
        poll_until(Duration::from_secs(10), "the pipeliner closed", || {
            (!listed(&mut s, id))
                .then_some(())
                .ok_or(format!("{name}: client {id} still listed"))
        });
        // The others are still served.
        assert_eq!(call(&mut under, &[b"STRLEN", b"big"]), b":2097152\r\n");
        assert_eq!(call(&mut s, &[b"PING"]), b"+PONG\r\n");
    }
}

#[test]
fn the_output_buffer_soft_limit_closes_a_client_that_stays_over_it() {
    // One core: every reply is written by the client's own core; two: the
    // key's owner writes some answers itself (see `node::tail`).
    for cores in ["1", "2"] {
        soft_limit_script(cores);
    }
}

fn soft_limit_script(cores: &str) {
    // Node only: Redis checks the soft limit when a reply is added, so a
    // client that sends nothing more is closed only by its next reply;
    // the node closes it when its write is still over the soft limit at
    // the deadline.
    let node = Node::start(&[
        "--cores",
        cores,
        "--client-output-buffer-limit",
        "normal 0 1mb 1",
    ]);
    let mut s = dial(node.addr());
    // 12 MB of replies, never read.
    let (_stuck, id) = never_reads(&mut s, node.addr(), 40);
    let start = Instant::now();
    // Still listed while the soft limit's second runs.
    std::thread::sleep(Duration::from_millis(300));
    assert!(listed(&mut s, id), "closed before its soft seconds");
    poll_until(Duration::from_secs(10), "the stuck client closed", || {
        (!listed(&mut s, id))
            .then_some(())
            .ok_or(format!("client {id} still listed"))
    });
    assert!(start.elapsed() >= Duration::from_millis(900));
    // A client that reads the same replies at once is served in full.
    let mut reader = dial(node.addr());
    reader
        .write_all(&encode(&[b"GET", b"mid"]).repeat(40))
        .unwrap();
    assert_eq!(read_bytes(&mut reader, 40 * 300_011), 40 * 300_011);
}

/// A client that stops mid-request is closed by `timeout`; one that sends a
/// byte every 400 ms for longer than the timeout is not (a byte is an
/// interaction, in Redis as here), and is answered once its request is
/// whole.
#[test]
fn timeout_closes_the_silent_client_not_the_slow_one() {
    for (name, srv) in both(&["--timeout", "1"], &[("timeout", "1")]) {
        let mut silent = dial(srv.addr);
        silent.write_all(b"*1\r\n$4\r\nPI").unwrap();
        let mut slow = dial(srv.addr);
        let start = Instant::now();
        for b in b"*1\r\n$4\r\nPING\r\n" {
            slow.write_all(&[*b]).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        }
        assert!(start.elapsed() > Duration::from_secs(4));
        assert_eq!(
            read_reply(&mut slow).as_deref(),
            Some(&b"+PONG\r\n"[..]),
            "{name}"
        );
        assert!(
            closed_within(&mut silent, Duration::from_secs(5)),
            "{name}: the silent client was kept"
        );
    }
}

#[test]
fn slow_loris_clients_hold_only_their_read_buffers() {
    let node = Node::start(&[]);
    let mut s = dial(node.addr());
    let base = info(&mut s, "mem_clients_normal");
    // 50 clients, each a few bytes into a request.
    let mut loris: Vec<TcpStream> = (0..50).map(|_| dial(node.addr())).collect();
    for l in &mut loris {
        l.write_all(b"*2\r\n$3\r\nGET\r\n$3\r\nab").unwrap();
    }
    let held = poll_until(Duration::from_secs(10), "50 clients counted", || {
        let held = info(&mut s, "mem_clients_normal");
        (held >= base + 50 * 4096)
            .then_some(held)
            .ok_or(format!("mem_clients_normal {held}"))
    });
    // Each holds its 4 KiB read buffer and nothing else (the slack is
    // this client's own reply buffer, grown by INFO).
    assert!(
        held - base <= 50 * 4096 + 16 * 1024,
        "50 slow clients hold {} bytes",
        held - base
    );
    // A byte more each changes nothing; their requests finish normally.
    for l in &mut loris {
        l.write_all(b"c").unwrap();
    }
    assert_eq!(info(&mut s, "mem_clients_normal"), held);
    for l in &mut loris {
        l.write_all(b"\r\n").unwrap();
        assert_eq!(read_reply(l).as_deref(), Some(&b"$-1\r\n"[..]));
    }
    drop(loris);
    poll_until(Duration::from_secs(10), "their buffers released", || {
        let now = info(&mut s, "mem_clients_normal");
        (now <= base + 16 * 1024)
            .then_some(())
            .ok_or(format!("mem_clients_normal {now} (was {base})"))
    });
}

#[test]
fn redis_differential_client_limit_settings() {
    let mut s = vec![
        c("CONFIG GET client-query-buffer-limit"),
        c("CONFIG GET maxmemory-clients"),
    ];
    for v in [
        "1", "1048575", "1048576", "1mb", "x", "10%", "100gb", "-1", "1gb",
    ] {
        s.push(c(&format!("CONFIG SET client-query-buffer-limit {v}")));
        s.push(c("CONFIG GET client-query-buffer-limit"));
    }
    for v in [
        "10%",
        "5mb",
        "101%",
        "-1",
        "abc",
        "0%",
        "1.5%",
        "%",
        "100%",
        "-5%",
        "5%%",
        "+5%",
        "18446744073709551615",
        "9223372036854775808",
        "50KB%",
        "5k",
        "1000%",
        "0",
    ] {
        s.push(c(&format!("CONFIG SET maxmemory-clients {v}")));
        s.push(c("CONFIG GET maxmemory-clients"));
    }
    for v in [
        &b"normal 10mb 5mb 10"[..],
        b"normal 1k 2k 3 pubsub 1mb 512kb 10",
        b"normal x 0 0",
        b"normal 1 2",
        b"normal 0 0 0",
        b"pubsub 32mb 8mb 60",
    ] {
        s.push(a(&[b"CONFIG", b"SET", b"client-output-buffer-limit", v]));
        s.push(c("CONFIG GET client-output-buffer-limit"));
    }
    for v in ["on", "OFF", "maybe"] {
        s.push(c(&format!("CLIENT NO-EVICT {v}")));
    }
    s.push(c("CLIENT NO-EVICT"));
    compare(&[("client limit settings", s)]);
}

#[test]
fn a_pipeline_never_read_holds_about_a_megabyte_without_limits() {
    // One core, so every reply is made on the client's own core, and no
    // output limit: the node still stops taking requests once 1 MiB of
    // replies waits to be written, and goes on when they are read.
    let node = Node::start(&["--cores", "1"]);
    let mut s = dial(node.addr());
    // 200 GETs (60 MB of replies) in one write of 2 KB.
    let (mut stuck, id) = never_reads(&mut s, node.addr(), 200);
    let start = Instant::now();
    let mut peak = 0;
    while start.elapsed() < Duration::from_secs(1) {
        peak = peak.max(info(&mut s, "mem_clients_normal"));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(peak > 1 << 20, "the replies were never counted ({peak})");
    assert!(peak < 4 << 20, "a stuck pipeline holds {peak} bytes");
    assert!(listed(&mut s, id), "closed with no limit set");
    assert_eq!(read_bytes(&mut stuck, 200 * 300_011), 200 * 300_011);
}

#[test]
fn timeout_closes_a_client_that_stops_reading() {
    // Its write makes no progress for the timeout: no interaction, as in
    // Redis, where lastinteraction moves only when bytes are written.
    let node = Node::start(&["--cores", "1", "--timeout", "1"]);
    let mut s = dial(node.addr());
    let (_stuck, id) = never_reads(&mut s, node.addr(), 200);
    let start = Instant::now();
    poll_until(Duration::from_secs(10), "the stuck reader closed", || {
        assert_eq!(call(&mut s, &[b"PING"]), b"+PONG\r\n");
        (!listed(&mut s, id))
            .then_some(())
            .ok_or(format!("client {id} still listed"))
    });
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[test]
fn a_reply_bigger_than_the_socket_buffer_arrives_whole_from_any_core() {
    // Keys on both cores of a two-core node: the owner of a key another
    // core's client asks for writes the answer itself, and must finish it
    // however slowly the client reads, not wait for its next request.
    let node = Node::start(&[]);
    let mut s = dial(node.addr());
    let value = vec![b'z'; 20_000_000];
    for k in ["a", "b", "c", "d"] {
        assert_eq!(call(&mut s, &[b"SET", k.as_bytes(), &value]), b"+OK\r\n");
    }
    for k in ["a", "b", "c", "d"] {
        let mut r = dial(node.addr());
        r.write_all(&encode(&[b"GET", k.as_bytes()])).unwrap();
        // Read slowly at first, so the socket fills.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(read_bytes(&mut r, 20_000_013), 20_000_013, "GET {k}");
        assert_eq!(call(&mut r, &[b"PING"]), b"+PONG\r\n");
    }
}
