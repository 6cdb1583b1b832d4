//! The README's shell commands, run as written: a README command that stops
//! working fails the suite.
//!
//! Every ```sh block of README.md is either run or skipped here by its
//! section's name with a reason, so a new block fails this test until it is
//! classified. A block runs in a network namespace of its own (`unshare
//! -npf`, re-running this test binary inside it), so the README's fixed
//! ports (8888, 12345, 9000, ...) collide with nothing else on the machine,
//! and in a pid namespace of its own, so no child outlives it. It needs
//! root: in a user namespace (`unshare -r`) the node's io_uring cannot lock
//! its buffers and serves nothing.
//!
//! How a line runs: `B=...` is replaced by the binary cargo built for the
//! tests; a line ending in `&`, and `cachectl cluster` (which runs until
//! Ctrl-C), starts in the background and must start listening on its port;
//! any other line runs under `sh -c` with a deadline and must exit 0
//! without an error reply in its output, retried until the deadline (nodes
//! register with the LB a moment after they start, as for a user typing
//! the lines).

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Sections whose blocks are not run, and why.
const SKIPPED: &[(&str, &str)] = &[
    (
        "Set-up: two commands",
        "a 50,000-task benchmark and the whole test suite itself",
    ),
    ("Benchmarks", "benchmarks, not run by the test suite"),
];

/// Single commands inside run blocks that are not run, and why.
const SKIPPED_COMMANDS: &[(&str, &str)] = &[
    (
        "cargo build --release",
        "the test runs the binary cargo built for it",
    ),
    ("redis-benchmark", "a benchmark"),
];

/// How long one command may take (a background one: to start listening).
const DEADLINE: Duration = Duration::from_secs(20);

/// The env var that tells the inner run which walkthrough to run.
const INNER: &str = "CACHECTL_README_WALKTHROUGH";

/// One ```sh block and the heading it is under.
#[derive(Debug, Clone)]
struct Block {
    section: String,
    lines: Vec<String>,
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(path).expect("read README.md")
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match &mut current {
            Some(lines) if line.trim_start().starts_with("```") => {
                out.push(Block {
                    section: section.clone(),
                    lines: std::mem::take(lines),
                });
                current = None;
            }
            Some(lines) => lines.push(line.to_string()),
            None if line.trim_start().starts_with("```sh") => current = Some(Vec::new()),
            None if line.starts_with('#') => {
                section = line.trim_start_matches('#').trim().to_string();
            }
            None => {}
        }
    }
    out
}

/// The walkthroughs to run: each is a list of command lines. The seed-004
/// block offers two ways to start the system (`cachectl cluster`, or "# or
/// by hand" below it) followed by the client commands, after a blank line;
/// each way runs on its own with those client commands.
fn walkthroughs(blocks: &[Block]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if SKIPPED.iter().any(|(s, _)| *s == b.section) {
            continue;
        }
        let name = format!("{} (block {i})", b.section);
        let alt = b
            .lines
            .iter()
            .position(|l| l.trim_start().starts_with("# or "));
        match alt {
            None => out.push((name, b.lines.clone())),
            Some(at) => {
                let blank = b.lines.iter().position(|l| l.trim().is_empty());
                let blank = blank.expect("a blank line before the shared commands");
                let tail = &b.lines[blank..];
                let first = [&b.lines[..at], tail].concat();
                let second = [&b.lines[at..blank], tail].concat();
                out.push((format!("{name}, first way"), first));
                out.push((format!("{name}, second way"), second));
            }
        }
    }
    out
}

/// `line` without its trailing `# comment` (a `#` after whitespace and
/// outside quotes).
fn strip_comment(line: &str) -> String {
    let mut quote = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev_space => return line[..i].trim_end().to_string(),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line.trim_end().to_string()
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cachectl"))
}

#[test]
fn readme_commands_work_as_written() {
    let all = blocks(&readme());
    assert!(all.len() >= 4, "README has no sh blocks? {all:?}");
    for (section, _) in SKIPPED {
        assert!(
            all.iter().any(|b| b.section == *section),
            "SKIPPED names {section:?}, which the README no longer has"
        );
    }
    for (section, why) in SKIPPED {
        eprintln!("readme: not running {section:?}: {why}");
    }
    let runs = walkthroughs(&all);
    assert!(
        runs.iter().any(|(n, _)| n.starts_with("Seed 004")),
        "the seed-004 walkthrough is not among {runs:?}"
    );
    if !Command::new("unshare")
        .args(["-npf", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        // Without a namespace the README's fixed ports would collide with
        // other tests running at the same time.
        eprintln!("readme: SKIPPED, `unshare -npf` (network and pid namespaces, root) is not available here");
        return;
    }
    let me = std::env::current_exe().expect("test binary");
    for (i, (name, _)) in runs.iter().enumerate() {
        eprintln!("readme: running {name}");
        let out = Command::new("unshare")
            .args(["-npf", "--"])
            .arg(&me)
            .args([
                "--exact",
                "inner_walkthrough",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(INNER, i.to_string())
            .output()
            .expect("run the walkthrough in a namespace");
        assert!(
            out.status.success(),
            "README walkthrough {name:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs one walkthrough; started by `readme_commands_work_as_written`
/// inside a network namespace.
#[test]
#[ignore = "run by readme_commands_work_as_written inside a network namespace"]
fn inner_walkthrough() {
    let Ok(index) = std::env::var(INNER) else {
        return;
    };
    let index: usize = index.parse().expect("walkthrough index");
    let (name, lines) = walkthroughs(&blocks(&readme())).swap_remove(index);
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip link");
    assert!(up.success(), "cannot bring lo up in the namespace");
    let dir = std::env::temp_dir().join(format!("cachectl-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bg = Background(Vec::new());
    for line in lines {
        let cmd = strip_comment(&line);
        if cmd.is_empty() || cmd.starts_with("B=") {
            continue;
        }
        if let Some((_, why)) = SKIPPED_COMMANDS.iter().find(|(c, _)| cmd.starts_with(c)) {
            eprintln!("{name}: not running `{cmd}`: {why}");
            continue;
        }
        let tool = cmd.split(['|', ' ']).find(|w| w.starts_with("nc"));
        if tool == Some("nc") && !on_path("nc") {
            eprintln!("{name}: not running `{cmd}`: nc is not installed");
            continue;
        }
        let background = cmd.ends_with('&') || cmd.starts_with("$B cluster");
        if background {
            let cmd = cmd.trim_end_matches('&').trim().to_string();
            let port = listen_port(&cmd);
            eprintln!("{name}: starting `{cmd}` (port {port})");
            bg.0.push(start(&cmd, &dir));
            wait_listening(&cmd, port, &mut bg);
        } else {
            eprintln!("{name}: `{cmd}`");
            run_until_ok(&cmd, &dir);
        }
    }
    drop(bg);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Background children, killed when the walkthrough ends or fails.
struct Background(Vec<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        // Ctrl-C first, as the README says (the cluster stops its own
        // children on it); the pid namespace takes any straggler down with
        // the inner test.
        for c in self.0.iter().rev() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
        }
        let end = Instant::now() + Duration::from_secs(10);
        for c in &mut self.0 {
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn shell(cmd: &str, dir: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd).current_dir(dir).env("B", binary());
    c
}

fn start(cmd: &str, dir: &Path) -> Child {
    shell(&format!("exec {cmd}"), dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start `{cmd}`: {e}"))
}

/// The port a background command listens on: its `--port`, else its role's
/// default (the cluster's: its LB, base port 8000 + 1000).
fn listen_port(cmd: &str) -> u16 {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| *w == "--port") {
        return words[i + 1].parse().expect("a port number");
    }
    match words.get(1).copied() {
        Some("origin") => 8000,
        Some("lb") => 8888,
        Some("node") => 12345,
        Some("cluster") => 9000,
        other => panic!("`{cmd}`: no port known for {other:?}"),
    }
}

fn wait_listening(cmd: &str, port: u16, bg: &mut Background) {
    let end = Instant::now() + DEADLINE;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let child = bg.0.last_mut().expect("just started");
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("`{cmd}` exited ({status}) before listening on {port}:\n{err}");
        }
        assert!(Instant::now() < end, "`{cmd}` is not listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `cmd` until it exits 0 with no error reply in its output, or the
/// deadline passes.
fn run_until_ok(cmd: &str, dir: &Path) {
    let end = Instant::now() + DEADLINE;
    loop {
        let (ok, output) = run_once(cmd, dir, end);
        if ok {
            return;
        }
        assert!(
            Instant::now() < end,
            "`{cmd}` did not succeed within {DEADLINE:?}:\n{output}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn run_once(cmd: &str, dir: &Path, end: Instant) -> (bool, String) {
    let out_path = dir.join("out");
    let file = std::fs::File::create(&out_path).unwrap();
    let mut child = shell(cmd, dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("run `{cmd}`: {e}"));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let refused = ["(error)", "ERROR:", "ERR "]
        .iter()
        .any(|e| output.contains(e));
    let ok = status.is_some_and(|s| s.success()) && !refused;
    (ok, format!("status {status:?}, output:\n{output}"))
}

#[test]
fn comments_are_stripped_outside_quotes_only() {
    assert_eq!(strip_comment("$B origin &   # source"), "$B origin &");
    assert_eq!(
        strip_comment("printf 'a # b\\n' | nc -q1 h 1  # -> x"),
        "printf 'a # b\\n' | nc -q1 h 1"
    );
    assert_eq!(strip_comment("# a comment line"), "");
    assert_eq!(strip_comment("echo a#b"), "echo a#b");
}
