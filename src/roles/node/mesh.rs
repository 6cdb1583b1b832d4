//! The channels between a node's cores: one bounded glommio shared channel
//! for every ordered pair of cores, carrying batches of hops.
//!
//! We build them ourselves instead of using glommio's `channel_mesh`: its
//! builder is cloned on every executor thread and shares an `Rc` across
//! them, and under start/stop churn two-core nodes occasionally corrupted
//! the heap at thread exit ("unaligned tcache chunk"). Here every channel end
//! is created on the main thread and *moved* — never cloned — into the one
//! executor that uses it.

use super::hop::Hop;
use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Mutex;
use std::task::{Poll, Waker};

/// Batches one core may have queued for another before its flusher waits.
const CHANNEL_SIZE: usize = 1024;

/// The channel ends one core owns, before it connects them.
pub struct Ends {
    /// This core's number.
    pub id: usize,
    senders: Vec<Option<SharedSender<Vec<Hop>>>>,
    receivers: Vec<SharedReceiver<Vec<Hop>>>,
}

/// Create the channels of `n` cores; `ends[i]` belongs to core `i`.
pub fn build(n: usize) -> Vec<Ends> {
    let mut ends: Vec<Ends> = (0..n)
        .map(|id| Ends {
            id,
            senders: (0..n).map(|_| None).collect(),
            receivers: Vec::new(),
        })
        .collect();
    for from in 0..n {
        for to in (0..n).filter(|&to| to != from) {
            let (tx, rx) = shared_channel::new_bounded(CHANNEL_SIZE);
            ends[from].senders[to] = Some(tx);
            ends[to].receivers.push(rx);
        }
    }
    ends
}

/// Hand out each core's ends exactly once, whichever thread asks first.
pub struct Handout(Mutex<Vec<Ends>>);

impl Handout {
    /// Wrap the ends of all cores.
    pub fn new(ends: Vec<Ends>) -> Self {
        Handout(Mutex::new(ends))
    }

    /// Take one core's ends (startup only; never on the data path).
    pub fn take(&self) -> Option<Ends> {
        self.0.lock().ok()?.pop()
    }
}

/// The receiving core is gone; the message was dropped.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("peer core is gone")]
pub struct PeerGone;

/// Hops waiting to go to one peer core.
#[derive(Default)]
struct Outbox {
    hops: RefCell<Vec<Hop>>,
    /// The flusher, parked while the outbox is empty.
    flusher: Cell<Option<Waker>>,
    /// The peer stopped receiving (shutdown).
    gone: Cell<bool>,
}

/// A core's outboxes, indexed by peer core.
pub struct Peers {
    outboxes: Vec<Option<Rc<Outbox>>>,
}

impl Peers {
    /// Whether `send_to(peer, ..)` would take a hop now.
    pub fn accepts(&self, peer: usize) -> bool {
        self.outboxes
            .get(peer)
            .and_then(Option::as_ref)
            .is_some_and(|out| !out.gone.get())
    }

    /// Queue `hop` for core `peer`. It leaves with everything else this core
    /// queues for that peer before its executor next runs out of ready
    /// tasks, as one channel message.
    ///
    /// Why batch across connections: waking a sleeping peer costs about as
    /// much as a whole request, and at one request per client (redis-benchmark
    /// `-P 1`) each connection task would otherwise send, and wake the peer
    /// for, its own message. The flusher is woken by the first hop of a turn;
    /// a woken glommio task runs after the tasks already ready, so the
    /// message carries the hops of every connection that runs in this turn.
    ///
    /// # Errors
    /// [`PeerGone`] when the peer no longer receives (shutdown) or does not exist.
    pub fn send_to(&self, peer: usize, hop: Hop) -> Result<(), PeerGone> {
        let out = self
            .outboxes
            .get(peer)
            .and_then(Option::as_ref)
            .ok_or(PeerGone)?;
        if out.gone.get() {
            return Err(PeerGone);
        }
        out.hops.borrow_mut().push(hop);
        if let Some(w) = out.flusher.take() {
            w.wake();
        }
        Ok(())
    }
}

/// Move everything queued in `out` to the peer, one message per turn.
async fn flush_loop(out: Rc<Outbox>, tx: ConnectedSender<Vec<Hop>>) {
    loop {
        std::future::poll_fn(|cx| {
            if out.hops.borrow().is_empty() {
                out.flusher.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        // The batch goes to the peer, which frees it; the next one starts
        // at this one's size (bounded) instead of growing push by push.
        let batch = {
            let mut hops = out.hops.borrow_mut();
            let next = Vec::with_capacity(hops.len().min(64));
            std::mem::replace(&mut *hops, next)
        };
        if tx.send(batch).await.is_err() {
            // Dropping the hops drops their reply senders: every requester
            // sees its reply cancelled and answers accordingly.
            out.gone.set(true);
            out.hops.borrow_mut().clear();
            return;
        }
    }
}

impl Ends {
    /// Connect every end inside this core's executor. All connects run
    /// concurrently: each completes only once the peer has connected its
    /// side, and peers connect in any order.
    pub async fn connect(self) -> (Peers, Vec<ConnectedReceiver<Vec<Hop>>>) {
        let senders: Vec<_> = self
            .senders
            .into_iter()
            .map(|s| s.map(|s| glommio::spawn_local(s.connect()).detach()))
            .collect();
        let receivers: Vec<_> = self
            .receivers
            .into_iter()
            .map(|r| glommio::spawn_local(r.connect()).detach())
            .collect();
        let mut outboxes = Vec::with_capacity(senders.len());
        for s in senders {
            let tx = match s {
                Some(task) => task.await,
                None => None,
            };
            outboxes.push(tx.map(|tx| {
                let out = Rc::new(Outbox::default());
                glommio::spawn_local(flush_loop(out.clone(), tx)).detach();
                out
            }));
        }
        let mut rx = Vec::with_capacity(receivers.len());
        for r in receivers {
            rx.extend(r.await);
        }
        (Peers { outboxes }, rx)
    }
}
