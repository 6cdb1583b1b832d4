//! Only real nodes join (issue 12): with a cluster secret, REGISTER needs a
//! fresh challenge-response and every probe answer must carry a MAC for its
//! own nonce and address; without one, a registration may name only the
//! IP it comes from; an impostor that answers NODESTAT, or takes over a
//! dead node's port, never gets a lease; and the caps refuse the next
//! registration. Real processes, conditions waited for with deadlines.

mod common;

use cachectl::addr::HostPort;
use cachectl::secret::{self, ClusterSecret, SecretFile};
use common::{connect, free_port, poll_until, Lb, LineConn, Node, RespConn, SLOW};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

fn path(f: &SecretFile) -> &str {
    f.path().to_str().expect("temp path is UTF-8")
}

/// An LB with the secret in `f`, probing every 250 ms.
fn secret_lb(f: &SecretFile, extra: &[&str]) -> Lb {
    let mut args = vec![
        "--cluster-secret-file",
        path(f),
        "--health-interval",
        "250ms",
        "--forget-after",
        "1000",
    ];
    args.extend_from_slice(extra);
    Lb::start(&args)
}

fn lease(lb: &Lb) -> String {
    lb.request("LEASE")
}

/// A line-form connection that can also tell whether the LB closed it.
struct Line(BufReader<TcpStream>);

impl Line {
    fn to(lb: &Lb) -> Line {
        Line(BufReader::new(connect(lb.addr)))
    }

    /// Send `line`; the reply line, without its newline.
    fn request(&mut self, line: &str) -> String {
        self.0
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        self.0.read_line(&mut reply).unwrap();
        assert!(reply.ends_with('\n'), "closed before replying: {reply:?}");
        reply.trim_end().to_string()
    }

    /// Whether the LB closed the connection after its last reply.
    fn closed(mut self) -> bool {
        let mut rest = String::new();
        matches!(self.0.read_line(&mut rest), Ok(0) | Err(_))
    }
}

/// Send a REGISTER line; return the nonce of the challenge it gets.
fn challenge(c: &mut Line, line: &str) -> String {
    let reply = c.request(line);
    reply
        .strip_prefix("CHALLENGE:")
        .unwrap_or_else(|| panic!("{line}: no challenge but {reply:?}"))
        .to_string()
}

#[test]
fn unauthenticated_wrongly_authenticated_and_replayed_registers_are_refused() {
    let f = SecretFile::generate().unwrap();
    let key = ClusterSecret::load(f.path()).unwrap();
    let lb = secret_lb(&f, &[]);
    let port = free_port();
    let me = HostPort::parse(&format!("127.0.0.1:{port}")).unwrap();
    let line = format!("REGISTER:127.0.0.1:{port}:1");

    // Seed 000's bare form cannot prove anything.
    let bare = lb.request(&format!("REGISTER:{port}"));
    assert!(
        bare.starts_with("ERROR:") && bare.contains("cluster secret"),
        "{bare}"
    );
    // Nor can RESP.
    let resp = RespConn::new(connect(lb.addr)).cmd(&format!("REGISTER 127.0.0.1:{port} 1"));
    assert!(resp.contains("cluster secret"), "{resp}");
    // An AUTH out of the blue.
    let mut c = Line::to(&lb);
    let r = c.request("AUTH:00");
    assert!(r.contains("CHALLENGE"), "{r}");
    assert!(c.closed());

    // A garbage MAC, and then a MAC under another secret: refused, closed.
    let mut c = Line::to(&lb);
    challenge(&mut c, &line);
    let r = c.request(format!("AUTH:{}", "0".repeat(64)).as_str());
    assert!(r.starts_with("ERROR:cluster authentication failed"), "{r}");
    assert!(c.closed());
    let other = SecretFile::generate().unwrap();
    let wrong = ClusterSecret::load(other.path()).unwrap();
    let mut c = Line::to(&lb);
    let n = challenge(&mut c, &line);
    let proof = secret::register_proof(&wrong, n.as_bytes(), &me, 1, &[]);
    let r = c.request(format!("AUTH:{proof}").as_str());
    assert!(r.starts_with("ERROR:cluster authentication failed"), "{r}");
    assert!(c.closed());
    // A proof for another address under the right secret.
    let mut c = Line::to(&lb);
    let n = challenge(&mut c, &line);
    let elsewhere = HostPort::parse(&format!("127.0.0.1:{}", port ^ 1)).unwrap();
    let proof = secret::register_proof(&key, n.as_bytes(), &elsewhere, 1, &[]);
    let r = c.request(format!("AUTH:{proof}").as_str());
    assert!(r.starts_with("ERROR:"), "{r}");
    assert_eq!(lb.metrics()["nodes_registered"], 0);

    // The right proof is taken; the recorded exchange, replayed, is not.
    let mut c = Line::to(&lb);
    let n1 = challenge(&mut c, &line);
    let proof = secret::register_proof(&key, n1.as_bytes(), &me, 1, &[]);
    assert_eq!(c.request(&format!("AUTH:{proof}")), "OK");
    assert_eq!(lb.metrics()["nodes_registered"], 1);
    let mut c = Line::to(&lb);
    let n2 = challenge(&mut c, &line);
    assert_ne!(n1, n2, "every challenge is fresh");
    assert_eq!(n2.len(), secret::NONCE_LEN * 2);
    let r = c.request(format!("AUTH:{proof}").as_str());
    assert!(r.starts_with("ERROR:cluster authentication failed"), "{r}");
    // A challenge is single-use: a second AUTH on it is refused too.
    let mut c = Line::to(&lb);
    let n3 = challenge(&mut c, &line);
    let good = secret::register_proof(&key, n3.as_bytes(), &me, 1, &[]);
    assert_eq!(c.request(&format!("AUTH:{good}")), "OK");
    let r = c.request(&format!("AUTH:{good}"));
    assert!(r.contains("CHALLENGE"), "{r}");
    assert!(
        !lb.proc.stderr().contains(&key_text(&f)),
        "the secret is never logged"
    );
}

fn key_text(f: &SecretFile) -> String {
    std::fs::read_to_string(f.path())
        .unwrap()
        .trim()
        .to_string()
}

/// A fake node: accepts connections and answers each probe with `answer`
/// (given the request bytes); counts the connections it served.
struct Impostor {
    addr: SocketAddr,
    probes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Impostor {
    fn start(
        listener: TcpListener,
        answer: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
    ) -> Impostor {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let probes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (probes.clone(), stop.clone());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 1024];
                let Ok(n) = c.read(&mut buf) else { continue };
                let _ = c.write_all(&answer(&buf[..n]));
                p.fetch_add(1, Ordering::Relaxed);
            }
        });
        Impostor { addr, probes, stop }
    }

    fn probed(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What an impostor answers a request with.
type Answer = dyn Fn(&[u8]) -> Vec<u8> + Send + Sync;

fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{s}\r\n", s.len()).into_bytes()
}

/// Wait until the LB has probed `addr` at least `n` times, and check it
/// was never healthy.
fn wait_probed_never_healthy(lb: &Lb, who: &Impostor, n: u64) {
    poll_until(SLOW, &format!("{} probed {n} times", who.addr), || {
        let node = lb.node(who.addr).ok_or("not registered")?;
        assert_ne!(node["state"], "healthy", "{node}");
        assert_eq!(node["probes_ok"], 0, "{node}");
        match node["probe_failures"].as_u64() {
            Some(f) if f >= n && who.probed() >= n => Ok(()),
            _ => Err(node.to_string()),
        }
    });
}

#[test]
fn an_impostor_that_answers_nodestat_gets_no_lease() {
    // Without a secret the impostor may register its own port (it is on
    // the LB's host), but no answer short of a real NODESTAT line counts.
    let lb = Lb::start(&["--health-interval", "250ms", "--forget-after", "1000"]);
    let answers: Vec<Box<Answer>> = vec![
        Box::new(|_| b"-ERR unknown command 'NODESTAT'\r\n".to_vec()),
        Box::new(|_| b"+OK\r\n".to_vec()),
        Box::new(|_| b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        Box::new(|_| bulk("hello")),
        Box::new(|_| Vec::new()),
    ];
    let mut fakes = Vec::new();
    for a in answers {
        let fake = Impostor::start(TcpListener::bind("127.0.0.1:0").unwrap(), a);
        let r = lb.request(&format!("REGISTER:{}", fake.addr.port()));
        assert_eq!(r, "OK");
        fakes.push(fake);
    }
    for f in &fakes {
        wait_probed_never_healthy(&lb, f, 2);
    }
    assert_eq!(lease(&lb), "ERROR:no healthy nodes");

    // With a secret, a forged stats line — with or without a MAC — fails
    // too. The impostor is registered the way a node would be (the test
    // knows the secret) to get it probed at all.
    let f = SecretFile::generate().unwrap();
    let key = ClusterSecret::load(f.path()).unwrap();
    let lb = secret_lb(&f, &[]);
    let forged: Vec<Box<Answer>> = vec![
        Box::new(|_| bulk("clients=0 maxclients=10000 cores=1 uptime_ms=1")),
        Box::new(|_| bulk(&format!("clients=0 mac={}", "ab".repeat(32)))),
        Box::new(|_| b"-ERR nope\r\n".to_vec()),
    ];
    let mut fakes = Vec::new();
    for a in forged {
        let fake = Impostor::start(TcpListener::bind("127.0.0.1:0").unwrap(), a);
        register_by_hand(&lb, &key, fake.addr);
        fakes.push(fake);
    }
    let why = ["no MAC", "does not verify", "error reply"];
    for (fk, why) in fakes.iter().zip(why) {
        wait_probed_never_healthy(&lb, fk, 2);
        let reason = lb.node(fk.addr).unwrap()["reason"].to_string();
        assert!(reason.contains(why), "{reason}");
    }
    assert_eq!(lease(&lb), "ERROR:no healthy nodes");
}

/// Register `addr` with the LB through the challenge, as a node does.
fn register_by_hand(lb: &Lb, key: &ClusterSecret, addr: SocketAddr) {
    let me = HostPort::parse(&addr.to_string()).unwrap();
    let mut c = Line::to(lb);
    // Without a core count: a one-shot registration, no liveness link.
    let n = challenge(&mut c, &format!("REGISTER:{addr}"));
    let proof = secret::register_proof(key, n.as_bytes(), &me, 1, &[]);
    assert_eq!(c.request(&format!("AUTH:{proof}")), "OK");
}

#[test]
fn a_process_on_a_dead_nodes_port_is_not_readmitted() {
    let f = SecretFile::generate().unwrap();
    let lb = secret_lb(&f, &[]);
    let flag = ["--cluster-secret-file", path(&f), "--lb"];
    let lb_addr = lb.addr.to_string();
    let mut victim = Node::start(&["--cores", "1", flag[0], flag[1], flag[2], &lb_addr]);
    let other = Node::start(&["--cores", "1", flag[0], flag[1], flag[2], &lb_addr]);
    lb.wait_healthy(&[victim.addr(), other.addr()]);

    // The victim dies; a process takes its port and relays every probe to
    // the live node, naming the live node's address so the node signs: the
    // signature is real, but for another address, so it does not verify.
    let dead = victim.addr();
    victim.stop();
    lb.wait_state(dead, "down");
    let listener = poll_until(SLOW, "the dead node's port to be free", || {
        TcpListener::bind(dead).map_err(|e| e.to_string())
    });
    let target = other.addr();
    let relay = Impostor::start(listener, move |req| {
        let mut up = TcpStream::connect(target).unwrap();
        up.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        up.write_all(&readdress(req, target)).unwrap();
        let mut buf = vec![0u8; 1024];
        let n = up.read(&mut buf).unwrap_or(0);
        buf.truncate(n);
        buf
    });
    // Re-registering the dead address without the secret is refused too.
    let r = lb.request(&format!("REGISTER:{}", dead.port()));
    assert!(r.starts_with("ERROR:"), "{r}");
    let before = lb.node(dead).unwrap()["probe_failures"].as_u64().unwrap();
    poll_until(SLOW, "the relay to be probed", || {
        let n = lb.node(dead).ok_or("forgotten")?;
        assert_eq!(n["state"], "down", "{n}");
        match n["probe_failures"].as_u64() {
            Some(x) if x >= before + 2 && relay.probed() >= 2 => Ok(()),
            _ => Err(n.to_string()),
        }
    });
    let reason = lb.node(dead).unwrap()["reason"].to_string();
    assert!(reason.contains("registration link closed"), "{reason}");
    for _ in 0..4 {
        assert_eq!(lease(&lb), format!("NODE:{target}"));
    }
}

#[test]
fn a_node_without_the_secret_is_not_admitted_and_says_why() {
    let f = SecretFile::generate().unwrap();
    let lb = secret_lb(&f, &[]);
    let lb_addr = lb.addr.to_string();
    let mut bare = Node::start(&["--cores", "1", "--lb", &lb_addr]);
    let other = SecretFile::generate().unwrap();
    let mut wrong = Node::start(&[
        "--cores",
        "1",
        "--cluster-secret-file",
        path(&other),
        "--lb",
        &lb_addr,
    ]);
    poll_until(SLOW, "both nodes to log their refusal", || {
        let (a, b) = (bare.proc().stderr(), wrong.proc().stderr());
        if a.contains("--cluster-secret-file") && b.contains("authentication failed") {
            Ok(())
        } else {
            Err(format!("{a}\n{b}"))
        }
    });
    assert_eq!(lb.metrics()["nodes_registered"], 0);
    assert_eq!(lease(&lb), "ERROR:no healthy nodes");
    let good = Node::start(&[
        "--cores",
        "1",
        "--cluster-secret-file",
        path(&f),
        "--lb",
        &lb_addr,
    ]);
    lb.wait_healthy(&[good.addr()]);
    assert_eq!(lease(&lb), format!("NODE:{}", good.addr()));
    // Tools still get the plain NODESTAT line.
    let stat = good.resp().cmd("NODESTAT");
    assert!(
        stat.contains("clients=") && !stat.contains("mac="),
        "{stat}"
    );
}

#[test]
fn a_foreign_address_without_a_secret_is_refused() {
    let lb = Lb::start(&[]);
    for line in [
        "REGISTER:10.1.2.3:6379:1",
        "REGISTER:10.1.2.3:6379",
        "REGISTER:255.255.255.255:9",
        "REGISTER:localhost:7000:1",
        "REGISTER:127.0.0.2:7000:1",
    ] {
        let r = lb.request(line);
        assert!(
            r.starts_with("ERROR:") && r.contains("--cluster-secret-file"),
            "{line}: {r}"
        );
    }
    let r = RespConn::new(connect(lb.addr)).cmd("REGISTER 10.1.2.3:6379");
    assert!(r.contains("--cluster-secret-file"), "{r}");
    assert_eq!(lb.metrics()["nodes_registered"], 0);
    assert!(lb.proc.stderr().contains("no --cluster-secret-file"));
    // Its own IP is fine, in every form.
    let p = free_port();
    assert_eq!(lb.request(&format!("REGISTER:127.0.0.1:{p}:1")), "OK");
    assert_eq!(lb.request(&format!("REGISTER:{}", p + 1)), "OK");
    assert_eq!(lb.metrics()["nodes_registered"], 2);

    // With a secret a foreign address may be advertised, but never one no
    // node can have.
    let f = SecretFile::generate().unwrap();
    let lb = secret_lb(&f, &[]);
    for (line, why) in [
        ("REGISTER:0.0.0.0:7000:1", "unspecified"),
        ("REGISTER:[::]:7000:1", "unspecified"),
        ("REGISTER:255.255.255.255:9:1", "broadcast"),
        ("REGISTER:224.0.0.1:7000:1", "multicast"),
        ("REGISTER:10.1.2.3:0:1", "port"),
    ] {
        let r = lb.request(line);
        assert!(r.starts_with("ERROR:") && r.contains(why), "{line}: {r}");
    }
    challenge(&mut Line::to(&lb), "REGISTER:10.1.2.3:6379:1");
    // A name is resolved only once the proof is in.
    let key = ClusterSecret::load(f.path()).unwrap();
    let mut c = Line::to(&lb);
    let n = challenge(&mut c, "REGISTER:no-such-host.invalid:7000:1");
    let me = HostPort::parse("no-such-host.invalid:7000").unwrap();
    let proof = secret::register_proof(&key, n.as_bytes(), &me, 1, &[]);
    let r = c.request(&format!("AUTH:{proof}"));
    assert!(r.starts_with("ERROR:cannot resolve"), "{r}");
    assert_eq!(lb.metrics()["nodes_registered"], 0);
}

/// A line connection from the loopback address `from`.
fn line_from(from: &str, to: SocketAddr) -> LineConn {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{from}:0").parse().unwrap();
    s.bind(&src.into()).unwrap();
    s.connect(&to.into()).unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    LineConn::new(s)
}

#[test]
fn caps_refuse_the_next_registration() {
    let lb = Lb::start(&["--max-registrations-per-source", "3", "--max-nodes", "5"]);
    let base = free_port().saturating_sub(100).max(1000);
    let reg = |from: &str, port: u16| {
        line_from(from, lb.addr).request(format!("REGISTER:{from}:{port}:1").as_bytes())
    };
    for p in 0..3 {
        assert_eq!(reg("127.0.0.1", base + p), "OK");
    }
    let r = reg("127.0.0.1", base + 3);
    assert!(r.contains("--max-registrations-per-source"), "{r}");
    // A refresh is no new registration.
    assert_eq!(reg("127.0.0.1", base), "OK");
    for p in 0..2 {
        assert_eq!(reg("127.0.0.2", base + p), "OK");
    }
    let r = reg("127.0.0.2", base + 2);
    assert!(r.contains("--max-nodes"), "{r}");
    assert_eq!(lb.metrics()["nodes_registered"], 5);
}

/// A `NODESTAT <nonce> <addr>` request with `addr` replaced by `to`.
fn readdress(req: &[u8], to: SocketAddr) -> Vec<u8> {
    let text = String::from_utf8_lossy(req);
    let parts: Vec<&str> = text.split("\r\n").collect();
    match parts.as_slice() {
        ["*3", "$8", "NODESTAT", _, nonce, _, _, ""] => {
            let to = to.to_string();
            format!(
                "*3\r\n$8\r\nNODESTAT\r\n${}\r\n{nonce}\r\n${}\r\n{to}\r\n",
                nonce.len(),
                to.len()
            )
            .into_bytes()
        }
        _ => panic!("not an authenticated probe: {text:?}"),
    }
}

#[test]
fn a_node_advertising_a_name_serves_through_a_proxy_lb_with_a_secret() {
    let f = SecretFile::generate().unwrap();
    let lb = secret_lb(&f, &["--mode", "proxy"]);
    let port = free_port().to_string();
    let advertise = format!("localhost:{port}");
    let node = Node::start(&[
        "--cores",
        "1",
        "--port",
        &port,
        "--advertise",
        &advertise,
        "--cluster-secret-file",
        path(&f),
        "--lb",
        &lb.addr.to_string(),
    ]);
    poll_until(SLOW, "the named node to be healthy", || {
        let m = lb.metrics();
        let n = m["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["addr"] == advertise.as_str())
            .cloned();
        match n {
            Some(n) if n["state"] == "healthy" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let mut c = RespConn::new(connect(lb.addr));
    assert_eq!(c.cmd("SET k v"), "+OK\r\n");
    assert_eq!(node.resp().cmd("GET k"), "$1\r\nv\r\n");
}
