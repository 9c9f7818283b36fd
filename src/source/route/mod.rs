//! `route`: rtnetlink notifications for links, IPv4/IPv6 addresses and routes. The thin part
//! that owns the sockets; decoding is in `decode`, events and link state in `events`.
//!
//! Loss: when the kernel cannot queue a notification (receive buffer full) the next `recv`
//! fails with ENOBUFS. letrace then reads what is still queued, writes a LOST event (count
//! unknown: `lost` 1 as a lower bound, `lost_exact` false), and dumps links, addresses and
//! routes, reported with `route.resync: true`, so the state in the log is right again.

pub mod decode;
pub mod events;
mod netns;
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
    #[error("route:{arg}: no such network namespace ({path} is missing); see `ip netns list`, or give a path like /proc/PID/ns/net")]
    NoNetns { arg: String, path: String },
    #[error(
        "route:{arg}: cannot enter the network namespace {path}: {err} (needs root: CAP_SYS_ADMIN)"
    )]
    Netns {
        arg: String,
        path: String,
        err: io::Error,
    },
}

pub struct RouteSource {
    mon: OwnedFd,
    tracker: Tracker,
    /// `route:NETNS`: the namespace (fd) and the name given, put on every event.
    netns: Option<(OwnedFd, String)>,
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
    /// `netns`: watch that network namespace (`ip netns` name or path) instead of letrace's.
    pub fn open(rcvbuf: Option<usize>, netns: Option<&str>) -> Result<Self, Error> {
        let ns = match netns {
            None => None,
            Some(arg) => {
                let path = netns::resolve(arg);
                let shown = path.display().to_string();
                let fd = netns::open(&path).map_err(|err| match err.kind() {
                    io::ErrorKind::NotFound => Error::NoNetns {
                        arg: arg.to_string(),
                        path: shown.clone(),
                    },
                    _ => Error::Netns {
                        arg: arg.to_string(),
                        path: shown.clone(),
                        err,
                    },
                })?;
                Some((fd, arg.to_string()))
            }
        };
        let enter_err = |err| match netns {
            Some(arg) => Error::Netns {
                arg: arg.to_string(),
                path: netns::resolve(arg).display().to_string(),
                err,
            },
            None => Error::Socket(err),
        };
        let (mon, links) = netns::run_in(ns.as_ref().map(|(fd, _)| fd), || Self::subscribe(rcvbuf))
            .map_err(enter_err)??;
        let mut tracker = Tracker::new();
        tracker.seed(&links);
        Ok(RouteSource {
            mon,
            tracker,
            netns: ns,
        })
    }

    fn subscribe(rcvbuf: Option<usize>) -> Result<(OwnedFd, Vec<decode::Link>), Error> {
        let mon = socket::open(socket::GROUPS).map_err(Error::Socket)?;
        let bytes = rcvbuf.unwrap_or(DEFAULT_RCVBUF);
        if let Err(err) = socket::set_rcvbuf(mon.as_raw_fd(), bytes) {
            // An explicit request must hold; the default is only a wish.
            if rcvbuf.is_some() {
                return Err(Error::RcvBuf { bytes, err });
            }
        }
        let links = socket::dump(&[RTM_GETLINK])
            .map_err(Error::Dump)?
            .into_iter()
            .filter_map(|p| match p {
                Parsed::Link(l) => Some(l),
                _ => None,
            })
            .collect();
        Ok((mon, links))
    }

    /// Emits `ev`, naming the namespace when one was given.
    fn emit(&self, mut ev: Event, out: &mut Emitter) -> Result<(), Closed> {
        if let Some((_, name)) = &self.netns {
            if let Some(m) = events::route_map(&mut ev) {
                m.insert("netns", name.clone());
            } else if ev.is_lost() {
                ev.extra
                    .insert("route", Map::new().with("netns", name.clone()));
            }
        }
        out.emit(ev)
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
                        self.emit(ev, out)?;
                    }
                }
                Err(e) => {
                    // Not seen from a real kernel; report it and keep going.
                    out.emit(Event::error(format!("route: undecodable message: {e}")))?;
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
        self.emit(lost, out)?;
        match socket::dump(&socket::ALL_TABLES) {
            Ok(dump) => {
                for ev in self.tracker.resync(&dump, Timestamp::now()) {
                    self.emit(ev, out)?;
                }
            }
            Err(e) => out.emit(Event::error(format!(
                "route: resync after loss failed, link state may be stale: {e}"
            )))?,
        }
        Ok(())
    }
}

impl Source for RouteSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Route
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        if let Some((ns, arg)) = &self.netns {
            // This thread's resync dumps must happen in the same namespace.
            netns::enter(ns).map_err(|err| Error::Netns {
                arg: arg.clone(),
                path: netns::resolve(arg).display().to_string(),
                err,
            })?;
        }
        let fd = self.mon.as_raw_fd();
        let mut buf = vec![0u8; socket::RECV_BUF];
        loop {
            let rev = crate::sys::poll(&[fd, stop.fd()], -1).map_err(Error::Read)?;
            let stopping = rev[1] != 0;
            let mut reads = 0;
            loop {
                // A stream that never goes quiet must not hide a stop request, and on stop
                // only what was already queued is drained.
                if (!stopping && stop.is_set()) || (stopping && reads >= 1024) {
                    break;
                }
                reads += 1;
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
    use crate::source::Spec;

    #[test]
    fn spec_with_and_without_a_namespace() {
        assert_eq!(Spec::parse("route").unwrap(), Spec::Route { netns: None });
        assert_eq!(
            Spec::parse("route:blue").unwrap(),
            Spec::Route {
                netns: Some("blue".into())
            }
        );
        assert_eq!(
            super::netns::resolve("blue"),
            std::path::Path::new("/run/netns/blue")
        );
        assert_eq!(
            super::netns::resolve("/proc/1/ns/net"),
            std::path::Path::new("/proc/1/ns/net")
        );
    }

    #[test]
    fn a_missing_namespace_is_a_clear_error() {
        let err = super::RouteSource::open(None, Some("letrace-no-such-ns"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("no such network namespace") && err.contains("ip netns list"),
            "{err}"
        );
    }

    #[test]
    fn probe_succeeds_without_privileges() {
        // Subscribing to rtnetlink groups needs no capability.
        assert_eq!(super::probe().status, crate::doctor::Status::Ok);
    }
}
