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
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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

/// Output a child wrote, collected by a draining thread.
type Sink = Arc<Mutex<Vec<u8>>>;

/// A running child process that is killed when dropped.
pub struct Proc {
    child: Child,
    label: String,
    ready_line: String,
    stdout: Sink,
    stderr: Sink,
    stderr_done: Option<thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Start `cachectl <args>` and wait until a stdout line starts with
    /// `ready_prefix`.
    ///
    /// # Panics
    /// If the process cannot start, exits, or stays silent for
    /// [`READY_TIMEOUT`]; the message includes what it wrote to stderr.
    pub fn cachectl(args: &[&str], ready_prefix: &str) -> Proc {
        let prefix = ready_prefix.to_string();
        Proc::spawn(CACHECTL, args, move |line| line.starts_with(&prefix))
    }

    /// Start `program <args>` and wait until a stdout line satisfies `ready`.
    ///
    /// # Panics
    /// As [`Proc::cachectl`].
    pub fn spawn(program: &str, args: &[&str], ready: impl Fn(&str) -> bool) -> Proc {
        Proc::try_spawn(program, args, ready).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Proc::spawn`], returning what went wrong instead of panicking.
    ///
    /// The child gets `PR_SET_PDEATHSIG = SIGKILL`, so even if the test binary
    /// is killed (a CI timeout) no server outlives it. Linux ties that signal
    /// to the *thread* that spawned the child: spawn from the test's own
    /// thread, not from a short-lived helper thread.
    ///
    /// # Errors
    /// The process could not start, closed stdout (exited) before its ready
    /// line, or printed none within [`READY_TIMEOUT`]; the message includes
    /// its output. The process is gone when this returns an error.
    pub fn try_spawn(
        program: &str,
        args: &[&str],
        ready: impl Fn(&str) -> bool,
    ) -> Result<Proc, String> {
        let label = format!("{program} {}", args.join(" "));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe and touches only this process.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{label}`: {e}"))?;
        let stderr: Sink = Arc::default();
        let stderr_done = drain(child.stderr.take().expect("piped stderr"), stderr.clone());
        let stdout: Sink = Arc::default();
        let lines = stdout_lines(child.stdout.take().expect("piped stdout"), stdout.clone());
        let mut proc = Proc {
            child,
            label,
            ready_line: String::new(),
            stdout,
            stderr,
            stderr_done: Some(stderr_done),
            status: None,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if ready(&line) => {
                    proc.ready_line = line;
                    return Ok(proc);
                }
                Ok(_) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = proc.wait_timeout(Duration::from_secs(5));
                    proc.kill();
                    proc.join_stderr();
                    return Err(format!(
                        "`{}` closed stdout before its ready line (exit {:?})\n{}",
                        proc.label,
                        status,
                        proc.output_report()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    proc.kill();
                    return Err(format!(
                        "`{}` printed no ready line within {READY_TIMEOUT:?}\n{}",
                        proc.label,
                        proc.output_report()
                    ));
                }
            }
        }
    }

    /// The ready line the process printed.
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `sig` (e.g. `libc::SIGTERM`) to the process, if it still runs.
    pub fn signal(&mut self, sig: libc::c_int) {
        if self.try_status().is_some() {
            return;
        }
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
        // SAFETY: plain syscall on our own, not yet reaped, child.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {sig}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// The exit status if the process has exited (reaping it), else `None`.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait on child");
        }
        self.status
    }

    /// Wait up to `timeout` for the process to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Send `sig` and wait for the exit status.
    ///
    /// # Panics
    /// If the process is still running after [`STOP_TIMEOUT`] (it is then
    /// killed, so nothing is left behind).
    pub fn stop_with(&mut self, sig: libc::c_int) -> ExitStatus {
        self.signal(sig);
        match self.wait_timeout(STOP_TIMEOUT) {
            Some(s) => s,
            None => {
                self.kill();
                panic!(
                    "`{}` did not exit within {STOP_TIMEOUT:?} of signal {sig}\n{}",
                    self.label,
                    self.output_report()
                );
            }
        }
    }

    /// SIGTERM and wait; see [`Proc::stop_with`].
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with(libc::SIGTERM)
    }

    /// SIGKILL and reap, if still running.
    pub fn kill(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Wait until everything the exited process wrote to stderr is in
    /// [`Proc::stderr`]. Call only after it exited.
    pub fn join_stderr(&mut self) {
        if let Some(h) = self.stderr_done.take() {
            let _ = h.join();
        }
    }

    /// Everything the process wrote to stdout so far (ready line included).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().expect("stdout sink")).into_owned()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr sink")).into_owned()
    }

    /// The tail of both streams, for panic messages.
    pub fn output_report(&self) -> String {
        format!(
            "--- stdout of `{}` ---\n{}\n--- stderr ---\n{}",
            self.label,
            tail(&self.stdout(), 4000),
            tail(&self.stderr(), 4000)
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let was_running = self.try_status().is_none();
        self.kill();
        // A failing test shows what the server said (libtest captures this).
        if thread::panicking() {
            eprintln!(
                "[harness] `{}` (running at failure: {was_running})\n{}",
                self.label,
                self.output_report()
            );
        }
    }
}

fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Copy `r` into `sink` until EOF, on a thread; joining it means all output
/// is in (the pipe closes when the child exits).
fn drain(mut r: impl Read + Send + 'static, sink: Sink) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("sink").extend_from_slice(&buf[..n]);
        }
    })
}

/// Forward stdout lines over a channel (for the ready wait) and keep them in
/// `sink`; keeps draining after nobody listens.
fn stdout_lines(r: ChildStdout, sink: Sink) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    sink.lock().expect("sink").extend_from_slice(&line);
                    let text = String::from_utf8_lossy(&line);
                    let _ = tx.send(text.trim_end().to_string());
                }
            }
        }
    });
    rx
}

/// Run `cachectl <args>` to completion (for flag errors, `--help`).
///
/// # Panics
/// If it does not finish within [`STOP_TIMEOUT`] (it is killed first).
pub fn run_cachectl(args: &[&str]) -> Output {
    let mut child = Command::new(CACHECTL)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cachectl");
    let (out, err): (Sink, Sink) = (Arc::default(), Arc::default());
    let out_done = drain(child.stdout.take().expect("stdout"), out.clone());
    let err_done = drain(child.stderr.take().expect("stderr"), err.clone());
    let deadline = Instant::now() + STOP_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`cachectl {}` did not finish", args.join(" "));
        }
        thread::sleep(Duration::from_millis(10));
    };
    let _ = out_done.join();
    let _ = err_done.join();
    let stdout = out.lock().expect("sink").clone();
    let stderr = err.lock().expect("sink").clone();
    Output {
        status,
        stdout,
        stderr,
    }
}

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
pub fn redis_conn(addr: SocketAddr) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("redis url");
    let con = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("redis connect to {addr}: {e}"));
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
        let mut args = vec!["node"];
        if !extra.contains(&"--port") {
            args.extend(["--port", "0"]);
        }
        let cores = Node::CORES.to_string();
        if !extra.contains(&"--cores") {
            args.extend(["--cores", cores.as_str()]);
        }
        args.extend_from_slice(extra);
        let proc = Proc::cachectl(&args, Node::READY);
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

/// A real `redis-server` on a free port, for differential tests.
pub struct RedisServer {
    proc: Proc,
    addr: SocketAddr,
}

impl RedisServer {
    /// Start `redis-server` with persistence off, one database (so
    /// `SELECT 1` fails as on a node) and `extra` settings. `None` when
    /// `redis-server` is not on PATH.
    ///
    /// # Panics
    /// If it is installed but will not start (after a few ports).
    pub fn start(extra: &[&str]) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
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

/// Encode a request as a RESP multibulk array.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Split a space-separated command into arguments (no quoting).
pub fn words(cmd: &str) -> Vec<&[u8]> {
    cmd.split(' ').map(str::as_bytes).collect()
}

/// Length of the first complete RESP2 reply in `buf`, or `None` if `buf`
/// holds only part of one.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    let cr = buf.windows(2).position(|w| w == b"\r\n")?;
    let head = buf.first()?;
    let after = cr + 2;
    let num = || -> i64 {
        std::str::from_utf8(&buf[1..cr])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad RESP header {:?}", String::from_utf8_lossy(&buf[..cr])))
    };
    match head {
        b'+' | b'-' | b':' => Some(after),
        b'$' => {
            let n = num();
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' => {
            let n = num();
            let mut pos = after;
            for _ in 0..n.max(0) {
                pos += reply_len(&buf[pos..])?;
            }
            Some(pos)
        }
        other => panic!(
            "not a RESP reply (starts with {:?}): {:?}",
            *other as char,
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ),
    }
}

/// What a read that expects the peer to close found.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// EOF (or reset) after these bytes.
    Yes(Vec<u8>),
    /// Still open after [`IO_TIMEOUT`], having sent these bytes.
    No(Vec<u8>),
}

/// A raw RESP client: sends bytes, returns exact reply bytes.
pub struct RespConn {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RespConn {
    /// Wrap a connected socket.
    pub fn new(stream: TcpStream) -> Self {
        RespConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Send a request and return its one reply, byte for byte.
    pub fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&encode(args));
        self.read_reply()
    }

    /// [`RespConn::call`] with a space-separated command, reply as text.
    pub fn cmd(&mut self, cmd: &str) -> String {
        let reply = self.call(&words(cmd));
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// Write raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Read exactly one complete reply.
    ///
    /// # Panics
    /// On EOF or timeout before a complete reply.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = (!self.buf.is_empty())
                .then(|| reply_len(&self.buf))
                .flatten()
            {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "connection closed with a partial reply {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!(
                    "reading a reply: {e}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Read until the server closes the connection (or [`IO_TIMEOUT`]).
    pub fn read_to_close(&mut self) -> Closed {
        let mut got = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Closed::Yes(got),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Closed::Yes(got)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Closed::No(got)
                }
                Err(e) => panic!("reading until close: {e}"),
            }
        }
    }

    /// Close our write side (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// A seed-000 line protocol client: one request line, one reply line.
pub struct LineConn {
    reader: BufReader<TcpStream>,
}

impl LineConn {
    /// Wrap a connected socket.
    pub fn new(stream: TcpStream) -> Self {
        LineConn {
            reader: BufReader::new(stream),
        }
    }

    /// Send `line` (a `\n` is appended) and return the reply line without
    /// its newline.
    pub fn request(&mut self, line: &[u8]) -> String {
        let mut req = line.to_vec();
        req.push(b'\n');
        self.reader.get_mut().write_all(&req).expect("write line");
        self.read_line()
    }

    /// Read one reply line, without its newline.
    ///
    /// # Panics
    /// On EOF or timeout.
    pub fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut line)
            .expect("read reply line");
        assert!(
            n > 0 && line.ends_with(b"\n"),
            "connection closed: {line:?}"
        );
        line.pop();
        String::from_utf8_lossy(&line).into_owned()
    }
}
