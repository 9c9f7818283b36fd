//! Tests of `summary.rs`: what it writes without building values equals what the shared
//! builders (`Args`, the whole-bytes socket address decoder) produce.

use super::*;
use crate::audit::record;
use crate::event::Bytes;

/// `ArgsOut` writes what `Args` builds, whatever the shape of the EXECVE fields.
#[test]
fn arguments_as_args_builds_them() {
    let cases: &[&[(&str, &str)]] = &[
        &[],
        &[("argc", "2"), ("a0", "\"ls\""), ("a1", "2D6C")],
        &[("a0", "\"ls\""), ("a1", "\"-l\"")],
        &[("argc", "1")],
        &[("argc", "x")],
        &[("argc", "5"), ("a0", "\"ls\"")],
        &[("argc", "99"), ("a0", "\"ls\"")],
        &[("argc", "1"), ("argc", "3"), ("a0", "\"ls\"")],
        &[("argc", "1"), ("a0", "\"ls\""), ("a1", "\"extra\"")],
        &[("a1", "\"b\""), ("a0", "\"a\"")],
        &[("a0", "\"a\""), ("a0", "\"b\"")],
        &[("a0", "\"a\""), ("a2", "\"c\"")],
        &[("a1", "\"b\"")],
        &[("a+0", "\"a\""), ("a01", "\"b\"")],
        &[
            ("argc", "2"),
            ("a0", "\"a\""),
            ("a1_len", "8"),
            ("a1[0]", "61"),
            ("a1[1]", "62"),
        ],
        &[("a0", "\"a\""), ("a1[", "\"b\"")],
        &[
            ("a0", "\"a\""),
            ("ax", "\"b\""),
            ("b0", "\"c\""),
            ("a", "\"d\""),
        ],
        &[
            ("a0", "\"q\\\"x\""),
            ("a1", "\"\""),
            ("a2", "\"\u{e9}\x01\""),
        ],
    ];
    for case in cases {
        let mut a = Args::default();
        for (n, r) in case.iter() {
            a.add(n.as_bytes(), r.as_bytes());
        }
        // As `Sum::field` keeps them.
        let execve: Vec<ExecveField> = case
            .iter()
            .map(|(n, r)| (arg_name(n.as_bytes()), n.as_bytes(), r.as_bytes()))
            .filter(|(a, _, _)| *a != ArgName::Ignored)
            .map(|(a, n, r)| (a, Cow::Borrowed(n), Cow::Borrowed(r)))
            .collect();
        let mut want = Vec::new();
        let want_missing = match a.finish() {
            Some((args, missing)) => {
                want.extend_from_slice(b",\"args\":");
                string_list(args.iter().map(|x| &x.0[..]), &mut want);
                missing
            }
            None => 0,
        };
        let out = ArgsOut::new(&execve);
        let mut mine = Vec::new();
        let missing = out.write(&execve, &mut mine);
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&want),
            "{case:?}"
        );
        assert_eq!(missing, want_missing, "{case:?}");
        assert_eq!(matches!(out, ArgsOut::None), want.is_empty(), "{case:?}");
    }
}

/// `sockaddr` as it was written before it decoded only what it needs.
fn sockaddr_all_bytes(raw: &[u8]) -> Option<Network> {
    let hex_len = raw.iter().take_while(|c| c.is_ascii_hexdigit()).count() & !1;
    let b = record::unhex(&raw[..hex_len])?;
    if b.len() < 2 {
        return None;
    }
    let mut n = Network::default();
    match u16::from_le_bytes([b[0], b[1]]) {
        2 if b.len() >= 8 => {
            n.family = Some(Cow::Borrowed("ipv4"));
            n.daddr = Some(std::net::Ipv4Addr::new(b[4], b[5], b[6], b[7]).to_string());
            n.dport = Some(u16::from_be_bytes([b[2], b[3]]));
        }
        10 if b.len() >= 24 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[8..24]);
            n.family = Some(Cow::Borrowed("ipv6"));
            n.daddr = Some(std::net::Ipv6Addr::from(o).to_string());
            n.dport = Some(u16::from_be_bytes([b[2], b[3]]));
        }
        1 => {
            n.family = Some(Cow::Borrowed("unix"));
            let p = &b[2..];
            let (abs, p) = match p.first() {
                Some(0) => (true, &p[1..]),
                _ => (false, p),
            };
            let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
            n.extra.insert("path", Bytes(p[..end].to_vec()));
            if abs {
                n.extra.insert("abstract", true);
            }
        }
        16 => n.family = Some(Cow::Borrowed("netlink")),
        f => n.extra.insert("af", f as u64),
    }
    Some(n)
}

#[test]
fn socket_addresses_as_decoded_in_full() {
    let mut cases: Vec<String> = [
        "",
        "0",
        "02",
        "0200",
        "020001BBC0A8010A0000000000000000",
        "020001bbc0a8010a",
        "020001BBC0A801",
        "02000035FFFFFFFF0000000000000000",
        "0A000050000000002001067C21900000000000000000000100000000",
        "0A00005000000000000000000000000000000000000000010000",
        "0A0000500000000000000000000000000000FFFF7F000001000000",
        "01002F6465762F6C6F6700",
        "01002F72756E2F7379737465",
        "010000616273747261637400",
        "0100",
        "010000",
        "1000",
        "10000000000000000000",
        "0000000000000000",
        "2A00",
        "FFFF",
        "01002F746D70ZZ",
        "01002F746D7",
        "0200xyz",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cases.push(format!("0100{}", "2F".repeat(108)));
    cases.push(format!("{}!", "ab".repeat(40)));
    for c in cases {
        let enc = |n: Option<Network>| {
            n.map(|n| {
                let mut v = Vec::new();
                crate::audit::json::network(&n, &mut v);
                v
            })
        };
        assert_eq!(
            enc(sockaddr(c.as_bytes())),
            enc(sockaddr_all_bytes(c.as_bytes())),
            "{c}"
        );
    }
}
