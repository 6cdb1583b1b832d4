use super::*;
use proptest::prelude::*;

fn p(s: &str) -> Option<LongDouble> {
    LongDouble::parse(s.as_bytes())
}

/// What `SET k a; INCRBYFLOAT k b` answers, or the error it gives.
fn incr(a: &str, b: &str) -> Result<String, &'static str> {
    let x = p(a).ok_or("not a valid float")?;
    let y = p(b).ok_or("not a valid float")?;
    x.checked_add(y)
        .map(|s| s.to_human())
        .ok_or("NaN or Infinity")
}

/// The exact extended value of an `f64` (every `f64` is one).
fn from_f64(x: f64) -> LongDouble {
    let bits = x.to_bits();
    let neg = bits >> 63 == 1;
    let e = ((bits >> 52) & 0x7ff) as i64;
    let f = bits & ((1 << 52) - 1);
    let (m, e2) = if e == 0 {
        (f, -1074)
    } else {
        (f | 1 << 52, e - 1075)
    };
    round(neg, &Big::from_u128(u128::from(m)), e2, false)
}

fn finite(neg: bool, mant: u64, exp: i32) -> LongDouble {
    LongDouble {
        neg,
        kind: Kind::Finite { mant, exp },
    }
}

#[test]
fn accepts_what_string2ld_accepts() {
    // Each answered by redis-server 7.0.15 to `SET k <s>; INCRBYFLOAT k 0`.
    let table = [
        ("10.5", "10.5"),
        ("1e3", "1000"),
        ("0x1p3", "8"),
        ("0x1.8", "1.5"),
        ("0X10", "16"),
        ("+5", "5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1e+3", "1000"),
        ("1E-3", "0.001"),
        ("0x1P+3", "8"),
        ("0x.8", "0.5"),
        ("0x1.", "1"),
        ("00012", "12"),
        ("1e0004", "10000"),
        ("-0", "0"),
        ("0e-99999", "0"),
        ("1e-400", "0"),
        ("1e-4950", "0"),
        ("0x1p-16445", "0"),
        ("-.5", "-0.5"),
    ];
    for (s, want) in table {
        assert_eq!(incr(s, "0").as_deref(), Ok(want), "{s:?}");
    }
}

#[test]
fn refuses_what_string2ld_refuses() {
    let bad = [
        "",
        ".",
        " 1",
        "1 ",
        "\t1",
        "1\n",
        "1e",
        "1e+",
        "0x",
        "0xg",
        "0x.p1",
        "0x1p",
        "nan",
        "-nan",
        "NaN",
        "nan(123)",
        "1\x00abc",
        "1_0",
        "1,5",
        "++1",
        "+-1",
        "-",
        "e5",
        "infin",
        "infinityx",
        "1.2e4932",
        "1e5000",
        "-1e5000",
        "0x1p16384",
        "1e-4951",
        "1e-5000",
        "0x1p-16446",
        "0x1p-16446000",
        "1..2",
        "0x1.8.1",
        "1e1.5",
    ];
    for s in bad {
        assert_eq!(p(s), None, "{s:?}");
    }
    // 5119 bytes is the longest Redis reads.
    let long = format!("0.{}", "1".repeat(5117));
    assert_eq!(
        p(&long).map(|v| v.to_human()).as_deref(),
        Some("0.11111111111111111")
    );
    assert_eq!(p(&format!("{long}1")), None);
}

#[test]
fn infinities_parse_but_never_sum() {
    for s in ["inf", "-inf", "Infinity", "INF", "+infinity"] {
        assert!(!p(s).unwrap().is_finite(), "{s}");
        assert_eq!(incr(s, "0"), Err("NaN or Infinity"));
        assert_eq!(incr("1", s), Err("NaN or Infinity"));
    }
    assert_eq!(incr("inf", "-inf"), Err("NaN or Infinity"));
    let max = "1.18973149535723176502e4932";
    assert_eq!(incr(max, max), Err("NaN or Infinity"));
    assert_eq!(incr(max, "-1e4932").unwrap().len(), 4932);
}

#[test]
fn extreme_values_are_exact() {
    // The largest finite value: 64 ones times 2^16320.
    assert_eq!(
        p("1.18973149535723176502e4932"),
        Some(finite(false, u64::MAX, 16320))
    );
    // Just past it still rounds down to it; half an ulp past goes infinite.
    assert_eq!(
        p("0x1.fffffffffffffffep16383"),
        Some(finite(false, u64::MAX, 16320))
    );
    assert_eq!(p("0x1.ffffffffffffffffp16383"), None);
    // The smallest subnormal, and halfway below it (a tie, to even: zero).
    assert_eq!(p("0x1p-16445"), Some(finite(false, 1, -16445)));
    assert_eq!(p("0x1.8p-16446"), Some(finite(false, 1, -16445)));
    assert_eq!(p("0x1p-16446"), None);
    // Smallest normal.
    assert_eq!(p("0x1p-16382"), Some(finite(false, 1 << 63, -16445)));
    assert_eq!(
        p("3.36210314311209350626e-4932"),
        Some(finite(false, 1 << 63, -16445))
    );
    assert_eq!(p("-0"), Some(LongDouble::zero(true)));
}

#[test]
fn hex_subnormals_round_twice_as_in_glibc() {
    // Just above half the smallest subnormal, with the only bit past the
    // first 64 being glibc's dropped round bit: zero, so refused (as
    // redis-server 7.0.15 refuses it).
    assert_eq!(p("0x1.0000000000000001p-16446"), None);
    assert_eq!(p("0x8.0000000000000008p-16449"), None);
    // A bit further down is kept as sticky; further up is in the 64 bits.
    assert_eq!(
        p("0x1.00000000000000001p-16446"),
        Some(finite(false, 1, -16445))
    );
    assert_eq!(
        p("0x1.000000000000001p-16446"),
        Some(finite(false, 1, -16445))
    );
    // Correct rounding would give ...217 (the low five bits are 10001);
    // glibc's strtold gives ...216.
    assert_eq!(
        p("0x10a8a48ca807f8111p-16450"),
        Some(finite(false, 600_195_112_357_854_216, -16445))
    );
    // Decimal texts round once, correctly.
    assert_eq!(
        p("1.8225997659412373013e-4951"),
        Some(finite(false, 1, -16445))
    );
    assert_eq!(p("1.8225997659412373012e-4951"), None);
}

#[test]
fn sums_round_to_nearest_even() {
    let one = finite(false, 1 << 63, -63);
    // 1 + 2^-64 is a tie between 1 and 1 + 2^-63: to even, 1.
    let half_ulp = p("0x1p-64").unwrap();
    assert_eq!(one.checked_add(half_ulp), Some(one));
    // 1 + 3 * 2^-64 is a tie between 1 + 2^-63 and 1 + 2^-62: to even.
    let three_halves = p("0x3p-64").unwrap();
    assert_eq!(
        one.checked_add(three_halves),
        Some(finite(false, (1 << 63) + 2, -63))
    );
    // A tiny opposite value pulls 1 down to the next value below only when
    // it passes the midpoint 2^-65 under 1.
    let neg_tiny = p("-0x1p-66").unwrap();
    assert_eq!(one.checked_add(neg_tiny), Some(one));
    let neg_more = p("-0x1.8p-65").unwrap();
    assert_eq!(
        one.checked_add(neg_more),
        Some(finite(false, u64::MAX, -64))
    );
    // Far apart: the small one vanishes.
    assert_eq!(one.checked_add(p("1e-300").unwrap()), Some(one));
    // x + -x is +0; -0 + -0 is -0.
    assert_eq!(one.checked_add(p("-1").unwrap()), Some(LongDouble::ZERO));
    let nz = LongDouble::zero(true);
    assert_eq!(nz.checked_add(nz), Some(nz));
    assert_eq!(nz.checked_add(LongDouble::ZERO), Some(LongDouble::ZERO));
    // Subnormals add exactly.
    let s = p("0x1p-16445").unwrap();
    assert_eq!(s.checked_add(s), Some(finite(false, 2, -16445)));
}

#[test]
fn human_text_matches_redis() {
    // Each answered by redis-server 7.0.15.
    let table = [
        ("10.5", "0.1", "10.6"),
        ("1.5", "-1.5", "0"),
        ("0", "-0.000000000000000001", "0"),
        ("0", "0.000003814697265625", "0.00000381469726562"),
        ("0", "-0.000003814697265625", "-0.00000381469726562"),
        ("0", "0.000011444091796875", "0.00001144409179688"),
        ("1e4932", "-1e4932", "0"),
    ];
    for (a, b, want) in table {
        assert_eq!(incr(a, b).as_deref(), Ok(want), "{a} + {b}");
    }
    let big = incr("1", "1e4932").unwrap();
    assert_eq!(big.len(), 4933);
    assert!(big.starts_with("1000000000000000000006018949387963891323"));
    assert!(big.ends_with("86622720"));
}

#[test]
fn human_text_of_powers_of_two() {
    assert_eq!(p("0x1p63").unwrap().to_human(), "9223372036854775808");
    assert_eq!(p("0x1p64").unwrap().to_human(), "18446744073709551616");
    assert_eq!(p("0x1p-57").unwrap().to_human(), "0.00000000000000001");
    // 2^-58 is 3.47e-18: below half of 10^-17.
    assert_eq!(p("0x1p-58").unwrap().to_human(), "0");
    assert_eq!(p("-0x1p-58").unwrap().to_human(), "0");
    // Rounding carries into the integer part.
    assert_eq!(p("0.999999999999999999").unwrap().to_human(), "1");
    assert_eq!(p("-0.999999999999999999").unwrap().to_human(), "-1");
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        (-1e6f64..1e6),
        (-1.0f64..1.0),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Every f64 is an extended value: its exact decimal and hex texts
    /// must parse to exactly it.
    #[test]
    fn exact_texts_parse_exactly(x in any_f64()) {
        let want = from_f64(x);
        if x != 0.0 {
            prop_assert_eq!(p(&format!("{x:.1080}")), Some(want));
            let bits = x.to_bits();
            let e = ((bits >> 52) & 0x7ff) as i64;
            let f = bits & ((1 << 52) - 1);
            let (m, e2) = if e == 0 { (f, -1074) } else { (f | 1 << 52, e - 1075) };
            let sign = if x < 0.0 { "-" } else { "" };
            prop_assert_eq!(p(&format!("{sign}0x{m:x}p{e2}")), Some(want));
        }
    }

    /// Rust prints exactly and rounds ties to even, as glibc's printf does.
    #[test]
    fn human_text_matches_exact_17_decimals(x in any_f64()) {
        let s = format!("{x:.17}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        let s = if s == "-0" { "0" } else { s };
        prop_assert_eq!(from_f64(x).to_human(), s);
    }

    /// Sums of f64s that an f64 holds exactly (small integers over a
    /// power of two) are the same in extended precision.
    #[test]
    fn exact_sums(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, k in 0i32..30) {
        let scale = 2f64.powi(-k);
        let (x, y) = (a as f64 * scale, b as f64 * scale);
        let got = from_f64(x).checked_add(from_f64(y));
        prop_assert_eq!(got, Some(from_f64(x + y)));
    }
}

/// INCRBYFLOAT sequences and redis-server 7.0.15's answers, picked from a
/// 100,000-sequence random comparison: `start|incr|incr.. => answer|..`,
/// where `@` is a missing key and an error leaves the value unchanged.
const REDIS_SEQUENCES: &str = "\
03.6466|6103044704036812881137947647|inf|+982620599057895925853266e+20 => 6103044704036812881190191104|ENAN|98262059905789598688304490871467699343458304
85190834879367238|-inf|-inf|-inf|-inf => ENAN|ENAN|ENAN|ENAN
9.91|inf|inf|inf|inf|inf|inf => ENAN|ENAN|ENAN|ENAN|ENAN|ENAN
+933206194008264567174.89|+inf|+18446744073709551615 => ENAN|951652938081974118784
@|-inf|-inf|-inf|-inf|-inf => ENAN|ENAN|ENAN|ENAN|ENAN
-63.96|23429404697694575e-26|-inf|3541800824003718599262 => -63.95999999976570595|ENAN|3541800824003718599168
@|707.4|-inf|467020664083122690004.96|8.580 => 707.40000000000000002|ENAN|467020664083122690720|467020664083122690720
4020.|01015026677860819850.4|-inf => 1015026677860823870.375|ENAN
0x|0489.95972|74.81|-712e16 => EFLOAT|EFLOAT|EFLOAT
0.00000000012732936388126475607585146757|0x|0x|0x|0x|0x|0x|0x|0x|0x => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
0.000000000000000000791891015170199715340025442| 1|0x2p28 => EFLOAT|536870912
+47428968784349|-0x|6988.37 => EFLOAT|47428968791337.36999893188476562
9999.8415|457.9|1e|7e21|46359e+19|095.61 => 10457.74150000000000027|EFLOAT|7000000000000000010240|470590000000000000000000|470590000000000000000000
0x|-294581934223086593204.|-0.069|0.00000000741167838214096263982355594635009765625|-1.1 => EFLOAT|EFLOAT|EFLOAT|EFLOAT
0xc7|+622213e-32|48.292519|51.13|190.6|66.31116|+-inf => 199|247.292519|298.42251900000000001|489.02251900000000001|555.333679|EFLOAT
04.51395|0x|0x|0x|0x|0x|0x|0x|0x|0x|0x => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
0.000000000000000000000001729408177044342373|0x|0x|0x|0x|0x|0x|0x|0x|0x|0x => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
39e-320|0xa3e|0xa3e|0xa3e|0xa3e|0xa3e|0xa3e|0xa3e|0xa3e|0xa3e|0xa3e => 2622|5244|7866|10488|13110|15732|18354|20976|23598|26220
-0xAF67457fp39|548.4472|548.4472|548.4472 => -1617810853248223936000|-1617810853248223935488|-1617810853248223934976
+ 1|0xF39a8FDFED68dFp11|0xF39a8FDFED68dFp11|0xF39a8FDFED68dFp11|0xF39a8FDFED68dFp11 => EFLOAT|EFLOAT|EFLOAT|EFLOAT
570191204247688830019.559|-0x886Cp-80|-0x886Cp-80 => 570191204247688830016|570191204247688830016
@|0xaa8F|0xaa8F|0xaa8F|0xaa8F|0xaa8F|0xaa8F|0xaa8F|0xaa8F|0xaa8F|0xaa8F => 43663|87326|130989|174652|218315|261978|305641|349304|392967|436630
866916325477981969091176|0x|0x|0x|0x|0x|0x|0x|0x|0x => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
0x|+6784712998715401504385563e-20|+6784712998715401504385563e-20 => EFLOAT|EFLOAT
@|20083833141320e+2|890975832959889e11 => 2008383314132000|89097583297997283316989952
@|+077.16676|+077.16676|+077.16676 => 77.16676|154.33352|231.50028
@|3.5334|3.5334|3.5334|3.5334|3.5334|3.5334|3.5334 => 3.5334|7.0668|10.6002|14.1336|17.667|21.2004|24.7338
@|nan|nan|nan|nan|nan|nan|nan|nan|nan|nan => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
@|inf|inf|inf|inf|inf|inf|inf|inf => ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN
@|317.7384|317.7384|317.7384 => 317.7384|635.4768|953.2152
@|nan|1.8|nan => EFLOAT|1.8|EFLOAT
@|.|+453.4|800.60155 => EFLOAT|453.39999999999999999|1254.00154999999999994
9255495431122e-30|-76e4|-76e4|-76e4|-76e4 => -760000|-1520000|-2280000|-3040000
1e-4924|1.3582|0.0000000000034937226722764336273030494339764118194580078125 => 1.3582|1.35820000000349372
0.00000000238318245443404203240278605638|703685623533341e-30|5341.22 => 0.00000000238318316|5341.22000000238318318
0.3|194538322|467.6536|1e17|1e-4951 => 194538322.30000000000291038|194538789.95360000000800937|100000000194538789.953125|EFLOAT
5211664406195112e-8|+4508.758605|0xef0534F|0xaB5809C221E45eCp-62 => 52121152.8205561199974909|302752143.82055611998657696|302752143.98788414624868892
04e-1683|489.1|489.1|489.1|489.1|489.1 => 489.10000000000000001|978.20000000000000001|1467.30000000000000004|1956.40000000000000002|2445.5
-064216928600e-14|03.8|03.8|03.8|03.8 => 3.799357830714|7.599357830714|11.399357830714|15.199357830714
7146067708e34|1e-4951|1e-4951|1e-4951|1e-4951|1e-4951 => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
0.3|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950|1e-4950 => 0.3|0.3|0.3|0.3|0.3|0.3|0.3|0.3|0.3|0.3|0.3|0.3
@|+ 1|+ 1|+ 1|+ 1|+ 1|+ 1|+ 1|+ 1|+ 1 => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
13.3|-inf|-inf|-inf|-inf|-inf|-inf|-inf|-inf => ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN
@|708073306|708073306|708073306|708073306|708073306|708073306 => 708073306|1416146612|2124219918|2832293224|3540366530|4248439836
nan|3675.018134717|3675.018134717|3675.018134717|3675.018134717|3675.018134717 => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
@|12e-781|12e-781|12e-781|12e-781|12e-781 => 0|0|0|0|0
-inf|75.8938|75.8938|75.8938|75.8938|75.8938|75.8938|75.8938|75.8938|75.8938 => ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN
-7180.749954|0x|0x|0x|0x|0x|0x|0x => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
+nan|277.28976874017997490526 => EFLOAT
45.95061|405007621936250788|0.00000000198132459405422836083848743999 => 405007621936250833.9375|405007621936250833.9375
@|0e40|0e40|0e40|0e40|0e40|0e40|0e40|0e40|0e40|0e40|0e40|0e40 => 0|0|0|0|0|0|0|0|0|0|0|0
+3839e-33|0x01B|5342324.10916507473566|5e23 => 27|5342351.10916507473575621|500000000000000005341184
@|-inf|-inf|-inf|-inf|-inf|-inf|-inf => ENAN|ENAN|ENAN|ENAN|ENAN|ENAN|ENAN
0.0000079773835028857730829|inf|inf => ENAN|ENAN
@|340618757.62773511768127152 => 340618757.62773511768318713
@|0x9493Cc8b2E|0x9493Cc8b2E|0x9493Cc8b2E|0x9493Cc8b2E|0x9493Cc8b2E => 638134815534|1276269631068|1914404446602|2552539262136|3190674077670
2807.3|56385597297406544631978|454757903490440823720.7 => 56385597297406544637952|56840355200896985460736
93457025865272238028e+16|0xaEC89f0D3d|0x34EA42c58e31e9aefE => 934570258652722380289823153168842752|934570258652723356381991990940663808
+0.0000000000000372249973901173092372118844650685787200927734375|928043858415495 => 928043858415495
@|-1859352e-40|-1859352e-40|-1859352e-40|-1859352e-40|-1859352e-40|-1859352e-40|-1859352e-40 => 0|0|0|0|0|0|0
@|42956e25 => 429559999999999999995839250432
+0x0ad40AdaE73c4cCp49|0.09480541645712654|0.09480541645712654 => 27452978247180828232100524064768|27452978247180828232100524064768
-inf|0.25|3481.44|7595.31|01815.73409 => ENAN|ENAN|ENAN|ENAN
1.2e4932|1.1 => EFLOAT
-inf|+2784699221856579|+2784699221856579|+2784699221856579 => ENAN|ENAN|ENAN
0x|811.49|811.49|811.49|811.49|811.49|811.49|811.49|811.49|811.49|811.49 => EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT|EFLOAT
@|+0.5675|+0.5675 => 0.5675|1.135
08.813172|456470479.95429 => 456470488.76746199998888187
22951172e9|495426528845210723184e7|495426528845210723184e7 => 4954265288475058403595517952|9908530576927165635832578048
0.94675|834645902324311.4239153 => 834645902324312.37066650390625
-0xbBD2473Ab|+4873.5|+4873.5|+4873.5 => -50417918113.5|-50417913240|-50417908366.5
+1e-4951|-34865e-0|0x55FE42p56|1.2e4932 => EFLOAT|EFLOAT|EFLOAT
48.346|+34.634955|6133.0747|45.79613 => 82.98095499999999999|6216.05565499999999979|6261.85178499999999957
34802.98942|8746416341947e3|8746416341947e3|8746416341947e3 => 8746416341981802.9892578125|17492832683928802.9892578125|26239249025875802.98828125
189299235.1870855530898342908|1e19|0.00000001539086724733351729810237884521484375 => 10000000000189299235|10000000000189299235
@|0xf7dBF0a1B0dp9|0xf7dBF0a1B0dp9 => 8720768224860672|17441536449721344
1e-4951|53049129411794.986344622576665909|74.58070|+4663.99410|42e+38 => EFLOAT|EFLOAT|EFLOAT|EFLOAT
@|7e-1790|7e-1790|7e-1790 => 0|0|0
";

#[test]
fn sequences_answered_by_redis() {
    for line in REDIS_SEQUENCES.lines() {
        let (input, want) = line.split_once(" => ").unwrap();
        let mut fields = input.split('|');
        let start = fields.next().unwrap();
        let mut cur = (start != "@").then(|| start.to_string());
        let got: Vec<String> = fields
            .map(|inc| {
                let base = cur.as_deref().unwrap_or("0");
                match incr(base, inc) {
                    Ok(v) => {
                        cur = Some(v.clone());
                        v
                    }
                    Err("NaN or Infinity") => "ENAN".to_string(),
                    Err(_) => "EFLOAT".to_string(),
                }
            })
            .collect();
        assert_eq!(got.join("|"), want, "{input}");
    }
}
