//! A coalesced audit event -> `crate::event::Event` (schema in docs/audit.md).

use std::borrow::Cow;
use std::sync::Arc;

use super::coalesce::RawEvent;
use super::interp::{self, Ctx};
use super::record::{self, Field, CWD, EXECVE, PATH, PROCTITLE, SOCKADDR, SYSCALL};
use crate::event::{Bytes, Event, FileInfo, Map, Network, Process, SourceKind, Timestamp, Value};

/// Reused buffers, so building an event allocates only what the event keeps.
#[derive(Default)]
pub struct Builder {
    fields: Vec<Field<'static>>,
}

fn to_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::Str(Cow::Owned(s.to_string())),
        Err(_) => Value::Bytes(Bytes(b.to_vec())),
    }
}

fn name_value(n: &[u8]) -> Value {
    match static_name(n) {
        Some(s) => Value::Str(Cow::Borrowed(s)),
        None => to_value(n),
    }
}

/// Field names that occur in nearly every event: no allocation for them.
fn static_name(n: &[u8]) -> Option<&'static str> {
    const NAMES: [&str; 64] = [
        "arch",
        "syscall",
        "success",
        "exit",
        "a0",
        "a1",
        "a2",
        "a3",
        "items",
        "ppid",
        "pid",
        "auid",
        "uid",
        "gid",
        "euid",
        "suid",
        "fsuid",
        "egid",
        "sgid",
        "fsgid",
        "tty",
        "ses",
        "comm",
        "exe",
        "key",
        "subj",
        "argc",
        "cwd",
        "item",
        "name",
        "inode",
        "dev",
        "mode",
        "ouid",
        "ogid",
        "rdev",
        "nametype",
        "cap_fp",
        "cap_fi",
        "cap_fe",
        "cap_fver",
        "proctitle",
        "saddr",
        "op",
        "acct",
        "hostname",
        "addr",
        "terminal",
        "res",
        "obj",
        "cap_frootid",
        "grantors",
        "exe",
        "msg",
        "old-auid",
        "old-ses",
        "tty",
        "seresult",
        "seperms",
        "scontext",
        "tcontext",
        "tclass",
        "permissive",
        "apparmor",
    ];
    let s = std::str::from_utf8(n).ok()?;
    NAMES.iter().find(|&&x| x == s).copied()
}

/// Decoded value of an escaped field (quoted / hex), or the raw bytes.
fn decoded(raw: &[u8]) -> Vec<u8> {
    match interp::escaped(raw) {
        Some(v) => v.into_owned(),
        None => raw.to_vec(),
    }
}

fn num(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

#[derive(Default)]
struct Args {
    argc: Option<u64>,
    /// (index, chunk index or None for a whole argument, bytes)
    parts: Vec<(u64, Option<u64>, Vec<u8>)>,
}

impl Args {
    fn add(&mut self, name: &[u8], raw: &[u8]) {
        if name == b"argc" {
            self.argc = self.argc.or(num(raw));
            return;
        }
        let Some(rest) = name.strip_prefix(b"a") else {
            return;
        };
        if rest.ends_with(b"_len") {
            return;
        }
        if let Some(open) = rest.iter().position(|&c| c == b'[') {
            let (Some(i), Some(k)) = (
                num(&rest[..open]),
                rest[open + 1..].strip_suffix(b"]").and_then(num),
            ) else {
                return;
            };
            self.parts.push((i, Some(k), decoded(raw)));
        } else if let Some(i) = num(rest) {
            self.parts.push((i, None, decoded(raw)));
        }
    }

    fn finish(mut self) -> Option<(Vec<Bytes>, u64)> {
        if self.parts.is_empty() && self.argc.is_none() {
            return None;
        }
        self.parts.sort_by_key(|p| (p.0, p.1));
        let n = self
            .argc
            .unwrap_or(0)
            .max(self.parts.last().map_or(0, |p| p.0 + 1))
            .min(1 << 20);
        let mut args = vec![Vec::new(); n as usize];
        let mut seen = vec![false; n as usize];
        for (i, _, b) in self.parts {
            if let Some(a) = args.get_mut(i as usize) {
                a.extend_from_slice(&b);
                seen[i as usize] = true;
            }
        }
        let missing = seen.iter().filter(|s| !**s).count() as u64;
        Some((args.into_iter().map(Bytes).collect(), missing))
    }
}

fn file_type(mode: u64) -> Option<&'static str> {
    Some(match mode & 0o170000 {
        0o140000 => "socket",
        0o120000 => "symlink",
        0o100000 => "file",
        0o060000 => "block",
        0o040000 => "dir",
        0o020000 => "char",
        0o010000 => "fifo",
        _ => return None,
    })
}

impl Builder {
    pub fn build(&mut self, raw: &RawEvent) -> Event {
        let mut ev = Event::new(SourceKind::Audit, "");
        ev.time = Timestamp {
            secs: raw.sec as i64,
            nanos: raw.nanos,
        };
        ev.host = match &raw.node {
            Some(n) => Arc::from(crate::text::escape(n).as_ref()),
            None => Arc::from(""),
        };
        let mut records = Vec::with_capacity(raw.records.len());
        let mut kind: Option<Cow<'static, str>> = None;
        let mut process = Process::default();
        let mut has_process = false;
        let mut args = Args::default();
        let mut paths = Vec::new();
        let mut primary: Option<(Vec<u8>, Map, Option<&'static str>, bool)> = None;
        let mut cwd: Option<Vec<u8>> = None;
        let mut network: Option<Network> = None;
        let mut keys = Vec::new();
        let mut summary = Map::new();
        let mut syscall_name: Option<Vec<u8>> = None;

        for line in raw.lines() {
            let Ok(h) = record::parse_header(line) else {
                continue;
            };
            let tname = h.type_name();
            if kind.is_none() || h.rtype == SYSCALL {
                kind = Some(tname.clone());
            }
            let mut fields: Vec<Field<'_>> = recycle(std::mem::take(&mut self.fields));
            record::split_fields(h.rtype, h.body, &mut fields);
            let enriched = h.enriched.map(record::enrichment).unwrap_or_default();
            let ctx = Ctx::new(h.rtype, &fields);
            let mut list = Vec::with_capacity(fields.len());
            let mut path = PathRec::default();
            let first_proc = !has_process && h.rtype != PATH && h.rtype != EXECVE;
            for f in &fields {
                let i = interp::interpret(&ctx, f.name, &f.raw, &enriched);
                let mut triple = Vec::with_capacity(3);
                triple.push(name_value(f.name));
                triple.push(to_value(&f.raw));
                if let Some(v) = &i {
                    triple.push(to_value(v));
                }
                list.push(Value::List(triple));
                let value: &[u8] = i.as_deref().unwrap_or(&f.raw);
                match h.rtype {
                    EXECVE => args.add(f.name, &f.raw),
                    PATH => path.add(f.name, &f.raw, value),
                    CWD if f.name == b"cwd" => cwd = Some(decoded(&f.raw)),
                    PROCTITLE if f.name == b"proctitle" => {
                        let t = decoded(&f.raw);
                        let parts: Vec<Value> = t
                            .split(|&c| c == 0)
                            .map(|p| Value::Bytes(Bytes(p.to_vec())))
                            .collect();
                        process.extra.insert("proctitle", Value::List(parts));
                    }
                    SOCKADDR if f.name == b"saddr" => network = sockaddr(&f.raw),
                    _ => {}
                }
                if f.name == b"key" && f.raw.as_ref() != b"(null)" {
                    keys.push(Value::Bytes(Bytes(value.to_vec())));
                }
                if h.rtype == SYSCALL || first_proc {
                    has_process |= fill_process(&mut process, f.name, &f.raw, value);
                }
                if h.rtype == SYSCALL {
                    match f.name {
                        b"syscall" => syscall_name = Some(value.to_vec()),
                        b"success" => {
                            summary.insert("success", f.raw.as_ref() == b"yes");
                        }
                        b"exit" => {
                            if let Some(e) = std::str::from_utf8(&f.raw)
                                .ok()
                                .and_then(|s| s.parse::<i64>().ok())
                            {
                                summary.insert("exit", e);
                            }
                        }
                        _ => {}
                    }
                }
            }
            if h.rtype == PATH {
                let (rec, name, mode, parent) = path.finish();
                if let Some(name) = name {
                    if primary.as_ref().is_none_or(|p| p.3 || !parent) {
                        primary = Some((name, Map::new(), mode.and_then(file_type), parent));
                        if let Some(p) = primary.as_mut() {
                            p.1 = path_extra(&rec);
                        }
                    }
                }
                paths.push(Value::Map(rec));
            }
            records.push(Value::Map(
                Map::new()
                    .with("type", Value::Str(tname))
                    .with("fields", Value::List(list)),
            ));
            self.fields = recycle(fields);
        }

        ev.kind = kind.unwrap_or(Cow::Borrowed("UNKNOWN"));
        if let Some((a, missing)) = args.finish() {
            process.args = Some(a);
            if missing > 0 {
                process.extra.insert("args_missing", missing);
            }
            has_process = true;
        }
        if let Some(c) = &cwd {
            process.extra.insert("cwd", Bytes(c.clone()));
        }
        if has_process || !process.extra.is_empty() {
            ev.process = Some(Box::new(process));
        }
        if let Some((name, extra, kind, _)) = primary {
            let path = match (&cwd, name.first()) {
                (Some(c), Some(&f)) if f != b'/' => {
                    let mut p = c.clone();
                    if !p.ends_with(b"/") {
                        p.push(b'/');
                    }
                    p.extend_from_slice(&name);
                    p
                }
                _ => name,
            };
            ev.file = Some(Box::new(FileInfo {
                path: Bytes(path),
                kind,
                extra,
            }));
        }
        if let Some(mut n) = network {
            if syscall_name.as_deref() == Some(b"bind") {
                n.saddr = n.daddr.take();
                n.sport = n.dport.take();
            }
            ev.network = Some(Box::new(n));
        }
        let mut audit = Map::new().with("serial", raw.serial);
        if let Some(n) = &raw.node {
            audit.insert("node", Bytes(n.to_vec()));
        }
        if let Some(s) = syscall_name {
            audit.insert("syscall", to_value(&s));
        }
        for (k, v) in summary.0 {
            audit.insert(k, v);
        }
        if !keys.is_empty() {
            audit.insert("keys", Value::List(keys));
        }
        if !paths.is_empty() {
            audit.insert("paths", Value::List(paths));
        }
        if raw.timed_out {
            audit.insert("incomplete", true);
        }
        audit.insert("records", Value::List(records));
        ev.extra.insert("audit", audit);
        ev
    }
}

/// Empties `v` and gives its allocation back with another lifetime (an empty vector holds no
/// borrows, and collecting an empty in-place iterator keeps the buffer).
fn recycle<'b>(mut v: Vec<Field<'_>>) -> Vec<Field<'b>> {
    v.clear();
    v.into_iter()
        .map(|f| Field {
            name: b"",
            raw: Cow::Owned(f.raw.into_owned()),
        })
        .collect()
}

fn fill_process(p: &mut Process, name: &[u8], raw: &[u8], value: &[u8]) -> bool {
    let n32 = || num(raw).and_then(|v| u32::try_from(v).ok());
    match name {
        b"pid" => p.pid = n32(),
        b"ppid" => p.ppid = n32(),
        b"uid" => p.uid = n32(),
        b"gid" => p.gid = n32(),
        b"comm" => p.comm = Some(Bytes(value.to_vec())),
        b"exe" => p.exe = Some(Bytes(value.to_vec())),
        b"auid" | b"euid" | b"suid" | b"fsuid" | b"egid" | b"sgid" | b"fsgid" | b"ses" => {
            if let Some(v) = num(raw) {
                let key: &'static str = match name {
                    b"auid" => "auid",
                    b"euid" => "euid",
                    b"suid" => "suid",
                    b"fsuid" => "fsuid",
                    b"egid" => "egid",
                    b"sgid" => "sgid",
                    b"fsgid" => "fsgid",
                    _ => "ses",
                };
                p.extra.insert(key, v);
            }
        }
        b"tty" => p.extra.insert("tty", to_value(raw)),
        _ => return false,
    }
    true
}

/// One PATH record's useful fields.
#[derive(Default)]
struct PathRec {
    map: Map,
    name: Option<Vec<u8>>,
    mode: Option<u64>,
    parent: bool,
}

impl PathRec {
    fn add(&mut self, name: &[u8], raw: &[u8], value: &[u8]) {
        match name {
            b"item" => {
                if let Some(v) = num(raw) {
                    self.map.insert("item", v);
                }
            }
            b"name" if raw != b"(null)" => {
                self.name = Some(value.to_vec());
                self.map.insert("name", Bytes(value.to_vec()));
            }
            b"inode" => {
                if let Some(v) = num(raw) {
                    self.map.insert("inode", v);
                }
            }
            b"dev" => self.map.insert("dev", to_value(raw)),
            b"mode" => {
                if let Some(m) = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|s| u64::from_str_radix(s, 8).ok())
                {
                    self.mode = Some(m);
                    self.map.insert("mode", format!("{:o}", m & 0o7777));
                }
            }
            b"ouid" | b"ogid" => {
                if let Some(v) = num(raw) {
                    self.map
                        .insert(if name == b"ouid" { "uid" } else { "gid" }, v);
                }
            }
            b"nametype" => {
                self.parent = raw == b"PARENT";
                self.map.insert("nametype", to_value(raw));
            }
            _ => {}
        }
    }

    fn finish(self) -> (Map, Option<Vec<u8>>, Option<u64>, bool) {
        (self.map, self.name, self.mode, self.parent)
    }
}

fn path_extra(rec: &Map) -> Map {
    let mut m = Map::new();
    for k in ["inode", "dev", "mode", "uid", "gid"] {
        if let Some(v) = rec.get(k) {
            m.insert(k, v.clone());
        }
    }
    m
}

/// SOCKADDR -> network fields (destination by default; `bind` moves them to the source).
fn sockaddr(raw: &[u8]) -> Option<Network> {
    let hex_len = raw.iter().take_while(|c| c.is_ascii_hexdigit()).count() & !1;
    let b = record::unhex(&raw[..hex_len])?;
    if b.len() < 2 {
        return None;
    }
    let fam = u16::from_le_bytes([b[0], b[1]]);
    let mut n = Network::default();
    match fam {
        2 if b.len() >= 8 => {
            n.family = Some(Cow::Borrowed("ipv4"));
            n.daddr = Some(std::net::Ipv4Addr::new(b[4], b[5], b[6], b[7]).to_string());
            n.dport = Some(u16::from_be_bytes([b[2], b[3]]));
        }
        10 if b.len() >= 24 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[8..24]);
            n.family = Some(Cow::Borrowed("ipv6"));
            n.daddr = Some(std::net::Ipv6Addr::from(o).to_string());
            n.dport = Some(u16::from_be_bytes([b[2], b[3]]));
        }
        1 => {
            n.family = Some(Cow::Borrowed("unix"));
            let p = &b[2..];
            let (abs, p) = match p.first() {
                Some(0) => (true, &p[1..]),
                _ => (false, p),
            };
            let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
            n.extra.insert("path", Bytes(p[..end].to_vec()));
            if abs {
                n.extra.insert("abstract", true);
            }
        }
        16 => n.family = Some(Cow::Borrowed("netlink")),
        f => n.extra.insert("af", f as u64),
    }
    Some(n)
}
