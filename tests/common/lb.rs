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
    pub fn start(extra: &[&str]) -> Lb {
        let mut args = vec!["lb"];
        if !extra.contains(&"--port") {
            args.extend(["--port", "0"]);
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
