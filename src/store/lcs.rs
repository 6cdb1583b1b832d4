//! LCS: the longest common subsequence of two strings, computed as Redis
//! 7.0's `lcsCommand` does — the full dynamic-programming table of `u32`
//! cells, then one walk back from its corner — so that the string, its
//! length and the IDX match list come out exactly as Redis's, ties included.
//!
//! The table costs `(len(a) + 1) * (len(b) + 1) * 4` bytes; like Redis we
//! refuse to build one larger than `proto-max-bulk-len`.

/// Why an LCS cannot be computed, with Redis's reply text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LcsError {
    /// A string too long for `u32` table cells.
    #[error("ERR String too long for LCS")]
    TooLong,
    /// The table would be larger than `proto-max-bulk-len`.
    #[error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")]
    TooBig,
    /// The table's size overflows, or allocating it failed.
    #[error("ERR Insufficient memory, failed allocating transient memory for LCS")]
    AllocFailed,
}

/// One IDX match: a run of consecutive bytes common to both strings, as
/// inclusive byte ranges in each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LcsMatch {
    /// `(start, end)` in the first string.
    pub a: (u32, u32),
    /// `(start, end)` in the second string.
    pub b: (u32, u32),
    /// The run's length (what WITHMATCHLEN adds to each match).
    pub len: u32,
}

/// The filled table for two strings; ask it for the LCS, its length or the
/// IDX matches.
#[derive(Clone, Debug)]
pub struct LcsTable<'s> {
    a: &'s [u8],
    b: &'s [u8],
    /// `cells[i * (b.len() + 1) + j]` is the LCS length of `a[..i]` and `b[..j]`.
    cells: Vec<u32>,
}

/// Build the LCS table of `a` and `b` (a missing key is the empty string).
/// `max_bulk` is the node's `proto-max-bulk-len` (512 MiB by default).
///
/// # Errors
/// [`LcsError::TooLong`] when a string has `u32::MAX - 1` bytes or more,
/// [`LcsError::TooBig`] when the table would take more than `max_bulk`
/// bytes, [`LcsError::AllocFailed`] when its size overflows or the
/// allocation fails — the same checks, in the same order, as Redis.
pub fn lcs<'s>(a: &'s [u8], b: &'s [u8], max_bulk: usize) -> Result<LcsTable<'s>, LcsError> {
    let limit = (u32::MAX - 1) as usize;
    if a.len() >= limit || b.len() >= limit {
        return Err(LcsError::TooLong);
    }
    // Both factors are below 2^32, so the product fits in u64; the byte
    // count need not.
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let bytes = cells
        .checked_mul(4)
        .filter(|&n| usize::try_from(n).is_ok_and(|n| n < usize::MAX))
        .ok_or(LcsError::AllocFailed)?;
    if bytes > max_bulk as u64 {
        return Err(LcsError::TooBig);
    }
    let n = cells as usize;
    let mut table = Vec::new();
    table
        .try_reserve_exact(n)
        .map_err(|_| LcsError::AllocFailed)?;
    table.resize(n, 0u32);
    let w = b.len() + 1;
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * w + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * w + j - 1] + 1
            } else {
                table[(i - 1) * w + j].max(table[i * w + j - 1])
            };
        }
    }
    Ok(LcsTable { a, b, cells: table })
}

impl LcsTable<'_> {
    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * (self.b.len() + 1) + j]
    }

    /// The LCS's length (LCS ... LEN, and IDX's `len`).
    pub fn len(&self) -> u32 {
        self.at(self.a.len(), self.b.len())
    }

    /// Whether the strings have no byte in common.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The LCS itself (plain LCS), the one Redis's walk picks among equals.
    pub fn string(&self) -> Vec<u8> {
        let mut out = vec![0; self.len() as usize];
        let mut k = out.len();
        self.walk(|i, _| {
            k -= 1;
            out[k] = self.a[i];
        });
        out
    }

    /// IDX's match list, in Redis's order (from the ends of the strings
    /// backwards), keeping the runs of at least `min_len` bytes
    /// (MINMATCHLEN; 0 or a negative number keeps them all).
    pub fn matches(&self, min_len: i64) -> Vec<LcsMatch> {
        let mut out = Vec::new();
        // The run being grown backwards: (a start, a end, b start, b end).
        let mut run: Option<(usize, usize, usize, usize)> = None;
        let mut emit = |r: (usize, usize, usize, usize)| {
            let len = (r.1 - r.0 + 1) as u32;
            if i64::from(len) >= min_len {
                out.push(LcsMatch {
                    a: (r.0 as u32, r.1 as u32),
                    b: (r.2 as u32, r.3 as u32),
                    len,
                });
            }
        };
        self.walk_steps(|step| match step {
            Step::Match(i, j) => {
                // A step off the diagonal always closes the run, so a match
                // right after a match always extends it.
                let r = match run {
                    Some((_, ae, _, be)) => (i, ae, j, be),
                    None => (i, i, j, j),
                };
                if i == 0 || j == 0 {
                    emit(r);
                    run = None;
                } else {
                    run = Some(r);
                }
            }
            Step::Skip => {
                if let Some(r) = run.take() {
                    emit(r);
                }
            }
        });
        out
    }

    /// Call `f(i, j)` for each matched pair `a[i] == b[j]` of the LCS, from
    /// the end backwards.
    fn walk(&self, mut f: impl FnMut(usize, usize)) {
        self.walk_steps(|s| {
            if let Step::Match(i, j) = s {
                f(i, j);
            }
        });
    }

    /// Redis's walk from the table's corner: on equal bytes take the
    /// diagonal; otherwise go up (drop a byte of `a`) only when that keeps a
    /// strictly longer LCS than going left, so ties drop a byte of `b`.
    fn walk_steps(&self, mut f: impl FnMut(Step)) {
        let (mut i, mut j) = (self.a.len(), self.b.len());
        while i > 0 && j > 0 {
            if self.a[i - 1] == self.b[j - 1] {
                f(Step::Match(i - 1, j - 1));
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                f(Step::Skip);
            }
        }
    }
}

/// One step of the walk back.
enum Step {
    /// `a[i] == b[j]` is part of the LCS.
    Match(usize, usize),
    /// A byte of one string was dropped.
    Skip,
}

#[cfg(test)]
mod tests;
