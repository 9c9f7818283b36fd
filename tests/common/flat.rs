//! Reads what `letrace record` wrote in JSON lines, XML and CSV into one comparable shape, a
//! flat map per event (`route.ifname` -> `lt0`, `route.flag_names[0]` -> `UP`), so a test
//! can check that the three files carry the same events with the same information.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as J;

pub type Flat = BTreeMap<String, String>;

fn flatten(prefix: &str, v: &J, out: &mut Flat) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        J::Object(m) => {
            for (k, v) in m {
                flatten(&key(k), v, out);
            }
        }
        J::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        J::Null => {}
        J::String(s) if s.is_empty() => {}
        J::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

pub fn read_jsonl(p: &Path) -> Vec<Flat> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .map(|l| {
            let v: J =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            let mut f = Flat::new();
            flatten("", &v, &mut f);
            f
        })
        .collect()
}

pub fn read_xml(p: &Path) -> Vec<Flat> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("bad XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Events");
    root.children()
        .filter(|n| n.is_element())
        .map(|ev| {
            assert_eq!(ev.tag_name().name(), "Event");
            let mut f = Flat::new();
            for a in ev.attributes() {
                f.insert(a.name().to_string(), a.value().to_string());
            }
            for d in ev.children().filter(|n| n.is_element()) {
                let name = d.attribute("Name").expect("Data without Name");
                if let Some(t) = d.text().filter(|t| !t.is_empty()) {
                    f.insert(name.to_string(), t.to_string());
                }
            }
            f
        })
        .collect()
}

pub fn read_csv(p: &Path) -> Vec<Flat> {
    let mut r = csv::Reader::from_path(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let header: Vec<String> = r
        .headers()
        .expect("CSV header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header.last().map(String::as_str), Some("extra"));
    r.records()
        .map(|rec| {
            let rec = rec.expect("CSV record");
            let mut f = Flat::new();
            for (col, cell) in header.iter().zip(rec.iter()) {
                if cell.is_empty() {
                    continue;
                }
                if col == "extra" || col == "process.args" {
                    let v: J = serde_json::from_str(cell).expect("JSON in CSV cell");
                    flatten(if col == "extra" { "" } else { col }, &v, &mut f);
                } else {
                    f.insert(col.clone(), cell.to_string());
                }
            }
            f
        })
        .collect()
}

/// Reads `stem.jsonl`, `stem.xml` and `stem.csv` from `dir`, asserts they hold the same
/// events field for field, and returns them.
pub fn read_all(dir: &Path, stem: &str) -> Vec<Flat> {
    let json = read_jsonl(&dir.join(format!("{stem}.jsonl")));
    let xml = read_xml(&dir.join(format!("{stem}.xml")));
    let csv = read_csv(&dir.join(format!("{stem}.csv")));
    assert_eq!(json.len(), xml.len(), "JSON and XML event counts differ");
    assert_eq!(json.len(), csv.len(), "JSON and CSV event counts differ");
    for (i, ((j, x), c)) in json.iter().zip(&xml).zip(&csv).enumerate() {
        assert_eq!(j, x, "event {i}: JSON and XML differ");
        assert_eq!(j, c, "event {i}: JSON and CSV differ");
    }
    json
}

/// The `-o` arguments that make `read_all(dir, stem)` work.
pub fn output_args(dir: &Path, stem: &str) -> Vec<String> {
    ["jsonl", "xml", "csv"]
        .iter()
        .flat_map(|ext| {
            [
                "-o".to_string(),
                dir.join(format!("{stem}.{ext}")).display().to_string(),
            ]
        })
        .collect()
}

/// Whether `ev` has every `(key, value)` in `want`.
pub fn matches(ev: &Flat, want: &[(&str, &str)]) -> bool {
    want.iter()
        .all(|(k, v)| ev.get(*k).map(String::as_str) == Some(*v))
}

/// The index of the first event at or after `from` matching `want`; panics with the events
/// when there is none.
pub fn find(evs: &[Flat], from: usize, want: &[(&str, &str)]) -> usize {
    match evs.iter().skip(from).position(|e| matches(e, want)) {
        Some(i) => from + i,
        None => panic!(
            "no event matching {want:?} after #{from}; events:\n{}",
            evs.iter()
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Every event matching all `(key, value)` pairs.
pub fn find_all<'a>(evs: &'a [Flat], want: &[(&str, &str)]) -> Vec<&'a Flat> {
    evs.iter().filter(|e| matches(e, want)).collect()
}
