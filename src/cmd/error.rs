//! Errors from turning arguments into a command, with Redis 7's exact texts.

/// A request that parsed as RESP but is not a valid command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    /// Unknown command name. Carries Redis's message as raw bytes, because
    /// Redis echoes the client's bytes verbatim (it need not be UTF-8).
    #[error("{}", String::from_utf8_lossy(.0))]
    Unknown(Vec<u8>),
    /// DECRBY of i64::MIN, whose negation overflows.
    #[error("ERR decrement would overflow")]
    DecrOverflow,
    /// Wrong number of arguments.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(&'static str),
    /// Bad option combination.
    #[error("ERR syntax error")]
    Syntax,
    /// An argument that must be an integer is not.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An expire time that is zero, negative or overflows.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpire(&'static str),
    /// SELECT of a database other than 0.
    #[error("ERR DB index is out of range")]
    DbIndex,
    /// Unknown subcommand of CLIENT / COMMAND / CONFIG.
    #[error("ERR unknown subcommand '{sub}'. Try {cmd} HELP.")]
    UnknownSub {
        /// The subcommand as sent.
        sub: String,
        /// The command, upper-case.
        cmd: String,
    },
    /// CLIENT SETNAME with a blank or control character.
    #[error("ERR Client names cannot contain spaces, newlines or special characters.")]
    ClientName,
    /// NX and GT/LT together, as Redis words it.
    #[error("ERR NX and XX, GT or LT options at the same time are not compatible")]
    ExpireFlags,
    /// GT and LT together.
    #[error("ERR GT and LT options at the same time are not compatible")]
    GtLt,
    /// An EXPIRE flag that does not exist.
    #[error("ERR Unsupported option {0}")]
    UnsupportedOption(String),
    /// A command other than AUTH/HELLO/QUIT before authenticating.
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    /// A command on keys that live on different cores, which this node
    /// cannot yet run as one.
    #[error("ERR the keys of this command live on different cores")]
    CrossCore,
    /// A command this node cannot run inside MULTI.
    #[error("ERR '{0}' inside MULTI is not supported by this node")]
    NotInMulti(&'static str),
    /// HELLO's protocol version is not an integer.
    #[error("ERR Protocol version is not an integer or out of range")]
    HelloVersion,
    /// HELLO asked for a protocol other than 2 or 3.
    #[error("NOPROTO unsupported protocol version")]
    NoProto,
    /// A HELLO option that does not exist, or lacks its arguments.
    #[error("ERR Syntax error in HELLO option '{0}'")]
    HelloOption(String),
}

/// Redis prints names and args with `%.128s` after lossy conversion.
pub(crate) fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(128)]);
    s.replace(['\r', '\n'], " ")
}

/// An argument as C's `%.Ns` prints it: cut at the first NUL, at most `n`
/// bytes, with CR/LF turned into spaces (an error line cannot hold them).
fn c_str(bytes: &[u8], n: usize) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().take_while(|&&b| b != 0).take(n).map(|&b| {
        if b == b'\r' || b == b'\n' {
            b' '
        } else {
            b
        }
    })
}

/// Build an unknown-command error byte for byte as Redis 7 does:
/// `'%.128s'` for the name, then each argument as `'%.*s' ` while the list
/// is shorter than 128 bytes, each cut to what is left of those 128.
pub fn unknown(name: &[u8], rest: &[&[u8]]) -> CmdError {
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend(c_str(name, 128));
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut args: Vec<u8> = Vec::new();
    for a in rest {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend(c_str(a, room));
        args.extend_from_slice(b"' ");
    }
    msg.extend_from_slice(&args);
    CmdError::Unknown(msg)
}

impl CmdError {
    /// An unknown subcommand of `container` (whose name is lower-case).
    pub fn subcommand(sub: &[u8], container: &str) -> CmdError {
        CmdError::UnknownSub {
            sub: show(sub),
            cmd: container.to_ascii_uppercase(),
        }
    }

    /// The error line to send (without `-` and CRLF).
    pub fn reply_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            CmdError::Unknown(raw) => std::borrow::Cow::Borrowed(raw),
            other => std::borrow::Cow::Owned(other.to_string().into_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_redis() {
        assert_eq!(
            unknown(b"bad\xff", &[b"a\x00b"]).reply_bytes().as_ref(),
            b"ERR unknown command 'bad\xff', with args beginning with: 'a' "
        );
        assert_eq!(
            unknown(b"foo", &[b"a", b"b"]).to_string(),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            unknown(b"foo", &[]).to_string(),
            "ERR unknown command 'foo', with args beginning with: "
        );
        assert_eq!(
            CmdError::Arity("get").to_string(),
            "ERR wrong number of arguments for 'get' command"
        );
    }
}
