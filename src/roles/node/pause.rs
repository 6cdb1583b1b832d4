//! CLIENT PAUSE across the node: one deadline every core reads, and on
//! each core the connections waiting for it to pass.
//!
//! The deadline is one atomic word in [`Shared`](super::core::Shared),
//! written only by CLIENT PAUSE and UNPAUSE (and cleared by the first
//! reader that finds it past). A command costs one relaxed load of it while
//! no pause was ever set or the last one ended. Relaxed is enough: a pause
//! only has to hold commands that arrive after its +OK reached a client,
//! and that reply and the next request both pass through syscalls, which
//! order memory on every platform the node runs on.
//!
//! A held command waits on a glommio timer for the deadline, or until
//! CLIENT UNPAUSE wakes this core's waiters (its core directly, the others
//! with a `Hop::Unpause`). Held commands resume in the order they were
//! held, and each connection's later requests wait behind its held one,
//! as Redis postpones a client until its pause ends.

use super::core::Core;
use crate::cmd::{Flags, NodeCmd, PubsubCmd, Run, Spec};
use futures_channel::oneshot;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The node-wide pause: `deadline << 1 | all`, 0 for none (deadline in
/// node-clock ms).
#[derive(Debug, Default)]
pub struct Pause(AtomicU64);

impl Pause {
    /// True when a pause may be in force: the one load each command pays.
    #[inline]
    pub fn maybe(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Pause until `until` (node-clock ms), every command when `all`, else
    /// only commands that may write. A pause still in force at `now` is
    /// only extended and widened, as Redis's `pauseClients` keeps the later
    /// end and the stricter mode.
    pub fn extend(&self, until: u64, all: bool, now: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                let (old_until, old_all) = decode(word);
                let live = word != 0 && old_until > now;
                let until = if live { until.max(old_until) } else { until };
                Some(until << 1 | u64::from(all || (live && old_all)))
            });
    }

    /// End the pause (CLIENT UNPAUSE).
    pub fn clear(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// The pause in force at `now`: its deadline, and whether it holds
    /// every command. A pause found past is cleared, so later commands pay
    /// only the load in [`maybe`](Self::maybe).
    pub fn holding(&self, now: u64) -> Option<(u64, bool)> {
        let word = self.0.load(Ordering::Relaxed);
        if word == 0 {
            return None;
        }
        let (until, all) = decode(word);
        if until <= now {
            // Another CLIENT PAUSE may have replaced it meanwhile: keep that.
            let _ = self
                .0
                .compare_exchange(word, 0, Ordering::Relaxed, Ordering::Relaxed);
            return None;
        }
        Some((until, all))
    }
}

fn decode(word: u64) -> (u64, bool) {
    (word >> 1, word & 1 == 1)
}

/// Whether a pause holds `spec`: every command under ALL; under WRITE the
/// commands Redis 7.0 counts as possibly replicated — writes, PUBLISH
/// (its row has no `may_replicate` flag because Redis 7.0's COMMAND INFO
/// shows none, yet Redis holds it), anything flagged `may_replicate`, and
/// an EXEC whose queue holds any of those (`queued_writes`).
pub fn holds(spec: &Spec, all: bool, queued_writes: bool) -> bool {
    all || writes(spec) || (matches!(spec.run, Run::Node(NodeCmd::Exec)) && queued_writes)
}

/// Whether `spec` is a command a WRITE pause holds by itself (and that
/// makes a transaction queueing it one that EXEC must wait for).
pub fn writes(spec: &Spec) -> bool {
    spec.flags.has(Flags::WRITE)
        || spec.flags.has(Flags::MAY_REPLICATE)
        || matches!(spec.run, Run::Node(NodeCmd::Pubsub(PubsubCmd::Publish)))
}

/// The connections of one core waiting for a pause to end.
#[derive(Default)]
pub struct Waiters(RefCell<Vec<oneshot::Sender<()>>>);

impl Waiters {
    /// Wake every waiter, in the order they began waiting.
    pub fn wake_all(&self) {
        for tx in self.0.borrow_mut().drain(..) {
            let _ = tx.send(());
        }
    }

    fn add(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut list = self.0.borrow_mut();
        // Waiters whose timer fired first have dropped their receiver.
        list.retain(|tx| !tx.is_canceled());
        list.push(tx);
        rx
    }
}

/// Whether `spec` must wait for a pause in force now; call only after
/// [`Pause::maybe`] said one may be.
pub fn must_wait(core: &Core, spec: &Spec, queued_writes: bool) -> bool {
    core.shared
        .pause
        .holding(core.now())
        .is_some_and(|(_, all)| holds(spec, all, queued_writes))
}

/// Wait until no pause holds `spec`: each round sleeps until the deadline
/// or an UNPAUSE, then looks again, since a newer CLIENT PAUSE may have
/// extended or widened it meanwhile.
pub async fn wait(core: &Core, spec: &Spec, queued_writes: bool) {
    loop {
        let now = core.now();
        let Some((until, all)) = core.shared.pause.holding(now) else {
            return;
        };
        if !holds(spec, all, queued_writes) {
            return;
        }
        let woken = core.paused.add();
        let timer = glommio::timer::sleep(Duration::from_millis(until - now));
        futures_lite::future::or(timer, async {
            let _ = woken.await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::table;

    fn spec(name: &str) -> &'static Spec {
        table::lookup(name.as_bytes()).unwrap().1
    }

    #[test]
    fn a_pause_extends_widens_and_expires() {
        let p = Pause::default();
        assert!(!p.maybe());
        p.extend(100, false, 0);
        assert_eq!(p.holding(50), Some((100, false)));
        // Shorter and ALL: the end stays, the mode widens.
        p.extend(60, true, 50);
        assert_eq!(p.holding(50), Some((100, true)));
        // Longer and WRITE: the end grows, ALL stays.
        p.extend(300, false, 50);
        assert_eq!(p.holding(50), Some((300, true)));
        // Past its deadline it holds nothing and is cleared.
        assert_eq!(p.holding(300), None);
        assert!(!p.maybe());
        // A pause that had ended does not lend its mode to the next one.
        p.extend(10, true, 0);
        p.extend(500, false, 20);
        assert_eq!(p.holding(20), Some((500, false)));
        p.clear();
        assert_eq!(p.holding(20), None);
    }

    #[test]
    fn write_pause_holds_what_redis_holds() {
        for name in ["set", "del", "incr", "expire", "flushall", "publish"] {
            assert!(holds(spec(name), false, false), "{name}");
        }
        for name in ["get", "ping", "dbsize", "multi", "exists", "config"] {
            assert!(!holds(spec(name), false, false), "{name}");
            assert!(holds(spec(name), true, false), "{name} under ALL");
        }
        assert!(!holds(spec("exec"), false, false));
        assert!(holds(spec("exec"), false, true), "EXEC of queued writes");
    }
}
