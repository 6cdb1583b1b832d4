//! Proxy mode on the node side, with no I/O: a [`DataOp`] as the RESP
//! request a node reads, the node's RESP reply parsed back, and that reply
//! mapped to the client's [`Reply`] (which `protocol::encode` then writes in
//! the client's own dialect).

use super::protocol::{first_line, DataOp, Reply, MAX_LINE};
use crate::proto::client::{self, Header};

/// What a client is told when a node's value exceeds `--max-value`.
pub const TOO_LARGE: &str = "value is larger than this LB's --max-value; read it from the node";

/// Append `op` as a RESP request.
pub fn encode_request(op: &DataOp, out: &mut Vec<u8>) {
    match op {
        DataOp::Get(k) | DataOp::Del(k) => client::command(out, &[op.name().as_bytes(), k]),
        DataOp::Set(k, v) => client::command(out, &[b"SET", k, v]),
    }
}

/// One RESP2 reply from a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeReply {
    /// `+text`
    Status(String),
    /// `-text` (with its `ERR`/`OOM` prefix)
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n` and its bytes
    Bulk(Vec<u8>),
    /// `$-1`
    Nil,
    /// A bulk of this many bytes, over the limit: only its header was
    /// consumed, and the caller must skip the bytes plus CRLF that follow.
    TooLarge(usize),
}

/// A node reply that cannot be relayed. The connection it came on is out
/// of step (or not talking to a cachectl node) and must be dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeReplyError {
    /// Not RESP2, or a header that is not a number.
    #[error("malformed reply from node: {0}")]
    Malformed(String),
    /// A well-formed reply of a kind this request never gets.
    #[error("unexpected reply to {0} from node")]
    Unexpected(&'static str),
}

/// Parse one reply from the front of `buf`. Bulks longer than `max_bulk`
/// come back as [`NodeReply::TooLarge`]. `Ok(None)` means incomplete.
///
/// # Errors
/// [`NodeReplyError::Malformed`] for bytes that are not a RESP2 reply to a
/// single-key command (arrays included: GET/SET/DEL never get one).
pub fn parse_reply(
    buf: &[u8],
    max_bulk: usize,
) -> Result<Option<(usize, NodeReply)>, NodeReplyError> {
    let malformed = || NodeReplyError::Malformed(first_line(buf));
    let (header, used) = match client::parse_header(buf) {
        Ok(Some(h)) => h,
        // A node's header lines are short: this one will never end.
        Ok(None) if buf.len() > MAX_LINE => return Err(malformed()),
        Ok(None) => return Ok(None),
        Err(_) => return Err(malformed()),
    };
    let text = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    let r = match header {
        Header::Simple(s) => NodeReply::Status(text(s)),
        Header::Error(e) => NodeReply::Error(text(e)),
        Header::Int(n) => NodeReply::Int(n),
        Header::Bulk(None) => NodeReply::Nil,
        Header::Bulk(Some(n)) if n > max_bulk => NodeReply::TooLarge(n),
        Header::Bulk(Some(_)) => {
            return match client::parse(buf) {
                Ok(Some((client::Reply::Bulk(Some(v)), used))) => {
                    Ok(Some((used, NodeReply::Bulk(v.to_vec()))))
                }
                Ok(None) => Ok(None),
                // The header parsed above, so only the body can be wrong.
                _ => Err(NodeReplyError::Malformed("bulk without CRLF".into())),
            };
        }
        // GET/SET/DEL never get an array.
        Header::Array(_) => return Err(malformed()),
    };
    Ok(Some((used, r)))
}

/// The client's reply to `op`, given the node's reply `r`.
///
/// # Errors
/// [`NodeReplyError::Unexpected`] when `r` is not a reply `op` gets (e.g. an
/// integer to a GET): the node connection is out of step.
pub fn to_client<'a>(op: &'a DataOp, r: &'a NodeReply) -> Result<Reply<'a>, NodeReplyError> {
    let key = op.key();
    Ok(match (op, r) {
        (_, NodeReply::Error(e)) => Reply::NodeError(e),
        (DataOp::Get(_), NodeReply::Bulk(v)) => Reply::Value { key, value: v },
        (DataOp::Get(_), NodeReply::Nil) => Reply::NotFound { key },
        (DataOp::Get(_), NodeReply::TooLarge(_)) => Reply::Error(TOO_LARGE),
        (DataOp::Set(..), NodeReply::Status(s)) if s == "OK" => Reply::Stored { key },
        (DataOp::Del(_), NodeReply::Int(n)) => Reply::Deleted { key, count: *n },
        _ => return Err(NodeReplyError::Unexpected(op.name())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(usize, NodeReply)>, NodeReplyError>;

    fn parse(buf: &[u8]) -> Parsed {
        parse_reply(buf, 16)
    }

    #[test]
    fn requests_are_resp_arrays() {
        let mut o = Vec::new();
        encode_request(&DataOp::Get(b"k".to_vec()), &mut o);
        encode_request(&DataOp::Set(b"k".to_vec(), b"a\r\nb".to_vec()), &mut o);
        encode_request(&DataOp::Del(b"k".to_vec()), &mut o);
        assert_eq!(
            o,
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n\
              *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
                .to_vec()
        );
    }

    #[test]
    fn reply_table() {
        let cases: Vec<(&[u8], Parsed)> = vec![
            (b"+OK\r\n", Ok(Some((5, NodeReply::Status("OK".into()))))),
            (
                b"-ERR x y\r\n",
                Ok(Some((10, NodeReply::Error("ERR x y".into())))),
            ),
            (b":1\r\n", Ok(Some((4, NodeReply::Int(1))))),
            (b"$-1\r\n", Ok(Some((5, NodeReply::Nil)))),
            (b"$0\r\n\r\n", Ok(Some((6, NodeReply::Bulk(vec![]))))),
            (
                b"$4\r\na\r\nb\r\n+OK",
                Ok(Some((10, NodeReply::Bulk(b"a\r\nb".to_vec())))),
            ),
            (b"$17\r\n", Ok(Some((5, NodeReply::TooLarge(17))))),
            (b"$4\r\nab", Ok(None)),
            (b"+O", Ok(None)),
            (b"", Ok(None)),
            (b":x\r\n", Err(NodeReplyError::Malformed(":x".into()))),
            (b"$-2\r\n", Err(NodeReplyError::Malformed("$-2".into()))),
            (b"*1\r\n", Err(NodeReplyError::Malformed("*1".into()))),
            (
                b"$2\r\nabcd",
                Err(NodeReplyError::Malformed("bulk without CRLF".into())),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "{:?}", String::from_utf8_lossy(input));
        }
        assert!(
            parse(&[b'+'; MAX_LINE + 1]).is_err(),
            "a line that never ends"
        );
    }

    #[test]
    fn replies_map_to_the_request() {
        let get = DataOp::Get(b"k".to_vec());
        let set = DataOp::Set(b"k".to_vec(), b"v".to_vec());
        let del = DataOp::Del(b"k".to_vec());
        let bulk = NodeReply::Bulk(b"v".to_vec());
        assert!(matches!(
            to_client(&get, &bulk),
            Ok(Reply::Value { value: b"v", .. })
        ));
        assert!(matches!(
            to_client(&get, &NodeReply::Nil),
            Ok(Reply::NotFound { key: b"k" })
        ));
        assert!(matches!(
            to_client(&get, &NodeReply::TooLarge(99)),
            Ok(Reply::Error(TOO_LARGE))
        ));
        let ok = NodeReply::Status("OK".into());
        assert!(matches!(to_client(&set, &ok), Ok(Reply::Stored { .. })));
        assert!(matches!(
            to_client(&del, &NodeReply::Int(0)),
            Ok(Reply::Deleted { count: 0, .. })
        ));
        let oom = NodeReply::Error("OOM no room".into());
        assert!(matches!(
            to_client(&set, &oom),
            Ok(Reply::NodeError("OOM no room"))
        ));
        for (op, r) in [(&get, &NodeReply::Int(1)), (&set, &bulk), (&del, &ok)] {
            assert_eq!(
                to_client(op, r).unwrap_err(),
                NodeReplyError::Unexpected(op.name())
            );
        }
    }
}
