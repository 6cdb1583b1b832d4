//! Seed 004's origin protocol: one JSON object per line in each direction.
//! No I/O: requests are parsed from a line's bytes, responses appended to a
//! caller-owned buffer (each ending in `\n`).
//!
//! Requests (`op` is case-insensitive; unknown fields are ignored):
//!
//! ```text
//! {"op":"GET","key":"article/1"}
//! {"op":"METRICS"}
//! {"op":"PING"}
//! ```
//!
//! Responses:
//!
//! ```text
//! {"ok":true,"key":"article/1","value":"..."}
//! {"ok":true,"key":"blob/1","value":"<base64>","encoding":"base64"}   (not UTF-8)
//! {"ok":false,"error":"not found","key":"article/999"}
//! {"ok":true,"metrics":{...}}
//! {"ok":true,"pong":true}
//! {"ok":false,"error":"malformed JSON: ..."}
//! ```

use base64::Engine;
use serde_json::{json, Value};

/// One request of the JSON protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Fetch the value of a key.
    Get(String),
    /// The origin's counters.
    Metrics,
    /// Liveness check.
    Ping,
}

/// Why a request line is not a valid request; the connection carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not JSON at all.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON, but not an object.
    #[error("request must be a JSON object")]
    NotAnObject,
    /// No `op` field.
    #[error("missing \"op\"")]
    MissingOp,
    /// `op` is not a string.
    #[error("\"op\" must be a string")]
    OpNotString,
    /// An `op` we do not serve.
    #[error("unknown op \"{0}\" (expected GET, METRICS or PING)")]
    UnknownOp(String),
    /// GET without a string `key`.
    #[error("GET needs a string \"key\"")]
    MissingKey,
}

/// Parse one request line (without its newline).
///
/// # Errors
/// A [`RequestError`] describing what is wrong with the line.
pub fn parse_request(line: &[u8]) -> Result<Request, RequestError> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| RequestError::Malformed(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(RequestError::NotAnObject);
    };
    let op = match obj.get("op") {
        None => return Err(RequestError::MissingOp),
        Some(Value::String(op)) => op,
        Some(_) => return Err(RequestError::OpNotString),
    };
    match op.to_ascii_uppercase().as_str() {
        "GET" => match obj.get("key") {
            Some(Value::String(key)) => Ok(Request::Get(key.clone())),
            _ => Err(RequestError::MissingKey),
        },
        "METRICS" => Ok(Request::Metrics),
        "PING" => Ok(Request::Ping),
        _ => Err(RequestError::UnknownOp(op.clone())),
    }
}

/// A request line that exceeded the length limit before its newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request line longer than {0} bytes")]
pub struct LineTooLong(pub usize);

fn push(out: &mut Vec<u8>, v: &Value) {
    // Serialising a Value into a Vec cannot fail.
    serde_json::to_writer(&mut *out, v).expect("JSON into a Vec");
    out.push(b'\n');
}

/// Append a found value. Values that are not UTF-8 are sent base64-encoded
/// with `"encoding":"base64"`, since a JSON string cannot hold raw bytes.
pub fn found(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let v = match std::str::from_utf8(value) {
        Ok(text) => json!({"ok": true, "key": key, "value": text}),
        Err(_) => json!({
            "ok": true,
            "key": key,
            "value": base64::engine::general_purpose::STANDARD.encode(value),
            "encoding": "base64",
        }),
    };
    push(out, &v);
}

/// Append a failed GET (`not found`, an invalid key, a read error).
pub fn key_error(out: &mut Vec<u8>, key: &str, error: &str) {
    push(out, &json!({"ok": false, "error": error, "key": key}));
}

/// Append an error that concerns no key (a malformed request).
pub fn error(out: &mut Vec<u8>, error: &str) {
    push(out, &json!({"ok": false, "error": error}));
}

/// Append the METRICS response wrapping `metrics`.
pub fn metrics(out: &mut Vec<u8>, metrics: Value) {
    push(out, &json!({"ok": true, "metrics": metrics}));
}

/// Append the PING response.
pub fn pong(out: &mut Vec<u8>) {
    push(out, &json!({"ok": true, "pong": true}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let ok: &[(&str, Request)] = &[
            (
                r#"{"op":"GET","key":"article/1"}"#,
                Request::Get("article/1".into()),
            ),
            (
                r#"{"op":"get","key":"a","extra":1}"#,
                Request::Get("a".into()),
            ),
            (r#" {"op":"METRICS"} "#, Request::Metrics),
            (r#"{"op":"Ping"}"#, Request::Ping),
        ];
        for (line, want) in ok {
            assert_eq!(parse_request(line.as_bytes()).as_ref(), Ok(want), "{line}");
        }
        let bad: &[(&str, RequestError)] = &[
            (r#"[1,2]"#, RequestError::NotAnObject),
            (r#"{"key":"a"}"#, RequestError::MissingOp),
            (r#"{"op":7}"#, RequestError::OpNotString),
            (r#"{"op":"SET"}"#, RequestError::UnknownOp("SET".into())),
            (r#"{"op":"GET"}"#, RequestError::MissingKey),
            (r#"{"op":"GET","key":3}"#, RequestError::MissingKey),
        ];
        for (line, want) in bad {
            assert_eq!(parse_request(line.as_bytes()).as_ref(), Err(want), "{line}");
        }
        assert!(matches!(
            parse_request(b"{\"op\":"),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(
            parse_request(b"not json"),
            Err(RequestError::Malformed(_))
        ));
    }

    fn decode(out: &[u8]) -> Value {
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        serde_json::from_slice(out).unwrap()
    }

    #[test]
    fn responses() {
        let mut out = Vec::new();
        found(&mut out, "k", "line1\nline2 \u{e9}".as_bytes());
        assert_eq!(
            decode(&out),
            json!({"ok":true,"key":"k","value":"line1\nline2 \u{e9}"})
        );
        out.clear();
        found(&mut out, "b", &[0xff, 0x00, 0x01]);
        assert_eq!(
            decode(&out),
            json!({"ok":true,"key":"b","value":"/wAB","encoding":"base64"})
        );
        out.clear();
        key_error(&mut out, "x", "not found");
        assert_eq!(
            decode(&out),
            json!({"ok":false,"error":"not found","key":"x"})
        );
        out.clear();
        error(&mut out, "bad");
        assert_eq!(decode(&out), json!({"ok":false,"error":"bad"}));
        out.clear();
        metrics(&mut out, json!({"fetches": 2}));
        assert_eq!(decode(&out), json!({"ok":true,"metrics":{"fetches":2}}));
        out.clear();
        pong(&mut out);
        assert_eq!(decode(&out), json!({"ok":true,"pong":true}));
    }
}
