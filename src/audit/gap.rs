//! A gap in the serials of a node, as the LOST event it becomes: built as an `Event` for the
//! encoders, or written as JSON straight from the gap (the same bytes: tested), so the reader
//! hands over the gap itself and builds nothing.

use std::sync::Arc;

use super::coalesce::Gap;
use super::event::Builder;
use super::frags::write_time;
use super::json::{string, uint};
use crate::event::{Bytes, Event, Map, SourceKind, Timestamp, Value};

const REASON: &str = "audit serial gap";

/// The LOST event of `g`, numbered `seq`: `audit.first_serial`, `last_serial` and, for a
/// node's gap, `node` (also the event's host); without a node the host is empty.
pub(super) fn event(g: &Gap, seq: u64) -> Event {
    let mut ev = Event::lost(SourceKind::Audit, g.last - g.first + 1, true, REASON);
    ev.seq = seq;
    ev.time = Timestamp {
        secs: g.sec as i64,
        nanos: g.nanos,
    };
    let mut a = Map::new()
        .with("first_serial", g.first)
        .with("last_serial", g.last);
    if let Some(n) = g.node.as_deref() {
        ev.host = Arc::from(String::from_utf8_lossy(n).as_ref());
        a.insert("node", Value::Bytes(Bytes(n.to_vec())));
    }
    ev.extra.insert("audit", a);
    ev
}

impl Builder {
    /// `event(g, seq)` as the JSON encoder writes it. False, nothing written, for a time the
    /// encoder writes as negative (seconds beyond `i64`): left to the encoder.
    pub(super) fn render_gap(&mut self, g: &Gap, seq: u64, out: &mut Vec<u8>) -> bool {
        if i64::try_from(g.sec).is_err() {
            return false;
        }
        out.extend_from_slice(b"{\"time\":\"");
        write_time(&mut self.time, g.sec, g.nanos, out);
        out.extend_from_slice(b"\",\"seq\":");
        uint(seq, out);
        out.extend_from_slice(b",\"host\":");
        match g.node.as_deref() {
            Some(n) => string(String::from_utf8_lossy(n).as_bytes(), out),
            None => out.extend_from_slice(b"\"\""),
        }
        out.extend_from_slice(b",\"source\":\"audit\",\"type\":\"LOST\",\"lost\":");
        uint(g.last - g.first + 1, out);
        out.extend_from_slice(b",\"lost_exact\":true,\"reason\":");
        string(REASON.as_bytes(), out);
        out.extend_from_slice(b",\"audit\":{\"first_serial\":");
        uint(g.first, out);
        out.extend_from_slice(b",\"last_serial\":");
        uint(g.last, out);
        if let Some(n) = g.node.as_deref() {
            out.extend_from_slice(b",\"node\":");
            string(n, out);
        }
        out.extend_from_slice(b"}}\n");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Encoder;

    #[test]
    fn gaps_as_the_encoder_writes_their_events() {
        let enc = crate::encode::json::JsonEncoder;
        let mut b = Builder::default();
        let mut n = 0;
        for (sec, nanos) in [
            (1_700_000_000u64, 118_000_000u32),
            (1_700_000_000, 5),
            (0, 0),
        ] {
            for node in [None, Some(&b"h\"\xff\\"[..]), Some(&b"node1"[..])] {
                for (first, last) in [(1u64, 1u64), (7, 12), (1000, u64::MAX)] {
                    n += 1;
                    let g = Gap {
                        node: node.map(Arc::from),
                        first,
                        last,
                        sec,
                        nanos,
                    };
                    let mut want = b"x".to_vec();
                    enc.encode(&event(&g, u64::MAX - n), &mut want);
                    let mut mine = b"x".to_vec();
                    assert!(b.render_gap(&g, u64::MAX - n, &mut mine));
                    assert_eq!(
                        String::from_utf8_lossy(&mine),
                        String::from_utf8_lossy(&want)
                    );
                }
            }
        }
        // Seconds the event holds as negative: left to the encoder.
        let g = Gap {
            node: None,
            first: 1,
            last: 2,
            sec: 1 << 63,
            nanos: 0,
        };
        let mut out = Vec::new();
        assert!(!b.render_gap(&g, 1, &mut out));
        assert!(out.is_empty());
    }
}
