//! Connection and server commands answered on the connection's own core:
//! PING, ECHO, SELECT, HELLO, AUTH, CLIENT, CONFIG, COMMAND, TIME.

use super::client::{Conn, PauseMode, Server};
use super::error::{show, CmdError};
use super::spec::{Flags, Keys, NodeCmd, Run, Spec};
use super::{fail, int, table};
use crate::proto::{Proto, Reply};
use crate::store::glob_match;

/// Flags of a command allowed before AUTH.
const NO_AUTH: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::NO_AUTH)
    .with(Flags::ALLOW_BUSY);
/// Flags of the introspection commands.
const INTRO: Flags = Flags::LOADING.with(Flags::STALE);

const CLIENT: &[Spec] = &[
    Spec::new(
        "client|id",
        2,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_id),
    ),
    Spec::new(
        "client|getname",
        2,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_getname),
    ),
    Spec::new(
        "client|setname",
        3,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_setname),
    ),
    // Redis 7.2's; current clients send it on connect.
    Spec::new(
        "client|setinfo",
        4,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_setinfo),
    ),
    Spec::new(
        "client|no-evict",
        3,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_switch),
    ),
    Spec::new(
        "client|no-touch",
        3,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_switch),
    ),
    Spec::new(
        "client|list",
        -2,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Node(NodeCmd::ClientList),
    ),
    Spec::new(
        "client|info",
        2,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Node(NodeCmd::ClientInfo),
    ),
    Spec::new(
        "client|kill",
        -3,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Node(NodeCmd::ClientKill),
    ),
    Spec::new(
        "client|reply",
        3,
        INTRO.with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_reply),
    ),
    Spec::new(
        "client|pause",
        -3,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_pause),
    ),
    Spec::new(
        "client|unpause",
        2,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(client_unpause),
    ),
    Spec::new("client|help", 2, INTRO, Keys::NONE, Run::Conn(client_help)),
];

const CONFIG: &[Spec] = &[
    Spec::new(
        "config|get",
        -3,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(config_get),
    ),
    Spec::new(
        "config|set",
        -4,
        INTRO
            .with(Flags::ADMIN)
            .with(Flags::NOSCRIPT)
            .with(Flags::BARRIER),
        Keys::NONE,
        Run::Conn(config_set),
    ),
    Spec::new(
        "config|resetstat",
        2,
        INTRO.with(Flags::ADMIN).with(Flags::NOSCRIPT),
        Keys::NONE,
        Run::Conn(config_resetstat),
    ),
    Spec::new("config|help", 2, INTRO, Keys::NONE, Run::Conn(config_help)),
];

const COMMAND: &[Spec] = &[
    Spec::new(
        "command|count",
        2,
        INTRO,
        Keys::NONE,
        Run::Conn(command_count),
    ),
    Spec::new(
        "command|info",
        -2,
        INTRO,
        Keys::NONE,
        Run::Conn(command_info),
    ),
    Spec::new(
        "command|docs",
        -2,
        INTRO,
        Keys::NONE,
        Run::Conn(super::docs::command_docs),
    ),
    Spec::new(
        "command|list",
        -2,
        INTRO,
        Keys::NONE,
        Run::Conn(command_list),
    ),
    Spec::new(
        "command|getkeys",
        -4,
        INTRO,
        Keys::NONE,
        Run::Conn(command_getkeys),
    ),
    Spec::new(
        "command|help",
        2,
        INTRO,
        Keys::NONE,
        Run::Conn(command_help),
    ),
];

/// The server family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("ping", -1, Flags::FAST, Keys::NONE, Run::Conn(ping)),
    Spec::new(
        "echo",
        2,
        INTRO.with(Flags::FAST),
        Keys::NONE,
        Run::Conn(echo),
    ),
    Spec::new(
        "select",
        2,
        INTRO.with(Flags::FAST),
        Keys::NONE,
        Run::Conn(select),
    ),
    Spec::new(
        "time",
        1,
        INTRO.with(Flags::FAST),
        Keys::NONE,
        Run::Conn(time),
    ),
    Spec::new(
        "hello",
        -1,
        NO_AUTH.with(Flags::BARRIER),
        Keys::NONE,
        Run::Conn(hello),
    ),
    Spec::new(
        "auth",
        -2,
        NO_AUTH.with(Flags::BARRIER),
        Keys::NONE,
        Run::Conn(auth),
    ),
    // The LB's probe: it reveals only load figures, and with a nonce and
    // an address it proves the node holds the cluster secret (crate::secret).
    Spec::new("nodestat", -1, NO_AUTH, Keys::NONE, Run::Conn(nodestat)),
    Spec::new("wait", 3, Flags::NOSCRIPT, Keys::NONE, Run::Conn(wait)),
    Spec::new(
        "shutdown",
        -1,
        Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::NO_MULTI)
            .with(Flags::ALLOW_BUSY),
        Keys::NONE,
        Run::Conn(shutdown),
    ),
    Spec::container("client", -2, Flags::NONE, Run::Conn(no_sub), CLIENT),
    Spec::container("config", -2, Flags::NONE, Run::Conn(no_sub), CONFIG),
    Spec::container("command", -1, INTRO, Run::Conn(command_all), COMMAND),
];

/// A container's own handler where it needs a subcommand: never reached,
/// since its arity makes one required and lookup resolves it.
pub fn no_sub(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    fail(
        w,
        CmdError::Arity(table::lookup(args[0]).map_or("", |(_, s)| s.name)),
    );
}

/// `<CMD> HELP`: Redis's text, keeping the subcommands this node has.
pub fn help(w: &mut Reply<'_>, container: &str, lines: &[&str]) {
    let mut keep = true;
    let kept: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| {
            if !line.starts_with(' ') {
                let word = line.split(' ').next().unwrap_or("").to_ascii_lowercase();
                keep = word.starts_with('(')
                    || table::lookup_named(format!("{container}|{word}").as_bytes()).is_some();
            }
            keep
        })
        .collect();
    w.array(kept.len() + 1);
    w.simple(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        container.to_ascii_uppercase()
    ));
    for line in kept {
        w.simple(line);
    }
}

fn ping(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match args {
        [_] => w.simple("PONG"),
        [_, m] => w.bulk(m),
        _ => fail(w, CmdError::Arity("ping")),
    }
}

fn echo(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    w.bulk(args[1]);
}

fn select(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    match int(args[1]) {
        Ok(0) => w.ok(),
        Ok(_) => fail(w, CmdError::DbIndex),
        Err(e) => fail(w, e),
    }
}

fn time(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    let us = c.server.unix_us();
    w.array(2);
    w.bulk(itoa::Buffer::new().format(us / 1_000_000).as_bytes());
    w.bulk(itoa::Buffer::new().format(us % 1_000_000).as_bytes());
}

/// WAIT numreplicas timeout: this node has no replicas, so 0 at once
/// (after checking the arguments as Redis does).
fn wait(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    if let Err(e) = int(args[1]) {
        return fail(w, e);
    }
    match int(args[2]) {
        Ok(t) if t < 0 => w.error("ERR timeout is negative"),
        Ok(_) => w.int(0),
        Err(_) => w.error("ERR timeout is not an integer or out of range"),
    }
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: a clean stop (the
/// connection is closed without a reply, as Redis's). Nothing is kept on
/// disk, so there is nothing to save, and SAVE is refused rather than
/// ignored.
fn shutdown(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for opt in &args[1..] {
        match opt.to_ascii_lowercase().as_slice() {
            b"save" => save = true,
            b"nosave" => nosave = true,
            b"abort" => abort = true,
            b"now" | b"force" => {}
            _ => return fail(w, CmdError::Syntax),
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return fail(w, CmdError::Syntax);
    }
    if abort {
        return w.error("ERR No shutdown in progress.");
    }
    if save {
        return w.error("ERR Errors trying to SHUTDOWN: this node keeps nothing on disk to save; use SHUTDOWN NOSAVE");
    }
    c.server.shutdown();
}

/// `NODESTAT` (the stats line, for tools) or `NODESTAT nonce host:port`
/// (the LB's authenticated probe).
fn nodestat(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let probe = match args {
        [_] => None,
        [_, nonce, addr] => Some((*nonce, *addr)),
        _ => return fail(w, CmdError::Arity("nodestat")),
    };
    match c.server.nodestat(probe) {
        Ok(line) => w.bulk(line.as_bytes()),
        Err(e) => w.error(&e),
    }
}

/// Redis's reply to a failed AUTH.
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Compare a secret with a guess in time that depends only on the guess's
/// length, so timing tells an attacker nothing about how much of it was
/// right (or how long the secret is beyond what they sent).
fn same_secret(secret: &[u8], guess: &[u8]) -> bool {
    if secret.is_empty() {
        return guess.is_empty();
    }
    let mut diff = (secret.len() != guess.len()) as u8;
    for (i, &g) in guess.iter().enumerate() {
        diff |= secret[i % secret.len()] ^ g;
    }
    // Keep the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

/// Check `user`/`pass` as Redis's default user would, the only user there
/// is: with no password set it has `nopass` (any password opens it), else
/// the password must match. Marks the connection authenticated on
/// success; a failure leaves it as it was, as in Redis.
fn authenticate(c: &mut Conn<'_>, user: &[u8], pass: &[u8]) -> bool {
    let ok = user == b"default"
        && c.server
            .password()
            .is_none_or(|want| same_secret(&want, pass));
    if ok {
        c.client.authenticated = true;
    }
    ok
}

fn auth(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (user, pass) = match args {
        [_, pass] => (None, *pass),
        [_, user, pass] => (Some(*user), *pass),
        _ => return fail(w, CmdError::Syntax),
    };
    if user.is_none() && c.server.password().is_none() {
        // Redis keeps this error for the old one-argument form.
        w.error(
            "ERR AUTH <password> called without any password configured for the default \
             user. Are you sure your configuration is correct?",
        );
    } else if authenticate(c, user.unwrap_or(b"default"), pass) {
        w.ok();
    } else {
        w.error(WRONGPASS);
    }
}

/// Client names may hold only printable ASCII other than space.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]: arguments checked in
/// Redis's order (the version, then each option, SETNAME's name as it
/// goes); then authenticate if asked, set the name, switch protocol, and
/// answer Redis 7's map in the protocol switched to.
fn hello(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let rest = &args[1..];
    let (version, opts) = match rest.split_first() {
        None => (None, rest),
        Some((v, opts)) => match crate::store::parse_i64(v) {
            None => return fail(w, CmdError::HelloVersion),
            Some(v) if !(2..=3).contains(&v) => return fail(w, CmdError::NoProto),
            Some(v) => (Some(v), opts),
        },
    };
    let (mut login, mut setname) = (None, None);
    let mut j = 0;
    while j < opts.len() {
        let (opt, more) = (opts[j], opts.len() - 1 - j);
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            login = Some((opts[j + 1], opts[j + 2]));
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            if !valid_name(opts[j + 1]) {
                return fail(w, CmdError::ClientName);
            }
            setname = Some(opts[j + 1]);
            j += 2;
        } else {
            return fail(w, CmdError::HelloOption(show(opt)));
        }
    }
    if let Some((user, pass)) = login {
        if !authenticate(c, user, pass) {
            return w.error(WRONGPASS);
        }
    }
    if !c.client.authenticated {
        return w.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
    }
    if let Some(name) = setname {
        c.client.name = (!name.is_empty()).then(|| name.to_vec());
    }
    match version {
        Some(3) => c.client.proto = Proto::Resp3,
        Some(_) => c.client.proto = Proto::Resp2,
        None => {}
    }
    let mut w = Reply::new(w.raw(), c.client.proto);
    w.map(7);
    w.bulk(b"server");
    w.bulk(b"redis");
    w.bulk(b"version");
    w.bulk(REDIS_VERSION.as_bytes());
    w.bulk(b"proto");
    w.int(c.client.proto.version());
    w.bulk(b"id");
    w.int(c.client.id as i64);
    w.bulk(b"mode");
    let cluster = c.server.cluster(&mut |_, _| {});
    w.bulk(if cluster { b"cluster" } else { b"standalone" });
    w.bulk(b"role");
    w.bulk(b"master");
    w.bulk(b"modules");
    w.array(0);
}

/// The Redis version the node reports (INFO, HELLO): the one whose
/// commands and replies it follows.
pub const REDIS_VERSION: &str = "7.0.15";

fn client_id(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    w.int(c.client.id as i64);
}

fn client_getname(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    match &c.client.name {
        Some(n) => w.bulk(n),
        None => w.nil(),
    }
}

fn client_setname(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    if !valid_name(args[2]) {
        return fail(w, CmdError::ClientName);
    }
    c.client.name = (!args[2].is_empty()).then(|| args[2].to_vec());
    w.ok();
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value, as Redis 7.2 checks it.
fn client_setinfo(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let (attr, value) = (args[2], args[3]);
    let slot = if attr.eq_ignore_ascii_case(b"lib-name") {
        &mut c.client.lib_name
    } else if attr.eq_ignore_ascii_case(b"lib-ver") {
        &mut c.client.lib_ver
    } else {
        return w.error(&format!("ERR Unrecognized option '{}'", show(attr)));
    };
    if !valid_name(value) {
        return w.error(&format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            show(attr)
        ));
    }
    *slot = (!value.is_empty()).then(|| value.to_vec());
    w.ok();
}

/// CLIENT NO-EVICT / NO-TOUCH ON|OFF. NO-EVICT exempts the client from
/// client eviction (`maxmemory-clients`); the node has no per-client touch
/// mode, so NO-TOUCH only checks its argument.
fn client_switch(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let on = args[2].eq_ignore_ascii_case(b"on");
    if on || args[2].eq_ignore_ascii_case(b"off") {
        if args[1].eq_ignore_ascii_case(b"no-evict") {
            c.client.no_evict = on;
        }
        w.ok();
    } else {
        fail(w, CmdError::Syntax);
    }
}

/// CLIENT REPLY ON|OFF|SKIP. Only ON answers; OFF and SKIP write nothing,
/// and the node drops whatever replies the mode says (`node::pipeline`).
/// ON clears OFF and a SKIP that applies to itself, so its +OK goes out.
fn client_reply(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let mode = &mut c.client.reply;
    match args[2].to_ascii_lowercase().as_slice() {
        b"on" => {
            mode.off = false;
            mode.skip = false;
            w.ok();
        }
        b"off" => mode.off = true,
        // Redis ignores a SKIP while replies are off.
        b"skip" => mode.skip_next |= !mode.off,
        _ => fail(w, CmdError::Syntax),
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL], checked in Redis's order: the
/// argument count, the mode, then the timeout.
fn client_pause(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let mode = match args.get(3) {
        _ if args.len() > 4 => {
            return w.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                show(args[1])
            ))
        }
        None => PauseMode::All,
        Some(m) if m.eq_ignore_ascii_case(b"write") => PauseMode::Write,
        Some(m) if m.eq_ignore_ascii_case(b"all") => PauseMode::All,
        Some(_) => return w.error("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let ms = match crate::store::parse_i64(args[2]) {
        None => return w.error("ERR timeout is not an integer or out of range"),
        Some(n) if n < 0 => return w.error("ERR timeout is negative"),
        Some(n) => n as u64,
    };
    // Redis adds the timeout to the Unix clock in a signed 64-bit sum, and a
    // sum past its range wraps to a deadline already gone: the pause is
    // answered and holds nothing (as 7.0.15 does with LLONG_MAX).
    if ms <= i64::MAX as u64 - c.server.unix_ms().min(i64::MAX as u64) {
        c.server.pause(ms, mode);
    }
    w.ok();
}

fn client_unpause(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    c.server.unpause();
    w.ok();
}

fn client_help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    help(w, "client", super::help::CLIENT);
}

fn config_help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    help(w, "config", super::help::CONFIG);
}

fn command_help(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    help(w, "command", super::help::COMMAND);
}

/// CONFIG GET pattern [pattern ...]: each setting once, matched by glob
/// (case-insensitively, as Redis matches).
fn config_get(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let all = c.server.settings();
    let matched: Vec<_> = all
        .iter()
        .filter(|(k, _)| args[2..].iter().any(|p| glob_match(p, k.as_bytes(), true)))
        .collect();
    w.map(matched.len());
    for (k, v) in matched {
        w.bulk(k.as_bytes());
        w.bulk(v.as_bytes());
    }
}

fn config_resetstat(c: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    c.server.reset_stats();
    w.ok();
}

/// CONFIG SET parameter value [parameter value ...]: all or none.
fn config_set(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let pairs = &args[2..];
    // Redis 7.0.15 answers an odd count with a syntax error, not arity.
    if !pairs.len().is_multiple_of(2) {
        return fail(w, CmdError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = pairs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    match c.server.configure(&pairs) {
        Ok(()) => w.ok(),
        Err(e) => w.error(&e.to_string()),
    }
}

/// Top-level commands (subcommands are listed inside their container).
fn top_level() -> impl Iterator<Item = &'static Spec> {
    table::all()
        .iter()
        .copied()
        .filter(|s| !s.name.contains('|'))
}

fn command_all(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    let specs: Vec<_> = top_level().collect();
    w.array(specs.len());
    for s in specs {
        info_entry(s, w);
    }
}

fn command_count(_: &mut Conn<'_>, _: &[&[u8]], w: &mut Reply<'_>) {
    w.int(top_level().count() as i64);
}

/// COMMAND INFO [name ...]: every command without names; a null for an
/// unknown name.
fn command_info(c: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    if args.len() == 2 {
        return command_all(c, args, w);
    }
    w.array(args.len() - 2);
    for name in &args[2..] {
        match table::lookup_named(name) {
            Some((_, s)) => info_entry(s, w),
            None => w.nil(),
        }
    }
}

/// One command's entry: Redis 7's ten fields, subcommands nested.
fn info_entry(s: &Spec, w: &mut Reply<'_>) {
    w.array(10);
    w.bulk(s.name.as_bytes());
    w.int(i64::from(s.arity));
    let flags = info_flags(s);
    w.set(flags.len());
    for f in flags {
        w.simple(f);
    }
    w.int(i64::from(s.keys.first));
    w.int(i64::from(s.keys.last));
    w.int(i64::from(s.keys.step));
    match super::docs::info_of(s.name) {
        Some(info) => {
            info.acl.write(w);
            info.tips.write(w);
            info.key_specs.write(w);
        }
        // A command of ours alone: no categories, tips or key specs.
        None => {
            w.set(0);
            w.set(0);
            w.set(0);
        }
    }
    // Redis answers an empty set for a command without subcommands, and
    // an array of entries for a container.
    if s.subs.is_empty() {
        w.set(0);
    } else {
        w.array(s.subs.len());
    }
    for sub in s.subs {
        info_entry(sub, w);
    }
}

/// The flag names COMMAND INFO prints: the row's, with Redis's
/// `movablekeys` (keys counted by an argument) where Redis puts it, before
/// `allow_busy`.
fn info_flags(s: &Spec) -> Vec<&'static str> {
    let mut flags: Vec<_> = s.flags.names().collect();
    if s.keys.counted != 0 {
        let at = flags
            .iter()
            .position(|f| *f == "allow_busy")
            .unwrap_or(flags.len());
        flags.insert(at, "movablekeys");
    }
    flags
}

/// COMMAND LIST [FILTERBY PATTERN p]: the top-level names.
fn command_list(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let keep: &dyn Fn(&str) -> bool = match &args[2..] {
        [] => &|_| true,
        [by, kind, p]
            if by.eq_ignore_ascii_case(b"filterby") && kind.eq_ignore_ascii_case(b"pattern") =>
        {
            &|n| glob_match(p, n.as_bytes(), true)
        }
        [by, kind, cat]
            if by.eq_ignore_ascii_case(b"filterby") && kind.eq_ignore_ascii_case(b"aclcat") =>
        {
            &|n| super::docs::in_category(n, cat)
        }
        [by, kind, _]
            if by.eq_ignore_ascii_case(b"filterby") && kind.eq_ignore_ascii_case(b"module") =>
        {
            // No modules: nothing matches.
            return w.array(0);
        }
        _ => return fail(w, CmdError::Syntax),
    };
    let names: Vec<_> = table::all()
        .iter()
        .map(|s| s.name)
        .filter(|n| keep(n))
        .collect();
    w.array(names.len());
    for n in names {
        w.bulk(n.as_bytes());
    }
}

/// COMMAND GETKEYS command [arg ...]: the keys its key positions name
/// (as Redis, only the arity is checked: `MSET a 1 b` names `a` and `b`).
fn command_getkeys(_: &mut Conn<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let cmd = &args[2..];
    let Some((_, mut spec)) = table::lookup(cmd[0]) else {
        return w.error("ERR Invalid command specified");
    };
    if let (false, Some(sub)) = (spec.subs.is_empty(), cmd.get(1)) {
        match table::lookup_sub(spec, sub) {
            Some((_, s)) => spec = s,
            None => return w.error("ERR Invalid command specified"),
        }
    }
    let k = spec.keys;
    // Redis asks whether the command has keys before it checks the arity.
    if k.first == 0 && k.counted == 0 {
        return w.error("ERR The command has no key arguments");
    }
    if !table::arity_ok(spec.arity, cmd.len()) {
        return w.error("ERR Invalid number of arguments specified for command");
    }
    if k.counted != 0 {
        // Keys counted by a `numkeys` argument (Redis's keynum key spec): a
        // count that names no keys, or more than there are, is refused.
        let Some(at) = k.positions(cmd) else {
            return w.error("ERR Invalid arguments specified for command");
        };
        let at: Vec<usize> = at.collect();
        w.array(at.len());
        return at.into_iter().for_each(|i| w.bulk(cmd[i]));
    }
    let last = if k.last < 0 {
        cmd.len() as i32 + k.last
    } else {
        k.last
    };
    let keys: Vec<&[u8]> = (k.first..=last.min(cmd.len() as i32 - 1))
        .step_by(k.step as usize)
        .map(|i| cmd[i as usize])
        .collect();
    w.array(keys.len());
    for key in keys {
        w.bulk(key);
    }
}

/// Run a connection command outside the node, for unit tests and tools.
pub fn run_conn(
    server: &dyn Server,
    client: &mut super::Client,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) {
    let mut w = Reply::new(out, client.proto);
    match table::admit(args, client.authenticated) {
        Err(e) => fail(&mut w, e),
        Ok((_, spec)) => match spec.run {
            Run::Conn(f) => f(&mut Conn { client, server }, args, &mut w),
            _ => w.error("ERR not a connection command"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::client::{Client, ConfigError};

    #[derive(Default)]
    struct Fake {
        paused: std::cell::Cell<Option<(u64, PauseMode)>>,
    }

    impl Server for Fake {
        fn password(&self) -> Option<Vec<u8>> {
            Some(b"pw".to_vec())
        }
        fn settings(&self) -> Vec<(&'static str, String)> {
            vec![("maxmemory", "0".into()), ("port", "1".into())]
        }
        fn configure(&self, _: &[(&[u8], &[u8])]) -> Result<(), ConfigError> {
            Err(ConfigError::Unknown("x".into()))
        }
        fn unix_us(&self) -> u64 {
            1_700_000_000_123_456
        }
        fn nodestat(&self, probe: Option<(&[u8], &[u8])>) -> Result<String, String> {
            match probe {
                None => Ok("clients=1".into()),
                Some((n, a)) => Ok(format!(
                    "clients=1 {} {}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(a)
                )),
            }
        }
        fn shutdown(&self) {}
        fn reset_stats(&self) {}
        fn pause(&self, ms: u64, mode: PauseMode) {
            self.paused.set(Some((ms, mode)));
        }
        fn unpause(&self) {
            self.paused.set(None);
        }
    }

    fn run(c: &mut Client, line: &str) -> String {
        run_on(&Fake::default(), c, line)
    }

    fn run_on(f: &Fake, c: &mut Client, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let mut out = Vec::new();
        run_conn(f, c, &args, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn client_reply_sets_the_mode_and_answers_only_on() {
        let mut c = Client::new(1, true);
        assert_eq!(run(&mut c, "client reply skip"), "");
        assert!(c.reply.skip_next && !c.reply.drops());
        c.reply.next_command();
        assert!(c.reply.drops() && !c.reply.skip_next);
        c.reply.next_command();
        assert!(!c.reply.quiet());
        assert_eq!(run(&mut c, "client reply off"), "");
        assert_eq!(run(&mut c, "client reply skip"), "", "ignored while off");
        assert!(c.reply.off && !c.reply.skip_next);
        assert_eq!(run(&mut c, "client reply bogus"), "-ERR syntax error\r\n");
        assert_eq!(run(&mut c, "CLIENT REPLY On"), "+OK\r\n");
        assert!(!c.reply.quiet());
    }

    #[test]
    fn client_pause_checks_count_mode_then_timeout() {
        let f = Fake::default();
        let mut c = Client::new(1, true);
        let mut say = |line| run_on(&f, &mut c, line);
        assert_eq!(
            say("client pause x y z"),
            "-ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            say("client pause x nope"),
            "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
        );
        assert_eq!(
            say("client pause 1.5 write"),
            "-ERR timeout is not an integer or out of range\r\n"
        );
        assert_eq!(say("client pause -1"), "-ERR timeout is negative\r\n");
        assert_eq!(say("client pause 9223372036854775807"), "+OK\r\n");
        assert_eq!(f.paused.get(), None, "a deadline past i64 holds nothing");
        assert_eq!(say("client pause 200 WRITE"), "+OK\r\n");
        assert_eq!(f.paused.get(), Some((200, PauseMode::Write)));
        assert_eq!(say("client pause 10"), "+OK\r\n");
        assert_eq!(f.paused.get(), Some((10, PauseMode::All)));
        assert_eq!(say("client unpause"), "+OK\r\n");
        assert_eq!(f.paused.get(), None);
    }

    #[test]
    fn auth_hello_and_client() {
        let mut c = Client::new(7, false);
        assert_eq!(run(&mut c, "ping"), "-NOAUTH Authentication required.\r\n");
        assert_eq!(
            run(&mut c, "hello 4"),
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert!(run(&mut c, "hello 3").starts_with("-NOAUTH HELLO must be called"));
        assert_eq!(
            run(&mut c, "auth nope"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert!(run(&mut c, "hello 3 auth default pw setname me").starts_with("%7\r\n"));
        assert_eq!(c.proto, Proto::Resp3);
        assert_eq!(run(&mut c, "client getname"), "$2\r\nme\r\n");
        assert_eq!(run(&mut c, "client id"), ":7\r\n");
        assert_eq!(
            run(&mut c, "client bogus"),
            "-ERR unknown subcommand 'bogus'. Try CLIENT HELP.\r\n"
        );
        assert_eq!(
            run(&mut c, "client setname"),
            "-ERR wrong number of arguments for 'client|setname' command\r\n"
        );
        assert_eq!(
            run(&mut c, "time"),
            "*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n"
        );
        assert_eq!(
            run(&mut c, "ping a b"),
            "-ERR wrong number of arguments for 'ping' command\r\n"
        );
    }

    #[test]
    fn config_and_command() {
        let mut c = Client::new(1, true);
        assert_eq!(
            run(&mut c, "config get max* port"),
            "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$4\r\nport\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            run(&mut c, "command getkeys mset a 1 b 2"),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(
            run(&mut c, "command getkeys mset a"),
            "-ERR Invalid number of arguments specified for command\r\n"
        );
        assert_eq!(
            run(&mut c, "command getkeys nope a"),
            "-ERR Invalid command specified\r\n"
        );
        assert!(run(&mut c, "command info get").starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n"));
        assert!(
            run(&mut c, "object help").starts_with("*"),
            "a shard-free subcommand"
        );
        let help = run(&mut c, "client help");
        assert!(help.starts_with("*") && help.contains("+SETNAME <name>\r\n"));
        assert!(help.contains("+KILL <ip:port>\r\n"));
        assert!(help.contains("+REPLY (ON|OFF|SKIP)\r\n"));
        assert!(
            !help.contains("+TRACKING"),
            "only subcommands this node has"
        );
        same_secret_cases();
    }

    #[test]
    fn nodestat_plain_or_with_a_probe_nonce_and_address() {
        let mut c = Client::new(1, false);
        assert_eq!(run(&mut c, "nodestat"), "$9\r\nclients=1\r\n");
        assert_eq!(
            run(&mut c, "nodestat ab 127.0.0.1:1"),
            "$24\r\nclients=1 ab 127.0.0.1:1\r\n"
        );
        assert_eq!(
            run(&mut c, "nodestat ab"),
            "-ERR wrong number of arguments for 'nodestat' command\r\n"
        );
    }

    fn same_secret_cases() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cret", b"s3cre"));
        assert!(!same_secret(b"s3cret", b"s3crett"));
        assert!(!same_secret(b"s3cret", b""));
        assert!(!same_secret(b"ab", b"abab"));
        assert!(same_secret(b"", b""));
    }
}
