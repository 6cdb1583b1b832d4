//! Per-connection state and the commands answered without touching any shard.

use super::core::Core;
use crate::cmd::table::{self, Kind};
use crate::cmd::{Command, Op, SetTtl};
use crate::proto::line::LineOp;
use crate::proto::{detect_dialect, Dialect, Proto, Reply};
use crate::store::SetCond;

/// One client connection's state.
pub struct Session {
    /// Client id (CLIENT ID).
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: Option<Vec<u8>>,
    dialect: Option<Dialect>,
    /// How replies are encoded: RESP2 until `HELLO 3`, the line protocol
    /// for a connection that speaks it.
    pub proto: Proto,
    /// Whether the client may run commands: always without a password,
    /// after AUTH (or HELLO … AUTH) with one.
    pub authenticated: bool,
    /// Arguments of the request being parsed, kept to reuse the allocations.
    pub args: crate::proto::Args,
    /// Replies another core is writing to this client (see `Hop::Direct`).
    pub pending: Option<futures_channel::oneshot::Receiver<super::hop::Finished>>,
    /// The transaction being queued, between MULTI and EXEC/DISCARD.
    pub multi: Option<super::multi::Queued>,
    /// The keys WATCHed since the last EXEC, DISCARD or UNWATCH.
    pub watching: Option<super::multi::Watching>,
}

impl Session {
    /// A new session with the given id; the dialect is decided on first
    /// bytes. It starts authenticated unless a password is set.
    pub fn new(id: u64, authenticated: bool) -> Self {
        Session {
            id,
            name: None,
            dialect: None,
            proto: Proto::Resp2,
            authenticated,
            args: crate::proto::Args::default(),
            pending: None,
            multi: None,
            watching: None,
        }
    }

    /// The connection's dialect, detected from its first bytes and then fixed.
    pub fn dialect(&mut self, input: &[u8]) -> Option<Dialect> {
        if self.dialect.is_none() {
            self.dialect = detect_dialect(input);
            if self.dialect == Some(Dialect::Line) {
                self.proto = Proto::Line;
            }
        }
        self.dialect
    }

    /// Run a command that needs no shard, replying in the session's protocol.
    pub fn run_local(&mut self, core: &Core, cmd: Command<'_>, out: &mut Vec<u8>) {
        let mut w = Reply::new(out, self.proto);
        match cmd {
            Command::Ping(None) => w.simple("PONG"),
            Command::Ping(Some(m)) | Command::Echo(m) => w.bulk(m),
            Command::Select | Command::ClientSetInfo => w.ok(),
            // Only reached inside EXEC, which unwatches anyway.
            Command::Unwatch => {
                self.watching = None;
                w.ok();
            }
            Command::ClientSetName(name) => {
                self.name = (!name.is_empty()).then(|| name.to_vec());
                w.ok();
            }
            Command::ClientGetName => match &self.name {
                Some(n) => w.bulk(n),
                None => w.nil(),
            },
            Command::ClientId => w.int(self.id as i64),
            Command::CommandCount => w.int(table::COUNT as i64),
            Command::CommandDocs => w.map(0),
            Command::CommandInfo(names) => command_info(names, &mut w),
            Command::ConfigGet(pattern) => config_get(core, pattern, &mut w),
            Command::Hello {
                version,
                auth,
                setname,
            } => self.hello(core, version, auth, setname, out),
            Command::Auth { user, pass } => {
                if user.is_none() && core.shared.password().is_none() {
                    // Redis keeps this error for the old one-argument form.
                    w.error(
                        "ERR AUTH <password> called without any password configured for the \
                         default user. Are you sure your configuration is correct?",
                    );
                } else if self.authenticate(core, user.unwrap_or(b"default"), pass) {
                    w.ok();
                } else {
                    w.error(WRONGPASS);
                }
            }
            Command::ConfigSet(pairs) => config_set(core, &pairs, &mut w),
            Command::NodeStat => {
                let s = format!(
                    "clients={} maxclients={} cores={} uptime_ms={}",
                    core.clients(),
                    core.shared.maxclients,
                    core.n,
                    core.now()
                );
                w.bulk(s.as_bytes());
            }
            Command::Key(_)
            | Command::Multi(..)
            | Command::Global(_)
            | Command::Quit
            | Command::TxMulti
            | Command::TxExec
            | Command::TxDiscard
            | Command::Watch(_) => unreachable!("routed by the pipeline"),
        }
    }

    /// HELLO: authenticate if asked, set the name, switch protocol, and
    /// answer Redis 7's map (in the protocol switched to).
    fn hello(
        &mut self,
        core: &Core,
        version: Option<u8>,
        auth: Option<(&[u8], &[u8])>,
        setname: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) {
        if let Some((user, pass)) = auth {
            if !self.authenticate(core, user, pass) {
                Reply::new(out, self.proto).error(WRONGPASS);
                return;
            }
        }
        if !self.authenticated {
            Reply::new(out, self.proto).error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise \
                 the HELLO AUTH <user> <pass> option can be used to authenticate the \
                 client and select the RESP protocol version at the same time",
            );
            return;
        }
        if let Some(name) = setname {
            self.name = (!name.is_empty()).then(|| name.to_vec());
        }
        match version {
            Some(3) => self.proto = Proto::Resp3,
            Some(_) => self.proto = Proto::Resp2,
            None => {}
        }
        let mut w = Reply::new(out, self.proto);
        w.map(7);
        w.bulk(b"server");
        w.bulk(b"redis");
        w.bulk(b"version");
        w.bulk(REDIS_VERSION.as_bytes());
        w.bulk(b"proto");
        w.int(self.proto.version());
        w.bulk(b"id");
        w.int(self.id as i64);
        w.bulk(b"mode");
        w.bulk(b"standalone");
        w.bulk(b"role");
        w.bulk(b"master");
        w.bulk(b"modules");
        w.array(0);
    }
}

impl Session {
    /// Check `user`/`pass` as Redis's default user would, the only user
    /// there is: with no password set it has `nopass` (any password opens
    /// it), else the password must match. Marks the session authenticated
    /// on success; a failure leaves it as it was, as in Redis.
    fn authenticate(&mut self, core: &Core, user: &[u8], pass: &[u8]) -> bool {
        let ok = user == b"default"
            && core
                .shared
                .password()
                .is_none_or(|want| same_secret(&want, pass));
        if ok {
            self.authenticated = true;
        }
        ok
    }
}

/// Redis's reply to a failed AUTH.
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Compare a secret with a guess in time that depends only on the guess's
/// length, so timing tells an attacker nothing about how much of it was
/// right (or how long the secret is beyond what they sent).
fn same_secret(secret: &[u8], guess: &[u8]) -> bool {
    if secret.is_empty() {
        return guess.is_empty();
    }
    let mut diff = (secret.len() != guess.len()) as u8;
    for (i, &g) in guess.iter().enumerate() {
        diff |= secret[i % secret.len()] ^ g;
    }
    // Keep the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

/// The Redis version the node reports (INFO, HELLO): the one whose commands
/// and replies it follows.
pub const REDIS_VERSION: &str = "7.0.15";

/// Map a line-protocol request to the same command RESP would run.
pub fn line_command<'a>(op: LineOp, args: &[&'a [u8]]) -> (Kind, Command<'a>) {
    match op {
        LineOp::Get => (Kind::Get, Command::Key(Op::Get(args[0]))),
        LineOp::Del => (Kind::Del, Command::Key(Op::Del(args[0]))),
        LineOp::Set => (
            Kind::Set,
            Command::Key(Op::Set {
                key: args[0],
                value: args[1],
                ttl: SetTtl::Clear,
                cond: SetCond::Always,
                get: false,
            }),
        ),
        LineOp::Ping => (Kind::Ping, Command::Ping(None)),
    }
}

/// COMMAND / COMMAND INFO: Redis 7's ten-field entries.
fn command_info(names: Option<Vec<&[u8]>>, w: &mut Reply<'_>) {
    let specs: Vec<Option<&table::Spec>> = match names {
        None => table::TABLE.iter().map(Some).collect(),
        Some(names) => names.iter().map(|n| table::lookup(n)).collect(),
    };
    w.array(specs.len());
    for spec in specs {
        let Some(s) = spec else {
            // Redis answers a null for an unknown name.
            w.nil();
            continue;
        };
        w.array(10);
        w.bulk(s.name.as_bytes());
        w.int(i64::from(s.arity));
        w.set(s.flags.len());
        for f in s.flags {
            w.simple(f);
        }
        w.int(i64::from(s.keys.0));
        w.int(i64::from(s.keys.1));
        w.int(i64::from(s.keys.2));
        // ACL categories, tips, key specs: none; subcommands: none.
        w.set(0);
        w.set(0);
        w.array(0);
        w.array(0);
    }
}

/// CONFIG SET: what the node can change while it runs. Redis applies all
/// pairs or none; so do we, checking every name before changing anything.
fn config_set(core: &Core, pairs: &[(&[u8], &[u8])], w: &mut Reply<'_>) {
    for (name, _) in pairs {
        if !name.eq_ignore_ascii_case(b"requirepass") {
            let known = settings(core)
                .iter()
                .any(|(k, _)| k.as_bytes().eq_ignore_ascii_case(name));
            let name = crate::cmd::error::show(name);
            if known {
                w.error(&format!(
                    "ERR CONFIG SET {name} is not supported by this node (yet)"
                ));
            } else {
                w.error(&format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            }
            return;
        }
    }
    for (_, value) in pairs {
        // An empty password turns authentication off, as in Redis.
        core.shared
            .set_password((!value.is_empty()).then(|| value.to_vec()));
    }
    w.ok();
}

/// CONFIG GET: the settings tools ask for (redis-benchmark reads `save` and
/// `appendonly`), matched by exact name or `*`.
fn config_get(core: &Core, pattern: &[u8], w: &mut Reply<'_>) {
    let all = settings(core);
    let matched: Vec<_> = all
        .iter()
        .filter(|(k, _)| pattern == b"*" || k.as_bytes().eq_ignore_ascii_case(pattern))
        .collect();
    w.map(matched.len());
    for (k, v) in matched {
        w.bulk(k.as_bytes());
        w.bulk(v.as_bytes());
    }
}

/// Every setting CONFIG GET shows, with its value now.
fn settings(core: &Core) -> [(&'static str, String); 10] {
    let cfg = &core.shared.cfg;
    [
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("databases", "1".to_string()),
        ("maxclients", core.shared.maxclients.to_string()),
        ("maxmemory", cfg.maxmemory.unwrap_or(0).to_string()),
        ("maxmemory-policy", cfg.policy_name().to_string()),
        ("port", core.shared.addr.port().to_string()),
        ("bind", core.shared.addr.ip().to_string()),
        ("proto-max-bulk-len", cfg.limits.max_bulk.to_string()),
        (
            "requirepass",
            String::from_utf8_lossy(&core.shared.password().unwrap_or_default()).into_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
        assert!(!same_secret(b"s3cret", b"s3crett"));
        assert!(!same_secret(b"s3cret", b"s3creT"));
        assert!(!same_secret(b"s3cret", b""));
        // A guess that repeats the secret is not the secret.
        assert!(!same_secret(b"ab", b"abab"));
        assert!(same_secret(b"", b""));
    }
}
