//! Seed 004's origin with real processes: JSON lines and RESP, sample data
//! and `--data DIR`, fetch counting, latency that blocks no other client.

mod common;

use cachectl::roles::origin::sample;
use common::seed::{Origin, TempDir, SLOW};
use common::{connect, poll_until, redis_conn, run_cachectl};
use serde_json::{json, Value};
use std::io::{Read, Write};

#[test]
fn origin_serves_the_sample_set_in_both_protocols() {
    let origin = Origin::start(&[]);
    let mut j = origin.json();
    assert_eq!(
        j.get("article/1"),
        json!({"ok": true, "key": "article/1", "value": sample::article(1)})
    );
    assert_eq!(
        j.get("article/101"),
        json!({"ok": false, "error": "not found", "key": "article/101"})
    );
    let blob = j.get("blob/2");
    assert_eq!(blob["encoding"], "base64", "{blob}");
    assert_eq!(
        j.call(&json!({"op": "ping"})),
        json!({"ok": true, "pong": true})
    );

    let mut r = redis_conn(origin.addr);
    let user: Option<String> = redis::cmd("GET").arg("user/7").query(&mut r).unwrap();
    assert_eq!(user.as_deref(), Some(sample::user(7).as_str()));
    let missing: Option<Vec<u8>> = redis::cmd("GET").arg("user/51").query(&mut r).unwrap();
    assert_eq!(missing, None);
    let bytes: Vec<u8> = redis::cmd("GET").arg("blob/2").query(&mut r).unwrap();
    assert_eq!(bytes, sample::blob(2), "binary-safe over RESP");
    let pong: String = redis::cmd("PING").query(&mut r).unwrap();
    assert_eq!(pong, "PONG");
    let m: String = redis::cmd("METRICS").query(&mut r).unwrap();
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["role"], "origin");
    // Three GETs in each protocol.
    assert_eq!(m["fetches"], 6, "{m}");
    assert_eq!(m["hits"], 4, "{m}");
    assert_eq!(m["misses"], 2, "{m}");
}

#[test]
fn origin_counts_every_fetch_and_survives_bad_requests() {
    let origin = Origin::start(&[]);
    let mut j = origin.json();
    for bad in [
        &b"not json"[..],
        b"{\"op\":",
        b"[1,2]",
        b"{\"op\":\"SET\"}",
        b"{\"op\":\"GET\"}",
    ] {
        let reply = j.raw(bad);
        assert_eq!(reply["ok"], false, "{reply}");
        assert!(reply["error"].as_str().is_some(), "{reply}");
    }
    // The same connection carries on.
    assert_eq!(j.get("user/1")["value"], sample::user(1));
    let dotdot = j.get("../secret");
    assert_eq!(dotdot["ok"], false);
    assert!(
        dotdot["error"].as_str().unwrap().contains("invalid key"),
        "{dotdot}"
    );
    assert_eq!(j.get("nope")["error"], "not found");
    // An over-long line is answered once and skipped; the next one works.
    let mut long = vec![b'x'; 70 * 1024];
    long.extend_from_slice(b"\n{\"op\":\"GET\",\"key\":\"article/2\"}");
    let err = j.raw(&long);
    assert!(
        err["error"].as_str().unwrap().contains("longer than"),
        "{err}"
    );
    assert_eq!(
        j.read_json(),
        json!({"ok": true, "key": "article/2", "value": sample::article(2)})
    );

    let m = origin.metrics();
    // GETs: user/1, ../secret, nope, article/2 (the missing-key GET was
    // malformed, not a fetch).
    assert_eq!(m["fetches"], 4, "{m}");
    assert_eq!(m["hits"], 2, "{m}");
    assert_eq!(m["misses"], 1, "{m}");
    assert_eq!(m["invalid_keys"], 1, "{m}");
    assert_eq!(m["protocol_errors"], 6, "{m}");

    // RESP framing errors close that connection only.
    let mut raw = connect(origin.addr);
    raw.write_all(b"*1\r\n$abc\r\n").unwrap();
    let mut got = Vec::new();
    raw.read_to_end(&mut got).unwrap();
    assert!(
        got.starts_with(b"-ERR Protocol error"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(origin.json().get("user/2")["value"], sample::user(2));
}

#[test]
fn origin_serves_a_data_dir_and_refuses_escapes() {
    let dir = TempDir::new("data");
    dir.write("article/1", b"first article");
    dir.write("deep/nested/path/page.html", b"<p>hi</p>");
    dir.write("bin/raw", &[0, 159, 146, 150, 255]);
    let outside = TempDir::new("outside");
    outside.write("secret", b"do not serve");
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("article/1"), dir.path().join("alias")).unwrap();

    let mut origin = Origin::start(&["--data", dir.path().to_str().unwrap()]);
    let mut j = origin.json();
    assert_eq!(j.get("article/1")["value"], "first article");
    assert_eq!(j.get("deep/nested/path/page.html")["value"], "<p>hi</p>");
    assert_eq!(
        j.get("alias")["value"],
        "first article",
        "symlinks inside DIR work"
    );
    assert_eq!(j.get("article/2")["error"], "not found");
    assert_eq!(
        j.get("deep/nested")["error"],
        "not found",
        "a directory is not a value"
    );
    assert_eq!(j.get("article/1/x")["error"], "not found");
    for bad in ["../outside", "deep/../../x", "/etc/passwd", "a//b", "leak"] {
        let reply = j.get(bad);
        assert_eq!(reply["ok"], false, "{bad}: {reply}");
        assert!(
            reply["error"].as_str().unwrap().starts_with("invalid key"),
            "{bad}: {reply}"
        );
    }
    let mut r = redis_conn(origin.addr);
    let raw: Vec<u8> = redis::cmd("GET").arg("bin/raw").query(&mut r).unwrap();
    assert_eq!(raw, [0, 159, 146, 150, 255]);
    let err = redis::cmd("GET")
        .arg("../outside/secret")
        .query::<Option<Vec<u8>>>(&mut r)
        .unwrap_err();
    assert!(err.to_string().contains("invalid key"), "{err}");
    // Files are read on each fetch: a change shows at once.
    dir.write("article/1", b"edited");
    assert_eq!(j.get("article/1")["value"], "edited");
    assert_eq!(origin.metrics()["invalid_keys"], 6);
    assert!(origin.proc.stop().success());
}

#[test]
fn origin_latency_does_not_block_other_clients() {
    // Long enough that both fetches are surely pending together even on a
    // loaded machine; nothing below measures time.
    let origin = Origin::start(&["--latency", "6000"]);
    let mut a = origin.json();
    let mut b = origin.json();
    a.send(b"{\"op\":\"GET\",\"key\":\"article/3\"}\n");
    b.send(b"{\"op\":\"GET\",\"key\":\"nope\"}\n");
    // While both wait out the latency, a third client is served at once,
    // and sees both fetches in flight: they overlap instead of queueing.
    poll_until(SLOW, "two fetches in flight", || {
        let m = origin.metrics();
        if m["in_flight"] == 2 {
            Ok(())
        } else {
            Err(m.to_string())
        }
    });
    assert_eq!(
        origin.json().call(&json!({"op": "PING"}))["pong"],
        true,
        "PING is answered while fetches wait"
    );
    assert_eq!(a.read_json()["value"], sample::article(3));
    assert_eq!(b.read_json()["error"], "not found");
    let m = origin.metrics();
    assert_eq!(
        (m["fetches"].as_u64(), m["in_flight"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn origin_bad_flags_name_the_flag() {
    let out = run_cachectl(&["origin", "--data", "/nonexistent/cachectl-seed004"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--data"), "{err}");
    let out = run_cachectl(&["origin", "--latency", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--latency"));
}
