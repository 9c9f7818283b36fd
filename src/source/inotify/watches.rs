//! The watch table of one inotify instance: wd -> path, and the tree walk that sets watches
//! on a directory and everything below it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use inotify::{WatchDescriptor, WatchMask};

use super::decode::{join, ALL_EVENTS};

/// Something found by a walk in a directory that was created after letrace started watching
/// its parent: it may have been created before the new watch existed.
pub struct Found {
    pub wd: i32,
    pub name: Vec<u8>,
    pub is_dir: bool,
}

pub struct Watches {
    api: inotify::Watches,
    by_wd: HashMap<i32, (Vec<u8>, WatchDescriptor)>,
}

/// Why a walk could not set every watch.
pub enum WalkError {
    /// ENOSPC: the per-user watch limit; the walk stopped.
    Limit(Vec<u8>),
    /// Another error on the walk's root (missing, not permitted, ...).
    Root(io::Error),
}

impl Watches {
    pub fn new(api: inotify::Watches) -> Self {
        Watches {
            api,
            by_wd: HashMap::new(),
        }
    }

    pub fn path(&self, wd: i32) -> Option<&[u8]> {
        self.by_wd.get(&wd).map(|(p, _)| p.as_slice())
    }

    pub fn has_path(&self, path: &[u8]) -> bool {
        self.by_wd.values().any(|(p, _)| p == path)
    }

    pub fn add(&mut self, path: &[u8]) -> io::Result<i32> {
        let mask = WatchMask::from_bits_retain(ALL_EVENTS);
        let wd = self.api.add(Path::new(OsStr::from_bytes(path)), mask)?;
        let id = wd.get_watch_descriptor_id();
        self.by_wd.insert(id, (path.to_vec(), wd));
        Ok(id)
    }

    /// Watches `root` and every directory below it (symlinks are not followed). Unreadable
    /// or vanished subdirectories are skipped and returned in `skipped`. When `found` is
    /// given, every entry met is pushed there.
    pub fn add_tree(
        &mut self,
        root: &[u8],
        mut found: Option<&mut Vec<Found>>,
        skipped: &mut Vec<(Vec<u8>, io::Error)>,
    ) -> Result<(), WalkError> {
        let mut stack = vec![root.to_vec()];
        while let Some(dir) = stack.pop() {
            let wd = match self.add(&dir) {
                Ok(wd) => wd,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                    return Err(WalkError::Limit(dir))
                }
                Err(e) if dir == root => return Err(WalkError::Root(e)),
                Err(e) => {
                    skipped.push((dir, e));
                    continue;
                }
            };
            let entries = match std::fs::read_dir(OsStr::from_bytes(&dir)) {
                Ok(rd) => rd,
                Err(e) => {
                    skipped.push((dir, e));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let name = entry.file_name().as_bytes().to_vec();
                if is_dir {
                    stack.push(join(&dir, &name));
                }
                if let Some(found) = found.as_deref_mut() {
                    found.push(Found { wd, name, is_dir });
                }
            }
        }
        Ok(())
    }

    /// The kernel dropped the watch (IN_IGNORED): forget it.
    pub fn forget(&mut self, wd: i32) {
        self.by_wd.remove(&wd);
    }

    /// A watched directory moved from `old` to `new` inside the tree: its wds stay valid,
    /// only the paths we report change.
    pub fn rename(&mut self, old: &[u8], new: &[u8]) {
        for (path, _) in self.by_wd.values_mut() {
            if let Some(rest) = under(path, old) {
                let mut p = new.to_vec();
                p.extend_from_slice(rest);
                *path = p;
            }
        }
    }

    /// A watched directory left the tree: stop watching it and everything below it.
    pub fn remove_tree(&mut self, old: &[u8]) {
        let gone: Vec<i32> = self
            .by_wd
            .iter()
            .filter(|(_, (p, _))| under(p, old).is_some())
            .map(|(wd, _)| *wd)
            .collect();
        for wd in gone {
            if let Some((_, desc)) = self.by_wd.remove(&wd) {
                // It may already be gone (deleted meanwhile); nothing to do then.
                let _ = self.api.remove(desc);
            }
        }
    }
}

/// If `path` is `dir` or below it, the part after `dir` (empty or starting with '/').
fn under<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
    let rest = path.strip_prefix(dir)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn under_matches_whole_components_only() {
        assert_eq!(under(b"/a/b/c", b"/a/b"), Some(&b"/c"[..]));
        assert_eq!(under(b"/a/b", b"/a/b"), Some(&b""[..]));
        assert_eq!(under(b"/a/bc", b"/a/b"), None);
    }
}
