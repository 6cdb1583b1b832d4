//! Protected mode, as Redis's: a listener bound beyond loopback, with no
//! password and no cluster secret, serves only local clients and answers
//! any other with a `DENIED` error before closing it.
//!
//! "Local" is what Redis's `islocalClient` counts: a peer of exactly
//! 127.0.0.1 or ::1, so 127.0.0.2 is not local even though Linux routes it
//! over loopback. Unlike Redis 7, a listener bound to a loopback address is
//! never guarded: only local processes can reach it, and the bench spreads
//! its clients over the source addresses 127.0.0.1..16 on purpose.
//!
//! Used by the node's accept path and the LB's (`roles::lb::server`).

use std::net::IpAddr;

/// The error Redis 7.0.15 sends a non-local client in protected mode
/// (networking.c), byte for byte.
pub const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is \
enabled and no password is set for the default user. In this mode connections are only accepted \
from the loopback interface. If you want to connect from external computers to Redis you may \
adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG \
SET protected-mode no' from the loopback interface by connecting to Redis from the same host the \
server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. \
Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the \
protected mode by editing the Redis configuration file, and setting the protected mode option to \
'no', and then restarting the server. 3) If you started the server manually just for testing, \
restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the \
default user. NOTE: You only need to do one of the above things in order for the server to start \
accepting connections from the outside.\r\n";

/// Whether `peer` is a local client as Redis counts it: exactly 127.0.0.1
/// or ::1. An IPv4-mapped IPv6 peer (a dual-stack socket) counts as its
/// IPv4 address, as it would on Redis's separate IPv4 socket.
pub fn is_local_peer(peer: IpAddr) -> bool {
    match peer.to_canonical() {
        IpAddr::V4(v4) => v4.octets() == [127, 0, 0, 1],
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

/// Whether protected mode guards a listener bound to `bind`: the flag is
/// on, the bind address is not loopback, and no cluster secret is set (a
/// password, which CONFIG SET can change, is checked per connection).
pub fn guards(enabled: bool, bind: IpAddr, has_secret: bool) -> bool {
    enabled && !bind.to_canonical().is_loopback() && !has_secret
}

/// Parse `--protected-mode yes|no` (Redis's spelling; case-insensitive).
///
/// # Errors
/// A message naming the two values.
pub fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("'{s}' is not yes or no")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_redis_local_addresses_are_local() {
        assert!(is_local_peer(ip("127.0.0.1")));
        assert!(is_local_peer(ip("::1")));
        assert!(is_local_peer(ip("::ffff:127.0.0.1")));
        assert!(!is_local_peer(ip("127.0.0.2")));
        assert!(!is_local_peer(ip("10.0.0.1")));
        assert!(!is_local_peer(ip("::ffff:10.0.0.1")));
        assert!(!is_local_peer(ip("fe80::1")));
    }

    #[test]
    fn guarded_only_beyond_loopback_without_a_secret() {
        assert!(guards(true, ip("0.0.0.0"), false));
        assert!(guards(true, ip("::"), false));
        assert!(guards(true, ip("10.0.0.5"), false));
        assert!(!guards(true, ip("127.0.0.1"), false));
        assert!(!guards(true, ip("127.0.0.2"), false));
        assert!(!guards(true, ip("::1"), false));
        assert!(!guards(true, ip("0.0.0.0"), true));
        assert!(!guards(false, ip("0.0.0.0"), false));
    }

    #[test]
    fn the_denied_text_is_one_resp_error_line() {
        assert!(DENIED.starts_with(b"-DENIED Redis is running in protected mode because"));
        assert!(DENIED.ends_with(b"from the outside.\r\n"));
        assert_eq!(DENIED.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(!DENIED.windows(2).any(|w| w == b"  "));
        assert_eq!(parse_yes_no("YES"), Ok(true));
        assert_eq!(parse_yes_no("no"), Ok(false));
        assert!(parse_yes_no("off").is_err());
    }
}
