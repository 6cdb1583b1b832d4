//! The channels between a node's cores: one bounded glommio shared channel
//! for every ordered pair of cores.
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
use std::sync::Mutex;

/// Messages one core may have queued for another before `send_to` waits.
const CHANNEL_SIZE: usize = 1024;

/// The channel ends one core owns, before it connects them.
pub struct Ends {
    /// This core's number.
    pub id: usize,
    senders: Vec<Option<SharedSender<Hop>>>,
    receivers: Vec<SharedReceiver<Hop>>,
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

/// A core's connected senders, indexed by peer core.
pub struct Peers {
    senders: Vec<Option<ConnectedSender<Hop>>>,
}

impl Peers {
    /// Send `hop` to core `peer`, waiting while its queue is full.
    ///
    /// # Errors
    /// [`PeerGone`] when the peer no longer receives (shutdown) or does not exist.
    pub async fn send_to(&self, peer: usize, hop: Hop) -> Result<(), PeerGone> {
        match self.senders.get(peer).and_then(Option::as_ref) {
            Some(tx) => tx.send(hop).await.map_err(|_| PeerGone),
            None => Err(PeerGone),
        }
    }
}

impl Ends {
    /// Connect every end inside this core's executor. All connects run
    /// concurrently: each completes only once the peer has connected its
    /// side, and peers connect in any order.
    pub async fn connect(self) -> (Peers, Vec<ConnectedReceiver<Hop>>) {
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
        let mut connected = Vec::with_capacity(senders.len());
        for s in senders {
            connected.push(match s {
                Some(task) => task.await,
                None => None,
            });
        }
        let mut rx = Vec::with_capacity(receivers.len());
        for r in receivers {
            rx.extend(r.await);
        }
        (Peers { senders: connected }, rx)
    }
}
