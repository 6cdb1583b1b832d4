//! [`ZSet`] against a model (a `BTreeMap` of member → score, sorted on
//! demand) over random op sequences, with small encoding limits so most
//! runs cross from the listpack to the skiplist, and a check of every
//! query and of the byte total after every op.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Op {
    Add(u8, f64, AddFlags),
    Remove(u8),
    RemoveRanks(usize, usize),
    Pop(bool),
}

/// Members: short ones from a small space, and every eleventh one long
/// enough to pass the value limit.
fn member(i: u8) -> Vec<u8> {
    if i % 11 == 10 {
        vec![b'L'; 9 + i as usize]
    } else {
        format!("m{i}").into_bytes()
    }
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-3i32..4).prop_map(f64::from),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.5),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let flags = (any::<[bool; 5]>(), 0u8..4).prop_map(|(b, plain)| {
        if plain > 0 {
            AddFlags::default()
        } else {
            AddFlags {
                nx: b[0],
                xx: b[1] && !b[0],
                gt: b[2] && !b[0],
                lt: b[3] && !b[0] && !b[2],
                incr: b[4],
            }
        }
    });
    prop_oneof![
        6 => (0u8..40, score(), flags).prop_map(|(m, s, f)| Op::Add(m, s, f)),
        2 => (0u8..40).prop_map(Op::Remove),
        1 => (0usize..30, 0usize..6).prop_map(|(a, n)| Op::RemoveRanks(a, a + n)),
        1 => any::<bool>().prop_map(Op::Pop),
    ]
}

const ENC: Encodings = Encodings {
    hash_entries: 128,
    hash_value: 64,
    set_intset_entries: 512,
    zset_entries: 16,
    zset_value: 12,
};

/// The model's members in Redis's order.
fn sorted(model: &BTreeMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
    let mut v: Vec<_> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

/// Redis's zsetAdd on the model.
fn model_add(
    model: &mut BTreeMap<Vec<u8>, f64>,
    m: Vec<u8>,
    s: f64,
    f: AddFlags,
) -> Result<Added, NotANumber> {
    match model.get(&m).copied() {
        None if f.xx => Ok(Added::Skipped),
        None => {
            model.insert(m, s);
            Ok(Added::New(s))
        }
        Some(_) if f.nx => Ok(Added::Skipped),
        Some(cur) => {
            let s = if f.incr { s + cur } else { s };
            if s.is_nan() {
                return Err(NotANumber);
            }
            if (f.lt && s >= cur) || (f.gt && s <= cur) {
                return Ok(Added::Skipped);
            }
            if s == cur {
                return Ok(Added::Same(s));
            }
            model.insert(m, s);
            Ok(Added::Updated(s))
        }
    }
}

fn check(z: &ZSet, model: &BTreeMap<Vec<u8>, f64>, full: bool) {
    let want = sorted(model);
    assert_eq!(z.len(), want.len());
    assert_eq!(z.encoding(), if full { "skiplist" } else { "listpack" });
    let got: Vec<_> = z.iter_at(0, false).map(|(m, s)| (m.to_vec(), s)).collect();
    assert_eq!(got, want);
    let back: Vec<_> = z
        .iter_at(want.len().saturating_sub(1), true)
        .map(|(m, s)| (m.to_vec(), s))
        .collect();
    assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
    for (i, (m, s)) in want.iter().enumerate() {
        assert_eq!(z.rank(m), Some((i, *s)));
        assert_eq!(z.score(m), Some(*s));
        assert_eq!(z.at(i).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
        if i % 3 == 0 {
            let mid: Vec<_> = z.iter_at(i, true).map(|p| p.0.to_vec()).collect();
            assert_eq!(mid.len(), i + 1);
        }
    }
    assert_eq!(z.at(want.len()), None);
    assert_eq!(z.score(b"absent"), None);
    // Score ranges with every kind of bound.
    for (min, max) in [
        (-1.0, 1.0),
        (0.0, 0.0),
        (f64::NEG_INFINITY, 2.0),
        (0.5, f64::INFINITY),
    ] {
        for (minex, maxex) in [(false, false), (true, false), (false, true), (true, true)] {
            let r = ScoreRange {
                min,
                minex,
                max,
                maxex,
            };
            let inside = |s: f64| {
                (if minex { s > min } else { s >= min }) && (if maxex { s < max } else { s <= max })
            };
            let ranks = z.score_ranks(&r);
            let expect: Vec<usize> = (0..want.len()).filter(|&i| inside(want[i].1)).collect();
            assert_eq!(ranks.clone().collect::<Vec<_>>(), expect, "{r:?}");
        }
    }
    // Lexical ranges, meaningful when scores tie: check on the members
    // whose score is the first one's, when all are alike.
    if want.windows(2).all(|w| w[0].1 == w[1].1) {
        let bounds = [
            LexBound::Min,
            LexBound::Max,
            LexBound::In(b"m2"),
            LexBound::Ex(b"m2"),
            LexBound::In(b"m3"),
        ];
        for min in bounds {
            for max in bounds {
                let above = |m: &[u8]| match min {
                    LexBound::Min => true,
                    LexBound::Max => false,
                    LexBound::In(x) => m >= x,
                    LexBound::Ex(x) => m > x,
                };
                let below = |m: &[u8]| match max {
                    LexBound::Min => false,
                    LexBound::Max => true,
                    LexBound::In(x) => m <= x,
                    LexBound::Ex(x) => m < x,
                };
                let expect: Vec<usize> = (0..want.len())
                    .filter(|&i| above(&want[i].0) && below(&want[i].0))
                    .collect();
                let r = LexRange { min, max };
                assert_eq!(z.lex_ranks(&r).collect::<Vec<_>>(), expect);
            }
        }
    }
    let per: usize = if full { FULL_ENTRY } else { COMPACT_ENTRY };
    let k = if full { 2 } else { 1 };
    let mem: usize = want.iter().map(|(m, _)| per + k * m.len()).sum();
    assert_eq!(z.mem(), mem);
    // The scan sees every member once.
    let mut seen = BTreeMap::new();
    let mut c = 0;
    loop {
        c = z.scan(c, 5, |m, s| {
            assert!(seen.insert(m.to_vec(), s).is_none());
        });
        if c == 0 {
            break;
        }
    }
    assert_eq!(&seen, model);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn matches_a_btreemap(ops in proptest::collection::vec(op(), 1..120)) {
        let mut z = ZSet::new();
        let mut model = BTreeMap::new();
        let mut full = false;
        for op in ops {
            match op {
                Op::Add(i, s, f) => {
                    let m = member(i);
                    let new = !model.contains_key(&m) && !f.xx;
                    if new && (model.len() + 1 > ENC.zset_entries || m.len() > ENC.zset_value) {
                        full = true;
                    }
                    let want = model_add(&mut model, m.clone(), s, f);
                    prop_assert_eq!(z.add(&m, s, f, &ENC), want);
                }
                Op::Remove(i) => {
                    let m = member(i);
                    prop_assert_eq!(z.remove(&m), model.remove(&m));
                }
                Op::RemoveRanks(a, b) => {
                    let order = sorted(&model);
                    let gone: Vec<_> = order.iter().skip(a).take(b - a).collect();
                    for (m, _) in &gone {
                        model.remove(m);
                    }
                    prop_assert_eq!(z.remove_ranks(a..b), gone.len());
                }
                Op::Pop(max) => {
                    let order = sorted(&model);
                    let want = if max { order.last() } else { order.first() }.cloned();
                    if let Some((m, _)) = &want {
                        model.remove(m);
                    }
                    let got = z.pop(max).map(|(m, s)| (m.to_vec(), s));
                    prop_assert_eq!(got, want);
                }
            }
            check(&z, &model, full);
        }
    }
}

#[test]
fn default_limits_convert_past_128_members_or_64_bytes() {
    let enc = Encodings::default();
    let mut z = ZSet::new();
    for i in 0..128 {
        z.add(
            format!("{i:03}").as_bytes(),
            f64::from(i),
            AddFlags::default(),
            &enc,
        )
        .unwrap();
    }
    assert_eq!(z.encoding(), "listpack");
    let copy = z.clone();
    z.add(b"128", 128.0, AddFlags::default(), &enc).unwrap();
    assert_eq!(z.encoding(), "skiplist");
    assert_ne!(z, copy);
    z.remove(b"128");
    assert_eq!(z, copy, "content equality across encodings");
    let mut long = ZSet::new();
    long.add(&[b'x'; 64], 1.0, AddFlags::default(), &enc)
        .unwrap();
    assert_eq!(long.encoding(), "listpack");
    long.add(&[b'y'; 65], 1.0, AddFlags::default(), &enc)
        .unwrap();
    assert_eq!(long.encoding(), "skiplist");
}

#[test]
fn skiplist_ranks_stay_right_over_many_members() {
    let enc = Encodings::default();
    let mut z = ZSet::new();
    for i in 0..5000u32 {
        let s = f64::from((i * 7919) % 1000);
        z.add(format!("{i}").as_bytes(), s, AddFlags::default(), &enc)
            .unwrap();
    }
    let all: Vec<_> = z.iter_at(0, false).map(|(m, s)| (m.to_vec(), s)).collect();
    for (i, (m, s)) in all.iter().enumerate().step_by(97) {
        assert_eq!(z.rank(m), Some((i, *s)));
        assert_eq!(z.at(i).unwrap().0, &m[..]);
    }
    assert_eq!(z.remove_ranks(100..4900), 4800);
    assert_eq!(z.len(), 200);
    assert_eq!(z.at(150).unwrap().0, &all[4950].0[..]);
}
