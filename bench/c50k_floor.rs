//! The kernel's floor under a C50K `--hold` run on this machine: the same
//! TCP work as one `cachectl bench --tasks N --hold` task — connect, hold
//! until every connection is open, SET a task-unique key, GET it back and
//! compare, close — done by the thinnest user space there is: one thread
//! per process, level-triggered epoll, a request parser of a few lines,
//! no lease at all. Whatever this takes is kernel TCP work that any
//! implementation of the task pays on this machine, so it bounds from below
//! what `cachectl bench` can reach (docs/BENCH.md, issue 4).
//!
//! Processes: `procs` servers and `procs` clients (the 20,000 open-file
//! limit per process needs several of each for 50,000 connections), client
//! `i` talking to server `i` so each (source, destination) pair stays far
//! below the ephemeral port range. Timed like `cachectl bench`: from "go"
//! to the last client done, connect phase included; CPU is every child's
//! user + system time.
//!
//! Run: `cargo bench --bench c50k_floor` (env: FLOOR_TASKS [50000],
//! FLOOR_PROCS [4], FLOOR_INFLIGHT [256] connects in flight per client).
//!
//! Every `unsafe` block below is one libc call on a file descriptor this
//! process owns, with pointers to live locals of the right size; plain
//! libc is the point (no runtime between the program and the kernel).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::RawFd;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => server(),
        Some("client") => client(
            args[2].parse().unwrap(),
            args[3].parse().unwrap(),
            args[4].parse().unwrap(),
        ),
        _ => parent(),
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parent() {
    let tasks = env("FLOOR_TASKS", 50_000);
    let procs = env("FLOOR_PROCS", 4);
    let inflight = env("FLOOR_INFLIGHT", 256).to_string();
    let me = std::env::current_exe().expect("own path");
    let mut servers: Vec<(Child, u16)> = (0..procs)
        .map(|_| {
            let mut child = Command::new(&me)
                .arg("server")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start server");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let port = line.trim().parse().expect("server port");
            (child, port)
        })
        .collect();
    let mut clients: Vec<Child> = (0..procs)
        .map(|i| {
            let share = tasks / procs + usize::from(i < tasks % procs);
            Command::new(&me)
                .args([
                    "client",
                    &servers[i].1.to_string(),
                    &share.to_string(),
                    &inflight,
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start client")
        })
        .collect();
    let mut outs: Vec<_> = clients
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    // Every client is up (epoll set, nothing connected yet): go.
    for out in &mut outs {
        expect_line(out, "ready");
    }
    let start = Instant::now();
    for c in &mut clients {
        c.stdin.as_mut().unwrap().write_all(b"c").unwrap();
    }
    for out in &mut outs {
        expect_line(out, "connected");
    }
    let connected = start.elapsed();
    // All connections are open at once: the barrier.
    for c in &mut clients {
        c.stdin.as_mut().unwrap().write_all(b"g").unwrap();
    }
    let mut ok = 0usize;
    for out in &mut outs {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        ok += line
            .trim()
            .strip_prefix("done ")
            .expect("done line")
            .parse::<usize>()
            .unwrap();
    }
    let runtime = start.elapsed();
    for c in &mut clients {
        c.wait().unwrap();
    }
    for (s, _) in &mut servers {
        drop(s.stdin.take()); // EOF on stdin: the server exits.
        s.wait().unwrap();
    }
    let (user, sys) = children_cpu();
    println!("tasks {tasks} verified {ok} procs {procs}×2");
    println!(
        "runtime {:.2} s (connect {:.2} s + blocks {:.2} s)  {:.0} tasks/s",
        runtime.as_secs_f64(),
        connected.as_secs_f64(),
        (runtime - connected).as_secs_f64(),
        ok as f64 / runtime.as_secs_f64()
    );
    println!(
        "cpu {user:.2} s user + {sys:.2} s system = {:.1} µs per task",
        (user + sys) * 1e6 / tasks as f64
    );
    assert_eq!(ok, tasks, "every task verified");
}

fn expect_line(out: &mut impl BufRead, want: &str) {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), want);
}

fn children_cpu() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(ru.ru_utime), s(ru.ru_stime))
}

fn check(r: libc::c_int, what: &str) -> libc::c_int {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    r
}

/// Register `fd` (`EPOLL_CTL_ADD`) or change its events (`EPOLL_CTL_MOD`).
fn epoll_ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32) {
    let mut ev = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    check(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }, "epoll_ctl");
}

fn sockaddr(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    }
}

const SALEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

/// Split complete RESP arrays off the front of `buf`; `None` when the
/// first one is not all there yet.
fn parse(buf: &[u8]) -> Option<(Vec<&[u8]>, usize)> {
    fn line(buf: &[u8], at: usize) -> Option<(usize, usize)> {
        let end = at + buf[at..].windows(2).position(|w| w == b"\r\n")?;
        let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    }
    let (n, mut at) = line(buf, 0)?;
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, start) = line(buf, at)?;
        if buf.len() < start + len + 2 {
            return None;
        }
        args.push(&buf[start..start + len]);
        at = start + len + 2;
    }
    Some((args, at))
}

fn server() {
    let lfd = check(
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) },
        "socket",
    );
    let one: libc::c_int = 1;
    let p = &one as *const _ as *const libc::c_void;
    unsafe { libc::setsockopt(lfd, libc::IPPROTO_TCP, libc::TCP_NODELAY, p, 4) };
    let addr = sockaddr(0);
    check(
        unsafe { libc::bind(lfd, &addr as *const _ as *const libc::sockaddr, SALEN) },
        "bind",
    );
    check(unsafe { libc::listen(lfd, 8192) }, "listen");
    let mut bound = sockaddr(0);
    let mut len = SALEN;
    unsafe { libc::getsockname(lfd, &mut bound as *mut _ as *mut libc::sockaddr, &mut len) };
    println!("{}", u16::from_be(bound.sin_port));
    std::io::stdout().flush().unwrap();
    let ep = check(unsafe { libc::epoll_create1(0) }, "epoll_create1");
    epoll_ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32);
    epoll_ctl(ep, libc::EPOLL_CTL_ADD, 0, libc::EPOLLIN as u32); // stdin: EOF means stop
    let mut store: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut bufs: HashMap<RawFd, Vec<u8>> = HashMap::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    let mut chunk = [0u8; 4096];
    loop {
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 512, -1) };
        for ev in &events[..n.max(0) as usize] {
            let fd = ev.u64 as RawFd;
            if fd == 0 {
                return;
            }
            if fd == lfd {
                loop {
                    let c = unsafe {
                        libc::accept4(
                            lfd,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK,
                        )
                    };
                    if c < 0 {
                        break;
                    }
                    epoll_ctl(ep, libc::EPOLL_CTL_ADD, c, libc::EPOLLIN as u32);
                }
                continue;
            }
            let got = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            if got <= 0 {
                if got == 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock
                {
                    bufs.remove(&fd);
                    unsafe { libc::close(fd) };
                }
                continue;
            }
            let buf = bufs.entry(fd).or_default();
            buf.extend_from_slice(&chunk[..got as usize]);
            let mut out = Vec::new();
            let mut used = 0;
            while let Some((args, n)) = parse(&buf[used..]) {
                match args.as_slice() {
                    [_, k, v] => {
                        store.insert(k.to_vec(), v.to_vec());
                        out.extend_from_slice(b"+OK\r\n");
                    }
                    [_, k] => match store.get(*k) {
                        Some(v) => {
                            out.extend_from_slice(format!("${}\r\n", v.len()).as_bytes());
                            out.extend_from_slice(v);
                            out.extend_from_slice(b"\r\n");
                        }
                        None => out.extend_from_slice(b"$-1\r\n"),
                    },
                    _ => out.extend_from_slice(b"-ERR\r\n"),
                }
                used += n;
            }
            buf.drain(..used);
            if !out.is_empty() {
                // Replies are tiny and the socket buffer empty: one write.
                unsafe { libc::write(fd, out.as_ptr().cast(), out.len()) };
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Connecting,
    Held,
    AwaitSet,
    AwaitGet,
}

fn client(port: u16, tasks: usize, inflight: usize) {
    let ep = check(unsafe { libc::epoll_create1(0) }, "epoll_create1");
    let addr = sockaddr(port);
    let mut conns: HashMap<RawFd, (usize, State)> = HashMap::with_capacity(tasks);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    let mut stdin = std::io::stdin();
    let mut byte = [0u8; 1];
    println!("ready");
    std::io::stdout().flush().unwrap();
    stdin.read_exact(&mut byte).unwrap();
    let (mut started, mut connected, mut pending) = (0usize, 0usize, 0usize);
    let open = |i: usize, conns: &mut HashMap<RawFd, (usize, State)>| {
        let fd = check(
            unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) },
            "socket",
        );
        let one: libc::c_int = 1;
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                &one as *const _ as *const libc::c_void,
                4,
            )
        };
        unsafe { libc::connect(fd, &addr as *const _ as *const libc::sockaddr, SALEN) };
        epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, libc::EPOLLOUT as u32);
        conns.insert(fd, (i, State::Connecting));
    };
    while connected < tasks {
        while started < tasks && pending < inflight {
            open(started, &mut conns);
            started += 1;
            pending += 1;
        }
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 512, -1) };
        for ev in &events[..n.max(0) as usize] {
            let fd = ev.u64 as RawFd;
            let mut err: libc::c_int = 0;
            let mut len = 4;
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    &mut err as *mut _ as *mut libc::c_void,
                    &mut len,
                )
            };
            assert_eq!(err, 0, "connect failed");
            conns.get_mut(&fd).unwrap().1 = State::Held;
            epoll_ctl(ep, libc::EPOLL_CTL_MOD, fd, 0);
            pending -= 1;
            connected += 1;
        }
    }
    println!("connected");
    std::io::stdout().flush().unwrap();
    stdin.read_exact(&mut byte).unwrap();
    let cmd = |parts: &[&[u8]]| {
        let mut v = format!("*{}\r\n", parts.len()).into_bytes();
        for p in parts {
            v.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
            v.extend_from_slice(p);
            v.extend_from_slice(b"\r\n");
        }
        v
    };
    let key = |i: usize| format!("floor:{i}").into_bytes();
    let value = |i: usize| format!("task-{i}").into_bytes();
    for (&fd, st) in conns.iter_mut() {
        let req = cmd(&[b"SET", &key(st.0), &value(st.0)]);
        unsafe { libc::write(fd, req.as_ptr().cast(), req.len()) };
        st.1 = State::AwaitSet;
        epoll_ctl(ep, libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32);
    }
    let mut done = 0usize;
    let mut chunk = [0u8; 256];
    while !conns.is_empty() {
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 512, -1) };
        for ev in &events[..n.max(0) as usize] {
            let fd = ev.u64 as RawFd;
            // Replies are a few bytes and arrive in one segment.
            let got = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            assert!(got > 0, "reply");
            let reply = &chunk[..got as usize];
            let st = conns.get_mut(&fd).unwrap();
            if st.1 == State::AwaitSet {
                assert_eq!(reply, b"+OK\r\n");
                let req = cmd(&[b"GET", &key(st.0)]);
                unsafe { libc::write(fd, req.as_ptr().cast(), req.len()) };
                st.1 = State::AwaitGet;
            } else {
                let v = value(st.0);
                let want = [format!("${}\r\n", v.len()).as_bytes(), &v, b"\r\n"].concat();
                if reply == want {
                    done += 1;
                }
                conns.remove(&fd);
                unsafe { libc::close(fd) };
            }
        }
    }
    println!("done {done}");
}
