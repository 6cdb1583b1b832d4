//! What the Rust benches share: starting `cachectl` processes from the
//! release build and waiting for their ready lines.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The binary Cargo built for this bench run.
pub const BIN: &str = env!("CARGO_BIN_EXE_cachectl");

/// A running `cachectl` process, killed when dropped.
pub struct Server {
    child: Child,
    /// Its ready line.
    pub line: String,
    /// The address its ready line names first.
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `cachectl <args>` and wait for the stdout line that starts with
/// `ready` (followed by the listening address).
pub fn start(args: &[&str], ready: &str) -> Server {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cachectl");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines
        .find_map(|l| l.ok().filter(|l| l.starts_with(ready)))
        .unwrap_or_else(|| panic!("no line starting {ready:?}"));
    let addr = line[ready.len()..]
        .split_whitespace()
        .next()
        .expect("an address")
        .parse()
        .expect("a socket address");
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, line, addr }
}
