//! Accepting clients and serving one connection: read, run, write, repeat.

use super::clients::Entry;
use super::climits::{self, Verdict};
use super::core::{bump, Core};
use super::hop::{Delegated, Finished};
use super::pipeline::{self, After, Plan};
use super::pubsub;
use super::session::Session;
use crate::protected;
use crate::proto::resp::RequestParser;
use crate::roles::lifecycle;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use glommio::TaskQueueHandle;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// First read buffer size. Small on purpose: at C50K every idle connection
/// holds one, and it grows on demand for big requests.
const READ_BUF: usize = 4 * 1024;
/// Buffers that grew past this are shrunk back once drained.
const KEEP_BUF: usize = 64 * 1024;

/// How long a client may idle before a big drained read buffer it keeps
/// is given back (Redis's 2 s for an idle client's query buffer).
const BIG_BUF_IDLE: Duration = Duration::from_secs(2);
/// Most heap a connection takes back from a delegated read (a pipeline of
/// 16 needs 1–2 KiB); bigger buffers are freed, not kept per connection.
const SPARE_KEEP: usize = 16 * 1024;
/// A bulk string at least this long gets room for all of it as soon as its
/// header is read, rather than the buffer doubling its way there (Redis:
/// `PROTO_MBULK_BIG_ARG`).
const BIG_BULK: usize = 32 * 1024;

/// The reply Redis sends to a client over `maxclients` before closing it.
pub const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// How long a new connection's first bytes are awaited in the control
/// queue before it joins the data queue unexamined. The LB's probe sends
/// `NODESTAT` the moment its connect completes, so its bytes are there
/// within a scheduling delay of the LB process; a client that connects and
/// idles only holds a timer this long.
const PROBE_WINDOW: Duration = Duration::from_millis(200);

/// The two task queues of a core.
///
/// Why two: at C50K a 1-core node has 12,500 clients whose requests all
/// arrive in the same instant, and glommio runs one queue's tasks in FIFO
/// order. The LB's health probe, a fresh connection that must be answered
/// within 0.5 s, used to wait behind all of them (2–3 s in a debug build),
/// and the LB evicted every node of a cluster that was only busy. Accepts
/// and probes now run in a queue of their own, which runs at the data
/// queue's next preemption instead of after its whole backlog: an accept
/// completes on glommio's latency ring, which ends the data queue's turn,
/// and the executor's preemption timer ends it at the latest. (Why no
/// latency requirement on the control queue: docs/ARCHITECTURE.md.)
/// The probe still walks a client's path (accept, maxclients, the request
/// parser and the command table); it only does not wait in line.
#[derive(Clone, Copy, Debug)]
pub struct Queues {
    /// Accept loops, and connections whose first request is `NODESTAT`.
    pub control: TaskQueueHandle,
    /// Every other connection.
    pub data: TaskQueueHandle,
}

/// Accept clients until the core stops. Runs in the control queue.
pub async fn accept_loop(
    core: Rc<Core>,
    listener: TcpListener,
    port: super::routing::Entry,
    queues: Queues,
) {
    let args = &core.shared.cfg.args;
    while let Some(stream) = core.life.accept(&listener).await {
        let prev = core.shared.clients.fetch_add(1, Ordering::Relaxed);
        if prev >= core.shared.maxclients {
            core.shared.clients.fetch_sub(1, Ordering::Relaxed);
            bump(&core.counters.rejected);
            glommio::spawn_local(reject(stream, MAX_CLIENTS_REPLY)).detach();
            continue;
        }
        // After the maxclients check, as in Redis (acceptCommonHandler,
        // then clientAcceptHandler). The flag and the password are the live
        // ones: CONFIG SET protected-mode no or requirepass lifts
        // protection for the next connection.
        let guarded = protected::guards(
            core.shared.protected_mode.load(Ordering::Relaxed),
            args.bind,
            args.cluster_secret_file.is_some(),
        );
        if guarded
            && core.shared.password().is_none()
            && !stream
                .peer_addr()
                .is_ok_and(|a| protected::is_local_peer(a.ip()))
        {
            core.shared.clients.fetch_sub(1, Ordering::Relaxed);
            bump(&core.counters.rejected);
            glommio::spawn_local(reject(stream, protected::DENIED)).detach();
            continue;
        }
        bump(&core.counters.connections_received);
        glommio::spawn_local(sort(core.clone(), stream, port, queues.data)).detach();
    }
}

/// Serve a probe here, in the control queue; hand any other connection to
/// the data queue. Peeking leaves the bytes for the connection's own reads.
async fn sort(
    core: Rc<Core>,
    stream: TcpStream,
    port: super::routing::Entry,
    data: TaskQueueHandle,
) {
    let mut head = [0u8; 32];
    // Most clients have sent by the time they are accepted: a non-blocking
    // peek then decides without a trip through the ring.
    let probe = match try_peek(&stream, &mut head) {
        Some(n) => is_probe(&head[..n]),
        None => {
            let peek = async { Ok(stream.peek(&mut head).await) };
            match glommio::timer::timeout(PROBE_WINDOW, peek).await {
                Ok(Ok(n)) => is_probe(&head[..n]),
                _ => false,
            }
        }
    };
    if probe {
        return serve(core, stream, port).await;
    }
    // The default queue a core starts in, which lives as long as the
    // executor: spawning into it cannot fail.
    glommio::spawn_local_into(serve(core, stream, port), data)
        .expect("the data queue is the executor's default queue")
        .detach();
}

/// The bytes already received on `stream`, copied into `buf` and left in
/// the socket; `None` if there are none yet (or the peek failed: the
/// connection's own reads will meet the error).
fn try_peek(stream: &TcpStream, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: recv(2) into `buf`, which is valid for `buf.len()` bytes, on
    // the fd `stream` owns and keeps open for the call.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// True if `head`, a connection's first bytes, starts the LB's probe: a
/// `NODESTAT` request, in RESP (how the LB sends it) or inline.
fn is_probe(head: &[u8]) -> bool {
    const NAME: &[u8] = b"nodestat";
    let name = match head.first() {
        Some(b'*') => {
            // `*<argc>\r\n$8\r\n`, then the name.
            let Some(end) = head.windows(2).position(|w| w == b"\r\n") else {
                return false;
            };
            let rest = &head[end + 2..];
            match rest.strip_prefix(b"$8\r\n") {
                Some(name) => name,
                None => return false,
            }
        }
        _ => head,
    };
    name.len() > NAME.len()
        && name[..NAME.len()].eq_ignore_ascii_case(NAME)
        && matches!(name[NAME.len()], b'\r' | b'\n' | b' ')
}

/// Send `reply` (best effort, as Redis) and close.
async fn reject(mut stream: TcpStream, reply: &'static [u8]) {
    let write = stream.write_all(reply);
    let _ = glommio::timer::timeout(Duration::from_secs(1), async { Ok(write.await) }).await;
    let _ = stream.close().await;
}

/// Serve one client until it closes, sends QUIT or a protocol error, or the
/// node shuts down (which ends pending reads, never replies in flight).
pub async fn serve(core: Rc<Core>, mut stream: TcpStream, port: super::routing::Entry) {
    let fd = stream.as_raw_fd();
    core.life.track(fd);
    let mut sess = Session::new(core.client_id(), core.shared.password().is_none());
    sess.port = port;
    sess.peer = stream.peer_addr().ok();
    let entry = Rc::new(Entry::new(
        sess.client.id,
        stream.peer_addr().ok(),
        stream.local_addr().ok(),
        fd,
        core.now(),
    ));
    core.conns.add(entry.clone());
    let mut plan = Plan::default();
    let mut parser = RequestParser::default();
    let mut input = Input::new();
    // Allocated on the first reply: at C50K most connections sit idle, and
    // untouched buffers still cost page faults when they are first used.
    let mut out: Vec<u8> = Vec::new();
    let mut hung_up = false;
    // Once stopped: the request the stop cut in two has been read to its
    // end, so a partial request left now came after the stop.
    let mut past_cut = false;
    // The idle timeout this socket's reads have (CONFIG SET may change it).
    let mut timeout = 0;
    // See `After::Full`.
    let mut more = false;
    loop {
        let want = core.shared.timeout_secs.load(Ordering::Relaxed);
        if want != timeout {
            // A read or write that waits this long fails, which closes the
            // client, as Redis's `timeout` does: it counts from the last
            // interaction, and any byte read or written is one, so a client
            // that sends a byte at a time is never idle (see `docs/SECURITY.md`).
            let t = (want > 0).then(|| Duration::from_secs(want));
            let _ = stream.set_read_timeout(t);
            let _ = stream.set_write_timeout(t);
            timeout = want;
        }
        let big_bulk = parser
            .awaited_bulk()
            .filter(|b| b.len() >= BIG_BULK)
            .map(|b| b.end + 2);
        let room = input.room_for(big_bulk, &core.shared.client_mem.query_limit);
        if let Room::Grow(len) = room {
            // A new buffer counts before it is made, so client eviction can
            // close this client instead: the room of a 512 MB bulk is never
            // made for a client that may not have it (the allocation would
            // be written through if the allocator reuses freed memory).
            climits::account(&core, &entry, len + out.capacity());
            if entry.evicted.get() {
                break;
            }
        }
        if !input.make_room(room) {
            let head = &input.pending()[..input.pending().len().min(64)];
            log::warn!(
                "Closing client that reached max query buffer length: {} (qbuf initial bytes: {:?})",
                entry.line(core.now()),
                String::from_utf8_lossy(head)
            );
            break;
        }
        let budget = core.life.budget(fd);
        // The last pass stopped at a full output buffer with complete
        // requests left: take them before reading more.
        if !std::mem::take(&mut more) {
            // Once the node stops, read only what had arrived by then, and the
            // rest of the request it cut in two: see `lifecycle`.
            let drained = input.pending().is_empty();
            let idle_big = input.idle_big();
            let room = input.room();
            let len = match budget {
                None => room.len(),
                Some(0) if drained || past_cut => break,
                Some(0) => room.len(),
                Some(b) => b.min(room.len()),
            };
            let read = stream.read(&mut room[..len]);
            // A subscriber's read races its mail (see `pubsub`).
            let got = match pubsub::mailbox(&sess) {
                None if idle_big => {
                    // A big drained buffer is kept for the next request
                    // only while requests keep coming (Redis frees an idle
                    // client's query buffer after 2 s too).
                    let idle = async {
                        glommio::timer::Timer::new(BIG_BUF_IDLE).await;
                        None
                    };
                    let got = futures_lite::future::or(async { Some(read.await) }, idle).await;
                    if got.is_none() {
                        input.shrink();
                        climits::account(&core, &entry, input.held() + out.capacity());
                        continue;
                    }
                    got
                }
                None => Some(read.await),
                Some(mail) => pubsub::or_mail(read, &mail).await,
            };
            let Some(got) = got else {
                // Messages came before any request: write them once nothing
                // else is writing to the socket.
                if !finish_delegated(&core, &mut sess, &mut plan, &mut out, &mut stream).await
                    || !pubsub::collect(&sess, &mut out)
                    || !send(&core, &mut sess, &mut stream, &mut out).await
                {
                    break;
                }
                glommio::yield_if_needed().await;
                continue;
            };
            match got {
                Ok(0) => {
                    hung_up = true;
                    break;
                }
                Err(_) => break,
                Ok(n) => {
                    input.filled(n);
                    core.life.took(fd, n);
                }
            }
        }
        // Mail that was waiting goes out before this read's replies.
        if !finish_delegated(&core, &mut sess, &mut plan, &mut out, &mut stream).await
            || !pubsub::collect(&sess, &mut out)
        {
            break;
        }
        let (used, after) = pipeline::process(
            &core,
            &mut sess,
            &mut plan,
            &mut parser,
            input.pending(),
            fd,
            &mut out,
        )
        .await;
        input.consume(used);
        entry.sync(&sess);
        past_cut |= budget == Some(0) && used > 0;
        // Mail that came meanwhile follows them, unless another core is
        // writing this read's answer: then it waits for the next turn.
        if sess.pending.is_none() && !pubsub::collect(&sess, &mut out) {
            break;
        }
        // The replies' room counts before they are written: a client whose
        // answer takes the node over maxmemory-clients may be closed now.
        climits::account(&core, &entry, input.held() + out.capacity());
        if entry.evicted.get() {
            break;
        }
        if !send(&core, &mut sess, &mut stream, &mut out).await {
            break;
        }
        match after {
            After::Close => break,
            After::Full => more = true,
            After::Continue => {}
        }
        // A client that keeps the socket full makes every read and write
        // complete at once, and this loop would never give the core back:
        // let the other connections, accepts and timers (the stop
        // watcher's too) run when the executor asks.
        glommio::yield_if_needed().await;
    }
    // Another core may still be writing to this fd: wait before closing it.
    finish_delegated(&core, &mut sess, &mut plan, &mut out, &mut stream).await;
    pubsub::disconnect(&core, &mut sess);
    climits::forget(&core, &entry);
    // Before the fd closes: CLIENT KILL and client eviction must never shut
    // down a reused fd.
    core.conns.remove(sess.client.id);
    if core.life.stopping() {
        // Every reply must reach the client before the fd closes.
        lifecycle::close_drained(stream).await;
    } else if hung_up {
        // The client closed first and everything it sent was read: dropping
        // the stream closes the fd, which sends our FIN. `close()` would add
        // a `shutdown` syscall per connection for nothing (C50K closes
        // 50,000 of them in a burst).
        drop(stream);
    } else {
        let _ = stream.close().await;
    }
    core.life.untrack(fd);
    core.shared.clients.fetch_sub(1, Ordering::Relaxed);
}

/// Write and empty `out`, if it holds anything; false if the socket failed,
/// a subscriber was cut off for its output buffer (see `pubsub::write`), or
/// a normal client passed its `client-output-buffer-limit`.
async fn send(core: &Core, sess: &mut Session, stream: &mut TcpStream, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return true;
    }
    if sess.subs.is_some() {
        if !pubsub::write(sess, stream, out).await {
            return false;
        }
    } else if !write_limited(core, sess, stream, out).await {
        return false;
    }
    out.clear();
    if out.capacity() > KEEP_BUF {
        out.shrink_to(READ_BUF);
    }
    true
}

/// Wait for replies another core is writing to this client, and write what
/// it could not; take back the read's buffers. In the common case (a client
/// that waits for its reply before sending more) the completion is already
/// there, so this neither blocks nor costs a cross-core wake-up. Returns
/// false if the socket failed.
async fn finish_delegated(
    core: &Core,
    sess: &mut Session,
    plan: &mut Plan,
    out: &mut Vec<u8>,
    stream: &mut TcpStream,
) -> bool {
    let Some(rx) = sess.pending.take() else {
        return true;
    };
    let Ok(Finished {
        outcome,
        spare,
        mut slow,
    }) = rx.await
    else {
        return false;
    };
    super::cmdstats::log(core, sess, &mut slow);
    if spare.heap_bytes() <= SPARE_KEEP {
        plan.restore(spare, out);
    }
    match outcome {
        Delegated::Done => true,
        Delegated::Rest(rest) => write_limited(core, sess, stream, &rest).await,
        Delegated::Failed => false,
    }
}

/// Write a normal client's `bytes` under the normal class's
/// `client-output-buffer-limit`: false if the socket failed, or the unsent
/// replies are at the hard limit, or stay over the soft one past its
/// seconds. A write of at most Redis's fixed reply buffer (nearly all of
/// them) costs one compare here. Replies are written as they are made, so
/// what is unsent is the answer to the reads already taken; while this
/// waits, nothing more is read from the client.
async fn write_limited(
    core: &Core,
    sess: &mut Session,
    stream: &mut TcpStream,
    bytes: &[u8],
) -> bool {
    if bytes.len() <= climits::REPLY_BUF {
        sess.out_check.under();
        return stream.write_all(bytes).await.is_ok();
    }
    let limit = core.shared.output_limits.normal.get();
    let within = match sess.out_check.check(bytes.len(), limit, core.now()) {
        Verdict::Send => return stream.write_all(bytes).await.is_ok(),
        Verdict::Close => {
            obuf_closing(core, sess, bytes.len());
            return false;
        }
        Verdict::SendWithin(ms) => ms,
    };
    // Over the soft limit: the client must take all of it before the
    // clock runs out. Nothing more is read meanwhile, so a client that
    // stopped reading would stay just under the limit if the clock stopped
    // there, where Redis's buffer keeps growing with the replies to its
    // later requests; only a write that completes stops the clock.
    let deadline = Instant::now() + Duration::from_millis(within);
    let mut sent = 0;
    while sent < bytes.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match glommio::timer::timeout(left, async { Ok(stream.write(&bytes[sent..]).await) }).await
        {
            Ok(Ok(n)) if n > 0 => sent += n,
            Ok(_) => return false,
            Err(_) => {
                obuf_closing(core, sess, bytes.len() - sent);
                return false;
            }
        }
    }
    sess.out_check.under();
    true
}

/// Redis's log line for a client closed for its output buffer.
fn obuf_closing(core: &Core, sess: &Session, pending: usize) {
    let line = core
        .conns
        .get(sess.client.id)
        .map(|e| e.line(core.now()))
        .unwrap_or_default();
    log::warn!(
        "Client {line} scheduled to be closed ASAP for overcoming of output buffer limits. \
         ({pending} bytes unsent)"
    );
}

/// A connection's read buffer: `buf[start..end]` is input not yet parsed,
/// beginning with a request that may be incomplete; `buf[end..]` is room for
/// the next read.
///
/// Bytes are copied only to make room, and each byte at most a few times
/// over however the input is split: room for a big bulk is made once, when
/// its header is read; otherwise the buffer doubles, or the unparsed bytes
/// move to the front when that frees at least half of it. An incomplete
/// request is moved to the front at most once, as nothing before it is
/// consumed until it completes.
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The most bytes pending at once since the buffer last drained.
    peak: usize,
    /// Bytes copied to make room, to test the claim above.
    #[cfg(test)]
    copied: usize,
}

impl Input {
    fn new() -> Self {
        Input {
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            peak: 0,
            #[cfg(test)]
            copied: 0,
        }
    }

    /// Bytes the buffer holds (its room included), as client memory.
    fn held(&self) -> usize {
        self.buf.len()
    }

    /// The bytes read and not yet consumed.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Where the next read goes.
    fn room(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    /// The next read put `n` bytes into [`room`](Self::room).
    fn filled(&mut self, n: usize) {
        self.end += n;
        self.peak = self.peak.max(self.end - self.start);
    }

    /// True when the buffer is drained and bigger than [`KEEP_BUF`]: kept
    /// for a client that sends big requests one after another, and given
    /// back if it then idles ([`Input::shrink`]).
    fn idle_big(&self) -> bool {
        self.start == self.end && self.buf.len() > KEEP_BUF
    }

    /// Give a drained buffer's memory back.
    fn shrink(&mut self) {
        debug_assert_eq!(self.start, self.end);
        self.buf.truncate(READ_BUF);
        self.buf.shrink_to_fit();
    }

    /// The first `n` pending bytes were parsed. A drained buffer that grew
    /// past [`KEEP_BUF`] is shrunk back unless its last fill used at least
    /// half of it, Redis's rule for its query buffer (`querybuf_peak`): a
    /// client sending 7 MB requests back to back keeps its 7 MB buffer
    /// instead of the allocator zeroing fresh pages for each one (a tenth
    /// of the CPU of such a request), and one that has gone back to small
    /// requests gives it up at once.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > KEEP_BUF && self.peak < self.buf.len() / 2 {
                self.shrink();
            }
            self.peak = 0;
        }
    }

    /// What making room for at least one more byte takes, and when `need`
    /// is given, for the first `need` bytes of the pending input (a big
    /// bulk's end) to fit at once. [`Room::OverLimit`] if that takes more
    /// than `limit` (Redis's `client-query-buffer-limit`, read only when the
    /// buffer must grow).
    ///
    /// A bulk longer than the limit is refused as soon as its header is
    /// read, where Redis allocates its room and closes the client once the
    /// bytes read pass the limit: the client ends closed either way, but
    /// here without the room ever being made.
    fn room_for(&self, need: Option<usize>, limit: &AtomicUsize) -> Room {
        let pending = self.end - self.start;
        let want = need.unwrap_or(0).max(pending + 1);
        if self.start + want <= self.buf.len() {
            return Room::Fits;
        }
        let limit = limit.load(Ordering::Relaxed);
        if want > limit {
            return Room::OverLimit;
        }
        // Moving to the front is enough for a big bulk that fits, and worth
        // it for a full buffer when it frees at least half of it.
        if want <= self.buf.len() && (need.is_some() || pending <= self.buf.len() / 2) {
            Room::Front
        } else {
            // Grow at least twofold, so a request with many big bulks is
            // copied O(its size) in all, and otherwise exactly.
            Room::Grow(want.max((2 * self.buf.len()).min(limit)))
        }
    }

    /// Make the room [`room_for`](Self::room_for) found; false if it was
    /// over the limit.
    fn make_room(&mut self, room: Room) -> bool {
        let pending = self.end - self.start;
        match room {
            Room::Fits => return true,
            Room::OverLimit => return false,
            Room::Front => self.buf.copy_within(self.start..self.end, 0),
            Room::Grow(len) => {
                // A fresh zeroed allocation (not `resize`, which would also
                // copy the room and write every byte of the new room) that
                // takes only the pending bytes.
                let mut grown = vec![0; len];
                grown[..pending].copy_from_slice(&self.buf[self.start..self.end]);
                self.buf = grown;
            }
        }
        #[cfg(test)]
        {
            self.copied += pending;
        }
        self.start = 0;
        self.end = pending;
        true
    }
}

/// What a read buffer needs before the next read (see [`Input::room_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Room {
    /// The room is there.
    Fits,
    /// Moving the pending bytes to the front makes it.
    Front,
    /// A new buffer of this length.
    Grow(usize),
    /// More than `client-query-buffer-limit`.
    OverLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lbs_probe_is_told_from_first_bytes() {
        // What the LB sends, without and with a cluster secret.
        assert!(is_probe(b"*1\r\n$8\r\nNODESTAT\r\n"));
        assert!(is_probe(b"*3\r\n$8\r\nNODESTAT\r\n$64\r\nab"));
        assert!(is_probe(b"*1\r\n$8\r\nnodestat\r\n"));
        assert!(is_probe(b"NODESTAT\r\n"));
        assert!(is_probe(b"nodestat ab 127.0.0.1:7000\r\n"));
        // Anything else, or too little to tell, goes to the data queue.
        for head in [
            &b""[..],
            b"*1\r\n$8\r\nNODESTA",
            b"*1\r\n$9\r\nNODESTATS\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"NODESTATS\r\n",
            b"NODESTAT",
            b"*2\r\n$3\r\nGET\r\n$8\r\nNODESTAT\r\n",
        ] {
            assert!(!is_probe(head), "{:?}", String::from_utf8_lossy(head));
        }
    }

    /// Redis's default `client-query-buffer-limit`.
    const QUERY_BUF_LIMIT: usize = 1 << 30;
    static LIMIT: AtomicUsize = AtomicUsize::new(QUERY_BUF_LIMIT);

    /// Feed `input` in `piece`-byte reads; after each, `parse` says how
    /// many pending bytes were consumed and what the request in progress
    /// needs. Returns the bytes copied.
    fn feed(
        input: &[u8],
        piece: usize,
        mut parse: impl FnMut(&[u8]) -> (usize, Option<usize>),
    ) -> usize {
        let mut buf = Input::new();
        let mut need = None;
        let mut fed = 0;
        while fed < input.len() {
            assert!(buf.make_room(buf.room_for(need, &LIMIT)));
            if let Some(need) = need {
                assert!(buf.buf.len() >= need, "no room for a big bulk");
            }
            let room = buf.room();
            let n = room.len().min(piece).min(input.len() - fed);
            room[..n].copy_from_slice(&input[fed..fed + n]);
            buf.filled(n);
            fed += n;
            let (used, next) = parse(buf.pending());
            buf.consume(used);
            need = next;
        }
        buf.copied
    }

    /// A request framed as a header line followed by its body, for `feed`.
    fn framed(len: usize) -> Vec<u8> {
        let mut r = format!("{len}\n").into_bytes();
        r.extend(vec![b'x'; len]);
        r
    }

    #[test]
    fn a_big_bulk_gets_its_room_once() {
        let value = 7_000_000;
        let req = framed(value);
        let mut sizes = Vec::new();
        let copied = feed(&req, 4096, |p| {
            sizes.push(p.len());
            match p.iter().position(|&b| b == b'\n') {
                Some(nl) if p.len() == req.len() => (nl + 1 + value, None),
                Some(nl) => (0, Some(nl + 1 + value)),
                None => (0, None),
            }
        });
        // Only the first read's bytes moved, into a buffer of the right size.
        assert_eq!(copied, 4096);
        assert_eq!(sizes.len(), req.len().div_ceil(4096));
    }

    #[test]
    fn a_big_buffer_is_kept_only_while_big_requests_fill_it() {
        let mut buf = Input::new();
        let big = 1 << 20;
        assert!(buf.make_room(Room::Grow(big)));
        let n = buf.room().len();
        buf.filled(n);
        buf.consume(n);
        // Filled to the top: kept for the next big request.
        assert!(buf.idle_big());
        assert_eq!(buf.held(), big);
        // A small request in it: given back once drained.
        buf.filled(100);
        buf.consume(100);
        assert!(!buf.idle_big());
        assert_eq!(buf.held(), READ_BUF);
    }

    #[test]
    fn copies_stay_linear() {
        // Many small requests, each cut across reads: after each read all
        // complete ones are consumed.
        let small: Vec<u8> = (0..100_000).flat_map(|_| framed(90)).collect();
        let copied = feed(&small, 4096, |p| {
            let mut used = 0;
            while let Some(nl) = p[used..].iter().position(|&b| b == b'\n') {
                if p.len() < used + nl + 1 + 90 {
                    break;
                }
                used += nl + 1 + 90;
            }
            (used, None)
        });
        assert!(
            copied <= small.len(),
            "{copied} bytes copied for {}",
            small.len()
        );

        // One request of 10 MB that never says how big it is: the buffer
        // doubles, never moving the request more than once per doubling.
        let whole = vec![b'x'; 10 << 20];
        let copied = feed(&whole, 4096, |p| {
            (if p.len() == whole.len() { p.len() } else { 0 }, None)
        });
        assert!(
            copied <= 2 * whole.len(),
            "{copied} bytes copied for {}",
            whole.len()
        );

        // One request of 300 bulks of 40 KB, each asking for its room.
        let bulk = 40_000;
        let many: Vec<u8> = (0..300).flat_map(|_| framed(bulk)).collect();
        let copied = feed(&many, 4096, |p| {
            // Where the last complete bulk ends, and the next one's end.
            let mut end = 0;
            loop {
                match p[end..].iter().position(|&b| b == b'\n') {
                    Some(nl) if p.len() >= end + nl + 1 + bulk => end += nl + 1 + bulk,
                    Some(nl) => return (0, Some(end + nl + 1 + bulk)),
                    None if end == many.len() => return (end, None),
                    None => return (0, None),
                }
            }
        });
        assert!(
            copied <= 2 * many.len(),
            "{copied} bytes copied for {}",
            many.len()
        );
    }

    #[test]
    fn over_the_query_buffer_limit() {
        let mut buf = Input::new();
        assert_eq!(
            buf.room_for(Some(QUERY_BUF_LIMIT + 1), &LIMIT),
            Room::OverLimit
        );
        assert!(!buf.make_room(Room::OverLimit));
        assert_eq!(
            buf.buf.len(),
            READ_BUF,
            "nothing allocated for a refused need"
        );
        assert!(buf.make_room(buf.room_for(Some(READ_BUF), &LIMIT)));
        // A lower live limit refuses what the default took.
        let low = AtomicUsize::new(1 << 20);
        assert_eq!(buf.room_for(Some((1 << 20) + 1), &low), Room::OverLimit);
        assert_eq!(buf.room_for(Some(1 << 20), &low), Room::Grow(1 << 20));
    }
}
