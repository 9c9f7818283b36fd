//! Bad input on the command line: one clear line on stderr naming the problem and the fix,
//! a non-zero exit, and nothing already on disk damaged.

mod common;

use std::fs;

use common::*;

/// Runs `letrace ARGS`, expects failure, returns the single stderr line.
fn fails(args: &[&str]) -> String {
    let out = letrace().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: want one line, got {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

#[test]
fn unknown_source_names_the_accepted_ones() {
    let e = fails(&["record", "-s", "bogus:/tmp", "--duration", "1"]);
    assert!(
        e.contains("unknown source \"bogus:/tmp\"") && e.contains("inotify:PATH"),
        "{e}"
    );
}

#[test]
fn missing_path_says_create_or_fix() {
    let e = fails(&[
        "record",
        "-s",
        "inotify:/nonexistent/letrace-test",
        "--duration",
        "1",
    ]);
    assert!(
        e.contains("/nonexistent/letrace-test") && e.contains("no such file"),
        "{e}"
    );
}

#[test]
fn recursive_on_a_file_says_it_needs_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("plain");
    fs::write(&f, b"").unwrap();
    let e = fails(&[
        "record",
        "-s",
        &format!("inotify:{},recursive", f.display()),
        "--duration",
        "1",
    ]);
    assert!(
        e.contains("is not a directory") && e.contains("drop `,recursive`"),
        "{e}"
    );
}

#[test]
fn unwritable_output_and_unknown_extension_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("inotify:{}", tmp.path().display());
    let e = fails(&[
        "record",
        "-s",
        &spec,
        "-o",
        "/nonexistent-dir/e.jsonl",
        "--duration",
        "1",
    ]);
    assert!(
        e.contains("/nonexistent-dir/e.jsonl") && e.contains("cannot create"),
        "{e}"
    );
    let e = fails(&["record", "-s", &spec, "-o", "/tmp/e.bin", "--duration", "1"]);
    assert!(e.contains(".jsonl") && e.contains("-f"), "{e}");
    let e = fails(&["record", "-s", &spec, "-f", "yaml", "--duration", "1"]);
    assert!(
        e.contains("unknown format") && e.contains("json, xml, csv"),
        "{e}"
    );
    let e = fails(&["record", "-s", &spec, "--duration=-3"]);
    assert!(e.contains("--duration"), "{e}");
}

#[test]
fn a_symlink_planted_at_the_output_path_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let link = tmp.path().join("e.jsonl");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let spec = format!("inotify:{}", tmp.path().display());
    let e = fails(&[
        "record",
        "-s",
        &spec,
        "-o",
        link.to_str().unwrap(),
        "--duration",
        "1",
    ]);
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn a_bad_source_leaves_existing_output_files_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("e.jsonl");
    fs::write(&out, b"{\"earlier\":1}\n").unwrap();
    fails(&[
        "record",
        "-s",
        "inotify:/nonexistent/x",
        "-o",
        out.to_str().unwrap(),
        "--duration",
        "1",
    ]);
    assert_eq!(fs::read(&out).unwrap(), b"{\"earlier\":1}\n");
}

#[test]
fn output_files_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("e.csv");
    let st = letrace()
        .args([
            "record",
            "-s",
            &format!("inotify:{}", tmp.path().display()),
            "-o",
            out.to_str().unwrap(),
            "--duration",
            "0.2",
        ])
        .output()
        .unwrap();
    assert!(st.status.success());
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // An empty run is still a complete CSV: the header.
    assert!(fs::read_to_string(&out)
        .unwrap()
        .starts_with("time,seq,host,source,type,"));
}
