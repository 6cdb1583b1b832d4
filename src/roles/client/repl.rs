//! The interactive prompt (seed 000's client.py): one command per line on
//! stdin, one result per command on stdout. The prompt and banner are shown
//! only when stdin is a terminal, so piped input gives clean output.

use super::session::{Dest, Route, Session};
use super::{exit, render, Op};
use crate::proto::{parse_request, Args, Limits};
use std::io::{BufRead, IsTerminal, Write};

const HELP: &str = "\
commands:
  get KEY              print the value (or (nil))
  set KEY VALUE [TTL]  store VALUE, expiring after TTL seconds if given
  del KEY              delete; prints how many keys were removed
  metrics [lb|node]    METRICS of the LB (default via an LB) or of the node
  ping                 PING the node (or the proxying LB)
  help                 this text
  quit                 leave (also: exit, Ctrl-D)
quote arguments with spaces: set greeting \"hello world\"";

/// What one input line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Blank,
    Run(Op),
    Help,
    Quit,
    /// A line we cannot run; the message says why.
    Bad(String),
}

/// Split a line into words the way `redis-cli` does for inline commands
/// (blanks separate, `"..."` and `'...'` quote, with its escapes).
fn words(line: &str) -> Result<Vec<Vec<u8>>, String> {
    // A leading blank forces the inline form, whatever the first character.
    let mut buf = Vec::with_capacity(line.len() + 2);
    buf.push(b' ');
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let mut args = Args::default();
    parse_request(&buf, &Limits::default(), &mut args).map_err(|e| e.to_string())?;
    Ok(args.iter(&buf).map(<[u8]>::to_vec).collect())
}

fn parse_line(line: &str, route: &Route) -> Line {
    let words = match words(line) {
        Ok(w) => w,
        Err(e) => return Line::Bad(e),
    };
    let Some((cmd, rest)) = words.split_first() else {
        return Line::Blank;
    };
    let cmd = String::from_utf8_lossy(cmd).to_ascii_lowercase();
    let usage = |u: &str| Line::Bad(format!("usage: {u}"));
    match (cmd.as_str(), rest) {
        ("get", [k]) => Line::Run(Op::Get(k.clone())),
        ("get", _) => usage("get KEY"),
        ("set", [k, v]) => Line::Run(Op::Set {
            key: k.clone(),
            value: v.clone(),
            ttl: None,
        }),
        ("set", [k, v, ttl]) => match std::str::from_utf8(ttl).ok().and_then(|t| t.parse().ok()) {
            Some(t) if t > 0 => Line::Run(Op::Set {
                key: k.clone(),
                value: v.clone(),
                ttl: Some(t),
            }),
            _ => Line::Bad("TTL must be a whole number of seconds, at least 1".into()),
        },
        ("set", _) => usage("set KEY VALUE [TTL]"),
        ("del", [k]) => Line::Run(Op::Del(k.clone())),
        ("del", _) => usage("del KEY"),
        ("metrics", []) => Line::Run(Op::Metrics(match route {
            Route::Direct(_) => Dest::Data,
            _ => Dest::Lb,
        })),
        ("metrics", [which]) => match (which.as_slice(), route) {
            (b"node", Route::Proxy(_)) => {
                Line::Bad("the LB proxies: use --target HOST:PORT for a node's metrics".into())
            }
            (b"node", _) => Line::Run(Op::Metrics(Dest::Data)),
            (b"lb", Route::Direct(_)) => Line::Bad("no LB: this session uses --target".into()),
            (b"lb", _) => Line::Run(Op::Metrics(Dest::Lb)),
            _ => usage("metrics [lb|node]"),
        },
        ("metrics", _) => usage("metrics [lb|node]"),
        ("ping", []) => Line::Run(Op::Ping),
        ("help" | "?", _) => Line::Help,
        ("quit" | "exit", _) => Line::Quit,
        _ => Line::Bad(format!("unknown command '{cmd}' (try help)")),
    }
}

/// Read commands until `quit` or end of input; returns the exit code (0:
/// the prompt itself cannot fail; failed commands print an error and the
/// prompt carries on).
pub fn run(session: &mut Session) -> i32 {
    let interactive = std::io::stdin().is_terminal();
    let mut stdout = std::io::stdout();
    if interactive {
        let via = match session.route() {
            Route::Direct(n) => format!("node {n}"),
            Route::Lease(lb) => format!("leases from {lb}"),
            Route::Proxy(lb) => format!("the proxying LB {lb}"),
        };
        let _ = writeln!(stdout, "cachectl client: {via}; type help for commands");
    }
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = String::new();
    loop {
        if interactive {
            let _ = write!(stdout, "cachectl> ");
            let _ = stdout.flush();
        }
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("cachectl client: reading stdin: {e}");
                return exit::USAGE;
            }
        }
        let mut out = Vec::new();
        match parse_line(&line, session.route()) {
            Line::Blank => continue,
            Line::Quit => break,
            Line::Help => out.extend_from_slice(format!("{HELP}\n").as_bytes()),
            Line::Bad(msg) => out.extend_from_slice(format!("(error) {msg}\n").as_bytes()),
            Line::Run(op) => match op.run(session) {
                Ok(answer) => render(&answer, &mut out),
                Err(gave_up) => out.extend_from_slice(format!("(error) {gave_up}\n").as_bytes()),
            },
        }
        if stdout
            .write_all(&out)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // Nobody reads our output any more.
            break;
        }
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::HostPort;

    fn lb() -> Route {
        Route::Lease(HostPort::new("127.0.0.1", 9000).unwrap())
    }

    #[test]
    fn lines() {
        let r = lb();
        assert_eq!(parse_line("\n", &r), Line::Blank);
        assert_eq!(
            parse_line("  GET k\n", &r),
            Line::Run(Op::Get(b"k".to_vec()))
        );
        assert_eq!(
            parse_line("set k \"a b\" 10", &r),
            Line::Run(Op::Set {
                key: b"k".to_vec(),
                value: b"a b".to_vec(),
                ttl: Some(10)
            })
        );
        assert_eq!(
            parse_line("*weird", &r),
            Line::Bad("unknown command '*weird' (try help)".into())
        );
        assert_eq!(parse_line("metrics", &r), Line::Run(Op::Metrics(Dest::Lb)));
        assert_eq!(
            parse_line("metrics node", &r),
            Line::Run(Op::Metrics(Dest::Data))
        );
        assert_eq!(parse_line("quit", &r), Line::Quit);
        assert_eq!(parse_line("help", &r), Line::Help);
        assert!(matches!(parse_line("set k v soon", &r), Line::Bad(m) if m.contains("TTL")));
        assert!(matches!(parse_line("get", &r), Line::Bad(m) if m.contains("usage: get")));
        assert!(matches!(parse_line("set k \"v", &r), Line::Bad(m) if m.contains("quotes")));
        let direct = Route::Direct(HostPort::new("127.0.0.1", 1).unwrap());
        assert_eq!(
            parse_line("metrics", &direct),
            Line::Run(Op::Metrics(Dest::Data))
        );
        assert!(matches!(parse_line("metrics lb", &direct), Line::Bad(_)));
    }
}
