//! Golden files: `letrace audit parse` JSON output for representative corpus logs, compared
//! byte for byte with tests/golden/audit/*.jsonl (regenerate with LETRACE_BLESS=1 and review
//! the diff). Also: the fast JSON path writes exactly what the shared JSON encoder writes for
//! the same event, for every event of the corpus.

mod common;

use std::path::{Path, PathBuf};

use letrace::audit::coalesce::{Config, Output};
use letrace::audit::event::Builder;
use letrace::audit::parse::parse_bytes;
use letrace::encode::{Encoder, JsonEncoder};

fn corpus() -> Option<PathBuf> {
    let c = common::shared_dir()?.join("corpus").join("audit");
    c.is_dir().then_some(c)
}

/// One per feature: long split EXECVE args, enriched records, node= prefixes, out-of-order
/// and interleaved records, serial rollover, nested user messages, SOCKADDR, AVC, old
/// formats, a malformed line, hex-encoded arguments.
const GOLDEN: [&str; 12] = [
    "laurel/record-execve-long.txt",
    "linux-audit-parser-rs/line-path-enriched.txt",
    "beats/filebeat-audit-cent7-node.log",
    "go-libaudit/out_of_order.log",
    "go-libaudit/rollover.log",
    "linux-audit-parser-rs/line-user-auth.txt",
    "laurel/record-connect.txt",
    "go-libaudit/aucoalesce-ubuntu-16.04-linux-4.13.0.log",
    "go-libaudit/auparse-audit-rhel6.log",
    "go-libaudit/auparse-audit-rhel7.log",
    "beats/filebeat-execve-hex-arg.log",
    "laurel/shell-proc-trace-reordered.txt",
];

#[test]
fn golden_json_output() {
    let Some(c) = corpus() else {
        common::need(false, "../shared/corpus (the audit-log corpus)");
        return;
    };
    let bless = std::env::var("LETRACE_BLESS").is_ok_and(|v| v == "1");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/audit");
    let mut failed = Vec::new();
    for rel in GOLDEN {
        let out = common::letrace()
            .args(["audit", "parse", "-f", "json"])
            .arg(c.join(rel))
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{rel}: {:?}",
            out.status
        );
        let golden = dir.join(format!("{}.jsonl", rel.replace('/', "__")));
        if bless {
            std::fs::write(&golden, &out.stdout).unwrap();
            continue;
        }
        let want = std::fs::read(&golden).unwrap_or_default();
        if want != out.stdout {
            failed.push(format!("{rel} (golden {})", golden.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "output differs from golden files (LETRACE_BLESS=1 to update, then review): {failed:?}"
    );
}

#[test]
fn fast_json_equals_the_shared_encoder() {
    let Some(c) = corpus() else {
        common::need(false, "../shared/corpus (the audit-log corpus)");
        return;
    };
    let mut files = Vec::new();
    common::corpus_logs(&c, &mut files);
    let mut b = Builder::default();
    let mut n = 0;
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let (out, _) = parse_bytes(&data, Config::default());
        for (seq, o) in out.into_iter().enumerate() {
            let Output::Event(raw) = o else { continue };
            let mut fast = Vec::new();
            b.render_json(&raw, seq as u64, &mut fast);
            let mut ev = b.build(&raw);
            ev.seq = seq as u64;
            let mut slow = Vec::new();
            JsonEncoder.encode(&ev, &mut slow);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow),
                "{}",
                f.display()
            );
            n += 1;
        }
    }
    assert!(n > 400, "only {n} events compared");
}
