//! Tests for the `input` source. This machine has no input devices and no uinput, so the
//! records go through what the kernel does have: a FIFO (and a file, and a watched directory
//! where a "device" appears later). Each test checks every record in the JSON, XML and CSV
//! output, compared field for field.

mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::flat::{find, output_args, read_all, Flat};
use common::{kernel_lock, letrace, need_root, Recorder};

const EV_SYN: u16 = 0;
const EV_KEY: u16 = 1;
const EV_REL: u16 = 2;
const EV_ABS: u16 = 3;
const EV_MSC: u16 = 4;
const EV_SW: u16 = 5;

/// `struct input_event` as x86_64 lays it out: timeval (2 x i64), u16 type, u16 code, i32.
fn record(sec: i64, usec: i64, ev_type: u16, code: u16, value: i32) -> Vec<u8> {
    let mut b = Vec::with_capacity(24);
    b.extend_from_slice(&sec.to_ne_bytes());
    b.extend_from_slice(&usec.to_ne_bytes());
    b.extend_from_slice(&ev_type.to_ne_bytes());
    b.extend_from_slice(&code.to_ne_bytes());
    b.extend_from_slice(&value.to_ne_bytes());
    b
}

/// (usec, type, code, value, expected `type` in the log).
const SESSION: [(i64, u16, u16, i32, &str); 18] = [
    (1, EV_MSC, 4, 0x70004, "MSC_SCAN"),
    (1, EV_KEY, 30, 1, "KEY_PRESS"),
    (1, EV_SYN, 0, 0, "SYN_REPORT"),
    (250_000, EV_KEY, 30, 2, "KEY_REPEAT"),
    (250_000, EV_SYN, 0, 0, "SYN_REPORT"),
    (300_000, EV_KEY, 30, 0, "KEY_RELEASE"),
    (300_000, EV_SYN, 0, 0, "SYN_REPORT"),
    (400_000, EV_REL, 0, 5, "REL_X"),
    (400_000, EV_REL, 1, -3, "REL_Y"),
    (400_000, EV_SYN, 0, 0, "SYN_REPORT"),
    (500_000, EV_ABS, 0, 1200, "ABS_X"),
    (500_000, EV_ABS, 1, 800, "ABS_Y"),
    (500_000, EV_SYN, 0, 0, "SYN_REPORT"),
    (600_000, EV_SYN, 3, 0, "LOST"),
    (600_001, EV_KEY, 0x110, 1, "KEY_PRESS"),
    (600_001, EV_SYN, 0, 0, "SYN_REPORT"),
    (700_000, EV_SW, 0, 1, "SW_LID"),
    (700_000, EV_SYN, 0, 0, "SYN_REPORT"),
];
const SEC: i64 = 1_795_300_000; // 2026-11-21T22:26:40Z

fn session_bytes() -> Vec<u8> {
    SESSION
        .iter()
        .flat_map(|&(usec, t, c, v, _)| record(SEC, usec, t, c, v))
        .collect()
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn start(args: &[&str], dir: &Path, stem: &str) -> Recorder {
    Recorder::start_outputs(letrace().arg("record").args(args), dir, stem)
}

/// Checks that the events after `from` are SESSION, in order, with names, values, the
/// kernel's timestamps and SYN_REPORT frame numbers.
fn check_session(evs: &[Flat], from: usize, device: &str, redacted: bool) {
    let evs: Vec<&Flat> = evs[from..]
        .iter()
        .filter(|e| e.get("input.device").map(String::as_str) == Some(device))
        .filter(|e| !e["type"].starts_with("DEVICE_"))
        .collect();
    assert_eq!(evs.len(), SESSION.len(), "{evs:#?}");
    let mut report = 1;
    for (ev, &(usec, t, code, value, kind)) in evs.iter().zip(&SESSION) {
        assert_eq!(ev["type"], kind, "{ev:?}");
        assert_eq!(ev["source"], "input");
        assert_eq!(
            ev["time"],
            format!("2026-11-21T22:26:40.{:06}000Z", usec),
            "{ev:?}"
        );
        assert_eq!(ev["input.report"], report.to_string(), "{ev:?}");
        let key_hidden = redacted && (t == EV_KEY && code < 0x100 || t == EV_MSC);
        if kind == "LOST" {
            assert_eq!(
                (ev["lost"].as_str(), ev["lost_exact"].as_str()),
                ("1", "false")
            );
            assert_eq!(ev["reason"], "SYN_DROPPED");
        } else if key_hidden {
            assert_eq!(ev["input.redacted"], "true", "{ev:?}");
            assert!(
                !ev.contains_key("input.code") && !ev.contains_key("input.key"),
                "{ev:?}"
            );
        } else {
            assert_eq!(ev["input.ev_type"], t.to_string());
            assert_eq!(ev["input.code"], code.to_string());
            assert_eq!(ev["input.value"], value.to_string(), "{ev:?}");
        }
        if t == EV_SYN && code == 0 {
            report += 1;
        }
    }
    if !redacted {
        assert_eq!(evs[1]["input.key"], "KEY_A");
    }
    assert_eq!(
        evs[14]["input.key"], "BTN_LEFT",
        "buttons are never redacted"
    );
    // The frame after SYN_DROPPED is incomplete, up to and including its SYN_REPORT.
    assert_eq!(evs[14]["input.incomplete"], "true");
    assert_eq!(evs[15]["input.incomplete"], "true");
    assert!(!evs[16].contains_key("input.incomplete"));
    assert_eq!(evs[9]["input.events"], "2", "REL_X and REL_Y in one frame");
}

#[test]
fn fifo_records_are_all_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("kbd");
    mkfifo(&fifo);
    let spec = format!("input:{}", fifo.display());
    let rec = start(&["-s", &spec], dir.path(), "in");
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let bytes = session_bytes();
    // In uneven pieces: records split across writes must still come out whole.
    for piece in bytes.chunks(50) {
        w.write_all(piece).unwrap();
        w.flush().unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(w);
    let stderr = rec.stop_ok();
    assert!(stderr.contains("1 lost (input 1)"), "{stderr}");
    let evs = read_all(dir.path(), "in");
    let dev = fifo.to_str().unwrap();
    let added = find(
        &evs,
        0,
        &[
            ("type", "DEVICE_ADDED"),
            ("input.device", dev),
            ("input.file_type", "fifo"),
        ],
    );
    check_session(&evs, added + 1, dev, false);
}

#[test]
fn redaction_removes_every_trace_of_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("kbd");
    mkfifo(&fifo);
    let spec = format!("input:{}", fifo.display());
    let rec = start(&["-s", &spec, "--input-redact"], dir.path(), "red");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(&session_bytes())
        .unwrap();
    rec.stop_ok();
    let evs = read_all(dir.path(), "red");
    check_session(&evs, 0, fifo.to_str().unwrap(), true);
    for ext in ["jsonl", "xml", "csv"] {
        let text = std::fs::read_to_string(dir.path().join(format!("red.{ext}"))).unwrap();
        for secret in ["KEY_A", "458756", "\"code\":30"] {
            assert!(!text.contains(secret), "{secret} in red.{ext}");
        }
    }
}

#[test]
fn a_file_of_records_is_read_to_its_end_and_letrace_exits() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recorded.bin");
    let mut bytes = session_bytes();
    bytes.extend_from_slice(&[0u8; 5]); // a truncated last record
    std::fs::write(&file, bytes).unwrap();
    let spec = format!("input:{}", file.display());
    let out = letrace()
        .args(["record", "-s", &spec])
        .args(output_args(dir.path(), "f"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = read_all(dir.path(), "f");
    let dev = file.to_str().unwrap();
    check_session(&evs, 0, dev, false);
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "DEVICE_REMOVED");
    assert_eq!(last["input.reason"], "end of file");
    assert_eq!(last["input.partial_record_bytes"], "5");
}

#[test]
fn a_directory_is_watched_for_devices_that_appear_later() {
    let dir = tempfile::tempdir().unwrap();
    let devdir = dir.path().join("devinput");
    std::fs::create_dir(&devdir).unwrap();
    // Not a device name: ignored.
    mkfifo(&devdir.join("mouse0"));
    let spec = format!("input:{}", devdir.display());
    let rec = start(&["-s", &spec], dir.path(), "hot");
    let ev = devdir.join("event7");
    mkfifo(&ev);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ev)
        .unwrap()
        .write_all(&session_bytes())
        .unwrap();
    std::fs::remove_file(&ev).unwrap();
    // The directory goes away and comes back with another device in it.
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(devdir.join("mouse0")).unwrap();
    std::fs::remove_dir(&devdir).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    std::fs::create_dir(&devdir).unwrap();
    let ev8 = devdir.join("event8");
    mkfifo(&ev8);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ev8)
        .unwrap()
        .write_all(&session_bytes())
        .unwrap();
    let stderr = rec.stop_ok();
    assert!(
        stderr.contains("no input devices in") && stderr.contains("waiting for one to appear"),
        "{stderr}"
    );
    let evs = read_all(dir.path(), "hot");
    let dev = ev.to_str().unwrap();
    let added = find(&evs, 0, &[("type", "DEVICE_ADDED"), ("input.device", dev)]);
    check_session(&evs, added + 1, dev, false);
    find(
        &evs,
        added + 1,
        &[
            ("type", "DEVICE_REMOVED"),
            ("input.device", dev),
            ("input.reason", "deleted"),
        ],
    );
    assert!(!evs
        .iter()
        .any(|e| e.get("input.device").is_some_and(|d| d.ends_with("mouse0"))));
    let dev8 = ev8.to_str().unwrap();
    let added8 = find(
        &evs,
        added + 1,
        &[("type", "DEVICE_ADDED"), ("input.device", dev8)],
    );
    check_session(&evs, added8 + 1, dev8, false);
}

/// Removes /dev/input (which this test created) when the test ends, also on failure.
struct RemoveDir(&'static str);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0);
    }
}

/// Plain `input` on a machine without /dev/input: letrace waits, and picks up the directory
/// and its first device when they appear (created here as a FIFO, in the same instant, so
/// the device is already inside when the directory watch is set).
#[test]
fn plain_input_waits_for_dev_input_and_its_first_device() {
    if !need_root() {
        return;
    }
    let _lock = kernel_lock();
    if Path::new("/dev/input").exists() {
        eprintln!("SKIP: /dev/input exists here; this test needs a machine without input devices");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = start(&["-s", "input"], dir.path(), "dev");
    let _rm = RemoveDir("/dev/input");
    std::fs::create_dir("/dev/input").unwrap();
    let ev = Path::new("/dev/input/event0");
    mkfifo(ev);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::OpenOptions::new()
        .write(true)
        .open(ev)
        .unwrap()
        .write_all(&session_bytes())
        .unwrap();
    let stderr = rec.stop_ok();
    assert!(
        stderr.contains("no input devices in /dev/input yet"),
        "{stderr}"
    );
    let evs = read_all(dir.path(), "dev");
    let added = find(
        &evs,
        0,
        &[
            ("type", "DEVICE_ADDED"),
            ("input.device", "/dev/input/event0"),
        ],
    );
    check_session(&evs, added + 1, "/dev/input/event0", false);
}

/// A file (or FIFO) can wait, so a full queue slows reading down instead of losing events.
#[test]
fn a_file_is_never_a_reason_to_lose_events() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.bin");
    let n = 20_000;
    let bytes: Vec<u8> = (0..n)
        .flat_map(|i| record(SEC, i % 1_000_000, EV_REL, (i % 2) as u16, 1))
        .collect();
    std::fs::write(&file, bytes).unwrap();
    let spec = format!("input:{}", file.display());
    let out_path = dir.path().join("many.jsonl");
    let out = letrace()
        .args(["record", "-s", &spec, "--queue-size", "16", "-o"])
        .arg(&out_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(", 0 lost"), "{stderr}");
    let evs = common::flat::read_jsonl(&out_path);
    let rel = evs.iter().filter(|e| e["type"].starts_with("REL_")).count();
    assert_eq!(rel, n as usize);
}
