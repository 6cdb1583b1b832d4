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
//! retried once, on another healthy node when there is one — all but the
//! writes that must not be (below). A second failure
//! answers them with an error; a client never waits longer than two
//! timeouts. The failed node is probed at once (not at the next interval),
//! so a dead one leaves the pool after one round trip even without a
//! registration link.
//!
//! Whether a failed request may be retried depends on what the failure
//! says about it ([`Outcome`]). A node that closed the connection (reset,
//! EOF, refused) either died, taking what it applied with it, or was
//! draining, and a draining node answers everything it read: an unanswered
//! request there was not applied, or is gone. A timeout after the request
//! was written, or a reply out of step, says nothing: the node may have
//! applied it, or may still apply it (a hung node reads it when it
//! resumes). GETs are retried either way. With `--route policy` so are
//! SETs and DELs: nodes there are independent caches and a write may land
//! on any of them. With `--route key` a write whose outcome is unknown is
//! *not* retried: it is answered with an error saying it may have been
//! applied. Retried on another node it would be applied twice: a DEL's
//! count would come from a node that never had the key, and the other node
//! would keep a copy that turns stale and is read as soon as the key's own
//! node leaves the pool.
//!
//! [`Route`]: super::registry::Route

use super::pool::{Checkout, NodePool};
use super::probe;
use super::protocol::DataOp;
use super::registry::{NodeId, Route};
use super::relay::{self, NodeReply};
use super::state::add;
use super::state::Lb;
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

/// What a failed attempt says about the requests it did not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Not applied, or lost with the node: they were never written, or the
    /// node closed the connection (see the module docs).
    NotApplied,
    /// They may have been applied, or may still be: a timeout after the
    /// write, or a connection out of step.
    Unknown,
}

/// Why an attempt failed, and what that says about its requests.
struct AttemptError {
    why: String,
    outcome: Outcome,
}

impl AttemptError {
    fn unknown(why: impl Into<String>) -> AttemptError {
        AttemptError {
            why: why.into(),
            outcome: Outcome::Unknown,
        }
    }

    /// A socket error: a closed connection proves the node is gone or
    /// closed it; anything else (a retransmission timeout, ...) does not.
    fn io(what: &str, e: &std::io::Error) -> AttemptError {
        use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, NotConnected};
        let outcome = match e.kind() {
            ConnectionReset | BrokenPipe | ConnectionAborted | NotConnected => Outcome::NotApplied,
            _ => Outcome::Unknown,
        };
        AttemptError {
            why: format!("{what}: {e}"),
            outcome,
        }
    }
}

/// A request whose attempt failed.
struct Failure {
    index: usize,
    node: NodeId,
    why: String,
    outcome: Outcome,
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
    let mut retry: Vec<Todo> = Vec::with_capacity(failed.len());
    for f in failed {
        if may_retry(lb.cfg.args.route, &ops[f.index], f.outcome) {
            retry.push(Todo {
                index: f.index,
                avoid: Some(f.node),
            });
        } else {
            answers[f.index] = Some(Answer::Failed(format!(
                "{}; the {} may have been applied there, so it was not retried",
                f.why,
                ops[f.index].name()
            )));
        }
    }
    add(&lb.counters.retries, retry.len() as i64);
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

/// Whether a request whose attempt failed with `outcome` may be sent again.
fn may_retry(route: Route, op: &DataOp, outcome: Outcome) -> bool {
    matches!(op, DataOp::Get(_)) || route == Route::Policy || outcome == Outcome::NotApplied
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
                    .get_or_open(n.id, &n.addr, n.resolved)
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
                    // Nothing was sent.
                    outcome: Outcome::NotApplied,
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
    for (group, replies, error) in done {
        let answered = replies.len();
        for (&i, r) in group.indices.iter().zip(replies) {
            answers[i] = Some(Answer::Reply(r));
        }
        if let Some(e) = error {
            failed.extend(group.indices[answered..].iter().map(|&index| Failure {
                index,
                node: group.node,
                why: format!("{}: {}", group.pool.addr, e.why),
                outcome: e.outcome,
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
) -> (Group, Vec<NodeReply>, Option<AttemptError>) {
    let pool = group.pool.clone();
    let n = group.indices.len() as u64;
    add(&pool.stats.forwarded, n as i64);
    add(&lb.counters.forwarded, n as i64);
    let mut replies = Vec::with_capacity(group.indices.len());
    let max_value = lb.cfg.args.max_value;
    // Set once the first request byte may have left: from then on a
    // timeout cannot tell whether the node applied the requests.
    let sent = std::cell::Cell::new(false);
    let work = async {
        let mut c = pool.checkout().await.map_err(|e| AttemptError {
            why: format!("connect: {e}"),
            outcome: Outcome::NotApplied,
        })?;
        exchange(&mut c, &ops, &group.indices, max_value, &mut replies, &sent).await?;
        Ok::<Checkout, AttemptError>(c)
    };
    // One timer over the whole exchange; glommio's own socket timeouts
    // misbehave after a dropped read, and a dropped connection is never
    // reused, so nothing half-read survives the timeout.
    let timeout = lb.cfg.args.proxy_timeout;
    let result = glommio::timer::timeout(timeout, async { Ok(work.await) }).await;
    add(&pool.stats.in_flight, -(n as i64));
    let error = match result {
        Ok(Ok(c)) => {
            c.give_back();
            return (group, replies, None);
        }
        Ok(Err(e)) => e,
        Err(_) => AttemptError {
            why: format!("no reply within --proxy-timeout {timeout:?}"),
            outcome: if sent.get() {
                Outcome::Unknown
            } else {
                Outcome::NotApplied
            },
        },
    };
    add(&pool.stats.failures, (n - replies.len() as u64) as i64);
    add(&lb.counters.node_failures, 1);
    pool.purge();
    suspect(&lb, &pool, group.node, &error.why);
    (group, replies, Some(error))
}

/// Write the requests at `indices` and read one reply each into `replies`.
/// On success the connection is in step and may be reused.
async fn exchange(
    c: &mut Checkout,
    ops: &[DataOp],
    indices: &[usize],
    max_value: usize,
    replies: &mut Vec<NodeReply>,
    sent: &std::cell::Cell<bool>,
) -> Result<(), AttemptError> {
    let conn = c.conn();
    let mut req = Vec::new();
    for &i in indices {
        relay::encode_request(&ops[i], &mut req);
    }
    sent.set(true);
    conn.stream
        .write_all(&req)
        .await
        .map_err(|e| AttemptError::io("write", &e))?;
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
            let Some((used, r)) = relay::parse_reply(&buf[start..end], max_value)
                .map_err(|e| AttemptError::unknown(e.to_string()))?
            else {
                break;
            };
            start += used;
            let op = &ops[indices[replies.len()]];
            relay::to_client(op, &r).map_err(|e| AttemptError::unknown(e.to_string()))?;
            if let NodeReply::TooLarge(len) = r {
                // Only the header was consumed: drop the body as it comes.
                skip = len + 2;
            }
            replies.push(r);
        }
        if replies.len() == indices.len() && skip == 0 {
            if start != end {
                return Err(AttemptError::unknown(
                    "node sent more replies than requests",
                ));
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
            .map_err(|e| AttemptError::io("read", &e))?;
        if got == 0 {
            return Err(AttemptError {
                why: "connection closed by the node".into(),
                outcome: Outcome::NotApplied,
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_of_unknown_outcome_under_key_routing_stay_unretried() {
        let get = DataOp::Get(b"k".to_vec());
        let set = DataOp::Set(b"k".to_vec(), b"v".to_vec());
        let del = DataOp::Del(b"k".to_vec());
        for route in [Route::Policy, Route::Key] {
            for op in [&get, &set, &del] {
                assert!(
                    may_retry(route, op, Outcome::NotApplied),
                    "{route:?} {op:?}"
                );
            }
            assert!(
                may_retry(route, &get, Outcome::Unknown),
                "{route:?}: GET is idempotent"
            );
        }
        assert!(may_retry(Route::Policy, &set, Outcome::Unknown));
        assert!(may_retry(Route::Policy, &del, Outcome::Unknown));
        assert!(!may_retry(Route::Key, &set, Outcome::Unknown));
        assert!(!may_retry(Route::Key, &del, Outcome::Unknown));
    }

    #[test]
    fn a_closed_connection_proves_more_than_other_socket_errors() {
        use std::io::{Error, ErrorKind};
        for kind in [ErrorKind::ConnectionReset, ErrorKind::BrokenPipe] {
            let e = AttemptError::io("read", &Error::from(kind));
            assert_eq!(e.outcome, Outcome::NotApplied, "{kind:?}");
        }
        let e = AttemptError::io("read", &Error::from(ErrorKind::TimedOut));
        assert_eq!(e.outcome, Outcome::Unknown);
        assert!(e.why.starts_with("read: "), "{}", e.why);
    }
}
