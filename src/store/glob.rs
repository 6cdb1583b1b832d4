//! Redis's glob matcher (`stringmatchlen` in Redis 7.0's `util.c`), the one
//! behind KEYS, SCAN MATCH and PSUBSCRIBE, reproduced quirk for quirk:
//!
//! - `*` matches any run of bytes, none included, with one quirk: Redis's
//!   loop runs only while both pattern and string are left, so the empty
//!   string matches only the empty pattern (`*` does not match `""`; `a*`
//!   does match `a`, because stars left when the string runs out are
//!   skipped). KEYS and SCAN special-case the pattern `*` before calling
//!   the matcher, so an empty key is still listed; so do [`Shard::keys`]
//!   and [`Shard::scan`].
//! - `?` is one byte; `\x` is `x` literally; a trailing `\` is a literal `\`.
//! - `[abc]`, `[^abc]`, `[a-z]` (a reversed range `[z-a]` is the same set),
//!   `\]` inside a class. `[]` matches nothing and `[^]` any byte. An
//!   unterminated class is a class up to the end of the pattern, and if its
//!   last member is a lone byte the matcher steps back onto it so it is not
//!   consumed twice: `[a` matches `a`, `[^` matches any byte, `[` matches
//!   nothing.
//! - Range bounds compare as C `char`, which is signed on the platforms
//!   Redis ships for: bytes from 0x80 up sort below 0x00, so `[a-\xff]`
//!   means bytes -1..=97, i.e. 0x00..=0x61 and 0xff.
//! - `nocase` folds ASCII only (Redis never sets `LC_CTYPE`), and does not
//!   apply to a `\`-escaped byte inside a class. In a `nocase` range the
//!   bounds are ordered as signed `char`s first, then they and the byte go
//!   through glibc's `tolower`, which turns a negative `char` other than -1
//!   (EOF) back into its unsigned value; so `[\x80-]` holds `[`, but under
//!   `nocase` its bounds become 128..=93 and it holds nothing.
//!
//! # Why it is iterative
//! Redis recurses once per `*`, and since 7.0 passes a `skipLongerMatches`
//! flag down: when the rest of the pattern after some `*` fails at every
//! remaining position, the whole match fails, because any outer `*` that
//! tried a longer match would only start that rest later still (the bytes
//! between two stars always match a fixed number of string bytes). With
//! that rule an outer `*` never advances again once an inner `*` has been
//! reached, so only the innermost `*` seen so far can backtrack. Keeping just
//! that one restart point gives the same answers as the recursion (a test
//! checks it against a recursive model), in `O(pattern × string)` time and
//! constant stack, where the recursion could overflow the stack on a pattern
//! of many stars.
//!
//! [`Shard::keys`]: super::Shard::keys
//! [`Shard::scan`]: super::Shard::scan

/// True if `s` matches the glob `pattern` exactly as Redis 7.0's
/// `stringmatchlen(pattern, s, nocase)` decides (see the module docs).
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let p = pattern;
    // Redis reads one byte past the pattern in a few places; its strings
    // are NUL-terminated, so past the end reads as 0.
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let (mut pi, mut si) = (0usize, 0usize);
    // Where the innermost `*` resumes: pattern index after it, and the
    // string index its current attempt started at.
    let mut restart: Option<(usize, usize)> = None;
    loop {
        let matched = 'attempt: loop {
            if pi >= p.len() || si >= s.len() {
                break 'attempt pi >= p.len() && si >= s.len();
            }
            match p[pi] {
                b'*' => {
                    while at(pi + 1) == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    pi += 1;
                    restart = Some((pi, si));
                    continue 'attempt;
                }
                b'?' => {}
                b'[' => match class(p, pi, s[si], nocase) {
                    Some(last) => pi = last,
                    None => break 'attempt false,
                },
                b => {
                    let b = if b == b'\\' && pi + 1 < p.len() {
                        pi += 1;
                        p[pi]
                    } else {
                        b
                    };
                    if !same(b, s[si], nocase) {
                        break 'attempt false;
                    }
                }
            }
            pi += 1;
            si += 1;
            if si == s.len() {
                while at(pi) == b'*' {
                    pi += 1;
                }
                break 'attempt pi >= p.len();
            }
        };
        if matched {
            return true;
        }
        // The innermost `*` takes one more byte; it only ever tries
        // positions with at least one byte left, and once it runs out the
        // whole match has failed (`skipLongerMatches`).
        match restart {
            Some((rp, rs)) if rs + 1 < s.len() => {
                restart = Some((rp, rs + 1));
                pi = rp;
                si = rs + 1;
            }
            _ => return false,
        }
    }
}

/// Matches the class starting at `p[open] == b'['` against byte `c`.
/// Returns the index of the class's last pattern byte (its `]`, or the byte
/// Redis steps back onto when the class is unterminated), or `None` if `c`
/// is not in it.
fn class(p: &[u8], open: usize, c: u8, nocase: bool) -> Option<usize> {
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let mut i = open + 1;
    let negate = at(i) == b'^';
    if negate {
        i += 1;
    }
    let mut hit = false;
    loop {
        let left = p.len() - i;
        if at(i) == b'\\' && left >= 2 {
            i += 1;
            // Escaped members compare exactly, even under `nocase`.
            hit |= p[i] == c;
        } else if at(i) == b']' {
            break;
        } else if left == 0 {
            // Unterminated: step back so the caller's advance lands on
            // the end of the pattern.
            i -= 1;
            break;
        } else if left >= 3 && p[i + 1] == b'-' {
            let (mut lo, mut hi) = (signed(p[i]), signed(p[i + 2]));
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let mut v = signed(c);
            if nocase {
                (lo, hi, v) = (lower(lo), lower(hi), lower(v));
            }
            hit |= lo <= v && v <= hi;
            i += 2;
        } else {
            hit |= same(p[i], c, nocase);
        }
        i += 1;
    }
    (hit != negate).then_some(i)
}

/// A byte as C's signed `char`, widened to `int` as Redis's ranges see it.
fn signed(b: u8) -> i32 {
    i32::from(b as i8)
}

/// glibc's `tolower` in the "C" locale, on a value from [`signed`]: ASCII
/// letters fold, and a negative `char` other than EOF (-1) comes back as
/// its unsigned byte (glibc's table covers -128..=255 that way). This only
/// shows in `nocase` ranges (see the module docs).
fn lower(v: i32) -> i32 {
    match v {
        -128..=-2 => v + 256,
        65..=90 => v + 32,
        _ => v,
    }
}

/// Byte equality, ASCII case-folded when `nocase`.
fn same(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `(pattern, string, nocase, Redis's answer)`.
    const CASES: &[(&[u8], &[u8], bool, bool)] = &[
        // tests/unit/keyspace.tcl: KEYS with a pattern and with hash tags.
        (b"foo*", b"foo_a", false, true),
        (b"foo*", b"foo_c", false, true),
        (b"foo*", b"key_x", false, false),
        (b"{a}*", b"{a}x", false, true),
        (b"{a}*", b"{b}a", false, false),
        (b"*{b}*", b"{b}c", false, true),
        (b"*{b}*", b"{a}z", false, false),
        // tests/unit/scan.tcl: SCAN MATCH and the SSCAN/HSCAN patterns.
        (b"key:1??", b"key:100", false, true),
        (b"key:1??", b"key:199", false, true),
        (b"key:1??", b"key:10", false, false),
        (b"key:1??", b"key:1000", false, false),
        (b"key:1??", b"key:200", false, false),
        (b"*a*", b"a", false, true),
        (b"*a*", b"1", false, false),
        (b"*1*", b"1", false, true),
        (b"foo*", b"foo", false, true),
        (b"foo*", b"foobar", false, true),
        (b"foo*", b"fab", false, false),
        (b"foo*", b"fiz", false, false),
        // Stars.
        (b"", b"", false, true),
        (b"", b"a", false, false),
        (b"*", b"", false, false),
        (b"**", b"", false, false),
        (b"*", b"anything", false, true),
        (b"a*", b"a", false, true),
        (b"a**", b"a", false, true),
        (b"a*?", b"a", false, false),
        (b"a*b", b"ab", false, true),
        (b"a*b", b"axxb", false, true),
        (b"a*b", b"axxbx", false, false),
        (b"*b", b"b", false, true),
        (b"*b", b"ab", false, true),
        (b"*a*b*", b"xaxbx", false, true),
        (b"*a*b", b"xaxbxb", false, true),
        (b"h*llo", b"heeeello", false, true),
        (b"h*llo", b"hllo", false, true),
        (b"h*llo", b"hlo", false, false),
        // `?`.
        (b"?", b"", false, false),
        (b"?", b"x", false, true),
        (b"??", b"x", false, false),
        (b"h?llo", b"hallo", false, true),
        (b"h?llo", b"hllo", false, false),
        // Classes, from the KEYS documentation and the edges.
        (b"h[ae]llo", b"hello", false, true),
        (b"h[ae]llo", b"hallo", false, true),
        (b"h[ae]llo", b"hillo", false, false),
        (b"h[^e]llo", b"hallo", false, true),
        (b"h[^e]llo", b"hello", false, false),
        (b"h[a-b]llo", b"hbllo", false, true),
        (b"h[a-b]llo", b"hcllo", false, false),
        (b"[z-a]", b"m", false, true),
        (b"[z-a]", b"A", false, false),
        (b"[a-]", b"^", false, true),
        (b"[a-]", b"b", false, false),
        (b"[]", b"]", false, false),
        (b"[]a]", b"]", false, false),
        (b"[]a]", b"a", false, false),
        (b"[^]", b"x", false, true),
        (b"[\\]]", b"]", false, true),
        (b"[\\]]", b"\\", false, false),
        (b"[\\", b"\\", false, true),
        (b"[", b"[", false, false),
        (b"[", b"", false, false),
        (b"[a", b"a", false, true),
        (b"[a", b"b", false, false),
        (b"[ab", b"b", false, true),
        (b"[^", b"x", false, true),
        (b"[^a", b"a", false, false),
        (b"[^a", b"b", false, true),
        (b"[a]b", b"ab", false, true),
        (b"[a]b", b"a", false, false),
        (b"*[0-9]", b"key7", false, true),
        (b"*[0-9]", b"key", false, false),
        // Signed C chars in ranges: `[a-\xff]` is -1..=97.
        (b"[a-\xff]", b"\xff", false, true),
        (b"[a-\xff]", b"0", false, true),
        (b"[a-\xff]", b"b", false, false),
        (b"[a-\xff]", b"\x80", false, false),
        (b"[\x80-\xff]", b"\x90", false, true),
        (b"[\x80-\xff]", b"a", false, false),
        // Escapes.
        (b"\\*", b"*", false, true),
        (b"\\*", b"a", false, false),
        (b"\\?", b"?", false, true),
        (b"\\[a]", b"[a]", false, true),
        (b"\\", b"\\", false, true),
        (b"a\\", b"a\\", false, true),
        (b"a\\", b"a", false, false),
        (b"\\a", b"a", false, true),
        (b"*\\*", b"abc*", false, true),
        // nocase.
        (b"HELLO", b"hello", true, true),
        (b"HELLO", b"hello", false, false),
        (b"h[A-Z]llo", b"hello", true, true),
        (b"h[a-z]llo", b"hEllo", true, true),
        (b"h[a-z]llo", b"hEllo", false, false),
        (b"[AB]", b"b", true, true),
        (b"[\\A]", b"a", true, false),
        (b"[\\A]", b"A", true, true),
        (b"\\A", b"a", true, true),
        (b"\xc9", b"\xe9", true, false),
        // glibc's tolower un-signs bytes in nocase ranges.
        (b"[\x80-]", b"[", false, true),
        (b"[\x80-]", b"[", true, false),
        (b"[\x80-]", b"\x90", true, false),
        (b"[a-\xff]", b"\xff", true, true),
        (b"[a-\xff]", b"b", true, false),
        // Embedded NUL bytes are ordinary bytes.
        (b"a\0*", b"a\0b", false, true),
        (b"a?b", b"a\0b", false, true),
    ];

    #[test]
    fn redis_cases() {
        for &(p, s, nocase, want) in CASES {
            assert_eq!(
                glob_match(p, s, nocase),
                want,
                "pattern {:?} string {:?} nocase {nocase}",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(s),
            );
        }
    }

    #[test]
    fn nested_stars_are_not_exponential() {
        // keyspace.tcl "Regression for pattern matching long nested loops";
        // without the skipLongerMatches rule this takes ~2^20 steps, and the
        // larger case below would not finish at all.
        let key = vec![b'a'; 40];
        assert!(!glob_match(
            b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
            &key,
            false
        ));
        let key = vec![b'a'; 5000];
        let mut pattern = b"a*".repeat(200);
        pattern.push(b'b');
        assert!(!glob_match(&pattern, &key, false));
        assert!(glob_match(&pattern[..pattern.len() - 1], &key, false));
    }

    #[test]
    fn many_stars_do_not_overflow_the_stack() {
        // A recursion per `*` (Redis 7.0.15's shape) would need ~100k
        // frames here.
        let key = vec![b'a'; 100_001];
        let pattern = b"*?".repeat(100_000);
        assert!(glob_match(&pattern, &key, false));
        assert!(glob_match(&pattern, &key[..100_000], false));
        assert!(!glob_match(&pattern, &key[..99_999], false));
    }

    /// Redis's recursion, as a model: one call per `*`, with the shared
    /// `skipLongerMatches` flag, or without it when `skip` is false (the
    /// plain backtracking the flag must not change the answers of).
    fn model(p: &[u8], s: &[u8], nocase: bool, skip: bool, flag: &mut bool) -> bool {
        let at = |i: usize| p.get(i).copied().unwrap_or(0);
        let (mut pi, mut si) = (0, 0);
        while pi < p.len() && si < s.len() {
            match p[pi] {
                b'*' => {
                    while at(pi + 1) == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    while si < s.len() {
                        if model(&p[pi + 1..], &s[si..], nocase, skip, flag) {
                            return true;
                        }
                        if skip && *flag {
                            return false;
                        }
                        si += 1;
                    }
                    *flag = true;
                    return false;
                }
                b'?' => {}
                b'[' => match class(p, pi, s[si], nocase) {
                    Some(last) => pi = last,
                    None => return false,
                },
                b => {
                    let b = if b == b'\\' && pi + 1 < p.len() {
                        pi += 1;
                        p[pi]
                    } else {
                        b
                    };
                    if !same(b, s[si], nocase) {
                        return false;
                    }
                }
            }
            pi += 1;
            si += 1;
            if si == s.len() {
                while at(pi) == b'*' {
                    pi += 1;
                }
                break;
            }
        }
        pi >= p.len() && si >= s.len()
    }

    fn bytes(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(alphabet), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn iterative_matches_the_recursive_model(
            p in bytes(b"ab**?[]^-\\A", 12),
            s in bytes(b"ab-]^\\A", 10),
            nocase in any::<bool>(),
        ) {
            let got = glob_match(&p, &s, nocase);
            prop_assert_eq!(got, model(&p, &s, nocase, true, &mut false));
            prop_assert_eq!(got, model(&p, &s, nocase, false, &mut false));
        }
    }
}
