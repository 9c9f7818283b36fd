//! Property tests: mutated real audit lines and random bytes through the line parser, the
//! coalescer and both renderers. Nothing may panic, every line is either a record or reported,
//! no record is lost or duplicated by the coalescer, and the JSON is always valid and equal
//! to the shared encoder's. Bounded case counts so it runs in seconds.

mod common;

use letrace::audit::coalesce::{Config, Output};
use letrace::audit::event::Builder;
use letrace::audit::parse::parse_bytes;
use letrace::audit::record;
use letrace::encode::{Encoder, JsonEncoder};
use proptest::prelude::*;

/// Real lines (from the corpus's sources) covering the record shapes the parser handles.
const SEED_LINES: &[&str] = &[
    r#"type=SYSCALL msg=audit(1615150974.493:21028): arch=c000003e syscall=59 success=yes exit=0 a0=593d4c9f5f50 a1=593d4c9adc80 a2=593d4c9c38a0 a3=fffffffffffff878 items=2 ppid=10881 pid=8832 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=1 comm="echo" exe="/usr/bin/echo" key=(null)"#,
    r#"type=EXECVE msg=audit(1615150974.493:21028): argc=2 a0="/bin/echo" a1_len=20000 a1[0]=6261616161"#,
    r#"type=CWD msg=audit(1615150974.493:21028): cwd="/home/user""#,
    "type=PATH msg=audit(1615113648.978:15219): item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=262146 dev=ca:03 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0\x1dOUID=\"root\" OGID=\"root\"",
    r#"type=PROCTITLE msg=audit(1615150974.493:21028): proctitle=2F62696E2F7368002D6566750074657374"#,
    r#"type=SOCKADDR msg=audit(1492037289.295:58): saddr=02000050A9FEA9FE0000000000000000"#,
    r#"type=EOE msg=audit(1615150974.493:21028): "#,
    "type=USER_AUTH msg=audit(1670424651.175:10465161): pid=1932610 uid=0 auid=4294967295 ses=4294967295 subj=/usr/sbin/cupsd (enforce) msg='op=PAM:authentication grantors=pam_permit acct=\"user\" exe=\"/usr/sbin/cupsd\" hostname=localhost addr=::1 terminal=cups res=success'\x1dUID=\"root\" AUID=\"unset\"",
    r#"node=web1 type=AVC msg=audit(1226270358.560:243): avc:  denied  { read write } for  pid=2 comm="x" scontext=a:b:c tcontext=d:e:f tclass=file"#,
    r#"type=DAEMON_START msg=audit(1450875964.131:8728): auditd start, ver=2.4.1 format=raw kernel=3.10.0 auid=4294967295 pid=1 res=success"#,
    r#"type=UNKNOWN[1334] msg=audit(1626883065.201:216697): prog-id=45 op=UNLOAD"#,
    r#"type=TTY msg=audit(1.2:3): tty pid=1 uid=0 data=65687F7F0D1B5B41"#,
    r#"type=SYSCALL msg=audit(1.2:3): arch=c000003e syscall=165 success=yes exit=0 a0=1 a1=2 a2=3 a3=6 key=65786563013634626974"#,
];

fn corpus_lines() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = SEED_LINES.iter().map(|l| l.as_bytes().to_vec()).collect();
    if let Some(d) = common::shared_dir() {
        let dir = d.join("corpus/audit/go-libaudit");
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten().take(6) {
                if let Ok(b) = std::fs::read(e.path()) {
                    v.extend(
                        b.split(|&c| c == b'\n')
                            .filter(|l| !l.is_empty())
                            .take(40)
                            .map(<[u8]>::to_vec),
                    );
                }
            }
        }
    }
    v
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Insert(usize, u8),
    Replace(usize, u8),
    Delete(usize, usize),
    FuseWith(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (
            any::<usize>(),
            prop_oneof![
                Just(b' '),
                Just(b'='),
                Just(b'"'),
                Just(b'\''),
                Just(0x1d),
                Just(b'('),
                Just(b')'),
                Just(b':'),
                any::<u8>()
            ]
        )
            .prop_map(|(a, b)| Mutation::Replace(a, b)),
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        any::<usize>().prop_map(Mutation::FuseWith),
        (any::<usize>(), 0usize..60).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(line: &mut Vec<u8>, m: &Mutation, pool: &[Vec<u8>]) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match *m {
        Mutation::Truncate(i) => line.truncate(at(i, line.len())),
        Mutation::Insert(i, b) => line.insert(at(i, line.len()), b),
        Mutation::Replace(i, b) => {
            if !line.is_empty() {
                let i = i % line.len();
                line[i] = b;
            }
        }
        Mutation::Delete(i, n) => {
            let i = at(i, line.len());
            let end = (i + n).min(line.len());
            line.drain(i..end);
        }
        Mutation::FuseWith(j) => {
            let other = &pool[j % pool.len()];
            line.extend_from_slice(other);
        }
        Mutation::Duplicate(i, n) => {
            let i = at(i, line.len());
            let end = (i + n).min(line.len());
            let seg = line[i..end].to_vec();
            line.splice(i..i, seg);
        }
    }
}

/// Runs a whole log through everything and checks the invariants.
fn check_log(log: &[u8]) {
    let (out, bad) = parse_bytes(
        log,
        Config {
            max_pending: 16,
            ..Config::default()
        },
    );
    // Every line that is not blank or a comment is a record or reported (or both: fused).
    let mut records_in = 0usize;
    let mut eoe_in = 0usize;
    for (i, l) in log.split(|&c| c == b'\n').enumerate() {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let t: &[u8] = {
            let s = l
                .iter()
                .position(|&c| c != b' ' && c != b'\t')
                .unwrap_or(l.len());
            &l[s..]
        };
        if t.is_empty() || t[0] == b'#' {
            continue;
        }
        let reported = bad.iter().any(|(n, _)| *n == i as u64 + 1);
        let ok = !l.contains(&0) && record::parse_header(l).is_ok();
        assert!(
            ok || reported,
            "line {} neither parsed nor reported: {:?}",
            i + 1,
            String::from_utf8_lossy(l)
        );
        if ok && !reported {
            records_in += 1;
            if record::parse_header(l).unwrap().rtype == record::EOE {
                eoe_in += 1;
            }
        }
    }
    let mut records_out = 0usize;
    let mut b = Builder::default();
    for (seq, o) in out.iter().enumerate() {
        if let Output::Event(raw) = o {
            records_out += raw.records.len();
            let mut fast = Vec::new();
            b.render_json(raw, seq as u64, &mut fast);
            let v: serde_json::Value = serde_json::from_slice(&fast).expect("valid JSON");
            assert_eq!(v["source"], "audit");
            let mut ev = b.build(raw);
            ev.seq = seq as u64;
            let mut slow = Vec::new();
            JsonEncoder.encode(&ev, &mut slow);
            assert_eq!(fast, slow);
        }
    }
    // Clean lines only: the coalescer neither drops nor duplicates records (EOE is a marker).
    if bad.is_empty() {
        assert_eq!(records_out, records_in - eoe_in);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_lines_never_break_anything(
        picks in proptest::collection::vec((any::<usize>(), proptest::collection::vec(mutation(), 0..4)), 1..24)
    ) {
        let pool = corpus_lines();
        let mut log = Vec::new();
        for (p, muts) in &picks {
            let mut line = pool[p % pool.len()].clone();
            for m in muts {
                apply(&mut line, m, &pool);
            }
            log.extend_from_slice(&line);
            log.push(b'\n');
        }
        check_log(&log);
    }

    #[test]
    fn random_bytes_never_break_anything(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_log(&data);
        let mut fields = Vec::new();
        record::split_fields(record::AVC, &data, &mut fields);
        let _ = record::enrichment(&data);
    }

    #[test]
    fn clean_interleavings_keep_every_record(order in Just((0..40usize).collect::<Vec<_>>()).prop_shuffle()) {
        // 10 events of 4 records each, arriving in any order.
        let mut lines = Vec::new();
        for i in order {
            let (ev, r) = (i / 4, i % 4);
            let ty = ["SYSCALL", "CWD", "PATH", "PROCTITLE"][r];
            lines.push(format!("type={ty} msg=audit(100.000:{}): x={r}", 1000 + ev));
        }
        let log = lines.join("\n");
        let (out, bad) = parse_bytes(log.as_bytes(), Config::default());
        prop_assert!(bad.is_empty());
        let mut per_serial = std::collections::BTreeMap::new();
        for o in &out {
            if let Output::Event(e) = o {
                *per_serial.entry(e.serial).or_insert(0) += e.records.len();
            }
        }
        prop_assert_eq!(per_serial.len(), 10);
        prop_assert!(per_serial.values().all(|&n| n == 4));
    }
}
