//! How byte strings become text, identically in every output format.
//!
//! Linux paths, `comm` and arguments are bytes, not UTF-8. Every string letrace writes goes
//! through [`escape`], which is reversible ([`unescape`]) and keeps the output valid in JSON,
//! XML 1.0 and CSV alike, and safe to print on a terminal:
//!
//! - `\` is written `\\`;
//! - a byte that is not part of valid UTF-8 is written `\xNN` (two lower-case hex digits);
//! - control characters (U+0000–U+001F, U+007F, U+0080–U+009F) and the XML non-characters
//!   U+FFFE, U+FFFF are written as `\xNN` escapes of their UTF-8 bytes (newline is `\x0a`);
//! - everything else is written as itself.

use std::borrow::Cow;

/// Whether `c` is written as `\xNN` escapes (a backslash is written `\\`, see the module doc).
pub(crate) fn needs_escape(c: char) -> bool {
    matches!(c, '\\' | '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

fn push_hex(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('\\');
    out.push('x');
    out.push(HEX[(b >> 4) as usize] as char);
    out.push(HEX[(b & 15) as usize] as char);
}

/// The text form of `bytes` (see the module doc). Borrows when nothing needs escaping.
pub fn escape(bytes: &[u8]) -> Cow<'_, str> {
    // Fast path: printable ASCII without backslashes is by far the common case.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        // SAFETY-free: checked ASCII above, so this cannot fail.
        return Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default());
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.chars().any(needs_escape) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if needs_escape(c) {
                let mut buf = [0u8; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    push_hex(&mut out, b);
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            push_hex(&mut out, b);
        }
    }
    Cow::Owned(out)
}

/// Error from [`unescape`]: the text is not something [`escape`] can produce.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad escape at byte {0}: expected \\\\ or \\xNN")]
pub struct UnescapeError(pub usize);

/// The bytes that [`escape`] turned into `text`.
pub fn unescape(text: &str) -> Result<Vec<u8>, UnescapeError> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = b.get(i + 2..i + 4).ok_or(UnescapeError(i))?;
                let s = std::str::from_utf8(hex).map_err(|_| UnescapeError(i))?;
                out.push(u8::from_str_radix(s, 16).map_err(|_| UnescapeError(i))?);
                i += 4;
            }
            _ => return Err(UnescapeError(i)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "/tmp/a b.txt", "naïve/файл/文件", "<&>\"',;"] {
            assert!(
                matches!(escape(s.as_bytes()), Cow::Borrowed(t) if t == s),
                "{s}"
            );
        }
    }

    #[test]
    fn escapes_are_documented_ones() {
        assert_eq!(escape(b"a\\b"), "a\\\\b");
        assert_eq!(escape(b"a\nb\tc\x7f"), "a\\x0ab\\x09c\\x7f");
        assert_eq!(escape(b"bad\xff\xfe"), "bad\\xff\\xfe");
        assert_eq!(escape("\u{9b}".as_bytes()), "\\xc2\\x9b");
        assert_eq!(escape("\u{fffe}".as_bytes()), "\\xef\\xbf\\xbe");
        // A literal "\xff" in a valid name stays distinguishable from the byte 0xff.
        assert_eq!(escape(b"\\xff"), "\\\\xff");
    }

    #[test]
    fn round_trips_every_byte_pattern() {
        let mut cases: Vec<Vec<u8>> = vec![
            (0u8..=255).collect(),
            b"\\x41".to_vec(),
            "é\u{0}\u{ffff}z".as_bytes().to_vec(),
            vec![0xe2, 0x82], // truncated UTF-8 sequence
        ];
        for a in 0u8..=255 {
            cases.push(vec![a, b'\\', a, b'x']);
        }
        for c in cases {
            let t = escape(&c);
            assert!(t.chars().all(|ch| !needs_escape(ch) || ch == '\\'), "{t:?}");
            assert_eq!(unescape(&t).unwrap(), c, "{t:?}");
        }
    }

    #[test]
    fn unescape_rejects_what_escape_never_writes() {
        assert_eq!(unescape("a\\"), Err(UnescapeError(1)));
        assert_eq!(unescape("\\n"), Err(UnescapeError(0)));
        assert_eq!(unescape("\\xg0"), Err(UnescapeError(0)));
    }
}
