//! Helpers shared by integration tests: skipping (or, under LETRACE_TEST_STRICT=1, failing)
//! when a requirement is missing, and serialising tests that touch global kernel state.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;

/// True under `LETRACE_TEST_STRICT=1` (CI): every skip becomes a failure.
pub fn strict() -> bool {
    std::env::var("LETRACE_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// Returns whether the test may go on. When `ok` is false it prints why and returns false,
/// or panics in strict mode so CI never passes a test that did not run.
pub fn need(ok: bool, what: &str) -> bool {
    if !ok {
        if strict() {
            panic!("LETRACE_TEST_STRICT=1 and this test needs {what}");
        }
        eprintln!("SKIP: needs {what}");
    }
    ok
}

pub fn need_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    need(unsafe { libc::geteuid() } == 0, "root")
}

pub fn need_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    need(
        found,
        &format!("the `{tool}` program (see .ci/run for the package)"),
    )
}

/// `../shared` beside the checkout, if present.
pub fn shared_dir() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    p.is_dir().then_some(p)
}

/// The letrace binary built for these tests.
pub fn letrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_letrace"))
}

/// Held while a test changes global kernel state (audit rules and flags, fanotify marks,
/// network namespaces): an exclusive flock shared by every test binary, so such tests never
/// run at the same time even across `cargo test`'s binaries.
pub struct KernelLock(File);

pub fn kernel_lock() -> KernelLock {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/letrace-kernel-tests.lock")
        .expect("open /tmp/letrace-kernel-tests.lock");
    // SAFETY: flock on an fd we own; blocks until the lock is ours.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
    KernelLock(f)
}
