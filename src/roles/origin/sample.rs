//! The origin's built-in data set, served when no `--data DIR` is given.
//!
//! Generated, not stored: every value is a pure function of its key, so two
//! origins (or two runs) always agree and tests can recompute what to expect.
//!
//! | keys | value |
//! | --- | --- |
//! | `article/1` .. `article/100` | plain text: a title line, an author line (`user/N`), a date, then 2–5 paragraphs |
//! | `user/1` .. `user/50` | one line of JSON: `{"id":N,"name":..,"email":..,"joined":..}` |
//! | `blob/1` .. `blob/10` | 64–1,024 pseudo-random bytes (not UTF-8: exercises binary-safe paths) |

/// Number of `article/N` keys.
pub const ARTICLES: u64 = 100;
/// Number of `user/N` keys.
pub const USERS: u64 = 50;
/// Number of `blob/N` keys.
pub const BLOBS: u64 = 10;

const WORDS: &[&str] = &[
    "cache",
    "node",
    "origin",
    "latency",
    "request",
    "server",
    "client",
    "shard",
    "memory",
    "eviction",
    "lease",
    "balancer",
    "health",
    "probe",
    "socket",
    "thread",
    "core",
    "ring",
    "buffer",
    "kernel",
    "packet",
    "stream",
    "reply",
    "key",
    "value",
    "policy",
    "failure",
    "recovery",
    "replica",
    "timeout",
    "backoff",
    "cluster",
    "metric",
    "throughput",
    "queue",
    "worker",
    "batch",
    "pipeline",
    "hash",
    "slot",
    "table",
    "index",
    "page",
    "disk",
    "network",
    "route",
    "proxy",
    "read",
    "write",
    "miss",
    "hit",
    "expiry",
    "window",
    "budget",
    "signal",
];

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Leslie",
    "Margaret", "Dennis", "Sophie", "Tony", "Hedy", "John",
];

const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman",
    "Lamport", "Hamilton", "Ritchie", "Wilson", "Hoare", "Lamarr", "Backus",
];

/// SplitMix64: a tiny, well-mixed generator; seeded per key, so values do
/// not depend on generation order.
struct Rng(u64);

impl Rng {
    fn new(kind: u64, id: u64) -> Rng {
        Rng(kind.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id.wrapping_mul(0xbf58_476d_1ce4_e5b9))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.next() as usize % list.len()]
    }
}

/// A date in 2023–2024 as `YYYY-MM-DD`.
fn date(rng: &mut Rng) -> String {
    format!(
        "{}-{:02}-{:02}",
        rng.range(2023, 2024),
        rng.range(1, 12),
        rng.range(1, 28)
    )
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn sentence(rng: &mut Rng) -> String {
    let n = rng.range(6, 14);
    let words: Vec<&str> = (0..n).map(|_| rng.pick(WORDS)).collect();
    format!("{}.", capitalized(&words.join(" ")))
}

/// The text of `article/id`.
pub fn article(id: u64) -> String {
    let mut rng = Rng::new(1, id);
    let title: Vec<String> = (0..rng.range(3, 6))
        .map(|_| capitalized(rng.pick(WORDS)))
        .collect();
    let mut text = format!(
        "Title: {}\nAuthor: user/{}\nPublished: {}\n",
        title.join(" "),
        rng.range(1, USERS),
        date(&mut rng)
    );
    for _ in 0..rng.range(2, 5) {
        let sentences: Vec<String> = (0..rng.range(3, 6)).map(|_| sentence(&mut rng)).collect();
        text.push('\n');
        text.push_str(&sentences.join(" "));
        text.push('\n');
    }
    text
}

/// The JSON text of `user/id`.
pub fn user(id: u64) -> String {
    let mut rng = Rng::new(2, id);
    let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
    serde_json::json!({
        "id": id,
        "name": format!("{first} {last}"),
        "email": format!("{}.{}{id}@example.com", first.to_lowercase(), last.to_lowercase()),
        "joined": date(&mut rng),
    })
    .to_string()
}

/// The bytes of `blob/id`; the first byte is always 0xff, so a blob is
/// never valid UTF-8.
pub fn blob(id: u64) -> Vec<u8> {
    let mut rng = Rng::new(3, id);
    let len = rng.range(64, 1024) as usize;
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    bytes[0] = 0xff;
    bytes
}

/// Every key of the data set with its value.
pub fn entries() -> Vec<(String, Vec<u8>)> {
    let articles = (1..=ARTICLES).map(|i| (format!("article/{i}"), article(i).into_bytes()));
    let users = (1..=USERS).map(|i| (format!("user/{i}"), user(i).into_bytes()));
    let blobs = (1..=BLOBS).map(|i| (format!("blob/{i}"), blob(i)));
    articles.chain(users).chain(blobs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        assert_eq!(article(7), article(7));
        assert_ne!(article(7), article(8));
        assert_eq!(blob(3), blob(3));
        let all = entries();
        assert_eq!(all.len() as u64, ARTICLES + USERS + BLOBS);
        let keys: std::collections::HashSet<_> = all.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), all.len());
    }

    #[test]
    fn shapes() {
        let a = article(1);
        assert!(a.starts_with("Title: "), "{a}");
        assert!(a.contains("\nAuthor: user/"));
        assert!(a.len() > 100);
        let u: serde_json::Value = serde_json::from_str(&user(5)).unwrap();
        assert_eq!(u["id"], 5);
        assert!(u["email"].as_str().unwrap().ends_with("5@example.com"));
        for i in 1..=BLOBS {
            let b = blob(i);
            assert!((64..=1024).contains(&b.len()));
            assert!(std::str::from_utf8(&b).is_err());
        }
    }
}
