//! `letrace audit parse`: files (or stdin) -> lines -> records -> coalesced events -> output.
//!
//! Threads: one reads, parses headers and coalesces; workers render batches of events (JSON
//! through a fast path, other formats through the shared encoders) and write them in order.
//! A fixed number of batches circulates, so memory stays bounded whatever the input.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::batch::{Batch, Item};
use super::coalesce::{self, Coalescer, Next, Output as CoOut};
use super::event::Builder;
use super::gap;
use super::lines::{msg_finder, read_lines, Line, Scanned};
use super::pipe::{Output, StopOnDrop, Work};
use super::record::{self, Header, LineError, StampMemo};
use super::Error;
use crate::encode::Format;
use crate::sink::{self, Dest};

mod direct;
#[cfg(test)]
mod direct_tests;

/// One input: a path, a file already open (named for messages), or standard input (`-`).
/// The CLI opens every input before it creates the output and hands over that open file:
/// opening a named FIFO twice would lose what the writer sent to the first open and then
/// wait forever for a second writer.
#[derive(Debug)]
pub enum Input {
    Stdin,
    Path(String),
    File(String, File),
}

pub struct Config {
    pub inputs: Vec<Input>,
    pub coalesce: coalesce::Config,
    /// Bad lines printed on stderr before only counting them.
    pub max_reports: u64,
    /// Show a progress line on stderr (only sensible when it is a terminal).
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub lines: u64,
    pub records: u64,
    pub events: u64,
    /// Serials reported lost (sum of LOST counts).
    pub lost: u64,
    /// Lines rejected or repaired (fused records); each reported on stderr up to a limit.
    pub bad_lines: u64,
    /// The reader of the output went away (`| head`).
    pub broken_pipe: bool,
}

/// Longest line kept (the read buffer's size); the kernel never writes records near it.
pub(super) const MAX_LINE: usize = 4 << 20;
/// A batch goes to a worker at this many events or raw bytes, whichever comes first (the
/// byte bound keeps batches of huge events small, so memory stays bounded). Small batches
/// keep a batch in cache between the reader and its renderer and the threads in step
/// (measured: 128 used less memory and wall time than 512).
const BATCH: usize = 128;
const BATCH_BYTES: usize = 128 << 10;
/// Batches in circulation per worker (being filled, queued, rendered, waiting for their
/// turn to be written): the whole pipeline's memory bound, and its slack for a thread that
/// the scheduler pauses on a busy machine.
const SLOTS_PER_WORKER: usize = 16;
/// Line bytes in flight at most (their rendered bytes are a few times more): the memory
/// bound when batches close on their byte bound (huge events), rather than their count.
const IN_FLIGHT_BYTES: usize = 6 << 20;

/// Where bad lines go: stderr, with `file:line: why`, the first `max` of them.
struct Complaints<'a> {
    file: &'a str,
    shown: u64,
    max: u64,
    count: u64,
}

impl Complaints<'_> {
    fn bad(&mut self, line: u64, why: &dyn std::fmt::Display) {
        self.count += 1;
        if self.shown < self.max {
            self.shown += 1;
            eprintln!("letrace: {}:{}: {}", self.file, line, why);
        }
    }
}

/// Runs the whole parse, writing events in `format` to `dest`.
///
/// Threads: this one reads, splits lines and coalesces; `workers` threads turn batches of
/// coalesced events into bytes and write them in their original order (`pipe`).
pub fn run(cfg: &Config, format: Format, color: bool, mut dest: Dest) -> Result<Report, Error> {
    let mut report = Report::default();
    let enc = format.encoder(color);
    let mut head = Vec::new();
    enc.header(&mut head);
    if !head.is_empty() {
        if let Err(e) = dest.write_all(&head) {
            return write_failed(e, report);
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let slots = SLOTS_PER_WORKER * workers;
    let work = Work::default();
    let output = Output::new(dest, slots);
    // Written batches go back to the reader for reuse: no allocation per batch. It has room
    // for every batch there is: sending never blocks.
    let (pool_tx, pool_rx) = sync_channel::<Batch>(slots);
    let result = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for i in 0..workers {
            let (work, output, pool) = (&work, &output, pool_tx.clone());
            let h = std::thread::Builder::new()
                .name(format!("audit-render-{i}"))
                .spawn_scoped(scope, move || {
                    render_loop(work, output, pool, format, color)
                });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    work.close();
                    return Err(Error::Thread(e));
                }
            }
        }
        drop(pool_tx);
        let r = read_all(cfg, &work, pool_rx, slots, &mut report);
        work.close();
        let mut panicked = false;
        for h in handles {
            panicked |= h.join().is_err();
        }
        if panicked {
            return Err(Error::WriterPanicked);
        }
        r
    });
    result?;
    let mut dest = match output.finish() {
        Ok(d) => d,
        Err(e) => return write_failed(e, report),
    };
    let mut foot = Vec::new();
    enc.footer(&mut foot);
    if !foot.is_empty() {
        if let Err(e) = dest.write_all(&foot) {
            return write_failed(e, report);
        }
    }
    Ok(report)
}

/// A failed write: the reader of a pipe that went away is not an error (`| head`).
fn write_failed(e: sink::Error, mut report: Report) -> Result<Report, Error> {
    match e {
        sink::Error::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe => {
            report.broken_pipe = true;
            Ok(report)
        }
        e => Err(e.into()),
    }
}

/// The reader's part: every input, line by line, into batches for the renderers.
fn read_all(
    cfg: &Config,
    work: &Work,
    pool: Receiver<Batch>,
    slots: usize,
    report: &mut Report,
) -> Result<(), Error> {
    let report = &mut *report;
    let mut state = State::new(cfg.coalesce, work, pool, slots);
    let mut shown = 0u64;
    let mut result = Ok(());
    for input in &cfg.inputs {
        let name = match input {
            Input::Stdin => "-".to_string(),
            Input::Path(p) | Input::File(p, _) => p.clone(),
        };
        let mut c = Complaints {
            file: &name,
            shown,
            max: cfg.max_reports,
            count: 0,
        };
        let mut on_line = |n, l: Option<Line<'_>>| state.line(n, l, &mut c, report);
        let r = match input {
            Input::Stdin => read_lines(io::stdin().lock(), None, &name, cfg.progress, &mut on_line),
            Input::File(_, f) => {
                let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                read_lines(f, size, &name, cfg.progress, &mut on_line)
            }
            Input::Path(p) => match File::open(p) {
                Ok(f) => {
                    let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                    read_lines(f, size, &name, cfg.progress, &mut on_line)
                }
                Err(source) => Err(Error::Open {
                    path: p.clone(),
                    source,
                }),
            },
        };
        shown = c.shown;
        report.bad_lines += c.count;
        if let Err(e) = r {
            result = Err(e);
            break;
        }
        if state.closed {
            break;
        }
    }
    if shown < report.bad_lines {
        eprintln!(
            "letrace: {} bad lines in all ({} not shown)",
            report.bad_lines,
            report.bad_lines - shown
        );
    }
    state.finish(report);
    result
}

struct State<'w> {
    co: Coalescer,
    batch: Batch,
    work: &'w Work,
    /// Batches back from the writer.
    pool: Receiver<Batch>,
    /// Batches allocated so far, at most `slots`.
    made: usize,
    slots: usize,
    /// Batches back from the output, for reuse.
    spare: Vec<Batch>,
    /// Line bytes in the batches handed out and not back yet.
    in_flight: usize,
    /// The next batch's index.
    index: u64,
    seq: u64,
    closed: bool,
    /// The event being written straight into `batch` (`direct.rs`), if any.
    open: Option<direct::Open>,
    /// Whether events may be written straight into `batch` (else all go through `co`).
    direct: bool,
    /// Events written straight into batches.
    in_place: u64,
}

impl<'w> State<'w> {
    fn new(cfg: coalesce::Config, work: &'w Work, pool: Receiver<Batch>, slots: usize) -> Self {
        State {
            co: Coalescer::new(cfg),
            batch: Batch::with_capacity(BATCH, BATCH_BYTES),
            work,
            pool,
            made: 1,
            slots,
            spare: Vec::new(),
            in_flight: 0,
            index: 0,
            seq: 1,
            closed: false,
            open: None,
            direct: true,
            in_place: 0,
        }
    }

    /// The end of the input: everything still in flight goes out.
    fn finish(&mut self, rep: &mut Report) {
        self.spill();
        self.co.finish();
        self.drain(rep);
        self.flush_batch();
    }

    fn line(
        &mut self,
        lineno: u64,
        line: Option<Line<'_>>,
        c: &mut Complaints<'_>,
        rep: &mut Report,
    ) {
        let Some(line) = line else {
            self.flush_batch();
            return;
        };
        feed(self, lineno, line, &mut |n, why| c.bad(n, why), rep);
        if self.co.has_output() {
            self.drain(rep);
        }
    }

    fn drain(&mut self, rep: &mut Report) {
        // Events go into the batch after the one written in place: it must be whole first
        // (never the case, as `direct.rs` drains before it starts one; kept safe anyway).
        if self.open.is_some() && self.co.has_output() {
            self.spill();
        }
        while let Some(o) = self.co.next_output() {
            let seq = self.seq;
            self.seq += 1;
            match o {
                Next::Event(raw) => {
                    rep.events += 1;
                    self.batch.push_raw(raw, seq);
                }
                Next::Lost(g) => {
                    rep.lost += g.last - g.first + 1;
                    self.batch.push_gap(g, seq);
                }
            }
            self.co.consume_output();
            if self.batch.len() >= BATCH || self.batch.bytes() >= BATCH_BYTES {
                self.flush_batch();
            }
        }
    }

    fn flush_batch(&mut self) {
        if self.closed {
            self.stop_direct();
            self.batch.recycle();
            return;
        }
        if self.batch.is_empty() {
            // Keeps the beginning of an event written in place, if any.
            if self.open.is_none() {
                self.batch.recycle();
            }
            return;
        }
        // An event being written in place goes on in the next batch.
        let bytes = match &self.open {
            Some(o) => o.at.0,
            None => self.batch.bytes(),
        };
        // A batch to fill next, and room for this one's lines: at most `IN_FLIGHT_BYTES` of
        // them between here and the output (a bigger batch goes alone), so batches of huge
        // events cannot fill every slot. Both wait for the renderers to hand batches back.
        let next = loop {
            while let Ok(b) = self.pool.try_recv() {
                self.returned(b);
            }
            if self.in_flight == 0 || self.in_flight + bytes <= IN_FLIGHT_BYTES {
                if let Some(b) = self.spare.pop() {
                    break b;
                }
                if self.made < self.slots {
                    self.made += 1;
                    break Batch::with_capacity(BATCH, BATCH_BYTES);
                }
            }
            match self.pool.recv() {
                Ok(b) => self.returned(b),
                Err(_) => {
                    self.closed = true;
                    self.stop_direct();
                    self.batch.recycle();
                    return;
                }
            }
        };
        let mut b = std::mem::replace(&mut self.batch, next);
        if let Some(o) = &mut self.open {
            let at = self.batch.end();
            let (buf, recs) = b.tail(o.at);
            self.batch.extend(buf, recs);
            b.truncate(o.at);
            o.at = at;
        }
        b.index = self.index;
        b.weight = bytes;
        self.index += 1;
        self.in_flight += bytes;
        if !self.work.push(b) {
            self.closed = true;
        }
    }

    /// A batch back from the output, written and emptied.
    fn returned(&mut self, b: Batch) {
        self.in_flight -= b.weight;
        self.spare.push(b);
    }
}

fn render_loop(work: &Work, output: &Output, pool: SyncSender<Batch>, format: Format, color: bool) {
    let _stop = StopOnDrop(work);
    let enc = format.encoder(color);
    let mut builder = Builder::default();
    while let Some(mut batch) = work.pop() {
        let mut buf = output.buffer(std::mem::take(&mut batch.out));
        buf.clear();
        // Room for the usual rendered size (a few times the lines'), so that a fresh buffer
        // does not grow by doubling, copied each time.
        buf.reserve(batch.bytes() * 3);
        for item in &batch.items {
            match item {
                Item::Raw(m) => {
                    let raw = batch.event(m);
                    if format == Format::Json {
                        builder.render_json_ref(raw, m.seq, &mut buf);
                    } else {
                        let mut ev = builder.build_ref(raw);
                        ev.seq = m.seq;
                        enc.encode(&ev, &mut buf);
                    }
                }
                Item::Gap(g, seq) => {
                    if format != Format::Json || !builder.render_gap(g, *seq, &mut buf) {
                        enc.encode(&gap::event(g, *seq), &mut buf)
                    }
                }
            }
        }
        batch.out = buf;
        if !output.put(batch, &pool) {
            return;
        }
    }
}

/// Where `feed` hands the records it parsed.
pub(super) trait Sink {
    /// The stamp of the record before (`record::parse_header_memo`).
    fn stamps(&mut self) -> &mut StampMemo;
    fn record(&mut self, h: &Header<'_>, line: &[u8], rep: &mut Report);
}

impl Sink for Coalescer {
    fn stamps(&mut self) -> &mut StampMemo {
        &mut self.stamps
    }

    #[inline]
    fn record(&mut self, h: &Header<'_>, line: &[u8], _: &mut Report) {
        self.push(h, line);
    }
}

/// Feeds one line (without its newline; `None` = too long) to the coalescer; bad lines go to
/// `bad(line number, why)`. Blank lines and `#` comments are skipped silently.
pub fn feed_line(
    co: &mut Coalescer,
    lineno: u64,
    line: Option<&[u8]>,
    bad: &mut dyn FnMut(u64, &dyn std::fmt::Display),
    rep: &mut Report,
) {
    let line = Line {
        bytes: line,
        scan: None,
    };
    feed(co, lineno, line, bad, rep);
}

pub(super) fn feed<S: Sink>(
    co: &mut S,
    lineno: u64,
    line: Line<'_>,
    bad: &mut dyn FnMut(u64, &dyn std::fmt::Display),
    rep: &mut Report,
) {
    rep.lines += 1;
    let Some(bytes) = line.bytes else {
        bad(
            lineno,
            &format_args!("line longer than {MAX_LINE} bytes: skipped"),
        );
        return;
    };
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let Some(first) = bytes.iter().position(|&b| b != b' ' && b != b'\t') else {
        return; // blank
    };
    if bytes[first] == b'#' {
        return; // comment: auditd never writes them, hand-edited logs do
    }
    // One scan for both: a NUL rejects the line, no 0x1d spares the header parser its own
    // search for the enrichment.
    let scan = line
        .scan
        .unwrap_or_else(|| match memchr::memchr2(0, record::ENRICH_SEP, bytes) {
            None => Scanned::default(),
            Some(i) => Scanned {
                nul: bytes[i] == 0 || memchr::memchr(0, &bytes[i..]).is_some(),
                gs: true,
                fused: false,
            },
        });
    if scan.nul {
        bad(lineno, &LineError::Binary);
        return;
    }
    let mut rest = bytes;
    loop {
        let (this, next) = if line.scan.is_some() && !scan.fused {
            (rest, None)
        } else {
            split_fused(rest)
        };
        match record::parse_header_memo(this, scan.gs, co.stamps()) {
            Ok(h) => {
                rep.records += 1;
                co.record(&h, this, rep);
            }
            Err(e) => bad(lineno, &e),
        }
        match next {
            Some(n) => {
                bad(
                    lineno,
                    &"two records on one line (a newline is missing): both parsed",
                );
                rest = n;
            }
            None => break,
        }
    }
}

/// Parses a whole log held in memory, single-threaded: the coalescer's output in order and
/// the bad lines as `(line number, why)`. The same steps as `run`, for tests and tools.
pub fn parse_bytes(data: &[u8], cfg: coalesce::Config) -> (Vec<CoOut>, Vec<(u64, String)>) {
    let mut co = Coalescer::new(cfg);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut rep = Report::default();
    let mut lines = data.split(|&b| b == b'\n').peekable();
    let mut n = 0;
    while let Some(l) = lines.next() {
        n += 1;
        if l.is_empty() && lines.peek().is_none() {
            break; // the final newline
        }
        let l = (l.len() <= MAX_LINE).then_some(l);
        feed_line(
            &mut co,
            n,
            l,
            &mut |n, why| bad.push((n, why.to_string())),
            &mut rep,
        );
        out.extend(std::iter::from_fn(|| co.pop_output()));
    }
    co.finish();
    out.extend(std::iter::from_fn(|| co.pop_output()));
    (out, bad)
}

/// Splits `line` before a second `[node=..] type=.. msg=audit(` in it, if any.
fn split_fused(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    let finder = msg_finder();
    let Some(first) = finder.find(line) else {
        return (line, None);
    };
    let from = first + 10;
    let Some(second) = finder.find(&line[from..]).map(|p| p + from) else {
        return (line, None);
    };
    let head = &line[..second];
    let Some(mut start) = memchr::memmem::rfind(head, b"type=") else {
        return (line, None);
    };
    if start <= from {
        return (line, None);
    }
    if let Some(n) = memchr::memmem::rfind(&line[from..start], b"node=") {
        let n = n + from;
        if line[n..start].iter().filter(|&&c| c == b' ').count() <= 1 {
            start = n;
        }
    }
    let first_part = line[..start].strip_suffix(b" ").unwrap_or(&line[..start]);
    (first_part, Some(&line[start..]))
}

/// Whether a progress line makes sense: stderr is a terminal.
pub fn progress_wanted() -> bool {
    io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_lines_split() {
        let l = b"type=SYSCALL msg=audit(1.0:1): a=1 type=EOE msg=audit(1.0:1): ";
        let (a, b) = split_fused(l);
        assert_eq!(a, b"type=SYSCALL msg=audit(1.0:1): a=1");
        assert_eq!(b, Some(&b"type=EOE msg=audit(1.0:1): "[..]));
        let l = b"node=a type=SYSCALL msg=audit(1.0:1): a=1node=b type=EOE msg=audit(1.0:1): ";
        let (a, b) = split_fused(l);
        assert_eq!(a, b"node=a type=SYSCALL msg=audit(1.0:1): a=1");
        assert_eq!(b, Some(&b"node=b type=EOE msg=audit(1.0:1): "[..]));
        let l = b"type=SYSCALL msg=audit(1.0:1): a=1";
        assert_eq!(split_fused(l), (&l[..], None));
    }
}
