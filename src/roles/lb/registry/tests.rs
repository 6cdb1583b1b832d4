use super::*;

/// The IP every test registration comes from.
const SRC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn hp(port: u16) -> HostPort {
    HostPort::new("127.0.0.1", port).unwrap()
}

fn stat(clients: u64) -> NodeStat {
    NodeStat {
        clients,
        maxclients: Some(1000),
        cores: None,
    }
}

/// Register `ports` (no links) and make them healthy with the given probed
/// client counts (the probe's own connection included, as nodes report it).
fn healthy(policy: Policy, nodes: &[(u16, u64)]) -> Registry {
    let mut r = Registry::new(policy, 10_000);
    for &(port, _) in nodes {
        r.register(hp(port), SRC, 1, false, 0);
    }
    for (t, &(_, clients)) in r.probe_all().iter().zip(nodes) {
        r.probe_ok(t, stat(clients), 1);
    }
    r
}

fn lease_port(r: &mut Registry) -> Option<u16> {
    r.lease().map(|a| a.port)
}

fn state_of(r: &Registry, port: u16) -> State {
    r.nodes()
        .iter()
        .find(|n| n.addr.port == port)
        .unwrap()
        .state
        .clone()
}

#[test]
fn empty_registry_has_no_lease() {
    let mut r = Registry::new(Policy::RoundRobin, 1000);
    assert_eq!(lease_port(&mut r), None);
    assert_eq!(r.totals().lease_failures, 1);
}

#[test]
fn registering_does_not_admit_a_probe_does() {
    let mut r = Registry::new(Policy::RoundRobin, 1000);
    let (id, needs_probe, change) = r.register(hp(7000), SRC, 2, true, 5);
    assert!(needs_probe);
    assert_eq!(change, Some(Change::Registered(hp(7000))));
    assert_eq!(lease_port(&mut r), None, "joining nodes get no leases");
    let t = r.probe_one(id).unwrap();
    assert_eq!(r.probe_ok(&t, stat(1), 6), Some(Change::Admitted(hp(7000))));
    assert_eq!(lease_port(&mut r), Some(7000));
    assert_eq!(r.epoch(), 1);
}

#[test]
fn re_registering_is_idempotent() {
    let mut r = healthy(Policy::RoundRobin, &[(7000, 1)]);
    let id1 = r.nodes()[0].id;
    let (id2, needs_probe, change) = r.register(hp(7000), SRC, 4, false, 9);
    assert_eq!(id1, id2);
    assert!(!needs_probe, "a healthy node stays healthy");
    assert_eq!(change, None);
    assert_eq!(r.nodes().len(), 1);
    assert_eq!(r.nodes()[0].cores, 4);
    assert_eq!(r.totals().registrations, 2);
}

#[test]
fn round_robin_alternates_over_healthy_nodes() {
    let mut r = healthy(Policy::RoundRobin, &[(1, 1), (2, 1), (3, 1)]);
    let got: Vec<_> = (0..6).map(|_| lease_port(&mut r).unwrap()).collect();
    assert_eq!(got, vec![1, 2, 3, 1, 2, 3]);
    // Take 2 out: the rotation skips it.
    let t = r
        .probe_all()
        .into_iter()
        .find(|t| t.addr.port == 2)
        .unwrap();
    r.probe_failed(&t, Fault::Timeout, 10);
    let got: Vec<_> = (0..4).map(|_| lease_port(&mut r).unwrap()).collect();
    assert_eq!(got, vec![1, 3, 1, 3]);
    assert_eq!(r.nodes()[0].leases + r.nodes()[2].leases, 2 + 2 + 4);
    assert_eq!(r.totals().leases, 10);
}

#[test]
fn least_loaded_counts_leases_since_the_probe() {
    // Node 1 has 50 clients (+1 probe), node 2 none.
    let mut r = healthy(Policy::LeastLoaded, &[(1, 51), (2, 1)]);
    let got: Vec<_> = (0..50).map(|_| lease_port(&mut r).unwrap()).collect();
    assert!(got.iter().all(|&p| p == 2), "{got:?}");
    // Node 2 now carries 50 leases it hasn't been probed with: ties split.
    let got: Vec<_> = (0..4).map(|_| lease_port(&mut r).unwrap()).collect();
    assert_eq!(got.iter().filter(|&&p| p == 1).count(), 2, "{got:?}");
    // A probe that started before the last leases keeps counting those.
    let tickets = r.probe_all();
    let extra: Vec<_> = (0..10).map(|_| lease_port(&mut r).unwrap()).collect();
    for t in &tickets {
        r.probe_ok(t, stat(1), 20);
    }
    let loads: Vec<u64> = r.nodes().iter().map(Node::load).collect();
    let on = |p| extra.iter().filter(|&&x| x == p).count() as u64;
    assert_eq!(loads, vec![on(1), on(2)]);
}

#[test]
fn least_loaded_ties_rotate() {
    let mut r = healthy(Policy::LeastLoaded, &[(1, 1), (2, 1)]);
    let got: Vec<_> = (0..4).map(|_| lease_port(&mut r).unwrap()).collect();
    assert_eq!(got, vec![1, 2, 1, 2]);
}

#[test]
fn failed_probe_evicts_and_success_readmits() {
    let mut r = healthy(Policy::RoundRobin, &[(1, 1)]);
    let t = r.probe_all().remove(0);
    assert_eq!(
        r.probe_failed(&t, Fault::Timeout, 100),
        Some(Change::Evicted(hp(1), Fault::Timeout))
    );
    assert_eq!(state_of(&r, 1), State::Down(Fault::Timeout));
    assert_eq!(lease_port(&mut r), None);
    // Failing again while down changes nothing (and is not another eviction).
    assert_eq!(r.probe_failed(&t, Fault::Full, 200), None);
    assert_eq!(r.nodes()[0].evictions, 1);
    assert_eq!(r.nodes()[0].probe_failures, 2);
    assert_eq!(
        r.probe_ok(&t, stat(1), 300),
        Some(Change::Readmitted(hp(1)))
    );
    assert_eq!(lease_port(&mut r), Some(1));
    let tot = r.totals();
    assert_eq!(
        (tot.evictions, tot.readmissions, tot.probe_failures),
        (1, 1, 2)
    );
    assert_eq!(r.epoch(), 3, "admit, evict, readmit");
}

#[test]
fn closing_the_last_link_evicts_at_once() {
    let mut r = Registry::new(Policy::RoundRobin, 1000);
    let (id, _, _) = r.register(hp(1), SRC, 1, true, 0);
    // The node reconnects before we saw the old link close: two links.
    r.register(hp(1), SRC, 1, true, 1);
    let t = r.probe_one(id).unwrap();
    r.probe_ok(&t, stat(1), 2);
    assert_eq!(r.unlink(id, 3), None, "one link is still open");
    assert_eq!(lease_port(&mut r), Some(1));
    assert_eq!(
        r.unlink(id, 4),
        Some(Change::Evicted(hp(1), Fault::LinkClosed))
    );
    assert_eq!(lease_port(&mut r), None);
    // Re-registering makes it joining (probe first), not healthy.
    let (_, needs_probe, _) = r.register(hp(1), SRC, 1, true, 5);
    assert!(needs_probe);
    assert_eq!(state_of(&r, 1), State::Joining);
    assert_eq!(lease_port(&mut r), None);
}

#[test]
fn joining_node_that_fails_is_not_an_eviction() {
    let mut r = Registry::new(Policy::RoundRobin, 1000);
    let (id, _, _) = r.register(hp(1), SRC, 1, false, 0);
    let t = r.probe_one(id).unwrap();
    assert_eq!(
        r.probe_failed(&t, Fault::Unreachable("refused".into()), 1),
        Some(Change::NotAdmitted(
            hp(1),
            Fault::Unreachable("refused".into())
        ))
    );
    assert_eq!(r.totals().evictions, 0);
    // Its first success is an admission, not a re-admission.
    assert_eq!(r.probe_ok(&t, stat(1), 2), Some(Change::Admitted(hp(1))));
}

#[test]
fn down_nodes_without_links_are_forgotten() {
    let mut r = Registry::new(Policy::RoundRobin, 1000);
    let (a, _, _) = r.register(hp(1), SRC, 1, false, 0);
    let (b, _, _) = r.register(hp(2), SRC, 1, true, 0);
    for id in [a, b] {
        let t = r.probe_one(id).unwrap();
        r.probe_failed(&t, Fault::Timeout, 100);
    }
    assert!(r.forget_stale(1099).is_empty());
    assert_eq!(r.forget_stale(1100), vec![Change::Forgotten(hp(1))]);
    assert_eq!(r.nodes().len(), 1, "a node with an open link stays");
    assert_eq!(r.totals().forgotten, 1);
    // A late probe result for a forgotten entry is ignored.
    let stale = ProbeTicket {
        id: a,
        addr: hp(1),
        leases_at_start: 0,
    };
    assert_eq!(r.probe_ok(&stale, stat(1), 1200), None);
    // Registering the address again starts a fresh entry.
    let (a2, _, change) = r.register(hp(1), SRC, 1, false, 1300);
    assert_ne!(a, a2);
    assert_eq!(change, Some(Change::Registered(hp(1))));
}

#[test]
fn leases_survive_removal_of_nodes_before_the_cursor() {
    let mut r = healthy(Policy::RoundRobin, &[(1, 1), (2, 1), (3, 1)]);
    assert_eq!(lease_port(&mut r), Some(1));
    assert_eq!(lease_port(&mut r), Some(2));
    assert_eq!(lease_port(&mut r), Some(3));
    let t = r.probe_all().remove(0);
    r.probe_failed(&t, Fault::Timeout, 10);
    r.forget_stale(1_000_000);
    let got: Vec<_> = (0..4).map(|_| lease_port(&mut r).unwrap()).collect();
    assert_eq!(got.iter().filter(|&&p| p == 2).count(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|&&p| p == 3).count(), 2, "{got:?}");
}

fn route_port(r: &mut Registry, route: Route, key: &str, avoid: Option<u16>) -> Option<u16> {
    let avoid = avoid.map(|p| r.nodes().iter().find(|n| n.addr.port == p).unwrap().id);
    r.route(route, key.as_bytes(), avoid, |_| 0)
        .map(|n| n.addr.port)
}

fn evict(r: &mut Registry, port: u16) {
    let t = r
        .probe_all()
        .into_iter()
        .find(|t| t.addr.port == port)
        .unwrap();
    r.probe_failed(&t, Fault::Timeout, 2);
}

#[test]
fn policy_route_rotates_and_avoids_the_failed_node() {
    let mut r = healthy(Policy::RoundRobin, &[(1, 1), (2, 1), (3, 1)]);
    let got: Vec<_> = (0..6)
        .map(|_| route_port(&mut r, Route::Policy, "k", None).unwrap())
        .collect();
    assert_eq!(got, [1, 2, 3, 1, 2, 3]);
    for _ in 0..6 {
        assert_ne!(route_port(&mut r, Route::Policy, "k", Some(2)), Some(2));
    }
    assert_eq!(r.totals().leases, 0, "forwarding is not leasing");
    evict(&mut r, 1);
    evict(&mut r, 3);
    // The only healthy node is used even though it is the one to avoid.
    assert_eq!(route_port(&mut r, Route::Policy, "k", Some(2)), Some(2));
    evict(&mut r, 2);
    assert_eq!(route_port(&mut r, Route::Policy, "k", None), None);
}

#[test]
fn least_loaded_route_uses_in_flight_requests() {
    let mut r = healthy(Policy::LeastLoaded, &[(1, 1), (2, 1), (3, 1)]);
    let id = |r: &Registry, port: u16| r.nodes().iter().find(|n| n.addr.port == port).unwrap().id;
    let (a, b) = (id(&r, 1), id(&r, 2));
    let busy = |n: NodeId| if n == a || n == b { 5 } else { 0 };
    for _ in 0..4 {
        assert_eq!(
            r.route(Route::Policy, b"k", None, busy).unwrap().addr.port,
            3
        );
    }
}

#[test]
fn key_route_is_stable_and_moves_only_the_lost_nodes_keys() {
    let mut r = healthy(Policy::RoundRobin, &[(1, 1), (2, 1), (3, 1)]);
    let keys: Vec<String> = (0..600).map(|i| format!("key:{i}")).collect();
    let before: Vec<u16> = keys
        .iter()
        .map(|k| route_port(&mut r, Route::Key, k, None).unwrap())
        .collect();
    for (k, &p) in keys.iter().zip(&before) {
        assert_eq!(
            route_port(&mut r, Route::Key, k, None),
            Some(p),
            "{k} is stable"
        );
        let second = route_port(&mut r, Route::Key, k, Some(p)).unwrap();
        assert_ne!(second, p, "{k}: a retry goes elsewhere");
    }
    for port in [1, 2, 3] {
        let n = before.iter().filter(|&&p| p == port).count();
        assert!(n > 100, "node {port} owns {n} of 600 keys: {before:?}");
    }
    evict(&mut r, 2);
    for (k, &p) in keys.iter().zip(&before) {
        let now = route_port(&mut r, Route::Key, k, None).unwrap();
        if p == 2 {
            assert_ne!(now, 2, "{k} left the evicted node");
        } else {
            assert_eq!(now, p, "{k} stays where it was");
        }
    }
}

#[test]
fn caps_refuse_new_addresses_but_not_refreshes() {
    let mut r = Registry::new(Policy::RoundRobin, 1000);
    r.set_caps(Caps {
        per_source: 2,
        total: 3,
    });
    let other: IpAddr = "10.0.0.2".parse().unwrap();
    for port in [1, 2] {
        assert_eq!(r.check_room(&hp(port), SRC), Ok(()));
        r.register(hp(port), SRC, 1, false, 0);
    }
    let e = r.check_room(&hp(3), SRC).unwrap_err();
    assert_eq!(e, Refusal::PerSource { from: SRC, cap: 2 });
    assert!(
        e.to_string().contains("--max-registrations-per-source"),
        "{e}"
    );
    // A refresh of a listed address is always fine, from any source.
    assert_eq!(r.check_room(&hp(1), SRC), Ok(()));
    assert_eq!(r.check_room(&hp(2), other), Ok(()));
    assert_eq!(r.check_room(&hp(3), other), Ok(()));
    r.register(hp(3), other, 1, false, 0);
    let e = r.check_room(&hp(4), other).unwrap_err();
    assert_eq!(e, Refusal::Total(3));
    assert!(e.to_string().contains("--max-nodes"), "{e}");
    // Forgetting frees room.
    r.forget_stale(5000);
    assert!(r.nodes().is_empty());
    assert_eq!(r.check_room(&hp(4), SRC), Ok(()));
}

#[test]
fn a_keyed_lease_names_the_same_node_for_the_same_key() {
    let mut r = healthy(Policy::RoundRobin, &[(7000, 0), (7001, 0), (7002, 0)]);
    let first: Vec<u16> = (0..50)
        .map(|i| r.lease_for(format!("k{i}").as_bytes()).unwrap().port)
        .collect();
    // Round-robin leases in between change nothing for keyed ones.
    lease_port(&mut r);
    let again: Vec<u16> = (0..50)
        .map(|i| r.lease_for(format!("k{i}").as_bytes()).unwrap().port)
        .collect();
    assert_eq!(first, again);
    assert!(
        first.iter().any(|&p| p != first[0]),
        "keys spread over nodes"
    );
    assert_eq!(r.totals().leases, 101);
    assert_eq!(Registry::new(Policy::RoundRobin, 0).lease_for(b"k"), None);
}
