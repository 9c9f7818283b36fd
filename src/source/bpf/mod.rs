//! `bpf[:file,process,network,user,...]`: Kellect's 38 event families from syscall and sched
//! tracepoints (bpf/letrace.bpf.c), read from one ring buffer. `record` and `decode` are
//! pure; `load` owns the aya side; this file runs the read loop and the loss accounting.
//! docs/bpf.md documents families, schema, defaults and limits.

#[cfg(test)]
mod bench;
#[cfg(test)]
mod btf_check;
pub mod decode;
pub mod families;
pub mod json;
mod load;
mod misses;
pub mod record;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use aya::maps::{MapData, PerCpuArray, RingBuf};

use self::families::{Category, FAMILIES, FAMILY_COUNT};
use super::{Source, Stop};
use crate::event::{Event, SourceKind};
use crate::pipeline::{Closed, Emitter, Encoded};
use crate::proctable::ProcTable;

/// The committed object (bpf/build.sh rebuilds it; bpf/check-fresh.sh checks it is current).
pub static OBJECT: &[u8] = aya::include_bytes_aligned!("../../../bpf/letrace.bpf.o");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bpf: {0}")]
    Spec(String),
    #[error(
        "bpf: needs root (or CAP_BPF, CAP_PERFMON and access to tracefs): run letrace as root"
    )]
    NotPermitted,
    #[error("bpf: cannot mount tracefs on /sys/kernel/tracing ({0}); mount it: mount -t tracefs nodev /sys/kernel/tracing")]
    Tracefs(std::io::Error),
    #[error("bpf: cannot load the BPF object: {0} (needs root or CAP_BPF+CAP_PERFMON; run `letrace doctor`)")]
    Load(String),
    #[error("bpf: no requested family could start: {0}")]
    NothingRuns(String),
    #[error("bpf: ring buffer: {0}")]
    Ring(String),
    #[error("bpf: waiting for events failed: {0}")]
    Poll(std::io::Error),
}

/// Settings of the bpf source (from the `-s bpf:...` words and `--bpf-ringbuf-size`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Bit i set: family i (families::FAMILIES) wanted.
    pub families: u64,
    /// Ring buffer bytes: a power of two, at least one page.
    pub ringbuf_size: u32,
    pub ignore_pids: Vec<u32>,
    pub ignore_comms: Vec<String>,
}

pub const DEFAULT_RINGBUF: u32 = 8 << 20;

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            families: default_families(None),
            ringbuf_size: DEFAULT_RINGBUF,
            ignore_pids: Vec::new(),
            ignore_comms: Vec::new(),
        }
    }
}

impl Tuning {
    /// The reader is woken when this much is pending (or by its poll timeout): one wakeup
    /// per record would cost a hypervisor exit each on a VM.
    pub fn wakeup_bytes(&self) -> u64 {
        (self.ringbuf_size as u64 / 8).max(1)
    }
}

/// Every non-loud family of `cat` (all categories when `None`).
fn default_families(cat: Option<Category>) -> u64 {
    FAMILIES
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.loud && cat.is_none_or(|c| f.category == c))
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Parses the words after `bpf:`: categories (`file`, `process`, `network`, `user`), `all`
/// (every family, loud ones too), family names (`FILE_READ`, case-insensitive), and
/// `ignore-pid=N` / `ignore-comm=NAME`. No family word: every non-loud family.
pub fn parse_spec(arg: &str) -> Result<Tuning, Error> {
    let mut t = Tuning {
        families: 0,
        ..Tuning::default()
    };
    let mut any = false;
    for w in arg.split(',').filter(|w| !w.is_empty()) {
        if let Some(p) = w.strip_prefix("ignore-pid=") {
            t.ignore_pids.push(
                p.parse()
                    .map_err(|_| Error::Spec(format!("ignore-pid={p}: not a pid")))?,
            );
            continue;
        }
        if let Some(c) = w.strip_prefix("ignore-comm=") {
            if c.is_empty() || c.len() > 15 {
                return Err(Error::Spec(format!(
                    "ignore-comm={c}: a comm is 1 to 15 bytes"
                )));
            }
            t.ignore_comms.push(c.to_string());
            continue;
        }
        any = true;
        if w == "all" {
            t.families |= (1u64 << FAMILY_COUNT) - 1;
        } else if let Some(c) = Category::ALL.iter().find(|c| c.name() == w) {
            t.families |= default_families(Some(*c));
        } else if let Some(f) = families::family_by_name(w) {
            t.families |= 1 << f;
        } else {
            return Err(Error::Spec(format!(
                "unknown word {w:?}: use file, process, network, user, all, a family name such as FILE_READ (see docs/bpf.md), ignore-pid=N or ignore-comm=NAME"
            )));
        }
    }
    if !any {
        t.families = default_families(None);
    }
    Ok(t)
}

/// Parses `--bpf-ringbuf-size`: bytes, with an optional K/M/G suffix; a power of two of at
/// least one page.
pub fn parse_ringbuf_size(s: &str) -> Result<u32, String> {
    let (num, mul) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n = num
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("--bpf-ringbuf-size {s}: not a size (bytes, or with K/M/G)"))?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    if !n.is_power_of_two() || n < page || n > 1 << 30 {
        return Err(format!(
            "--bpf-ringbuf-size {s}: must be a power of two between {page} and 1G"
        ));
    }
    Ok(n as u32)
}

/// For `letrace doctor`: loads every family (attaching, then detaching at once) and says
/// which would run here, and why not.
pub fn probe() -> Vec<(&'static str, Result<(), String>)> {
    let t = Tuning {
        families: (1u64 << FAMILY_COUNT) - 1,
        ringbuf_size: 1 << 16,
        ..Tuning::default()
    };
    match load::load(&t, false) {
        Ok(l) => l.status,
        Err(e) => FAMILIES
            .iter()
            .map(|f| (f.name, Err(e.to_string())))
            .collect(),
    }
}

pub struct BpfSource {
    ebpf: aya::Ebpf,
    running: u64,
    ring_size: u32,
    boot_to_unix: i128,
    table: ProcTable,
    /// The JSON fast path's encoder (json.rs).
    lines: json::LineEncoder,
    /// `LETRACE_BPF_CAPTURE=FILE`: raw records are appended there (for decoder test data).
    capture: Option<std::fs::File>,
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write into.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

impl BpfSource {
    pub fn open(t: &Tuning) -> Result<Self, super::Error> {
        let l = load::load(t, true)?;
        for m in &l.missing {
            eprintln!("letrace: note: bpf: this kernel has no {m} syscall tracepoint");
        }
        for n in &l.notes {
            eprintln!("letrace: note: bpf: {n}");
        }
        let mut failed = Vec::new();
        for (name, st) in &l.status {
            if let Err(e) = st {
                eprintln!("letrace: warning: bpf: {name} disabled: {e}");
                failed.push(format!("{name}: {e}"));
            }
        }
        if l.running == 0 {
            return Err(Error::NothingRuns(failed.join("; ")).into());
        }
        let boot_to_unix = clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME);
        Ok(BpfSource {
            ebpf: l.ebpf,
            running: l.running,
            ring_size: t.ringbuf_size,
            boot_to_unix,
            table: ProcTable::seeded(),
            lines: json::LineEncoder::default(),
            capture: std::env::var_os("LETRACE_BPF_CAPTURE").and_then(|p| {
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ok()
            }),
        })
    }
}

/// Sums the per-CPU loss counters and turns every rise into LOST events; the same for the
/// programs' skipped runs (misses.rs).
struct LossWatch {
    map: PerCpuArray<MapData, u64>,
    seen: [u64; record::LOST_SLOTS],
    misses: misses::Misses,
    /// Skipped runs reported so far (an upper bound of the events they cost).
    skipped: u64,
}

impl LossWatch {
    fn poll(&mut self, out: &mut Emitter) -> Result<(), Closed> {
        for (prog, n) in self.misses.rises() {
            let mut ev = Event::lost(
                SourceKind::Bpf,
                n,
                false,
                "bpf program skipped: already running on that CPU (any syscall, traced or not)",
            );
            ev.extra.insert("program", prog);
            self.skipped += n;
            out.emit(ev)?;
        }
        for (fam, info) in FAMILIES.iter().enumerate() {
            for (base, reason) in [
                (record::LOST_RING, "bpf ring buffer full"),
                (record::LOST_PENDING, "bpf syscall-entry table full"),
            ] {
                let slot = base + fam;
                let Ok(vals) = self.map.get(&(slot as u32), 0) else {
                    continue;
                };
                let total: u64 = vals.iter().sum();
                if total > self.seen[slot] {
                    let mut ev =
                        Event::lost(SourceKind::Bpf, total - self.seen[slot], true, reason);
                    ev.extra.insert("family", info.name);
                    self.seen[slot] = total;
                    out.emit(ev)?;
                }
            }
        }
        Ok(())
    }
    fn total(&self) -> u64 {
        self.seen.iter().sum()
    }
}

/// Records handled between checks of the stop flag and the loss counters.
const BATCH: usize = 16_384;
/// Events handed to the pipeline at once (one queue operation and at most one wake-up).
const SEND_EVERY: usize = 256;
/// The same for encoded lines (`json.rs`), which are cheaper to make and to pass on: fewer
/// wake-ups of the pipeline thread during a storm.
const SEND_LINES: usize = 1024;
const LOSS_EVERY: Duration = Duration::from_millis(250);
/// Longest an event waits in the ring when wakeups are batched.
const POLL_MS: i32 = 100;

impl Source for BpfSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Bpf
    }

    fn run(mut self: Box<Self>, out: &mut Emitter, stop: &Stop) -> Result<(), super::Error> {
        let ring_map = self
            .ebpf
            .take_map("lt_rb")
            .ok_or_else(|| Error::Ring("map lt_rb missing".into()))?;
        let mut ring = RingBuf::try_from(ring_map).map_err(|e| Error::Ring(e.to_string()))?;
        let lost_map = self
            .ebpf
            .take_map("lt_lost")
            .ok_or_else(|| Error::Ring("map lt_lost missing".into()))?;
        let mut loss = LossWatch {
            map: PerCpuArray::try_from(lost_map).map_err(|e| Error::Ring(e.to_string()))?,
            seen: [0; record::LOST_SLOTS],
            misses: misses::Misses::new(&self.ebpf),
            skipped: 0,
        };
        let mut records = 0u64;
        let mut bad = 0u64;
        let mut last_loss = Instant::now();
        let fds = [ring.as_raw_fd(), stop.fd()];
        // What the ring can hold at most: the final drain reads no more than that, so a
        // host busier than the reader cannot keep letrace from stopping.
        let ring_cap = self.ring_size as usize / std::mem::size_of::<record::LtEvent>() + 1;
        let mut backlog = false;
        let r = loop {
            let stopping = stop.is_set();
            if !stopping && !backlog {
                crate::sys::poll(&fds, POLL_MS).map_err(Error::Poll)?;
            }
            let max = if stopping { ring_cap } else { BATCH };
            match self.drain(&mut ring, out, max, &mut records, &mut bad) {
                Ok(n) => backlog = n == max,
                Err(Closed) => break Ok(()),
            }
            if stopping || last_loss.elapsed() >= LOSS_EVERY {
                if loss.poll(out).is_err() {
                    break Ok(());
                }
                last_loss = Instant::now();
            }
            if stopping {
                break Ok(());
            }
        };
        eprintln!(
            "letrace: bpf: {records} records, {} lost in the kernel, {} program runs skipped, {bad} malformed",
            loss.total(),
            loss.skipped
        );
        r
    }
}

impl BpfSource {
    fn drain(
        &mut self,
        ring: &mut RingBuf<MapData>,
        out: &mut Emitter,
        max: usize,
        records: &mut u64,
        bad: &mut u64,
    ) -> Result<usize, Closed> {
        let mut n = 0;
        let mut batch = Vec::with_capacity(SEND_EVERY.min(max));
        // Every output is JSON lines: events are encoded here and dropped at once, while
        // still in this thread's cache, and the pipeline only numbers and writes the lines.
        let encode = out.encoded();
        let mut lines = Encoded::default();
        while n < max {
            let Some(item) = ring.next() else { break };
            n += 1;
            *records += 1;
            if let Some(f) = self.capture.as_mut() {
                record::write_capture(f, &item);
            }
            let (mut ev, fam) = match record::parse(&item) {
                // The fast path: the line straight from the ring's bytes (json.rs).
                Ok(r) if encode && json::handles(&r) => {
                    let f = r.ev.family;
                    if f >= 64 || self.running & (1 << f) == 0 {
                        continue;
                    }
                    // Events of the Event path go first (they keep the order).
                    if !batch.is_empty() {
                        out.emit_batch_wait(&mut batch)?;
                    }
                    let (boot, table, enc) = (self.boot_to_unix, &mut self.table, &mut self.lines);
                    lines.push_with(SourceKind::Bpf, |buf| enc.line(&r, boot, table, buf));
                    drop(item);
                    if lines.len() >= SEND_LINES {
                        out.emit_encoded_wait(&mut lines)?;
                    }
                    continue;
                }
                Ok(r) => (decode::decode(&r, self.boot_to_unix), Some(r.ev.family)),
                Err(e) => {
                    *bad += 1;
                    let mut ev = Event::new(SourceKind::Bpf, "MALFORMED");
                    ev.extra.insert("error", e.to_string());
                    (ev, None)
                }
            };
            drop(item);
            self.table.observe(&ev);
            // Sched records also feed the table when their family was not asked for.
            if fam.is_some_and(|f| f >= 64 || self.running & (1 << f) == 0) {
                continue;
            }
            self.table.enrich(&mut ev);
            if encode && !ev.is_lost() {
                out.emit_batch_wait(&mut batch)?;
                lines.push(&ev);
                drop(ev);
                if lines.len() >= SEND_EVERY {
                    out.emit_encoded_wait(&mut lines)?;
                }
                continue;
            }
            // Keeps the order: earlier lines go first.
            out.emit_encoded_wait(&mut lines)?;
            batch.push(ev);
            if batch.len() >= SEND_EVERY {
                // Backpressure: when the pipeline is behind, records wait in the ring buffer,
                // where an overflow is counted per family, rather than being dropped here
                // unlabelled.
                out.emit_batch_wait(&mut batch)?;
                batch.reserve(SEND_EVERY);
            }
        }
        out.emit_encoded_wait(&mut lines)?;
        out.emit_batch_wait(&mut batch)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_words() {
        let t = parse_spec("").unwrap();
        assert_eq!(t.families, default_families(None));
        assert_eq!(t.families & (1 << 9), 0, "FILE_READ is opt-in");
        let t = parse_spec("process,FILE_READ,ignore-comm=sshd,ignore-pid=7").unwrap();
        assert_eq!(
            t.families,
            default_families(Some(Category::Process)) | 1 << 9
        );
        assert_eq!(
            (t.ignore_pids, t.ignore_comms),
            (vec![7], vec!["sshd".into()])
        );
        assert_eq!(parse_spec("all").unwrap().families.count_ones(), 38);
        assert!(parse_spec("files").is_err());
        assert!(parse_spec("ignore-comm=0123456789abcdef").is_err());
    }

    #[test]
    fn ringbuf_sizes() {
        assert_eq!(parse_ringbuf_size("64K"), Ok(65536));
        assert_eq!(parse_ringbuf_size("8M"), Ok(8 << 20));
        assert!(parse_ringbuf_size("3000").is_err());
        assert!(parse_ringbuf_size("x").is_err());
    }
}
