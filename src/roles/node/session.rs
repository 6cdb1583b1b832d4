//! Per-connection state, and the server as connection commands see it.

use super::core::Core;
use crate::cmd::client::ConfigError;
use crate::cmd::{Client, Server};
use crate::proto::line::LineOp;
use crate::proto::{detect_dialect, Dialect, Proto};

/// One client connection's state.
pub struct Session {
    /// What commands see of the connection: id, name, protocol, login.
    pub client: Client,
    dialect: Option<Dialect>,
    /// Arguments of the request being parsed, kept to reuse the allocations.
    pub args: crate::proto::Args,
    /// Replies another core is writing to this client (see `Hop::Direct`).
    pub pending: Option<futures_channel::oneshot::Receiver<super::hop::Finished>>,
    /// The transaction being queued, between MULTI and EXEC/DISCARD.
    pub multi: Option<super::multi::Queued>,
    /// The keys WATCHed since the last EXEC, DISCARD or UNWATCH.
    pub watching: Option<super::multi::Watching>,
    /// Channels and patterns subscribed to, once the connection has
    /// subscribed (see `node::pubsub`).
    pub subs: Option<Box<super::pubsub::Subscriber>>,
}

impl Session {
    /// A new session with the given id; the dialect is decided on first
    /// bytes. It starts authenticated unless a password is set.
    pub fn new(id: u64, authenticated: bool) -> Self {
        Session {
            client: Client::new(id, authenticated),
            dialect: None,
            args: crate::proto::Args::default(),
            pending: None,
            multi: None,
            watching: None,
            subs: None,
        }
    }

    /// The connection's dialect, detected from its first bytes and then fixed.
    pub fn dialect(&mut self, input: &[u8]) -> Option<Dialect> {
        if self.dialect.is_none() {
            self.dialect = detect_dialect(input);
            if self.dialect == Some(Dialect::Line) {
                self.client.proto = Proto::Line;
            }
        }
        self.dialect
    }
}

/// A line-protocol request as the RESP command it is.
pub fn line_args(
    op: LineOp,
    args: smallvec::SmallVec<[&[u8]; 8]>,
) -> smallvec::SmallVec<[&[u8]; 8]> {
    let name: &'static [u8] = match op {
        LineOp::Get => b"get",
        LineOp::Del => b"del",
        LineOp::Set => b"set",
        LineOp::Ping => b"ping",
    };
    let mut v = smallvec::SmallVec::new();
    v.push(name);
    v.extend_from_slice(&args);
    v
}

impl Server for Core {
    fn password(&self) -> Option<Vec<u8>> {
        self.shared.password()
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        let sh = &self.shared;
        let cfg = &sh.cfg;
        vec![
            ("save", String::new()),
            ("appendonly", "no".to_string()),
            ("databases", "1".to_string()),
            ("maxclients", sh.maxclients.to_string()),
            ("maxmemory", cfg.maxmemory.unwrap_or(0).to_string()),
            ("maxmemory-policy", cfg.policy_name().to_string()),
            ("port", sh.addr.port().to_string()),
            ("bind", sh.addr.ip().to_string()),
            ("proto-max-bulk-len", cfg.limits.max_bulk.to_string()),
            (
                "requirepass",
                String::from_utf8_lossy(&sh.password().unwrap_or_default()).into_owned(),
            ),
        ]
    }

    /// What the node can change while it runs. Redis applies all pairs or
    /// none; so does this, checking every name before changing anything.
    fn configure(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), ConfigError> {
        for (name, _) in pairs {
            if !name.eq_ignore_ascii_case(b"requirepass") {
                let known = self
                    .settings()
                    .iter()
                    .any(|(k, _)| k.as_bytes().eq_ignore_ascii_case(name));
                let name = crate::cmd::error::show(name);
                return Err(if known {
                    ConfigError::Fixed(name)
                } else {
                    ConfigError::Unknown(name)
                });
            }
        }
        for (_, value) in pairs {
            // An empty password turns authentication off, as in Redis.
            self.shared
                .set_password((!value.is_empty()).then(|| value.to_vec()));
        }
        Ok(())
    }

    fn unix_us(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    }

    fn nodestat(&self) -> String {
        format!(
            "clients={} maxclients={} cores={} uptime_ms={}",
            self.clients(),
            self.shared.maxclients,
            self.n,
            self.now()
        )
    }
}
