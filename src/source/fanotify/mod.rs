//! `fanotify:PATH`: the thin part that owns the fanotify fd. A filesystem mark on the
//! filesystem holding PATH reports every object of that filesystem; records are decoded by
//! `decode`, their file handles resolved to paths at once (`resolve`), and only objects at or
//! below PATH are reported.

pub mod decode;
mod resolve;

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use self::decode::{FidKind, RawEvent, Resolved, FAN_ONDIR, FAN_Q_OVERFLOW};
use self::resolve::{Handles, Procs};
use super::{Options, Source, Stop};
use crate::doctor::{Probe, Status};
use crate::event::{Event, Map, SourceKind, Timestamp};
use crate::pipeline::{Closed, Emitter};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("fanotify:{path}: no such file or directory; create it or fix the path")]
    Missing { path: String },
    #[error("fanotify:{path}: {source}")]
    Path { path: String, source: io::Error },
    #[error("fanotify needs CAP_SYS_ADMIN (filesystem marks) and CAP_DAC_READ_SEARCH (handles to paths): run letrace as root")]
    NoPrivilege,
    #[error("cannot start fanotify: {0} (kernel built without CONFIG_FANOTIFY, or older than 5.9 which added name reporting)")]
    Init(io::Error),
    #[error("too many fanotify groups for this user (fs.fanotify.max_user_groups = {0}); stop other fanotify users or raise it: sysctl fs.fanotify.max_user_groups=1024")]
    Groups(String),
    #[error("fanotify:{path}: the filesystem cannot report file handles ({source}); use inotify:{path} instead")]
    NoFid { path: String, source: io::Error },
    #[error("fanotify:{path}: cannot add the filesystem mark: {source}")]
    Mark { path: String, source: io::Error },
    #[error("reading fanotify events failed: {0}")]
    Read(io::Error),
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
}

/// What the kernel accepted at start-up (newer features are probed, older kernels degrade).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// FAN_REPORT_TARGET_FID (5.17): create/delete/move also carry the child's handle.
    pub target_fid: bool,
    /// FAN_RENAME (5.17): one event with both the old and the new name.
    pub rename: bool,
    /// FAN_REPORT_PIDFD (5.15): a pidfd proves /proc/PID still is the process that acted.
    pub pidfd: bool,
}

const BASE_INIT: u32 = libc::FAN_CLASS_NOTIF
    | libc::FAN_CLOEXEC
    | libc::FAN_NONBLOCK
    | libc::FAN_REPORT_DFID_NAME
    | libc::FAN_REPORT_FID;

/// The events LET names. FAN_ONDIR: directories too; FAN_EVENT_ON_CHILD: children of marked
/// directories (implied by a filesystem mark, kept so the mask says what we asked for).
const BASE_MASK: u64 = decode::FAN_ACCESS
    | decode::FAN_MODIFY
    | decode::FAN_CLOSE_WRITE
    | decode::FAN_CLOSE_NOWRITE
    | decode::FAN_OPEN
    | decode::FAN_CREATE
    | decode::FAN_DELETE
    | decode::FAN_ATTRIB
    | decode::FAN_DELETE_SELF
    | decode::FAN_ONDIR
    | decode::FAN_EVENT_ON_CHILD;

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

/// `fanotify_init` with the richest reporting the kernel accepts.
fn init() -> Result<(OwnedFd, Features), Error> {
    let tries = [
        (
            libc::FAN_REPORT_TARGET_FID | libc::FAN_REPORT_PIDFD,
            true,
            true,
        ),
        (libc::FAN_REPORT_TARGET_FID, true, false),
        (libc::FAN_REPORT_PIDFD, false, true),
        (0, false, false),
    ];
    let mut last = None;
    for (extra, target_fid, pidfd) in tries {
        // SAFETY: plain syscall; we own the returned fd.
        let fd = unsafe { libc::fanotify_init(BASE_INIT | extra, libc::O_RDONLY as u32) };
        if fd >= 0 {
            // SAFETY: fresh fd nobody else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let f = Features {
                target_fid,
                rename: false,
                pidfd,
            };
            return Ok((fd, f));
        }
        let e = last_err();
        match e.raw_os_error() {
            Some(libc::EPERM) => return Err(Error::NoPrivilege),
            Some(libc::EMFILE) => {
                return Err(Error::Groups(
                    std::fs::read_to_string("/proc/sys/fs/fanotify/max_user_groups")
                        .map_or_else(|_| "?".into(), |s| s.trim().to_string()),
                ))
            }
            Some(libc::EINVAL) => last = Some(e),
            _ => return Err(Error::Init(e)),
        }
    }
    Err(Error::Init(last.unwrap_or_else(last_err)))
}

fn mark(fd: &OwnedFd, path: &CString, mask: u64) -> io::Result<()> {
    // SAFETY: path is a valid NUL-terminated string; fd is our fanotify fd.
    let rc = unsafe {
        libc::fanotify_mark(
            fd.as_raw_fd(),
            libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM,
            mask,
            libc::AT_FDCWD,
            path.as_ptr(),
        )
    };
    if rc < 0 {
        Err(last_err())
    } else {
        Ok(())
    }
}

pub struct FanotifySource {
    fd: OwnedFd,
    root: Vec<u8>,
    features: Features,
    handles: Handles,
    procs: Procs,
    ignore: HashSet<Vec<u8>>,
    own_pid: i32,
    /// Records of this filesystem whose directory was gone before it could be resolved: they
    /// cannot be placed inside or outside PATH, so they are counted and reported (at most
    /// once a minute, and at the end).
    unresolved: u64,
    /// FAN_MOVED_FROM seen (fallback without FAN_RENAME): handle key -> old path.
    moved_from: Option<(Vec<u8>, Vec<u8>)>,
}

impl FanotifySource {
    /// Starts fanotify and adds the mark now, so a missing privilege or path fails `record`
    /// at start-up.
    pub fn open(path: &Path, opts: &Options) -> Result<Self, super::Error> {
        let shown = path.display().to_string();
        let root = path.canonicalize().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Missing {
                path: shown.clone(),
            },
            _ => Error::Path {
                path: shown.clone(),
                source: e,
            },
        })?;
        // Before the mark: while walking, nothing is read, so a mark would let the kernel
        // queue overflow on a busy filesystem.
        let mut handles = Handles::new(&root).map_err(|e| Error::Path {
            path: shown.clone(),
            source: e,
        })?;
        handles.preload_dirs(PRELOAD_BUDGET);
        let (fd, mut features) = init()?;
        let c = CString::new(root.as_os_str().as_bytes()).map_err(|_| Error::Path {
            path: shown.clone(),
            source: io::Error::from(io::ErrorKind::InvalidInput),
        })?;
        let with_rename = BASE_MASK | decode::FAN_RENAME;
        let moves = BASE_MASK | decode::FAN_MOVED_FROM | decode::FAN_MOVED_TO;
        match mark(&fd, &c, with_rename) {
            Ok(()) => features.rename = true,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                mark(&fd, &c, moves).map_err(|e| mark_error(&shown, e))?
            }
            Err(e) => return Err(mark_error(&shown, e).into()),
        }
        Ok(FanotifySource {
            fd,
            root: root.as_os_str().as_bytes().to_vec(),
            features,
            handles,
            procs: Procs::default(),
            ignore: opts
                .ignore_paths
                .iter()
                .map(|p| p.as_os_str().as_bytes().to_vec())
                .collect(),
            own_pid: std::process::id() as i32,
            unresolved: 0,
            moved_from: None,
        })
    }

    pub fn features(&self) -> Features {
        self.features
    }

    fn handle(
        &mut self,
        raw: &RawEvent<'_>,
        now: Timestamp,
        out: &mut Emitter,
    ) -> Result<(), Closed> {
        // The kernel opened a pidfd in our process for this record: it must be closed
        // whatever we decide about the record.
        let pidfd = raw
            .pidfd()
            .filter(|&fd| fd >= 0)
            // SAFETY: the kernel installed this fd for us and nobody else owns it.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        if raw.fd >= 0 {
            // SAFETY: as above (not sent with FID reporting, closed defensively).
            drop(unsafe { OwnedFd::from_raw_fd(raw.fd) });
        }
        if raw.mask & FAN_Q_OVERFLOW != 0 {
            // Renames may be among the lost events: cached paths may no longer hold.
            self.handles.clear();
            for ev in decode::to_events(raw, Resolved::default(), now) {
                out.emit(ev)?;
            }
            return Ok(());
        }
        // Our own reads and writes (output files, resolving handles) are not events.
        if raw.pid == self.own_pid {
            return Ok(());
        }
        let (path, old_path) = self.paths(raw);
        let inside = |p: &Option<Vec<u8>>| {
            p.as_deref()
                .is_some_and(|p| decode::is_under(p, &self.root))
        };
        if path.is_none() && old_path.is_none() {
            self.unresolved += 1;
            return Ok(());
        }
        if !inside(&path) && !inside(&old_path) {
            return Ok(());
        }
        if path.as_ref().is_some_and(|p| self.ignore.contains(p)) {
            return Ok(());
        }
        let process = self
            .procs
            .process_of(raw.pid, pidfd.as_ref(), self.features.pidfd);
        let res = Resolved {
            path,
            old_path,
            process,
        };
        for ev in decode::to_events(raw, res, now) {
            out.emit(ev)?;
        }
        Ok(())
    }

    /// The record's path (and old path for a rename), keeping the handle cache in step with
    /// what the record says happened.
    fn paths(&mut self, raw: &RawEvent<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let obj = raw.fid(FidKind::Object);
        let is_dir = raw.mask & FAN_ONDIR != 0;
        if raw.mask & decode::FAN_RENAME != 0 {
            let at = |h: &mut Handles, k| {
                raw.fid(k).and_then(|f| {
                    h.resolve(f)
                        .map(|d| decode::join(d, f.name.unwrap_or_default()))
                })
            };
            let old = at(&mut self.handles, FidKind::OldDir);
            let new = at(&mut self.handles, FidKind::NewDir);
            if let (Some(o), Some(n)) = (&old, &new) {
                if is_dir {
                    self.handles.rename_tree(o, n);
                }
            }
            if let (Some(f), Some(n)) = (obj, &new) {
                self.handles.remember(f, n);
            }
            return (new, old);
        }
        let path = match raw.fid(FidKind::Dir) {
            Some(d) => self
                .handles
                .resolve(d)
                .map(|dir| decode::join(dir, d.name.unwrap_or_default())),
            None => obj.and_then(|f| self.handles.resolve(f).map(<[u8]>::to_vec)),
        };
        if let (Some(f), Some(p)) = (obj, &path) {
            if raw.fid(FidKind::Dir).is_some() {
                self.handles.remember(f, p);
            }
            if raw.mask & decode::FAN_MOVED_FROM != 0 {
                self.moved_from = Some((f.key(), p.clone()));
            }
            if raw.mask & decode::FAN_MOVED_TO != 0 && is_dir {
                if let Some((k, old)) = self.moved_from.take() {
                    if k == f.key() {
                        self.handles.rename_tree(&old, p);
                    }
                }
            }
        }
        (path, None)
    }

    /// Before a batch is reported: an object unlinked in it (FAN_DELETE names it) whose
    /// handle letrace has never seen gets its path from that record, so its FAN_DELETE_SELF
    /// (which carries only the object's handle, often ahead of the FAN_DELETE, and is stale
    /// by now) can be placed. Objects renamed within the batch are left alone: one path
    /// would not be right for all their records.
    fn learn_deletes(&mut self, buf: &[u8]) {
        let moves = decode::FAN_RENAME | decode::FAN_MOVED_FROM | decode::FAN_MOVED_TO;
        let mut renamed: Vec<Vec<u8>> = Vec::new();
        let mut deleted = Vec::new();
        for raw in decode::records(buf).map_while(Result::ok) {
            if raw.pid == self.own_pid {
                continue;
            }
            let Some(obj) = raw.fid(FidKind::Object) else {
                continue;
            };
            if raw.mask & moves != 0 {
                renamed.push(obj.key());
            } else if raw.mask & decode::FAN_DELETE != 0 && !self.handles.knows(obj) {
                if let Some(d) = raw.fid(FidKind::Dir) {
                    deleted.push((*obj, *d));
                }
            }
        }
        for (obj, d) in deleted {
            if renamed.contains(&obj.key()) {
                continue;
            }
            if let Some(p) = self
                .handles
                .resolve(&d)
                .map(|dir| decode::join(dir, d.name.unwrap_or_default()))
            {
                self.handles.remember(&obj, &p);
            }
        }
    }

    /// Reports the unresolved records counted since the last report.
    fn report_unresolved(&mut self, out: &mut Emitter) -> Result<(), Closed> {
        if self.unresolved == 0 {
            return Ok(());
        }
        let ev = self.unresolved_event();
        self.unresolved = 0;
        out.emit(ev)
    }

    fn unresolved_event(&self) -> Event {
        let mut ev = Event::new(SourceKind::Letrace, "UNRESOLVED");
        ev.extra.insert(
            "fanotify",
            Map::new()
                .with("records", self.unresolved)
                .with(
                    "why",
                    "their directory was deleted before letrace could turn its handle into a path, so they could not be placed inside or outside the watched path",
                ),
        );
        ev
    }
}

fn mark_error(path: &str, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ENODEV) | Some(libc::EOPNOTSUPP) => Error::NoFid {
            path: path.to_string(),
            source: e,
        },
        Some(libc::EPERM) => Error::NoPrivilege,
        _ => Error::Mark {
            path: path.to_string(),
            source: e,
        },
    }
}

impl Source for FanotifySource {
    fn kind(&self) -> SourceKind {
        SourceKind::Fanotify
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        let fd = self.fd.as_raw_fd();
        let mut buf = vec![0u8; 256 * 1024];
        // On a busy filesystem the queue may never run dry: read_loop checks the stop flag
        // between reads and, after a stop, drains only what was already queued.
        super::read_loop(
            fd,
            stop,
            &mut buf,
            Some(REPORT_EVERY),
            |e| super::Error::from(Error::Read(e)),
            |wake| {
                let chunk = match wake {
                    super::Wake::Tick => {
                        return Ok(match self.report_unresolved(out) {
                            Ok(()) => super::Flow::Continue,
                            Err(_) => super::Flow::Stop,
                        })
                    }
                    super::Wake::Data(chunk) => chunk,
                };
                let now = Timestamp::now();
                self.procs.new_batch();
                self.learn_deletes(chunk);
                for raw in decode::records(chunk) {
                    let raw = raw.map_err(Error::from)?;
                    if self.handle(&raw, now, out).is_err() {
                        return Ok(super::Flow::Stop);
                    }
                }
                Ok(super::Flow::Continue)
            },
        )?;
        let _ = self.report_unresolved(out);
        Ok(())
    }
}

/// How often unresolved records are reported while running.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Time spent caching PATH's existing directories at start-up.
const PRELOAD_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// `letrace doctor`: can a filesystem mark with FID and name reporting be set here?
pub fn probe() -> Probe {
    let fix_root = "run letrace as root (needs CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH)";
    let (fd, f) =
        match init() {
            Ok(x) => x,
            Err(Error::NoPrivilege) => {
                return Probe::new(
                    SourceKind::Fanotify,
                    Status::No,
                    "fanotify_init: permission denied (filesystem marks need CAP_SYS_ADMIN)",
                )
                .fix(fix_root)
            }
            Err(Error::Groups(n)) => return Probe::new(
                SourceKind::Fanotify,
                Status::No,
                format!(
                    "too many fanotify groups for this user (fs.fanotify.max_user_groups = {n})"
                ),
            )
            .fix("stop other fanotify users or raise it: sysctl fs.fanotify.max_user_groups=1024"),
            Err(e) => {
                return Probe::new(SourceKind::Fanotify, Status::No, e.to_string())
                    .fix("use a kernel >= 5.17 with CONFIG_FANOTIFY=y")
            }
        };
    let root = CString::new("/").unwrap_or_default();
    let renamed = mark(&fd, &root, BASE_MASK | decode::FAN_RENAME);
    let mut missing = Vec::new();
    if !f.target_fid {
        missing.push("FAN_REPORT_TARGET_FID");
    }
    if !f.pidfd {
        missing.push("FAN_REPORT_PIDFD");
    }
    match renamed {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => missing.push("FAN_RENAME"),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            return Probe::new(
                SourceKind::Fanotify,
                Status::No,
                "filesystem mark: permission denied",
            )
            .fix(fix_root)
        }
        Err(e) => {
            // Only the root filesystem was tried: PATHs on other filesystems may work, and
            // `record` then reports the precise error for PATH's own filesystem.
            return Probe::new(
                SourceKind::Fanotify,
                Status::Degraded,
                format!("the root filesystem refuses a FID filesystem mark ({e}); fanotify works only on filesystems that report file handles"),
            )
            .fix("watch paths on ext4, xfs, btrfs, tmpfs or another filesystem with file handles, or use inotify");
        }
    }
    drop(fd);
    let limit = std::fs::read_to_string("/proc/sys/fs/fanotify/max_queued_events")
        .map_or_else(|_| "16384".into(), |s| s.trim().to_string());
    if missing.is_empty() {
        Probe::new(
            SourceKind::Fanotify,
            Status::Ok,
            format!("filesystem marks with FID, name, target FID, FAN_RENAME and pidfd; queue {limit} events (fs.fanotify.max_queued_events)"),
        )
    } else {
        Probe::new(
            SourceKind::Fanotify,
            Status::Degraded,
            format!(
                "runs without {} (kernel older than 5.17)",
                missing.join(", ")
            ),
        )
        .fix("a newer kernel gives rename pairs and exact process identity")
    }
}
