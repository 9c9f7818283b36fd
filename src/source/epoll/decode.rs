//! Pure part of `epoll:PATH`: which readiness changes an `epoll_wait` result is, and the
//! events that report them. No fd here.

use crate::event::{Bytes, Event, FileInfo, Map, SourceKind, Timestamp};

pub const EPOLLIN: u32 = libc::EPOLLIN as u32;
pub const EPOLLPRI: u32 = libc::EPOLLPRI as u32;
pub const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
pub const EPOLLERR: u32 = libc::EPOLLERR as u32;
pub const EPOLLHUP: u32 = libc::EPOLLHUP as u32;
pub const EPOLLRDHUP: u32 = libc::EPOLLRDHUP as u32;

/// Readiness bits and their kernel names, in the order they are reported.
pub const NAMES: [(u32, &str); 6] = [
    (EPOLLIN, "EPOLLIN"),
    (EPOLLPRI, "EPOLLPRI"),
    (EPOLLOUT, "EPOLLOUT"),
    (EPOLLRDHUP, "EPOLLRDHUP"),
    (EPOLLERR, "EPOLLERR"),
    (EPOLLHUP, "EPOLLHUP"),
];

/// What kind of file the path is (ECS `file.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Fifo,
    Socket,
    Char,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::Char => "char",
        }
    }
    /// letrace reads (consumes) what arrives on FIFOs and on its own socket connection; a
    /// device is never read (its data belongs to someone else), only measured.
    pub fn consumes(self) -> bool {
        matches!(self, Kind::Fifo | Kind::Socket)
    }
}

/// The readiness letrace has already reported for the current fd. The fd is registered
/// edge-triggered, so every wake-up is news; this tracks which bits are new.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tracker {
    shown: u32,
}

/// What one wake-up says, after letrace read what it could.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wakeup {
    /// `revents` as epoll_wait returned it.
    pub events: u32,
    /// Bytes letrace read and discarded (FIFO, socket).
    pub bytes_read: Option<u64>,
    /// Bytes waiting (FIONREAD) on a device letrace does not read.
    pub available: Option<u64>,
    /// letrace read everything (EAGAIN): EPOLLIN is no longer true.
    pub drained: bool,
    /// `SO_ERROR` of a socket reporting EPOLLERR.
    pub error: Option<i32>,
}

impl Tracker {
    /// The readiness bits to report for this wake-up. EPOLLIN is reported on every
    /// wake-up that has it (edge-triggered: new data arrived); the other bits only when
    /// they were not already shown for this fd.
    pub fn changes(&mut self, w: &Wakeup) -> u32 {
        let mut new = w.events & !self.shown & !EPOLLIN;
        if w.events & EPOLLIN != 0 {
            new |= EPOLLIN;
        }
        self.shown = w.events;
        if w.drained {
            self.shown &= !EPOLLIN;
        }
        new
    }

    /// A new fd (reopened FIFO, reconnected socket): nothing shown for it yet.
    pub fn reset(&mut self) {
        self.shown = 0;
    }
}

/// The events for the bits in `changes`, one per bit.
pub fn to_events(
    path: &[u8],
    kind: Kind,
    changes: u32,
    w: &Wakeup,
    note: Option<&'static str>,
    time: Timestamp,
) -> Vec<Event> {
    let mut out = Vec::new();
    for &(bit, name) in &NAMES {
        if changes & bit == 0 {
            continue;
        }
        let mut ev = Event::new(SourceKind::Epoll, name);
        ev.time = time;
        ev.file = Some(Box::new(FileInfo {
            path: Bytes(path.to_vec()),
            kind: Some(kind.as_str()),
            extra: Map::new(),
        }));
        let mut m = Map::new().with("events", w.events);
        if bit == EPOLLIN {
            if let Some(n) = w.bytes_read {
                m.insert("bytes_read", n);
            }
            if let Some(n) = w.available {
                m.insert("bytes_available", n);
            }
        }
        if bit == EPOLLERR {
            if let Some(e) = w.error {
                m.insert("error", e);
            }
        }
        if bit == EPOLLHUP {
            if let Some(n) = note {
                m.insert("action", n);
            }
        }
        ev.extra.insert("epoll", m);
        out.push(ev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(evs: &[Event]) -> Vec<&str> {
        evs.iter().map(|e| &*e.kind).collect()
    }

    #[test]
    fn fifo_life_reports_each_change_once() {
        let mut t = Tracker::default();
        let t0 = Timestamp::default();
        // data arrives, letrace drains it
        let w = Wakeup {
            events: EPOLLIN,
            bytes_read: Some(6),
            drained: true,
            ..Wakeup::default()
        };
        let c = t.changes(&w);
        let evs = to_events(b"/f", Kind::Fifo, c, &w, None, t0);
        assert_eq!(names(&evs), ["EPOLLIN"]);
        assert_eq!(
            evs[0].extra.get("epoll"),
            Some(
                &Map::new()
                    .with("events", EPOLLIN)
                    .with("bytes_read", 6u64)
                    .into()
            )
        );
        assert_eq!(evs[0].file.as_ref().unwrap().kind, Some("fifo"));
        // more data: EPOLLIN again (it was drained in between)
        assert_eq!(t.changes(&w), EPOLLIN);
        // writer closes after a last write
        let w = Wakeup {
            events: EPOLLIN | EPOLLHUP,
            bytes_read: Some(3),
            drained: false,
            ..Wakeup::default()
        };
        let c = t.changes(&w);
        assert_eq!(c, EPOLLIN | EPOLLHUP);
        let evs = to_events(b"/f", Kind::Fifo, c, &w, Some("reopened"), t0);
        assert_eq!(names(&evs), ["EPOLLIN", "EPOLLHUP"]);
        assert_eq!(
            evs[1].extra.get("epoll"),
            Some(
                &Map::new()
                    .with("events", EPOLLIN | EPOLLHUP)
                    .with("action", "reopened")
                    .into()
            )
        );
    }

    #[test]
    fn socket_out_is_reported_once_and_again_after_reset() {
        let mut t = Tracker::default();
        let w = Wakeup {
            events: EPOLLOUT,
            ..Wakeup::default()
        };
        assert_eq!(t.changes(&w), EPOLLOUT);
        let w2 = Wakeup {
            events: EPOLLOUT | EPOLLIN,
            bytes_read: Some(1),
            drained: true,
            ..Wakeup::default()
        };
        assert_eq!(t.changes(&w2), EPOLLIN);
        let w3 = Wakeup {
            events: EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLHUP,
            bytes_read: Some(0),
            ..Wakeup::default()
        };
        assert_eq!(t.changes(&w3), EPOLLIN | EPOLLRDHUP | EPOLLHUP);
        t.reset();
        assert_eq!(t.changes(&w), EPOLLOUT);
    }
}
