//! The settings CONFIG SET can change while the node runs: each value is
//! checked with Redis 7.0.15's rules and error texts first ([`check`]),
//! and only once every pair of a CONFIG SET has passed are they applied.

use super::pubsub::OutputLimit;
use crate::cmd::client::ConfigError;
use crate::store::Eviction;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Redis's eviction policies, in the order its CONFIG SET error lists them.
pub const POLICIES: [&str; 8] = [
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// The settings [`check`] takes.
const LIVE: [&str; 21] = [
    "requirepass",
    "protected-mode",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "hash-max-ziplist-entries",
    "hash-max-ziplist-value",
    "zset-max-ziplist-entries",
    "zset-max-ziplist-value",
    "client-output-buffer-limit",
    "client-query-buffer-limit",
    "maxmemory-clients",
    "proto-max-bulk-len",
    "timeout",
    "maxclients",
    "maxmemory",
    "maxmemory-policy",
    "slowlog-log-slower-than",
    "slowlog-max-len",
];

/// Whether CONFIG SET can change setting `name` while the node runs.
pub fn is_live(name: &[u8]) -> bool {
    LIVE.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(name))
}

/// One checked CONFIG SET pair, ready to apply.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// requirepass (`None`: no password).
    Password(Option<Vec<u8>>),
    /// timeout, in seconds.
    Timeout(u64),
    /// protected-mode.
    Protected(bool),
    /// maxmemory, in bytes for the whole node.
    Maxmemory(usize),
    /// maxmemory-policy.
    Policy(Eviction),
    /// maxclients.
    Maxclients(usize),
    /// slowlog-log-slower-than, in µs (-1: log nothing).
    SlowerThan(i64),
    /// slowlog-max-len.
    SlowlogLen(u64),
    /// proto-max-bulk-len, in bytes.
    MaxBulk(usize),
    /// client-output-buffer-limit: each class named, with its new limit.
    OutputLimits(Vec<(Class, OutputLimit)>),
    /// client-query-buffer-limit, in bytes.
    QueryLimit(usize),
    /// maxmemory-clients.
    ClientsLimit(super::climits::ClientsLimit),
    /// One of the compact-encoding sizes, with its new value.
    Encoding(Knob, usize),
}

/// The compact-encoding settings (`store::Encodings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// hash-max-listpack-entries
    HashEntries,
    /// hash-max-listpack-value
    HashValue,
    /// set-max-intset-entries
    SetIntsetEntries,
    /// zset-max-listpack-entries
    ZsetEntries,
    /// zset-max-listpack-value
    ZsetValue,
}

impl Knob {
    /// Set this knob of `e` to `n`.
    pub fn apply(self, e: &mut crate::store::Encodings, n: usize) {
        match self {
            Knob::HashEntries => e.hash_entries = n,
            Knob::HashValue => e.hash_value = n,
            Knob::SetIntsetEntries => e.set_intset_entries = n,
            Knob::ZsetEntries => e.zset_entries = n,
            Knob::ZsetValue => e.zset_value = n,
        }
    }
}

/// CONFIG GET's pairs for the compact-encoding sizes in force, with the
/// old `ziplist` names Redis 7.0 still answers to (and lists).
pub fn encoding_settings(e: &crate::store::Encodings) -> [(&'static str, String); 9] {
    [
        ("hash-max-listpack-entries", e.hash_entries.to_string()),
        ("hash-max-ziplist-entries", e.hash_entries.to_string()),
        ("hash-max-listpack-value", e.hash_value.to_string()),
        ("hash-max-ziplist-value", e.hash_value.to_string()),
        ("set-max-intset-entries", e.set_intset_entries.to_string()),
        ("zset-max-listpack-entries", e.zset_entries.to_string()),
        ("zset-max-ziplist-entries", e.zset_entries.to_string()),
        ("zset-max-listpack-value", e.zset_value.to_string()),
        ("zset-max-ziplist-value", e.zset_value.to_string()),
    ]
}

/// Check one CONFIG SET pair. `cap` is the most clients the open-file
/// limit allows. `Ok(None)`: the name is not one the node changes live
/// (not [`is_live`]).
///
/// # Errors
/// A value the setting does not take, with Redis's text.
pub fn check(name: &[u8], value: &[u8], cap: usize) -> Result<Option<Change>, ConfigError> {
    let invalid = |why: String| ConfigError::Invalid {
        name: crate::cmd::error::show(name),
        why,
    };
    let change = match name.to_ascii_lowercase().as_slice() {
        // An empty password turns authentication off, as in Redis.
        b"requirepass" => Change::Password((!value.is_empty()).then(|| value.to_vec())),
        b"timeout" => Change::Timeout(int_in(value, 0, i64::from(i32::MAX)).map_err(invalid)?),
        // Redis's bool configs take yes or no in any case, nothing else.
        b"protected-mode" => match value.to_ascii_lowercase().as_slice() {
            b"yes" => Change::Protected(true),
            b"no" => Change::Protected(false),
            _ => return Err(invalid("argument must be 'yes' or 'no'".into())),
        },
        b"maxclients" => {
            let n = int_in(value, 1, i64::from(u32::MAX)).map_err(invalid)? as usize;
            if n > cap {
                return Err(invalid(format!(
                    "The operating system is not able to handle the specified number of \
                     clients, try with {cap}"
                )));
            }
            Change::Maxclients(n)
        }
        // An unsigned setting in Redis: every memory value is in range.
        b"maxmemory" => match crate::units::redis_memory(value) {
            Some(n) => Change::Maxmemory(usize::try_from(n).unwrap_or(usize::MAX)),
            None => return Err(invalid("argument must be a memory value".into())),
        },
        // Counts are integers and byte sizes memory values, 0 to LONG_MAX,
        // as Redis's size_t configs.
        b"hash-max-listpack-entries" | b"hash-max-ziplist-entries" => Change::Encoding(
            Knob::HashEntries,
            int_in(value, 0, i64::MAX).map_err(invalid)? as usize,
        ),
        b"set-max-intset-entries" => Change::Encoding(
            Knob::SetIntsetEntries,
            int_in(value, 0, i64::MAX).map_err(invalid)? as usize,
        ),
        b"zset-max-listpack-entries" | b"zset-max-ziplist-entries" => Change::Encoding(
            Knob::ZsetEntries,
            int_in(value, 0, i64::MAX).map_err(invalid)? as usize,
        ),
        b"hash-max-listpack-value" | b"hash-max-ziplist-value" => {
            Change::Encoding(Knob::HashValue, memory_in(value, 0).map_err(invalid)?)
        }
        b"zset-max-listpack-value" | b"zset-max-ziplist-value" => {
            Change::Encoding(Knob::ZsetValue, memory_in(value, 0).map_err(invalid)?)
        }
        b"proto-max-bulk-len" => Change::MaxBulk(memory_in(value, 1 << 20).map_err(invalid)?),
        b"client-query-buffer-limit" => {
            Change::QueryLimit(memory_in(value, 1 << 20).map_err(invalid)?)
        }
        b"maxmemory-clients" => {
            Change::ClientsLimit(super::climits::parse_clients_limit(value).map_err(invalid)?)
        }
        b"client-output-buffer-limit" => {
            Change::OutputLimits(output_limits(value).map_err(|e| invalid(e.into()))?)
        }
        b"maxmemory-policy" => {
            let word = value.to_ascii_lowercase();
            match word.as_slice() {
                b"allkeys-lru" => Change::Policy(Eviction::Lru),
                b"noeviction" => Change::Policy(Eviction::NoEviction),
                w if POLICIES.iter().any(|p| p.as_bytes() == w) => {
                    return Err(invalid(format!(
                        "this node supports only the allkeys-lru and noeviction policies, not {}",
                        String::from_utf8_lossy(w)
                    )))
                }
                _ => {
                    return Err(invalid(format!(
                        "argument(s) must be one of the following: {}",
                        POLICIES.join(", ")
                    )))
                }
            }
        }
        // `int_in` hands -1 back as u64::MAX; `as i64` restores it.
        b"slowlog-log-slower-than" => {
            Change::SlowerThan(int_in(value, -1, i64::MAX).map_err(invalid)? as i64)
        }
        b"slowlog-max-len" => Change::SlowlogLen(int_in(value, 0, i64::MAX).map_err(invalid)?),
        _ => return Ok(None),
    };
    Ok(Some(change))
}

/// A signed memory setting's value, at least `min`, read as Redis's
/// `memtoull` does (see [`crate::units::redis_memory`]) and then taken as a
/// `long long` (so a saturated 2^64 - 1 is -1, out of range), or Redis's
/// reason why not.
fn memory_in(value: &[u8], min: i64) -> Result<usize, String> {
    match crate::units::redis_memory(value).map(|n| n as i64) {
        None => Err("argument must be a memory value".into()),
        Some(n) if n < min => Err(format!(
            "argument must be between {min} and {} inclusive",
            i64::MAX
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

/// The client classes of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Ordinary clients: checked before each write (see `conn::send`).
    Normal,
    /// Replicas (`slave` or `replica`): the node has none; the limit is
    /// kept and shown, as Redis does.
    Replica,
    /// Subscribers: applied live to every one (see `pubsub::LiveLimit`).
    Pubsub,
}

/// Classes with their limits, as one `client-output-buffer-limit` value
/// sets them (a newtype, so clap takes the flag as one value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassLimits(pub Vec<(Class, OutputLimit)>);

/// Parse a `client-output-buffer-limit` value as Redis's
/// `setConfigClientOutputBufferLimitOption` does: `<class> <hard> <soft>
/// <soft-seconds>` groups separated by single spaces, sizes as memory
/// values, seconds a non-negative integer; empty is no change.
pub fn output_limits(value: &[u8]) -> Result<Vec<(Class, OutputLimit)>, &'static str> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let words: Vec<&[u8]> = value.split(|&b| b == b' ').collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.");
    }
    let mut out = Vec::with_capacity(words.len() / 4);
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_slice() {
            b"normal" => Class::Normal,
            b"slave" | b"replica" => Class::Replica,
            b"pubsub" => Class::Pubsub,
            _ => return Err("Invalid client class specified in buffer limit configuration."),
        };
        let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let size = |w: &[u8]| crate::units::redis_memory(w).map(|n| n as usize).ok_or(bad);
        let limit = OutputLimit {
            hard: size(group[1])?,
            soft: size(group[2])?,
            soft_secs: seconds(group[3]).ok_or(bad)?,
        };
        out.push((class, limit));
    }
    Ok(out)
}

/// Soft seconds as Redis reads them (`strtoll` to the end): an optional
/// sign and digits, empty meaning 0; negative is refused.
fn seconds(w: &[u8]) -> Option<u64> {
    let digits = w.strip_prefix(b"+").unwrap_or(w);
    if digits == b"-0" {
        return Some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// The `client-output-buffer-limit` classes in force.
#[derive(Debug)]
pub struct OutputLimits {
    /// Every normal client's, read before a write of more than
    /// `climits::REPLY_BUF` bytes.
    pub normal: super::pubsub::LiveLimit,
    /// Replies a read gathers before it waits for them to be written: see
    /// [`pause`](Self::pause).
    pause: AtomicUsize,
    /// Every subscriber holds this one (see `pubsub::Mailbox`).
    pub pubsub: std::sync::Arc<super::pubsub::LiveLimit>,
    replica: super::pubsub::LiveLimit,
}

impl OutputLimits {
    /// Redis's replica default, and `pubsub` for subscribers; normal
    /// clients start with none, as in Redis.
    pub fn new(pubsub: OutputLimit) -> Self {
        OutputLimits {
            normal: super::pubsub::LiveLimit::default(),
            pause: AtomicUsize::new(OUT_PAUSE),
            pubsub: pubsub.into(),
            replica: super::pubsub::LiveLimit::new(OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_secs: 60,
            }),
        }
    }

    /// Apply checked classes.
    pub fn set(&self, classes: &[(Class, OutputLimit)]) {
        for &(class, limit) in classes {
            match class {
                Class::Normal => {
                    self.normal.set(limit);
                    let most = limit.hard.max(limit.soft);
                    let pause = most.saturating_add(super::climits::REPLY_BUF);
                    self.pause.store(pause.max(OUT_PAUSE), Ordering::Relaxed);
                }
                Class::Replica => self.replica.set(limit),
                Class::Pubsub => self.pubsub.set(limit),
            }
        }
    }
}

/// The least output a read gathers before the rest of its requests wait for
/// it to be written. So a pipeline of big replies (GETs of big values) that
/// the client never reads costs this much plus one reply, not one reply per
/// request its read buffer holds, whatever the limits.
const OUT_PAUSE: usize = 1 << 20;

impl OutputLimits {
    /// Replies one read may gather on the client's core before the rest of
    /// its requests wait (`pipeline::process`): [`OUT_PAUSE`], or enough to
    /// reach the normal class's hard or soft limit, so that a client that
    /// stops reading meets its limit as in Redis, where replies to later
    /// requests keep piling up. Read once per read.
    #[inline]
    pub fn pause(&self) -> usize {
        self.pause.load(Ordering::Relaxed)
    }
}

impl std::fmt::Display for OutputLimits {
    /// As Redis's CONFIG GET shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, r, p) = (self.normal.get(), self.replica.get(), self.pubsub.get());
        write!(
            f,
            "normal {} {} {} slave {} {} {} pubsub {} {} {}",
            n.hard, n.soft, n.soft_secs, r.hard, r.soft, r.soft_secs, p.hard, p.soft, p.soft_secs
        )
    }
}

/// An integer setting's value within `min..=max`, or Redis's reason why not.
fn int_in(value: &[u8], min: i64, max: i64) -> Result<u64, String> {
    match crate::store::parse_i64(value) {
        None => Err("argument couldn't be parsed into an integer".into()),
        Some(n) if !(min..=max).contains(&n) => Err(format!(
            "argument must be between {min} and {max} inclusive"
        )),
        Some(n) => Ok(n as u64),
    }
}

/// Redis's name for an eviction policy.
pub fn policy_name(e: Eviction) -> &'static str {
    match e {
        Eviction::Lru => "allkeys-lru",
        Eviction::NoEviction => "noeviction",
    }
}

/// The eviction policy in force, changed by CONFIG SET maxmemory-policy
/// (each core's shard learns it with a `Hop::Eviction`).
#[derive(Debug)]
pub struct LivePolicy(AtomicU8);

impl LivePolicy {
    /// Starting with `e`.
    pub fn new(e: Eviction) -> Self {
        LivePolicy(AtomicU8::new(u8::from(e == Eviction::Lru)))
    }

    /// The policy now.
    pub fn get(&self) -> Eviction {
        match self.0.load(Ordering::Relaxed) {
            0 => Eviction::NoEviction,
            _ => Eviction::Lru,
        }
    }

    /// Record a new policy.
    pub fn set(&self, e: Eviction) {
        self.0
            .store(u8::from(e == Eviction::Lru), Ordering::Relaxed);
    }
}

impl Clone for LivePolicy {
    fn clone(&self) -> Self {
        LivePolicy::new(self.get())
    }
}

/// The client cap (maxclients), changed by CONFIG SET and read on every
/// accept. It compares with a plain count (`open >= maxclients`), prints
/// and serializes as the number, so readers need not know it is live.
#[derive(Debug)]
pub struct MaxClients {
    now: AtomicUsize,
    /// What the open-file limit allows; CONFIG SET refuses more.
    pub cap: usize,
}

impl MaxClients {
    /// `n` clients, at most `cap`.
    pub fn new(n: usize, cap: usize) -> Self {
        MaxClients {
            now: AtomicUsize::new(n),
            cap,
        }
    }

    /// The cap now.
    pub fn get(&self) -> usize {
        self.now.load(Ordering::Relaxed)
    }

    /// A new cap: connections already open stay, as in Redis.
    pub fn set(&self, n: usize) {
        self.now.store(n, Ordering::Relaxed);
    }
}

impl std::fmt::Display for MaxClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl serde::Serialize for MaxClients {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.get() as u64)
    }
}

impl PartialEq<MaxClients> for usize {
    fn eq(&self, other: &MaxClients) -> bool {
        *self == other.get()
    }
}

impl PartialOrd<MaxClients> for usize {
    fn partial_cmp(&self, other: &MaxClients) -> Option<std::cmp::Ordering> {
        self.partial_cmp(&other.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(name: &str, value: &str) -> String {
        check(name.as_bytes(), value.as_bytes(), 1000)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn values_are_checked_with_redis_texts() {
        let prefix =
            |n: &str| format!("ERR CONFIG SET failed (possibly related to argument '{n}') - ");
        assert_eq!(
            why("maxmemory-policy", "foo"),
            prefix("maxmemory-policy")
                + "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
                   volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, \
                   noeviction"
        );
        assert!(why("maxmemory-policy", "VOLATILE-TTL").contains("supports only"));
        assert_eq!(
            why("maxclients", "0"),
            prefix("maxclients") + "argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            why("MAXCLIENTS", "x"),
            prefix("MAXCLIENTS") + "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            why("maxclients", "1001"),
            prefix("maxclients")
                + "The operating system is not able to handle the specified number of clients, \
                   try with 1000"
        );
        assert_eq!(
            why("timeout", "-1"),
            prefix("timeout") + "argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            why("maxmemory", "lots"),
            prefix("maxmemory") + "argument must be a memory value"
        );
        let ok = |n: &str, v: &str| check(n.as_bytes(), v.as_bytes(), 1000).unwrap();
        assert_eq!(
            ok("maxmemory-policy", "AllKeys-LRU"),
            Some(Change::Policy(Eviction::Lru))
        );
        assert_eq!(ok("maxclients", "1000"), Some(Change::Maxclients(1000)));
        assert_eq!(ok("requirepass", ""), Some(Change::Password(None)));
        assert_eq!(ok("port", "1"), None);
        assert!(is_live(b"MaxMemory-Policy") && !is_live(b"port"));
    }

    #[test]
    fn live_values_read_as_plain_ones() {
        let m = MaxClients::new(10, 100);
        assert!(10 >= m && 9 < m);
        m.set(20);
        assert_eq!(m.to_string(), "20");
        assert_eq!(serde_json::to_string(&m).unwrap(), "20");
        let p = LivePolicy::new(Eviction::NoEviction);
        p.set(Eviction::Lru);
        assert_eq!(policy_name(p.clone().get()), "allkeys-lru");
    }
}
