//! SLOWLOG: the log of commands that ran longer than
//! `slowlog-log-slower-than`, as Redis 7.0.15 keeps and prints it.
//!
//! This file holds the rows and handlers, the log itself ([`SlowLog`], no
//! locking: the node wraps it) and the entry as Redis records it
//! ([`Draft::new`]: at most 32 arguments, each at most 128 bytes, secrets
//! redacted). The node decides what is slow and where the time is taken.

use super::client::Conn;
use super::server;
use super::spec::{Flags, Keys, Run, Spec};
use crate::proto::Reply;
use std::collections::VecDeque;

const LS: Flags = Flags::LOADING.with(Flags::STALE);
const ADMIN: Flags = LS.with(Flags::ADMIN);
/// GET and LEN first let this read's earlier commands finish, on every
/// core, so they see those commands' entries as Redis does.
const READS: Flags = ADMIN.with(Flags::BARRIER);

const SUBS: &[Spec] = &[
    Spec::new("slowlog|get", -2, READS, Keys::NONE, Run::Conn(get)),
    Spec::new("slowlog|len", 2, READS, Keys::NONE, Run::Conn(len)),
    Spec::new("slowlog|reset", 2, ADMIN, Keys::NONE, Run::Conn(reset)),
    Spec::new("slowlog|help", 2, LS, Keys::NONE, Run::Conn(help)),
];

/// The SLOWLOG family.
pub const COMMANDS: &[Spec] = &[Spec::container(
    "slowlog",
    -2,
    Flags::NONE,
    Run::Conn(server::no_sub),
    SUBS,
)];

/// Most arguments an entry keeps (Redis's `SLOWLOG_ENTRY_MAX_ARGC`); the
/// last one kept says how many more there were.
pub const MAX_ARGC: usize = 32;
/// Most bytes an argument keeps (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
pub const MAX_STRING: usize = 128;
/// What a secret argument is replaced by, as Redis's `shared.redacted`.
pub const REDACTED: &[u8] = b"(redacted)";
/// SLOWLOG GET's default count.
const DEFAULT_COUNT: usize = 10;

/// A slow command as the core that ran it records it, before the
/// connection's address and name are added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// Unix time in seconds when it was logged.
    pub unix_secs: u64,
    /// How long it ran, in microseconds.
    pub micros: u64,
    /// Its arguments, cut to Redis's limits and with secrets redacted.
    pub argv: Vec<Vec<u8>>,
}

impl Draft {
    /// The entry Redis would make for `args` (argument 0 is the name)
    /// that ran `micros` µs: arguments past the 31st become one
    /// `... (N more arguments)`, an argument longer than 128 bytes keeps
    /// its first 128 and `... (N more bytes)`, and passwords (AUTH,
    /// HELLO … AUTH, CONFIG SET requirepass/masterauth) read `(redacted)`.
    pub fn new(args: &[&[u8]], micros: u64, unix_secs: u64) -> Draft {
        let secret = secrets(args);
        let kept = args.len().min(MAX_ARGC);
        let argv = (0..kept)
            .map(|j| {
                if kept != args.len() && j == kept - 1 {
                    format!("... ({} more arguments)", args.len() - kept + 1).into_bytes()
                } else if secret.contains(&j) {
                    REDACTED.to_vec()
                } else if args[j].len() > MAX_STRING {
                    let mut a = args[j][..MAX_STRING].to_vec();
                    let more = format!("... ({} more bytes)", args[j].len() - MAX_STRING);
                    a.extend_from_slice(more.as_bytes());
                    a
                } else {
                    args[j].to_vec()
                }
            })
            .collect();
        Draft {
            unix_secs,
            micros,
            argv,
        }
    }
}

/// Positions of the arguments Redis redacts before it logs a command.
/// Redis redacts them while the command runs, so a HELLO whose protocol
/// version is bad keeps its password there; we redact regardless, so a
/// password never reaches the log.
fn secrets(args: &[&[u8]]) -> Vec<usize> {
    let is = |i: usize, w: &[u8]| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w));
    if is(0, b"auth") {
        return (1..args.len()).collect();
    }
    if is(0, b"hello") {
        return (2..args.len())
            .filter(|&j| is(j, b"auth") && j + 2 < args.len())
            .flat_map(|j| [j + 1, j + 2])
            .collect();
    }
    if is(0, b"config") && is(1, b"set") {
        return (2..args.len())
            .step_by(2)
            .filter(|&j| is(j, b"requirepass") || is(j, b"masterauth"))
            .map(|j| j + 1)
            .filter(|&j| j < args.len())
            .collect();
    }
    Vec::new()
}

/// One logged command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unique and increasing over the node's life (RESET keeps counting).
    pub id: u64,
    /// What the core that ran it recorded.
    pub draft: Draft,
    /// The client's `ip:port`.
    pub addr: String,
    /// The client's name when it ran, empty for none.
    pub name: Vec<u8>,
}

impl Entry {
    /// The entry as SLOWLOG GET prints it: id, unix time, µs, arguments,
    /// address, name.
    pub fn write(&self, w: &mut Reply<'_>) {
        w.array(6);
        w.int(self.id as i64);
        w.int(self.draft.unix_secs as i64);
        w.int(self.draft.micros as i64);
        w.array(self.draft.argv.len());
        for a in &self.draft.argv {
            w.bulk(a);
        }
        w.bulk(self.addr.as_bytes());
        w.bulk(&self.name);
    }
}

/// The log: newest entry first, ids that never repeat.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// Log `draft` for the client at `addr` named `name`, then drop the
    /// oldest entries beyond `max_len` (0 keeps none, but the id is still
    /// used, as in Redis). Returns the entry's id.
    pub fn push(&mut self, draft: Draft, addr: String, name: Vec<u8>, max_len: usize) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(Entry {
            id,
            draft,
            addr,
            name,
        });
        self.entries.truncate(max_len);
        id
    }

    /// Up to `count` entries, newest first.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.iter().take(count).cloned().collect()
    }

    /// Entries held (SLOWLOG LEN).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drop every entry (SLOWLOG RESET); ids keep counting.
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// SLOWLOG GET's count: 10 by default, -1 for every entry.
///
/// # Errors
/// Redis's error text for anything but an integer ≥ -1.
pub fn parse_count(arg: Option<&[u8]>) -> Result<usize, &'static str> {
    let Some(arg) = arg else {
        return Ok(DEFAULT_COUNT);
    };
    match crate::store::parse_i64(arg) {
        Some(-1) => Ok(usize::MAX),
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err("ERR count should be greater than or equal to -1"),
    }
}

/// SLOWLOG GET [count]
fn get(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    if args.len() > 3 {
        // Redis's `addReplySubcommandSyntaxError`: the subcommand as sent.
        let sub = &args[1][..args[1].len().min(128)];
        let mut text = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        text.extend_from_slice(sub);
        text.extend_from_slice(b"'. Try SLOWLOG HELP.");
        return w.error_bytes(&text);
    }
    match parse_count(args.get(2).copied()) {
        Ok(count) => {
            let entries = c.server.slowlog_get(count);
            w.array(entries.len());
            for e in &entries {
                e.write(w);
            }
        }
        Err(e) => w.error(e),
    }
}

/// SLOWLOG LEN
fn len(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    w.int(c.server.slowlog_len() as i64);
}

/// SLOWLOG RESET
fn reset(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    c.server.slowlog_reset();
    w.ok();
}

/// SLOWLOG HELP
fn help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    server::help(w, "slowlog", super::help::SLOWLOG);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(d: &Draft) -> Vec<String> {
        d.argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    #[test]
    fn long_arguments_and_many_arguments_are_cut_as_redis_does() {
        let long = vec![b'x'; 200];
        let d = Draft::new(&[b"SET", b"k", &long], 7, 100);
        assert_eq!((d.micros, d.unix_secs), (7, 100));
        assert_eq!(d.argv[2].len(), 128 + "... (72 more bytes)".len());
        assert!(d.argv[2].ends_with(b"x... (72 more bytes)"));
        let exact = vec![b'y'; 128];
        assert_eq!(Draft::new(&[b"SET", b"k", &exact], 0, 0).argv[2], exact);

        let many: Vec<Vec<u8>> = (0..40).map(|i| format!("a{i}").into_bytes()).collect();
        let args: Vec<&[u8]> = many.iter().map(|a| &a[..]).collect();
        let d = Draft::new(&args, 0, 0);
        assert_eq!(d.argv.len(), 32);
        assert_eq!(strs(&d)[30], "a30");
        assert_eq!(strs(&d)[31], "... (9 more arguments)");
        let exactly: Vec<&[u8]> = args[..32].to_vec();
        assert_eq!(strs(&Draft::new(&exactly, 0, 0))[31], "a31");
    }

    #[test]
    fn passwords_are_redacted() {
        let r = |a: &[&[u8]]| strs(&Draft::new(a, 0, 0)).join(" ");
        assert_eq!(r(&[b"AUTH", b"pw"]), "AUTH (redacted)");
        assert_eq!(r(&[b"auth", b"u", b"pw"]), "auth (redacted) (redacted)");
        assert_eq!(
            r(&[b"HELLO", b"3", b"AUTH", b"u", b"pw", b"SETNAME", b"n"]),
            "HELLO 3 AUTH (redacted) (redacted) SETNAME n"
        );
        assert_eq!(
            r(&[b"CONFIG", b"SET", b"timeout", b"5", b"requirepass", b"s"]),
            "CONFIG SET timeout 5 requirepass (redacted)"
        );
        assert_eq!(r(&[b"SET", b"auth", b"x"]), "SET auth x");
    }

    #[test]
    fn log_is_newest_first_with_ids_that_never_repeat() {
        let mut log = SlowLog::default();
        let d = |n: u64| Draft::new(&[b"GET", b"k"], n, 0);
        assert_eq!(log.push(d(1), "a:1".into(), vec![], 2), 0);
        assert_eq!(log.push(d(2), "a:1".into(), b"me".to_vec(), 2), 1);
        assert_eq!(log.push(d(3), "a:1".into(), vec![], 2), 2);
        assert_eq!(log.len(), 2);
        let ids: Vec<u64> = log.newest(10).iter().map(|e| e.id).collect();
        assert_eq!(ids, [2, 1]);
        assert_eq!(log.newest(1)[0].draft.micros, 3);
        log.reset();
        assert!(log.is_empty());
        assert_eq!(log.push(d(4), "a:1".into(), vec![], 0), 3);
        assert!(log.is_empty(), "max-len 0 keeps nothing");
    }

    #[test]
    fn entries_print_as_redis_does() {
        let e = Entry {
            id: 5,
            draft: Draft::new(&[b"GET", b"k"], 12, 1700),
            addr: "127.0.0.1:5000".into(),
            name: b"bob".to_vec(),
        };
        let mut out = Vec::new();
        e.write(&mut Reply::new(&mut out, crate::proto::Proto::Resp2));
        assert_eq!(
            out,
            b"*6\r\n:5\r\n:1700\r\n:12\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n$14\r\n127.0.0.1:5000\r\n$3\r\nbob\r\n"
        );
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(None), Ok(10));
        assert_eq!(parse_count(Some(b"-1")), Ok(usize::MAX));
        assert_eq!(parse_count(Some(b"0")), Ok(0));
        assert!(parse_count(Some(b"-2")).is_err());
        assert!(parse_count(Some(b"x")).is_err());
    }
}
