//! The connections a core serves, for CLIENT LIST, CLIENT INFO and
//! CLIENT KILL. Each connection registers an [`Entry`] on its core when it
//! starts and removes it when it ends; the connection refreshes the entry
//! once per read (its last command and activity), so listing costs the
//! connections nothing per command.

use super::session::Session;
use crate::cmd::error::show;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::rc::Rc;

/// One connection, as CLIENT LIST shows it.
#[derive(Debug)]
pub struct Entry {
    /// CLIENT ID.
    pub id: u64,
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// Our address it connected to.
    pub laddr: Option<SocketAddr>,
    /// The socket.
    pub fd: i32,
    /// Node-clock ms when it connected.
    pub created_ms: u64,
    /// Node-clock ms of its last read.
    pub active_ms: Cell<u64>,
    /// Its last command's full name (`client|list`).
    pub cmd: Cell<&'static str>,
    /// Bytes its buffers hold, as counted towards `maxmemory-clients`
    /// (see `node::climits`).
    pub mem: Cell<usize>,
    /// CLIENT NO-EVICT on: client eviction passes it over.
    pub no_evict: Cell<bool>,
    /// Closed by client eviction; its connection is ending.
    pub evicted: Cell<bool>,
    /// Name, library name and version, RESP version, MULTI depth.
    info: RefCell<Info>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Info {
    name: Option<Vec<u8>>,
    lib_name: Option<Vec<u8>>,
    lib_ver: Option<Vec<u8>>,
    resp: i64,
    multi: i64,
}

impl Entry {
    /// A connection that just started.
    pub fn new(
        id: u64,
        addr: Option<SocketAddr>,
        laddr: Option<SocketAddr>,
        fd: i32,
        now: u64,
    ) -> Entry {
        Entry {
            id,
            addr,
            laddr,
            fd,
            created_ms: now,
            active_ms: Cell::new(now),
            cmd: Cell::new("NULL"),
            mem: Cell::new(0),
            no_evict: Cell::new(false),
            evicted: Cell::new(false),
            info: RefCell::new(Info {
                resp: 2,
                multi: -1,
                ..Info::default()
            }),
        }
    }

    /// Refresh from the session after a read.
    pub fn sync(&self, sess: &Session) {
        self.active_ms.set(sess.active_ms.max(self.created_ms));
        if let Some(cmd) = sess.last_cmd {
            self.cmd.set(cmd);
        }
        let c = &sess.client;
        self.no_evict.set(c.no_evict);
        let mut info = self.info.borrow_mut();
        // Names change rarely: compare before copying.
        if info.name != c.name {
            info.name.clone_from(&c.name);
        }
        if info.lib_name != c.lib_name || info.lib_ver != c.lib_ver {
            info.lib_name.clone_from(&c.lib_name);
            info.lib_ver.clone_from(&c.lib_ver);
        }
        info.resp = c.proto.version();
        info.multi = sess.multi.as_ref().map_or(-1, |q| q.len() as i64);
    }

    /// The CLIENT LIST line (without its newline), Redis 7's fields; the
    /// buffer figures this node does not track are 0, and `tot-mem` is what
    /// its buffers hold.
    pub fn line(&self, now: u64) -> String {
        let info = self.info.borrow();
        let text = |v: &Option<Vec<u8>>| v.as_deref().map(show).unwrap_or_default();
        let addr = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        let mut o = String::with_capacity(256);
        let _ = write!(
            o,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 \
             ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
             omem=0 tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            addr(self.addr),
            addr(self.laddr),
            self.fd,
            text(&info.name),
            now.saturating_sub(self.created_ms) / 1000,
            now.saturating_sub(self.active_ms.get()) / 1000,
            flags(info.multi >= 0, self.no_evict.get()),
            info.multi,
            self.mem.get(),
            self.cmd.get(),
            info.resp,
            text(&info.lib_name),
            text(&info.lib_ver),
        );
        o
    }
}

/// CLIENT LIST's flags: `x` in MULTI, `e` under NO-EVICT, else `N`.
fn flags(multi: bool, no_evict: bool) -> &'static str {
    match (multi, no_evict) {
        (true, true) => "xe",
        (true, false) => "x",
        (false, true) => "e",
        (false, false) => "N",
    }
}

/// The connections of one core, by id.
#[derive(Default)]
pub struct Registry {
    by_id: RefCell<HashMap<u64, Rc<Entry>>>,
}

impl Registry {
    /// Register a connection.
    pub fn add(&self, e: Rc<Entry>) {
        self.by_id.borrow_mut().insert(e.id, e);
    }

    /// Connection `id`'s entry.
    pub fn get(&self, id: u64) -> Option<Rc<Entry>> {
        self.by_id.borrow().get(&id).cloned()
    }

    /// A connection ended.
    pub fn remove(&self, id: u64) {
        self.by_id.borrow_mut().remove(&id);
    }

    /// The connection whose buffers hold the most, of those client
    /// eviction may close (not NO-EVICT, not already evicted, holding
    /// something). A scan: it runs only while the node is over
    /// `maxmemory-clients`.
    pub fn biggest_evictable(&self) -> Option<Rc<Entry>> {
        self.by_id
            .borrow()
            .values()
            .filter(|e| !e.no_evict.get() && !e.evicted.get() && e.mem.get() > 0)
            .max_by_key(|e| e.mem.get())
            .cloned()
    }

    /// The lines of the connections `filter` keeps, by id.
    pub fn lines(&self, filter: &Filter, now: u64) -> Vec<(u64, String)> {
        let map = self.by_id.borrow();
        let mut v: Vec<_> = map
            .values()
            .filter(|e| filter.keeps(e, now))
            .map(|e| (e.id, e.line(now)))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// Close the connections `filter` keeps; how many.
    pub fn kill(&self, filter: &Filter, now: u64) -> usize {
        let map = self.by_id.borrow();
        let mut n = 0;
        for e in map.values().filter(|e| filter.keeps(e, now)) {
            // The connection's own read then ends and it closes as if the
            // client had gone; the fd stays its to close.
            // SAFETY: `e.fd` is open: the entry is removed before its
            // connection closes the socket, on this same thread.
            unsafe { libc::shutdown(e.fd, libc::SHUT_RDWR) };
            n += 1;
        }
        n
    }
}

/// Which connections a CLIENT LIST or KILL means.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// ID id [id ...]
    pub ids: Option<Vec<u64>>,
    /// ADDR ip:port
    pub addr: Option<String>,
    /// LADDR ip:port
    pub laddr: Option<String>,
    /// Not this connection (SKIPME yes, KILL's default).
    pub skip: Option<u64>,
    /// MAXAGE seconds: older than this.
    pub max_age: Option<u64>,
    /// TYPE pubsub / master / replica: none of those here.
    pub none: bool,
}

impl Filter {
    fn keeps(&self, e: &Entry, now: u64) -> bool {
        let addr = |a: Option<SocketAddr>| a.map(|a| a.to_string());
        !self.none
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&e.id))
            && self
                .addr
                .as_ref()
                .is_none_or(|a| addr(e.addr).as_ref() == Some(a))
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| addr(e.laddr).as_ref() == Some(a))
            && self.skip != Some(e.id)
            && self
                .max_age
                .is_none_or(|age| now.saturating_sub(e.created_ms) / 1000 >= age)
    }
}

/// CLIENT LIST's filters: [TYPE t] [ID id [id ...]].
///
/// # Errors
/// Redis's error text.
pub fn list_filter(args: &[&[u8]]) -> Result<Filter, String> {
    let mut f = Filter::default();
    match args {
        [] => {}
        [t, kind] if t.eq_ignore_ascii_case(b"type") => {
            match kind.to_ascii_lowercase().as_slice() {
                b"normal" => {}
                b"master" | b"replica" | b"slave" | b"pubsub" => f.none = true,
                _ => return Err(format!("ERR Unknown client type '{}'", show(kind))),
            }
        }
        [i, ids @ ..] if i.eq_ignore_ascii_case(b"id") && !ids.is_empty() => {
            let ids: Option<Vec<u64>> = ids
                .iter()
                .map(|id| {
                    crate::store::parse_i64(id)
                        .filter(|&n| n > 0)
                        .map(|n| n as u64)
                })
                .collect();
            f.ids = Some(ids.ok_or("ERR Invalid client ID")?);
        }
        _ => return Err("ERR syntax error".into()),
    }
    Ok(f)
}

/// CLIENT KILL's forms: the old `KILL ip:port`, or filter pairs (ID, ADDR,
/// LADDR, TYPE, USER, SKIPME, MAXAGE). Returns the filter and whether it
/// is the old form (which answers OK or "No such client").
///
/// # Errors
/// Redis's error text.
pub fn kill_filter(args: &[&[u8]], me: u64) -> Result<(Filter, bool), String> {
    if let [addr] = args {
        let f = Filter {
            addr: Some(String::from_utf8_lossy(addr).into_owned()),
            ..Filter::default()
        };
        return Ok((f, true));
    }
    if !args.len().is_multiple_of(2) {
        return Err("ERR syntax error".into());
    }
    let mut f = Filter {
        skip: Some(me),
        ..Filter::default()
    };
    for pair in args.chunks_exact(2) {
        let (k, v) = (pair[0].to_ascii_lowercase(), pair[1]);
        let text = || String::from_utf8_lossy(v).into_owned();
        match k.as_slice() {
            b"id" => match crate::store::parse_i64(v).filter(|&n| n > 0) {
                Some(n) => f.ids = Some(vec![n as u64]),
                None => return Err("ERR client-id should be greater than 0".into()),
            },
            b"addr" => f.addr = Some(text()),
            b"laddr" => f.laddr = Some(text()),
            b"type" => match v.to_ascii_lowercase().as_slice() {
                b"normal" => {}
                b"master" | b"replica" | b"slave" | b"pubsub" => f.none = true,
                _ => return Err(format!("ERR Unknown client type '{}'", show(v))),
            },
            b"user" => {
                if v != b"default" {
                    return Err(format!("ERR No such user '{}'", show(v)));
                }
            }
            b"skipme" => match v.to_ascii_lowercase().as_slice() {
                b"yes" => f.skip = Some(me),
                b"no" => f.skip = None,
                _ => return Err("ERR syntax error".into()),
            },
            b"maxage" => match crate::store::parse_i64(v) {
                Some(n) if n >= 0 => f.max_age = Some(n as u64),
                _ => return Err("ERR syntax error".into()),
            },
            _ => return Err("ERR syntax error".into()),
        }
    }
    Ok((f, false))
}

/// CLIENT LIST, CLIENT INFO and CLIENT KILL: gathered from, or done on,
/// every core.
pub async fn run(
    core: &super::core::Core,
    sess: &Session,
    cmd: crate::cmd::NodeCmd,
    args: &[&[u8]],
    proto: crate::proto::Proto,
    out: &mut Vec<u8>,
) {
    use crate::cmd::NodeCmd;
    use crate::proto::Reply;
    use futures_channel::oneshot;
    let now = core.now();
    let me = sess.client.id;
    if let Some(e) = core.conns.get(me) {
        e.sync(sess);
    }
    let mut w = Reply::new(out, proto);
    match cmd {
        NodeCmd::ClientInfo => {
            let line = core.conns.get(me).map(|e| e.line(now)).unwrap_or_default();
            w.verbatim(format!("{line}\n").as_bytes());
        }
        NodeCmd::ClientList => {
            let filter = match list_filter(&args[2..]) {
                Ok(f) => f,
                Err(e) => return w.error(&e),
            };
            let mut pending = Vec::new();
            for peer in (0..core.n).filter(|&p| p != core.id) {
                let (tx, rx) = oneshot::channel();
                let hop = super::hop::Hop::Clients {
                    filter: filter.clone(),
                    reply: tx,
                };
                if core.mesh.send_to(peer, hop).is_ok() {
                    pending.push(rx);
                }
            }
            let mut lines = core.conns.lines(&filter, now);
            for rx in pending {
                lines.extend(rx.await.unwrap_or_default());
            }
            lines.sort_by_key(|(id, _)| *id);
            let mut text = String::new();
            for (_, l) in lines {
                text.push_str(&l);
                text.push('\n');
            }
            w.verbatim(text.as_bytes());
        }
        NodeCmd::ClientKill => {
            let (filter, old_form) = match kill_filter(&args[2..], me) {
                Ok(f) => f,
                Err(e) => return w.error(&e),
            };
            let mut pending = Vec::new();
            for peer in (0..core.n).filter(|&p| p != core.id) {
                let (tx, rx) = oneshot::channel();
                let hop = super::hop::Hop::Kill {
                    filter: filter.clone(),
                    reply: tx,
                };
                if core.mesh.send_to(peer, hop).is_ok() {
                    pending.push(rx);
                }
            }
            let mut killed = core.conns.kill(&filter, now);
            for rx in pending {
                killed += rx.await.unwrap_or(0);
            }
            match (old_form, killed) {
                (true, 0) => w.error("ERR No such client"),
                (true, _) => w.ok(),
                (false, n) => w.int(n as i64),
            }
        }
        _ => unreachable!("only the CLIENT commands the node answers"),
    }
}
