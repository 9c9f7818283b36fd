//! Record type tokens -> numbers and names: the packed-key table the reader looks every
//! line's type up in, and the names the renderers write.

use std::borrow::Cow;

use super::record::{CWD, EOE, EXECVE, PATH, PROCTITLE, SOCKADDR, SYSCALL};
use super::tables;

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

/// The names `common_type` knows.
pub(super) const COMMON_TYPES: [&str; 7] = [
    "SYSCALL",
    "PATH",
    "CWD",
    "EXECVE",
    "PROCTITLE",
    "EOE",
    "SOCKADDR",
];

/// The types that make up nearly every log, without a table lookup: the token packed into
/// an integer and switched on (slice comparisons compiled to `memcmp` calls).
#[inline]
pub(super) fn common_type(tok: &[u8]) -> Option<(u32, &'static str)> {
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

pub(super) fn parse_u64(s: &[u8]) -> Option<u64> {
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

/// Resolves a type token to a number: a known name, `UNKNOWN[N]`, or a bare number.
pub fn type_number(tok: &[u8]) -> u32 {
    if let Some(n) = super::names::key(tok).and_then(|k| type_table().get(k)) {
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

/// `type_number(tok)`, given `tok` already packed (`names::key`): one table probe for the
/// names in the table.
#[inline]
pub(super) fn type_number_packed(packed: u128, tok: &[u8]) -> u32 {
    match type_table().get(packed) {
        Some(n) => n,
        None => type_number(tok),
    }
}

/// Type names packed as `names::pack` does (up to 15 bytes) -> number: one multiply, one
/// load and one compare for nearly every name (no UTF-8 check, no string hash); the few
/// that collide in the table go to a map.
struct TypeTable {
    slots: Vec<(u128, u32)>,
    more: std::collections::HashMap<u128, u32, std::hash::BuildHasherDefault<PackHasher>>,
}

const TYPE_SLOTS_LOG2: u32 = 10;

impl TypeTable {
    fn slot(k: u128) -> usize {
        let x = (k as u64) ^ ((k >> 64) as u64).rotate_left(29);
        (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TYPE_SLOTS_LOG2)) as usize
    }

    #[inline]
    fn get(&self, k: u128) -> Option<u32> {
        match self.slots[Self::slot(k)] {
            // An empty slot holds key 0, which no name packs to (the length is in it).
            (key, n) if key == k && k != 0 => Some(n),
            (0, _) => None,
            _ => self.more.get(&k).copied(),
        }
    }

    fn insert(&mut self, k: u128, n: u32) {
        let s = &mut self.slots[Self::slot(k)];
        if s.0 == 0 {
            *s = (k, n);
        } else if s.0 != k {
            self.more.entry(k).or_insert(n);
        }
    }
}

fn type_table() -> &'static TypeTable {
    static T: std::sync::OnceLock<TypeTable> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = TypeTable {
            slots: vec![(0, 0); 1 << TYPE_SLOTS_LOG2],
            more: Default::default(),
        };
        // The common ones first: they win over the table, as they always did.
        for name in COMMON_TYPES {
            if let Some((n, _)) = common_type(name.as_bytes()) {
                t.insert(super::names::pack(name), n);
            }
        }
        // Every number libaudit names is below 4096 (msgtypes.txt); others take the slow path.
        for n in 0..4096 {
            let Some(name) = tables::type_name(n) else {
                continue;
            };
            // Only where the name maps back to this number (a name listed twice keeps the
            // number `tables::type_number` gives it).
            if tables::type_number(name) == Some(n) {
                if let Some(k) = super::names::key(name.as_bytes()) {
                    t.insert(k, n);
                }
            }
        }
        t
    })
}

/// Packed names are already well mixed in their low bytes; one multiply spreads them.
#[derive(Default)]
pub struct PackHasher(u64);

impl std::hash::Hasher for PackHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u128(&mut self, n: u128) {
        let x = (n as u64) ^ ((n >> 64) as u64).rotate_left(29);
        self.0 = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
