//! Taking a fresh allocation's page faults at once.
//!
//! Memory the allocator has just mapped costs a page fault on its first
//! write. Spread over the inserts that happen to write first to each OS
//! page, those faults (several µs each on this VM) were the map's p99.9
//! insert; taken together when a big block is allocated, they land on one
//! insert in thousands. The arena's page blocks and the bucket tables'
//! chunks are touched this way.

/// The smallest page size of the platforms we run on.
pub(super) const OS_PAGE: usize = 4096;

/// Write a zero byte once per [`OS_PAGE`] of the `len` bytes at `at`.
///
/// # Safety
/// `at..at + len` must be memory of one live allocation that the caller
/// owns and whose bytes it may overwrite: uninitialised, or zeros it
/// wants to keep zero.
pub(super) unsafe fn touch(at: *mut u8, len: usize) {
    for off in (0..len).step_by(OS_PAGE) {
        // SAFETY: within the allocation, by the caller's promise.
        // Volatile: a store of a zero the compiler knows is there already
        // (`calloc` memory) must still reach the memory.
        unsafe { at.add(off).write_volatile(0) };
    }
}
