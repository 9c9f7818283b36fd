//! The Rust mirror of `struct lt_event` (bpf/letrace.h) and the pure split of one ring-buffer
//! record into its header and data strings. A test checks this layout against the BTF of the
//! committed object.

/// `struct lt_event`. Field order, types and padding must equal the C header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LtEvent {
    pub ktime: u64,
    pub cgroup: u64,
    pub start_time: u64,
    pub ret: i64,
    pub args: [u64; 6],
    pub aux: [u64; 6],
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub family: u16,
    pub sc: u16,
    pub len0: u16,
    pub len1: u16,
    pub len2: u16,
    pub flags: u16,
    pub comm: [u8; 16],
}

pub const LT_STR_MAX: usize = 4096;
pub const LT_ADDR_MAX: usize = 128;

pub const F_TRUNC0: u16 = 1;
pub const F_TRUNC1: u16 = 2;
pub const F_ADDR: u16 = 4;
pub const F_FDS: u16 = 8;
pub const F_CREDS: u16 = 16;
pub const F_OPENHOW: u16 = 32;
pub const F_CLONE3: u16 = 64;
pub const F_NOMM: u16 = 128;
pub const F_DIR: u16 = 256;
pub const F_DIR_PARTIAL: u16 = 512;

/// Loss counter slots (map `lt_lost`): ring full, and enter->exit table full, per family.
pub const LOST_RING: usize = 0;
pub const LOST_PENDING: usize = 64;
pub const LOST_SLOTS: usize = 128;

/// One record: the header and its three data fields, borrowed from the ring buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub ev: LtEvent,
    pub str0: &'a [u8],
    pub str1: &'a [u8],
    /// A sockaddr (`F_ADDR`), or the directory of a relative path (`F_DIR`).
    pub addr: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("bpf record of {got} bytes is shorter than its {want}-byte header")]
    Short { got: usize, want: usize },
    #[error("bpf record declares {want} data bytes but carries {got}")]
    Data { got: usize, want: usize },
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_ne_bytes(a)
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[o..o + 4]);
    u32::from_ne_bytes(a)
}
fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}

/// Strips the terminating NUL the kernel's `*_str` helpers count.
fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// Splits one ring-buffer record. Reads field by field (no unaligned casts), so any byte
/// slice is safe input.
pub fn parse(b: &[u8]) -> Result<Record<'_>, RecordError> {
    let want = std::mem::size_of::<LtEvent>();
    if b.len() < want {
        return Err(RecordError::Short { got: b.len(), want });
    }
    let mut ev = LtEvent {
        ktime: u64_at(b, 0),
        cgroup: u64_at(b, 8),
        start_time: u64_at(b, 16),
        ret: u64_at(b, 24) as i64,
        ..LtEvent::default()
    };
    for i in 0..6 {
        ev.args[i] = u64_at(b, 32 + 8 * i);
        ev.aux[i] = u64_at(b, 80 + 8 * i);
    }
    ev.pid = u32_at(b, 128);
    ev.tid = u32_at(b, 132);
    ev.ppid = u32_at(b, 136);
    ev.uid = u32_at(b, 140);
    ev.gid = u32_at(b, 144);
    ev.family = u16_at(b, 148);
    ev.sc = u16_at(b, 150);
    ev.len0 = u16_at(b, 152);
    ev.len1 = u16_at(b, 154);
    ev.len2 = u16_at(b, 156);
    ev.flags = u16_at(b, 158);
    ev.comm.copy_from_slice(&b[160..176]);
    let data = &b[want..];
    let (l0, l1, l2) = (ev.len0 as usize, ev.len1 as usize, ev.len2 as usize);
    if data.len() < l0 + l1 + l2 {
        return Err(RecordError::Data {
            got: data.len(),
            want: l0 + l1 + l2,
        });
    }
    Ok(Record {
        ev,
        str0: c_str(&data[..l0]),
        // Exec args are NUL-separated: keep them whole; paths end at their NUL.
        str1: if ev.sc == 0 {
            &data[l0..l0 + l1]
        } else {
            c_str(&data[l0..l0 + l1])
        },
        addr: &data[l0 + l1..l0 + l1 + l2],
    })
}

/// Appends one record to a capture file: a little-endian u32 length, then the bytes.
pub fn write_capture(f: &mut impl std::io::Write, rec: &[u8]) {
    let _ = f.write_all(&(rec.len() as u32).to_le_bytes());
    let _ = f.write_all(rec);
}

/// Splits a capture file into its records (a truncated tail is ignored).
pub fn read_capture(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if b.len() < 4 + n {
            break;
        }
        out.push(&b[4..4 + n]);
        b = &b[4 + n..];
    }
    out
}

/// Byte offsets of `LtEvent`'s fields, as the compiler laid them out (for the BTF check).
#[cfg(test)]
pub fn rust_layout() -> Vec<(&'static str, usize)> {
    use std::mem::offset_of;
    vec![
        ("ktime", offset_of!(LtEvent, ktime)),
        ("cgroup", offset_of!(LtEvent, cgroup)),
        ("start_time", offset_of!(LtEvent, start_time)),
        ("ret", offset_of!(LtEvent, ret)),
        ("args", offset_of!(LtEvent, args)),
        ("aux", offset_of!(LtEvent, aux)),
        ("pid", offset_of!(LtEvent, pid)),
        ("tid", offset_of!(LtEvent, tid)),
        ("ppid", offset_of!(LtEvent, ppid)),
        ("uid", offset_of!(LtEvent, uid)),
        ("gid", offset_of!(LtEvent, gid)),
        ("family", offset_of!(LtEvent, family)),
        ("sc", offset_of!(LtEvent, sc)),
        ("len0", offset_of!(LtEvent, len0)),
        ("len1", offset_of!(LtEvent, len1)),
        ("len2", offset_of!(LtEvent, len2)),
        ("flags", offset_of!(LtEvent, flags)),
        ("comm", offset_of!(LtEvent, comm)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_short_and_inconsistent_records() {
        assert!(matches!(parse(&[0u8; 10]), Err(RecordError::Short { .. })));
        let mut b = vec![0u8; std::mem::size_of::<LtEvent>()];
        b[152] = 5; // len0 = 5 with no data
        assert!(matches!(parse(&b), Err(RecordError::Data { .. })));
        b.extend_from_slice(b"/tmp\0");
        assert_eq!(parse(&b).unwrap().str0, b"/tmp");
    }

    #[test]
    fn offsets_used_by_parse_match_the_struct() {
        // parse() reads fixed offsets; they must be the struct's own.
        let l = rust_layout();
        let at = |n: &str| l.iter().find(|(k, _)| *k == n).unwrap().1;
        assert_eq!(
            (at("args"), at("aux"), at("pid"), at("family"), at("comm")),
            (32, 80, 128, 148, 160)
        );
        assert_eq!(std::mem::size_of::<LtEvent>(), 176);
    }
}
