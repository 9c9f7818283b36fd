//! XML: one `<Event>` per line inside a single `<Events>` root, laid out like Windows Event
//! Log's `<Data Name="...">` so ETW users find it familiar. The common fields are attributes;
//! every other field is a `<Data>` element whose `Name` is its JSON path (`process.pid`,
//! `process.args[0]`, `audit.records[1].fields.exe`). Null, empty lists and empty objects are an
//! empty `<Data/>`. Strings were already made XML-safe by `crate::text` (no control characters,
//! no U+FFFE/U+FFFF), so only `&`, `<`, `>` and `"` need entities here. Schema: `schema/events.xsd`.

use serde_json::Value as J;

use super::{to_tree, Encoder};
use crate::event::Event;

pub struct XmlEncoder;

pub const XML_HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Events>\n";
pub const XML_FOOTER: &str = "</Events>\n";

const ATTRS: [&str; 5] = ["time", "seq", "host", "source", "type"];

impl Encoder for XmlEncoder {
    fn header(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(XML_HEADER.as_bytes());
    }

    fn encode(&self, ev: &Event, out: &mut Vec<u8>) {
        let tree = to_tree(ev);
        out.extend_from_slice(b"<Event");
        for name in ATTRS {
            if let Some(v) = tree.get(name) {
                out.push(b' ');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"=\"");
                push_scalar(v, out);
                out.push(b'"');
            }
        }
        out.push(b'>');
        let mut path = String::new();
        for (k, v) in &tree {
            if !ATTRS.contains(&k.as_str()) {
                path.clear();
                path.push_str(k);
                data(&mut path, v, out);
            }
        }
        out.extend_from_slice(b"</Event>\n");
    }

    fn footer(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(XML_FOOTER.as_bytes());
    }
}

fn data(path: &mut String, v: &J, out: &mut Vec<u8>) {
    let base = path.len();
    match v {
        J::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.truncate(base);
                path.push('.');
                path.push_str(k);
                data(path, v, out);
            }
        }
        J::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                path.truncate(base);
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                data(path, v, out);
            }
        }
        J::Null | J::Object(_) | J::Array(_) => {
            out.extend_from_slice(b"<Data Name=\"");
            escape_into(path, out);
            out.extend_from_slice(b"\"/>");
        }
        scalar => {
            out.extend_from_slice(b"<Data Name=\"");
            escape_into(path, out);
            out.extend_from_slice(b"\">");
            push_scalar(scalar, out);
            out.extend_from_slice(b"</Data>");
        }
    }
    path.truncate(base);
}

fn push_scalar(v: &J, out: &mut Vec<u8>) {
    match v {
        J::String(s) => escape_into(s, out),
        J::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        J::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        _ => {}
    }
}

/// Entity-escapes the four characters that matter in attributes and text.
pub fn escape_into(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            _ => out.push(b),
        }
    }
}
