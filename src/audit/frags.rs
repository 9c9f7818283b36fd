//! The summary's JSON fragments: `Frags` (an object's members, written as they come) and
//! the number writers that copy the log's digits when they already are what `uint` writes.

use super::event::num;
use super::json::{put, uint};
use super::swar::{digits8, word};
use crate::encode::jstr::copy_small;

/// The keys of the summary's objects that come from fields (`process`, `audit`,
/// `audit.paths[]`): at most 32, one bit each in `Obj::mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum K {
    Auid,
    Euid,
    Suid,
    Fsuid,
    Egid,
    Sgid,
    Fsgid,
    Ses,
    Tty,
    Proctitle,
    Success,
    Exit,
    Item,
    Name,
    Inode,
    Dev,
    Mode,
    Uid,
    Gid,
    Nametype,
}

impl K {
    /// `,"name":`, as written before the value.
    #[inline]
    pub(super) fn lit(self) -> &'static [u8] {
        LITS[self as usize]
    }
}

/// `K::lit`, indexed by the key (a load, not a jump table).
static LITS: [&[u8]; 20] = [
    b",\"auid\":",
    b",\"euid\":",
    b",\"suid\":",
    b",\"fsuid\":",
    b",\"egid\":",
    b",\"sgid\":",
    b",\"fsgid\":",
    b",\"ses\":",
    b",\"tty\":",
    b",\"proctitle\":",
    b",\"success\":",
    b",\"exit\":",
    b",\"item\":",
    b",\"name\":",
    b",\"inode\":",
    b",\"dev\":",
    b",\"mode\":",
    b",\"uid\":",
    b",\"gid\":",
    b",\"nametype\":",
];

/// Objects' members as `,"key":value` fragments, appended to `buf` in insertion order: an
/// object is then written with one copy of its part of `buf`.
#[derive(Default)]
pub(super) struct Frags {
    pub(super) buf: Vec<u8>,
    /// (key, start, end) of every member in `buf`.
    pub(super) spans: Vec<(K, u32, u32)>,
}

/// One object in a `Frags`: the index of its first span and the keys it has.
#[derive(Clone, Copy, Default)]
pub(super) struct Obj {
    pub(super) first: usize,
    mask: u32,
}

impl Frags {
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    pub(super) fn obj(&self) -> Obj {
        Obj {
            first: self.spans.len(),
            mask: 0,
        }
    }

    /// Writes `,"k":` and returns where the member starts, for `commit` or `cancel`.
    #[inline]
    pub(super) fn key(&mut self, k: K) -> usize {
        let at = self.buf.len();
        put(&mut self.buf, k.lit());
        at
    }

    /// Forgets the member started at `at` (its value did not parse).
    #[inline]
    pub(super) fn cancel(&mut self, at: usize) {
        self.buf.truncate(at);
    }

    /// Makes the member written since `at` one of `o`'s.
    #[inline]
    pub(super) fn commit(&mut self, o: &mut Obj, k: K, at: usize) {
        let bit = 1 << k as u32;
        if o.mask & bit == 0 {
            o.mask |= bit;
            self.spans.push((k, at as u32, self.buf.len() as u32));
        } else {
            self.replace(o, k, at);
        }
    }

    /// A key seen again: its new fragment (at `at`, the end of `buf`) takes the old one's
    /// place, and the members after it move.
    #[cold]
    fn replace(&mut self, o: &Obj, k: K, at: usize) {
        let new = self.buf.split_off(at);
        let Some(i) = self.spans[o.first..].iter().position(|s| s.0 == k) else {
            return;
        };
        let i = o.first + i;
        let (s, e) = (self.spans[i].1 as usize, self.spans[i].2 as usize);
        let grow = new.len() as i64 - (e - s) as i64;
        self.buf.splice(s..e, new);
        self.spans[i].2 = (e as i64 + grow) as u32;
        for sp in &mut self.spans[i + 1..] {
            sp.1 = (sp.1 as i64 + grow) as u32;
            sp.2 = (sp.2 as i64 + grow) as u32;
        }
    }

    /// The fragment of `k` among the spans `from..to`.
    pub(super) fn get(&self, from: usize, to: usize, k: K) -> Option<&[u8]> {
        self.spans[from..to]
            .iter()
            .find(|s| s.0 == k)
            .map(|s| &self.buf[s.1 as usize..s.2 as usize])
    }
}

/// The largest `u64` and `u32` in decimal.
pub(super) const U64_MAX: &[u8] = b"18446744073709551615";
pub(super) const U32_MAX: &[u8] = b"4294967295";

/// True when `raw` is exactly what `uint` writes for a number up to `max` (no sign, no
/// leading zero, in range).
#[inline]
pub(super) fn canonical(raw: &[u8], max: &[u8]) -> bool {
    let n = raw.len();
    if n == 0 || n > max.len() || (raw[0] == b'0' && n > 1) {
        return false;
    }
    raw.iter().all(u8::is_ascii_digit) && (n < max.len() || raw <= max)
}

/// Appends `num(raw)` as `uint` writes it; false (nothing written) when it is not a number.
#[inline]
pub(super) fn dec(raw: &[u8], out: &mut Vec<u8>) -> bool {
    if canonical(raw, U64_MAX) {
        put(out, raw);
    } else {
        match num(raw) {
            Some(v) => uint(v, out),
            None => return false,
        }
    }
    true
}

/// `dec` for numbers that must fit in a `u32`.
#[inline]
pub(super) fn dec32(raw: &[u8], out: &mut Vec<u8>) -> bool {
    if canonical(raw, U32_MAX) {
        put(out, raw);
    } else {
        match num(raw).filter(|&v| v <= u32::MAX as u64) {
            Some(v) => uint(v, out),
            None => return false,
        }
    }
    true
}

/// Appends `int(raw)` as the encoder writes an `i64`; false when it is not one.
#[inline]
pub(super) fn exit_value(raw: &[u8], out: &mut Vec<u8>) -> bool {
    // Up to 16 digits always fit, and are copied when canonical; "-0" is written "0".
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    if short_canonical(digits, U64_MAX) && (digits != b"0" || raw.len() == 1) {
        put(out, raw);
        return true;
    }
    match int(raw) {
        Some(e) => {
            if e < 0 {
                out.push(b'-');
            }
            uint(e.unsigned_abs(), out);
            true
        }
        None => false,
    }
}

/// `u64::from_str_radix(raw, 8)` on bytes.
pub(super) fn octal(raw: &[u8]) -> Option<u64> {
    let d = raw.strip_prefix(b"+").unwrap_or(raw);
    if d.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in d {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        if n >> 61 != 0 {
            return None;
        }
        n = n << 3 | (c - b'0') as u64;
    }
    Some(n)
}

/// Appends `"…"`, `n` in octal.
pub(super) fn write_octal(n: u64, out: &mut Vec<u8>) {
    let mut b = [0u8; 24];
    let mut i = b.len();
    let mut n = n;
    loop {
        i -= 1;
        b[i] = b'0' + (n & 7) as u8;
        n >>= 3;
        if n == 0 {
            break;
        }
    }
    i -= 1;
    b[i] = b'"';
    out.extend_from_slice(&b[i..]);
    out.push(b'"');
}

/// `raw` as `str::parse::<i64>` reads it, on bytes.
pub(super) fn int(raw: &[u8]) -> Option<i64> {
    let (neg, d) = match raw {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, raw),
    };
    let n = num(d).filter(|_| d.first() != Some(&b'+'))?;
    if neg {
        // -(2^63) is the one magnitude that fits only as a negative number.
        (n <= 1 << 63).then(|| (n as i64).wrapping_neg())
    } else {
        i64::try_from(n).ok()
    }
}

/// Appends `lit` and then `num(raw)` as `uint` writes it, or nothing and false when `raw` is
/// not a number up to `max` (`U64_MAX` or `U32_MAX`). The log's bytes are copied when they
/// already are what `uint` would write.
#[inline(always)]
pub(super) fn num_member(buf: &mut Vec<u8>, lit: &[u8], raw: &[u8], max: &[u8]) -> bool {
    if lit.len() <= 16 && short_canonical(raw, max) {
        buf.reserve(32);
        let len = buf.len();
        let dst = buf.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        // SAFETY: `reserve(32)` made 32 bytes after `len` writable; `lit` and `raw` are at
        // most 16 bytes each and are copied one after the other, and the length is set to
        // cover exactly them.
        unsafe {
            let mut p = 0;
            copy_small(dst, &mut p, lit);
            copy_small(dst, &mut p, raw);
            buf.set_len(len + p);
        }
        return true;
    }
    let at = buf.len();
    put(buf, lit);
    let ok = if max.len() == U32_MAX.len() {
        dec32(raw, buf)
    } else {
        dec(raw, buf)
    };
    if !ok {
        buf.truncate(at);
    }
    ok
}

/// `canonical` for up to 16 bytes, checked a word at a time; false beyond.
#[inline(always)]
pub(super) fn short_canonical(raw: &[u8], max: &[u8]) -> bool {
    let n = raw.len();
    let digits = match n {
        8..=16 => digits8(word(raw, 0)) && digits8(word(raw, n - 8)),
        4..=7 => {
            let lo = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as u64;
            let t = &raw[n - 4..];
            let hi = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as u64;
            digits8(lo | hi << 32)
        }
        1..=3 => raw.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    digits && (raw[0] != b'0' || n == 1) && (n < max.len() || n == max.len() && raw <= max)
}

/// `Timestamp::write_rfc3339`, with the date and time of day kept from the previous event
/// (consecutive events nearly always share their second).
#[inline(always)]
pub(super) fn write_time(cache: &mut (u64, [u8; 30]), sec: u64, nanos: u32, out: &mut Vec<u8>) {
    // Beyond year 9999 the timestamp is clamped, nanoseconds included: no shortcut.
    const MAX: u64 = 253_402_300_799;
    let ts = |nanos| crate::event::Timestamp {
        secs: sec as i64,
        nanos,
    };
    if sec > MAX {
        return ts(nanos).write_rfc3339(out);
    }
    // A filled cache starts with a digit, never 0. A new second of the cached day only
    // changes the time of day.
    if cache.0 != sec && cache.1[0] != 0 && cache.0 / 86_400 == sec / 86_400 {
        let sod = sec % 86_400;
        for (at, v) in [(11, sod / 3600), (14, sod / 60 % 60), (17, sod % 60)] {
            cache.1[at] = b'0' + (v / 10) as u8;
            cache.1[at + 1] = b'0' + (v % 10) as u8;
        }
        cache.0 = sec;
    }
    if cache.0 != sec || cache.1[0] == 0 {
        let mut v = Vec::with_capacity(30);
        ts(0).write_rfc3339(&mut v);
        if v.len() != 30 {
            return ts(nanos).write_rfc3339(out);
        }
        cache.1.copy_from_slice(&v);
        cache.0 = sec;
    }
    let mut b = cache.1;
    let mut n = nanos.min(999_999_999);
    if n.is_multiple_of(1_000_000) {
        // auditd's stamps have milliseconds: three digits and six zeros.
        let ms = n / 1_000_000;
        b[20] = b'0' + (ms / 100) as u8;
        b[21] = b'0' + (ms / 10 % 10) as u8;
        b[22] = b'0' + (ms % 10) as u8;
        b[23..29].copy_from_slice(b"000000");
    } else {
        for d in b[20..29].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    out.extend_from_slice(&b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lits_name_their_keys() {
        use K::*;
        let all = [
            Auid, Euid, Suid, Fsuid, Egid, Sgid, Fsgid, Ses, Tty, Proctitle, Success, Exit, Item,
            Name, Inode, Dev, Mode, Uid, Gid, Nametype,
        ];
        assert_eq!(all.len(), LITS.len());
        for k in all {
            let want = format!(",\"{}\":", format!("{k:?}").to_lowercase());
            assert_eq!(k.lit(), want.as_bytes(), "{k:?}");
        }
    }

    /// Digit strings of every length up to 21, with and without leading zeros, around the
    /// `u32` and `u64` limits, and the odd forms `num` accepts or refuses.
    fn number_cases() -> Vec<Vec<u8>> {
        let mut c: Vec<Vec<u8>> = [
            "",
            "0",
            "00",
            "007",
            "+5",
            "+",
            "-",
            "-1",
            "-0",
            "1x",
            "x1",
            " 1",
            "1 ",
            ":",
            "/",
            "4294967295",
            "4294967296",
            "04294967295",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "1844674407370955161",
            "+18446744073709551615",
            "0x10",
            "1.5",
            "-9223372036854775808",
            "-9223372036854775809",
            "9223372036854775807",
            "9223372036854775808",
            "--1",
            "+-1",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        for len in 1..=21 {
            for lead in [b'0', b'1', b'4', b'9'] {
                let mut v = vec![lead];
                v.extend((1..len).map(|i| b'0' + (i * 7 % 10) as u8));
                c.push(v.clone());
                // A non-digit at every position.
                for pos in 0..len {
                    for bad in [b'/', b':', b'a', 0x80 | b'3', b' '] {
                        let mut w = v.clone();
                        w[pos] = bad;
                        c.push(w);
                    }
                }
            }
        }
        for n in (0..2000u64).chain([u32::MAX as u64, u32::MAX as u64 + 1, u64::MAX]) {
            c.push(n.to_string().into_bytes());
        }
        c
    }

    #[test]
    fn numbers_as_parsed_and_written_again() {
        for raw in number_cases() {
            for (max, limit) in [(U64_MAX, u64::MAX), (U32_MAX, u32::MAX as u64)] {
                let mut want = b"..,\"uid\":".to_vec();
                match num(&raw).filter(|&v| v <= limit) {
                    Some(v) => want.extend_from_slice(v.to_string().as_bytes()),
                    None => want.truncate(2),
                }
                let mut mine = b"..".to_vec();
                let ok = num_member(&mut mine, K::Uid.lit(), &raw, max);
                assert_eq!(ok, want.len() > 2, "{raw:?}");
                assert_eq!(mine, want, "{:?}", String::from_utf8_lossy(&raw));
            }
            let mut want = Vec::new();
            if let Some(e) = int(&raw) {
                want.extend_from_slice(e.to_string().as_bytes());
            }
            let mut mine = Vec::new();
            assert_eq!(exit_value(&raw, &mut mine), !want.is_empty(), "{raw:?}");
            assert_eq!(mine, want, "{:?}", String::from_utf8_lossy(&raw));
            let s = String::from_utf8_lossy(&raw);
            let want = u64::from_str_radix(&s, 8)
                .ok()
                .filter(|_| std::str::from_utf8(&raw).is_ok());
            assert_eq!(octal(&raw), want, "{s:?}");
        }
        for m in [0u64, 1, 0o7, 0o10, 0o755, 0o7777, u64::MAX] {
            let mut mine = Vec::new();
            write_octal(m, &mut mine);
            assert_eq!(mine, format!("\"{m:o}\"").into_bytes());
        }
    }

    #[test]
    fn a_key_seen_again_keeps_its_place() {
        let mut fr = Frags::default();
        fr.buf.push(b'{');
        let mut o = fr.obj();
        let add = |fr: &mut Frags, o: &mut Obj, k: K, v: &str| {
            let at = fr.key(k);
            fr.buf.extend_from_slice(v.as_bytes());
            fr.commit(o, k, at);
        };
        add(&mut fr, &mut o, K::Item, "1");
        add(&mut fr, &mut o, K::Name, "\"a\"");
        add(&mut fr, &mut o, K::Dev, "\"x\"");
        add(&mut fr, &mut o, K::Name, "\"longer\"");
        add(&mut fr, &mut o, K::Item, "2");
        add(&mut fr, &mut o, K::Dev, "\"\"");
        let at = fr.key(K::Inode);
        fr.cancel(at);
        assert_eq!(
            String::from_utf8_lossy(&fr.buf),
            "{,\"item\":2,\"name\":\"longer\",\"dev\":\"\""
        );
        let end = fr.spans.len();
        assert_eq!(fr.get(0, end, K::Name), Some(&b",\"name\":\"longer\""[..]));
        assert_eq!(fr.get(0, end, K::Dev), Some(&b",\"dev\":\"\""[..]));
        assert_eq!(fr.get(0, end, K::Inode), None);
    }

    #[test]
    fn cached_time_is_the_timestamp() {
        let mut cache = (0, [0u8; 30]);
        for (sec, nanos) in [
            (0u64, 0u32),
            (0, 5),
            (1_700_000_000, 123_000_000),
            (1_700_000_000, 999_999_999),
            (1_700_000_000, 999_000_000),
            (1_700_000_000, 1_000_000),
            (1_700_000_000, 10_000_000),
            (1_700_000_000, 1_000_001),
            (1_700_000_000, 100_000_000),
            (1_700_000_001, 1),
            (1_700_003_661, 2),
            (1_700_003_660, 3),
            (1_700_006_399, 4),
            (1_700_006_400, 5),
            (1_700_006_401, 6),
            (1_700_092_799, 7),
            (253_402_300_799, 7),
            (253_402_300_800, 7),
            (u64::MAX, 1_500_000_000),
            (5, 2_000_000_000),
        ] {
            let mut mine = Vec::new();
            write_time(&mut cache, sec, nanos, &mut mine);
            let mut want = Vec::new();
            crate::event::Timestamp {
                secs: sec as i64,
                nanos,
            }
            .write_rfc3339(&mut want);
            assert_eq!(mine, want, "{sec} {nanos}");
        }
    }

    #[test]
    fn int_reads_what_str_parse_reads() {
        let cases = [
            "",
            "+",
            "-",
            "0",
            "-0",
            "+-1",
            "-+1",
            "--1",
            "-13",
            "+13",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "1x",
            "-",
        ];
        for c in cases {
            assert_eq!(int(c.as_bytes()), c.parse::<i64>().ok(), "{c:?}");
        }
    }
}
