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
use super::coalesce::RecView;
use super::event::{Builder, JsonSink, RecordSink};
use super::frags::write_time;
use super::interp::{self, CtxTrack};
use super::json::{put, string, uint};
use super::names;
use super::recache::{Cache, Probe, Rec, Recorder, Replayed};
use super::record::{self, Field, EXECVE, PATH, SYSCALL};
use super::shapes;
use super::summary::{PathSum, Sum, SumBufs, F};

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
        let cache = self.cache.get();
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
            let mark = sink.mark();
            let mut path = sum.path_begin(h.rtype);
            let first_proc = !sum.has_process && h.rtype != PATH && h.rtype != EXECVE;
            // A record rendered recently: its JSON again, and its fields to the summary. Only
            // the fields are cached: their JSON depends on the type number, the body and the
            // enrichment (the key), the head above on how the line wrote the type.
            let probe = cache.probe(h.rtype, h.body, h.enriched);
            if let Probe::Hit(i) = probe {
                sink.put_fields(cache.json(i));
                replay(cache, i, &h, first_proc, &mut sum, &mut path);
            } else {
                let mut rec = match probe {
                    Probe::Miss(hash) => Some(cache.recorder(hash, h.body, h.enriched)),
                    _ => None,
                };
                enriched.clear();
                if let Some(e) = h.enriched {
                    record::enrichment_into(e, &mut enriched);
                }
                let one = One {
                    rtype: h.rtype,
                    first_proc,
                    enriched: &enriched,
                    enriched_names: record::enriched_names(&enriched),
                };
                let (sc, sk, sm, p) = (&mut scratch, &mut sink, &mut sum, &mut path);
                match rec.as_mut() {
                    None => {
                        fields(shape, &h, &one, mark, sc, sk, sm, p, &mut ());
                    }
                    Some(r) => {
                        let twice = fields_recorded(shape, &h, &one, mark, sc, sk, sm, p, r);
                        // A record rendered twice (stale context) is not kept.
                        let json = sink.since(mark);
                        cache.insert(rec, !twice, h.rtype, h.body, h.enriched, json);
                    }
                }
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

/// Gives cached record `i`'s fields (record `h`) to the summary, as its miss did.
fn replay<'a>(
    cache: &Cache,
    i: usize,
    h: &RecView<'a>,
    first_proc: bool,
    sum: &mut Sum<'a, '_>,
    path: &mut Option<PathSum<'a>>,
) {
    cache.replay(i, h.body, h.enriched, |r| match r {
        Replayed::Log {
            id,
            name,
            raw,
            value,
            value_at,
        } => {
            let f = F {
                rtype: h.rtype,
                id,
                name,
                raw,
                value,
                value_at,
            };
            // A closure of its own (not `Cow::Borrowed`, as `One::field`'s): each of
            // `Sum::field`'s instances keeps a single caller, and is inlined.
            #[allow(clippy::redundant_closure)]
            sum.field(&f, first_proc, path, &|s| Cow::Borrowed(s));
        }
        Replayed::Copy {
            id,
            name,
            raw,
            value,
        } => {
            let f = F {
                rtype: h.rtype,
                id,
                name,
                raw,
                value,
                value_at: None,
            };
            sum.field(&f, first_proc, path, &|s: &[u8]| Cow::Owned(s.to_vec()));
        }
    });
}

/// `fields` with a recorder, out of the common loop's way.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn fields_recorded<'a>(
    shape: &mut Vec<shapes::Way>,
    h: &RecView<'a>,
    one: &One<'_, 'a>,
    mark: usize,
    scratch: &mut Vec<u8>,
    sink: &mut JsonSink<'_>,
    sum: &mut Sum<'a, '_>,
    path: &mut Option<PathSum<'a>>,
    rec: &mut Recorder,
) -> bool {
    fields(shape, h, one, mark, scratch, sink, sum, path, rec)
}

/// Renders record `h`'s fields one pass at a time (a second pass when the context came
/// late); true when it took two.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fields<'a, R: Rec>(
    shape: &mut Vec<shapes::Way>,
    h: &RecView<'a>,
    one: &One<'_, 'a>,
    mark: usize,
    scratch: &mut Vec<u8>,
    sink: &mut JsonSink<'_>,
    sum: &mut Sum<'a, '_>,
    path: &mut Option<PathSum<'a>>,
    rec: &mut R,
) -> bool {
    // One pass: each field is interpreted and written as it is found, with the context
    // (arch, syscall, a0, a1) gathered so far. A context value that comes after a field
    // that needed it (never in what auditd writes) makes the record stale: it is written
    // again with the final context, and the summary takes again only the fields whose value
    // depends on it.
    let mut track = CtxTrack::new(h.rtype);
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
                &track.ctx, id, kind, f, pre, only_ctx, scratch, sink, sum, path, rec,
            );
        }
        if !track.stale {
            break;
        }
        sink.rewind(mark);
        track.freeze();
        only_ctx = true;
    }
    only_ctx
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
