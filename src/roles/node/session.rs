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
    /// Arguments of the request being parsed, kept to reuse the allocations.
    pub args: crate::proto::Args,
    /// Replies another core is writing to this client (see `Hop::Direct`).
    pub pending: Option<futures_channel::oneshot::Receiver<super::hop::Finished>>,
}

impl Session {
    /// A new session with the given id; the dialect is decided on first bytes.
    pub fn new(id: u64) -> Self {
        Session {
            id,
            name: None,
            dialect: None,
            proto: Proto::Resp2,
            args: crate::proto::Args::default(),
            pending: None,
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
            } => self.hello(version, auth, setname, out),
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
            Command::Key(_) | Command::Multi(..) | Command::Global(_) | Command::Quit => {
                unreachable!("routed by the pipeline")
            }
        }
    }

    /// HELLO: authenticate if asked, set the name, switch protocol, and
    /// answer Redis 7's map (in the protocol switched to).
    fn hello(
        &mut self,
        version: Option<u8>,
        auth: Option<(&[u8], &[u8])>,
        setname: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) {
        if let Some((user, _password)) = auth {
            // No password is configured (yet): the default user has
            // `nopass`, so any password opens it, and no other user exists.
            if user != b"default" {
                Reply::new(out, self.proto)
                    .error("WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
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

/// CONFIG GET: the settings tools ask for (redis-benchmark reads `save` and
/// `appendonly`), matched by exact name or `*`.
fn config_get(core: &Core, pattern: &[u8], w: &mut Reply<'_>) {
    let cfg = &core.shared.cfg;
    let all = [
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("databases", "1".to_string()),
        ("maxclients", core.shared.maxclients.to_string()),
        ("maxmemory", cfg.maxmemory.unwrap_or(0).to_string()),
        ("maxmemory-policy", cfg.policy_name().to_string()),
        ("port", core.shared.addr.port().to_string()),
        ("bind", core.shared.addr.ip().to_string()),
        ("proto-max-bulk-len", cfg.limits.max_bulk.to_string()),
    ];
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
