//! The command table: every family's rows, looked up by name in constant
//! time, and the checks Redis makes before any command runs.

use super::error::{unknown, CmdError};
use super::spec::{Flags, Run, Spec};

/// A command's index in [`all`], for per-command counters and for naming
/// a command in a batch without its bytes.
pub type Id = u16;

/// Every family's rows. A new family adds its `COMMANDS` here.
const FAMILIES: &[&[Spec]] = &[
    super::string::COMMANDS,
    super::bits::COMMANDS,
    super::keyspace::COMMANDS,
    super::dump::COMMANDS,
    super::list::COMMANDS,
    super::blocking_list::COMMANDS,
    super::server::COMMANDS,
    super::node::COMMANDS,
    super::pubsub::COMMANDS,
    super::slowlog::COMMANDS,
    super::cluster::COMMANDS,
    super::hash::COMMANDS,
    super::set::COMMANDS,
    super::zset::COMMANDS,
];

/// Every command, in family order.
pub fn all() -> &'static [&'static Spec] {
    &registry().rows
}

/// Number of commands, for sizing per-command counters.
pub fn count() -> usize {
    all().len()
}

/// The row of command `id`.
#[inline]
pub fn spec(id: Id) -> &'static Spec {
    registry().rows[id as usize]
}

/// The id of `spec`, a row of this table, found from its address in
/// constant time (a few range compares): the node's per-command counters
/// are indexed by it where only the row is at hand (a batch's op, a
/// transaction's command). A row that is not in the table (a copy) is
/// found by name.
#[inline]
pub fn id_of(spec: &Spec) -> Id {
    let reg = registry();
    let at = spec as *const Spec as usize;
    for &(start, len, base) in &reg.ranges {
        if at >= start && at < start + len * std::mem::size_of::<Spec>() {
            return base + ((at - start) / std::mem::size_of::<Spec>()) as Id;
        }
    }
    lookup_named(spec.name.as_bytes()).map_or(0, |(id, _)| id)
}

/// Longer than any command name: a request whose name is longer is
/// unknown without a lookup.
const MAX_NAME: usize = 32;

/// Look a command up by name, case-insensitively, in constant time (see
/// [`Names`]).
#[inline]
pub fn lookup(name: &[u8]) -> Option<(Id, &'static Spec)> {
    if name.len() > MAX_NAME {
        return None;
    }
    let reg = registry();
    // Subcommand rows come after every command: `client|list` sent as a
    // command's name is unknown, as in Redis.
    reg.names
        .find(&reg.rows, name, &[])
        .filter(|&(id, _)| (id as usize) < reg.commands)
}

/// A command or subcommand by its full name (`get`, `client|list`), any
/// case, as COMMAND INFO and COMMAND DOCS name them.
pub fn lookup_named(name: &[u8]) -> Option<(Id, &'static Spec)> {
    if name.len() > MAX_NAME {
        return None;
    }
    let reg = registry();
    reg.names.find(&reg.rows, name, &[])
}

/// Subcommand `sub` of `container`, by its `container|sub` name.
pub fn lookup_sub(container: &Spec, sub: &[u8]) -> Option<(Id, &'static Spec)> {
    // An empty `sub` would name the container itself.
    if sub.is_empty() || container.name.len() + 1 + sub.len() > MAX_NAME {
        return None;
    }
    let reg = registry();
    reg.names.find(&reg.rows, container.name.as_bytes(), sub)
}

/// An open-addressing index from names to ids, hashed and compared without
/// case. Every request looks its name up here, so it is built for that:
/// the hash folds case as it reads (no lower-cased copy of the name), a
/// slot is a bare `u16`, and the table is kept at most 1/4 full, so a name
/// is nearly always found at its first slot. A general `HashMap` with a
/// lower-cased copy cost ~150 instructions per request, about 7% of a
/// pipelined GET's user time.
struct Names {
    /// `id + 1` per slot, `0` for an empty one; the length is a power of two.
    slots: Vec<u16>,
}

impl Names {
    fn build(rows: &[&'static Spec]) -> Self {
        let len = (rows.len() * 4).next_power_of_two().max(64);
        let mut slots = vec![0u16; len];
        for (id, spec) in rows.iter().enumerate() {
            let (head, tail) = match spec.name.split_once('|') {
                Some((h, t)) => (h.as_bytes(), t.as_bytes()),
                None => (spec.name.as_bytes(), &b""[..]),
            };
            let mut i = Self::hash(head, tail) & (len - 1);
            while slots[i] != 0 {
                i = (i + 1) & (len - 1);
            }
            slots[i] = id as u16 + 1;
        }
        Names { slots }
    }

    /// The row named `head` (a command) or `head|tail` (a subcommand, when
    /// `tail` is not empty), any case.
    #[inline]
    fn find(
        &self,
        rows: &[&'static Spec],
        head: &[u8],
        tail: &[u8],
    ) -> Option<(Id, &'static Spec)> {
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(head, tail) & mask;
        loop {
            let id = self.slots[i].checked_sub(1)?;
            let spec = rows[id as usize];
            if Self::names(spec, head, tail) {
                return Some((id, spec));
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether `spec` is named `head` or `head|tail`, ignoring case.
    #[inline]
    fn names(spec: &Spec, head: &[u8], tail: &[u8]) -> bool {
        let name = spec.name.as_bytes();
        if tail.is_empty() {
            return name.eq_ignore_ascii_case(head);
        }
        name.len() == head.len() + 1 + tail.len()
            && name[..head.len()].eq_ignore_ascii_case(head)
            && name[head.len()] == b'|'
            && name[head.len() + 1..].eq_ignore_ascii_case(tail)
    }

    /// FNV-style hash of `head`, then `|` and `tail` if `tail` is not empty,
    /// with ASCII letters folded to lower case. `| 0x20` also maps a few
    /// symbols onto others (`@` and `` ` ``); that only costs a probe, as
    /// [`names`](Self::names) compares exactly.
    #[inline]
    fn hash(head: &[u8], tail: &[u8]) -> usize {
        let mut h: u32 = 0x811c_9dc5;
        let mut eat = |b: u8| h = (h ^ u32::from(b | 0x20)).wrapping_mul(0x0100_0193);
        head.iter().for_each(|&b| eat(b));
        if !tail.is_empty() {
            eat(b'|');
            tail.iter().for_each(|&b| eat(b));
        }
        (h ^ (h >> 15)) as usize
    }
}

/// The row a request names, as Redis resolves `c->cmd` before its checks:
/// the command, or its subcommand when it is a container and an argument
/// follows; `None` when either is unknown. A refused request counts its
/// rejection against this row.
pub fn named(args: &[&[u8]]) -> Option<Id> {
    let (id, spec) = lookup(args.first()?)?;
    match (spec.subs.is_empty(), args.get(1)) {
        (false, Some(sub)) => lookup_sub(spec, sub).map(|(i, _)| i),
        _ => Some(id),
    }
}

struct Registry {
    rows: Vec<&'static Spec>,
    /// How many of `rows` are commands; subcommands follow them.
    commands: usize,
    /// Each family's (and each container's subcommands') slice: its
    /// address, length and the id of its first row.
    ranges: Vec<(usize, usize, Id)>,
    names: Names,
}

fn registry() -> &'static Registry {
    static REG: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REG.get_or_init(|| {
        let mut rows: Vec<&'static Spec> = Vec::new();
        let mut ranges = Vec::new();
        let mut add = |rows: &mut Vec<&'static Spec>, slice: &'static [Spec]| {
            ranges.push((slice.as_ptr() as usize, slice.len(), rows.len() as Id));
            rows.extend(slice.iter());
        };
        for family in FAMILIES {
            add(&mut rows, family);
        }
        // Subcommands after every command, found by their `a|b` names.
        let commands = rows.len();
        let containers: Vec<&'static Spec> = rows.clone();
        for c in containers.iter().filter(|c| !c.subs.is_empty()) {
            add(&mut rows, c.subs);
        }
        let names = Names::build(&rows);
        Registry {
            rows,
            commands,
            ranges,
            names,
        }
    })
}

/// Whether `argc` (including the name) satisfies `arity`.
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// The checks Redis makes before it runs (or queues) any command: the name
/// is known, the arity fits, the key positions fit (MSET's pairs), and the
/// connection may run it: one that has not authenticated (`authed ==
/// false`) may only run commands flagged `no_auth`, and an unknown command
/// or a wrong arity is reported as such first. Inside MULTI, a command
/// that fails here makes EXEC abort; one that passes is queued, and any
/// other error it has is its reply when EXEC runs it.
///
/// # Errors
/// A [`CmdError`] with the text Redis would reply.
#[inline]
pub fn admit(args: &[&[u8]], authed: bool) -> Result<(Id, &'static Spec), CmdError> {
    let Some((&name, rest)) = args.split_first() else {
        return Err(CmdError::Syntax);
    };
    let Some((mut id, mut spec)) = lookup(name) else {
        return Err(unknown(name, rest));
    };
    if let (false, Some(sub)) = (spec.subs.is_empty(), rest.first()) {
        (id, spec) = lookup_sub(spec, sub).ok_or_else(|| CmdError::subcommand(sub, spec.name))?;
    }
    if !arity_ok(spec.arity, args.len()) {
        return Err(CmdError::Arity(spec.name));
    }
    // Key/value pairs (MSET, MSETNX) and split commands need their keys
    // where the spec says; a container's key-less subcommands (OBJECT
    // HELP) are simply routed to this core.
    let strict = matches!(spec.run, Run::Split(..)) || spec.keys.step > 1;
    if strict && spec.keys.positions(args).is_none() {
        return Err(CmdError::Arity(spec.name));
    }
    if !authed && !spec.flags.has(Flags::NO_AUTH) {
        return Err(CmdError::NoAuth);
    }
    Ok((id, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_found_and_unique() {
        let mut names = std::collections::HashSet::new();
        for (i, s) in all().iter().enumerate() {
            assert!(names.insert(s.name), "{} twice", s.name);
            assert!(s.name.len() <= MAX_NAME, "{}", s.name);
            assert_eq!(s.name, s.name.to_lowercase());
            let (id, found) = lookup_named(s.name.to_uppercase().as_bytes()).unwrap();
            assert_eq!((id as usize, found.name), (i, s.name));
            assert_eq!(id_of(s) as usize, i, "{}", s.name);
        }
        assert!(lookup(b"nope").is_none());
        assert!(lookup(b"client|list").is_none());
        assert_eq!(lookup_named(b"CLIENT|List").unwrap().1.name, "client|list");
        assert_eq!(
            lookup_sub(lookup(b"client").unwrap().1, b"LIST")
                .unwrap()
                .1
                .name,
            "client|list"
        );
        assert!(lookup_sub(lookup(b"client").unwrap().1, b"lis").is_none());
        assert!(lookup_sub(lookup(b"client").unwrap().1, b"").is_none());
        assert!(lookup(b"a-name-longer-than-any-command-at-all").is_none());
        assert!(arity_ok(-2, 5) && !arity_ok(-2, 1) && arity_ok(2, 2) && !arity_ok(2, 3));
    }

    #[test]
    fn admit_checks_in_redis_order() {
        assert_eq!(admit(&[b"get"], true).err(), Some(CmdError::Arity("get")));
        assert_eq!(
            admit(&[b"mset", b"a", b"1", b"b"], true).err(),
            Some(CmdError::Arity("mset"))
        );
        assert!(matches!(
            admit(&[b"frob", b"a"], false).err(),
            Some(CmdError::Unknown(_))
        ));
        assert_eq!(admit(&[b"get", b"k"], false).err(), Some(CmdError::NoAuth));
        assert!(admit(&[b"auth", b"pw"], false).is_ok());
        let name = |args: &[&[u8]]| named(args).map(|i| spec(i).name);
        assert_eq!(name(&[b"GET"]), Some("get"));
        assert_eq!(name(&[b"client"]), Some("client"));
        assert_eq!(name(&[b"CLIENT", b"LIST", b"x"]), Some("client|list"));
        assert_eq!(name(&[b"client", b"nope"]), None);
        assert_eq!(name(&[b"frob"]), None);
    }
}
