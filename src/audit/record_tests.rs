//! Tests of `record.rs`.
use super::*;
use crate::audit::rtype::{common_type, parse_u64};
use crate::audit::tables;

fn names_vals(rtype: u32, body: &[u8]) -> Vec<(String, String)> {
    let mut v = Vec::new();
    split_fields(rtype, body, &mut v);
    v.iter()
        .map(|f| {
            (
                String::from_utf8_lossy(f.name).into_owned(),
                String::from_utf8_lossy(&f.raw).into_owned(),
            )
        })
        .collect()
}

#[test]
fn common_types_resolve_without_the_table() {
    for (tok, n) in [
        ("SYSCALL", SYSCALL),
        ("PATH", PATH),
        ("CWD", CWD),
        ("EXECVE", EXECVE),
        ("PROCTITLE", PROCTITLE),
        ("EOE", EOE),
        ("SOCKADDR", SOCKADDR),
    ] {
        assert_eq!(common_type(tok.as_bytes()), Some((n, tok)));
        assert_eq!(tables::type_name(n), Some(tok));
        assert_eq!(common_type(tok.to_lowercase().as_bytes()), None);
    }
    for tok in ["", "EO", "EOF", "CWDX", "PATHS", "USER_AUTH", "SYSCALl"] {
        assert_eq!(common_type(tok.as_bytes()), None, "{tok}");
    }
}

#[test]
fn tokens_with_their_first_equals_sign() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let body: Vec<u8> = (0..len)
            .map(|i| [b' ', b'=', b'a', b'"', 0x80 | b' ', b'=' - 1][((x >> (i + 8)) % 6) as usize])
            .collect();
        let mut want = Vec::new();
        for t in body.split(|&c| c == b' ').filter(|t| !t.is_empty()) {
            want.push((t.to_vec(), t.iter().position(|&c| c == b'=')));
        }
        let mut got = Vec::new();
        let mut toks = Tokens(&body);
        while let Some((t, e)) = toks.next_eq() {
            got.push((t.to_vec(), e));
        }
        assert_eq!(got, want, "{body:?}");
    }
}

#[test]
fn find_byte_agrees_with_a_plain_search() {
    for n in 0..40usize {
        for at in (0..n).map(Some).chain([None]) {
            for other in [b'a', 0x80 | b' ', b' ' - 1, 0xff] {
                let mut v = vec![other; n];
                if let Some(k) = at {
                    v[k] = b' ';
                    // A second match later must not win.
                    if k + 3 < n {
                        v[k + 3] = b' ';
                    }
                }
                assert_eq!(find_byte(&v, b' '), at, "{v:?}");
            }
        }
    }
}

#[test]
fn header_with_node_and_enrichment() {
    let l =
        b"node=web1 type=PATH msg=audit(1615113648.978:15219): item=1 name=\"/x\"\x1dOUID=\"root\"";
    let h = parse_header(l).unwrap();
    assert_eq!(h.node, Some(&b"web1"[..]));
    assert_eq!(h.rtype, PATH);
    assert_eq!((h.sec, h.nanos, h.serial), (1615113648, 978_000_000, 15219));
    assert_eq!(h.body, b" item=1 name=\"/x\"");
    assert_eq!(h.enriched, Some(&b"OUID=\"root\""[..]));
}

/// The stamp parser as it was (split at `)`, `:` and `.`, then parse each part): the
/// one-pass parser must accept and read exactly the same stamps.
fn reference_stamp(r: &[u8]) -> Option<(u64, u32, u64, &[u8])> {
    let close = r.iter().position(|&c| c == b')')?;
    let stamp = &r[..close];
    let colon = stamp.iter().position(|&c| c == b':')?;
    let (time, serial) = (&stamp[..colon], &stamp[colon + 1..]);
    let serial = parse_u64(serial)?;
    let (sec, frac) = match time.iter().position(|&c| c == b'.') {
        Some(d) => (&time[..d], &time[d + 1..]),
        None => (time, &b""[..]),
    };
    let sec = parse_u64(sec)?;
    if frac.len() > 9 || (!frac.is_empty() && parse_u64(frac).is_none()) {
        return None;
    }
    let mut nanos = 0u32;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |c| (c - b'0') as u32);
    }
    Some((sec, nanos, serial, &r[close + 1..]))
}

#[test]
fn stamps_read_as_the_reference_parser_reads_them() {
    let mut stamps: Vec<Vec<u8>> = [
        "1.2:3)",
        "1615150974.493:21028): a=1",
        "1:2)",
        "1.:2)",
        ".5:2)",
        "1.5:)",
        "1.5:2",
        "1.5.6:2)",
        "1:2:3)",
        "1)2:3)",
        "1.1234567890:2)",
        "1.123456789:2)",
        "1.12:2) x",
        "18446744073709551615.1:18446744073709551615)",
        "18446744073709551616.1:2)",
        "1.1:18446744073709551616)",
        "000000000000000000001.1:2)",
        "1.1:000000000000000000002)",
        "00000000000000000001.1:00000000000000000002)",
        "",
        ")",
        ":",
        "1",
        "1.",
        "1.2",
        "1.2:",
        "a.2:3)",
        "1.a:3)",
        "1.2:a)",
        "1.2:3a)",
        "+1.2:3)",
        "1.-2:3)",
        " 1.2:3)",
        "1.2:3 )",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // Every byte at every place of a typical stamp.
    let base = b"1700000000.123:456): x".to_vec();
    for at in 0..base.len() {
        for c in [b'0', b'9', b'.', b':', b')', b' ', b'x', 0, 0xff] {
            let mut v = base.clone();
            v[at] = c;
            stamps.push(v.clone());
            v.truncate(at);
            stamps.push(v);
        }
    }
    for st in stamps {
        let line = [&b"type=SYSCALL msg=audit("[..], &st].concat();
        let got = parse_header_hint(&line, false)
            .ok()
            .map(|h| (h.sec, h.nanos, h.serial, h.body));
        let want = reference_stamp(&st).map(|(a, b, c, body)| {
            let body = body.strip_prefix(b":").unwrap_or(body);
            (a, b, c, body)
        });
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&st));
    }
}

#[test]
fn enriched_names_compare_as_their_lower_case_copy() {
    let names: [&[u8]; 9] = [
        b"UID", b"uid", b"Uid", b"AUID", b"UI", b"UIDX", b"", b"\xc9X", b"SADDR",
    ];
    let fields: [&[u8]; 7] = [b"uid", b"UID", b"Uid", b"auid", b"", b"\xc9x", b"saddr"];
    for n in names {
        for f in fields {
            assert_eq!(
                Enriched(n, b"").is(f),
                n.to_ascii_lowercase() == f,
                "{n:?} {f:?}"
            );
        }
    }
    let e = enrichment(b"UID=\"root\" AUID=\"unset\"");
    assert_eq!(
        e,
        [
            Enriched(b"UID", b"\"root\""),
            Enriched(b"AUID", b"\"unset\"")
        ]
    );
}

#[test]
fn unknown_types_resolve_by_number() {
    let h = parse_header(b"type=UNKNOWN[1334] msg=audit(1.2:3): prog-id=45").unwrap();
    assert_eq!((h.rtype, &*h.type_name()), (1334, "BPF"));
    let h = parse_header(b"type=UNKNOWN[1420] msg=audit(1.2:3): x=1").unwrap();
    assert_eq!((h.rtype, &*h.type_name()), (1420, "UNKNOWN[1420]"));
}

#[test]
fn malformed_headers_are_errors() {
    assert_eq!(
        parse_header(b"type=UNKNOWN[1329] msg=?"),
        Err(LineError::NoTimestamp)
    );
    assert_eq!(parse_header(b"# comment"), Err(LineError::NoType));
    assert_eq!(
        parse_header(b"type=SYSCALL msg=audit(1615150974.4"),
        Err(LineError::BadTimestamp)
    );
}

#[test]
fn nested_user_message_is_flattened() {
    let v = names_vals(
        1100,
        b" pid=1 uid=0 subj=/usr/sbin/cupsd (enforce) msg='op=PAM:authentication acct=\"user\" res=success'",
    );
    let want = [
        ("pid", "1"),
        ("uid", "0"),
        ("subj", "/usr/sbin/cupsd"),
        ("op", "PAM:authentication"),
        ("acct", "\"user\""),
        ("res", "success"),
    ];
    assert_eq!(
        v,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
}

#[test]
fn avc_unlabelled_values() {
    let v = names_vals(AVC, b" avc:  denied  { read write } for  pid=5 comm=\"x\"");
    assert_eq!(v[0], ("seresult".into(), "denied".into()));
    assert_eq!(v[1], ("seperms".into(), "read,write".into()));
    assert_eq!(v[2], ("pid".into(), "5".into()));
}

#[test]
fn packed_keys_are_split() {
    // "exec" 0x01 "64bit"; a stray trailing quote is ignored, as auparse does.
    let v = names_vals(SYSCALL, b" key=zz");
    assert_eq!(v, [("key".to_string(), "zz".to_string())]);
    let v = names_vals(SYSCALL, b" key=65786563013634626974\"");
    assert_eq!(
        v,
        [
            ("key".to_string(), "\"exec\"".to_string()),
            ("key".to_string(), "\"64bit\"".to_string())
        ]
    );
}

#[test]
fn enriched_names_holds_every_name_a_translation_applies_to() {
    let e = b"ARCH=x86_64 SYSCALL=openat AUID=\"root\" UiD=\"u\" FOO=bar OLD-AUID=x \
              ABCDEFGHIJKLMNOPQ=long";
    let en = enrichment(e);
    let set = enriched_names(&en);
    let names: &[&[u8]] = &[
        b"arch",
        b"syscall",
        b"auid",
        b"uid",
        b"foo",
        b"old-auid",
        b"abcdefghijklmnopq",
        b"gid",
        b"euid",
        b"ARCH",
        b"a0",
        b"bar",
        b"",
    ];
    for &n in names {
        let bit = set >> (super::names::classify(n) as u8) & 1 != 0;
        if en.iter().any(|e| e.is(n)) {
            assert!(bit, "{:?}", String::from_utf8_lossy(n));
        }
    }
    // Names no translation has are left out (`foo` and the long name are `Other`'s).
    for n in [&b"gid"[..], b"euid", b"a0", b"syscall_x"] {
        let id = super::names::classify(n);
        assert_eq!(set >> (id as u8) & 1, (id == Name::Other) as u128, "{n:?}");
    }
    assert_eq!(enriched_names(&[]), 0);
    assert_eq!(enriched_names(&enrichment(b"UID=\"root\"")) & 1, 0);
}

#[test]
fn unhex_decodes_only_all_hex_even_values() {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            let want = digit(a).zip(digit(b)).map(|(h, l)| vec![h << 4 | l]);
            assert_eq!(unhex(&[a, b]), want, "{a} {b}");
        }
    }
    let good = b"2f62696E2F7368000102feFF";
    assert_eq!(
        unhex(good).unwrap(),
        [b"/bin/sh".as_slice(), &[0, 1, 2, 0xfe, 0xff]].concat()
    );
    for at in 0..good.len() {
        let mut v = good.to_vec();
        v[at] = b'g';
        let mut out = b"kept".to_vec();
        assert!(!unhex_into(&v, &mut out));
        assert_eq!(out, b"kept");
        assert_eq!(unhex(&v), None);
    }
    let mut out = b"x".to_vec();
    assert!(!unhex_into(b"abc", &mut out) && !unhex_into(b"", &mut out));
    assert!(unhex_into(b"4142", &mut out));
    assert_eq!(out, b"xAB");
}

#[test]
fn enrichment_splits_as_the_plain_rule() {
    // The rule: tokens between single spaces, empty ones skipped, split at the first `=`.
    fn reference(e: &[u8]) -> Vec<Enriched<'_>> {
        e.split(|&c| c == b' ')
            .filter(|t| !t.is_empty())
            .filter_map(|t| {
                let eq = t.iter().position(|&c| c == b'=')?;
                Some(Enriched(&t[..eq], &t[eq + 1..]))
            })
            .collect()
    }
    let mut cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b" ".to_vec(),
        b"UID=\"root\" AUID=\"unset\"".to_vec(),
        b"  A=1   B==2 noeq C= =D LONGNAME_ABCDEFGH=\"x y\" ".to_vec(),
        b"ARCH=x86_64 SYSCALL=openat AUID=\"a\" UID=\"root\" GID=\"root\" EUID=\"root\"".to_vec(),
    ];
    let alphabet = b"A= x";
    for len in 0..12 {
        for seed in 0..200u32 {
            let mut v = Vec::new();
            let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(len as u32);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(alphabet[(x % 4) as usize]);
            }
            cases.push(v);
        }
    }
    for c in &cases {
        assert_eq!(
            enrichment(c),
            reference(c),
            "{:?}",
            String::from_utf8_lossy(c)
        );
    }
}
