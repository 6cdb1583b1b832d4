//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and
//! PUBSUB CHANNELS / NUMSUB / NUMPAT / HELP.
//!
//! The rows are [`Run::Node`]: subscriptions live on the connection's core
//! and a message reaches the subscribers of every core, so `node::pubsub`
//! runs them. What is Redis's wire format rather than the node's business
//! is here: the push frames, and which commands a subscribed RESP2
//! connection may run.

use super::spec::{Flags, Keys, NodeCmd, PubsubCmd, Run, Spec};
use super::Conn;
use crate::proto::{Proto, Reply};

/// Flags of (P)SUBSCRIBE and (P)UNSUBSCRIBE.
const SUB: Flags = Flags::PUBSUB
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
/// Flags of PUBSUB's subcommands.
const INTRO: Flags = Flags::PUBSUB.with(Flags::LOADING).with(Flags::STALE);

const fn node(name: &'static str, arity: i32, flags: Flags, cmd: PubsubCmd) -> Spec {
    Spec::new(
        name,
        arity,
        flags,
        Keys::NONE,
        Run::Node(NodeCmd::Pubsub(cmd)),
    )
}

const PUBSUB: &[Spec] = &[
    node("pubsub|channels", -2, INTRO, PubsubCmd::Channels),
    node("pubsub|numsub", -2, INTRO, PubsubCmd::Numsub),
    node("pubsub|numpat", 2, INTRO, PubsubCmd::Numpat),
    Spec::new(
        "pubsub|help",
        2,
        Flags::LOADING.with(Flags::STALE),
        Keys::NONE,
        Run::Conn(pubsub_help),
    ),
];

/// The pub/sub family.
pub const COMMANDS: &[Spec] = &[
    node("subscribe", -2, SUB, PubsubCmd::Subscribe),
    node("unsubscribe", -1, SUB, PubsubCmd::Unsubscribe),
    node("psubscribe", -2, SUB, PubsubCmd::Psubscribe),
    node("punsubscribe", -1, SUB, PubsubCmd::Punsubscribe),
    node(
        "publish",
        3,
        Flags::PUBSUB
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::FAST),
        PubsubCmd::Publish,
    ),
    Spec::container(
        "pubsub",
        -2,
        Flags::NONE,
        Run::Conn(super::server::no_sub),
        PUBSUB,
    ),
];

fn pubsub_help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    super::server::help(w, "pubsub", super::help::PUBSUB);
}

/// Commands a connection subscribed to anything may still run in RESP2
/// (Redis's list; RESET and the shard variants are named even where this
/// node lacks them, since the error text names them too).
const SUBSCRIBED_RESP2: &[&str] = &[
    "ping",
    "subscribe",
    "ssubscribe",
    "unsubscribe",
    "sunsubscribe",
    "psubscribe",
    "punsubscribe",
    "quit",
    "reset",
];

/// Whether a RESP2 connection with subscriptions may run `spec`; RESP3
/// connections may run anything, their pushes being typed apart from replies.
pub fn allowed_when_subscribed(spec: &Spec) -> bool {
    SUBSCRIBED_RESP2.contains(&spec.name)
}

/// Redis's refusal of `spec` on a subscribed RESP2 connection.
pub fn context_error(spec: &Spec) -> String {
    format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        spec.name
    )
}

/// PING on a subscribed RESP2 connection: `["pong", message or ""]`, so a
/// client reading only push arrays can tell it apart.
pub fn subscribed_ping(args: &[&[u8]], w: &mut Reply<'_>) {
    match args {
        [_] | [_, _] => {
            w.array(2);
            w.bulk(b"pong");
            w.bulk(args.get(1).copied().unwrap_or(b""));
        }
        _ => super::fail(w, super::CmdError::Arity("ping")),
    }
}

/// The header of a push frame of `n` parts: RESP3's `>n`, an array in RESP2.
pub fn push(w: &mut Reply<'_>, n: usize) {
    if w.proto() == Proto::Resp3 {
        let out = w.raw();
        out.push(b'>');
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    } else {
        w.array(n);
    }
}

/// What a (P)(UN)SUBSCRIBE confirms, as the push's first element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm {
    /// `subscribe`
    Subscribe,
    /// `unsubscribe`
    Unsubscribe,
    /// `psubscribe`
    Psubscribe,
    /// `punsubscribe`
    Punsubscribe,
}

impl Confirm {
    fn word(self) -> &'static [u8] {
        match self {
            Confirm::Subscribe => b"subscribe",
            Confirm::Unsubscribe => b"unsubscribe",
            Confirm::Psubscribe => b"psubscribe",
            Confirm::Punsubscribe => b"punsubscribe",
        }
    }
}

/// One confirmation: `[kind, channel or pattern (null when there was none
/// to unsubscribe), subscriptions the connection has now]`.
pub fn confirm(w: &mut Reply<'_>, kind: Confirm, name: Option<&[u8]>, count: usize) {
    push(w, 3);
    w.bulk(kind.word());
    match name {
        Some(n) => w.bulk(n),
        None => w.nil(),
    }
    w.int(count as i64);
}

/// A message on `channel`, to a subscriber of that channel.
pub fn message(w: &mut Reply<'_>, channel: &[u8], payload: &[u8]) {
    push(w, 3);
    w.bulk(b"message");
    w.bulk(channel);
    w.bulk(payload);
}

/// A message on `channel`, to a subscriber of `pattern`, which matches it.
pub fn pmessage(w: &mut Reply<'_>, pattern: &[u8], channel: &[u8], payload: &[u8]) {
    push(w, 4);
    w.bulk(b"pmessage");
    w.bulk(pattern);
    w.bulk(channel);
    w.bulk(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::table;

    fn each(f: impl Fn(&mut Reply<'_>)) -> [String; 2] {
        [Proto::Resp2, Proto::Resp3].map(|p| {
            let mut out = Vec::new();
            f(&mut Reply::new(&mut out, p));
            String::from_utf8(out).unwrap()
        })
    }

    #[test]
    fn frames_are_arrays_in_resp2_and_pushes_in_resp3() {
        assert_eq!(
            each(|w| confirm(w, Confirm::Subscribe, Some(b"a"), 1)),
            [
                "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
                ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
            ]
        );
        assert_eq!(
            each(|w| confirm(w, Confirm::Unsubscribe, None, 0)),
            [
                "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
                ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
            ]
        );
        assert_eq!(
            each(|w| pmessage(w, b"a*", b"ab", b"x"))[1],
            ">4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$2\r\nab\r\n$1\r\nx\r\n"
        );
        assert_eq!(
            each(|w| message(w, b"c", b""))[0],
            "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$0\r\n\r\n"
        );
        assert_eq!(
            each(|w| subscribed_ping(&[b"ping"], w))[0],
            "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn subscribed_resp2_context() {
        let spec = |name: &[u8]| table::lookup(name).unwrap().1;
        assert!(allowed_when_subscribed(spec(b"PING")));
        assert!(allowed_when_subscribed(spec(b"punsubscribe")));
        assert!(allowed_when_subscribed(spec(b"quit")));
        assert!(!allowed_when_subscribed(spec(b"publish")));
        let numsub = table::lookup_sub(spec(b"pubsub"), b"NUMSUB").unwrap().1;
        assert!(!allowed_when_subscribed(numsub));
        assert_eq!(
            context_error(numsub),
            "ERR Can't execute 'pubsub|numsub': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
    }
}
