//! Differential tests of COMMAND INFO, COMMAND GETKEYS and COMMAND LIST
//! against redis-server 7.0.15: every field of COMMAND INFO (arity, flags
//! with `movablekeys`, legacy key range, ACL categories, tips, key specs)
//! byte for byte for commands of every family and for subcommands, in
//! RESP2 and after HELLO 3; the keys COMMAND GETKEYS finds, `numkeys`
//! commands included, with Redis's errors; and COMMAND LIST FILTERBY
//! ACLCAT, compared over the commands the node has (Redis lists them in
//! its dict's order, so sorted).
//!
//! Containers (CLIENT, CONFIG …) are left out of the byte comparison:
//! their last field nests every subcommand, and the node has only some of
//! Redis's; their subcommands are compared one by one instead.

mod common;

use common::diff::{c, compare_scripts, Req};
use common::unordered::{items, How, R};
use common::{Node, RedisServer};

/// Commands of every family: strings, bits, keyspace, hashes, lists and
/// their blocking forms, sets, sorted sets, pub/sub, transactions, server.
const COMMANDS: &[&str] = &[
    "get",
    "set",
    "mset",
    "msetnx",
    "getex",
    "incrbyfloat",
    "lcs",
    "setbit",
    "bitcount",
    "bitop",
    "del",
    "exists",
    "rename",
    "copy",
    "expire",
    "ttl",
    "type",
    "scan",
    "keys",
    "randomkey",
    "hset",
    "hgetall",
    "hrandfield",
    "hscan",
    "lpush",
    "lrange",
    "lmove",
    "lmpop",
    "blpop",
    "blmove",
    "blmpop",
    "sadd",
    "smembers",
    "sinterstore",
    "sintercard",
    "spop",
    "zadd",
    "zrange",
    "zrangestore",
    "zunionstore",
    "zinter",
    "zintercard",
    "zmpop",
    "bzpopmin",
    "bzmpop",
    "publish",
    "subscribe",
    "multi",
    "exec",
    "watch",
    "ping",
    "echo",
    "hello",
    "auth",
    "info",
    "dbsize",
    "flushall",
    "time",
];

/// Subcommands, named as COMMAND INFO takes them.
const SUBCOMMANDS: &[&str] = &[
    "client|list",
    "client|kill",
    "client|setname",
    "client|pause",
    "config|get",
    "config|set",
    "object|encoding",
    "object|freq",
    "memory|usage",
    "command|info",
    "command|getkeys",
    "pubsub|channels",
    "slowlog|get",
];

/// COMMAND GETKEYS: legacy key ranges, `numkeys` commands, subcommands,
/// and each of Redis's errors.
const GETKEYS: &[&str] = &[
    "COMMAND GETKEYS get k",
    "COMMAND GETKEYS mset a 1 b 2",
    "COMMAND GETKEYS mset a 1 b",
    "COMMAND GETKEYS mset a",
    "COMMAND GETKEYS rename a b",
    "COMMAND GETKEYS blpop a b 0",
    "COMMAND GETKEYS lmove a b left right",
    "COMMAND GETKEYS bitop and d a b",
    "COMMAND GETKEYS zrangestore d s 0 1",
    "COMMAND GETKEYS object encoding k",
    "COMMAND GETKEYS memory usage k",
    "COMMAND GETKEYS zunion 2 a b",
    "COMMAND GETKEYS zunion 1 a b c",
    "COMMAND GETKEYS zunion 2 a",
    "COMMAND GETKEYS zunion 0 a",
    "COMMAND GETKEYS zunion x a",
    "COMMAND GETKEYS zunionstore d 2 a b WEIGHTS 1 2",
    "COMMAND GETKEYS zunionstore d 0 a",
    "COMMAND GETKEYS zdiff 1 a withscores",
    "COMMAND GETKEYS zintercard 3 a b",
    "COMMAND GETKEYS sintercard 2 a b LIMIT 1",
    "COMMAND GETKEYS lmpop 2 a b left",
    "COMMAND GETKEYS lmpop 0 a left",
    "COMMAND GETKEYS blmpop 0 2 a b left",
    "COMMAND GETKEYS bzmpop 1 1 a min",
    "COMMAND GETKEYS zmpop 1 a max COUNT 2",
    "COMMAND GETKEYS ping a",
    "COMMAND GETKEYS dbsize a",
    "COMMAND GETKEYS object help",
    "COMMAND GETKEYS client list",
    "COMMAND GETKEYS get a b",
    "COMMAND GETKEYS nosuch a",
    "COMMAND GETKEYS",
];

fn scripts() -> Vec<(String, Vec<Req>)> {
    let each = |names: &[&str]| -> Vec<Req> {
        names
            .iter()
            .map(|n| c(&format!("COMMAND INFO {n}")))
            .collect()
    };
    let mut together = COMMANDS[..20].join(" ");
    together.push_str(" nosuch client|list");
    vec![
        ("info".into(), each(COMMANDS)),
        ("subcommands".into(), each(SUBCOMMANDS)),
        (
            "several".into(),
            vec![
                c(&format!("COMMAND INFO {together}")),
                c("COMMAND INFO GET Zunionstore"),
            ],
        ),
        ("getkeys".into(), GETKEYS.iter().map(|l| c(l)).collect()),
    ]
}

#[test]
fn command_info_and_getkeys_match_redis() {
    compare_scripts(scripts(), false);
}

#[test]
fn command_info_and_getkeys_match_redis_resp3() {
    compare_scripts(scripts(), true);
}

fn names(r: &R) -> Vec<Vec<u8>> {
    items(r)
        .iter()
        .map(|n| match n {
            R::Leaf(b) => b.clone(),
            other => panic!("not a name: {other:?}"),
        })
        .collect()
}

/// COMMAND LIST FILTERBY ACLCAT names the same commands as Redis, among
/// those the node has.
#[test]
fn command_list_by_acl_category_matches_redis() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let node = Node::start(&[]);
    let mut b = common::unordered::Both::new(&redis, &node);
    let ours = names(&b.node.cmd("COMMAND LIST"));
    let mut total = 0;
    for cat in [
        "keyspace",
        "read",
        "write",
        "string",
        "bitmap",
        "hash",
        "list",
        "set",
        "sortedset",
        "pubsub",
        "transaction",
        "connection",
        "blocking",
        "fast",
        "slow",
        "admin",
        "dangerous",
        "SortedSet",
    ] {
        let cmd = format!("COMMAND LIST FILTERBY ACLCAT {cat}");
        let (want, got) = b.both(&common::words(&cmd));
        let mut want: Vec<_> = names(&want)
            .into_iter()
            .filter(|n| ours.contains(n))
            .collect();
        let mut got = names(&got);
        want.sort();
        got.sort();
        assert!(!got.is_empty(), "{cat}: none");
        assert_eq!(got, want, "{cat}");
        total += got.len();
    }
    b.same("COMMAND LIST FILTERBY ACLCAT nosuch", How::Exact);
    b.same("COMMAND LIST FILTERBY MODULE nosuch", How::Exact);
    b.check();
    eprintln!("{total} names in ACL categories match redis-server");
}
