//! The LB port's request forms (line, RESP, JSON) over a pipelined stream,
//! the replies it would write for them, the node registration line, and the
//! NODESTAT probe reply and stat-line parsing.
//!
//! Input: 1 control byte (which parser, dialect, framing), then the bytes.
#![no_main]

use cachectl::link::register_line;
use cachectl::proto::resp::Args;
use cachectl::roles::lb::protocol::{
    encode, parse, parse_probe_reply, parse_stat, DataOp, Dialect, Framing,
    HostPort, Registration, Reply, Request,
};
use cachectl_fuzz::read_one;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, bytes)) = data.split_first() else {
        return;
    };
    match ctl % 4 {
        0 => requests(ctl >> 2, bytes),
        1 => probe_reply(bytes),
        2 => stat(&String::from_utf8_lossy(bytes)),
        _ => host_port(&String::from_utf8_lossy(bytes)),
    }
});

fn requests(ctl: u8, stream: &[u8]) {
    let dialect = match ctl % 4 {
        0 => Dialect::Resp,
        1 => Dialect::Line,
        2 => Dialect::Json,
        _ => match stream.first() {
            Some(&b) => Dialect::of_first_byte(b),
            None => return,
        },
    };
    let framing = if ctl & 4 == 0 {
        Framing::CONTROL
    } else {
        Framing::proxy(usize::from(ctl >> 3) * 8)
    };
    let mut args = Args::default();
    let mut pos = 0;
    while pos < stream.len() {
        let rest = &stream[pos..];
        let Ok(Some((used, parsed))) = parse(dialect, rest, &framing, &mut args) else {
            break;
        };
        assert!(used > 0 && used <= rest.len());
        match parsed {
            None => {}
            Some(Ok(req)) => request(&req, &framing),
            Some(Err(e)) => replies(&Reply::Error(&e.to_string())),
        }
        pos += used;
    }
}

fn request(req: &Request, framing: &Framing) {
    match req {
        Request::Data(op) => {
            let value = match op {
                DataOp::Set(_, v) => v.as_slice(),
                _ => op.key(),
            };
            assert!(op.key().len() <= framing.max_value && value.len() <= framing.max_value);
            let key = op.key();
            replies(&Reply::Value { key, value });
            replies(&Reply::NotFound { key });
            replies(&Reply::Deleted { key, count: 1 });
        }
        Request::Register(r) => registration(r),
        Request::Auth(mac) => replies(&Reply::Challenge(mac)),
        _ => {}
    }
}

/// A registration names a usable address, and one that names its host
/// survives the round trip through the line a node sends.
fn registration(r: &Registration) {
    assert!(r.port > 0 && (1..=65535).contains(&r.cores));
    let Some(host) = &r.host else {
        return;
    };
    let addr = HostPort::new(host, r.port).expect("a registered host is valid");
    let line = register_line(&addr, r.cores as usize, &r.core_ports);
    let mut args = Args::default();
    let back = parse(Dialect::Line, line.as_bytes(), &Framing::CONTROL, &mut args);
    let want = Registration {
        host: Some(addr.host.clone()),
        port: r.port,
        cores: r.cores,
        link: true,
        core_ports: r.core_ports.clone(),
    };
    match back {
        Ok(Some((n, Some(Ok(Request::Register(got)))))) if n == line.len() => {
            assert_eq!(got, want, "{line:?}")
        }
        other => panic!("{line:?} parsed as {other:?}"),
    }
}

/// Each dialect's encoding of `reply` is one well-formed reply.
fn replies(reply: &Reply<'_>) {
    let mut out = Vec::new();
    encode(Dialect::Resp, reply, &mut out);
    if let Err(e) = read_one(&out, false) {
        panic!("RESP {reply:?}: {e}: {:?}", String::from_utf8_lossy(&out));
    }
    for d in [Dialect::Line, Dialect::Json] {
        out.clear();
        encode(d, reply, &mut out);
        assert_eq!(out.last(), Some(&b'\n'), "{d:?} {reply:?}");
        let lines = out.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(
            lines,
            1,
            "{d:?} {reply:?}: {:?}",
            String::from_utf8_lossy(&out)
        );
        if d == Dialect::Json {
            serde_json::from_slice::<serde_json::Value>(&out).expect("JSON reply");
        }
    }
}

fn probe_reply(buf: &[u8]) {
    if let Ok(Some(text)) = parse_probe_reply(buf) {
        // Only an exact bulk string is a node's answer.
        assert_eq!(buf, format!("${}\r\n{text}\r\n", text.len()).as_bytes());
        stat(&text);
    }
}

fn stat(text: &str) {
    let Ok(s) = parse_stat(text) else {
        return;
    };
    let mut again = format!("clients={}", s.clients);
    if let Some(m) = s.maxclients {
        again += &format!(" maxclients={m}");
    }
    if let Some(c) = s.cores {
        again += &format!(" cores={c}");
    }
    assert_eq!(parse_stat(&again), Ok(s));
}

fn host_port(s: &str) {
    if let Ok(hp) = HostPort::parse(s) {
        assert_eq!(HostPort::parse(&hp.to_string()), Ok(hp));
    }
}
