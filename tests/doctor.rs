//! `letrace doctor` and the start-up check of `record` (`--best-effort`).

mod common;

use std::time::Duration;

use common::flat::{find_all as find, read_csv, read_jsonl, read_xml};

const SOURCES: [&str; 7] = [
    "inotify", "fanotify", "epoll", "input", "audit", "route", "bpf",
];

#[test]
fn doctor_prints_one_row_per_source() {
    let o = common::letrace().arg("doctor").output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][..3], ["SOURCE", "CAN", "RUN"]);
    let names: Vec<&str> = rows[1..].iter().map(|r| r[0]).collect();
    assert_eq!(names, SOURCES, "{out}");
    for r in &rows[1..] {
        assert!(["yes", "degraded", "NO"].contains(&r[1]), "{out}");
    }
    // Every NO row says what to do on the next line.
    let lines: Vec<&str> = out.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.split_whitespace().nth(1) == Some("NO") {
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|n| n.trim_start().starts_with("->")),
                "{out}"
            );
        }
    }
    // As root on a kernel with these interfaces (CI), the three sources of this crate run.
    if common::need_root() {
        for src in ["inotify", "fanotify", "epoll"] {
            let row = rows.iter().find(|r| r[0] == src).unwrap();
            assert_eq!(row[1], "yes", "{out}");
        }
    }
}

/// Runs letrace as root without CAP_SYS_ADMIN: fanotify cannot run, inotify can.
fn without_sys_admin() -> std::process::Command {
    let mut c = std::process::Command::new("setpriv");
    c.args([
        "--bounding-set",
        "-sys_admin",
        "--inh-caps",
        "-sys_admin",
        "--",
    ])
    .arg(env!("CARGO_BIN_EXE_letrace"));
    c
}

#[test]
fn a_source_that_cannot_run_is_an_error_unless_best_effort() {
    if !common::need_root() || !common::need_tool("setpriv") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let fan = format!("fanotify:{}", w.display());
    let ino = format!("inotify:{}", w.display());

    let o = without_sys_admin()
        .args(["record", "-s", &ino, "-s", &fan, "--duration", "1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("source fanotify cannot run here"), "{err}");
    assert!(err.contains("CAP_SYS_ADMIN"), "{err}");

    let out = tempfile::tempdir().unwrap();
    let mut cmd = without_sys_admin();
    cmd.args([
        "record",
        "-s",
        &ino,
        "-s",
        &fan,
        "--best-effort",
        "--duration",
        "3",
    ]);
    for ext in ["jsonl", "xml", "csv"] {
        cmd.arg("-o").arg(out.path().join(format!("out.{ext}")));
    }
    let child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Keep making files while it runs: the inotify source must still record them.
    for i in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(w.join(format!("f{i}")), b"x").unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: skipping source fanotify (--best-effort)"),
        "{err}"
    );
    for evs in [
        read_jsonl(&out.path().join("out.jsonl")),
        read_xml(&out.path().join("out.xml")),
        read_csv(&out.path().join("out.csv")),
    ] {
        let skipped = find(
            &evs,
            &[
                ("source", "letrace"),
                ("type", "SOURCE_SKIPPED"),
                ("letrace.skipped_source", "fanotify"),
            ],
        );
        assert_eq!(skipped.len(), 1, "{evs:#?}");
        assert!(skipped[0]["letrace.reason"].contains("CAP_SYS_ADMIN"));
        assert!(
            !find(&evs, &[("source", "inotify"), ("type", "IN_CREATE")]).is_empty(),
            "{evs:#?}"
        );
    }
}
