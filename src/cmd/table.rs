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
    super::server::COMMANDS,
    super::node::COMMANDS,
    super::pubsub::COMMANDS,
    super::slowlog::COMMANDS,
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
    reg.by_name
        .get(spec.name.as_bytes())
        .copied()
        .unwrap_or_default()
}

/// Longer than any command name: a request whose name is longer is
/// unknown without a lookup.
const MAX_NAME: usize = 32;

/// Look a command up by name, case-insensitively, in constant time: the
/// name is lower-cased into a stack buffer and found in a hash map built
/// once from the families.
#[inline]
pub fn lookup(name: &[u8]) -> Option<(Id, &'static Spec)> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_NAME];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let reg = registry();
    reg.by_name.get(&*lower).map(|&i| (i, reg.rows[i as usize]))
}

/// Subcommand `sub` of `container`, by its `container|sub` name.
pub fn lookup_sub(container: &Spec, sub: &[u8]) -> Option<(Id, &'static Spec)> {
    let mut buf = [0u8; MAX_NAME];
    let prefix = container.name.len() + 1;
    let full = buf.get_mut(..prefix + sub.len())?;
    full[..prefix - 1].copy_from_slice(container.name.as_bytes());
    full[prefix - 1] = b'|';
    full[prefix..].copy_from_slice(sub);
    full[prefix..].make_ascii_lowercase();
    let reg = registry();
    reg.by_name.get(&*full).map(|&i| (i, reg.rows[i as usize]))
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
    /// Each family's (and each container's subcommands') slice: its
    /// address, length and the id of its first row.
    ranges: Vec<(usize, usize, Id)>,
    by_name: std::collections::HashMap<&'static [u8], Id, foldhash::fast::RandomState>,
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
        let containers: Vec<&'static Spec> = rows.clone();
        for c in containers.iter().filter(|c| !c.subs.is_empty()) {
            add(&mut rows, c.subs);
        }
        let by_name = rows
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_bytes(), i as Id))
            .collect();
        Registry {
            rows,
            ranges,
            by_name,
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
    if strict && spec.keys.range(args.len()).is_none() {
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
            let (id, found) = lookup(s.name.to_uppercase().as_bytes()).unwrap();
            assert_eq!((id as usize, found.name), (i, s.name));
            assert_eq!(id_of(s) as usize, i, "{}", s.name);
        }
        assert!(lookup(b"nope").is_none());
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
