//! Golden files for the encoders: a fixed set of awkward events, encoded in every format and
//! compared with `testdata/golden.*`. After an intended change, regenerate with
//! `LETRACE_BLESS=1 cargo test golden` and review the diff.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use super::Format;
use crate::event::{Bytes, Event, FileInfo, Map, Network, Process, SourceKind, Timestamp, Value};

pub(crate) fn sample_events() -> Vec<Event> {
    let at = |n: i128| Timestamp::from_unix_nanos(1_795_318_193_000_000_000 + n);
    let mut out = Vec::new();

    let mut e = Event::new(SourceKind::Inotify, "IN_CREATE");
    e.time = at(1);
    e.file = Some(Box::new(FileInfo {
        path: Bytes(b"/w/we<i&rd,\"na\nme\xff\\x\t'".to_vec()),
        kind: None,
        extra: Map::new(),
    }));
    e.extra.insert(
        "inotify",
        Map::new()
            .with("wd", 1u32)
            .with("mask", 256u32)
            .with("name", Bytes(b"\x01\x7f>".to_vec())),
    );
    out.push(e);

    let mut e = Event::new(SourceKind::Inotify, "IN_MOVED_TO");
    e.time = at(2);
    e.file = Some(Box::new(FileInfo {
        path: "/w/dir".into(),
        kind: Some("dir"),
        extra: Map::new(),
    }));
    e.extra.insert(
        "inotify",
        Map::new()
            .with("wd", 1u32)
            .with("mask", 0x4000_0080u32)
            .with("cookie", 72u32),
    );
    out.push(e);

    let mut e = Event::lost(SourceKind::Inotify, 1, false, "IN_Q_OVERFLOW");
    e.time = at(3);
    out.push(e);

    let mut e = Event::new(SourceKind::Audit, "SYSCALL");
    e.time = at(4);
    e.process = Some(Box::new(Process {
        pid: Some(4242),
        ppid: Some(1),
        uid: Some(0),
        gid: Some(0),
        comm: Some("sh".into()),
        exe: Some("/usr/bin/dash".into()),
        args: Some(vec![
            "sh".into(),
            "-c".into(),
            Bytes(b"echo \"a,b\" <x> & \xfe".to_vec()),
        ]),
        extra: Map::new().with("entity_id", "abc"),
        ..Process::default()
    }));
    e.network = Some(Box::new(Network {
        family: Some(Cow::Borrowed("ipv6")),
        daddr: Some("2001:db8::1".into()),
        dport: Some(443),
        ..Network::default()
    }));
    let rec = Map::new().with("type", "SYSCALL").with(
        "fields",
        Map::new()
            .with("a1[0]", "x")
            .with("empty", Value::Null)
            .with("list", Value::List(vec![]))
            .with("neg", -5i64),
    );
    e.extra.insert(
        "audit",
        Map::new()
            .with("serial", 77u64)
            .with("records", Value::List(vec![Value::Map(rec)])),
    );
    out.push(e);

    for (i, e) in out.iter_mut().enumerate() {
        e.seq = i as u64 + 1;
        e.host = Arc::from("host-1");
    }
    out
}

fn encode_all(format: Format) -> Vec<u8> {
    let enc = format.encoder(false);
    let mut buf = Vec::new();
    enc.header(&mut buf);
    for e in sample_events() {
        enc.encode(&e, &mut buf);
    }
    enc.footer(&mut buf);
    buf
}

fn check(format: Format, file: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/encode/testdata")
        .join(file);
    let got = encode_all(format);
    if std::env::var_os("LETRACE_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (LETRACE_BLESS=1 creates it)", path.display()));
    assert!(
        got == want,
        "{file} differs from the golden file; if intended, regenerate with LETRACE_BLESS=1 and review:\n{}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn golden_json() {
    check(Format::Json, "golden.jsonl");
}

#[test]
fn golden_xml() {
    check(Format::Xml, "golden.xml");
}

#[test]
fn golden_csv() {
    check(Format::Csv, "golden.csv");
}

#[test]
fn golden_text() {
    check(Format::Text, "golden.txt");
}

#[test]
fn every_line_is_valid_json_and_paths_round_trip() {
    let out = encode_all(Format::Json);
    let text = std::str::from_utf8(&out).unwrap();
    let events = sample_events();
    for (line, ev) in text.lines().zip(&events) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(f) = &ev.file {
            let p = v["file"]["path"].as_str().unwrap();
            assert_eq!(crate::text::unescape(p).unwrap(), f.path.0);
        }
    }
    assert_eq!(text.lines().count(), events.len());
}

#[test]
fn xml_is_well_formed_and_carries_the_same_values() {
    let out = encode_all(Format::Xml);
    let doc = roxmltree::Document::parse(std::str::from_utf8(&out).unwrap()).unwrap();
    let evs: Vec<_> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("Event"))
        .collect();
    assert_eq!(evs.len(), sample_events().len());
    let path = evs[0]
        .children()
        .find(|n| n.attribute("Name") == Some("file.path"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        crate::text::unescape(path).unwrap(),
        b"/w/we<i&rd,\"na\nme\xff\\x\t'"
    );
    let arg = evs[3]
        .children()
        .find(|n| n.attribute("Name") == Some("process.args[2]"))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        crate::text::unescape(arg).unwrap(),
        b"echo \"a,b\" <x> & \xfe"
    );
    // One <Event> per line.
    assert_eq!(
        std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("<Event "))
            .count(),
        4
    );
}

#[test]
fn csv_is_rfc4180_with_one_row_per_event() {
    let out = encode_all(Format::Csv);
    let mut rd = csv::ReaderBuilder::new().from_reader(&out[..]);
    let header = rd.headers().unwrap().clone();
    assert_eq!(header.len(), super::csv::COLUMNS.len() + 1);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        crate::text::unescape(&rows[0][col("file.path")]).unwrap(),
        b"/w/we<i&rd,\"na\nme\xff\\x\t'"
    );
    let args: Vec<String> = serde_json::from_str(&rows[3][col("process.args")]).unwrap();
    assert_eq!(
        crate::text::unescape(&args[2]).unwrap(),
        b"echo \"a,b\" <x> & \xfe"
    );
    let extra: serde_json::Value = serde_json::from_str(&rows[3][col("extra")]).unwrap();
    assert_eq!(extra["process"]["entity_id"], "abc");
    assert_eq!(extra["audit"]["serial"], 77);
    assert_eq!(&rows[2][col("lost")], "1");
}
