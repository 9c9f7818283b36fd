//! JSON strings as every JSON writer in letrace writes them: `crate::text`'s escaping followed
//! by JSON's, in one pass, so the bytes equal what serde_json writes for a
//! `Value::Bytes`/`Value::Str`. Printable ASCII (nearly every value) is checked 8 bytes at a
//! time and copied in bulk. Used by the event encoder (`encode::json`) and by `audit parse`'s
//! fast path (`audit::json`).

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

/// Appends `["…","…"]`: each item as `string` writes it.
#[inline]
pub fn string_list<'a>(items: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(x, out);
    }
    out.push(b']');
}

/// Appends `"…"`: `bytes` escaped by `crate::text::escape`, then as a JSON string.
#[inline]
pub fn string(bytes: &[u8], out: &mut Vec<u8>) {
    // Nearly every value is printable ASCII without `"` or `\`: checked and copied in one
    // pass. Quoted raw values (`"/bin/sh"`) are the next most common: only their two quotes
    // need work.
    out.reserve(bytes.len() + 6);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: `reserve` made `bytes.len() + 6` bytes after `len` writable; each branch writes
    // exactly the bytes it counts in `p` (at most `bytes.len() + 4`), all of them before the
    // new length is set, and sets it only when the copy succeeded.
    unsafe {
        let mut p = 0;
        dst.write(b'"');
        p += 1;
        if copy_plain(dst, &mut p, bytes) {
            dst.add(p).write(b'"');
            out.set_len(len + p + 1);
            return;
        }
        if let [b'"', inner @ .., b'"'] = bytes {
            let mut p = 0;
            copy_small(dst, &mut p, b"\"\\\"");
            if copy_plain(dst, &mut p, inner) {
                copy_small(dst, &mut p, b"\\\"\"");
                out.set_len(len + p);
                return;
            }
        }
    }
    escaped(bytes, out);
}

/// Copies `b` to `dst + *p` and advances `*p` when every byte of it is plain (see `plain`);
/// returns false otherwise (having written some of it: the caller does not keep it). One pass
/// that checks and copies eight bytes at a time.
///
/// # Safety
/// `dst + *p .. dst + *p + b.len()` must be writable.
#[inline(always)]
pub unsafe fn copy_plain(dst: *mut u8, p: &mut usize, b: &[u8]) -> bool {
    let n = b.len();
    let d = dst.add(*p);
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            let w = word_ne(&b[i..i + 8]);
            if special_mask(w) != 0 {
                return false;
            }
            d.add(i).cast::<u64>().write_unaligned(w);
            i += 8;
        }
        if i < n {
            // The last 8 bytes, overlapping ones already copied (the same bytes again).
            let w = word_ne(&b[n - 8..]);
            if special_mask(w) != 0 {
                return false;
            }
            d.add(n - 8).cast::<u64>().write_unaligned(w);
        }
    } else if n >= 4 {
        let lo = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let t = &b[n - 4..];
        let hi = u32::from_ne_bytes([t[0], t[1], t[2], t[3]]);
        if special_mask(lo as u64 | (hi as u64) << 32) != 0 {
            return false;
        }
        d.cast::<u32>().write_unaligned(lo);
        d.add(n - 4).cast::<u32>().write_unaligned(hi);
    } else {
        for (i, &c) in b.iter().enumerate() {
            if !PLAIN[c as usize] {
                return false;
            }
            d.add(i).write(c);
        }
    }
    *p += n;
    true
}

/// Copies `b` to `dst + *p` and advances `*p`: short slices with two overlapping word moves
/// instead of a `memcpy` call.
///
/// # Safety
/// `dst + *p .. dst + *p + b.len()` must be writable.
#[inline(always)]
pub unsafe fn copy_small(dst: *mut u8, p: &mut usize, b: &[u8]) {
    let n = b.len();
    let d = dst.add(*p);
    if n >= 8 {
        if n > 16 {
            std::ptr::copy_nonoverlapping(b.as_ptr(), d, n);
        } else {
            let head = word_ne(b);
            let tail = word_ne(&b[n - 8..]);
            d.cast::<u64>().write_unaligned(head);
            d.add(n - 8).cast::<u64>().write_unaligned(tail);
        }
    } else if n >= 4 {
        let head = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let t = &b[n - 4..];
        let tail = u32::from_ne_bytes([t[0], t[1], t[2], t[3]]);
        d.cast::<u32>().write_unaligned(head);
        d.add(n - 4).cast::<u32>().write_unaligned(tail);
    } else {
        for (i, &c) in b.iter().enumerate() {
            d.add(i).write(c);
        }
    }
    *p += n;
}

/// Appends `"…"` for bytes already known to be `plain`.
#[inline]
pub fn quoted_plain(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    put(out, bytes);
    out.push(b'"');
}

/// Appends `b`. Most of what the renderer writes is a few bytes long: those are copied with
/// two overlapping word moves instead of a call to `memcpy`.
#[inline]
pub fn put(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n > 16 {
        return out.extend_from_slice(b);
    }
    out.reserve(16);
    let len = out.len();
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    // SAFETY: `reserve(16)` makes the 16 bytes after `len` writable, `n <= 16`, every write
    // below ends at or before `dst + n`, and together they cover `dst .. dst + n`, so the
    // new length only covers initialised bytes.
    unsafe {
        if n >= 8 {
            let head = u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let t = &b[n - 8..];
            let tail = u64::from_ne_bytes([t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]]);
            dst.cast::<u64>().write_unaligned(head);
            dst.add(n - 8).cast::<u64>().write_unaligned(tail);
        } else if n >= 4 {
            let head = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            let t = &b[n - 4..];
            let tail = u32::from_ne_bytes([t[0], t[1], t[2], t[3]]);
            dst.cast::<u32>().write_unaligned(head);
            dst.add(n - 4).cast::<u32>().write_unaligned(tail);
        } else {
            for (i, &c) in b.iter().enumerate() {
                dst.add(i).write(c);
            }
        }
        out.set_len(len + n);
    }
}

/// True when `bytes` is printable ASCII without `"` and `\` (written as they are).
#[inline]
pub fn plain(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n >= 8 {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            if !all_plain(c) {
                return false;
            }
        }
        // The tail as the last 8 bytes (overlapping ones were checked: harmless).
        return chunks.remainder().is_empty() || all_plain(&bytes[n - 8..]);
    }
    if n >= 4 {
        // Two overlapping halves: every byte is in the word at least once.
        let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as u64;
        let t = &bytes[n - 4..];
        let hi = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as u64;
        return special_mask(lo | hi << 32) == 0;
    }
    bytes.iter().all(|&c| PLAIN[c as usize])
}
/// The general case of `string`.
#[inline(never)]
pub fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
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

/// Eight bytes in memory order (for copying; `special_mask` does not care about the order).
#[inline(always)]
fn word_ne(b: &[u8]) -> u64 {
    u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
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

/// The high bit of each byte of `w` that is special (a control byte, DEL, non-ASCII, `"` or
/// `\`); bits above the lowest one may be false alarms (carries): only zero is exact.
///
/// Per byte `b`, a high bit shows in `b` itself (non-ASCII), `b + 1` (DEL), `b - 0x20`
/// (control), `(b ^ '"') - 1` and `(b ^ '\\') - 1` (zero before the decrement). For a plain
/// byte none of them sets the high bit or carries into the next byte, so the lowest special
/// byte is always flagged, and a word of plain bytes gives zero.
#[inline]
fn special_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let del = w.wrapping_add(ONES);
    let ctl = w.wrapping_sub(ONES * 0x20);
    let quote = (w ^ (ONES * b'"' as u64)).wrapping_sub(ONES);
    let backslash = (w ^ (ONES * b'\\' as u64)).wrapping_sub(ONES);
    (w | del | ctl | quote | backslash) & HIGH
}

/// `crate::text::escape` then JSON's escaping, written straight to `out`: runs of characters
/// that need neither are copied in bulk (a long decoded value with one control byte used to
/// be escaped into a `String` and then copied byte by byte).
fn slow(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // text's `\xNN`, its backslash escaped for JSON.
    let hex = |b: u8, out: &mut Vec<u8>| {
        out.extend_from_slice(&[
            b'\\',
            b'\\',
            b'x',
            HEX[(b >> 4) as usize],
            HEX[(b & 15) as usize],
        ])
    };
    out.reserve(bytes.len());
    for chunk in bytes.utf8_chunks() {
        let v = chunk.valid();
        let mut start = 0;
        for (i, c) in v.char_indices() {
            let esc = match c {
                '"' | '\\' => true,
                c => crate::text::needs_escape(c),
            };
            if !esc {
                continue;
            }
            out.extend_from_slice(&v.as_bytes()[start..i]);
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                // text: `\` -> `\\`; JSON: each `\` -> `\\`.
                '\\' => out.extend_from_slice(b"\\\\\\\\"),
                c => {
                    let mut buf = [0u8; 4];
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        hex(b, out);
                    }
                }
            }
            start = i + c.len_utf8();
        }
        out.extend_from_slice(&v.as_bytes()[start..]);
        for &b in chunk.invalid() {
            hex(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_mask_is_zero_exactly_for_plain_words() {
        // Every pair of adjacent bytes, at every place, among plain bytes of both ends of the
        // plain range (carries and borrows only ever cross from one byte to the next).
        for bg in [b' ', b'~', b'!', b'#', b'[', b']'] {
            for at in 0..7 {
                for a in 0..=255u8 {
                    for b in 0..=255u8 {
                        let mut v = [bg; 8];
                        v[at] = a;
                        v[at + 1] = b;
                        let plain = PLAIN[a as usize] && PLAIN[b as usize];
                        assert_eq!(special_mask(word(&v)) == 0, plain, "{v:?}");
                    }
                }
            }
        }
    }
}
