//! Health probes: every interval, one fresh connection per registered node
//! sends `NODESTAT` and must get the reply within the health timeout.
//!
//! Only a well-formed reply counts (an error reply, garbage or a timeout
//! is a failure), and with a cluster secret only one whose MAC verifies
//! for this probe's fresh nonce and the node's address: so a process that
//! takes over a dead node's port, or answers `-ERR` to everything, is
//! never leased.
//!
//! Why a fresh connection each time rather than one kept open per node: it
//! walks the path a leased client will walk — the node's accept queue, its
//! maxclients check and its request parser — so a node whose accept loop is
//! wedged or that is full fails the probe even though an old connection
//! would still be answered. It also leaves no state behind after a timeout:
//! a timed-out probe on a kept connection could have its reply arrive
//! during the next probe and be mistaken for it. At one connection per node
//! per interval (seconds), the handshake costs nothing that matters.

use super::admission;
use super::protocol::{
    parse_probe_reply, parse_stat, probe_request, HostPort, NodeStat, ProbeReplyError,
};
use super::registry::{Fault, NodeId, ProbeTicket};
use super::state::Lb;
use crate::secret::{self, ClusterSecret};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// Probe every node each health interval, and drop nodes that have been
/// down too long. Probes run concurrently, each bounded by the timeout, so
/// one hung node never delays the verdict on the others.
pub async fn probe_loop(lb: Rc<Lb>) {
    loop {
        glommio::timer::sleep(lb.cfg.health_interval).await;
        if lb.life.stopping() {
            return;
        }
        let tickets = lb.registry.borrow().probe_all();
        for t in tickets {
            glommio::spawn_local(run(lb.clone(), t)).detach();
        }
        let gone = lb.registry.borrow_mut().forget_stale(lb.now());
        if !gone.is_empty() {
            let reg = lb.registry.borrow();
            lb.pools.retain(|id| reg.nodes().iter().any(|n| n.id == id));
        }
        gone.into_iter().for_each(|c| lb.log(c));
    }
}

/// Probe one node now (after it registered) instead of at the next tick.
pub async fn probe_node(lb: Rc<Lb>, id: NodeId) {
    let ticket = lb.registry.borrow().probe_one(id);
    if let Some(t) = ticket {
        run(lb, t).await;
    }
}

async fn run(lb: Rc<Lb>, t: ProbeTicket) {
    let key = lb.cfg.args.cluster_secret_file.as_ref();
    let result = probe(&t.addr, key, lb.cfg.health_timeout).await;
    let now = lb.now();
    let change = {
        let mut reg = lb.registry.borrow_mut();
        match result {
            Ok((stat, at)) => {
                reg.set_resolved(t.id, at);
                reg.probe_ok(&t, stat, now)
            }
            Err(fault) => reg.probe_failed(&t, fault, now),
        }
    };
    if let Some(c) = change {
        lb.log(c);
    }
}

/// Connect to `addr`, send `NODESTAT` (with a fresh nonce when `key` is
/// set), and parse and check the reply, all within `deadline`. Returns the
/// node's figures and the socket address it was reached at.
///
/// # Errors
/// The [`Fault`] that keeps the node out of the lease pool.
pub async fn probe(
    addr: &HostPort,
    key: Option<&ClusterSecret>,
    deadline: Duration,
) -> Result<(NodeStat, SocketAddr), Fault> {
    let nonce = match key {
        Some(_) => {
            let n = secret::nonce().map_err(|e| Fault::Unauthenticated(e.to_string()))?;
            Some(secret::to_hex(&n))
        }
        None => None,
    };
    let request = probe_request(nonce.as_deref().map(|n| (n, addr)));
    let attempt = async {
        let found = admission::resolve(addr, deadline)
            .await
            .map_err(|e| Fault::Unreachable(e.to_string()))?;
        // A name may resolve to several addresses (localhost: ::1 and
        // 127.0.0.1); the first that accepts is the node's.
        let mut last = None;
        let mut conn = None;
        for &at in &found {
            match TcpStream::connect(at).await {
                Ok(s) => {
                    conn = Some((s, at));
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some((mut s, target)) = conn else {
            let e = last.map_or("no address".into(), io_text);
            return Err(Fault::Unreachable(e));
        };
        let broken = |e: io::Error| Fault::Unreachable(e.to_string());
        s.write_all(&request).await.map_err(broken)?;
        let mut buf = [0u8; 512];
        let mut n = 0;
        let text = loop {
            if n == buf.len() {
                return Err(Fault::BadReply("reply too long".into()));
            }
            let got = s.read(&mut buf[n..]).await.map_err(broken)?;
            if got == 0 {
                return Err(Fault::Unreachable("closed before replying".into()));
            }
            n += got;
            match parse_probe_reply(&buf[..n]) {
                Ok(Some(text)) => break text,
                Ok(None) => continue,
                Err(ProbeReplyError::Full) => return Err(Fault::Full),
                Err(e) => return Err(Fault::BadReply(e.to_string())),
            }
        };
        let _ = s.close().await;
        let stats = match (key, &nonce) {
            (Some(key), Some(n)) => {
                secret::check_stats(key, n.as_bytes(), &addr.to_string(), &text)
                    .map_err(|e| Fault::Unauthenticated(e.to_string()))?
            }
            _ => text.as_str(),
        };
        let stat = parse_stat(stats).map_err(|e| Fault::BadReply(e.to_string()))?;
        Ok((stat, target))
    };
    // The timer wraps the whole exchange (connect, write, read): a stopped
    // process completes the TCP handshake from its backlog but never
    // answers, and only a deadline on the read catches that.
    match glommio::timer::timeout(deadline, async { Ok(attempt.await) }).await {
        Ok(r) => r,
        Err(_) => Err(Fault::Timeout),
    }
}

fn io_text(e: glommio::GlommioError<()>) -> String {
    match e {
        glommio::GlommioError::IoError(e) => e.to_string(),
        other => other.to_string(),
    }
}
