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
use super::event::{recycle, Builder, JsonSink, RecordSink};
use super::frags::write_time;
use super::interp::{self, Ctx, Interp};
use super::json::{string, uint};
use super::names::{self, Name};
use super::record::{self, Field, EXECVE, PATH, SYSCALL};
use super::summary::{Sum, SumBufs, F};

impl Builder {
    /// The fast path behind `render_json`.
    pub(super) fn render_fast(&mut self, raw: EventRef<'_>, seq: u64, out: &mut Vec<u8>) {
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut sink = JsonSink::new(&mut records);

        let mut kind: Option<Cow<'static, str>> = None;
        let mut bufs = std::mem::take(&mut self.bufs);
        let mut sum = Sum::new(&mut bufs.sum);
        let mut enriched: Vec<record::Enriched> = reuse(std::mem::take(&mut bufs.enriched));

        for h in raw.views() {
            let tname = h.type_name();
            if kind.is_none() || h.rtype == SYSCALL {
                kind = Some(tname.clone());
            }
            let mut fields: Vec<Field<'_>> = recycle(std::mem::take(&mut self.fields));
            record::split_fields(h.rtype, h.body, &mut fields);
            enriched.clear();
            if let Some(e) = h.enriched {
                record::enrichment_into(e, &mut enriched);
            }
            let ctx = Ctx::new(h.rtype, &fields);
            sink.record(tname, fields.len());
            let mut path = sum.path_begin(h.rtype);
            let first_proc = !sum.has_process && h.rtype != PATH && h.rtype != EXECVE;
            for f in &fields {
                let id = names::classify(f.name);
                match &f.raw {
                    // The common case: the value is a slice of the log, and so is what the
                    // summary keeps of it.
                    Cow::Borrowed(r) => {
                        let r: &[u8] = r;
                        let it = interp::interpret_in(&ctx, id, f.name, r, &enriched, &mut scratch);
                        let (value, value_at): (&[u8], _) = match it {
                            Interp::Same => (r, Some(r)),
                            Interp::At(v) => (v, Some(v)),
                            Interp::Buf => (&scratch, None),
                        };
                        sink.field_json(
                            id != Name::Other,
                            f.name,
                            r,
                            (it != Interp::Same).then_some(value),
                        );
                        let fv = F {
                            rtype: h.rtype,
                            id,
                            name: f.name,
                            raw: r,
                            value,
                            value_at,
                        };
                        sum.field(&fv, first_proc, &mut path, &Cow::Borrowed);
                    }
                    Cow::Owned(o) => {
                        let it = interp::interpret_in(&ctx, id, f.name, o, &enriched, &mut scratch);
                        let value: &[u8] = match it {
                            Interp::Same => o,
                            Interp::At(v) => v,
                            Interp::Buf => &scratch,
                        };
                        sink.field_json(
                            id != Name::Other,
                            f.name,
                            o,
                            (it != Interp::Same).then_some(value),
                        );
                        let fv = F {
                            rtype: h.rtype,
                            id,
                            name: f.name,
                            raw: o,
                            value,
                            value_at: None,
                        };
                        sum.field(&fv, first_proc, &mut path, &|s: &[u8]| {
                            Cow::Owned(s.to_vec())
                        });
                    }
                }
            }
            sum.path_end(path);
            self.fields = recycle(fields);
        }
        sink.close();
        self.scratch = scratch;

        // The event, member by member, as `json::event` writes `Builder::build()`'s.
        out.extend_from_slice(b"{\"time\":\"");
        write_time(&mut self.time, raw.sec, raw.nanos, out);
        out.extend_from_slice(b"\",\"seq\":");
        uint(seq, out);
        out.extend_from_slice(b",\"host\":");
        match raw.node {
            Some(n) => string(String::from_utf8_lossy(n).as_bytes(), out),
            None => out.extend_from_slice(b"\"\""),
        }
        out.extend_from_slice(b",\"source\":\"audit\",\"type\":");
        string(kind.as_deref().unwrap_or("UNKNOWN").as_bytes(), out);
        sum.write(&raw, &records, out);
        self.records = records;
        bufs.enriched = reuse(enriched);
        self.bufs = bufs;
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
