//! `cachectl client`: seed 004's client CLI and seed 000's interactive
//! client in one. One operation from flags (`--get`, `--set`, `--del`,
//! `--metrics`), or a prompt reading commands from stdin when none is given.
//!
//! Not a server, so plain threads and blocking sockets: `session` (routes,
//! connections, retries), `repl` (the prompt). Replies are parsed with
//! [`crate::proto::client`].

mod repl;
pub mod session;

use self::session::{Answer, Dest, GaveUp, Retry, Route, Session};
use crate::addr::{parse_host_port, HostPort};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// Exit codes of `cachectl client` (also listed in its `--help`).
pub mod exit {
    /// Success: a value was found, a write or delete was done.
    pub const OK: i32 = 0;
    /// GET found no value, or DEL removed nothing.
    pub const NOT_FOUND: i32 = 1;
    /// Bad flags (clap uses 2 as well).
    pub const USAGE: i32 = 2;
    /// No server could be reached after every retry.
    pub const UNAVAILABLE: i32 = 3;
    /// The server answered with an error (e.g. `-ERR`, `-OOM`).
    pub const SERVER_ERROR: i32 = 4;
}

/// Where the client goes when given neither `--lb` nor `--target`: the LB
/// of `cachectl cluster` with its default ports.
pub const DEFAULT_LB: &str = "127.0.0.1:9000";

const CLIENT_HELP: &str = "\
Routing:
  --lb HOST:PORT (default 127.0.0.1:9000, the LB `cachectl cluster` starts):
      take a lease (LEASE), then send the operation to the leased node.
  --lb HOST:PORT --proxy: send the operation to the LB itself, which
      forwards it (an LB started with --mode proxy). A redirect-mode LB
      refuses to forward; the client then says so on stderr and takes
      leases from it instead, so the same command works against either.
  --target HOST:PORT: talk to one node directly, no LB.
  A failed attempt (refused, reset, timed out, no healthy nodes, node full)
  is retried --retries times with exponential backoff (100ms doubling to 2s,
  +-20% jitter), with a fresh connection and, via an LB, a fresh lease, so a
  dead node is routed around once the LB has evicted it.

Output and exit codes:
  --get:     the value's bytes and a newline; `(nil)` and exit 1 if missing
  --set:     OK
  --del:     (integer) N; exit 1 if nothing was deleted
  --metrics: the JSON, one line
  0 ok/found   1 not found   2 usage   3 unavailable (after every retry;
  one line on stderr)   4 the server answered with an error

Interactive prompt (no operation given): reads lines from stdin:
  get KEY | set KEY VALUE [TTL] | del KEY | metrics [lb|node] | ping |
  help | quit.  Quote values with spaces: set k \"a b\".";

/// Flags of `cachectl client`.
#[derive(clap::Args, Clone, Debug)]
#[command(after_long_help = CLIENT_HELP)]
pub struct ClientArgs {
    /// The load balancer, HOST:PORT [default: 127.0.0.1:9000].
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port, conflicts_with = "target")]
    pub lb: Option<HostPort>,
    /// Talk to this node directly, HOST:PORT, without an LB.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub target: Option<HostPort>,
    /// The LB runs in proxy mode: send operations to the LB itself (against
    /// a redirect-mode LB, fall back to leases, with a note on stderr).
    #[arg(long, conflicts_with = "target")]
    pub proxy: bool,
    /// Print the value of KEY.
    #[arg(long, value_name = "KEY", conflicts_with_all = ["set", "del", "metrics"])]
    pub get: Option<OsString>,
    /// Store VALUE under KEY.
    #[arg(long, num_args = 2, value_names = ["KEY", "VALUE"], conflicts_with_all = ["del", "metrics"])]
    pub set: Option<Vec<OsString>>,
    /// With --set: expire the key after this long, e.g. 60s or 5m; a bare
    /// number is seconds.
    #[arg(long, value_name = "DURATION", requires = "set", value_parser = crate::units::whole_secs)]
    pub ttl: Option<u64>,
    /// Delete KEY.
    #[arg(long, value_name = "KEY", conflicts_with = "metrics")]
    pub del: Option<OsString>,
    /// Print the LB's METRICS (a node's with --node or --target).
    #[arg(long)]
    pub metrics: bool,
    /// With --metrics via an LB: a leased node's METRICS instead of the LB's.
    #[arg(long, requires = "metrics", conflicts_with = "proxy")]
    pub node: bool,
    /// Retries after a failed attempt.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,
    /// Connect/read/write timeout of one attempt, e.g. 2s or 500ms; a bare
    /// number is milliseconds.
    #[arg(long, value_name = "DURATION", default_value = "2000", value_parser = crate::units::whole_millis)]
    pub timeout: u64,
    /// Do not print a line on stderr before each retry.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// GET key.
    Get(Vec<u8>),
    /// SET key value [EX ttl].
    Set {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// Seconds to live, if any.
        ttl: Option<u64>,
    },
    /// DEL key.
    Del(Vec<u8>),
    /// METRICS at the LB or on the data path.
    Metrics(Dest),
    /// PING on the data path.
    Ping,
}

impl Op {
    /// The RESP command.
    pub fn command(&self) -> Vec<Vec<u8>> {
        match self {
            Op::Get(k) => vec![b"GET".to_vec(), k.clone()],
            Op::Set { key, value, ttl } => {
                let mut c = vec![b"SET".to_vec(), key.clone(), value.clone()];
                if let Some(t) = ttl {
                    c.extend([b"EX".to_vec(), t.to_string().into_bytes()]);
                }
                c
            }
            Op::Del(k) => vec![b"DEL".to_vec(), k.clone()],
            Op::Metrics(_) => vec![b"METRICS".to_vec()],
            Op::Ping => vec![b"PING".to_vec()],
        }
    }

    /// Where it goes.
    pub fn dest(&self) -> Dest {
        match self {
            Op::Metrics(d) => *d,
            _ => Dest::Data,
        }
    }

    /// The exit code a reply to this operation means.
    pub fn exit_code(&self, answer: &Answer) -> i32 {
        match (self, answer) {
            (_, Answer::Error(_)) => exit::SERVER_ERROR,
            (Op::Get(_), Answer::Nil) => exit::NOT_FOUND,
            (Op::Del(_), Answer::Int(0)) => exit::NOT_FOUND,
            _ => exit::OK,
        }
    }

    /// Run it on `session`.
    ///
    /// # Errors
    /// [`GaveUp`] when no attempt succeeded.
    pub fn run(&self, session: &mut Session) -> Result<Answer, GaveUp> {
        let cmd = self.command();
        let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        session.call(self.dest(), &args)
    }
}

/// Append how `answer` reads on a terminal (redis-cli style), with a
/// newline. A bulk string is written as its raw bytes.
pub fn render(answer: &Answer, out: &mut Vec<u8>) {
    match answer {
        Answer::Bulk(b) => out.extend_from_slice(b),
        Answer::Nil => out.extend_from_slice(b"(nil)"),
        Answer::Simple(s) => out.extend_from_slice(s.as_bytes()),
        Answer::Int(n) => out.extend_from_slice(format!("(integer) {n}").as_bytes()),
        Answer::Error(e) => out.extend_from_slice(format!("(error) {e}").as_bytes()),
        Answer::Array(items) if items.is_empty() => out.extend_from_slice(b"(empty array)"),
        Answer::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                out.extend_from_slice(format!("{}) ", i + 1).as_bytes());
                let mut inner = Vec::new();
                render(item, &mut inner);
                inner.pop();
                out.extend_from_slice(&inner);
            }
        }
    }
    out.push(b'\n');
}

/// The route the flags ask for.
fn route(args: &ClientArgs) -> Route {
    match (&args.target, &args.lb) {
        (Some(node), _) => Route::Direct(node.clone()),
        (None, lb) => {
            let lb = lb
                .clone()
                .unwrap_or_else(|| HostPort::parse(DEFAULT_LB).expect("valid default"));
            if args.proxy {
                Route::Proxy(lb)
            } else {
                Route::Lease(lb)
            }
        }
    }
}

/// The one operation the flags ask for, if any.
fn op(args: &ClientArgs) -> Option<Op> {
    let bytes = |s: &OsString| s.as_bytes().to_vec();
    if let Some(k) = &args.get {
        return Some(Op::Get(bytes(k)));
    }
    if let Some(kv) = &args.set {
        return Some(Op::Set {
            key: bytes(&kv[0]),
            value: bytes(&kv[1]),
            ttl: args.ttl,
        });
    }
    if let Some(k) = &args.del {
        return Some(Op::Del(bytes(k)));
    }
    args.metrics.then(|| {
        // The LB's own METRICS unless a node's was asked for (or there is
        // no LB); in proxy mode Dest::Lb and Dest::Data are the same LB.
        if args.node || args.target.is_some() {
            Op::Metrics(Dest::Data)
        } else {
            Op::Metrics(Dest::Lb)
        }
    })
}

/// Flag checks clap cannot express; the message names the flag.
fn check(args: &ClientArgs) -> Result<(), String> {
    if args.timeout == 0 {
        return Err("--timeout must be at least 1 (milliseconds)".into());
    }
    // clap waives `requires` when the required flag conflicts with one
    // that is present (`--ttl 5 --get k`), so say it here.
    if args.ttl.is_some() && args.set.is_none() {
        return Err("--ttl only applies to --set".into());
    }
    if args.node && !args.metrics {
        return Err("--node only applies to --metrics".into());
    }
    if args.ttl == Some(0) {
        return Err("--ttl must be at least 1 second".into());
    }
    if let Some(kv) = &args.set {
        if kv[0].is_empty() {
            return Err("--set needs a non-empty KEY".into());
        }
    }
    Ok(())
}

/// Run the client; returns the process exit code (see [`exit`]).
pub fn run(args: ClientArgs) -> i32 {
    if let Err(msg) = check(&args) {
        eprintln!("cachectl client: {msg}");
        return exit::USAGE;
    }
    let retry = Retry {
        retries: args.retries,
        timeout: Duration::from_millis(args.timeout),
        notify: !args.quiet,
    };
    let mut session = Session::new(route(&args), retry);
    let code = match op(&args) {
        Some(op) => one_shot(&op, &mut session),
        None => repl::run(&mut session),
    };
    let _ = std::io::stdout().flush();
    code
}

/// Run one operation and print its result.
fn one_shot(op: &Op, session: &mut Session) -> i32 {
    match op.run(session) {
        Ok(answer) => {
            let mut out = Vec::new();
            render(&answer, &mut out);
            // Errors are for the person at the terminal, values for the pipe.
            if matches!(answer, Answer::Error(_)) {
                let _ = std::io::stderr().write_all(&out);
            } else {
                let _ = std::io::stdout().write_all(&out);
            }
            op.exit_code(&answer)
        }
        Err(gave_up) => {
            eprintln!("cachectl client: {gave_up}");
            exit::UNAVAILABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        client: ClientArgs,
    }

    fn parse(args: &[&str]) -> Result<ClientArgs, String> {
        Cli::try_parse_from(std::iter::once("client").chain(args.iter().copied()))
            .map(|c| c.client)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn operations_from_flags() {
        let a = parse(&["--set", "k", "v", "--ttl", "5"]).unwrap();
        assert_eq!(
            op(&a).unwrap().command(),
            vec![
                b"SET".to_vec(),
                b"k".to_vec(),
                b"v".to_vec(),
                b"EX".to_vec(),
                b"5".to_vec()
            ]
        );
        assert!(matches!(route(&a), Route::Lease(lb) if lb.to_string() == DEFAULT_LB));
        let a = parse(&["--lb", "10.0.0.1:9", "--proxy", "--get", "k"]).unwrap();
        assert!(matches!(route(&a), Route::Proxy(_)));
        assert_eq!(op(&a), Some(Op::Get(b"k".to_vec())));
        let a = parse(&["--target", "127.0.0.1:7", "--metrics"]).unwrap();
        assert_eq!(op(&a), Some(Op::Metrics(Dest::Data)));
        let a = parse(&["--metrics"]).unwrap();
        assert_eq!(op(&a), Some(Op::Metrics(Dest::Lb)));
        let a = parse(&["--metrics", "--node"]).unwrap();
        assert_eq!(op(&a), Some(Op::Metrics(Dest::Data)));
        assert_eq!(op(&parse(&[]).unwrap()), None);
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let err = |args: &[&str]| parse(args).unwrap_err();
        assert!(err(&["--get", "a", "--del", "b"]).contains("--get"));
        assert!(err(&["--ttl", "5"]).contains("--ttl"));
        assert!(err(&["--node"]).contains("--node"));
        assert!(err(&["--lb", "nope"]).contains("--lb"));
        assert!(err(&["--target", "h:1", "--lb", "h:2"]).contains("--target"));
        assert!(err(&["--set", "k"]).contains("--set"));
        let a = parse(&["--timeout", "0", "--get", "k"]).unwrap();
        assert!(check(&a).unwrap_err().contains("--timeout"));
        let a = parse(&["--ttl", "5", "--get", "k"]).unwrap();
        assert!(check(&a).unwrap_err().contains("--ttl"));
        let a = parse(&["--node", "--del", "k"]).unwrap();
        assert!(check(&a).unwrap_err().contains("--node"));
        let a = parse(&["--set", "k", "v", "--ttl", "0"]).unwrap();
        assert!(check(&a).unwrap_err().contains("--ttl"));
    }

    #[test]
    fn exit_codes() {
        let get = Op::Get(b"k".to_vec());
        assert_eq!(get.exit_code(&Answer::Bulk(b"v".to_vec())), exit::OK);
        assert_eq!(get.exit_code(&Answer::Nil), exit::NOT_FOUND);
        assert_eq!(
            get.exit_code(&Answer::Error("ERR x".into())),
            exit::SERVER_ERROR
        );
        let del = Op::Del(b"k".to_vec());
        assert_eq!(del.exit_code(&Answer::Int(0)), exit::NOT_FOUND);
        assert_eq!(del.exit_code(&Answer::Int(1)), exit::OK);
    }

    #[test]
    fn rendering() {
        let show = |a: Answer| {
            let mut out = Vec::new();
            render(&a, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(show(Answer::Bulk(b"v".to_vec())), "v\n");
        assert_eq!(show(Answer::Nil), "(nil)\n");
        assert_eq!(show(Answer::Int(2)), "(integer) 2\n");
        assert_eq!(show(Answer::Error("ERR x".into())), "(error) ERR x\n");
        assert_eq!(
            show(Answer::Array(vec![Answer::Int(1), Answer::Nil])),
            "1) (integer) 1\n2) (nil)\n"
        );
    }
}
