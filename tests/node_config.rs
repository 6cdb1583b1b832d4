//! CONFIG SET of maxmemory-policy and maxclients on a running two-core
//! node: the new value is what every core does next, and what CONFIG GET
//! and INFO show.

mod common;

use common::{poll_until, Node, RespConn};
use std::time::Duration;

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

#[test]
fn maxmemory_policy_switches_every_core_live() {
    let node = Node::start(&[]);
    let mut admin = node.resp();
    let keys: Vec<String> = (0..200).map(|i| format!("pk{i}")).collect();
    for k in &keys {
        assert_eq!(admin.cmd(&format!("SET {k} v")), "+OK\r\n");
    }
    assert_eq!(admin.cmd("CONFIG SET maxmemory 1kb"), "+OK\r\n");
    poll_until(
        Duration::from_secs(10),
        "noeviction refuses on every core",
        || {
            let refused = keys
                .iter()
                .filter(|k| admin.cmd(&format!("SET {k} w")) == OOM)
                .count();
            (refused == keys.len())
                .then_some(())
                .ok_or(format!("{refused} refused"))
        },
    );

    assert_eq!(
        admin.cmd("CONFIG SET maxmemory-policy volatile-lru"),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - this node \
         supports only the allkeys-lru and noeviction policies, not volatile-lru\r\n"
    );
    assert_eq!(
        admin.cmd("CONFIG SET maxmemory-policy allkeys-lru"),
        "+OK\r\n"
    );
    assert_eq!(
        admin.cmd("CONFIG GET maxmemory-policy"),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert!(admin
        .cmd("INFO memory")
        .contains("\r\nmaxmemory_policy:allkeys-lru\r\n"));
    // Every core now evicts to make room instead of refusing.
    poll_until(Duration::from_secs(10), "allkeys-lru on every core", || {
        let refused = keys
            .iter()
            .filter(|k| admin.cmd(&format!("SET {k} w")) == OOM)
            .count();
        (refused == 0)
            .then_some(())
            .ok_or(format!("{refused} refused"))
    });
    assert!(!admin.cmd("INFO stats").contains("\r\nevicted_keys:0\r\n"));
    assert_eq!(
        admin.cmd("CONFIG SET maxmemory-policy noeviction"),
        "+OK\r\n"
    );
    assert!(admin
        .cmd("INFO memory")
        .contains("\r\nmaxmemory_policy:noeviction\r\n"));
}

#[test]
fn maxclients_applies_to_the_next_connection() {
    let node = Node::start(&[]);
    let mut admin = node.resp();
    assert_eq!(admin.cmd("CONFIG SET maxclients 1"), "+OK\r\n");
    assert_eq!(
        admin.cmd("CONFIG GET maxclients"),
        "*2\r\n$10\r\nmaxclients\r\n$1\r\n1\r\n"
    );
    // The admin connection is the one client allowed.
    let mut refused = node.resp();
    assert_eq!(
        refused.read_reply(),
        b"-ERR max number of clients reached\r\n"
    );
    assert_eq!(admin.cmd("CONFIG SET maxclients 100"), "+OK\r\n");
    let mut other: RespConn = node.resp();
    assert_eq!(other.cmd("PING"), "+PONG\r\n");
    assert!(admin.cmd("INFO clients").contains("\r\nmaxclients:100\r\n"));
}
