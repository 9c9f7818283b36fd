//! Pure: one parsed ring-buffer record -> one letrace `Event` (docs/bpf.md has the schema).

use std::borrow::Cow;

use super::families::{self, FAMILIES};
use super::record::{self, Record};
use crate::event::{Bytes, Event, FileInfo, Map, Network, Process, SourceKind, Timestamp, Value};

/// Arguments that are C `int`s: the kernel hands them over in a 64-bit register whose upper
/// half is undefined, so they are shown as the signed 32-bit value the callee saw.
pub(super) const INT_ARGS: &[&str] = &[
    "fd", "dfd", "olddfd", "newdfd", "fildes", "oldfd", "newfd", "pid", "tgid", "sig", "flag",
    "flags", "mode", "prot", "family", "type", "protocol", "addrlen", "uid", "gid", "ruid", "euid",
    "suid", "rgid", "egid", "sgid", "vlen", "request",
];

pub(super) const AT_FDCWD: i32 = -100;

fn arg_value(name: &str, v: u64) -> Value {
    if INT_ARGS.contains(&name) {
        Value::I64(v as u32 as i32 as i64)
    } else {
        Value::U64(v)
    }
}

fn int(v: u64) -> i64 {
    v as u32 as i32 as i64
}

/// Decodes a `struct sockaddr` as the process passed or received it.
pub fn sockaddr(b: &[u8]) -> Option<Network> {
    let fam = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let mut n = Network::default();
    match fam as i32 {
        libc::AF_INET if b.len() >= 8 => {
            n.family = Some("ipv4".into());
            n.daddr = Some(std::net::Ipv4Addr::new(b[4], b[5], b[6], b[7]).to_string());
            n.dport = Some(u16::from_be_bytes([b[2], b[3]]));
        }
        libc::AF_INET6 if b.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            n.family = Some("ipv6".into());
            n.daddr = Some(std::net::Ipv6Addr::from(a).to_string());
            n.dport = Some(u16::from_be_bytes([b[2], b[3]]));
        }
        libc::AF_UNIX => {
            n.family = Some("unix".into());
            let p = &b[2..];
            // Abstract names start with NUL and use every byte; shown with a leading '@'.
            let path: Vec<u8> = match p.first() {
                Some(0) => std::iter::once(b'@')
                    .chain(p[1..].iter().copied())
                    .collect(),
                _ => p[..p.iter().position(|&c| c == 0).unwrap_or(p.len())].to_vec(),
            };
            n.extra.insert("path", Bytes(path));
        }
        f => {
            n.family = Some(Cow::Owned(format!("af{f}")));
        }
    }
    Some(n)
}

/// The absolute path of a relative first path argument, when the kernel sent its whole
/// directory (the directory's names, leaf first, in `addr`).
pub(super) fn resolved_path(r: &Record<'_>) -> Option<Vec<u8>> {
    let e = &r.ev;
    if e.flags & record::F_DIR == 0 || e.flags & record::F_DIR_PARTIAL != 0 {
        return None;
    }
    let mut abs = Vec::with_capacity(r.addr.len() + r.str0.len() + 1);
    for name in r.addr.split(|&c| c == 0).filter(|n| !n.is_empty()).rev() {
        abs.push(b'/');
        abs.extend_from_slice(name);
    }
    abs.push(b'/');
    abs.extend_from_slice(r.str0);
    Some(abs)
}

/// `(boot ns) + offset = unix ns`; `offset` is measured once at start (CLOCK_REALTIME -
/// CLOCK_BOOTTIME).
pub fn decode(r: &Record<'_>, boot_to_unix_ns: i128) -> Event {
    let e = &r.ev;
    let fam = FAMILIES
        .get(e.family as usize)
        .map_or("UNKNOWN", |f| f.name);
    let time = Timestamp::from_unix_nanos(e.ktime as i128 + boot_to_unix_ns);
    let mut ev = Event::at(time, SourceKind::Bpf, fam);
    let comm_end = e.comm.iter().position(|&c| c == 0).unwrap_or(16);
    let mut p = Process {
        pid: Some(e.pid),
        tid: Some(e.tid),
        ppid: Some(e.ppid),
        comm: Some(Bytes(e.comm[..comm_end].to_vec())),
        uid: Some(e.uid),
        gid: Some(e.gid),
        ..Process::default()
    };
    p.extra = Map(Vec::with_capacity(8));
    p.extra.push("is_thread", e.pid != e.tid);
    // Sized up front: one allocation per map instead of a growth series (hot path).
    let mut raw = Map(Vec::with_capacity(8));
    let sc = families::syscall(e.sc);
    // Copied only where used (rename, link): most records have one path, copied below.
    let str0 = || Bytes(r.str0.to_vec());
    let str1 = || Bytes(r.str1.to_vec());
    let arg = |name: &str| -> Option<u64> {
        sc.and_then(|s| s.args.iter().position(|a| *a == name))
            .map(|i| e.args[i])
    };
    if let Some(s) = sc {
        raw.push("syscall", s.name);
        raw.push("ret", e.ret);
        if (-4095..0).contains(&e.ret) {
            raw.push("errno", -e.ret);
        }
        let mut args = Map(Vec::with_capacity(s.args.len()));
        for (i, a) in s.args.iter().enumerate() {
            args.push(*a, arg_value(a, e.args[i]));
        }
        raw.push("args", args);
    }
    let fam_id = e.family;
    let at = |name: &str| arg(name).map(int);
    let file = |path: Bytes, dirfd: Option<i64>| {
        let mut f = FileInfo {
            path,
            ..FileInfo::default()
        };
        if let Some(d) = dirfd {
            f.extra.insert(
                "dirfd",
                if d == AT_FDCWD as i64 {
                    Value::from("AT_FDCWD")
                } else {
                    Value::I64(d)
                },
            );
        }
        if !f.path.0.starts_with(b"/") {
            f.extra.insert("path_as_given", true);
        }
        f
    };
    let has_path = sc.is_some_and(|s| {
        s.args
            .iter()
            .any(|a| matches!(*a, "filename" | "pathname" | "oldname" | "path"))
    });
    let resolved = resolved_path(r).map(Bytes);
    let first = |dirfd: Option<i64>| match &resolved {
        Some(abs) => {
            let mut f = file(abs.clone(), dirfd);
            f.extra.insert("given_path", Bytes(r.str0.to_vec()));
            f
        }
        None => file(Bytes(r.str0.to_vec()), dirfd),
    };
    if has_path {
        let f = match fam_id {
            // link/symlink: the path is the new name; the existing one is the target.
            14 | 15 => {
                let mut f = file(str1(), at("newdfd"));
                f.extra.insert("target", str0());
                f
            }
            2 => {
                let mut f = first(at("olddfd"));
                f.extra.insert("dest_path", str1());
                if let Some(d) = at("newdfd") {
                    f.extra.insert("dest_dirfd", d);
                }
                f
            }
            _ => first(at("dfd")),
        };
        ev.file = Some(Box::new(f));
    }
    if e.flags & record::F_OPENHOW != 0 {
        raw.insert(
            "open_how",
            Map::new()
                .with("flags", e.aux[0])
                .with("mode", e.aux[1])
                .with("resolve", e.aux[2]),
        );
    }
    if e.flags & record::F_FDS != 0 {
        raw.insert(
            "fds",
            Value::List(vec![
                Value::I64(e.aux[0] as i64),
                Value::I64(e.aux[1] as i64),
            ]),
        );
    }
    if e.flags & record::F_CLONE3 != 0 {
        raw.insert("clone_flags", e.aux[0]);
        raw.insert("exit_signal", e.aux[1]);
    }
    if e.flags & record::F_CREDS != 0 {
        let ids = |a: &[u64]| Value::List(a.iter().map(|&v| Value::U64(v)).collect());
        raw.insert("old_ids", ids(&e.aux[0..3]));
        raw.insert("new_ids", ids(&e.aux[3..6]));
    }
    if e.flags & record::F_ADDR != 0 {
        if let Some(mut n) = sockaddr(r.addr) {
            if fam_id == 29 {
                // bind: the address is the local end.
                n.saddr = n.daddr.take();
                n.sport = n.dport.take();
            }
            ev.network = Some(Box::new(n));
        }
    }
    match fam_id {
        families::FORK => {
            raw.insert("child_pid", e.args[0]);
            raw.insert("child_tid", e.args[1]);
            raw.insert("child_start_ns", e.aux[0]);
            raw.insert("child_is_thread", e.args[0] as u32 == e.pid);
        }
        families::EXEC => {
            p.exe = Some(Bytes(r.str0.to_vec()));
            let mut args: Vec<Bytes> = r.str1.split(|&c| c == 0).map(Bytes::from).collect();
            if args.last().is_some_and(|a| a.0.is_empty()) {
                args.pop();
            }
            p.args = Some(args);
            raw.insert("old_pid", e.args[0]);
            if e.flags & record::F_TRUNC1 != 0 {
                raw.insert("args_truncated", true);
            }
        }
        families::EXIT => {
            let code = e.args[0];
            raw.insert("exit_code_raw", code);
            if code & 0x7f != 0 {
                p.extra.insert("exit_signal", code & 0x7f);
            } else {
                p.extra.insert("exit_code", (code >> 8) & 0xff);
            }
            raw.insert("group_dead", e.args[1] != 0);
        }
        _ => {}
    }
    if e.flags & record::F_TRUNC0 != 0 && fam_id != families::EXEC {
        raw.insert("path_truncated", true);
    }
    if e.flags & record::F_TRUNC1 != 0 && fam_id != families::EXEC {
        raw.insert("path2_truncated", true);
    }
    p.extra.push("start_time_ns", e.start_time);
    p.extra.push("cgroup_id", e.cgroup);
    ev.process = Some(Box::new(p));
    ev.extra.insert("bpf", raw);
    ev
}

#[cfg(test)]
mod tests {
    use super::super::record;
    use super::*;

    const CAPTURE: &[u8] = include_bytes!("testdata/workload.bin");
    const GOLDEN: &str = "src/source/bpf/testdata/workload.golden.jsonl";

    fn decoded() -> Vec<Event> {
        record::read_capture(CAPTURE)
            .into_iter()
            .map(|b| decode(&record::parse(b).expect("captured record parses"), 0))
            .collect()
    }

    /// Records captured from the real kernel (tests/bpf's workload, LETRACE_BPF_CAPTURE)
    /// decode to the reviewed golden output; LETRACE_BLESS=1 rewrites it.
    #[test]
    fn captured_records_match_golden() {
        let mut out = String::new();
        for ev in decoded() {
            out.push_str(&serde_json::to_string(&ev).unwrap());
            out.push('\n');
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
        if std::env::var("LETRACE_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &out).unwrap();
        }
        let want = std::fs::read_to_string(&path).expect("golden file (LETRACE_BLESS=1)");
        assert_eq!(out, want);
    }

    #[test]
    fn captured_records_carry_what_the_workload_did() {
        let evs = decoded();
        let ty = |t: &'static str| evs.iter().filter(move |e| e.kind == t);
        let creat = ty("FILE_CREATE")
            .find(|e| e.file.as_ref().is_some_and(|f| f.path.0.ends_with(b"/w/a")))
            .expect("creat of w/a");
        assert_eq!(
            creat.extra.get("bpf").and_then(|b| match b {
                Value::Map(m) => m.get("syscall").cloned(),
                _ => None,
            }),
            Some(Value::from("creat"))
        );
        let rel = ty("FILE_MKDIR")
            .find_map(|e| e.file.as_ref().filter(|f| f.path.0.ends_with(b"/w/relsub")))
            .expect("relative mkdir made absolute from the kernel's cwd walk");
        assert!(rel.path.0.starts_with(b"/"));
        assert_eq!(
            rel.extra.get("given_path"),
            Some(&Value::Bytes("relsub".into()))
        );
        let exec = ty("PROCESS_EXEC").next().expect("exec");
        let p = exec.process.as_ref().unwrap();
        assert_eq!(p.exe, Some(Bytes::from("/bin/false")));
        assert_eq!(
            p.args,
            Some(vec![
                Bytes::from("/bin/false"),
                Bytes::from("x-letrace-arg")
            ])
        );
        let conn = ty("NET_CONNECT").next().expect("connect");
        let n = conn.network.as_ref().unwrap();
        assert_eq!(n.daddr.as_deref(), Some("127.0.0.1"));
        assert!(n.dport.is_some_and(|p| p > 0));
        let exit = ty("PROCESS_EXIT")
            .find(|e| e.process.as_ref().unwrap().pid == exec.process.as_ref().unwrap().pid)
            .expect("exit of the exec'd child");
        assert_eq!(
            exit.process.as_ref().unwrap().extra.get("exit_code"),
            Some(&Value::U64(1))
        );
    }

    #[test]
    fn sockaddr_forms() {
        let mut v6 = vec![10u8, 0, 0x1f, 0x90, 0, 0, 0, 0];
        v6.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 0, 0, 0]);
        let n = sockaddr(&v6).unwrap();
        assert_eq!((n.daddr.as_deref(), n.dport), (Some("::1"), Some(8080)));
        let n = sockaddr(b"\x01\x00\x00abstract").unwrap();
        assert_eq!(
            n.extra.get("path"),
            Some(&Value::Bytes(Bytes::from("@abstract")))
        );
        let n = sockaddr(b"\x01\x00/run/x.sock\x00\x00\x00").unwrap();
        assert_eq!(
            n.extra.get("path"),
            Some(&Value::Bytes(Bytes::from("/run/x.sock")))
        );
        assert!(sockaddr(&[2]).is_none());
    }
}
