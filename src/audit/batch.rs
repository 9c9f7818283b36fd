//! A batch of coalesced events on its way from the reader to a renderer: the events' lines
//! copied back to back into one buffer, so the reader reuses its per-event buffers at once
//! (no allocation crosses threads) and a batch is a handful of allocations, recycled whole.

use std::sync::Arc;

use super::coalesce::{append, EventRef, Gap, RawEvent, Rec};
use super::record::Header;

/// One event of a batch: where its lines and records are, and its numbering.
pub(super) struct Meta {
    pub node: Option<Arc<[u8]>>,
    pub serial: u64,
    pub sec: u64,
    pub nanos: u32,
    pub timed_out: bool,
    pub seq: u64,
    bytes: (usize, usize),
    recs: (usize, usize),
}

/// What an event written in place needs besides its lines (see `Batch::push_in_place`).
pub(super) struct InPlace {
    pub node: Option<Arc<[u8]>>,
    pub serial: u64,
    pub sec: u64,
    pub nanos: u32,
}

/// An event as it goes to a renderer: raw lines, or a gap in the serials (a LOST event),
/// both turned into output there.
pub(super) enum Item {
    Raw(Meta),
    Gap(Gap, u64),
}

#[derive(Default)]
pub(super) struct Batch {
    buf: Vec<u8>,
    recs: Vec<Rec>,
    pub items: Vec<Item>,
    /// Its place in the output: batches are numbered as the reader hands them out.
    pub index: u64,
    /// Its line bytes when handed out (kept through `recycle`: the reader's accounting).
    pub weight: usize,
    /// The rendered bytes, filled by a renderer, written by the writer.
    pub out: Vec<u8>,
}

/// A recycled batch whose line buffer grew beyond this lets it go (a batch holding one huge
/// event must not pin megabytes for ever); a batch of ordinary events stays under it.
const KEEP_BYTES: usize = 256 << 10;
/// The same for its rendered bytes and its records.
pub(super) const KEEP_OUT: usize = 1 << 20;
const KEEP_RECS: usize = 4096;

impl Batch {
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        Batch {
            buf: Vec::with_capacity(bytes),
            recs: Vec::with_capacity(events * 4),
            items: Vec::with_capacity(events),
            index: 0,
            weight: 0,
            out: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Copies `ev` in as event number `seq`.
    pub fn push_raw(&mut self, ev: &RawEvent, seq: u64) {
        let b0 = self.buf.len();
        self.buf.extend_from_slice(&ev.buf);
        let r0 = self.recs.len();
        self.recs.extend_from_slice(&ev.records);
        self.items.push(Item::Raw(Meta {
            node: ev.node.clone(),
            serial: ev.serial,
            sec: ev.sec,
            nanos: ev.nanos,
            timed_out: ev.timed_out,
            seq,
            bytes: (b0, self.buf.len()),
            recs: (r0, self.recs.len()),
        }));
    }

    /// Where the next line and record will go: the start of an event written in place.
    pub fn end(&self) -> (usize, usize) {
        (self.buf.len(), self.recs.len())
    }

    /// Appends a line of the event written in place from `at` (`end` when it started).
    #[inline]
    pub fn push_line(&mut self, at: (usize, usize), h: &Header<'_>, line: &[u8]) {
        append(&mut self.buf, &mut self.recs, at.0, h, line);
    }

    /// The event written in place from `at` is complete: it is event number `seq`.
    pub fn push_in_place(&mut self, at: (usize, usize), ev: InPlace, seq: u64) {
        self.items.push(Item::Raw(Meta {
            node: ev.node,
            serial: ev.serial,
            sec: ev.sec,
            nanos: ev.nanos,
            timed_out: false,
            seq,
            bytes: (at.0, self.buf.len()),
            recs: (at.1, self.recs.len()),
        }));
    }

    /// The lines and records written in place from `at` (records' offsets from its line).
    pub fn tail(&self, at: (usize, usize)) -> (&[u8], &[Rec]) {
        (&self.buf[at.0..], &self.recs[at.1..])
    }

    /// Appends lines and their records (the beginning of an event written in place, moved
    /// here from a batch handed out meanwhile).
    pub fn extend(&mut self, buf: &[u8], recs: &[Rec]) {
        self.buf.extend_from_slice(buf);
        self.recs.extend_from_slice(recs);
    }

    /// Drops what was written in place from `at`.
    pub fn truncate(&mut self, at: (usize, usize)) {
        self.buf.truncate(at.0);
        self.recs.truncate(at.1);
    }

    /// A gap in the serials, numbered `seq`.
    pub fn push_gap(&mut self, g: &Gap, seq: u64) {
        self.items.push(Item::Gap(g.clone(), seq));
    }

    /// Empties it for reuse, giving back what a huge event made it allocate (a fresh buffer:
    /// a shrunk one would keep the pages the big one touched).
    pub fn recycle(&mut self) {
        self.buf.clear();
        self.recs.clear();
        self.items.clear();
        self.out.clear();
        if self.buf.capacity() > KEEP_BYTES {
            self.buf = Vec::new();
        }
        if self.out.capacity() > KEEP_OUT {
            self.out = Vec::new();
        }
        if self.recs.capacity() > KEEP_RECS {
            self.recs = Vec::new();
        }
    }

    /// A raw item's event, borrowed from the batch.
    pub fn event<'a>(&'a self, m: &'a Meta) -> EventRef<'a> {
        EventRef {
            node: m.node.as_deref(),
            serial: m.serial,
            sec: m.sec,
            nanos: m.nanos,
            buf: &self.buf[m.bytes.0..m.bytes.1],
            records: &self.recs[m.recs.0..m.recs.1],
            timed_out: m.timed_out,
        }
    }
}
