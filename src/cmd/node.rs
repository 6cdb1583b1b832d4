//! Commands the node coordinates itself ([`Run::Node`]): transactions,
//! QUIT, and the whole-node commands that ask every core (or, for SCAN,
//! the core its cursor is on).

use super::spec::{Flags, Keys, NodeCmd, Run, Spec};

/// Flags of the transaction commands.
const TX: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::ALLOW_BUSY);

/// The node family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("multi", 1, TX, Keys::NONE, Run::Node(NodeCmd::Multi)),
    Spec::new(
        "exec",
        1,
        Flags::NOSCRIPT
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::SKIP_SLOWLOG),
        Keys::NONE,
        Run::Node(NodeCmd::Exec),
    ),
    Spec::new("discard", 1, TX, Keys::NONE, Run::Node(NodeCmd::Discard)),
    Spec::new("watch", -2, TX, Keys::ALL, Run::Node(NodeCmd::Watch)),
    Spec::new("unwatch", 1, TX, Keys::NONE, Run::Node(NodeCmd::Unwatch)),
    Spec::new(
        "quit",
        -1,
        TX.with(Flags::NO_AUTH),
        Keys::NONE,
        Run::Node(NodeCmd::Quit),
    ),
    Spec::new(
        "dbsize",
        1,
        Flags::READONLY.with(Flags::FAST),
        Keys::NONE,
        Run::Node(NodeCmd::DbSize),
    ),
    Spec::new(
        "flushall",
        -1,
        Flags::WRITE,
        Keys::NONE,
        Run::Node(NodeCmd::Flush),
    ),
    Spec::new(
        "flushdb",
        -1,
        Flags::WRITE,
        Keys::NONE,
        Run::Node(NodeCmd::Flush),
    ),
    Spec::new(
        "info",
        -1,
        Flags::LOADING.with(Flags::STALE),
        Keys::NONE,
        Run::Node(NodeCmd::Info),
    ),
    Spec::new(
        "metrics",
        1,
        Flags::LOADING.with(Flags::STALE),
        Keys::NONE,
        Run::Node(NodeCmd::Metrics),
    ),
    Spec::new(
        "keys",
        2,
        Flags::READONLY,
        Keys::NONE,
        Run::Node(NodeCmd::Keys),
    ),
    Spec::new(
        "scan",
        -2,
        Flags::READONLY,
        Keys::NONE,
        Run::Node(NodeCmd::Scan),
    ),
    Spec::new(
        "randomkey",
        1,
        Flags::READONLY,
        Keys::NONE,
        Run::Node(NodeCmd::RandomKey),
    ),
];
