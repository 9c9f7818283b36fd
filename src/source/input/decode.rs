//! Pure decoding of evdev records: `struct input_event { struct timeval time; __u16 type;
//! __u16 code; __s32 value; }`, 24 bytes on 64-bit Linux. No fd here: the same code reads a
//! device, a FIFO or a file of recorded records.

use super::codes::{
    code_label, code_name, type_name, EV_KEY, EV_MSC, EV_SYN, MSC_SCAN, SYN_DROPPED, SYN_REPORT,
};
use crate::event::{Bytes, Event, Map, SourceKind, Timestamp};

/// `sizeof(struct input_event)` with a 64-bit `time_t` (x86_64, aarch64).
pub const RECORD: usize = 24;

/// One record as the kernel wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawInput {
    pub sec: i64,
    pub usec: i64,
    pub ev_type: u16,
    pub code: u16,
    pub value: i32,
}

impl RawInput {
    pub fn parse(b: &[u8; RECORD]) -> RawInput {
        let i64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            i64::from_ne_bytes(a)
        };
        RawInput {
            sec: i64_at(0),
            usec: i64_at(8),
            ev_type: u16::from_ne_bytes([b[16], b[17]]),
            code: u16::from_ne_bytes([b[18], b[19]]),
            value: i32::from_ne_bytes([b[20], b[21], b[22], b[23]]),
        }
    }

    pub fn to_bytes(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        b[0..8].copy_from_slice(&self.sec.to_ne_bytes());
        b[8..16].copy_from_slice(&self.usec.to_ne_bytes());
        b[16..18].copy_from_slice(&self.ev_type.to_ne_bytes());
        b[18..20].copy_from_slice(&self.code.to_ne_bytes());
        b[20..24].copy_from_slice(&self.value.to_ne_bytes());
        b
    }

    /// The kernel's timestamp (CLOCK_REALTIME unless a program changed the device's clock).
    /// Out-of-range microseconds are folded in rather than rejected.
    pub fn time(&self) -> Timestamp {
        let ns = i128::from(self.sec) * 1_000_000_000 + i128::from(self.usec) * 1_000;
        Timestamp::from_unix_nanos(ns)
    }
}

/// Splits a byte stream into records. A FIFO may deliver a record in pieces: the tail that is
/// not a whole record yet stays in the carry buffer for the next read.
#[derive(Debug, Default)]
pub struct Reassembler {
    carry: Vec<u8>,
}

impl Reassembler {
    pub fn push(&mut self, mut data: &[u8], mut each: impl FnMut(RawInput)) {
        if !self.carry.is_empty() {
            let need = RECORD - self.carry.len();
            let take = need.min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < RECORD {
                return;
            }
            let mut rec = [0u8; RECORD];
            rec.copy_from_slice(&self.carry);
            self.carry.clear();
            each(RawInput::parse(&rec));
        }
        let mut chunks = data.chunks_exact(RECORD);
        for c in &mut chunks {
            let mut rec = [0u8; RECORD];
            rec.copy_from_slice(c);
            each(RawInput::parse(&rec));
        }
        self.carry.extend_from_slice(chunks.remainder());
    }

    /// Bytes of an unfinished record (reported when the stream ends mid-record).
    pub fn pending(&self) -> usize {
        self.carry.len()
    }
}

/// Which device the records come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `/dev/input/event3`, or the FIFO/file read.
    pub path: Vec<u8>,
    /// EVIOCGNAME (`AT Translated Set 2 keyboard`); None for FIFOs and files.
    pub name: Option<Vec<u8>>,
}

/// Per-device decoding state: the SYN_REPORT frame number and whether the current frame
/// follows a SYN_DROPPED (and is therefore incomplete).
#[derive(Debug)]
pub struct Decoder {
    pub device: DeviceInfo,
    redact: bool,
    report: u64,
    in_frame: u64,
    incomplete: bool,
}

/// What a record means beyond its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    None,
    /// The frame that followed a SYN_DROPPED just ended: a reader of a real device should
    /// now query the device state (EVIOCGKEY ...), as the evdev documentation says.
    ResyncNow,
}

/// Whether a key code is a key of a keyboard (sensitive) rather than a button.
fn is_keyboard_key(code: u16) -> bool {
    !code_name(EV_KEY, code).is_some_and(|n| n.starts_with("BTN_"))
}

impl Decoder {
    /// `redact`: key events keep their type (KEY_PRESS ...) but lose the key; MSC_SCAN loses
    /// its scan code (it identifies the key just as well).
    pub fn new(device: DeviceInfo, redact: bool) -> Self {
        Decoder {
            device,
            redact,
            report: 1,
            in_frame: 0,
            incomplete: false,
        }
    }

    fn base(
        &self,
        kind: impl Into<std::borrow::Cow<'static, str>>,
        raw: &RawInput,
    ) -> (Event, Map) {
        let mut ev = Event::new(SourceKind::Input, kind);
        ev.time = raw.time();
        let mut m = Map::new().with("device", Bytes(self.device.path.clone()));
        if let Some(n) = &self.device.name {
            m.insert("device_name", Bytes(n.clone()));
        }
        (ev, m)
    }

    /// The event for one record (SYN_DROPPED gives a LOST event).
    pub fn decode(&mut self, raw: &RawInput) -> (Event, Note) {
        if raw.ev_type == EV_SYN && raw.code == SYN_DROPPED {
            // The kernel's buffer for this reader overflowed: events are gone, how many is
            // not said. The frame that follows is incomplete until the next SYN_REPORT.
            let (mut ev, m) = self.base("LOST", raw);
            let lost = Event::lost(SourceKind::Input, 1, false, "SYN_DROPPED");
            ev.lost = lost.lost;
            ev.extra = lost.extra;
            ev.extra.insert("input", m.with("report", self.report));
            self.incomplete = true;
            return (ev, Note::None);
        }
        let kind: std::borrow::Cow<'static, str> = match (raw.ev_type, raw.value) {
            (EV_KEY, 0) => "KEY_RELEASE".into(),
            (EV_KEY, 1) => "KEY_PRESS".into(),
            (EV_KEY, 2) => "KEY_REPEAT".into(),
            (EV_KEY, _) => "EV_KEY".into(),
            (t, _) => match code_name(t, raw.code) {
                Some(n) => n.into(),
                None => code_label(t, raw.code).into(),
            },
        };
        let (mut ev, mut m) = self.base(kind, raw);
        m.insert("report", self.report);
        let hide = self.redact
            && ((raw.ev_type == EV_KEY && is_keyboard_key(raw.code))
                || (raw.ev_type == EV_MSC && raw.code == MSC_SCAN));
        if hide {
            m.insert("redacted", true);
            if raw.ev_type == EV_KEY {
                m.insert("value", raw.value);
            }
        } else {
            m.insert("ev_type", u32::from(raw.ev_type));
            if let Some(t) = type_name(raw.ev_type) {
                m.insert("ev_type_name", t);
            }
            m.insert("code", u32::from(raw.code));
            if raw.ev_type == EV_KEY {
                m.insert("key", code_label(EV_KEY, raw.code));
            }
            m.insert("value", raw.value);
        }
        if self.incomplete {
            m.insert("incomplete", true);
        }
        let mut note = Note::None;
        if raw.ev_type == EV_SYN && raw.code == SYN_REPORT {
            m.insert("events", self.in_frame);
            self.report += 1;
            self.in_frame = 0;
            if self.incomplete {
                self.incomplete = false;
                note = Note::ResyncNow;
            }
        } else {
            self.in_frame += 1;
        }
        ev.extra.insert("input", m);
        (ev, note)
    }
}

#[cfg(test)]
mod tests;
