//! Proxy mode's connections to nodes: a small pool per node, owned by the
//! LB's one executor (plain cells, no locks).
//!
//! A pool holds at most `--pool-size` connections to its node, in use and
//! idle together: a semaphore hands out the right to hold one, so a burst of
//! clients queues for a connection (within the proxy timeout) instead of
//! opening thousands of sockets to the node. Idle connections are reused
//! most-recent first. A connection is dropped, never reused, after any
//! error or timeout — its stream could be out of step (a reply still on its
//! way) — and one that failed takes the node's other idle connections with
//! it: a node that reset one has most likely reset them all.

use super::protocol::HostPort;
use super::registry::NodeId;
use crate::addr::resolve;
use glommio::net::TcpStream;
use glommio::sync::{Semaphore, StaticPermit};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// A kept read buffer larger than this is given back after use, so one big
/// value does not pin memory on an idle connection.
const KEEP_BUF: usize = 64 * 1024;

/// Counters of one node's pool (plain cells: one executor owns them).
#[derive(Default, Debug)]
pub struct PoolStats {
    /// Requests sent to this node (a retried request counts on each node).
    pub forwarded: Cell<u64>,
    /// Requests whose attempt on this node failed (they were retried or
    /// answered with an error).
    pub failures: Cell<u64>,
    /// Requests sent and not yet answered or failed.
    pub in_flight: Cell<u64>,
    /// Connections opened to the node, ever.
    pub connects: Cell<u64>,
    /// Connections open now, in use and idle.
    pub open: Cell<u64>,
}

/// One connection to a node, with its read buffer.
pub struct NodeConn {
    /// The socket.
    pub stream: TcpStream,
    /// Read buffer, kept across uses.
    pub buf: Vec<u8>,
}

/// The pool of one node.
pub struct NodePool {
    /// Where the node listens.
    pub addr: SocketAddr,
    idle: RefCell<Vec<NodeConn>>,
    permits: Rc<Semaphore>,
    /// Counters.
    pub stats: PoolStats,
    /// A probe started by a failed attempt is still running.
    pub probing: Cell<bool>,
}

/// A connection taken from a pool. Dropping it closes the connection;
/// [`Checkout::give_back`] returns it for reuse.
pub struct Checkout {
    conn: Option<NodeConn>,
    pool: Rc<NodePool>,
    _permit: StaticPermit,
}

impl Checkout {
    /// The connection.
    pub fn conn(&mut self) -> &mut NodeConn {
        self.conn
            .as_mut()
            .expect("a checkout holds its connection until dropped")
    }

    /// Put the connection back among the idle ones.
    pub fn give_back(mut self) {
        if let Some(mut c) = self.conn.take() {
            if c.buf.capacity() > KEEP_BUF {
                c.buf = Vec::new();
            }
            c.buf.clear();
            self.pool.idle.borrow_mut().push(c);
        }
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            dec(&self.pool.stats.open, 1);
        }
    }
}

fn dec(c: &Cell<u64>, n: u64) {
    c.set(c.get().saturating_sub(n));
}

impl NodePool {
    fn new(addr: SocketAddr, size: usize) -> NodePool {
        NodePool {
            addr,
            idle: RefCell::default(),
            permits: Rc::new(Semaphore::new(size as u64)),
            stats: PoolStats::default(),
            probing: Cell::new(false),
        }
    }

    /// Connections sitting idle now.
    pub fn idle(&self) -> usize {
        self.idle.borrow().len()
    }

    /// Wait for a free slot, then reuse an idle connection that is still
    /// open or connect a new one. The caller bounds the wait with its
    /// timeout.
    ///
    /// # Errors
    /// The connect failed (refused, unreachable, ...).
    pub async fn checkout(self: &Rc<Self>) -> io::Result<Checkout> {
        let permit = self
            .permits
            .acquire_static_permit(1)
            .await
            .map_err(|_| io::Error::other("connection pool closed"))?;
        loop {
            let next = self.idle.borrow_mut().pop();
            let Some(conn) = next else { break };
            if still_open(&conn.stream) {
                return Ok(self.hand_out(conn, permit));
            }
            dec(&self.stats.open, 1);
        }
        let stream = TcpStream::connect(self.addr).await.map_err(|e| match e {
            glommio::GlommioError::IoError(e) => e,
            other => io::Error::other(other.to_string()),
        })?;
        // Requests are small and answered one round trip at a time: Nagle
        // would hold each behind the previous reply's ACK.
        let _ = stream.set_nodelay(true);
        self.stats.connects.set(self.stats.connects.get() + 1);
        self.stats.open.set(self.stats.open.get() + 1);
        let conn = NodeConn {
            stream,
            buf: Vec::new(),
        };
        Ok(self.hand_out(conn, permit))
    }

    fn hand_out(self: &Rc<Self>, conn: NodeConn, permit: StaticPermit) -> Checkout {
        Checkout {
            conn: Some(conn),
            pool: self.clone(),
            _permit: permit,
        }
    }

    /// Close every idle connection (after one of them failed).
    pub fn purge(&self) {
        let gone = std::mem::take(&mut *self.idle.borrow_mut());
        dec(&self.stats.open, gone.len() as u64);
    }
}

/// Whether an idle connection can carry a request: no EOF, no error and no
/// unsolicited bytes waiting. One non-blocking `MSG_PEEK`: it catches a node
/// that restarted or closed the connection while it sat idle, which would
/// otherwise cost a failed attempt and a retry.
fn still_open(s: &TcpStream) -> bool {
    let mut byte = 0u8;
    // SAFETY: the fd is the open socket `s` owns; the buffer is one byte we
    // own; MSG_DONTWAIT makes the call return at once.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// Every node's pool, keyed by registry id (a node forgotten and registered
/// again gets a new id, so a fresh pool).
pub struct Pools {
    nodes: RefCell<HashMap<NodeId, Rc<NodePool>>>,
    size: usize,
}

impl Pools {
    /// No pools yet; each will hold at most `size` connections.
    pub fn new(size: usize) -> Pools {
        Pools {
            nodes: RefCell::default(),
            size,
        }
    }

    /// The pool of node `id`, if one was opened.
    pub fn get(&self, id: NodeId) -> Option<Rc<NodePool>> {
        self.nodes.borrow().get(&id).cloned()
    }

    /// The pool of node `id`, opened if needed: at `resolved` (where its
    /// probe reached it, so no lookup runs on the executor) or, failing
    /// that, at `addr` resolved here.
    ///
    /// # Errors
    /// A host name that does not resolve.
    pub fn get_or_open(
        &self,
        id: NodeId,
        addr: &HostPort,
        resolved: Option<SocketAddr>,
    ) -> io::Result<Rc<NodePool>> {
        if let Some(p) = self.get(id) {
            return Ok(p);
        }
        let at = match resolved {
            Some(a) => a,
            None => resolve(addr)?,
        };
        let pool = Rc::new(NodePool::new(at, self.size));
        self.nodes.borrow_mut().insert(id, pool.clone());
        Ok(pool)
    }

    /// Requests outstanding at node `id`.
    pub fn in_flight(&self, id: NodeId) -> u64 {
        self.nodes
            .borrow()
            .get(&id)
            .map_or(0, |p| p.stats.in_flight.get())
    }

    /// Drop the pools of nodes no longer registered.
    pub fn retain(&self, keep: impl Fn(NodeId) -> bool) {
        self.nodes.borrow_mut().retain(|&id, _| keep(id));
    }
}
