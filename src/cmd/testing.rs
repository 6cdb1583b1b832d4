//! A shard and a way to run command lines on it, for the families' unit
//! tests: the whole path below the node (lookup, arity, handler, merge).

use super::spec::{Ctx, Run};
use super::table;
use crate::proto::{Proto, Reply};
use crate::store::{Shard, ShardConfig};

/// A shard at a fixed time.
pub struct Bench {
    /// The shard.
    pub shard: Shard,
    /// Node-clock ms.
    pub now: u64,
    /// Unix ms at node-clock zero.
    pub epoch_unix_ms: u64,
    /// `proto-max-bulk-len` the commands see (Redis's default, 512 MiB).
    pub max_bulk: usize,
}

/// A fresh shard at node time 1000, Unix time 1,700,000,000,000 + 1000.
pub fn run() -> Bench {
    Bench {
        shard: Shard::new(ShardConfig::default()),
        now: 1000,
        epoch_unix_ms: 1_700_000_000_000,
        max_bulk: 512 << 20,
    }
}

impl Bench {
    /// Run one command line (arguments split on spaces), RESP2.
    pub fn cmd(&mut self, line: &str) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.args(&args, Proto::Resp2)
    }

    /// Run one command, in `proto`.
    pub fn args(&mut self, args: &[&[u8]], proto: Proto) -> String {
        String::from_utf8_lossy(&self.reply(args, proto)).into_owned()
    }

    /// Run one command, in `proto`, and return its reply's exact bytes.
    ///
    /// # Panics
    /// On a command that needs a connection or a node (`Run::Conn`,
    /// `Run::Node`): there is only a shard here.
    pub fn reply(&mut self, args: &[&[u8]], proto: Proto) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Reply::new(&mut out, proto);
        match table::admit(args, true) {
            Err(e) => super::fail(&mut w, e),
            Ok((_, spec)) => {
                let mut ctx = Ctx {
                    shard: &mut self.shard,
                    now: self.now,
                    epoch_unix_ms: self.epoch_unix_ms,
                    max_bulk: self.max_bulk,
                    span: None,
                    on_change: None,
                    blocking: Default::default(),
                };
                match spec.run {
                    Run::Shard(f) => f(&mut ctx, args, &mut w),
                    Run::Split(part, how) => {
                        let pos = spec.keys.positions(args).expect("admitted");
                        let proto = w.proto();
                        super::merge::run_all(
                            args,
                            pos,
                            spec.keys.step as usize,
                            how,
                            |group, buf| part(&mut ctx, group, &mut Reply::new(buf, proto)),
                            &mut w,
                        );
                    }
                    Run::Conn(_) | Run::Node(_) => panic!("{} needs a node", spec.name),
                }
            }
        }
        out
    }
}
