//! Micro-benchmark: `cachectl::map::HashMap` against `std::collections::HashMap`.
//!
//! Part 1 times insert / get hit / get miss / remove in ns/op for `u64` keys
//! and 16-byte `Box<[u8]>` keys. Both maps use foldhash so the table design is
//! what differs; std with its default SipHash is shown as the usual baseline.
//! Part 2 times every single insert while growing from empty, into an
//! HdrHistogram: the tail is where incremental rehash should beat std's
//! all-at-once resize.
//!
//! Run: `cargo bench --bench map` (1M keys, 10M for growth), or
//! `cargo bench --bench map -- --quick` (100k / 1M). `MAP_BENCH_N` and
//! `MAP_BENCH_GROW_N` override either size.

use cachectl::map::HashMap as CMap;
use hdrhistogram::Histogram;
use std::collections::HashMap as StdMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::hint::black_box;
use std::time::{Duration, Instant};

type Fold = foldhash::fast::RandomState;

/// Rounds per op; the fastest is reported, which filters scheduler noise.
const ROUNDS: usize = 3;

/// The operations under test, so one driver runs every map.
trait Map<K> {
    fn make() -> Self;
    fn put(&mut self, k: K, v: u64);
    fn read(&self, k: &K) -> Option<&u64>;
    fn take(&mut self, k: &K) -> Option<u64>;
    fn bytes(&self) -> usize;
}

impl<K: Hash + Eq, S: BuildHasher + Default> Map<K> for CMap<K, u64, S> {
    fn make() -> Self {
        CMap::with_hasher(S::default())
    }
    #[inline]
    fn put(&mut self, k: K, v: u64) {
        self.insert(k, v);
    }
    #[inline]
    fn read(&self, k: &K) -> Option<&u64> {
        self.get(k)
    }
    #[inline]
    fn take(&mut self, k: &K) -> Option<u64> {
        self.remove(k)
    }
    fn bytes(&self) -> usize {
        self.heap_bytes()
    }
}

impl<K: Hash + Eq, S: BuildHasher + Default> Map<K> for StdMap<K, u64, S> {
    fn make() -> Self {
        StdMap::with_hasher(S::default())
    }
    #[inline]
    fn put(&mut self, k: K, v: u64) {
        self.insert(k, v);
    }
    #[inline]
    fn read(&self, k: &K) -> Option<&u64> {
        self.get(k)
    }
    #[inline]
    fn take(&mut self, k: &K) -> Option<u64> {
        self.remove(k)
    }
    fn bytes(&self) -> usize {
        // hashbrown: one slot plus one control byte per bucket; buckets are
        // the next power of two above capacity / 0.875.
        let buckets = (self.capacity() * 8 / 7).next_power_of_two();
        buckets * (std::mem::size_of::<(K, u64)>() + 1)
    }
}

/// ns/op for each operation on one map.
#[derive(Clone, Copy)]
struct OpTimes {
    insert: f64,
    hit: f64,
    miss: f64,
    remove: f64,
}

impl OpTimes {
    fn min(self, o: OpTimes) -> OpTimes {
        OpTimes {
            insert: self.insert.min(o.insert),
            hit: self.hit.min(o.hit),
            miss: self.miss.min(o.miss),
            remove: self.remove.min(o.remove),
        }
    }
}

fn per_op(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// One round: insert `keys` into an empty map, look them up in another
/// order, look up `misses`, then remove everything. Every result is checked
/// (the sum of the values found and removed, the number of misses that hit),
/// so a map that answers wrongly dies here instead of looking fast.
fn round<K: Clone, M: Map<K>>(
    keys: &[K],
    order: &[usize],
    misses: &[K],
    misses_present: usize,
) -> OpTimes {
    // Key i holds value i, so every pass over all keys sums to this.
    let want_sum = (0..keys.len() as u64).fold(0u64, u64::wrapping_add);
    let mut m = M::make();
    let owned: Vec<K> = keys.to_vec();
    let t = Instant::now();
    for (i, k) in owned.into_iter().enumerate() {
        m.put(k, i as u64);
    }
    let insert = t.elapsed();

    let t = Instant::now();
    let mut sum = 0u64;
    let mut absent = 0usize;
    for &i in order {
        match m.read(black_box(&keys[i])) {
            Some(&v) => sum = sum.wrapping_add(v),
            None => absent += 1,
        }
    }
    let hit = t.elapsed();
    assert_eq!(
        absent,
        0,
        "{} lost inserted keys",
        std::any::type_name::<M>()
    );
    assert_eq!(
        sum,
        want_sum,
        "{} returned wrong values",
        std::any::type_name::<M>()
    );

    let t = Instant::now();
    let mut found = 0usize;
    for k in misses {
        found += m.read(black_box(k)).is_some() as usize;
    }
    let miss = t.elapsed();
    assert_eq!(
        found,
        misses_present,
        "{} found keys it never held",
        std::any::type_name::<M>()
    );

    let t = Instant::now();
    let mut sum = 0u64;
    for &i in order {
        sum = sum.wrapping_add(m.take(black_box(&keys[i])).unwrap_or(u64::MAX));
    }
    let remove = t.elapsed();
    assert_eq!(
        sum,
        want_sum,
        "{} removed wrong values",
        std::any::type_name::<M>()
    );

    let n = keys.len();
    OpTimes {
        insert: per_op(insert, n),
        hit: per_op(hit, n),
        miss: per_op(miss, misses.len()),
        remove: per_op(remove, n),
    }
}

/// One map's [`round`], for running the maps in a rotating order.
type Round<K> = fn(&[K], &[usize], &[K], usize) -> OpTimes;

/// Best-of-`ROUNDS` times for the three maps, interleaving the maps within
/// each round so drift hits them alike, and rotating which goes first so
/// none always runs on a cold (or warm) cache and allocator.
fn compare<K: Clone + Hash + Eq>(keys: &[K], misses: &[K], order: &[usize]) -> [OpTimes; 3] {
    // Random miss keys may, in principle, collide with real ones: count
    // those once with std's set so the rounds can check the exact figure.
    let present: std::collections::HashSet<&K> = keys.iter().collect();
    let misses_present = misses.iter().filter(|k| present.contains(k)).count();
    drop(present);
    let runs: [Round<K>; 3] = [
        round::<K, CMap<K, u64, Fold>>,
        round::<K, StdMap<K, u64, Fold>>,
        round::<K, StdMap<K, u64, RandomState>>,
    ];
    let mut best: Option<[OpTimes; 3]> = None;
    for r in 0..ROUNDS {
        let mut now = [None; 3];
        for j in 0..3 {
            let which = (r + j) % 3;
            now[which] = Some(runs[which](keys, order, misses, misses_present));
        }
        let now = now.map(|t| t.expect("every map ran this round"));
        best = Some(match best {
            None => now,
            Some(b) => [b[0].min(now[0]), b[1].min(now[1]), b[2].min(now[2])],
        });
    }
    best.unwrap_or(
        [OpTimes {
            insert: 0.0,
            hit: 0.0,
            miss: 0.0,
            remove: 0.0,
        }; 3],
    )
}

/// Picks one operation's time out of an `OpTimes`.
type Column = fn(&OpTimes) -> f64;

fn print_ops(label: &str, t: &[OpTimes; 3]) {
    let rows: [(&str, Column); 4] = [
        ("insert", |o| o.insert),
        ("get hit", |o| o.hit),
        ("get miss", |o| o.miss),
        ("remove", |o| o.remove),
    ];
    for (name, f) in rows {
        println!(
            "{:<10} {:<9} {:>18.1} {:>15.1} {:>14.1}",
            label,
            name,
            f(&t[0]),
            f(&t[1]),
            f(&t[2])
        );
    }
}

/// Per-insert latency while growing an empty map to `keys.len()` entries.
struct Growth {
    hist: Histogram<u64>,
    total: Duration,
    bytes: usize,
    /// The slowest insert's position (how many keys the map held), so a
    /// worst case that recurs at one size is told from scheduler noise.
    worst_at: usize,
}

fn growth<M: Map<u64>>(keys: &[u64]) -> Growth {
    let mut hist = match Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3) {
        Ok(h) => h,
        Err(e) => panic!("histogram bounds: {e}"),
    };
    let mut m = M::make();
    let start = Instant::now();
    let (mut worst, mut worst_at) = (0, 0);
    for (i, &k) in keys.iter().enumerate() {
        let t = Instant::now();
        m.put(k, i as u64);
        let ns = t.elapsed().as_nanos() as u64;
        hist.saturating_record(ns.max(1));
        if ns > worst {
            (worst, worst_at) = (ns, i);
        }
    }
    let total = start.elapsed();
    let bytes = m.bytes();
    black_box(&m);
    Growth {
        hist,
        total,
        bytes,
        worst_at,
    }
}

fn print_growth(name: &str, g: &Growth) {
    let q = |p: f64| g.hist.value_at_quantile(p);
    println!(
        "{:<20} {:>7} {:>7} {:>8} {:>9} {:>12} {:>9.0} {:>9.1} {:>10}",
        name,
        q(0.50),
        q(0.99),
        q(0.999),
        q(0.9999),
        g.hist.max(),
        g.total.as_nanos() as f64 / g.hist.len() as f64,
        g.bytes as f64 / (1 << 20) as f64,
        g.worst_at,
    );
}

fn env_size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    // Cargo passes `--bench`; only `--quick` means anything here.
    let quick = std::env::args().any(|a| a == "--quick");
    let (n_def, grow_def) = if quick {
        (100_000, 1_000_000)
    } else {
        (1_000_000, 10_000_000)
    };
    let n = env_size("MAP_BENCH_N", n_def);
    let grow_n = env_size("MAP_BENCH_GROW_N", grow_def);

    let mut rng = fastrand::Rng::with_seed(0x5EED);
    let order = {
        let mut o: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut o);
        o
    };

    println!("== ns/op, {n} keys, best of {ROUNDS} rounds, value u64, maps start empty ==");
    println!(
        "{:<10} {:<9} {:>18} {:>15} {:>14}",
        "key", "op", "cachectl+foldhash", "std+foldhash", "std+SipHash"
    );
    // Random keys: a u64 never repeats in practice at these sizes, and the
    // miss set is drawn from the same distribution.
    let keys: Vec<u64> = (0..n).map(|_| rng.u64(..)).collect();
    let misses: Vec<u64> = (0..n).map(|_| rng.u64(..)).collect();
    print_ops("u64", &compare(&keys, &misses, &order));
    drop((keys, misses));

    let bytes_key = |rng: &mut fastrand::Rng| -> Box<[u8]> {
        let mut b = [0u8; 16];
        rng.fill(&mut b);
        Box::from(&b[..])
    };
    let keys: Vec<Box<[u8]>> = (0..n).map(|_| bytes_key(&mut rng)).collect();
    let misses: Vec<Box<[u8]>> = (0..n).map(|_| bytes_key(&mut rng)).collect();
    print_ops("16B box", &compare(&keys, &misses, &order));
    drop((keys, misses));

    println!();
    println!("== single-insert latency (ns) growing from empty to {grow_n} u64 keys ==");
    println!(
        "{:<20} {:>7} {:>7} {:>8} {:>9} {:>12} {:>9} {:>9} {:>10}",
        "map", "p50", "p99", "p99.9", "p99.99", "max", "mean", "heap MiB", "max at"
    );
    let keys: Vec<u64> = (0..grow_n).map(|_| rng.u64(..)).collect();
    print_growth("cachectl+foldhash", &growth::<CMap<u64, u64, Fold>>(&keys));
    print_growth("std+foldhash", &growth::<StdMap<u64, u64, Fold>>(&keys));
    print_growth(
        "std+SipHash",
        &growth::<StdMap<u64, u64, RandomState>>(&keys),
    );
    println!("(each sample includes ~20 ns of Instant::now overhead; std heap is estimated)");
}
