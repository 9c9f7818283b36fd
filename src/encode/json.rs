//! JSON lines: one object per line.

use super::Encoder;
use crate::event::Event;

pub struct JsonEncoder;

impl Encoder for JsonEncoder {
    fn encode(&self, ev: &Event, out: &mut Vec<u8>) {
        let start = out.len();
        if serde_json::to_writer(&mut *out, ev).is_err() {
            // Cannot happen for our types (string keys, no I/O); never leave half an object.
            out.truncate(start);
            return;
        }
        out.push(b'\n');
    }
}
