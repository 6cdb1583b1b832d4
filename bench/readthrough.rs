//! Seed 004's cache tier under a Zipf key stream: hit ratio and origin load
//! of an LRU node at several capacities, and the latency of a hit vs a miss.
//!
//! Starts a real `cachectl origin` (serving a generated `--data` directory)
//! and `cachectl node --origin ... --cache-type lru --capacity C` processes
//! from the release build, drives them with the `redis` crate, and reads the
//! counts from the servers' own METRICS.
//!
//! Run: `cargo bench --bench readthrough` (env: ZIPF_KEYS, ZIPF_REQUESTS,
//! ZIPF_S, ZIPF_CAPACITIES=comma list).

use hdrhistogram::Histogram;
use std::net::SocketAddr;
use std::time::Instant;

// Each bench uses part of it.
#[allow(dead_code)]
mod common;

use common::{start, Server};

/// A one-core node reading through to `origin`, plus `extra` flags.
fn start_node(origin: SocketAddr, extra: &[&str]) -> Server {
    let origin = origin.to_string();
    let mut args = vec!["node", "--port", "0", "--cores", "1", "--origin", &origin];
    args.extend_from_slice(extra);
    start(&args, "cachectl node listening on ")
}

fn metrics(addr: SocketAddr) -> serde_json::Value {
    let mut con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let s: String = redis::cmd("METRICS").query(&mut con).unwrap();
    serde_json::from_str(&s).unwrap()
}

/// Zipf(s) over ranks 1..=n by inverse CDF: `cdf[i]` = P(rank ≤ i+1).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut fastrand::Rng) -> usize {
        let u = rng.f64();
        self.cdf.partition_point(|&c| c < u)
    }
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let keys: usize = env("ZIPF_KEYS", 20_000);
    let requests: usize = env("ZIPF_REQUESTS", 200_000);
    let s: f64 = env("ZIPF_S", 0.99);
    let caps: Vec<usize> = std::env::var("ZIPF_CAPACITIES")
        .unwrap_or_else(|_| "100,500,2000,5000,20000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();

    let dir = std::env::temp_dir().join(format!("cachectl-zipf-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("item")).unwrap();
    for i in 0..keys {
        std::fs::write(
            dir.join(format!("item/{i}")),
            format!("value of item {i} ").repeat(8),
        )
        .unwrap();
    }
    let origin = start(
        &["origin", "--port", "0", "--data", dir.to_str().unwrap()],
        "cachectl origin listening on ",
    );
    let zipf = Zipf::new(keys, s);

    println!("Zipf s={s} over {keys} keys, {requests} GETs per capacity, one connection, LRU node (1 core)");
    println!(
        "{:>9} {:>9} {:>14} {:>12}",
        "capacity", "hit%", "origin fetches", "fetches/req"
    );
    for &cap in &caps {
        let cap_s = cap.to_string();
        let node = start_node(origin.addr, &["--cache-type", "lru", "--capacity", &cap_s]);
        let before = metrics(origin.addr)["fetches"].as_u64().unwrap();
        let mut con = redis::Client::open(format!("redis://{}/", node.addr))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut rng = fastrand::Rng::with_seed(42);
        // Pipelines of 100 keep the client from dominating the run time.
        for _ in 0..requests / 100 {
            let mut pipe = redis::pipe();
            for _ in 0..100 {
                pipe.cmd("GET")
                    .arg(format!("item/{}", zipf.sample(&mut rng)))
                    .ignore();
            }
            let () = pipe.query(&mut con).unwrap();
        }
        let m = metrics(node.addr);
        let fetched = metrics(origin.addr)["fetches"].as_u64().unwrap() - before;
        let (h, mi) = (m["hits"].as_u64().unwrap(), m["misses"].as_u64().unwrap());
        println!(
            "{cap:>9} {:>8.2}% {fetched:>14} {:>12.4}",
            100.0 * h as f64 / (h + mi) as f64,
            fetched as f64 / requests as f64
        );
    }

    // Latency of one GET that hits vs one that misses and reads through.
    let node = start_node(origin.addr, &[]);
    let mut con = redis::Client::open(format!("redis://{}/", node.addr))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut hit = Histogram::<u64>::new(3).unwrap();
    let mut miss = Histogram::<u64>::new(3).unwrap();
    let _: Option<Vec<u8>> = redis::cmd("GET").arg("item/0").query(&mut con).unwrap();
    let n = keys.min(10_000);
    for i in 0..n {
        let t = Instant::now();
        let _: Option<Vec<u8>> = redis::cmd("GET").arg("item/0").query(&mut con).unwrap();
        hit.record(t.elapsed().as_nanos() as u64).unwrap();
        let t = Instant::now();
        let _: Option<Vec<u8>> = redis::cmd("GET")
            .arg(format!("item/{}", i + 1))
            .query(&mut con)
            .unwrap();
        miss.record(t.elapsed().as_nanos() as u64).unwrap();
    }
    println!("\nlatency of one GET, µs ({n} each, interleaved)   p50      p90      p99    p99.9      max");
    for (name, h) in [("hit (cached)", &hit), ("miss (read-through)", &miss)] {
        println!(
            "{name:<44} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.9) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
            h.value_at_quantile(0.999) as f64 / 1e3,
            h.max() as f64 / 1e3
        );
    }
    drop(origin);
    let _ = std::fs::remove_dir_all(&dir);
}
