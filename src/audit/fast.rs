//! The JSON fast path: one pass over an event's records that writes `audit.records` as it
//! parses them and gathers the summary (process, file, network, audit.*) as slices of the
//! log, then writes the whole event without building an `Event`.
//!
//! It must write exactly the bytes the shared JSON encoder writes for `Builder::build()`'s
//! event: the same members in the same order, with `Map::insert`'s replace-in-place rule.
//! tests/audit_golden.rs checks that on every corpus event, tests/audit_props.rs on mutated
//! and random input.

use std::borrow::Cow;

use super::coalesce::EventRef;
use super::event::{decoded, file_type, num, sockaddr, Args, Builder, JsonSink, RecordSink};
use super::interp::{self, CtxTrack};
use super::json::{string, uint};
use super::names::{self, Name};
use super::record::{self, Field, CWD, EXECVE, PATH, PROCTITLE, SOCKADDR, SYSCALL};
use super::shapes;

#[path = "fast_one.rs"]
mod one;
use crate::encode::jstr::string_list;
use crate::event::Network;
use one::One;

/// A value of the summary, borrowed from the log where possible.
enum V<'a> {
    U64(u64),
    I64(i64),
    Bool(bool),
    Text(Cow<'a, [u8]>),
    /// A list of strings split at NUL (proctitle).
    Split(Vec<u8>),
    /// A number written as an octal string (`"755"`).
    Oct(u64),
}

/// The keys of the summary's objects (`process`, `audit`, `audit.paths[]`): compared as
/// small integers, written as their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
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
    ArgsMissing,
    Cwd,
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
    /// `"name":`, as written before the value.
    fn lit(self) -> &'static [u8] {
        match self {
            K::Auid => b"\"auid\":",
            K::Euid => b"\"euid\":",
            K::Suid => b"\"suid\":",
            K::Fsuid => b"\"fsuid\":",
            K::Egid => b"\"egid\":",
            K::Sgid => b"\"sgid\":",
            K::Fsgid => b"\"fsgid\":",
            K::Ses => b"\"ses\":",
            K::Tty => b"\"tty\":",
            K::Proctitle => b"\"proctitle\":",
            K::ArgsMissing => b"\"args_missing\":",
            K::Cwd => b"\"cwd\":",
            K::Success => b"\"success\":",
            K::Exit => b"\"exit\":",
            K::Item => b"\"item\":",
            K::Name => b"\"name\":",
            K::Inode => b"\"inode\":",
            K::Dev => b"\"dev\":",
            K::Mode => b"\"mode\":",
            K::Uid => b"\"uid\":",
            K::Gid => b"\"gid\":",
            K::Nametype => b"\"nametype\":",
        }
    }
}

/// An ordered map with `Map::insert`'s rule: a key seen again keeps its place.
#[derive(Default)]
struct Members<'a>(Vec<(K, V<'a>)>);

impl<'a> Members<'a> {
    fn insert(&mut self, k: K, v: V<'a>) {
        match self.0.iter_mut().find(|(n, _)| *n == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
    }
    fn get(&self, k: K) -> Option<&V<'a>> {
        self.0.iter().find(|(n, _)| *n == k).map(|(_, v)| v)
    }
}

fn write_v(v: &V<'_>, out: &mut Vec<u8>) {
    match v {
        V::U64(n) => uint(*n, out),
        V::I64(n) => {
            if *n < 0 {
                out.push(b'-');
            }
            uint(n.unsigned_abs(), out);
        }
        V::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        V::Text(t) => string(t, out),
        V::Oct(n) => {
            let mut b = [0u8; 24];
            let mut i = b.len();
            let mut n = *n;
            loop {
                i -= 1;
                b[i] = b'0' + (n & 7) as u8;
                n >>= 3;
                if n == 0 {
                    break;
                }
            }
            super::json::quoted_plain(&b[i..], out);
        }
        V::Split(t) => string_list(t.split(|&c| c == 0), out),
    }
}

/// Writes `"k":` (`lit`, quotes and colon included) with a separating comma after the first
/// member.
#[inline]
fn key(first: &mut bool, lit: &[u8], out: &mut Vec<u8>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    super::json::put(out, lit);
}

fn write_members(m: &Members<'_>, first: &mut bool, out: &mut Vec<u8>) {
    for (k, v) in &m.0 {
        key(first, k.lit(), out);
        write_v(v, out);
    }
}

struct PathSum<'a> {
    rec: Members<'a>,
    name: Option<Cow<'a, [u8]>>,
    mode: Option<u64>,
    parent: bool,
}

/// What the summary collects from the records.
#[derive(Default)]
struct Sum<'a> {
    pid: Option<u32>,
    ppid: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    comm: Option<Cow<'a, [u8]>>,
    exe: Option<Cow<'a, [u8]>>,
    pextra: Members<'a>,
    has_process: bool,
    args: Args,
    cwd: Option<Cow<'a, [u8]>>,
    network: Option<Network>,
    keys: Vec<Cow<'a, [u8]>>,
    summary: Members<'a>,
    syscall: Option<Cow<'a, [u8]>>,
}

/// One field as the summary sees it: `raw` and the interpreted `value` (the raw one when
/// there is none); `keep` makes a value the summary can hold from a slice of `raw`'s
/// lifetime, `value_at` is `value` when it is such a slice.
struct F<'r, 'v> {
    rtype: u32,
    id: Name,
    name: &'r [u8],
    raw: &'r [u8],
    value: &'v [u8],
    value_at: Option<&'r [u8]>,
}

impl<'a> Sum<'a> {
    fn field<'r, Keep: Fn(&'r [u8]) -> Cow<'a, [u8]>>(
        &mut self,
        f: &F<'r, '_>,
        first_proc: bool,
        path: &mut Option<PathSum<'a>>,
        keep: &Keep,
    ) {
        let value = || match f.value_at {
            Some(v) => keep(v),
            None => Cow::Owned(f.value.to_vec()),
        };
        match (f.rtype, f.id) {
            (EXECVE, _) => self.args.add(f.name, f.raw),
            (PATH, id) => {
                if let Some(p) = path.as_mut() {
                    if matches!(
                        id,
                        Name::Item
                            | Name::Name_
                            | Name::Inode
                            | Name::Dev
                            | Name::Mode
                            | Name::Ouid
                            | Name::Ogid
                            | Name::Nametype
                    ) {
                        path_add(p, id, keep(f.raw), value());
                    }
                }
            }
            // `decoded`, borrowed when the path is quoted (nearly always).
            (CWD, Name::Cwd) => {
                self.cwd = Some(match interp::escaped(f.raw) {
                    Some(Cow::Borrowed(b)) => keep(b),
                    Some(Cow::Owned(o)) => Cow::Owned(o),
                    None => keep(f.raw),
                })
            }
            (PROCTITLE, Name::Proctitle) => {
                self.pextra.insert(K::Proctitle, V::Split(decoded(f.raw)));
            }
            (SOCKADDR, Name::Saddr) => self.network = sockaddr(f.raw),
            _ => {}
        }
        if f.id == Name::Key && f.raw != b"(null)" {
            self.keys.push(value());
        }
        if f.rtype == SYSCALL || first_proc {
            let n32 = || num(f.raw).and_then(|v| u32::try_from(v).ok());
            let hit = match f.id {
                Name::Pid => {
                    self.pid = n32();
                    true
                }
                Name::Ppid => {
                    self.ppid = n32();
                    true
                }
                Name::Uid => {
                    self.uid = n32();
                    true
                }
                Name::Gid => {
                    self.gid = n32();
                    true
                }
                Name::Comm => {
                    self.comm = Some(value());
                    true
                }
                Name::Exe => {
                    self.exe = Some(value());
                    true
                }
                Name::Auid
                | Name::Euid
                | Name::Suid
                | Name::Fsuid
                | Name::Egid
                | Name::Sgid
                | Name::Fsgid
                | Name::Ses => {
                    if let Some(v) = num(f.raw) {
                        let k = match f.id {
                            Name::Auid => K::Auid,
                            Name::Euid => K::Euid,
                            Name::Suid => K::Suid,
                            Name::Fsuid => K::Fsuid,
                            Name::Egid => K::Egid,
                            Name::Sgid => K::Sgid,
                            Name::Fsgid => K::Fsgid,
                            _ => K::Ses,
                        };
                        self.pextra.insert(k, V::U64(v));
                    }
                    true
                }
                Name::Tty => {
                    self.pextra.insert(K::Tty, V::Text(keep(f.raw)));
                    true
                }
                _ => false,
            };
            self.has_process |= hit;
        }
        if f.rtype == SYSCALL {
            match f.id {
                Name::Syscall => self.syscall = Some(value()),
                Name::Success => self.summary.insert(K::Success, V::Bool(f.raw == b"yes")),
                Name::Exit => {
                    if let Some(e) = int(f.raw) {
                        self.summary.insert(K::Exit, V::I64(e));
                    }
                }
                _ => {}
            }
        }
    }
}

impl Builder {
    /// The fast path behind `render_json`.
    pub(super) fn render_fast(&mut self, raw: EventRef<'_>, seq: u64, out: &mut Vec<u8>) {
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut sink = JsonSink::new(&mut records);

        let mut kind: Option<Cow<'static, str>> = None;
        let mut bufs = std::mem::take(&mut self.bufs);
        let shapes = &mut self.shapes;
        let mut sum = Sum {
            pextra: Members(reuse(std::mem::take(&mut bufs.pextra))),
            summary: Members(reuse(std::mem::take(&mut bufs.summary))),
            keys: reuse(std::mem::take(&mut bufs.keys)),
            ..Sum::default()
        };
        let mut paths: Vec<PathSum> = reuse(std::mem::take(&mut bufs.paths));
        let mut enriched: Vec<record::Enriched> = reuse(std::mem::take(&mut bufs.enriched));
        let mut primary: Option<(usize, bool)> = None;

        for h in raw.views() {
            let tname = h.type_name();
            if kind.is_none() || h.rtype == SYSCALL {
                kind = Some(tname.clone());
            }
            enriched.clear();
            if let Some(e) = h.enriched {
                record::enrichment_into(e, &mut enriched);
            }
            sink.record(tname, 0);
            let mark = sink.mark();
            let mut path: Option<PathSum> = (h.rtype == PATH).then(|| PathSum {
                rec: Members(
                    bufs.members
                        .pop()
                        .map_or_else(|| Vec::with_capacity(8), reuse),
                ),
                name: None,
                mode: None,
                parent: false,
            });
            let first_proc = !sum.has_process && h.rtype != PATH && h.rtype != EXECVE;
            // One pass: each field is interpreted and written as it is found, with the context
            // (arch, syscall, a0, a1) gathered so far. A context value that comes after a
            // field that needed it (never in what auditd writes) makes the record stale: it
            // is written again with the final context, and the summary takes again only the
            // fields whose value depends on it.
            let mut track = CtxTrack::new(h.rtype);
            let one = One {
                rtype: h.rtype,
                first_proc,
                enriched: &enriched,
            };
            let mut only_ctx = false;
            let shape = shapes.of(h.rtype);
            loop {
                let mut fields = record::Fields::new(h.rtype, h.body);
                let mut i = 0;
                loop {
                    // The usual name at this place (see `shapes`), else the general rules.
                    let hit = shape
                        .get(i)
                        .and_then(|w| w.iter().find_map(|s| shapes::take(&mut fields, s)));
                    let (f, id, kind, pre) = match hit {
                        Some((s, name, raw)) => (
                            Field {
                                name,
                                raw: Cow::Borrowed(raw),
                            },
                            s.id,
                            s.kind
                                .unwrap_or_else(|| interp::kind_of(h.rtype, s.id, name, raw)),
                            Some((&s.prefix, s.plen as usize)),
                        ),
                        None => {
                            let Some(f) = fields.next() else {
                                break;
                            };
                            let id = names::classify(f.name);
                            shapes::learn(shape, h.rtype, i, f.name, id, fields.simple);
                            let kind = interp::kind_of(h.rtype, id, f.name, &f.raw);
                            (f, id, kind, None)
                        }
                    };
                    i += 1;
                    track.see(id, &f.raw);
                    one.field(
                        &track.ctx,
                        id,
                        kind,
                        f,
                        pre,
                        only_ctx,
                        &mut scratch,
                        &mut sink,
                        &mut sum,
                        &mut path,
                    );
                }
                if !track.stale {
                    break;
                }
                sink.rewind(mark);
                track.freeze();
                only_ctx = true;
            }
            if let Some(p) = path {
                if p.name.is_some() && primary.is_none_or(|(_, parent)| parent || !p.parent) {
                    primary = Some((paths.len(), p.parent));
                }
                paths.push(p);
            }
        }
        sink.close();
        self.scratch = scratch;
        let Sum {
            pid,
            ppid,
            uid,
            gid,
            comm,
            exe,
            mut pextra,
            mut has_process,
            args,
            cwd,
            network,
            keys,
            summary,
            syscall,
        } = sum;

        // The event, member by member, as `json::event` writes `Builder::build()`'s.
        let start = out.len();
        out.extend_from_slice(b"{\"time\":\"");
        write_time(&mut self.time, raw.sec, raw.nanos, out);
        out.extend_from_slice(b"\",\"seq\":");
        uint(seq, out);
        out.extend_from_slice(b",\"host\":");
        match raw.node {
            Some(n) => string(String::from_utf8_lossy(n).as_bytes(), out),
            None => out.extend_from_slice(b"\"\""),
        }
        out.extend_from_slice(b",\"source\":\"audit\",\"type\":");
        string(kind.as_deref().unwrap_or("UNKNOWN").as_bytes(), out);

        let args = args.finish();
        if let Some((_, missing)) = &args {
            if *missing > 0 {
                pextra.insert(K::ArgsMissing, V::U64(*missing));
            }
            has_process = true;
        }
        if let Some(c) = &cwd {
            pextra.insert(K::Cwd, V::Text(Cow::Borrowed(&**c)));
        }
        if has_process || !pextra.0.is_empty() {
            out.extend_from_slice(b",\"process\":{");
            let mut first = true;
            for (k, v) in [(&b"\"pid\":"[..], pid), (b"\"ppid\":", ppid)] {
                if let Some(v) = v {
                    key(&mut first, k, out);
                    uint(v as u64, out);
                }
            }
            for (k, v) in [(&b"\"comm\":"[..], &comm), (b"\"exe\":", &exe)] {
                if let Some(v) = v {
                    key(&mut first, k, out);
                    string(v, out);
                }
            }
            for (k, v) in [(&b"\"uid\":"[..], uid), (b"\"gid\":", gid)] {
                if let Some(v) = v {
                    key(&mut first, k, out);
                    uint(v as u64, out);
                }
            }
            if let Some((a, _)) = &args {
                key(&mut first, b"\"args\":", out);
                string_list(a.iter().map(|x| &x.0[..]), out);
            }
            write_members(&pextra, &mut first, out);
            out.push(b'}');
        }
        if let Some((idx, _)) = primary {
            let p = &paths[idx];
            let name = p.name.as_deref().unwrap_or_default();
            out.extend_from_slice(b",\"file\":{\"path\":");
            match (&cwd, name.first()) {
                (Some(c), Some(&f)) if f != b'/' => {
                    let mut full = c.to_vec();
                    if !full.ends_with(b"/") {
                        full.push(b'/');
                    }
                    full.extend_from_slice(name);
                    string(&full, out);
                }
                _ => string(name, out),
            }
            if let Some(t) = p.mode.and_then(file_type) {
                out.extend_from_slice(b",\"type\":");
                string(t.as_bytes(), out);
            }
            for k in [K::Inode, K::Dev, K::Mode, K::Uid, K::Gid] {
                if let Some(v) = p.rec.get(k) {
                    out.push(b',');
                    super::json::put(out, k.lit());
                    write_v(v, out);
                }
            }
            out.push(b'}');
        }
        if let Some(mut n) = network {
            if syscall.as_deref() == Some(b"bind") {
                n.saddr = n.daddr.take();
                n.sport = n.dport.take();
            }
            super::json::network(&n, out);
        }
        out.extend_from_slice(b",\"audit\":{\"serial\":");
        uint(raw.serial, out);
        if let Some(n) = raw.node {
            out.extend_from_slice(b",\"node\":");
            string(n, out);
        }
        if let Some(s) = &syscall {
            out.extend_from_slice(b",\"syscall\":");
            string(s, out);
        }
        let mut not_first = false;
        write_members(&summary, &mut not_first, out);
        if !keys.is_empty() {
            out.extend_from_slice(b",\"keys\":");
            string_list(keys.iter().map(|k| &k[..]), out);
        }
        if !paths.is_empty() {
            out.extend_from_slice(b",\"paths\":[");
            for (i, p) in paths.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                let mut first = true;
                write_members(&p.rec, &mut first, out);
                out.push(b'}');
            }
            out.push(b']');
        }
        if raw.timed_out {
            out.extend_from_slice(b",\"incomplete\":true");
        }
        out.extend_from_slice(b",\"records\":[");
        out.extend_from_slice(&records);
        out.extend_from_slice(b"]}}\n");
        debug_assert!(out.len() > start);
        self.records = records;
        // Keep the allocations, emptied, for the next event.
        for p in paths.drain(..) {
            if bufs.members.len() < 64 {
                bufs.members.push(reuse(p.rec.0));
            }
        }
        bufs.paths = reuse(paths);
        bufs.pextra = reuse(pextra.0);
        bufs.summary = reuse(summary.0);
        bufs.keys = reuse(keys);
        bufs.enriched = reuse(enriched);
        self.bufs = bufs;
    }
}

/// Allocations of the summary kept between events, empty (so nothing is borrowed).
#[derive(Default)]
pub(super) struct Bufs {
    pextra: Vec<(K, V<'static>)>,
    summary: Vec<(K, V<'static>)>,
    keys: Vec<Cow<'static, [u8]>>,
    paths: Vec<PathSum<'static>>,
    members: Vec<Vec<(K, V<'static>)>>,
    enriched: Vec<record::Enriched<'static>>,
}

/// Empties `v` and returns its allocation as a vector of another element type of the same
/// layout (here: the same type with another lifetime). Collecting an empty in-place
/// iterator keeps the buffer.
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// `Timestamp::write_rfc3339`, with the date and time of day kept from the previous event
/// (consecutive events nearly always share their second).
fn write_time(cache: &mut (u64, [u8; 30]), sec: u64, nanos: u32, out: &mut Vec<u8>) {
    // Beyond year 9999 the timestamp is clamped, nanoseconds included: no shortcut.
    const MAX: u64 = 253_402_300_799;
    let ts = |nanos| crate::event::Timestamp {
        secs: sec as i64,
        nanos,
    };
    if sec > MAX {
        return ts(nanos).write_rfc3339(out);
    }
    // A filled cache starts with a digit, never 0.
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
    for d in b[20..29].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&b);
}

fn path_add<'a>(p: &mut PathSum<'a>, id: Name, raw: Cow<'a, [u8]>, value: Cow<'a, [u8]>) {
    match id {
        Name::Item => {
            if let Some(v) = num(&raw) {
                p.rec.insert(K::Item, V::U64(v));
            }
        }
        Name::Name_ if raw.as_ref() != b"(null)" => {
            p.name = Some(value.clone());
            p.rec.insert(K::Name, V::Text(value));
        }
        Name::Inode => {
            if let Some(v) = num(&raw) {
                p.rec.insert(K::Inode, V::U64(v));
            }
        }
        Name::Dev => p.rec.insert(K::Dev, V::Text(raw)),
        Name::Mode => {
            if let Some(m) = std::str::from_utf8(&raw)
                .ok()
                .and_then(|s| u64::from_str_radix(s, 8).ok())
            {
                p.mode = Some(m);
                p.rec.insert(K::Mode, V::Oct(m & 0o7777));
            }
        }
        Name::Ouid | Name::Ogid => {
            if let Some(v) = num(&raw) {
                p.rec
                    .insert(if id == Name::Ouid { K::Uid } else { K::Gid }, V::U64(v));
            }
        }
        Name::Nametype => {
            p.parent = raw.as_ref() == b"PARENT";
            p.rec.insert(K::Nametype, V::Text(raw));
        }
        _ => {}
    }
}

/// `raw` as `str::parse::<i64>` reads it, on bytes.
fn int(raw: &[u8]) -> Option<i64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_keeps_the_allocation() {
        let mut v: Vec<(K, V<'static>)> = Vec::with_capacity(10);
        v.push((K::Auid, V::U64(1)));
        let p = v.as_ptr() as usize;
        let w: Vec<(K, V<'_>)> = reuse(v);
        assert!(w.is_empty());
        assert_eq!((w.capacity(), w.as_ptr() as usize), (10, p));
    }

    #[test]
    fn cached_time_is_the_timestamp() {
        let mut cache = (0, [0u8; 30]);
        for (sec, nanos) in [
            (0u64, 0u32),
            (0, 5),
            (1_700_000_000, 123_000_000),
            (1_700_000_000, 999_999_999),
            (1_700_000_001, 1),
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
