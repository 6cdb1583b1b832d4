//! The collection types a key can hold besides a string. Each is a plain
//! data structure with `&mut self` methods and no knowledge of keys, TTLs
//! or the shard; [`Shard::read`](super::Shard::read) and
//! [`Shard::modify`](super::Shard::modify) give the command layer typed
//! access to them.

mod hash;
mod list;
mod pack;
mod set;
mod zset;

pub use hash::{Hash, TABLE_ENTRY as HASH_TABLE_ENTRY};
pub use list::{item_cost, push_cost, End, List};
pub use set::{Member, Set, TABLE_ENTRY as SET_TABLE_ENTRY};
pub use zset::{AddFlags, Added, NotANumber, ZSet};

use crate::map::{HashMap, Slot};

/// Random tries at a slot of a table before [`random_slot`] walks instead.
const RANDOM_TRIES: usize = 32;

/// A live slot of `t` picked at random (each entry about equally likely),
/// `None` when empty. Random slot indices first; after [`RANDOM_TRIES`]
/// vacant ones (a table emptied by SPOP is mostly vacant slots) the first
/// live slot from a random index on, so a pick costs at most one walk of
/// the arena, and draining n entries costs O(n log n) slot visits in all.
fn random_slot<K, V, S>(t: &HashMap<K, V, S>, rng: &mut fastrand::Rng) -> Option<Slot> {
    if t.is_empty() {
        return None;
    }
    let limit = t.slot_limit();
    for _ in 0..RANDOM_TRIES {
        let s = Slot(rng.u32(..limit));
        if t.at(s).is_some() {
            return Some(s);
        }
    }
    let start = rng.u32(..limit);
    (start..limit)
        .chain(0..start)
        .map(Slot)
        .find(|&s| t.at(s).is_some())
}

/// `count` of `all` at random (all of them, in order, if that is fewer).
fn sample_of<T>(mut all: Vec<T>, count: usize, rng: &mut fastrand::Rng) -> Vec<T> {
    while all.len() > count {
        all.swap_remove(rng.usize(..all.len()));
    }
    all
}
