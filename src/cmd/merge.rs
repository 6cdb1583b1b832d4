//! Merging the parts of a split multi-key command into its one reply, from
//! what each part reported ([`Part`]): counts are summed as numbers and
//! replies are spliced as bytes, never read back.

use super::spec::{Merge, Part};
use crate::proto::Reply;

/// Write the reply of a command split into `n` parts.
pub fn merge<'a>(
    how: Merge,
    parts: impl Iterator<Item = (Part, &'a [u8])>,
    n: usize,
    w: &mut Reply<'_>,
) {
    match how {
        Merge::Array => {
            w.array(n);
            for (_, bytes) in parts {
                w.raw().extend_from_slice(bytes);
            }
        }
        Merge::Sum => {
            let mut sum = 0i64;
            for (part, bytes) in parts {
                match part {
                    Part::Count(c) => sum += c,
                    // A part that failed (its core went away) is the reply.
                    _ => {
                        w.raw().extend_from_slice(bytes);
                        return;
                    }
                }
            }
            w.int(sum);
        }
        Merge::AllOk => {
            for (part, bytes) in parts {
                if part != Part::Done {
                    w.raw().extend_from_slice(bytes);
                    return;
                }
            }
            w.ok();
        }
    }
}

/// The argument positions of each key group of a split command: `step`
/// arguments from each key position.
pub fn groups(
    positions: impl Iterator<Item = usize>,
    step: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    positions.map(move |p| p..p + step)
}

/// Run every key group of a split command here, with `run`, and merge:
/// what the node does when all the command's keys are this core's.
/// `run` gets each group's arguments (the name, then the group) and the
/// buffer for its reply, and says what the group reported.
pub fn run_all(
    args: &[&[u8]],
    positions: impl Iterator<Item = usize>,
    step: usize,
    how: Merge,
    mut run: impl FnMut(&[&[u8]], &mut Vec<u8>) -> Part,
    w: &mut Reply<'_>,
) {
    let mut buf = Vec::new();
    let mut ends: smallvec::SmallVec<[(Part, usize); 16]> = smallvec::SmallVec::new();
    let mut group: smallvec::SmallVec<[&[u8]; 3]> = smallvec::SmallVec::new();
    for r in groups(positions, step) {
        group.clear();
        group.push(args[0]);
        group.extend_from_slice(&args[r]);
        let p = run(&group, &mut buf);
        ends.push((p, buf.len()));
    }
    let n = ends.len();
    let mut start = 0;
    let parts = ends.iter().map(|&(p, end)| {
        let bytes = &buf[start..end];
        start = end;
        (p, bytes)
    });
    merge(how, parts, n, w);
}
