//! The collection types a key can hold besides a string. Each is a plain
//! data structure with `&mut self` methods and no knowledge of keys, TTLs
//! or the shard; [`Shard::read`](super::Shard::read) and
//! [`Shard::modify`](super::Shard::modify) give the command layer typed
//! access to them.

mod hash;
mod list;
mod set;
mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use zset::{AddFlags, Added, NotANumber, ZSet};
