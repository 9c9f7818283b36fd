//! The JSON string writer of the fast path: `crate::text`'s escaping followed by JSON's, in
//! one pass, so the bytes equal what serde_json writes for a `Value::Bytes`/`Value::Str`.

/// Bytes copied as they are: printable ASCII except `"` and `\`.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x20;
    while i < 0x7f {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t
};

/// Appends `"…"`: `bytes` escaped by `crate::text::escape`, then as a JSON string.
#[inline]
pub fn string(bytes: &[u8], out: &mut Vec<u8>) {
    // Nearly every value is printable ASCII without `"` or `\`: one scan, one copy. Quoted
    // raw values (`"/bin/sh"`) are the next most common: only their two quotes need work.
    let at = special_at(bytes);
    if at == bytes.len() {
        return quoted_plain(bytes, out);
    }
    if at == 0 && bytes.len() >= 2 && bytes[0] == b'"' {
        let inner = &bytes[1..bytes.len() - 1];
        if bytes[bytes.len() - 1] == b'"' && special_at(inner) == inner.len() {
            out.reserve(inner.len() + 6);
            out.extend_from_slice(b"\"\\\"");
            out.extend_from_slice(inner);
            out.extend_from_slice(b"\\\"\"");
            return;
        }
    }
    escaped(bytes, out);
}

/// Appends `"…"` for bytes already known to be plain (`special_at(bytes) == bytes.len()`).
#[inline]
pub fn quoted_plain(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// The index of the first byte that is not written as it is (a control byte, DEL,
/// non-ASCII, `"` or `\`), or `bytes.len()`.
#[inline]
pub fn special_at(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let m = special_mask(word(&bytes[i..i + 8]));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i == bytes.len() {
        return i;
    }
    // The tail, padded with a plain byte, as one more word.
    let rest = &bytes[i..];
    let mut w = [b'a'; 8];
    w[..rest.len()].copy_from_slice(rest);
    let m = special_mask(u64::from_le_bytes(w));
    if m != 0 {
        return i + (m.trailing_zeros() / 8) as usize;
    }
    bytes.len()
}

/// The general case of `string`.
#[inline(never)]
fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    // Printable ASCII is by far the common case: only `"` and `\` need work there.
    while i < bytes.len() {
        // Eight plain bytes at a time.
        while i + 8 <= bytes.len() && all_plain(&bytes[i..i + 8]) {
            i += 8;
        }
        if i >= bytes.len() {
            break;
        }
        if PLAIN[bytes[i] as usize] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match bytes[i] {
            b'"' => out.extend_from_slice(b"\\\""),
            // text: `\` -> `\\`; JSON: each `\` -> `\\`.
            b'\\' => out.extend_from_slice(b"\\\\\\\\"),
            _ => {
                slow(&bytes[i..], out);
                out.push(b'"');
                return;
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[inline]
fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// True when none of the 8 bytes is a control byte, DEL, non-ASCII, `"` or `\`.
#[inline]
fn all_plain(b: &[u8]) -> bool {
    special_mask(word(b)) == 0
}

/// The high bit of each byte of `w` that is special (see `special_at`); bits above the
/// lowest one may be false alarms (borrows), so only the lowest is meaningful.
#[inline]
fn special_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let special =
        zero(w ^ (ONES * b'"' as u64)) | zero(w ^ (ONES * b'\\' as u64)) | zero(w ^ (ONES * 0x7f));
    (w & HIGH) | below_space | special
}

fn slow(bytes: &[u8], out: &mut Vec<u8>) {
    let t = crate::text::escape(bytes);
    for &b in t.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

/// Appends `ev` as JSON (no newline): the same bytes as `serde_json::to_writer(ev)`, without
/// serde's per-value dispatch. Kept in step with `impl Serialize for Event` by the corpus-wide
/// equality test (tests/audit_golden.rs) and the property tests.
pub fn event(ev: &crate::event::Event, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"time\":\"");
    ev.time.write_rfc3339(out);
    out.extend_from_slice(b"\",\"seq\":");
    uint(ev.seq, out);
    out.extend_from_slice(b",\"host\":");
    string(ev.host.as_bytes(), out);
    out.extend_from_slice(b",\"source\":");
    string(ev.source.as_str().as_bytes(), out);
    out.extend_from_slice(b",\"type\":");
    string(ev.kind.as_bytes(), out);
    if let Some(n) = ev.lost {
        out.extend_from_slice(b",\"lost\":");
        uint(n, out);
    }
    if let Some(p) = &ev.process {
        out.extend_from_slice(b",\"process\":{");
        let mut first = true;
        let mut key = |k: &str, out: &mut Vec<u8>| {
            if !first {
                out.push(b',');
            }
            first = false;
            string(k.as_bytes(), out);
            out.push(b':');
        };
        for (k, v) in [("pid", p.pid), ("tid", p.tid), ("ppid", p.ppid)] {
            if let Some(v) = v {
                key(k, out);
                uint(v as u64, out);
            }
        }
        for (k, v) in [("comm", &p.comm), ("exe", &p.exe)] {
            if let Some(v) = v {
                key(k, out);
                string(&v.0, out);
            }
        }
        for (k, v) in [("uid", p.uid), ("gid", p.gid)] {
            if let Some(v) = v {
                key(k, out);
                uint(v as u64, out);
            }
        }
        if let Some(args) = &p.args {
            key("args", out);
            out.push(b'[');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(&a.0, out);
            }
            out.push(b']');
        }
        for (k, v) in &p.extra.0 {
            key(k, out);
            value(v, out);
        }
        out.push(b'}');
    }
    if let Some(f) = &ev.file {
        out.extend_from_slice(b",\"file\":{\"path\":");
        string(&f.path.0, out);
        if let Some(t) = f.kind {
            out.extend_from_slice(b",\"type\":");
            string(t.as_bytes(), out);
        }
        for (k, v) in &f.extra.0 {
            out.push(b',');
            string(k.as_bytes(), out);
            out.push(b':');
            value(v, out);
        }
        out.push(b'}');
    }
    if let Some(n) = &ev.network {
        network(n, out);
    }
    for (k, v) in &ev.extra.0 {
        out.push(b',');
        string(k.as_bytes(), out);
        out.push(b':');
        value(v, out);
    }
    out.push(b'}');
}

/// `,"network":{...}` as serde writes `Event::network`.
pub fn network(n: &crate::event::Network, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"network\":{");
    let mut first = true;
    let mut key = |k: &str, out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
        string(k.as_bytes(), out);
        out.push(b':');
    };
    if let Some(v) = &n.family {
        key("family", out);
        string(v.as_bytes(), out);
    }
    for (k, a, p) in [("saddr", &n.saddr, n.sport), ("daddr", &n.daddr, n.dport)] {
        if let Some(a) = a {
            key(k, out);
            string(a.as_bytes(), out);
        }
        if let Some(p) = p {
            key(if k == "saddr" { "sport" } else { "dport" }, out);
            uint(p as u64, out);
        }
    }
    for (k, v) in &n.extra.0 {
        key(k, out);
        value(v, out);
    }
    out.push(b'}');
}

fn uint(n: u64, out: &mut Vec<u8>) {
    let mut b = itoa_buf();
    out.extend_from_slice(fmt_u64(n, &mut b));
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// A `Value` as serde_json writes it.
pub fn value(v: &crate::event::Value, out: &mut Vec<u8>) {
    use crate::event::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::U64(n) => uint(*n, out),
        Value::I64(n) => {
            if *n < 0 {
                out.push(b'-');
            }
            uint(n.unsigned_abs(), out);
        }
        Value::Str(s) => string(s.as_bytes(), out),
        Value::Bytes(b) => string(&b.0, out),
        Value::List(items) => {
            out.push(b'[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(x, out);
            }
            out.push(b']');
        }
        Value::Map(m) => {
            out.push(b'{');
            for (i, (k, x)) in m.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k.as_bytes(), out);
                out.push(b':');
                value(x, out);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Bytes, Value};

    #[test]
    fn same_bytes_as_serde() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"plain".to_vec(),
            b"q\"uo\\te".to_vec(),
            b"ctl\n\t\x7f".to_vec(),
            b"bad\xff\xfe".to_vec(),
            "caf\u{e9} \u{9b} \u{fffe}".as_bytes().to_vec(),
            (0u8..=255).collect(),
        ];
        for a in 0u8..=255 {
            cases.push(vec![b'x', a, b'"', a]);
            // Every byte at every position of the 8-byte fast path.
            for k in 0..17 {
                let mut v = vec![b'y'; 17];
                v[k] = a;
                cases.push(v.clone());
                // The same inside quotes (the quoted-raw-value path).
                let mut q = vec![b'"'];
                q.extend_from_slice(&v[..k + 1]);
                q.push(b'"');
                cases.push(q);
            }
        }
        for q in [&b"\""[..], b"\"\"", b"\"a", b"a\"", b"\"a\"b\"", b"\"\\\""] {
            cases.push(q.to_vec());
        }
        for c in cases {
            let mut mine = Vec::new();
            string(&c, &mut mine);
            let serde = serde_json::to_vec(&Value::Bytes(Bytes(c.clone()))).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&mine),
                String::from_utf8_lossy(&serde),
                "{c:?}"
            );
        }
    }
}
