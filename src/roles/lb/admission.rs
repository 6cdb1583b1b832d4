//! Which addresses a REGISTER may name, and the name lookups the LB makes,
//! off its executor.
//!
//! Without a cluster secret anyone who reaches the LB port could register,
//! so a registration may only name the IP it comes from: a process can
//! then point the LB only at its own host, never make it connect to a
//! third party every few seconds. With a secret, a registration is proven
//! to come from a node, which may advertise another address (multi-host,
//! NAT), but still never one no node can have: the unspecified address,
//! broadcast or multicast. Port 0 never parses (see [`crate::addr`]).

use crate::addr::HostPort;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Why an advertised address is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// 0.0.0.0 or ::, which names no host.
    #[error("{0} is the unspecified address, which no client can connect to")]
    Unspecified(String),
    /// A broadcast address.
    #[error("{0} is a broadcast address")]
    Broadcast(String),
    /// A multicast address.
    #[error("{0} is a multicast address")]
    Multicast(String),
    /// Without a secret: an address other than the connection's own IP.
    #[error(
        "this LB has no --cluster-secret-file, so a node may register only the IP \
         its connection comes from ({peer}), not {addr}; give the LB and its nodes \
         a cluster secret to advertise another address"
    )]
    NotPeer {
        /// The address asked for.
        addr: String,
        /// The connection's IP.
        peer: IpAddr,
    },
    /// The name did not resolve.
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, String),
    /// The lookup took longer than allowed.
    #[error("resolving {0} took longer than {1:?}")]
    ResolveTimeout(String, Duration),
}

/// Refuse IPs no node can have.
///
/// # Errors
/// [`AdmitError`] naming the kind of address.
pub fn check_ip(ip: IpAddr) -> Result<(), AdmitError> {
    let ip = ip.to_canonical();
    let shown = ip.to_string();
    if ip.is_unspecified() {
        return Err(AdmitError::Unspecified(shown));
    }
    if ip.is_multicast() {
        return Err(AdmitError::Multicast(shown));
    }
    if matches!(ip, IpAddr::V4(v4) if v4.is_broadcast()) {
        return Err(AdmitError::Broadcast(shown));
    }
    Ok(())
}

/// Without a secret: `addr` must be the connection's own IP (as a literal).
///
/// # Errors
/// [`AdmitError::NotPeer`] for another IP or any name.
pub fn check_peer(addr: &HostPort, peer: IpAddr) -> Result<(), AdmitError> {
    match addr.ip() {
        Some(ip) if ip.to_canonical() == peer.to_canonical() => check_ip(ip),
        _ => Err(AdmitError::NotPeer {
            addr: addr.to_string(),
            peer: peer.to_canonical(),
        }),
    }
}

/// The socket addresses of `addr`, each checked with [`check_ip`]: an IP
/// literal at once; a name through the executor's blocking pool, so a slow
/// resolver stalls only that lookup, never the LB's one thread (which
/// serves every client and runs the probes).
///
/// # Errors
/// [`AdmitError`]: a refused address, a failed lookup, or one slower than
/// `limit`.
pub async fn resolve(addr: &HostPort, limit: Duration) -> Result<Vec<SocketAddr>, AdmitError> {
    if let Some(ip) = addr.ip() {
        check_ip(ip)?;
        return Ok(vec![SocketAddr::new(ip, addr.port)]);
    }
    let (host, port) = (addr.host.clone(), addr.port);
    let lookup = glommio::executor().spawn_blocking(move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
    });
    let shown = addr.to_string();
    let found = match glommio::timer::timeout(limit, async { Ok(lookup.await) }).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(AdmitError::Resolve(shown, e.to_string())),
        Err(_) => return Err(AdmitError::ResolveTimeout(shown, limit)),
    };
    if found.is_empty() {
        return Err(AdmitError::Resolve(shown, "no address".into()));
    }
    // One bad answer refuses the name: a name that also resolves to a
    // multicast group should not be probed at all.
    for a in &found {
        check_ip(a.ip())?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> HostPort {
        HostPort::parse(s).unwrap()
    }

    #[test]
    fn refuses_addresses_no_node_has() {
        for (ip, word) in [
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("::ffff:0.0.0.0", "unspecified"),
        ] {
            let e = check_ip(ip.parse().unwrap()).unwrap_err().to_string();
            assert!(e.contains(word), "{ip}: {e}");
        }
        for ip in ["127.0.0.1", "10.1.2.3", "::1", "192.168.1.255"] {
            assert_eq!(check_ip(ip.parse().unwrap()), Ok(()), "{ip}");
        }
    }

    #[test]
    fn without_a_secret_only_the_peer_ip() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(check_peer(&hp("127.0.0.1:7000"), peer), Ok(()));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(check_peer(&hp("127.0.0.1:7000"), mapped), Ok(()));
        for other in ["10.1.2.3:6379", "localhost:7000", "127.0.0.2:7000"] {
            let e = check_peer(&hp(other), peer).unwrap_err().to_string();
            assert!(e.contains("--cluster-secret-file"), "{e}");
        }
    }

    #[test]
    fn resolves_literals_and_names_off_the_executor() {
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .unwrap();
        ex.run(async {
            let limit = Duration::from_secs(5);
            let got = resolve(&hp("127.0.0.1:7"), limit).await.unwrap();
            assert_eq!(got, vec!["127.0.0.1:7".parse().unwrap()]);
            assert!(matches!(
                resolve(&hp("255.255.255.255:9"), limit).await,
                Err(AdmitError::Broadcast(_))
            ));
            let local = resolve(&hp("localhost:7"), limit).await.unwrap();
            assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
            assert!(matches!(
                resolve(&hp("no-such-host.invalid:7"), limit).await,
                Err(AdmitError::Resolve(..))
            ));
        });
    }
}
