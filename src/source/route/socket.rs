//! The NETLINK_ROUTE sockets: a monitor bound to the multicast groups, and short-lived dump
//! sockets for the start-up link table and the resync after a loss.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::decode::{
    self, messages, parse, Parsed, NLM_F_DUMP_INTR, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE,
};

pub const RTMGRP_LINK: u32 = 0x1;
pub const RTMGRP_IPV4_IFADDR: u32 = 0x10;
pub const RTMGRP_IPV4_ROUTE: u32 = 0x40;
pub const RTMGRP_IPV6_IFADDR: u32 = 0x100;
pub const RTMGRP_IPV6_ROUTE: u32 = 0x400;
pub const GROUPS: u32 =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;

/// Big enough for any rtnetlink datagram: the kernel caps dump skbs at 32 KiB.
pub const RECV_BUF: usize = 64 * 1024;

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// A NETLINK_ROUTE socket bound to `groups` (0: none, for requests).
pub fn open(groups: u32) -> io::Result<OwnedFd> {
    // SAFETY: socket has no memory preconditions; we own the returned fd.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    })?;
    // SAFETY: fd is fresh and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = groups;
    // SAFETY: sa is a valid sockaddr_nl of the given size.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

fn setsockopt_int(fd: RawFd, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a valid c_int of the stated size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Sets the receive buffer: SO_RCVBUFFORCE (root may exceed net.core.rmem_max), else
/// SO_RCVBUF (clamped by the kernel). The kernel doubles the value for bookkeeping.
pub fn set_rcvbuf(fd: RawFd, bytes: usize) -> io::Result<()> {
    let v = bytes.min(libc::c_int::MAX as usize / 2) as libc::c_int;
    setsockopt_int(fd, libc::SO_RCVBUFFORCE, v).or_else(|_| setsockopt_int(fd, libc::SO_RCVBUF, v))
}

/// What the kernel actually granted (SO_RCVBUF reads back the doubled value).
pub fn rcvbuf(fd: RawFd) -> io::Result<usize> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid for writes of their sizes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(v.max(0) as usize)
}

fn set_timeout(fd: RawFd, d: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: passes a valid timeval of the stated size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// One datagram. Errors come back as they are (ENOBUFS matters to the caller); a datagram
/// larger than `buf` is an error rather than silently cut.
pub fn recv(fd: RawFd, buf: &mut [u8], nonblocking: bool) -> io::Result<usize> {
    let flags = libc::MSG_TRUNC | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n > buf.len() {
        return Err(io::Error::other(format!(
            "netlink datagram of {n} bytes is larger than the {} byte buffer",
            buf.len()
        )));
    }
    Ok(n)
}

fn send_dump(fd: RawFd, kind: u16, seq: u32) -> io::Result<()> {
    // The family-specific header, zeroed: AF_UNSPEC asks for every family.
    let body_len = match kind {
        RTM_GETLINK => 16,
        RTM_GETADDR => 8,
        _ => 12,
    };
    let mut req = Vec::with_capacity(16 + body_len);
    req.extend_from_slice(&((16 + body_len) as u32).to_ne_bytes());
    req.extend_from_slice(&kind.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&seq.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.resize(16 + body_len, 0);
    // SAFETY: req is valid for reads of req.len() bytes.
    let n = unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Decode(#[from] decode::DecodeError),
    #[error("the kernel refused the dump request: {0}")]
    Refused(io::Error),
}

/// Dumps the given tables (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) on a fresh socket and
/// returns what the kernel said, in order. A dump that raced a change (NLM_F_DUMP_INTR) is
/// repeated, up to 3 times; the last one is kept either way.
pub fn dump(kinds: &[u16]) -> Result<Vec<Parsed>, DumpError> {
    let fd = open(0)?;
    set_timeout(fd.as_raw_fd(), Duration::from_secs(5))?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::new();
    let mut seq = 0u32;
    for &kind in kinds {
        for attempt in 0..3 {
            seq += 1;
            send_dump(fd.as_raw_fd(), kind, seq)?;
            let mut got = Vec::new();
            let mut interrupted = false;
            'recv: loop {
                let n = recv(fd.as_raw_fd(), &mut buf, false)?;
                for m in messages(&buf[..n]) {
                    let m = m?;
                    if m.seq != seq {
                        continue;
                    }
                    interrupted |= m.flags & NLM_F_DUMP_INTR != 0;
                    match parse(&m)? {
                        Parsed::Done => break 'recv,
                        Parsed::Error(e) if e != 0 => {
                            return Err(DumpError::Refused(io::Error::from_raw_os_error(-e)))
                        }
                        p => got.push(p),
                    }
                }
            }
            if !interrupted || attempt == 2 {
                out.extend(got);
                break;
            }
        }
    }
    Ok(out)
}

pub const ALL_TABLES: [u16; 3] = [RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE];
