//! Field interpretation: raw value -> the human value auparse (`ausearch -i`) would print.
//!
//! The kind of a field is decided by its name (and for a few names by the record type), as in
//! auparse. Deliberate differences (no passwd lookups for ids, strict hex decoding, ...) are
//! listed in docs/audit.md; everything else aims to be byte-identical to libauparse 3.0.9.

use std::borrow::Cow;

use super::decoders;
use super::json;
use super::names::{self, Name};
use super::record::{self, unhex, EXECVE, PATH};
use super::sysargs::{ipc_name, socketcall_name, syscall_arg, Arg};
use super::tables::{self, Machine};

#[path = "ctx_track.rs"]
mod ctx_track;
pub use ctx_track::CtxTrack;

/// How a field's value is interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
    Syscall,
    Arch,
    Exit,
    Escaped,
    Perm,
    Mode,
    ModeShort,
    Sockaddr,
    Promisc,
    Capability,
    Success,
    A0,
    A1,
    A2,
    A3,
    Signal,
    List,
    TtyData,
    Session,
    CapBitmap,
    Nfproto,
    Seccomp,
    Proctitle,
    /// Kept as is (also MAC labels, addresses and the kinds letrace does not decode).
    Plain,
}

/// What interpretation needs to know about the record a field is in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    pub rtype: u32,
    pub machine: Option<Machine>,
    /// The `arch=` value was present but is not a known AUDIT_ARCH.
    pub arch_unknown: bool,
    pub syscall: Option<u32>,
    pub a0: Option<u64>,
    pub a1: Option<u64>,
}

impl Ctx {
    /// Collects arch, syscall, a0 and a1 from a record's fields.
    pub fn new(rtype: u32, fields: &[record::Field<'_>]) -> Ctx {
        let mut c = Ctx {
            rtype,
            ..Ctx::default()
        };
        if rtype == EXECVE || rtype == PATH {
            return c;
        }
        for f in fields {
            match f.name {
                b"arch" => match strtoul(&f.raw, 16) {
                    Some(v) => {
                        c.machine = Machine::from_audit_arch(v);
                        c.arch_unknown = c.machine.is_none();
                    }
                    None => c.arch_unknown = true,
                },
                b"syscall" => c.syscall = dec(&f.raw).and_then(|v| u32::try_from(v).ok()),
                b"a0" => c.a0 = strtoul(&f.raw, 16),
                b"a1" => c.a1 = strtoul(&f.raw, 16),
                _ => {}
            }
        }
        c
    }

    pub(super) fn syscall_name(&self) -> Option<&'static str> {
        if self.arch_unknown {
            return None;
        }
        tables::syscall_name(self.machine.unwrap_or(Machine::X86_64), self.syscall?)
    }
}

fn is_hex(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_hexdigit)
}

/// The kind of field `name` in a record of type `rtype` (auparse's table and overrides).
pub fn kind(rtype: u32, name: &[u8], raw: &[u8]) -> Kind {
    kind_of(rtype, names::classify(name), name, raw)
}

/// `kind` for a name already classified (`id == names::classify(name)`).
#[inline(always)]
pub(super) fn kind_of(rtype: u32, id: Name, name: &[u8], raw: &[u8]) -> Kind {
    if rtype == EXECVE && name.first() == Some(&b'a') && id != Name::Argc {
        return if contains(name, b"_len") {
            Kind::Plain
        } else {
            Kind::Escaped
        };
    }
    match id {
        Name::Saddr if rtype == 1400 || rtype == 1324 => Kind::Plain,
        Name::Acct => {
            if raw.first() == Some(&b'"') || is_hex(raw) {
                Kind::Escaped
            } else {
                Kind::Plain
            }
        }
        Name::Flags if rtype == PATH => Kind::Plain,
        Name::Mode if rtype == 1312 => Kind::ModeShort,
        Name::Fp if rtype == 2404 => Kind::Plain,
        Name::Id if matches!(rtype, 1116 | 1132 | 1117) => Kind::Gid,
        Name::Name_ if rtype == 1330 => Kind::Escaped,
        _ => id.base_kind(),
    }
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// C `strtoul`: optional `0x` (base 16), leading digits; no digits is 0. `None` on overflow.
pub(super) fn strtoul(s: &[u8], base: u32) -> Option<u64> {
    let mut s = s;
    let neg = matches!(s.first(), Some(b'-'));
    if matches!(s.first(), Some(b'-' | b'+')) {
        s = &s[1..];
    }
    if base == 16 && (s.starts_with(b"0x") || s.starts_with(b"0X")) {
        s = &s[2..];
    }
    let mut n: u64 = 0;
    for &c in s {
        let Some(d) = (c as char).to_digit(base) else {
            break;
        };
        n = n.checked_mul(base as u64)?.checked_add(d as u64)?;
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

fn dec(s: &[u8]) -> Option<u64> {
    strtoul(s, 10)
}

pub(super) fn text(s: impl Into<Cow<'static, str>>) -> Option<Cow<'static, [u8]>> {
    Some(match s.into() {
        Cow::Borrowed(b) => Cow::Borrowed(b.as_bytes()),
        Cow::Owned(o) => Cow::Owned(o.into_bytes()),
    })
}

pub(super) fn lossy(v: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(v)
}

pub(super) fn conversion_error(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    text(format!("conversion error({})", lossy(raw)))
}

/// The interpreted value of one field, or `None` when it is the raw value unchanged.
/// `enriched` holds the record's upper-case translations.
pub fn interpret<'a>(
    ctx: &Ctx,
    name: &[u8],
    raw: &'a [u8],
    enriched: &[record::Enriched<'a>],
) -> Option<Cow<'a, [u8]>> {
    let mut buf = Vec::new();
    match interpret_in(ctx, names::classify(name), name, raw, enriched, &mut buf) {
        Interp::Same => None,
        Interp::At(v) => Some(Cow::Borrowed(v)),
        Interp::Buf => Some(Cow::Owned(buf)),
    }
}

/// Where `interpret_in` left a field's interpreted value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp<'a> {
    /// The raw value unchanged.
    Same,
    /// Part of the raw value or of the enrichment, or a constant.
    At(&'a [u8]),
    /// The contents of the caller's buffer.
    Buf,
}

/// `interpret` for a classified name (`id == names::classify(name)`), writing values it has
/// to build into `buf` instead of allocating: the renderer's per-field call. `buf` holds the
/// value only when `Interp::Buf` is returned.
///
/// Most fields are plain, ids or quoted strings: those are answered here, inlined into the
/// renderer's loop, without the full interpreter's call.
#[inline(always)]
pub(super) fn interpret_in<'a>(
    ctx: &Ctx,
    id: Name,
    name: &[u8],
    raw: &'a [u8],
    enriched: &[record::Enriched<'a>],
    buf: &mut Vec<u8>,
) -> Interp<'a> {
    let kind = kind_of(ctx.rtype, id, name, raw);
    interpret_kind_in(ctx, kind, id, name, raw, enriched, buf)
}

/// `interpret_in` for a field whose kind is known (`kind == kind_of(ctx.rtype, id, name,
/// raw)`, see `shapes::Slot::kind`).
#[inline(always)]
pub(super) fn interpret_kind_in<'a>(
    ctx: &Ctx,
    kind: Kind,
    id: Name,
    name: &[u8],
    raw: &'a [u8],
    enriched: &[record::Enriched<'a>],
    buf: &mut Vec<u8>,
) -> Interp<'a> {
    if enriched.is_empty() {
        match kind {
            Kind::Plain => return Interp::Same,
            Kind::Uid | Kind::Gid | Kind::Session => {
                return match id_unset(raw) {
                    Some(v) => Interp::At(v),
                    None => Interp::Same,
                }
            }
            Kind::Escaped => match raw {
                [b'"', rest @ ..] => {
                    // Shorter than `raw`: never the same.
                    let end = record::memchr(b'"', rest).unwrap_or(rest.len());
                    return Interp::At(&rest[..end]);
                }
                // `key=(null)`: `escaped_in`'s answer.
                [b'(', ..] => return escaped_in(raw, buf),
                _ => {}
            },
            // The common values of PATH's `mode`, `cap_fp`, `cap_fi` and of `res`, as
            // `interpret_full` answers them, without its call.
            Kind::Mode => {
                if let Some(v) = strtoul(raw, 8) {
                    buf.clear();
                    write_mode(v as u32, buf);
                    return if buf[..] == *raw {
                        Interp::Same
                    } else {
                        Interp::Buf
                    };
                }
            }
            Kind::CapBitmap if raw == b"0" => return Interp::At(b"none"),
            Kind::Success if !raw.first().is_some_and(u8::is_ascii_digit) => return Interp::Same,
            // Every syscall record has these three; the common values need no formatting.
            Kind::Arch if raw == b"c000003e" => return Interp::At(b"x86_64"),
            Kind::Syscall if ctx.syscall.is_some() && !ctx.arch_unknown => {
                if let Some(n) = ctx.syscall_name() {
                    // Letters, never the same as the number in `raw`.
                    if n != "socketcall" && n != "ipc" {
                        return Interp::At(n.as_bytes());
                    }
                }
            }
            Kind::Exit => match exit_text(raw) {
                Ok(Some(t)) => return Interp::At(t.as_bytes()),
                Ok(None) => return Interp::Same,
                Err(()) => {}
            },
            // Four per syscall record, nearly always `0x` + raw: `interpret_full`'s answer
            // without its call.
            Kind::A0 | Kind::A1 | Kind::A2 | Kind::A3 => {
                buf.clear();
                return match syscall_arg(ctx, kind, raw) {
                    // Longer than `raw`: never the same.
                    Arg::Hex => {
                        hex_arg(raw, buf);
                        Interp::Buf
                    }
                    Arg::Text(t) => match cow_in(t, buf) {
                        Interp::At(v) if v == raw => Interp::Same,
                        Interp::Buf if buf[..] == *raw => Interp::Same,
                        o => o,
                    },
                };
            }
            _ => {}
        }
    }
    interpret_full(ctx, id, name, raw, enriched, buf)
}

#[inline(never)]
fn interpret_full<'a>(
    ctx: &Ctx,
    id: Name,
    name: &[u8],
    raw: &'a [u8],
    enriched: &[record::Enriched<'a>],
    buf: &mut Vec<u8>,
) -> Interp<'a> {
    buf.clear();
    let kind = kind_of(ctx.rtype, id, name, raw);
    if let Some(record::Enriched(_, v)) = enriched.iter().find(|e| e.is(name)) {
        if !v.starts_with(b"unknown-") {
            let v: &'a [u8] = v;
            let v = match kind {
                Kind::Uid | Kind::Gid => unquote(v),
                _ => v,
            };
            return if v != raw {
                Interp::At(v)
            } else {
                Interp::Same
            };
        }
    }
    let out = match kind {
        Kind::Plain => return Interp::Same,
        Kind::Uid | Kind::Gid | Kind::Session => match id_unset(raw) {
            Some(v) => Interp::At(v),
            None => return Interp::Same,
        },
        Kind::Escaped => escaped_in(raw, buf),
        Kind::Proctitle => {
            let v = escaped_in(raw, buf);
            if raw.first() != Some(&b'"') {
                if let Interp::At(s) = v {
                    buf.extend_from_slice(s);
                }
                for b in buf.iter_mut() {
                    if *b == 0 {
                        *b = b' ';
                    }
                }
                if v != Interp::Same {
                    return if buf[..] == *raw {
                        Interp::Same
                    } else {
                        Interp::Buf
                    };
                }
            }
            v
        }
        Kind::A0 | Kind::A1 | Kind::A2 | Kind::A3 => match syscall_arg(ctx, kind, raw) {
            Arg::Hex => {
                hex_arg(raw, buf);
                Interp::Buf
            }
            Arg::Text(t) => cow_in(t, buf),
        },
        Kind::Mode => match strtoul(raw, 8) {
            Some(v) => {
                write_mode(v as u32, buf);
                Interp::Buf
            }
            None => cow_in(conversion_error(raw), buf),
        },
        Kind::Exit => match exit_text(raw) {
            Ok(Some(t)) => Interp::At(t.as_bytes()),
            Ok(None) => return Interp::Same,
            Err(()) => cow_in(exit(raw), buf),
        },
        _ => cow_in(interpret_kind(ctx, kind, raw), buf),
    };
    match out {
        Interp::At(v) if v == raw => Interp::Same,
        Interp::Buf if buf[..] == *raw => Interp::Same,
        o => o,
    }
}

fn cow_in<'a>(c: Option<Cow<'a, [u8]>>, buf: &mut Vec<u8>) -> Interp<'a> {
    match c {
        None => Interp::Same,
        Some(Cow::Borrowed(b)) => Interp::At(b),
        Some(Cow::Owned(o)) => {
            buf.extend_from_slice(&o);
            Interp::Buf
        }
    }
}

/// `0x` + raw (lossy for bytes that are not UTF-8, as `format!` would print them).
fn hex_arg(raw: &[u8], buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"0x");
    if raw.is_ascii() {
        // A few bytes (at most 16 hex digits): without a `memcpy` call.
        return json::put(buf, raw);
    }
    match std::str::from_utf8(raw) {
        Ok(_) => buf.extend_from_slice(raw),
        Err(_) => buf.extend_from_slice(lossy(raw).as_bytes()),
    }
}

/// `escaped` into `buf` (decoded hex) or as a slice of `raw`.
fn escaped_in<'a>(raw: &'a [u8], buf: &mut Vec<u8>) -> Interp<'a> {
    match raw {
        [b'"', rest @ ..] => {
            let end = record::memchr(b'"', rest).unwrap_or(rest.len());
            Interp::At(&rest[..end])
        }
        [b'(', ..] => match record::memchr(b')', raw) {
            Some(i) if i + 1 < raw.len() => Interp::At(&raw[..=i]),
            _ => Interp::Same,
        },
        [b'0', b'0', rest @ ..] if !rest.is_empty() => {
            if record::unhex_into(rest, buf) || record::unhex_into(raw, buf) {
                Interp::Buf
            } else {
                Interp::Same
            }
        }
        _ => {
            if record::unhex_into(raw, buf) {
                Interp::Buf
            } else {
                Interp::Same
            }
        }
    }
}

fn id_unset(raw: &[u8]) -> Option<&'static [u8]> {
    match raw {
        b"4294967295" | b"-1" => Some(b"unset"),
        _ => None,
    }
}

fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        v => v,
    }
}

fn interpret_kind<'a>(ctx: &Ctx, kind: Kind, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
    match kind {
        Kind::Plain => None,
        Kind::Uid | Kind::Gid | Kind::Session => id(raw),
        Kind::Escaped => escaped(raw),
        Kind::Proctitle => {
            let mut v = escaped(raw)?;
            if raw.first() != Some(&b'"') {
                for b in v.to_mut().iter_mut() {
                    if *b == 0 {
                        *b = b' ';
                    }
                }
            }
            Some(v)
        }
        Kind::Syscall => syscall(ctx, raw),
        Kind::Arch => arch(raw),
        Kind::Exit => exit(raw),
        Kind::Perm => perm(raw),
        Kind::Mode => mode(raw, 8),
        Kind::ModeShort => mode_short(raw, 8),
        Kind::Sockaddr => decoders::sockaddr(raw),
        Kind::Promisc => match dec(raw) {
            Some(0) => text("no"),
            Some(_) => text("yes"),
            None => conversion_error(raw),
        },
        Kind::Capability => match dec(raw) {
            Some(c) => match tables::CAPS.get(c as usize) {
                Some(n) => text(*n),
                None => text(format!("unknown-capability({})", lossy(raw))),
            },
            None => conversion_error(raw),
        },
        Kind::Success => {
            if raw.first().is_some_and(u8::is_ascii_digit) {
                match dec(raw) {
                    Some(0) => text("no"),
                    Some(1) => text("yes"),
                    Some(_) => text("unset"),
                    None => conversion_error(raw),
                }
            } else {
                None
            }
        }
        Kind::A0 | Kind::A1 | Kind::A2 | Kind::A3 => match syscall_arg(ctx, kind, raw) {
            Arg::Hex => {
                let mut v = Vec::with_capacity(raw.len() + 2);
                hex_arg(raw, &mut v);
                Some(Cow::Owned(v))
            }
            Arg::Text(t) => t,
        },
        Kind::Signal => signal(raw, 10),
        Kind::List => match dec(raw) {
            Some(n) => match tables::list_name(n) {
                Some(s) => text(s),
                None => text(format!("unknown-list({})", lossy(raw))),
            },
            None => conversion_error(raw),
        },
        Kind::TtyData => decoders::tty_data(raw),
        Kind::CapBitmap => cap_bitmap(raw),
        Kind::Nfproto => match dec(raw) {
            Some(n) => match tables::nfproto_name(n) {
                Some(s) => text(s),
                None => text(format!("unknown-netfilter-protocol({})", lossy(raw))),
            },
            None => conversion_error(raw),
        },
        Kind::Seccomp => match strtoul(raw, 16) {
            Some(c) => match tables::seccomp_action(c & 0x7fff_0000) {
                Some(s) => text(s),
                None => text(format!("unknown-seccomp-code({})", lossy(raw))),
            },
            None => conversion_error(raw),
        },
    }
}

/// Ids: only the "unset" marker is translated; names would come from the reading machine's
/// passwd file, not the logging machine's (use the enriched log format for names).
fn id(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    id_unset(raw).map(Cow::Borrowed)
}

/// Quoted -> the text between the quotes; all-hex (even length) -> the decoded bytes;
/// `00`-prefixed hex -> an abstract socket name; anything else is kept.
pub fn escaped(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    match raw {
        [b'"', rest @ ..] => {
            let end = record::memchr(b'"', rest).unwrap_or(rest.len());
            Some(Cow::Borrowed(&rest[..end]))
        }
        // auparse keeps `(null)`-style values up to their `)`.
        [b'(', ..] => match record::memchr(b')', raw) {
            Some(i) if i + 1 < raw.len() => Some(Cow::Borrowed(&raw[..=i])),
            _ => None,
        },
        [b'0', b'0', rest @ ..] if !rest.is_empty() => {
            unhex(rest).or_else(|| unhex(raw)).map(Cow::Owned)
        }
        _ => unhex(raw).map(Cow::Owned),
    }
}

fn arch(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let Some(v) = strtoul(raw, 16) else {
        return text(format!("conversion error({}) ", lossy(raw)));
    };
    match Machine::from_audit_arch(v) {
        Some(m) => text(m.name()),
        None => text(format!("unknown-elf-type({})", lossy(raw))),
    }
}

fn syscall(ctx: &Ctx, raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let Some(n) = ctx.syscall else {
        // Not a number (`syscall=execve` in hand-written logs): keep it.
        return None;
    };
    if ctx.arch_unknown {
        return None;
    }
    let Some(name) = ctx.syscall_name() else {
        return text(format!("unknown-syscall({n})"));
    };
    let sub = match (name, ctx.a0) {
        ("socketcall", Some(a0)) => socketcall_name(a0),
        ("ipc", Some(a0)) => ipc_name(a0),
        _ => None,
    };
    let _ = raw;
    match sub {
        Some(s) => text(format!("{name}({s})")),
        None => text(name),
    }
}

fn exit(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let s = std::str::from_utf8(raw).ok()?;
    let digits_end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    let Ok(v) = s[..digits_end].parse::<i64>() else {
        return if digits_end == 0 {
            None
        } else {
            conversion_error(raw)
        };
    };
    if v >= 0 {
        return None;
    }
    let e = v.unsigned_abs();
    let name = u32::try_from(e)
        .ok()
        .and_then(tables::errno_name)
        .unwrap_or("(null)");
    text(format!("{name}({})", strerror(e)))
}

/// The common cases of `exit` without formatting: `Ok(None)`: not interpreted (not negative),
/// `Ok(Some(..))`: a known errno's text, `Err(())`: anything else (take `exit`).
fn exit_text(raw: &[u8]) -> Result<Option<&'static str>, ()> {
    let digits =
        |d: &[u8], max: usize| !d.is_empty() && d.len() <= max && d.iter().all(u8::is_ascii_digit);
    match raw {
        [b'-', d @ ..] if digits(d, 9) => {
            let e = d.iter().fold(0u32, |n, c| n * 10 + (c - b'0') as u32);
            if e == 0 {
                return Ok(None);
            }
            errno_text(e).map(Some).ok_or(())
        }
        d if digits(d, 18) => Ok(None),
        _ => Err(()),
    }
}

/// `EACCES(Permission denied)` for 13, built once per errno libaudit knows, at its first use
/// (formatting all of them up front cost more than a small log's whole interpretation).
fn errno_text(e: u32) -> Option<&'static str> {
    use std::sync::OnceLock;
    static T: [OnceLock<Option<Box<str>>>; 4096] = [const { OnceLock::new() }; 4096];
    T.get(e as usize)?
        .get_or_init(|| {
            tables::errno_name(e).map(|n| format!("{n}({})", strerror(e as u64)).into_boxed_str())
        })
        .as_deref()
}

/// glibc's message for errno `e`.
fn strerror(e: u64) -> String {
    let Ok(code) = i32::try_from(e) else {
        return format!("Unknown error {e}");
    };
    let s = std::io::Error::from_raw_os_error(code).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn perm(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let Some(mut v) = dec(raw) else {
        return conversion_error(raw);
    };
    if v == 0 {
        v = 0xf;
    }
    let names: Vec<&str> = [(1, "read"), (2, "write"), (4, "exec"), (8, "attr")]
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect();
    text(names.join(","))
}

pub(super) fn mode(raw: &[u8], base: u32) -> Option<Cow<'static, [u8]>> {
    let Some(v) = strtoul(raw, base) else {
        return conversion_error(raw);
    };
    let mut s = Vec::with_capacity(16);
    write_mode(v as u32, &mut s);
    Some(Cow::Owned(s))
}

/// `file,suid,755`: the file type, the special bits, the permissions in octal.
fn write_mode(v: u32, out: &mut Vec<u8>) {
    let t: &[u8] = match v & 0o170000 {
        0o140000 => b"socket",
        0o120000 => b"link",
        0o100000 => b"file",
        0o060000 => b"block",
        0o040000 => b"dir",
        0o020000 => b"character",
        0o010000 => b"fifo",
        t => {
            octal3(t / 0o010000, out);
            b""
        }
    };
    out.extend_from_slice(t);
    for (bit, n) in [(0o4000, ",suid"), (0o2000, ",sgid"), (0o1000, ",sticky")] {
        if v & bit != 0 {
            out.extend_from_slice(n.as_bytes());
        }
    }
    out.push(b',');
    octal3(v & 0o777, out);
}

/// `{:03o}` for `n < 0o1000`.
fn octal3(n: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        b'0' + (n >> 6 & 7) as u8,
        b'0' + (n >> 3 & 7) as u8,
        b'0' + (n & 7) as u8,
    ]);
}

pub(super) fn mode_short(raw: &[u8], base: u32) -> Option<Cow<'static, [u8]>> {
    let Some(v) = strtoul(raw, base) else {
        return conversion_error(raw);
    };
    let special: Vec<&str> = [(0o4000, "suid"), (0o2000, "sgid"), (0o1000, "sticky")]
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if special.is_empty() {
        text(format!("0{:03o}", v & 0o777))
    } else {
        text(format!("{},0{:03o}", special.join(","), v & 0o777))
    }
}

pub(super) fn signal(raw: &[u8], base: u32) -> Option<Cow<'static, [u8]>> {
    let Some(v) = strtoul(raw, base) else {
        return conversion_error(raw);
    };
    match tables::SIGNALS.get(v as usize) {
        Some(s) if v < 32 => text(*s),
        _ => text(format!(
            "unknown-signal({}{})",
            if base == 16 { "0x" } else { "" },
            lossy(raw)
        )),
    }
}

fn cap_bitmap(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let Some(v) = strtoul(raw, 16) else {
        return conversion_error(raw);
    };
    // The names of the set bits that have one, lowest first (most bitmaps are 0: `none`).
    let mut bits = v & ((1u64 << tables::CAPS.len()) - 1);
    if bits == 0 {
        return text("none");
    }
    let mut out = Vec::new();
    while bits != 0 {
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(tables::CAPS[bits.trailing_zeros() as usize].as_bytes());
        bits &= bits - 1;
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
#[path = "interp_tests.rs"]
mod tests;
