//! Child processes for tests: start, wait for a ready line, signal, stop
//! (also in the middle of pipelined batches, checking the drain), and
//! always reap (killed on drop, and by the kernel if the test dies).

use super::{CACHECTL, POLL_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
        Proc::launch(program, args)?.wait_ready(ready)
    }

    /// Start the process without waiting for anything; finish with
    /// [`Launched::wait_ready`]. Lets a test start several at once.
    ///
    /// # Errors
    /// The program could not be started.
    pub fn launch(program: &str, args: &[&str]) -> Result<Launched, String> {
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
        let proc = Proc {
            child,
            label,
            ready_line: String::new(),
            stdout,
            stderr,
            stderr_done: Some(stderr_done),
            status: None,
        };
        Ok(Launched { proc, lines })
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

    /// Stop the process (SIGSTOP) and wait until every one of its threads
    /// is stopped. `kill` only queues the signal: each thread stops when it
    /// next runs, and on a loaded machine a thread can still answer
    /// requests after `kill` returned — a test that then expects timeouts
    /// would see none.
    ///
    /// # Panics
    /// If the threads are not all stopped within [`READY_TIMEOUT`].
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        let tasks = format!("/proc/{}/task", self.pid());
        super::poll_until(READY_TIMEOUT, "the process to stop", || {
            let states: Vec<String> = std::fs::read_dir(&tasks)
                .map_err(|e| format!("{tasks}: {e}"))?
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
                // The state follows the parenthesised command name.
                .filter_map(|stat| Some(stat.rsplit_once(") ")?.1.chars().next()?.to_string()))
                .collect();
            if !states.is_empty() && states.iter().all(|s| s == "T") {
                Ok(())
            } else {
                Err(format!("thread states {states:?}"))
            }
        });
    }

    /// Stop this server in the middle of pipelined batches and check the
    /// drain: connect to `addr` once per `(requests, replies)` batch, write
    /// each batch in one go, and make sure it is really in flight — the
    /// server's kernel has received every request byte, and most reply
    /// bytes are not sent yet (the client has read one reply). Then send
    /// SIGTERM, wait until new connections are refused, and read every
    /// connection to EOF: its bytes must be exactly its replies. Returns
    /// the exit status.
    ///
    /// # Panics
    /// If a batch is not in flight at the signal, a reply is missing or
    /// wrong, or the server does not exit within [`STOP_TIMEOUT`].
    pub fn sigterm_mid_batch(
        &mut self,
        addr: SocketAddr,
        batches: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> ExitStatus {
        let mut conns: Vec<InFlight> = batches
            .into_iter()
            .map(|(req, want)| InFlight::send(addr, req, want))
            .collect();
        let total: usize = conns.iter().map(|c| c.want.len()).sum();
        for c in &mut conns {
            c.read_first_reply();
            c.wait_received();
        }
        let unsent: usize = conns.iter().map(InFlight::unsent).sum();
        assert!(
            unsent > total / 2,
            "the batches must be in flight at the signal: only {unsent} of {total} reply bytes unsent"
        );
        eprintln!("at SIGTERM: {unsent} of {total} reply bytes not yet sent");
        self.signal(libc::SIGTERM);
        wait_refused(addr);
        for (i, c) in conns.into_iter().enumerate() {
            c.finish(&format!("connection {i} to `{}`", self.label));
        }
        self.wait_timeout(STOP_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "no exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                self.output_report()
            )
        })
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

/// Bytes a socket holds in the kernel: `libc::TIOCOUTQ` (sent but not yet
/// acknowledged by the peer) or `libc::FIONREAD` (received, not yet read).
fn queued(s: &TcpStream, which: libc::Ioctl) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: a query ioctl on an open socket we own, into a c_int we own.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), which, &mut n) };
    assert_eq!(rc, 0, "ioctl: {}", std::io::Error::last_os_error());
    usize::try_from(n).expect("a queue length is not negative")
}

/// One connection's pipelined batch, written in one go by a thread, with
/// the exact reply bytes it must get back.
struct InFlight {
    stream: TcpStream,
    want: Vec<u8>,
    got: Vec<u8>,
    writer: Option<thread::JoinHandle<()>>,
}

impl InFlight {
    /// Connect and start writing `requests` (a thread, so a server that
    /// stops reading cannot block the test).
    fn send(addr: SocketAddr, requests: Vec<u8>, want: Vec<u8>) -> InFlight {
        let stream = super::connect(addr);
        let mut w = stream.try_clone().expect("clone socket");
        let writer = thread::spawn(move || w.write_all(&requests).expect("write the batch"));
        InFlight {
            stream,
            want,
            got: Vec::new(),
            writer: Some(writer),
        }
    }

    /// Read until the first reply is in: the server is serving us.
    fn read_first_reply(&mut self) {
        let first = super::reply_len(&self.want).expect("a batch has replies");
        let mut chunk = [0u8; 512];
        while self.got.len() < first {
            match self.stream.read(&mut chunk[..first - self.got.len()]) {
                Ok(0) => panic!("EOF before the first reply"),
                Ok(k) => self.got.extend_from_slice(&chunk[..k]),
                Err(e) => panic!("reading the first reply: {e}"),
            }
        }
    }

    /// Wait until every request byte was written and acknowledged by the
    /// server's kernel: the whole batch has reached the server.
    fn wait_received(&mut self) {
        if let Some(w) = self.writer.take() {
            w.join().expect("writer thread");
        }
        super::poll_until(
            POLL_TIMEOUT,
            "the server to receive the whole batch",
            || match queued(&self.stream, libc::TIOCOUTQ) {
                0 => Ok(()),
                n => Err(format!("{n} request bytes not yet received")),
            },
        );
    }

    /// Reply bytes not yet sent by the server: neither read nor waiting in
    /// our receive queue.
    fn unsent(&self) -> usize {
        self.want.len() - self.got.len() - queued(&self.stream, libc::FIONREAD)
    }

    /// Read to EOF; the bytes must be exactly the expected replies.
    fn finish(mut self, who: &str) {
        let mut rest = Vec::new();
        if let Err(e) = self.stream.read_to_end(&mut rest) {
            panic!(
                "{who}: reading to EOF after {} of {} reply bytes: {e}",
                self.got.len() + rest.len(),
                self.want.len()
            );
        }
        self.got.extend_from_slice(&rest);
        if self.got != self.want {
            let at = self
                .got
                .iter()
                .zip(&self.want)
                .position(|(a, b)| a != b)
                .unwrap_or(self.got.len().min(self.want.len()));
            panic!(
                "{who}: got {} reply bytes, want {}; first difference at byte {at}: got {:?}, want {:?}",
                self.got.len(),
                self.want.len(),
                String::from_utf8_lossy(&self.got[at..self.got.len().min(at + 80)]),
                String::from_utf8_lossy(&self.want[at..self.want.len().min(at + 80)])
            );
        }
    }
}

/// Wait until connecting to `addr` is refused (its listeners are closed).
fn wait_refused(addr: SocketAddr) {
    super::poll_until(
        POLL_TIMEOUT,
        "new connections to be refused",
        || match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(e.to_string()),
            Ok(_) => Err("a new connection was accepted".into()),
        },
    )
}

/// A started process whose ready line has not been seen yet.
pub struct Launched {
    proc: Proc,
    lines: mpsc::Receiver<String>,
}

impl Launched {
    /// Wait until a stdout line satisfies `ready`.
    ///
    /// # Errors
    /// As [`Proc::try_spawn`].
    pub fn wait_ready(self, ready: impl Fn(&str) -> bool) -> Result<Proc, String> {
        let Launched { mut proc, lines } = self;
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

/// Start `cachectl <args>` with stdin closed and stdout/stderr piped.
pub fn spawn_cachectl(args: &[&str]) -> std::process::Child {
    Command::new(CACHECTL)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cachectl")
}

/// Run `cachectl <args>` to completion (for flag errors, `--help`).
///
/// # Panics
/// If it does not finish within [`STOP_TIMEOUT`] (it is killed first).
pub fn run_cachectl(args: &[&str]) -> Output {
    run_cachectl_within(args, STOP_TIMEOUT)
}

/// Run `cachectl <args>` to completion, for runs that take long by nature
/// (a C50K bench of a debug build on a loaded machine).
///
/// # Panics
/// If it does not finish within `limit` (it is killed first).
pub fn run_cachectl_within(args: &[&str], limit: Duration) -> Output {
    let mut child = spawn_cachectl(args);
    let (out, err): (Sink, Sink) = (Arc::default(), Arc::default());
    let out_done = drain(child.stdout.take().expect("stdout"), out.clone());
    let err_done = drain(child.stderr.take().expect("stderr"), err.clone());
    let deadline = Instant::now() + limit;
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
