//! Header parsing: the fast paths (eight digits at once, the stamp remembered from the
//! record before, packed type names) give what the plain rules give.

use super::*;
use crate::audit::stamp::{digits, stamp_fast, stamp_slow};
use crate::audit::tables;

/// The plain reading of a decimal number, as the header's rules define it.
fn digits_ref(s: &[u8], from: usize) -> Option<(u64, usize)> {
    let n = s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 || n > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[from..from + n] {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some((v, from + n))
}

#[test]
fn digits_match_the_plain_reading() {
    let cases: &[&[u8]] = &[
        b"0",
        b"1700000000.123",
        b"12345678",
        b"1234567)",
        b"123456789",
        b"99999999999999999999",
        b"18446744073709551615)",
        b"18446744073709551616)",
        b"184467440737095516150",
        b"0000000000000000000001",
        b"1234/678",
        b"1234:678",
        b"12345678:",
        b"x1",
        b"",
    ];
    for c in cases {
        assert_eq!(
            digits(c, 0),
            digits_ref(c, 0),
            "{:?}",
            String::from_utf8_lossy(c)
        );
    }
    // Every byte value in every position of an eight-digit word.
    for pos in 0..8 {
        for b in 0..=255u8 {
            let mut w = *b"12345678)";
            w[pos] = b;
            assert_eq!(digits(&w, 0), digits_ref(&w, 0), "{pos} {b}");
        }
    }
}

#[test]
fn remembered_stamps_parse_as_fresh_ones() {
    let lines: &[&[u8]] = &[
        b"type=SYSCALL msg=audit(1700000000.123:1000): arch=c000003e syscall=59 success=yes",
        b"type=CWD msg=audit(1700000000.123:1000): cwd=\"/home/user/src/laurel\"",
        b"type=PATH msg=audit(1700000000.123:10000): item=0 name=\"/bin/sh\" inode=1",
        b"type=PATH msg=audit(1700000000.123:1000): item=0 name=\"/bin/sh\" inode=1",
        b"type=PATH msg=audit(1700000000.124:1000): item=0 name=\"/bin/sh\" inode=1",
        b"type=PATH msg=audit(1700000000.12:1000): item=0 name=\"/bin/sh\" inode=1 more",
        b"type=EOE msg=audit(1700000000.123:1000): ",
        b"type=PATH msg=audit(1700000000.123:1000)x item=0 name=\"/bin/sh\" inode=1",
        b"type=PATH msg=audit(1700000000.123:1000: item=0 name=\"/bin/sh\" inode=1",
        b"type=PATH msg=audit(1700000000.123:1000): item=0 name=\"/bin/sh\" inode=1",
        b"type=X msg=audit(99999999999999999999.999999999:18446744073709551615): a=1 b=2",
        b"type=X msg=audit(99999999999999999999.999999999:18446744073709551615): a=1 b=3",
        b"type=X msg=audit(1.5:7): a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8",
        b"type=X msg=audit(1.5:7): a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8",
        b"type=X msg=audit(1.5:77): a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8",
    ];
    let mut memo = StampMemo::default();
    for l in lines {
        assert_eq!(
            parse_header_memo(l, true, &mut memo),
            parse_header(l),
            "{:?}",
            String::from_utf8_lossy(l)
        );
    }
}

#[test]
fn packed_type_names_resolve_as_the_table_does() {
    for n in 0..4096 {
        let Some(name) = tables::type_name(n) else {
            continue;
        };
        let want = tables::type_number(name).unwrap_or(0);
        assert_eq!(type_number(name.as_bytes()), want, "{name}");
    }
    assert_eq!(type_number(b"UNKNOWN[1334]"), 1334);
    assert_eq!(type_number(b"1300"), 1300);
    assert_eq!(type_number(b"NOT_A_TYPE"), 0);
}

#[test]
fn the_usual_stamp_reads_as_any_stamp() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let noise = [b'0', b'9', b'/', b':', b')', b'.', b' ', b'a', 0, 0xff];
    for _ in 0..200_000 {
        let digits = 1 + next(12) as u32;
        let mut r = format!(
            "{:010}.{:03}:{}): a=1",
            next(10_000_000_000),
            next(1000),
            next(10u64.pow(digits))
        )
        .into_bytes();
        for _ in 0..next(3) {
            let at = next(r.len() as u64) as usize;
            r[at] = noise[next(noise.len() as u64) as usize];
        }
        r.truncate(r.len() - next(8) as usize);
        if let Some(fast) = stamp_fast(&r) {
            assert_eq!(
                Ok(fast),
                stamp_slow(&r),
                "{:?}",
                String::from_utf8_lossy(&r)
            );
        }
        assert_eq!(
            stamp(&r),
            stamp_slow(&r),
            "{:?}",
            String::from_utf8_lossy(&r)
        );
    }
}

/// Every line of the corpus (../shared/corpus/audit, when present: required under
/// `LETRACE_TEST_STRICT=1`) and of testdata, and cut or altered copies of the first lines:
/// wherever the word-at-a-time reader answers (with its stamp memo), the plain rules answer
/// the same.
#[test]
fn fast_header_reads_as_the_plain_rules() {
    let files = crate::audit::corpus_files::corpus_files();
    // One memo through all lines, as the reader keeps it (the stamp of the line before and
    // its seconds are reused); the plain rules start afresh each time.
    let mut memo = StampMemo::default();
    let mut check = |l: &[u8], fast_seen: &mut u64| {
        if let Some(h) = header_fast(l, true, &mut memo) {
            *fast_seen += 1;
            let plain = header_slow(l, true, &mut StampMemo::default());
            assert_eq!(Ok(h), plain, "{:?}", String::from_utf8_lossy(l));
        }
    };
    let (mut lines, mut fast_seen) = (0u64, 0u64);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        for l in data.split(|&b| b == b'\n') {
            lines += 1;
            check(l, &mut fast_seen);
            if lines > 3000 {
                continue;
            }
            for cut in 0..l.len().min(64) {
                check(&l[..cut], &mut fast_seen);
            }
            for at in 0..l.len().min(56) {
                for b in [
                    b' ', b':', b'(', b')', b'.', b'0', b'9', b'n', b'=', 0x1d, 0xff,
                ] {
                    let mut m = l.to_vec();
                    m[at] = b;
                    check(&m, &mut fast_seen);
                }
            }
        }
    }
    // The fast reader did the reading (a check of nothing would pass too).
    assert!(fast_seen > lines / 2, "{fast_seen} of {lines}");
}
