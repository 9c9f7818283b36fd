//! The fast path's JSON writer: record fields and the network summary. Strings go through the
//! shared writer in `crate::encode::jstr`.

pub use crate::encode::json::{uint, value};
use crate::encode::jstr::{copy_plain, copy_small};
pub use crate::encode::jstr::{plain, put, quoted_plain, string};

use std::borrow::Cow;

use super::event::RecordSink;

/// Appends one field of a record, `,["name","raw","interpreted"]` (no comma when `first`,
/// no third member without `interp`): the same bytes as writing each part with `string`,
/// but with one reservation, and each part checked and copied in the same pass in the common
/// case where nothing needs escaping. `known` says `name` is plain.
///
/// Always inlined, as `field_pre` and `JsonSink`'s wrappers: the renderer's field loop has two
/// instances (with and without a recorder, `fast::fields`), and with two callers these were
/// no longer inlined into the hot one (+5% instructions).
#[inline(always)]
pub fn field(
    out: &mut Vec<u8>,
    first: bool,
    known: bool,
    name: &[u8],
    raw: &[u8],
    interp: Option<&[u8]>,
) {
    // Commas, brackets, quotes: at most 14 (a quoted raw value's quotes become four bytes).
    let max = name.len() + raw.len() + interp.map_or(0, <[u8]>::len) + 14;
    out.reserve(max);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: `reserve` made `max` bytes after `len` writable; the writes below stay within
    // them (at most 14 bytes besides the three strings, each copied at most once) and the
    // new length is set only when all of them succeeded, covering exactly what was written.
    let done = unsafe {
        let mut p = 0;
        if !first {
            dst.write(b',');
            p += 1;
        }
        copy_small(dst, &mut p, b"[\"");
        let ok = if known {
            copy_small(dst, &mut p, name);
            true
        } else {
            copy_plain(dst, &mut p, name)
        };
        copy_small(dst, &mut p, b"\",\"");
        ok && tail(dst, &mut p, raw, interp) && {
            debug_assert!(p <= max);
            out.set_len(len + p);
            true
        }
    };
    if !done {
        field_escaped(out, first, name, raw, interp);
    }
}

/// `field` for a name whose JSON is known: `prefix[..plen]` is `["name","` (see
/// `shapes::Slot`).
#[inline(always)]
pub fn field_pre(
    out: &mut Vec<u8>,
    first: bool,
    prefix: &[u8; 24],
    plen: usize,
    name: &[u8],
    raw: &[u8],
    interp: Option<&[u8]>,
) {
    // The whole 24-byte prefix is stored (`plen` of it counted), then as `field`.
    let max = 24 + raw.len() + interp.map_or(0, <[u8]>::len) + 14;
    out.reserve(max);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: as in `field`: `max` bytes after `len` are writable, the prefix store writes
    // 24 bytes at offset 0 or 1, the rest at most `raw`, `interp` and 13 more bytes, and the
    // length covers only what was written.
    let done = unsafe {
        let mut p = 0;
        if !first {
            dst.write(b',');
            p += 1;
        }
        dst.add(p).cast::<[u8; 24]>().write_unaligned(*prefix);
        p += plen;
        tail(dst, &mut p, raw, interp) && {
            debug_assert!(p <= max);
            out.set_len(len + p);
            true
        }
    };
    if !done {
        field_escaped(out, first, name, raw, interp);
    }
}

/// The rest of a field after `,["name","`: the raw value's contents and closing quote, the
/// interpretation and `]`; false when something needs escaping.
///
/// # Safety
/// `dst + *p ..` must have room for `raw`, `interp` and 10 more bytes.
#[inline(always)]
unsafe fn tail(dst: *mut u8, p: &mut usize, raw: &[u8], interp: Option<&[u8]>) -> bool {
    // A quoted raw value (`"x"` -> `"\"x\""`) is the common case after plain ones.
    let quoted = match raw {
        [b'"', inner @ .., b'"'] => {
            let at = *p;
            copy_small(dst, p, b"\\\"");
            if copy_plain(dst, p, inner) {
                copy_small(dst, p, b"\\\"\"");
                true
            } else {
                *p = at;
                false
            }
        }
        _ => false,
    };
    if !quoted {
        if !copy_plain(dst, p, raw) {
            return false;
        }
        dst.add(*p).write(b'"');
        *p += 1;
    }
    if let Some(v) = interp {
        copy_small(dst, p, b",\"");
        if !copy_plain(dst, p, v) {
            return false;
        }
        dst.add(*p).write(b'"');
        *p += 1;
    }
    dst.add(*p).write(b']');
    *p += 1;
    true
}

/// `field` when something needs escaping.
#[cold]
#[inline(never)]
fn field_escaped(out: &mut Vec<u8>, first: bool, name: &[u8], raw: &[u8], interp: Option<&[u8]>) {
    if !first {
        out.push(b',');
    }
    out.push(b'[');
    string(name, out);
    out.push(b',');
    string(raw, out);
    if let Some(v) = interp {
        out.push(b',');
        string(v, out);
    }
    out.push(b']');
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

/// Writes `audit.records` as JSON, byte for byte what serde writes for the `ValueSink` tree.
pub(super) struct JsonSink<'a> {
    out: &'a mut Vec<u8>,
    first_record: bool,
    first_field: bool,
    open: bool,
}

impl<'a> JsonSink<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> Self {
        JsonSink {
            out,
            first_record: true,
            first_field: true,
            open: false,
        }
    }

    pub(super) fn close(&mut self) {
        if self.open {
            self.out.extend_from_slice(b"]}");
            self.open = false;
        }
    }
}

impl JsonSink<'_> {
    /// Where the current record's fields start (right after `record`), for `rewind`.
    pub(super) fn mark(&self) -> usize {
        self.out.len()
    }

    /// The fields written since `mark`.
    pub(super) fn since(&self, mark: usize) -> &[u8] {
        &self.out[mark..]
    }

    /// Appends fields written before (`since`) as the current record's.
    pub(super) fn put_fields(&mut self, fields: &[u8]) {
        self.out.extend_from_slice(fields);
        self.first_field &= fields.is_empty();
    }

    /// Drops the fields written since `mark` (the record is written again).
    pub(super) fn rewind(&mut self, mark: usize) {
        self.out.truncate(mark);
        self.first_field = true;
    }

    /// `field_json` for a name whose JSON is known (a `shapes::Slot`'s prefix).
    #[inline(always)]
    pub(super) fn field_pre(
        &mut self,
        prefix: &[u8; 24],
        plen: usize,
        name: &[u8],
        raw: &[u8],
        interp: Option<&[u8]>,
    ) {
        field_pre(self.out, self.first_field, prefix, plen, name, raw, interp);
        self.first_field = false;
    }

    /// `field` for the fast path: `known` says the name is one of `names::Name`'s (plain
    /// ASCII: no escaping check), and the line's room is reserved once.
    #[inline(always)]
    pub(super) fn field_json(
        &mut self,
        known: bool,
        name: &[u8],
        raw: &[u8],
        interp: Option<&[u8]>,
    ) {
        field(self.out, self.first_field, known, name, raw, interp);
        self.first_field = false;
    }
}

impl JsonSink<'_> {
    /// `record` for a type whose JSON up to its fields, `{"type":"T","fields":[`, is known
    /// (see `shapes::Shapes::head`).
    #[inline]
    pub(super) fn record_head(&mut self, head: &[u8]) {
        self.close();
        if !self.first_record {
            self.out.push(b',');
        }
        self.first_record = false;
        self.out.extend_from_slice(head);
        self.first_field = true;
        self.open = true;
    }
}

impl RecordSink for JsonSink<'_> {
    fn record(&mut self, type_name: Cow<'static, str>, _nfields: usize) {
        self.close();
        if !self.first_record {
            self.out.push(b',');
        }
        self.first_record = false;
        self.out.extend_from_slice(b"{\"type\":");
        string(type_name.as_bytes(), self.out);
        self.out.extend_from_slice(b",\"fields\":[");
        self.first_field = true;
        self.open = true;
    }
    fn field(&mut self, name: &[u8], raw: &[u8], interp: Option<&[u8]>) {
        if !self.first_field {
            self.out.push(b',');
        }
        self.first_field = false;
        self.out.push(b'[');
        string(name, self.out);
        self.out.push(b',');
        string(raw, self.out);
        if let Some(v) = interp {
            self.out.push(b',');
            string(v, self.out);
        }
        self.out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Bytes, Value};

    #[test]
    fn numbers_as_serde_writes_them() {
        let mut cases = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, u64::MAX, u64::MAX - 1];
        cases.extend((0..64).map(|s| 1u64 << s));
        cases.extend((1..20).map(|d| 10u64.pow(d) - 1));
        for n in cases {
            let mut mine = Vec::new();
            uint(n, &mut mine);
            assert_eq!(mine, n.to_string().into_bytes());
        }
    }

    #[test]
    fn field_equals_its_parts() {
        let vals: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"abc",
            b"abcd",
            b"abcdefg",
            b"abcdefgh",
            b"0123456789abcdefg",
            b"\"x\"",
            b"\"\"",
            b"\"",
            b"\"a\\b\"",
            b"a\nb",
            b"\xff",
            b"(null)",
            b"\"a long quoted value of some length\"",
        ];
        for &name in &vals {
            for &raw in &vals {
                for interp in vals.iter().map(|v| Some(*v)).chain([None]) {
                    for first in [true, false] {
                        let mut want = b"[..".to_vec();
                        if !first {
                            want.push(b',');
                        }
                        want.push(b'[');
                        string(name, &mut want);
                        want.push(b',');
                        string(raw, &mut want);
                        if let Some(v) = interp {
                            want.push(b',');
                            string(v, &mut want);
                        }
                        want.push(b']');
                        let mut mine = b"[..".to_vec();
                        field(&mut mine, first, plain(name), name, raw, interp);
                        assert_eq!(mine, want);
                    }
                }
            }
        }
        // The interpretation as the inside of the raw value itself (the shortcut's case).
        for &raw in &vals {
            for cut in 0..=2usize {
                if raw.len() < 2 || raw.len() < cut * 2 {
                    continue;
                }
                let inner = &raw[cut..raw.len() - cut];
                let mut want = Vec::new();
                want.extend_from_slice(b"[\"n\",");
                string(raw, &mut want);
                want.push(b',');
                string(inner, &mut want);
                want.push(b']');
                let mut mine = Vec::new();
                field(&mut mine, true, true, b"n", raw, Some(inner));
                assert_eq!(mine, want, "{raw:?}");
            }
        }
    }

    #[test]
    fn put_copies_every_length() {
        let src: Vec<u8> = (0..40u8).map(|i| b'A' + i).collect();
        for n in 0..=src.len() {
            for pre in [0, 1, 7] {
                let mut out = vec![b'.'; pre];
                put(&mut out, &src[..n]);
                assert_eq!(&out[pre..], &src[..n]);
                assert_eq!(out.len(), pre + n);
            }
        }
    }

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
            // Every byte at every position of strings of every length around the word size.
            for (len, k) in (1..18).flat_map(|l| (0..l).map(move |k| (l, k))) {
                let mut v = vec![b'y'; len];
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
