//! Kernel tests of the bpf source: a workload process makes the syscalls of all 38 families,
//! `letrace record -s bpf:all` runs meanwhile, and every family's event must be in the
//! output with the right fields. A tiny ring buffer must produce LOST events whose counts,
//! added to the captured events, equal what the workload did.

#[path = "../common/mod.rs"]
mod common;
mod workload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WORKLOAD_ENV: &str = "LETRACE_BPF_WORKLOAD";

/// Not a test of its own: the entry point of the workload child that `all_38_families`
/// starts (this test binary re-run with `LETRACE_BPF_WORKLOAD=dir`); a no-op otherwise.
/// This test binary run again as the workload (`workload_child_entry` only).
fn workload_child() -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "workload_child_entry",
        "--nocapture",
        "--test-threads=1",
    ]);
    c
}

#[test]
fn workload_child_entry() {
    if let Ok(dir) = std::env::var(WORKLOAD_ENV) {
        let info = workload::run(&dir);
        std::fs::write(Path::new(&dir).join("info"), info).expect("write info");
    }
    if let Ok(marker) = std::env::var(COMPAT_ENV) {
        compat_calls(&marker);
    }
    if let Ok(n) = std::env::var(STORM_ENV) {
        let n: u64 = n.parse().expect("storm count");
        for _ in 0..n {
            // SAFETY: PTRACE_PEEKDATA on a pid that cannot exist: fails with ESRCH, no effect.
            unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_PEEKDATA, 999_999_999, 0, 0) };
        }
    }
}

const STORM_ENV: &str = "LETRACE_BPF_PTRACE_STORM";
const COMPAT_ENV: &str = "LETRACE_BPF_COMPAT";

/// 32-bit syscalls through `int 0x80`: i386 write (4) and close (6) of a bad fd, whose numbers
/// are x86_64's stat (4) and lstat (6); then one real lstat of `marker`.
fn compat_calls(marker: &str) {
    for _ in 0..100 {
        for nr in [4i64, 6] {
            let ret: i64;
            // SAFETY: i386 write/close of fd 999, which is not open: EBADF, no effect. rbx is
            // reserved by LLVM, so the argument is swapped in and out around the trap.
            unsafe {
                std::arch::asm!(
                    "xchg rbx, {fd}",
                    "int 0x80",
                    "xchg rbx, {fd}",
                    fd = inout(reg) 999i64 => _,
                    inlateout("rax") nr => ret,
                    options(nostack),
                )
            };
            assert_eq!(ret, -(libc::EBADF as i64), "i386 syscall {nr}");
        }
    }
    let c = std::ffi::CString::new(marker).unwrap();
    // SAFETY: a valid path and a stat buffer of the right type.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    unsafe { libc::lstat(c.as_ptr(), &mut st) };
}

/// A 32-bit syscall's number indexes another table: it must not be read as the x86_64
/// syscall of the same number (here i386 close = x86_64 lstat, a FILE_STAT program).
#[test]
fn compat_syscalls_are_not_misread_as_64_bit_ones() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let marker = dir.join("compat-marker");
    std::fs::write(&marker, b"").unwrap();
    let mut rec = Recorder::start(&dir, "bpf:FILE_STAT", &[]);
    rec.wait_ready(&dir);
    let child = workload_child()
        .env(COMPAT_ENV, &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as u64;
    let out = child.wait_with_output().unwrap();
    let (evs, err) = rec.stop();
    if !common::need(
        out.status.success(),
        "32-bit syscalls (int 0x80, CONFIG_IA32_EMULATION)",
    ) {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    // The child is the test binary's harness process; its pid is the one that did the calls.
    let stats: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "FILE_STAT" && pid_of(e) == Some(pid))
        .collect();
    let control = stats
        .iter()
        .filter(|e| e["file"]["path"].as_str() == marker.to_str())
        .count();
    assert!(
        control >= 1,
        "the real lstat of the marker was not seen: {stats:?}\n{err}"
    );
    let misread: Vec<&&Value> = stats
        .iter()
        .filter(|e| matches!(e["bpf"]["syscall"].as_str(), Some("newlstat" | "newstat")))
        .filter(|e| e["file"]["path"].as_str() != marker.to_str())
        .collect();
    assert!(
        misread.is_empty(),
        "32-bit calls read as 64-bit: {misread:?}"
    );
}

/// A 4 KiB ring buffer cannot hold a burst of 50,000 ptrace calls: the kernel drops records
/// and counts them, and letrace writes those counts as LOST events. PROCESS_PTRACE is used
/// because nothing else on a test host calls ptrace, so every record and every loss of that
/// family is the workload's: captured + lost must equal what it did, exactly.
#[test]
fn tiny_ring_buffer_loss_adds_up() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    // FILE_STAT only serves the readiness marker; its records may be lost too (and reported).
    let mut rec = Recorder::start(
        &dir,
        "bpf:PROCESS_PTRACE,FILE_STAT",
        &["--bpf-ringbuf-size", "4096"],
    );
    rec.wait_ready(&dir);
    const N: u64 = 50_000;
    let child = workload_child()
        .env(STORM_ENV, N.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as u64;
    let st = child.wait_with_output().unwrap().status;
    assert!(st.success());
    let (evs, err) = rec.stop();
    let captured = evs
        .iter()
        .filter(|e| e["type"] == "PROCESS_PTRACE" && pid_of(e) == Some(pid))
        .count() as u64;
    let others = evs
        .iter()
        .filter(|e| e["type"] == "PROCESS_PTRACE" && pid_of(e) != Some(pid))
        .count();
    assert_eq!(
        others, 0,
        "another process called ptrace during the test; rerun"
    );
    let lost_events: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "LOST" && e["family"] == "PROCESS_PTRACE")
        .collect();
    let lost: u64 = lost_events
        .iter()
        .map(|e| e["lost"].as_u64().unwrap())
        .sum();
    assert!(
        lost > 0,
        "a 4 KiB ring should overflow; captured {captured}\n{err}"
    );
    assert!(captured > 0, "the reader should get some records");
    for e in &lost_events {
        assert_eq!(e["source"], "bpf");
        assert_eq!(e["lost_exact"], true);
        assert_eq!(e["reason"], "bpf ring buffer full");
    }
    eprintln!(
        "captured {captured}, lost {lost} in {} LOST events",
        lost_events.len()
    );
    assert_eq!(
        captured + lost,
        N,
        "captured {captured} + lost {lost} != {N}"
    );
    // No event vanished between the kernel and the file either.
    let queue_lost = evs
        .iter()
        .filter(|e| e["type"] == "LOST" && e["reason"] == "letrace queue full")
        .count();
    assert_eq!(queue_lost, 0);
}

struct Recorder {
    child: Child,
    out: PathBuf,
    stderr: PathBuf,
}

impl Recorder {
    fn start(dir: &Path, spec: &str, extra: &[&str]) -> Recorder {
        let out = dir.join("out.jsonl");
        let stderr = dir.join("stderr.txt");
        let child = common::letrace()
            .args(["record", "-s", spec, "-o"])
            .arg(&out)
            .args(extra)
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start letrace");
        Recorder { child, out, stderr }
    }

    /// Waits until letrace reports a FILE_STAT of a marker path we keep stat-ing.
    fn wait_ready(&mut self, dir: &Path) {
        let marker = dir.join("ready-marker");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let _ = std::fs::metadata(&marker);
            if std::fs::read(&self.out).is_ok_and(|b| b.windows(12).any(|w| w == b"ready-marker")) {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "letrace exited early ({st}): {}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("letrace did not report the marker within 30 s");
    }

    /// SIGINT, wait, and return (events, stderr).
    fn stop(mut self) -> (Vec<Value>, String) {
        // Let the last batch (poll timeout 100 ms) and the flush tick pass.
        std::thread::sleep(Duration::from_millis(400));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let st = self.child.wait().expect("wait letrace");
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(st.success(), "letrace failed: {st}\n{err}");
        let text = std::fs::read_to_string(&self.out).expect("read output");
        let evs = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {e}: {l}")))
            .collect();
        (evs, err)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn info(dir: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(dir.join("info"))
        .expect("workload info")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pid_of(e: &Value) -> Option<u64> {
    e["process"]["pid"].as_u64()
}

#[test]
fn all_38_families() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let work = dir.join("w");
    std::fs::create_dir(&work).unwrap();
    let mut rec = Recorder::start(&dir, "bpf:all", &["--bpf-ringbuf-size", "64M"]);
    rec.wait_ready(&dir);
    let st = workload_child()
        .env(WORKLOAD_ENV, &work)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The workload's pid: the test harness child is the process that wrote `info`.
    let inf = info(&work);
    let letrace_pid = rec.child.id() as u64;
    let (evs, err) = rec.stop();
    let w = work.to_str().unwrap();
    let creat = evs
        .iter()
        .find(|e| {
            e["type"] == "FILE_CREATE"
                && e["bpf"]["syscall"] == "creat"
                && e["file"]["path"] == format!("{w}/a")
        })
        .unwrap_or_else(|| panic!("no creat of {w}/a; stderr:\n{err}"));
    let pid = pid_of(creat).unwrap();
    let mine: Vec<&Value> = evs.iter().filter(|e| pid_of(e) == Some(pid)).collect();
    let find = |ty: &str, pred: &dyn Fn(&Value) -> bool| -> &Value {
        mine.iter()
            .copied()
            .find(|e| e["type"] == ty && pred(e))
            .unwrap_or_else(|| {
                let seen: Vec<String> = mine
                    .iter()
                    .filter(|e| e["type"] == ty)
                    .map(|e| e.to_string())
                    .collect();
                panic!("no matching {ty} from pid {pid}; {ty} seen: {seen:#?}")
            })
    };
    let i = |k: &str| -> i64 { inf[k].parse().unwrap() };
    let sc = |e: &Value| e["bpf"]["syscall"].as_str().unwrap_or("").to_string();
    let path = |e: &Value| e["file"]["path"].as_str().unwrap_or("").to_string();
    let p = |n: &str| format!("{w}/{n}");

    // Every event carries the common fields.
    assert_eq!(creat["source"], "bpf");
    // The workload runs on a test-harness thread: tid is that thread, pid the process.
    assert_eq!(creat["process"]["tid"], i("tid"));
    assert_eq!(creat["process"]["is_thread"], i("tid") as u64 != pid);
    assert!(creat["process"]["ppid"].as_u64().unwrap() > 0);
    assert!(creat["process"]["comm"].is_string());
    assert_eq!(creat["process"]["uid"], 0);
    assert_eq!(creat["bpf"]["ret"], i("creat_fd"));
    assert!(creat["process"]["entity_id"].is_string());
    assert!(
        creat["process"]["exe"].as_str().unwrap().contains("bpf-"),
        "{creat}"
    );

    // file (16)
    find("FILE_CREATE", &|e| {
        sc(e) == "openat" && path(e) == p("b") && e["file"]["dirfd"] == "AT_FDCWD"
    });
    let open = find("FILE_OPEN", &|e| sc(e) == "open" && path(e) == p("a"));
    assert_eq!(open["bpf"]["ret"], i("open_fd"));
    let oa2 = find("FILE_OPEN", &|e| sc(e) == "openat2" && path(e) == p("a"));
    assert_eq!(oa2["bpf"]["open_how"]["flags"], 0);
    find("FILE_DELETE", &|e| {
        sc(e) == "unlink" && path(e) == p("c") && e["bpf"]["ret"] == 0
    });
    find("FILE_RENAME", &|e| {
        path(e) == p("b") && e["file"]["dest_path"] == p("c") && e["bpf"]["ret"] == 0
    });
    find("FILE_CHMOD", &|e| {
        path(e) == p("a") && e["bpf"]["args"]["mode"] == 0o600
    });
    find("FILE_STAT", &|e| {
        sc(e) == "newstat" && path(e) == p("a") && e["bpf"]["ret"] == 0
    });
    find("FILE_CHDIR", &|e| path(e) == w && e["bpf"]["ret"] == 0);
    find("FILE_MKDIR", &|e| {
        path(e) == p("sub") && e["bpf"]["ret"] == 0
    });
    // A relative path is made absolute from the cwd the kernel had at the syscall.
    let rel = find("FILE_MKDIR", &|e| path(e) == p("relsub"));
    assert_eq!(rel["file"]["given_path"], "relsub");
    assert!(rel["file"]["path_as_given"].is_null());
    find("FILE_RMDIR", &|e| {
        path(e) == p("sub") && e["bpf"]["ret"] == 0
    });
    find("FILE_READ", &|e| {
        sc(e) == "read"
            && e["bpf"]["ret"] == i("read_ret")
            && e["bpf"]["args"]["fd"] == i("open_fd")
    });
    find("FILE_WRITE", &|e| {
        sc(e) == "write" && e["bpf"]["ret"] == 5 && e["bpf"]["args"]["fd"] == i("creat_fd")
    });
    find("FILE_DUP", &|e| {
        sc(e) == "dup" && e["bpf"]["ret"] == i("dup_ret")
    });
    find("FILE_CLOSE", &|e| {
        e["bpf"]["args"]["fd"] == i("dup_ret") && e["bpf"]["ret"] == 0
    });
    find("FILE_TRUNCATE", &|e| {
        path(e) == p("a") && e["bpf"]["args"]["length"] == 2
    });
    find("FILE_LINK", &|e| {
        path(e) == p("hl") && e["file"]["target"] == p("a")
    });
    find("FILE_SYMLINK", &|e| {
        path(e) == p("sl") && e["file"]["target"] == "a"
    });

    // process (9)
    let child = i("child") as u64;
    find("PROCESS_FORK", &|e| {
        e["bpf"]["child_pid"] == child && e["bpf"]["child_is_thread"] == false
    });
    find("PROCESS_CLONE", &|e| {
        sc(e) == "fork" && e["bpf"]["ret"] == child
    });
    let exec = evs
        .iter()
        .find(|e| e["type"] == "PROCESS_EXEC" && pid_of(e) == Some(child))
        .expect("exec of /bin/false");
    assert_eq!(exec["process"]["exe"], "/bin/false");
    assert_eq!(
        exec["process"]["args"],
        serde_json::json!(["/bin/false", "x-letrace-arg"])
    );
    assert_eq!(exec["process"]["ppid"], pid);
    assert_eq!(exec["process"]["parent"]["pid"], pid);
    let exit = evs
        .iter()
        .find(|e| e["type"] == "PROCESS_EXIT" && pid_of(e) == Some(child))
        .expect("exit of /bin/false");
    assert_eq!(exit["process"]["exit_code"], 1);
    assert_eq!(
        exit["process"]["exe"], "/bin/false",
        "process table keeps the exec'd exe"
    );
    assert_eq!(exit["process"]["entity_id"], exec["process"]["entity_id"]);
    let pipe: Vec<i64> = inf["pipe"].split(' ').map(|x| x.parse().unwrap()).collect();
    find("PROCESS_PIPE", &|e| {
        e["bpf"]["fds"] == serde_json::json!(pipe)
    });
    find("PROCESS_KILL", &|e| {
        e["bpf"]["args"]["pid"] == pid && e["bpf"]["args"]["sig"] == 0
    });
    find("PROCESS_PTRACE", &|e| {
        e["bpf"]["errno"] == libc::ESRCH && e["bpf"]["args"]["request"] == libc::PTRACE_PEEKDATA
    });
    find("PROCESS_MMAP", &|e| {
        e["bpf"]["args"]["len"] == 4096 && e["bpf"]["args"]["prot"] == 3
    });
    find("PROCESS_MPROTECT", &|e| {
        e["bpf"]["args"]["len"] == 4096 && e["bpf"]["args"]["prot"] == 1
    });

    // network (7)
    let port = i("udp_port");
    // The workload binds 127.0.0.1 port 0: the event shows the address as requested.
    find("NET_BIND", &|e| {
        e["network"]["saddr"] == "127.0.0.1" && e["network"]["sport"] == 0 && e["bpf"]["ret"] == 0
    });
    find("NET_BIND", &|e| {
        e["network"]["family"] == "unix" && e["network"]["path"] == p("sock")
    });
    find("NET_CONNECT", &|e| {
        e["network"]["daddr"] == "127.0.0.1"
            && e["network"]["dport"] == port
            && e["bpf"]["ret"] == 0
    });
    find("NET_SEND", &|e| {
        sc(e) == "sendto" && e["network"]["dport"] == port && e["bpf"]["ret"] == 3
    });
    find("NET_RECV", &|e| {
        sc(e) == "recvfrom" && e["bpf"]["ret"] == 3 && e["network"]["dport"] == i("u2_port")
    });
    find("NET_GETPEERNAME", &|e| {
        e["network"]["dport"] == port && e["network"]["family"] == "ipv4"
    });
    find("NET_ACCEPT", &|e| {
        e["bpf"]["ret"] == i("accept_ret") && e["network"]["dport"] == i("tcp_client_port")
    });
    let sv: Vec<i64> = inf["socketpair"]
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    find("NET_SOCKETPAIR", &|e| {
        e["bpf"]["fds"] == serde_json::json!(sv) && e["bpf"]["ret"] == 0
    });

    // user (6)
    for (ty, s) in [
        ("USER_SETGID", "setgid"),
        ("USER_SETREGID", "setregid"),
        ("USER_SETRESGID", "setresgid"),
        ("USER_SETUID", "setuid"),
        ("USER_SETREUID", "setreuid"),
        ("USER_SETRESUID", "setresuid"),
    ] {
        find(ty, &|e| {
            sc(e) == s
                && e["bpf"]["ret"] == 0
                && e["bpf"]["old_ids"] == serde_json::json!([0, 0, 0])
                && e["bpf"]["new_ids"] == serde_json::json!([0, 0, 0])
        });
    }
    // Nothing about letrace itself (other letrace processes, e.g. other tests, are fair game).
    let own = evs
        .iter()
        .filter(|e| pid_of(e) == Some(letrace_pid))
        .count();
    assert_eq!(own, 0, "letrace traced itself");
}

/// What `letrace doctor` will show: on a kernel with syscall tracepoints, tp_btf and BTF
/// (this project's CI kernel), every family loads and attaches.
#[test]
fn probe_reports_all_families_runnable() {
    if !common::need_root() {
        return;
    }
    let _lock = common::kernel_lock();
    let r = letrace::source::bpf::probe();
    let names: Vec<&str> = r.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), 38);
    assert_eq!(names[0], "FILE_CREATE");
    assert_eq!(names[37], "USER_SETRESUID");
    let bad: Vec<String> = r
        .iter()
        .filter_map(|(n, st)| st.as_ref().err().map(|e| format!("{n}: {e}")))
        .collect();
    assert!(bad.is_empty(), "families that cannot run: {bad:#?}");
}
