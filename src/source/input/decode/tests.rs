//! This machine has no input devices and no uinput, so the records here are built in the
//! kernel's layout (what a USB keyboard and mouse send: MSC_SCAN before each key, frames
//! closed by SYN_REPORT) rather than captured. The golden file `testdata/session.jsonl` holds
//! the events they decode to; regenerate with `LETRACE_BLESS=1 cargo test` and review.

use super::*;
use crate::encode::Format;
use crate::event::Value;
use crate::source::input::codes::{EV_ABS, EV_MSC, EV_REL, EV_SW};

fn rec(usec: i64, ev_type: u16, code: u16, value: i32) -> RawInput {
    RawInput {
        sec: 1_795_300_000,
        usec,
        ev_type,
        code,
        value,
    }
}

/// A keyboard typing "a" with autorepeat, a mouse move and click, a tablet, a lid switch,
/// and a SYN_DROPPED in the middle.
pub(crate) fn session() -> Vec<RawInput> {
    vec![
        rec(1, EV_MSC, MSC_SCAN, 0x70004),
        rec(1, EV_KEY, 30, 1),
        rec(1, EV_SYN, SYN_REPORT, 0),
        rec(250_001, EV_KEY, 30, 2),
        rec(250_001, EV_SYN, SYN_REPORT, 0),
        rec(300_000, EV_MSC, MSC_SCAN, 0x70004),
        rec(300_000, EV_KEY, 30, 0),
        rec(300_000, EV_SYN, SYN_REPORT, 0),
        rec(400_000, EV_REL, 0, 5),
        rec(400_000, EV_REL, 1, -3),
        rec(400_000, EV_SYN, SYN_REPORT, 0),
        rec(500_000, EV_KEY, 0x110, 1),
        rec(500_000, EV_SYN, SYN_REPORT, 0),
        rec(600_000, EV_ABS, 0, 1200),
        rec(600_000, EV_ABS, 1, 800),
        rec(600_000, EV_SYN, SYN_REPORT, 0),
        rec(700_000, EV_SYN, SYN_DROPPED, 0),
        rec(700_001, EV_REL, 0, 1),
        rec(700_001, EV_SYN, SYN_REPORT, 0),
        rec(800_000, EV_SW, 0, 1),
        rec(800_000, EV_REL, 0x0f, 7),
        rec(800_000, EV_SYN, SYN_REPORT, 0),
    ]
}

fn decode_all(redact: bool) -> (Vec<Event>, Vec<Note>) {
    let mut bytes = Vec::new();
    for r in session() {
        bytes.extend_from_slice(&r.to_bytes());
    }
    let mut d = Decoder::new(
        DeviceInfo {
            path: b"/tmp/kbd".to_vec(),
            name: Some(b"Test keyboard".to_vec()),
        },
        redact,
    );
    let mut raws = Vec::new();
    let mut asm = Reassembler::default();
    // Odd-sized pieces, as a FIFO writer might produce.
    for piece in bytes.chunks(7) {
        asm.push(piece, |r| raws.push(r));
    }
    assert_eq!(asm.pending(), 0);
    assert_eq!(raws, session());
    raws.iter().map(|r| d.decode(r)).unzip()
}

fn input(ev: &Event) -> &Map {
    match ev.extra.get("input") {
        Some(Value::Map(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn records_decode_to_kernel_named_events_grouped_by_report() {
    let (evs, notes) = decode_all(false);
    let kinds: Vec<&str> = evs.iter().map(|e| &*e.kind).collect();
    assert_eq!(
        kinds,
        [
            "MSC_SCAN",
            "KEY_PRESS",
            "SYN_REPORT",
            "KEY_REPEAT",
            "SYN_REPORT",
            "MSC_SCAN",
            "KEY_RELEASE",
            "SYN_REPORT",
            "REL_X",
            "REL_Y",
            "SYN_REPORT",
            "KEY_PRESS",
            "SYN_REPORT",
            "ABS_X",
            "ABS_Y",
            "SYN_REPORT",
            "LOST",
            "REL_X",
            "SYN_REPORT",
            "SW_LID",
            "REL_0x00f",
            "SYN_REPORT",
        ]
    );
    let reports: Vec<u64> = evs
        .iter()
        .map(|e| match input(e).get("report") {
            Some(Value::U64(n)) => *n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reports,
        [1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8]
    );
    assert_eq!(
        input(&evs[1]).get("key"),
        Some(&Value::from("KEY_A".to_string()))
    );
    assert_eq!(
        input(&evs[11]).get("key"),
        Some(&Value::from("BTN_LEFT".to_string()))
    );
    assert_eq!(input(&evs[9]).get("value"), Some(&Value::I64(-3)));
    assert_eq!(input(&evs[10]).get("events"), Some(&Value::U64(2)));
    assert_eq!(evs[3].time.to_rfc3339(), "2026-11-21T22:26:40.250001000Z");
    // SYN_DROPPED: a LOST event of unknown size; the next frame is marked incomplete and
    // its end asks the reader to resync.
    assert_eq!(
        (evs[16].lost, evs[16].extra.get("lost_exact")),
        (Some(1), Some(&false.into()))
    );
    assert_eq!(evs[16].extra.get("reason"), Some(&"SYN_DROPPED".into()));
    assert_eq!(input(&evs[17]).get("incomplete"), Some(&true.into()));
    assert_eq!(input(&evs[18]).get("incomplete"), Some(&true.into()));
    assert_eq!(input(&evs[19]).get("incomplete"), None);
    let resyncs: Vec<usize> = notes
        .iter()
        .enumerate()
        .filter(|(_, n)| **n == Note::ResyncNow)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(resyncs, [18]);
}

#[test]
fn redaction_hides_keys_and_scan_codes_but_not_buttons_or_motion() {
    let (evs, _) = decode_all(true);
    for i in [0, 1, 3, 5, 6] {
        let m = input(&evs[i]);
        assert_eq!(m.get("redacted"), Some(&true.into()), "{i}");
        assert!(
            m.get("key").is_none() && m.get("code").is_none(),
            "{i}: {m:?}"
        );
        if evs[i].kind == "MSC_SCAN" {
            assert!(m.get("value").is_none());
        }
    }
    assert_eq!(evs[1].kind, "KEY_PRESS");
    assert_eq!(evs[6].kind, "KEY_RELEASE");
    assert_eq!(
        input(&evs[11]).get("key"),
        Some(&Value::from("BTN_LEFT".to_string()))
    );
    assert_eq!(input(&evs[8]).get("value"), Some(&Value::I64(5)));
    // Nothing anywhere in the output names the key.
    let mut out = Vec::new();
    let enc = Format::Json.encoder(false);
    for e in &evs {
        enc.encode(e, &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("KEY_A") && !text.contains("458756") && !text.contains("\"code\":30"));
}

#[test]
fn golden_json() {
    let (evs, _) = decode_all(false);
    let mut out = Vec::new();
    let enc = Format::Json.encoder(false);
    for e in &evs {
        enc.encode(e, &mut out);
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/source/input/testdata/session.jsonl"
    );
    if std::env::var_os("LETRACE_BLESS").is_some() {
        std::fs::write(path, &out).unwrap();
    }
    let want = std::fs::read(path).expect("golden file; create with LETRACE_BLESS=1");
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn a_partial_record_waits_for_its_rest() {
    let bytes = session()[1].to_bytes();
    let mut asm = Reassembler::default();
    let mut got = Vec::new();
    asm.push(&bytes[..23], |r| got.push(r));
    assert!(got.is_empty());
    assert_eq!(asm.pending(), 23);
    asm.push(&bytes[23..], |r| got.push(r));
    assert_eq!(got, [session()[1]]);
}
