//! Kernel tests of `fanotify:PATH`: the test makes the events itself and finds every one in
//! the JSON, XML and CSV output of the real `letrace record`.

mod common;
mod sources_util;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sources_util::{find, Recorder};

fn comm_of_self() -> String {
    fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_string()
}

/// letrace recording `fanotify:W` into a new directory (returned, to live as long as the
/// recorder), once it has reported a write in W.
fn recording(w: &std::path::Path) -> (tempfile::TempDir, Recorder) {
    let out = tempfile::tempdir().unwrap();
    let mut rec = Recorder::start(out.path(), &["-s", &format!("fanotify:{}", w.display())]);
    let ready = w.join("ready");
    rec.wait_for("/ready\"", || {
        let _ = fs::write(&ready, b"x");
    });
    (out, rec)
}

#[test]
fn fanotify_reports_every_event_under_path_with_process_and_nothing_else() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let outside = tempfile::tempdir().unwrap();
    // A directory that exists before letrace starts: its handle must be resolved by asking
    // the kernel (open_by_handle_at), not from letrace's cache of what it saw created.
    let old = w.join("old");
    fs::create_dir(&old).unwrap();
    // Outputs inside the watched tree: letrace must not report its own writes.
    let mut rec = Recorder::start(&w, &["-s", &format!("fanotify:{}", w.display())]);
    let ready = w.join("ready");
    rec.wait_for("/ready\"", || {
        let _ = fs::write(&ready, b"x");
    });

    let me = std::process::id().to_string();
    let d = w.join("d");
    fs::create_dir(&d).unwrap();
    let f = d.join("f");
    fs::File::create(&f).unwrap().write_all(b"hello").unwrap();
    let mut s = String::new();
    fs::File::open(&f).unwrap().read_to_string(&mut s).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
    let g = d.join("g");
    fs::rename(&f, &g).unwrap();
    let e = w.join("e");
    fs::rename(&d, &e).unwrap();
    let g2 = e.join("g");
    fs::remove_file(&g2).unwrap();
    fs::remove_dir(&e).unwrap();
    let o = old.join("inner");
    fs::write(&o, b"x").unwrap();
    // Linux names are bytes: a non-UTF-8 name survives, escaped as \xNN in every format.
    use std::os::unix::ffi::OsStrExt;
    let raw_name = w.join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    fs::write(&raw_name, b"x").unwrap();
    // Outside PATH, same filesystem: must not appear.
    fs::write(outside.path().join("elsewhere"), b"x").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let err = rec.stop();
    let evs = rec.events();

    let p = |x: &std::path::Path| x.display().to_string();
    let want: Vec<(&str, String)> = vec![
        ("FAN_CREATE", p(&d)),
        ("FAN_CREATE", p(&f)),
        ("FAN_OPEN", p(&f)),
        ("FAN_MODIFY", p(&f)),
        ("FAN_CLOSE_WRITE", p(&f)),
        ("FAN_ACCESS", p(&f)),
        ("FAN_CLOSE_NOWRITE", p(&f)),
        ("FAN_ATTRIB", p(&f)),
        ("FAN_RENAME", p(&g)),
        ("FAN_RENAME", p(&e)),
        ("FAN_DELETE_SELF", p(&g2)),
        ("FAN_DELETE", p(&g2)),
        ("FAN_DELETE_SELF", p(&e)),
        ("FAN_DELETE", p(&e)),
        ("FAN_CREATE", p(&o)),
        ("FAN_CLOSE_WRITE", p(&o)),
        ("FAN_CREATE", format!("{}/bad\\xffname", w.display())),
    ];
    for (ty, path) in &want {
        let hits = find(
            &evs,
            &[
                ("source", "fanotify"),
                ("type", ty),
                ("file.path", path),
                ("process.pid", &me),
            ],
        );
        assert!(
            !hits.is_empty(),
            "{ty} {path} missing; stderr: {err}\n{evs:#?}"
        );
        let h = hits[0];
        // This process is alive: comm and exe must be known and right.
        assert_eq!(h.get("process.comm"), Some(&comm_of_self()), "{h:?}");
        let exe = fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(h.get("process.exe"), Some(&exe.display().to_string()));
        assert!(h.contains_key("fanotify.mask") && h.contains_key("fanotify.fsid"));
    }
    // Directories are typed and carry FAN_ONDIR in the raw mask.
    let dir_create = find(&evs, &[("type", "FAN_CREATE"), ("file.path", &p(&d))])[0];
    assert_eq!(dir_create.get("file.type").map(String::as_str), Some("dir"));
    let mask: u64 = dir_create["fanotify.mask"].parse().unwrap();
    assert_ne!(mask & libc::FAN_ONDIR, 0);
    // Renames carry both names.
    let r = find(&evs, &[("type", "FAN_RENAME"), ("file.path", &p(&g))])[0];
    assert_eq!(r.get("file.old_path"), Some(&p(&f)));
    let r = find(&evs, &[("type", "FAN_RENAME"), ("file.path", &p(&e))])[0];
    assert_eq!(r.get("file.old_path"), Some(&p(&d)));
    // Nothing outside PATH, nothing about letrace's own output files, nothing by letrace.
    let root = p(&w);
    let lt = rec.pid().to_string();
    for ev in evs.iter().filter(|e| e["source"] == "fanotify") {
        let path = ev.get("file.path").expect("path");
        assert!(
            path == &root || path.starts_with(&format!("{root}/")),
            "outside: {ev:?}"
        );
        assert!(!path.contains("/out."), "own output reported: {ev:?}");
        assert_ne!(
            ev.get("process.pid"),
            Some(&lt),
            "own activity reported: {ev:?}"
        );
    }
}

#[test]
fn fanotify_overflow_becomes_a_lost_event() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let out = tempfile::tempdir().unwrap();
    // JSON only: tens of thousands of events; the three encoders are checked above.
    let spec = format!("fanotify:{}", w.display());
    let mut rec = Recorder::start_with(out.path(), &["-s", &spec], &["jsonl"]);
    let ready = w.join("ready");
    rec.wait_for("/ready\"", || {
        let _ = fs::write(&ready, b"x");
    });
    // Stall the reader, then queue more events than the kernel keeps (16384 by default):
    // distinct files, so the kernel cannot merge them.
    let limit: usize = fs::read_to_string("/proc/sys/fs/fanotify/max_queued_events")
        .map_or(16384, |s| s.trim().parse().unwrap_or(16384));
    rec.pause();
    for i in 0..limit + 2000 {
        fs::File::create(w.join(format!("f{i}"))).unwrap();
    }
    rec.resume();
    std::thread::sleep(Duration::from_millis(1500));
    let err = rec.stop();
    let mut lost = Vec::new();
    let mut created = Vec::new();
    let prefix = format!("\"path\":\"{}/f", w.display());
    for line in rec.jsonl().lines() {
        if line.contains("\"type\":\"LOST\"") {
            lost.push(serde_json::from_str::<serde_json::Value>(line).unwrap());
        } else if line.contains("\"type\":\"FAN_CREATE\"") {
            if let Some(i) = line.find(&prefix) {
                let rest = &line[i + prefix.len()..];
                let n: usize = rest[..rest.find('"').unwrap()].parse().unwrap();
                created.push(n);
            }
        }
    }
    let lost: Vec<_> = lost.iter().filter(|l| l["source"] == "fanotify").collect();
    assert!(!lost.is_empty(), "no LOST event; stderr: {err}");
    assert_eq!(lost[0]["reason"], "FAN_Q_OVERFLOW");
    assert_eq!(lost[0]["lost_exact"], false);
    assert!(lost[0]["lost"].as_u64().unwrap() >= 1);
    // The kernel keeps the oldest events and drops the newest: what arrived is exactly the
    // first files created, in order, and not all of them. (How many depends on how much of
    // the shared queue the rest of the filesystem's activity took meanwhile.)
    created.sort_unstable();
    created.dedup();
    assert!(!created.is_empty(), "no FAN_CREATE at all");
    assert_eq!(
        created,
        (0..created.len()).collect::<Vec<_>>(),
        "not a prefix"
    );
    assert!(created.len() < limit + 2000, "nothing was lost?");
    assert!(err.contains("lost"), "{err}");
}

#[test]
fn fanotify_bad_path_is_a_one_line_error() {
    if !common::need_root() {
        return; // without root the privilege check speaks first
    }
    let out = letrace_err(&["record", "-s", "fanotify:/nonexistent/x", "--duration", "1"]);
    assert!(
        out.contains("fanotify:/nonexistent/x: no such file or directory"),
        "{out}"
    );
    assert_eq!(out.trim().lines().count(), 1, "{out}");
}

fn letrace_err(args: &[&str]) -> String {
    let o = common::letrace().args(args).output().unwrap();
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn fanotify_places_deletes_in_a_tree_that_existed_before_and_is_gone_when_read() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let old = w.join("old");
    let mut files = Vec::new();
    let mut dirs = vec![old.clone()];
    for a in 0..3 {
        let d = old.join(format!("a{a}"));
        let dd = d.join("b");
        fs::create_dir_all(&dd).unwrap();
        dirs.push(d.clone());
        dirs.push(dd.clone());
        for i in 0..3 {
            for dir in [&d, &dd] {
                let f = dir.join(format!("f{i}"));
                fs::write(&f, b"x").unwrap();
                files.push(f);
            }
        }
    }
    let (_out, mut rec) = recording(&w);
    // letrace reads nothing until the whole tree is gone: every directory handle in the
    // queue is stale by then, and only what letrace learnt at start-up can place them.
    rec.pause();
    fs::remove_dir_all(&old).unwrap();
    rec.resume();
    std::thread::sleep(Duration::from_millis(500));
    let err = rec.stop();
    let evs = rec.events();
    let me = std::process::id().to_string();
    for p in files.iter().chain(&dirs) {
        let path = p.display().to_string();
        let hit = find(
            &evs,
            &[
                ("type", "FAN_DELETE"),
                ("file.path", &path),
                ("process.pid", &me),
            ],
        );
        assert_eq!(hit.len(), 1, "FAN_DELETE {path}: stderr {err}\n{evs:#?}");
    }
    // FAN_DELETE_SELF carries only the object's own (stale) handle; files letrace never saw
    // before get their path from the FAN_DELETE of the same read.
    for p in files.iter().chain(&dirs) {
        let path = p.display().to_string();
        let hit = find(&evs, &[("type", "FAN_DELETE_SELF"), ("file.path", &path)]);
        assert_eq!(hit.len(), 1, "FAN_DELETE_SELF {path}\n{evs:#?}");
    }
    assert!(!evs.iter().any(|e| e.contains_key("fanotify.path_unknown")));
}

#[test]
fn fanotify_process_gone_before_the_read_is_unknown_not_guessed() {
    if !common::need_root() || !common::need_tool("touch") {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let (_out, mut rec) = recording(&w);
    // The toucher has exited (and its pid may be anyone's) by the time letrace reads.
    rec.pause();
    let f = w.join("touched");
    let mut child = std::process::Command::new("touch").arg(&f).spawn().unwrap();
    let pid = child.id().to_string();
    assert!(child.wait().unwrap().success());
    rec.resume();
    std::thread::sleep(Duration::from_millis(300));
    let _ = rec.stop();
    let evs = rec.events();
    let path = f.display().to_string();
    let hits = find(&evs, &[("type", "FAN_CREATE"), ("file.path", &path)]);
    assert_eq!(hits.len(), 1, "{evs:#?}");
    let h = hits[0];
    assert_eq!(h.get("process.pid"), Some(&pid));
    assert_eq!(
        h.get("process.unknown").map(String::as_str),
        Some("exited"),
        "{h:?}"
    );
    assert!(
        !h.contains_key("process.comm") && !h.contains_key("process.exe"),
        "{h:?}"
    );
}

#[test]
fn fanotify_events_carry_args_parent_and_entity_id_and_follow_an_exec() {
    if !common::need_root() || !common::need_tool("sh") {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().canonicalize().unwrap();
    let (out, mut rec) = recording(&w);
    // One pid, two programs: the second event must not carry the first program's args. The
    // exec waits until letrace has written the first event (a file outside the watched tree
    // says go), so the two are read in different batches however slow the machine.
    let (a, b, go) = (w.join("a"), w.join("b"), out.path().join("go"));
    let second = r#"echo y > "$1"; sleep 2"#;
    let first = format!(
        r#"echo x > "$1"; while [ ! -e "$3" ]; do sleep 0.05; done; exec sh -c '{second}' second "$2""#
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &first, "first"])
        .arg(&a)
        .arg(&b)
        .arg(&go)
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    rec.wait_for(&format!("{}\"", a.display()), || {});
    fs::write(&go, b"").unwrap();
    rec.wait_for(&format!("{}\"", b.display()), || {});
    let _ = rec.stop();
    let _ = child.kill();
    let _ = child.wait();
    let evs = rec.events();
    let me = std::process::id().to_string();
    let my_exe = fs::read_link("/proc/self/exe").unwrap();
    let create = |f: &std::path::Path| {
        let hits = find(
            &evs,
            &[
                ("type", "FAN_CREATE"),
                ("file.path", &f.display().to_string()),
            ],
        );
        assert_eq!(hits.len(), 1, "{evs:#?}");
        hits[0].clone()
    };
    let (ea, eb) = (create(&a), create(&b));
    for (e, script, name, files) in [
        (&ea, first.as_str(), "first", vec![&a, &b, &go]),
        (&eb, second, "second", vec![&b]),
    ] {
        assert_eq!(e.get("process.pid"), Some(&pid), "{e:?}");
        assert_eq!(e.get("process.args[0]").map(String::as_str), Some("sh"));
        assert_eq!(e.get("process.args[2]").map(String::as_str), Some(script));
        assert_eq!(e.get("process.args[3]").map(String::as_str), Some(name));
        for (i, f) in files.iter().enumerate() {
            let k = format!("process.args[{}]", 4 + i);
            assert_eq!(e.get(&k), Some(&f.display().to_string()), "{e:?}");
        }
        assert!(!e.contains_key(&format!("process.args[{}]", 4 + files.len())));
        assert_eq!(e.get("process.ppid"), Some(&me));
        assert_eq!(e.get("process.parent.pid"), Some(&me));
        assert_eq!(
            e.get("process.parent.exe"),
            Some(&my_exe.display().to_string())
        );
        let eid = e.get("process.entity_id").expect("entity_id");
        assert_eq!(eid.len(), 16, "{e:?}");
        assert_eq!(e.get("process.parent.entity_id").map(String::len), Some(16));
    }
    // Same process (pid and start time) across the exec: same entity_id.
    assert_eq!(ea.get("process.entity_id"), eb.get("process.entity_id"));
}
