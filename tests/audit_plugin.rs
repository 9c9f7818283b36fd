//! letrace as a real auditd's plugin, configured as docs/audit.md says: auditd (run from a
//! private config directory) audits execve with a key, starts `letrace audit-plugin OUTPUT`
//! from its plugins.d and feeds it. The test checks that the plugin's events are exactly what
//! `letrace audit parse` makes of auditd's own log, that SIGHUP (auditd passes its reload on)
//! makes the plugin follow a rotated output, and that stopping auditd lets the plugin finish
//! with every line whole. Audit state (enabled flag, backlog limit, the rule, the daemon) is
//! restored by a guard even when the test fails. Needs root and Debian's `auditd` package.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as J;

const KEY: &str = "letrace-plugin-test";

use common::auditctl;

fn status(key: &str) -> String {
    common::audit_status(key).unwrap_or_default()
}

/// The test's rule, after `-a` or `-d`.
const RULE: [&str; 7] = ["always,exit", "-F", "arch=b64", "-S", "execve", "-k", KEY];

/// Stops the daemon and puts the audit state back as the test found it.
struct Restore {
    enabled: String,
    backlog: String,
    daemon: Option<Child>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = Command::new("auditctl").arg("-d").args(RULE).output();
        if let Some(mut d) = self.daemon.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
            let _ = d.wait();
        }
        common::audit_reset(&self.backlog, &self.enabled);
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    // auditd refuses configuration files others may write.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640)).unwrap();
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// This test's execve events of a JSON-lines file (or of `audit parse` output), by serial,
/// with `seq` removed (it numbers the lines of each output separately).
fn ours(text: &str) -> BTreeMap<u64, J> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let mut ev: J = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        let keyed = ev["audit"]["keys"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == KEY));
        if keyed {
            ev.as_object_mut().unwrap().remove("seq");
            m.insert(ev["audit"]["serial"].as_u64().unwrap(), ev);
        }
    }
    m
}

fn args_of(ev: &J) -> Vec<String> {
    ev["process"]["args"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn run_marked(marker: &str) {
    let st = Command::new("/bin/echo")
        .args([marker, "two words", "quote\"d", "new\nline"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn letrace_runs_as_a_real_auditd_plugin() {
    if !common::need_root() || !common::need_tool("auditd") || !common::need_tool("auditctl") {
        return;
    }
    let _lock = common::kernel_lock();
    if !common::need(
        status("pid").split_whitespace().next() == Some("0"),
        "no auditd running already (the test starts its own)",
    ) {
        return;
    }
    let mut guard = Restore {
        enabled: status("enabled"),
        backlog: status("backlog_limit"),
        daemon: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("plugins.d")).unwrap();
    let out = d.join("events.jsonl");
    let log = d.join("audit.log");
    write_private(
        &d.join("auditd.conf"),
        &format!(
            "local_events = yes\nwrite_logs = yes\nlog_file = {}\nlog_format = ENRICHED\n\
             flush = INCREMENTAL_ASYNC\nfreq = 1\nmax_log_file = 100\nnum_logs = 2\n\
             max_log_file_action = ROTATE\nname_format = NONE\nq_depth = 2000\n\
             overflow_action = SYSLOG\nmax_restarts = 10\nplugin_dir = {}\n\
             space_left = 10\nadmin_space_left = 5\ndisk_full_action = SUSPEND\n\
             disk_error_action = SUSPEND\n",
            log.display(),
            d.join("plugins.d").display()
        ),
    );
    // The plugin file as docs/audit.md gives it (paths aside).
    write_private(
        &d.join("plugins.d/letrace.conf"),
        &format!(
            "active = yes\ndirection = out\npath = {}\ntype = always\nargs = audit-plugin {}\nformat = string\n",
            env!("CARGO_BIN_EXE_letrace"),
            out.display()
        ),
    );
    let errlog = std::fs::File::create(d.join("auditd.err")).unwrap();
    let daemon = Command::new("auditd")
        .args(["-n", "-c"])
        .arg(d)
        .stdin(Stdio::null())
        .stdout(errlog.try_clone().unwrap())
        .stderr(errlog)
        .spawn()
        .expect("start auditd");
    let dpid = daemon.id().to_string();
    guard.daemon = Some(daemon);
    wait_for("auditd registered with the kernel", 10, || {
        status("pid").split_whitespace().next() == Some(dpid.as_str())
    });
    auditctl(&[&["-a"], &RULE[..]].concat());

    run_marked("first-marker");
    wait_for("the plugin wrote the first event", 10, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("first-marker"))
    });

    // Rotation: the file is renamed away and auditd's reload (SIGHUP, passed on to its
    // plugins) makes letrace write to a new file at the same path.
    let rotated = d.join("events.jsonl.1");
    std::fs::rename(&out, &rotated).unwrap();
    // SAFETY: signalling the auditd we started.
    unsafe { libc::kill(dpid.parse().unwrap(), libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(500));
    run_marked("second-marker");
    wait_for(
        "the plugin wrote the second event to the new file",
        10,
        || std::fs::read_to_string(&out).is_ok_and(|t| t.contains("second-marker")),
    );

    // Stopping auditd stops the plugin: it finishes and exits, and every line is whole.
    auditctl(&[&["-d"], &RULE[..]].concat());
    let plugin_args = format!("audit-plugin\0{}\0", out.display());
    let plugin_running = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
            std::fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| c.ends_with(plugin_args.as_bytes()))
        })
    };
    assert!(
        plugin_running(),
        "auditd started the plugin (and it is still running)"
    );
    let mut daemon = guard.daemon.take().unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait().unwrap();
    wait_for("the plugin exited with auditd", 10, || !plugin_running());

    let first = std::fs::read_to_string(&rotated).unwrap();
    let second = std::fs::read_to_string(&out).unwrap();
    assert!(first.ends_with('\n') && second.ends_with('\n'));
    let mut plugin = ours(&first);
    let later = ours(&second);
    assert!(
        plugin.keys().all(|s| !later.contains_key(s)),
        "an event written twice"
    );
    plugin.extend(later);

    // What `letrace audit parse` makes of auditd's own log.
    let parsed = common::letrace()
        .args(["audit", "parse", "--no-gaps"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let from_log = ours(&String::from_utf8(parsed.stdout).unwrap());

    let markers: Vec<Vec<String>> = plugin.values().map(args_of).collect();
    for m in ["first-marker", "second-marker"] {
        let want = vec![
            "/bin/echo".to_string(),
            m.to_string(),
            "two words".into(),
            "quote\"d".into(),
            // Control bytes are written as \xNN (src/text.rs, the rule for every format).
            "new\\x0aline".into(),
        ];
        assert!(markers.contains(&want), "{m} with its argv: {markers:?}");
    }
    assert_eq!(
        plugin.keys().collect::<Vec<_>>(),
        from_log.keys().collect::<Vec<_>>(),
        "the plugin and the log have the same events"
    );
    for (serial, ev) in &plugin {
        assert_eq!(ev, &from_log[serial], "serial {serial}: plugin vs log");
    }
}

/// Without auditd or root: the plugin appends, writes the events in flight when SIGTERM comes
/// while its stdin is still open, and refuses formats that cannot be appended to.
#[test]
fn plugin_appends_and_finishes_on_sigterm() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.jsonl");
    std::fs::write(&out, "{\"earlier\":true}\n").unwrap();
    let mut child = common::letrace()
        .arg("audit-plugin")
        .arg(&out)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Two complete events and one whose EOE never comes.
    stdin
        .write_all(
            b"type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59 success=yes exit=0 pid=1 comm=\"a\"\n\
              type=EOE msg=audit(1700000000.100:10): \n\
              type=USER_LOGIN msg=audit(1700000000.200:11): pid=2 uid=0 msg='op=login res=success'\n\
              type=SYSCALL msg=audit(1700000000.300:12): arch=c000003e syscall=2 success=no exit=-2 pid=3 comm=\"b\"\n",
        )
        .unwrap();
    stdin.flush().unwrap();
    wait_for("the complete events", 10, || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.lines().count() == 3)
    });
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<J> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0], serde_json::json!({"earlier": true}));
    let serials: Vec<u64> = lines[1..]
        .iter()
        .map(|e| e["audit"]["serial"].as_u64().unwrap())
        .collect();
    assert_eq!(
        serials,
        [10, 11, 12],
        "the unfinished event is written at the stop"
    );
    let xml = common::letrace()
        .args(["audit-plugin"])
        .arg(dir.path().join("e.xml"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!xml.status.success());
    assert!(String::from_utf8_lossy(&xml.stderr).contains("use a .jsonl path"));
}
