//! `epoll:PATH`: watch a FIFO, a UNIX socket or a character device with epoll and log its
//! readiness changes. The fd is registered edge-triggered, so a FIFO at EOF (level-triggered
//! EPOLLHUP forever) cannot make letrace spin; after EPOLLHUP a FIFO is reopened (ready for
//! the next writer) and a socket is reconnected once a second. See docs/sources.md.

pub mod decode;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self::decode::{Kind, Tracker, Wakeup, EPOLLERR, EPOLLHUP, EPOLLIN};
use super::{Options, Source, Stop};
use crate::doctor::{Probe, Status};
use crate::event::{SourceKind, Timestamp};
use crate::pipeline::Emitter;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("epoll:{path}: no such file or directory; create it (mkfifo) or fix the path")]
    Missing { path: String },
    #[error("epoll:{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("epoll:{path}: a {what} is always ready, so epoll says nothing about it; watch it with inotify:{path} or fanotify:{path}")]
    AlwaysReady { path: String, what: &'static str },
    #[error("epoll:{path}: nobody accepts connections on this socket ({source}); start its server first")]
    Refused { path: String, source: io::Error },
    #[error("epoll:{path}: this file does not support poll ({source})")]
    NotPollable { path: String, source: io::Error },
    #[error("epoll failed: {0}")]
    Epoll(io::Error),
}

const TARGET: u64 = 0;
const STOP: u64 = 1;

pub struct EpollSource {
    path: PathBuf,
    shown: Vec<u8>,
    kind: Kind,
    ep: OwnedFd,
    /// None while a socket's server is gone (reconnect pending).
    target: Option<OwnedFd>,
    tracker: Tracker,
}

fn cvt(rc: i32) -> io::Result<i32> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn ctl(ep: &OwnedFd, op: i32, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: ev is a valid epoll_event; both fds are open.
    cvt(unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fd, &mut ev) }).map(|_| ())
}

/// Opens the path as what it is: FIFO read end, UNIX socket client, character device.
fn open_target(path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    match kind {
        Kind::Fifo | Kind::Char => {
            // O_NONBLOCK: a FIFO opens without waiting for a writer; reads never block.
            let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
            // SAFETY: c is NUL-terminated; we own the returned fd.
            let fd = cvt(unsafe { libc::open(c.as_ptr(), flags) })?;
            // SAFETY: fresh fd.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
        Kind::Socket => connect_unix(path),
    }
}

/// Connects as a client, trying stream, seqpacket, then datagram sockets (EPROTOTYPE says
/// the server uses another type).
fn connect_unix(path: &Path) -> io::Result<OwnedFd> {
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: zeroed sockaddr_un is valid.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= sa.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path longer than 107 bytes",
        ));
    }
    sa.sun_family = libc::AF_UNIX as u16;
    for (d, s) in sa.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let mut last = io::Error::from(io::ErrorKind::InvalidInput);
    for ty in [libc::SOCK_STREAM, libc::SOCK_SEQPACKET, libc::SOCK_DGRAM] {
        // SAFETY: plain syscall; we own the fd.
        let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fresh fd.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sa is a valid sockaddr_un of the given size.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as u32,
            )
        };
        if rc == 0 {
            // SAFETY: fcntl on our fd.
            unsafe {
                let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
            return Ok(fd);
        }
        last = io::Error::last_os_error();
        if last.raw_os_error() != Some(libc::EPROTOTYPE) {
            break;
        }
    }
    Err(last)
}

const INTEREST: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

impl EpollSource {
    pub fn open(path: &Path, _opts: &Options) -> Result<Self, super::Error> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Missing {
                path: shown.clone(),
            },
            _ => Error::Open {
                path: shown.clone(),
                source: e,
            },
        })?;
        let ft = meta.file_type();
        let always = |what| Error::AlwaysReady {
            path: shown.clone(),
            what,
        };
        let kind = if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_dir() {
            return Err(always("directory").into());
        } else if ft.is_block_device() {
            return Err(always("block device").into());
        } else {
            return Err(always("regular file").into());
        };
        let abs = crate::record::absolute(path);
        let target = open_target(&abs, kind).map_err(|e| match e.raw_os_error() {
            Some(libc::ECONNREFUSED) | Some(libc::ENOENT) if kind == Kind::Socket => {
                Error::Refused {
                    path: shown.clone(),
                    source: e,
                }
            }
            _ => Error::Open {
                path: shown.clone(),
                source: e,
            },
        })?;
        // SAFETY: plain syscall; we own the fd.
        let ep = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }).map_err(Error::Epoll)?;
        // SAFETY: fresh fd.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        ctl(
            &ep,
            libc::EPOLL_CTL_ADD,
            target.as_raw_fd(),
            INTEREST,
            TARGET,
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) => Error::NotPollable {
                path: shown.clone(),
                source: e,
            },
            _ => Error::Epoll(e),
        })?;
        Ok(EpollSource {
            shown: abs.as_os_str().as_bytes().to_vec(),
            path: abs,
            kind,
            ep,
            target: Some(target),
            tracker: Tracker::default(),
        })
    }

    /// Reads what is there (FIFO, socket) or measures it (device).
    fn take(&self, fd: RawFd, events: u32, buf: &mut [u8]) -> Wakeup {
        let mut w = Wakeup {
            events,
            ..Wakeup::default()
        };
        if events & EPOLLIN != 0 {
            if self.kind.consumes() {
                let mut total = 0u64;
                loop {
                    match crate::sys::read(fd, buf) {
                        Ok(Some(0)) => break, // EOF
                        Ok(Some(n)) => total += n as u64,
                        Ok(None) => {
                            w.drained = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                w.bytes_read = Some(total);
            } else {
                let mut n: libc::c_int = 0;
                // SAFETY: FIONREAD writes one int.
                if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } == 0 {
                    w.available = Some(n.max(0) as u64);
                }
            }
        }
        if events & EPOLLERR != 0 && self.kind == Kind::Socket {
            let mut err: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: SO_ERROR writes one int.
            let rc = unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            if rc == 0 {
                w.error = Some(err);
            }
        }
        w
    }

    /// Replaces the fd after EPOLLHUP: a FIFO is reopened at once (so the next writer is
    /// seen), a socket is closed and retried later.
    fn after_hangup(&mut self) -> Option<&'static str> {
        if self.kind == Kind::Char {
            // A hung-up device stays hung up; edge-triggered, it cannot spin. Keep it.
            return None;
        }
        if let Some(fd) = self.target.take() {
            let _ = ctl(&self.ep, libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, TARGET);
        }
        self.tracker.reset();
        if self.kind == Kind::Fifo && self.reattach() {
            return Some("reopened");
        }
        Some("closed; reopening every second")
    }

    fn reattach(&mut self) -> bool {
        let Ok(fd) = open_target(&self.path, self.kind) else {
            return false;
        };
        if ctl(
            &self.ep,
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            INTEREST,
            TARGET,
        )
        .is_err()
        {
            return false;
        }
        self.target = Some(fd);
        true
    }
}

impl Source for EpollSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Epoll
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        ctl(
            &self.ep,
            libc::EPOLL_CTL_ADD,
            stop.fd(),
            libc::EPOLLIN as u32,
            STOP,
        )
        .map_err(Error::Epoll)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        let mut retry_at: Option<Instant> = None;
        loop {
            if self.target.is_none() {
                let now = Instant::now();
                if retry_at.is_none_or(|t| now >= t) {
                    if !self.reattach() {
                        retry_at = Some(now + Duration::from_secs(1));
                    } else {
                        retry_at = None;
                    }
                }
            }
            let timeout = if self.target.is_none() { 1000 } else { -1 };
            // SAFETY: evs is a valid array of epoll_event of the given length.
            let n = unsafe {
                libc::epoll_wait(
                    self.ep.as_raw_fd(),
                    evs.as_mut_ptr(),
                    evs.len() as i32,
                    timeout,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Epoll(e).into());
            }
            for ev in &evs[..n as usize] {
                let (events, data) = (ev.events, ev.u64);
                if data == STOP {
                    return Ok(());
                }
                let Some(fd) = self.target.as_ref().map(|f| f.as_raw_fd()) else {
                    continue;
                };
                let w = self.take(fd, events, &mut buf);
                let changes = self.tracker.changes(&w);
                let note = if events & EPOLLHUP != 0 {
                    self.after_hangup()
                } else {
                    None
                };
                if self.target.is_none() {
                    retry_at = Some(Instant::now() + Duration::from_secs(1));
                }
                let now = Timestamp::now();
                for e in decode::to_events(&self.shown, self.kind, changes, &w, note, now) {
                    if out.emit(e).is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// `letrace doctor`: epoll needs nothing but the syscall.
pub fn probe() -> Probe {
    // SAFETY: plain syscall; closed below.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Probe::new(
            SourceKind::Epoll,
            Status::No,
            format!("epoll_create1: {}", io::Error::last_os_error()),
        )
        .fix("use a kernel built with CONFIG_EPOLL=y");
    }
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    Probe::new(
        SourceKind::Epoll,
        Status::Ok,
        "epoll works; no privilege needed beyond read access to the watched FIFO, socket or device",
    )
}
