//! The JSON fast path: one pass over an event's records that writes `audit.records` as it
//! parses them and gathers the summary (process, file, network, audit.*) as slices of the
//! log, then writes the whole event without building an `Event`.
//!
//! It must write exactly the bytes the shared JSON encoder writes for `Builder::build()`'s
//! event: the same members in the same order, with `Map::insert`'s replace-in-place rule.
//! tests/audit_golden.rs checks that on every corpus event, tests/audit_props.rs on mutated
//! and random input.

use std::borrow::Cow;

use super::coalesce::EventRef;
use super::event::{Builder, JsonSink, RecordSink};
use super::frags::write_time;
use super::interp::{self, CtxTrack};
use super::json::{put, string, uint};
use super::names;
use super::record::{self, Field, EXECVE, PATH, SYSCALL};
use super::shapes;
use super::summary::{PathSum, Sum, SumBufs, F};
use crate::event::{Event, SourceKind, Value};

#[path = "fast_one.rs"]
mod one;
use one::One;

impl Builder {
    /// The fast path behind `render_json`.
    pub(super) fn render_fast(&mut self, raw: EventRef<'_>, seq: u64, out: &mut Vec<u8>) {
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut sink = JsonSink::new(&mut records);

        let mut kind: Option<Cow<'static, str>> = None;
        // Borrowed in place: taking the summary's buffers out and back moved (and dropped a
        // default of) a large struct per event.
        let bufs = &mut self.bufs;
        let shapes = &mut self.shapes;
        let mut sum = Sum::new(&mut bufs.sum);
        let mut enriched: Vec<record::Enriched> = reuse(std::mem::take(&mut bufs.enriched));

        for h in raw.views() {
            // The type's name and JSON are kept per type (`Shapes::head`) when they do not
            // depend on how the line wrote the type.
            let (shape, head) = shapes.of(h.rtype);
            match head {
                Some((name, json)) => {
                    if kind.is_none() || h.rtype == SYSCALL {
                        kind = Some(Cow::Borrowed(name));
                    }
                    sink.record_head(json);
                }
                None => {
                    let tname = h.type_name();
                    if kind.is_none() || h.rtype == SYSCALL {
                        kind = Some(tname.clone());
                    }
                    sink.record(tname, 0);
                }
            }
            enriched.clear();
            if let Some(e) = h.enriched {
                record::enrichment_into(e, &mut enriched);
            }
            let mark = sink.mark();
            let mut path = sum.path_begin(h.rtype);
            let first_proc = !sum.has_process && h.rtype != PATH && h.rtype != EXECVE;
            // One pass: each field is interpreted and written as it is found, with the context
            // (arch, syscall, a0, a1) gathered so far. A context value that comes after a
            // field that needed it (never in what auditd writes) makes the record stale: it
            // is written again with the final context, and the summary takes again only the
            // fields whose value depends on it.
            let mut track = CtxTrack::new(h.rtype);
            let one = One {
                rtype: h.rtype,
                first_proc,
                enriched: &enriched,
                enriched_names: record::enriched_names(&enriched),
            };
            let mut only_ctx = false;
            loop {
                let mut fields = record::Fields::new(h.rtype, h.body);
                let mut i = 0;
                loop {
                    // The usual name at this place (see `shapes`), else the general rules.
                    let hit = shape.get(i).and_then(|w| shapes::take(&mut fields, w));
                    let (f, id, kind, pre) = match hit {
                        Some((s, name, raw)) => (
                            Field {
                                name,
                                raw: Cow::Borrowed(raw),
                            },
                            s.id,
                            s.kind
                                .unwrap_or_else(|| interp::kind_of(h.rtype, s.id, name, raw)),
                            Some((&s.prefix, s.plen as usize)),
                        ),
                        None => {
                            let Some(f) = fields.next() else {
                                break;
                            };
                            let id = names::classify(f.name);
                            shapes::learn(shape, h.rtype, i, f.name, id, fields.simple);
                            let kind = interp::kind_of(h.rtype, id, f.name, &f.raw);
                            (f, id, kind, None)
                        }
                    };
                    i += 1;
                    track.see(id, &f.raw);
                    one.field(
                        &track.ctx,
                        id,
                        kind,
                        f,
                        pre,
                        only_ctx,
                        &mut scratch,
                        &mut sink,
                        &mut sum,
                        &mut path,
                    );
                }
                if !track.stale {
                    break;
                }
                sink.rewind(mark);
                track.freeze();
                only_ctx = true;
            }
            sum.path_end(path);
        }
        sink.close();
        self.scratch = scratch;

        // The event, member by member, as `json::event` writes `Builder::build()`'s.
        out.extend_from_slice(b"{\"time\":\"");
        write_time(&mut self.time, raw.sec, raw.nanos, out);
        out.extend_from_slice(b"\",\"seq\":");
        uint(seq, out);
        match raw.node {
            Some(n) => {
                out.extend_from_slice(b",\"host\":");
                string(String::from_utf8_lossy(n).as_bytes(), out);
                out.extend_from_slice(b",\"source\":\"audit\",\"type\":");
            }
            None => out.extend_from_slice(b",\"host\":\"\",\"source\":\"audit\",\"type\":"),
        }
        match &kind {
            // A `'static` name is one of the type tables' (not from the log), and those are
            // plain (`type_names_are_plain`): no escaping check.
            Some(Cow::Borrowed(k)) => {
                out.push(b'"');
                put(out, k.as_bytes());
                out.push(b'"');
            }
            Some(Cow::Owned(k)) => string(k.as_bytes(), out),
            None => out.extend_from_slice(b"\"UNKNOWN\""),
        }
        sum.write(&raw, &records, out);
        self.records = records;
        bufs.enriched = reuse(enriched);
    }
}

impl Builder {
    /// A LOST event as the reader builds it for a gap in the serials (`Event::lost` and
    /// `audit.first_serial`, `last_serial`, maybe `node`) as one JSON line: the bytes the JSON
    /// encoder writes (tested), without walking its maps. False, nothing written, for any
    /// other event.
    pub(super) fn render_lost(&mut self, ev: &Event, out: &mut Vec<u8>) -> bool {
        let (Some(lost), [(k0, Value::Bool(exact)), (k1, Value::Str(reason)), (k2, Value::Map(a))]) =
            (ev.lost, &ev.extra.0[..])
        else {
            return false;
        };
        if k0 != "lost_exact"
            || k1 != "reason"
            || k2 != "audit"
            || ev.source != SourceKind::Audit
            || ev.kind != "LOST"
            || ev.process.is_some()
            || ev.file.is_some()
            || ev.network.is_some()
            || ev.time.secs < 0
        {
            return false;
        }
        let (first, last, node) = match &a.0[..] {
            [(f, Value::U64(x)), (l, Value::U64(y)), rest @ ..]
                if f == "first_serial" && l == "last_serial" =>
            {
                match rest {
                    [] => (*x, *y, None),
                    [(n, Value::Bytes(b))] if n == "node" => (*x, *y, Some(&b.0[..])),
                    _ => return false,
                }
            }
            _ => return false,
        };
        out.extend_from_slice(b"{\"time\":\"");
        write_time(&mut self.time, ev.time.secs as u64, ev.time.nanos, out);
        out.extend_from_slice(b"\",\"seq\":");
        uint(ev.seq, out);
        out.extend_from_slice(b",\"host\":");
        string(ev.host.as_bytes(), out);
        out.extend_from_slice(b",\"source\":\"audit\",\"type\":\"LOST\",\"lost\":");
        uint(lost, out);
        out.extend_from_slice(if *exact {
            b",\"lost_exact\":true,\"reason\":"
        } else {
            b",\"lost_exact\":false,\"reason\":"
        });
        string(reason.as_bytes(), out);
        out.extend_from_slice(b",\"audit\":{\"first_serial\":");
        uint(first, out);
        out.extend_from_slice(b",\"last_serial\":");
        uint(last, out);
        if let Some(n) = node {
            out.extend_from_slice(b",\"node\":");
            string(n, out);
        }
        out.extend_from_slice(b"}}\n");
        true
    }
}

/// Allocations of the summary kept between events, empty (so nothing is borrowed).
#[derive(Default)]
pub(super) struct Bufs {
    sum: SumBufs,
    enriched: Vec<record::Enriched<'static>>,
}

/// Empties `v` and returns its allocation as a vector of another element type of the same
/// layout (here: the same type with another lifetime). Collecting an empty in-place
/// iterator keeps the buffer.
pub(super) fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `render_lost` writes what the JSON encoder writes for the reader's LOST events, and
    /// nothing for other events.
    #[test]
    fn lost_events_as_the_encoder_writes_them() {
        use crate::encode::Encoder;
        use crate::event::{Bytes, Map, Timestamp};
        let enc = crate::encode::json::JsonEncoder;
        let mut b = Builder::default();
        let mut n = 0;
        for (secs, nanos) in [
            (1_700_000_000i64, 118_000_000u32),
            (1_700_000_000, 5),
            (0, 0),
        ] {
            for node in [None, Some(&b"h\"\xff"[..]), Some(&b"node1"[..])] {
                for exact in [true, false] {
                    for host in ["", "a\\b\t"] {
                        n += 1;
                        let mut ev = Event::lost(SourceKind::Audit, n, exact, "audit serial gap");
                        ev.seq = u64::MAX - n;
                        ev.time = Timestamp { secs, nanos };
                        ev.host = std::sync::Arc::from(host);
                        let mut a = Map::new()
                            .with("first_serial", n * 1000)
                            .with("last_serial", u64::MAX);
                        if let Some(nd) = node {
                            a.insert("node", Value::Bytes(Bytes(nd.to_vec())));
                        }
                        ev.extra.insert("audit", a);
                        let mut want = b"x".to_vec();
                        enc.encode(&ev, &mut want);
                        let mut mine = b"x".to_vec();
                        assert!(b.render_lost(&ev, &mut mine));
                        assert_eq!(
                            String::from_utf8_lossy(&mine),
                            String::from_utf8_lossy(&want)
                        );
                    }
                }
            }
        }
        // Anything else is left to the encoder.
        let mut ev = Event::lost(SourceKind::Audit, 1, true, "audit serial gap");
        let mut out = Vec::new();
        assert!(!b.render_lost(&ev, &mut out));
        ev.extra
            .insert("audit", Map::new().with("first_serial", 1u64));
        assert!(!b.render_lost(&ev, &mut out));
        ev.extra.insert(
            "audit",
            Map::new()
                .with("first_serial", 1u64)
                .with("last_serial", 2u64),
        );
        ev.source = SourceKind::Letrace;
        assert!(!b.render_lost(&ev, &mut out));
        ev.source = SourceKind::Audit;
        ev.time.secs = -1;
        assert!(!b.render_lost(&ev, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn type_names_are_plain() {
        for n in 0..=0xffff {
            if let Some(t) = super::super::tables::type_name(n) {
                assert!(super::super::json::plain(t.as_bytes()), "{n}: {t:?}");
            }
        }
        for t in super::super::rtype::COMMON_TYPES {
            let (_, name) = super::super::rtype::common_type(t.as_bytes()).unwrap();
            assert_eq!(name, t);
            assert!(super::super::json::plain(name.as_bytes()));
        }
    }

    #[test]
    fn reuse_keeps_the_allocation() {
        let mut v: Vec<(u8, Cow<'static, [u8]>)> = Vec::with_capacity(10);
        v.push((1, Cow::Borrowed(b"x")));
        let p = v.as_ptr() as usize;
        let w: Vec<(u8, Cow<'_, [u8]>)> = reuse(v);
        assert!(w.is_empty());
        assert_eq!((w.capacity(), w.as_ptr() as usize), (10, p));
    }
}
