//! Destinations for encoded bytes: standard output and files. Formats are not known here.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: is a symbolic link; letrace does not write through links (remove it or pick another path)")]
    Symlink { path: String },
    #[error("{path}: is not a regular file; pick a file path")]
    NotRegular { path: String },
    #[error("{path}: belongs to uid {owner}, not to us; remove it or pick another path")]
    Foreign { path: String, owner: u32 },
    #[error(
        "{path}: cannot create output file: {source} (check the directory exists and is writable)"
    )]
    Create { path: String, source: io::Error },
    #[error("{path}: write failed: {source}")]
    Write { path: String, source: io::Error },
}

/// Where one output's bytes go.
pub enum Dest {
    Stdout(io::Stdout),
    File {
        path: String,
        file: File,
        /// Set (by a SIGHUP handler): reopen `path` before the next write, so a log rotated
        /// away (renamed) is followed by a fresh file at the same path.
        reopen: Option<Arc<AtomicBool>>,
    },
}

impl Dest {
    pub fn stdout() -> Dest {
        Dest::Stdout(io::stdout())
    }

    /// Creates (or empties) an output file with mode 0600, refusing a symlink planted at the
    /// path, anything that is not a regular file, and a file that belongs to someone else.
    pub fn create_file(path: &str) -> Result<Dest, Error> {
        Ok(Dest::File {
            path: path.to_string(),
            file: open_checked(path, false)?,
            reopen: None,
        })
    }

    /// Opens an output file for appending (created 0600 if missing; never emptied), with the
    /// same refusals as `create_file`. When `reopen` is set, the path is opened again before
    /// the next write (log rotation).
    pub fn append_file(path: &str, reopen: Option<Arc<AtomicBool>>) -> Result<Dest, Error> {
        Ok(Dest::File {
            path: path.to_string(),
            file: open_checked(path, true)?,
            reopen,
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Dest::Stdout(_) => "<stdout>",
            Dest::File { path, .. } => path,
        }
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let res = match self {
            Dest::Stdout(s) => s.lock().write_all(bytes).and_then(|_| s.lock().flush()),
            Dest::File { file, reopen, path } => {
                if reopen
                    .as_ref()
                    .is_some_and(|r| r.swap(false, Ordering::Relaxed))
                {
                    // A failed reopen keeps writing to the old file: nothing is lost, and
                    // the next signal tries again.
                    match open_checked(path, true) {
                        Ok(f) => *file = f,
                        Err(e) => eprintln!("letrace: warning: cannot reopen output: {e}"),
                    }
                }
                file.write_all(bytes)
            }
        };
        res.map_err(|source| Error::Write {
            path: self.name().to_string(),
            source,
        })
    }
}

/// Opens `path` for writing with mode 0600 (emptied unless `append`), refusing a symlink
/// planted at the path, anything that is not a regular file, and a file that belongs to
/// someone else.
fn open_checked(path: &str, append: bool) -> Result<File, Error> {
    let file = OpenOptions::new()
        .write(true)
        .append(append)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(Path::new(path))
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => Error::Symlink {
                path: path.to_string(),
            },
            _ => Error::Create {
                path: path.to_string(),
                source,
            },
        })?;
    let create = |source| Error::Create {
        path: path.to_string(),
        source,
    };
    let meta = file.metadata().map_err(create)?;
    if !meta.file_type().is_file() {
        return Err(Error::NotRegular {
            path: path.to_string(),
        });
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Error::Foreign {
            path: path.to_string(),
            owner: meta.uid(),
        });
    }
    // Truncate only after the checks, so a refused path is left as it was; and only a file
    // that has bytes: truncating an empty new file makes ext4 (auto_da_alloc) write the whole
    // output back synchronously in close(), seconds for a multi-GB log.
    if !append && meta.len() > 0 {
        file.set_len(0).map_err(create)?;
    }
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(create)?;
    // O_NONBLOCK was only to avoid hanging on a FIFO at open; writes should block.
    // SAFETY: plain fcntl on an fd we own.
    unsafe {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

impl Error {
    /// True when the reader of stdout went away (`letrace ... | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_empties_an_existing_output_and_makes_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let ps = p.to_str().unwrap();
        std::fs::write(&p, "old, longer than what follows\n").unwrap();
        let mut d = Dest::create_file(ps).unwrap();
        d.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        // A path that did not exist (not truncated: it has nothing to lose).
        let q = dir.path().join("fresh.jsonl");
        let mut d = Dest::create_file(q.to_str().unwrap()).unwrap();
        d.write_all(b"first\n").unwrap();
        assert_eq!(std::fs::read_to_string(&q).unwrap(), "first\n");
    }

    #[test]
    fn append_keeps_what_was_there_and_reopen_follows_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl");
        let ps = p.to_str().unwrap();
        std::fs::write(&p, "old\n").unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let mut d = Dest::append_file(ps, Some(flag.clone())).unwrap();
        d.write_all(b"one\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old\none\n");
        // Rotated away: writes follow the old file until the flag is set.
        let rotated = dir.path().join("out.jsonl.1");
        std::fs::rename(&p, &rotated).unwrap();
        d.write_all(b"two\n").unwrap();
        flag.store(true, Ordering::Relaxed);
        d.write_all(b"three\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&rotated).unwrap(),
            "old\none\ntwo\n"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "three\n");
        assert!(!flag.load(Ordering::Relaxed));
        // create_file empties; a symlink is refused by both.
        let mut c = Dest::create_file(ps).unwrap();
        c.write_all(b"x\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "x\n");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        let l = link.to_str().unwrap();
        assert!(matches!(
            Dest::append_file(l, None),
            Err(Error::Symlink { .. })
        ));
        assert!(matches!(Dest::create_file(l), Err(Error::Symlink { .. })));
    }
}
