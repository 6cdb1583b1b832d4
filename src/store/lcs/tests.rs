//! Unit tests of LCS: Redis's documented example, cases recorded from a
//! real redis-server 7.0.15 (string, length and IDX matches, ties
//! included), and the memory guard at its exact boundary.

use super::*;

const MAX_BULK: usize = 512 * 1024 * 1024;

#[test]
fn documented_example() {
    let t = lcs(b"ohmytext", b"mynewtext", MAX_BULK).unwrap();
    assert_eq!(t.string(), b"mytext");
    assert_eq!(t.len(), 6);
    assert!(!t.is_empty());
    let m = |a, b, len| LcsMatch { a, b, len };
    assert_eq!(t.matches(0), [m((4, 7), (5, 8), 4), m((2, 3), (0, 1), 2)]);
    assert_eq!(t.matches(4), [m((4, 7), (5, 8), 4)]);
    assert_eq!(t.matches(5), []);
}

#[test]
fn empty_and_disjoint_strings() {
    for (a, b) in [
        (&b""[..], &b""[..]),
        (b"abc", b""),
        (b"", b"abc"),
        (b"abc", b"xyz"),
    ] {
        let t = lcs(a, b, MAX_BULK).unwrap();
        assert_eq!(t.len(), 0);
        assert!(t.is_empty());
        assert_eq!(t.string(), b"");
        assert_eq!(t.matches(0), []);
    }
}

#[test]
fn ties_drop_a_byte_of_the_second_string() {
    // "ab" vs "ba": both "a" and "b" are longest. From the corner the walk
    // drops the second string's "a", then matches "b" (recorded from Redis).
    let t = lcs(b"ab", b"ba", MAX_BULK).unwrap();
    assert_eq!(t.string(), b"b");
    assert_eq!(
        t.matches(0),
        [LcsMatch {
            a: (1, 1),
            b: (0, 0),
            len: 1
        }]
    );
}

#[test]
fn memory_guard_at_the_exact_boundary() {
    // Recorded with proto-max-bulk-len 1 MiB: 512 * 512 cells of 4 bytes
    // fit exactly, one more column does not.
    let a = vec![b'x'; 511];
    let t = lcs(&a, &a, 1 << 20).unwrap();
    assert_eq!(t.len(), 511);
    let b = vec![b'x'; 512];
    assert_eq!(lcs(&a, &b, 1 << 20).unwrap_err(), LcsError::TooBig);
    assert_eq!(
        LcsError::TooBig.to_string(),
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    );
    // Recorded at the default limit: 8193 * 16385 * 4 bytes is too many.
    let a = vec![b'x'; 8192];
    let b = vec![b'y'; 16384];
    assert_eq!(lcs(&a, &b, MAX_BULK).unwrap_err(), LcsError::TooBig);
}

/// LCS cases recorded from redis-server 7.0.15: a, b, the LCS,
/// MINMATCHLEN, and IDX's matches ((a start, a end), (b start, b end), length).
type LcsCase = (
    &'static [u8],
    &'static [u8],
    &'static [u8],
    i64,
    &'static [((u32, u32), (u32, u32), u32)],
);
#[rustfmt::skip]
const LCS_CASES: &[LcsCase] = &[
    (b"u", b"\xa3\xad", b"", -1, &[]),
    (b"d\x1e\x09\xe6\x0b", b"\x0c\xb3\x17\xe8\xf3S\xab\xc2\xb3", b"", -1, &[]),
    (b"bccb", b"ddada", b"", -1, &[]),
    (b"", b"`", b"", -1, &[]),
    (b"\x88W\xf96\xb5\x01\xc4\xb4nEu\x81", b"", b"", -1, &[]),
    (b"", b"\x7f$o", b"", -1, &[]),
    (b"aabb", b"bbaabb", b"aabb", -1, &[((0, 3), (2, 5), 4)]),
    (b"a", b"abbabbbab", b"a", -1, &[((0, 0), (7, 7), 1)]),
    (b"a", b"ab", b"a", -1, &[((0, 0), (0, 0), 1)]),
    (b"babb", b"baabbaaaa", b"babb", -1, &[((1, 3), (2, 4), 3), ((0, 0), (0, 0), 1)]),
    (b"cca", b"acbbbc", b"cc", -1, &[((1, 1), (5, 5), 1), ((0, 0), (1, 1), 1)]),
    (b"dcaccdb", b"cbb", b"cb", -1, &[((6, 6), (2, 2), 1), ((4, 4), (0, 0), 1)]),
    (b"bccbcccacbabcbbb", b"aaabcacbabaa", b"bcacbab", -1, &[((15, 15), (9, 9), 1), ((6, 10), (4, 8), 5), ((3, 3), (3, 3), 1)]),
    (b"bbaabbbb", b"bababbbab", b"baabbbb", -1, &[((7, 7), (8, 8), 1), ((3, 6), (3, 6), 4), ((1, 2), (0, 1), 2)]),
    (b"babbbbbbaba", b"bababababbb", b"babbbbbb", -1, &[((9, 9), (10, 10), 1), ((6, 7), (8, 9), 2), ((5, 5), (6, 6), 1), ((4, 4), (4, 4), 1), ((3, 3), (2, 2), 1), ((0, 1), (0, 1), 2)]),
    (b"\xc7\xb2\xd3Y\xfeI\x1e{L\xa5", b"j\x02\xd8\xce\xae\xb0\x0c8", b"", 0, &[]),
    (b"O\x89\x10r\xb1", b"Y\xb4", b"", 0, &[]),
    (b"\xeb\x1d\xe7&\xe6U\xf1", b"X\x9c\xbb$", b"", 0, &[]),
    (b"", b"", b"", 0, &[]),
    (b"da", b"", b"", 0, &[]),
    (b"", b"", b"", 0, &[]),
    (b"abbaabbbabb", b"bba", b"bba", 0, &[((6, 8), (0, 2), 3)]),
    (b"ab", b"a", b"a", 0, &[((0, 0), (0, 0), 1)]),
    (b"d", b"acda", b"d", 0, &[((0, 0), (2, 2), 1)]),
    (b"da", b"dbdbdbdaa", b"da", 0, &[((1, 1), (8, 8), 1), ((0, 0), (6, 6), 1)]),
    (b"bacbbbabccab", b"ccba", b"ccb", 0, &[((11, 11), (2, 2), 1), ((8, 9), (0, 1), 2)]),
    (b"bcababb", b"adbadd", b"aba", 0, &[((3, 4), (2, 3), 2), ((2, 2), (0, 0), 1)]),
    (b"badcac", b"cbdc", b"bdc", 0, &[((5, 5), (3, 3), 1), ((2, 2), (2, 2), 1), ((0, 0), (1, 1), 1)]),
    (b"aacacdddbabbbbab", b"dabdcdaaacda", b"acacda", 0, &[((14, 14), (11, 11), 1), ((7, 7), (10, 10), 1), ((3, 4), (8, 9), 2), ((2, 2), (4, 4), 1), ((1, 1), (1, 1), 1)]),
    (b"baaabac", b"ccaccacacb", b"aaac", 0, &[((5, 6), (7, 8), 2), ((3, 3), (5, 5), 1), ((2, 2), (2, 2), 1)]),
    (b"\x1a\xdc?R\xc6\xb2\x03\xfd", b"\x8a\x9b\x9f\xc7<{4\xeck\x81\x00r", b"", 1, &[]),
    (b"\xc0\xaf[=\x879\x809\x82\xf5", b"#`\xc7\x1b\x1b\xe0\xb7\x8f'\x9a", b"", 1, &[]),
    (b"\xc1\xb0", b"\xd7", b"", 1, &[]),
    (b"", b"b", b"", 1, &[]),
    (b".\xc7Q\xacn\xbb-\xac\x5c\xcb\xe8", b"", b"", 1, &[]),
    (b"cccac", b"", b"", 1, &[]),
    (b"ca", b"cccca", b"ca", 1, &[((0, 1), (3, 4), 2)]),
    (b"abb", b"a", b"a", 1, &[((0, 0), (0, 0), 1)]),
    (b"bc", b"bcab", b"bc", 1, &[((0, 1), (0, 1), 2)]),
    (b"bbbccbcca", b"ccbcacb", b"ccbca", 1, &[((7, 8), (3, 4), 2), ((3, 5), (0, 2), 3)]),
    (b"bbbdbbaccba", b"cbaadb", b"cba", 1, &[((10, 10), (3, 3), 1), ((8, 9), (0, 1), 2)]),
    (b"acc", b"bac", b"ac", 1, &[((2, 2), (2, 2), 1), ((0, 0), (1, 1), 1)]),
    (b"bbaab", b"bbbbaaaaababababb", b"bbaab", 1, &[((4, 4), (16, 16), 1), ((3, 3), (14, 14), 1), ((1, 2), (11, 12), 2), ((0, 0), (9, 9), 1)]),
    (b"baabccaaa", b"baccabbc", b"bacca", 1, &[((8, 8), (4, 4), 1), ((4, 5), (2, 3), 2), ((2, 2), (1, 1), 1), ((0, 0), (0, 0), 1)]),
    (b"cbbcbbbca", b"cacc", b"ccc", 1, &[((7, 7), (3, 3), 1), ((3, 3), (2, 2), 1), ((0, 0), (0, 0), 1)]),
    (b"]\x82\x17\x865", b"\x8d\xae\xc7\xb3\xc3", b"", 2, &[]),
    (b"a", b"a", b"a", 2, &[]),
    (b"[", b"\xcd%\xfc\xa7\xb6\x19\xda\xed\xc5\xb4", b"", 2, &[]),
    (b"accbc", b"", b"", 2, &[]),
    (b"", b"abc", b"", 2, &[]),
    (b"", b"\xaa4", b"", 2, &[]),
    (b"abababbbabbb", b"abbbaa", b"abbba", 2, &[((4, 8), (0, 4), 5)]),
    (b"bbaaa", b"aaaba", b"aaa", 2, &[((2, 3), (1, 2), 2)]),
    (b"abdbcbdbaad", b"bdddcabcc", b"bddd", 2, &[((1, 2), (0, 1), 2)]),
    (b"abaaaa", b"aabbaab", b"aaaa", 2, &[((4, 5), (4, 5), 2), ((2, 3), (0, 1), 2)]),
    (b"baababcbc", b"cabacacbbcc", b"baabbcc", 2, &[((5, 6), (8, 9), 2), ((0, 1), (2, 3), 2)]),
    (b"aacaccacabad", b"bbcaac", b"caac", 2, &[((6, 7), (4, 5), 2), ((2, 3), (2, 3), 2)]),
    (b"cacccbacccac", b"cacbaacbcac", b"cacbaccac", 2, &[((9, 11), (8, 10), 3), ((4, 6), (2, 4), 3), ((0, 1), (0, 1), 2)]),
    (b"babaabaaba", b"aaabbabbabaaaa", b"aaabaaba", 2, &[((7, 8), (8, 9), 2), ((5, 6), (4, 5), 2), ((3, 4), (1, 2), 2)]),
    (b"baab", b"abba", b"ab", 3, &[]),
    (b"v\x93\xcd", b"D\xa4\x96\xaeS\x8d\x94\xdc^#/", b"", 3, &[]),
    (b"dac", b"babaaca", b"ac", 3, &[]),
    (b"", b"abacabcb", b"", 3, &[]),
    (b"", b"bbc", b"", 3, &[]),
    (b"", b"aabbaabbaab", b"", 3, &[]),
    (b"bdacdcacbdac", b"adbcddac", b"adbdac", 3, &[((9, 11), (5, 7), 3)]),
    (b"cbbab", b"bba", b"bba", 3, &[((1, 3), (0, 2), 3)]),
    (b"babcacdcdcdc", b"cdabbcaca", b"abcac", 3, &[((2, 4), (4, 6), 3)]),
    (b"abaababbbabb", b"aabbaaabbab", b"abaaabbab", 3, &[((7, 9), (7, 9), 3), ((1, 3), (3, 5), 3)]),
];

#[test]
fn recorded_cases() {
    for &(a, b, want, min_len, matches) in LCS_CASES {
        let t = lcs(a, b, MAX_BULK).unwrap();
        assert_eq!(t.string(), want, "{a:?} {b:?}");
        assert_eq!(t.len() as usize, want.len());
        let got: Vec<_> = t
            .matches(min_len)
            .iter()
            .map(|m| (m.a, m.b, m.len))
            .collect();
        assert_eq!(got, matches, "{a:?} {b:?} {min_len}");
        // Redis also swaps nothing: the same pair in the other order is a
        // different walk, so check only that the length is symmetric.
        assert_eq!(lcs(b, a, MAX_BULK).unwrap().len(), t.len());
    }
}
