//! `Slab`: byte records in size classes, named by `u32` handles, with no
//! allocator header per record.
//!
//! Why our own: a `Box` per entry costs glibc's 8-byte chunk header plus
//! rounding to 16, and a pointer to reach it; at a cache's typical 50-byte
//! entry that is a third again. Here a record is a slice of a class page:
//! classes step by 8 bytes up to 256 and by 32 up to 1 KiB, so a record
//! wastes at most 7 (or 31) bytes and none on headers. A handle is 32 bits
//! (6 of class, 26 of index), half a pointer, which keeps the map's links
//! and bucket heads at 4 bytes.
//!
//! Pages are [`PAGE_BYTES`] (64 KiB) of records of one class, allocated one
//! at a time, so growth never copies records (see `pool.rs`). Why a power
//! of two in bytes, not in records: the allocator (mimalloc) serves sizes
//! in bins about 12% apart, and a page of 256 records of 136 bytes (34 KiB)
//! took a 40 KiB bin, 18% of the keyspace lost to rounding. 64 KiB is a
//! bin of its own; a class loses only the tail its record size leaves
//! (under 1.6%, 0 for the powers of two). The index then splits by a
//! division, done as a multiply by a precomputed reciprocal. A record
//! past 1 KiB is its own allocation (the `HUGE` class), where the header is
//! noise. Freed records go on their class's free list and are reused before
//! the class grows; pages are not handed back, as in memcached's slabs.

use super::pool::Pool;

/// Bytes per class page.
pub const PAGE_BYTES: usize = 64 << 10;
/// The reciprocal's fixed point: `i / n == (i * ceil(2^SHIFT / n)) >> SHIFT`
/// for every index `i < 2^26` and page length `n < 2^14` (the error,
/// below `2^26 / 2^SHIFT = 2^-14`, is less than `1 / n`).
const SHIFT: u32 = 40;
/// Bits of a handle naming the record within its class.
const INDEX_BITS: u32 = 26;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// The class of records past [`MAX_CLASS_SIZE`], each its own allocation.
const HUGE: u32 = 63;
/// The largest record kept in a class page.
pub const MAX_CLASS_SIZE: usize = 1024;
/// Classes of sizes 16, 24, …, 256, then 288, 320, …, 1024.
const CLASSES: usize = 31 + 24;
/// End of a free list.
const NIL: u32 = u32::MAX;

/// The class a record of `len` bytes goes in, or `HUGE`.
fn class_of(len: usize) -> u32 {
    if len <= 256 {
        (len.max(16).div_ceil(8) - 2) as u32
    } else if len <= MAX_CLASS_SIZE {
        (30 + (len - 256).div_ceil(32)) as u32
    } else {
        HUGE
    }
}

/// Bytes of a record of class `c` (not `HUGE`).
fn class_size(c: u32) -> usize {
    if c <= 30 {
        16 + 8 * c as usize
    } else {
        256 + 32 * (c as usize - 30)
    }
}

/// One size class: its pages, which records are live, and its free list.
struct Class {
    size: usize,
    /// Records per page.
    per_page: u32,
    /// `ceil(2^SHIFT / per_page)`.
    recip: u64,
    pages: Vec<Box<[u8]>>,
    /// One bit per record handed out: set while live.
    live: Vec<u64>,
    /// One past the highest index handed out.
    limit: u32,
    /// First free record, its first 4 bytes the next; `NIL` ends it.
    free: u32,
    len: usize,
}

impl Class {
    fn new(size: usize) -> Self {
        let per_page = (PAGE_BYTES / size) as u32;
        Class {
            size,
            per_page,
            recip: (1u64 << SHIFT).div_ceil(u64::from(per_page)),
            pages: Vec::new(),
            live: Vec::new(),
            limit: 0,
            free: NIL,
            len: 0,
        }
    }

    /// Page and byte offset of record `i`.
    #[inline]
    fn place(&self, i: u32) -> (usize, usize) {
        let page = ((u64::from(i) * self.recip) >> SHIFT) as u32;
        let slot = i - page * self.per_page;
        (page as usize, slot as usize * self.size)
    }

    #[inline]
    fn record(&self, i: u32) -> &[u8] {
        let (page, off) = self.place(i);
        &self.pages[page][off..off + self.size]
    }

    #[inline]
    fn record_mut(&mut self, i: u32) -> &mut [u8] {
        let (page, off) = self.place(i);
        &mut self.pages[page][off..off + self.size]
    }

    #[inline]
    fn is_live(&self, i: u32) -> bool {
        i < self.limit && self.live[i as usize / 64] & (1 << (i % 64)) != 0
    }

    fn set_live(&mut self, i: u32, on: bool) {
        let bit = 1u64 << (i % 64);
        if on {
            self.live[i as usize / 64] |= bit;
        } else {
            self.live[i as usize / 64] &= !bit;
        }
    }

    /// A free record's index, or `None` once the class's index space is
    /// used up.
    fn alloc(&mut self) -> Option<u32> {
        let i = if self.free != NIL {
            let i = self.free;
            let rec = self.record(i);
            self.free = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
            i
        } else {
            let i = self.limit;
            if i > INDEX_MASK {
                return None;
            }
            if self.place(i).1 == 0 {
                // Zeroed by the allocator, from fresh pages, whose faults
                // are taken now rather than on one record write in ~60
                // (`map::touch`).
                let mut page = vec![0u8; PAGE_BYTES].into_boxed_slice();
                // SAFETY: the page's own zeroed bytes, written with zeros.
                unsafe { super::touch::touch(page.as_mut_ptr(), PAGE_BYTES) };
                self.pages.push(page);
            }
            if i.is_multiple_of(64) {
                self.live.push(0);
            }
            self.limit += 1;
            i
        };
        self.set_live(i, true);
        self.len += 1;
        Some(i)
    }

    fn free(&mut self, i: u32) {
        let next = self.free;
        self.record_mut(i)[..4].copy_from_slice(&next.to_le_bytes());
        self.free = i;
        self.set_live(i, false);
        self.len -= 1;
    }

    fn heap_bytes(&self) -> usize {
        self.pages.len() * PAGE_BYTES
            + self.pages.capacity() * std::mem::size_of::<Box<[u8]>>()
            + self.live.capacity() * 8
    }
}

/// Byte records in size classes.
pub struct Slab {
    classes: Vec<Class>,
    huge: Pool<Box<[u8]>>,
    /// What the huge records' allocations hold ([`huge_cost`] of each).
    huge_bytes: usize,
    /// Bytes of live records: class sizes, and huge allocations.
    live_bytes: usize,
}

impl Default for Slab {
    fn default() -> Self {
        Slab {
            classes: (0..CLASSES as u32)
                .map(|c| Class::new(class_size(c)))
                .collect(),
            huge: Pool::default(),
            huge_bytes: 0,
            live_bytes: 0,
        }
    }
}

#[inline]
fn split(r: u32) -> (u32, u32) {
    (r >> INDEX_BITS, r & INDEX_MASK)
}

#[inline]
fn join(class: u32, i: u32) -> u32 {
    class << INDEX_BITS | i
}

impl Slab {
    /// Live records.
    pub fn len(&self) -> usize {
        self.classes.iter().map(|c| c.len).sum::<usize>() + self.huge.len()
    }

    /// True when no record is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A record of at least `len` bytes (its contents are unspecified), or
    /// `None` if every class that could hold it is full.
    pub fn alloc(&mut self, len: usize) -> Option<u32> {
        let mut c = class_of(len);
        // A class whose 2^26 indices are all taken passes the record up to
        // the next one: a few bytes wasted rather than a refused write.
        while (c as usize) < CLASSES {
            if let Some(i) = self.classes[c as usize].alloc() {
                self.live_bytes += self.classes[c as usize].size;
                return Some(join(c, i));
            }
            c += 1;
        }
        let no_free = self.huge.len() == self.huge.limit() as usize;
        if no_free && self.huge.limit() > INDEX_MASK {
            return None;
        }
        let i = self.huge.insert(vec![0u8; len].into_boxed_slice());
        self.huge_bytes += huge_cost(len);
        self.live_bytes += huge_cost(len);
        Some(join(HUGE, i))
    }

    /// Frees live record `r`.
    pub fn free(&mut self, r: u32) {
        let (c, i) = split(r);
        if c == HUGE {
            if let Some(b) = self.huge.remove(i) {
                self.huge_bytes -= huge_cost(b.len());
                self.live_bytes -= huge_cost(b.len());
            }
        } else if self.is_live(r) {
            self.classes[c as usize].free(i);
            self.live_bytes -= self.classes[c as usize].size;
        }
    }

    /// True if `r` names a live record.
    #[inline]
    pub fn is_live(&self, r: u32) -> bool {
        let (c, i) = split(r);
        match self.classes.get(c as usize) {
            Some(class) => class.is_live(i),
            None => c == HUGE && self.huge.get(i).is_some(),
        }
    }

    /// Live record `r`: all its bytes, which may be more than were asked
    /// for (a class record is its class's size).
    #[inline]
    pub fn get(&self, r: u32) -> &[u8] {
        let (c, i) = split(r);
        match self.classes.get(c as usize) {
            Some(class) => class.record(i),
            None => self.huge.get(i).map_or(&[], |b| b),
        }
    }

    /// Bytes live record `r` holds: its class's size, or a huge record's
    /// allocation.
    pub fn record_bytes(&self, r: u32) -> usize {
        let (c, i) = split(r);
        match self.classes.get(c as usize) {
            Some(class) => class.size,
            None => self.huge.get(i).map_or(0, |b| huge_cost(b.len())),
        }
    }

    /// Live record `r`, mutably.
    #[inline]
    pub fn get_mut(&mut self, r: u32) -> &mut [u8] {
        let (c, i) = split(r);
        match self.classes.get_mut(c as usize) {
            Some(class) => class.record_mut(i),
            None => self.huge.get_mut(i).map_or(&mut [], |b| b),
        }
    }

    /// True if live record `r` is the one a record of `len` bytes would
    /// get, so it can change to that length in place: the same class, or
    /// for a huge record any huge length (see [`resize_huge`](Self::resize_huge)).
    #[inline]
    pub fn fits(&self, r: u32, len: usize) -> bool {
        split(r).0 == class_of(len)
    }

    /// Makes huge record `r` exactly `len` bytes, keeping its first bytes.
    pub fn resize_huge(&mut self, r: u32, len: usize) {
        let (c, i) = split(r);
        if c != HUGE {
            return;
        }
        if let Some(b) = self.huge.get_mut(i) {
            self.huge_bytes = self.huge_bytes + huge_cost(len) - huge_cost(b.len());
            self.live_bytes = self.live_bytes + huge_cost(len) - huge_cost(b.len());
            let mut v = std::mem::take(b).into_vec();
            v.resize(len, 0);
            *b = v.into_boxed_slice();
        }
    }

    /// Bytes held: class pages (whole pages, as the allocator holds them),
    /// their directories, and each huge record's allocation with glibc's
    /// chunk overhead.
    pub fn heap_bytes(&self) -> usize {
        self.classes.iter().map(Class::heap_bytes).sum::<usize>()
            + self.huge.heap_bytes()
            + self.huge_bytes
    }

    /// Bytes of live records (each class record at its class's size, each
    /// huge one at its allocation): what deleting every record would free
    /// for reuse. [`heap_bytes`](Self::heap_bytes) less this is slack:
    /// free records and pages' unused tails.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Every live record, in handle order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let classes = self.classes.iter().enumerate().flat_map(|(c, class)| {
            (0..class.limit)
                .filter(|&i| class.is_live(i))
                .map(move |i| join(c as u32, i))
        });
        let huge = self.huge.indices().map(|i| join(HUGE, i));
        classes.chain(huge)
    }

    /// A live record chosen uniformly at random, after up to `tries`
    /// samples; `None` if none was live (or there is none).
    pub fn random(&self, rng: &mut fastrand::Rng, tries: usize) -> Option<u32> {
        let limits: usize = self.classes.iter().map(|c| c.limit as usize).sum::<usize>()
            + self.huge.limit() as usize;
        if limits == 0 {
            return None;
        }
        for _ in 0..tries {
            let mut n = rng.usize(..limits);
            let mut pick = None;
            for (c, class) in self.classes.iter().enumerate() {
                if n < class.limit as usize {
                    pick = Some(join(c as u32, n as u32));
                    break;
                }
                n -= class.limit as usize;
            }
            let r = pick.unwrap_or(join(HUGE, n as u32));
            if self.is_live(r) {
                return Some(r);
            }
        }
        None
    }

    /// Frees every record.
    pub fn clear(&mut self) {
        *self = Slab::default();
    }
}

/// Bytes a record of `len` bytes takes: its class's size, or for a huge
/// one its allocation.
pub fn record_cost(len: usize) -> usize {
    match class_of(len) {
        HUGE => huge_cost(len),
        c => class_size(c),
    }
}

/// What the allocator holds for an allocation of `len` bytes past 1 KiB:
/// mimalloc rounds such a size up to its bin, four bins per doubling.
pub fn huge_cost(len: usize) -> usize {
    let len = len.max(1);
    let top = usize::BITS - 1 - len.leading_zeros();
    let quarter = (1usize << top) / 4;
    len.div_ceil(quarter.max(1)) * quarter.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_length_tightly() {
        for len in 0..=MAX_CLASS_SIZE {
            let c = class_of(len);
            assert!((c as usize) < CLASSES);
            let size = class_size(c);
            assert!(size >= len, "len {len} class {c} size {size}");
            let step = if len <= 256 { 8 } else { 32 };
            assert!(size < len.max(16) + step, "len {len} wastes {}", size - len);
        }
        assert_eq!(class_of(MAX_CLASS_SIZE + 1), HUGE);
        assert_eq!(class_size(CLASSES as u32 - 1), MAX_CLASS_SIZE);
    }

    #[test]
    fn the_reciprocal_splits_every_index_exactly() {
        let mut rng = fastrand::Rng::with_seed(7);
        for c in 0..CLASSES as u32 {
            let class = Class::new(class_size(c));
            let n = class.per_page;
            let edges = (0..2000u32).flat_map(|k| [k * n, k * n + n - 1]);
            let far = (INDEX_MASK / n - 2..=INDEX_MASK / n).flat_map(|k| [k * n, k * n + n - 1]);
            let random = (0..2000).map(|_| rng.u32(..=INDEX_MASK));
            for i in edges.chain(far).chain(random).filter(|&i| i <= INDEX_MASK) {
                let (page, off) = class.place(i);
                assert_eq!(page, (i / n) as usize, "class {c} index {i}");
                assert_eq!(off, (i % n) as usize * class.size);
            }
            assert!(n as usize * class.size <= PAGE_BYTES);
        }
    }

    #[test]
    fn huge_costs_round_to_quarter_bins() {
        assert_eq!(huge_cost(1025), 1280);
        assert_eq!(huge_cost(4096), 4096);
        assert_eq!(huge_cost(4097), 5120);
        assert_eq!(huge_cost(6001), 6144);
    }

    #[test]
    fn records_keep_their_bytes_and_handles_are_reused() {
        let mut s = Slab::default();
        let mut refs = Vec::new();
        for n in 0..2000usize {
            let len = n % 1500;
            let r = s.alloc(len).unwrap();
            assert!(s.get(r).len() >= len);
            s.get_mut(r)[..len.min(8)].copy_from_slice(&n.to_le_bytes()[..len.min(8)]);
            refs.push((r, n, len));
        }
        assert_eq!(s.len(), 2000);
        for &(r, n, len) in &refs {
            assert!(s.is_live(r));
            assert_eq!(&s.get(r)[..len.min(8)], &n.to_le_bytes()[..len.min(8)]);
        }
        let (r, _, len) = refs[100];
        s.free(r);
        assert!(!s.is_live(r));
        assert_eq!(s.alloc(len), Some(r));
        let live: Vec<u32> = s.iter().collect();
        assert_eq!(live.len(), 2000);
        let huge = refs[1200].0;
        assert!(s.fits(huge, 5000));
        s.resize_huge(huge, 5000);
        assert_eq!(s.get(huge).len(), 5000);
        assert!(!s.fits(refs[8].0, 800));
    }

    #[test]
    fn random_finds_live_records() {
        let mut s = Slab::default();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(s.random(&mut rng, 10), None);
        let a = s.alloc(40).unwrap();
        let b = s.alloc(4000).unwrap();
        let mut seen = [false; 2];
        for _ in 0..200 {
            match s.random(&mut rng, 10) {
                Some(r) if r == a => seen[0] = true,
                Some(r) if r == b => seen[1] = true,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(seen, [true, true]);
    }
}
