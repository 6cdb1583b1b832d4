//! The data of pub/sub, without I/O: a subscriber's mailbox and its
//! output-buffer limit, the core's channel → subscribers registry, the
//! node-wide directory of which cores may have subscribers, and a
//! connection's own subscriptions. See `node::pubsub` for how they meet.

use crate::cmd::pubsub::{message, pmessage};
use crate::proto::{Proto, Reply};
use crate::store::glob_match;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::future::poll_fn;
use std::hash::BuildHasher;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

/// How much a subscriber may leave unread, as Redis's
/// `client-output-buffer-limit pubsub <hard> <soft> <soft-seconds>`: past
/// `hard` bytes, or past `soft` bytes for more than `soft_secs` seconds,
/// the connection is closed. A zero turns that limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    /// Bytes that close the connection at once.
    pub hard: usize,
    /// Bytes that close it once exceeded for longer than `soft_secs`.
    pub soft: usize,
    /// Seconds the soft limit may be exceeded.
    pub soft_secs: u64,
}

impl Default for OutputLimit {
    /// Redis's default: `32mb 8mb 60`.
    fn default() -> Self {
        OutputLimit {
            hard: 32 << 20,
            soft: 8 << 20,
            soft_secs: 60,
        }
    }
}

/// An [`OutputLimit`] that CONFIG SET can change while subscribers on
/// every core hold it: each check reads the limit in force.
#[derive(Debug, Default)]
pub struct LiveLimit {
    hard: AtomicUsize,
    soft: AtomicUsize,
    soft_secs: AtomicU64,
}

impl LiveLimit {
    /// Starting at `l`.
    pub fn new(l: OutputLimit) -> Self {
        let live = LiveLimit::default();
        live.set(l);
        live
    }

    /// The limit in force.
    pub fn get(&self) -> OutputLimit {
        OutputLimit {
            hard: self.hard.load(Ordering::Relaxed),
            soft: self.soft.load(Ordering::Relaxed),
            soft_secs: self.soft_secs.load(Ordering::Relaxed),
        }
    }

    /// Change it (a check may see the fields change one by one; each is a
    /// limit Redis would also apply on its own).
    pub fn set(&self, l: OutputLimit) {
        self.hard.store(l.hard, Ordering::Relaxed);
        self.soft.store(l.soft, Ordering::Relaxed);
        self.soft_secs.store(l.soft_secs, Ordering::Relaxed);
    }
}

impl From<OutputLimit> for Arc<LiveLimit> {
    fn from(l: OutputLimit) -> Self {
        Arc::new(LiveLimit::new(l))
    }
}

/// Parse `--pubsub-output-limit`: `"<hard> <soft> <soft-seconds>"`, sizes
/// as `--maxmemory` takes them (`32mb`, `8388608`).
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_limit(s: &str) -> Result<OutputLimit, String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [hard, soft, secs] = parts[..] else {
        return Err(format!(
            "'{s}' is not '<hard> <soft> <soft-seconds>' (Redis's default: '32mb 8mb 60')"
        ));
    };
    Ok(OutputLimit {
        hard: crate::units::parse_bytes(hard)?,
        soft: crate::units::parse_bytes(soft)?,
        soft_secs: secs
            .parse()
            .map_err(|_| format!("'{secs}' is not a number of seconds"))?,
    })
}

/// The pushes waiting for one subscribed connection.
///
/// Publishers of the connection's core append encoded messages and wake
/// the connection's task, which writes them. Everything not yet written
/// (`pending` plus the write in progress) counts against the
/// [`OutputLimit`]; a push that passes it cuts the subscriber off: its
/// buffer is freed, later pushes are dropped, and the connection closes.
pub struct Mailbox {
    buf: RefCell<Vec<u8>>,
    proto: Cell<Proto>,
    /// Mail bytes the connection took and is still writing.
    inflight: Cell<usize>,
    /// Node-clock ms since when the soft limit has been exceeded.
    soft_since: Cell<Option<u64>>,
    killed: Cell<bool>,
    waker: Cell<Option<Waker>>,
    limit: Arc<LiveLimit>,
}

impl Mailbox {
    /// An empty mailbox whose messages are encoded in `proto`.
    pub fn new(proto: Proto, limit: impl Into<Arc<LiveLimit>>) -> Rc<Mailbox> {
        Rc::new(Mailbox {
            buf: RefCell::default(),
            proto: Cell::new(proto),
            inflight: Cell::new(0),
            soft_since: Cell::new(None),
            killed: Cell::new(false),
            waker: Cell::new(None),
            limit: limit.into(),
        })
    }

    /// Encode later messages in `proto` (the connection ran HELLO).
    pub fn set_proto(&self, proto: Proto) {
        self.proto.set(proto);
    }

    /// Append one push that `f` encodes, at node-clock `now`, then apply
    /// the output-buffer limit. Does nothing once the subscriber is cut off.
    pub fn push(&self, now: u64, f: impl FnOnce(&mut Reply<'_>)) {
        if self.killed.get() {
            return;
        }
        f(&mut Reply::new(
            &mut self.buf.borrow_mut(),
            self.proto.get(),
        ));
        if self.over_limit(now) {
            log::warn!(
                "a subscriber left {} bytes unread, over the pubsub output buffer limit; closing it",
                self.unwritten()
            );
            self.killed.set(true);
            *self.buf.borrow_mut() = Vec::new();
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Redis's `checkClientOutputBufferLimits`: the hard limit at once, the
    /// soft one when it has held for more than its seconds.
    fn over_limit(&self, now: u64) -> bool {
        let used = self.unwritten();
        let l = self.limit.get();
        if l.hard > 0 && used >= l.hard {
            return true;
        }
        if l.soft == 0 || used < l.soft {
            self.soft_since.set(None);
            return false;
        }
        match self.soft_since.get() {
            None => {
                self.soft_since.set(Some(now));
                false
            }
            Some(since) => now.saturating_sub(since) > l.soft_secs * 1000,
        }
    }

    /// Bytes pushed and not yet written to the socket.
    pub fn unwritten(&self) -> usize {
        self.buf.borrow().len() + self.inflight.get()
    }

    /// Whether the output-buffer limit cut this subscriber off.
    pub fn killed(&self) -> bool {
        self.killed.get()
    }

    /// Move the pending pushes to the end of `out`, to be written; they
    /// still count against the limit until [`written`](Self::written).
    pub fn take_into(&self, out: &mut Vec<u8>) {
        let mut buf = self.buf.borrow_mut();
        if buf.is_empty() {
            return;
        }
        self.inflight.set(self.inflight.get() + buf.len());
        if out.is_empty() {
            // Big backlogs move without a copy.
            std::mem::swap(out, &mut buf);
        } else {
            out.extend_from_slice(&buf);
            buf.clear();
        }
    }

    /// What [`take_into`](Self::take_into) took has reached the socket.
    pub fn written(&self) {
        self.inflight.set(0);
    }

    /// Ready once there is mail, or the subscriber was cut off.
    pub async fn ready(&self) {
        poll_fn(|cx| {
            if self.killed.get() || !self.buf.borrow().is_empty() {
                Poll::Ready(())
            } else {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// Ready once the subscriber is cut off.
    pub async fn cut_off(&self) {
        poll_fn(|cx| {
            if self.killed.get() {
                Poll::Ready(())
            } else {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// One connection's subscriptions (Redis's `c->pubsub_channels` and
/// `c->pubsub_patterns`), and its mailbox.
pub struct Subscriber {
    /// Where this core's publishers put messages for the connection.
    pub mailbox: Rc<Mailbox>,
    /// Channels subscribed to.
    pub channels: HashSet<Box<[u8]>, foldhash::fast::RandomState>,
    /// Patterns subscribed to, in subscription order (Redis 7.0 keeps a
    /// list, and PUNSUBSCRIBE without arguments answers in that order).
    pub patterns: Vec<Box<[u8]>>,
}

impl Subscriber {
    /// No subscriptions yet, messages encoded in `proto`.
    pub fn new(proto: Proto, limit: impl Into<Arc<LiveLimit>>) -> Subscriber {
        Subscriber {
            mailbox: Mailbox::new(proto, limit),
            channels: HashSet::default(),
            patterns: Vec::new(),
        }
    }

    /// Channels and patterns subscribed to: the count the confirmations
    /// carry; above zero, a RESP2 connection is in the subscribed context.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// Buckets of a core's channel filter in the [`Directory`].
const BUCKETS: usize = 1024;

/// The bucket of `channel`, the same on every core.
fn bucket(channel: &[u8]) -> usize {
    foldhash::fast::FixedState::default().hash_one(channel) as usize % BUCKETS
}

/// What every core may read of where the node's subscribers are, so a
/// publisher hops only to cores that may have receivers: per core, a
/// counting filter of its channels (each bucket counts the channels with
/// local subscribers that hash there) and the number of its patterns.
/// Only the owning core writes its entries, on (un)subscribe.
pub struct Directory {
    cores: Box<[CoreView]>,
}

struct CoreView {
    buckets: Box<[AtomicU32]>,
    channels: AtomicU32,
    patterns: AtomicU32,
}

impl Directory {
    /// Nothing subscribed on any of `n` cores.
    pub fn new(n: usize) -> Directory {
        Directory {
            cores: (0..n)
                .map(|_| CoreView {
                    buckets: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
                    channels: AtomicU32::new(0),
                    patterns: AtomicU32::new(0),
                })
                .collect(),
        }
    }

    // SeqCst throughout: a subscription is counted before its confirmation
    // is written, so a PUBLISH that a client sends after reading the
    // confirmation (from any connection) sees it.
    fn channel(&self, core: usize, channel: &[u8], added: bool) {
        let v = &self.cores[core];
        for c in [&v.buckets[bucket(channel)], &v.channels] {
            if added {
                c.fetch_add(1, Ordering::SeqCst);
            } else {
                c.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    fn pattern(&self, core: usize, added: bool) {
        let c = &self.cores[core].patterns;
        if added {
            c.fetch_add(1, Ordering::SeqCst);
        } else {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Whether `core` may have a subscriber that a message on `channel`
    /// reaches: some pattern there, or a channel in its bucket.
    pub fn may_receive(&self, core: usize, channel: &[u8]) -> bool {
        let v = &self.cores[core];
        v.patterns.load(Ordering::SeqCst) > 0
            || v.buckets[bucket(channel)].load(Ordering::SeqCst) > 0
    }

    /// Whether `core` has subscribers to any channel.
    pub fn has_channels(&self, core: usize) -> bool {
        self.cores[core].channels.load(Ordering::SeqCst) > 0
    }

    /// Whether `core` has subscribers to any pattern.
    pub fn has_patterns(&self, core: usize) -> bool {
        self.cores[core].patterns.load(Ordering::SeqCst) > 0
    }
}

type Subscribers = HashMap<Box<[u8]>, Vec<Rc<Mailbox>>, foldhash::fast::RandomState>;

/// One core's registry: each channel and pattern with the mailboxes of
/// this core's connections subscribed to it (Redis's
/// `server.pubsub_channels` and `server.pubsub_patterns`, per core).
#[derive(Default)]
pub struct Local {
    channels: Subscribers,
    patterns: Subscribers,
}

/// Add `mb` under `name`; true if `name` is new here.
fn add(map: &mut Subscribers, name: &[u8], mb: &Rc<Mailbox>) -> bool {
    match map.get_mut(name) {
        Some(subs) => {
            subs.push(mb.clone());
            false
        }
        None => {
            map.insert(name.into(), vec![mb.clone()]);
            true
        }
    }
}

/// Remove `mb` from under `name`; true if that left `name` without subscribers.
fn remove(map: &mut Subscribers, name: &[u8], mb: &Rc<Mailbox>) -> bool {
    let Some(subs) = map.get_mut(name) else {
        return false;
    };
    subs.retain(|m| !Rc::ptr_eq(m, mb));
    if !subs.is_empty() {
        return false;
    }
    map.remove(name);
    true
}

impl Local {
    /// Register `mb` for `channel` on core `core`; the caller made sure it
    /// was not registered for it yet.
    pub fn subscribe(&mut self, dir: &Directory, core: usize, channel: &[u8], mb: &Rc<Mailbox>) {
        if add(&mut self.channels, channel, mb) {
            dir.channel(core, channel, true);
        }
    }

    /// Unregister `mb` from `channel`.
    pub fn unsubscribe(&mut self, dir: &Directory, core: usize, channel: &[u8], mb: &Rc<Mailbox>) {
        if remove(&mut self.channels, channel, mb) {
            dir.channel(core, channel, false);
        }
    }

    /// Register `mb` for `pattern`; the caller made sure it was not yet.
    pub fn psubscribe(&mut self, dir: &Directory, core: usize, pattern: &[u8], mb: &Rc<Mailbox>) {
        if add(&mut self.patterns, pattern, mb) {
            dir.pattern(core, true);
        }
    }

    /// Unregister `mb` from `pattern`.
    pub fn punsubscribe(&mut self, dir: &Directory, core: usize, pattern: &[u8], mb: &Rc<Mailbox>) {
        if remove(&mut self.patterns, pattern, mb) {
            dir.pattern(core, false);
        }
    }

    /// Deliver a message on `channel` to this core's subscribers, channel
    /// subscribers first and then each matching pattern's, as Redis does;
    /// returns how many received it. The publishing connection's own
    /// mailbox, `me`, gets its copies written straight into its reply
    /// instead, ahead of PUBLISH's count, where Redis puts them.
    pub fn deliver(
        &self,
        channel: &[u8],
        payload: &[u8],
        now: u64,
        mut me: Option<(&Rc<Mailbox>, &mut Reply<'_>)>,
    ) -> usize {
        let mut n = 0;
        let mut send = |mb: &Rc<Mailbox>, f: &dyn Fn(&mut Reply<'_>)| {
            n += 1;
            match &mut me {
                Some((own, w)) if Rc::ptr_eq(own, mb) => f(w),
                _ => mb.push(now, f),
            }
        };
        if let Some(subs) = self.channels.get(channel) {
            for mb in subs {
                send(mb, &|w| message(w, channel, payload));
            }
        }
        for (pattern, subs) in &self.patterns {
            if glob_match(pattern, channel, false) {
                for mb in subs {
                    send(mb, &|w| pmessage(w, pattern, channel, payload));
                }
            }
        }
        n
    }

    /// This core's channels with subscribers that match `pattern` (all
    /// without one).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.channels
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// How many of this core's connections subscribe to each of `channels`.
    pub fn numsub(&self, channels: &[Box<[u8]>]) -> Vec<usize> {
        channels
            .iter()
            .map(|c| self.channels.get(c).map_or(0, Vec::len))
            .collect()
    }

    /// This core's patterns with subscribers.
    pub fn patterns(&self) -> Vec<Box<[u8]>> {
        self.patterns.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests;
