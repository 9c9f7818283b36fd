//! `inotify:PATH[,recursive]`: the thin part that owns the inotify fd and the watch table.
//! Decoding is in `decode`, watch bookkeeping in `watches`.

pub mod decode;
mod watches;

use std::collections::HashSet;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use inotify::Inotify;

use self::decode::{
    join, RawEvent, IN_CREATE, IN_IGNORED, IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, IN_Q_OVERFLOW,
};
use self::watches::{Found, WalkError, Watches};
use super::{Options, Source, Stop};
use crate::event::{Event, SourceKind, Timestamp, Value};
use crate::pipeline::{Closed, Emitter};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start inotify: {0} (if it says too many open files, raise fs.inotify.max_user_instances)")]
    Init(io::Error),
    #[error("inotify:{path}: no such file or directory; create it or fix the path")]
    Missing { path: String },
    #[error("inotify:{path}: is not a directory; `,recursive` needs one (drop `,recursive` to watch just this file)")]
    NotDir { path: String },
    #[error("inotify:{path}: inotify watch limit reached (fs.inotify.max_user_watches = {limit}); raise it with: sysctl fs.inotify.max_user_watches=1048576")]
    Limit { path: String, limit: String },
    #[error("inotify:{path}: cannot watch: {source}")]
    Watch { path: String, source: io::Error },
    #[error("reading inotify events failed: {0}")]
    Read(io::Error),
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
}

pub struct InotifySource {
    ino: Inotify,
    watches: Watches,
    recursive: bool,
    ignore: HashSet<Vec<u8>>,
    /// A directory moved away (IN_MOVED_FROM|IN_ISDIR) whose IN_MOVED_TO has not been seen.
    pending_move: Option<(u32, Vec<u8>)>,
}

fn watch_limit() -> String {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .map_or_else(|_| "?".into(), |s| s.trim().to_string())
}

fn lossy(p: &[u8]) -> String {
    crate::text::escape(p).into_owned()
}

impl InotifySource {
    /// Sets every watch now, so a bad path or the watch limit fails `record` at start-up.
    pub fn open(path: &Path, recursive: bool, opts: &Options) -> Result<Self, super::Error> {
        let shown = path.display().to_string();
        let root = path.canonicalize().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Missing {
                path: shown.clone(),
            },
            _ => Error::Watch {
                path: shown.clone(),
                source: e,
            },
        })?;
        if recursive && !root.is_dir() {
            return Err(Error::NotDir { path: shown }.into());
        }
        let ino = Inotify::init().map_err(Error::Init)?;
        let mut src = InotifySource {
            watches: Watches::new(ino.watches()),
            ino,
            recursive,
            ignore: opts
                .ignore_paths
                .iter()
                .map(|p| p.as_os_str().as_bytes().to_vec())
                .collect(),
            pending_move: None,
        };
        let root = root.as_os_str().as_bytes().to_vec();
        if recursive {
            let mut skipped = Vec::new();
            match src.watches.add_tree(&root, None, &mut skipped) {
                Ok(()) => {}
                Err(WalkError::Limit(p)) => {
                    return Err(Error::Limit {
                        path: lossy(&p),
                        limit: watch_limit(),
                    }
                    .into())
                }
                Err(WalkError::Root(e)) => {
                    return Err(Error::Watch {
                        path: shown,
                        source: e,
                    }
                    .into())
                }
            }
            for (p, e) in skipped {
                eprintln!("letrace: warning: inotify: not watching {}: {e}", lossy(&p));
            }
        } else {
            src.watches.add(&root).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOSPC) => Error::Limit {
                    path: shown.clone(),
                    limit: watch_limit(),
                },
                _ => Error::Watch {
                    path: shown.clone(),
                    source: e,
                },
            })?;
        }
        Ok(src)
    }

    fn handle(
        &mut self,
        raw: &RawEvent<'_>,
        now: Timestamp,
        out: &mut Emitter,
    ) -> Result<(), Closed> {
        if let Some((cookie, old)) = self.pending_move.take() {
            if raw.mask & IN_MOVED_TO != 0 && raw.cookie == cookie {
                let new = self.watches.path(raw.wd).map(|d| join(d, raw.name));
                if let Some(new) = new {
                    self.watches.rename(&old, &new);
                }
            } else {
                // Moved out of the tree: its watches would report paths that no longer hold.
                self.watches.remove_tree(&old);
            }
        }
        let dir = self.watches.path(raw.wd).map(<[u8]>::to_vec);
        let path = dir.as_deref().map(|d| {
            if raw.name.is_empty() {
                d.to_vec()
            } else {
                join(d, raw.name)
            }
        });
        if raw.mask & IN_Q_OVERFLOW != 0 {
            for ev in decode::to_events(raw, None, now) {
                out.emit(ev)?;
            }
            if self.recursive {
                // Directories created during the overflow have no watch yet.
                self.resync(out)?;
            }
            return Ok(());
        }
        if path.as_ref().is_some_and(|p| self.ignore.contains(p)) {
            return Ok(());
        }
        for ev in decode::to_events(raw, dir.as_deref(), now) {
            out.emit(ev)?;
        }
        if raw.mask & IN_IGNORED != 0 {
            self.watches.forget(raw.wd);
        }
        let (Some(path), true) = (path, self.recursive && raw.mask & IN_ISDIR != 0) else {
            return Ok(());
        };
        if raw.mask & IN_CREATE != 0 {
            self.watch_new_dir(&path, true, now, out)?;
        } else if raw.mask & IN_MOVED_FROM != 0 {
            self.pending_move = Some((raw.cookie, path));
        } else if raw.mask & IN_MOVED_TO != 0 && self.watches.path(raw.wd).is_some() {
            // Moved in from outside the tree (an inside move was handled above).
            if !self.watches.has_path(&path) {
                self.watch_new_dir(&path, false, now, out)?;
            }
        }
        Ok(())
    }

    /// Watches a directory that appeared, and everything below it. With `report`, reports
    /// what is already inside as IN_CREATE events marked `synthetic`: it may have been
    /// created before the watch existed.
    fn watch_new_dir(
        &mut self,
        path: &[u8],
        report: bool,
        now: Timestamp,
        out: &mut Emitter,
    ) -> Result<(), Closed> {
        let mut found = Vec::new();
        let mut skipped = Vec::new();
        let res = self
            .watches
            .add_tree(path, report.then_some(&mut found), &mut skipped);
        for Found { wd, name, is_dir } in found {
            let raw = RawEvent {
                wd,
                mask: IN_CREATE | if is_dir { IN_ISDIR } else { 0 },
                cookie: 0,
                name: &name,
            };
            let dir = self.watches.path(wd).map(<[u8]>::to_vec);
            if dir
                .as_deref()
                .is_some_and(|d| self.ignore.contains(&join(d, &name)))
            {
                continue;
            }
            for mut ev in decode::to_events(&raw, dir.as_deref(), now) {
                if let Some(Value::Map(m)) = ev
                    .extra
                    .0
                    .iter_mut()
                    .find(|(k, _)| k == "inotify")
                    .map(|(_, v)| v)
                {
                    m.insert("synthetic", true);
                }
                out.emit(ev)?;
            }
        }
        match res {
            Ok(()) | Err(WalkError::Root(_)) => {} // gone again already: its IN_DELETE follows
            Err(WalkError::Limit(p)) => {
                let msg = format!(
                    "inotify watch limit reached (fs.inotify.max_user_watches = {}): {} and below are not watched; raise the sysctl",
                    watch_limit(),
                    lossy(&p)
                );
                eprintln!("letrace: warning: {msg}");
                out.emit(Event::error(msg))?;
            }
        }
        for (p, e) in skipped {
            out.emit(Event::error(format!(
                "inotify: not watching {}: {e}",
                lossy(&p)
            )))?;
        }
        Ok(())
    }

    /// After an overflow: watch every directory of the tree that has no watch yet.
    fn resync(&mut self, out: &mut Emitter) -> Result<(), Closed> {
        let Some(root) = self.watches.path(1).map(<[u8]>::to_vec) else {
            return Ok(());
        };
        let mut skipped = Vec::new();
        if let Err(WalkError::Limit(p)) = self.watches.add_tree(&root, None, &mut skipped) {
            out.emit(Event::error(format!(
                "inotify watch limit reached: {} and below are not watched",
                lossy(&p)
            )))?;
        }
        Ok(())
    }
}

impl Source for InotifySource {
    fn kind(&self) -> SourceKind {
        SourceKind::Inotify
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        let fd = self.ino.as_raw_fd();
        // Large reads: one syscall carries thousands of records during a storm.
        let mut buf = vec![0u8; 256 * 1024];
        super::read_loop(
            fd,
            stop,
            &mut buf,
            None,
            |e| Error::Read(e).into(),
            |wake| {
                let super::Wake::Data(chunk) = wake else {
                    return Ok(super::Flow::Continue);
                };
                let now = Timestamp::now();
                for raw in decode::records(chunk) {
                    let raw = raw.map_err(Error::from)?;
                    if self.handle(&raw, now, out).is_err() {
                        return Ok(super::Flow::Stop);
                    }
                }
                Ok(super::Flow::Continue)
            },
        )
    }
}

/// `letrace doctor`: can an inotify instance be created, and how far do the limits go?
pub fn probe() -> crate::doctor::Probe {
    use crate::doctor::{Probe, Status};
    let limits = format!(
        "fs.inotify.max_user_watches={}, max_user_instances={}",
        watch_limit(),
        std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
            .map_or_else(|_| "?".into(), |s| s.trim().to_string())
    );
    match Inotify::init() {
        Ok(_) => Probe::new(
            SourceKind::Inotify,
            Status::Ok,
            format!("inotify works; {limits}"),
        ),
        Err(e) if e.raw_os_error() == Some(libc::EMFILE) => Probe::new(
            SourceKind::Inotify,
            Status::No,
            format!("inotify_init: {e}; {limits}"),
        )
        .fix("raise it: sysctl fs.inotify.max_user_instances=1024"),
        Err(e) => Probe::new(
            SourceKind::Inotify,
            Status::No,
            format!("inotify_init: {e}"),
        )
        .fix("use a kernel built with CONFIG_INOTIFY_USER=y"),
    }
}
