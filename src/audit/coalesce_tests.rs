//! The coalescer's own tests (grouping, timeouts, gaps, limits).

use super::super::record::parse_header;
use super::*;

fn run(lines: &[&str], cfg: Config) -> Vec<Output> {
    let mut c = Coalescer::new(cfg);
    let mut out = Vec::new();
    for l in lines {
        let h = parse_header(l.as_bytes()).unwrap();
        c.push(&h, l.as_bytes());
        out.extend(std::iter::from_fn(|| c.pop_output()));
    }
    c.finish();
    out.extend(std::iter::from_fn(|| c.pop_output()));
    out
}

fn shape(out: &[Output]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            Output::Event(e) => format!("{}:{}", e.serial, e.records.len()),
            Output::Lost(g) => format!("lost {}-{}", g.first, g.last),
        })
        .collect()
}

#[test]
fn interleaved_records_group_by_serial() {
    let lines = [
        "type=SYSCALL msg=audit(1.000:10): a=1",
        "type=SYSCALL msg=audit(1.000:11): a=1",
        "type=CWD msg=audit(1.000:10): cwd=\"/\"",
        "type=EOE msg=audit(1.000:11): ",
        "type=PROCTITLE msg=audit(1.000:10): proctitle=6C73",
        "type=EOE msg=audit(1.000:10): ",
        "type=USER_AUTH msg=audit(1.000:12): pid=1",
    ];
    let out = run(&lines, Config::default());
    assert_eq!(shape(&out), ["11:1", "10:3", "12:1"]);
}

#[test]
fn timeout_in_audit_time_and_gaps() {
    let lines = [
        "type=SYSCALL msg=audit(1.000:10): a=1",
        "type=SYSCALL msg=audit(2.000:13): a=1",
        "type=EOE msg=audit(2.000:13): ",
        "type=SYSCALL msg=audit(9.000:14): a=1",
    ];
    let out = run(&lines, Config::default());
    assert_eq!(shape(&out), ["13:1", "10:1", "14:1", "lost 11-12"]);
}

#[test]
fn rollover_is_not_loss() {
    let lines = [
        "type=SYSCALL msg=audit(1.000:4294967294): a=1",
        "type=SYSCALL msg=audit(1.000:4294967295): a=1",
        "type=SYSCALL msg=audit(1.000:0): a=1",
        "type=SYSCALL msg=audit(1.000:1): a=1",
    ];
    let out = run(&lines, Config::default());
    assert_eq!(shape(&out), ["4294967294:1", "4294967295:1", "0:1", "1:1"]);
}

#[test]
fn one_event_cannot_grow_without_bound() {
    let line = format!(
        "type=PATH msg=audit(1.000:7): name=\"{}\"",
        "x".repeat(8000)
    );
    let mut c = Coalescer::new(Config::default());
    for _ in 0..2000 {
        let h = parse_header(line.as_bytes()).unwrap();
        c.push(&h, line.as_bytes());
        assert!(c
            .pending
            .iter()
            .all(|(_, i)| c.slots[i as usize].ev.buf.len() <= MAX_EVENT_BYTES + line.len()));
    }
    c.finish();
    assert!(c.out.len() >= 3, "{}", c.out.len());
}

/// Skipping a repeat of the last (node, serial) (`track`) leaves the gap tracking as
/// tracking every record does: same LOST events, same state, on serials that repeat,
/// jump, go back, wrap and alternate between nodes.
#[test]
fn repeated_serials_need_no_tracking() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut gaps = 0;
    for _ in 0..300 {
        let mut skip = Coalescer::new(Config::default());
        let mut all = Coalescer::new(Config::default());
        for c in [&mut skip, &mut all] {
            for n in [&b"a"[..], b"b"] {
                c.node_id(Some(n));
            }
        }
        // Nodes 0 and 1 often at the same serial.
        let mut s = [100, 100, u32::MAX as u64 - 300];
        for _ in 0..400 {
            let node = next(3) as u32;
            let s = &mut s[node as usize];
            *s = match next(10) {
                0..=4 => *s,
                5 | 6 => s.wrapping_add(1 + next(3)) & 0xFFFF_FFFF,
                7 => s.wrapping_add(next(700)) & 0xFFFF_FFFF,
                8 => s.saturating_sub(next(5)),
                _ => s.wrapping_add(next(3_000_000)) & 0xFFFF_FFFF,
            };
            skip.track(node, *s, 1, 0);
            all.track_serial(node, *s, 1, 0);
            let lost = |c: &mut Coalescer| -> Vec<String> {
                std::iter::from_fn(|| c.pop_output())
                    .map(|o| match o {
                        Output::Lost(g) => format!("{:?} {}-{}", g.node, g.first, g.last),
                        Output::Event(_) => unreachable!(),
                    })
                    .collect()
            };
            let l = lost(&mut skip);
            gaps += l.len();
            assert_eq!(l, lost(&mut all));
            for (a, b) in skip.gaps.iter().zip(&all.gaps) {
                assert_eq!((a.low, a.started), (b.low, b.started));
                assert!(a.ahead.iter().eq(b.ahead.iter()));
            }
        }
    }
    assert!(gaps > 1000, "{gaps}");
}

#[test]
fn in_flight_is_bounded() {
    let lines: Vec<String> = (0..100)
        .map(|i| format!("type=SYSCALL msg=audit(1.000:{i}): a=1"))
        .collect();
    let refs: Vec<&str> = lines.iter().map(|s| s.as_str()).collect();
    let mut c = Coalescer::new(Config {
        max_pending: 8,
        ..Config::default()
    });
    for l in &refs {
        let h = parse_header(l.as_bytes()).unwrap();
        c.push(&h, l.as_bytes());
        assert!(c.in_flight() <= 8);
    }
    c.finish();
    assert_eq!(c.out.len(), 100);
}
