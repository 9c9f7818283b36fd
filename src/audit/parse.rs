//! `letrace audit parse`: files (or stdin) -> lines -> records -> coalesced events -> output.
//!
//! Two threads: this one reads, parses and coalesces and builds events; a writer thread
//! encodes and writes them. They are joined by a bounded channel of event batches, so memory
//! stays bounded whatever the input size.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use super::coalesce::{self, Coalescer, Output as CoOut};
use super::event::Builder;
use super::record::{self, LineError};
use super::Error;
use crate::encode::Encoder;
use crate::event::{Event, Map, SourceKind, Timestamp, Value};
use crate::pipeline::Output;
use crate::sink::{self, Dest};

/// One input: a path, or standard input (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(String),
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

/// Longest line kept; the kernel never writes records near this size.
const MAX_LINE: usize = 1 << 20;
const BATCH: usize = 512;

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

/// Runs the whole parse, writing events through `enc` to `dest`.
pub fn run(cfg: &Config, enc: Box<dyn Encoder>, dest: Dest) -> Result<Report, Error> {
    let (tx, rx) = sync_channel::<Vec<Event>>(8);
    let writer = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || write_loop(rx, Output::new(enc, dest)))
        .map_err(Error::Thread)?;
    let mut report = Report::default();
    let mut state = State {
        co: Coalescer::new(cfg.coalesce),
        builder: Builder::default(),
        batch: Vec::with_capacity(BATCH),
        tx,
        closed: false,
    };
    let mut shown = 0u64;
    let mut result = Ok(());
    for input in &cfg.inputs {
        let name = match input {
            Input::Stdin => "-".to_string(),
            Input::Path(p) => p.clone(),
        };
        let mut c = Complaints {
            file: &name,
            shown,
            max: cfg.max_reports,
            count: 0,
        };
        let r = match input {
            Input::Stdin => read_lines(
                io::stdin().lock(),
                None,
                &name,
                cfg.progress,
                &mut |n, l| state.line(n, l, &mut c, &mut report),
            ),
            Input::Path(p) => match File::open(p) {
                Ok(f) => {
                    let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                    read_lines(f, size, &name, cfg.progress, &mut |n, l| {
                        state.line(n, l, &mut c, &mut report)
                    })
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
    state.co.finish();
    state.drain(&mut report);
    state.flush_batch();
    drop(state.tx);
    let written = writer.join().map_err(|_| Error::WriterPanicked)?;
    result?;
    match written {
        Ok(()) => {}
        Err(sink::Error::Write { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            report.broken_pipe = true;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(report)
}

struct State {
    co: Coalescer,
    builder: Builder,
    batch: Vec<Event>,
    tx: SyncSender<Vec<Event>>,
    closed: bool,
}

impl State {
    fn line(&mut self, lineno: u64, line: Option<&[u8]>, c: &mut Complaints<'_>, rep: &mut Report) {
        rep.lines += 1;
        let Some(line) = line else {
            c.bad(
                lineno,
                &format_args!("line longer than {MAX_LINE} bytes: skipped"),
            );
            return;
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let first = line.iter().position(|&b| b != b' ' && b != b'\t');
        let Some(first) = first else {
            return; // blank
        };
        if line[first] == b'#' {
            return; // comment: auditd never writes them, hand-edited logs do
        }
        if line.contains(&0) {
            c.bad(lineno, &LineError::Binary);
            return;
        }
        let mut rest = line;
        loop {
            let (this, next) = split_fused(rest);
            match record::parse_header(this) {
                Ok(h) => {
                    rep.records += 1;
                    self.co.push(&h, this);
                }
                Err(e) => c.bad(lineno, &e),
            }
            match next {
                Some(n) => {
                    c.bad(
                        lineno,
                        &"two records on one line (a newline is missing): both parsed",
                    );
                    rest = n;
                }
                None => break,
            }
        }
        self.drain(rep);
    }

    fn drain(&mut self, rep: &mut Report) {
        while let Some(o) = self.co.out.pop_front() {
            let ev = match o {
                CoOut::Event(raw) => {
                    rep.events += 1;
                    self.builder.build(&raw)
                }
                CoOut::Lost {
                    node,
                    first,
                    last,
                    sec,
                    nanos,
                } => {
                    let n = last - first + 1;
                    rep.lost += n;
                    let mut ev = Event::lost(SourceKind::Audit, n, true, "audit serial gap");
                    ev.time = Timestamp {
                        secs: sec as i64,
                        nanos,
                    };
                    let mut a = Map::new()
                        .with("first_serial", first)
                        .with("last_serial", last);
                    if let Some(n) = node {
                        ev.host = std::sync::Arc::from(crate::text::escape(&n).as_ref());
                        a.insert("node", Value::Bytes(crate::event::Bytes(n.to_vec())));
                    } else {
                        ev.host = std::sync::Arc::from("");
                    }
                    ev.extra.insert("audit", a);
                    ev
                }
            };
            self.batch.push(ev);
            if self.batch.len() >= BATCH {
                self.flush_batch();
            }
        }
    }

    fn flush_batch(&mut self) {
        if self.batch.is_empty() || self.closed {
            self.batch.clear();
            return;
        }
        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if self.tx.send(b).is_err() {
            self.closed = true;
        }
    }
}

/// Splits `line` before a second `[node=..] type=.. msg=audit(` in it, if any.
fn split_fused(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    let finder = memchr::memmem::Finder::new(b"msg=audit(");
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

fn write_loop(rx: Receiver<Vec<Event>>, mut out: Output) -> Result<(), sink::Error> {
    let mut seq = 1u64;
    for batch in rx {
        for mut ev in batch {
            ev.seq = seq;
            seq += 1;
            out.write(&ev)?;
        }
    }
    out.finish()
}

/// Calls `f(line_number, line)` for each line (without its newline); the last line may lack
/// its newline. A line longer than `MAX_LINE` is passed as `None` and skipped.
fn read_lines<R: Read>(
    mut r: R,
    size: Option<u64>,
    name: &str,
    progress: bool,
    f: &mut dyn FnMut(u64, Option<&[u8]>),
) -> Result<(), Error> {
    let mut buf = vec![0u8; 4 << 20];
    let mut filled = 0usize;
    let mut lineno = 0u64;
    let mut skipping = false;
    let mut total = 0u64;
    let started = Instant::now();
    let mut last_progress = started;
    let read_err = |source| Error::Read {
        path: name.to_string(),
        source,
    };
    loop {
        let n = match r.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        if n == 0 {
            if filled > 0 && !skipping {
                lineno += 1;
                f(lineno, Some(&buf[..filled]));
            }
            break;
        }
        total += n as u64;
        let mut start = 0;
        let end = filled + n;
        while let Some(i) = memchr::memchr(b'\n', &buf[start..end]) {
            lineno += 1;
            if skipping {
                skipping = false;
            } else {
                f(lineno, Some(&buf[start..start + i]));
            }
            start += i + 1;
        }
        buf.copy_within(start..end, 0);
        filled = end - start;
        if filled == buf.len() {
            if buf.len() >= MAX_LINE {
                // Too long to be a record: report once, drop it up to its newline.
                f(lineno + 1, None);
                skipping = true;
                filled = 0;
            } else {
                buf.resize((buf.len() * 2).min(MAX_LINE), 0);
            }
        }
        if progress && last_progress.elapsed() >= Duration::from_millis(250) {
            last_progress = Instant::now();
            show_progress(name, total, size, started.elapsed());
        }
    }
    if progress {
        let mut e = io::stderr().lock();
        let _ = write!(e, "\r\x1b[K");
        let _ = e.flush();
    }
    Ok(())
}

fn show_progress(name: &str, done: u64, size: Option<u64>, took: Duration) {
    let mbs = done as f64 / 1e6 / took.as_secs_f64().max(1e-3);
    let mut e = io::stderr().lock();
    let _ = match size {
        Some(s) if s > 0 => write!(
            e,
            "\r\x1b[Kletrace: {name}: {:.0}% ({:.0} MB/s)",
            done as f64 * 100.0 / s as f64,
            mbs
        ),
        _ => write!(
            e,
            "\r\x1b[Kletrace: {name}: {:.0} MB ({mbs:.0} MB/s)",
            done as f64 / 1e6
        ),
    };
    let _ = e.flush();
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
