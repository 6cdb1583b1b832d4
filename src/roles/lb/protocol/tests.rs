use super::*;

type Outcome = Result<Option<(usize, Option<Parsed>)>, ProtoError>;

fn parse_in(dialect: Dialect, buf: &[u8], framing: &Framing) -> Outcome {
    parse(dialect, buf, framing, &mut resp::Args::default())
}

fn one(dialect: Dialect, buf: &[u8]) -> Outcome {
    parse_in(dialect, buf, &Framing::CONTROL)
}

fn line(buf: &str) -> Parsed {
    match one(Dialect::Line, buf.as_bytes()) {
        Ok(Some((n, Some(p)))) => {
            assert_eq!(n, buf.len(), "consumed all of {buf:?}");
            p
        }
        other => panic!("{buf:?}: {other:?}"),
    }
}

fn resp(args: &[&str]) -> Parsed {
    let mut buf = format!("*{}\r\n", args.len());
    for a in args {
        buf.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    match one(Dialect::Resp, buf.as_bytes()) {
        Ok(Some((n, Some(p)))) => {
            assert_eq!(n, buf.len());
            p
        }
        other => panic!("{args:?}: {other:?}"),
    }
}

fn reg(host: Option<&str>, port: u16, cores: u32, link: bool) -> Parsed {
    Ok(Request::Register(Registration {
        host: host.map(str::to_string),
        port,
        cores,
        link,
        core_ports: Vec::new(),
    }))
}

#[test]
fn dialect_is_the_first_byte() {
    assert_eq!(Dialect::of_first_byte(b'*'), Dialect::Resp);
    assert_eq!(Dialect::of_first_byte(b'L'), Dialect::Line);
    assert_eq!(Dialect::of_first_byte(b'R'), Dialect::Line);
    assert_eq!(Dialect::of_first_byte(b'{'), Dialect::Json);
}

fn get(k: &str) -> Parsed {
    Ok(Request::Data(DataOp::Get(k.into())))
}

fn set(k: &str, v: &str) -> Parsed {
    Ok(Request::Data(DataOp::Set(k.into(), v.into())))
}

fn del(k: &str) -> Parsed {
    Ok(Request::Data(DataOp::Del(k.into())))
}

#[test]
fn line_form_data_requests_follow_the_node() {
    let cases: Vec<(&str, Parsed)> = vec![
        ("GET:key\n", get("key")),
        ("get:article/1\r\n", get("article/1")),
        ("SET:k:v w\n", set("k", "v w")),
        ("SET:k:\n", set("k", "")),
        ("DEL:k\n", del("k")),
        ("GET k\n", get("k")),
        ("SET k v\n", set("k", "v")),
        ("GET:a:b\n", Err(RequestError::Fields("GET"))),
        ("SET:k:v:w\n", Err(RequestError::Fields("SET"))),
        ("SET:k\n", Err(RequestError::Fields("SET"))),
        ("SET k v w\n", Err(RequestError::Fields("SET"))),
        ("GET\n", Err(RequestError::Fields("GET"))),
        ("GET:\n", Err(RequestError::EmptyKey)),
        ("SET::v\n", Err(RequestError::EmptyKey)),
        ("DEL:a:\n", Err(RequestError::Fields("DEL"))),
    ];
    for (input, want) in cases {
        assert_eq!(line(input), want, "input {input:?}");
    }
}

#[test]
fn proxy_framing_admits_values_up_to_the_limit() {
    let f = Framing::proxy(10_000);
    let value = "v".repeat(10_000);
    let mut req = format!(
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{value}\r\n",
        value.len()
    );
    let (n, p) = parse_in(Dialect::Resp, req.as_bytes(), &f)
        .unwrap()
        .unwrap();
    assert_eq!((n, p), (req.len(), Some(set("k", &value))));
    // The control framing refuses the same request...
    assert_eq!(
        parse_in(Dialect::Resp, req.as_bytes(), &Framing::CONTROL),
        Err(ProtoError::InvalidBulkLength)
    );
    // ...and the proxy framing one byte more.
    req = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10001\r\n{value}v\r\n");
    assert_eq!(
        parse_in(Dialect::Resp, req.as_bytes(), &f),
        Err(ProtoError::InvalidBulkLength)
    );
    // Over --max-value but within the framing: an error, the stream in step.
    req = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n".to_string();
    let small = Framing::proxy(2);
    assert_eq!(
        parse_in(Dialect::Resp, req.as_bytes(), &small),
        Ok(Some((req.len(), Some(Err(RequestError::TooLarge(2))))))
    );
    assert_eq!(
        parse_in(Dialect::Line, b"GET:abc\n", &small),
        Ok(Some((8, Some(Err(RequestError::TooLarge(2))))))
    );
    let line_req = format!("SET:k:{value}\n");
    let (_, p) = parse_in(Dialect::Line, line_req.as_bytes(), &f)
        .unwrap()
        .unwrap();
    assert_eq!(p, Some(set("k", &value)));
    let endless = vec![b'A'; 10_000 + MAX_LINE + 1];
    assert_eq!(
        parse_in(Dialect::Line, &endless, &f),
        Err(ProtoError::InlineTooLong)
    );
}

#[test]
fn line_form_table() {
    let cases: Vec<(&str, Parsed)> = vec![
        ("LEASE\n", Ok(Request::Lease)),
        ("lease\r\n", Ok(Request::Lease)),
        ("METRICS\n", Ok(Request::Metrics)),
        ("PING\n", Ok(Request::Ping)),
        ("PING:\n", Ok(Request::Ping)),
        ("NODES\n", Ok(Request::Nodes)),
        ("INFO\n", Ok(Request::Info)),
        ("QUIT\n", Ok(Request::Quit)),
        ("REGISTER:12345\n", reg(None, 12345, 1, false)),
        (
            "REGISTER:10.0.0.5:7000\n",
            reg(Some("10.0.0.5"), 7000, 1, false),
        ),
        (
            "REGISTER:10.0.0.5:7000:4\n",
            reg(Some("10.0.0.5"), 7000, 4, true),
        ),
        (
            "REGISTER 10.0.0.5:7000 4\r\n",
            reg(Some("10.0.0.5"), 7000, 4, true),
        ),
        (
            "REGISTER:cache-1.internal:7000:2\n",
            reg(Some("cache-1.internal"), 7000, 2, true),
        ),
        ("REGISTER:[::1]:7000:2\n", reg(Some("::1"), 7000, 2, true)),
        ("REGISTER:[::1]:7000\n", reg(Some("::1"), 7000, 1, false)),
        ("REGISTER\n", Err(RequestError::Arity("REGISTER"))),
        (
            "REGISTER:abc\n",
            Err(AddrError::BadPort("abc".into()).into()),
        ),
        ("REGISTER:0\n", Err(AddrError::BadPort("0".into()).into())),
        (
            "REGISTER:70000\n",
            Err(AddrError::BadPort("70000".into()).into()),
        ),
        ("REGISTER:h:1:0\n", Err(RequestError::BadCores("0".into()))),
        ("REGISTER:h:1:x\n", Err(RequestError::BadCores("x".into()))),
        ("REGISTER:a:b:c:d:e\n", Err(RequestError::Arity("REGISTER"))),
        (
            "REGISTER:h:1:2:7001\n",
            Err(RequestError::BadCorePorts("7001".into())),
        ),
        (
            "REGISTER:h:1:1:0\n",
            Err(RequestError::BadCorePorts("0".into())),
        ),
        (
            "REGISTER:h:1:2:7001,7002\n",
            Ok(Request::Register(Registration {
                host: Some("h".into()),
                port: 1,
                cores: 2,
                link: true,
                core_ports: vec![7001, 7002],
            })),
        ),
        (
            "RENEW:7\n",
            Ok(Request::Renew(crate::cluster::wire::Renewal {
                applied: 7,
                drained: 0,
                leaving: false,
            })),
        ),
        ("RENEW:x\n", Err(RequestError::BadEpoch("x".into()))),
        (
            "MAP:5:s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-16383/0\n",
            Ok(Request::Map(Box::new(
                crate::cluster::wire::decode_map(
                    5,
                    "s=127.0.0.1:7000/0/127.0.0.1:7001 r=0-16383/0",
                )
                .unwrap(),
            ))),
        ),
        (
            "MAP:x\n",
            Err(RequestError::BadMap(
                crate::cluster::wire::WireError::NotMap("x".into()),
            )),
        ),
        (
            "REGISTER:bad/host:1:1\n",
            Err(AddrError::BadHost("bad/host".into()).into()),
        ),
        (
            "REGISTER:[::1\n",
            Err(AddrError::BadHost("[::1".into()).into()),
        ),
        ("LEASE:x\n", Ok(Request::LeaseKey(b"x".to_vec()))),
        ("LEASE x\n", Ok(Request::LeaseKey(b"x".to_vec()))),
        ("LEASE:x:y\n", Err(RequestError::Fields("LEASE"))),
        (
            "HELLO WORLD\n",
            Err(RequestError::UnknownCommand("HELLO".into())),
        ),
        (
            "MGET:key\n",
            Err(RequestError::UnknownCommand("MGET".into())),
        ),
        ("\x01\x02\n", Err(RequestError::NotText)),
    ];
    for (input, want) in cases {
        assert_eq!(line(input), want, "input {input:?}");
    }
}

#[test]
fn line_form_framing() {
    assert_eq!(one(Dialect::Line, b"LEA").unwrap(), None);
    assert_eq!(one(Dialect::Line, b"\n").unwrap(), Some((1, None)));
    assert_eq!(one(Dialect::Line, b"  \r\n").unwrap(), Some((4, None)));
    assert_eq!(
        one(Dialect::Line, b"\xff\xfe\n").unwrap(),
        Some((3, Some(Err(RequestError::NotText))))
    );
    // Two pipelined requests are taken one at a time.
    let buf = b"PING\nLEASE\n";
    let (n, p) = one(Dialect::Line, buf).unwrap().unwrap();
    assert_eq!((n, p), (5, Some(Ok(Request::Ping))));
    let (m, p) = one(Dialect::Line, &buf[n..]).unwrap().unwrap();
    assert_eq!((m, p), (6, Some(Ok(Request::Lease))));
    // A line that never ends cannot be resynchronised.
    let long = vec![b'A'; MAX_LINE + 1];
    assert_eq!(one(Dialect::Line, &long), Err(ProtoError::InlineTooLong));
}

#[test]
fn resp_form_table() {
    let cases: Vec<(Vec<&str>, Parsed)> = vec![
        (vec!["LEASE"], Ok(Request::Lease)),
        (vec!["lease"], Ok(Request::Lease)),
        (vec!["PING"], Ok(Request::Ping)),
        (vec!["INFO", "all"], Ok(Request::Info)),
        (vec!["NODES"], Ok(Request::Nodes)),
        (vec!["METRICS"], Ok(Request::Metrics)),
        (
            vec!["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"],
            Ok(Request::Handshake),
        ),
        (vec!["SELECT", "0"], Ok(Request::Handshake)),
        (
            vec!["REGISTER", "127.0.0.1:7000", "3"],
            reg(Some("127.0.0.1"), 7000, 3, false),
        ),
        (
            vec!["REGISTER", "127.0.0.1:7000"],
            reg(Some("127.0.0.1"), 7000, 1, false),
        ),
        (vec!["REGISTER", "7000"], reg(None, 7000, 1, false)),
        (
            vec!["REGISTER", "::1:7000"],
            reg(Some("::1"), 7000, 1, false),
        ),
        (
            vec!["REGISTER", "[::1]:7000", "2"],
            reg(Some("::1"), 7000, 2, false),
        ),
        (
            vec!["REGISTER", "7000", "2"],
            Err(AddrError::NoPort("7000".into()).into()),
        ),
        (vec!["REGISTER"], Err(RequestError::Arity("REGISTER"))),
        (vec!["LEASE", "x"], Ok(Request::LeaseKey(b"x".to_vec()))),
        (vec!["LEASE", ""], Err(RequestError::EmptyKey)),
        (vec!["LEASE", "x", "y"], Err(RequestError::Arity("LEASE"))),
        (
            vec!["FLUSHALL"],
            Err(RequestError::UnknownCommand("FLUSHALL".into())),
        ),
        (vec!["GET", "a:b"], get("a:b")),
        (vec!["get", ""], get("")),
        (vec!["SET", "k", "a\r\nb"], set("k", "a\r\nb")),
        (vec!["DEL", "k"], del("k")),
        (vec!["GET"], Err(RequestError::Arity("GET"))),
        (vec!["GET", "a", "b"], Err(RequestError::Arity("GET"))),
        (vec!["SET", "k"], Err(RequestError::Arity("SET"))),
        (
            vec!["SET", "k", "v", "EX", "1"],
            Err(RequestError::Arity("SET")),
        ),
        (vec!["DEL", "a", "b"], Err(RequestError::Arity("DEL"))),
    ];
    for (args, want) in cases {
        assert_eq!(resp(&args), want, "args {args:?}");
    }
}

#[test]
fn resp_form_errors_are_protocol_errors() {
    assert_eq!(
        one(Dialect::Resp, b"*1\r\n$abc\r\n"),
        Err(ProtoError::InvalidBulkLength)
    );
    assert_eq!(
        one(Dialect::Resp, b"*100\r\n"),
        Err(ProtoError::InvalidMultibulkLength)
    );
    assert_eq!(one(Dialect::Resp, b"*1\r\n$5\r\nLEA").unwrap(), None);
    assert_eq!(one(Dialect::Resp, b"*0\r\n").unwrap(), Some((4, None)));
}

#[test]
fn host_port() {
    let hp = HostPort::parse("10.1.2.3:80").unwrap();
    assert_eq!((hp.host.as_str(), hp.port), ("10.1.2.3", 80));
    assert_eq!(hp.to_string(), "10.1.2.3:80");
    assert_eq!(hp.ip(), Some("10.1.2.3".parse().unwrap()));
    let v6 = HostPort::parse("[::1]:6379").unwrap();
    assert_eq!(v6.host, "::1");
    assert_eq!(v6.to_string(), "[::1]:6379");
    assert_eq!(HostPort::parse("::1:6379").unwrap(), v6);
    assert_eq!(HostPort::parse("localhost:1").unwrap().ip(), None);
    assert!(matches!(
        HostPort::parse("nohost"),
        Err(AddrError::NoPort(_))
    ));
    assert!(matches!(HostPort::parse(":80"), Err(AddrError::BadHost(_))));
    assert!(matches!(HostPort::parse("h:0"), Err(AddrError::BadPort(_))));
    assert!(matches!(
        HostPort::parse("a b:1"),
        Err(AddrError::BadHost(_))
    ));
}

#[test]
fn register_line_round_trips() {
    use crate::link::register_line;
    let hp = HostPort::parse("10.0.0.9:7001").unwrap();
    let l = register_line(&hp, 4, &[]);
    assert_eq!(l, "REGISTER:10.0.0.9:7001:4\n");
    assert_eq!(line(&l), reg(Some("10.0.0.9"), 7001, 4, true));
    let v6 = HostPort::parse("[fe80::1]:7001").unwrap();
    assert_eq!(
        line(&register_line(&v6, 2, &[])),
        reg(Some("fe80::1"), 7001, 2, true)
    );
}

#[test]
fn replies_in_both_dialects() {
    let hp = HostPort::parse("127.0.0.1:7000").unwrap();
    let lines = vec!["a b".to_string(), "c".to_string()];
    let cases: Vec<(Reply<'_>, &[u8], &[u8])> = vec![
        (
            Reply::Node(&hp),
            b"NODE:127.0.0.1:7000\n",
            b"$14\r\n127.0.0.1:7000\r\n",
        ),
        (
            Reply::NoHealthyNodes,
            b"ERROR:no healthy nodes\n",
            b"-ERR no healthy nodes\r\n",
        ),
        (Reply::Ok, b"OK\n", b"+OK\r\n"),
        (Reply::Pong, b"PONG\n", b"+PONG\r\n"),
        (
            Reply::Error("bad\nthing"),
            b"ERROR:bad thing\n",
            b"-ERR bad thing\r\n",
        ),
        (Reply::Json("{}"), b"{}\n", b"$2\r\n{}\r\n"),
        (
            Reply::Info("# S\r\na:1\r\n"),
            b"# S\na:1\nEND\n",
            b"$10\r\n# S\r\na:1\r\n\r\n",
        ),
        (
            Reply::Lines(&lines),
            b"a b\nc\nEND\n",
            b"*2\r\n$3\r\na b\r\n$1\r\nc\r\n",
        ),
    ];
    for (reply, want_line, want_resp) in cases {
        let mut o = Vec::new();
        encode(Dialect::Json, &reply, &mut o);
        assert!(
            serde_json::from_slice::<serde_json::Value>(&o).is_ok() && o.ends_with(b"\n"),
            "{reply:?} JSON: {o:?}"
        );
        o.clear();
        encode(Dialect::Line, &reply, &mut o);
        assert_eq!(o, want_line, "{reply:?} line");
        o.clear();
        encode(Dialect::Resp, &reply, &mut o);
        assert_eq!(o, want_resp, "{reply:?} resp");
    }
}

#[test]
fn data_replies_in_each_dialect() {
    let cases: Vec<(Reply<'_>, &[u8], &[u8])> = vec![
        (
            Reply::Value {
                key: b"k",
                value: b"a:b",
            },
            b"VALUE:a:b\n",
            b"$3\r\na:b\r\n",
        ),
        (
            Reply::Value {
                key: b"k",
                value: b"a\nb",
            },
            b"ERROR:value contains a newline; read it over RESP\n",
            b"$3\r\na\nb\r\n",
        ),
        (Reply::NotFound { key: b"k" }, b"NOT_FOUND\n", b"$-1\r\n"),
        (Reply::Stored { key: b"k" }, b"OK\n", b"+OK\r\n"),
        (
            Reply::Deleted {
                key: b"k",
                count: 1,
            },
            b"DELETED\n",
            b":1\r\n",
        ),
        (
            Reply::Deleted {
                key: b"k",
                count: 0,
            },
            b"NOT_FOUND\n",
            b":0\r\n",
        ),
        (
            Reply::NodeError("ERR value is not an integer"),
            b"ERROR:value is not an integer\n",
            b"-ERR value is not an integer\r\n",
        ),
        (
            Reply::NodeError("OOM command not allowed"),
            b"ERROR:OOM command not allowed\n",
            b"-OOM command not allowed\r\n",
        ),
    ];
    for (reply, want_line, want_resp) in cases {
        let mut o = Vec::new();
        encode(Dialect::Line, &reply, &mut o);
        assert_eq!(o, want_line, "{reply:?} line");
        o.clear();
        encode(Dialect::Resp, &reply, &mut o);
        assert_eq!(o, want_resp, "{reply:?} resp");
    }
}

#[test]
fn probe_replies_are_strict() {
    let ok = b"$44\r\nclients=3 maxclients=100 cores=2 uptime_ms=9\r\n";
    let text = parse_probe_reply(ok).unwrap().unwrap();
    assert_eq!(
        parse_stat(&text),
        Ok(NodeStat {
            clients: 3,
            maxclients: Some(100),
            cores: Some(2),
        })
    );
    assert_eq!(parse_probe_reply(&ok[..20]), Ok(None));
    assert_eq!(parse_probe_reply(b"$44\r"), Ok(None));
    assert_eq!(
        parse_probe_reply(b"-ERR max number of clients reached\r\n"),
        Err(ProbeReplyError::Full)
    );
    // An error reply is never a healthy node: a plain Redis server, or an
    // impostor that answers everything with -ERR or +OK.
    assert!(matches!(
        parse_probe_reply(b"-ERR unknown command 'NODESTAT'\r\n"),
        Err(ProbeReplyError::Refused(_))
    ));
    for bad in [
        &b"+OK\r\n"[..],
        b":1\r\n",
        b"HTTP/1.1 400 Bad Request\r\n",
        b"$x\r\n",
        b"$-1\r\n",
        b"$9\r\nclients=1\r\n+OK\r\n",
    ] {
        assert!(
            matches!(parse_probe_reply(bad), Err(ProbeReplyError::Malformed(_))),
            "{bad:?}"
        );
    }
    let hello = parse_probe_reply(b"$5\r\nhello\r\n").unwrap().unwrap();
    assert!(matches!(
        parse_stat(&hello),
        Err(ProbeReplyError::Malformed(_))
    ));
    assert!(matches!(
        parse_stat("clients=x"),
        Err(ProbeReplyError::Malformed(_))
    ));
    assert_eq!(parse_stat("clients=2 mac=00").unwrap().clients, 2);
}

#[test]
fn probe_request_carries_nonce_and_address() {
    assert_eq!(probe_request(None), PROBE_REQUEST);
    let a = HostPort::parse("[::1]:7000").unwrap();
    assert_eq!(
        probe_request(Some(("abcd", &a))),
        b"*3\r\n$8\r\nNODESTAT\r\n$4\r\nabcd\r\n$10\r\n[::1]:7000\r\n"
    );
}

#[test]
fn auth_and_challenge_in_the_line_form() {
    assert_eq!(
        one(Dialect::Line, b"AUTH:00ff\n"),
        Ok(Some((10, Some(Ok(Request::Auth("00ff".into()))))))
    );
    assert!(matches!(
        one(Dialect::Line, b"AUTH\n"),
        Ok(Some((5, Some(Err(RequestError::Arity("AUTH"))))))
    ));
    let mut o = Vec::new();
    encode(Dialect::Line, &Reply::Challenge("00ff"), &mut o);
    assert_eq!(o, b"CHALLENGE:00ff\n");
}
