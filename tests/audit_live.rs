//! Live round trip: the kernel audits execve calls with awkward arguments (spaces, quotes,
//! newlines, non-UTF-8 bytes, a 40 KB argument), the test reads the records the way auditd
//! would (the audit netlink socket's read-only multicast group, so no daemon is needed), writes
//! them as log lines, and checks that `letrace audit parse` gives back exactly the argv that
//! was run. Audit state (enabled flag, backlog limit, the test's rule) is restored by a guard
//! even when the test fails. Needs root and `auditctl` (Debian package `auditd`).

mod common;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as J;

use common::auditctl;

/// Restores the audit state the test found.
struct Restore {
    enabled: String,
    backlog: String,
    rule: Vec<String>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let mut del = vec!["-d".to_string()];
        del.extend(self.rule.iter().skip(1).cloned());
        let _ = Command::new("auditctl").args(&del).output();
        common::audit_reset(&self.backlog, &self.enabled);
    }
}

/// A socket on the audit netlink read-only multicast group (AUDIT_NLGRP_READLOG).
struct AuditReader(libc::c_int);

impl AuditReader {
    fn open() -> AuditReader {
        // SAFETY: plain socket/bind/setsockopt calls on an fd we own; errors are checked.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_AUDIT,
            );
            assert!(
                fd >= 0,
                "netlink socket: {}",
                std::io::Error::last_os_error()
            );
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            sa.nl_groups = 1; // AUDIT_NLGRP_READLOG
            let rc = libc::bind(
                fd,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            );
            assert_eq!(
                rc,
                0,
                "bind audit multicast: {}",
                std::io::Error::last_os_error()
            );
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 200_000,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as u32,
            );
            let big: libc::c_int = 8 << 20;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &big as *const _ as *const libc::c_void,
                4,
            );
            AuditReader(fd)
        }
    }

    /// Appends the records received as auditd log lines; false on timeout.
    fn read_lines(&self, out: &mut Vec<u8>) -> bool {
        let mut buf = vec![0u8; 1 << 16];
        // SAFETY: recv into a buffer we own, length passed.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n <= 0 {
            return false;
        }
        let mut b = &buf[..n as usize];
        while b.len() >= 16 {
            let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
            let ty = u16::from_ne_bytes(b[4..6].try_into().unwrap()) as u32;
            if len < 16 || len > b.len() {
                break;
            }
            let mut payload = &b[16..len];
            while let [rest @ .., 0] = payload {
                payload = rest;
            }
            let name = letrace::audit::tables::type_name(ty)
                .map_or(format!("UNKNOWN[{ty}]"), str::to_string);
            out.extend_from_slice(format!("type={name} msg=").as_bytes());
            out.extend_from_slice(payload);
            out.push(b'\n');
            b = &b[((len + 3) & !3).min(b.len())..];
        }
        true
    }
}

impl Drop for AuditReader {
    fn drop(&mut self) {
        // SAFETY: closing the fd we opened.
        unsafe { libc::close(self.0) };
    }
}

fn awkward_argvs() -> Vec<Vec<Vec<u8>>> {
    let big: Vec<u8> = (0..40 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    vec![
        vec![
            b"/bin/true".to_vec(),
            b"two words".to_vec(),
            b"".to_vec(),
            b"  lead and trail  ".to_vec(),
        ],
        vec![
            b"/bin/true".to_vec(),
            b"double\"quote".to_vec(),
            b"single'quote".to_vec(),
            b"back\\slash".to_vec(),
        ],
        vec![
            b"/bin/true".to_vec(),
            b"new\nline".to_vec(),
            b"tab\there".to_vec(),
            b"esc\x1b[31m".to_vec(),
        ],
        vec![
            b"/bin/true".to_vec(),
            b"\xff\xfe not utf-8 \x80".to_vec(),
            "caf\u{e9} \u{1F600}".as_bytes().to_vec(),
        ],
        vec![b"/bin/true".to_vec(), big, b"after-the-big-one".to_vec()],
    ]
}

#[test]
fn execve_arguments_round_trip() {
    if !common::need_root() || !common::need_tool("auditctl") {
        return;
    }
    let _lock = common::kernel_lock();
    let enabled = common::audit_status("enabled").unwrap_or_else(|| "0".into());
    if !common::need(
        enabled != "2",
        "audit not locked (enabled 2 cannot be changed)",
    ) {
        return;
    }
    let key = format!("letrace-rt-{}", std::process::id());
    let me = std::process::id().to_string();
    let rule: Vec<String> = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("ppid={me}"), "-k".to_string(), key.clone()])
        .collect();
    let _restore = Restore {
        enabled: enabled.clone(),
        backlog: common::audit_status("backlog_limit").unwrap_or_else(|| "64".into()),
        rule: rule.clone(),
    };
    let reader = AuditReader::open();
    auditctl(&["-b", "8192"]);
    auditctl(&["-e", "1"]);
    let r: Vec<&str> = rule.iter().map(String::as_str).collect();
    auditctl(&r);

    let argvs = awkward_argvs();
    for argv in &argvs {
        let st = Command::new(OsStr::from_bytes(&argv[0]))
            .args(argv[1..].iter().map(|a| OsStr::from_bytes(a)))
            .status()
            .unwrap();
        assert!(st.success());
    }
    // Read until every run's EXECVE has arrived (or give up after a while).
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        reader.read_lines(&mut log);
        let seen = log
            .split(|&b| b == b'\n')
            .filter(|l| {
                l.starts_with(b"type=SYSCALL") && l.windows(key.len()).any(|w| w == key.as_bytes())
            })
            .count();
        if seen >= argvs.len() && !reader.read_lines(&mut log) {
            break;
        }
    }
    // LETRACE_AUDIT_CAPTURE=PATH keeps the raw log (how src/audit/testdata was made).
    if let Some(p) = std::env::var_os("LETRACE_AUDIT_CAPTURE") {
        std::fs::write(p, &log).unwrap();
    }
    let mut child = common::letrace()
        .args(["audit", "parse", "--no-gaps", "-f", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = log.clone();
    let t = std::thread::spawn(move || stdin.write_all(&feed));
    let out = child.wait_with_output().unwrap();
    t.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
    for line in out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ev: J = serde_json::from_slice(line).unwrap();
        let keys = ev["audit"]["keys"].as_array().cloned().unwrap_or_default();
        // auditctl's own rule change (a CONFIG_CHANGE naming the key) is not one of ours.
        if !keys.iter().any(|k| k == key.as_str()) || ev["audit"]["syscall"] != "execve" {
            continue;
        }
        assert_eq!(
            ev["audit"]["incomplete"],
            J::Null,
            "event ended on its EOE/PROCTITLE"
        );
        let args = ev["process"]["args"].as_array().expect("process.args");
        got.push(
            args.iter()
                .map(|a| letrace::text::unescape(a.as_str().unwrap()).unwrap())
                .collect(),
        );
    }
    assert_eq!(
        got.len(),
        argvs.len(),
        "one event per run; log:\n{}",
        String::from_utf8_lossy(&log)
    );
    for (g, want) in got.iter().zip(&argvs) {
        assert_eq!(g, want, "argv round trip");
    }
    // The 40 KB argument really was split by the kernel and re-joined by letrace.
    assert!(
        log.windows(7).any(|w| w == b"a1_len="),
        "expected a split argument in the log"
    );
}
