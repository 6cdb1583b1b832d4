//! The RESP request parser: `parse_request` from scratch and the
//! incremental `RequestParser` fed the same stream in pieces must agree on
//! every request (bytes taken, arguments, or the error), and a parsed
//! request re-encoded as a multibulk parses back to the same arguments.
//!
//! Input: 5 control bytes (limits, first cut, step), then the stream.
#![no_main]

use cachectl::proto::resp::{parse_request, Args, Limits, RequestParser};
use cachectl_fuzz::multibulk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((ctl, stream)) = data.split_first_chunk::<5>() else {
        return;
    };
    // Small limits half the time, so every limit check is reachable.
    let limits = if ctl[2] & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_bulk: usize::from(ctl[0]) * 4,
            max_args: usize::from(ctl[1] % 32),
            max_inline: usize::from(ctl[2]),
        }
    };
    let (first_cut, step) = (usize::from(ctl[3]), 1 + usize::from(ctl[4]));
    let mut parser = RequestParser::default();
    let (mut whole, mut pieces) = (Args::default(), Args::default());
    let mut pos = 0;
    while pos < stream.len() {
        let rest = &stream[pos..];
        let expect = parse_request(rest, &limits, &mut whole);
        // The same bytes as they might arrive: a first read of `first_cut`
        // bytes, then `step` more at a time.
        let mut end = first_cut.min(rest.len());
        let got = loop {
            let r = parser.parse(&rest[..end], &limits, &mut pieces);
            if r == Ok(None) && end < rest.len() {
                end = (end + step).min(rest.len());
                continue;
            }
            break r;
        };
        assert_eq!(got, expect, "split at {first_cut} step {step}: {rest:?}");
        let Ok(Some(used)) = expect else {
            break;
        };
        assert!(used > 0 && used <= rest.len());
        assert!(!parser.in_request());
        let a: Vec<&[u8]> = whole.iter(&rest[..used]).collect();
        let b: Vec<&[u8]> = pieces.iter(&rest[..used]).collect();
        assert_eq!(a, b);
        if !a.is_empty() {
            let again = multibulk(a.iter().copied());
            let mut args = Args::default();
            let n = parse_request(&again, &Limits::default(), &mut args);
            assert_eq!(n, Ok(Some(again.len())));
            assert_eq!(args.iter(&again).collect::<Vec<_>>(), a);
        }
        pos += used;
    }
});
