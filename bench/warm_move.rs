//! Cluster mode's warm move under a read load: a node holding many keys
//! (default 1,000,000) gains a second node, and readers with the `redis`
//! crate's cluster client read random keys before, during and after the
//! move. Prints the hit ratio of each phase and of the worst 100 ms window,
//! how many reads saw a wrong value or an error, how long the move took,
//! and where the keys ended.
//!
//! Starts `cachectl lb --mode cluster` and `cachectl node --cluster`
//! processes from the release build. The target: the hit ratio
//! stays within 1 point of its level before the join, and no read returns
//! a wrong value.
//!
//! Run: `cargo bench --bench warm_move` (env: WARM_KEYS, default 1000000;
//! WARM_READERS, default 4; WARM_CORES per node, default 2).

use redis::cluster::ClusterClient;
use redis::Commands;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// Each bench uses part of it.
#[allow(dead_code)]
mod common;

use common::start;

/// The width of one hit-ratio window.
const WINDOW: Duration = Duration::from_millis(100);

fn core_ports(line: &str) -> Vec<u16> {
    line.split("cluster core ports ")
        .nth(1)
        .and_then(|r| r.strip_suffix(')'))
        .expect("core ports in the ready line")
        .split(',')
        .map(|p| p.parse().expect("a port"))
        .collect()
}

/// One plain RESP request, its reply as text: a bulk string (CLUSTER
/// NODES) or one line (DBSIZE).
fn ask(at: SocketAddr, cmd: &[&str]) -> String {
    let mut s = TcpStream::connect(at).expect("connect");
    let mut req = format!("*{}\r\n", cmd.len());
    for a in cmd {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let complete = |out: &[u8]| {
        let Some(eol) = out.windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        match out[0] {
            b'$' | b'=' => {
                let len: usize = std::str::from_utf8(&out[1..eol])
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                out.len() >= eol + 2 + len + 2
            }
            _ => true,
        }
    };
    while !complete(&out) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn dbsize(port: u16) -> u64 {
    let r = ask(SocketAddr::from(([127, 0, 0, 1], port)), &["DBSIZE"]);
    r.trim().trim_start_matches(':').parse().unwrap_or(0)
}

/// Whether every shard on `ports` owns slots in `at`'s CLUSTER NODES, and
/// no slot is marked moving (every line's slot field is plain).
fn owning(at: SocketAddr, ports: &[u16]) -> bool {
    let nodes = ask(at, &["CLUSTER", "NODES"]);
    ports.iter().all(|p| {
        nodes.lines().any(|l| {
            l.contains(&format!("127.0.0.1:{p}@"))
                && l.split(' ').nth(8).is_some_and(|r| !r.is_empty())
        })
    })
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Phases of the run, as the readers tag their reads.
const BEFORE: u8 = 0;
const DURING: u8 = 1;
const AFTER: u8 = 2;

#[derive(Default, Clone, Copy)]
struct Tally {
    hits: u64,
    misses: u64,
    wrong: u64,
    errors: u64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.wrong += o.wrong;
        self.errors += o.errors;
    }
    fn reads(&self) -> u64 {
        self.hits + self.misses + self.wrong
    }
    fn ratio(&self) -> f64 {
        100.0 * self.hits as f64 / self.reads().max(1) as f64
    }
}

fn main() {
    let keys = env("WARM_KEYS", 1_000_000);
    let readers = env("WARM_READERS", 4);
    let cores = env("WARM_CORES", 2).to_string();
    let lb = start(
        &[
            "lb",
            "--mode",
            "cluster",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ],
        "cachectl lb listening on ",
    );
    let lb_addr = lb.addr;
    let lb_s = lb_addr.to_string();
    let node_args = [
        "node",
        "--cluster",
        "--core-ports",
        "0",
        "--port",
        "0",
        "--cores",
        &cores,
        "--lb",
        &lb_s,
    ];
    let ready = "cachectl node listening on ";
    let a = start(&node_args, ready);
    let (a_main, a_ports) = (a.addr, core_ports(&a.line));
    let t = Instant::now();
    while !owning(lb_addr, &a_ports) {
        assert!(t.elapsed() < Duration::from_secs(30), "A never got the map");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Wait until A itself serves (its first lease).
    let mut main = redis::Client::open(format!("redis://{a_main}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    while main.set::<_, _, ()>("probe", "1").is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _: () = main.del("probe").unwrap();
    // Load through A's main port, which serves every key of the node.
    let t = Instant::now();
    for chunk in (0..keys).collect::<Vec<_>>().chunks(10_000) {
        let mut p = redis::pipe();
        for &i in chunk {
            p.set(format!("key:{i}"), format!("v{i}")).ignore();
        }
        let _: () = p.query(&mut main).expect("load");
    }
    println!(
        "loaded {keys} keys into node A ({cores} cores) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let phase = Arc::new(AtomicU8::new(BEFORE));
    let stop = Arc::new(AtomicBool::new(false));
    // Per window (by index since the readers started): the tally.
    let windows: Arc<Mutex<Vec<Tally>>> = Arc::default();
    let started = Instant::now();
    let handles: Vec<_> = (0..readers)
        .map(|r| {
            let (phase, stop, windows) = (phase.clone(), stop.clone(), windows.clone());
            let seed = format!("redis://{lb_addr}/");
            std::thread::spawn(move || {
                let client = ClusterClient::new(vec![seed]).unwrap();
                let mut con = client.get_connection().unwrap();
                let mut per_phase = [Tally::default(); 3];
                // xorshift: a different stream per reader.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (r as u64 + 1);
                while !stop.load(Ordering::Relaxed) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x % keys as u64) as usize;
                    let p = usize::from(phase.load(Ordering::Relaxed));
                    let mut one = Tally::default();
                    match con.get::<_, Option<String>>(format!("key:{i}")) {
                        Ok(Some(v)) if v == format!("v{i}") => one.hits = 1,
                        Ok(Some(_)) => one.wrong = 1,
                        Ok(None) => one.misses = 1,
                        Err(_) => one.errors = 1,
                    }
                    per_phase[p].add(one);
                    let w = (started.elapsed().as_millis() / WINDOW.as_millis()) as usize;
                    let mut ws = windows.lock().unwrap();
                    if ws.len() <= w {
                        ws.resize(w + 1, Tally::default());
                    }
                    ws[w].add(one);
                }
                per_phase
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    // The join.
    phase.store(DURING, Ordering::Relaxed);
    let joined_at = started.elapsed();
    let b = start(&node_args, ready);
    let b_ports = core_ports(&b.line);
    let all: Vec<u16> = a_ports.iter().chain(&b_ports).copied().collect();
    let t = Instant::now();
    // Done: both nodes own slots in the LB's map and in A's own view.
    let a_core = SocketAddr::from(([127, 0, 0, 1], a_ports[0]));
    while !(owning(lb_addr, &all) && owning(a_core, &all)) {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the move never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t.elapsed();
    phase.store(AFTER, Ordering::Relaxed);
    let moved_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let ended_at = started.elapsed();
    let mut per_phase = [Tally::default(); 3];
    for h in handles {
        for (p, t) in h.join().unwrap().iter().enumerate() {
            per_phase[p].add(*t);
        }
    }
    let on_a: u64 = a_ports.iter().map(|&p| dbsize(p)).sum();
    let on_b: u64 = b_ports.iter().map(|&p| dbsize(p)).sum();
    let ws = windows.lock().unwrap();
    let lo = (joined_at.as_millis() / WINDOW.as_millis()) as usize;
    let hi = ((moved_at.as_millis() / WINDOW.as_millis()) as usize).min(ws.len());
    let worst = ws[lo..hi.max(lo)]
        .iter()
        .filter(|w| w.reads() > 0)
        .map(Tally::ratio)
        .fold(100.0f64, f64::min);
    println!(
        "join of node B: the move took {:.2} s; keys now {on_a} on A, {on_b} on B ({} of {keys})",
        took.as_secs_f64(),
        on_a + on_b
    );
    let spans = [joined_at, moved_at - joined_at, ended_at - moved_at];
    for ((name, t), span) in ["before", "during", "after"]
        .iter()
        .zip(per_phase)
        .zip(spans)
    {
        println!(
            "{name:>6}: {:>8} reads ({:>6.0}/s), hit ratio {:.3}%, {} misses, {} wrong values, {} errors",
            t.reads(),
            t.reads() as f64 / span.as_secs_f64(),
            t.ratio(),
            t.misses,
            t.wrong,
            t.errors
        );
    }
    println!("worst 100 ms window during the move: hit ratio {worst:.3}%");
    let wrong: u64 = per_phase.iter().map(|t| t.wrong).sum();
    let before = per_phase[0].ratio();
    let during = per_phase[1].ratio();
    let ok = wrong == 0 && (before - during) <= 1.0 && on_a + on_b == keys as u64;
    println!(
        "target (within 1 point of before, no wrong value, no key lost): {}",
        if ok { "met" } else { "NOT met" }
    );
    drop(b);
    drop(a);
    drop(lb);
    if !ok {
        std::process::exit(1);
    }
}
