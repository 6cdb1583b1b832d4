//! Process harness for integration tests: start `cachectl` roles (or any
//! program) as real child processes, wait for their ready line, talk to them
//! over real sockets, and never leave one behind.
//!
//! - [`Proc`]: any child process. Its stdout is read line by line until a
//!   ready line shows up; stdout and stderr are then drained by threads (so the
//!   child never blocks on a full pipe) and kept for failure messages.
//! - [`Node`]: `cachectl node --port 0 --cores 2 ...` with its address parsed
//!   from the ready line, plus ways to connect ([`Node::redis`],
//!   [`Node::raw`], [`Node::resp`], [`Node::line`]).
//! - [`RespConn`] / [`LineConn`]: raw-socket clients that return the exact
//!   bytes a server replied, for byte-for-byte checks the `redis` crate hides.
//! - [`poll_until`]: the only way tests wait for something asynchronous —
//!   a generous deadline, never an exact sleep, so a loaded machine is slow
//!   but not flaky.
//!
//! Each test binary uses a different subset of this module.
//!
//! Layout: [`process`] (child processes), [`wire`] (raw clients), and here
//! the constants, the role handles ([`Node`], [`RedisServer`]) and helpers.
#![allow(dead_code)]

pub mod cluster;
pub mod diff;
mod lb;
mod process;
pub mod seed;
pub mod unordered;
mod wire;

// Each test binary uses a different subset of these.
#[allow(unused_imports)]
pub use lb::{Lb, SLOW};
#[allow(unused_imports)]
pub use process::{run_cachectl, run_cachectl_within, spawn_cachectl, Launched, Proc};
#[allow(unused_imports)]
pub use wire::{encode, reply_len, words, Closed, LineConn, RespConn};

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a child gets to print its ready line. Generous: a debug build
/// on a loaded 2-core machine can take seconds to start executors.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child gets to exit after SIGTERM/SIGINT before the test fails.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Read/write timeout on every client socket: a server that hangs fails the
/// test instead of hanging the suite.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// The default deadline for [`poll_until`].
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Path of the `cachectl` binary Cargo built for this test run.
pub const CACHECTL: &str = env!("CARGO_BIN_EXE_cachectl");

/// Parse the socket address that follows `marker` in `line`, e.g. the
/// `127.0.0.1:4321` of `... listening on 127.0.0.1:4321 (2 cores, ...)`.
pub fn addr_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// A port that was free a moment ago (for servers that cannot take port 0).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("local addr").port()
}

/// A port that was free a moment ago, below the kernel's ephemeral range
/// (32768 and up here), for a server restarted on its port: while it is
/// down, a client's reconnect could otherwise be given that very port as
/// its source (a TCP self-connect) and keep the server from binding it.
pub fn fixed_port() -> u16 {
    let start = 20_000 + (std::process::id() % 10_000) as u16;
    (start..32_000)
        .chain(20_000..start)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port below 32000")
}

/// Call `f` until it returns `Ok`, for at most `timeout`; `Err` carries the
/// last observation for the failure message.
///
/// # Panics
/// With `what` and the last observation if the deadline passes.
pub fn poll_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// A connected std socket with [`IO_TIMEOUT`] on reads and writes.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    s.set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// A `redis` crate connection to `addr` with [`IO_TIMEOUT`]s.
///
/// redis 0.27's connect timeout covers only the TCP connect; its handshake
/// (`CLIENT SETINFO`) then reads with no timeout, so a server that accepts
/// into its backlog but never answers would hang the test forever. The
/// handshake runs on a helper thread and the test fails after
/// [`IO_TIMEOUT`] instead (the thread ends when the server is killed).
pub fn redis_conn(addr: SocketAddr) -> redis::Connection {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let client = redis::Client::open(format!("redis://{addr}/")).expect("redis url");
        let _ = tx.send(client.get_connection_with_timeout(IO_TIMEOUT));
    });
    let con = match rx.recv_timeout(IO_TIMEOUT) {
        Ok(Ok(con)) => con,
        Ok(Err(e)) => panic!("redis connect to {addr}: {e}"),
        Err(_) => panic!("redis handshake with {addr}: no reply within {IO_TIMEOUT:?}"),
    };
    con.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    con.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    con
}

/// `n` keys `"{prefix}{i}"` that `cachectl::ownership::shard_for` puts on
/// `shard` of `shards`.
pub fn keys_on_shard(prefix: &str, shard: usize, shards: usize, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| cachectl::ownership::shard_for(k.as_bytes(), shards) == shard)
        .take(n)
        .collect()
}

/// A `cachectl node` child process.
pub struct Node {
    proc: Proc,
    addr: SocketAddr,
}

impl Node {
    /// The stdout prefix a node prints once it accepts clients.
    pub const READY: &'static str = "cachectl node listening on ";
    /// Cores a test node runs unless `extra` says `--cores`.
    pub const CORES: usize = 2;

    /// Start `cachectl node --port 0 --cores 2 <extra>` (`--cores` and
    /// `--port` are only added when `extra` does not give them).
    pub fn start(extra: &[&str]) -> Node {
        Node::from_ready(Node::launch(extra).wait_ready(|l| l.starts_with(Node::READY)))
    }

    fn launch(extra: &[&str]) -> Launched {
        let mut args = vec!["node"];
        if !extra.contains(&"--port") {
            args.extend(["--port", "0"]);
        }
        let cores = Node::CORES.to_string();
        if !extra.contains(&"--cores") {
            args.extend(["--cores", cores.as_str()]);
        }
        args.extend_from_slice(extra);
        Proc::launch(CACHECTL, &args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from_ready(proc: Result<Proc, String>) -> Node {
        let proc = proc.unwrap_or_else(|e| panic!("{e}"));
        let addr = addr_after(proc.ready_line(), Node::READY).unwrap_or_else(|| {
            panic!("no address in ready line {:?}", proc.ready_line());
        });
        Node { proc, addr }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The underlying process (signals, output).
    pub fn proc(&mut self) -> &mut Proc {
        &mut self.proc
    }

    /// A new `redis` crate connection.
    pub fn redis(&self) -> redis::Connection {
        redis_conn(self.addr)
    }

    /// A new raw socket with read/write timeouts.
    pub fn raw(&self) -> TcpStream {
        connect(self.addr)
    }

    /// A new raw RESP connection that returns exact reply bytes.
    pub fn resp(&self) -> RespConn {
        RespConn::new(self.raw())
    }

    /// A new seed-000 line protocol connection.
    pub fn line(&self) -> LineConn {
        LineConn::new(self.raw())
    }

    /// SIGTERM and wait for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.proc.stop()
    }

    /// Panic unless the process is still running.
    pub fn assert_running(&mut self) {
        if let Some(s) = self.proc.try_status() {
            panic!(
                "node exited unexpectedly: {s:?} (signal {:?})\n{}",
                s.signal(),
                self.proc.output_report()
            );
        }
    }
}

/// Print `text` where a person sees it even under the test harness's
/// output capture: the controlling terminal when there is one, else stderr.
fn notice(text: &str) {
    match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        Ok(mut tty) => {
            let _ = writeln!(tty, "{text}");
        }
        Err(_) => eprintln!("{text}"),
    }
}

/// A real `redis-server` on a free port, for differential tests.
pub struct RedisServer {
    proc: Proc,
    addr: SocketAddr,
}

impl RedisServer {
    /// Start `redis-server` with persistence off, one database (so
    /// `SELECT 1` fails as on a node) and `extra` settings. `None` when
    /// `redis-server` is not on PATH, after printing a notice that names the
    /// skipping test.
    ///
    /// # Panics
    /// If it is installed but will not start (after a few ports), or if it
    /// is missing while `CACHECTL_REQUIRE_REDIS=1` (CI sets it, so a CI run
    /// can never count a skipped differential test as a pass).
    pub fn start(extra: &[&str]) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            let test = std::thread::current()
                .name()
                .unwrap_or("a test")
                .to_string();
            assert!(
                std::env::var_os("CACHECTL_REQUIRE_REDIS").is_none_or(|v| v != "1"),
                "{test}: redis-server is not on PATH and CACHECTL_REQUIRE_REDIS=1 \
                 (install it: apt-get install redis-server)"
            );
            // Output capture hides stdout/stderr of passing tests; a notice
            // on the terminal itself is seen even under `cargo test`.
            notice(&format!(
                "NOTICE: {test}: redis-server is not on PATH; skipped (set \
                 CACHECTL_REQUIRE_REDIS=1 to make this a failure)"
            ));
            return None;
        }
        let mut last = String::new();
        // The free port can be taken between our probe and its bind.
        for _ in 0..5 {
            let port = free_port().to_string();
            let mut args = vec![
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--databases",
                "1",
            ];
            args.extend_from_slice(extra);
            match Proc::try_spawn("redis-server", &args, |l| {
                l.contains("Ready to accept connections")
            }) {
                Ok(proc) => {
                    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
                    return Some(RedisServer { proc, addr });
                }
                Err(e) => last = e,
            }
        }
        panic!("redis-server would not start: {last}");
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The underlying process.
    pub fn proc(&mut self) -> &mut Proc {
        &mut self.proc
    }
}
