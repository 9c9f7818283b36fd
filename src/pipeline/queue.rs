//! The bounded queue between sources and the pipeline: messages of one event, a batch, or
//! lines a source encoded itself; a gate counts queued events against `--queue-size` and
//! recycles spent batches to the producers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::Closed;
use crate::event::{Event, SourceKind};
/// What travels through the queue: one event, or a batch from a busy source (one hand-over,
/// and at most one wake-up of the consumer, for many events).
#[derive(Debug)]
pub enum Msg {
    One(Event),
    Many(Vec<Event>),
    /// Events the source encoded itself (only when every output is JSON lines).
    Encoded(Encoded),
}

/// JSON lines encoded by a source on its own thread (`encode::json::split_line`), waiting
/// for the `seq` and `host` only the pipeline knows. Never LOST events: those travel as
/// events, so their counts are totalled.
#[derive(Debug, Default)]
pub struct Encoded {
    pub source: Option<SourceKind>,
    pub buf: Vec<u8>,
    /// Per line: (offset of the split, offset of the end) in `buf`.
    pub marks: Vec<(u32, u32)>,
}

impl Encoded {
    /// Room for `lines` lines of `bytes` bytes in all.
    pub fn with_capacity(bytes: usize, lines: usize) -> Self {
        Encoded {
            source: None,
            buf: Vec::with_capacity(bytes),
            marks: Vec::with_capacity(lines),
        }
    }
    /// Appends `ev` (from `source`, not yet numbered, no host of its own).
    pub fn push(&mut self, ev: &Event) {
        debug_assert!(!ev.is_lost() && ev.host.is_empty());
        // One batch, one source: the pipeline credits the whole batch to it.
        debug_assert!(self.source.is_none_or(|s| s == ev.source));
        self.source = Some(ev.source);
        let split = crate::encode::json::split_line(ev, &mut self.buf);
        self.marks.push((split as u32, self.buf.len() as u32));
    }
    /// Appends a line `write` encodes itself (as `split_line` would, newline included),
    /// returning the split offset in the buffer it was given.
    pub fn push_with(&mut self, source: SourceKind, write: impl FnOnce(&mut Vec<u8>) -> usize) {
        debug_assert!(self.source.is_none_or(|s| s == source));
        self.source = Some(source);
        let split = write(&mut self.buf);
        self.marks.push((split as u32, self.buf.len() as u32));
    }
    pub fn len(&self) -> usize {
        self.marks.len()
    }
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }
    fn clear(&mut self) {
        self.source = None;
        self.buf.clear();
        self.marks.clear();
    }
    /// Line `i`: the part before `seq` and the part after `host`.
    pub(super) fn line(&self, i: usize) -> (&[u8], &[u8]) {
        let start = if i == 0 {
            0
        } else {
            self.marks[i - 1].1 as usize
        };
        let (split, end) = self.marks[i];
        (
            &self.buf[start..split as usize],
            &self.buf[split as usize..end as usize],
        )
    }
}

impl Msg {
    pub fn len(&self) -> usize {
        match self {
            Msg::One(_) => 1,
            Msg::Many(v) => v.len(),
            Msg::Encoded(e) => e.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The events, in order.
    /// The events, in order (none for `Encoded`).
    pub fn into_events(self) -> MsgIter {
        match self {
            Msg::One(ev) => MsgIter::One(Some(ev)),
            Msg::Many(v) => MsgIter::Many(v.into_iter()),
            Msg::Encoded(_) => MsgIter::One(None),
        }
    }
}

pub enum MsgIter {
    One(Option<Event>),
    Many(std::vec::IntoIter<Event>),
}

impl Iterator for MsgIter {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        match self {
            MsgIter::One(e) => e.take(),
            MsgIter::Many(it) => it.next(),
        }
    }
}

/// Counts the events in the queue, whatever the messages carrying them: `--queue-size` stays a
/// number of events, and batches cannot make the queue hold more than that.
#[derive(Debug)]
pub(super) struct Gate {
    pub(super) queued: AtomicUsize,
    pub(super) cap: usize,
    /// A blocked `emit_wait`/`emit_batch_wait` waits here for the consumer to make room.
    pub(super) waiting: AtomicBool,
    /// The consumer has gone: waiting for room would be forever.
    pub(super) closed: AtomicBool,
    /// Written batches on their way back to their source, which drops their events and
    /// refills the vector: memory is then freed and reused by the thread that allocated it
    /// (cheaper, and in its cache) rather than freed across threads.
    pub(super) spent: Mutex<Vec<Vec<Event>>>,
    /// The same for encoded batches' buffers.
    pub(super) spent_encoded: Mutex<Vec<Encoded>>,
    /// Every output is JSON lines: sources may send `Msg::Encoded`.
    pub(super) json: bool,
    pub(super) lock: Mutex<()>,
    pub(super) room: Condvar,
}

impl Gate {
    /// Takes room for `n` events. An oversized batch fits an empty queue, so it cannot wait
    /// forever.
    pub(super) fn try_reserve(&self, n: usize) -> bool {
        let mut cur = self.queued.load(Ordering::Acquire);
        loop {
            if cur != 0 && cur + n > self.cap {
                return false;
            }
            match self.queued.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    pub(super) fn reserve_wait(&self, n: usize) -> Result<(), Closed> {
        while !self.try_reserve(n) {
            let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.waiting.store(true, Ordering::SeqCst);
            if self.try_reserve(n) {
                break;
            }
            if self.closed.load(Ordering::SeqCst) {
                return Err(Closed);
            }
            // The timeout only guards against a missed wake-up; `release` wakes us.
            let _ = self.room.wait_timeout(guard, Duration::from_millis(20));
        }
        Ok(())
    }

    pub(super) fn release(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) {
            let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.waiting.store(false, Ordering::SeqCst);
            self.room.notify_all();
        }
    }
}

/// The producers' end of the queue; cloned for every source.
#[derive(Clone, Debug)]
pub struct Sender {
    pub(super) tx: SyncSender<Msg>,
    pub(super) gate: Arc<Gate>,
}

/// The consumer's end. A message's events leave the queue's count as it is taken.
pub struct QueueReceiver {
    rx: Receiver<Msg>,
    pub(super) gate: Arc<Gate>,
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        self.gate.closed.store(true, Ordering::SeqCst);
        let _g = self.gate.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.gate.room.notify_all();
    }
}

impl QueueReceiver {
    /// The next message; its events leave the queue's count as it is taken.
    pub fn recv_timeout(&self, d: Duration) -> Result<Msg, std::sync::mpsc::RecvTimeoutError> {
        let m = self.rx.recv_timeout(d)?;
        self.gate.release(m.len());
        Ok(m)
    }

    /// Every event queued now, in order. For queues made by `queue` (no `Encoded` lines: a
    /// `queue_for(_, true)` consumer must take messages with `recv_timeout`).
    pub fn try_iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.rx.try_recv().ok()).flat_map(|m| self.taken(m))
    }

    /// The events of a message taken by `try_iter` or `iter`, released from the count.
    fn taken(&self, m: Msg) -> impl Iterator<Item = Event> {
        debug_assert!(
            !matches!(m, Msg::Encoded(_)),
            "encoded lines: use recv_timeout"
        );
        self.gate.release(m.len());
        m.into_events()
    }

    /// Hands a written batch back to the sources (see `Gate::spent`); bounded, the rest are
    /// dropped here.
    pub fn recycle(&self, v: Vec<Event>) {
        let mut spent = self.gate.spent.lock().unwrap_or_else(|p| p.into_inner());
        if spent.len() < SPENT_MAX {
            spent.push(v);
        }
    }

    /// Hands a written encoded batch back to the sources, for its buffers.
    pub fn recycle_encoded(&self, mut e: Encoded) {
        e.clear();
        let mut spent = self
            .gate
            .spent_encoded
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if spent.len() < SPENT_MAX {
            spent.push(e);
        }
    }

    /// Every event until all senders have gone (as `try_iter`: not for encoded lines).
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.rx.recv().ok()).flat_map(|m| self.taken(m))
    }
}

/// Batches kept for recycling at most (each holds at most one batch of events).
const SPENT_MAX: usize = 16;

/// Creates the queue. `capacity` (events) bounds memory: a full queue is counted loss, never
/// growth.
pub fn queue(capacity: usize) -> (Sender, QueueReceiver) {
    queue_for(capacity, false)
}

/// `queue`, saying whether every output is JSON lines (then sources may encode events on
/// their own threads: `Emitter::encoded`).
pub fn queue_for(capacity: usize, json: bool) -> (Sender, QueueReceiver) {
    let cap = capacity.max(1);
    // Every message holds at least one counted event, so the channel never has more than
    // `cap` messages once the gate has let them in.
    let (tx, rx) = std::sync::mpsc::sync_channel(cap);
    let gate = Arc::new(Gate {
        queued: AtomicUsize::new(0),
        cap,
        waiting: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        spent: Mutex::new(Vec::new()),
        spent_encoded: Mutex::new(Vec::new()),
        json,
        lock: Mutex::new(()),
        room: Condvar::new(),
    });
    (
        Sender {
            tx,
            gate: gate.clone(),
        },
        QueueReceiver { rx, gate },
    )
}
