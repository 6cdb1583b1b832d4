//! The command layer on one shard: each input line is an argv (split on
//! spaces) run through `cmd::table::admit` and its handler, as the node
//! runs shard commands. Every reply must be exactly one well-formed RESP
//! value in the connection's protocol, and the shard's books must agree.
//!
//! Input: 1 control byte (RESP2/RESP3), then lines. A line `+<ms>` moves
//! the clock, so TTLs expire mid-sequence.
#![no_main]

use cachectl::cmd::testing;
use cachectl::cmd::{admit, Flags, Run};
use cachectl::proto::Proto;
use cachectl_fuzz::{read_one, Value};
use libfuzzer_sys::fuzz_target;

/// Most commands run per input, so one input stays fast.
const MAX_COMMANDS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, script)) = data.split_first() else {
        return;
    };
    let proto = if ctl & 1 == 0 {
        Proto::Resp2
    } else {
        Proto::Resp3
    };
    let mut t = testing::run();
    // SETRANGE/SETBIT/APPEND can grow a value to `max_bulk`: keep that to a
    // size the fuzzer can afford thousands of times a second.
    t.max_bulk = 1 << 16;
    for line in script.split(|&b| b == b'\n').take(MAX_COMMANDS) {
        if let Some(ms) = line.strip_prefix(b"+") {
            let ms: u64 = std::str::from_utf8(ms)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            t.now = t.now.saturating_add(ms.min(1 << 40));
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        // Only what runs on a shard: connection and node commands need more.
        if let Ok((_, spec)) = admit(&argv, true) {
            if !matches!(spec.run, Run::Shard(_) | Run::Split(..)) {
                continue;
            }
        }
        let readonly = admit(&argv, true).is_ok_and(|(_, s)| s.flags.has(Flags::READONLY));
        let keys_before = t.shard.len();
        let out = t.reply(&argv, proto);
        let value = match read_one(&out, proto == Proto::Resp3) {
            Ok(v) => v,
            Err(e) => panic!(
                "{:?} replied {:?}: {e}",
                String::from_utf8_lossy(line),
                String::from_utf8_lossy(&out)
            ),
        };
        if let Err(e) = admit(&argv, true) {
            assert!(matches!(value, Value::Error(_)), "{e:?} but {value:?}");
            assert_eq!(t.shard.len(), keys_before);
        }
        // A read may reclaim an expired key, never add one.
        if readonly {
            assert!(
                t.shard.len() <= keys_before,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(t.shard.expiring_len() <= t.shard.len());
    }
});
