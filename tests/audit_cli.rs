//! `letrace audit parse` as a user runs it: bad lines reported with file:line and exit
//! status 3 while the rest is parsed; stdin; every output format well-formed.

mod common;

use std::io::Write;
use std::process::Stdio;

use serde_json::Value as J;

fn events(stdout: &[u8]) -> Vec<J> {
    stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

const GOOD: &str = "type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=42 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm=\"ls\" exe=\"/usr/bin/ls\" key=(null)\n\
type=EXECVE msg=audit(1700000000.100:10): argc=2 a0=\"ls\" a1=2D6C61\n\
type=EOE msg=audit(1700000000.100:10): \n";

#[test]
fn bad_lines_are_reported_and_the_rest_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut log = Vec::new();
    log.extend_from_slice(GOOD.as_bytes());
    log.extend_from_slice(b"\x00\x01\x02binary\xff garbage\n"); // line 4
    log.extend_from_slice(b"type=SYSCALL msg=audit(1700000000.2\n"); // line 5: truncated
    log.extend_from_slice(b"# a comment, skipped\n\n"); // lines 6-7
                                                        // line 8: two records fused on one line
    log.extend_from_slice(b"type=USER_LOGIN msg=audit(1700000001.000:11): pid=5 uid=0 res=successtype=USER_END msg=audit(1700000001.000:12): pid=5 uid=0 res=success\n");
    // line 9: no trailing newline
    log.extend_from_slice(b"type=USER_AUTH msg=audit(1700000002.000:13): pid=6 uid=0 msg='op=login acct=\"root\" res=failed'");
    std::fs::write(&path, &log).unwrap();
    let out = common::letrace()
        .args(["audit", "parse", "-f", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {err}");
    let p = path.display().to_string();
    assert!(err.contains(&format!("{p}:4: binary data")), "{err}");
    assert!(err.contains(&format!("{p}:5: malformed")), "{err}");
    assert!(
        err.contains(&format!("{p}:8: two records on one line")),
        "{err}"
    );
    assert!(
        !err.contains(":6:") && !err.contains(":7:") && !err.contains(":9:"),
        "{err}"
    );
    let evs = events(&out.stdout);
    let serials: Vec<u64> = evs
        .iter()
        .map(|e| e["audit"]["serial"].as_u64().unwrap())
        .collect();
    assert_eq!(serials, [10, 11, 12, 13]);
    let args = &evs[0]["process"]["args"];
    assert_eq!(args, &serde_json::json!(["ls", "-la"]));
    assert_eq!(evs[3]["type"], "USER_AUTH");
    let seqs: Vec<u64> = evs.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[test]
fn clean_input_exits_zero_and_stdin_works() {
    let mut child = common::letrace()
        .args(["audit", "parse", "-f", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(GOOD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = events(&out.stdout);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["process"]["exe"], "/usr/bin/ls");
    assert_eq!(evs[0]["audit"]["syscall"], "execve");
    assert_eq!(evs[0]["time"], "2023-11-14T22:13:20.100000000Z");
}

#[test]
fn serial_gaps_become_lost_events() {
    let log = "type=USER_LOGIN msg=audit(1.000:100): pid=1 res=success\n\
               type=USER_LOGIN msg=audit(2.000:104): pid=1 res=success\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, log).unwrap();
    let out = common::letrace()
        .args(["audit", "parse", "-f", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let evs = events(&out.stdout);
    let lost: Vec<&J> = evs.iter().filter(|e| e["type"] == "LOST").collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["lost"], 3);
    assert_eq!(lost[0]["audit"]["first_serial"], 101);
    assert_eq!(lost[0]["audit"]["last_serial"], 103);
}

#[test]
fn xml_and_csv_outputs_are_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, GOOD).unwrap();
    let xml = dir.path().join("out.xml");
    let st = common::letrace()
        .args(["audit", "parse", "-o"])
        .arg(&xml)
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&xml).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let ev: Vec<_> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("Event"))
        .collect();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].attribute("source"), Some("audit"));
    let csvp = dir.path().join("out.csv");
    let st = common::letrace()
        .args(["audit", "parse", "-o"])
        .arg(&csvp)
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let mut r = csv::Reader::from_path(&csvp).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][4], "SYSCALL");
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = common::letrace()
        .args(["audit", "parse", "/nonexistent/audit.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("letrace: error: /nonexistent/audit.log: cannot open"),
        "{err}"
    );
}

#[test]
fn refuses_to_overwrite_an_input_and_leaves_outputs_alone_on_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, GOOD).unwrap();
    let out = common::letrace()
        .args(["audit", "parse", "-f", "json", "-o"])
        .arg(&path)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also an input"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        GOOD,
        "input untouched"
    );
    // A missing input: the existing output file is not truncated.
    let res = dir.path().join("out.jsonl");
    std::fs::write(&res, "keep me\n").unwrap();
    let out = common::letrace()
        .args(["audit", "parse", "-o"])
        .arg(&res)
        .arg(dir.path().join("missing.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&res).unwrap(), "keep me\n");
}

/// As an auditd plugin: events come out as soon as they are complete, while stdin stays open.
#[test]
fn streams_events_while_stdin_stays_open() {
    use std::io::{BufRead, BufReader};
    let mut child = common::letrace()
        .args(["audit", "parse", "--no-gaps", "-f", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(GOOD.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(10));
    drop(stdin);
    let _ = child.wait();
    let line = line.expect("no event within 10 s while the input stayed open");
    let ev: J = serde_json::from_str(&line).unwrap();
    assert_eq!(ev["audit"]["serial"], 10);
}

#[test]
fn progress_line_only_when_stderr_is_a_terminal() {
    if !common::need_tool("script") || !common::need_tool("mkfifo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("audit.fifo");
    let out = dir.path().join("out.jsonl");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A slow input (a FIFO fed in two bursts) so the parse outlasts the 250 ms refresh.
    let feed = |fifo: std::path::PathBuf| {
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            w.write_all(GOOD.as_bytes()).unwrap();
            w.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(600));
            w.write_all(GOOD.replace(":10)", ":11)").as_bytes())
                .unwrap();
        })
    };
    let q = |p: &std::path::Path| format!("'{}'", p.display());
    let bin = common::letrace().get_program().to_owned();
    let cmd = format!(
        "{} audit parse {} -o {}",
        q(std::path::Path::new(&bin)),
        q(&fifo),
        q(&out)
    );
    let writer = feed(fifo.clone());
    // `script` gives the child a pseudo-terminal for stdin/stdout/stderr and copies it out.
    let tty = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    writer.join().unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    let name = fifo.display().to_string();
    assert!(
        shown.contains(&format!("\r\x1b[Kletrace: {name}: ")) && shown.contains(" MB/s)"),
        "no progress line on a terminal: {shown:?}"
    );
    assert!(
        shown.ends_with("\r\x1b[K"),
        "progress line not cleared: {shown:?}"
    );
    assert_eq!(events(&std::fs::read(&out).unwrap()).len(), 2);

    // The same run with stderr a pipe: no progress, no terminal escapes.
    std::fs::remove_file(&out).unwrap();
    let writer = feed(fifo.clone());
    let plain = common::letrace()
        .args(["audit", "parse"])
        .arg(&fifo)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    writer.join().unwrap();
    assert!(plain.status.success());
    assert!(
        plain.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert_eq!(events(&std::fs::read(&out).unwrap()).len(), 2);
}
