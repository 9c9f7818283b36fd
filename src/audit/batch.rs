//! A batch of coalesced events on its way from the reader to a renderer. The events travel
//! whole (their lines are not copied again), and come back emptied with the batch for the
//! reader to reuse: no allocation per event, none freed on another thread.

use super::coalesce::{EventRef, RawEvent};
use crate::event::Event;

/// A raw event of a batch and its number.
pub(super) struct Meta {
    pub raw: RawEvent,
    pub seq: u64,
}

/// An event as it goes to a renderer: still raw (rendered there), or already built (LOST).
pub(super) enum Item {
    Raw(Meta),
    Ready(Box<Event>),
}

#[derive(Default)]
pub(super) struct Batch {
    pub items: Vec<Item>,
    /// The raw events' line bytes.
    bytes: usize,
    /// Emptied events, back for the reader's pool.
    pub spare: Vec<RawEvent>,
    /// Its place in the output: batches are numbered as the reader hands them out.
    pub index: u64,
    /// The rendered bytes, filled by a renderer, written by the writer.
    pub out: Vec<u8>,
}

/// An event whose line buffer grew beyond this is dropped rather than kept for reuse (one
/// huge event must not pin megabytes for ever).
const POOLED_BYTES: usize = 16 << 10;
/// A recycled batch's rendered bytes are shrunk to this.
const KEEP_OUT: usize = 4 << 20;

impl Batch {
    pub fn with_capacity(events: usize) -> Self {
        Batch {
            items: Vec::with_capacity(events),
            spare: Vec::with_capacity(events),
            ..Batch::default()
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `ev` as event number `seq`.
    pub fn push_raw(&mut self, ev: RawEvent, seq: u64) {
        self.bytes += ev.buf.len();
        self.items.push(Item::Raw(Meta { raw: ev, seq }));
    }

    pub fn push_ready(&mut self, ev: Event) {
        self.items.push(Item::Ready(Box::new(ev)));
    }

    /// Empties it for reuse: its raw events, emptied, go to `spare`.
    pub fn recycle(&mut self) {
        for item in self.items.drain(..) {
            if let Item::Raw(Meta { mut raw, .. }) = item {
                if raw.buf.capacity() <= POOLED_BYTES && self.spare.len() < self.spare.capacity() {
                    raw.clear();
                    self.spare.push(raw);
                }
            }
        }
        self.bytes = 0;
        self.out.clear();
        self.out.shrink_to(KEEP_OUT);
    }

    /// A raw item's event, borrowed from the batch.
    pub fn event<'a>(&'a self, m: &'a Meta) -> EventRef<'a> {
        m.raw.view()
    }
}
