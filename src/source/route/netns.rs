//! `route:NETNS`: watching another network namespace. A netlink socket belongs to the
//! namespace of the thread that created it, and setns(CLONE_NEWNET) changes only the calling
//! thread, so sockets are made on a short-lived thread that joins the namespace, and the
//! source's own thread joins it before it runs (its resync dumps make new sockets).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `NAME` (as `ip netns` names them: /run/netns/NAME) or a path (`/proc/PID/ns/net`).
pub fn resolve(arg: &str) -> PathBuf {
    if arg.contains('/') {
        PathBuf::from(arg)
    } else {
        Path::new("/run/netns").join(arg)
    }
}

pub fn open(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: c is a valid NUL-terminated path; we own the returned fd.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Moves the calling thread into the network namespace `ns`.
pub fn enter(ns: &OwnedFd) -> io::Result<()> {
    // SAFETY: setns on a valid fd; affects only this thread's network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` in namespace `ns` (on a helper thread), or right here when `ns` is None.
pub fn run_in<T: Send>(ns: Option<&OwnedFd>, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let Some(ns) = ns else { return Ok(f()) };
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(ns)?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns helper thread panicked")))
    })
}
