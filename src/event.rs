//! The event model shared by every source and every encoder (DESIGN.md, "Output contract").
//!
//! Nothing here knows about sources, sinks or formats. Strings that come from the kernel
//! (paths, names, arguments) are kept as bytes; `crate::text` defines how they are written.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use crate::text;

/// A point in time, UTC, with nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                secs: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            },
            // A clock before 1970 is a broken clock; keep the event, show the epoch.
            Err(_) => Timestamp::default(),
        }
    }

    pub fn from_unix_nanos(ns: i128) -> Self {
        Timestamp {
            secs: ns.div_euclid(1_000_000_000) as i64,
            nanos: ns.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// RFC 3339, UTC, always nine fractional digits: `2026-11-22T03:29:53.123456789Z`.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        // RFC 3339 has four-digit years: a time outside 0000..=9999 (garbage input) is clamped
        // to the nearest representable instant rather than written as a wrong date.
        const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
        const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let (secs, nanos) = if self.secs < MIN {
            (MIN, 0)
        } else if self.secs > MAX {
            (MAX, 999_999_999)
        } else {
            (self.secs, self.nanos)
        };
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, (sod / 60) % 60, sod % 60);
        let mut buf = [0u8; 30];
        let mut put = |pos: usize, v: u64, width: usize| {
            let mut v = v;
            for i in (0..width).rev() {
                buf[pos + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        // Years outside 0..=9999 do not fit RFC 3339; clamp rather than write garbage.
        put(0, y as u64, 4);
        put(5, m as u64, 2);
        put(8, d as u64, 2);
        put(11, hh as u64, 2);
        put(14, mm as u64, 2);
        put(17, ss as u64, 2);
        put(20, nanos.min(999_999_999) as u64, 9);
        buf[4] = b'-';
        buf[7] = b'-';
        buf[10] = b'T';
        buf[13] = b':';
        buf[16] = b':';
        buf[19] = b'.';
        buf[29] = b'Z';
        out.extend_from_slice(&buf);
    }

    pub fn to_rfc3339(&self) -> String {
        let mut v = Vec::with_capacity(30);
        self.write_rfc3339(&mut v);
        String::from_utf8(v).unwrap_or_default()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Which kernel interface (or letrace itself) produced an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Inotify,
    Fanotify,
    Epoll,
    Input,
    Audit,
    Route,
    Bpf,
    Proc,
    Letrace,
}

impl SourceKind {
    pub const ALL: [SourceKind; 9] = [
        SourceKind::Inotify,
        SourceKind::Fanotify,
        SourceKind::Epoll,
        SourceKind::Input,
        SourceKind::Audit,
        SourceKind::Route,
        SourceKind::Bpf,
        SourceKind::Proc,
        SourceKind::Letrace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Inotify => "inotify",
            SourceKind::Fanotify => "fanotify",
            SourceKind::Epoll => "epoll",
            SourceKind::Input => "input",
            SourceKind::Audit => "audit",
            SourceKind::Route => "route",
            SourceKind::Bpf => "bpf",
            SourceKind::Proc => "proc",
            SourceKind::Letrace => "letrace",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes as the kernel gave them (paths, comm, arguments). Written through `text::escape`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(b.to_vec())
    }
}
impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Self {
        Bytes(b)
    }
}
impl From<&str> for Bytes {
    fn from(s: &str) -> Self {
        Bytes(s.as_bytes().to_vec())
    }
}
impl From<&std::path::Path> for Bytes {
    fn from(p: &std::path::Path) -> Self {
        use std::os::unix::ffi::OsStrExt;
        Bytes(p.as_os_str().as_bytes().to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text::escape(&self.0))
    }
}

/// A source's raw value: numbers stay numbers, strings and bytes are escaped on output.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    Str(Cow<'static, str>),
    Bytes(Bytes),
    List(Vec<Value>),
    Map(Map),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::U64(n) => s.serialize_u64(*n),
            Value::I64(n) => s.serialize_i64(*n),
            Value::Str(t) => s.serialize_str(&text::escape(t.as_bytes())),
            Value::Bytes(b) => b.serialize(s),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(m) => m.serialize(s),
        }
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::U64(n)
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::U64(n.into())
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::I64(n)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Value::I64(n.into())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}
impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Bytes(b)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Map(m)
    }
}

/// An ordered map: output keeps insertion order, so files diff cleanly between runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map(pub Vec<(Cow<'static, str>, Value)>);

impl Map {
    pub fn new() -> Self {
        Map(Vec::new())
    }
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, v: impl Into<Value>) -> Self {
        self.insert(key, v);
        self
    }
    /// Sets `key`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, v: impl Into<Value>) {
        let key = key.into();
        let v = v.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key, v)),
        }
    }
    /// Appends `key` without looking for an earlier entry: for a caller that knows the key is
    /// new (decoders filling a fresh map), saving `insert`'s search.
    pub fn push(&mut self, key: impl Into<Cow<'static, str>>, v: impl Into<Value>) {
        let key = key.into();
        debug_assert!(self.get(&key).is_none(), "duplicate key {key}");
        self.0.push((key, v.into()));
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&*text::escape(k.as_bytes()), v)?;
        }
        m.end()
    }
}

/// ECS `process.*`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Process {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Bytes>>,
    /// Anything else a source or the process table knows (entity_id, parent, cwd, ...).
    #[serde(flatten, skip_serializing_if = "Map::is_empty")]
    pub extra: Map,
}

/// ECS `file.*`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileInfo {
    pub path: Bytes,
    /// `file`, `dir`, `symlink`, `fifo`, `socket`, `char`, `block` (ECS `file.type`), when known.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(flatten, skip_serializing_if = "Map::is_empty")]
    pub extra: Map,
}

/// ECS `network.*` / `source.*` / `destination.*`, flattened the way DESIGN.md lists them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Network {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daddr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    #[serde(flatten, skip_serializing_if = "Map::is_empty")]
    pub extra: Map,
}

/// One event. `seq` and `host` are set by the pipeline; sources leave them at their defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time: Timestamp,
    pub seq: u64,
    pub host: Arc<str>,
    pub source: SourceKind,
    /// The `type` field: the kernel's own name for what happened.
    pub kind: Cow<'static, str>,
    /// For `LOST` events: how many events were lost (a lower bound when `lost_exact` is false).
    pub lost: Option<u64>,
    pub process: Option<Box<Process>>,
    pub file: Option<Box<FileInfo>>,
    pub network: Option<Box<Network>>,
    /// Source-specific raw values, usually one entry named after the source (`inotify`, ...).
    pub extra: Map,
}

thread_local! {
    /// The pipeline sets `host`; until then events share one empty name per thread instead
    /// of allocating one each.
    static NO_HOST: Arc<str> = Arc::from("");
}

impl Event {
    pub fn new(source: SourceKind, kind: impl Into<Cow<'static, str>>) -> Self {
        Self::at(Timestamp::now(), source, kind)
    }

    /// An event whose time the source knows (from the kernel): no clock read.
    pub fn at(time: Timestamp, source: SourceKind, kind: impl Into<Cow<'static, str>>) -> Self {
        Event {
            time,
            seq: 0,
            host: NO_HOST.with(Arc::clone),
            source,
            kind: kind.into(),
            lost: None,
            process: None,
            file: None,
            network: None,
            extra: Map::new(),
        }
    }

    /// A `LOST` event: `n` events of `source` never reached the log. `exact` is false when
    /// the kernel only said "some" (IN_Q_OVERFLOW), and `n` is then a lower bound.
    pub fn lost(source: SourceKind, n: u64, exact: bool, reason: &'static str) -> Self {
        let mut ev = Event::new(source, "LOST");
        ev.lost = Some(n);
        ev.extra.insert("lost_exact", exact);
        ev.extra.insert("reason", reason);
        ev
    }

    /// A problem that does not stop the run (a directory that could not be watched, a resync
    /// that failed): `{"source":"letrace","type":"ERROR","error":{"message":...}}`.
    pub fn error(message: String) -> Self {
        let mut ev = Event::new(SourceKind::Letrace, "ERROR");
        ev.extra
            .insert("error", Map::new().with("message", message));
        ev
    }

    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("time", &self.time.to_rfc3339())?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("host", &*text::escape(self.host.as_bytes()))?;
        m.serialize_entry("source", self.source.as_str())?;
        m.serialize_entry("type", &*text::escape(self.kind.as_bytes()))?;
        if let Some(n) = self.lost {
            m.serialize_entry("lost", &n)?;
        }
        if let Some(p) = &self.process {
            m.serialize_entry("process", p)?;
        }
        if let Some(f) = &self.file {
            m.serialize_entry("file", f)?;
        }
        if let Some(n) = &self.network {
            m.serialize_entry("network", n)?;
        }
        for (k, v) in &self.extra.0 {
            m.serialize_entry(&*text::escape(k.as_bytes()), v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        let cases = [
            (0i128, "1970-01-01T00:00:00.000000000Z"),
            (951_782_400_000_000_001, "2000-02-29T00:00:00.000000001Z"),
            (1_795_318_193_123_456_789, "2026-11-22T03:29:53.123456789Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (4_102_444_799_999_999_999, "2099-12-31T23:59:59.999999999Z"),
            (
                i128::from(i64::MAX) * 1_000_000_000,
                "9999-12-31T23:59:59.999999999Z",
            ),
            (
                -70_000_000_000 * 1_000_000_000,
                "0000-01-01T00:00:00.000000000Z",
            ),
        ];
        for (ns, want) in cases {
            assert_eq!(Timestamp::from_unix_nanos(ns).to_rfc3339(), want, "{ns}");
        }
    }

    #[test]
    fn map_insert_replaces_and_keeps_order() {
        let mut m = Map::new().with("a", 1u64).with("b", 2u64);
        m.insert("a", 3u64);
        assert_eq!(
            m.0.iter().map(|(k, _)| &**k).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(m.get("a"), Some(&Value::U64(3)));
    }
}
