//! The origin's JSON protocol: line framing and `parse_request` over a
//! pipelined stream, the key check, and the replies: each is one JSON line,
//! and a found value reads back as the same bytes (base64 when not UTF-8).
//!
//! Input: the stream; the last request's key doubles as a value's bytes.
#![no_main]

use base64::Engine;
use cachectl::proto::line::split_line;
use cachectl::roles::origin::data::validate_key;
use cachectl::roles::origin::json::{error, found, key_error, parse_request, Request};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// The origin's request line limit.
const MAX_LINE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    while pos < data.len() {
        let Ok(Some((used, line))) = split_line(&data[pos..], MAX_LINE) else {
            break;
        };
        match parse_request(line) {
            Ok(Request::Get(key)) => {
                let _ = validate_key(key.as_bytes());
                // The request, written by another client, reads the same.
                let again = json!({"op": "get", "key": key}).to_string();
                assert_eq!(
                    parse_request(again.as_bytes()),
                    Ok(Request::Get(key.clone()))
                );
                let mut out = Vec::new();
                key_error(&mut out, &key, "not found");
                one_line(&out);
                // The raw line is any bytes: a value as a file might hold it.
                let v = found_value(&key, line);
                assert_eq!(v, line);
            }
            Ok(_) => {}
            Err(e) => {
                let mut out = Vec::new();
                error(&mut out, &e.to_string());
                one_line(&out);
            }
        }
        pos += used;
    }
});

/// What a client decodes from `found(key, value)`.
fn found_value(key: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    found(&mut out, key, value);
    let v = one_line(&out);
    assert_eq!(v["key"], Value::String(key.into()));
    let text = v["value"].as_str().expect("a string value");
    match v.get("encoding") {
        None => text.as_bytes().to_vec(),
        Some(e) => {
            assert_eq!(e, "base64");
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("valid base64")
        }
    }
}

/// `out` is one line of JSON; returns it parsed.
fn one_line(out: &[u8]) -> Value {
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    serde_json::from_slice(out).expect("a JSON reply")
}
