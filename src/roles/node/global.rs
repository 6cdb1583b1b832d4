//! Commands that need every core: DBSIZE, FLUSHALL, INFO, METRICS. One
//! query hop per other core; this core answers for itself directly.

use super::cmdstats::Counts;
use super::core::Core;
use super::hop::{Hop, Query, Snapshot};
use crate::cmd::{CmdError, NodeCmd};
use crate::proto::{Proto, Reply};
use crate::store::ShardStats;
use futures_channel::oneshot;
use std::fmt::Write;

/// A command that needs every core, with its arguments checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Global {
    /// DBSIZE
    DbSize,
    /// FLUSHALL / FLUSHDB
    Flush,
    /// INFO [section ...] (lower-cased section names)
    Info(Vec<String>),
    /// METRICS (JSON)
    Metrics,
    /// MEMORY STATS
    MemoryStats,
}

impl Global {
    /// The whole-node command `cmd` is with `args`; `None` for a node
    /// command that is not one.
    ///
    /// # Errors
    /// Redis's error for bad arguments.
    pub fn of(cmd: NodeCmd, args: &[&[u8]]) -> Result<Option<Global>, CmdError> {
        Ok(Some(match cmd {
            NodeCmd::DbSize => Global::DbSize,
            NodeCmd::Metrics => Global::Metrics,
            NodeCmd::MemoryStats => Global::MemoryStats,
            NodeCmd::Flush => match &args[1..] {
                [] => Global::Flush,
                [m] if m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async") => {
                    Global::Flush
                }
                _ => return Err(CmdError::Syntax),
            },
            NodeCmd::Info => Global::Info(
                args[1..]
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                    .collect(),
            ),
            _ => return Ok(None),
        }))
    }
}

/// Ask every core (this one included) for its snapshot, running `query`.
pub async fn gather(core: &Core, query: Query) -> Vec<Snapshot> {
    let mut pending = Vec::with_capacity(core.n);
    for peer in (0..core.n).filter(|&p| p != core.id) {
        let (tx, rx) = oneshot::channel();
        if core
            .mesh
            .send_to(peer, Hop::Query { query, reply: tx })
            .is_ok()
        {
            pending.push(rx);
        }
    }
    if let Query::Flush = query {
        core.flush();
    }
    let mut all = vec![core.snapshot()];
    for rx in pending {
        if let Ok(s) = rx.await {
            all.push(s);
        }
    }
    all.sort_by_key(|s| s.core);
    all
}

/// Run a whole-node command and append its reply.
///
/// With `here_only` (a cluster core's own port) DBSIZE and FLUSHALL cover
/// only this core's shard, as each Redis Cluster node counts and flushes
/// only its own keys: a client that sums DBSIZE over the shards then counts
/// every key once.
pub async fn run(core: &Core, g: Global, here_only: bool, proto: Proto, out: &mut Vec<u8>) {
    let mut w = Reply::new(out, proto);
    if proto == Proto::Line {
        // Seed 000's protocol has no whole-node commands (none parse to one).
        w.error("unsupported operation");
        return;
    }
    let query = if g == Global::Flush {
        Query::Flush
    } else {
        Query::Snapshot
    };
    let snaps = match (here_only, &g) {
        (true, Global::DbSize | Global::Flush) => {
            if g == Global::Flush {
                core.flush();
            }
            vec![core.snapshot()]
        }
        _ => gather(core, query).await,
    };
    answer(core, g, &snaps, &mut w);
}

/// Answer a whole-node command from every core's snapshot (taken after the
/// flush, for FLUSHALL).
pub fn answer(core: &Core, g: Global, snaps: &[Snapshot], w: &mut Reply<'_>) {
    match g {
        Global::DbSize => w.int(snaps.iter().map(|s| s.keys as i64).sum()),
        Global::Flush => w.ok(),
        Global::Info(sections) => w.verbatim(render_info(core, snaps, &sections).as_bytes()),
        Global::Metrics => w.bulk(render_metrics(core, snaps).as_bytes()),
        Global::MemoryStats => {
            let expires = snaps.iter().map(|s| s.expires).sum();
            memory_stats(&Memory::of(&core.shared, snaps), expires, w)
        }
    }
}

fn totals(snaps: &[Snapshot]) -> (ShardStats, usize, usize, usize) {
    let mut st = ShardStats::default();
    let (mut keys, mut expires, mut mem) = (0, 0, 0);
    for s in snaps {
        st.merge(&s.shard);
        keys += s.keys;
        expires += s.expires;
        mem += s.used_memory;
    }
    (st, keys, expires, mem)
}

/// The node's memory as INFO and MEMORY STATS report it, in Redis's terms:
/// `used` is what is charged (every shard's keys and indexes, plus client
/// buffers), `dataset` the keys' own part of it, the rest overhead.
pub struct Memory {
    pub used: usize,
    pub dataset: usize,
    pub clients: usize,
    pub peak: usize,
    pub rss: u64,
    pub keys: usize,
}

impl Memory {
    /// From every core's snapshot.
    pub fn of(sh: &super::core::Shared, snaps: &[Snapshot]) -> Memory {
        let clients = sh.client_mem.total();
        let used = snaps.iter().map(|s| s.used_memory).sum::<usize>() + clients;
        Memory {
            used,
            dataset: snaps.iter().map(|s| s.dataset).sum(),
            clients,
            peak: sh.mem_peak.observe(used),
            rss: crate::sys::rss_bytes().unwrap_or(0),
            keys: snaps.iter().map(|s| s.keys).sum(),
        }
    }

    /// Tables, indexes and client buffers.
    pub fn overhead(&self) -> usize {
        self.used.saturating_sub(self.dataset)
    }

    fn perc(part: usize, of: usize) -> f64 {
        if of == 0 {
            0.0
        } else {
            part as f64 * 100.0 / of as f64
        }
    }

    /// `used_memory_dataset_perc`: the dataset's share of `used`.
    pub fn dataset_perc(&self) -> f64 {
        Self::perc(self.dataset, self.used)
    }

    /// `used_memory_peak_perc`: `used` as a share of the peak.
    pub fn peak_perc(&self) -> f64 {
        Self::perc(self.used, self.peak)
    }

    /// `mem_fragmentation_ratio`: RSS over `used` (what the process holds
    /// for each byte charged: free records, page tails, allocator slack and
    /// the program itself).
    pub fn fragmentation(&self) -> f64 {
        if self.used == 0 {
            0.0
        } else {
            self.rss as f64 / self.used as f64
        }
    }
}

/// MEMORY STATS: Redis 7's fields this node has, in its order (the
/// replication, AOF, Lua and allocator ones are Redis internals it has no
/// counterpart of, and it leaves them out rather than report zeros).
pub fn memory_stats(m: &Memory, expires: usize, w: &mut Reply<'_>) {
    let ints: [(&str, i64); 6] = [
        ("peak.allocated", m.peak as i64),
        ("total.allocated", m.used as i64),
        ("clients.normal", m.clients as i64),
        ("overhead.total", m.overhead() as i64),
        ("keys.count", m.keys as i64),
        (
            "keys.bytes-per-key",
            m.used.checked_div(m.keys).unwrap_or(0) as i64,
        ),
    ];
    w.map(ints.len() + 6);
    for (name, v) in &ints[..3] {
        w.bulk(name.as_bytes());
        w.int(*v);
    }
    w.bulk(b"db.0");
    w.map(2);
    w.bulk(b"overhead.hashtable.main");
    w.int(m.overhead().saturating_sub(m.clients) as i64);
    // The TTL index: one 4-byte slot per key with a TTL.
    w.bulk(b"overhead.hashtable.expires");
    w.int(expires as i64 * 4);
    for (name, v) in &ints[3..] {
        w.bulk(name.as_bytes());
        w.int(*v);
    }
    w.bulk(b"dataset.bytes");
    w.int(m.dataset as i64);
    w.bulk(b"dataset.percentage");
    w.double(m.dataset_perc());
    w.bulk(b"peak.percentage");
    w.double(m.peak_perc());
    w.bulk(b"fragmentation");
    w.double(m.fragmentation());
    w.bulk(b"fragmentation.bytes");
    w.int(m.rss as i64 - m.used as i64);
}

/// The node's `avg_ttl`: each shard keeps Redis's estimate for its own
/// keys; the node's is their mean weighted by each shard's keys with a TTL,
/// over the shards that have sampled (a shard's 0 means "no estimate yet").
fn avg_ttl_ms(snaps: &[Snapshot]) -> u64 {
    let (mut weighted, mut weight) = (0u128, 0u128);
    for s in snaps.iter().filter(|s| s.avg_ttl_ms > 0) {
        weighted += u128::from(s.avg_ttl_ms) * s.expires as u128;
        weight += s.expires as u128;
    }
    weighted.checked_div(weight).map_or(0, |avg| avg as u64)
}

/// INFO in Redis's format: `# Section` headers, `field:value` lines, CRLF.
pub fn render_info(core: &Core, snaps: &[Snapshot], sections: &[String]) -> String {
    // Redis's default set leaves out commandstats.
    let default = |name: &str| name != "commandstats";
    let want = |name: &str| {
        (sections.is_empty() && default(name))
            || sections.iter().any(|s| {
                s == name || s == "all" || s == "everything" || (s == "default" && default(name))
            })
    };
    let (st, keys, expires, mem) = totals(snaps);
    let sh = &core.shared;
    // Client buffers count in used_memory, as in Redis (`mem_clients_normal`).
    let clients_mem = sh.client_mem.total();
    let mem = mem + clients_mem;
    let uptime = sh.epoch.elapsed().as_secs();
    let sum = |f: fn(&Snapshot) -> u64| snaps.iter().map(f).sum::<u64>();
    let mut o = String::new();
    let section = |o: &mut String, name: &str, title: &str, body: &dyn Fn(&mut String)| {
        if want(name) {
            if !o.is_empty() {
                o.push_str("\r\n");
            }
            let _ = write!(o, "# {title}\r\n");
            body(o);
        }
    };
    section(&mut o, "server", "Server", &|o| {
        let _ = write!(
            o,
            "redis_version:{}\r\ncachectl_version:{}\r\nredis_mode:{}\r\nos:Linux\r\n\
             arch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\ntcp_port:{}\r\n\
             uptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nexecutor_cores:{}\r\n",
            crate::cmd::server::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            if core.cluster.is_some() {
                "cluster"
            } else {
                "standalone"
            },
            std::process::id(),
            sh.addr.port(),
            uptime / 86400,
            core.n
        );
    });
    section(&mut o, "clients", "Clients", &|o| {
        let _ = write!(
            o,
            "connected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n",
            core.clients(),
            sh.maxclients,
            sum(|s| s.blocked_clients),
        );
    });
    section(&mut o, "memory", "Memory", &|o| {
        let m = Memory::of(sh, snaps);
        let rss = m.rss;
        let maxmem = sh.maxmemory.load(std::sync::atomic::Ordering::Relaxed);
        let _ = write!(
            o,
            "used_memory:{mem}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
             used_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\n\
             used_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{}\r\n\
             used_memory_dataset:{}\r\nused_memory_dataset_perc:{:.2}%\r\n\
             maxmemory:{maxmem}\r\nmaxmemory_human:{}\r\n\
             maxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\n\
             mem_fragmentation_bytes:{}\r\nmem_clients_normal:{clients_mem}\r\n\
             lazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
            crate::sys::human_bytes(mem as u64),
            crate::sys::human_bytes(rss),
            m.peak,
            crate::sys::human_bytes(m.peak as u64),
            m.peak_perc(),
            m.overhead(),
            m.dataset,
            m.dataset_perc(),
            crate::sys::human_bytes(maxmem as u64),
            sh.cfg.policy_name(),
            m.fragmentation(),
            rss as i64 - mem as i64,
            crate::store::lazyfree::pending(),
            crate::store::lazyfree::freed(),
        );
    });
    section(&mut o, "persistence", "Persistence", &|o| {
        // Nothing is persisted: no RDB, no AOF, never loading.
        let _ = write!(
            o,
            "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\n\
             rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\n\
             rdb_last_bgsave_status:ok\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n\
             aof_last_bgrewrite_status:ok\r\n",
            sh.epoch_unix_ms / 1000
        );
    });
    section(&mut o, "stats", "Stats", &|o| {
        let cmds: u64 = snaps
            .iter()
            .flat_map(|s| s.commands.iter().map(|c| c.1.calls))
            .sum();
        let _ = write!(
            o,
            "total_connections_received:{}\r\ntotal_commands_processed:{cmds}\r\n\
             rejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\n\
             keyspace_hits:{}\r\nkeyspace_misses:{}\r\noom_rejections:{}\r\n\
             evicted_clients:{}\r\ntotal_error_replies:{}\r\ncross_core_batches:{}\r\n\
             cross_core_ops:{}\r\n",
            sum(|s| s.connections_received),
            sum(|s| s.rejected_connections),
            st.expired,
            st.evicted,
            st.hits,
            st.misses,
            st.oom_rejections,
            sh.client_mem.evicted(),
            sum(|s| s.error_replies),
            sum(|s| s.hops_sent),
            sum(|s| s.hop_ops_served),
        );
    });
    section(&mut o, "replication", "Replication", &|o| {
        let _ = write!(
            o,
            "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
             master_repl_offset:0\r\nrepl_backlog_active:0\r\n"
        );
    });
    section(&mut o, "cpu", "CPU", &|o| {
        let (sys, user) = cpu_seconds();
        let _ = write!(o, "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n");
    });
    section(&mut o, "commandstats", "Commandstats", &|o| {
        let mut by_cmd = std::collections::BTreeMap::<&str, Counts>::new();
        for s in snaps {
            for (name, n) in &s.commands {
                by_cmd.entry(name.as_str()).or_default().add(n);
            }
        }
        for (name, c) in by_cmd {
            o.push_str(&cmdstat_line(name, &c));
        }
    });
    section(&mut o, "errorstats", "Errorstats", &|o| {
        let mut by_code = std::collections::BTreeMap::<&str, u64>::new();
        for s in snaps {
            for (code, n) in &s.errors {
                *by_code.entry(code.as_str()).or_default() += n;
            }
        }
        for (code, n) in by_code {
            let _ = write!(o, "errorstat_{code}:count={n}\r\n");
        }
    });
    section(&mut o, "cluster", "Cluster", &|o| {
        let on = u8::from(core.cluster.is_some());
        let _ = write!(o, "cluster_enabled:{on}\r\n");
    });
    section(&mut o, "shards", "Shards", &|o| {
        for s in snaps {
            let _ = write!(
                o,
                "shard{}:keys={},expires={},used_memory={}\r\n",
                s.core, s.keys, s.expires, s.used_memory
            );
        }
    });
    section(&mut o, "keyspace", "Keyspace", &|o| {
        if keys > 0 {
            let avg_ttl = avg_ttl_ms(snaps);
            let _ = write!(o, "db0:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n");
        }
    });
    o
}

/// One `cmdstat_` line as Redis prints it. Its usec is the sum of the
/// calls' nanoseconds in whole microseconds; Redis sums each call's whole
/// microseconds, which counts a sub-microsecond call as 0.
fn cmdstat_line(name: &str, c: &Counts) -> String {
    let usec = c.nanos / 1000;
    let per_call = if c.calls == 0 {
        0.0
    } else {
        c.nanos as f64 / 1000.0 / c.calls as f64
    };
    format!(
        "cmdstat_{name}:calls={},usec={usec},usec_per_call={per_call:.2},rejected_calls={},\
         failed_calls={}\r\n",
        c.calls, c.rejected, c.failed
    )
}

/// The process's CPU time, system and user, in seconds.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_stime), secs(ru.ru_utime))
}

/// METRICS: the same counters as JSON, per core and summed.
pub fn render_metrics(core: &Core, snaps: &[Snapshot]) -> String {
    let (st, keys, expires, mem) = totals(snaps);
    let mut by_cmd = std::collections::BTreeMap::<String, u64>::new();
    for s in snaps {
        for (name, n) in &s.commands {
            *by_cmd.entry(name.clone()).or_default() += n.calls;
        }
    }
    let lookups = st.hits + st.misses;
    let v = serde_json::json!({
        "role": "node",
        "addr": core.shared.addr.to_string(),
        "uptime_s": core.shared.epoch.elapsed().as_secs_f64(),
        "cores": core.n,
        "connected_clients": core.clients(),
        "maxclients": core.shared.maxclients,
        "keys": keys,
        "expires": expires,
        "used_memory": mem,
        "hits": st.hits,
        "misses": st.misses,
        "hit_ratio": if lookups == 0 { 0.0 } else { st.hits as f64 / lookups as f64 },
        "expired": st.expired,
        "evicted": st.evicted,
        "oom_rejections": st.oom_rejections,
        "ops": by_cmd,
        "shards": snaps,
    });
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdstat_lines_print_as_redis_does() {
        let c = Counts {
            calls: 3,
            nanos: 14_400,
            rejected: 1,
            failed: 2,
        };
        assert_eq!(
            cmdstat_line("config|set", &c),
            "cmdstat_config|set:calls=3,usec=14,usec_per_call=4.80,rejected_calls=1,\
             failed_calls=2\r\n"
        );
        let rejected_only = Counts {
            rejected: 1,
            ..Counts::default()
        };
        assert_eq!(
            cmdstat_line("get", &rejected_only),
            "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"
        );
    }
}
