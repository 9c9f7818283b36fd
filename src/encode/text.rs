//! One human line per event, for terminals: `HH:MM:SS.micros source TYPE subject key=value...`.
//! Time is UTC. Strings are escaped by `crate::text`, so a hostile file name cannot move the
//! cursor or fake a second line. Colour only when asked (TTY and `NO_COLOR` unset).

use serde_json::Value as J;

use super::{to_tree, Encoder};
use crate::event::Event;

pub struct TextEncoder {
    pub color: bool,
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[1;31m";

fn type_color(source: &str) -> &'static str {
    match source {
        "inotify" | "fanotify" => "\x1b[1;32m",
        "audit" | "bpf" | "proc" => "\x1b[1;35m",
        "route" | "epoll" => "\x1b[1;34m",
        "input" => "\x1b[1;33m",
        _ => "\x1b[1;36m",
    }
}

impl Encoder for TextEncoder {
    fn encode(&self, ev: &Event, out: &mut Vec<u8>) {
        let mut tree = to_tree(ev);
        let paint = |out: &mut Vec<u8>, color: &str, s: &str| {
            if self.color {
                out.extend_from_slice(color.as_bytes());
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(RESET.as_bytes());
            } else {
                out.extend_from_slice(s.as_bytes());
            }
        };
        let mut time = Vec::with_capacity(30);
        ev.time.write_rfc3339(&mut time);
        // HH:MM:SS.micros out of 2026-11-22T03:29:53.123456789Z
        out.extend_from_slice(&time[11..26]);
        out.push(b' ');
        out.extend_from_slice(format!("{:<8}", ev.source.as_str()).as_bytes());
        out.push(b' ');
        let ty = tree
            .get("type")
            .and_then(J::as_str)
            .unwrap_or("")
            .to_string();
        let color = if ev.is_lost() || ty == "ERROR" {
            RED
        } else {
            type_color(ev.source.as_str())
        };
        paint(out, color, &format!("{ty:<16}"));
        for k in ["time", "seq", "host", "source", "type"] {
            tree.shift_remove(k);
        }
        if let Some(J::Object(file)) = tree.get_mut("file") {
            if let Some(J::String(p)) = file.shift_remove("path") {
                out.push(b' ');
                out.extend_from_slice(p.as_bytes());
            }
        }
        let mut pairs = Vec::new();
        for (k, v) in &tree {
            flatten(k, v, &mut pairs);
        }
        for (k, v) in pairs {
            out.push(b' ');
            paint(out, DIM, &format!("{k}="));
            out.extend_from_slice(v.as_bytes());
        }
        out.push(b'\n');
    }
}

fn flatten(path: &str, v: &J, pairs: &mut Vec<(String, String)>) {
    match v {
        J::Object(m) => {
            for (k, v) in m {
                flatten(&format!("{path}.{k}"), v, pairs);
            }
        }
        J::Array(_) => pairs.push((path.to_string(), v.to_string())),
        J::String(s) if s.is_empty() || s.contains(' ') => {
            pairs.push((path.to_string(), format!("{s:?}")))
        }
        J::String(s) => pairs.push((path.to_string(), s.clone())),
        J::Null => pairs.push((path.to_string(), "null".into())),
        other => pairs.push((path.to_string(), other.to_string())),
    }
}
