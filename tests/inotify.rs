//! The inotify source against the real kernel: each test makes the events itself and checks
//! what `letrace record` wrote. No root needed, except where a test says so.

mod common;

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn outputs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (dir.join("e.jsonl"), dir.join("e.xml"), dir.join("e.csv"))
}

fn record_args(spec: String, out: &(PathBuf, PathBuf, PathBuf)) -> Vec<std::ffi::OsString> {
    vec![
        "-s".into(),
        spec.into(),
        "-o".into(),
        out.0.clone().into(),
        "-o".into(),
        out.1.clone().into(),
        "-o".into(),
        out.2.clone().into(),
    ]
}

fn has(events: &[Value], ty: &str, path: &Path) -> bool {
    events
        .iter()
        .any(|e| e["type"] == ty && path_bytes(e) == path.as_os_str().as_bytes())
}

fn types_of(events: &[Value], path: &Path) -> Vec<String> {
    events
        .iter()
        .filter(|e| path_bytes(e) == path.as_os_str().as_bytes())
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn all_twelve_event_types_with_full_paths_and_cookies_in_every_format() {
    let _shared = kernel_shared();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("watched");
    fs::create_dir(&w).unwrap();
    fs::create_dir(w.join("sub")).unwrap();
    fs::create_dir(w.join("gone")).unwrap();
    let w = w.canonicalize().unwrap();
    let out = outputs(tmp.path());
    let rec = Recorder::start(record_args(
        format!("inotify:{},recursive", w.display()),
        &out,
    ));

    let f = w.join("a.txt");
    fs::File::create(&f).unwrap().write_all(b"hello").unwrap(); // CREATE OPEN MODIFY CLOSE_WRITE
    fs::read(&f).unwrap(); // OPEN ACCESS CLOSE_NOWRITE
    fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap(); // ATTRIB
    let g = w.join("b.txt");
    fs::rename(&f, &g).unwrap(); // MOVED_FROM MOVED_TO
    fs::remove_file(&g).unwrap(); // DELETE
    fs::rename(w.join("sub"), w.join("sub2")).unwrap(); // MOVE_SELF on sub's own watch
    fs::remove_dir(w.join("gone")).unwrap(); // DELETE_SELF on gone's own watch

    let done = rec.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let ev = same_events_in_all_formats(&out.0, &out.1, &out.2);

    for ty in [
        "IN_CREATE",
        "IN_OPEN",
        "IN_MODIFY",
        "IN_CLOSE_WRITE",
        "IN_ACCESS",
        "IN_CLOSE_NOWRITE",
        "IN_ATTRIB",
        "IN_MOVED_FROM",
    ] {
        assert!(
            has(&ev, ty, &f),
            "{ty} on {}: got {:?}",
            f.display(),
            types_of(&ev, &f)
        );
    }
    assert!(has(&ev, "IN_MOVED_TO", &g));
    assert!(has(&ev, "IN_DELETE", &g));
    // The moved directory's own watch reports IN_MOVE_SELF; the path is the one it had.
    assert!(
        ev.iter().any(|e| e["type"] == "IN_MOVE_SELF"),
        "no IN_MOVE_SELF"
    );
    assert!(has(&ev, "IN_DELETE_SELF", &w.join("gone")));
    // The directory flag and the rename cookie pairing.
    let gone = ev
        .iter()
        .find(|e| {
            e["type"] == "IN_DELETE" && path_bytes(e) == w.join("gone").as_os_str().as_bytes()
        })
        .unwrap();
    assert_eq!(gone["file"]["type"], "dir");
    let from = ev
        .iter()
        .find(|e| e["type"] == "IN_MOVED_FROM" && path_bytes(e) == f.as_os_str().as_bytes())
        .unwrap();
    let to = ev
        .iter()
        .find(|e| e["type"] == "IN_MOVED_TO" && path_bytes(e) == g.as_os_str().as_bytes())
        .unwrap();
    assert_ne!(from["inotify"]["cookie"], Value::Null);
    assert_eq!(from["inotify"]["cookie"], to["inotify"]["cookie"]);
    // seq strictly increasing, and the totals line is printed.
    let seqs: Vec<u64> = ev.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert!(
        done.stderr.contains(&format!(
            "letrace: {} events (inotify {}), 0 lost",
            ev.len(),
            ev.len()
        )),
        "{}",
        done.stderr
    );
    // The XML document was closed and validates against the shipped schema.
    assert_valid_xml(&out.1);
}

#[test]
fn recursive_mode_follows_new_moved_and_removed_directories() {
    let _shared = kernel_shared();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    fs::create_dir(&w).unwrap();
    let w = w.canonicalize().unwrap();
    let out = outputs(tmp.path());
    let rec = Recorder::start(record_args(
        format!("inotify:{},recursive", w.display()),
        &out,
    ));

    // A whole subtree appears at once: what is inside may predate the new watches, and the
    // scan after adding them must report it.
    let deep = w.join("a/b/c");
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("early"), b"x").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    fs::write(deep.join("late"), b"y").unwrap();
    // A directory moved inside the tree keeps being watched under its new name.
    fs::rename(w.join("a"), w.join("z")).unwrap();
    fs::write(w.join("z/b/c/after-move"), b"z").unwrap();
    // A directory moved in from outside is watched from then on.
    let outside = tmp.path().join("outside");
    fs::create_dir_all(outside.join("inner")).unwrap();
    fs::rename(&outside, w.join("moved-in")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    fs::write(w.join("moved-in/inner/new"), b"n").unwrap();
    // A removed directory's watch goes away (IN_IGNORED), and a moved-out one stops reporting.
    fs::remove_dir_all(w.join("z")).unwrap();
    fs::rename(w.join("moved-in"), tmp.path().join("away")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    fs::write(tmp.path().join("away/inner/not-watched"), b"q").unwrap();

    let done = rec.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let ev = same_events_in_all_formats(&out.0, &out.1, &out.2);
    assert!(
        has(&ev, "IN_CREATE", &deep.join("early")),
        "early file inside a new subtree not reported"
    );
    assert!(has(&ev, "IN_CLOSE_WRITE", &deep.join("late")));
    assert!(
        has(&ev, "IN_CLOSE_WRITE", &w.join("z/b/c/after-move")),
        "path after directory rename"
    );
    assert!(
        has(&ev, "IN_CLOSE_WRITE", &w.join("moved-in/inner/new")),
        "directory moved in is not watched"
    );
    assert!(
        ev.iter().any(|e| e["type"] == "IN_IGNORED"),
        "no IN_IGNORED after removal"
    );
    assert!(
        !ev.iter().any(|e| e["file"]["path"]
            .as_str()
            .is_some_and(|p| p.contains("not-watched"))),
        "moved-out directory still reported"
    );
    // Nothing is reported under a stale path.
    assert!(!ev.iter().any(|e| e["file"]["path"]
        .as_str()
        .is_some_and(|p| p.contains("/a/b/c/after-move"))));
}

#[test]
fn awkward_names_round_trip_in_every_format() {
    let _shared = kernel_shared();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    fs::create_dir(&w).unwrap();
    let w = w.canonicalize().unwrap();
    let out = outputs(tmp.path());
    let names: Vec<&[u8]> = vec![
        b"new\nline",
        b"quote\"s'",
        b"<tag>&amp;",
        b"com,ma",
        b"bad\xff\xfeutf8",
        b"back\\slash\\x41",
        b"tab\tcr\r",
        b"\xe2\x80\xae-rtl",
    ];
    let rec = Recorder::start(record_args(format!("inotify:{}", w.display()), &out));
    for n in &names {
        fs::write(w.join(std::ffi::OsStr::from_bytes(n)), b"").unwrap();
    }
    let done = rec.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let ev = same_events_in_all_formats(&out.0, &out.1, &out.2);
    let xml = read_xml(&out.1);
    let csv = read_csv(&out.2);
    for n in &names {
        let want = [w.as_os_str().as_bytes(), b"/", n].concat();
        let i = ev
            .iter()
            .position(|e| e["type"] == "IN_CREATE" && path_bytes(e) == want)
            .unwrap_or_else(|| panic!("{:?} missing", String::from_utf8_lossy(n)));
        let from_xml = letrace::text::unescape(xml[i].get("file.path").unwrap()).unwrap();
        let from_csv = letrace::text::unescape(&csv[i]["file.path"]).unwrap();
        assert_eq!(from_xml, want);
        assert_eq!(from_csv, want);
    }
    // Every physical line of the JSON file is one event: no raw newline leaked.
    assert_eq!(
        fs::read_to_string(&out.0).unwrap().lines().count(),
        ev.len()
    );
    assert_valid_xml(&out.1);
}

#[test]
fn letrace_does_not_report_its_own_output_files() {
    let _shared = kernel_shared();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let out = outputs(&w);
    let rec = Recorder::start(record_args(format!("inotify:{}", w.display()), &out));
    for i in 0..50 {
        fs::write(w.join(format!("f{i}")), b"x").unwrap();
    }
    let done = rec.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let ev = same_events_in_all_formats(&out.0, &out.1, &out.2);
    let mine: HashSet<Vec<u8>> = [&out.0, &out.1, &out.2]
        .iter()
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .collect();
    assert!(
        !ev.iter().any(|e| mine.contains(&path_bytes(e))),
        "own output reported"
    );
    assert_eq!(
        ev.iter().filter(|e| e["type"] == "IN_CLOSE_WRITE").count(),
        50
    );
}

#[test]
fn sigint_count_and_duration_all_end_with_closed_documents() {
    let _shared = kernel_shared();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    fs::create_dir(&w).unwrap();
    // --count: exactly N events, XML closed, exit 0.
    let out = outputs(tmp.path());
    let mut args = record_args(format!("inotify:{}", w.display()), &out);
    args.extend(["--count".into(), "7".into()]);
    let mut rec = Recorder::start(args);
    for i in 0..20 {
        fs::write(w.join(format!("c{i}")), b"x").unwrap();
    }
    let st = rec.child_mut().wait().unwrap();
    assert!(st.success());
    assert_eq!(same_events_in_all_formats(&out.0, &out.1, &out.2).len(), 7);

    // --duration: ends by itself.
    let t0 = std::time::Instant::now();
    let st = letrace()
        .args(["record", "-s"])
        .arg(format!("inotify:{}", w.display()))
        .args(["--duration", "0.5", "-o"])
        .arg(&out.1)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    read_xml(&out.1);

    // SIGINT, as Ctrl-C.
    let rec = Recorder::start(record_args(format!("inotify:{}", w.display()), &out));
    fs::write(w.join("int"), b"x").unwrap();
    let done = rec.stop_with(libc::SIGINT);
    assert!(done.status.success(), "{}", done.stderr);
    let ev = same_events_in_all_formats(&out.0, &out.1, &out.2);
    assert!(ev.iter().any(|e| e["type"] == "IN_CLOSE_WRITE"));
}

/// A slow reader: the queue fills and the loss is counted exactly. Nothing is silently
/// dropped: captured + lost == what the kernel reported.
#[test]
fn full_queue_loss_is_counted_exactly() {
    let _shared = kernel_shared();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    fs::create_dir(&w).unwrap();
    let mut cmd = letrace();
    cmd.args(["record", "--queue-size", "16", "-f", "json", "-s"])
        .arg(format!("inotify:{}", w.display()));
    cmd.stdout(std::process::Stdio::piped());
    let mut rec = Recorder::start_with(&mut cmd);
    let stdout = rec.child_mut().stdout.take().unwrap();
    // Nobody reads stdout yet: the pipe fills, the pipeline blocks, the queue fills.
    const FILES: usize = 3000;
    for i in 0..FILES {
        fs::File::create(w.join(format!("f{i:05}")))
            .unwrap()
            .write_all(b"x")
            .unwrap();
    }
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let done = rec.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let text = reader.join().unwrap();
    let ev: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lost: u64 = ev
        .iter()
        .filter(|e| e["type"] == "LOST")
        .map(|e| e["lost"].as_u64().unwrap())
        .sum();
    let kept = ev.iter().filter(|e| e["type"] != "LOST").count() as u64;
    assert!(
        ev.iter()
            .all(|e| e["type"] != "LOST" || e["lost_exact"] == true),
        "a kernel overflow muddies the count"
    );
    assert!(lost > 0, "the queue never filled: the test proves nothing");
    // CREATE, OPEN, MODIFY, CLOSE_WRITE per file.
    assert_eq!(
        kept + lost,
        4 * FILES as u64,
        "captured {kept} + lost {lost}"
    );
    assert!(
        done.stderr.contains(&format!("{lost} lost")),
        "{}",
        done.stderr
    );
}

/// Restores a sysctl when dropped, also when the test fails.
struct Sysctl(&'static str, String);
impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = fs::write(self.0, &self.1);
    }
}

#[test]
fn kernel_queue_overflow_becomes_a_lost_event() {
    if !need_root() {
        return;
    }
    let _lock = kernel_lock();
    const KNOB: &str = "/proc/sys/fs/inotify/max_queued_events";
    let _restore = Sysctl(KNOB, fs::read_to_string(KNOB).unwrap());
    // Applies to inotify instances created from now on: letrace's.
    fs::write(KNOB, "64").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    fs::create_dir(&w).unwrap();
    let out = outputs(tmp.path());
    let rec = Recorder::start(record_args(
        format!("inotify:{},recursive", w.display()),
        &out,
    ));
    drop(_restore);
    rec.signal(libc::SIGSTOP);
    for i in 0..200 {
        fs::write(w.join(format!("o{i}")), b"x").unwrap();
    }
    rec.signal(libc::SIGCONT);
    // After the overflow, new directories are still watched (resync).
    std::thread::sleep(std::time::Duration::from_millis(300));
    fs::create_dir(w.join("after")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    fs::write(w.join("after/f"), b"x").unwrap();
    let done = rec.stop();
    assert!(done.status.success(), "{}", done.stderr);
    let ev = same_events_in_all_formats(&out.0, &out.1, &out.2);
    let lost: Vec<&Value> = ev.iter().filter(|e| e["type"] == "LOST").collect();
    assert_eq!(lost.len(), 1, "one IN_Q_OVERFLOW expected");
    assert_eq!(lost[0]["reason"], "IN_Q_OVERFLOW");
    assert_eq!(lost[0]["lost_exact"], false);
    assert!(lost[0]["lost"].as_u64().unwrap() >= 1);
    assert!(has(
        &ev,
        "IN_CLOSE_WRITE",
        &w.canonicalize().unwrap().join("after/f")
    ));
    assert!(done.stderr.contains("lost (inotify"), "{}", done.stderr);
}

#[test]
fn running_out_of_watches_names_the_sysctl() {
    if !need_root() {
        return;
    }
    let _lock = kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    for i in 0..200 {
        fs::create_dir_all(w.join(format!("d{i}"))).unwrap();
    }
    const KNOB: &str = "/proc/sys/fs/inotify/max_user_watches";
    let _restore = Sysctl(KNOB, fs::read_to_string(KNOB).unwrap());
    fs::write(KNOB, "10").unwrap();
    let out = letrace()
        .args(["record", "--duration", "1", "-s"])
        .arg(format!("inotify:{},recursive", w.display()))
        .output()
        .unwrap();
    drop(_restore);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("fs.inotify.max_user_watches = 10")
            && err.contains("sysctl fs.inotify.max_user_watches="),
        "{err}"
    );
}
