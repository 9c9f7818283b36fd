//! Events written in place (`direct.rs`) against the coalescer alone: the reader hands the
//! renderers the same items (lines, records, numbers, LOST gaps, `timed_out`), in the same
//! batches, with the same report, on the corpus and on shuffled, cut and altered copies of it,
//! under tight limits too.

use std::io::{self, Read};
use std::sync::mpsc::sync_channel;

use super::*;

/// A reader that hands out at most `step` bytes per read (each read ends with "nothing more
/// for now": the batch being filled goes out, an event written in place or not).
struct Chunks<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// One item as a renderer gets it.
fn describe(b: &Batch) -> Vec<String> {
    b.items
        .iter()
        .map(|item| match item {
            Item::Raw(m) => {
                let e = b.event(m);
                format!(
                    "{} {:?} {} {}.{} {} {:?} {:?}",
                    m.seq,
                    e.node,
                    e.serial,
                    e.sec,
                    e.nanos,
                    e.timed_out,
                    e.records
                        .iter()
                        .map(|r| (r.start, r.end, r.rtype, r.type_tok, r.body, r.enriched))
                        .collect::<Vec<_>>(),
                    String::from_utf8_lossy(e.buf)
                )
            }
            Item::Gap(g, seq) => format!(
                "{seq} lost {:?} {}-{} {}.{}",
                g.node, g.first, g.last, g.sec, g.nanos
            ),
        })
        .collect()
}

/// What the reader hands out for `data`, batch by batch, its report, and how many events it
/// wrote in place; `direct: false` sends every event through the coalescer.
fn reader_items(
    data: &[u8],
    cfg: coalesce::Config,
    direct: bool,
    step: usize,
) -> (Vec<Vec<String>>, Report, u64) {
    // Few batches: the reader also waits for batches to come back.
    let slots = 3;
    let work = Work::default();
    let (pool_tx, pool_rx) = sync_channel::<Batch>(slots);
    let mut report = Report::default();
    let mut in_place = 0;
    let mut batches = std::thread::scope(|s| {
        let taker = s.spawn(|| {
            let mut seen = Vec::new();
            while let Some(mut b) = work.pop() {
                seen.push((b.index, describe(&b)));
                b.recycle();
                pool_tx.try_send(b).unwrap();
            }
            seen
        });
        let mut st = State::new(cfg, &work, pool_rx, slots);
        st.direct = direct;
        let mut c = Complaints {
            file: "test",
            shown: 0,
            max: 0,
            count: 0,
        };
        let mut on_line = |n, l: Option<Line<'_>>| st.line(n, l, &mut c, &mut report);
        read_lines(Chunks { data, step }, None, "test", false, &mut on_line).unwrap();
        report.bad_lines = c.count;
        st.finish(&mut report);
        in_place = st.in_place;
        work.close();
        taker.join().unwrap()
    });
    batches.sort_by_key(|b| b.0);
    for (i, b) in batches.iter().enumerate() {
        assert_eq!(b.0, i as u64, "batches numbered in order");
    }
    (batches.into_iter().map(|b| b.1).collect(), report, in_place)
}

/// The two ways agree on `data`; how many events went in place.
fn check(data: &[u8], cfg: coalesce::Config, step: usize) -> u64 {
    let (want, want_rep, none) = reader_items(data, cfg, false, step);
    assert_eq!(none, 0);
    let (got, got_rep, in_place) = reader_items(data, cfg, true, step);
    let ctx = || format!("{cfg:?} step {step}: {:?}", String::from_utf8_lossy(data));
    assert_eq!(got_rep, want_rep, "{}", ctx());
    assert_eq!(got.len(), want.len(), "batches: {}", ctx());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{}", ctx());
    }
    in_place
}

fn corpus_logs() -> Vec<Vec<u8>> {
    crate::audit::corpus_files::corpus_files()
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

/// Limits under which the in-flight bounds and timeouts cut events all the time.
const TIGHT: [coalesce::Config; 5] = [
    coalesce::Config {
        timeout_ms: 2000,
        max_pending: 4096,
        max_bytes: 16 << 20,
        gaps: true,
    },
    coalesce::Config {
        timeout_ms: 0,
        max_pending: 1,
        max_bytes: 16 << 20,
        gaps: true,
    },
    coalesce::Config {
        timeout_ms: 1,
        max_pending: 2,
        max_bytes: 700,
        gaps: true,
    },
    coalesce::Config {
        timeout_ms: 5,
        max_pending: 3,
        max_bytes: 3000,
        gaps: false,
    },
    coalesce::Config {
        timeout_ms: 2000,
        max_pending: 4096,
        max_bytes: 16 << 20,
        gaps: false,
    },
];

#[test]
fn in_place_events_come_out_as_through_the_coalescer_on_the_corpus() {
    let logs = corpus_logs();
    let all: Vec<u8> = logs.concat();
    let mut in_place = 0;
    for cfg in TIGHT {
        for step in [100, 4096, 1 << 20] {
            in_place += check(&all, cfg, step);
        }
    }
    for log in &logs {
        in_place += check(log, coalesce::Config::default(), 1 << 20);
    }
    // The shortcut was taken (a comparison of two identical paths would pass too).
    assert!(in_place > 1000, "{in_place}");
}

#[test]
fn in_place_events_come_out_as_through_the_coalescer_on_altered_logs() {
    let logs = corpus_logs();
    let lines: Vec<&[u8]> = logs
        .iter()
        .flat_map(|l| l.split(|&b| b == b'\n'))
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() > 100);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let big = format!(
        "type=PATH msg=audit(1.000:5): name=\"{}\"",
        "x".repeat(70 << 10)
    );
    let mut in_place = 0;
    for round in 0..600 {
        // A run of consecutive corpus lines (whole events, mostly), then altered.
        let from = next(lines.len());
        let mut log: Vec<Vec<u8>> = lines[from..(from + 5 + next(60)).min(lines.len())]
            .iter()
            .map(|l| l.to_vec())
            .collect();
        for _ in 0..next(6) {
            let n = log.len();
            let i = next(n);
            match next(9) {
                // Records of two events interleaved, or out of order.
                0 | 1 if n > 1 => log.swap(i, (i + 1 + next(3)).min(n - 1)),
                2 => log.insert(i, log[i].clone()),
                3 => {
                    log.remove(i);
                }
                // Another serial or another time: serial reuse, gaps, stale end markers.
                4 | 5 => {
                    let l = &mut log[i];
                    if let Some(p) = l.windows(2).position(|w| w == b"):") {
                        let c = next(3);
                        if p > 0 && l[p - 1].is_ascii_digit() && c < 2 {
                            l[p - 1] = b'0' + next(10) as u8;
                        } else if let Some(d) = l[..p].iter().rposition(|&b| b == b'.') {
                            if d + 1 < p {
                                l[d + 1] = b'0' + next(10) as u8;
                            }
                        }
                    }
                }
                6 => {
                    let l = log[i].clone();
                    if let Some(s) = l.windows(10).position(|w| w == b"msg=audit(") {
                        let e = l[s..]
                            .iter()
                            .position(|&b| b == b')')
                            .map_or(l.len(), |e| s + e);
                        let mut eoe = b"type=EOE ".to_vec();
                        eoe.extend_from_slice(&l[s..(e + 2).min(l.len())]);
                        log.insert(next(n + 1), eoe);
                    }
                }
                7 => log.insert(i, big.clone().into_bytes()),
                _ => log.insert(i, b"junk".to_vec()),
            }
        }
        let mut data = log.join(&b"\n"[..]);
        if next(2) == 0 {
            data.push(b'\n');
        }
        let cfg = TIGHT[round % TIGHT.len()];
        let step = [37, 512, 1 << 20][next(3)];
        in_place += check(&data, cfg, step);
    }
    assert!(in_place > 1000, "{in_place}");
}
