//! The JSON string writer of the fast path: `crate::text`'s escaping followed by JSON's, in
//! one pass, so the bytes equal what serde_json writes for a `Value::Bytes`/`Value::Str`.

/// Appends `"…"`: `bytes` escaped by `crate::text::escape`, then as a JSON string.
#[inline]
pub fn string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    // Printable ASCII is by far the common case: only `"` and `\` need work there.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0x20..=0x7e if b != b'"' && b != b'\\' => {}
            b'"' => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\\"");
                start = i + 1;
            }
            b'\\' => {
                out.extend_from_slice(&bytes[start..i]);
                // text: `\` -> `\\`; JSON: each `\` -> `\\`.
                out.extend_from_slice(b"\\\\\\\\");
                start = i + 1;
            }
            _ => {
                out.extend_from_slice(&bytes[start..i]);
                slow(&bytes[i..], out);
                out.push(b'"');
                return;
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
