//! The bounded queue between sources and sinks, and the single consumer that numbers events
//! and writes them to every output. Stage order is fixed: (filter, enrich, actions: later
//! issues) then encode and write.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use crate::encode::Encoder;
use crate::event::{Event, SourceKind};
use crate::sink::{self, Dest};

/// Creates the queue. `capacity` bounds memory: a full queue is counted loss, never growth.
pub fn queue(capacity: usize) -> (SyncSender<Event>, Receiver<Event>) {
    std::sync::mpsc::sync_channel(capacity.max(1))
}

/// The queue was closed: the pipeline has gone, the source should end.
#[derive(Debug)]
pub struct Closed;

/// A source's handle on the queue. It never blocks on ordinary events: when the queue is full
/// the event is counted, and the count is sent as a `LOST` event as soon as there is room
/// (and, at the latest, when the source finishes).
pub struct Emitter {
    tx: SyncSender<Event>,
    source: SourceKind,
    dropped: u64,
}

impl Emitter {
    pub fn new(tx: SyncSender<Event>, source: SourceKind) -> Self {
        Emitter {
            tx,
            source,
            dropped: 0,
        }
    }

    pub fn emit(&mut self, ev: Event) -> Result<(), Closed> {
        if ev.is_lost() {
            // Loss reports carry counts we must not lose in turn: wait for room.
            self.flush_dropped()?;
            return self.tx.send(ev).map_err(|_| Closed);
        }
        if self.dropped > 0 {
            match self.tx.try_send(self.lost_event()) {
                Ok(()) => self.dropped = 0,
                Err(TrySendError::Full(_)) => {
                    self.dropped += 1;
                    return Ok(());
                }
                Err(TrySendError::Disconnected(_)) => return Err(Closed),
            }
        }
        match self.tx.try_send(ev) {
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
        self.tx.send(ev).map_err(|_| Closed)
    }

    /// Sends any pending loss count, waiting for room.
    pub fn flush_dropped(&mut self) -> Result<(), Closed> {
        if self.dropped > 0 {
            self.tx.send(self.lost_event()).map_err(|_| Closed)?;
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
    next_seq: u64,
    pub totals: Totals,
    dirty: bool,
}

impl Pipeline {
    pub fn new(outputs: Vec<Output>, host: &str) -> Self {
        Pipeline {
            outputs,
            host: Arc::from(host),
            next_seq: 1,
            totals: Totals::default(),
            dirty: true,
        }
    }

    /// Numbers `ev`, writes it to every output. `LOST` events count toward `lost`, not `events`.
    pub fn handle(&mut self, mut ev: Event) -> Result<(), sink::Error> {
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
            out.write(&ev)?;
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
