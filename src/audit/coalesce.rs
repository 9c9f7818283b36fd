//! Groups records into events.
//!
//! Grouping rule (docs/audit.md): records belong together when they share (node, serial) and
//! the same timestamp. An event is complete
//! - on EOE (which is not kept: it carries nothing),
//! - on PROCTITLE when the event already holds its SYSCALL (the kernel writes PROCTITLE last),
//! - at once for user-space and daemon record types (1100-1299, 2100-2999: one record each),
//! - when audit time (the stamps in the log, not the wall clock) has moved `timeout` past the
//!   event's first record,
//! - when more than `max_pending` events or `max_bytes` bytes are in flight (oldest first),
//! - at the end of the input.
//!
//! Serial gaps are tracked per node: a serial never seen once `GAP_WINDOW` later serials have
//! arrived (or at the end) is reported as lost. A serial far below the ones seen (reboot, or
//! the 32-bit counter wrapping) starts a new epoch instead.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::ahead::Ahead;
use super::keyindex::KeyIndex;
use super::record::{Header, StampMemo, EOE, PROCTITLE, SYSCALL};

/// Limits and rules of the coalescer.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Audit-time milliseconds after which an incomplete event is emitted as it is.
    pub timeout_ms: u64,
    pub max_pending: usize,
    pub max_bytes: usize,
    /// Report serial gaps as LOST.
    pub gaps: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout_ms: 2000,
            max_pending: 4096,
            max_bytes: 16 << 20,
            gaps: true,
        }
    }
}

/// Audit time in milliseconds (saturating: corrupt stamps must not overflow).
pub(super) fn ms(sec: u64, nanos: u32) -> u64 {
    sec.saturating_mul(1000)
        .saturating_add((nanos / 1_000_000) as u64)
}

/// An event is written (marked incomplete) once its records reach this size.
pub const MAX_EVENT_BYTES: usize = 4 << 20;

/// Bytes reserved for an event's lines when it starts (most events are well under it).
const EVENT_BYTES: usize = 2048;

/// Later serials that must arrive before a missing one is declared lost.
const GAP_WINDOW: usize = 512;
/// A serial this far below the highest seen starts a new epoch (reboot, wrap).
const EPOCH_BACKSTEP: u64 = 1_000_000;

/// An event's records, as lines (without newline) in arrival order.
#[derive(Clone, Debug, Default)]
pub struct RawEvent {
    pub node: Option<Arc<[u8]>>,
    pub serial: u64,
    pub sec: u64,
    pub nanos: u32,
    /// The lines, back to back.
    pub buf: Vec<u8>,
    /// Where each record's parts are in `buf`.
    pub records: Vec<Rec>,
    /// It ended on a timeout or a limit, not on its end marker.
    pub timed_out: bool,
}

/// Offsets of one record in `RawEvent::buf`, so the header is parsed only once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rec {
    pub start: u32,
    pub end: u32,
    pub rtype: u32,
    pub type_tok: (u32, u32),
    pub body: (u32, u32),
    /// The enriched part after 0x1d, when there is one.
    pub enriched: Option<(u32, u32)>,
}

/// One record of a `RawEvent`, borrowed.
pub struct RecView<'a> {
    pub rtype: u32,
    pub type_token: &'a [u8],
    pub body: &'a [u8],
    pub enriched: Option<&'a [u8]>,
}

impl RecView<'_> {
    pub fn type_name(&self) -> std::borrow::Cow<'static, str> {
        super::record::type_name(self.rtype, self.type_token)
    }
}

/// A coalesced event, borrowed: from a `RawEvent` or from a batch of events copied back to
/// back (the renderers' input).
#[derive(Clone, Copy, Debug)]
pub struct EventRef<'a> {
    pub node: Option<&'a [u8]>,
    pub serial: u64,
    pub sec: u64,
    pub nanos: u32,
    /// The event's lines, back to back; `records` index into it.
    pub buf: &'a [u8],
    pub records: &'a [Rec],
    pub timed_out: bool,
}

impl<'a> EventRef<'a> {
    pub fn views(&self) -> impl Iterator<Item = RecView<'a>> {
        let b = self.buf;
        let sl = move |(s, e): (u32, u32)| &b[s as usize..e as usize];
        self.records.iter().map(move |r| RecView {
            rtype: r.rtype,
            type_token: sl(r.type_tok),
            body: sl(r.body),
            enriched: r.enriched.map(sl),
        })
    }
}

impl RawEvent {
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.records
            .iter()
            .map(|r| &self.buf[r.start as usize..r.end as usize])
    }

    pub fn views(&self) -> impl Iterator<Item = RecView<'_>> {
        self.view().views()
    }

    /// The event, borrowed.
    pub fn view(&self) -> EventRef<'_> {
        EventRef {
            node: self.node.as_deref(),
            serial: self.serial,
            sec: self.sec,
            nanos: self.nanos,
            buf: &self.buf,
            records: &self.records,
            timed_out: self.timed_out,
        }
    }

    /// Empties it for reuse, keeping the allocations.
    pub fn clear(&mut self) {
        self.node = None;
        self.buf.clear();
        self.records.clear();
        self.timed_out = false;
    }
}

/// What comes out of the coalescer, in order.
#[derive(Debug)]
pub enum Output {
    Event(RawEvent),
    Lost(Gap),
}

/// Serials `first..=last` of `node` never appeared; noticed at audit time `sec.nanos`.
#[derive(Debug, Clone)]
pub struct Gap {
    pub node: Option<Arc<[u8]>>,
    pub first: u64,
    pub last: u64,
    pub sec: u64,
    pub nanos: u32,
}

#[derive(Default)]
struct Gaps {
    /// Every serial <= `low` was seen or reported.
    low: u64,
    ahead: Ahead,
    started: bool,
}

pub struct Coalescer {
    cfg: Config,
    nodes: HashMap<Vec<u8>, u32>,
    node_names: Vec<Option<Arc<[u8]>>>,
    /// The node of the last record with one (0 before any).
    last_node: u32,
    /// Every event being filled or waiting in `out`, by slot: events stay where they are
    /// from their first record until the reader has copied them out (no moves of the
    /// event, no allocation per event), and the emptied slots are reused (`free`).
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slot of the event being filled, by key.
    pending: KeyIndex,
    /// The event the last record went to (most records follow one of their own event):
    /// found without a lookup. Always a pending event.
    last: Option<((u32, u64), u32)>,
    /// Events in order of first record (see `Started`); stale entries (already completed)
    /// are skipped lazily.
    order: VecDeque<Started>,
    bytes: usize,
    gaps: Vec<Gaps>,
    out: VecDeque<Out>,
    /// Events completed early by the in-flight limits.
    pub forced: u64,
    /// The last stamp its feeder parsed (`record::parse_header_memo`).
    pub stamps: StampMemo,
    /// The (node, serial) `track_serial` saw last: seeing it again changes nothing (the
    /// records of an event follow each other), so it is not looked at again.
    tracked: (u32, u64),
}

struct Slot {
    ev: RawEvent,
    /// Bumped whenever its event leaves `pending`: an entry of `order` naming the slot
    /// with another value is stale.
    gen: u64,
}

/// The slot of an entry of `order` for an event that never had one (written straight into
/// a batch, `direct.rs`): the entry only stands where that event's would have stood.
const NO_SLOT: u32 = u32::MAX;

/// Record types that are a whole event on their own (user-space and daemon records).
#[inline]
pub(super) fn ends_alone(rtype: u32) -> bool {
    matches!(rtype, 1100..=1299 | 2100..=2999)
}

/// An event's first record: its key, audit time in ms, and where it is.
#[derive(Clone, Copy)]
struct Started {
    key: (u32, u64),
    t: u64,
    slot: u32,
    gen: u64,
}

/// `out`'s entries: events stay in their slot until consumed.
enum Out {
    Event(u32),
    Lost(Gap),
}

/// The next output, borrowed from the coalescer (see `Coalescer::next_output`).
pub enum Next<'a> {
    Event(&'a RawEvent),
    Lost(&'a Gap),
}

/// Emptied slots kept with their buffers, and the largest buffer worth keeping (a slot is
/// reused as soon as its event is copied out: few are needed).
const POOL_MAX: usize = 256;
const POOLED_BYTES: usize = 16 << 10;

impl Coalescer {
    pub fn new(cfg: Config) -> Self {
        Coalescer {
            cfg,
            nodes: HashMap::new(),
            node_names: vec![None],
            last_node: 0,
            slots: Vec::new(),
            free: Vec::new(),
            pending: KeyIndex::default(),
            last: None,
            order: VecDeque::new(),
            bytes: 0,
            gaps: vec![Gaps::default()],
            out: VecDeque::new(),
            forced: 0,
            stamps: StampMemo::default(),
            tracked: (u32::MAX, 0),
        }
    }

    /// The name of node `id` (from `node_id`).
    pub(super) fn node_name(&self, id: u32) -> Option<Arc<[u8]>> {
        self.node_names[id as usize].clone()
    }

    /// The id of a record's node (0: none).
    #[inline]
    pub(super) fn node_id(&mut self, node: Option<&[u8]>) -> u32 {
        let Some(n) = node else {
            return 0;
        };
        // Nearly always the node of the record before: no hashing of the name.
        if let Some(name) = &self.node_names[self.last_node as usize] {
            if **name == *n {
                return self.last_node;
            }
        }
        if let Some(&id) = self.nodes.get(n) {
            self.last_node = id;
            return id;
        }
        let id = self.node_names.len() as u32;
        self.nodes.insert(n.to_vec(), id);
        self.node_names.push(Some(Arc::from(n)));
        self.gaps.push(Gaps::default());
        self.last_node = id;
        id
    }

    /// Whether something is waiting in the output.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// The oldest output not consumed yet, borrowed.
    #[inline]
    pub fn next_output(&self) -> Option<Next<'_>> {
        Some(match self.out.front()? {
            Out::Event(i) => Next::Event(&self.slots[*i as usize].ev),
            Out::Lost(g) => Next::Lost(g),
        })
    }

    /// Drops the output `next_output` showed, reusing its event's slot.
    #[inline]
    pub fn consume_output(&mut self) {
        if let Some(Out::Event(i)) = self.out.pop_front() {
            self.release(i);
        }
    }

    /// The oldest output, owned (its event's buffers go with it).
    pub fn pop_output(&mut self) -> Option<Output> {
        Some(match self.out.pop_front()? {
            Out::Event(i) => {
                let ev = std::mem::take(&mut self.slots[i as usize].ev);
                self.release(i);
                Output::Event(ev)
            }
            Out::Lost(g) => Output::Lost(g),
        })
    }

    /// Slot `i`'s event is out: empty it for reuse, keeping its buffers unless they grew
    /// big or enough emptied slots keep theirs.
    fn release(&mut self, i: u32) {
        let ev = &mut self.slots[i as usize].ev;
        if self.free.len() < POOL_MAX && ev.buf.capacity() <= POOLED_BYTES {
            ev.clear();
        } else {
            *ev = RawEvent::default();
        }
        self.free.push(i);
    }

    /// A slot for a new event of record `h` (reused when there is one), in `order` and
    /// `pending`, with room for a typical event at once (reused buffers then rarely regrow).
    fn start(&mut self, key: (u32, u64), (sec, nanos): (u64, u32), now_ms: u64) -> u32 {
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    ev: RawEvent::default(),
                    gen: 0,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let s = &mut self.slots[i as usize];
        let ev = &mut s.ev;
        ev.buf.reserve(EVENT_BYTES);
        ev.records.reserve(8);
        ev.node = self.node_names[key.0 as usize].clone();
        ev.serial = key.1;
        ev.sec = sec;
        ev.nanos = nanos;
        self.order.push_back(Started {
            key,
            t: now_ms,
            slot: i,
            gen: s.gen,
        });
        self.pending.insert(key, i);
        i
    }

    /// Adds one parsed record (`line` is the whole line the header came from).
    #[inline]
    pub fn push(&mut self, h: &Header<'_>, line: &[u8]) {
        let node = self.node_id(h.node);
        self.push_at(node, h, line);
    }

    /// `push`, the record's node id known.
    #[inline]
    pub(super) fn push_at(&mut self, node: u32, h: &Header<'_>, line: &[u8]) {
        let key = (node, h.serial);
        let now_ms = ms(h.sec, h.nanos);
        self.track(node, h.serial, h.sec, h.nanos);
        if h.rtype == EOE {
            // The end of its event; one of another time (serial reuse) was cut short.
            if let Some(i) = self.pending.remove(key) {
                let p = &self.slots[i as usize].ev;
                let stale = (p.sec, p.nanos) != (h.sec, h.nanos);
                self.emit(i, stale);
            }
            self.expire(now_ms);
            return;
        }
        let found = match self.last {
            Some((k, i)) if k == key => Some(i),
            _ => self.pending.get(key),
        };
        let i = match found {
            Some(i) => {
                let p = &self.slots[i as usize].ev;
                if (p.sec, p.nanos) == (h.sec, h.nanos) {
                    i
                } else {
                    // Same serial, other time: a new event (serial reuse after reboot or wrap).
                    self.complete(key, true);
                    self.start(key, (h.sec, h.nanos), now_ms)
                }
            }
            None => self.start(key, (h.sec, h.nanos), now_ms),
        };
        self.last = Some((key, i));
        let ev = &mut self.slots[i as usize].ev;
        append(&mut ev.buf, &mut ev.records, 0, h, line);
        self.bytes += line.len();
        let single = ends_alone(h.rtype) && ev.records.len() == 1;
        let last = h.rtype == PROCTITLE && ev.records.iter().any(|r| r.rtype == SYSCALL);
        let huge = ev.buf.len() > MAX_EVENT_BYTES;
        if single || last {
            self.complete(key, false);
        } else if huge {
            // No kernel event is this big; cut it so one event cannot eat the memory bound.
            self.forced += 1;
            self.complete(key, true);
        }
        self.expire(now_ms);
    }

    fn complete(&mut self, key: (u32, u64), timed_out: bool) {
        if let Some(i) = self.pending.remove(key) {
            self.emit(i, timed_out);
        }
    }

    /// Sends out the event in slot `i`, just taken out of `pending`.
    fn emit(&mut self, i: u32, timed_out: bool) {
        let s = &mut self.slots[i as usize];
        s.gen += 1;
        s.ev.timed_out = timed_out;
        self.bytes -= s.ev.buf.len();
        if matches!(self.last, Some((_, l)) if l == i) {
            self.last = None;
        }
        self.out.push_back(Out::Event(i));
        self.pop_stale();
    }

    /// Whether `e` is live: a pending event has its key and its time. Its own event when
    /// that is still pending; else another one of that key and time (serial reuse).
    fn live(&self, e: &Started) -> bool {
        if e.slot != NO_SLOT && self.slots[e.slot as usize].gen == e.gen {
            return true;
        }
        !self.pending.is_empty()
            && self.pending.get(e.key).is_some_and(|j| {
                let p = &self.slots[j as usize].ev;
                ms(p.sec, p.nanos) == e.t
            })
    }

    /// Drops entries of `order` whose events are complete from its front, so that its front
    /// is always a pending event (`expire` then needs no lookup per record).
    fn pop_stale(&mut self) {
        while let Some(e) = self.order.front() {
            if self.live(e) {
                break;
            }
            self.order.pop_front();
        }
    }

    /// Emits events that are too old in audit time, and the oldest ones beyond the limits.
    pub(super) fn expire(&mut self, now_ms: u64) {
        // The front of `order` is pending (see `pop_stale`).
        while let Some(&Started { key, t, .. }) = self.order.front() {
            let over = self.pending.len() > self.cfg.max_pending || self.bytes > self.cfg.max_bytes;
            if t.saturating_add(self.cfg.timeout_ms) < now_ms || over {
                self.order.pop_front();
                if over {
                    self.forced += 1;
                }
                self.complete(key, true);
                continue;
            }
            break;
        }
    }

    /// Notes serial `s` of `node` (when gaps are tracked), skipping a repeat of the last one.
    ///
    /// A repeat changes nothing: every branch of `track_serial` leaves `s` either at or below
    /// `low` (then it returns at once, `low - s` being below `EPOCH_BACKSTEP`: `low` only
    /// moved up to the end of a run of serials inserted within it) or in `ahead` (where
    /// inserting it again is a no-op and the window is already within bounds).
    #[inline]
    pub(super) fn track(&mut self, node: u32, s: u64, sec: u64, nanos: u32) {
        if self.cfg.gaps && self.tracked != (node, s) {
            self.tracked = (node, s);
            self.track_serial(node, s, sec, nanos);
        }
    }

    fn track_serial(&mut self, node: u32, s: u64, sec: u64, nanos: u32) {
        let g = &mut self.gaps[node as usize];
        if !g.started {
            g.started = true;
            g.low = s;
            return;
        }
        if s <= g.low {
            let behind = g.low - s;
            if behind > EPOCH_BACKSTEP
                || (g.low > u32::MAX as u64 / 2
                    && s < u32::MAX as u64 / 2
                    && behind > u32::MAX as u64 / 2)
            {
                // New epoch: what was missing before it is still missing.
                self.flush_gaps(node, sec, nanos);
                let g = &mut self.gaps[node as usize];
                g.low = s;
                g.ahead.clear();
            }
            return;
        }
        if g.low.checked_add(1) == Some(s) {
            g.low = s;
            // The run right above it, if any, is no longer ahead of a gap.
            if g.ahead.first() == g.low.checked_add(1) {
                if let Some((_, e)) = g.ahead.pop_run() {
                    g.low = e;
                }
            }
            return;
        }
        if s - g.low > EPOCH_BACKSTEP {
            // A jump this large is a different log or boot, not a loss we can count.
            self.flush_gaps(node, sec, nanos);
            let g = &mut self.gaps[node as usize];
            g.low = s;
            g.ahead.clear();
            return;
        }
        g.ahead.insert(s);
        while self.gaps[node as usize].ahead.len() > GAP_WINDOW {
            self.report_first_gap(node, sec, nanos);
        }
    }

    fn report_first_gap(&mut self, node: u32, sec: u64, nanos: u32) {
        let g = &mut self.gaps[node as usize];
        // Below the first run is missing; the run itself is then no longer ahead of a gap.
        let Some((next, end)) = g.ahead.pop_run() else {
            return;
        };
        let (first, last) = (g.low.saturating_add(1), next.saturating_sub(1));
        g.low = end;
        if first <= last {
            self.out.push_back(Out::Lost(Gap {
                node: self.node_names[node as usize].clone(),
                first,
                last,
                sec,
                nanos,
            }));
        }
    }

    fn flush_gaps(&mut self, node: u32, sec: u64, nanos: u32) {
        while !self.gaps[node as usize].ahead.is_empty() {
            self.report_first_gap(node, sec, nanos);
        }
    }

    /// End of input: emits everything still in flight (oldest first) and the remaining gaps.
    pub fn finish(&mut self) {
        while let Some(Started { key, .. }) = self.order.pop_front() {
            self.complete(key, true);
        }
        let mut rest: Vec<_> = self.pending.iter().map(|(k, _)| k).collect();
        rest.sort();
        for key in rest {
            self.complete(key, true);
        }
        for node in 0..self.gaps.len() as u32 {
            self.flush_gaps(node, 0, 0);
        }
    }

    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Whether a new event of `key` whose first line has `len` bytes may be kept outside
    /// (`direct.rs`) without changing what happens: it is not pending already, and counting
    /// it in, the in-flight limits stay unreached (so no limit ever cuts it or, because of
    /// it, another event).
    #[inline]
    pub(super) fn may_keep_outside(&self, key: (u32, u64), len: usize) -> bool {
        self.pending.len() < self.cfg.max_pending
            && self.fits(len)
            && (self.pending.is_empty() || self.pending.get(key).is_none())
    }

    /// Whether `len` more bytes in flight stay within the byte limit.
    #[inline]
    pub(super) fn fits(&self, len: usize) -> bool {
        self.bytes.saturating_add(len) <= self.cfg.max_bytes
    }

    /// An event kept outside (see `may_keep_outside`) ended: `order` gets the entry it would
    /// have had, now stale, where it would be (only when an older pending event keeps it
    /// from being dropped at once).
    #[inline]
    pub(super) fn ended_outside(&mut self, key: (u32, u64), (sec, nanos): (u64, u32)) {
        if !self.order.is_empty() {
            self.order.push_back(Started {
                key,
                t: ms(sec, nanos),
                slot: NO_SLOT,
                gen: 0,
            });
        }
    }

    /// Takes in an event kept outside until now, as if its records had come here: its lines
    /// `buf` and their records `recs` (offsets into `buf`). Nothing started since it did.
    pub(super) fn adopt(&mut self, key: (u32, u64), time: (u64, u32), buf: &[u8], recs: &[Rec]) {
        let i = self.start(key, time, ms(time.0, time.1));
        let ev = &mut self.slots[i as usize].ev;
        ev.buf.extend_from_slice(buf);
        ev.records.extend_from_slice(recs);
        self.bytes += buf.len();
        self.last = Some((key, i));
    }
}

/// Appends `line` (whose header is `h`) to an event's lines `buf` that start at `buf[from]`,
/// and its record, with offsets from there, to `recs`.
#[inline]
pub(super) fn append(
    buf: &mut Vec<u8>,
    recs: &mut Vec<Rec>,
    from: usize,
    h: &Header<'_>,
    line: &[u8],
) {
    let start = buf.len() - from;
    buf.extend_from_slice(line);
    let base = line.as_ptr() as usize;
    let off = |s: &[u8]| {
        let o = (start + (s.as_ptr() as usize - base)) as u32;
        (o, o + s.len() as u32)
    };
    recs.push(Rec {
        start: start as u32,
        end: (start + line.len()) as u32,
        rtype: h.rtype,
        type_tok: off(h.type_token),
        body: off(h.body),
        enriched: h.enriched.map(off),
    });
}

#[cfg(test)]
#[path = "coalesce_tests.rs"]
mod tests;
