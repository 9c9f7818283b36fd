//! The bounded queue between sources and sinks, and the single consumer that numbers events
//! and writes them to every output. Stage order is fixed: (filter, enrich, actions: later
//! issues) then encode and write.

use std::collections::BTreeMap;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;

use crate::encode::Encoder;
use crate::event::{Event, SourceKind};
use crate::sink::{self, Dest};

mod queue;
pub use queue::*;

/// The queue was closed: the pipeline has gone, the source should end.
#[derive(Debug)]
pub struct Closed;

/// A source's handle on the queue. It never blocks on ordinary events: when the queue is full
/// the event is counted, and the count is sent as a `LOST` event as soon as there is room
/// (and, at the latest, when the source finishes).
pub struct Emitter {
    tx: Sender,
    source: SourceKind,
    dropped: u64,
}

impl Emitter {
    pub fn new(tx: Sender, source: SourceKind) -> Self {
        Emitter {
            tx,
            source,
            dropped: 0,
        }
    }

    /// Hands over one message whose room is already reserved.
    fn put(&self, m: Msg) -> Result<(), Closed> {
        let n = m.len();
        match self.tx.tx.send(m) {
            Ok(()) => Ok(()),
            Err(_) => {
                self.tx.gate.release(n);
                Err(Closed)
            }
        }
    }

    /// Sends one event now if there is room, without waiting.
    fn try_put(&self, ev: Event) -> Result<(), TrySendError<()>> {
        if !self.tx.gate.try_reserve(1) {
            return Err(TrySendError::Full(()));
        }
        self.tx.tx.try_send(Msg::One(ev)).map_err(|e| {
            self.tx.gate.release(1);
            match e {
                TrySendError::Full(_) => TrySendError::Full(()),
                TrySendError::Disconnected(_) => TrySendError::Disconnected(()),
            }
        })
    }

    /// Sends one event, waiting for room.
    fn put_wait(&self, ev: Event) -> Result<(), Closed> {
        self.tx.gate.reserve_wait(1)?;
        self.put(Msg::One(ev))
    }

    pub fn emit(&mut self, ev: Event) -> Result<(), Closed> {
        if ev.is_lost() {
            // Loss reports carry counts we must not lose in turn: wait for room.
            self.flush_dropped()?;
            return self.put_wait(ev);
        }
        if self.dropped > 0 {
            match self.try_put(self.lost_event()) {
                Ok(()) => self.dropped = 0,
                Err(TrySendError::Full(_)) => {
                    self.dropped += 1;
                    return Ok(());
                }
                Err(TrySendError::Disconnected(_)) => return Err(Closed),
            }
        }
        match self.try_put(ev) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(Closed),
        }
    }

    /// Sends `ev`, waiting for room. For sources that can be paused without losing anything
    /// (a file being read, a FIFO whose writer then waits), and for sources whose kernel
    /// buffer keeps and counts, per kind, what they cannot pass on yet (the bpf ring buffer):
    /// waiting moves the loss to where it is counted in detail.
    pub fn emit_wait(&mut self, ev: Event) -> Result<(), Closed> {
        self.flush_dropped()?;
        self.put_wait(ev)
    }

    /// Sends every event of `evs` (leaving it empty), in order, as one batch, waiting for room:
    /// `emit_wait` for a source with many events at once. Batches larger than the queue are
    /// split so that each fits.
    pub fn emit_batch_wait(&mut self, evs: &mut Vec<Event>) -> Result<(), Closed> {
        self.flush_dropped()?;
        let cap = self.tx.gate.cap;
        while evs.len() > cap {
            let rest = evs.split_off(cap);
            let head = std::mem::replace(evs, rest);
            self.tx.gate.reserve_wait(head.len())?;
            self.put(Msg::Many(head))?;
        }
        if evs.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(evs);
        self.tx.gate.reserve_wait(batch.len())?;
        self.put(Msg::Many(batch))?;
        let spent = self
            .tx
            .gate
            .spent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        if let Some(mut v) = spent {
            // Dropped here, on the thread that built them.
            v.clear();
            *evs = v;
        }
        Ok(())
    }

    /// True when every output is JSON lines, so that this source may encode its events itself
    /// and send them with `emit_encoded_wait` (one less thread touching every event).
    pub fn encoded(&self) -> bool {
        self.tx.gate.json
    }

    /// Sends the lines in `enc` (leaving it empty, its buffers recycled), waiting for room.
    pub fn emit_encoded_wait(&mut self, enc: &mut Encoded) -> Result<(), Closed> {
        self.flush_dropped()?;
        if enc.is_empty() {
            return Ok(());
        }
        let next = self
            .tx
            .gate
            .spent_encoded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            // Sized like this batch: growing by doubling would copy and fault in pages.
            .unwrap_or_else(|| Encoded::with_capacity(enc.bytes(), enc.len()));
        let batch = std::mem::replace(enc, next);
        // A batch larger than the queue fits an empty queue (Gate::try_reserve).
        self.tx.gate.reserve_wait(batch.len())?;
        self.put(Msg::Encoded(batch))
    }

    /// Sends any pending loss count, waiting for room.
    pub fn flush_dropped(&mut self) -> Result<(), Closed> {
        if self.dropped > 0 {
            self.put_wait(self.lost_event())?;
            self.dropped = 0;
        }
        Ok(())
    }

    fn lost_event(&self) -> Event {
        Event::lost(self.source, self.dropped, true, "letrace queue full")
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        let _ = self.flush_dropped();
    }
}

/// One output: an encoder and a destination, with a write buffer between them.
pub struct Output {
    enc: Box<dyn Encoder>,
    dest: Dest,
    buf: Vec<u8>,
}

const FLUSH_AT: usize = 256 * 1024;

impl Output {
    pub fn new(enc: Box<dyn Encoder>, dest: Dest) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        enc.header(&mut buf);
        Output { enc, dest, buf }
    }

    pub fn write(&mut self, ev: &Event) -> Result<(), sink::Error> {
        self.enc.encode(ev, &mut self.buf);
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Lines encoded by their source (`Encoded`), completed with `seq` (from `seq` on) and
    /// `host`.
    fn write_lines(
        &mut self,
        e: &Encoded,
        range: std::ops::Range<usize>,
        mut seq: u64,
        host_part: &[u8],
    ) -> Result<(), sink::Error> {
        for i in range {
            let (head, tail) = e.line(i);
            crate::encode::json::stitch(head, seq, host_part, tail, &mut self.buf);
            seq += 1;
            if self.buf.len() >= FLUSH_AT {
                self.flush()?;
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), sink::Error> {
        if !self.buf.is_empty() {
            self.dest.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes the footer (closing the XML root) and flushes.
    pub fn finish(&mut self) -> Result<(), sink::Error> {
        self.enc.footer(&mut self.buf);
        self.flush()
    }

    pub fn name(&self) -> &str {
        self.dest.name()
    }

    /// JSON lines (see `queue_for`).
    pub fn is_json(&self) -> bool {
        self.enc.is_json()
    }
}

/// Per-source totals, printed at exit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub events: BTreeMap<SourceKind, u64>,
    pub lost: BTreeMap<SourceKind, u64>,
}

impl Totals {
    pub fn all_events(&self) -> u64 {
        self.events.values().sum()
    }
    pub fn all_lost(&self) -> u64 {
        self.lost.values().sum()
    }

    /// `letrace: 1234 events (inotify 1234), 0 lost`
    pub fn summary(&self) -> String {
        let per: Vec<String> = self
            .events
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let lost: Vec<String> = self.lost.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let mut s = format!("letrace: {} events", self.all_events());
        if !per.is_empty() {
            s += &format!(" ({})", per.join(", "));
        }
        s += &format!(", {} lost", self.all_lost());
        if !lost.is_empty() {
            s += &format!(" ({})", lost.join(", "));
        }
        s
    }
}

/// The consumer side: numbers events, writes them everywhere, keeps totals.
pub struct Pipeline {
    outputs: Vec<Output>,
    host: Arc<str>,
    /// `,"host":"…"` for lines sources encoded.
    host_part: Vec<u8>,
    next_seq: u64,
    pub totals: Totals,
    dirty: bool,
}

impl Pipeline {
    pub fn new(outputs: Vec<Output>, host: &str) -> Self {
        Pipeline {
            outputs,
            host: Arc::from(host),
            host_part: {
                let mut v = Vec::new();
                crate::encode::json::host(host, &mut v);
                v
            },
            next_seq: 1,
            totals: Totals::default(),
            dirty: true,
        }
    }

    /// Numbers `ev`, writes it to every output. `LOST` events count toward `lost`, not `events`.
    pub fn handle(&mut self, mut ev: Event) -> Result<(), sink::Error> {
        self.handle_mut(&mut ev)
    }

    /// `handle` for an event the caller keeps (a batch to be recycled).
    pub fn handle_mut(&mut self, ev: &mut Event) -> Result<(), sink::Error> {
        ev.seq = self.next_seq;
        self.next_seq += 1;
        if ev.host.is_empty() {
            ev.host = self.host.clone();
        }
        match ev.lost {
            Some(n) => *self.totals.lost.entry(ev.source).or_default() += n,
            None => *self.totals.events.entry(ev.source).or_default() += 1,
        }
        for out in &mut self.outputs {
            out.write(ev)?;
        }
        self.dirty = true;
        Ok(())
    }

    /// Writes the `i`th line of `e` with its `seq` and this host (every output is JSON).
    pub fn handle_encoded(&mut self, e: &Encoded, i: usize) -> Result<(), sink::Error> {
        self.handle_encoded_lines(e, i..i + 1)
    }

    /// `handle_encoded` for the lines `range` of `e`, at once: one count, and each output
    /// copies the lines in one loop.
    pub fn handle_encoded_lines(
        &mut self,
        e: &Encoded,
        range: std::ops::Range<usize>,
    ) -> Result<(), sink::Error> {
        if range.is_empty() {
            return Ok(());
        }
        let seq = self.next_seq;
        self.next_seq += range.len() as u64;
        if let Some(src) = e.source {
            *self.totals.events.entry(src).or_default() += range.len() as u64;
        }
        for out in &mut self.outputs {
            out.write_lines(e, range.clone(), seq, &self.host_part)?;
        }
        self.dirty = true;
        Ok(())
    }

    /// Pushes buffered bytes out; called when the queue goes idle so `tail -f` keeps up.
    pub fn flush(&mut self) -> Result<(), sink::Error> {
        if self.dirty {
            for out in &mut self.outputs {
                out.flush()?;
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Closes documents and flushes every output; reports the first failure after trying all.
    pub fn finish(&mut self) -> Result<(), sink::Error> {
        let mut first = None;
        for out in &mut self.outputs {
            if let Err(e) = out.finish() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_becomes_one_lost_event_with_the_exact_count() {
        let (tx, rx) = queue(2);
        let mut em = Emitter::new(tx, SourceKind::Inotify);
        for i in 0..10u64 {
            let mut ev = Event::new(SourceKind::Inotify, "IN_CREATE");
            ev.seq = i;
            em.emit(ev).unwrap();
        }
        // Two fit; eight were counted. Draining makes room for the LOST report.
        let first: Vec<u64> = rx.try_iter().map(|e| e.seq).collect();
        assert_eq!(first, [0, 1]);
        em.emit(Event::new(SourceKind::Inotify, "IN_DELETE"))
            .unwrap();
        let next: Vec<Event> = rx.try_iter().collect();
        assert_eq!(next.len(), 2);
        assert_eq!(next[0].lost, Some(8));
        assert_eq!(next[1].kind, "IN_DELETE");
    }

    #[test]
    fn emit_wait_waits_for_room_instead_of_dropping() {
        let (tx, rx) = queue(1);
        let mut em = Emitter::new(tx, SourceKind::Input);
        let t = std::thread::spawn(move || {
            for _ in 0..100 {
                em.emit_wait(Event::new(SourceKind::Input, "REL_X"))
                    .unwrap();
            }
        });
        let got: Vec<Event> = rx.iter().collect();
        t.join().unwrap();
        assert_eq!(got.len(), 100);
        assert!(got.iter().all(|e| !e.is_lost()));
    }

    /// `--queue-size` counts events, not messages: a queued batch takes its length in room,
    /// so single events beyond the size are counted as loss, and batches larger than the
    /// queue arrive whole and in order (split to fit), waiting for room instead of dropping.
    #[test]
    fn batches_count_as_their_events_in_the_queue_size() {
        let (tx, rx) = queue(4);
        let mut batcher = Emitter::new(tx.clone(), SourceKind::Bpf);
        let mut single = Emitter::new(tx, SourceKind::Inotify);
        let mut b: Vec<Event> = (0..3)
            .map(|i| {
                let mut e = Event::new(SourceKind::Bpf, "FILE_OPEN");
                e.seq = i;
                e
            })
            .collect();
        batcher.emit_batch_wait(&mut b).unwrap();
        assert!(b.is_empty());
        for _ in 0..3 {
            single
                .emit(Event::new(SourceKind::Inotify, "IN_OPEN"))
                .unwrap();
        }
        // 3 + 1 fit in 4; the other two singles were counted.
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got.len(), 4);
        assert_eq!(single.dropped, 2);
        // The count goes out when the source ends, ahead of the next batch.
        drop(single);
        let t = std::thread::spawn(move || {
            let mut big: Vec<Event> = (0..10)
                .map(|i| {
                    let mut e = Event::new(SourceKind::Bpf, "FILE_OPEN");
                    e.seq = 100 + i;
                    e
                })
                .collect();
            batcher.emit_batch_wait(&mut big).unwrap();
        });
        let rest: Vec<Event> = rx.iter().collect();
        t.join().unwrap();
        assert_eq!(rest[0].lost, Some(2));
        let seqs: Vec<u64> = rest[1..].iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (100..110).collect::<Vec<_>>());
    }

    /// Lines a source encoded, numbered and completed by the pipeline, are the lines the
    /// pipeline writes for the same events sent as events.
    #[test]
    fn encoded_lines_are_written_as_the_events_would_be() {
        let evs = crate::encode::golden_events();
        let dir = tempfile::tempdir().unwrap();
        let write = |encoded: bool| {
            let path = dir.path().join(format!("{encoded}.jsonl"));
            let out = Output::new(
                crate::encode::Format::Json.encoder(false),
                Dest::create_file(path.to_str().unwrap()).unwrap(),
            );
            assert!(out.is_json());
            let mut pipe = Pipeline::new(vec![out], "h\\ost");
            // Room for everything: the consumer runs after the producer, on this thread.
            let (tx, rx) = queue_for(64, true);
            let mut em = Emitter::new(tx, SourceKind::Bpf);
            assert!(em.encoded());
            let mut lines = Encoded::default();
            for ev in evs.clone() {
                let mut ev = ev;
                ev.seq = 0;
                ev.host = Arc::from("");
                if encoded && !ev.is_lost() {
                    lines.push(&ev);
                } else {
                    em.emit_encoded_wait(&mut lines).unwrap();
                    em.emit_wait(ev).unwrap();
                }
            }
            em.emit_encoded_wait(&mut lines).unwrap();
            drop(em);
            loop {
                match rx.recv_timeout(std::time::Duration::from_secs(5)) {
                    Ok(Msg::Encoded(e)) => {
                        pipe.handle_encoded_lines(&e, 0..e.len()).unwrap();
                        rx.recycle_encoded(e);
                    }
                    Ok(m) => {
                        for ev in m.into_events() {
                            pipe.handle(ev).unwrap();
                        }
                    }
                    Err(_) => break,
                }
            }
            pipe.finish().unwrap();
            (std::fs::read_to_string(path).unwrap(), pipe.totals)
        };
        let (plain, t1) = write(false);
        let (enc, t2) = write(true);
        assert_eq!(plain.lines().count(), evs.len());
        assert_eq!(enc, plain);
        assert_eq!(t1, t2);
    }

    #[test]
    fn waiting_sender_ends_when_the_consumer_goes() {
        let (tx, rx) = queue(1);
        let mut em = Emitter::new(tx, SourceKind::Bpf);
        em.emit_wait(Event::new(SourceKind::Bpf, "A")).unwrap();
        let t = std::thread::spawn(move || em.emit_wait(Event::new(SourceKind::Bpf, "B")));
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(rx);
        assert!(t.join().unwrap().is_err());
    }

    #[test]
    fn pending_loss_is_sent_when_the_source_ends() {
        let (tx, rx) = queue(1);
        let mut em = Emitter::new(tx, SourceKind::Inotify);
        for _ in 0..5 {
            em.emit(Event::new(SourceKind::Inotify, "IN_OPEN")).unwrap();
        }
        let t = std::thread::spawn(move || drop(em));
        let got: Vec<Event> = rx.iter().collect();
        t.join().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].lost, Some(4));
    }
}
