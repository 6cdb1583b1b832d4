//! Per-connection state and the commands answered without touching any shard.

use super::core::Core;
use crate::cmd::table::{self, Kind};
use crate::cmd::{Command, Op, SetTtl};
use crate::proto::line::LineOp;
use crate::proto::{detect_dialect, reply, Dialect};
use crate::store::SetCond;

/// One client connection's state.
pub struct Session {
    /// Client id (CLIENT ID).
    pub id: u64,
    /// CLIENT SETNAME.
    pub name: Option<Vec<u8>>,
    dialect: Option<Dialect>,
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
            args: crate::proto::Args::default(),
            pending: None,
        }
    }

    /// The connection's dialect, detected from its first bytes and then fixed.
    pub fn dialect(&mut self, input: &[u8]) -> Option<Dialect> {
        if self.dialect.is_none() {
            self.dialect = detect_dialect(input);
        }
        self.dialect
    }

    /// Run a command that needs no shard. Only RESP clients can send these.
    pub fn run_local(
        &mut self,
        core: &Core,
        cmd: Command<'_>,
        dialect: Dialect,
        out: &mut Vec<u8>,
    ) {
        if dialect == Dialect::Line {
            // The line protocol's PING is the only local command it has.
            out.extend_from_slice(b"PONG\n");
            return;
        }
        match cmd {
            Command::Ping(None) => reply::simple(out, "PONG"),
            Command::Ping(Some(m)) | Command::Echo(m) => reply::bulk(out, m),
            Command::Select | Command::ClientSetInfo => reply::simple(out, "OK"),
            Command::ClientSetName(name) => {
                self.name = (!name.is_empty()).then(|| name.to_vec());
                reply::simple(out, "OK");
            }
            Command::ClientGetName => match &self.name {
                Some(n) => reply::bulk(out, n),
                None => reply::nil(out),
            },
            Command::ClientId => reply::int(out, self.id as i64),
            Command::CommandCount => reply::int(out, table::COUNT as i64),
            Command::CommandDocs => reply::array(out, 0),
            Command::CommandInfo(names) => command_info(names, out),
            Command::ConfigGet(pattern) => config_get(core, pattern, out),
            Command::NodeStat => {
                let s = format!(
                    "clients={} maxclients={} cores={} uptime_ms={}",
                    core.clients(),
                    core.shared.maxclients,
                    core.n,
                    core.now()
                );
                reply::bulk(out, s.as_bytes());
            }
            Command::Key(_) | Command::Multi(..) | Command::Global(_) | Command::Quit => {
                unreachable!("routed by the pipeline")
            }
        }
    }
}

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
fn command_info(names: Option<Vec<&[u8]>>, out: &mut Vec<u8>) {
    let specs: Vec<Option<&table::Spec>> = match names {
        None => table::TABLE.iter().map(Some).collect(),
        Some(names) => names.iter().map(|n| table::lookup(n)).collect(),
    };
    reply::array(out, specs.len());
    for spec in specs {
        let Some(s) = spec else {
            // Redis answers a null (RESP2: the null bulk) for an unknown name.
            reply::nil(out);
            continue;
        };
        reply::array(out, 10);
        reply::bulk(out, s.name.as_bytes());
        reply::int(out, i64::from(s.arity));
        reply::array(out, s.flags.len());
        for f in s.flags {
            reply::simple(out, f);
        }
        reply::int(out, i64::from(s.keys.0));
        reply::int(out, i64::from(s.keys.1));
        reply::int(out, i64::from(s.keys.2));
        for _ in 0..4 {
            // ACL categories, tips, key specs, subcommands: none.
            reply::array(out, 0);
        }
    }
}

/// CONFIG GET: the settings tools ask for (redis-benchmark reads `save` and
/// `appendonly`), matched by exact name or `*`.
fn config_get(core: &Core, pattern: &[u8], out: &mut Vec<u8>) {
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
    reply::array(out, matched.len() * 2);
    for (k, v) in matched {
        reply::bulk(out, k.as_bytes());
        reply::bulk(out, v.as_bytes());
    }
}
