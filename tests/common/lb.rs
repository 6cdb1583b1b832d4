//! A `cachectl lb` child process and the METRICS-reading helpers the LB
//! tests share.

use super::{addr_after, connect, poll_until, LineConn, Proc};
use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

/// Deadline for anything involving probes, backoff, evictions or a restart.
pub const SLOW: Duration = Duration::from_secs(30);

/// A `cachectl lb` child process.
pub struct Lb {
    /// The process.
    pub proc: Proc,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Lb {
    /// The stdout prefix an LB prints once it accepts connections.
    pub const READY: &'static str = "cachectl lb listening on ";

    /// `cachectl lb --port 0 <extra>` (or the port `extra` gives).
    ///
    /// Unless `extra` sets `--health-timeout`, probes get one as long as
    /// their interval (at most 10 s): the LB's default of 500 ms is less
    /// than a debug node on a fully loaded machine sometimes takes to
    /// answer, and one late probe evicts a node, which spoils the exact
    /// lease and forwarding counts the tests check. Tests of timeouts set
    /// their own.
    pub fn start(extra: &[&str]) -> Lb {
        let mut args = vec!["lb"];
        if !extra.contains(&"--port") {
            args.extend(["--port", "0"]);
        }
        let timeout = generous_probe_timeout(extra);
        if !extra.contains(&"--health-timeout") {
            args.extend(["--health-timeout", &timeout]);
        }
        args.extend_from_slice(extra);
        let proc = Proc::cachectl(&args, Lb::READY);
        let addr = addr_after(proc.ready_line(), Lb::READY)
            .unwrap_or_else(|| panic!("no address in {:?}", proc.ready_line()));
        Lb { proc, addr }
    }

    /// A fresh line-form connection.
    pub fn line(&self) -> LineConn {
        LineConn::new(connect(self.addr))
    }

    /// One line-form request on a fresh connection, as a lease client does.
    pub fn request(&self, req: &str) -> String {
        self.line().request(req.as_bytes())
    }

    /// The LB's METRICS.
    pub fn metrics(&self) -> Value {
        serde_json::from_str(&self.request("METRICS")).expect("METRICS is JSON")
    }

    /// The node entry of METRICS for `addr`, if registered.
    pub fn node(&self, addr: SocketAddr) -> Option<Value> {
        let m = self.metrics();
        m["nodes"]
            .as_array()
            .expect("nodes array")
            .iter()
            .find(|n| n["addr"] == addr.to_string())
            .cloned()
    }

    /// Wait until exactly `want` are the healthy nodes.
    pub fn wait_healthy(&self, want: &[SocketAddr]) {
        let want: HashSet<String> = want.iter().map(ToString::to_string).collect();
        poll_until(SLOW, "the healthy node set", || {
            let m = self.metrics();
            let got: HashSet<String> = m["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["state"] == "healthy")
                .map(|n| n["addr"].as_str().unwrap().to_string())
                .collect();
            if got == want {
                Ok(())
            } else {
                Err(m.to_string())
            }
        });
    }

    /// Wait until `addr` is in `state`; returns its METRICS entry.
    pub fn wait_state(&self, addr: SocketAddr, state: &str) -> Value {
        poll_until(SLOW, &format!("{addr} to be {state}"), || {
            match self.node(addr) {
                Some(n) if n["state"] == state => Ok(n),
                other => Err(format!("{other:?}")),
            }
        })
    }

    /// Panic with the LB's output if it has exited.
    pub fn assert_running(&mut self) {
        assert!(
            self.proc.try_status().is_none(),
            "LB exited\n{}",
            self.proc.output_report()
        );
    }
}

/// The `--health-interval` in `args` (the LB's default 3 s if none), at
/// most 10 s, as a flag value.
fn generous_probe_timeout(args: &[&str]) -> String {
    let interval = args
        .iter()
        .position(|a| *a == "--health-interval")
        .and_then(|i| args.get(i + 1))
        .map_or("3s", |v| *v);
    let ms = if let Some(n) = interval.strip_suffix("ms") {
        n.parse::<u64>().ok()
    } else if let Some(n) = interval.strip_suffix('s') {
        n.parse::<u64>().ok().map(|s| s * 1000)
    } else if let Some(n) = interval.strip_suffix('m') {
        n.parse::<u64>().ok().map(|m| m * 60_000)
    } else {
        interval.parse::<u64>().ok().map(|s| s * 1000)
    }
    .unwrap_or_else(|| panic!("--health-interval {interval}: not understood by the test harness"));
    format!("{}ms", ms.min(10_000))
}
