//! Handles for seed 004's roles, shared by the origin, client and cluster
//! tests: a `cachectl origin` child, a JSON-lines connection, a temporary
//! data directory, and a child started without a ready line.

use super::{connect, run_cachectl, Proc};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Deadline for anything that involves starting processes or retries.
pub const SLOW: Duration = Duration::from_secs(60);

/// A `cachectl origin` child process.
pub struct Origin {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Origin {
    pub const READY: &'static str = "cachectl origin listening on ";

    pub fn start(extra: &[&str]) -> Origin {
        let mut args = vec!["origin", "--port", "0"];
        args.extend_from_slice(extra);
        let proc = Proc::cachectl(&args, Origin::READY);
        let addr = super::addr_after(proc.ready_line(), Origin::READY)
            .unwrap_or_else(|| panic!("no address in {:?}", proc.ready_line()));
        Origin { proc, addr }
    }

    /// A JSON-lines connection.
    pub fn json(&self) -> JsonConn {
        JsonConn {
            reader: BufReader::new(connect(self.addr)),
        }
    }

    pub fn metrics(&self) -> Value {
        let m = self.json().call(&json!({"op": "METRICS"}));
        assert_eq!(m["ok"], true, "{m}");
        m["metrics"].clone()
    }
}

/// One request object per line, one response object per line.
pub struct JsonConn {
    pub reader: BufReader<TcpStream>,
}

impl JsonConn {
    pub fn call(&mut self, req: &Value) -> Value {
        self.raw(req.to_string().as_bytes())
    }

    /// Send `line` and a newline; read one response.
    pub fn raw(&mut self, line: &[u8]) -> Value {
        self.send(line);
        self.send(b"\n");
        self.read_json()
    }

    pub fn get(&mut self, key: &str) -> Value {
        self.call(&json!({"op": "GET", "key": key}))
    }

    /// Write without reading a response.
    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    pub fn read_json(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a response");
        assert!(n > 0 && line.ends_with('\n'), "connection closed: {line:?}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
    }
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "cachectl-seed004-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child we start ourselves (the harness's `Proc` waits for a ready line,
/// which a client does not print); killed on drop.
pub struct Kid {
    pub child: Child,
    pub stderr_lines: mpsc::Receiver<String>,
}

impl Kid {
    pub fn spawn(args: &[&str]) -> Kid {
        let mut child = super::spawn_cachectl(args);
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Kid {
            child,
            stderr_lines: rx,
        }
    }

    /// Wait for a stderr line containing `what`.
    pub fn wait_stderr(&mut self, what: &str) -> String {
        let deadline = Instant::now() + SLOW;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(e) => panic!("no stderr line with {what:?}: {e}"),
            }
        }
    }

    /// Wait for the exit; returns the status and the rest of stdout.
    pub fn finish(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + SLOW;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "client did not finish");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        (status, out)
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `cachectl client <args>`: (exit code, stdout, stderr).
pub fn client(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["client"];
    all.extend_from_slice(args);
    let out = run_cachectl(&all);
    (
        out.status.code().expect("client exited by itself"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `pid` is gone (no such process, or a zombie nobody reaped yet).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}
