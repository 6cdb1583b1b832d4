//! Per-connection state, and the server as connection commands see it.

use super::core::Core;
use super::hop::Hop;
use super::settings::{self, Change};
use crate::cmd::client::{ConfigError, PauseMode};
use crate::cmd::{Client, Server};
use crate::proto::line::LineOp;
use crate::proto::{detect_dialect, Dialect, Proto};
use std::sync::atomic::Ordering;

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
    /// The last command's full name, for CLIENT LIST.
    pub last_cmd: Option<&'static str>,
    /// Node-clock ms of the last read with requests, for CLIENT LIST.
    pub active_ms: u64,
    /// Channels and patterns subscribed to, once the connection has
    /// subscribed (see `node::pubsub`).
    pub subs: Option<Box<super::pubsub::Subscriber>>,
    /// The transaction being queued holds a command a WRITE pause holds,
    /// so its EXEC waits for the pause too (see `node::pause`).
    pub multi_writes: bool,
    /// The client's address, for SLOWLOG entries.
    pub peer: Option<std::net::SocketAddr>,
    /// The soft output-buffer limit's clock (see `node::climits`).
    pub out_check: super::climits::OutputCheck,
    /// The listener it came in on (cluster mode's redirections differ).
    pub port: super::routing::Entry,
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
            last_cmd: None,
            active_ms: 0,
            subs: None,
            multi_writes: false,
            peer: None,
            out_check: super::climits::OutputCheck::default(),
            port: super::routing::Entry::Main,
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
pub fn line_args<'a>(op: LineOp, args: &[&'a [u8]]) -> smallvec::SmallVec<[&'a [u8]; 8]> {
    let name: &'static [u8] = match op {
        LineOp::Get => b"get",
        LineOp::Del => b"del",
        LineOp::Set => b"set",
        LineOp::Ping => b"ping",
    };
    let mut v = smallvec::SmallVec::new();
    v.push(name);
    v.extend_from_slice(args);
    v
}

/// A bool setting as Redis shows it.
fn yes_no(on: bool) -> &'static str {
    if on {
        "yes"
    } else {
        "no"
    }
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
            (
                "maxmemory",
                sh.maxmemory.load(Ordering::Relaxed).to_string(),
            ),
            (
                "timeout",
                sh.timeout_secs.load(Ordering::Relaxed).to_string(),
            ),
            ("maxmemory-policy", cfg.policy_name().to_string()),
            (
                "protected-mode",
                yes_no(sh.protected_mode.load(Ordering::Relaxed)).to_string(),
            ),
            ("port", sh.addr.port().to_string()),
            ("bind", sh.addr.ip().to_string()),
            (
                "proto-max-bulk-len",
                sh.max_bulk.load(Ordering::Relaxed).to_string(),
            ),
            (
                "requirepass",
                String::from_utf8_lossy(&sh.password().unwrap_or_default()).into_owned(),
            ),
            // Redis's defaults for the classes the node does not have.
            ("client-output-buffer-limit", sh.output_limits.to_string()),
            (
                "client-query-buffer-limit",
                sh.client_mem
                    .query_limit
                    .load(Ordering::Relaxed)
                    .to_string(),
            ),
            ("maxmemory-clients", sh.client_mem.setting().to_string()),
            (
                "slowlog-max-len",
                sh.slowlog.max_len.load(Ordering::Relaxed).to_string(),
            ),
            (
                "slowlog-log-slower-than",
                sh.slowlog.slower_than.load(Ordering::Relaxed).to_string(),
            ),
        ]
        .into_iter()
        .chain(settings::encoding_settings(&sh.encodings()))
        .collect()
    }

    /// What the node can change while it runs: see `node::settings`. As
    /// Redis, all pairs apply or none: first every name is checked (unknown,
    /// not changeable here, given twice), then every value, and only then
    /// is anything changed.
    fn configure(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), ConfigError> {
        let all = self.settings();
        for (i, (name, _)) in pairs.iter().enumerate() {
            let shown = crate::cmd::error::show(name);
            if !settings::is_live(name) {
                let known = all
                    .iter()
                    .any(|(k, _)| k.as_bytes().eq_ignore_ascii_case(name));
                return Err(if known {
                    ConfigError::Fixed(shown)
                } else {
                    ConfigError::Unknown(shown)
                });
            }
            if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(ConfigError::Invalid {
                    name: shown,
                    why: "duplicate parameter".into(),
                });
            }
        }
        let mut changes = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if let Some(change) = settings::check(name, value, self.shared.maxclients.cap)? {
                changes.push(change);
            }
        }
        for change in changes {
            self.apply(change);
        }
        Ok(())
    }

    fn pause(&self, ms: u64, mode: PauseMode) {
        let now = self.now();
        self.shared
            .pause
            .extend(now.saturating_add(ms), mode == PauseMode::All, now);
    }

    fn unpause(&self) {
        self.shared.pause.clear();
        self.paused.wake_all();
        for peer in (0..self.n).filter(|&p| p != self.id) {
            let _ = self.mesh.send_to(peer, Hop::Unpause);
        }
    }

    fn unix_us(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    }

    fn reset_stats(&self) {
        // The other cores zero theirs when they take the hop; a later
        // INFO from this core reaches them over the same ordered channel,
        // after it, so it never sees their old figures.
        self.reset_stats();
        for peer in (0..self.n).filter(|&p| p != self.id) {
            let _ = self.mesh.send_to(peer, Hop::ResetStats);
        }
    }

    fn shutdown(&self) {
        log::warn!("SHUTDOWN from a client: stopping");
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn slowlog_get(&self, count: usize) -> Vec<crate::cmd::slowlog::Entry> {
        self.slow_log().newest(count)
    }

    fn slowlog_len(&self) -> usize {
        self.slow_log().len()
    }

    fn slowlog_reset(&self) {
        self.slow_log().reset();
    }

    fn nodestat(&self, probe: Option<(&[u8], &[u8])>) -> Result<String, String> {
        let stats = format!(
            "clients={} maxclients={} cores={} uptime_ms={}",
            self.clients(),
            self.shared.maxclients,
            self.n,
            self.now()
        );
        let Some((nonce, addr)) = probe else {
            return Ok(stats);
        };
        let args = &self.shared.cfg.args;
        crate::secret::answer_probe(
            args.cluster_secret_file.as_ref(),
            stats,
            nonce,
            addr,
            self.shared.addr,
            args.advertise.as_ref(),
        )
    }

    fn cluster(
        &self,
        f: &mut dyn FnMut(&crate::cluster::SlotMap, crate::cluster::reply::Viewer),
    ) -> bool {
        let Some(c) = &self.cluster else {
            return false;
        };
        let view = c.view();
        let viewer = crate::cluster::reply::Viewer {
            myself: view.mine.get(self.id).copied().flatten(),
            serving: c.shared.serving(self.now()),
        };
        f(&view.map, viewer);
        true
    }
}

impl Core {
    fn slow_log(&self) -> std::sync::MutexGuard<'_, crate::cmd::slowlog::SlowLog> {
        self.shared
            .slow_log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Apply one checked CONFIG SET change here and on every other core.
    fn apply(&self, change: Change) {
        let sh = &self.shared;
        let others = (0..self.n).filter(|&p| p != self.id);
        match change {
            Change::Password(p) => sh.set_password(p),
            Change::Timeout(t) => sh.timeout_secs.store(t, Ordering::Relaxed),
            // Applies from the next connection on; open ones stay.
            Change::Protected(on) => sh.protected_mode.store(on, Ordering::Relaxed),
            Change::Maxclients(n) => sh.maxclients.set(n),
            // Requests already being read keep the limit they started with.
            Change::MaxBulk(n) => sh.max_bulk.store(n, Ordering::Relaxed),
            Change::OutputLimits(classes) => sh.output_limits.set(&classes),
            // Both apply at each client's next buffer change (as in Redis,
            // where they apply at the next read or cron).
            Change::QueryLimit(n) => sh.client_mem.query_limit.store(n, Ordering::Relaxed),
            Change::ClientsLimit(l) => sh.client_mem.set(l),
            Change::SlowerThan(us) => sh.slowlog.slower_than.store(us, Ordering::Relaxed),
            // A shorter log is cut at its next entry, as in Redis.
            Change::SlowlogLen(n) => sh.slowlog.max_len.store(n, Ordering::Relaxed),
            Change::Maxmemory(bytes) => {
                sh.maxmemory.store(bytes, Ordering::Relaxed);
                self.set_maxmemory(bytes);
                for peer in others {
                    let _ = self.mesh.send_to(peer, Hop::Maxmemory(bytes));
                }
            }
            Change::Encoding(knob, n) => {
                let e = {
                    let mut e = sh
                        .encodings
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    knob.apply(&mut e, n);
                    *e
                };
                self.shard.borrow_mut().set_encodings(e);
                for peer in others {
                    let _ = self.mesh.send_to(peer, Hop::Encodings(e));
                }
            }
            Change::Policy(policy) => {
                sh.cfg.policy.set(policy);
                self.shard.borrow_mut().set_eviction(policy);
                for peer in others {
                    let _ = self.mesh.send_to(peer, Hop::Eviction(policy));
                }
            }
        }
    }
}
