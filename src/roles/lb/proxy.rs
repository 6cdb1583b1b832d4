//! Proxy mode: forward a client's data requests to nodes and bring back one
//! reply per request, in the order they came.
//!
//! The requests a client pipelined in one read form a batch. Each request
//! is routed on its own (by policy or by key, see [`Route`]); the requests
//! bound for one node go out together on one pooled connection, as one
//! write, and their replies are read back in order — RESP pipelining, so a
//! batch of a hundred GETs costs one round trip per node, not a hundred.
//! Nodes are asked concurrently.
//!
//! One *attempt* (wait for a pooled connection, connect if needed, write,
//! read every reply) must finish within `--proxy-timeout`. When it fails —
//! refused, reset, closed, timed out, or a reply that makes no sense — the
//! replies already read stand, and the requests still unanswered are
//! retried once, on another healthy node when there is one. A second failure
//! answers them with an error; a client never waits longer than two
//! timeouts. The failed node is probed at once (not at the next interval),
//! so a dead one leaves the pool after one round trip even without a
//! registration link.
//!
//! A retried SET or DEL may have reached the first node before it failed:
//! both nodes then hold the write. That is harmless for a cache (the next
//! read through either node is fresh) and documented in docs/LB.md.
//!
//! [`Route`]: super::registry::Route

use super::metrics::add;
use super::pool::{Checkout, NodePool};
use super::probe;
use super::protocol::DataOp;
use super::registry::NodeId;
use super::relay::{self, NodeReply};
use super::server::Lb;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::rc::Rc;

/// Most requests forwarded as one batch; a larger pipelined read is split.
pub const MAX_BATCH: usize = 512;

/// Smallest read from a node.
const READ_CHUNK: usize = 16 * 1024;

/// What became of one forwarded request.
#[derive(Debug)]
pub enum Answer {
    /// The node's reply.
    Reply(NodeReply),
    /// No node was healthy when the request was routed.
    NoHealthyNodes,
    /// Both attempts failed; the text says where and why.
    Failed(String),
}

/// One request still to place: its index in the batch and the node its
/// first attempt failed on.
#[derive(Clone, Copy)]
struct Todo {
    index: usize,
    avoid: Option<NodeId>,
}

/// A request whose attempt failed.
struct Failure {
    index: usize,
    node: NodeId,
    why: String,
}

/// The requests of one batch bound for one node.
struct Group {
    node: NodeId,
    pool: Rc<NodePool>,
    indices: Vec<usize>,
}

/// Forward `ops` and return one answer per op, in order.
pub async fn forward(lb: &Rc<Lb>, ops: Rc<[DataOp]>) -> Vec<Answer> {
    let mut answers: Vec<Option<Answer>> = (0..ops.len()).map(|_| None).collect();
    let first: Vec<Todo> = (0..ops.len())
        .map(|index| Todo { index, avoid: None })
        .collect();
    let failed = round(lb, &ops, &first, &mut answers).await;
    add(&lb.counters.retries, failed.len() as i64);
    let retry: Vec<Todo> = failed
        .iter()
        .map(|f| Todo {
            index: f.index,
            avoid: Some(f.node),
        })
        .collect();
    for f in round(lb, &ops, &retry, &mut answers).await {
        answers[f.index] = Some(Answer::Failed(format!(
            "no healthy node answered (last: {})",
            f.why
        )));
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Answer::Failed("request was not forwarded".into())))
        .collect()
}

/// Route every `todo`, ask each node for its share concurrently, fill in
/// `answers`, and return the requests whose attempt failed.
async fn round(
    lb: &Rc<Lb>,
    ops: &Rc<[DataOp]>,
    todo: &[Todo],
    answers: &mut [Option<Answer>],
) -> Vec<Failure> {
    let mut groups: Vec<Group> = Vec::new();
    let mut failed = Vec::new();
    for t in todo {
        let (node, pool) = {
            let mut reg = lb.registry.borrow_mut();
            let picked = reg.route(lb.cfg.args.route, ops[t.index].key(), t.avoid, |id| {
                lb.pools.in_flight(id)
            });
            let Some(n) = picked else {
                answers[t.index] = Some(Answer::NoHealthyNodes);
                continue;
            };
            (
                n.id,
                lb.pools
                    .get_or_open(n.id, &n.addr)
                    .map_err(|e| (n.addr.to_string(), e)),
            )
        };
        let pool = match pool {
            Ok(p) => p,
            Err((addr, e)) => {
                failed.push(Failure {
                    index: t.index,
                    node,
                    why: format!("{addr}: {e}"),
                });
                continue;
            }
        };
        // Counted now, not when the attempt starts, so least-loaded sees
        // the rest of this batch spread over the nodes.
        add(&pool.stats.in_flight, 1);
        match groups.iter_mut().find(|g| g.node == node) {
            Some(g) => g.indices.push(t.index),
            None => groups.push(Group {
                node,
                pool,
                indices: vec![t.index],
            }),
        }
    }
    // The first group runs on this task; the others get tasks of their own
    // so every node is asked at once.
    let mut rest = groups.split_off(groups.len().min(1));
    let others: Vec<_> = rest
        .drain(..)
        .map(|g| glommio::spawn_local(attempt(lb.clone(), ops.clone(), g)))
        .collect();
    let mut done = Vec::with_capacity(others.len() + 1);
    if let Some(g) = groups.pop() {
        done.push(attempt(lb.clone(), ops.clone(), g).await);
    }
    for task in others {
        done.push(task.await);
    }
    for (group, replies, why) in done {
        let answered = replies.len();
        for (&i, r) in group.indices.iter().zip(replies) {
            answers[i] = Some(Answer::Reply(r));
        }
        if let Some(why) = why {
            failed.extend(group.indices[answered..].iter().map(|&index| Failure {
                index,
                node: group.node,
                why: format!("{}: {why}", group.pool.addr),
            }));
        }
    }
    failed
}

/// Send a group's requests on one pooled connection and read the replies.
/// Returns the group, the replies read (a prefix of the group on failure),
/// and why it failed, if it did.
async fn attempt(
    lb: Rc<Lb>,
    ops: Rc<[DataOp]>,
    group: Group,
) -> (Group, Vec<NodeReply>, Option<String>) {
    let pool = group.pool.clone();
    let n = group.indices.len() as u64;
    add(&pool.stats.forwarded, n as i64);
    add(&lb.counters.forwarded, n as i64);
    let mut replies = Vec::with_capacity(group.indices.len());
    let max_value = lb.cfg.args.max_value;
    let work = async {
        let mut c = pool.checkout().await.map_err(|e| format!("connect: {e}"))?;
        exchange(&mut c, &ops, &group.indices, max_value, &mut replies).await?;
        Ok::<Checkout, String>(c)
    };
    // One timer over the whole exchange; glommio's own socket timeouts
    // misbehave after a dropped read, and a dropped connection is never
    // reused, so nothing half-read survives the timeout.
    let timeout = lb.cfg.args.proxy_timeout;
    let outcome = glommio::timer::timeout(timeout, async { Ok(work.await) }).await;
    add(&pool.stats.in_flight, -(n as i64));
    let why = match outcome {
        Ok(Ok(c)) => {
            c.give_back();
            return (group, replies, None);
        }
        Ok(Err(why)) => why,
        Err(_) => format!("no reply within --proxy-timeout {timeout:?}"),
    };
    add(&pool.stats.failures, (n - replies.len() as u64) as i64);
    add(&lb.counters.node_failures, 1);
    pool.purge();
    suspect(&lb, &pool, group.node, &why);
    (group, replies, Some(why))
}

/// Write the requests at `indices` and read one reply each into `replies`.
/// On success the connection is in step and may be reused.
async fn exchange(
    c: &mut Checkout,
    ops: &[DataOp],
    indices: &[usize],
    max_value: usize,
    replies: &mut Vec<NodeReply>,
) -> Result<(), String> {
    let conn = c.conn();
    let mut req = Vec::new();
    for &i in indices {
        relay::encode_request(&ops[i], &mut req);
    }
    conn.stream
        .write_all(&req)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let buf = &mut conn.buf;
    buf.clear();
    let (mut start, mut end, mut skip) = (0usize, 0usize, 0usize);
    loop {
        // Take every complete reply in the buffer.
        loop {
            if skip > 0 {
                let d = skip.min(end - start);
                start += d;
                skip -= d;
                if skip > 0 {
                    break;
                }
            }
            if replies.len() == indices.len() {
                break;
            }
            let Some((used, r)) =
                relay::parse_reply(&buf[start..end], max_value).map_err(|e| e.to_string())?
            else {
                break;
            };
            start += used;
            let op = &ops[indices[replies.len()]];
            relay::to_client(op, &r).map_err(|e| e.to_string())?;
            if let NodeReply::TooLarge(len) = r {
                // Only the header was consumed: drop the body as it comes.
                skip = len + 2;
            }
            replies.push(r);
        }
        if replies.len() == indices.len() && skip == 0 {
            if start != end {
                return Err("node sent more replies than requests".into());
            }
            return Ok(());
        }
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if buf.len() - end < READ_CHUNK {
            buf.resize((buf.len() * 2).max(end + READ_CHUNK), 0);
        }
        let got = conn
            .stream
            .read(&mut buf[end..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if got == 0 {
            return Err("connection closed by the node".into());
        }
        end += got;
    }
}

/// A node failed an attempt: probe it now, so a dead node leaves the pool in
/// one round trip instead of at the next interval. One probe at a time per
/// node, and one log line per probe, not per failed request.
fn suspect(lb: &Rc<Lb>, pool: &Rc<NodePool>, node: NodeId, why: &str) {
    if pool.probing.replace(true) {
        log::debug!("forwarding to {} failed again: {why}", pool.addr);
        return;
    }
    log::warn!(
        "forwarding to {} failed: {why}; retrying elsewhere and probing it",
        pool.addr
    );
    let (lb, pool) = (lb.clone(), pool.clone());
    glommio::spawn_local(async move {
        probe::probe_node(lb, node).await;
        pool.probing.set(false);
    })
    .detach();
}
