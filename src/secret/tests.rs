//! Unit tests of the cluster secret and its MACs.

use super::*;

fn secret(s: &str) -> ClusterSecret {
    ClusterSecret(s.as_bytes().into())
}

fn hp(s: &str) -> HostPort {
    HostPort::parse(s).unwrap()
}

#[test]
fn loads_trimming_one_newline_and_refuses_empty_or_missing() {
    let dir = std::env::temp_dir().join(format!("cachectl-secret-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let p = write("nl", b"s3cret\n");
    assert_eq!(ClusterSecret::load(&p).unwrap(), secret("s3cret"));
    let p = write("crlf", b"s3cret\r\n");
    assert_eq!(ClusterSecret::load(&p).unwrap(), secret("s3cret"));
    // Only one newline goes: the rest is part of the secret.
    let p = write("two", b"s3cret\n\n");
    assert_eq!(ClusterSecret::load(&p).unwrap(), secret("s3cret\n"));
    for body in [&b""[..], b"\n", b"\r\n"] {
        let p = write("empty", body);
        let e = ClusterSecret::load(&p).unwrap_err().to_string();
        assert!(e.contains(FLAG) && e.contains("empty"), "{e}");
    }
    let e = parse_secret_file(dir.join("missing").to_str().unwrap()).unwrap_err();
    assert!(e.contains(FLAG) && e.contains("cannot read"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_never_shows_the_secret() {
    let s = format!("{:?}", secret("hunter2"));
    assert!(!s.contains("hunter2"), "{s}");
}

#[test]
fn hex_round_trips_and_refuses_non_hex() {
    assert_eq!(to_hex(&[0, 0xab, 0x7f]), "00ab7f");
    assert_eq!(from_hex("00AB7f"), Some(vec![0, 0xab, 0x7f]));
    assert_eq!(from_hex("abc"), None);
    assert_eq!(from_hex("zz"), None);
    assert_eq!(from_hex("+1"), None);
}

#[test]
fn nonces_are_fresh() {
    assert_ne!(nonce().unwrap(), nonce().unwrap());
}

#[test]
fn register_proof_binds_secret_nonce_address_cores_and_core_ports() {
    let s = secret("k");
    let n = [7u8; NONCE_LEN];
    let a = hp("10.0.0.5:7000");
    let proof = register_proof(&s, &n, &a, 2, &[]);
    assert_eq!(proof.len(), MAC_LEN * 2);
    assert_eq!(check_register_proof(&s, &n, &a, 2, &[], &proof), Ok(()));
    let bad = Err(AuthError::Mismatch);
    assert_eq!(
        check_register_proof(&secret("x"), &n, &a, 2, &[], &proof),
        bad
    );
    assert_eq!(
        check_register_proof(&s, &[8u8; NONCE_LEN], &a, 2, &[], &proof),
        bad
    );
    assert_eq!(
        check_register_proof(&s, &n, &hp("10.0.0.6:7000"), 2, &[], &proof),
        bad
    );
    assert_eq!(check_register_proof(&s, &n, &a, 3, &[], &proof), bad);
    // Cluster mode's core ports are covered too.
    let ported = register_proof(&s, &n, &a, 2, &[7001, 7002]);
    assert_eq!(
        check_register_proof(&s, &n, &a, 2, &[7001, 7002], &ported),
        Ok(())
    );
    assert_eq!(
        check_register_proof(&s, &n, &a, 2, &[7001, 7003], &ported),
        bad
    );
    assert_eq!(check_register_proof(&s, &n, &a, 2, &[], &ported), bad);
    assert_eq!(
        check_register_proof(&s, &n, &a, 2, &[], "nothex"),
        Err(AuthError::Malformed)
    );
    assert_eq!(
        check_register_proof(&s, &n, &a, 2, &[], &proof[..62]),
        Err(AuthError::Malformed)
    );
}

#[test]
fn signed_stats_verify_only_for_their_probe() {
    let s = secret("k");
    let n = [1u8; NONCE_LEN];
    let line = sign_stats(&s, &n, "127.0.0.1:7000", "clients=1 cores=2");
    assert!(line.starts_with("clients=1 cores=2 mac="), "{line}");
    assert_eq!(
        check_stats(&s, &n, "127.0.0.1:7000", &line),
        Ok("clients=1 cores=2")
    );
    let bad = Err(AuthError::Mismatch);
    assert_eq!(
        check_stats(&s, &[2u8; NONCE_LEN], "127.0.0.1:7000", &line),
        bad
    );
    assert_eq!(check_stats(&s, &n, "127.0.0.1:7001", &line), bad);
    assert_eq!(check_stats(&secret("j"), &n, "127.0.0.1:7000", &line), bad);
    let forged = line.replace("clients=1", "clients=0");
    assert_eq!(check_stats(&s, &n, "127.0.0.1:7000", &forged), bad);
    assert_eq!(
        check_stats(&s, &n, "127.0.0.1:7000", "clients=1"),
        Err(AuthError::Missing)
    );
}

#[test]
fn a_probe_answer_is_no_registration_proof() {
    let s = secret("k");
    let n = [3u8; NONCE_LEN];
    let a = hp("127.0.0.1:7000");
    // The same fields under the other purpose give another MAC.
    let line = sign_stats(&s, &n, &a.to_string(), "1");
    let mac = line.rsplit_once(" mac=").unwrap().1;
    assert_eq!(
        check_register_proof(&s, &n, &a, 1, &[], mac),
        Err(AuthError::Mismatch)
    );
}

#[test]
fn names_me_checks_the_advertised_or_bound_address() {
    let bound: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    assert!(names_me(&hp("127.0.0.1:7000"), bound, None));
    assert!(!names_me(&hp("127.0.0.1:7001"), bound, None));
    assert!(!names_me(&hp("127.0.0.2:7000"), bound, None));
    let any: SocketAddr = "0.0.0.0:7000".parse().unwrap();
    assert!(names_me(&hp("10.0.0.9:7000"), any, None));
    assert!(!names_me(&hp("10.0.0.9:7001"), any, None));
    let adv = hp("Cache-1:9000");
    assert!(names_me(&hp("cache-1:9000"), bound, Some(&adv)));
    assert!(!names_me(&hp("127.0.0.1:7000"), bound, Some(&adv)));
    let v6: SocketAddr = "[::1]:7000".parse().unwrap();
    assert!(names_me(&hp("[0:0:0:0:0:0:0:1]:7000"), v6, None));
}

#[test]
fn generated_file_is_private_loadable_and_removed() {
    use std::os::unix::fs::PermissionsExt;
    let f = SecretFile::generate().unwrap();
    let path = f.path().to_path_buf();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let a = ClusterSecret::load(&path).unwrap();
    let other = SecretFile::generate().unwrap();
    assert_ne!(a, ClusterSecret::load(other.path()).unwrap());
    drop(f);
    assert!(!path.exists());
}

#[test]
fn answer_probe_signs_for_this_node_only() {
    let s = secret("k");
    let bound: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let nonce = to_hex(&[9u8; NONCE_LEN]);
    let stats = || "clients=1".to_string();
    let line = answer_probe(
        Some(&s),
        stats(),
        nonce.as_bytes(),
        b"127.0.0.1:7000",
        bound,
        None,
    )
    .unwrap();
    assert_eq!(
        check_stats(&s, nonce.as_bytes(), "127.0.0.1:7000", &line),
        Ok("clients=1")
    );
    let unsigned = answer_probe(
        None,
        stats(),
        nonce.as_bytes(),
        b"127.0.0.1:7000",
        bound,
        None,
    );
    assert_eq!(unsigned.as_deref(), Ok("clients=1"));
    let err = |n: &[u8], a: &[u8]| answer_probe(Some(&s), stats(), n, a, bound, None).unwrap_err();
    assert!(err(nonce.as_bytes(), b"127.0.0.1:7001").contains("not this node"));
    assert!(err(nonce.as_bytes(), b"nope").contains("HOST:PORT"));
    assert!(err(b"abcd", b"127.0.0.1:7000").contains("hex digits"));
    assert!(err(&[b'g'; 32], b"127.0.0.1:7000").contains("hex digits"));
}
