//! Pure decoding of what `read(2)` returns from an inotify fd: a packed run of
//! `struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }`,
//! `name` NUL-padded. No fd here: tests feed captured bytes.

use crate::event::{Bytes, Event, FileInfo, Map, SourceKind, Timestamp};

pub const IN_ACCESS: u32 = 0x0000_0001;
pub const IN_MODIFY: u32 = 0x0000_0002;
pub const IN_ATTRIB: u32 = 0x0000_0004;
pub const IN_CLOSE_WRITE: u32 = 0x0000_0008;
pub const IN_CLOSE_NOWRITE: u32 = 0x0000_0010;
pub const IN_OPEN: u32 = 0x0000_0020;
pub const IN_MOVED_FROM: u32 = 0x0000_0040;
pub const IN_MOVED_TO: u32 = 0x0000_0080;
pub const IN_CREATE: u32 = 0x0000_0100;
pub const IN_DELETE: u32 = 0x0000_0200;
pub const IN_DELETE_SELF: u32 = 0x0000_0400;
pub const IN_MOVE_SELF: u32 = 0x0000_0800;
pub const IN_UNMOUNT: u32 = 0x0000_2000;
pub const IN_Q_OVERFLOW: u32 = 0x0000_4000;
pub const IN_IGNORED: u32 = 0x0000_8000;
pub const IN_ISDIR: u32 = 0x4000_0000;

/// The 12 event types LET names, which letrace watches for.
pub const ALL_EVENTS: u32 = IN_ACCESS
    | IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_CLOSE_NOWRITE
    | IN_OPEN
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF;

/// Event bits and their kernel names, in bit order. IN_UNMOUNT and IN_IGNORED are reported
/// too: they tell the user a watch has ended.
pub const NAMES: [(u32, &str); 14] = [
    (IN_ACCESS, "IN_ACCESS"),
    (IN_MODIFY, "IN_MODIFY"),
    (IN_ATTRIB, "IN_ATTRIB"),
    (IN_CLOSE_WRITE, "IN_CLOSE_WRITE"),
    (IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE"),
    (IN_OPEN, "IN_OPEN"),
    (IN_MOVED_FROM, "IN_MOVED_FROM"),
    (IN_MOVED_TO, "IN_MOVED_TO"),
    (IN_CREATE, "IN_CREATE"),
    (IN_DELETE, "IN_DELETE"),
    (IN_DELETE_SELF, "IN_DELETE_SELF"),
    (IN_MOVE_SELF, "IN_MOVE_SELF"),
    (IN_UNMOUNT, "IN_UNMOUNT"),
    (IN_IGNORED, "IN_IGNORED"),
];

const HEADER: usize = 16;

/// One record as the kernel wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub wd: i32,
    pub mask: u32,
    pub cookie: u32,
    /// The name inside the watched directory, NUL padding removed; empty for the watch itself.
    pub name: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("truncated inotify record at byte {offset}: need {need} bytes, have {have}")]
pub struct DecodeError {
    pub offset: usize,
    pub need: usize,
    pub have: usize,
}

/// Iterates the records in `buf`. A short record ends the iteration with an error (the kernel
/// never splits records across reads, so this means corrupt input).
pub fn records(buf: &[u8]) -> Records<'_> {
    Records { buf, off: 0 }
}

pub struct Records<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawEvent<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..).filter(|r| !r.is_empty())?;
        let off = self.off;
        let err = |need| DecodeError {
            offset: off,
            need,
            have: rest.len(),
        };
        if rest.len() < HEADER {
            self.off = self.buf.len();
            return Some(Err(err(HEADER)));
        }
        let u32_at =
            |i: usize| u32::from_ne_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let len = u32_at(12) as usize;
        if rest.len() < HEADER + len {
            let e = err(HEADER + len);
            self.off = self.buf.len();
            return Some(Err(e));
        }
        let raw_name = &rest[HEADER..HEADER + len];
        let name = &raw_name[..raw_name.iter().position(|&b| b == 0).unwrap_or(len)];
        self.off += HEADER + len;
        Some(Ok(RawEvent {
            wd: u32_at(0) as i32,
            mask: u32_at(4),
            cookie: u32_at(8),
            name,
        }))
    }
}

/// Builds the events for one record. `dir` is the watched path of `wd` (None if unknown);
/// one event per event bit, since the kernel may in principle set several.
pub fn to_events(raw: &RawEvent<'_>, dir: Option<&[u8]>, time: Timestamp) -> Vec<Event> {
    if raw.mask & IN_Q_OVERFLOW != 0 {
        // The kernel does not say how many it dropped: at least one.
        let mut ev = Event::lost(SourceKind::Inotify, 1, false, "IN_Q_OVERFLOW");
        ev.time = time;
        ev.extra
            .insert("inotify", Map::new().with("mask", raw.mask));
        return vec![ev];
    }
    let path = match (dir, raw.name.is_empty()) {
        (Some(d), true) => d.to_vec(),
        (Some(d), false) => join(d, raw.name),
        (None, _) => raw.name.to_vec(),
    };
    let mut out = Vec::with_capacity(1);
    for &(bit, name) in &NAMES {
        if raw.mask & bit == 0 {
            continue;
        }
        let mut ev = Event::new(SourceKind::Inotify, name);
        ev.time = time;
        ev.file = Some(Box::new(FileInfo {
            path: Bytes(path.clone()),
            kind: (raw.mask & IN_ISDIR != 0).then_some("dir"),
            extra: Map::new(),
        }));
        let mut m = Map::new().with("wd", raw.wd).with("mask", raw.mask);
        if raw.cookie != 0 {
            m.insert("cookie", raw.cookie);
        }
        if !raw.name.is_empty() {
            m.insert("name", Bytes(raw.name.to_vec()));
        }
        if dir.is_none() {
            // The watch was already gone when the record was read: path is the bare name.
            m.insert("path_unknown", true);
        }
        ev.extra.insert("inotify", m);
        out.push(ev);
    }
    out
}

pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `read(2)` on an inotify fd watching /tmp/capw (wd 1, all 12 events)
    /// while a shell ran `mkdir sub; touch f; chmod 600 f; echo hi > f; cat f; mv f g;
    /// rm g; rmdir sub`.
    pub(crate) fn captured() -> Vec<u8> {
        include_bytes!("testdata/capw.bin").to_vec()
    }

    #[test]
    fn decodes_captured_records() {
        let buf = captured();
        let recs: Vec<RawEvent<'_>> = records(&buf).collect::<Result<_, _>>().unwrap();
        let kinds: Vec<(u32, &[u8])> = recs.iter().map(|r| (r.mask, r.name)).collect();
        let want: [(u32, &[u8]); 16] = [
            (IN_CREATE | IN_ISDIR, b"sub"),
            (IN_CREATE, b"f"),
            (IN_OPEN, b"f"),
            (IN_ATTRIB, b"f"),
            (IN_CLOSE_WRITE, b"f"),
            (IN_ATTRIB, b"f"),
            (IN_OPEN, b"f"),
            (IN_MODIFY, b"f"),
            (IN_CLOSE_WRITE, b"f"),
            (IN_OPEN, b"f"),
            (IN_ACCESS, b"f"),
            (IN_CLOSE_NOWRITE, b"f"),
            (IN_MOVED_FROM, b"f"),
            (IN_MOVED_TO, b"g"),
            (IN_DELETE, b"g"),
            (IN_DELETE | IN_ISDIR, b"sub"),
        ];
        assert_eq!(kinds, want);
        assert!(recs.iter().all(|r| r.wd == 1));
        assert_eq!((recs[12].cookie, recs[13].cookie), (0x48, 0x48));
        assert!(recs
            .iter()
            .enumerate()
            .all(|(i, r)| (r.cookie != 0) == (i == 12 || i == 13)));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let buf = captured();
        for cut in 1..buf.len() {
            let all: Vec<_> = records(&buf[..cut]).collect();
            let last = all.last().unwrap();
            let whole = buf.len() == cut || all.iter().all(|r| r.is_ok());
            assert!(whole || last.is_err(), "cut {cut}");
        }
    }

    #[test]
    fn events_carry_full_path_dir_flag_and_raw_values() {
        let buf = captured();
        let recs: Vec<RawEvent<'_>> = records(&buf).map(|r| r.unwrap()).collect();
        let t = Timestamp { secs: 1, nanos: 2 };
        let ev = &to_events(&recs[0], Some(b"/w"), t)[0];
        assert_eq!(ev.kind, "IN_CREATE");
        let f = ev.file.as_ref().unwrap();
        assert_eq!((f.path.as_slice(), f.kind), (&b"/w/sub"[..], Some("dir")));
        let ev = &to_events(&recs[13], Some(b"/w/"), t)[0];
        assert_eq!(ev.file.as_ref().unwrap().path.as_slice(), b"/w/g");
        let raw = match ev.extra.get("inotify") {
            Some(crate::event::Value::Map(m)) => m.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(raw.get("cookie"), Some(&0x48u32.into()));
        assert_eq!(raw.get("mask"), Some(&IN_MOVED_TO.into()));
        let self_ev = RawEvent {
            wd: 1,
            mask: IN_DELETE_SELF,
            cookie: 0,
            name: b"",
        };
        let ev = &to_events(&self_ev, Some(b"/w"), t)[0];
        assert_eq!(
            (&*ev.kind, ev.file.as_ref().unwrap().path.as_slice()),
            ("IN_DELETE_SELF", &b"/w"[..])
        );
    }

    #[test]
    fn overflow_is_a_lost_event() {
        let raw = RawEvent {
            wd: -1,
            mask: IN_Q_OVERFLOW,
            cookie: 0,
            name: b"",
        };
        let evs = to_events(&raw, None, Timestamp::default());
        assert_eq!(evs.len(), 1);
        assert_eq!((&*evs[0].kind, evs[0].lost), ("LOST", Some(1)));
        assert_eq!(evs[0].extra.get("lost_exact"), Some(&false.into()));
    }
}
