//! The node's registration link to the LB (`--lb HOST:PORT`).
//!
//! A plain thread with blocking sockets, off the data path: connect, send
//! `REGISTER:<host>:<port>:<cores>\n`, answer the LB's `CHALLENGE:<nonce>`
//! with `AUTH:<mac>` when it holds a cluster secret (see
//! [`crate::secret`]), expect `OK`, then hold the connection
//! open. The LB treats its close as "this node is gone" (the kernel closes
//! it when our process dies, however it dies), and we treat its close as
//! "the LB is gone": retry with capped exponential backoff, forever, so an
//! LB that restarts, or a node that was evicted, re-registers without an
//! operator. The node serves clients whether or not the link is up.
//!
//! On shutdown the link is closed first, so the LB stops leasing this node
//! while it drains its last connections. In cluster mode the node first
//! *leaves*: on SIGTERM it keeps serving and renewing, marked leaving,
//! while the LB moves its slots off it warm, and only once it holds none
//! (or after [`LEAVE_TIMEOUT`]) ends its lease, closes the link and lets
//! the cores stop.

use super::routing::Routing;
use crate::addr::HostPort;
use crate::cluster::wire;
use crate::link::register_line;
use crate::secret::{self, ClusterSecret};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// First retry delay; doubles per failure.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Connect and reply deadline for one registration attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often cluster mode renews its ownership lease: well within any
/// lease the LB grants, and how soon a new map reaches the node.
const RENEW_EVERY: Duration = Duration::from_millis(200);
/// How often a blocked link read wakes up to check for shutdown.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How long a stopping cluster node waits for its slots to move off it
/// before it goes anyway (their keys not yet moved are then lost): within
/// the 30 s a supervisor such as Kubernetes grants by default.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(25);

/// What to register, and where.
#[derive(Clone, Debug)]
pub struct Link {
    /// The LB's address.
    pub lb: HostPort,
    /// The address clients should use, if set by `--advertise`.
    pub advertise: Option<HostPort>,
    /// The address the node's listeners are bound to (port resolved).
    pub bound: SocketAddr,
    /// Executor cores.
    pub cores: usize,
    /// The cluster secret, answering the LB's challenge.
    pub secret: Option<ClusterSecret>,
    /// Cluster mode: the routing the link installs maps into and renews
    /// the lease of, and each core's own port.
    pub cluster: Option<(Arc<Routing>, Vec<u16>)>,
    /// Time zero of the node clock, which the lease is kept on.
    pub clock: Instant,
}

/// Why one registration attempt ended.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, io::Error),
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    #[error("link broke: {0}")]
    Io(#[from] io::Error),
    #[error("LB refused the registration: {0}")]
    Refused(String),
    #[error("LB closed the connection before replying")]
    NoReply,
    #[error("LB asks for the cluster secret: start the node with {}", secret::FLAG)]
    NoSecret,
}

/// How a registered link ended.
enum Ended {
    /// The LB closed it (LB stopped or restarted).
    LbClosed,
    /// We are shutting down.
    Stopping,
}

/// Start the link thread; it runs until `signal` (SIGTERM, SIGINT or
/// SHUTDOWN) is set. In cluster mode it sets `stop`, which the cores
/// watch, once the node has left (see [`renew_loop`]); otherwise the two
/// are one flag.
///
/// # Errors
/// The thread could not be spawned.
pub fn spawn(
    link: Link,
    signal: Arc<AtomicBool>,
    again: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("cachectl-lb-link".into())
        .spawn(move || {
            run(&link, &signal, &again);
            stop.store(true, Ordering::SeqCst);
        })
}

/// `again`: a second stop signal, which cuts a leave short.
fn run(link: &Link, stop: &AtomicBool, again: &AtomicBool) {
    let mut backoff = BACKOFF_MIN;
    // The last problem logged, so a retry that fails the same way stays quiet.
    let mut last_problem: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        match session(link, stop, again) {
            Ok(Ended::Stopping) => return,
            Ok(Ended::LbClosed) => {
                log::warn!(
                    "LB {} closed the registration link; re-registering",
                    link.lb
                );
                backoff = BACKOFF_MIN;
                last_problem = None;
            }
            Err(e) => {
                let msg = e.to_string();
                if last_problem.as_deref() != Some(msg.as_str()) {
                    log::warn!(
                        "registering with LB {}: {msg}; still serving, retrying every {:?} or less",
                        link.lb,
                        BACKOFF_MAX
                    );
                    last_problem = Some(msg);
                }
            }
        }
        sleep_unless_stopped(backoff, stop);
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection: register, then hold the link until it ends.
fn session(link: &Link, stop: &AtomicBool, again: &AtomicBool) -> Result<Ended, LinkError> {
    let lb_addr = (link.lb.host.as_str(), link.lb.port)
        .to_socket_addrs()
        .and_then(|mut a| {
            a.next()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
        })
        .map_err(|e| LinkError::Resolve(link.lb.to_string(), e))?;
    let stream =
        TcpStream::connect_timeout(&lb_addr, ATTEMPT_TIMEOUT).map_err(LinkError::Connect)?;
    stream.set_nodelay(true)?;
    // Keepalive closes the link if the LB's host vanishes without a FIN;
    // otherwise we would wait on a dead connection forever.
    let sock = socket2::SockRef::from(&stream);
    sock.set_tcp_keepalive(
        &socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(10))
            .with_interval(Duration::from_secs(5))
            .with_retries(3),
    )?;
    let me = advertised(link, stream.local_addr()?.ip());
    let ports = link.cluster.as_ref().map_or(&[][..], |(_, p)| &p[..]);
    let line = register_line(&me, link.cores, ports);
    (&stream).write_all(line.as_bytes())?;
    stream.set_read_timeout(Some(ATTEMPT_TIMEOUT))?;
    let mut reader = BufReader::new(&stream);
    let mut reply = read_reply(&mut reader)?;
    if let Some(nonce) = reply
        .strip_prefix(secret::CHALLENGE)
        .and_then(|r| r.strip_prefix(':'))
    {
        let key = link.secret.as_ref().ok_or(LinkError::NoSecret)?;
        let proof = secret::register_proof(key, nonce.as_bytes(), &me, link.cores as u32, ports);
        (&stream).write_all(format!("{}:{proof}\n", secret::AUTH).as_bytes())?;
        reply = read_reply(&mut reader)?;
    } else if link.secret.is_some() && reply == "OK" {
        log::warn!(
            "LB {} admitted us without asking for the cluster secret: it runs without {}",
            link.lb,
            secret::FLAG
        );
    }
    if reply != "OK" {
        return Err(LinkError::Refused(reply.chars().take(200).collect()));
    }
    log::info!(
        "registered with LB {} as {me} ({} cores)",
        link.lb,
        link.cores
    );
    if let Some((routing, _)) = &link.cluster {
        report_map(link, routing, &stream, &mut reader)?;
        return renew_loop(link, routing, &stream, reader, stop, again);
    }
    // Hold the link: outside cluster mode the LB sends nothing more, so
    // any bytes are read and ignored.
    stream.set_read_timeout(Some(STOP_POLL))?;
    let mut scratch = [0u8; 512];
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return Ok(Ended::Stopping);
        }
        match io::Read::read(&mut reader, &mut scratch) {
            Ok(0) => return Ok(Ended::LbClosed),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Cluster mode: renew the ownership lease every [`RENEW_EVERY`], telling
/// the LB the epoch every core applies, and install the newer maps its
/// grants carry. The lease runs from when each RENEW was *sent* (see
/// `cluster::wire`).
///
/// On a stop the node leaves: its renewals say `leaving`, so the LB moves
/// its slots to the other nodes warm while it serves on, and once its map
/// gives it no slot (or after [`LEAVE_TIMEOUT`]) the lease ends before
/// the link closes, so the LB's at-once hand-off of a closed link never
/// meets a node that still serves.
fn renew_loop(
    link: &Link,
    routing: &Routing,
    stream: &TcpStream,
    mut reader: BufReader<&TcpStream>,
    stop: &AtomicBool,
    again: &AtomicBool,
) -> Result<Ended, LinkError> {
    stream.set_read_timeout(Some(ATTEMPT_TIMEOUT))?;
    let now = || link.clock.elapsed().as_millis() as u64;
    let mut leaving: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            let since = *leaving.get_or_insert_with(|| {
                log::info!(
                    "stopping: moving this node's slots to the others first (at most {} s; \
                     signal again to stop at once, losing the keys not yet moved)",
                    LEAVE_TIMEOUT.as_secs()
                );
                routing.leave();
                Instant::now()
            });
            let done = routing.holds_nothing();
            let hurry = again.load(Ordering::Relaxed);
            if done || hurry || since.elapsed() > LEAVE_TIMEOUT {
                match (done, hurry) {
                    (true, _) => log::info!("every slot has moved off this node"),
                    (false, true) => log::warn!(
                        "asked again to stop: leaving now; the keys of slots not yet moved are lost"
                    ),
                    (false, false) => log::warn!(
                        "slots still here after {} s: leaving anyway; their keys not yet moved are lost",
                        LEAVE_TIMEOUT.as_secs()
                    ),
                }
                routing.end_lease();
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return Ok(Ended::Stopping);
            }
        }
        let sent = now();
        (&*stream).write_all(wire::renew_line(routing.renewal()).as_bytes())?;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(Ended::LbClosed);
        }
        match wire::parse_grant(line.trim()) {
            Ok(g) => {
                if let Some(map) = g.map {
                    routing.install(map);
                }
                if g.lease_ms > 0 {
                    routing.extend_lease(sent.saturating_add(g.lease_ms));
                }
            }
            Err(e) => log::warn!("LB {}: refusing its renewal reply: {e}", link.lb),
        }
        match leaving {
            Some(_) => std::thread::sleep(RENEW_EVERY),
            None => sleep_unless_stopped(RENEW_EVERY, stop),
        }
    }
}

/// Cluster mode: tell the LB the map this node serves by, if it has one,
/// so an LB that restarted carries it on instead of reshuffling the slots
/// (`lb::slots::Slots::adopt`). An LB that refuses it is logged; the link
/// goes on.
fn report_map(
    link: &Link,
    routing: &Routing,
    stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
) -> Result<(), LinkError> {
    let view = routing.view();
    if view.map.epoch() == 0 {
        return Ok(());
    }
    (&*stream).write_all(wire::map_line(&view.map).as_bytes())?;
    let reply = read_reply(reader)?;
    if reply != "OK" {
        log::warn!(
            "LB {} refused this node's map (epoch {}): {}",
            link.lb,
            view.map.epoch(),
            reply.chars().take(200).collect::<String>()
        );
    }
    Ok(())
}

/// One reply line, trimmed.
fn read_reply(reader: &mut BufReader<&TcpStream>) -> Result<String, LinkError> {
    let mut reply = String::new();
    if reader.read_line(&mut reply)? == 0 {
        return Err(LinkError::NoReply);
    }
    Ok(reply.trim().to_string())
}

/// The address sent to the LB: `--advertise`, else the bound address; a
/// wildcard bind (0.0.0.0 / ::) advertises the local IP of the link
/// connection instead, which is the address the LB's network reaches us on.
fn advertised(link: &Link, link_ip: IpAddr) -> HostPort {
    advertised_addr(link.advertise.as_ref(), link.bound, Some(link_ip))
}

/// `--advertise`, else `bound`, with a wildcard bound IP replaced by
/// `link_ip` when one is known.
pub fn advertised_addr(
    advertise: Option<&HostPort>,
    bound: SocketAddr,
    link_ip: Option<IpAddr>,
) -> HostPort {
    if let Some(a) = advertise {
        return a.clone();
    }
    let ip = match link_ip {
        Some(ip) if bound.ip().is_unspecified() => ip,
        _ => bound.ip(),
    };
    HostPort {
        host: ip.to_string(),
        port: bound.port(),
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(STOP_POLL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn link(lb: SocketAddr, bound: &str) -> Link {
        Link {
            lb: HostPort::new(&lb.ip().to_string(), lb.port()).unwrap(),
            advertise: None,
            bound: bound.parse().unwrap(),
            cores: 3,
            secret: None,
            cluster: None,
            clock: Instant::now(),
        }
    }

    #[test]
    fn advertises_bound_address_or_link_ip_for_wildcards() {
        let l = link("127.0.0.1:1".parse().unwrap(), "127.0.0.1:7000");
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(advertised(&l, ip).to_string(), "127.0.0.1:7000");
        let l = link("127.0.0.1:1".parse().unwrap(), "0.0.0.0:7000");
        assert_eq!(advertised(&l, ip).to_string(), "10.0.0.7:7000");
        let mut l = l;
        l.advertise = Some(HostPort::parse("cache-1:9000").unwrap());
        assert_eq!(advertised(&l, ip).to_string(), "cache-1:9000");
    }

    /// A fake LB that accepts, checks the line, answers, and hangs up.
    #[test]
    fn registers_and_re_registers_after_the_lb_hangs_up() {
        let lb = TcpListener::bind("127.0.0.1:0").unwrap();
        let lb_addr = lb.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn(
            link(lb_addr, "127.0.0.1:7000"),
            stop.clone(),
            stop.clone(),
            stop.clone(),
        )
        .unwrap();
        for _ in 0..2 {
            let (s, _) = lb.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            assert_eq!(line, "REGISTER:127.0.0.1:7000:3\n");
            (&s).write_all(b"OK\n").unwrap();
            drop(s); // the LB "restarts": the link must come back
        }
        // A refusal is retried too.
        let (s, _) = lb.accept().unwrap();
        (&s).write_all(b"ERROR:nope\n").unwrap();
        drop(s);
        let (s, _) = lb.accept().unwrap();
        stop.store(true, Ordering::Relaxed);
        drop(s);
        handle.join().unwrap();
    }

    /// A fake LB that challenges: the node answers with a proof that
    /// verifies for the nonce sent, and gives up clearly without a secret.
    #[test]
    fn answers_the_challenge_with_a_proof_for_its_address() {
        let dir = std::env::temp_dir().join(format!("cachectl-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        std::fs::write(&path, "k\n").unwrap();
        let key = ClusterSecret::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let lb = TcpListener::bind("127.0.0.1:0").unwrap();
        let lb_addr = lb.local_addr().unwrap();
        let mut l = link(lb_addr, "127.0.0.1:7000");
        l.secret = Some(key.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let handle = spawn(l, stop.clone(), stop.clone(), stop.clone()).unwrap();
        let (s, _) = lb.accept().unwrap();
        let mut r = BufReader::new(&s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "REGISTER:127.0.0.1:7000:3\n");
        (&s).write_all(b"CHALLENGE:00ff\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        let proof = line.trim().strip_prefix("AUTH:").expect("an AUTH line");
        let me = HostPort::parse("127.0.0.1:7000").unwrap();
        assert_eq!(
            secret::check_register_proof(&key, b"00ff", &me, 3, &[], proof),
            Ok(())
        );
        (&s).write_all(b"OK\n").unwrap();
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();

        // Without a secret the node gives up on this attempt, naming the flag.
        let fake = std::thread::spawn(move || {
            let (s, _) = lb.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).unwrap();
            (&s).write_all(b"CHALLENGE:00ff\n").unwrap();
            lb
        });
        let never = AtomicBool::new(false);
        let l = link(lb_addr, "127.0.0.1:7000");
        match session(&l, &never, &never) {
            Err(e @ LinkError::NoSecret) => assert!(e.to_string().contains(secret::FLAG)),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("registered without a secret"),
        }
        fake.join().unwrap();
    }
}
