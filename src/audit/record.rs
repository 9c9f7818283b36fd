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

use super::tables;

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

/// The name of record type `rtype` written as `token`.
pub fn type_name(rtype: u32, token: &[u8]) -> Cow<'static, str> {
    if let Some(n) = common_type(token) {
        return Cow::Borrowed(n.1);
    }
    if let Some(n) = tables::type_name(rtype) {
        return Cow::Borrowed(n);
    }
    Cow::Owned(String::from_utf8_lossy(token).into_owned())
}

/// The types that make up nearly every log, without a table lookup: the token packed into
/// an integer and switched on (slice comparisons compiled to `memcmp` calls).
#[inline]
fn common_type(tok: &[u8]) -> Option<(u32, &'static str)> {
    use super::names::{key, pack};
    const T_SYSCALL: u128 = pack("SYSCALL");
    const T_PATH: u128 = pack("PATH");
    const T_CWD: u128 = pack("CWD");
    const T_EXECVE: u128 = pack("EXECVE");
    const T_PROCTITLE: u128 = pack("PROCTITLE");
    const T_EOE: u128 = pack("EOE");
    const T_SOCKADDR: u128 = pack("SOCKADDR");
    Some(match key(tok)? {
        T_SYSCALL => (SYSCALL, "SYSCALL"),
        T_PATH => (PATH, "PATH"),
        T_CWD => (CWD, "CWD"),
        T_EXECVE => (EXECVE, "EXECVE"),
        T_PROCTITLE => (PROCTITLE, "PROCTITLE"),
        T_EOE => (EOE, "EOE"),
        T_SOCKADDR => (SOCKADDR, "SOCKADDR"),
        _ => return None,
    })
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
/// search's dispatch and setup cost more than a byte loop.
#[inline]
pub fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    if s.len() < 32 {
        s.iter().position(|&c| c == b)
    } else {
        memchr::memchr(b, s)
    }
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(n)
}

/// The number written in decimal at `s[from..]`, up to the first non-digit: its value and
/// where it ends. `None` without digits, with more than `max` of them, or on overflow.
#[inline]
fn digits(s: &[u8], from: usize, max: usize) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut i = from;
    while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        if i - from == max {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
        i += 1;
    }
    (i > from).then_some((n, i))
}

/// Resolves a type token to a number: a known name, `UNKNOWN[N]`, or a bare number.
pub fn type_number(tok: &[u8]) -> u32 {
    if let Some((n, _)) = common_type(tok) {
        return n;
    }
    if let Some(inner) = tok
        .strip_prefix(b"UNKNOWN[")
        .and_then(|r| r.strip_suffix(b"]"))
    {
        return parse_u64(inner)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
    }
    if tok.first().is_some_and(u8::is_ascii_digit) {
        return parse_u64(tok)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
    }
    std::str::from_utf8(tok)
        .ok()
        .and_then(tables::type_number)
        .unwrap_or(0)
}

/// Parses the header of one line (without its newline).
pub fn parse_header(line: &[u8]) -> Result<Header<'_>, LineError> {
    parse_header_hint(line, true)
}

/// `parse_header`, told whether the line may hold the 0x1d enrichment separator at all
/// (`false` only when the caller has checked that it does not).
pub fn parse_header_hint(line: &[u8], may_enrich: bool) -> Result<Header<'_>, LineError> {
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
    // `SEC[.FRAC]:SERIAL)`: digits only in each part, read in one pass.
    let (sec, mut i) = digits(r, 0, 20).ok_or(LineError::BadTimestamp)?;
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
        for _ in j - from..9 {
            nanos *= 10;
        }
        i = j;
    }
    if r.get(i) != Some(&b':') {
        return Err(LineError::BadTimestamp);
    }
    let (serial, close) = digits(r, i + 1, 20).ok_or(LineError::BadTimestamp)?;
    if r.get(close) != Some(&b')') {
        return Err(LineError::BadTimestamp);
    }
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

fn trim_value(mut v: &[u8]) -> &[u8] {
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
    let start = out.len();
    let mut toks = Tokens(body);
    while let Some((tok, eq)) = toks.next_eq() {
        let Some(eq) = eq else {
            if rtype == AVC || rtype == USER_AVC {
                avc_token(tok, &mut toks, out, start);
            }
            continue;
        };
        let (mut name, mut val) = (&tok[..eq], &tok[eq + 1..]);
        if name == b"msg" {
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
        }
        if val.is_empty() {
            continue;
        }
        let val = trim_value(val);
        if name == b"key" && val.first() != Some(&b'(') && val.first() != Some(&b'"') {
            split_keys(name, val, out);
            continue;
        }
        out.push(Field {
            name,
            raw: Cow::Borrowed(val),
        });
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
fn avc_token<'a>(
    tok: &'a [u8],
    toks: &mut impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<Field<'a>>,
    start: usize,
) {
    match out.len() - start {
        0 if !tok.starts_with(b"avc") => out.push(Field {
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
            out.push(Field {
                name: b"seperms",
                raw: Cow::Owned(perms),
            });
        }
        _ => {}
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

#[inline]
fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes a value that is entirely hex digits, of even length; `None` otherwise.
pub fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    for p in s.chunks_exact(2) {
        out.push(hexval(p[0])? << 4 | hexval(p[1])?);
    }
    Some(out)
}

/// Appends the decoding of an all-hex, even-length value to `out`; false (and `out` left as it
/// was) otherwise.
pub fn unhex_into(s: &[u8], out: &mut Vec<u8>) -> bool {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return false;
    }
    let start = out.len();
    out.reserve(s.len() / 2);
    for p in s.chunks_exact(2) {
        match (hexval(p[0]), hexval(p[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => {
                out.truncate(start);
                return false;
            }
        }
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
mod tests {
    use super::*;

    fn names_vals(rtype: u32, body: &[u8]) -> Vec<(String, String)> {
        let mut v = Vec::new();
        split_fields(rtype, body, &mut v);
        v.iter()
            .map(|f| {
                (
                    String::from_utf8_lossy(f.name).into_owned(),
                    String::from_utf8_lossy(&f.raw).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn common_types_resolve_without_the_table() {
        for (tok, n) in [
            ("SYSCALL", SYSCALL),
            ("PATH", PATH),
            ("CWD", CWD),
            ("EXECVE", EXECVE),
            ("PROCTITLE", PROCTITLE),
            ("EOE", EOE),
            ("SOCKADDR", SOCKADDR),
        ] {
            assert_eq!(common_type(tok.as_bytes()), Some((n, tok)));
            assert_eq!(tables::type_name(n), Some(tok));
            assert_eq!(common_type(tok.to_lowercase().as_bytes()), None);
        }
        for tok in ["", "EO", "EOF", "CWDX", "PATHS", "USER_AUTH", "SYSCALl"] {
            assert_eq!(common_type(tok.as_bytes()), None, "{tok}");
        }
    }

    #[test]
    fn tokens_with_their_first_equals_sign() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let body: Vec<u8> = (0..len)
                .map(|i| {
                    [b' ', b'=', b'a', b'"', 0x80 | b' ', b'=' - 1][((x >> (i + 8)) % 6) as usize]
                })
                .collect();
            let mut want = Vec::new();
            for t in body.split(|&c| c == b' ').filter(|t| !t.is_empty()) {
                want.push((t.to_vec(), t.iter().position(|&c| c == b'=')));
            }
            let mut got = Vec::new();
            let mut toks = Tokens(&body);
            while let Some((t, e)) = toks.next_eq() {
                got.push((t.to_vec(), e));
            }
            assert_eq!(got, want, "{body:?}");
        }
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        for n in 0..40usize {
            for at in (0..n).map(Some).chain([None]) {
                for other in [b'a', 0x80 | b' ', b' ' - 1, 0xff] {
                    let mut v = vec![other; n];
                    if let Some(k) = at {
                        v[k] = b' ';
                        // A second match later must not win.
                        if k + 3 < n {
                            v[k + 3] = b' ';
                        }
                    }
                    assert_eq!(find_byte(&v, b' '), at, "{v:?}");
                }
            }
        }
    }

    #[test]
    fn header_with_node_and_enrichment() {
        let l = b"node=web1 type=PATH msg=audit(1615113648.978:15219): item=1 name=\"/x\"\x1dOUID=\"root\"";
        let h = parse_header(l).unwrap();
        assert_eq!(h.node, Some(&b"web1"[..]));
        assert_eq!(h.rtype, PATH);
        assert_eq!((h.sec, h.nanos, h.serial), (1615113648, 978_000_000, 15219));
        assert_eq!(h.body, b" item=1 name=\"/x\"");
        assert_eq!(h.enriched, Some(&b"OUID=\"root\""[..]));
    }

    /// The stamp parser as it was (split at `)`, `:` and `.`, then parse each part): the
    /// one-pass parser must accept and read exactly the same stamps.
    fn reference_stamp(r: &[u8]) -> Option<(u64, u32, u64, &[u8])> {
        let close = r.iter().position(|&c| c == b')')?;
        let stamp = &r[..close];
        let colon = stamp.iter().position(|&c| c == b':')?;
        let (time, serial) = (&stamp[..colon], &stamp[colon + 1..]);
        let serial = parse_u64(serial)?;
        let (sec, frac) = match time.iter().position(|&c| c == b'.') {
            Some(d) => (&time[..d], &time[d + 1..]),
            None => (time, &b""[..]),
        };
        let sec = parse_u64(sec)?;
        if frac.len() > 9 || (!frac.is_empty() && parse_u64(frac).is_none()) {
            return None;
        }
        let mut nanos = 0u32;
        for i in 0..9 {
            nanos = nanos * 10 + frac.get(i).map_or(0, |c| (c - b'0') as u32);
        }
        Some((sec, nanos, serial, &r[close + 1..]))
    }

    #[test]
    fn stamps_read_as_the_reference_parser_reads_them() {
        let mut stamps: Vec<Vec<u8>> = [
            "1.2:3)",
            "1615150974.493:21028): a=1",
            "1:2)",
            "1.:2)",
            ".5:2)",
            "1.5:)",
            "1.5:2",
            "1.5.6:2)",
            "1:2:3)",
            "1)2:3)",
            "1.1234567890:2)",
            "1.123456789:2)",
            "1.12:2) x",
            "18446744073709551615.1:18446744073709551615)",
            "18446744073709551616.1:2)",
            "1.1:18446744073709551616)",
            "000000000000000000001.1:2)",
            "1.1:000000000000000000002)",
            "00000000000000000001.1:00000000000000000002)",
            "",
            ")",
            ":",
            "1",
            "1.",
            "1.2",
            "1.2:",
            "a.2:3)",
            "1.a:3)",
            "1.2:a)",
            "1.2:3a)",
            "+1.2:3)",
            "1.-2:3)",
            " 1.2:3)",
            "1.2:3 )",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        // Every byte at every place of a typical stamp.
        let base = b"1700000000.123:456): x".to_vec();
        for at in 0..base.len() {
            for c in [b'0', b'9', b'.', b':', b')', b' ', b'x', 0, 0xff] {
                let mut v = base.clone();
                v[at] = c;
                stamps.push(v.clone());
                v.truncate(at);
                stamps.push(v);
            }
        }
        for st in stamps {
            let line = [&b"type=SYSCALL msg=audit("[..], &st].concat();
            let got = parse_header_hint(&line, false)
                .ok()
                .map(|h| (h.sec, h.nanos, h.serial, h.body));
            let want = reference_stamp(&st).map(|(a, b, c, body)| {
                let body = body.strip_prefix(b":").unwrap_or(body);
                (a, b, c, body)
            });
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&st));
        }
    }

    #[test]
    fn enriched_names_compare_as_their_lower_case_copy() {
        let names: [&[u8]; 9] = [
            b"UID", b"uid", b"Uid", b"AUID", b"UI", b"UIDX", b"", b"\xc9X", b"SADDR",
        ];
        let fields: [&[u8]; 7] = [b"uid", b"UID", b"Uid", b"auid", b"", b"\xc9x", b"saddr"];
        for n in names {
            for f in fields {
                assert_eq!(
                    Enriched(n, b"").is(f),
                    n.to_ascii_lowercase() == f,
                    "{n:?} {f:?}"
                );
            }
        }
        let e = enrichment(b"UID=\"root\" AUID=\"unset\"");
        assert_eq!(
            e,
            [
                Enriched(b"UID", b"\"root\""),
                Enriched(b"AUID", b"\"unset\"")
            ]
        );
    }

    #[test]
    fn unknown_types_resolve_by_number() {
        let h = parse_header(b"type=UNKNOWN[1334] msg=audit(1.2:3): prog-id=45").unwrap();
        assert_eq!((h.rtype, &*h.type_name()), (1334, "BPF"));
        let h = parse_header(b"type=UNKNOWN[1420] msg=audit(1.2:3): x=1").unwrap();
        assert_eq!((h.rtype, &*h.type_name()), (1420, "UNKNOWN[1420]"));
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert_eq!(
            parse_header(b"type=UNKNOWN[1329] msg=?"),
            Err(LineError::NoTimestamp)
        );
        assert_eq!(parse_header(b"# comment"), Err(LineError::NoType));
        assert_eq!(
            parse_header(b"type=SYSCALL msg=audit(1615150974.4"),
            Err(LineError::BadTimestamp)
        );
    }

    #[test]
    fn nested_user_message_is_flattened() {
        let v = names_vals(
            1100,
            b" pid=1 uid=0 subj=/usr/sbin/cupsd (enforce) msg='op=PAM:authentication acct=\"user\" res=success'",
        );
        let want = [
            ("pid", "1"),
            ("uid", "0"),
            ("subj", "/usr/sbin/cupsd"),
            ("op", "PAM:authentication"),
            ("acct", "\"user\""),
            ("res", "success"),
        ];
        assert_eq!(
            v,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
    }

    #[test]
    fn avc_unlabelled_values() {
        let v = names_vals(AVC, b" avc:  denied  { read write } for  pid=5 comm=\"x\"");
        assert_eq!(v[0], ("seresult".into(), "denied".into()));
        assert_eq!(v[1], ("seperms".into(), "read,write".into()));
        assert_eq!(v[2], ("pid".into(), "5".into()));
    }

    #[test]
    fn packed_keys_are_split() {
        // "exec" 0x01 "64bit"; a stray trailing quote is ignored, as auparse does.
        let v = names_vals(SYSCALL, b" key=zz");
        assert_eq!(v, [("key".to_string(), "zz".to_string())]);
        let v = names_vals(SYSCALL, b" key=65786563013634626974\"");
        assert_eq!(
            v,
            [
                ("key".to_string(), "\"exec\"".to_string()),
                ("key".to_string(), "\"64bit\"".to_string())
            ]
        );
    }
}
