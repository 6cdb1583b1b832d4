//! The request parsers against a table, and against themselves: any stream
//! split anywhere parses as it does whole, and a request split over many
//! reads is examined once.

use super::*;

type Parsed = Result<Option<(usize, Vec<Vec<u8>>)>, ProtoError>;

fn parse(buf: &[u8]) -> Parsed {
    let mut args = Args::default();
    let r = parse_request(buf, &Limits::default(), &mut args)?;
    Ok(r.map(|n| (n, args.iter(buf).map(<[u8]>::to_vec).collect())))
}

#[test]
fn table() {
    type Case = (
        &'static [u8],
        Result<Option<(usize, Vec<&'static [u8]>)>, ProtoError>,
    );
    let cases: Vec<Case> = vec![
        (b"*1\r\n$4\r\nPING\r\n", Ok(Some((14, vec![b"PING"])))),
        (
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
            Ok(Some((20, vec![b"GET", b"k"]))),
        ),
        (b"*2\r\n$3\r\nGET\r\n$1\r\nk", Ok(None)),
        (b"*2\r\n$3\r\nGET\r\n", Ok(None)),
        (b"*2\r", Ok(None)),
        (b"*0\r\n", Ok(Some((4, vec![])))),
        (b"*-1\r\n", Ok(Some((5, vec![])))),
        (b"*x\r\n", Err(ProtoError::InvalidMultibulkLength)),
        (b"*1\r\n$-1\r\n", Err(ProtoError::InvalidBulkLength)),
        (b"*1\r\n$abc\r\n", Err(ProtoError::InvalidBulkLength)),
        (b"*1\r\n+PING\r\n", Err(ProtoError::ExpectedDollar('+'))),
        (b"*1\r\n$4\r\nPINGxx", Err(ProtoError::MissingCrlf)),
        (b"*1\r\n$0\r\n\r\n", Ok(Some((10, vec![b""])))),
        (b"PING\r\n", Ok(Some((6, vec![b"PING"])))),
        (b"SET  k   v\n", Ok(Some((11, vec![b"SET", b"k", b"v"])))),
        (
            b"SET k \"a b\"\r\n",
            Ok(Some((13, vec![b"SET", b"k", b"a b"]))),
        ),
        (b"SET k \"a b\r\n", Err(ProtoError::UnbalancedQuotes)),
        (
            b"SET k \"a\\x41\\n\\\"\\q\"\r\n",
            Ok(Some((21, vec![b"SET", b"k", b"aA\n\"q"]))),
        ),
        (
            b"SET k 'it\\'s \\n'\n",
            Ok(Some((17, vec![b"SET", b"k", b"it's \\n"]))),
        ),
        (b"a\"b c\"d e\n", Err(ProtoError::UnbalancedQuotes)),
        (b"a\"b c\" e\n", Ok(Some((9, vec![b"ab c", b"e"])))),
        (b"SET k \"\"\n", Ok(Some((9, vec![b"SET", b"k", b""])))),
        (b"SET k \"a\"b\n", Err(ProtoError::UnbalancedQuotes)),
        (b"PING\x00junk\n", Ok(Some((10, vec![b"PING\x00junk"])))),
        (b"\r\n", Ok(Some((2, vec![])))),
        (b"PIN", Ok(None)),
    ];
    for (input, want) in cases {
        let got = parse(input);
        let want = want.map(|o| o.map(|(n, v)| (n, v.into_iter().map(<[u8]>::to_vec).collect())));
        assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_bulk: 4,
        max_args: 2,
        max_inline: 8,
    };
    let mut a = Args::default();
    assert_eq!(
        parse_request(b"*1\r\n$5\r\nhello\r\n", &limits, &mut a),
        Err(ProtoError::InvalidBulkLength)
    );
    assert_eq!(
        parse_request(b"*3\r\n", &limits, &mut a),
        Err(ProtoError::InvalidMultibulkLength)
    );
    assert_eq!(
        parse_request(b"PING PING PING", &limits, &mut a),
        Err(ProtoError::InlineTooLong)
    );
    assert_eq!(
        parse_request(&[b'*'; 40], &limits, &mut a),
        Err(ProtoError::HeaderTooLong)
    );
}

/// Found by fuzz/resp_request: a junk `*` header whose CRLF ends exactly
/// one byte past the header limit was `InvalidMultibulkLength` whole but
/// `HeaderTooLong` when its last byte arrived in a later read.
#[test]
fn an_overlong_header_fails_alike_however_split() {
    let mut junk = b"*2\r".to_vec();
    junk.resize(MAX_HEADER, b'>');
    junk.extend_from_slice(b"\r\n$3\r\nGET\r\n");
    let limits = Limits::default();
    let whole = parse_request(&junk, &limits, &mut Args::default());
    assert_eq!(whole, Err(ProtoError::InvalidMultibulkLength));
    for cut in 0..junk.len() {
        let mut p = RequestParser::default();
        let mut args = Args::default();
        let mut got = p.parse(&junk[..cut], &limits, &mut args);
        if got == Ok(None) {
            got = p.parse(&junk, &limits, &mut args);
        }
        assert_eq!(got, whole, "cut at {cut}");
    }
    // One byte longer, and it is too long whichever way it arrives.
    junk.insert(3, b'>');
    let whole = parse_request(&junk, &limits, &mut Args::default());
    assert_eq!(whole, Err(ProtoError::HeaderTooLong));
    let mut p = RequestParser::default();
    assert_eq!(
        p.parse(&junk[..MAX_HEADER + 2], &limits, &mut Args::default()),
        whole
    );
}

#[test]
fn pipelined_requests_parse_one_at_a_time() {
    let buf = b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
    let (n, args) = parse(buf).unwrap().unwrap();
    assert_eq!(args, vec![b"PING".to_vec()]);
    let (m, args) = parse(&buf[n..]).unwrap().unwrap();
    assert_eq!(args, vec![b"ECHO".to_vec(), b"hi".to_vec()]);
    assert_eq!(n + m, buf.len());
}

#[test]
fn binary_bulk_is_kept_verbatim() {
    let buf = b"*1\r\n$4\r\n\x00\r\n\xff\r\n";
    let (_, args) = parse(buf).unwrap().unwrap();
    assert_eq!(args, vec![b"\x00\r\n\xff".to_vec()]);
}

/// What a connection makes of a stream: each request's length and
/// arguments, up to and including the first error.
type Outcome = Vec<Result<(usize, Vec<Vec<u8>>), ProtoError>>;

/// The reference: the whole stream at once, each request parsed from
/// scratch.
fn whole(stream: &[u8], limits: &Limits) -> Outcome {
    let mut args = Args::default();
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        match parse_request(&stream[pos..], limits, &mut args) {
            Ok(None) => return out,
            Ok(Some(n)) => {
                let req = &stream[pos..pos + n];
                out.push(Ok((n, args.iter(req).map(<[u8]>::to_vec).collect())));
                pos += n;
            }
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
}

/// The stream as a connection receives it: in pieces of the given sizes
/// (the last piece takes the rest), parsed by one [`RequestParser`] after
/// each piece. Before a piece whose `compact` flag is set, the consumed
/// bytes are dropped from the front of the buffer, so a partial request
/// moves, as `conn::serve` moves it.
fn pieces(stream: &[u8], sizes: &[(usize, bool)], limits: &Limits) -> Outcome {
    let mut parser = RequestParser::default();
    let mut args = Args::default();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let (mut start, mut fed) = (0, 0);
    let mut sizes = sizes.iter().copied();
    while fed < stream.len() {
        let (size, compact) = sizes.next().unwrap_or((stream.len(), false));
        if compact {
            buf.drain(..start);
            start = 0;
        }
        let size = size.clamp(1, stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + size]);
        fed += size;
        loop {
            match parser.parse(&buf[start..], limits, &mut args) {
                Ok(None) => break,
                Ok(Some(n)) => {
                    let req = &buf[start..start + n];
                    out.push(Ok((n, args.iter(req).map(<[u8]>::to_vec).collect())));
                    start += n;
                }
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

fn small_limits() -> Limits {
    Limits {
        max_bulk: 64,
        max_args: 4,
        max_inline: 40,
    }
}

/// Streams that end well, badly, and in the middle of a request.
fn corpus() -> Vec<Vec<u8>> {
    let mut streams: Vec<Vec<u8>> = [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123\r\n6789\r\n*1\r\n$4\r\nPING\r\n"[..],
        b"*0\r\n*-1\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\nPING\r\n\r\n\n",
        b"SET k \"a b\\x41\\n\"\r\nGET k\nECHO 'it\\'s'\r\n*1\r\n$4\r\nPING\r\n",
        b"*1\r\n$4\r\nPING\r\n*x\r\n",
        b"*1\r\n$4\r\nPING\r\n*1\r\n$-1\r\n",
        b"*2\r\n$4\r\nECHO\r\n+PING\r\n",
        b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
        b"PING\r\nSET k \"abc\r\nPING\r\n",
        b"*2\r\n$4\r\nECHO\r\n$65\r\n",
        b"*5\r\n$1\r\na\r\n",
        b"PING\r\nPING PING PING PING PING PING PING PING PING PING\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc",
        b"GET k",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    let mut endless = b"*1\r\n$4\r\nPING\r\n*".to_vec();
    endless.extend([b'9'; 40]);
    streams.push(endless);
    let mut endless_bulk = b"*1\r\n$".to_vec();
    endless_bulk.extend([b'9'; 40]);
    streams.push(endless_bulk);
    streams
}

#[test]
fn every_split_point_parses_as_the_whole() {
    for limits in [Limits::default(), small_limits()] {
        for stream in corpus() {
            let want = whole(&stream, &limits);
            let show = String::from_utf8_lossy(&stream);
            assert_eq!(pieces(&stream, &[], &limits), want, "whole: {show:?}");
            for cut in 1..stream.len() {
                for compact in [false, true] {
                    let got = pieces(&stream, &[(cut, false), (0, compact)], &limits);
                    assert_eq!(got, want, "cut at {cut}, compact {compact}: {show:?}");
                }
            }
            let bytes = vec![(1, true); stream.len()];
            assert_eq!(pieces(&stream, &bytes, &limits), want, "bytes: {show:?}");
        }
    }
}

mod props {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Bytes that matter to the parsers, and some that don't.
    fn byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => proptest::sample::select(b"\r\n*$\"' \\x4a-09".to_vec()),
            1 => any::<u8>(),
        ]
    }

    /// One request, or something that looks like part of one.
    fn request() -> impl Strategy<Value = Vec<u8>> {
        let bulk = prop_oneof![
            6 => vec(byte(), 0..12),
            1 => (50usize..3000).prop_map(|n| vec![b'v'; n]),
        ];
        prop_oneof![
            // A valid multibulk request.
            6 => vec(bulk, 0..5).prop_map(|args| {
                let mut r = format!("*{}\r\n", args.len()).into_bytes();
                for a in args {
                    r.extend(format!("${}\r\n", a.len()).bytes());
                    r.extend(a);
                    r.extend(b"\r\n");
                }
                r
            }),
            // An inline line.
            3 => (vec(byte(), 0..30), any::<bool>()).prop_map(|(mut l, crlf)| {
                l.retain(|&b| b != b'\n');
                l.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                l
            }),
            // Headers, good and bad, and junk.
            1 => proptest::sample::select(vec![
                &b"*0\r\n"[..], b"*-1\r\n", b"*1\r\n", b"$3\r\n", b"$-1\r\n",
                b"*99999999999\r\n", b"*1\r\n$70\r\n", b"\r\n",
            ])
            .prop_map(<[u8]>::to_vec),
            1 => vec(byte(), 1..8),
        ]
    }

    fn stream() -> impl Strategy<Value = Vec<u8>> {
        vec(request(), 1..12).prop_map(|rs| rs.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Any stream, split anywhere, with the buffer compacted at
        /// random moments, parses exactly as it does whole.
        #[test]
        fn random_splits_parse_as_the_whole(
            stream in stream(),
            sizes in vec((1usize..64, any::<bool>()), 0..200),
            small in any::<bool>(),
        ) {
            let limits = if small { small_limits() } else { Limits::default() };
            prop_assert_eq!(pieces(&stream, &sizes, &limits), whole(&stream, &limits));
        }
    }
}

/// Bytes examined while `f` runs, on this thread.
fn examined_by(f: impl FnOnce()) -> usize {
    let before = EXAMINED.with(|c| c.get());
    f();
    EXAMINED.with(|c| c.get()) - before
}

/// Feed `req` in `piece`-byte reads, as a connection does, parsing with
/// `parse` after each; returns the bytes examined.
fn examined_in_pieces(
    req: &[u8],
    piece: usize,
    mut parse: impl FnMut(&[u8]) -> Option<usize>,
) -> usize {
    examined_by(|| {
        let mut got = None;
        for end in (piece..req.len() + piece).step_by(piece) {
            assert_eq!(got, None, "complete before its last byte");
            got = parse(&req[..end.min(req.len())]);
        }
        assert_eq!(got, Some(req.len()));
    })
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut r = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        r.extend(format!("${}\r\n", a.len()).bytes());
        r.extend_from_slice(a);
        r.extend(b"\r\n");
    }
    r
}

/// A 1 MB request fed in 4 KiB pieces is examined once, not once per
/// read: as one big bulk, as 100,000 small arguments, as an inline line.
/// Parsing from scratch on every read, the many-argument request costs
/// O(size² / 4096), which the counter shows too (so it counts what it
/// should).
#[test]
fn examined_once() {
    let limits = Limits {
        max_inline: 2 << 20,
        ..Limits::default()
    };
    let value = vec![b'v'; 1 << 20];
    let big = encode(&[b"SET", b"k", &value]);
    let small_args: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("{i:08}").into_bytes())
        .collect();
    let mut many: Vec<&[u8]> = vec![b"MSET"];
    many.extend(small_args.iter().map(|a| &a[..]));
    let many = encode(&many);
    let mut line = b"ECHO ".to_vec();
    line.extend(vec![b'i'; 1 << 20]);
    line.extend(b"\r\n");

    // Multibulk bytes are examined once (give or take a header re-read
    // at a cut); an inline line twice: found, then split.
    for (req, passes) in [(&big, 1), (&many, 1), (&line, 2)] {
        let mut parser = RequestParser::default();
        let mut args = Args::default();
        let n = examined_in_pieces(req, 4096, |b| parser.parse(b, &limits, &mut args).unwrap());
        let bound = passes * req.len() + 64 * req.len() / 4096;
        assert!(n <= bound, "{n} bytes examined for {}", req.len());
        assert!(!parser.in_request());
    }
    let mut args = Args::default();
    let from_scratch = examined_in_pieces(&many, 4096, |b| {
        parse_request(b, &limits, &mut args).unwrap()
    });
    assert!(
        from_scratch > 20 * many.len(),
        "parsing from scratch examined only {from_scratch} bytes for {}",
        many.len()
    );
}

/// The parser says which bulk it waits for, so a reader can make room
/// for all of it at once; positions count from the request's start.
#[test]
fn awaits_a_bulk_at_its_place() {
    let value = vec![b'x'; 100_000];
    let req = encode(&[b"SET", b"k", &value]);
    let body = req.len() - value.len() - 2;
    let mut parser = RequestParser::default();
    let mut args = Args::default();
    let limits = Limits::default();
    let mut parse = |b: &[u8]| parser.parse(b, &limits, &mut args).unwrap();
    assert_eq!(parse(&req[..body - 3]), None);
    assert_eq!(parse(&req[..body + 10]), None);
    assert_eq!(parser.awaited_bulk(), Some(body..body + value.len()));
    assert!(parser.in_request());
    assert_eq!(parser.parse(&req, &limits, &mut args), Ok(Some(req.len())));
    assert_eq!(parser.awaited_bulk(), None);
    assert!(!parser.in_request());
    let got: Vec<&[u8]> = args.iter(&req).collect();
    assert_eq!(got, vec![&b"SET"[..], b"k", &value]);
}
