//! The LB's sockets: the accept loop and one task per connection. A
//! connection reads requests, answers each, and — when it registered a node
//! with the link form — stays open as that node's liveness link until EOF.
//!
//! With a cluster secret, a REGISTER is answered `CHALLENGE:<nonce>` and
//! the node is taken in only once the next request, `AUTH:<mac>`, proves
//! the secret (see [`crate::secret`]); the challenge lives in the
//! connection, so it is single-use and dies with it.
//!
//! In proxy mode, the data requests of one read are collected into a batch
//! and forwarded together (see [`proxy`](super::proxy)); a control request
//! (METRICS, PING, ...) between them first waits for the data requests
//! before it, so every reply goes out in request order.

use super::admission;
use super::cluster;
use super::metrics;
use super::probe;
use super::protocol::{self, DataOp, Dialect, HostPort, Registration, Reply, Request};
use super::proxy::{self, Answer, MAX_BATCH};
use super::registry::NodeId;
use super::relay;
use super::state::{add, Lb};
use super::Mode;
use crate::protected;
use crate::secret;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

/// First read buffer: LB requests are a few dozen bytes.
const READ_BUF: usize = 512;
/// A read buffer that grew past this for one big request shrinks back once
/// that request is done.
const SHRINK_ABOVE: usize = 64 * 1024;
/// How long one reply write may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an advertised name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Accept connections until the LB stops.
pub async fn accept_loop(lb: Rc<Lb>, listener: TcpListener) {
    while let Some(stream) = lb.life.accept(&listener).await {
        add(&lb.counters.connections, 1);
        glommio::spawn_local(serve(lb.clone(), stream)).detach();
    }
}

/// What a connection does after a reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Continue,
    Close,
    /// Close after a framing error, without losing the error reply.
    Linger,
}

/// Longest we keep reading and discarding after a framing error.
const LINGER: Duration = Duration::from_millis(500);
/// Most bytes we discard after a framing error.
const LINGER_BYTES: usize = 64 * 1024;

/// Per-connection state.
struct Conn {
    fd: RawFd,
    peer: IpAddr,
    dialect: Option<Dialect>,
    /// The node this connection is the registration link of.
    link: Option<NodeId>,
    /// The registration waiting for its `AUTH` (secret set only).
    challenge: Option<Challenge>,
    /// The link's node address, once registered (cluster mode's leases).
    node: Option<HostPort>,
    /// The RESP version HELLO chose (cluster mode's answers).
    proto: crate::proto::Proto,
    /// The link ended with a FIN or a reset from the node's kernel.
    exited: bool,
}

/// A REGISTER the LB challenged: what it asked for, and the nonce sent.
struct Challenge {
    reg: Registration,
    addr: HostPort,
    nonce: String,
}

/// How a REGISTER or AUTH is answered.
enum Outcome {
    Ok,
    Challenge(String),
    Refused(String),
    /// A failed proof: the connection closes, so each guess costs a
    /// connection and a fresh nonce.
    RefusedClose(String),
}

/// Serve one connection until EOF, QUIT, a framing error, idleness, or
/// shutdown.
async fn serve(lb: Rc<Lb>, mut stream: TcpStream) {
    let fd = stream.as_raw_fd();
    lb.life.track(fd);
    add(&lb.counters.open, 1);
    let peer = stream
        .peer_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip().to_canonical());
    let args = &lb.cfg.args;
    // Fail closed: a peer whose address cannot be read is not local.
    let denied = protected::guards(
        args.protected_mode,
        args.bind,
        args.cluster_secret_file.is_some(),
    ) && !stream
        .peer_addr()
        .is_ok_and(|a| protected::is_local_peer(a.ip()));
    let mut conn = Conn {
        fd,
        peer,
        dialect: None,
        link: None,
        challenge: None,
        node: None,
        proto: crate::proto::Proto::Resp2,
        exited: false,
    };
    let mut buf = vec![0u8; READ_BUF];
    let mut end = 0usize;
    let mut out = Vec::new();
    let mut args = crate::proto::Args::default();
    // Once stopped: the request the stop cut in two has been read to its
    // end, so a partial request left now came after the stop.
    let mut past_cut = false;
    'conn: loop {
        if end == buf.len() {
            // The framing caps a request (4 KiB; in proxy mode --max-value
            // plus 4 KiB), so this stays bounded; it shrinks back below.
            buf.resize(buf.len() * 2, 0);
        }
        // Once the LB stops, read only what had arrived by then, and the
        // rest of the request it cut in two: see `lifecycle`.
        let budget = lb.life.budget(fd);
        let room = match budget {
            None => buf.len() - end,
            Some(0) if end == 0 || past_cut => break,
            Some(0) => buf.len() - end,
            Some(b) => b.min(buf.len() - end),
        };
        let n = match read(&lb, &conn, &mut stream, &mut buf[end..end + room]).await {
            Ok(n) if n > 0 => n,
            Ok(_) => {
                conn.exited = true;
                break;
            }
            Err(e) => {
                conn.exited = e.kind() == std::io::ErrorKind::ConnectionReset;
                break;
            }
        };
        lb.life.took(fd, n);
        end += n;
        let dialect = *conn
            .dialect
            .get_or_insert_with(|| Dialect::of_first_byte(buf[0]));
        if denied {
            // Refused at its first request, the first moment we know which
            // protocol to refuse it in; nodes registering are refused too.
            add(&lb.counters.request_errors, 1);
            encode_denied(dialect, &mut out);
            let write = stream.write_all(&out);
            if let Ok(Ok(())) =
                glommio::timer::timeout(WRITE_TIMEOUT, async { Ok(write.await) }).await
            {
                linger(&mut stream, &mut buf).await;
            }
            break;
        }
        let mut start = 0;
        let mut after = After::Continue;
        let mut batch: Vec<DataOp> = Vec::new();
        while start < end && after == After::Continue {
            // A registered node's link carries its map (MAP), which may be
            // larger than any client request.
            let framing = match conn.node {
                Some(_) => &protocol::Framing::LINK,
                None => &lb.cfg.framing,
            };
            match protocol::parse(dialect, &buf[start..end], framing, &mut args) {
                Ok(None) => break,
                Ok(Some((used, parsed))) => {
                    let at = start;
                    start += used;
                    if lb.cfg.args.mode == Mode::Cluster && dialect == Dialect::Resp {
                        let raw: Vec<&[u8]> = args.iter(&buf[at..]).collect();
                        if !raw.is_empty()
                            && cluster::answer(&lb, &mut conn.proto, &raw, &mut out).is_some()
                        {
                            add(&lb.counters.requests, 1);
                            continue;
                        }
                    }
                    match parsed {
                        None => {}
                        Some(Ok(Request::Data(op))) if lb.cfg.args.mode == Mode::Proxy => {
                            add(&lb.counters.requests, 1);
                            batch.push(op);
                            if batch.len() >= MAX_BATCH {
                                run_batch(&lb, dialect, &mut batch, &mut out).await;
                            }
                        }
                        Some(parsed) => {
                            run_batch(&lb, dialect, &mut batch, &mut out).await;
                            after = handle(&lb, &mut conn, parsed, &mut out).await;
                        }
                    }
                }
                Err(e) => {
                    run_batch(&lb, dialect, &mut batch, &mut out).await;
                    add(&lb.counters.protocol_errors, 1);
                    protocol::encode(dialect, &Reply::Error(&e.to_string()), &mut out);
                    after = After::Linger;
                }
            }
        }
        run_batch(&lb, dialect, &mut batch, &mut out).await;
        past_cut |= budget == Some(0) && start > 0;
        buf.copy_within(start..end, 0);
        end -= start;
        if buf.len() > SHRINK_ABOVE && end <= READ_BUF {
            buf.truncate(READ_BUF);
            buf.shrink_to_fit();
        }
        if !out.is_empty() {
            let write = stream.write_all(&out);
            match glommio::timer::timeout(WRITE_TIMEOUT, async { Ok(write.await) }).await {
                Ok(Ok(())) => out.clear(),
                _ => break 'conn,
            }
        }
        if after == After::Linger {
            linger(&mut stream, &mut buf).await;
        }
        if after != After::Continue {
            break;
        }
        // A client that keeps the socket full would otherwise hold the
        // executor (probes, other clients, the stop) for as long as it sends.
        glommio::yield_if_needed().await;
    }
    if let Some(id) = conn.link.take() {
        add(&lb.counters.links, -1);
        if let (true, Some(node)) = (conn.exited && !lb.life.stopping(), &conn.node) {
            super::cluster::exited(&lb, node);
        }
        // While the LB itself stops, the stop closes every link: that says
        // nothing about the node, which must stay routable for the
        // requests still draining through the proxy.
        if !lb.life.stopping() {
            let change = lb.registry.borrow_mut().unlink(id, lb.now());
            change.into_iter().for_each(|c| lb.log(c));
        }
    }
    if lb.life.stopping() {
        // Every reply must reach the client before the fd closes.
        crate::roles::lifecycle::close_drained(stream).await;
    } else {
        let _ = stream.close().await;
    }
    lb.life.untrack(fd);
    add(&lb.counters.open, -1);
}

/// What the LB says, after `DENIED`, to a client protected mode refuses.
pub const DENIED_TEXT: &str = "the LB is running in protected mode: it is bound beyond \
     loopback with no cluster secret, so it serves only clients from 127.0.0.1 and ::1. \
     Give the LB and its nodes --cluster-secret-file (see docs/SECURITY.md), bind it to \
     127.0.0.1, or restart it with --protected-mode no";

/// The protected-mode refusal in `dialect`: a RESP `-DENIED` error (the
/// code Redis uses), `ERROR:DENIED ...` or `{"ok":false,"error":"DENIED ..."}`.
fn encode_denied(dialect: Dialect, out: &mut Vec<u8>) {
    let text = format!("DENIED {DENIED_TEXT}");
    match dialect {
        // Our encoder would prefix ERR; the code is the error's first word.
        Dialect::Resp => out.extend_from_slice(format!("-{text}\r\n").as_bytes()),
        Dialect::Line | Dialect::Json => protocol::encode(dialect, &Reply::Error(&text), out),
    }
}

/// Half-close and discard what the client is still sending, briefly.
///
/// Closing a socket with unread input makes the kernel send a reset, and a
/// reset can destroy our error reply in the client's receive queue before
/// it reads it; a client that streamed garbage would then see only
/// "connection reset". So: FIN first, then drain until EOF or the limits.
async fn linger(stream: &mut TcpStream, scratch: &mut [u8]) {
    if stream.shutdown(std::net::Shutdown::Write).await.is_err() {
        return;
    }
    let drain = async {
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        Ok(())
    };
    let _ = glommio::timer::timeout(LINGER, drain).await;
}

/// One read; an error on idle timeout. Links wait forever: they are idle
/// by design, and their end is exactly what we are waiting for.
async fn read(
    lb: &Lb,
    conn: &Conn,
    stream: &mut TcpStream,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let idle = lb.cfg.idle_timeout.filter(|_| conn.link.is_none());
    match idle {
        None => stream.read(buf).await,
        // glommio's own read timeout misbehaves after a dropped read, so the
        // timer wraps the read instead; the connection closes either way.
        Some(d) => match glommio::timer::timeout(d, async { Ok(stream.read(buf).await) }).await {
            Ok(r) => r,
            Err(_) => {
                add(&lb.counters.idle_closed, 1);
                Err(std::io::ErrorKind::TimedOut.into())
            }
        },
    }
}

/// Forward the pending data requests (if any) and append their replies, in
/// order, in the client's dialect.
async fn run_batch(lb: &Rc<Lb>, dialect: Dialect, batch: &mut Vec<DataOp>, out: &mut Vec<u8>) {
    if batch.is_empty() {
        return;
    }
    let ops: Rc<[DataOp]> = std::mem::take(batch).into();
    let answers = proxy::forward(lb, ops.clone()).await;
    for (op, answer) in ops.iter().zip(&answers) {
        match answer {
            Answer::Reply(r) => match relay::to_client(op, r) {
                Ok(reply) => protocol::encode(dialect, &reply, out),
                // `forward` only accepts replies that fit their request.
                Err(e) => protocol::encode(dialect, &Reply::Error(&e.to_string()), out),
            },
            Answer::NoHealthyNodes => {
                add(&lb.counters.proxy_errors, 1);
                protocol::encode(dialect, &Reply::NoHealthyNodes, out);
            }
            Answer::Failed(why) => {
                add(&lb.counters.proxy_errors, 1);
                protocol::encode(dialect, &Reply::Error(why), out);
            }
        }
    }
}

/// Answer one request into `out`.
async fn handle(
    lb: &Rc<Lb>,
    conn: &mut Conn,
    parsed: protocol::Parsed,
    out: &mut Vec<u8>,
) -> After {
    let dialect = conn.dialect.unwrap_or(Dialect::Line);
    add(&lb.counters.requests, 1);
    // A challenge answers only the request right after it.
    let challenge = conn.challenge.take();
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            add(&lb.counters.request_errors, 1);
            protocol::encode(dialect, &Reply::Error(&e.to_string()), out);
            return After::Continue;
        }
    };
    let req = match req {
        Request::Register(r) => {
            let o = registration(lb, conn, dialect, r).await;
            return answer(lb, dialect, o, out);
        }
        Request::Auth(proof) => {
            let o = authenticate(lb, conn, challenge, &proof).await;
            return answer(lb, dialect, o, out);
        }
        other => other,
    };
    let mut reply = |r: Reply<'_>| protocol::encode(dialect, &r, out);
    match req {
        Request::Lease => {
            let mut reg = lb.registry.borrow_mut();
            match reg.lease() {
                Some(addr) => reply(Reply::Node(addr)),
                None => reply(Reply::NoHealthyNodes),
            }
        }
        Request::LeaseKey(key) if lb.cfg.args.mode == Mode::Cluster => {
            let slot = crate::ownership::slot_for(&key);
            let slots = lb.slots.borrow();
            match slots.published().owner_shard(slot) {
                Some(s) => {
                    lb.registry.borrow_mut().count_lease(&s.node);
                    reply(Reply::Node(&s.addr));
                }
                None => {
                    lb.registry.borrow_mut().count_failed_lease();
                    reply(Reply::Error(crate::cluster::reply::UNSERVED));
                }
            }
        }
        Request::LeaseKey(key) => {
            let mut reg = lb.registry.borrow_mut();
            match reg.lease_for(&key) {
                Some(addr) => reply(Reply::Node(addr)),
                None => reply(Reply::NoHealthyNodes),
            }
        }
        // Answered above.
        Request::Register(_) | Request::Auth(_) => {}
        Request::Renew(r) => match (&conn.node, lb.cfg.args.mode) {
            (Some(node), Mode::Cluster) => {
                let text = super::cluster::renew(lb, node, r);
                reply(Reply::Grant(&text));
            }
            _ => {
                add(&lb.counters.request_errors, 1);
                reply(Reply::Error(
                    "RENEW is for the registration link of a node, on an LB run with --mode cluster",
                ));
            }
        },
        Request::Map(map) => match (&conn.node, lb.cfg.args.mode) {
            (Some(node), Mode::Cluster) => {
                super::cluster::adopt(lb, node, *map);
                reply(Reply::Ok);
            }
            _ => {
                add(&lb.counters.request_errors, 1);
                reply(Reply::Error(
                    "MAP is for the registration link of a node, on an LB run with --mode cluster",
                ));
            }
        },
        Request::Metrics => reply(Reply::Json(&metrics::render_metrics(lb))),
        Request::Info => reply(Reply::Info(&metrics::render_info(lb))),
        Request::Nodes => reply(Reply::Lines(&metrics::render_nodes(lb))),
        Request::Ping => reply(Reply::Pong),
        Request::Handshake => reply(Reply::Ok),
        Request::Quit => {
            reply(Reply::Ok);
            return After::Close;
        }
        // Proxy mode forwards these before they get here.
        Request::Data(op) => {
            add(&lb.counters.request_errors, 1);
            reply(Reply::Error(&format!(
                "{} is not served here: this LB hands out leases (--mode redirect); \
                 LEASE a node and send it there, or run the LB with --mode proxy",
                op.name()
            )));
        }
    }
    After::Continue
}

/// Encode a REGISTER's or AUTH's outcome.
fn answer(lb: &Lb, dialect: Dialect, o: Outcome, out: &mut Vec<u8>) -> After {
    let (reply, after) = match &o {
        Outcome::Ok => (Reply::Ok, After::Continue),
        Outcome::Challenge(n) => (Reply::Challenge(n), After::Continue),
        Outcome::Refused(m) => (Reply::Error(m), After::Continue),
        Outcome::RefusedClose(m) => (Reply::Error(m), After::Close),
    };
    if matches!(o, Outcome::Refused(_) | Outcome::RefusedClose(_)) {
        add(&lb.counters.request_errors, 1);
    }
    protocol::encode(dialect, &reply, out);
    after
}

/// A REGISTER: without a secret, taken in at once if it names the
/// connection's own IP; with one, checked and answered with a challenge.
async fn registration(lb: &Rc<Lb>, conn: &mut Conn, dialect: Dialect, r: Registration) -> Outcome {
    let addr = match r.addr(conn.peer) {
        Ok(a) => a,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    if lb.cfg.args.cluster_secret_file.is_none() {
        if let Err(e) = admission::check_peer(&addr, conn.peer) {
            return Outcome::Refused(e.to_string());
        }
        return match admit(lb, conn, addr, &r) {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Refused(e),
        };
    }
    if r.host.is_none() {
        return Outcome::Refused(format!(
            "this LB requires the cluster secret, which a bare REGISTER:<port> cannot \
             prove: start the node with --lb HOST:PORT and {}",
            secret::FLAG
        ));
    }
    if dialect != Dialect::Line {
        return Outcome::Refused(format!(
            "this LB requires the cluster secret: register with the line form \
             (cachectl node --lb HOST:PORT {} FILE answers its challenge)",
            secret::FLAG
        ));
    }
    // An IP literal is checked now; a name only once the proof is in, so
    // no unauthenticated request can queue lookups on the resolver thread.
    if let Some(Err(e)) = addr.ip().map(admission::check_ip) {
        return Outcome::Refused(e.to_string());
    }
    // Checked here too, so a full LB says so before the exchange; the
    // check that counts is the one in `admit`.
    if let Err(e) = lb.registry.borrow().check_room(&addr, conn.peer) {
        return Outcome::Refused(e.to_string());
    }
    let nonce = match secret::nonce() {
        Ok(n) => secret::to_hex(&n),
        Err(e) => return Outcome::Refused(format!("cannot make a challenge: {e}")),
    };
    conn.challenge = Some(Challenge {
        reg: r,
        addr,
        nonce: nonce.clone(),
    });
    Outcome::Challenge(nonce)
}

/// An AUTH: take the challenged node in if the proof verifies and its
/// address resolves to addresses a node can have.
async fn authenticate(lb: &Rc<Lb>, conn: &mut Conn, c: Option<Challenge>, proof: &str) -> Outcome {
    let Some(key) = &lb.cfg.args.cluster_secret_file else {
        return Outcome::Refused(
            "AUTH answers a registration challenge, and this LB sends none \
             (it has no --cluster-secret-file)"
                .into(),
        );
    };
    let Some(c) = c else {
        return Outcome::RefusedClose(
            "AUTH must answer the CHALLENGE of the REGISTER just before it".into(),
        );
    };
    match secret::check_register_proof(
        key,
        c.nonce.as_bytes(),
        &c.addr,
        c.reg.cores,
        &c.reg.core_ports,
        proof,
    ) {
        Ok(()) => {
            if let Err(e) = admission::resolve(&c.addr, RESOLVE_TIMEOUT).await {
                return Outcome::Refused(e.to_string());
            }
            match admit(lb, conn, c.addr, &c.reg) {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::Refused(e),
            }
        }
        Err(e) => {
            log::warn!("registration of {} from {} refused: {e}", c.addr, conn.peer);
            Outcome::RefusedClose(format!("cluster authentication failed: {e}"))
        }
    }
}

/// Add or refresh a node within the caps; probe it at once if it is not
/// yet leasable.
fn admit(lb: &Rc<Lb>, conn: &mut Conn, addr: HostPort, r: &Registration) -> Result<(), String> {
    let now = lb.now();
    let (id, needs_probe, change) = {
        let mut reg = lb.registry.borrow_mut();
        reg.check_room(&addr, conn.peer)
            .map_err(|e| e.to_string())?;
        let (id, probe, change) = reg.register(addr.clone(), conn.peer, r.cores, r.link, now);
        reg.set_core_ports(id, r.core_ports.clone());
        (id, probe, change)
    };
    if r.link {
        conn.node = Some(addr);
    }
    if let Some(c) = change {
        lb.log(c);
    }
    if r.link {
        // A link that registers again gives up its old claim only after the
        // new one is counted, so repeating the same address never drops
        // the node's link count to zero on the way.
        if let Some(old) = conn.link.replace(id) {
            let c = lb.registry.borrow_mut().unlink(old, now);
            c.into_iter().for_each(|c| lb.log(c));
        } else {
            add(&lb.counters.links, 1);
            keepalive(conn.fd);
        }
    }
    if needs_probe {
        glommio::spawn_local(probe::probe_node(lb.clone(), id)).detach();
    }
    Ok(())
}

/// Turn on TCP keepalive for a link: a node whose host vanished without a
/// FIN would otherwise hold its link (and its registry entry) open forever.
fn keepalive(fd: RawFd) {
    // SAFETY: `fd` is the open socket of the connection being served; the
    // borrow ends within this call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(10))
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(&fd).set_tcp_keepalive(&ka) {
        log::warn!("cannot enable keepalive on a registration link: {e}");
    }
}
