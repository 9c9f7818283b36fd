//! `route`: rtnetlink notifications for links, IPv4/IPv6 addresses and routes. The thin part
//! that owns the sockets; decoding is in `decode`, events and link state in `events`.
//!
//! Loss: when the kernel cannot queue a notification (receive buffer full) the next `recv`
//! fails with ENOBUFS. letrace then reads what is still queued, writes a LOST event (count
//! unknown: `lost` 1 as a lower bound, `lost_exact` false), and dumps links, addresses and
//! routes, reported with `route.resync: true`, so the state in the log is right again.

pub mod decode;
pub mod events;
mod socket;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use self::decode::{messages, parse, Parsed, RTM_GETLINK};
use self::events::{Origin, Tracker};
use super::{Source, Stop};
use crate::event::{Event, Map, SourceKind, Timestamp};
use crate::pipeline::{Closed, Emitter};

/// Receive buffer asked for when `--route-rcvbuf` is not given: room for bursts such as a
/// container runtime creating hundreds of veths (granted in full only to root).
pub const DEFAULT_RCVBUF: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("route: cannot open a NETLINK_ROUTE socket: {0}")]
    Socket(io::Error),
    #[error("route: cannot set the receive buffer to {bytes} bytes: {err}")]
    RcvBuf { bytes: usize, err: io::Error },
    #[error("route: dumping the link table failed: {0}")]
    Dump(socket::DumpError),
    #[error("route: reading notifications failed: {0}")]
    Read(io::Error),
}

pub struct RouteSource {
    mon: OwnedFd,
    tracker: Tracker,
}

/// Whether `route` can run here, for `letrace doctor` and `record` start-up.
pub fn probe() -> crate::doctor::Probe {
    use crate::doctor::{Probe, Status};
    match socket::open(socket::GROUPS) {
        Ok(_) => Probe::new(SourceKind::Route, Status::Ok, "rtnetlink link/address/route groups joinable (no privilege needed)"),
        Err(e) => Probe::new(SourceKind::Route, Status::No, format!("cannot open a NETLINK_ROUTE socket bound to the link/address/route groups: {e}"))
            .fix("a network-less sandbox or a seccomp/LSM policy blocks AF_NETLINK; run letrace outside it"),
    }
}

impl RouteSource {
    /// Subscribes first, then dumps the links: a change in between shows in both, none is
    /// missed. `rcvbuf`: the socket's receive buffer (small values make loss likelier).
    pub fn open(rcvbuf: Option<usize>) -> Result<Self, Error> {
        let mon = socket::open(socket::GROUPS).map_err(Error::Socket)?;
        let bytes = rcvbuf.unwrap_or(DEFAULT_RCVBUF);
        if let Err(err) = socket::set_rcvbuf(mon.as_raw_fd(), bytes) {
            // An explicit request must hold; the default is only a wish.
            if rcvbuf.is_some() {
                return Err(Error::RcvBuf { bytes, err });
            }
        }
        let links: Vec<_> = socket::dump(&[RTM_GETLINK])
            .map_err(Error::Dump)?
            .into_iter()
            .filter_map(|p| match p {
                Parsed::Link(l) => Some(l),
                _ => None,
            })
            .collect();
        let mut tracker = Tracker::new();
        tracker.seed(&links);
        Ok(RouteSource { mon, tracker })
    }

    /// The receive buffer the kernel granted.
    pub fn rcvbuf(&self) -> io::Result<usize> {
        socket::rcvbuf(self.mon.as_raw_fd())
    }

    fn handle(&mut self, buf: &[u8], out: &mut Emitter) -> Result<(), Closed> {
        let now = Timestamp::now();
        for m in messages(buf) {
            let parsed = m.and_then(|m| parse(&m).map(|p| (p, m.pid)));
            match parsed {
                Ok((p, pid)) => {
                    for ev in self.tracker.events(&p, pid, now, Origin::Live) {
                        out.emit(ev)?;
                    }
                }
                Err(e) => {
                    // Not seen from a real kernel; report it and keep going.
                    out.emit(error_event(format!("route: undecodable message: {e}")))?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// After ENOBUFS: read what is still queued (it happened before the loss), write LOST,
    /// then report the dumped state.
    fn recover(&mut self, buf: &mut [u8], out: &mut Emitter) -> Result<(), Closed> {
        let lost_at = Timestamp::now();
        // Bounded: during a storm new notifications keep arriving; the dump covers them.
        for _ in 0..1024 {
            match socket::recv(self.mon.as_raw_fd(), buf, true) {
                Ok(n) => {
                    let data = buf[..n].to_vec();
                    self.handle(&data, out)?;
                }
                Err(_) => break,
            }
        }
        let mut lost = Event::lost(SourceKind::Route, 1, false, "netlink ENOBUFS");
        lost.time = lost_at;
        out.emit(lost)?;
        match socket::dump(&socket::ALL_TABLES) {
            Ok(dump) => {
                for ev in self.tracker.resync(&dump, Timestamp::now()) {
                    out.emit(ev)?;
                }
            }
            Err(e) => out.emit(error_event(format!(
                "route: resync after loss failed, link state may be stale: {e}"
            )))?,
        }
        Ok(())
    }
}

fn error_event(message: String) -> Event {
    let mut ev = Event::new(SourceKind::Letrace, "ERROR");
    ev.extra
        .insert("error", Map::new().with("message", message));
    ev
}

impl Source for RouteSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Route
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        let fd = self.mon.as_raw_fd();
        let mut buf = vec![0u8; socket::RECV_BUF];
        loop {
            let rev = crate::sys::poll(&[fd, stop.fd()], -1).map_err(Error::Read)?;
            let stopping = rev[1] != 0;
            loop {
                match socket::recv(fd, &mut buf, true) {
                    Ok(n) => {
                        if self.handle(&buf[..n], out).is_err() {
                            return Ok(());
                        }
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                        if self.recover(&mut buf, out).is_err() {
                            return Ok(());
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        break
                    }
                    Err(e) => return Err(Error::Read(e).into()),
                }
            }
            if stopping {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::source::{Error, Spec};

    #[test]
    fn spec_takes_no_argument() {
        assert_eq!(Spec::parse("route").unwrap(), Spec::Route);
        assert!(matches!(
            Spec::parse("route:eth0"),
            Err(Error::BadSpec { .. })
        ));
    }

    #[test]
    fn probe_succeeds_without_privileges() {
        // Subscribing to rtnetlink groups needs no capability.
        assert_eq!(super::probe().status, crate::doctor::Status::Ok);
    }
}
