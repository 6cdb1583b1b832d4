//! Error replies counted where they are written: Redis's
//! `total_error_replies` and `errorstat_<CODE>`.
//!
//! [`Reply::error`](super::Reply::error) counts every error it writes in
//! this thread's tally. A node runs one core per thread, and a core writes
//! every error its commands reply, so each tally is one core's and INFO
//! sums them. Counting is a plain thread-local add: no lock, nothing
//! another thread writes.

use std::cell::{Cell, RefCell};

/// Distinct codes a tally keeps; past it, new codes count only in the
/// total. Redis stops tracking at 128 distinct codes too; this node's
/// error texts have a dozen.
const MAX_CODES: usize = 128;
/// Redis looks for the code's end (a space) in the first 32 bytes of
/// `-CODE …`, so a code has at most 30 characters.
const CODE_WINDOW: usize = 31;

thread_local! {
    static TOTAL: Cell<u64> = const { Cell::new(0) };
    static BY_CODE: RefCell<Vec<(Box<str>, u64)>> = const { RefCell::new(Vec::new()) };
}

/// The code Redis files error `text` under: its first word, or `ERR` when
/// the text has no space early enough to end one.
pub fn code(text: &[u8]) -> &[u8] {
    let window = &text[..text.len().min(CODE_WINDOW)];
    match window.iter().position(|&b| b == b' ') {
        Some(end) => &text[..end],
        None => b"ERR",
    }
}

/// Count one error reply with `text`.
pub fn count(text: &[u8]) {
    TOTAL.with(|t| t.set(t.get() + 1));
    let code = code(text);
    BY_CODE.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(e) = m.iter_mut().find(|(c, _)| c.as_bytes() == code) {
            e.1 += 1;
        } else if m.len() < MAX_CODES {
            m.push((String::from_utf8_lossy(code).into(), 1));
        }
    });
}

/// Error replies this thread has written since its last [`reset`].
#[inline]
pub fn total() -> u64 {
    TOTAL.with(Cell::get)
}

/// This thread's count per code, in the order first seen.
pub fn by_code() -> Vec<(String, u64)> {
    BY_CODE.with(|m| {
        m.borrow()
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect()
    })
}

/// Zero this thread's tally (CONFIG RESETSTAT).
pub fn reset() {
    TOTAL.with(|t| t.set(0));
    BY_CODE.with(|m| m.borrow_mut().clear());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_first_words() {
        assert_eq!(code(b"ERR syntax error"), b"ERR");
        assert_eq!(code(b"WRONGTYPE Operation against"), b"WRONGTYPE");
        assert_eq!(code(b"NOAUTH Authentication required."), b"NOAUTH");
        assert_eq!(code(b"nospace"), b"ERR");
        let long = format!("{} x", "A".repeat(31));
        assert_eq!(code(long.as_bytes()), b"ERR");
        let just = format!("{} x", "B".repeat(30));
        assert_eq!(code(just.as_bytes()), "B".repeat(30).as_bytes());
    }

    #[test]
    fn tally_counts_and_resets() {
        // Each test runs on its own thread: this tally starts empty.
        reset();
        count(b"ERR a");
        count(b"ERR b");
        count(b"WRONGTYPE c");
        assert_eq!(total(), 3);
        assert_eq!(
            by_code(),
            vec![("ERR".to_string(), 2), ("WRONGTYPE".to_string(), 1)]
        );
        reset();
        assert_eq!((total(), by_code().len()), (0, 0));
    }
}
