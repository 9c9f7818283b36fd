//! The stamp of an audit record, `msg=audit(SEC.FRAC:SERIAL)`: read with word operations in
//! the shape auditd writes, by the plain rules otherwise, and remembered from the record
//! before (the records of one event follow each other with the same stamp).

use super::record::LineError;
use super::swar::{digits8, word};

/// The stamp of a record parsed before, and what it says: the records of one event come one
/// after the other with the same stamp, read once that way.
#[derive(Clone, Copy, Debug, Default)]
pub struct StampMemo {
    /// The 32 bytes after `msg=audit(`, and which of them are the stamp's (up to its `)`).
    words: [u128; 2],
    mask: [u128; 2],
    /// 0: none yet.
    len: usize,
    sec: u64,
    nanos: u32,
    serial: u64,
    /// The stamp starts with ten digits, its seconds (`stamp_fast`'s shape).
    secs_fast: bool,
}

/// The seconds' ten bytes of a stamp in `words`.
const SECS: u128 = u128::MAX >> (128 - 80);

impl StampMemo {
    /// `(sec, nanos, serial, where its ')' is)` when `r` starts with the stamp remembered.
    #[inline]
    pub(super) fn get(&self, r: &[u8]) -> Option<(u64, u32, u64, usize)> {
        self.get_words(words(r))
    }

    /// `get`, given `words(r)`.
    #[inline]
    pub(super) fn get_words(&self, (a, b): (u128, u128)) -> Option<(u64, u32, u64, usize)> {
        let same = (a ^ self.words[0]) & self.mask[0] | (b ^ self.words[1]) & self.mask[1];
        (self.len > 0 && same == 0).then(|| (self.sec, self.nanos, self.serial, self.len - 1))
    }

    /// Remembers the stamp `r[..=close]` (when it fits in 32 bytes).
    #[inline]
    pub(super) fn set(&mut self, r: &[u8], close: usize, sec: u64, nanos: u32, serial: u64) {
        self.set_words(words(r), close, (sec, nanos, serial), false);
    }

    /// The seconds of the stamp remembered when `words(r)` starts with the same ten digits.
    #[inline]
    pub(super) fn same_secs(&self, (a, _): (u128, u128)) -> Option<u64> {
        (self.secs_fast && (a ^ self.words[0]) & SECS == 0).then_some(self.sec)
    }

    /// `set`, given `words(r)`.
    #[inline]
    /// `secs_fast`: the stamp was read by `stamp_fast` (it starts with ten digits).
    pub(super) fn set_words(
        &mut self,
        w: (u128, u128),
        close: usize,
        (sec, nanos, serial): (u64, u32, u64),
        secs_fast: bool,
    ) {
        let Some(&mask) = MASKS.get(close + 1) else {
            return;
        };
        *self = StampMemo {
            words: [w.0, w.1],
            mask,
            len: close + 1,
            sec,
            nanos,
            serial,
            secs_fast,
        };
    }
}

/// Per stamp length (up to 32), which bytes of the two words are the stamp's.
static MASKS: [[u128; 2]; 33] = {
    const fn ones(n: usize) -> u128 {
        match n {
            0 => 0,
            16.. => u128::MAX,
            n => u128::MAX >> (128 - 8 * n),
        }
    }
    let mut m = [[0u128; 2]; 33];
    let mut n = 0;
    while n <= 32 {
        m[n] = [ones(n), ones(n.saturating_sub(16))];
        n += 1;
    }
    m
};

/// The first 32 bytes of `r` as two little-endian words, zeros after its end (a short
/// record, `EOE`, has its stamp at the end of the line; no stamp byte is a zero, so a
/// stamp longer than `r` never matches).
#[inline]
pub(super) fn words(r: &[u8]) -> (u128, u128) {
    let n = r.len();
    if n >= 32 {
        (load16(r, 0), load16(r, 16))
    } else if n >= 16 {
        // The last 16 bytes, moved down so that `r[16]` is the low byte.
        let b = if n == 16 {
            0
        } else {
            load16(r, n - 16) >> (8 * (32 - n))
        };
        (load16(r, 0), b)
    } else {
        let mut w = [0u8; 16];
        for (d, &c) in w.iter_mut().zip(r) {
            *d = c;
        }
        (u128::from_le_bytes(w), 0)
    }
}

/// The 16 bytes at `r[at..at + 16]`, first byte in the low byte.
#[inline(always)]
fn load16(r: &[u8], at: usize) -> u128 {
    let mut w = [0u8; 16];
    w.copy_from_slice(&r[at..at + 16]);
    u128::from_le_bytes(w)
}

/// `SEC[.FRAC]:SERIAL)` at the start of `r`: digits only in each part, read in one pass;
/// with where its `)` is.
#[inline]
pub(super) fn stamp(r: &[u8]) -> Result<(u64, u32, u64, usize), LineError> {
    match stamp_fast(r) {
        Some(v) => Ok(v),
        None => stamp_slow(r),
    }
}

/// The stamp auditd writes, `SSSSSSSSSS.mmm:N)` with a serial of 1 to 8 digits, read with
/// word operations; `None` for any other shape (`stamp_slow` then reads it, or rejects it).
#[inline]
pub(super) fn stamp_fast(r: &[u8]) -> Option<(u64, u32, u64, usize)> {
    let h: &[u8; 16] = r.get(..16)?.try_into().ok()?;
    let digit = |c: u8| c.wrapping_sub(b'0') as u64;
    let (s8, s9) = (digit(h[8]), digit(h[9]));
    if s8 > 9 || s9 > 9 {
        return None;
    }
    stamp_fast_after_secs(r, eight_digits(word(r, 0))? * 100 + s8 * 10 + s9)
}

/// `stamp_fast` when its first ten bytes are known to be the seconds `sec` (ten digits).
#[inline(always)]
pub(super) fn stamp_fast_after_secs(r: &[u8], sec: u64) -> Option<(u64, u32, u64, usize)> {
    let len = r.len();
    // `SSSSSSSSSS.mmm:` and one serial digit and `)` at least.
    let h: &[u8; 16] = r.get(..16)?.try_into().ok()?;
    if h[10] != b'.' || h[14] != b':' {
        return None;
    }
    let digit = |c: u8| c.wrapping_sub(b'0') as u64;
    let (m0, m1, m2) = (digit(h[11]), digit(h[12]), digit(h[13]));
    if m0 > 9 || m1 > 9 || m2 > 9 {
        return None;
    }
    let nanos = ((m0 * 100 + m1 * 10 + m2) * 1_000_000) as u32;
    // Up to eight bytes from `r[15]`; zeros (not digits) after the end of a short line.
    let w = if len >= 23 {
        word(r, 15)
    } else {
        word(r, len - 8) >> (8 * (23 - len))
    };
    // The serial's digits: the bytes of `w` up to the first that is not one.
    let t = w ^ 0x3030_3030_3030_3030;
    // A byte's high bit set when it is not a digit (its bits xor '0' above 9; no carries:
    // the high bits are cleared before the addition).
    let not_digit =
        (((t & 0x7F7F_7F7F_7F7F_7F7F) + 0x7676_7676_7676_7676) | t) & 0x8080_8080_8080_8080;
    let n = (not_digit.trailing_zeros() / 8) as usize;
    if n == 0 || r.get(15 + n) != Some(&b')') {
        return None;
    }
    // The digits moved to the top of the word, '0's below them: eight digits again.
    let v = if n < 8 {
        (w << (64 - 8 * n)) | (0x3030_3030_3030_3030 >> (8 * n))
    } else {
        w
    };
    Some((sec, nanos, eight_digits(v)?, 15 + n))
}

/// `stamp`, any shape: `SEC[.FRAC]:SERIAL)`, digits only in each part.
pub(super) fn stamp_slow(r: &[u8]) -> Result<(u64, u32, u64, usize), LineError> {
    let (sec, mut i) = digits(r, 0).ok_or(LineError::BadTimestamp)?;
    let mut nanos = 0u32;
    if r.get(i) == Some(&b'.') {
        let from = i + 1;
        let mut j = from;
        while let Some(&c) = r.get(j).filter(|c| c.is_ascii_digit()) {
            if j - from == 9 {
                return Err(LineError::BadTimestamp);
            }
            nanos = nanos * 10 + (c - b'0') as u32;
            j += 1;
        }
        const SCALE: [u32; 10] = [
            1_000_000_000,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        nanos *= SCALE[j - from];
        i = j;
    }
    if r.get(i) != Some(&b':') {
        return Err(LineError::BadTimestamp);
    }
    let (serial, close) = digits(r, i + 1).ok_or(LineError::BadTimestamp)?;
    if r.get(close) != Some(&b')') {
        return Err(LineError::BadTimestamp);
    }
    Ok((sec, nanos, serial, close))
}

/// The number written in decimal at `s[from..]`, up to the first non-digit: its value and
/// where it ends. `None` without digits, with more than 20 of them, or on overflow.
#[inline]
pub(super) fn digits(s: &[u8], from: usize) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut i = from;
    // Eight digits at once when there are (a seconds stamp has ten).
    if let Some(&[a, b, c, d, e, f, g, h]) = s.get(from..from + 8) {
        let w = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
        if let Some(v) = eight_digits(w) {
            n = v;
            i += 8;
        }
    }
    while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        // 19 digits always fit in a u64; the 20th may not; a 21st never does.
        if i - from >= 19 {
            if i - from == 20 {
                return None;
            }
            n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
        } else {
            n = n * 10 + (c - b'0') as u64;
        }
        i += 1;
    }
    (i > from).then_some((n, i))
}

/// The value of eight ASCII digits read as a little-endian word (first digit in the low
/// byte), `None` unless all eight are digits: three multiplications instead of eight steps.
#[inline]
fn eight_digits(w: u64) -> Option<u64> {
    if !digits8(w) {
        return None;
    }
    let v = (w & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    Some((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32)
}
