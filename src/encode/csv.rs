//! CSV (RFC 4180: CRLF line ends, fields quoted when they hold `"`, `,`, CR or LF).
//!
//! A fixed header of columns for the common fields; `process.args` holds a JSON array, and the
//! last column, `extra`, holds a JSON object with every field that has no column of its own
//! (the source's raw values, audit records, ...), exactly as in the JSON lines output. Empty
//! cell = field absent.

use serde_json::Value as J;

use super::{to_tree, Encoder};
use crate::event::Event;

pub struct CsvEncoder;

/// `(column, JSON path)`; the column name is the path joined with dots.
pub const COLUMNS: [&str; 21] = [
    "time",
    "seq",
    "host",
    "source",
    "type",
    "lost",
    "process.pid",
    "process.tid",
    "process.ppid",
    "process.uid",
    "process.gid",
    "process.comm",
    "process.exe",
    "process.args",
    "file.path",
    "file.type",
    "network.family",
    "network.saddr",
    "network.sport",
    "network.daddr",
    "network.dport",
];

impl Encoder for CsvEncoder {
    fn header(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(COLUMNS.join(",").as_bytes());
        out.extend_from_slice(b",extra\r\n");
    }

    fn encode(&self, ev: &Event, out: &mut Vec<u8>) {
        let mut tree = to_tree(ev);
        for (i, col) in COLUMNS.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if let Some(v) = take(&mut tree, col) {
                cell(&v, out);
            }
        }
        out.push(b',');
        if !tree.is_empty() {
            cell(&J::Object(tree), out);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Removes `a.b` from the tree (and `a` once it is empty), returning its value.
fn take(tree: &mut serde_json::Map<String, J>, path: &str) -> Option<J> {
    match path.split_once('.') {
        None => tree.shift_remove(path),
        Some((head, rest)) => {
            let J::Object(inner) = tree.get_mut(head)? else {
                return None;
            };
            let v = inner.shift_remove(rest);
            if inner.is_empty() {
                tree.shift_remove(head);
            }
            v
        }
    }
}

fn cell(v: &J, out: &mut Vec<u8>) {
    let text = match v {
        J::Null => return,
        J::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    };
    if text
        .bytes()
        .any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n'))
    {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}
