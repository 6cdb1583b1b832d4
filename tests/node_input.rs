//! Bad input over raw sockets, and seed 000's line protocol on the RESP port.
//!
//! Protocol errors (bytes that cannot be framed) get one
//! `-ERR Protocol error: ...` and the connection is closed, as Redis does;
//! command errors (framed but wrong) get `-ERR ...` and the connection stays
//! usable. After every bad input the node must still serve a connection that
//! was open all along and a brand new one.

mod common;

use common::{keys_on_shard, Closed, Node, RespConn};

const LIMITS: &[&str] = &[
    "--max-bulk",
    "1024",
    "--max-args",
    "16",
    "--max-inline",
    "256",
];

/// A node with small limits, plus a client connected before any bad input.
fn node_with_bystander() -> (Node, RespConn) {
    let node = Node::start(LIMITS);
    let mut bystander = node.resp();
    assert_eq!(bystander.cmd("SET bystander here"), "+OK\r\n");
    (node, bystander)
}

/// The node still answers the bystander and a new client.
fn assert_serving(node: &mut Node, bystander: &mut RespConn) {
    node.assert_running();
    assert_eq!(bystander.cmd("GET bystander"), "$4\r\nhere\r\n");
    assert_eq!(node.resp().cmd("PING"), "+PONG\r\n");
}

/// Send `input` on a new connection; expect exactly `reply` and a close.
fn protocol_error(node: &mut Node, bystander: &mut RespConn, input: &[u8], reply: &str) {
    let mut c = node.resp();
    c.send(input);
    assert_eq!(
        c.read_to_close(),
        Closed::Yes(reply.as_bytes().to_vec()),
        "input {:?}",
        input.escape_ascii().to_string()
    );
    assert_serving(node, bystander);
}

#[test]
fn malformed_multibulk_closes_only_that_connection() {
    let (mut node, mut by) = node_with_bystander();
    let n = &mut node;
    let mbulk = "-ERR Protocol error: invalid multibulk length\r\n";
    let bulk = "-ERR Protocol error: invalid bulk length\r\n";
    protocol_error(n, &mut by, b"*x\r\n", mbulk);
    protocol_error(n, &mut by, b"*1x\r\n", mbulk);
    protocol_error(n, &mut by, b"*1\r\n$-5\r\n", bulk);
    protocol_error(n, &mut by, b"*1\r\n$abc\r\n", bulk);
    protocol_error(
        n,
        &mut by,
        b"*1\r\n+PING\r\n",
        "-ERR Protocol error: expected '$', got '+'\r\n",
    );
    protocol_error(
        n,
        &mut by,
        b"*1\r\n$4\r\nPINGxx",
        "-ERR Protocol error: expected CRLF after bulk data\r\n",
    );
    // A header line that never ends is junk, not a reason to buffer forever.
    let mut endless = b"*".to_vec();
    endless.extend(std::iter::repeat_n(b'9', 100));
    let mut c = n.resp();
    c.send(&endless);
    match c.read_to_close() {
        Closed::Yes(r) => assert!(r.starts_with(b"-ERR Protocol error: "), "{r:?}"),
        other => panic!("endless header: {other:?}"),
    }
    assert_serving(n, &mut by);
}

#[test]
fn oversized_bulk_and_array_are_refused() {
    let (mut node, mut by) = node_with_bystander();
    let n = &mut node;
    // At the limits: accepted.
    let at_limit = vec![b'b'; 1024];
    let mut c = n.resp();
    let mut want = b"$1024\r\n".to_vec();
    want.extend_from_slice(&at_limit);
    want.extend_from_slice(b"\r\n");
    assert_eq!(c.call(&[b"ECHO", &at_limit]), want);
    let keys: Vec<String> = (0..15).map(|i| format!("k{i}")).collect();
    let mut args: Vec<&[u8]> = vec![b"MGET"];
    args.extend(keys.iter().map(|k| k.as_bytes()));
    let reply = c.call(&args);
    assert!(reply.starts_with(b"*15\r\n$-1\r\n"), "{reply:?}");

    // One over: a protocol error before the data is even sent.
    protocol_error(
        n,
        &mut by,
        b"*2\r\n$4\r\nECHO\r\n$1025\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    protocol_error(
        n,
        &mut by,
        b"*17\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
    // The same, with the whole oversized payload sent.
    let mut big = b"*2\r\n$4\r\nECHO\r\n$2000\r\n".to_vec();
    big.extend(vec![b'x'; 2000]);
    big.extend_from_slice(b"\r\n");
    protocol_error(
        n,
        &mut by,
        &big,
        "-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn bad_inline_requests() {
    let (mut node, mut by) = node_with_bystander();
    let n = &mut node;
    protocol_error(
        n,
        &mut by,
        b"SET k \"abc\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    protocol_error(
        n,
        &mut by,
        b"SET k 'abc\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    // Over --max-inline without a newline...
    let long = vec![b'a'; 300];
    protocol_error(
        n,
        &mut by,
        &long,
        "-ERR Protocol error: too big inline request\r\n",
    );
    // ...while a line within it works.
    let mut c = n.resp();
    let mut line = b"ECHO ".to_vec();
    line.extend(vec![b'e'; 200]);
    line.extend_from_slice(b"\r\n");
    c.send(&line);
    let reply = c.read_reply();
    assert!(reply.starts_with(b"$200\r\neee"), "{reply:?}");
    // Control bytes as a command name are an unknown command, not a crash.
    let mut c = n.resp();
    c.send(b"\x00\x01\x02\r\nPING\r\n");
    let first = c.read_reply();
    assert!(first.starts_with(b"-ERR unknown command '"), "{first:?}");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    assert_serving(n, &mut by);
}

#[test]
fn inline_requests_between_multibulk_ones_in_one_write_reply_in_order() {
    // The node parses a read's leading multibulk requests once, ahead of
    // running them; an inline request ends that prefix and the requests
    // after it are parsed as they come.
    let (mut node, mut by) = node_with_bystander();
    let mut c = node.resp();
    let mut input = common::encode(&[b"SET", b"mix:a", b"1"]);
    input.extend(common::encode(&[b"INCR", b"mix:a"]));
    input.extend_from_slice(b"GET mix:a\r\n");
    input.extend(common::encode(&[b"INCR", b"mix:a"]));
    input.extend_from_slice(b"ECHO \"x y\"\r\n");
    input.extend(common::encode(&[b"GET", b"mix:a"]));
    c.send(&input);
    for want in [
        &b"+OK\r\n"[..],
        b":2\r\n",
        b"$1\r\n2\r\n",
        b":3\r\n",
        b"$3\r\nx y\r\n",
        b"$1\r\n3\r\n",
    ] {
        assert_eq!(c.read_reply(), want);
    }
    assert_serving(&mut node, &mut by);
}

#[test]
fn protocol_error_after_pipelined_requests_answers_them_first() {
    let (mut node, mut by) = node_with_bystander();
    // Requests for both cores ahead of the bad bytes, so replies that are
    // waiting on another core must be flushed before the error.
    let a = &keys_on_shard("pe", 0, 2, 1)[0];
    let b = &keys_on_shard("pe", 1, 2, 1)[0];
    let mut input = common::encode(&[b"SET", a.as_bytes(), b"1"]);
    input.extend(common::encode(&[b"SET", b.as_bytes(), b"2"]));
    input.extend(common::encode(&[b"MGET", a.as_bytes(), b.as_bytes()]));
    input.extend_from_slice(b"*x\r\n");
    protocol_error(
        &mut node,
        &mut by,
        &input,
        "+OK\r\n+OK\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n-ERR Protocol error: invalid multibulk length\r\n",
    );
    // The writes before the error were applied.
    assert_eq!(
        node.resp().call(&[b"MGET", a.as_bytes(), b.as_bytes()]),
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[test]
fn command_errors_keep_the_connection_open() {
    let (mut node, mut by) = node_with_bystander();
    let mut c = node.resp();
    let cases: &[(&[&[u8]], &str)] = &[
        (
            &[b"foo", b"a"],
            "-ERR unknown command 'foo', with args beginning with: 'a' \r\n",
        ),
        (
            &[b"FOO"],
            "-ERR unknown command 'FOO', with args beginning with: \r\n",
        ),
        (
            &[b"GET"],
            "-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            &[b"GET", b"a", b"b"],
            "-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (&[b"SET", b"k", b"v", b"BOGUS"], "-ERR syntax error\r\n"),
        (&[b"SET", b"k", b"v", b"EX"], "-ERR syntax error\r\n"),
        (
            &[b"SET", b"k", b"v", b"EX", b"x"],
            "-ERR value is not an integer or out of range\r\n",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(
            String::from_utf8_lossy(&c.call(args)),
            *want,
            "{:?}",
            args.iter()
                .map(|a| a.escape_ascii().to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(c.cmd("PING"), "+PONG\r\n", "after {args:?}");
    }
    // Inline form, several errors in one write, then a good command.
    c.send(b"nosuch 1 2\r\nGET\r\nSET k v NX XX\r\nPING\r\n");
    assert_eq!(
        c.read_reply(),
        b"-ERR unknown command 'nosuch', with args beginning with: '1' '2' \r\n"
    );
    assert_eq!(
        c.read_reply(),
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(c.read_reply(), b"-ERR syntax error\r\n");
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    // Non-UTF-8 key bytes are just bytes.
    assert_eq!(c.call(&[b"SET", b"\xff\xfe\x80", b"\xc3\x28"]), b"+OK\r\n");
    assert_eq!(c.call(&[b"GET", b"\xff\xfe\x80"]), b"$2\r\n\xc3\x28\r\n");
    // The `SET k v` variants above never stored anything.
    assert_eq!(c.cmd("EXISTS k"), ":0\r\n");
    assert_serving(&mut node, &mut by);
}

#[test]
fn client_vanishing_mid_request_is_harmless() {
    let (mut node, mut by) = node_with_bystander();
    for partial in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk"[..],
        b"*2\r\n$4\r\nECHO\r\n$100\r\nabc",
        b"GET k",
    ] {
        let mut c = node.resp();
        c.send(partial);
        drop(c);
    }
    let mut c = node.resp();
    c.send(b"*2\r\n$3\r\nGET\r\n$1\r\nk");
    c.shutdown_write();
    // EOF mid-request: closed with nothing to say.
    assert_eq!(c.read_to_close(), Closed::Yes(Vec::new()));
    assert_serving(&mut node, &mut by);
    assert_eq!(node.resp().cmd("EXISTS k"), ":0\r\n");
}

#[test]
fn line_protocol_basics() {
    let node = Node::start(&[]);
    let mut l = node.line();
    assert_eq!(l.request(b"GET:k"), "NOT_FOUND");
    assert_eq!(l.request(b"PING"), "PONG");
    assert_eq!(l.request(b"SET:k:v"), "OK");
    assert_eq!(l.request(b"GET:k"), "VALUE:v");
    assert_eq!(l.request(b"SET:k:"), "OK");
    assert_eq!(l.request(b"GET:k"), "VALUE:");
    assert_eq!(l.request(b"DEL:k"), "DELETED");
    assert_eq!(l.request(b"DEL:k"), "NOT_FOUND");
    assert_eq!(l.request(b"GET:k"), "NOT_FOUND");
    // CRLF line ends and lower-case ops are accepted.
    assert_eq!(l.request(b"set:k:v2\r"), "OK");
    assert_eq!(l.request(b"get:k\r"), "VALUE:v2");
    assert_eq!(l.request(b"PING:"), "PONG");

    // Keys on both cores, pipelined in one write; replies in order.
    let a = &keys_on_shard("line", 0, 2, 1)[0];
    let b = &keys_on_shard("line", 1, 2, 1)[0];
    let mut l2 = node.line();
    let batch = format!("SET:{a}:1\nSET:{b}:2\nGET:{b}\nGET:{a}\nDEL:{a}\nGET:{a}");
    let mut got = vec![l2.request(batch.as_bytes())];
    got.extend((1..6).map(|_| l2.read_line()));
    assert_eq!(
        got,
        ["OK", "OK", "VALUE:2", "VALUE:1", "DELETED", "NOT_FOUND"]
    );

    // The line protocol and RESP share one keyspace.
    let mut r = node.resp();
    assert_eq!(r.call(&[b"GET", b.as_bytes()]), b"$1\r\n2\r\n");
    assert_eq!(r.cmd("SET fromresp x"), "+OK\r\n");
    assert_eq!(l.request(b"GET:fromresp"), "VALUE:x");
}

/// Seed 000 clients and health probes open a connection and send `PING\n`;
/// the node's contract is `PONG\n`. The first bytes `PING\n` look exactly
/// like a Redis inline command, and the dialect sniffer picks RESP, so such a
/// probe reads `+PONG\r` instead.
#[test]
fn line_protocol_ping_as_the_first_line() {
    let node = Node::start(&[]);
    assert_eq!(node.line().request(b"PING"), "PONG");
    assert_eq!(node.line().request(b"PING:"), "PONG");
}

/// Bad lines get `ERROR:` and the connection carries on. Also the
/// regression test for a crash: a line that fails to parse must not reuse
/// the previous line's argument ranges (`SET:ab:c` then `GET:` on a later
/// read panicked core 1 and took its clients and DBSIZE down with it).
#[test]
fn line_protocol_errors_keep_the_connection() {
    let node = Node::start(&[]);
    let mut r = node.resp();
    assert_eq!(r.call(&[b"SET", b"colon", b"a:b:c"]), b"+OK\r\n");
    assert_eq!(r.call(&[b"SET", b"nl", b"two\nlines"]), b"+OK\r\n");
    let mut l = node.line();
    // A value with ':' reads back whole.
    assert_eq!(l.request(b"GET:colon"), "VALUE:a:b:c");
    let error = |reply: String, what: &str| {
        assert!(
            reply.starts_with("ERROR:") && reply.len() > "ERROR:".len(),
            "{what}: {reply:?}"
        );
    };
    // Too many fields: the format has no escaping, so this is refused...
    error(l.request(b"SET:k:v:w"), "SET with an extra ':'");
    assert_eq!(l.request(b"PING"), "PONG");
    assert_eq!(
        l.request(b"GET:k"),
        "NOT_FOUND",
        "the bad SET stored nothing"
    );
    // ...as are a newline the framing cannot carry, unknown ops, empty keys.
    error(l.request(b"GET:nl"), "value with a newline");
    error(l.request(b"FROB:k"), "unknown op");
    error(l.request(b"GET:"), "empty key");
    error(l.request(b"GET:a:b"), "GET with two keys");
    error(l.request(b"GET"), "GET without a key");
    assert_eq!(l.request(b"SET:k:v"), "OK");
    assert_eq!(l.request(b"GET:k"), "VALUE:v");
    // The value itself was not harmed.
    assert_eq!(r.call(&[b"GET", b"nl"]), b"$9\r\ntwo\nlines\r\n");
}

/// `--requirepass-file`: the password comes from a file (so it is not in
/// `ps`), RESP clients AUTH with it, and seed 000's line protocol, which
/// has no AUTH, is refused line by line without losing the connection.
#[test]
fn requirepass_file_guards_both_protocols() {
    let dir = std::env::temp_dir().join(format!("cachectl-pass-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pass");
    std::fs::write(&file, "filed secret\n").unwrap();
    let node = Node::start(&["--requirepass-file", file.to_str().unwrap()]);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", node.pid())).unwrap();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("filed secret"),
        "the password is not on the command line"
    );
    let mut c = node.resp();
    assert_eq!(c.cmd("GET k"), "-NOAUTH Authentication required.\r\n");
    let auth = common::encode(&[b"AUTH", b"filed secret"]);
    c.send(&auth);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.cmd("SET k v"), "+OK\r\n");
    let mut l = node.line();
    assert_eq!(l.request(b"GET:k"), "ERROR:NOAUTH Authentication required.");
    assert_eq!(
        l.request(b"SET:k:x"),
        "ERROR:NOAUTH Authentication required."
    );
    assert_eq!(
        c.cmd("GET k"),
        "$1\r\nv\r\n",
        "the line client changed nothing"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let out = common::run_cachectl(&["node", "--requirepass-file", "/nonexistent/pass"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--requirepass-file"), "{err}");
}

/// Send `bytes` in writes of `piece` bytes, pausing after each so that most
/// land in reads of their own (how they group does not change the answer,
/// only how much of the resuming parser is exercised).
fn send_in_pieces(c: &mut RespConn, bytes: &[u8], piece: usize) {
    for p in bytes.chunks(piece) {
        c.send(p);
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// Bytes with every value, CR and LF included, in a pattern.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn bulk_reply(value: &[u8]) -> Vec<u8> {
    let mut r = format!("${}\r\n", value.len()).into_bytes();
    r.extend_from_slice(value);
    r.extend_from_slice(b"\r\n");
    r
}

/// Requests that arrive over many reads are parsed where the last read
/// left off: a big value (the read buffer makes room for it at once), a
/// request of several big values, one of many small arguments, an inline
/// line, each with the next request in the same piece as its last bytes.
#[test]
fn requests_split_over_many_reads() {
    let node = Node::start(&[]);
    let mut c = node.resp();

    let big = pattern(300_000, 7);
    let mut input = common::encode(&[b"SET", b"split:big", &big]);
    input.extend(common::encode(&[b"GET", b"split:big"]));
    // An odd piece size cuts headers and CRLFs as well as data.
    send_in_pieces(&mut c, &input, 997);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert!(c.read_reply() == bulk_reply(&big), "GET split:big differs");

    let (v1, v2) = (pattern(100_000, 1), pattern(40_000, 2));
    let mut input = common::encode(&[b"MSET", b"split:1", &v1, b"split:2", &v2, b"split:3", b"x"]);
    input.extend(common::encode(&[
        b"MGET", b"split:1", b"split:2", b"split:3",
    ]));
    send_in_pieces(&mut c, &input, 4096);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    let mut want = b"*3\r\n".to_vec();
    for v in [&v1[..], &v2, b"x"] {
        want.extend(bulk_reply(v));
    }
    assert!(c.read_reply() == want, "MGET split:1..3 differs");

    let keys: Vec<String> = (0..5000).map(|i| format!("split:many:{i}")).collect();
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    for k in &keys {
        args.extend([k.as_bytes(), k.as_bytes()]);
    }
    let mut input = common::encode(&args);
    input.extend(common::encode(&[b"GET", keys[4999].as_bytes()]));
    send_in_pieces(&mut c, &input, 512);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), bulk_reply(keys[4999].as_bytes()));
    assert_eq!(
        c.call(&[b"GET", keys[0].as_bytes()]),
        bulk_reply(keys[0].as_bytes())
    );

    let mut line = b"ECHO \"".to_vec();
    line.extend(vec![b'i'; 2000]);
    line.extend_from_slice(b"\"\r\nPING\r\n");
    send_in_pieces(&mut c, &line, 7);
    assert_eq!(c.read_reply(), bulk_reply(&[b'i'; 2000]));
    assert_eq!(c.read_reply(), b"+PONG\r\n");
}

/// Protocol errors that only show in a late piece of a request get the same
/// reply as when the request comes whole, and close only that connection.
#[test]
fn protocol_errors_in_a_late_piece() {
    let node = Node::start(&[]);
    let mut by = node.resp();
    assert_eq!(by.cmd("SET bystander here"), "+OK\r\n");
    let mut big_bad = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
    big_bad.extend(vec![b'v'; 100_000]);
    big_bad.extend_from_slice(b"XX");
    // 399 arguments, then one that is not a bulk.
    let mut many_bad = b"*400\r\n".to_vec();
    many_bad.extend(b"$4\r\nMSET\r\n".repeat(399));
    many_bad.extend_from_slice(b"+x\r\n");
    // A request complete in its last piece, then a bad header.
    let mut then_bad = common::encode(&[b"SET", b"late", &[b'v'; 1000]]);
    then_bad.extend_from_slice(b"*x\r\n");
    // Inputs and the writes they are sent in.
    let cases: &[(&[u8], usize, &str)] = &[
        (
            &big_bad,
            1000,
            "-ERR Protocol error: expected CRLF after bulk data\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n+k\r\n",
            5,
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            &many_bad,
            50,
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            &then_bad,
            50,
            "+OK\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$x\r\n",
            5,
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET k \"unbalanced\r\n",
            5,
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for &(input, piece, reply) in cases {
        let mut c = node.resp();
        send_in_pieces(&mut c, input, piece);
        assert_eq!(
            c.read_to_close(),
            Closed::Yes(reply.as_bytes().to_vec()),
            "input {:?}",
            input[..input.len().min(60)].escape_ascii().to_string()
        );
    }
    assert_eq!(by.cmd("GET bystander"), "$4\r\nhere\r\n");
    assert_eq!(node.resp().cmd("EXISTS k"), ":0\r\n");
}
