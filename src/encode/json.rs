//! JSON lines: one object per line.
//!
//! Written directly into the output buffer (no serde dispatch, no intermediate strings): at
//! millions of events per second the encoder is most of letrace's CPU. The bytes are exactly
//! those of `serde_json::to_writer` on the event's `Serialize` impl (which XML, CSV and text
//! still use); `tests::same_bytes_as_serde` and the golden files hold the two together.

use std::cell::Cell;

use super::jstr::{escaped, plain, string};
use super::Encoder;
use crate::event::{Event, FileInfo, Map, Network, Process, Timestamp, Value};

pub struct JsonEncoder;

impl Encoder for JsonEncoder {
    fn encode(&self, ev: &Event, out: &mut Vec<u8>) {
        event(ev, out);
        out.push(b'\n');
    }
    fn is_json(&self) -> bool {
        true
    }
}

/// Appends `ev` as one JSON object (no newline).
pub fn event(ev: &Event, out: &mut Vec<u8>) {
    head(ev, out);
    uint(ev.seq, out);
    host(&ev.host, out);
    body(ev, out);
}

/// `ev`'s line in two parts, for a source that encodes on its own thread before the
/// pipeline has numbered the event: `{"time":"…","seq":` and, from the returned offset,
/// `,"source":…}` and the newline. [`stitch`] puts `seq` and `host` between them.
pub fn split_line(ev: &Event, out: &mut Vec<u8>) -> usize {
    head(ev, out);
    let split = out.len();
    body(ev, out);
    out.push(b'\n');
    split
}

/// The complete line from [`split_line`]'s parts: the same bytes `JsonEncoder` writes for
/// the event with this `seq` and `host` (`host_part` from [`host`]).
pub fn stitch(head: &[u8], seq: u64, host_part: &[u8], tail: &[u8], out: &mut Vec<u8>) {
    out.reserve(head.len() + 20 + host_part.len() + tail.len());
    out.extend_from_slice(head);
    uint(seq, out);
    out.extend_from_slice(host_part);
    out.extend_from_slice(tail);
}

fn head(ev: &Event, out: &mut Vec<u8>) {
    head_at(ev.time, out);
}

/// `{"time":"…","seq":`: the start of every line, up to where `seq` goes.
pub fn head_at(t: Timestamp, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"time\":\"");
    time(t, out);
    out.extend_from_slice(b"\",\"seq\":");
}

/// `,"host":"…"`.
pub fn host(h: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"host\":");
    string(h.as_bytes(), out);
}

/// Everything from `,"source":` to the closing brace.
fn body(ev: &Event, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"source\":");
    string(ev.source.as_str().as_bytes(), out);
    out.extend_from_slice(b",\"type\":");
    string(ev.kind.as_bytes(), out);
    if let Some(n) = ev.lost {
        out.extend_from_slice(b",\"lost\":");
        uint(n, out);
    }
    if let Some(p) = &ev.process {
        out.extend_from_slice(b",\"process\":");
        process(p, out);
    }
    if let Some(f) = &ev.file {
        out.extend_from_slice(b",\"file\":");
        file(f, out);
    }
    if let Some(n) = &ev.network {
        out.extend_from_slice(b",\"network\":");
        network(n, out);
    }
    members(&ev.extra, false, out);
    out.push(b'}');
}

/// Writes `"key":` preceded by a comma unless it is the object's first member.
struct Obj {
    first: bool,
}

impl Obj {
    fn open(out: &mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { first: true }
    }
    #[inline]
    fn key(&mut self, k: &'static [u8], out: &mut Vec<u8>) {
        if !self.first {
            out.push(b',');
        }
        self.first = false;
        // Our own field names: plain ASCII, no escaping needed.
        out.push(b'"');
        out.extend_from_slice(k);
        out.extend_from_slice(b"\":");
    }
    /// The flattened `extra` map, then `}`.
    fn close(self, extra: &Map, out: &mut Vec<u8>) {
        members(extra, self.first, out);
        out.push(b'}');
    }
}

fn process(p: &Process, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    for (k, v) in [(&b"pid"[..], p.pid), (b"tid", p.tid), (b"ppid", p.ppid)] {
        if let Some(v) = v {
            o.key(k, out);
            uint(v.into(), out);
        }
    }
    for (k, v) in [(&b"comm"[..], &p.comm), (b"exe", &p.exe)] {
        if let Some(v) = v {
            o.key(k, out);
            string(&v.0, out);
        }
    }
    for (k, v) in [(&b"uid"[..], p.uid), (b"gid", p.gid)] {
        if let Some(v) = v {
            o.key(k, out);
            uint(v.into(), out);
        }
    }
    if let Some(args) = &p.args {
        o.key(b"args", out);
        super::jstr::string_list(args.iter().map(|a| &a.0[..]), out);
    }
    o.close(&p.extra, out);
}

fn file(f: &FileInfo, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    o.key(b"path", out);
    string(&f.path.0, out);
    if let Some(t) = f.kind {
        o.key(b"type", out);
        raw_string(t, out);
    }
    o.close(&f.extra, out);
}

/// `n` as the `network` object.
pub fn network(n: &Network, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    if let Some(v) = &n.family {
        o.key(b"family", out);
        raw_string(v, out);
    }
    if let Some(v) = &n.saddr {
        o.key(b"saddr", out);
        raw_string(v, out);
    }
    if let Some(v) = n.sport {
        o.key(b"sport", out);
        uint(v.into(), out);
    }
    if let Some(v) = &n.daddr {
        o.key(b"daddr", out);
        raw_string(v, out);
    }
    if let Some(v) = n.dport {
        o.key(b"dport", out);
        uint(v.into(), out);
    }
    o.close(&n.extra, out);
}

/// `"k":v` for every entry of `m`, each preceded by a comma unless `first` (and it is the
/// first). Duplicate keys are written as they are, as serde does.
fn members(m: &Map, mut first: bool, out: &mut Vec<u8>) {
    for (k, v) in &m.0 {
        if !first {
            out.push(b',');
        }
        first = false;
        let k = k.as_bytes();
        if plain(k) {
            // `"key":` in one copy.
            out.reserve(k.len() + 3);
            out.push(b'"');
            out.extend_from_slice(k);
            out.extend_from_slice(b"\":");
        } else {
            escaped(k, out);
            out.push(b':');
        }
        value(v, out);
    }
}

/// A `Value` as serde_json writes it.
pub fn value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::U64(n) => uint(*n, out),
        Value::I64(n) => sint(*n, out),
        Value::Str(s) => string(s.as_bytes(), out),
        Value::Bytes(b) => string(&b.0, out),
        Value::List(items) => {
            out.push(b'[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(x, out);
            }
            out.push(b']');
        }
        Value::Map(m) => {
            out.push(b'{');
            members(m, true, out);
            out.push(b'}');
        }
    }
}

/// A number: a few bytes, copied with word moves rather than a call to `memcpy` (`put`).
#[inline]
pub fn uint(n: u64, out: &mut Vec<u8>) {
    let mut b = itoa::Buffer::new();
    super::jstr::put(out, b.format(n).as_bytes());
}

/// `uint` for signed numbers.
#[inline]
pub fn sint(n: i64, out: &mut Vec<u8>) {
    let mut b = itoa::Buffer::new();
    super::jstr::put(out, b.format(n).as_bytes());
}

thread_local! {
    /// The last second formatted and its `YYYY-MM-DDTHH:MM:SS.` prefix: events come in time
    /// order, so the calendar arithmetic runs about once a second.
    static SECOND: Cell<(i64, [u8; 20])> = const { Cell::new((i64::MIN, [0; 20])) };
}

/// `Timestamp::write_rfc3339`, with the date and time of day cached per second.
fn time(t: Timestamp, out: &mut Vec<u8>) {
    // Instants outside years 0..=9999 are clamped by write_rfc3339: not cached.
    const MIN: i64 = -62_167_219_200;
    const MAX: i64 = 253_402_300_799;
    if !(MIN..=MAX).contains(&t.secs) {
        t.write_rfc3339(out);
        return;
    }
    let (secs, mut prefix) = SECOND.get();
    if secs != t.secs {
        let mut full = Vec::with_capacity(30);
        t.write_rfc3339(&mut full);
        prefix.copy_from_slice(&full[..20]);
        SECOND.set((t.secs, prefix));
    }
    out.extend_from_slice(&prefix);
    out.extend_from_slice(&nanos9(t.nanos));
    out.push(b'Z');
}

fn nanos9(n: u32) -> [u8; 9] {
    let mut b = [b'0'; 9];
    let mut v = n.min(999_999_999);
    for i in (0..9).rev() {
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    b
}

/// A JSON string without the text rule: for the typed fields the `Serialize` impls write as
/// plain `str` (network family and addresses, file type), escaped as serde_json does.
fn raw_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Bytes, SourceKind};

    fn serde_line(ev: &Event) -> String {
        serde_json::to_string(ev).unwrap() + "\n"
    }
    fn fast_line(ev: &Event) -> String {
        let mut v = Vec::new();
        JsonEncoder.encode(ev, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn strings_same_bytes_as_serde() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"plain".to_vec(),
            b"q\"uo\\te".to_vec(),
            b"ctl\n\t\x7f".to_vec(),
            b"bad\xff\xfe".to_vec(),
            "caf\u{e9} \u{9b} \u{fffe} \u{2028}".as_bytes().to_vec(),
            (0u8..=255).collect(),
        ];
        for a in 0u8..=255 {
            cases.push(vec![b'x', a, b'"', a]);
            // Every byte at every position of the 8-byte fast path.
            for k in 0..17 {
                let mut v = vec![b'y'; 17];
                v[k] = a;
                cases.push(v);
            }
        }
        for c in cases {
            let mut mine = Vec::new();
            string(&c, &mut mine);
            let serde = serde_json::to_vec(&Value::Bytes(Bytes(c.clone()))).unwrap();
            assert_eq!(mine, serde, "{c:?}");
        }
    }

    #[test]
    fn sample_events_same_bytes_as_serde() {
        for ev in super::super::golden::sample_events() {
            assert_eq!(fast_line(&ev), serde_line(&ev));
        }
    }

    /// What a source encodes ahead of the pipeline, stitched with seq and host, is the line
    /// the encoder writes for the numbered event.
    #[test]
    fn split_lines_stitch_to_the_encoded_line() {
        for mut ev in super::super::golden::sample_events() {
            let (seq, h) = (ev.seq, ev.host.clone());
            ev.seq = 0;
            ev.host = std::sync::Arc::from("");
            let mut parts = Vec::new();
            let split = split_line(&ev, &mut parts);
            let mut host_part = Vec::new();
            host(&h, &mut host_part);
            let mut line = Vec::new();
            stitch(&parts[..split], seq, &host_part, &parts[split..], &mut line);
            ev.seq = seq;
            ev.host = h;
            assert_eq!(String::from_utf8(line).unwrap(), fast_line(&ev));
        }
    }

    #[test]
    fn times_same_bytes_as_serde_across_seconds_and_clamps() {
        let mut ev = Event::new(SourceKind::Letrace, "T");
        for ns in [
            0i128,
            999_999_999,
            1_000_000_000,
            1_795_318_193_123_456_789,
            1_795_318_193_000_000_001,
            1_795_318_194_000_000_000,
            -1,
            i128::from(i64::MAX) * 1_000_000_000,
            i128::from(i64::MAX) * 1_000_000_000 + 5,
            -70_000_000_000 * 1_000_000_000,
            1_795_318_194_000_000_007,
        ] {
            ev.time = Timestamp::from_unix_nanos(ns);
            assert_eq!(fast_line(&ev), serde_line(&ev), "{ns}");
        }
        // An out-of-range nanosecond field (not produced by from_unix_nanos) is clamped alike.
        ev.time = Timestamp {
            secs: 5,
            nanos: 2_000_000_000,
        };
        assert_eq!(fast_line(&ev), serde_line(&ev));
    }

    mod prop {
        use super::*;
        use crate::event::{FileInfo, Network, Process};
        use proptest::prelude::*;
        use std::borrow::Cow;
        use std::sync::Arc;

        fn bytes() -> impl Strategy<Value = Bytes> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes),
                "[a-z/\\\\\"é\u{9b}\u{fffe} ]{0,20}".prop_map(|s| Bytes::from(s.as_str())),
            ]
        }
        fn key() -> impl Strategy<Value = Cow<'static, str>> {
            "[a-z\"\\\\\n é]{0,6}".prop_map(Cow::Owned)
        }
        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<u64>().prop_map(Value::U64),
                any::<i64>().prop_map(Value::I64),
                "[ -~\n\u{80}-\u{3ff}]{0,12}".prop_map(|s| Value::Str(Cow::Owned(s))),
                bytes().prop_map(Value::Bytes),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                    proptest::collection::vec((key(), inner), 0..4)
                        .prop_map(|v| Value::Map(Map(v))),
                ]
            })
        }
        fn map() -> impl Strategy<Value = Map> {
            proptest::collection::vec((key(), value()), 0..4).prop_map(Map)
        }
        prop_compose! {
            fn process()(pid in any::<Option<u32>>(), tid in any::<Option<u32>>(),
                         ppid in any::<Option<u32>>(), comm in proptest::option::of(bytes()),
                         exe in proptest::option::of(bytes()), uid in any::<Option<u32>>(),
                         gid in any::<Option<u32>>(),
                         args in proptest::option::of(proptest::collection::vec(bytes(), 0..4)),
                         extra in map()) -> Process {
                Process { pid, tid, ppid, comm, exe, uid, gid, args, extra }
            }
        }
        prop_compose! {
            fn network()(family in proptest::option::of("[a-z0-9]{0,5}"),
                         saddr in proptest::option::of("[0-9.:a-f\"\u{0}-\u{1f}\u{7f}é]{0,8}"),
                         sport in any::<Option<u16>>(),
                         daddr in proptest::option::of("[0-9.:a-f\\\\]{0,8}"),
                         dport in any::<Option<u16>>(), extra in map()) -> Network {
                Network { family: family.map(Cow::Owned), saddr, sport, daddr, dport, extra }
            }
        }
        prop_compose! {
            fn event()(secs in -70_000_000_000i64..300_000_000_000, nanos in 0u32..1_000_000_000,
                       seq in any::<u64>(), host in "[a-z\\\\\"\t-]{0,6}",
                       kind in "[A-Z_\n]{0,8}", lost in any::<Option<u64>>(),
                       process in proptest::option::of(process()),
                       file in proptest::option::of((bytes(), proptest::option::of(Just("dir")), map())),
                       network in proptest::option::of(network()), extra in map()) -> Event {
                let mut ev = Event::new(SourceKind::Bpf, kind);
                ev.time = Timestamp { secs, nanos };
                ev.seq = seq;
                ev.host = Arc::from(host.as_str());
                ev.lost = lost;
                ev.process = process.map(Box::new);
                ev.file = file.map(|(path, kind, extra)| Box::new(FileInfo { path, kind, extra }));
                ev.network = network.map(Box::new);
                ev.extra = extra;
                ev
            }
        }
        proptest! {
            #[test]
            fn any_event_same_bytes_as_serde(ev in event()) {
                prop_assert_eq!(fast_line(&ev), serde_line(&ev));
            }
        }
    }
}
