//! The reader's shortcut for the usual event: its records one after the other and complete
//! (`SYSCALL` ... `EOE`, or a user-space record alone), no other serial in between. Its lines
//! go straight into the batch being filled, where `State::drain` would have copied them from
//! a coalescer slot: one copy of every line fewer, and no slot, index, order or output-queue
//! entry for the event.
//!
//! The output stays the coalescer's, byte for byte, because the shortcut is only taken where
//! the coalescer's decisions cannot depend on the event being in it: the event starts when
//! counting it in leaves the in-flight limits unreached, so no limit cuts it or another
//! event because of it; its records all have its time, so neither it nor anything else times
//! out while it is open (audit time stands still); the coalescer's own outputs at its first
//! record are drained before its lines are written (they come out before it, as they would);
//! and whatever else comes (another serial, a stamp of another time, a limit) first hands the
//! event to the coalescer as if it had always been there (`spill`).

use super::{Report, State, BATCH, BATCH_BYTES};
use crate::audit::batch::InPlace;
use crate::audit::coalesce::{ends_alone, ms};
use crate::audit::record::{Header, StampMemo, EOE, PROCTITLE, SYSCALL};

/// An event being written in place into `State::batch`.
pub(super) struct Open {
    key: (u32, u64),
    sec: u64,
    nanos: u32,
    /// Where its lines and records start in the batch.
    pub at: (usize, usize),
    /// It has a SYSCALL record (a PROCTITLE then ends it).
    syscall: bool,
}

/// An event written in place goes to the coalescer beyond this size (the batch must not grow
/// with a huge event; the coalescer cuts those).
const IN_PLACE_MAX: usize = 64 << 10;

impl super::Sink for State<'_> {
    fn stamps(&mut self) -> &mut StampMemo {
        &mut self.co.stamps
    }

    #[inline]
    fn record(&mut self, h: &Header<'_>, line: &[u8], rep: &mut Report) {
        let node = self.co.node_id(h.node);
        let key = (node, h.serial);
        if let Some(o) = &mut self.open {
            if o.key == key && (o.sec, o.nanos) == (h.sec, h.nanos) {
                // `track` would see its serial again, `expire` the same time and counts:
                // both would do nothing.
                if h.rtype == EOE {
                    self.close(rep);
                    return;
                }
                let size = self.batch.bytes() - o.at.0 + line.len();
                if size <= IN_PLACE_MAX && self.co.fits(size) {
                    self.batch.push_line(o.at, h, line);
                    o.syscall |= h.rtype == SYSCALL;
                    if h.rtype == PROCTITLE && o.syscall {
                        self.close(rep);
                    }
                    return;
                }
            }
            self.spill();
        }
        if self.direct
            && h.rtype != EOE
            && line.len() <= IN_PLACE_MAX
            && self.co.may_keep_outside(key, line.len())
        {
            self.start(key, h, line, rep);
            return;
        }
        self.co.push_at(node, h, line);
    }
}

impl State<'_> {
    /// Starts writing the event of `h` in place: what the coalescer does at any record
    /// (serials, timeouts) in the order its outputs would come relative to this event.
    fn start(&mut self, key: (u32, u64), h: &Header<'_>, line: &[u8], rep: &mut Report) {
        self.co.track(key.0, h.serial, h.sec, h.nanos);
        let alone = ends_alone(h.rtype);
        if !alone {
            // Events that time out now come out before this one, which ends later.
            self.co.expire(ms(h.sec, h.nanos));
        }
        if self.co.has_output() {
            self.drain(rep);
        }
        let at = self.batch.end();
        self.batch.push_line(at, h, line);
        self.open = Some(Open {
            key,
            sec: h.sec,
            nanos: h.nanos,
            at,
            syscall: h.rtype == SYSCALL,
        });
        if alone {
            // Out at once, before the events that time out now (the coalescer's order).
            self.close(rep);
            self.co.expire(ms(h.sec, h.nanos));
        }
    }

    /// The event written in place is complete: it takes its place in the output.
    fn close(&mut self, rep: &mut Report) {
        let Some(o) = self.open.take() else {
            return;
        };
        let ev = InPlace {
            node: self.co.node_name(o.key.0),
            serial: o.key.1,
            sec: o.sec,
            nanos: o.nanos,
        };
        rep.events += 1;
        self.in_place += 1;
        self.batch.push_in_place(o.at, ev, self.seq);
        self.seq += 1;
        self.co.ended_outside(o.key, (o.sec, o.nanos));
        if self.batch.len() >= BATCH || self.batch.bytes() >= BATCH_BYTES {
            self.flush_batch();
        }
    }

    /// Hands the event written in place, if any, to the coalescer.
    pub(super) fn spill(&mut self) {
        let Some(o) = self.open.take() else {
            return;
        };
        let (buf, recs) = self.batch.tail(o.at);
        self.co.adopt(o.key, (o.sec, o.nanos), buf, recs);
        self.batch.truncate(o.at);
    }

    /// No more events in place (the output has gone: batches are dropped from now on).
    pub(super) fn stop_direct(&mut self) {
        self.spill();
        self.direct = false;
    }
}
