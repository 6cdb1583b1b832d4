//! The bit commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP) and LCS:
//! their rows and handlers, checking arguments in Redis 7.0's order.
//!
//! That order is not "parse everything, then run": BITCOUNT and BITPOS
//! answer a missing key before they read the range (so `BITCOUNT nokey x y`
//! is 0), BITPOS reads its unit before its end, and LCS looks both keys up
//! before it reads its options. The arithmetic is in [`crate::store::bits`]
//! and [`crate::store::lcs`]; every key is looked up as Redis's
//! `lookupKeyRead` does ([`Shard::get`](crate::store::Shard::get): a hit or
//! a miss, and a use for the LRU).

use super::error::CmdError;
use super::spec::{Ctx, Flags, Keys, Run, Spec, READ_FAST, WRITE_GROW};
use super::{fail, int};
use crate::proto::Reply;
use crate::store::bits::{self, parse_bit_offset, parse_bit_value, parse_bitpos_bit};
use crate::store::lcs::lcs as lcs_table;
use crate::store::{BitError, BitOp, BitposRange, LcsError, StoreError, Unit};

/// BITOP's keys: the destination and every source.
const BITOP_KEYS: Keys = Keys {
    first: 2,
    last: -1,
    step: 1,
    counted: 0,
};

/// LCS's two keys.
const LCS_KEYS: Keys = Keys {
    first: 1,
    last: 2,
    step: 1,
    counted: 0,
};

/// The bit family.
pub const COMMANDS: &[Spec] = &[
    Spec::new("setbit", 4, WRITE_GROW, Keys::ONE, Run::Shard(setbit)),
    Spec::new("getbit", 3, READ_FAST, Keys::ONE, Run::Shard(getbit)),
    Spec::new(
        "bitcount",
        -2,
        Flags::READONLY,
        Keys::ONE,
        Run::Shard(bitcount),
    ),
    Spec::new("bitpos", -3, Flags::READONLY, Keys::ONE, Run::Shard(bitpos)),
    Spec::new("bitop", -4, WRITE_GROW, BITOP_KEYS, Run::Shard(bitop)),
    Spec::new("lcs", -3, Flags::READONLY, LCS_KEYS, Run::Shard(lcs)),
];

/// Why one of these commands refused to run, each with Redis's text.
#[derive(Debug, thiserror::Error)]
enum Refused {
    /// A generic argument error (syntax, not an integer).
    #[error(transparent)]
    Cmd(#[from] CmdError),
    /// A bit command's own argument errors.
    #[error(transparent)]
    Bit(#[from] BitError),
    /// LCS cannot build its table.
    #[error(transparent)]
    Lcs(#[from] LcsError),
    /// The shard refused the write (maxmemory).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// LCS of a key that holds another type than a string.
    #[error("ERR The specified keys must contain string values")]
    LcsTypes,
    /// LCS with both LEN and IDX.
    #[error("ERR If you want both the length and indexes, please just use IDX.")]
    LenAndIdx,
}

/// Write the reply of a handler that failed before writing anything.
fn answer(w: &mut Reply<'_>, r: Result<(), Refused>) {
    match r {
        Ok(()) => {}
        Err(Refused::Cmd(e)) => fail(w, e),
        Err(e) => w.error(&e.to_string()),
    }
}

/// SETBIT key offset value: the bit it replaced.
fn setbit(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| -> Result<(), Refused> {
        let offset = parse_bit_offset(args[2], ctx.max_bulk)?;
        let bit = parse_bit_value(args[3])?;
        let key = args[1];
        // Redis 7 signals the key only when SETBIT created it, grew it or
        // flipped the bit. The length is read without counting a lookup or
        // using the key.
        let grows = ctx
            .shard
            .peek_len(key, ctx.now)
            .is_none_or(|len| len as u64 <= offset >> 3);
        let old = ctx.shard.setbit(key, offset, bit, ctx.now)?;
        if grows || old != bit {
            ctx.changed(key);
        }
        w.int(i64::from(old));
        Ok(())
    })();
    answer(w, r);
}

/// GETBIT key offset: the offset is checked before the key is looked up.
fn getbit(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| -> Result<(), Refused> {
        let offset = parse_bit_offset(args[2], ctx.max_bulk)?;
        let bit = ctx
            .shard
            .get(args[1], ctx.now)?
            .map_or(0, |v| bits::getbit(v, offset));
        w.int(i64::from(bit));
        Ok(())
    })();
    answer(w, r);
}

/// BITCOUNT's arguments after the key: none, or `start end [BYTE|BIT]`.
/// Both ends are read before the unit.
fn bitcount_range(rest: &[&[u8]]) -> Result<Option<(i64, i64, Unit)>, CmdError> {
    match rest {
        [] => Ok(None),
        [start, end, unit @ ..] if unit.len() <= 1 => {
            let (start, end) = (int(start)?, int(end)?);
            let unit = match unit.first() {
                Some(u) => Unit::parse(u).ok_or(CmdError::Syntax)?,
                None => Unit::Byte,
            };
            Ok(Some((start, end, unit)))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]: a missing key is 0 whatever
/// follows it.
fn bitcount(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| -> Result<(), Refused> {
        let Some(v) = ctx.shard.get(args[1], ctx.now)? else {
            w.int(0);
            return Ok(());
        };
        let range = bitcount_range(&args[2..])?;
        w.int(bits::bitcount(v, range) as i64);
        Ok(())
    })();
    answer(w, r);
}

/// BITPOS's arguments after the bit: none, `start`, `start end` or
/// `start end BYTE|BIT`. Redis reads the start, then the unit, then the
/// end, so `0 x bogus` is a syntax error, not a bad integer.
fn bitpos_range(rest: &[&[u8]]) -> Result<BitposRange, CmdError> {
    if rest.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let Some(start) = rest.first() else {
        return Ok(BitposRange::All);
    };
    let start = int(start)?;
    let unit = match rest.get(2) {
        Some(u) => Unit::parse(u).ok_or(CmdError::Syntax)?,
        None => Unit::Byte,
    };
    match rest.get(1) {
        Some(end) => Ok(BitposRange::Between(start, int(end)?, unit)),
        None => Ok(BitposRange::From(start)),
    }
}

/// BITPOS key bit [start [end [BYTE|BIT]]]: the bit is checked first, then
/// a missing key is answered (endless zeros) before the range is read.
fn bitpos(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| -> Result<(), Refused> {
        let bit = parse_bitpos_bit(args[2])?;
        let Some(v) = ctx.shard.get(args[1], ctx.now)? else {
            w.int(bits::bitpos_missing(bit));
            return Ok(());
        };
        let range = bitpos_range(&args[3..])?;
        w.int(bits::bitpos(v, bit, range));
        Ok(())
    })();
    answer(w, r);
}

/// BITOP op dest src [src ...]: the result's length. The operation and
/// NOT's single source are checked before any key is looked up; an empty
/// result deletes the destination.
fn bitop(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| -> Result<(), Refused> {
        let op = BitOp::parse(args[1]).ok_or(CmdError::Syntax)?;
        let (dest, srcs) = (args[2], &args[3..]);
        op.check_sources(srcs.len())?;
        let now = ctx.now;
        // Copied out: each source may live on another shard, and every
        // lookup needs its shard mutably.
        let result = {
            let values = srcs
                .iter()
                .map(|k| {
                    let v = ctx.shard_of(k).get(k, now)?;
                    Ok(v.map(<[u8]>::to_vec).unwrap_or_default())
                })
                .collect::<Result<Vec<Vec<u8>>, StoreError>>()?;
            let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            bits::bitop(op, &refs)?
        };
        let shard = ctx.shard_of(dest);
        // Deleting a key that is not there changes nothing a WATCH sees.
        let existed = result.is_empty() && shard.exists(dest, now);
        let len = shard.store_or_delete(dest, result, now)?;
        if len > 0 || existed {
            ctx.changed(dest);
        }
        w.int(len as i64);
        Ok(())
    })();
    answer(w, r);
}

/// LCS's options.
#[derive(Debug, Default, PartialEq, Eq)]
struct LcsOpts {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: i64,
}

/// Parse LCS's options (after the keys), in order: an unknown word, or
/// MINMATCHLEN without a number after it, is a syntax error where it
/// stands; LEN with IDX is refused only once all are read.
fn lcs_opts(opts: &[&[u8]]) -> Result<LcsOpts, Refused> {
    let mut o = LcsOpts::default();
    let mut i = 0;
    while i < opts.len() {
        let opt = opts[i];
        if opt.eq_ignore_ascii_case(b"idx") {
            o.idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            o.len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            o.with_match_len = true;
        } else if let (true, Some(n)) = (opt.eq_ignore_ascii_case(b"minmatchlen"), opts.get(i + 1))
        {
            o.min_match_len = int(n)?;
            i += 1;
        } else {
            return Err(CmdError::Syntax.into());
        }
        i += 1;
    }
    if o.idx && o.len {
        return Err(Refused::LenAndIdx);
    }
    Ok(o)
}

/// LCS a b [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the common
/// subsequence, its length, or (IDX) a map of its matching runs and its
/// length. Both keys are looked up before the options are read.
fn lcs(ctx: &mut Ctx<'_>, args: &[&[u8]], w: &mut Reply<'_>) {
    let r = (|| -> Result<(), Refused> {
        let (now, max_bulk) = (ctx.now, ctx.max_bulk);
        // Copied so that the second lookup, perhaps on another shard, can
        // borrow mutably; the table costs four times more than both strings.
        // Both are looked up (a hit or miss each) before either's type is
        // checked, and another type gets LCS's own error, not WRONGTYPE.
        let a = ctx
            .shard_of(args[1])
            .get(args[1], now)
            .map(|v| v.map(<[u8]>::to_vec));
        let b = ctx.shard_of(args[2]).get(args[2], now);
        let (Ok(a), Ok(b)) = (a, b) else {
            return Err(Refused::LcsTypes);
        };
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        let o = lcs_opts(&args[3..])?;
        let table = lcs_table(&a, b, max_bulk)?;
        if o.idx {
            let matches = table.matches(o.min_match_len);
            w.map(2);
            w.bulk(b"matches");
            w.array(matches.len());
            for m in matches {
                w.array(2 + usize::from(o.with_match_len));
                for (start, end) in [m.a, m.b] {
                    w.array(2);
                    w.int(i64::from(start));
                    w.int(i64::from(end));
                }
                if o.with_match_len {
                    w.int(i64::from(m.len));
                }
            }
            w.bulk(b"len");
            w.int(i64::from(table.len()));
        } else if o.len {
            w.int(i64::from(table.len()));
        } else {
            w.bulk(&table.string());
        }
        Ok(())
    })();
    answer(w, r);
}

#[cfg(test)]
mod tests {
    use super::super::spec::Span;
    use super::super::table;
    use super::super::testing::run;
    use super::*;
    use crate::proto::Proto;
    use crate::store::{Shard, ShardConfig};

    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    const SYNTAX: &str = "-ERR syntax error\r\n";
    const OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";

    /// Run one command line on `ctx`, in `proto`.
    fn exec(ctx: &mut Ctx<'_>, line: &str, proto: Proto) -> String {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let (_, spec) = table::admit(&args, true).expect("admitted");
        let Run::Shard(f) = spec.run else {
            panic!("{} is not a shard command", spec.name)
        };
        let mut out = Vec::new();
        f(ctx, &args, &mut Reply::new(&mut out, proto));
        String::from_utf8_lossy(&out).into_owned()
    }

    /// A context on `shard` with `max_bulk`, telling `seen` what changed.
    fn ctx<'a>(
        shard: &'a mut Shard,
        max_bulk: usize,
        seen: &'a mut crate::cmd::spec::OnChange<'a>,
    ) -> Ctx<'a> {
        Ctx {
            shard,
            span: None,
            now: 1000,
            epoch_unix_ms: 0,
            max_bulk,
            on_change: Some(seen),
            blocking: Default::default(),
        }
    }

    #[test]
    fn rows_as_command_info_shows_them() {
        let row = |n: &str| table::lookup(n.as_bytes()).expect(n).1;
        let shape = |n: &str| {
            let s = row(n);
            let flags: Vec<_> = s.flags.names().collect();
            (s.arity, flags, s.keys.first, s.keys.last, s.keys.step)
        };
        assert_eq!(shape("setbit"), (4, vec!["write", "denyoom"], 1, 1, 1));
        assert_eq!(shape("getbit"), (3, vec!["readonly", "fast"], 1, 1, 1));
        assert_eq!(shape("bitcount"), (-2, vec!["readonly"], 1, 1, 1));
        assert_eq!(shape("bitpos"), (-3, vec!["readonly"], 1, 1, 1));
        assert_eq!(shape("bitop"), (-4, vec!["write", "denyoom"], 2, -1, 1));
        assert_eq!(shape("lcs"), (-3, vec!["readonly"], 1, 2, 1));
    }

    #[test]
    fn setbit_and_getbit() {
        let mut t = run();
        assert_eq!(t.cmd("setbit k 7 1"), ":0\r\n");
        assert_eq!(t.cmd("setbit k 7 1"), ":1\r\n");
        assert_eq!(t.cmd("get k"), "$1\r\n\x01\r\n");
        assert_eq!(t.cmd("getbit k 7"), ":1\r\n");
        assert_eq!(t.cmd("getbit k 6"), ":0\r\n");
        assert_eq!(t.cmd("getbit k 4294967295"), ":0\r\n");
        assert_eq!(t.cmd("setbit k 7 0"), ":1\r\n");
        assert_eq!(t.cmd("setbit k 15 1"), ":0\r\n");
        assert_eq!(t.cmd("get k"), "$2\r\n\x00\x01\r\n");
        assert_eq!(t.cmd("getbit nokey 3"), ":0\r\n");
        // The offset is checked first, then the value; GETBIT checks the
        // offset even for a missing key.
        for bad in ["x", "-1", "+1", "01", "4294967296"] {
            assert_eq!(t.cmd(&format!("setbit k {bad} 2")), OFFSET, "{bad}");
            assert_eq!(t.cmd(&format!("getbit nokey {bad}")), OFFSET, "{bad}");
        }
        let bit = "-ERR bit is not an integer or out of range\r\n";
        for bad in ["2", "-1", "x", "01", "-0"] {
            assert_eq!(t.cmd(&format!("setbit k 1 {bad}")), bit, "{bad}");
        }
        assert_eq!(
            t.cmd("setbit k 1"),
            "-ERR wrong number of arguments for 'setbit' command\r\n"
        );
        assert_eq!(t.cmd("exists nokey"), ":0\r\n");
    }

    #[test]
    fn offsets_follow_proto_max_bulk_len() {
        let mut shard = Shard::new(ShardConfig::default());
        let mut note = |_: &[u8]| {};
        let mut c = ctx(&mut shard, 4, &mut note);
        assert_eq!(exec(&mut c, "setbit k 31 1", Proto::Resp2), ":0\r\n");
        assert_eq!(exec(&mut c, "setbit k 32 1", Proto::Resp2), OFFSET);
        assert_eq!(exec(&mut c, "getbit k 32", Proto::Resp2), OFFSET);
        assert_eq!(exec(&mut c, "get k", Proto::Resp2), "$4\r\n\0\0\0\x01\r\n");
        // LCS's table limit is the same setting: (3 + 1) * (1 + 1) * 4 > 4.
        assert_eq!(exec(&mut c, "set a xyz", Proto::Resp2), "+OK\r\n");
        assert_eq!(
            exec(&mut c, "lcs a a", Proto::Resp2),
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
        );
    }

    #[test]
    fn writes_over_maxmemory_are_refused_and_change_nothing() {
        let mut shard = Shard::new(ShardConfig {
            maxmemory: Some(4096),
            ..ShardConfig::default()
        });
        let mut seen: Vec<Vec<u8>> = Vec::new();
        {
            let mut note = |k: &[u8]| seen.push(k.to_vec());
            let mut c = ctx(&mut shard, 512 << 20, &mut note);
            let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
            assert_eq!(exec(&mut c, "setbit a 800000 1", Proto::Resp2), oom);
            assert_eq!(exec(&mut c, "setbit a 0 1", Proto::Resp2), ":0\r\n");
            assert_eq!(exec(&mut c, "setbit b 20000 1", Proto::Resp2), ":0\r\n");
            assert_eq!(exec(&mut c, "bitop or d b", Proto::Resp2), oom);
            assert_eq!(exec(&mut c, "get d", Proto::Resp2), "$-1\r\n");
        }
        let want: [&[u8]; 2] = [b"a", b"b"];
        assert_eq!(seen, want);
    }

    #[test]
    fn bitcount_answers_a_missing_key_before_its_range() {
        let mut t = run();
        assert_eq!(t.cmd("bitcount nokey"), ":0\r\n");
        assert_eq!(t.cmd("bitcount nokey x"), ":0\r\n");
        assert_eq!(t.cmd("bitcount nokey a b c d e"), ":0\r\n");
        assert_eq!(t.cmd("set s foobar"), "+OK\r\n");
        assert_eq!(t.cmd("bitcount s"), ":26\r\n");
        assert_eq!(t.cmd("bitcount s 0 0"), ":4\r\n");
        assert_eq!(t.cmd("bitcount s 1 1 BYTE"), ":6\r\n");
        assert_eq!(t.cmd("bitcount s 5 30 bit"), ":17\r\n");
        assert_eq!(t.cmd("bitcount s -10 -20"), ":0\r\n");
        assert_eq!(t.cmd("bitcount s 0"), SYNTAX);
        assert_eq!(t.cmd("bitcount s 0 1 bogus"), SYNTAX);
        assert_eq!(t.cmd("bitcount s 0 1 bit x"), SYNTAX);
        // Both ends are read before the unit; too many arguments are a
        // syntax error before any is read.
        assert_eq!(t.cmd("bitcount s x 1 bogus"), NOT_INT);
        assert_eq!(t.cmd("bitcount s 0 x bogus"), NOT_INT);
        assert_eq!(t.cmd("bitcount s x 1 bit extra"), SYNTAX);
    }

    #[test]
    fn bitpos_checks_the_bit_then_the_key_then_the_range() {
        let mut t = run();
        assert_eq!(
            t.cmd("bitpos nokey 2"),
            "-ERR The bit argument must be 1 or 0.\r\n"
        );
        assert_eq!(t.cmd("bitpos nokey x"), NOT_INT);
        assert_eq!(t.cmd("bitpos nokey 0 x y z w"), ":0\r\n");
        assert_eq!(t.cmd("bitpos nokey 1 x"), ":-1\r\n");
        assert_eq!(t.cmd("setbit s 15 1"), ":0\r\n");
        assert_eq!(t.cmd("bitpos s 1"), ":15\r\n");
        assert_eq!(t.cmd("bitpos s 0"), ":0\r\n");
        assert_eq!(t.cmd("bitpos s 1 1"), ":15\r\n");
        assert_eq!(t.cmd("bitpos s 1 0 0"), ":-1\r\n");
        assert_eq!(t.cmd("bitpos s 1 8 15 bit"), ":15\r\n");
        assert_eq!(t.cmd("bitpos s 0 15 15 BIT"), ":-1\r\n");
        // No end given: the string counts as padded with zeros.
        assert_eq!(t.cmd("set f \u{7f}"), "+OK\r\n");
        assert_eq!(t.cmd("bitpos f 0 0"), ":0\r\n");
        assert_eq!(t.cmd("set f \u{1}"), "+OK\r\n");
        assert_eq!(t.cmd("setbit f 0 1"), ":0\r\n");
        assert_eq!(t.cmd("bitpos f 1 0 0 bit"), ":0\r\n");
        // The unit is read before the end.
        assert_eq!(t.cmd("bitpos s 1 0 x bogus"), SYNTAX);
        assert_eq!(t.cmd("bitpos s 1 x 0 bogus"), NOT_INT);
        assert_eq!(t.cmd("bitpos s 1 0 x"), NOT_INT);
        assert_eq!(t.cmd("bitpos s 1 0 1 byte x"), SYNTAX);
        assert_eq!(t.cmd("bitpos s 1 x y z w"), SYNTAX);
        assert_eq!(
            t.cmd("bitpos s 3 x"),
            "-ERR The bit argument must be 1 or 0.\r\n"
        );
    }

    #[test]
    fn bitop_stores_or_deletes_its_destination() {
        let mut t = run();
        assert_eq!(t.cmd("set a foobar"), "+OK\r\n");
        assert_eq!(t.cmd("set b abc"), "+OK\r\n");
        assert_eq!(t.cmd("bitop or d a b"), ":6\r\n");
        assert_eq!(t.cmd("get d"), "$6\r\ngoobar\r\n");
        assert_eq!(t.cmd("bitop AND d a b"), ":6\r\n");
        assert_eq!(t.cmd("get d"), "$6\r\n`bc\0\0\0\r\n");
        assert_eq!(t.cmd("bitop xor d a a"), ":6\r\n");
        assert_eq!(t.cmd("get d"), "$6\r\n\0\0\0\0\0\0\r\n");
        assert_eq!(t.cmd("set one \u{f}"), "+OK\r\n");
        assert_eq!(t.cmd("bitop not d one"), ":1\r\n");
        assert_eq!(t.cmd("getbit d 3"), ":1\r\n");
        assert_eq!(t.cmd("getbit d 4"), ":0\r\n");
        // A source may be the destination: it is read before the write.
        assert_eq!(t.cmd("bitop or b b a"), ":6\r\n");
        assert_eq!(t.cmd("get b"), "$6\r\ngoobar\r\n");
        assert_eq!(t.cmd("expire d 100"), ":1\r\n");
        assert_eq!(t.cmd("bitop or d a"), ":6\r\n");
        assert_eq!(t.cmd("ttl d"), ":-1\r\n");
        assert_eq!(t.cmd("bitop and d no1 no2"), ":0\r\n");
        assert_eq!(t.cmd("exists d"), ":0\r\n");
        let not = "-ERR BITOP NOT must be called with a single source key.\r\n";
        assert_eq!(t.cmd("bitop not d a b"), not);
        assert_eq!(t.cmd("bitop diff d a b"), SYNTAX);
        assert_eq!(t.cmd("bitop bogus d a"), SYNTAX);
        assert_eq!(
            t.cmd("bitop not d"),
            "-ERR wrong number of arguments for 'bitop' command\r\n"
        );
    }

    #[test]
    fn lcs_and_its_options() {
        let mut t = run();
        assert_eq!(t.cmd("mset k1 ohmytext k2 mynewtext"), "+OK\r\n");
        assert_eq!(t.cmd("lcs k1 k2"), "$6\r\nmytext\r\n");
        assert_eq!(t.cmd("lcs k1 k2 LEN"), ":6\r\n");
        assert_eq!(t.cmd("lcs k1 k2 withmatchlen"), "$6\r\nmytext\r\n");
        assert_eq!(t.cmd("lcs no1 no2"), "$0\r\n\r\n");
        assert_eq!(t.cmd("lcs k1 no2 len"), ":0\r\n");
        let idx = "*4\r\n$7\r\nmatches\r\n*2\r\n\
                   *2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
                   *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n\
                   $3\r\nlen\r\n:6\r\n";
        assert_eq!(t.cmd("lcs k1 k2 idx"), idx);
        assert_eq!(t.cmd("lcs k1 k2 minmatchlen -5 idx"), idx);
        assert_eq!(t.cmd("lcs k1 k2 MINMATCHLEN 9 minmatchlen 0 idx"), idx);
        assert_eq!(
            t.cmd("lcs k1 k2 idx minmatchlen 4 withmatchlen"),
            "*4\r\n$7\r\nmatches\r\n*1\r\n\
             *3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
             $3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            t.cmd("lcs no1 no2 idx"),
            "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
        );
        let both = "-ERR If you want both the length and indexes, please just use IDX.\r\n";
        assert_eq!(t.cmd("lcs k1 k2 idx len"), both);
        assert_eq!(t.cmd("lcs k1 k2 len idx"), both);
        // Options are read in order; LEN with IDX is refused only after.
        assert_eq!(t.cmd("lcs k1 k2 idx len bogus"), SYNTAX);
        assert_eq!(t.cmd("lcs k1 k2 len idx minmatchlen"), SYNTAX);
        assert_eq!(t.cmd("lcs k1 k2 minmatchlen x len idx"), NOT_INT);
        assert_eq!(t.cmd("lcs k1 k2 minmatchlen"), SYNTAX);
    }

    #[test]
    fn lcs_idx_is_a_map_in_resp3() {
        let mut t = run();
        t.cmd("mset a abc b xbc");
        let args: [&[u8]; 5] = [b"lcs", b"a", b"b", b"idx", b"withmatchlen"];
        assert_eq!(
            t.args(&args, Proto::Resp3),
            "%2\r\n$7\r\nmatches\r\n*1\r\n\
             *3\r\n*2\r\n:1\r\n:2\r\n*2\r\n:1\r\n:2\r\n:2\r\n\
             $3\r\nlen\r\n:2\r\n"
        );
        assert_eq!(t.args(&[b"lcs", b"a", b"zz"], Proto::Resp3), "$0\r\n\r\n");
    }

    #[test]
    fn lookups_count_as_redis_counts_them() {
        let mut t = run();
        t.cmd("mset a 1 b 2");
        let hm = |t: &crate::cmd::testing::Bench| {
            let s = t.shard.stats();
            (s.hits, s.misses)
        };
        let base = hm(&t);
        // Both LCS keys are looked up even when an option is wrong.
        t.cmd("lcs a nokey bogus");
        assert_eq!(hm(&t), (base.0 + 1, base.1 + 1));
        // BITOP reads its sources, not its destination.
        t.cmd("bitop or a a b nokey");
        assert_eq!(hm(&t), (base.0 + 3, base.1 + 2));
        t.cmd("bitcount nokey x");
        t.cmd("bitpos a 1 x");
        assert_eq!(hm(&t), (base.0 + 4, base.1 + 3));
        // SETBIT writes; bad arguments look nothing up.
        t.cmd("setbit a 1 1");
        t.cmd("getbit a x");
        t.cmd("bitop not d a b");
        assert_eq!(hm(&t), (base.0 + 4, base.1 + 3));
    }

    #[test]
    fn changed_keys_are_the_ones_written() {
        let mut shard = Shard::new(ShardConfig::default());
        let mut seen: Vec<Vec<u8>> = Vec::new();
        {
            let mut note = |k: &[u8]| seen.push(k.to_vec());
            let mut c = ctx(&mut shard, 512 << 20, &mut note);
            for line in [
                "setbit a 3 1",
                "setbit a 3 1",
                "setbit a 3 0",
                "setbit a 3 0",
                "setbit a 20 0",
                "setbit a 20 0",
                "setbit a x 1",
                "getbit a 3",
                "bitcount a",
                "bitpos a 1",
                "lcs a a",
                "bitop or d a",
                "bitop and e nokey",
                "bitop and d nokey",
                "bitop not d a b",
            ] {
                exec(&mut c, line, Proto::Resp2);
            }
        }
        // SETBIT: created, flipped, grown; BITOP: stored, deleted.
        let want: [&[u8]; 5] = [b"a", b"a", b"a", b"d", b"d"];
        assert_eq!(seen, want);
    }

    /// Two shards: keys starting with `b` live on the second.
    struct Two {
        shards: [Shard; 2],
        changed: Vec<Vec<u8>>,
    }

    impl Span for Two {
        fn shard(&mut self, key: &[u8]) -> Option<&mut Shard> {
            Some(&mut self.shards[usize::from(key.starts_with(b"b"))])
        }

        fn changed(&mut self, key: &[u8]) {
            self.changed.push(key.to_vec());
        }
    }

    #[test]
    fn bitop_and_lcs_reach_each_key_on_its_own_shard() {
        let mut span = Two {
            shards: [
                Shard::new(ShardConfig::default()),
                Shard::new(ShardConfig::default()),
            ],
            changed: Vec::new(),
        };
        let put = |s: &mut Shard, k: &[u8], v: &[u8]| {
            let (always, clear) = (
                crate::store::SetCond::Always,
                crate::store::SetExpiry::Clear,
            );
            s.set(k, v, clear, always, false, 1000).unwrap();
        };
        put(&mut span.shards[0], b"a1", b"ohmytext");
        put(&mut span.shards[1], b"b1", b"mynewtext");
        // The home shard is empty: a handler that used it would see no keys.
        let mut home = Shard::new(ShardConfig::default());
        {
            let mut c = Ctx {
                shard: &mut home,
                span: Some(&mut span),
                now: 1000,
                epoch_unix_ms: 0,
                max_bulk: 512 << 20,
                on_change: None,
                blocking: Default::default(),
            };
            assert_eq!(exec(&mut c, "lcs a1 b1", Proto::Resp2), "$6\r\nmytext\r\n");
            assert_eq!(exec(&mut c, "bitop xor b2 a1 b1", Proto::Resp2), ":9\r\n");
            assert_eq!(exec(&mut c, "bitop and a2 b9", Proto::Resp2), ":0\r\n");
        }
        let xor: Vec<u8> = b"ohmytext\0"
            .iter()
            .zip(b"mynewtext")
            .map(|(x, y)| x ^ y)
            .collect();
        assert_eq!(span.shards[1].get(b"b2", 1000), Ok(Some(&xor[..])));
        assert!(!home.exists(b"b2", 1000));
        let want: [&[u8]; 1] = [b"b2"];
        assert_eq!(span.changed, want);
    }
}
