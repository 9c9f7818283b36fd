//! The plumbing between the threads of `letrace audit parse`: one queue of batches to render
//! that every renderer takes from, and an output that writes rendered batches in their order.
//!
//! No writer thread: a renderer that finishes the batch whose turn it is writes it (and the
//! ones already waiting after it) itself, the others leave theirs and go back to work. One
//! thread fewer to wake per batch, and a renderer the scheduler slows down never holds the
//! others back (with a queue per renderer handed out in turn, the writer waited for the slow
//! one while the others' queues filled up, and a core stood idle).

use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::batch::{Batch, KEEP_OUT};
use crate::sink::{self, Dest};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking renderer is reported by its join; the state stays usable meanwhile.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Batches waiting for a renderer.
#[derive(Default)]
pub(super) struct Work {
    state: Mutex<WorkState>,
    ready: Condvar,
}

#[derive(Default)]
struct WorkState {
    queue: VecDeque<Batch>,
    /// No more batches will come.
    closed: bool,
    /// The renderers stopped (the output failed, or one of them died): nothing more is taken.
    stopped: bool,
}

impl Work {
    /// Queues `b`; `false` once the renderers have stopped.
    pub fn push(&self, b: Batch) -> bool {
        let mut s = lock(&self.state);
        if s.stopped {
            return false;
        }
        s.queue.push_back(b);
        drop(s);
        self.ready.notify_one();
        true
    }

    /// The end of the input: renderers finish what is queued, then return.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_all();
    }

    fn stop(&self) {
        let mut s = lock(&self.state);
        s.stopped = true;
        s.queue.clear();
        drop(s);
        self.ready.notify_all();
    }

    /// The next batch to render; `None` at the end.
    pub fn pop(&self) -> Option<Batch> {
        let mut s = lock(&self.state);
        loop {
            if s.stopped {
                return None;
            }
            if let Some(b) = s.queue.pop_front() {
                return Some(b);
            }
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Held by each renderer: however it ends (a panic included), the queue stops taking
/// batches, so the reader and the other renderers cannot wait for it for ever.
pub(super) struct StopOnDrop<'a>(pub &'a Work);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Rendered batches on their way out, written in index order.
pub(super) struct Output {
    state: Mutex<OutState>,
}

struct OutState {
    /// The index of the next batch to write.
    next: u64,
    /// Batch `i` waits in `held[i % len]`: there are no more batches than `held` has slots,
    /// and every one below `next` is written, so the waiting ones are in `next..next + len`.
    held: Vec<Option<Batch>>,
    /// Taken by the thread that is writing.
    dest: Option<Dest>,
    /// Output buffers of written batches, the last written on top: a renderer takes the
    /// one most likely still in cache (just read by the write) rather than its batch's own,
    /// which waited in the pool and the queue since it was written.
    bufs: Vec<Vec<u8>>,
    failed: Option<sink::Error>,
}

impl Output {
    pub fn new(dest: Dest, slots: usize) -> Self {
        Output {
            state: Mutex::new(OutState {
                next: 0,
                held: (0..slots).map(|_| None).collect(),
                dest: Some(dest),
                failed: None,
                bufs: Vec::with_capacity(slots),
            }),
        }
    }

    /// Hands over a rendered batch. When it is the next to write and nobody is writing, this
    /// thread writes it and every batch already waiting after it; written batches go back to
    /// the reader through `pool`. `false` once a write has failed.
    pub fn put(&self, b: Batch, pool: &SyncSender<Batch>) -> bool {
        let mut s = lock(&self.state);
        if s.failed.is_some() {
            return false;
        }
        let slots = s.held.len() as u64;
        let i = (b.index % slots) as usize;
        debug_assert!(s.held[i].is_none() && b.index >= s.next);
        s.held[i] = Some(b);
        let Some(mut dest) = s.dest.take() else {
            // Someone is writing: they will find this one when its turn comes.
            return true;
        };
        loop {
            let i = (s.next % slots) as usize;
            let Some(mut b) = s.held[i].take() else {
                break;
            };
            s.next += 1;
            // Written without the lock: the other renderers hand over batches meanwhile.
            drop(s);
            let r = if b.out.is_empty() {
                Ok(())
            } else {
                dest.write_all(&b.out)
            };
            let mut out = std::mem::take(&mut b.out);
            b.recycle();
            // Cannot be full: it has room for every batch there is.
            let _ = pool.try_send(b);
            s = lock(&self.state);
            // At most one per batch there is (`held`'s slots).
            if out.capacity() <= KEEP_OUT && s.bufs.len() < s.held.len() {
                out.clear();
                s.bufs.push(out);
            }
            if let Err(e) = r {
                s.failed = Some(e);
                break;
            }
        }
        s.dest = Some(dest);
        s.failed.is_none()
    }

    /// An output buffer to render a batch into: the last one written, else `own` (the
    /// batch's).
    pub fn buffer(&self, own: Vec<u8>) -> Vec<u8> {
        match lock(&self.state).bufs.pop() {
            Some(b) => b,
            None => own,
        }
    }

    /// After the last batch: the destination back, or the write error.
    pub fn finish(self) -> Result<Dest, sink::Error> {
        let s = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        debug_assert!(s.failed.is_some() || s.held.iter().all(Option::is_none));
        match (s.failed, s.dest) {
            (Some(e), _) => Err(e),
            (None, Some(d)) => Ok(d),
            // Only a renderer that died while writing keeps it: its join reports that.
            (None, None) => Err(sink::Error::Write {
                path: String::new(),
                source: std::io::Error::other("output lost by a crashed renderer"),
            }),
        }
    }
}
