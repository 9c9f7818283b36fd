//! Pure decoding of what `read(2)` returns from a fanotify fd initialised with FID reporting:
//! a packed run of `struct fanotify_event_metadata` (24 bytes), each followed by info records
//! (`struct fanotify_event_info_header` + payload): file handles (FID, DFID, DFID_NAME,
//! OLD/NEW_DFID_NAME), a pidfd, an error. No fd here: tests feed captured bytes.

use crate::event::{Bytes, Event, FileInfo, Map, Process, SourceKind, Timestamp};

pub use libc::{
    FAN_ACCESS, FAN_ATTRIB, FAN_CLOSE_NOWRITE, FAN_CLOSE_WRITE, FAN_CREATE, FAN_DELETE,
    FAN_DELETE_SELF, FAN_EVENT_ON_CHILD, FAN_MODIFY, FAN_MOVED_FROM, FAN_MOVED_TO, FAN_MOVE_SELF,
    FAN_ONDIR, FAN_OPEN, FAN_Q_OVERFLOW, FAN_RENAME,
};

/// `FANOTIFY_METADATA_VERSION` in the uapi header.
pub const METADATA_VERSION: u8 = 3;
const META_LEN: usize = 24;
const INFO_HDR: usize = 4;

/// Event bits and their kernel names, in the order one object's life runs through them: when
/// the kernel merges several events on one object into one record, they are reported in
/// this order.
pub const NAMES: [(u64, &str); 13] = [
    (FAN_CREATE, "FAN_CREATE"),
    (FAN_OPEN, "FAN_OPEN"),
    (FAN_ACCESS, "FAN_ACCESS"),
    (FAN_MODIFY, "FAN_MODIFY"),
    (FAN_ATTRIB, "FAN_ATTRIB"),
    (FAN_CLOSE_WRITE, "FAN_CLOSE_WRITE"),
    (FAN_CLOSE_NOWRITE, "FAN_CLOSE_NOWRITE"),
    (FAN_MOVED_FROM, "FAN_MOVED_FROM"),
    (FAN_MOVED_TO, "FAN_MOVED_TO"),
    (FAN_RENAME, "FAN_RENAME"),
    (FAN_MOVE_SELF, "FAN_MOVE_SELF"),
    (FAN_DELETE, "FAN_DELETE"),
    (FAN_DELETE_SELF, "FAN_DELETE_SELF"),
];

/// Which handle an info record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FidKind {
    /// The object itself (`FAN_EVENT_INFO_TYPE_FID`).
    Object,
    /// The directory the event happened in, with the entry name (`DFID_NAME`) or without (`DFID`).
    Dir,
    /// FAN_RENAME: the directory and name the object left.
    OldDir,
    /// FAN_RENAME: the directory and name the object arrived at.
    NewDir,
}

/// A file handle record: `fsid`, `struct file_handle`, and for the DFID_NAME kinds the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fid<'a> {
    pub kind: FidKind,
    pub fsid: [u8; 8],
    pub handle_type: i32,
    pub handle: &'a [u8],
    /// The entry name, NUL removed; `.` when the event is on the directory itself.
    pub name: Option<&'a [u8]>,
}

impl Fid<'_> {
    /// A key that identifies the object within this run (fsid, handle type, handle bytes).
    pub fn key(&self) -> Vec<u8> {
        let mut buf = [0u8; KEY_MAX];
        self.key_in(&mut buf).to_vec()
    }

    /// The same key written into `buf` (no allocation, for lookups). Handles longer than
    /// MAX_HANDLE_SZ (128) do not exist; they would be cut, never overrun.
    pub fn key_in<'b>(&self, buf: &'b mut [u8; KEY_MAX]) -> &'b [u8] {
        buf[..8].copy_from_slice(&self.fsid);
        buf[8..12].copy_from_slice(&self.handle_type.to_ne_bytes());
        let n = self.handle.len().min(KEY_MAX - 12);
        buf[12..12 + n].copy_from_slice(&self.handle[..n]);
        &buf[..12 + n]
    }
}

/// Room for a cache key: fsid (8), handle type (4), MAX_HANDLE_SZ (128) bytes of handle.
pub const KEY_MAX: usize = 8 + 4 + 128;

/// One info record after the metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Info<'a> {
    Fid(Fid<'a>),
    /// `FAN_REPORT_PIDFD`: a pidfd the kernel opened in our process (caller closes it), or
    /// `FAN_NOPIDFD` (-1, process gone) / `FAN_EPIDFD` (-2, error).
    Pidfd(i32),
    /// `FAN_FS_ERROR`: errno and how many errors were merged.
    Error {
        error: i32,
        count: u32,
    },
    Other {
        info_type: u8,
        len: usize,
    },
}

/// One record as the kernel wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub mask: u64,
    /// An open fd on the object; always `FAN_NOFD` (-1) with FID reporting.
    pub fd: i32,
    pub pid: i32,
    pub infos: Vec<Info<'a>>,
}

impl<'a> RawEvent<'a> {
    pub fn fid(&self, kind: FidKind) -> Option<&Fid<'a>> {
        self.infos.iter().find_map(|i| match i {
            Info::Fid(f) if f.kind == kind => Some(f),
            _ => None,
        })
    }
    pub fn pidfd(&self) -> Option<i32> {
        self.infos.iter().find_map(|i| match i {
            Info::Pidfd(fd) => Some(*fd),
            _ => None,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("truncated fanotify record at byte {offset}: need {need} bytes, have {have}")]
    Truncated {
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("fanotify record at byte {offset}: metadata version {vers}, letrace reads version {METADATA_VERSION}")]
    Version { offset: usize, vers: u8 },
    #[error("fanotify record at byte {offset}: bad length {what}")]
    Length { offset: usize, what: &'static str },
}

/// Iterates the records in `buf`. A malformed record ends the iteration with an error (the
/// kernel never splits records across reads, so this means corrupt input).
pub fn records(buf: &[u8]) -> Records<'_> {
    Records { buf, off: 0 }
}

pub struct Records<'a> {
    buf: &'a [u8],
    off: usize,
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_ne_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RawEvent<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.off..).filter(|r| !r.is_empty())?;
        let res = parse_one(rest, self.off);
        match &res {
            Ok((_, len)) => self.off += len,
            Err(_) => self.off = self.buf.len(),
        }
        Some(res.map(|(ev, _)| ev))
    }
}

fn parse_one(rest: &[u8], offset: usize) -> Result<(RawEvent<'_>, usize), DecodeError> {
    let trunc = |need| DecodeError::Truncated {
        offset,
        need,
        have: rest.len(),
    };
    if rest.len() < META_LEN {
        return Err(trunc(META_LEN));
    }
    let event_len = u32_at(rest, 0) as usize;
    let vers = rest[4];
    let meta_len = u16_at(rest, 6) as usize;
    if vers != METADATA_VERSION {
        return Err(DecodeError::Version { offset, vers });
    }
    if meta_len < META_LEN || event_len < meta_len {
        return Err(DecodeError::Length {
            offset,
            what: "metadata_len/event_len",
        });
    }
    if rest.len() < event_len {
        return Err(trunc(event_len));
    }
    let mask = u64::from_ne_bytes(rest[8..16].try_into().unwrap_or_default());
    let fd = u32_at(rest, 16) as i32;
    let pid = u32_at(rest, 20) as i32;
    let mut infos = Vec::with_capacity(3);
    let mut i = meta_len;
    while i < event_len {
        let rec = &rest[i..event_len];
        if rec.len() < INFO_HDR {
            return Err(DecodeError::Length {
                offset: offset + i,
                what: "info header",
            });
        }
        let info_type = rec[0];
        let len = u16_at(rec, 2) as usize;
        if len < INFO_HDR || len > rec.len() {
            return Err(DecodeError::Length {
                offset: offset + i,
                what: "info record",
            });
        }
        infos.push(parse_info(info_type, &rec[..len], offset + i)?);
        i += len;
    }
    Ok((
        RawEvent {
            mask,
            fd,
            pid,
            infos,
        },
        event_len,
    ))
}

fn parse_info(info_type: u8, rec: &[u8], offset: usize) -> Result<Info<'_>, DecodeError> {
    let bad = |what| DecodeError::Length { offset, what };
    let kind = match info_type {
        libc::FAN_EVENT_INFO_TYPE_FID => Some(FidKind::Object),
        libc::FAN_EVENT_INFO_TYPE_DFID_NAME | libc::FAN_EVENT_INFO_TYPE_DFID => Some(FidKind::Dir),
        libc::FAN_EVENT_INFO_TYPE_OLD_DFID_NAME => Some(FidKind::OldDir),
        libc::FAN_EVENT_INFO_TYPE_NEW_DFID_NAME => Some(FidKind::NewDir),
        _ => None,
    };
    if let Some(kind) = kind {
        // hdr(4) fsid(8) handle_bytes(4) handle_type(4) f_handle[handle_bytes] [name\0] pad
        if rec.len() < 20 {
            return Err(bad("file handle record"));
        }
        let mut fsid = [0u8; 8];
        fsid.copy_from_slice(&rec[4..12]);
        let hlen = u32_at(rec, 12) as usize;
        let handle_type = u32_at(rec, 16) as i32;
        let hend = 20usize.checked_add(hlen).filter(|&e| e <= rec.len());
        let Some(hend) = hend else {
            return Err(bad("file handle length"));
        };
        let name = if info_type == libc::FAN_EVENT_INFO_TYPE_FID
            || info_type == libc::FAN_EVENT_INFO_TYPE_DFID
        {
            None
        } else {
            let tail = &rec[hend..];
            let Some(end) = tail.iter().position(|&b| b == 0) else {
                return Err(bad("name without NUL"));
            };
            Some(&tail[..end])
        };
        return Ok(Info::Fid(Fid {
            kind,
            fsid,
            handle_type,
            handle: &rec[20..hend],
            name,
        }));
    }
    match info_type {
        libc::FAN_EVENT_INFO_TYPE_PIDFD if rec.len() >= 8 => Ok(Info::Pidfd(u32_at(rec, 4) as i32)),
        libc::FAN_EVENT_INFO_TYPE_ERROR if rec.len() >= 12 => Ok(Info::Error {
            error: u32_at(rec, 4) as i32,
            count: u32_at(rec, 8),
        }),
        libc::FAN_EVENT_INFO_TYPE_PIDFD | libc::FAN_EVENT_INFO_TYPE_ERROR => {
            Err(bad("pidfd/error record"))
        }
        _ => Ok(Info::Other {
            info_type,
            len: rec.len(),
        }),
    }
}

/// Lower-case hex of `b`: how handles are shown (they are opaque kernel bytes).
pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// What the thin part resolved for one record: paths from handles, the process from pid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolved {
    /// The object's path (for FAN_RENAME: where it arrived). None: its handle went stale
    /// before letrace could resolve it.
    pub path: Option<Vec<u8>>,
    /// FAN_RENAME: where the object was before.
    pub old_path: Option<Vec<u8>>,
    pub process: Process,
}

/// Builds the events for one record: one per event bit (the kernel merges events on one
/// object into one record), all carrying the raw mask.
pub fn to_events(raw: &RawEvent<'_>, res: Resolved, time: Timestamp) -> Vec<Event> {
    if raw.mask & FAN_Q_OVERFLOW != 0 {
        // The kernel does not say how many it dropped: at least one.
        let mut ev = Event::lost(SourceKind::Fanotify, 1, false, "FAN_Q_OVERFLOW");
        ev.time = time;
        ev.extra
            .insert("fanotify", Map::new().with("mask", raw.mask));
        return vec![ev];
    }
    let mut raw_map = Map(Vec::with_capacity(8));
    raw_map.insert("mask", raw.mask);
    if let Some(f) = raw.fid(FidKind::Dir).or(raw.fid(FidKind::NewDir)) {
        if let Some(n) = f.name {
            raw_map.insert("name", Bytes(n.to_vec()));
        }
        raw_map.insert("dir_handle", hex(f.handle));
    }
    if let Some(f) = raw.fid(FidKind::OldDir) {
        if let Some(n) = f.name {
            raw_map.insert("old_name", Bytes(n.to_vec()));
        }
    }
    if let Some(f) = raw.fid(FidKind::Object) {
        raw_map.insert("handle", hex(f.handle));
        raw_map.insert("handle_type", f.handle_type);
    }
    if let Some(f) = raw.infos.iter().find_map(|i| match i {
        Info::Fid(f) => Some(f),
        _ => None,
    }) {
        raw_map.insert("fsid", hex(&f.fsid));
    }
    for i in &raw.infos {
        if let Info::Error { error, count } = i {
            raw_map.insert("error", *error);
            raw_map.insert("error_count", *count);
        }
    }
    if res.path.is_none() {
        raw_map.insert("path_unknown", true);
    }
    let Resolved {
        path,
        old_path,
        process,
    } = res;
    let file = path.map(|p| {
        let mut extra = Map::new();
        if let Some(old) = old_path {
            extra.insert("old_path", Bytes(old));
        }
        FileInfo {
            path: Bytes(p),
            kind: (raw.mask & FAN_ONDIR != 0).then_some("dir"),
            extra,
        }
    });
    let n = NAMES.iter().filter(|(bit, _)| raw.mask & bit != 0).count();
    let mut out = Vec::with_capacity(n);
    let mut file = file.map(Box::new);
    let mut process = Some(Box::new(process));
    let mut raw_map = Some(raw_map);
    let names = NAMES.iter().filter(|(bit, _)| raw.mask & bit != 0);
    for (i, &(_, name)) in names.enumerate() {
        let mut ev = Event::new(SourceKind::Fanotify, name);
        ev.time = time;
        // The last event takes the parts, the others get copies: most records have one bit.
        if i + 1 == n {
            ev.process = process.take();
            ev.file = file.take();
            ev.extra
                .insert("fanotify", raw_map.take().unwrap_or_default());
        } else {
            ev.process = process.clone();
            ev.file = file.clone();
            ev.extra
                .insert("fanotify", raw_map.clone().unwrap_or_default());
        }
        out.push(ev);
    }
    out
}

/// `dir` + `/` + `name`, or `dir` itself for the name `.` (an event on the directory).
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if name.is_empty() || name == b"." {
        return dir.to_vec();
    }
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// Whether `path` is `root` or below it.
pub fn is_under(path: &[u8], root: &[u8]) -> bool {
    if root == b"/" {
        return path.starts_with(b"/");
    }
    path.starts_with(root) && (path.len() == root.len() || path[root.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured by `examples/fanotify_capture.rs` from one `read(2)` on a fanotify fd with
    /// DFID_NAME + FID + TARGET_FID + PIDFD reporting and a filesystem mark on a fresh tmpfs,
    /// while a shell ran `mkdir sub; echo hi > sub/f; cat sub/f; chmod 600 sub/f;
    /// mv sub/f sub/g; mv sub sub2; rm sub2/g; rmdir sub2` in it (all pidfds are FAN_NOPIDFD:
    /// the processes had exited when the read ran).
    fn captured() -> &'static [u8] {
        include_bytes!("testdata/capfs.bin")
    }

    const ROOT: &[u8] = &[128, 119, 121, 143, 1, 0, 0, 0, 0, 0, 0, 0];
    const SUB: &[u8] = &[251, 189, 90, 151, 2, 0, 0, 0, 0, 0, 0, 0];
    const F: &[u8] = &[71, 65, 245, 19, 3, 0, 0, 0, 0, 0, 0, 0];

    fn all() -> Vec<RawEvent<'static>> {
        records(captured()).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn decodes_captured_records() {
        let recs = all();
        let masks: Vec<u64> = recs.iter().map(|r| r.mask).collect();
        assert_eq!(
            masks,
            [
                FAN_CREATE | FAN_ONDIR,
                FAN_CREATE | FAN_OPEN | FAN_MODIFY | FAN_CLOSE_WRITE,
                FAN_OPEN | FAN_ACCESS | FAN_CLOSE_NOWRITE,
                FAN_ATTRIB,
                FAN_RENAME,
                FAN_RENAME | FAN_ONDIR,
                FAN_ATTRIB | FAN_DELETE_SELF,
                FAN_DELETE,
                FAN_DELETE_SELF | FAN_ONDIR,
                FAN_DELETE | FAN_ONDIR,
            ]
        );
        assert!(recs.iter().all(|r| r.fd == -1 && r.pid > 0));
        assert!(recs.iter().all(|r| r.pidfd() == Some(libc::FAN_NOPIDFD)));
        // mkdir sub: the directory (ROOT) and name, plus the new directory's own handle.
        let d = recs[0].fid(FidKind::Dir).unwrap();
        assert_eq!(
            (d.handle, d.name, d.handle_type),
            (ROOT, Some(&b"sub"[..]), 1)
        );
        assert_eq!(recs[0].fid(FidKind::Object).unwrap().handle, SUB);
        // echo hi > sub/f
        let d = recs[1].fid(FidKind::Dir).unwrap();
        assert_eq!((d.handle, d.name), (SUB, Some(&b"f"[..])));
        assert_eq!(recs[1].fid(FidKind::Object).unwrap().handle, F);
        // mv sub/f sub/g: both names, and the moved object
        let o = recs[4].fid(FidKind::OldDir).unwrap();
        let n = recs[4].fid(FidKind::NewDir).unwrap();
        assert_eq!(
            (o.handle, o.name, n.handle, n.name),
            (SUB, Some(&b"f"[..]), SUB, Some(&b"g"[..]))
        );
        assert_eq!(recs[4].fid(FidKind::Object).unwrap().handle, F);
        // rm sub2/g: DELETE_SELF carries only the object's handle
        assert!(recs[6].fid(FidKind::Dir).is_none());
        assert_eq!(recs[6].fid(FidKind::Object).unwrap().handle, F);
        // rmdir sub2: DELETE_SELF on the directory itself is reported as (dir, ".")
        let d = recs[8].fid(FidKind::Dir).unwrap();
        assert_eq!((d.handle, d.name), (SUB, Some(&b"."[..])));
        // One filesystem: one fsid everywhere.
        let fsid = d.fsid;
        assert!(recs.iter().all(|r| r.infos.iter().all(|i| match i {
            Info::Fid(f) => f.fsid == fsid,
            _ => true,
        })));
    }

    #[test]
    fn truncated_or_corrupt_input_is_an_error_not_a_panic() {
        let buf = captured();
        for cut in 1..buf.len() {
            let all: Vec<_> = records(&buf[..cut]).collect();
            let whole = all.iter().all(|r| r.is_ok());
            assert!(whole || all.last().unwrap().is_err(), "cut {cut}");
            assert!(all.iter().filter(|r| r.is_err()).count() <= 1);
        }
        let mut bad = buf.to_vec();
        bad[4] = 2; // metadata version
        assert!(matches!(
            records(&bad).next(),
            Some(Err(DecodeError::Version { vers: 2, .. }))
        ));
        let mut bad = buf.to_vec();
        bad[24 + 2] = 0xff; // first info record length beyond the event
        assert!(records(&bad).next().unwrap().is_err());
        let mut bad = buf.to_vec();
        bad[24 + 12] = 0xff; // handle_bytes beyond the record
        assert!(records(&bad).next().unwrap().is_err());
    }

    fn res(path: &str) -> Resolved {
        Resolved {
            path: Some(path.as_bytes().to_vec()),
            old_path: None,
            process: Process {
                pid: Some(7),
                ..Process::default()
            },
        }
    }

    #[test]
    fn merged_records_become_one_event_per_bit_in_life_order() {
        let recs = all();
        let t = Timestamp { secs: 1, nanos: 2 };
        let evs = to_events(&recs[1], res("/w/sub/f"), t);
        let kinds: Vec<&str> = evs.iter().map(|e| &*e.kind).collect();
        assert_eq!(
            kinds,
            ["FAN_CREATE", "FAN_OPEN", "FAN_MODIFY", "FAN_CLOSE_WRITE"]
        );
        let e = &evs[0];
        assert_eq!(e.time, t);
        assert_eq!(e.process.as_ref().unwrap().pid, Some(7));
        assert_eq!(e.file.as_ref().unwrap().path.as_slice(), b"/w/sub/f");
        assert_eq!(e.file.as_ref().unwrap().kind, None);
        let Some(crate::event::Value::Map(m)) = e.extra.get("fanotify") else {
            panic!("no fanotify map");
        };
        assert_eq!(
            m.get("mask"),
            Some(&(FAN_CREATE | FAN_OPEN | FAN_MODIFY | FAN_CLOSE_WRITE).into())
        );
        assert_eq!(m.get("name"), Some(&Bytes(b"f".to_vec()).into()));
        assert_eq!(m.get("dir_handle"), Some(&hex(SUB).into()));
        assert_eq!(m.get("handle"), Some(&hex(F).into()));
        // a directory event is typed dir
        let evs = to_events(&recs[0], res("/w/sub"), t);
        assert_eq!(
            (&*evs[0].kind, evs[0].file.as_ref().unwrap().kind),
            ("FAN_CREATE", Some("dir"))
        );
    }

    #[test]
    fn rename_carries_both_paths_and_unknown_paths_are_marked() {
        let recs = all();
        let mut r = res("/w/sub/g");
        r.old_path = Some(b"/w/sub/f".to_vec());
        let evs = to_events(&recs[4], r, Timestamp::default());
        assert_eq!(evs.len(), 1);
        let f = evs[0].file.as_ref().unwrap();
        assert_eq!(f.path.as_slice(), b"/w/sub/g");
        assert_eq!(
            f.extra.get("old_path"),
            Some(&Bytes(b"/w/sub/f".to_vec()).into())
        );
        let evs = to_events(&recs[6], Resolved::default(), Timestamp::default());
        assert_eq!(evs.len(), 2);
        assert!(evs[1].file.is_none());
        let Some(crate::event::Value::Map(m)) = evs[1].extra.get("fanotify") else {
            panic!("no fanotify map");
        };
        assert_eq!(m.get("path_unknown"), Some(&true.into()));
    }

    #[test]
    fn overflow_is_a_lost_event() {
        let raw = RawEvent {
            mask: FAN_Q_OVERFLOW,
            fd: -1,
            pid: 0,
            infos: vec![],
        };
        let evs = to_events(&raw, Resolved::default(), Timestamp::default());
        assert_eq!(evs.len(), 1);
        assert_eq!((&*evs[0].kind, evs[0].lost), ("LOST", Some(1)));
        assert_eq!(evs[0].source, SourceKind::Fanotify);
        assert_eq!(evs[0].extra.get("reason"), Some(&"FAN_Q_OVERFLOW".into()));
    }

    #[test]
    fn paths_join_and_prefix() {
        assert_eq!(join(b"/a", b"b"), b"/a/b");
        assert_eq!(join(b"/", b"b"), b"/b");
        assert_eq!(join(b"/a", b"."), b"/a");
        assert!(is_under(b"/a/b", b"/a"));
        assert!(is_under(b"/a", b"/a"));
        assert!(!is_under(b"/ab", b"/a"));
        assert!(is_under(b"/x", b"/"));
    }
}
