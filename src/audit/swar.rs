//! Eight bytes at a time: the word reads and the digit test that the summary's number copies
//! (`frags`) and the header's stamp reader (`stamp`) share.

/// The eight bytes at `b[i..i + 8]`, first byte in the low byte.
#[inline(always)]
pub(super) fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes([
        b[i],
        b[i + 1],
        b[i + 2],
        b[i + 3],
        b[i + 4],
        b[i + 5],
        b[i + 6],
        b[i + 7],
    ])
}

/// True when every byte of `w` is an ASCII digit.
#[inline(always)]
pub(super) fn digits8(w: u64) -> bool {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // 0x30..=0x3f have the high nibble 3; adding 6 keeps it only for 0x30..=0x39 (no byte
    // carries into the next: each is at most 0x3f + 6).
    w & HIGH == ZEROS && w.wrapping_add(0x0606_0606_0606_0606) & HIGH == ZEROS
}
