//! Ops bound for another core, with all their bytes in one buffer.

use super::Op;
use std::ops::Range;

/// The ops one read sends to one owner core.
///
/// Why one buffer: boxing each key and value would cost one or two
/// allocations per op on the sending core, and as many frees of memory
/// allocated by another thread on the receiving one. A batch costs two
/// allocations, however many ops it carries.
#[derive(Default, Debug)]
pub struct OpBatch {
    bytes: Vec<u8>,
    ops: Vec<Op<Range<usize>>>,
}

impl OpBatch {
    /// Append `op`, copying its key and value.
    pub fn push(&mut self, op: &Op<&[u8]>) {
        let bytes = &mut self.bytes;
        let op = op.map(|b| {
            let start = bytes.len();
            bytes.extend_from_slice(b);
            start..bytes.len()
        });
        self.ops.push(op);
    }

    /// Make room for `ops` more ops carrying `bytes` more key and value bytes.
    pub fn reserve(&mut self, ops: usize, bytes: usize) {
        self.ops.reserve(ops);
        self.bytes.reserve(bytes);
    }

    /// Bytes of heap this batch holds.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ops.capacity() * std::mem::size_of::<Op<Range<usize>>>()
    }

    /// Ops this batch can hold before it must grow.
    pub fn capacity(&self) -> usize {
        self.ops.capacity()
    }

    /// Forget the ops, keeping both buffers' allocations.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.bytes.clear();
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// No ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The ops, in the order they were pushed, borrowing this batch's bytes.
    pub fn iter(&self) -> impl Iterator<Item = Op<&[u8]>> + '_ {
        self.ops.iter().map(|op| op.map(|r| &self.bytes[r.clone()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::SetTtl;
    use crate::store::SetCond;

    #[test]
    fn ops_come_back_in_order_with_their_bytes() {
        let ops = [
            Op::Set {
                key: &b"k1"[..],
                value: &b"v\x00\xff"[..],
                ttl: SetTtl::In(5),
                cond: SetCond::IfAbsent,
                get: true,
            },
            Op::Get(&b""[..]),
            Op::IncrBy(&b"counter"[..], -3),
        ];
        let mut batch = OpBatch::default();
        assert!(batch.is_empty());
        for op in &ops {
            batch.push(op);
        }
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.iter().collect::<Vec<_>>(), ops.to_vec());
    }
}
