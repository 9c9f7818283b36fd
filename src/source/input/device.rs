//! The thin evdev part: opening what `input:PATH` names and asking a real device about itself
//! (EVIOCGNAME, EVIOCGID, EVIOCGKEY). FIFOs and files of recorded records get none of this.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// What `input:PATH` turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A character device: evdev, with ioctls.
    Evdev,
    /// Opened read-write, so it never reports end-of-file when a writer leaves (which
    /// would make poll report it readable forever and the reader spin).
    Fifo,
    /// Read to its end once.
    File,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Evdev => "char",
            Kind::Fifo => "fifo",
            Kind::File => "file",
        }
    }
}

/// The kind of `path`, or None for things letrace cannot read records from (directories,
/// sockets, block devices).
pub fn kind_of(path: &Path) -> io::Result<Option<Kind>> {
    let ft = std::fs::metadata(path)?.file_type();
    Ok(if ft.is_char_device() {
        Some(Kind::Evdev)
    } else if ft.is_fifo() {
        Some(Kind::Fifo)
    } else if ft.is_file() {
        Some(Kind::File)
    } else {
        None
    })
}

pub fn open(path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let access = match kind {
        Kind::Fifo => libc::O_RDWR,
        Kind::Evdev | Kind::File => libc::O_RDONLY,
    };
    // SAFETY: c is a valid NUL-terminated path; we own the returned fd.
    let fd = unsafe { libc::open(c.as_ptr(), access | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `_IOC(_IOC_READ, 'E', nr, size)`.
pub(super) const fn eviocg(nr: u64, size: u64) -> u64 {
    (2 << 30) | (size << 16) | ((b'E' as u64) << 8) | nr
}

fn ioctl_read(fd: &OwnedFd, req: u64, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: the request encodes buf.len() as its size, so the kernel writes at most that.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, buf.as_mut_ptr()) };
    (rc >= 0).then_some(rc as usize)
}

/// EVIOCGNAME: the device's name, e.g. `AT Translated Set 2 keyboard`.
pub fn name(fd: &OwnedFd) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    ioctl_read(fd, eviocg(0x06, 256), &mut buf)?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(buf[..end].to_vec())
}

/// EVIOCGID: `struct input_id { bustype, vendor, product, version }`.
pub fn id(fd: &OwnedFd) -> Option<[u16; 4]> {
    let mut buf = [0u8; 8];
    ioctl_read(fd, eviocg(0x02, 8), &mut buf)?;
    let at = |i: usize| u16::from_ne_bytes([buf[i], buf[i + 1]]);
    Some([at(0), at(2), at(4), at(6)])
}

/// EVIOCGKEY: the codes of the keys and buttons held down right now.
pub fn keys_down(fd: &OwnedFd) -> Option<Vec<u16>> {
    const KEY_MAX: usize = 0x2ff;
    let mut bits = [0u8; KEY_MAX / 8 + 1];
    ioctl_read(fd, eviocg(0x18, bits.len() as u64), &mut bits)?;
    Some(
        (0..=KEY_MAX as u16)
            .filter(|&c| bits[c as usize / 8] & (1 << (c % 8)) != 0)
            .collect(),
    )
}
