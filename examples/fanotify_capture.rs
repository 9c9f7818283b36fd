//! Captures one `read(2)` of a fanotify fd, initialised as `fanotify:PATH` initialises it,
//! into a file: how `src/source/fanotify/testdata/*.bin` were made. Run as root on a directory
//! on a filesystem nothing else writes to (a fresh tmpfs), e.g.
//! `mount -t tmpfs none /tmp/capfs && cargo run --example fanotify_capture -- /tmp/capfs out.bin`
//! It then runs a fixed shell workload in that directory and writes what one read returned.

use std::ffi::CString;
use std::process::Command;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: fanotify_capture DIR OUT.bin");
        std::process::exit(2);
    }
    let flags = libc::FAN_CLASS_NOTIF
        | libc::FAN_CLOEXEC
        | libc::FAN_REPORT_DFID_NAME
        | libc::FAN_REPORT_FID
        | libc::FAN_REPORT_TARGET_FID
        | libc::FAN_REPORT_PIDFD;
    // SAFETY: plain syscalls on values we own; this is a throwaway tool.
    let fd = unsafe { libc::fanotify_init(flags, libc::O_RDONLY as u32) };
    assert!(
        fd >= 0,
        "fanotify_init: {}",
        std::io::Error::last_os_error()
    );
    let mask = libc::FAN_ACCESS
        | libc::FAN_MODIFY
        | libc::FAN_CLOSE_WRITE
        | libc::FAN_CLOSE_NOWRITE
        | libc::FAN_OPEN
        | libc::FAN_CREATE
        | libc::FAN_DELETE
        | libc::FAN_ATTRIB
        | libc::FAN_DELETE_SELF
        | libc::FAN_RENAME
        | libc::FAN_ONDIR
        | libc::FAN_EVENT_ON_CHILD;
    let dir = CString::new(args[1].as_bytes()).unwrap();
    // SAFETY: as above.
    let rc = unsafe {
        libc::fanotify_mark(
            fd,
            libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM,
            mask,
            libc::AT_FDCWD,
            dir.as_ptr(),
        )
    };
    assert_eq!(rc, 0, "fanotify_mark: {}", std::io::Error::last_os_error());
    let script = "mkdir sub; echo hi > sub/f; cat sub/f; chmod 600 sub/f; mv sub/f sub/g; \
                  mv sub sub2; rm sub2/g; rmdir sub2";
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&args[1])
        .status()
        .unwrap();
    assert!(st.success());
    let mut buf = vec![0u8; 65536];
    // SAFETY: buf is valid for its length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    assert!(n > 0, "read: {}", std::io::Error::last_os_error());
    std::fs::write(&args[2], &buf[..n as usize]).unwrap();
    eprintln!("wrote {n} bytes");
}
