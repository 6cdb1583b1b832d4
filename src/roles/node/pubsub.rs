//! Pub/Sub across cores: SUBSCRIBE and PSUBSCRIBE on the connection's core,
//! PUBLISH reaching the subscribers of every core.
//!
//! **Where subscribers live.** A subscriber lives on the core that
//! accepted its connection. Each core keeps its own registry (`Local`):
//! channel → the mailboxes of this core's connections subscribed to it,
//! and the same for patterns. Subscribing and unsubscribing touch only
//! that registry and the connection's own list of subscriptions
//! (`Subscriber`, in its session), with no hop: the confirmation is
//! answered at once.
//!
//! **The node-wide view.** Beside the registries, `Shared` holds a
//! `Directory` every core may read: per core, a counting filter of 1,024
//! buckets over its channels (a bucket counts the channels with local
//! subscribers whose hash falls in it) and the number of its patterns.
//! Only the owning core writes its entries, when a channel gets its first
//! local subscriber or loses its last one, or a pattern does; publishers
//! only load them. So the view costs nothing per message and one atomic
//! add per new or emptied channel.
//!
//! **PUBLISH.** The publishing core delivers to its own subscribers, and
//! sends a `PubsubHop::Publish` (one shared copy of the channel and
//! payload) to each other core whose entry says it may have a receiver:
//! it has a pattern, or a channel in the message's bucket. Each such core
//! delivers to its subscribers and answers how many received it; PUBLISH
//! waits for every answer and replies with the sum, so the count is
//! node-wide. A node where nobody subscribes, or only to channels of
//! other buckets and no pattern, pays no hop: two atomic loads per other
//! core. A bucket shared by chance costs one hop that answers 0.
//! Subscriptions are counted in the directory before their confirmation
//! is written (sequentially consistent), so a PUBLISH sent after a client
//! has read a confirmation sees that subscription.
//!
//! **Order.** Per publisher, messages arrive in publish order: a PUBLISH
//! finishes (every core has delivered it) before its connection runs its
//! next command, local delivery is immediate, and the hops of one
//! publisher to one core travel in order on the channel between the two
//! cores anyway. A message a connection publishes to a channel it is
//! itself subscribed to is written into its own reply ahead of PUBLISH's
//! count, where Redis puts it.
//!
//! **Delivery.** A delivery appends the encoded push (in the subscriber's
//! protocol: an array in RESP2, a `>` push in RESP3) to the connection's
//! `Mailbox` and wakes its task. While subscribed, the connection's read
//! races its mailbox (`or_mail`): mail is written as soon as it comes,
//! after any reply another core is still writing to the socket (a
//! delegated read) has gone. Mail that is waiting when a read is
//! processed goes out before that read's replies, mail that comes while
//! it is processed (during a hop) after them; both are orders Redis could
//! produce, and a confirmation always precedes the channel's messages.
//!
//! **Slow subscribers.** Everything pushed and not yet written counts
//! against `--pubsub-output-limit` (Redis's `client-output-buffer-limit
//! pubsub 32mb 8mb 60`): a push that reaches the hard limit, or finds the
//! soft limit exceeded for more than its seconds, cuts the subscriber off.
//! Its mailbox is freed, later messages to it are dropped (PUBLISH still
//! counts it until it is gone, as Redis counts a client closing ASAP), and
//! the connection closes even if its write is stuck on a full socket,
//! which it races against the cut-off. So a subscriber that never reads
//! holds at most the limit plus what the kernel buffers.
//!
//! **PUBSUB CHANNELS / NUMSUB / NUMPAT** ask every core whose entry has
//! channels (patterns, for NUMPAT) with a `PubsubHop::Ask` and merge the
//! answers: channel names are deduplicated (one channel may have
//! subscribers on several cores), NUMSUB counts summed, and NUMPAT counts
//! the distinct patterns, as Redis 7.0 does.
//!
//! Not here yet: (P)SUBSCRIBE and PUBLISH inside MULTI (EXEC answers them
//! with an error), RESET, and the shard channels (SSUBSCRIBE).

mod state;

pub use state::{parse_limit, Directory, LiveLimit, Local, Mailbox, OutputLimit, Subscriber};

use super::core::{bump, Core};
use super::hop::Hop;
use super::pipeline::Plan;
use super::session::Session;
use crate::cmd::error::show;
use crate::cmd::pubsub::{
    allowed_when_subscribed, confirm, context_error, subscribed_ping, Confirm,
};
use crate::cmd::{PubsubCmd, Spec};
use crate::proto::{Proto, Reply};
use futures_channel::oneshot;
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;
use smallvec::SmallVec;
use std::collections::HashSet;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// A pub/sub message from one core to another.
pub enum PubsubHop {
    /// Deliver a message to the receiver's subscribers; answer how many
    /// received it.
    Publish {
        /// The channel and payload, shared by every core it goes to.
        msg: Arc<Published>,
        /// The receiver's count.
        reply: oneshot::Sender<usize>,
    },
    /// Answer a PUBSUB question about the receiver's subscriptions.
    Ask {
        /// The question, shared by every core asked.
        ask: Arc<Ask>,
        /// The receiver's answer.
        reply: oneshot::Sender<Answer>,
    },
}

/// A published message.
pub struct Published {
    channel: Box<[u8]>,
    payload: Box<[u8]>,
}

/// A PUBSUB question one core asks another.
pub enum Ask {
    /// Channels with subscribers, matching the pattern if one is given.
    Channels(Option<Box<[u8]>>),
    /// Subscribers of each channel.
    Numsub(Vec<Box<[u8]>>),
    /// Patterns with subscribers.
    Patterns,
}

/// One core's answer to an [`Ask`].
pub enum Answer {
    /// Channel or pattern names.
    Names(Vec<Box<[u8]>>),
    /// Counts, one per channel asked about.
    Counts(Vec<usize>),
}

/// A PUBSUB subcommand with the wrong number of arguments, which Redis
/// checks in the command itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ERR unknown subcommand or wrong number of arguments for '{0}'. Try PUBSUB HELP.")]
pub struct SubcommandSyntax(String);

/// Serve a pub/sub hop from another core.
pub fn serve(core: &Core, hop: PubsubHop) {
    match hop {
        PubsubHop::Publish { msg, reply } => {
            let n = core
                .pubsub
                .borrow()
                .deliver(&msg.channel, &msg.payload, core.now(), None);
            // The publisher may have gone: nothing to do.
            let _ = reply.send(n);
        }
        PubsubHop::Ask { ask, reply } => {
            let _ = reply.send(answer(&core.pubsub.borrow(), &ask));
        }
    }
}

fn answer(local: &Local, ask: &Ask) -> Answer {
    match ask {
        Ask::Channels(p) => Answer::Names(local.channels(p.as_deref())),
        Ask::Numsub(chans) => Answer::Counts(local.numsub(chans)),
        Ask::Patterns => Answer::Names(local.patterns()),
    }
}

/// Whether a subscribed RESP2 connection must not run `spec` as usual: it
/// is refused, or (PING) answered the subscribed way by [`screened`].
pub fn screens(sess: &Session, spec: &Spec) -> bool {
    sess.client.proto == Proto::Resp2
        && sess.subs.as_ref().is_some_and(|s| s.count() > 0)
        && (spec.name == "ping" || !allowed_when_subscribed(spec))
}

/// The answer to a request [`screens`] caught.
pub fn screened(spec: &Spec, args: &[&[u8]], w: &mut Reply<'_>) {
    if spec.name == "ping" {
        subscribed_ping(args, w);
    } else {
        w.error(&context_error(spec));
    }
}

/// Run a pub/sub command of this read, after the replies planned before it.
pub async fn run(
    core: &Rc<Core>,
    sess: &mut Session,
    plan: &mut Plan,
    cmd: PubsubCmd,
    args: &[&[u8]],
    proto: Proto,
    out: &mut Vec<u8>,
) {
    // Confirmations and own messages go straight into `out`, in request
    // order, so whatever was planned before must be there first.
    plan.flush(core, proto, out).await;
    match cmd {
        PubsubCmd::Subscribe => subscribe(core, sess, Kind::Channel, &args[1..], proto, out),
        PubsubCmd::Psubscribe => subscribe(core, sess, Kind::Pattern, &args[1..], proto, out),
        PubsubCmd::Unsubscribe => unsubscribe(core, sess, Kind::Channel, &args[1..], proto, out),
        PubsubCmd::Punsubscribe => unsubscribe(core, sess, Kind::Pattern, &args[1..], proto, out),
        PubsubCmd::Publish => publish(core, sess, args[1], args[2], proto, out).await,
        PubsubCmd::Channels => channels(core, args, proto, out).await,
        PubsubCmd::Numsub => numsub(core, &args[2..], proto, out).await,
        PubsubCmd::Numpat => {
            let names = gather_names(core, Ask::Patterns, Directory::has_patterns).await;
            Reply::new(out, proto).int(names.len() as i64);
        }
    }
}

/// Channels or patterns.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

fn subscribe(
    core: &Core,
    sess: &mut Session,
    kind: Kind,
    names: &[&[u8]],
    proto: Proto,
    out: &mut Vec<u8>,
) {
    let what = match kind {
        Kind::Channel => Confirm::Subscribe,
        Kind::Pattern => Confirm::Psubscribe,
    };
    let sub = sess.subs.get_or_insert_with(|| {
        Box::new(Subscriber::new(
            proto,
            core.shared.output_limits.pubsub.clone(),
        ))
    });
    let (dir, mut local) = (&core.shared.pubsub, core.pubsub.borrow_mut());
    let mut w = Reply::new(out, proto);
    for &name in names {
        match kind {
            Kind::Channel => {
                if sub.channels.insert(name.into()) {
                    local.subscribe(dir, core.id, name, &sub.mailbox);
                }
            }
            Kind::Pattern => {
                if !sub.patterns.iter().any(|p| &p[..] == name) {
                    sub.patterns.push(name.into());
                    local.psubscribe(dir, core.id, name, &sub.mailbox);
                }
            }
        }
        confirm(&mut w, what, Some(name), sub.count());
    }
}

fn unsubscribe(
    core: &Core,
    sess: &mut Session,
    kind: Kind,
    names: &[&[u8]],
    proto: Proto,
    out: &mut Vec<u8>,
) {
    let what = match kind {
        Kind::Channel => Confirm::Unsubscribe,
        Kind::Pattern => Confirm::Punsubscribe,
    };
    let mut w = Reply::new(out, proto);
    let Some(sub) = sess.subs.as_deref_mut() else {
        // Never subscribed: each name (or the lack of one) is confirmed
        // with a count of zero.
        if names.is_empty() {
            confirm(&mut w, what, None, 0);
        }
        for &name in names {
            confirm(&mut w, what, Some(name), 0);
        }
        return;
    };
    // Without names: every subscription of the kind, in the connection's
    // order (patterns) or its set's (channels, unordered as in Redis).
    let all: Vec<Box<[u8]>> = match (names.is_empty(), kind) {
        (false, _) => names.iter().map(|&n| n.into()).collect(),
        (true, Kind::Channel) => sub.channels.iter().cloned().collect(),
        (true, Kind::Pattern) => sub.patterns.clone(),
    };
    if all.is_empty() {
        confirm(&mut w, what, None, sub.count());
        return;
    }
    let (dir, mut local) = (&core.shared.pubsub, core.pubsub.borrow_mut());
    for name in &all {
        match kind {
            Kind::Channel => {
                if sub.channels.remove(name) {
                    local.unsubscribe(dir, core.id, name, &sub.mailbox);
                }
            }
            Kind::Pattern => {
                if let Some(i) = sub.patterns.iter().position(|p| p == name) {
                    sub.patterns.remove(i);
                    local.punsubscribe(dir, core.id, name, &sub.mailbox);
                }
            }
        }
        confirm(&mut w, what, Some(name), sub.count());
    }
}

async fn publish(
    core: &Rc<Core>,
    sess: &Session,
    channel: &[u8],
    payload: &[u8],
    proto: Proto,
    out: &mut Vec<u8>,
) {
    let dir = &core.shared.pubsub;
    let peers: SmallVec<[usize; 8]> = (0..core.n)
        .filter(|&c| c != core.id && dir.may_receive(c, channel))
        .collect();
    let mut waiting: SmallVec<[oneshot::Receiver<usize>; 8]> = SmallVec::new();
    if !peers.is_empty() {
        let msg = Arc::new(Published {
            channel: channel.into(),
            payload: payload.into(),
        });
        for peer in peers {
            let (reply, rx) = oneshot::channel();
            let hop = Hop::Pubsub(PubsubHop::Publish {
                msg: msg.clone(),
                reply,
            });
            bump(&core.counters.hops_sent);
            // A core that is gone (the node is stopping) has no receivers.
            if core.mesh.send_to(peer, hop).is_ok() {
                waiting.push(rx);
            }
        }
    }
    let mut w = Reply::new(out, proto);
    let me = sess.subs.as_ref().map(|s| (&s.mailbox, &mut w));
    let mut n = core
        .pubsub
        .borrow()
        .deliver(channel, payload, core.now(), me);
    for rx in waiting {
        n += rx.await.unwrap_or(0);
    }
    w.int(n as i64);
}

/// PUBSUB CHANNELS [pattern]: the node's channels with subscribers.
async fn channels(core: &Rc<Core>, args: &[&[u8]], proto: Proto, out: &mut Vec<u8>) {
    let mut w = Reply::new(out, proto);
    if args.len() > 3 {
        return w.error(&SubcommandSyntax(show(args[1])).to_string());
    }
    let ask = Ask::Channels(args.get(2).map(|&p| p.into()));
    let names = gather_names(core, ask, Directory::has_channels).await;
    w.array(names.len());
    for n in names {
        w.bulk(&n);
    }
}

/// PUBSUB NUMSUB [channel ...]: each channel with its node-wide count.
async fn numsub(core: &Rc<Core>, chans: &[&[u8]], proto: Proto, out: &mut Vec<u8>) {
    let ask = Ask::Numsub(chans.iter().map(|&c| c.into()).collect());
    let mut counts = vec![0; chans.len()];
    for a in gather(core, ask, Directory::has_channels).await {
        if let Answer::Counts(c) = a {
            for (sum, n) in counts.iter_mut().zip(c) {
                *sum += n;
            }
        }
    }
    let mut w = Reply::new(out, proto);
    w.array(2 * chans.len());
    for (c, n) in chans.iter().zip(counts) {
        w.bulk(c);
        w.int(n as i64);
    }
}

/// The distinct names every core answers to `ask`.
async fn gather_names(
    core: &Rc<Core>,
    ask: Ask,
    has: fn(&Directory, usize) -> bool,
) -> Vec<Box<[u8]>> {
    let mut seen = HashSet::<Box<[u8]>, foldhash::fast::RandomState>::default();
    let mut names = Vec::new();
    for a in gather(core, ask, has).await {
        if let Answer::Names(n) = a {
            names.extend(n.into_iter().filter(|n| seen.insert(n.clone())));
        }
    }
    names
}

/// This core's answer to `ask` and every other core's that `has`
/// something to answer with (no hop to a core without subscriptions).
async fn gather(core: &Rc<Core>, ask: Ask, has: fn(&Directory, usize) -> bool) -> Vec<Answer> {
    let dir = &core.shared.pubsub;
    let ask = Arc::new(ask);
    let mut waiting = Vec::new();
    for peer in (0..core.n).filter(|&c| c != core.id && has(dir, c)) {
        let (reply, rx) = oneshot::channel();
        bump(&core.counters.hops_sent);
        let hop = Hop::Pubsub(PubsubHop::Ask {
            ask: ask.clone(),
            reply,
        });
        if core.mesh.send_to(peer, hop).is_ok() {
            waiting.push(rx);
        }
    }
    let mut answers = vec![answer(&core.pubsub.borrow(), &ask)];
    for rx in waiting {
        if let Ok(a) = rx.await {
            answers.push(a);
        }
    }
    answers
}

/// The connection's mailbox, once it has subscribed.
pub fn mailbox(sess: &Session) -> Option<Rc<Mailbox>> {
    sess.subs.as_ref().map(|s| s.mailbox.clone())
}

/// Await `read`, or mail for the connection, whichever comes first:
/// `None` when mail (or the cut-off of a slow subscriber) came first.
pub async fn or_mail<T>(read: impl Future<Output = T>, mailbox: &Mailbox) -> Option<T> {
    futures_lite::future::or(async { Some(read.await) }, async {
        mailbox.ready().await;
        None
    })
    .await
}

/// Move the connection's waiting mail to the end of `out`, encoding
/// later mail in the protocol the connection speaks now. False if the
/// output-buffer limit cut the connection off.
pub fn collect(sess: &Session, out: &mut Vec<u8>) -> bool {
    let Some(sub) = &sess.subs else {
        return true;
    };
    sub.mailbox.set_proto(sess.client.proto);
    sub.mailbox.take_into(out);
    !sub.mailbox.killed()
}

/// Write `out` to the client. For a subscriber the write races its
/// cut-off: a subscriber that stopped reading cannot hold its connection
/// (and what is pushed to it) open by leaving the socket full. False if
/// the socket failed or the subscriber was cut off.
pub async fn write(sess: &Session, stream: &mut TcpStream, out: &[u8]) -> bool {
    let Some(sub) = &sess.subs else {
        return stream.write_all(out).await.is_ok();
    };
    let mailbox = &sub.mailbox;
    let ok = futures_lite::future::or(async { stream.write_all(out).await.is_ok() }, async {
        mailbox.cut_off().await;
        false
    })
    .await;
    mailbox.written();
    ok && !mailbox.killed()
}

/// The connection is closing: drop its subscriptions from this core.
pub fn disconnect(core: &Core, sess: &mut Session) {
    let Some(sub) = sess.subs.take() else {
        return;
    };
    let (dir, mut local) = (&core.shared.pubsub, core.pubsub.borrow_mut());
    for c in &sub.channels {
        local.unsubscribe(dir, core.id, c, &sub.mailbox);
    }
    for p in &sub.patterns {
        local.punsubscribe(dir, core.id, p, &sub.mailbox);
    }
}
