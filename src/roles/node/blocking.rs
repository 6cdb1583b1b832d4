//! Blocked clients (BLPOP, BLMOVE, BZPOPMIN …): a client whose blocking
//! command finds nothing waits, without holding any core, until a key it
//! waits on changes, its timeout passes, or it disconnects.
//!
//! **Wake and retry.** A waiter never receives data from another core: it
//! is only woken, and takes the data itself by running its command again,
//! exactly as a fresh one would run (on its own core, or with every core
//! its keys live on held, `multi::run_spanning`). So a BLMOVE between keys
//! of two cores is as atomic as an LMOVE, and no element is ever popped for
//! a client that has gone: only a live client pops. Each key owner keeps
//! its waiters in arrival order ([`Registry`]) and wakes only the first
//! when the key changes; when a waiter leaves (served, timed out, gone) the
//! next is woken if the key still holds something. So a push with three
//! waiters serves the oldest first, then the next, in FIFO order.
//!
//! One difference from Redis: Redis serves blocked clients before any
//! other command runs, so a woken waiter can never lose the element to
//! another client's LPOP. Here the woken waiter runs after a hop, and an
//! LPOP sent in that window may take it first; the waiter then keeps its
//! place and waits again. Nothing is lost or duplicated either way.
//!
//! **No lost wake-up.** After a first attempt finds nothing, the client
//! registers on every key's owner (a hop each for other cores, answered
//! once registered) and only then tries again: a push before the
//! registration is seen by that second try, one after it wakes the client.
//!
//! **Disconnects.** While blocked the connection is not read, so every
//! 100 ms it peeks at its socket; a closed one unregisters at once.

use super::core::Core;
use super::hop::Hop;
use super::pipeline::Plan;
use crate::cmd::spec::Blocking;
use crate::cmd::{self, table, Spec};
use crate::proto::{Proto, Reply};
use futures_channel::{mpsc, oneshot};
use futures_lite::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often a blocked connection checks that its client is still there.
const PEEK_EVERY: Duration = Duration::from_millis(100);

/// One blocked client, as a key owner knows it.
#[derive(Clone, Debug)]
pub struct Waiter {
    /// The client's id (unique in the node).
    pub id: u64,
    /// Wakes it; a send from any thread.
    pub wake: mpsc::UnboundedSender<()>,
}

/// The clients blocked on one core's keys, per key in arrival order.
#[derive(Default)]
pub struct Registry {
    queues: HashMap<Box<[u8]>, VecDeque<Waiter>>,
}

impl Registry {
    /// True when no client waits on this core's keys: writes then skip
    /// every check.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Clients waiting, counted once per key they wait on here.
    pub fn len(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// `w` waits on `key`, after those already waiting.
    pub fn add(&mut self, key: &[u8], w: Waiter) {
        self.queues.entry(key.into()).or_default().push_back(w);
    }

    /// `key` changed: wake its oldest waiter.
    #[inline]
    pub fn signal(&self, key: &[u8]) {
        if let Some(first) = self.queues.get(key).and_then(VecDeque::front) {
            let _ = first.wake.unbounded_send(());
        }
    }

    /// Client `id` no longer waits on `key`. If it was the oldest and
    /// `key` still holds a value (`live`), the next one is woken: it may
    /// be able to take what this one left.
    pub fn remove(&mut self, key: &[u8], id: u64, live: bool) {
        let Some(q) = self.queues.get_mut(key) else {
            return;
        };
        let Some(at) = q.iter().position(|w| w.id == id) else {
            return;
        };
        q.remove(at);
        if q.is_empty() {
            self.queues.remove(key);
        } else if at == 0 && live {
            let _ = q[0].wake.unbounded_send(());
        }
    }
}

/// Register `w` on `keys` of this core; `live` says whether a key holds a
/// value now.
fn add_here(core: &Core, keys: &[Box<[u8]>], w: &Waiter) {
    let mut reg = core.blocked.borrow_mut();
    for k in keys {
        reg.add(k, w.clone());
    }
}

/// Unregister client `id` from `keys` of this core.
pub fn remove_here(core: &Core, keys: &[Box<[u8]>], id: u64) {
    let now = core.now();
    let shard = core.shard.borrow();
    let mut reg = core.blocked.borrow_mut();
    for k in keys {
        reg.remove(k, id, shard.peek_type(k, now).is_some());
    }
}

/// The keys in `keys` each core owns, by core.
fn by_owner(core: &Core, keys: &[&[u8]]) -> Vec<Vec<Box<[u8]>>> {
    let mut owned = vec![Vec::new(); core.n];
    for k in keys {
        owned[core.owner(k)].push(Box::from(*k));
    }
    owned
}

/// How a blocked wait ended.
enum Woken {
    /// A key it waits on changed.
    Signal,
    /// Its timeout passed.
    Timeout,
    /// Its client closed the connection.
    Closed,
}

/// True when the client on `fd` has closed its side (or the socket
/// failed): a peek finds end of stream or an error other than "no data".
fn peer_closed(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer we own; `fd` is the connection's open
    // socket (the connection task that owns it is the one blocked here).
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => true,
        n if n > 0 => false,
        _ => {
            let e = std::io::Error::last_os_error().raw_os_error();
            !matches!(e, Some(libc::EAGAIN) | Some(libc::EINTR))
        }
    }
}

/// Wait for a wake-up, the deadline or the client's departure.
async fn wait(rx: &mut mpsc::UnboundedReceiver<()>, deadline: Option<Instant>, fd: RawFd) -> Woken {
    loop {
        let tick = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(PEEK_EVERY),
            None => PEEK_EVERY,
        };
        let woke = futures_lite::future::or(async { rx.next().await.is_some() }, async {
            glommio::timer::Timer::new(tick).await;
            false
        })
        .await;
        if woke {
            // Several changes may have queued several wake-ups: one retry
            // covers them all.
            while rx.try_recv().is_ok() {}
            return Woken::Signal;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Woken::Timeout;
        }
        if peer_closed(fd) {
            return Woken::Closed;
        }
    }
}

/// Run the command once, as any command runs (its keys' cores held if
/// they are not all this one's), as `how` says; returns whether it wrote
/// its reply (a command that may block and finds nothing writes none).
async fn attempt(
    core: &Rc<Core>,
    plan: &mut Plan,
    cmd: (table::Id, &'static Spec),
    args: &[&[u8]],
    proto: Proto,
    how: Blocking,
    out: &mut Vec<u8>,
) -> bool {
    let before = out.len();
    core.attempting.set(how);
    match super::pipeline::owner(core, cmd.1, args, None) {
        Some(o) if o == core.id => {
            let now = core.now();
            core.run(
                &mut core.shard.borrow_mut(),
                cmd,
                args,
                now,
                proto,
                out,
                &mut plan.slow,
            );
        }
        _ => {
            // Not all here: hold the cores and run it here, as a command
            // spanning cores runs. `attempting` is read by that run too.
            let slow = super::multi::run_spanning(core, cmd.1, args, proto, out).await;
            plan.slow.extend(slow);
        }
    }
    core.attempting.set(Blocking::Never);
    out.len() > before
}

/// Run blocking command `cmd`: at once if it can, otherwise block the
/// client until it can, its timeout passes (its null reply) or the client
/// goes (no reply). Earlier replies of the read are flushed first, as the
/// client waits for them.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    core: &Rc<Core>,
    plan: &mut Plan,
    client: u64,
    cmd: (table::Id, &'static Spec),
    args: &[&[u8]],
    proto: Proto,
    fd: RawFd,
    out: &mut Vec<u8>,
) {
    plan.flush(core, proto, out).await;
    if attempt(core, plan, cmd, args, proto, Blocking::First, out).await {
        return;
    }
    // The handler wrote nothing, so its timeout parsed.
    let timeout = cmd::blocking::timeout_arg(cmd.1, args)
        .and_then(|t| cmd::blocking::timeout_ms(t).ok())
        .unwrap_or(0);
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout));
    let owned = by_owner(core, &cmd::blocking::wake_keys(cmd.1, args));
    let (tx, mut rx) = mpsc::unbounded();
    let waiter = Waiter {
        id: client,
        wake: tx,
    };
    let mut pending = Vec::new();
    for (c, keys) in owned.iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        if c == core.id {
            add_here(core, keys, &waiter);
        } else {
            let (done, registered) = oneshot::channel();
            let hop = Hop::Block {
                keys: keys.clone(),
                waiter: waiter.clone(),
                done,
            };
            if core.mesh.send_to(c, hop).is_ok() {
                pending.push(registered);
            }
        }
    }
    for registered in pending {
        let _ = registered.await;
    }
    core.counters.blocked.set(core.counters.blocked.get() + 1);
    // The try right after registering is a first try still: nothing has
    // woken the client yet.
    let mut how = Blocking::First;
    loop {
        if attempt(core, plan, cmd, args, proto, how, out).await {
            break;
        }
        how = Blocking::Retry;
        match wait(&mut rx, deadline, fd).await {
            Woken::Signal => {}
            Woken::Timeout => {
                // Redis answers every timed-out list or sorted-set waiter
                // with the null array, BLMOVE's included (inside MULTI
                // BLMOVE's null is a bulk one).
                Reply::new(out, proto).null_array();
                break;
            }
            Woken::Closed => break,
        }
    }
    core.counters.blocked.set(core.counters.blocked.get() - 1);
    for (c, keys) in owned.into_iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        if c == core.id {
            remove_here(core, &keys, client);
        } else {
            let _ = core.mesh.send_to(c, Hop::Unblock { keys, id: client });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(id: u64) -> (Waiter, mpsc::UnboundedReceiver<()>) {
        let (wake, rx) = mpsc::unbounded();
        (Waiter { id, wake }, rx)
    }

    fn woken(rx: &mut mpsc::UnboundedReceiver<()>) -> bool {
        let mut any = false;
        while rx.try_recv().is_ok() {
            any = true;
        }
        any
    }

    #[test]
    fn the_oldest_waiter_is_woken_then_the_next_when_it_leaves() {
        let mut reg = Registry::default();
        let (a, mut ra) = waiter(1);
        let (b, mut rb) = waiter(2);
        let (c, mut rc) = waiter(3);
        reg.add(b"k", a);
        reg.add(b"k", b);
        reg.add(b"k", c);
        reg.signal(b"k");
        assert!(woken(&mut ra) && !woken(&mut rb) && !woken(&mut rc));
        // The first leaves with the key still holding data: the next goes.
        reg.remove(b"k", 1, true);
        assert!(woken(&mut rb) && !woken(&mut rc));
        // A waiter behind the first leaving wakes nobody.
        reg.remove(b"k", 3, true);
        assert!(!woken(&mut rb));
        // The last leaves an empty key: nothing is left behind.
        reg.remove(b"k", 2, false);
        assert!(reg.is_empty());
    }

    #[test]
    fn an_emptied_key_wakes_nobody() {
        let mut reg = Registry::default();
        let (a, _ra) = waiter(1);
        let (b, mut rb) = waiter(2);
        reg.add(b"k", a);
        reg.add(b"k", b);
        reg.remove(b"k", 1, false);
        assert!(!woken(&mut rb));
        assert_eq!(reg.len(), 1);
        reg.signal(b"other");
        assert!(!woken(&mut rb));
    }
}
