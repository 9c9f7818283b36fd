//! One log line -> one record: `[node=N ]type=T msg=audit(SEC.MS:SERIAL): body[\x1d ENRICHED]`.
//!
//! Pure and allocation-free on the common path: the header and the fields are slices of the
//! line. The body is split into `name=value` fields with auparse's rules (so raw values are
//! exactly what auparse reports): tokens are separated by spaces, tokens without `=` are
//! dropped (except the unlabelled `seresult`/`seperms` of AVC records), `msg='` opening a
//! nested user-space list is peeled off, and one trailing `:` `,` `'` `)` is trimmed in that
//! order.

use std::borrow::Cow;
use std::fmt;

use super::names::{self, Name};
pub use super::rtype::{type_name, type_number, PackHasher};
pub use super::stamp::StampMemo;
use super::stamp::{stamp, stamp_fast, stamp_fast_after_secs, stamp_slow};

/// Record type numbers the parser itself needs.
pub const AVC: u32 = 1400;
pub const USER_AVC: u32 = 1107;
pub const EXECVE: u32 = 1309;
pub const SYSCALL: u32 = 1300;
pub const PATH: u32 = 1302;
pub const CWD: u32 = 1307;
pub const SOCKADDR: u32 = 1306;
pub const PROCTITLE: u32 = 1327;
pub const EOE: u32 = 1320;

/// The separator auditd writes before the enriched (upper-case) translations.
pub const ENRICH_SEP: u8 = 0x1d;
/// The separator of several keys packed into one hex-encoded `key=` value.
const KEY_SEP: u8 = 0x01;

/// Why a line is not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    NoType,
    NoTimestamp,
    BadTimestamp,
    Binary,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::NoType => "not an audit record: expected `type=TYPE msg=audit(...)`",
            LineError::NoTimestamp => "record has no `msg=audit(SECONDS.MILLIS:SERIAL):` stamp",
            LineError::BadTimestamp => {
                "malformed `msg=audit(SECONDS.MILLIS:SERIAL)` stamp (truncated or corrupt line?)"
            }
            LineError::Binary => "binary data (NUL byte) in line",
        })
    }
}

/// A parsed record header; `body` and `enriched` are the rest of the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub node: Option<&'a [u8]>,
    /// The type as written: `SYSCALL`, `UNKNOWN[1334]`, `1300`.
    pub type_token: &'a [u8],
    /// The type number, 0 when the name is not in the table and has no number.
    pub rtype: u32,
    pub sec: u64,
    /// Fraction of a second in nanoseconds (the log has milliseconds).
    pub nanos: u32,
    pub serial: u64,
    pub body: &'a [u8],
    pub enriched: Option<&'a [u8]>,
}

impl Header<'_> {
    /// The name auparse gives the type: the table name for known numbers, else as written.
    pub fn type_name(&self) -> Cow<'static, str> {
        type_name(self.rtype, self.type_token)
    }
}

fn strip_prefix<'a>(s: &'a [u8], p: &[u8]) -> Option<&'a [u8]> {
    s.strip_prefix(p)
}

/// Splits at the first space: header words are short, a byte loop finds it soonest.
fn split_space(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&c| c == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// The first `b` in `s`. Header parts and values are mostly a few bytes long, where a SIMD
/// search's dispatch and setup cost more than eight bytes at a time (`find_byte`).
#[inline]
pub fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    if s.len() < 32 {
        find_byte(s, b)
    } else {
        memchr::memchr(b, s)
    }
}

/// Parses the header of one line (without its newline).
pub fn parse_header(line: &[u8]) -> Result<Header<'_>, LineError> {
    parse_header_hint(line, true)
}

/// `parse_header`, told whether the line may hold the 0x1d enrichment separator at all
/// (`false` only when the caller has checked that it does not).
pub fn parse_header_hint(line: &[u8], may_enrich: bool) -> Result<Header<'_>, LineError> {
    parse_header_memo(line, may_enrich, &mut StampMemo::default())
}

/// `parse_header_hint`, reusing `memo`'s stamp when the line has the same one (and
/// remembering the line's stamp for the next).
#[inline]
pub fn parse_header_memo<'a>(
    line: &'a [u8],
    may_enrich: bool,
    memo: &mut StampMemo,
) -> Result<Header<'a>, LineError> {
    if let Some(h) = header_fast(line, may_enrich, memo) {
        return Ok(h);
    }
    header_slow(line, may_enrich, memo)
}

/// The header in the shape auditd writes, `[node=N ]type=T msg=audit(` with a type of up
/// to 15 bytes, read a word at a time: the type's end found and the type packed for the
/// table in one load. `None` for any other shape (and for a stamp it cannot read), which
/// `header_slow` then parses (or rejects) by the plain rules, with the same result.
#[inline]
fn header_fast<'a>(line: &'a [u8], may_enrich: bool, memo: &mut StampMemo) -> Option<Header<'a>> {
    // One byte tells a `node=` line from a `type=` one (checked in full below).
    let (node, line) = match line.first() {
        Some(b'n') => {
            let (n, rest) = split_space(strip_prefix(line, b"node=")?);
            (Some(n), rest)
        }
        _ => (None, line),
    };
    // `type=` and the 16 bytes after it, which hold the type and the space after it.
    let head: &[u8; 21] = line.get(..21)?.try_into().ok()?;
    if head[..5] != *b"type=" {
        return None;
    }
    let t = u128::from_le_bytes(head[5..].try_into().ok()?);
    // The first space: a byte of `t ^ spaces` is zero there. The lowest flagged byte is
    // exact (a borrow only flags bytes above the first zero).
    const ONES: u128 = u128::MAX / 255;
    let x = t ^ (ONES * b' ' as u128);
    let zero = x.wrapping_sub(ONES) & !x & (ONES << 7);
    let n = (zero.trailing_zeros() / 8) as usize;
    if n == 0 || n > 15 {
        return None; // no type, or none of up to 15 bytes
    }
    let type_token = &line[5..5 + n];
    let packed = (t & (u128::MAX >> (128 - 8 * n))) | (n as u128) << 120;
    let r = line.get(5 + n + 1..)?;
    let r = r.strip_prefix(b"msg=audit(")?;
    let w = super::stamp::words(r);
    let (sec, nanos, serial, close) = match memo.get_words(w) {
        Some(v) => v,
        None => {
            // The next event's stamp nearly always has the seconds of the one before.
            let fast = memo
                .same_secs(w)
                .and_then(|sec| stamp_fast_after_secs(r, sec))
                .or_else(|| stamp_fast(r));
            let (v, secs_fast) = match fast {
                Some(v) => (v, true),
                None => (stamp_slow(r).ok()?, false),
            };
            let (sec, nanos, serial, close) = v;
            memo.set_words(w, close, (sec, nanos, serial), secs_fast);
            v
        }
    };
    let mut body = &r[close + 1..];
    if let [b':', b @ ..] = body {
        body = b;
    }
    let mut enriched = None;
    if may_enrich {
        if let Some(i) = memchr(ENRICH_SEP, body) {
            enriched = Some(&body[i + 1..]);
            body = &body[..i];
        }
    }
    Some(Header {
        node,
        type_token,
        rtype: super::rtype::type_number_packed(packed, type_token),
        sec,
        nanos,
        serial,
        body,
        enriched,
    })
}

/// `parse_header_memo` by the plain rules, any shape.
fn header_slow<'a>(
    line: &'a [u8],
    may_enrich: bool,
    memo: &mut StampMemo,
) -> Result<Header<'a>, LineError> {
    let mut rest = line;
    while let [b' ' | b'\t', r @ ..] = rest {
        rest = r;
    }
    let mut node = None;
    if let Some(r) = strip_prefix(rest, b"node=") {
        let (n, r) = split_space(r);
        node = Some(n);
        rest = r;
    }
    let Some(r) = strip_prefix(rest, b"type=") else {
        return Err(LineError::NoType);
    };
    let (type_token, r) = split_space(r);
    if type_token.is_empty() {
        return Err(LineError::NoType);
    }
    let mut r = r;
    while let [b' ', x @ ..] = r {
        r = x;
    }
    let Some(r) = strip_prefix(r, b"msg=audit(") else {
        return Err(LineError::NoTimestamp);
    };
    let (sec, nanos, serial, close) = match memo.get(r) {
        Some(v) => v,
        None => {
            let (sec, nanos, serial, close) = stamp(r)?;
            memo.set(r, close, sec, nanos, serial);
            (sec, nanos, serial, close)
        }
    };
    let mut body = &r[close + 1..];
    if let [b':', b @ ..] = body {
        body = b;
    }
    let mut enriched = None;
    let sep = if may_enrich {
        memchr(ENRICH_SEP, body)
    } else {
        None
    };
    if let Some(i) = sep {
        enriched = Some(&body[i + 1..]);
        body = &body[..i];
    }
    Ok(Header {
        node,
        type_token,
        rtype: type_number(type_token),
        sec,
        nanos,
        serial,
        body,
        enriched,
    })
}

/// One `name=value` field. `raw` is the value as auparse reports it (quotes kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub raw: Cow<'a, [u8]>,
}

/// `v` without one trailing `:`, `,`, `'` and `)` (see the module doc).
#[inline(always)]
fn trim_value(v: &[u8]) -> &[u8] {
    // Nearly every value ends with none of them.
    match v.last() {
        Some(b':' | b',' | b'\'' | b')') => trim_tail(v),
        _ => v,
    }
}

fn trim_tail(mut v: &[u8]) -> &[u8] {
    for c in [b':', b',', b'\''] {
        if let [head @ .., last] = v {
            if *last == c {
                v = head;
            }
        }
    }
    if let [head @ .., b')'] = v {
        if v != b"(none)" && v != b"(null)" {
            v = head;
        }
    }
    v
}

/// Splits a record body into fields (auparse's rules, see the module doc) appended to `out`.
pub fn split_fields<'a>(rtype: u32, body: &'a [u8], out: &mut Vec<Field<'a>>) {
    out.extend(Fields::new(rtype, body));
}

/// The fields of a record body, one at a time (`split_fields` without the vector: the
/// renderer takes each field as it is found).
pub struct Fields<'a> {
    toks: Tokens<'a>,
    rtype: u32,
    /// Fields returned so far (AVC's unlabelled values depend on it).
    count: usize,
    /// The rest of a hex `key=` that held several keys (rare).
    pending: Option<std::vec::IntoIter<Field<'a>>>,
    /// The last field was written `name=value` and taken as it is (no `msg='`, `(`, AVC or
    /// key rule): a token starting with the same `name=` gives the same name.
    pub simple: bool,
}

impl<'a> Fields<'a> {
    pub fn new(rtype: u32, body: &'a [u8]) -> Self {
        Fields {
            toks: Tokens(body),
            rtype,
            count: 0,
            pending: None,
            simple: false,
        }
    }

    /// The next token's first 16 bytes, packed as `shapes::Slot` packs names (zeros past the
    /// body's end, never `=`), and the rest of the body from that token on; `None` when the
    /// general rules (`next`) have something pending. `take_at` takes the field.
    #[inline(always)]
    pub fn peek(&self) -> Option<(u128, &'a [u8])> {
        if self.pending.is_some() {
            return None;
        }
        let mut s = self.toks.0;
        if let [b' ', r @ ..] = s {
            s = r;
        }
        let w = match s.first_chunk::<16>() {
            Some(c) => u128::from_le_bytes(*c),
            None => {
                let mut b = [0u8; 16];
                b[..s.len()].copy_from_slice(s);
                u128::from_le_bytes(b)
            }
        };
        Some((w, s))
    }

    /// The field at `s` (from `peek`), whose token starts with a `name=` of `nlen` bytes
    /// (`is_key`: the name is `key`): the name and the value; `None`, without moving on, when
    /// the general rules (`next`) have something to say about it.
    #[inline(always)]
    pub fn take_at(
        &mut self,
        s: &'a [u8],
        nlen: usize,
        is_key: bool,
    ) -> Option<(&'a [u8], &'a [u8])> {
        // `name=` and nothing before it: the token's first `=` is at `nlen`.
        let v = s.get(nlen + 1..)?;
        let (val, rest) = match find_byte(v, b' ') {
            Some(e) => (&v[..e], &v[e + 1..]),
            None => (v, &[][..]),
        };
        if val.is_empty() {
            return None;
        }
        let val = trim_value(val);
        if is_key && val.first() != Some(&b'(') && val.first() != Some(&b'"') {
            return None;
        }
        self.toks.0 = rest;
        self.count += 1;
        Some((&s[..nlen], val))
    }
}

impl<'a> Fields<'a> {
    #[cold]
    #[inline(never)]
    fn next_pending(&mut self) -> Option<Field<'a>> {
        self.simple = false;
        if let Some(f) = self.pending.as_mut().and_then(Iterator::next) {
            self.count += 1;
            return Some(f);
        }
        self.pending = None;
        self.next()
    }

    /// A hex `key=`'s keys: the first one returned, the others kept for the next calls.
    #[cold]
    #[inline(never)]
    fn start_keys(&mut self, name: &'a [u8], val: &'a [u8]) -> Option<Field<'a>> {
        let mut v = Vec::new();
        split_keys(name, val, &mut v);
        let mut it = v.into_iter();
        let f = it.next()?;
        self.count += 1;
        self.pending = Some(it);
        self.simple = false;
        Some(f)
    }

    #[cold]
    #[inline(never)]
    fn avc(&mut self, tok: &'a [u8]) -> Option<Field<'a>> {
        let f = avc_token(tok, &mut self.toks, self.count)?;
        self.count += 1;
        self.simple = false;
        Some(f)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;
    #[inline(always)]
    fn next(&mut self) -> Option<Field<'a>> {
        if self.pending.is_some() {
            return self.next_pending();
        }
        loop {
            let (tok, eq) = self.toks.next_eq()?;
            let Some(eq) = eq else {
                if self.rtype == AVC || self.rtype == USER_AVC {
                    if let Some(f) = self.avc(tok) {
                        return Some(f);
                    }
                }
                continue;
            };
            let (mut name, mut val) = (&tok[..eq], &tok[eq + 1..]);
            let mut simple = true;
            if name == b"msg" {
                simple = false;
                match val.first() {
                    Some(b'a') => continue,
                    Some(b'\'') => {
                        let inner = &val[1..];
                        let Some(eq) = memchr(b'=', inner) else {
                            continue;
                        };
                        name = &inner[..eq];
                        val = &inner[eq + 1..];
                    }
                    _ => {}
                }
            }
            if let [b'(', n @ ..] = name {
                name = n;
                simple = false;
            }
            if val.is_empty() {
                continue;
            }
            let val = trim_value(val);
            if name == b"key" && val.first() != Some(&b'(') && val.first() != Some(&b'"') {
                match self.start_keys(name, val) {
                    Some(f) => return Some(f),
                    None => continue,
                }
            }
            self.count += 1;
            self.simple = simple;
            return Some(Field {
                name,
                raw: Cow::Borrowed(val),
            });
        }
    }
}

/// Space-separated tokens, empty ones skipped (auparse's `audit_strsplit_r`).
struct Tokens<'a>(&'a [u8]);

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.0;
        let begin = s.iter().position(|&c| c != b' ')?;
        let s = &s[begin..];
        match find_byte(s, b' ') {
            Some(e) => {
                self.0 = &s[e + 1..];
                Some(&s[..e])
            }
            None => {
                self.0 = &[];
                Some(s)
            }
        }
    }
}

impl<'a> Tokens<'a> {
    /// The next token and the index of its first `=`, found in the same pass (eight bytes at
    /// a time: the lowest flagged byte of a word is exact, see `find_byte`).
    #[inline]
    fn next_eq(&mut self) -> Option<(&'a [u8], Option<usize>)> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let s = self.0;
        let begin = s.iter().position(|&c| c != b' ')?;
        let s = &s[begin..];
        let n = s.len();
        let mut eq = None;
        // Bytes before `i` hold neither a space nor (while `eq` is unset) a `=`, so in the
        // last, overlapping word too the lowest flag of each kind is the first one.
        let scan = |i: usize, eq: &mut Option<usize>| {
            let w = &s[i..i + 8];
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let sp = zero(w ^ (ONES * b' ' as u64));
            let at_sp = (sp.trailing_zeros() / 8) as usize;
            if eq.is_none() {
                let e = zero(w ^ (ONES * b'=' as u64));
                let at_e = (e.trailing_zeros() / 8) as usize;
                if e != 0 && at_e < at_sp {
                    *eq = Some(i + at_e);
                }
            }
            (sp != 0).then_some(i + at_sp)
        };
        let mut end = None;
        if n >= 8 {
            let mut i = 0;
            while i + 8 <= n {
                end = scan(i, &mut eq);
                if end.is_some() {
                    break;
                }
                i += 8;
            }
            if end.is_none() && i < n {
                end = scan(n - 8, &mut eq);
            }
        } else {
            for (i, &c) in s.iter().enumerate() {
                if c == b' ' {
                    end = Some(i);
                    break;
                }
                if c == b'=' && eq.is_none() {
                    eq = Some(i);
                }
            }
        }
        match end {
            Some(e) => {
                self.0 = &s[e + 1..];
                Some((&s[..e], eq))
            }
            None => {
                self.0 = &[];
                Some((s, eq))
            }
        }
    }
}

/// The index of the first `b` in `s`, eight bytes at a time (tokens are too short for a
/// SIMD search's setup to pay off, too long for a byte loop to be free).
#[inline]
pub(super) fn find_byte(s: &[u8], b: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pat = ONES * b as u64;
    // The lowest flagged byte is exact (borrows only flag bytes above a real match).
    let hit = |w: &[u8]| {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ pat;
        x.wrapping_sub(ONES) & !x & HIGH
    };
    let n = s.len();
    if n < 8 {
        return s.iter().position(|&c| c == b);
    }
    let mut i = 0;
    while i + 8 <= n {
        let m = hit(&s[i..i + 8]);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i < n {
        // The last 8 bytes: those before `i` were already found free of `b`.
        let m = hit(&s[n - 8..]);
        if m != 0 {
            return Some(n - 8 + (m.trailing_zeros() / 8) as usize);
        }
    }
    None
}

/// AVC records have two unlabelled values: the result (`denied`) and the permission set.
/// `count` is the number of fields before `tok`.
fn avc_token<'a>(
    tok: &'a [u8],
    toks: &mut impl Iterator<Item = &'a [u8]>,
    count: usize,
) -> Option<Field<'a>> {
    match count {
        0 if !tok.starts_with(b"avc") => Some(Field {
            name: b"seresult",
            raw: Cow::Borrowed(tok),
        }),
        1 if tok.first() == Some(&b'{') => {
            let mut perms = Vec::new();
            for t in toks.by_ref() {
                if t.first() == Some(&b'}') {
                    break;
                }
                if !perms.is_empty() {
                    perms.push(b',');
                }
                perms.extend_from_slice(t);
            }
            Some(Field {
                name: b"seperms",
                raw: Cow::Owned(perms),
            })
        }
        _ => None,
    }
}

/// A hex `key=` holds several keys separated by 0x01; auparse reports one `key` field each,
/// re-quoted (or re-hexed when the key needs it).
fn split_keys<'a>(name: &'a [u8], val: &'a [u8], out: &mut Vec<Field<'a>>) {
    // Like auparse, decode the leading hex digits (a stray trailing quote is ignored).
    let hex_len = val.iter().take_while(|c| c.is_ascii_hexdigit()).count() & !1;
    let Some(decoded) = unhex(&val[..hex_len]) else {
        out.push(Field {
            name,
            raw: Cow::Borrowed(val),
        });
        return;
    };
    for k in decoded.split(|&c| c == KEY_SEP || c == 0) {
        if k.is_empty() {
            continue;
        }
        let raw = if k.iter().any(|&c| c == b'"' || !(0x21..=0x7e).contains(&c)) {
            hex_upper(k)
        } else {
            let mut q = Vec::with_capacity(k.len() + 2);
            q.push(b'"');
            q.extend_from_slice(k);
            q.push(b'"');
            q
        };
        out.push(Field {
            name,
            raw: Cow::Owned(raw),
        });
    }
}

fn hex_upper(b: &[u8]) -> Vec<u8> {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    let mut v = Vec::with_capacity(b.len() * 2);
    for &c in b {
        v.push(H[(c >> 4) as usize]);
        v.push(H[(c & 15) as usize]);
    }
    v
}

/// Hex digit -> value; 0xff for any other byte.
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes a value that is entirely hex digits, of even length; `None` otherwise.
pub fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    unhex_into(s, &mut out).then_some(out)
}

/// Appends the decoding of an all-hex, even-length value to `out`; false (and `out` left as it
/// was) otherwise.
pub fn unhex_into(s: &[u8], out: &mut Vec<u8>) -> bool {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return false;
    }
    let start = out.len();
    // Decoded without a branch per byte (long hex values are common: proctitle, args); a
    // bad digit's 0xff shows in `bad`, checked once at the end.
    let mut bad = 0u8;
    out.extend(s.chunks_exact(2).map(|p| {
        let (h, l) = (HEX[p[0] as usize], HEX[p[1] as usize]);
        bad |= h | l;
        h << 4 | l
    }));
    if bad > 15 {
        out.truncate(start);
        return false;
    }
    true
}

/// The enriched translations after 0x1d: `NAME=value` pairs, names as written (auparse
/// lower-cases them: compare with `Enriched::is`), values with their quotes.
/// `SADDR={ ... }` is one value with spaces.
pub fn enrichment(e: &[u8]) -> Vec<Enriched<'_>> {
    let mut out = Vec::new();
    enrichment_into(e, &mut out);
    out
}

/// `enrichment`, appended to `out`.
pub fn enrichment_into<'a>(e: &'a [u8], out: &mut Vec<Enriched<'a>>) {
    if let Some(r) = e.strip_prefix(b"SADDR=") {
        // auparse keeps everything from `{` on (a `}` may be part of a socket path).
        if let (Some(o), Some(c)) = (memchr(b'{', r), memchr(b'}', r)) {
            if o < c {
                out.push(Enriched(b"saddr", &r[o..]));
            }
        }
        return;
    }
    for tok in e.split(|&c| c == b' ').filter(|t| !t.is_empty()) {
        if let Some(eq) = memchr(b'=', tok) {
            out.push(Enriched(&tok[..eq], &tok[eq + 1..]));
        }
    }
}

/// The field names `enriched`'s translations can apply to, as a set of `Name`s (bit `id as
/// u8`; `Name::Other`'s bit: some translation's name is none of them). A field whose name's
/// bit is clear has no translation (`Enriched::is` compares the lower-cased name, which
/// classifies as the field's name when they are equal).
pub fn enriched_names(enriched: &[Enriched<'_>]) -> u128 {
    let mut set = 0u128;
    for e in enriched {
        let mut low = [0u8; 15];
        let id = match low.get_mut(..e.0.len()) {
            Some(l) => {
                for (d, s) in l.iter_mut().zip(e.0) {
                    *d = s.to_ascii_lowercase();
                }
                names::classify(l)
            }
            None => Name::Other,
        };
        set |= 1 << (id as u8);
    }
    set
}

/// One enriched translation: the name as written (upper case) and the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enriched<'a>(pub &'a [u8], pub &'a [u8]);

impl Enriched<'_> {
    /// Whether the name, lower-cased as auparse does, is `field` (without allocating the
    /// lower-case copy: most enriched records have several of them).
    #[inline]
    pub fn is(&self, field: &[u8]) -> bool {
        self.0.len() == field.len()
            && self
                .0
                .iter()
                .zip(field)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "header_tests.rs"]
mod header_tests;
