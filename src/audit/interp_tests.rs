//! Tests of `interp.rs`.
use super::*;

fn i(rtype: u32, name: &str, raw: &str) -> String {
    let ctx = Ctx {
        rtype,
        ..Ctx::default()
    };
    match interpret(&ctx, name.as_bytes(), raw.as_bytes(), &[]) {
        Some(v) => String::from_utf8_lossy(&v).into_owned(),
        None => raw.to_string(),
    }
}

#[test]
fn the_inlined_cases_agree_with_the_full_interpreter() {
    let names = [
        "auid",
        "uid",
        "ses",
        "gid",
        "id",
        "comm",
        "exe",
        "name",
        "key",
        "cwd",
        "acct",
        "a0",
        "a1",
        "a2",
        "a3",
        "a1_len",
        "a2[0]",
        "argc",
        "arch",
        "syscall",
        "exit",
        "mode",
        "saddr",
        "proctitle",
        "res",
        "subj",
        "items",
        "tty",
        "pid",
        "fp",
        "flags",
        "data",
        "cap_fp",
        "cap_fi",
        "result",
        "x",
    ];
    let raws = [
        "",
        "\"",
        "\"\"",
        "\"a\"",
        "\"a\" b",
        "\"a",
        "a\"",
        "4294967295",
        "-1",
        "0",
        "1000",
        "(null)",
        "(none)",
        "(x)y",
        "6C73",
        "006C73",
        "0x10",
        "c000003e",
        "59",
        "-13",
        "0100755",
        "40000003",
        "c000003E",
        "-2",
        "+3",
        "-0",
        "-99999",
        "-4095",
        "x",
        "yes",
        "\u{e9}",
        "a b",
        "(",
        "()",
        "(null",
        "success",
        "failed",
        "777",
        "08",
        "00",
        "99999999999999999999999",
        "-5",
    ];
    let ctxs = [
        (Some(59), None, false, None),
        (Some(102), Some(Machine::I386), false, Some(1)),
        (Some(117), Some(Machine::I386), false, Some(1)),
        (Some(102), None, false, None),
        (Some(59), None, true, None),
        (None, None, false, None),
        (Some(99999), Some(Machine::Aarch64), false, None),
    ];
    let rtypes = [
        1300, 1309, 1302, 1307, 1327, 1112, 1116, 1330, 1312, 2404, 1400,
    ];
    for (rtype, (syscall, machine, arch_unknown, a0)) in rtypes
        .iter()
        .flat_map(|&r| ctxs.iter().map(move |&c| (r, c)))
    {
        let ctx = Ctx {
            rtype,
            syscall,
            machine,
            arch_unknown,
            a0,
            ..Ctx::default()
        };
        for n in names {
            for r in raws {
                let (n, r) = (n.as_bytes(), r.as_bytes());
                let id = names::classify(n);
                let (mut b1, mut b2) = (Vec::new(), Vec::new());
                let fast = interpret_in(&ctx, id, n, r, &[], &mut b1);
                let full = interpret_full(&ctx, id, n, r, &[], &mut b2);
                let get = |i: Interp<'_>, b: &[u8]| match i {
                    Interp::Same => None,
                    Interp::At(v) => Some(v.to_vec()),
                    Interp::Buf => Some(b.to_vec()),
                };
                assert_eq!(get(fast, &b1), get(full, &b2), "{rtype} {n:?} {r:?}");
            }
        }
    }
}

#[test]
fn auparse_examples() {
    assert_eq!(i(1300, "arch", "c000003e"), "x86_64");
    assert_eq!(i(1300, "exit", "-13"), "EACCES(Permission denied)");
    assert_eq!(i(1302, "mode", "0106755"), "file,suid,sgid,755");
    assert_eq!(i(1302, "mode", "042775"), "dir,sgid,775");
    assert_eq!(
        i(1306, "saddr", "0200E31C4853E6640000000000000000"),
        "{ saddr_fam=inet laddr=72.83.230.100 lport=58140 }"
    );
    assert_eq!(
        i(
            1306,
            "saddr",
            "0A000016000000000000000000000000000000000000000000000000"
        ),
        "{ saddr_fam=inet6 laddr=:: lport=22 }"
    );
    assert_eq!(
        i(1306, "saddr", "100000000000000000000000"),
        "{ saddr_fam=netlink nlnk-fam=16 nlnk-pid=0 }"
    );
    assert_eq!(
        i(1306, "saddr", "0002D903000000000000000000000000"),
        "unknown-family(512)"
    );
    assert_eq!(
        i(1327, "proctitle", "63686F776E002D5200616C6963650074657374"),
        "chown -R alice test"
    );
    assert_eq!(i(1300, "comm", "\"bash\""), "bash");
    assert_eq!(i(1121, "cap_fp", "0"), "none");
    assert_eq!(
        i(1319, "data", "7375202D20616E647265775F6B726F680D"),
        "\"su - andrew_kroh\",<ret>"
    );
    assert_eq!(i(1300, "ses", "4294967295"), "unset");
    assert_eq!(i(1100, "res", "1"), "yes");
    assert_eq!(i(1305, "list", "4"), "exit");
}

#[test]
fn cap_bitmaps_name_their_bits_lowest_first() {
    assert_eq!(i(1302, "cap_fp", "1"), "chown");
    assert_eq!(i(1302, "cap_fp", "0000000000000000"), "none");
    assert_eq!(i(1302, "cap_fi", "zz"), "none");
    assert_eq!(
        i(1302, "cap_fi", "10000000000000000"),
        "conversion error(10000000000000000)"
    );
    for v in [
        3u64,
        0x003f_ffff_ffff,
        0x1ff_ffff_ffff,
        u64::MAX,
        1 << 40,
        1 << 41,
        0xffff_fe00_0000_0000,
        0x8000_0000_0000_0001,
        0x0123_4567_89ab_cdef,
    ] {
        let names: Vec<&str> = (0..tables::CAPS.len())
            .filter(|&b| v & (1u64 << b) != 0)
            .map(|b| tables::CAPS[b])
            .collect();
        let want = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(",")
        };
        assert_eq!(i(1302, "cap_pe", &format!("{v:x}")), want, "{v:x}");
    }
}
