//! Commands bound for another core, with all their bytes in one buffer.

use super::spec::Spec;
use super::table::{self, Id};
use smallvec::SmallVec;
use std::ops::Range;

/// Arguments of one queued command, borrowed from its batch; argument 0
/// is the command's name.
pub type Args<'a> = SmallVec<[&'a [u8]; 8]>;

/// The commands one read sends to one owner core: whole commands, or the
/// key groups of split ones (see [`super::Run::Split`]).
///
/// Why one buffer: boxing each argument would cost an allocation per
/// argument on the sending core, and as many frees of memory allocated by
/// another thread on the receiving one. A batch costs three allocations,
/// however many commands it carries. The name travels as the command's
/// table index, not as bytes.
#[derive(Default, Debug)]
pub struct OpBatch {
    bytes: Vec<u8>,
    args: Vec<Range<u32>>,
    ops: Vec<(Id, Range<u32>)>,
    /// Some command may fetch from a read-through origin (GET, MGET's parts).
    fetches: bool,
}

/// One command of a batch.
pub struct BatchOp<'a> {
    /// Its table row.
    pub spec: &'static Spec,
    /// Its table index.
    pub id: Id,
    /// Its arguments, the name first.
    pub args: Args<'a>,
}

impl<'a> BatchOp<'a> {
    /// The first key (every command in a batch has one).
    pub fn key(&self) -> &'a [u8] {
        self.args.get(1).copied().unwrap_or_default()
    }
}

impl OpBatch {
    /// Append command `id` with `args` (argument 0, the name, is not copied).
    pub fn push(&mut self, id: Id, args: &[&[u8]]) {
        self.fetches |= table::spec(id).flags.has(super::Flags::FETCH);
        let first = self.args.len() as u32;
        for a in args.iter().skip(1) {
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(a);
            self.args.push(start..self.bytes.len() as u32);
        }
        self.ops.push((id, first..self.args.len() as u32));
    }

    /// Make room for `ops` more commands carrying `bytes` more bytes.
    pub fn reserve(&mut self, ops: usize, bytes: usize) {
        self.ops.reserve(ops);
        self.args.reserve(ops * 2);
        self.bytes.reserve(bytes);
    }

    /// Bytes of heap this batch holds.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.args.capacity() * std::mem::size_of::<Range<u32>>()
            + self.ops.capacity() * std::mem::size_of::<(Id, Range<u32>)>()
    }

    /// Commands this batch can hold before it must grow.
    pub fn capacity(&self) -> usize {
        self.ops.capacity()
    }

    /// Forget the commands, keeping the allocations.
    pub fn clear(&mut self) {
        self.fetches = false;
        self.ops.clear();
        self.args.clear();
        self.bytes.clear();
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// No commands.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether some command is one a read-through node may fetch for.
    pub fn fetches(&self) -> bool {
        self.fetches
    }

    /// Each command's first key, in order (for prefetching), without
    /// building its arguments.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ops
            .iter()
            .map(|(_, r)| match self.args.get(r.start as usize) {
                Some(a) if r.start < r.end => &self.bytes[a.start as usize..a.end as usize],
                _ => &[],
            })
    }

    /// The commands, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = BatchOp<'_>> + '_ {
        self.ops.iter().map(|(id, r)| {
            let spec = table::spec(*id);
            let mut args = Args::new();
            args.push(spec.name.as_bytes());
            for a in &self.args[r.start as usize..r.end as usize] {
                args.push(&self.bytes[a.start as usize..a.end as usize]);
            }
            BatchOp {
                spec,
                id: *id,
                args,
            }
        })
    }

    /// Call `f` with each command's row and arguments, in order, building
    /// the arguments in one reused list (the hop server's hot loop).
    pub fn for_each(&self, mut f: impl FnMut(&'static Spec, &[&[u8]])) {
        let mut args = Args::new();
        for (id, r) in &self.ops {
            let spec = table::spec(*id);
            args.clear();
            args.push(spec.name.as_bytes());
            for a in &self.args[r.start as usize..r.end as usize] {
                args.push(&self.bytes[a.start as usize..a.end as usize]);
            }
            f(spec, &args);
        }
    }

    /// Append every command of `other`.
    pub fn extend(&mut self, other: &OpBatch) {
        for op in other.iter() {
            self.push(op.id, &op.args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_come_back_in_order_with_their_bytes() {
        let (set, _) = table::lookup(b"set").unwrap();
        let (get, _) = table::lookup(b"GET").unwrap();
        let mut batch = OpBatch::default();
        assert!(batch.is_empty());
        batch.push(set, &[b"SET", b"k1", b"v\x00\xff", b"NX"]);
        batch.push(get, &[b"get", b""]);
        assert_eq!(batch.len(), 2);
        let ops: Vec<_> = batch.iter().map(|o| (o.id, o.args.to_vec())).collect();
        assert_eq!(
            ops,
            vec![
                (set, vec![&b"set"[..], b"k1", b"v\x00\xff", b"NX"]),
                (get, vec![&b"get"[..], b""]),
            ]
        );
        assert_eq!(batch.iter().next().unwrap().key(), b"k1");
    }
}
