//! What a key holds: a string or one of the collection types, and the
//! questions every type answers alike (TYPE's name, OBJECT ENCODING's
//! name, the bytes charged against `maxmemory`).
//!
//! A value is two words, as the string-only `Box<[u8]>` was: strings stay
//! inline and every collection sits behind one more box. Five variants of
//! their own would need a tag word and grow every entry from 32 to 40
//! bytes, strings included, to make the rarer collection one pointer
//! cheaper to reach.

use super::types::{Hash, List, Set, ZSet};

/// A key's type, as TYPE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `string`
    String,
    /// `list`
    List,
    /// `set`
    Set,
    /// `zset`
    ZSet,
    /// `hash`
    Hash,
}

impl Type {
    /// TYPE's reply for it.
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::List => "list",
            Type::Set => "set",
            Type::ZSet => "zset",
            Type::Hash => "hash",
        }
    }

    /// The type SCAN's `TYPE` option names, compared as Redis compares it
    /// (`strcasecmp` against each type's name); `None` for a name that is
    /// no type, which Redis 7.0 accepts and matches no key with.
    pub fn parse(name: &[u8]) -> Option<Type> {
        [Type::String, Type::List, Type::Set, Type::ZSet, Type::Hash]
            .into_iter()
            .find(|t| name.eq_ignore_ascii_case(t.name().as_bytes()))
    }
}

/// A key's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string (also what the bit commands and INCR work on).
    Str(Box<[u8]>),
    /// Any other type.
    Coll(Box<Coll>),
}

/// The collection types.
#[derive(Clone, Debug, PartialEq)]
pub enum Coll {
    /// A hash.
    Hash(Hash),
    /// A list.
    List(List),
    /// A set.
    Set(Set),
    /// A sorted set.
    ZSet(ZSet),
}

impl From<Box<[u8]>> for Value {
    fn from(s: Box<[u8]>) -> Value {
        Value::Str(s)
    }
}

impl From<&[u8]> for Value {
    fn from(s: &[u8]) -> Value {
        Value::Str(s.into())
    }
}

impl Value {
    /// The string, if this is one.
    #[inline]
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            Value::Coll(_) => None,
        }
    }

    /// Its type.
    pub fn kind(&self) -> Type {
        match self {
            Value::Str(_) => Type::String,
            Value::Coll(c) => c.kind(),
        }
    }

    /// What OBJECT ENCODING says of it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => string_encoding(s),
            Value::Coll(c) => c.encoding(),
        }
    }

    /// Bytes it is charged against `maxmemory`, beyond the entry's own
    /// overhead: a string's length, or a collection's own running total
    /// (kept by each type as it changes, never recomputed) plus its pool
    /// slot, which a collection kept in its record ([`Coll::inline`]) has
    /// not.
    #[inline]
    pub fn mem(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Coll(c) if c.inline() => c.mem(),
            Value::Coll(c) => std::mem::size_of::<Coll>() + c.mem(),
        }
    }

    /// What the shard counts for it outside the records (`Shard::used`):
    /// a pooled collection's running total; nothing for a string or a
    /// collection kept in its record, whose bytes the record holds.
    #[inline]
    pub fn pooled_mem(&self) -> usize {
        match self {
            Value::Coll(c) if !c.inline() => c.mem(),
            _ => 0,
        }
    }
}

impl Coll {
    /// Its type.
    pub fn kind(&self) -> Type {
        match self {
            Coll::Hash(_) => Type::Hash,
            Coll::List(_) => Type::List,
            Coll::Set(_) => Type::Set,
            Coll::ZSet(_) => Type::ZSet,
        }
    }

    /// What OBJECT ENCODING says of it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Coll::Hash(h) => h.encoding(),
            Coll::List(l) => l.encoding(),
            Coll::Set(s) => s.encoding(),
            Coll::ZSet(z) => z.encoding(),
        }
    }

    /// The collection's running byte total.
    pub fn mem(&self) -> usize {
        match self {
            Coll::Hash(h) => h.mem(),
            Coll::List(l) => l.mem(),
            Coll::Set(s) => s.mem(),
            Coll::ZSet(z) => z.mem(),
        }
    }

    /// Elements it holds (fields, members, items).
    pub fn len(&self) -> usize {
        match self {
            Coll::Hash(h) => h.len(),
            Coll::List(l) => l.len(),
            Coll::Set(s) => s.len(),
            Coll::ZSet(z) => z.len(),
        }
    }

    /// True when it holds nothing: Redis deletes such a key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when its key's record holds it, bytes and all, instead of the
    /// pool: a listpack hash. A small hash of short fields is most of what
    /// caches keep in hashes, and in the pool it paid a 48-byte slot and an
    /// allocation rounded to the allocator's bins besides its ~150 bytes
    /// (`bench/hash_memory.sh`). Only a listpack's bytes are self-contained
    /// enough to live in a record; a table has pointers.
    #[inline]
    pub fn inline(&self) -> bool {
        matches!(self, Coll::Hash(h) if h.is_compact())
    }
}

/// Redis's encoding of a string value: `int` when it reads back as the
/// same 64-bit integer, `embstr` up to 44 bytes, else `raw`.
pub fn string_encoding(v: &[u8]) -> &'static str {
    if v.len() <= 20 && super::parse_i64(v).is_some() {
        "int"
    } else if v.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// A collection type, for the shard's typed access
/// ([`Shard::read`](super::Shard::read), [`Shard::modify`](super::Shard::modify)):
/// how to find it inside a [`Coll`], make an empty one, and what it costs.
pub trait Typed: Sized {
    /// Its TYPE.
    const TYPE: Type;
    /// An empty one, for a write that creates the key.
    fn empty() -> Self;
    /// It, if `c` is one.
    fn of(c: &Coll) -> Option<&Self>;
    /// It, mutably, if `c` is one.
    fn of_mut(c: &mut Coll) -> Option<&mut Self>;
    /// Wrapped as a collection.
    fn wrap(self) -> Coll;
    /// Elements held.
    fn len(&self) -> usize;
    /// True when it holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Running byte total (see [`Value::mem`]).
    fn mem(&self) -> usize;
}

/// [`Typed`] for a type that is one variant of [`Coll`] and has `new`,
/// `len` and `mem`.
macro_rules! typed {
    ($t:ident, $variant:ident) => {
        impl Typed for $t {
            const TYPE: Type = Type::$variant;
            fn empty() -> Self {
                $t::new()
            }
            fn of(c: &Coll) -> Option<&Self> {
                match c {
                    Coll::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(c: &mut Coll) -> Option<&mut Self> {
                match c {
                    Coll::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn wrap(self) -> Coll {
                Coll::$variant(self)
            }
            fn len(&self) -> usize {
                $t::len(self)
            }
            fn mem(&self) -> usize {
                $t::mem(self)
            }
        }
    };
}

typed!(Hash, Hash);
typed!(List, List);
typed!(Set, Set);
typed!(ZSet, ZSet);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_two_words() {
        assert_eq!(std::mem::size_of::<Value>(), 16);
    }

    #[test]
    fn type_names_parse_without_case() {
        assert_eq!(Type::parse(b"ZSET"), Some(Type::ZSet));
        assert_eq!(Type::parse(b"string"), Some(Type::String));
        assert_eq!(Type::parse(b"stream"), None);
    }
}
