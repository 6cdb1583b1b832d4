//! Requests → command rows → handlers → replies.
//!
//! Every command is one [`Spec`] row in its family's table (`string`,
//! `bits`, `keyspace`, `server`, `node`, `pubsub`) naming one handler.
//! [`table::admit`] finds the row in constant time and makes Redis's checks
//! (arity, key positions, authentication). The row's key positions say which core owns
//! the command; its [`Run`] says how it runs there:
//! - [`Run::Shard`]: on the owner's shard, writing its reply through a
//!   [`Reply`](crate::proto::Reply) writer (RESP2, RESP3 or the line
//!   protocol alike);
//! - [`Run::Split`]: a multi-key command cut into key groups, each run on
//!   its own owner, their [`Part`]s merged by [`merge`];
//! - [`Run::Conn`]: on the connection's core, with no shard ([`Conn`]);
//! - [`Run::Node`]: coordinated by the node itself (transactions and
//!   whole-node commands).
//!
//! Commands bound for another core travel in an [`OpBatch`], which carries
//! their bytes.

pub mod batch;
pub mod bits;
pub mod blocking;
pub mod blocking_list;
pub mod client;
pub mod cluster;
pub mod coll;
pub mod docs;
pub mod dump;
pub mod error;
pub mod hash;
pub mod help;
pub mod keyspace;
pub mod list;
pub mod merge;
pub mod node;
pub mod pubsub;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod spec;
pub mod string;
pub mod table;
pub mod zset;
// Unit tests and the fuzz targets (fuzz/, `fuzzing` feature) share this
// one path from argv to a handler on a shard.
#[cfg(any(test, feature = "fuzzing"))]
pub mod testing;

pub use batch::OpBatch;
pub use client::{Client, Conn, Server};
pub use error::CmdError;
pub use spec::{Ctx, Flags, Keys, Merge, NodeCmd, Part, PubsubCmd, Run, Spec};
pub use table::{admit, Id};

use crate::proto::Reply;
use crate::store::{parse_i64, StoreError};

/// Write `e` as the error reply.
pub fn fail(w: &mut Reply<'_>, e: CmdError) {
    w.error_bytes(&e.reply_bytes());
}

/// Write a store failure as the error reply.
pub fn store_fail(w: &mut Reply<'_>, e: StoreError) {
    w.error(&e.to_string());
}

/// An argument that must be an integer, as Redis's `string2ll` reads it.
///
/// # Errors
/// [`CmdError::NotInteger`].
pub fn int(b: &[u8]) -> Result<i64, CmdError> {
    parse_i64(b).ok_or(CmdError::NotInteger)
}
