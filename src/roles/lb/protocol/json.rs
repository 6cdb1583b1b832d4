//! Seed 004's client protocol: one JSON object per line, each way, with no
//! I/O. `{"op":"GET","key":"article/1"}` is answered
//! `{"ok":true,"key":"article/1","value":"..."}` or
//! `{"ok":false,"key":"article/1","error":"not found"}`; `{"op":"METRICS"}`
//! with the LB's METRICS object itself. Every reply carries `"ok"`; a
//! failed request carries `"error"`. A line that is not a request object
//! is answered with an error and the connection carries on — newlines
//! frame the stream, so it resynchronises on the next line.

use super::{one_line, DataOp, Parsed, Reply, Request, RequestError};
use crate::proto::line::split_line;
use crate::proto::ProtoError;
use serde_json::{json, Value};

/// Longest error detail we echo back from the JSON parser.
const MAX_DETAIL: usize = 200;

/// Parse one JSON request line from the front of `buf`; `Ok(None)` means
/// incomplete, `(n, None)` a blank line.
///
/// # Errors
/// [`ProtoError::InlineTooLong`] when no newline comes within `max_line`.
pub fn parse(buf: &[u8], max_line: usize) -> Result<Option<(usize, Option<Parsed>)>, ProtoError> {
    let Some((used, line)) = split_line(buf, max_line)? else {
        return Ok(None);
    };
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(Some((used, None)));
    }
    Ok(Some((used, Some(request(line)))))
}

fn bad(detail: impl std::fmt::Display) -> RequestError {
    let d = one_line(&detail.to_string());
    RequestError::Json(d.chars().take(MAX_DETAIL).collect())
}

/// A non-empty string field of the request object.
fn string_field(obj: &serde_json::Map<String, Value>, name: &str) -> Result<Vec<u8>, RequestError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(_) => Err(bad(format!("\"{name}\" must be a string"))),
        None => Err(bad(format!("\"{name}\" is missing"))),
    }
}

fn request(line: &[u8]) -> Parsed {
    let v: Value = serde_json::from_slice(line).map_err(bad)?;
    let Value::Object(obj) = v else {
        return Err(bad(
            "a request is an object like {\"op\":\"GET\",\"key\":\"k\"}",
        ));
    };
    let op = match obj.get("op") {
        Some(Value::String(op)) => op.to_ascii_uppercase(),
        Some(_) => return Err(bad("\"op\" must be a string")),
        None => return Err(bad("\"op\" is missing")),
    };
    let key = || {
        let k = string_field(&obj, "key")?;
        if k.is_empty() {
            return Err(RequestError::EmptyKey);
        }
        Ok(k)
    };
    match op.as_str() {
        "GET" => Ok(DataOp::Get(key()?).into()),
        "DEL" | "DELETE" => Ok(DataOp::Del(key()?).into()),
        "SET" => Ok(DataOp::Set(key()?, string_field(&obj, "value")?).into()),
        "METRICS" => Ok(Request::Metrics),
        "INFO" => Ok(Request::Info),
        "NODES" => Ok(Request::Nodes),
        "LEASE" if obj.contains_key("key") => Ok(Request::LeaseKey(key()?)),
        "LEASE" => Ok(Request::Lease),
        "PING" => Ok(Request::Ping),
        "QUIT" => Ok(Request::Quit),
        _ => Err(RequestError::UnknownCommand(
            one_line(&op).chars().take(64).collect(),
        )),
    }
}

/// Append `r` as one JSON line. Keys and values are bytes on the wire of
/// the other dialects; bytes that are not UTF-8 come out as U+FFFD here.
pub fn encode(r: &Reply<'_>, out: &mut Vec<u8>) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let v = match r {
        // METRICS is already one JSON object: the seed's client reads it as is.
        Reply::Json(s) => {
            out.extend_from_slice(one_line(s).as_bytes());
            out.push(b'\n');
            return;
        }
        Reply::Node(a) => json!({"ok": true, "node": a.to_string()}),
        Reply::NoHealthyNodes => json!({"ok": false, "error": "no healthy nodes"}),
        Reply::Ok => json!({"ok": true}),
        Reply::Challenge(n) => json!({"ok": false, "challenge": n}),
        Reply::Grant(g) => json!({"ok": true, "grant": g}),
        Reply::Pong => json!({"ok": true, "reply": "PONG"}),
        Reply::Error(m) => json!({"ok": false, "error": m}),
        Reply::NodeError(m) => json!({"ok": false, "error": m.strip_prefix("ERR ").unwrap_or(m)}),
        Reply::Info(s) => json!({"ok": true, "info": s}),
        Reply::Lines(v) => json!({"ok": true, "lines": v}),
        Reply::Value { key, value } => {
            json!({"ok": true, "key": text(key), "value": text(value)})
        }
        Reply::NotFound { key } => json!({"ok": false, "key": text(key), "error": "not found"}),
        Reply::Stored { key } => json!({"ok": true, "key": text(key)}),
        Reply::Deleted { key, count } => {
            json!({"ok": true, "key": text(key), "deleted": count})
        }
    };
    // Writing a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &v);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Parsed {
        let buf = format!("{line}\n");
        match parse(buf.as_bytes(), 4096) {
            Ok(Some((n, Some(p)))) if n == buf.len() => p,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn enc(r: Reply<'_>) -> Value {
        let mut out = Vec::new();
        encode(&r, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn requests() {
        let get = |k: &str| Ok(Request::Data(DataOp::Get(k.into())));
        assert_eq!(one(r#"{"op":"GET","key":"article/1"}"#), get("article/1"));
        assert_eq!(one(r#" {"op":"get", "key":"k", "extra":1} "#), get("k"));
        assert_eq!(
            one(r#"{"op":"SET","key":"k","value":"v:1"}"#),
            Ok(Request::Data(DataOp::Set("k".into(), "v:1".into())))
        );
        assert_eq!(
            one(r#"{"op":"DEL","key":"k"}"#),
            Ok(Request::Data(DataOp::Del("k".into())))
        );
        assert_eq!(one(r#"{"op":"METRICS"}"#), Ok(Request::Metrics));
        assert_eq!(one(r#"{"op":"ping"}"#), Ok(Request::Ping));
        assert_eq!(one(r#"{"op":"LEASE"}"#), Ok(Request::Lease));
        assert_eq!(
            one(r#"{"op":"LEASE","key":"k"}"#),
            Ok(Request::LeaseKey(b"k".to_vec()))
        );
        assert_eq!(one(r#"{"op":"GET","key":""}"#), Err(RequestError::EmptyKey));
        assert_eq!(
            one(r#"{"op":"FLY"}"#),
            Err(RequestError::UnknownCommand("FLY".into()))
        );
        for bad in [
            r#"{"op":"GET"}"#,
            r#"{"op":"GET","key":7}"#,
            r#"{"op":"SET","key":"k"}"#,
            r#"{"op":"SET","key":"k","value":1}"#,
            r#"{"key":"k"}"#,
            r#"{"op":["GET"]}"#,
            r#"{"op":"GET","key":"k""#,
            r#"{not json}"#,
            r#"["GET","k"]"#,
        ] {
            assert!(
                matches!(one(bad), Err(RequestError::Json(_))),
                "{bad}: {:?}",
                one(bad)
            );
        }
    }

    #[test]
    fn framing() {
        assert_eq!(parse(b"{\"op\":", 4096), Ok(None));
        assert_eq!(parse(b"  \n", 4096), Ok(Some((3, None))));
        assert_eq!(parse(&[b'{'; 50], 10), Err(ProtoError::InlineTooLong));
        let two = b"{\"op\":\"PING\"}\n{\"op\":\"METRICS\"}\n";
        let (n, p) = parse(two, 4096).unwrap().unwrap();
        assert_eq!(p, Some(Ok(Request::Ping)));
        let (m, p) = parse(&two[n..], 4096).unwrap().unwrap();
        assert_eq!((n + m, p), (two.len(), Some(Ok(Request::Metrics))));
    }

    #[test]
    fn replies() {
        assert_eq!(
            enc(Reply::Value {
                key: b"article/1",
                value: b"hello \"world\"\n"
            }),
            json!({"ok": true, "key": "article/1", "value": "hello \"world\"\n"})
        );
        assert_eq!(
            enc(Reply::NotFound { key: b"k" }),
            json!({"ok": false, "key": "k", "error": "not found"})
        );
        assert_eq!(
            enc(Reply::Stored { key: b"k" }),
            json!({"ok": true, "key": "k"})
        );
        assert_eq!(
            enc(Reply::Deleted {
                key: b"k",
                count: 1
            }),
            json!({"ok": true, "key": "k", "deleted": 1})
        );
        assert_eq!(
            enc(Reply::NodeError("ERR value is not an integer")),
            json!({"ok": false, "error": "value is not an integer"})
        );
        assert_eq!(
            enc(Reply::Error("no healthy node answered")),
            json!({"ok": false, "error": "no healthy node answered"})
        );
        assert_eq!(enc(Reply::Json(r#"{"role":"lb"}"#)), json!({"role": "lb"}));
        assert_eq!(enc(Reply::Pong), json!({"ok": true, "reply": "PONG"}));
        assert_eq!(
            enc(Reply::Value {
                key: b"k",
                value: b"\xff"
            })["value"],
            "\u{fffd}"
        );
    }
}
