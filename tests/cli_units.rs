//! Every duration flag of every role takes units (`200ms`, `3s`, `1m`) and
//! keeps its bare-number meaning; every size flag takes `kb`/`mb`/`gb`; a
//! bad value is refused with a message naming the flag.
//!
//! Runs the binary's argument parsing only: an accepted value is shown by
//! clap going on to refuse a deliberately bad `--port` after it (clap
//! parses left to right and stops at the first bad value), so no server
//! starts.

use std::process::Command;

/// The flags under test: role, flag, values it takes, a value it refuses
/// and a word of the refusal.
const FLAGS: &[(&str, &str, &[&str], &str, &str)] = &[
    (
        "node",
        "--ttl",
        &["60", "90s", "2m", "1h"],
        "1500ms",
        "whole number of seconds",
    ),
    (
        "node",
        "--origin-timeout",
        &["1000", "250ms", "1s"],
        "soon",
        "not a duration",
    ),
    (
        "node",
        "--negative-ttl",
        &["30", "30s"],
        "3d",
        "unknown unit",
    ),
    (
        "node",
        "--spin-us",
        &["50", "50us", "1ms"],
        "1.2.3",
        "not a duration",
    ),
    (
        "node",
        "--timeout",
        &["0", "300", "5m"],
        "0.5",
        "whole number of seconds",
    ),
    (
        "node",
        "--slowlog-log-slower-than",
        &["-1", "0", "10000", "10ms"],
        "-2",
        "not a duration",
    ),
    (
        "node",
        "--max-bulk",
        &["1024", "512mb", "1gb"],
        "big",
        "not a byte size",
    ),
    (
        "node",
        "--max-inline",
        &["65536", "64kb"],
        "64xb",
        "not a byte size",
    ),
    (
        "node",
        "--io-memory",
        &["262144", "256kb"],
        "lots",
        "not a byte size",
    ),
    (
        "node",
        "--maxmemory",
        &["100mb", "2gb"],
        "lots",
        "not a byte size",
    ),
    (
        "lb",
        "--health-interval",
        &["3", "3s", "250ms"],
        "often",
        "not a duration",
    ),
    (
        "lb",
        "--health-timeout",
        &["0.5", "500ms"],
        "1e30",
        "unknown unit",
    ),
    (
        "lb",
        "--idle-timeout",
        &["60", "5m"],
        "forever",
        "not a duration",
    ),
    (
        "lb",
        "--proxy-timeout",
        &["1", "250ms"],
        "2000000000",
        "too long",
    ),
    (
        "lb",
        "--max-value",
        &["1mb", "4096"],
        "1tb",
        "not a byte size",
    ),
    ("lb", "--io-memory", &["256kb"], "x", "not a byte size"),
    (
        "origin",
        "--latency",
        &["0", "200", "200ms", "1.5s"],
        "200x",
        "unknown unit",
    ),
    (
        "origin",
        "--max-value",
        &["64mb"],
        "huge",
        "not a byte size",
    ),
    ("origin", "--io-memory", &["256kb"], "x", "not a byte size"),
    (
        "client",
        "--timeout",
        &["2000", "2s", "500ms"],
        "fast",
        "not a duration",
    ),
    (
        "cluster",
        "--ttl",
        &["60", "2m"],
        "100ms",
        "whole number of seconds",
    ),
    (
        "cluster",
        "--latency",
        &["200", "200ms"],
        "slow",
        "not a duration",
    ),
    (
        "cluster",
        "--health-interval",
        &["3", "500ms"],
        "x",
        "not a duration",
    ),
    (
        "bench",
        "--duration",
        &["10", "10s", "500ms", "2m"],
        "long",
        "not a duration",
    ),
    ("bench", "--timeout", &["10", "10s"], "10d", "unknown unit"),
    (
        "bench",
        "--value-size",
        &["32", "4kb"],
        "32 bytes",
        "not a byte size",
    ),
];

/// Run `cachectl ARGS`, expecting clap to refuse; returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cachectl"))
        .args(args)
        .output()
        .expect("run cachectl");
    assert_eq!(out.status.code(), Some(2), "{args:?} was not refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn good_values_pass_and_bad_ones_name_the_flag() {
    for (role, flag, good, bad, why) in FLAGS {
        // Bench and client have no --port; another bad flag stands in.
        let stop: &[&str] = match *role {
            "bench" => &["--connections", "x"],
            "client" => &["--retries", "x"],
            _ => &["--port", "x"],
        };
        for value in *good {
            let mut args = vec![*role, *flag, value];
            args.extend(stop);
            let err = refused(&args);
            assert!(
                err.contains(&format!("'{}", stop[0])) && !err.contains(&format!("'{flag}")),
                "{role} {flag} {value} was refused: {err}"
            );
        }
        let err = refused(&[role, flag, bad]);
        assert!(
            err.contains(&format!("'{flag} <")) && err.contains(why),
            "{role} {flag} {bad}: {err}"
        );
    }
}

#[test]
fn help_says_what_a_bare_number_means() {
    for (role, flag, unit) in [
        ("node", "--ttl", "a bare number is seconds"),
        (
            "node",
            "--origin-timeout",
            "a bare\n          number is milliseconds",
        ),
        ("origin", "--latency", "bare number is milliseconds"),
        ("lb", "--health-interval", "a bare number is seconds"),
        ("client", "--timeout", "number is milliseconds"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cachectl"))
            .args([role, "--help"])
            .output()
            .expect("run cachectl");
        let help = String::from_utf8_lossy(&out.stdout);
        let at = help.find(&format!("{flag} <")).expect(flag);
        let next = help[at + 1..]
            .find("\n  -")
            .map_or(help.len(), |n| at + 1 + n);
        let text: String = help[at..next]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let unit: String = unit.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&unit), "{role} {flag}: {text}");
    }
}
