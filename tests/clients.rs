//! Real client libraries with their default settings, as a new user would
//! point them at a node: the current redis-py (RESP3 through `HELLO 3`) and
//! node-redis. Each script (in `tests/clients/`) checks every reply itself
//! and prints `ok`.
//!
//! The libraries are installed into `target/clients` by
//! `tests/clients/install.sh`, which `.ci/run` calls. Without them a test
//! skips with a notice on the terminal; with `CACHECTL_REQUIRE_CLIENTS=1`
//! (CI) it fails instead.

mod common;

use common::cluster::{lb_cluster, ClusterNode};
use common::Node;
use std::path::{Path, PathBuf};
use std::process::Command;

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clients")
}

/// `Some(path)` if it exists; otherwise a notice, or a panic when the
/// clients are required.
fn installed(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let required = std::env::var_os("CACHECTL_REQUIRE_CLIENTS").is_some_and(|v| v == "1");
    assert!(
        !required,
        "{what} is not installed at {} and CACHECTL_REQUIRE_CLIENTS=1: run tests/clients/install.sh",
        path.display()
    );
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        use std::io::Write as _;
        let _ = writeln!(
            tty,
            "NOTICE: {what} not installed ({}); skipped. Run tests/clients/install.sh",
            path.display()
        );
    }
    None
}

/// Run `cmd`, which must exit 0 and print `ok` as its last line.
fn must_pass(mut cmd: Command, node: &mut Node) {
    let out = cmd.output().expect("starting the client script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().last() == Some("ok"),
        "client script failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}\nnode:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        node.proc().output_report()
    );
    eprint!("{stdout}");
}

#[test]
fn redis_py_with_default_settings() {
    let Some(python) = installed(clients_dir().join("venv/bin/python"), "redis-py") else {
        return;
    };
    let mut node = Node::start(&["--cores", "2"]);
    let mut cmd = Command::new(python);
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py.py"))
        .arg(node.addr().port().to_string());
    must_pass(cmd, &mut node);
}

#[test]
fn node_redis_with_default_settings() {
    let Some(modules) = installed(clients_dir().join("node/node_modules/redis"), "node-redis")
    else {
        return;
    };
    let mut node = Node::start(&["--cores", "2"]);
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", modules.parent().unwrap())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node_redis.cjs"))
        .arg(node.addr().port().to_string());
    must_pass(cmd, &mut node);
}

/// redis-py's `RedisCluster` with its default settings, bootstrapped from a
/// node in cluster mode (its two cores are two shards) and from the LB in
/// cluster mode with two nodes (four shards).
#[test]
fn redis_py_cluster_with_default_settings() {
    let Some(python) = installed(clients_dir().join("venv/bin/python"), "redis-py") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/redis_py_cluster.py");
    let mut cn = ClusterNode::start(&[]);
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .arg("127.0.0.1")
        .arg(cn.core_ports[0].to_string())
        .arg("2");
    must_pass(cmd, &mut cn.node);
    let (lb, mut nodes) = lb_cluster(2, "3s");
    let mut cmd = Command::new(&python);
    cmd.arg(&script)
        .arg("127.0.0.1")
        .arg(lb.addr.port().to_string())
        .arg("4");
    must_pass(cmd, &mut nodes[0].node);
}
