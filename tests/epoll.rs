//! Kernel tests of `epoll:PATH`: the test makes the readiness changes itself (writes to a
//! FIFO, serves a UNIX socket) and finds every one in the JSON, XML and CSV output.

mod common;
mod sources_util;

use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use sources_util::{find, Recorder};

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is NUL-terminated.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Opens the FIFO for writing once letrace holds its read end (ENXIO until then).
fn open_writer(p: &Path) -> fs::File {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(p)
        {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) && Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("open FIFO for writing: {e}"),
        }
    }
}

/// user+system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // fields 14 and 15 of stat(5), counted after "pid (comm) ": index 11 and 12
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn epoll_fifo_reports_data_and_hangup_reopens_and_does_not_spin() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().canonicalize().unwrap().join("fifo");
    mkfifo(&fifo);
    let out = tempfile::tempdir().unwrap();
    let mut rec = Recorder::start(out.path(), &["-s", &format!("epoll:{}", fifo.display())]);
    let mut w = open_writer(&fifo);
    w.write_all(b"hello").unwrap();
    rec.wait_for("\"bytes_read\":5", || {});
    drop(w);
    rec.wait_for("EPOLLHUP", || {});
    // Writer gone: a level-triggered reader would now spin on EOF. Measure letrace's CPU.
    let before = cpu_ticks(rec.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(rec.pid()) - before;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        used * 10 < hz * 2,
        "letrace used {used} ticks in 2 s after the writer left"
    );
    // The reopened FIFO sees the next writer.
    let mut w = open_writer(&fifo);
    w.write_all(b"abc").unwrap();
    rec.wait_for("\"bytes_read\":3", || {});
    drop(w);
    wait_until("second EPOLLHUP", || {
        rec.jsonl().matches("EPOLLHUP").count() >= 2
    });
    let err = rec.stop();
    let evs = rec.events();
    let path = fifo.display().to_string();
    let base = [
        ("source", "epoll"),
        ("file.path", path.as_str()),
        ("file.type", "fifo"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = base.to_vec();
        v.extend_from_slice(extra);
        find(&evs, &v).len()
    };
    assert_eq!(
        with(&[("type", "EPOLLIN"), ("epoll.bytes_read", "5")]),
        1,
        "{err} {evs:#?}"
    );
    assert_eq!(
        with(&[("type", "EPOLLIN"), ("epoll.bytes_read", "3")]),
        1,
        "{evs:#?}"
    );
    assert_eq!(
        with(&[("type", "EPOLLHUP"), ("epoll.action", "reopened")]),
        2,
        "{evs:#?}"
    );
    // No other event types, and no repeats while the writer was away.
    assert!(
        evs.iter()
            .all(|e| e["type"] == "EPOLLIN" || e["type"] == "EPOLLHUP"),
        "{evs:#?}"
    );
    assert!(evs.len() <= 6, "{evs:#?}");
}

#[test]
fn epoll_unix_socket_connects_as_client_and_reports_out_in_hangup_and_reconnect() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().canonicalize().unwrap().join("sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut rec = Recorder::start(out.path(), &["-s", &format!("epoll:{}", sock.display())]);
    let (mut conn, _) = listener.accept().unwrap();
    rec.wait_for("EPOLLOUT", || {});
    conn.write_all(b"ping").unwrap();
    rec.wait_for("\"bytes_read\":4", || {});
    drop(conn);
    rec.wait_for("EPOLLHUP", || {});
    // letrace reconnects (once a second) and sees the socket writable again.
    let (conn2, _) = listener.accept().unwrap();
    wait_until("second EPOLLOUT", || {
        rec.jsonl().matches("EPOLLOUT").count() >= 2
    });
    let _ = rec.stop();
    drop(conn2);
    let evs = rec.events();
    let path = sock.display().to_string();
    let n = |ty: &str, extra: Option<(&str, &str)>| {
        let mut v = vec![
            ("source", "epoll"),
            ("type", ty),
            ("file.path", path.as_str()),
            ("file.type", "socket"),
        ];
        v.extend(extra);
        find(&evs, &v).len()
    };
    assert_eq!(n("EPOLLOUT", None), 2, "{evs:#?}");
    assert_eq!(n("EPOLLIN", Some(("epoll.bytes_read", "4"))), 1, "{evs:#?}");
    assert_eq!(n("EPOLLRDHUP", None), 1, "{evs:#?}");
    assert_eq!(n("EPOLLHUP", None), 1, "{evs:#?}");
}

#[test]
fn epoll_regular_file_and_missing_path_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("plain");
    fs::write(&f, b"x").unwrap();
    for (spec, want) in [
        (format!("epoll:{}", f.display()), "always ready"),
        (
            "epoll:/nonexistent/fifo".to_string(),
            "no such file or directory",
        ),
    ] {
        let o = common::letrace()
            .args(["record", "-s", &spec, "--duration", "1"])
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

/// A pseudo-terminal pair: (master fd, slave path).
fn openpty() -> (std::os::fd::OwnedFd, std::path::PathBuf) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc pty calls; the master fd is owned by the returned OwnedFd.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()), 0);
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_str()
            .unwrap()
            .to_string();
        (std::os::fd::OwnedFd::from_raw_fd(m), name.into())
    }
}

#[test]
fn epoll_char_device_is_measured_not_read() {
    use std::os::fd::AsRawFd;
    let (master, slave) = openpty();
    // Raw mode on the slave: input is readable byte by byte, not only after a newline.
    let sfd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&slave)
        .unwrap();
    // SAFETY: termios calls on an open tty fd with a valid struct.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(sfd.as_raw_fd(), &mut t), 0);
        libc::cfmakeraw(&mut t);
        assert_eq!(libc::tcsetattr(sfd.as_raw_fd(), libc::TCSANOW, &t), 0);
    }
    let out = tempfile::tempdir().unwrap();
    let mut rec = Recorder::start(out.path(), &["-s", &format!("epoll:{}", slave.display())]);
    let write_master = |b: &[u8]| {
        // SAFETY: writes from a valid buffer to our pty master.
        let n = unsafe { libc::write(master.as_raw_fd(), b.as_ptr().cast(), b.len()) };
        assert_eq!(n, b.len() as isize);
    };
    // Nothing tells us when letrace has registered the device: keep typing until it logs.
    rec.wait_for("EPOLLIN", || write_master(b"k"));
    let _ = rec.stop();
    // letrace did not consume the input: it is all still there for the terminal's owner.
    let sent = rec.jsonl().matches("EPOLLIN").count();
    let mut buf = [0u8; 4096];
    // SAFETY: O_NONBLOCK via fcntl, then a read into a valid buffer.
    let got = unsafe {
        let fl = libc::fcntl(sfd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(sfd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        libc::read(sfd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
    };
    assert!(
        got >= sent as isize && got > 0,
        "read back {got} bytes, {sent} EPOLLIN"
    );
    let evs = rec.events();
    let path = slave.display().to_string();
    let hits = find(
        &evs,
        &[
            ("source", "epoll"),
            ("type", "EPOLLIN"),
            ("file.path", &path),
            ("file.type", "char"),
        ],
    );
    assert!(!hits.is_empty(), "{evs:#?}");
    assert!(
        hits.iter().all(|e| e.contains_key("epoll.bytes_available")),
        "{evs:#?}"
    );
    assert!(
        hits.iter().all(|e| !e.contains_key("epoll.bytes_read")),
        "{evs:#?}"
    );
}
