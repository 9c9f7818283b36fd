//! The reader's input side of `letrace audit parse`: read a file in big blocks and hand each
//! line to the parser, with what one scan of the whole block found out about it.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use super::parse::MAX_LINE;
use super::record;
use super::Error;

/// Bytes asked for per read.
const READ_BLOCK: usize = 256 << 10;

/// One line as the reader hands it over.
pub(super) struct Line<'a> {
    /// Without its newline; `None`: longer than `MAX_LINE`, skipped.
    pub bytes: Option<&'a [u8]>,
    /// What the reader's scan of its whole buffer already found out about the line.
    pub scan: Option<Scanned>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Scanned {
    pub nul: bool,
    /// An 0x1d (enrichment separator).
    pub gs: bool,
    /// More than one `msg=audit(`: maybe two records fused on one line.
    pub fused: bool,
}

/// Calls `f(line_number, Some(line))` for each line; the last line may lack its newline.
/// After each read, `f(0, None)` says "nothing more for now".
///
/// The whole buffer is scanned once for newlines, NUL and 0x1d bytes, and once for
/// `msg=audit(` (to spot two records fused on one line), instead of several searches per
/// line: lines are short, and a search's setup costs as much as scanning a line.
pub(super) fn read_lines<R: Read, F: FnMut(u64, Option<Line<'_>>)>(
    mut r: R,
    size: Option<u64>,
    name: &str,
    progress: bool,
    f: &mut F,
) -> Result<(), Error> {
    let mut buf = vec![0u8; MAX_LINE];
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
        // A block at a time: it stays in the CPU's cache between the kernel's copy, the scan
        // and the copy into events, and only what long lines need of the 4 MiB buffer is
        // ever touched (measured: 4 MB less peak memory, CPU the same within noise).
        let want = (filled + READ_BLOCK).min(buf.len());
        let n = match r.read(&mut buf[filled..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        if n == 0 {
            if filled > 0 && !skipping {
                lineno += 1;
                let line = Line {
                    bytes: Some(&buf[..filled]),
                    scan: None,
                };
                f(lineno, Some(line));
            }
            break;
        }
        total += n as u64;
        let end = filled + n;
        let start = scan_lines(&buf[..end], &mut lineno, &mut skipping, f);
        buf.copy_within(start..end, 0);
        filled = end - start;
        if filled == buf.len() {
            if buf.len() >= MAX_LINE {
                // Too long to be a record: report once, drop it up to its newline.
                if !skipping {
                    let line = Line {
                        bytes: None,
                        scan: None,
                    };
                    f(lineno + 1, Some(line));
                }
                skipping = true;
                filled = 0;
            } else {
                buf.resize((buf.len() * 2).min(MAX_LINE), 0);
            }
        }
        // Whatever was read is handled: let complete events go out now (an auditd plugin's
        // input comes a few lines at a time).
        f(0, None);
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

/// Hands each complete line of `buf` to `f`, with what one scan of the buffer found out about
/// it; returns where the incomplete last line starts.
///
/// One pass over the bytes, a vector of them at a time, looks for the four bytes that matter:
/// newline, NUL, 0x1d, and `(` (a `(` after `msg=audit` is a record's stamp: two in one line
/// mean two records fused on it). Every other byte costs a compare in a vector and nothing
/// else: `(` is rare outside the stamp, the others rarer still.
fn scan_lines<F: FnMut(u64, Option<Line<'_>>)>(
    buf: &[u8],
    lineno: &mut u64,
    skipping: &mut bool,
    f: &mut F,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    let wide = std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let wide = false;
    scan_lines_with(buf, lineno, skipping, f, wide)
}

/// `scan_lines`, with 32-byte vectors when `wide` (the CPU must have AVX2 then).
fn scan_lines_with<F: FnMut(u64, Option<Line<'_>>)>(
    buf: &[u8],
    lineno: &mut u64,
    skipping: &mut bool,
    f: &mut F,
    wide: bool,
) -> usize {
    let mut st = ScanState {
        start: 0,
        scan: Scanned::default(),
        stamps: 0,
        lineno,
        skipping,
    };
    #[cfg(target_arch = "x86_64")]
    {
        if wide {
            // SAFETY: `wide` only when the CPU has AVX2 (`scan_lines`, and the tests).
            unsafe { simd::scan_avx2(buf, &mut st, f) };
        } else {
            // SAFETY: SSE2 is part of x86-64 itself.
            unsafe { simd::scan_sse2(buf, &mut st, f) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = wide;
    #[cfg(not(target_arch = "x86_64"))]
    for (i, &c) in buf.iter().enumerate() {
        if matches!(c, b'\n' | 0 | record::ENRICH_SEP | b'(') {
            st.special(buf, i, f);
        }
    }
    st.start
}

/// What `scan_lines` knows about the line it is in.
struct ScanState<'s> {
    /// Where the current line starts.
    start: usize,
    scan: Scanned,
    /// `msg=audit(` stamps seen in the current line (its first `(` counted as one).
    stamps: u32,
    lineno: &'s mut u64,
    skipping: &'s mut bool,
}

impl ScanState<'_> {
    /// Handles `buf[i]`, one of the four bytes the scan looks for.
    #[inline(always)]
    fn special<F: FnMut(u64, Option<Line<'_>>)>(&mut self, buf: &[u8], i: usize, f: &mut F) {
        match buf[i] {
            b'\n' => self.newline(buf, i, f),
            0 => self.scan.nul = true,
            record::ENRICH_SEP => self.scan.gs = true,
            // `(`: a stamp when `msg=audit` comes before it (it holds no newline, so it is
            // in this line whenever it matches). The line's first `(` is counted as one
            // unchecked: it is the record's own stamp but in a broken line, and counting
            // too many only costs such a line the exact search (`parse::split_fused`).
            _ if self.stamps == 0 => self.stamps = 1,
            _ => {
                if let Some(&[a, b, c, d, e, f, g, h, t]) = i.checked_sub(9).map(|s| &buf[s..i]) {
                    let w = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
                    if w == u64::from_le_bytes(*b"msg=audi") && t == b't' {
                        self.stamps += 1;
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn newline<F: FnMut(u64, Option<Line<'_>>)>(&mut self, buf: &[u8], i: usize, f: &mut F) {
        *self.lineno += 1;
        if *self.skipping {
            *self.skipping = false;
        } else {
            self.scan.fused = self.stamps > 1;
            let line = Line {
                bytes: Some(&buf[self.start..i]),
                scan: Some(self.scan),
            };
            f(*self.lineno, Some(line));
        }
        self.scan = Scanned::default();
        self.stamps = 0;
        self.start = i + 1;
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{Line, ScanState};
    use crate::audit::record::ENRICH_SEP;
    use std::arch::x86_64::*;

    /// The scan loop over `$w`-byte vectors; `$mask` (with `$p` the vector's first byte)
    /// gives the bit mask of the special bytes among the `$w` at `$p`. The tail shorter than
    /// a vector is done a byte at a time.
    macro_rules! scan_loop {
        ($buf:ident, $st:ident, $f:ident, $w:expr, |$p:ident| $mask:expr) => {{
            let n = $buf.len();
            let mut at = 0;
            while at + $w <= n {
                // `at + $w <= n`: the `$w` bytes at `$p` are inside `buf`.
                let $p = $buf[at..].as_ptr();
                let mut m = $mask;
                while m != 0 {
                    let i = at + m.trailing_zeros() as usize;
                    m &= m - 1;
                    $st.special($buf, i, $f);
                }
                at += $w;
            }
            for i in at..n {
                if matches!($buf[i], b'\n' | 0 | ENRICH_SEP | b'(') {
                    $st.special($buf, i, $f);
                }
            }
        }};
    }

    /// The scan with 32-byte vectors.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan_avx2<F: FnMut(u64, Option<Line<'_>>)>(
        buf: &[u8],
        st: &mut ScanState<'_>,
        f: &mut F,
    ) {
        // The four bytes have four different low nibbles (0x00, 0x28, 0x0a, 0x1d): a table
        // indexed by a byte's low nibble gives the one special byte it could be, and the byte
        // is special when it is that one (one shuffle and one compare instead of four
        // compares and three ors). The other entries hold 0x80 | nibble, which no byte that
        // indexes them can equal: the shuffle gives 0 for a byte with its high bit set.
        const fn table() -> [i8; 16] {
            let mut t = [0i8; 16];
            let mut i = 0;
            while i < 16 {
                t[i] = (0x80 | i as u8) as i8;
                i += 1;
            }
            t[0] = 0;
            t[b'(' as usize & 15] = b'(' as i8;
            t[b'\n' as usize & 15] = b'\n' as i8;
            t[ENRICH_SEP as usize & 15] = ENRICH_SEP as i8;
            t
        }
        const T: [i8; 16] = table();
        let lut = _mm256_setr_epi8(
            T[0], T[1], T[2], T[3], T[4], T[5], T[6], T[7], T[8], T[9], T[10], T[11], T[12], T[13],
            T[14], T[15], T[0], T[1], T[2], T[3], T[4], T[5], T[6], T[7], T[8], T[9], T[10], T[11],
            T[12], T[13], T[14], T[15],
        );
        macro_rules! mask {
            ($v:expr) => {{
                let v = $v;
                let want = _mm256_shuffle_epi8(lut, v);
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, want)) as u32 as u64
            }};
        }
        // Two vectors a step: half the loop's own work per byte.
        scan_loop!(buf, st, f, 64, |p| {
            // SAFETY: `scan_loop` gives a `p` with 64 bytes after it inside the buffer.
            let (lo, hi) = unsafe {
                (
                    _mm256_loadu_si256(p.cast()),
                    _mm256_loadu_si256(p.add(32).cast()),
                )
            };
            mask!(lo) | mask!(hi) << 32
        })
    }

    /// The scan with 16-byte vectors.
    ///
    /// # Safety
    /// The CPU must support SSE2 (every x86-64 does).
    #[target_feature(enable = "sse2")]
    pub(super) unsafe fn scan_sse2<F: FnMut(u64, Option<Line<'_>>)>(
        buf: &[u8],
        st: &mut ScanState<'_>,
        f: &mut F,
    ) {
        let nl = _mm_set1_epi8(b'\n' as i8);
        let gs = _mm_set1_epi8(ENRICH_SEP as i8);
        let par = _mm_set1_epi8(b'(' as i8);
        let zero = _mm_setzero_si128();
        scan_loop!(buf, st, f, 16, |p| {
            // SAFETY: `scan_loop` gives a `p` with 16 bytes after it inside the buffer.
            let v = unsafe { _mm_loadu_si128(p.cast()) };
            let a = _mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, zero));
            let b = _mm_or_si128(_mm_cmpeq_epi8(v, gs), _mm_cmpeq_epi8(v, par));
            _mm_movemask_epi8(_mm_or_si128(a, b)) as u32 as u64
        })
    }
}

pub(super) fn msg_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"msg=audit("))
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

#[cfg(test)]
mod scan_tests {
    use super::super::coalesce::{self, Coalescer, Output as CoOut};
    use super::super::parse::{feed, feed_line, parse_bytes, Report};
    use super::*;

    /// `parse_bytes`, but with the lines found and flagged by the reader's buffer scan (with
    /// 32-byte vectors when `wide`).
    fn parse_scanned(data: &[u8], wide: bool) -> (Vec<String>, Vec<(u64, String)>) {
        let mut co = Coalescer::new(coalesce::Config::default());
        let mut bad = Vec::new();
        let mut rep = Report::default();
        let mut out = Vec::new();
        let (mut lineno, mut skipping) = (0, false);
        let start = scan_lines_with(
            data,
            &mut lineno,
            &mut skipping,
            &mut |n, l| {
                if let Some(l) = l {
                    feed(
                        &mut co,
                        n,
                        l,
                        &mut |n, why| bad.push((n, why.to_string())),
                        &mut rep,
                    );
                    out.extend(std::iter::from_fn(|| co.pop_output()));
                }
            },
            wide,
        );
        if start < data.len() {
            feed_line(
                &mut co,
                lineno + 1,
                Some(&data[start..]),
                &mut |n, why| bad.push((n, why.to_string())),
                &mut rep,
            );
        }
        co.finish();
        out.extend(std::iter::from_fn(|| co.pop_output()));
        (out.iter().map(shape).collect(), bad)
    }

    fn shape(o: &CoOut) -> String {
        match o {
            CoOut::Event(e) => format!(
                "{}:{:?}:{:?}",
                e.serial,
                e.records
                    .iter()
                    .map(|r| (r.start, r.end, r.body, r.enriched))
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(&e.buf)
            ),
            CoOut::Lost(g) => format!("lost {}-{}", g.first, g.last),
        }
    }

    #[test]
    fn buffer_scan_reads_lines_as_the_line_parser_does() {
        let seeds: [&[u8]; 8] = [
            b"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 comm=\"x\"",
            b"type=PROCTITLE msg=audit(1.000:1): proctitle=6C73",
            b"type=PATH msg=audit(1.000:2): item=0 name=\"/x\"\x1dOUID=\"root\"",
            b"node=n1 type=EOE msg=audit(1.000:2): ",
            b"type=USER_AUTH msg=audit(1.001:3): pid=1 msg='op=x res=success'",
            b"type=SYSCALL msg=audit(1.000:4): a=1 type=EOE msg=audit(1.000:4): ",
            b"junk without a header",
            b"type=X msg=audit(1.0:5): a=msg=audit( b=msg=audit(1.0:6)",
        ];
        // With bytes that share a low nibble with the special ones (0x10, 0x18, 0x8a, 0x9d,
        // 0xa8, 0x80: the wide scan tells them apart by their high nibble).
        let specials = [
            b'\n', b'\r', 0, 0x1d, b' ', b'#', b'(', b'm', 0x10, 0x18, 0x8a, 0x9d, 0xa8, 0x80,
        ];
        // A small deterministic generator: seeds glued together, bytes replaced or inserted.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        #[cfg(target_arch = "x86_64")]
        let wide_ok = std::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let wide_ok = false;
        for _ in 0..3000 {
            let mut data = Vec::new();
            for _ in 0..1 + next(6) {
                data.extend_from_slice(seeds[next(seeds.len())]);
                if next(4) > 0 {
                    data.push(b'\n');
                }
            }
            for _ in 0..next(4) {
                let at = next(data.len() + 1);
                let c = specials[next(specials.len())];
                if next(2) == 0 && at < data.len() {
                    data[at] = c;
                } else {
                    data.insert(at, c);
                }
            }
            if next(3) == 0 {
                let m = b"msg=audit(1.000:9): ";
                let at = next(data.len() + 1);
                data.splice(at..at, m.iter().copied());
            }
            let (out, bad) = parse_bytes(&data, coalesce::Config::default());
            let want = (out.iter().map(shape).collect::<Vec<_>>(), bad);
            for wide in [false, wide_ok] {
                assert_eq!(
                    parse_scanned(&data, wide),
                    want,
                    "{:?}",
                    String::from_utf8_lossy(&data)
                );
            }
        }
    }
}
