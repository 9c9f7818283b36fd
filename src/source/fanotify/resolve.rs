//! Turning what a fanotify record names into what users read: file handles into paths
//! (`open_by_handle_at` + the `/proc/self/fd` link, with a bounded cache kept in step with
//! renames), and a pid into comm/exe (checked against the record's pidfd).

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::decode::{Fid, KEY_MAX};
use crate::event::{Bytes, Process};
use crate::proctable::ProcTable;

/// Cached handles beyond these are dropped wholesale (and re-resolved from the kernel):
/// bounded memory whatever the filesystem does. Objects under the watched path have their
/// own, larger cache, so the churn of the rest of the filesystem cannot evict them (a
/// directory deleted after eviction could no longer be placed).
const INSIDE_MAX: usize = 65_536;
const OUTSIDE_MAX: usize = 8_192;

pub struct Handles {
    /// Any fd on the marked filesystem: `open_by_handle_at` needs one.
    mount_fd: OwnedFd,
    root: Vec<u8>,
    inside: HashMap<Vec<u8>, Vec<u8>>,
    outside: HashMap<Vec<u8>, Vec<u8>>,
    /// The watched path's own handle: kept across `clear`.
    root_key: Option<Vec<u8>>,
}

impl Handles {
    /// `root` is the watched path. Its own handle is cached at once, so events in it can be
    /// placed even if it is deleted before the first one is read.
    pub fn new(root: &Path) -> io::Result<Handles> {
        let c = CString::new(root.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // Not O_PATH: open_by_handle_at refuses O_PATH mount fds (EBADF). A directory is
        // opened as such; for a file its directory (same filesystem) is used.
        let dir = if root.is_dir() {
            c.clone()
        } else {
            let parent = root.parent().unwrap_or(Path::new("/"));
            CString::new(parent.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?
        };
        // SAFETY: dir is NUL-terminated; we own the returned fd.
        let fd = unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fresh fd nobody else owns.
        let mount_fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut h = Handles {
            mount_fd,
            root: root.as_os_str().as_bytes().to_vec(),
            inside: HashMap::new(),
            outside: HashMap::new(),
            root_key: None,
        };
        h.root_key = own_handle_key(&c);
        if let Some(key) = &h.root_key {
            h.inside.insert(key.clone(), h.root.clone());
        }
        Ok(h)
    }

    /// Caches the handle of every directory below the root that exists now, so events in a
    /// directory that is deleted before letrace reads them (a quick `rm -rf`) can still be
    /// placed. Directories created later are learnt from their FAN_CREATE. Bounded by half
    /// the cache and by `budget` of time (a huge cold tree would delay start-up); the rest
    /// is resolved on demand. Stays on the root's filesystem. Returns (cached, complete).
    pub fn preload_dirs(&mut self, budget: std::time::Duration) -> (usize, bool) {
        let until = std::time::Instant::now() + budget;
        let root = PathBuf::from(std::ffi::OsStr::from_bytes(&self.root));
        let Ok(meta) = std::fs::metadata(&root) else {
            return (0, false);
        };
        let Some(fsid) = CString::new(self.root.clone())
            .ok()
            .and_then(|c| fsid_of(&c))
        else {
            return (0, false);
        };
        let dev = meta.dev();
        let mut stack = vec![root];
        let mut n = 0;
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let p = e.path();
                if std::fs::symlink_metadata(&p).map_or(true, |m| m.dev() != dev) {
                    continue; // another filesystem mounted here: not ours to report
                }
                if n >= INSIDE_MAX / 2 || (n % 256 == 0 && std::time::Instant::now() > until) {
                    return (n, false); // the rest is resolved on demand
                }
                let bytes = p.as_os_str().as_bytes().to_vec();
                if let Some(key) = CString::new(bytes.clone())
                    .ok()
                    .and_then(|c| handle_key(fsid, &c))
                {
                    self.insert(key, bytes);
                    n += 1;
                }
                stack.push(p);
            }
        }
        (n, true)
    }

    /// The path of the object `fid` names, or None if it no longer exists.
    pub fn resolve(&mut self, fid: &Fid<'_>) -> Option<&[u8]> {
        let mut buf = [0u8; KEY_MAX];
        let key = fid.key_in(&mut buf);
        if self.get(key).is_none() {
            let p = self.open_path(fid)?;
            self.insert(key.to_vec(), p);
        }
        self.get(key)
    }

    /// Records that `fid` is at `path` (a record told us, no syscall needed).
    pub fn remember(&mut self, fid: &Fid<'_>, path: &[u8]) {
        let mut buf = [0u8; KEY_MAX];
        let key = fid.key_in(&mut buf);
        if self.get(key).is_some_and(|p| p == path) {
            return;
        }
        self.insert(key.to_vec(), path.to_vec());
    }

    /// A directory moved: every cached path at or below `old` moves with it.
    pub fn rename_tree(&mut self, old: &[u8], new: &[u8]) {
        for p in self.inside.values_mut().chain(self.outside.values_mut()) {
            if super::decode::is_under(p, old) {
                let rest = p[old.len()..].to_vec();
                let mut np = new.to_vec();
                np.extend_from_slice(&rest);
                *p = np;
            }
        }
    }

    /// After an overflow renames may have been missed: forget every cached path.
    pub fn clear(&mut self) {
        let root = self
            .root_key
            .as_ref()
            .and_then(|k| self.inside.get(k).map(|p| (k.clone(), p.clone())));
        self.inside.clear();
        self.outside.clear();
        if let Some((k, p)) = root {
            self.inside.insert(k, p);
        }
    }

    /// Whether `fid` is cached (no syscall).
    pub fn knows(&self, fid: &Fid<'_>) -> bool {
        let mut buf = [0u8; KEY_MAX];
        self.get(fid.key_in(&mut buf)).is_some()
    }

    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.inside
            .get(key)
            .or_else(|| self.outside.get(key))
            .map(Vec::as_slice)
    }

    fn insert(&mut self, key: Vec<u8>, path: Vec<u8>) {
        let is_inside = super::decode::is_under(&path, &self.root);
        // One entry per key: it may move between the two (a rename across the root).
        let (map, other, max) = if is_inside {
            (&mut self.inside, &mut self.outside, INSIDE_MAX)
        } else {
            (&mut self.outside, &mut self.inside, OUTSIDE_MAX)
        };
        other.remove(&key);
        if map.len() >= max && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, path);
    }

    fn open_path(&self, fid: &Fid<'_>) -> Option<Vec<u8>> {
        // struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[]; }, built in
        // a u32 buffer for alignment.
        let mut buf = vec![0u32; 2 + fid.handle.len().div_ceil(4)];
        buf[0] = fid.handle.len() as u32;
        buf[1] = fid.handle_type as u32;
        // SAFETY: buf has room for 8 + handle.len() bytes; plain byte copy.
        unsafe {
            std::ptr::copy_nonoverlapping(
                fid.handle.as_ptr(),
                buf.as_mut_ptr().add(2).cast::<u8>(),
                fid.handle.len(),
            )
        };
        // SAFETY: buf holds a valid struct file_handle; we own the returned fd.
        let fd = unsafe {
            libc::open_by_handle_at(
                self.mount_fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                libc::O_PATH | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None; // ESTALE: gone already
        }
        // SAFETY: fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let p = link.as_os_str().as_bytes();
        // The kernel appends " (deleted)" for an unlinked object: its path no longer holds.
        if p.ends_with(b" (deleted)") && nlink(&fd) == Some(0) {
            return None;
        }
        Some(p.to_vec())
    }
}

fn nlink(fd: &OwnedFd) -> Option<u64> {
    // SAFETY: zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    (rc == 0).then_some(st.st_nlink)
}

/// The cache key of the object at `path`, as fanotify will report it (fsid from statfs,
/// handle from name_to_handle_at).
fn own_handle_key(path: &CString) -> Option<Vec<u8>> {
    handle_key(fsid_of(path)?, path)
}

fn fsid_of(path: &CString) -> Option<[u8; 8]> {
    // SAFETY: zeroed statfs is a valid out-buffer.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated; sfs a valid out-pointer.
    if unsafe { libc::statfs(path.as_ptr(), &mut sfs) } != 0 {
        return None;
    }
    // SAFETY: fsid_t is two i32s; reading its bytes is sound.
    Some(unsafe { std::mem::transmute_copy(&sfs.f_fsid) })
}

fn handle_key(fsid: [u8; 8], path: &CString) -> Option<Vec<u8>> {
    let mut buf = [0u32; 2 + 32];
    buf[0] = 128;
    let mut mount_id = 0;
    // SAFETY: buf is a struct file_handle with room for 128 handle bytes.
    let rc = unsafe {
        libc::name_to_handle_at(
            libc::AT_FDCWD,
            path.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut mount_id,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let len = (buf[0] as usize).min(128);
    // SAFETY: buf[2..] holds `len` bytes of handle.
    let handle = unsafe { std::slice::from_raw_parts(buf.as_ptr().add(2).cast::<u8>(), len) };
    let fid = Fid {
        kind: super::decode::FidKind::Object,
        fsid,
        handle_type: buf[1] as i32,
        handle,
        name: None,
    };
    Some(fid.key())
}

/// Per read batch: pid -> what /proc said, so a burst from one process costs one lookup.
/// The process table adds args, parent and entity_id; its entries are re-read once per batch
/// (a process may have exec'd, or its pid been reused, since the last batch).
#[derive(Default)]
pub struct Procs {
    seen: HashMap<i32, Process>,
    table: ProcTable,
}

impl Procs {
    pub fn new_batch(&mut self) {
        self.seen.clear();
    }

    /// The process that caused a record. comm/exe are read from /proc at once; when the
    /// process is gone (no pidfd, or the pidfd says it exited, or /proc has no entry) they
    /// are left out and `unknown` says why, rather than guessing.
    pub fn process_of(&mut self, pid: i32, pidfd: Option<&OwnedFd>, have_pidfd: bool) -> Process {
        if let Some(p) = self.seen.get(&pid) {
            return p.clone();
        }
        let p = self.lookup(pid, pidfd, have_pidfd);
        self.seen.insert(pid, p.clone());
        p
    }

    fn lookup(&mut self, pid: i32, pidfd: Option<&OwnedFd>, have_pidfd: bool) -> Process {
        let mut p = lookup(pid, pidfd, have_pidfd);
        if p.comm.is_none() {
            return p; // gone: nothing in /proc can be trusted to be it
        }
        // Read before the liveness check below, like comm and exe: then all of it is the
        // process the pidfd pins.
        let known = self.table.refresh(pid as u32);
        let ppid = self.table.get(pid as u32).map(|e| e.ppid);
        if let Some(pp) = ppid.filter(|&pp| pp != 0 && !self.seen.contains_key(&(pp as i32))) {
            self.table.refresh(pp);
        }
        if known && still_alive(pidfd) {
            self.table.enrich_process(&mut p);
        }
        p
    }
}

/// With a pidfd: is the process it pins still there? (Without one we cannot tell: yes.)
fn still_alive(pidfd: Option<&OwnedFd>) -> bool {
    pidfd.is_none_or(|fd| {
        // SAFETY: pidfd_send_signal with signal 0 only checks the process exists.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                0,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    })
}

fn lookup(pid: i32, pidfd: Option<&OwnedFd>, have_pidfd: bool) -> Process {
    let mut p = Process {
        pid: Some(pid as u32),
        ..Process::default()
    };
    if have_pidfd && pidfd.is_none() {
        p.extra.insert("unknown", "exited");
        return p;
    }
    let comm = read_proc(pid, b"comm", false);
    let exe = read_proc(pid, b"exe", true);
    // The pidfd pins the process that acted: if it is gone now, /proc/PID may already be
    // another process with the same number.
    let alive = still_alive(pidfd);
    match (comm, alive) {
        (Some(mut c), true) => {
            if c.last() == Some(&b'\n') {
                c.pop();
            }
            p.comm = Some(Bytes(c));
            match exe {
                Some(e) => p.exe = Some(Bytes(e)),
                // Kernel threads and zombies have no exe.
                None => {
                    p.extra.insert("exe_unknown", true);
                }
            }
        }
        _ => {
            p.extra.insert("unknown", "exited");
        }
    }
    p
}

/// `/proc/PID/<name>`: the file's content, or with `link` the symlink's target. Stack
/// buffers and raw syscalls: this runs for every process seen, on the hot path.
fn read_proc(pid: i32, name: &[u8], link: bool) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut path = [0u8; 40];
    let mut w = &mut path[..];
    write!(w, "/proc/{pid}/").ok()?;
    let used = 40 - w.len();
    let end = used + name.len();
    if end >= path.len() {
        return None;
    }
    path[used..end].copy_from_slice(name);
    path[end] = 0;
    let mut buf = [0u8; 4096];
    let n = if link {
        // SAFETY: path is NUL-terminated; buf is valid for its length.
        unsafe { libc::readlink(path.as_ptr().cast(), buf.as_mut_ptr().cast(), buf.len()) }
    } else {
        // SAFETY: as above; the fd is closed before returning.
        unsafe {
            let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return None;
            }
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            n
        }
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

#[cfg(test)]
mod tests {
    use super::super::decode::FidKind;
    use super::*;

    fn fid(handle: &[u8]) -> Fid<'_> {
        Fid {
            kind: FidKind::Object,
            fsid: [1; 8],
            handle_type: 1,
            handle,
            name: None,
        }
    }

    #[test]
    fn cache_follows_directory_renames_and_never_guesses() {
        let tmp = tempfile::tempdir().unwrap();
        let mut h = Handles::new(tmp.path()).unwrap();
        h.remember(&fid(b"dir"), b"/r/d");
        h.remember(&fid(b"file"), b"/r/d/f");
        h.remember(&fid(b"other"), b"/r/dd/x");
        h.rename_tree(b"/r/d", b"/r/e/d2");
        assert_eq!(h.resolve(&fid(b"dir")), Some(&b"/r/e/d2"[..]));
        assert_eq!(h.resolve(&fid(b"file")), Some(&b"/r/e/d2/f"[..]));
        assert_eq!(h.resolve(&fid(b"other")), Some(&b"/r/dd/x"[..]));
        h.clear();
        // Not cached, and not a handle the kernel can open: unknown, not a guess.
        assert_eq!(h.resolve(&fid(b"dir")), None);
        // The watched path itself survives a clear.
        let key = h.root_key.clone().unwrap();
        assert_eq!(h.get(&key), Some(tmp.path().as_os_str().as_bytes()));
    }

    #[test]
    fn churn_outside_the_root_never_evicts_what_is_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let mut h = Handles::new(&root).unwrap();
        let inside = root.join("d");
        let inside = inside.as_os_str().as_bytes();
        h.remember(&fid(b"in"), inside);
        for i in 0..OUTSIDE_MAX * 3 {
            let k = format!("o{i}");
            h.remember(&fid(k.as_bytes()), format!("/elsewhere/{i}").as_bytes());
        }
        assert_eq!(h.resolve(&fid(b"in")), Some(inside));
        assert!(h.outside.len() <= OUTSIDE_MAX);
        // A rename across the root keeps one entry per handle.
        h.remember(&fid(b"in"), b"/elsewhere/moved");
        assert!(!h.inside.contains_key(&fid(b"in").key()));
        assert_eq!(h.resolve(&fid(b"in")), Some(&b"/elsewhere/moved"[..]));
    }

    #[test]
    fn process_of_a_live_and_a_gone_process() {
        let mut procs = Procs::default();
        let me = procs.process_of(std::process::id() as i32, None, false);
        let comm = std::fs::read("/proc/self/comm").unwrap();
        assert_eq!(me.comm.unwrap().0, comm[..comm.len() - 1]);
        assert_eq!(
            me.exe.unwrap().0,
            std::fs::read_link("/proc/self/exe")
                .unwrap()
                .as_os_str()
                .as_bytes()
        );
        // The process table's part: args, ppid, parent and a stable entity_id.
        let args: Vec<Vec<u8>> = std::fs::read("/proc/self/cmdline")
            .unwrap()
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let got: Vec<Vec<u8>> = me.args.clone().unwrap().into_iter().map(|a| a.0).collect();
        assert_eq!(got, args);
        let ppid = std::os::unix::process::parent_id();
        assert_eq!(me.ppid, Some(ppid));
        let t = ProcTable::new();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let start: u64 = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        let eid = t.entity_id(std::process::id(), start);
        assert_eq!(me.extra.get("entity_id"), Some(&eid.into()));
        match me.extra.get("parent") {
            Some(crate::event::Value::Map(m)) => {
                assert_eq!(m.get("pid"), Some(&crate::event::Value::U64(ppid as u64)));
                assert!(
                    m.get("exe").is_some() && m.get("entity_id").is_some(),
                    "{m:?}"
                );
            }
            other => panic!("parent: {other:?}"),
        }
        // pid_max is at most 2^22: this pid never exists.
        let gone = procs.process_of(1 << 30, None, false);
        assert_eq!((gone.comm, gone.exe), (None, None));
        assert_eq!(gone.extra.get("unknown"), Some(&"exited".into()));
        // With pidfd reporting on, no pidfd means the kernel saw the process gone.
        procs.new_batch();
        let nopidfd = procs.process_of(std::process::id() as i32, None, true);
        assert_eq!(nopidfd.comm, None);
        assert_eq!(nopidfd.extra.get("unknown"), Some(&"exited".into()));
    }
}
