//! Seed 000's line protocol: framing (`split_line`) and `parse_line` over a
//! pipelined stream. A parsed request's fields hold no `:` and its key is
//! not empty, and the request rebuilt as a line parses back the same.
//!
//! Input: 1 control byte (the line limit), then the stream.
#![no_main]

use cachectl::proto::detect_dialect;
use cachectl::proto::line::{parse_line, split_line, LineOp};
use cachectl::proto::ProtoError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let max_line = if ctl & 1 == 0 {
        1024
    } else {
        usize::from(ctl >> 1)
    };
    let _ = detect_dialect(stream);
    let mut pos = 0;
    while pos < stream.len() {
        let rest = &stream[pos..];
        let framed = split_line(rest, max_line);
        let parsed = parse_line(rest, max_line);
        match (framed, &parsed) {
            (Ok(None), Ok(None)) => {
                assert!(!rest.contains(&b'\n') && rest.len() <= max_line);
                break;
            }
            (Err(ProtoError::InlineTooLong), Err(ProtoError::InlineTooLong)) => break,
            (Ok(Some((used, line))), Ok(Some((used2, p)))) => {
                assert_eq!(used, *used2);
                let nl = used - 1;
                assert_eq!(rest[nl], b'\n');
                assert!(!rest[..nl].contains(&b'\n') && nl <= max_line);
                assert!(line.len() == nl || (line.len() + 1 == nl && rest[nl - 1] == b'\r'));
                if let Ok((op, ranges)) = p {
                    let fields: Vec<&[u8]> = ranges.iter().map(|r| &line[r.clone()]).collect();
                    check(*op, &fields, max_line);
                }
                pos += used;
            }
            (f, p) => panic!("split_line {f:?} but parse_line {p:?}"),
        }
    }
});

fn check(op: LineOp, fields: &[&[u8]], max_line: usize) {
    let (name, want) = match op {
        LineOp::Set => ("SET", 2),
        LineOp::Get => ("GET", 1),
        LineOp::Del => ("DEL", 1),
        LineOp::Ping => ("PING", 0),
    };
    assert_eq!(fields.len(), want, "{op:?}");
    assert!(fields
        .iter()
        .all(|f| !f.contains(&b':') && !f.contains(&b'\n')));
    if want > 0 {
        assert!(!fields[0].is_empty());
    }
    let mut again = name.as_bytes().to_vec();
    for f in fields {
        again.push(b':');
        again.extend_from_slice(f);
    }
    // CRLF: a field may end in `\r`, and only one `\r` is stripped.
    again.extend_from_slice(b"\r\n");
    let Ok(Some((used, Ok((op2, ranges))))) = parse_line(&again, max_line.max(again.len())) else {
        panic!("{:?} does not parse back", String::from_utf8_lossy(&again));
    };
    assert_eq!((used, op2), (again.len(), op));
    let back: Vec<&[u8]> = ranges.iter().map(|r| &again[r.clone()]).collect();
    assert_eq!(back, fields);
}
