//! Errors from turning arguments into a command, with Redis 7's exact texts.

/// A request that parsed as RESP but is not a valid command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CmdError {
    /// Unknown command name; carries the pre-formatted Redis message.
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    Unknown {
        /// The name as sent (lossy UTF-8, truncated).
        name: String,
        /// `'a' 'b' ` as Redis lists them.
        args: String,
    },
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
        cmd: &'static str,
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
}

/// Redis prints names and args with `%.128s` after lossy conversion.
pub(crate) fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(128)]);
    s.replace(['\r', '\n'], " ")
}

/// Build an unknown-command error the way Redis 7 words it.
pub fn unknown(name: &[u8], rest: &[&[u8]]) -> CmdError {
    let mut args = String::new();
    for a in rest {
        // Redis stops listing once the message would exceed 128 chars of args.
        if args.len() >= 128 {
            break;
        }
        args.push('\'');
        args.push_str(&show(a));
        args.push_str("' ");
    }
    CmdError::Unknown {
        name: show(name),
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_redis() {
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
