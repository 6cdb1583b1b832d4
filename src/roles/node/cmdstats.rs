//! Per-command statistics (INFO commandstats) and the hot-path half of
//! the slow log: one core's counters, indexed by the command's table id,
//! and the clock that times each command.
//!
//! A command costs two reads of the TSC (`quanta`'s raw counter, ~20
//! cycles each, no syscall), two reads of this thread's error tally, adds
//! to plain cells of this core's own row, and one compare with the
//! slow-log threshold. Time is summed in raw ticks and scaled to
//! nanoseconds only when INFO asks; a command is scaled on its own only
//! when it may be slow. Nothing here is shared with another core except
//! the threshold, a relaxed atomic load of a value only CONFIG SET writes.

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
    /// Time spent running it, in clock ticks.
    pub ticks: Cell<u64>,
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
    /// Whole clock ticks per microsecond, rounded down: a run shorter than
    /// the threshold in these ticks is surely fast (see [`Stats::slow`]).
    ticks_per_us: u64,
    /// The error tally when the last command on this core ended: errors
    /// written before it belong to that command (or to no command), so a
    /// command that holds others (EXEC) fails only on errors of its own,
    /// as Redis's `incrCommandStatsOnError` counts.
    mark: Cell<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        let clock = quanta::Clock::new();
        const TICKS: u64 = 1 << 40;
        let nanos = clock.delta_as_nanos(0, TICKS).max(1);
        let ticks_per_us = (u128::from(TICKS) * 1000 / u128::from(nanos)).max(1) as u64;
        Stats {
            rows: (0..table::count()).map(|_| CmdStat::default()).collect(),
            clock,
            ticks_per_us,
            mark: Cell::new(0),
        }
    }
}

impl Stats {
    /// Count one run of command `id`.
    #[inline(always)]
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
    #[inline(always)]
    pub fn start(&self) -> Started {
        Started {
            tsc: self.clock.raw(),
            errors: errors::total(),
        }
    }

    /// A command `id` that began at `s` has ended: add `calls` (1 for a
    /// command, 0 for one part of a split command), its time, and a
    /// failure if it wrote an error reply of its own. Returns how long it
    /// ran, in clock ticks.
    #[inline(always)]
    pub fn finish(&self, id: Id, s: Started, calls: u64) -> u64 {
        let ticks = self.elapsed(s);
        let row = &self.rows[id as usize];
        row.calls.set(row.calls.get() + calls);
        row.ticks.set(row.ticks.get() + ticks);
        let now = errors::total();
        if now > s.errors.max(self.mark.get()) {
            row.failed.set(row.failed.get() + 1);
        }
        self.mark.set(now);
        ticks
    }

    /// Clock ticks since `s`, without counting them anywhere (a split
    /// command's whole run, whose parts count their own time).
    #[inline(always)]
    pub fn elapsed(&self, s: Started) -> u64 {
        self.clock.raw().saturating_sub(s.tsc)
    }

    /// The slow-log entry of command `spec` with `args` that ran `ticks`,
    /// if the log takes it: Redis compares whole microseconds with
    /// `slowlog-log-slower-than` and leaves out commands flagged
    /// `skip_slowlog` (EXEC, whose commands are logged one by one
    /// instead). A fast command costs one load and one compare here.
    #[inline(always)]
    pub fn slow(
        &self,
        settings: &SlowSettings,
        spec: &Spec,
        args: &[&[u8]],
        ticks: u64,
    ) -> Option<Draft> {
        let limit = settings.slower_than.load(Ordering::Relaxed);
        if limit < 0 || ticks < (limit as u64).saturating_mul(self.ticks_per_us) {
            return None;
        }
        self.draft(limit as u64, spec, args, ticks)
    }

    #[cold]
    #[inline(never)]
    fn draft(&self, limit: u64, spec: &Spec, args: &[&[u8]], ticks: u64) -> Option<Draft> {
        let micros = self.clock.delta_as_nanos(0, ticks) / 1000;
        if micros < limit || spec.flags.has(Flags::SKIP_SLOWLOG) {
            return None;
        }
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(Draft::new(args, micros, unix))
    }

    /// Every command's counters that are not all zero, by id.
    pub fn counts(&self) -> Vec<(Id, Counts)> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let c = Counts {
                    calls: r.calls.get(),
                    nanos: self.clock.delta_as_nanos(0, r.ticks.get()),
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
            for c in [&r.calls, &r.ticks, &r.rejected, &r.failed] {
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
}

/// Complete the slow-log entries of `sess`'s commands with its address
/// and name, and add them to the node's log (emptying `drafts`). Called
/// per request: the usual empty case is inlined.
#[inline]
pub fn log(core: &Core, sess: &Session, drafts: &mut Vec<Draft>) {
    if !drafts.is_empty() {
        push(core, sess, drafts);
    }
}

#[cold]
#[inline(never)]
fn push(core: &Core, sess: &Session, drafts: &mut Vec<Draft>) {
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
        let s = stats.start();
        stats.finish(get, s, 1);
        // An error written outside any command (an unknown command) is
        // not the next command's failure.
        crate::proto::errors::count(b"ERR unknown command");
        stats.reject(None);
        let outer = stats.start();
        let inner = stats.start();
        crate::proto::errors::count(b"WRONGTYPE x");
        stats.finish(get, inner, 0);
        stats.finish(exec, outer, 1);
        let counts: std::collections::HashMap<Id, Counts> = stats.counts().into_iter().collect();
        assert_eq!((counts[&get].calls, counts[&get].failed), (1, 1));
        assert_eq!(counts[&exec].calls, 1);
        stats.call(exec);
        assert_eq!(stats.counts()[1].1.calls, 2);
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
        let stats = Stats::default();
        // Ticks for `us` microseconds, by this clock's own scale.
        let ticks = |us: u64| {
            let mut t = us * stats.ticks_per_us;
            while stats.clock.delta_as_nanos(0, t) < us * 1000 {
                t += 1;
            }
            t
        };
        let s = SlowSettings::new(10, 128);
        assert!(stats.slow(&s, get, &[b"get", b"k"], ticks(9)).is_none());
        let d = stats.slow(&s, get, &[b"get", b"k"], ticks(10)).unwrap();
        assert_eq!(d.micros, 10);
        assert_eq!(d.argv, [b"get".to_vec(), b"k".to_vec()]);
        assert!(stats.slow(&s, exec, &[b"exec"], ticks(1000)).is_none());
        s.slower_than.store(-1, Ordering::Relaxed);
        assert!(stats.slow(&s, get, &[b"get"], u64::MAX).is_none());
        s.slower_than.store(0, Ordering::Relaxed);
        assert!(stats.slow(&s, get, &[b"get"], 0).is_some());
    }
}
