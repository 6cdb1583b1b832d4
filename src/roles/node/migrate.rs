//! Cluster mode's warm slot moves, the sending side: each core streams the
//! keys of its slots that the map marks moving to their target shard, as
//! Redis's MIGRATE does (`ASKING` + `RESTORE key ttl payload REPLACE
//! ABSTTL` on the target's core port), and deletes each key once the
//! target has stored it and it has not changed meanwhile.
//!
//! Why this is enough (see `node::routing::Local::owns` and docs/CLUSTER.md):
//! - while a slot moves, its owner serves a key only while it still holds
//!   it, answers `-ASK` for any other, and so creates no key in the slot;
//! - a key is deleted only after the target acknowledged the very value
//!   and expiry the owner still holds, so no write is lost;
//! - so a full pass of the shard that finds no key of a moving slot means
//!   the core is drained for that map, and stays so. It says so through
//!   `Routing::set_drained`, and the LB then gives the slots to their
//!   targets.
//!
//! A core streams only while its ownership lease is valid. A target that
//! refuses (it has not taken the map yet, or is gone) is tried again on
//! the next pass; the keys stay served here meanwhile.

use super::core::Core;
use crate::cluster::Shard as Target;
use crate::ownership::slot_for;
use crate::proto::client;
use crate::store::rdb;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// How often a core with nothing to move looks again.
const IDLE: Duration = Duration::from_millis(50);
/// After a failed batch: the target may not have the map yet.
const BACKOFF: Duration = Duration::from_millis(100);
/// Keys per scan step, and so per batch at most.
const BATCH: usize = 128;
/// How long a target may take to answer a batch.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Start core `core`'s mover (cluster mode with an LB only).
pub fn spawn(core: &Rc<Core>) {
    let core = core.clone();
    glommio::spawn_local(async move {
        let mut links: HashMap<String, TcpStream> = HashMap::new();
        while !core.life.stopping() {
            match pass(&core, &mut links).await {
                Pass::Idle => glommio::timer::sleep(IDLE).await,
                Pass::Again => {}
                Pass::Failed => {
                    links.clear();
                    glommio::timer::sleep(BACKOFF).await;
                }
            }
        }
    })
    .detach();
}

/// How a pass ended.
enum Pass {
    /// Nothing moving, or the pass found no key to move: drained.
    Idle,
    /// It moved keys (or the map changed): pass again at once.
    Again,
    /// A target failed: wait, reconnect.
    Failed,
}

/// One scan of the shard for keys of the slots moving out of this core.
async fn pass(core: &Rc<Core>, links: &mut HashMap<String, TcpStream>) -> Pass {
    let Some(local) = &core.cluster else {
        return Pass::Idle;
    };
    core.refresh_routing();
    let view = local.view();
    let epoch = view.map.epoch();
    let here = core.id;
    let mine = |s: u16| {
        view.route(s) == super::routing::Route::Core(here) && view.map.migrating(s).is_some()
    };
    if !(0..crate::ownership::SLOTS).any(mine) {
        local.shared.set_drained(here, epoch);
        return Pass::Idle;
    }
    let mut cursor = 0;
    let mut found = 0usize;
    loop {
        if core.life.stopping() || !local.shared.serving(core.now()) {
            return Pass::Failed;
        }
        if local.shared.epoch() != epoch {
            return Pass::Again;
        }
        let mut keys = Vec::new();
        cursor = core
            .shard
            .borrow()
            .scan_slots(cursor, BATCH, mine, core.now(), &mut keys);
        found += keys.len();
        // Group by target; in a join every slot of a core usually goes to
        // one target.
        let mut by_target: HashMap<usize, Vec<Box<[u8]>>> = HashMap::new();
        for k in keys {
            if let Some(t) = view.map.migrating(slot_for(&k)) {
                by_target.entry(t).or_default().push(k);
            }
        }
        for (t, keys) in by_target {
            let target = &view.map.shards()[t];
            if let Err(e) = send(core, links, target, &keys).await {
                log::warn!(
                    "core {here}: moving {} keys to {} failed: {e}; trying again",
                    keys.len(),
                    target.addr
                );
                return Pass::Failed;
            }
        }
        if cursor == 0 {
            break;
        }
        // Clients are served between steps.
        glommio::executor().yield_if_needed().await;
    }
    if found == 0 {
        if local.shared.set_drained(here, epoch) {
            log::info!("core {here}: drained its moving slots (epoch {epoch})");
        }
        Pass::Idle
    } else {
        Pass::Again
    }
}

/// Send `keys` (those still here) to `target` and delete each one the
/// target stored and that did not change meanwhile.
async fn send(
    core: &Rc<Core>,
    links: &mut HashMap<String, TcpStream>,
    target: &Target,
    keys: &[Box<[u8]>],
) -> Result<(), String> {
    let now = core.now();
    let mut sent = Vec::with_capacity(keys.len());
    let mut req = Vec::new();
    {
        let shard = core.shard.borrow();
        for k in keys {
            let Some((value, at)) = shard.export(k, now) else {
                continue;
            };
            let ttl = if at == 0 {
                0
            } else {
                core.shared.epoch_unix_ms + at
            };
            let ttl = itoa::Buffer::new().format(ttl).to_string();
            client::command(&mut req, &[b"ASKING"]);
            client::command(
                &mut req,
                &[
                    b"RESTORE",
                    k,
                    ttl.as_bytes(),
                    &rdb::dump(&value),
                    b"REPLACE",
                    b"ABSTTL",
                ],
            );
            sent.push((k, value, at));
        }
    }
    if sent.is_empty() {
        return Ok(());
    }
    let name = target.addr.to_string();
    if !links.contains_key(&name) {
        links.insert(name.clone(), connect(core, target).await?);
    }
    let stream = links.get_mut(&name).expect("just inserted");
    let local = core.cluster.as_ref().expect("cluster mode");
    local.send_keys(sent.iter().map(|(k, _, _)| &k[..]));
    stream.write_all(&req).await.map_err(|e| e.to_string())?;
    // On failure the keys stay frozen: the RESTOREs may still reach the
    // target. They stay here too, and are sent again on the next pass,
    // whose answer thaws them.
    let replies = read_replies(stream, 2 * sent.len()).await?;
    local.keys_landed();
    let mut shard = core.shard.borrow_mut();
    for (i, (k, value, at)) in sent.iter().enumerate() {
        match (&replies[2 * i], &replies[2 * i + 1]) {
            (Ok(()), Ok(())) => {
                shard.remove_if_unchanged(k, value, *at);
            }
            (Err(e), _) | (_, Err(e)) => return Err(format!("the target answered {e}")),
        }
    }
    Ok(())
}

/// A connection to `target`'s core port, logged in with this node's own
/// password when it has one (every node of a cluster shares it).
async fn connect(core: &Rc<Core>, target: &Target) -> Result<TcpStream, String> {
    let addr = crate::addr::resolve(&target.addr).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| e.to_string())?;
    if let Some(pass) = core.shared.password() {
        let mut req = Vec::new();
        client::command(&mut req, &[b"AUTH", &pass]);
        stream.write_all(&req).await.map_err(|e| e.to_string())?;
        if let Err(e) = &read_replies(&mut stream, 1).await?[0] {
            return Err(format!("AUTH: {e}"));
        }
    }
    Ok(stream)
}

/// Read `n` replies: `Ok` for `+OK`, the text of anything else.
async fn read_replies(stream: &mut TcpStream, n: usize) -> Result<Vec<Result<(), String>>, String> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 4096];
    let (mut filled, mut at) = (0, 0);
    while out.len() < n {
        match client::parse(&buf[at..filled]) {
            Ok(Some((r, used))) => {
                at += used;
                out.push(match r {
                    client::Reply::Simple(b"OK") => Ok(()),
                    client::Reply::Error(e) => Err(String::from_utf8_lossy(e).into_owned()),
                    other => Err(format!("{other:?}")),
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => return Err(format!("a reply that does not parse: {e}")),
        }
        if at > 0 {
            buf.copy_within(at..filled, 0);
            filled -= at;
            at = 0;
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let got = stream
            .read(&mut buf[filled..])
            .await
            .map_err(|e| format!("reading: {e}"))?;
        if got == 0 {
            return Err("the target closed the connection".into());
        }
        filled += got;
    }
    Ok(out)
}
