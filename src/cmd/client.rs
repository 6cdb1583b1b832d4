//! What connection commands (HELLO, AUTH, CLIENT, CONFIG …) work with: the
//! connection's own state, and the server behind a small trait, so their
//! handlers live in this layer and the node only implements [`Server`].

use crate::proto::Proto;

/// One connection's state that commands read and change.
#[derive(Debug)]
pub struct Client {
    /// CLIENT ID.
    pub id: u64,
    /// CLIENT SETNAME / HELLO SETNAME.
    pub name: Option<Vec<u8>>,
    /// How replies are encoded: RESP2 until `HELLO 3`, the line protocol
    /// for a connection that speaks it.
    pub proto: Proto,
    /// Whether the client may run commands: always without a password,
    /// after AUTH (or HELLO … AUTH) with one.
    pub authenticated: bool,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Vec<u8>>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Vec<u8>>,
    /// CLIENT REPLY: which replies are dropped.
    pub reply: ReplyMode,
    /// CLIENT NO-EVICT on: client eviction passes this client over.
    pub no_evict: bool,
    /// Cluster mode: ASKING was sent, so the next command may use a slot
    /// moving into this node.
    pub asking: bool,
}

impl Client {
    /// A new connection's state; it starts authenticated unless a password
    /// is set.
    pub fn new(id: u64, authenticated: bool) -> Self {
        Client {
            id,
            name: None,
            proto: Proto::Resp2,
            authenticated,
            lib_name: None,
            lib_ver: None,
            reply: ReplyMode::default(),
            no_evict: false,
            asking: false,
        }
    }
}

/// CLIENT REPLY's state, as Redis's three client flags: `OFF` drops every
/// reply, `SKIP` drops the next command's. The default (all false) is `ON`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyMode {
    /// CLIENT REPLY OFF is in force.
    pub off: bool,
    /// The command being run is the one a SKIP named: its reply is dropped.
    pub skip: bool,
    /// CLIENT REPLY SKIP ran: the next command's reply is dropped.
    pub skip_next: bool,
}

impl ReplyMode {
    /// True unless every reply is sent (the common case, checked per
    /// command).
    #[inline]
    pub fn quiet(self) -> bool {
        self != ReplyMode::default()
    }

    /// A new command begins: a SKIP that ran before it now applies to it,
    /// and one that applied to the command before is used up (Redis's
    /// `resetClient`, done here at the next command instead of after each).
    pub fn next_command(&mut self) {
        self.skip = std::mem::take(&mut self.skip_next);
    }

    /// Whether the reply of the command just run is dropped.
    pub fn drops(self) -> bool {
        self.off || self.skip
    }
}

/// CLIENT PAUSE's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseMode {
    /// Only commands that may write wait.
    Write,
    /// Every command waits.
    All,
}

/// A failed `CONFIG SET`, with Redis's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No such setting.
    #[error("ERR Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    /// A setting this node has but cannot change while it runs.
    #[error("ERR CONFIG SET {0} is not supported by this node (yet)")]
    Fixed(String),
    /// A value the setting does not take.
    #[error("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")]
    Invalid {
        /// The setting.
        name: String,
        /// Why, as Redis words it.
        why: String,
    },
}

/// The server, as connection commands see it.
pub trait Server {
    /// The password clients must AUTH with, if any.
    fn password(&self) -> Option<Vec<u8>>;
    /// Every setting CONFIG GET shows, with its value now.
    fn settings(&self) -> Vec<(&'static str, String)>;
    /// Change settings, all or none (CONFIG SET).
    ///
    /// # Errors
    /// The first pair that cannot be applied.
    fn configure(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), ConfigError>;
    /// Unix time now, in microseconds (TIME).
    fn unix_us(&self) -> u64;
    /// NODESTAT's line: the LB's cheap load probe. With `probe` (the LB's
    /// nonce and the address it probes) the line ends in a MAC that proves
    /// the node holds the cluster secret.
    ///
    /// # Errors
    /// The error reply's text (e.g. the address is not this node's).
    fn nodestat(&self, probe: Option<(&[u8], &[u8])>) -> Result<String, String>;
    /// Zero the statistics on every core (CONFIG RESETSTAT).
    fn reset_stats(&self);
    /// Begin a clean stop (SHUTDOWN).
    fn shutdown(&self);
    /// SLOWLOG GET: up to `count` entries, newest first. A server that
    /// keeps no slow log has none.
    fn slowlog_get(&self, _count: usize) -> Vec<super::slowlog::Entry> {
        Vec::new()
    }
    /// SLOWLOG LEN: entries held.
    fn slowlog_len(&self) -> usize {
        0
    }
    /// SLOWLOG RESET: drop every entry.
    fn slowlog_reset(&self) {}
    /// Unix time now, in milliseconds (CLIENT PAUSE's deadline).
    fn unix_ms(&self) -> u64 {
        self.unix_us() / 1000
    }
    /// Hold clients' commands for `ms` milliseconds (CLIENT PAUSE); a
    /// pause in force is only extended and widened, never shortened.
    fn pause(&self, ms: u64, mode: PauseMode);
    /// End any pause at once (CLIENT UNPAUSE).
    fn unpause(&self);
    /// Cluster mode: call `f` with the slot map this core follows and its
    /// place in it; false (and no call) outside cluster mode.
    fn cluster(
        &self,
        _f: &mut dyn FnMut(&crate::cluster::SlotMap, crate::cluster::reply::Viewer),
    ) -> bool {
        false
    }
}

/// A connection command's view: the connection and the server.
pub struct Conn<'a> {
    /// The connection.
    pub client: &'a mut Client,
    /// The server.
    pub server: &'a dyn Server,
}
