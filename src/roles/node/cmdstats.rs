//! Per-command statistics (INFO commandstats) and the hot-path half of
//! the slow log: one core's counters, indexed by the command's table id,
//! and the clock that times each command.
//!
//! A command costs two reads of the TSC (`quanta`'s raw counter, ~20
//! cycles each, no syscall), one multiply-shift to nanoseconds, two reads
//! of this thread's error tally, and adds to plain cells of this core's
//! own row. Nothing here is shared with another core except the slow-log
//! threshold, a relaxed atomic load of a value only CONFIG SET writes.

use super::core::Core;
use super::session::Session;
use crate::cmd::slowlog::Draft;
use crate::cmd::{table, Flags, Id, Spec};
use crate::proto::errors;
use serde::Serialize;
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One command's counters on one core.
#[derive(Default)]
pub struct CmdStat {
    /// Runs (Redis's `calls`).
    pub calls: Cell<u64>,
    /// Time spent running it, in nanoseconds.
    pub nanos: Cell<u64>,
    /// Refused before running: arity, NOAUTH, a subscribed context.
    pub rejected: Cell<u64>,
    /// Ran and replied an error.
    pub failed: Cell<u64>,
}

/// One command's counters as a snapshot carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Runs.
    pub calls: u64,
    /// Nanoseconds spent running.
    pub nanos: u64,
    /// Refused before running.
    pub rejected: u64,
    /// Ran and replied an error.
    pub failed: u64,
}

impl Counts {
    /// Add `other` to these.
    pub fn add(&mut self, other: &Counts) {
        self.calls += other.calls;
        self.nanos += other.nanos;
        self.rejected += other.rejected;
        self.failed += other.failed;
    }
}

/// A command's start, from [`Stats::start`].
#[derive(Clone, Copy, Debug)]
pub struct Started {
    tsc: u64,
    errors: u64,
}

/// One core's per-command counters and clock.
pub struct Stats {
    rows: Box<[CmdStat]>,
    clock: quanta::Clock,
    /// The error tally when the last command on this core ended: errors
    /// written before it belong to that command (or to no command), so a
    /// command that holds others (EXEC) fails only on errors of its own,
    /// as Redis's `incrCommandStatsOnError` counts.
    mark: Cell<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            rows: (0..table::count()).map(|_| CmdStat::default()).collect(),
            clock: quanta::Clock::new(),
            mark: Cell::new(0),
        }
    }
}

impl Stats {
    /// Count one run of command `id`.
    #[inline]
    pub fn call(&self, id: Id) {
        let c = &self.rows[id as usize].calls;
        c.set(c.get() + 1);
    }

    /// A refused request: counted against the row it names, if any, and
    /// its error is nobody's failure.
    pub fn reject(&self, id: Option<Id>) {
        if let Some(id) = id {
            let c = &self.rows[id as usize].rejected;
            c.set(c.get() + 1);
        }
        self.mark.set(errors::total());
    }

    /// Take the time before a command runs.
    #[inline]
    pub fn start(&self) -> Started {
        Started {
            tsc: self.clock.raw(),
            errors: errors::total(),
        }
    }

    /// A command `id` that began at `s` has ended: add its time, and a
    /// failure if it wrote an error reply of its own. Returns how long it
    /// ran, in nanoseconds.
    #[inline]
    pub fn finish(&self, id: Id, s: Started) -> u64 {
        let nanos = self.clock.delta_as_nanos(s.tsc, self.clock.raw());
        let row = &self.rows[id as usize];
        row.nanos.set(row.nanos.get() + nanos);
        let now = errors::total();
        if now > s.errors.max(self.mark.get()) {
            row.failed.set(row.failed.get() + 1);
        }
        self.mark.set(now);
        nanos
    }

    /// Nanoseconds since `s`, without counting them anywhere (a split
    /// command's whole run, whose parts count their own time).
    #[inline]
    pub fn elapsed(&self, s: Started) -> u64 {
        self.clock.delta_as_nanos(s.tsc, self.clock.raw())
    }

    /// Every command's counters that are not all zero, by id.
    pub fn counts(&self) -> Vec<(Id, Counts)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let c = Counts {
                    calls: r.calls.get(),
                    nanos: r.nanos.get(),
                    rejected: r.rejected.get(),
                    failed: r.failed.get(),
                };
                (i as Id, c)
            })
            .filter(|(_, c)| *c != Counts::default())
            .collect()
    }

    /// Zero every counter (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for r in self.rows.iter() {
            for c in [&r.calls, &r.nanos, &r.rejected, &r.failed] {
                c.set(0);
            }
        }
        self.mark.set(errors::total());
    }
}

/// The slow log's settings, read by every core on every command.
pub struct SlowSettings {
    /// `slowlog-log-slower-than` in µs: -1 logs nothing, 0 everything.
    pub slower_than: AtomicI64,
    /// `slowlog-max-len`: entries kept.
    pub max_len: AtomicU64,
}

impl SlowSettings {
    /// Redis's defaults unless given: 10000 µs and 128 entries.
    pub fn new(slower_than: i64, max_len: u64) -> Self {
        SlowSettings {
            slower_than: AtomicI64::new(slower_than),
            max_len: AtomicU64::new(max_len),
        }
    }

    /// Whether a command `spec` with `args` that ran `nanos` is logged, and
    /// then its entry (arguments copied only then). Redis compares whole
    /// microseconds, and leaves out commands flagged `skip_slowlog` (EXEC,
    /// whose commands are logged one by one instead).
    #[inline]
    pub fn check(&self, spec: &Spec, args: &[&[u8]], nanos: u64) -> Option<Draft> {
        let limit = self.slower_than.load(Ordering::Relaxed);
        let micros = nanos / 1000;
        if limit < 0 || micros < limit as u64 || spec.flags.has(Flags::SKIP_SLOWLOG) {
            return None;
        }
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(Draft::new(args, micros, unix))
    }
}

/// Complete the slow-log entries of `sess`'s commands with its address
/// and name, and add them to the node's log (emptying `drafts`).
pub fn log(core: &Core, sess: &Session, drafts: &mut Vec<Draft>) {
    if drafts.is_empty() {
        return;
    }
    let sh = &core.shared;
    let max_len = sh.slowlog.max_len.load(Ordering::Relaxed) as usize;
    let addr = sess.peer.map(|a| a.to_string()).unwrap_or_default();
    let name = sess.client.name.clone().unwrap_or_default();
    let mut log = sh
        .slow_log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for d in drafts.drain(..) {
        log.push(d, addr.clone(), name.clone(), max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_timed_and_fails_only_on_its_own_errors() {
        let stats = Stats::default();
        let (get, _) = table::lookup(b"get").unwrap();
        let (exec, _) = table::lookup(b"exec").unwrap();
        stats.call(get);
        let s = stats.start();
        stats.finish(get, s);
        // An error written outside any command (an unknown command) is
        // not the next command's failure.
        crate::proto::errors::count(b"ERR unknown command");
        stats.reject(None);
        let outer = stats.start();
        let inner = stats.start();
        crate::proto::errors::count(b"WRONGTYPE x");
        stats.finish(get, inner);
        stats.finish(exec, outer);
        let counts: std::collections::HashMap<Id, Counts> = stats.counts().into_iter().collect();
        assert_eq!((counts[&get].calls, counts[&get].failed), (1, 1));
        assert_eq!(counts[&exec].failed, 0, "EXEC fails only on its own errors");
        stats.reject(Some(get));
        assert_eq!(stats.counts()[0].1.rejected, 1);
        stats.reset();
        assert!(stats.counts().is_empty());
    }

    #[test]
    fn threshold_and_skip_flag() {
        let (_, get) = table::lookup(b"get").unwrap();
        let (_, exec) = table::lookup(b"exec").unwrap();
        let s = SlowSettings::new(10, 128);
        assert!(s.check(get, &[b"get", b"k"], 9_999).is_none());
        let d = s.check(get, &[b"get", b"k"], 10_000).unwrap();
        assert_eq!(d.micros, 10);
        assert!(s.check(exec, &[b"exec"], 1_000_000).is_none());
        s.slower_than.store(-1, Ordering::Relaxed);
        assert!(s.check(get, &[b"get"], u64::MAX).is_none());
        s.slower_than.store(0, Ordering::Relaxed);
        assert!(s.check(get, &[b"get"], 0).is_some());
    }
}
