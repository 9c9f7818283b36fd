//! The fast path's event summary (process, file, network, audit.*): gathered from the fields
//! as they go by and written as JSON fragments at once, so writing the event is a few copies.
//!
//! Each member of the summary's objects is rendered, when its field is seen, as `,"key":value`
//! into an arena that holds the object's members in insertion order (`Frags`); a key seen again
//! replaces its fragment where it is (`Map::insert`'s rule). Numbers the log already writes as
//! `uint` would (canonical decimals) are copied, not parsed and formatted again.

use std::borrow::Cow;

use super::event::{num, sockaddr, Args};
use super::frags::{exit_value, num_member, octal, write_octal, Frags, Obj, K, U32_MAX, U64_MAX};
use super::interp;
use super::json::{put, string, uint};
use super::names::Name;
use super::record::{CWD, EXECVE, PATH, PROCTITLE, SOCKADDR, SYSCALL};
use crate::encode::jstr::string_list;
use crate::event::Network;

/// An EXECVE field `Args` reads: (what its name says, name, raw).
type ExecveField<'a> = (ArgName, Cow<'a, [u8]>, Cow<'a, [u8]>);

/// One PATH record's place in `Sum::paths` and what `file` needs of it.
pub(super) struct PathSum<'a> {
    obj: Obj,
    /// Where its object starts in `Sum::paths.buf`.
    start: usize,
    /// The end of its spans.
    last: usize,
    name: Option<Cow<'a, [u8]>>,
    mode: Option<u64>,
    parent: bool,
}

/// One field as the summary sees it: `raw` and the interpreted `value` (the raw one when
/// there is none); `keep` makes a value the summary can hold from a slice of `raw`'s
/// lifetime, `value_at` is `value` when it is such a slice.
pub(super) struct F<'r, 'v> {
    pub(super) rtype: u32,
    pub(super) id: Name,
    pub(super) name: &'r [u8],
    pub(super) raw: &'r [u8],
    pub(super) value: &'v [u8],
    pub(super) value_at: Option<&'r [u8]>,
}

/// Which records a field name matters in (`Sum::field`'s gate), one bit each.
const G_PATH: u8 = 1;
const G_PROC: u8 = 2;
const G_SYS: u8 = 4;
const G_CWD: u8 = 8;
const G_TITLE: u8 = 16;
const G_SADDR: u8 = 32;
const G_ANY: u8 = 64;

/// What the summary does with a field (`Op::kind`). The numbers come first and get
/// their own branches: they are most of what the summary sees.
///
/// The first three are bits, tested one at a time: compared as values, the tests became a
/// jump table whose target changes nearly every field (an indirect mispredict each time).
const NUMBER: u8 = 0x80;
const FIXED_NUMBER: u8 = 0x40;
const FIXED_STRING: u8 = 0x20;
const NUM_PROC: u8 = NUMBER;
const NUM_PATH: u8 = NUMBER | 1;
/// pid, ppid, uid, gid: `SumBufs::slots[slot]`; comm, exe, syscall: STR_FIXED.
const NUM_FIXED: u8 = FIXED_NUMBER;
const STR_FIXED: u8 = FIXED_STRING;
const PATH_OTHER: u8 = 1;
const TTY: u8 = 2;
const SUCCESS: u8 = 3;
const EXIT: u8 = 4;
const CWD_PATH: u8 = 5;
const TITLE: u8 = 6;
const SADDR: u8 = 7;
const KEY: u8 = 8;

#[derive(Clone, Copy)]
struct Op {
    /// The records (`G_*`) it matters in; 0: none.
    g: u8,
    kind: u8,
    k: K,
    slot: u8,
}

const fn op(g: u8, kind: u8, k: K, slot: u8) -> Op {
    Op { g, kind, k, slot }
}

const NONE: Op = Op {
    g: 0,
    kind: 0,
    k: K::Auid,
    slot: 0,
};

/// `,"pid":` … for `Sum::slots`.
static FIXED_LITS: [&[u8]; 7] = [
    b",\"pid\":",
    b",\"ppid\":",
    b",\"comm\":",
    b",\"exe\":",
    b",\"uid\":",
    b",\"gid\":",
    b",\"syscall\":",
];
const SLOT_SYSCALL: usize = 6;

/// `Name` -> what the summary does with it: one load instead of a chain of matches.
static OPS: [Op; 256] = {
    let mut t = [NONE; 256];
    let path = [
        (Name::Item, K::Item, NUM_PATH),
        (Name::Name_, K::Name, PATH_OTHER),
        (Name::Inode, K::Inode, NUM_PATH),
        (Name::Dev, K::Dev, PATH_OTHER),
        (Name::Mode, K::Mode, PATH_OTHER),
        (Name::Ouid, K::Uid, NUM_PATH),
        (Name::Ogid, K::Gid, NUM_PATH),
        (Name::Nametype, K::Nametype, PATH_OTHER),
    ];
    let mut i = 0;
    while i < path.len() {
        t[path[i].0 as usize] = op(G_PATH, path[i].2, path[i].1, 0);
        i += 1;
    }
    let fixed = [
        (Name::Pid, NUM_FIXED),
        (Name::Ppid, NUM_FIXED),
        (Name::Comm, STR_FIXED),
        (Name::Exe, STR_FIXED),
        (Name::Uid, NUM_FIXED),
        (Name::Gid, NUM_FIXED),
    ];
    let mut i = 0;
    while i < fixed.len() {
        t[fixed[i].0 as usize] = op(G_PROC, fixed[i].1, K::Auid, i as u8);
        i += 1;
    }
    let nums = [
        (Name::Auid, K::Auid),
        (Name::Euid, K::Euid),
        (Name::Suid, K::Suid),
        (Name::Fsuid, K::Fsuid),
        (Name::Egid, K::Egid),
        (Name::Sgid, K::Sgid),
        (Name::Fsgid, K::Fsgid),
        (Name::Ses, K::Ses),
    ];
    let mut i = 0;
    while i < nums.len() {
        t[nums[i].0 as usize] = op(G_PROC, NUM_PROC, nums[i].1, 0);
        i += 1;
    }
    t[Name::Tty as usize] = op(G_PROC, TTY, K::Tty, 0);
    t[Name::Syscall as usize] = op(G_SYS, STR_FIXED, K::Auid, SLOT_SYSCALL as u8);
    t[Name::Success as usize] = op(G_SYS, SUCCESS, K::Success, 0);
    t[Name::Exit as usize] = op(G_SYS, EXIT, K::Exit, 0);
    t[Name::Cwd as usize] = op(G_CWD, CWD_PATH, K::Auid, 0);
    t[Name::Proctitle as usize] = op(G_TITLE, TITLE, K::Proctitle, 0);
    t[Name::Saddr as usize] = op(G_SADDR, SADDR, K::Auid, 0);
    t[Name::Key as usize] = op(G_ANY, KEY, K::Auid, 0);
    t
};

/// The groups of `OPS` that apply in a record of type `rtype` (besides `G_PROC` for the
/// first process record).
#[inline]
fn groups(rtype: u32) -> u8 {
    G_ANY
        | if rtype == SYSCALL {
            G_SYS | G_PROC
        } else if rtype == PATH {
            G_PATH
        } else if rtype == CWD {
            G_CWD
        } else if rtype == PROCTITLE {
            G_TITLE
        } else if rtype == SOCKADDR {
            G_SADDR
        } else {
            0
        }
}

/// Whether `Sum::field` can do anything with field `id` in a record of type `rtype` (a
/// cached record's replay keeps only those fields).
#[inline]
pub(super) fn matters(rtype: u32, id: Name) -> bool {
    rtype == EXECVE || OPS[id as usize].g & (groups(rtype) | G_PROC) != 0
}

/// The summary's JSON being built, kept between events for its allocations (`Sum::new`
/// empties it).
#[derive(Default)]
pub(super) struct SumBufs {
    /// `,"pid":…`, ppid, comm, exe, uid, gid and `,"syscall":…`, each the last one written
    /// to `fixed` (start == end: none).
    fixed: Vec<u8>,
    slots: [(u32, u32); 7],
    /// `process`'s other members.
    pextra: Frags,
    pobj: Obj,
    /// `audit`'s `success` and `exit`.
    audit: Frags,
    aobj: Obj,
    /// `,"key"` for each key.
    keys: Vec<u8>,
    /// `audit.paths`'s objects, `{…},{…}`.
    paths: Frags,
    pathsums: Vec<PathSum<'static>>,
    execve: Vec<ExecveField<'static>>,
}

/// What the summary collects from the records, mostly as JSON already (in `w`).
pub(super) struct Sum<'a, 'b> {
    pub(super) has_process: bool,
    /// The type of the record `groups` is for.
    rtype: u32,
    groups: u8,
    w: &'b mut SumBufs,
    pathsums: Vec<PathSum<'a>>,
    primary: Option<(usize, bool)>,
    /// EXECVE's fields (name, raw), for `process.args`.
    execve: Vec<ExecveField<'a>>,
    cwd: Option<Cow<'a, [u8]>>,
    network: Option<Network>,
}

impl<'a, 'b> Sum<'a, 'b> {
    /// A summary building its JSON in `w` (emptied first).
    pub(super) fn new(w: &'b mut SumBufs) -> Self {
        w.fixed.clear();
        w.slots = [(0, 0); 7];
        w.pextra.clear();
        w.pobj = Obj::default();
        w.audit.clear();
        w.aobj = Obj::default();
        w.keys.clear();
        w.paths.clear();
        Sum {
            has_process: false,
            rtype: u32::MAX,
            groups: 0,
            pathsums: super::fast::reuse(std::mem::take(&mut w.pathsums)),
            execve: super::fast::reuse(std::mem::take(&mut w.execve)),
            w,
            primary: None,
            cwd: None,
            network: None,
        }
    }

    /// Starts a record: a PATH record gets an object in `audit.paths`.
    #[inline]
    pub(super) fn path_begin(&mut self, rtype: u32) -> Option<PathSum<'a>> {
        if rtype != PATH {
            return None;
        }
        if !self.pathsums.is_empty() {
            self.w.paths.buf.push(b',');
        }
        Some(PathSum {
            obj: self.w.paths.obj(),
            start: self.w.paths.buf.len(),
            last: 0,
            name: None,
            mode: None,
            parent: false,
        })
    }

    /// Ends a record begun with `path_begin`.
    #[inline]
    pub(super) fn path_end(&mut self, path: Option<PathSum<'a>>) {
        let Some(mut p) = path else { return };
        // The first member's comma opens the object.
        match self.w.paths.buf.get_mut(p.start) {
            Some(c) => *c = b'{',
            None => self.w.paths.buf.push(b'{'),
        }
        self.w.paths.buf.push(b'}');
        p.last = self.w.paths.spans.len();
        if p.name.is_some() && self.primary.is_none_or(|(_, parent)| parent || !p.parent) {
            self.primary = Some((self.pathsums.len(), p.parent));
        }
        self.pathsums.push(p);
    }

    #[inline]
    pub(super) fn field<'r, Keep: Fn(&'r [u8]) -> Cow<'a, [u8]>>(
        &mut self,
        f: &F<'r, '_>,
        first_proc: bool,
        path: &mut Option<PathSum<'a>>,
        keep: &Keep,
    ) {
        if f.rtype == EXECVE {
            let a = arg_name(f.name);
            if a != ArgName::Ignored {
                self.execve.push((a, keep(f.name), keep(f.raw)));
            }
        }
        let op = OPS.get(f.id as usize).copied().unwrap_or(NONE);
        if op.g == 0 {
            return;
        }
        if f.rtype != self.rtype {
            self.rtype = f.rtype;
            self.groups = groups(f.rtype);
        }
        let g = self.groups | if first_proc { G_PROC } else { 0 };
        if op.g & g == 0 {
            return;
        }
        if op.kind & NUMBER != 0 {
            let (fr, o) = if op.kind == NUM_PROC {
                self.has_process = true;
                (&mut self.w.pextra, &mut self.w.pobj)
            } else {
                match path.as_mut() {
                    Some(p) => (&mut self.w.paths, &mut p.obj),
                    None => return,
                }
            };
            let at = fr.buf.len();
            if num_member(&mut fr.buf, op.k.lit(), f.raw, U64_MAX) {
                fr.commit(o, op.k, at);
            }
        } else if op.kind & FIXED_NUMBER != 0 {
            self.has_process = true;
            let at = self.w.fixed.len();
            let i = op.slot as usize;
            self.w.slots[i] = if num_member(&mut self.w.fixed, FIXED_LITS[i], f.raw, U32_MAX) {
                (at as u32, self.w.fixed.len() as u32)
            } else {
                (0, 0)
            };
        } else if op.kind & FIXED_STRING != 0 {
            let i = op.slot as usize;
            self.has_process |= i != SLOT_SYSCALL;
            let at = self.w.fixed.len();
            put(&mut self.w.fixed, FIXED_LITS[i]);
            string(f.value, &mut self.w.fixed);
            self.w.slots[i] = (at as u32, self.w.fixed.len() as u32);
        } else {
            self.other(op, f, path, keep);
        }
    }

    /// `field` for what is not a number.
    fn other<'r, Keep: Fn(&'r [u8]) -> Cow<'a, [u8]>>(
        &mut self,
        op: Op,
        f: &F<'r, '_>,
        path: &mut Option<PathSum<'a>>,
        keep: &Keep,
    ) {
        match op.kind {
            PATH_OTHER => {
                if let Some(p) = path.as_mut() {
                    self.path_add(p, op.k, f, keep);
                }
            }
            TTY => {
                self.has_process = true;
                let at = self.w.pextra.key(K::Tty);
                string(f.raw, &mut self.w.pextra.buf);
                self.w.pextra.commit(&mut self.w.pobj, K::Tty, at);
            }
            SUCCESS => {
                let at = self.w.audit.key(K::Success);
                put(
                    &mut self.w.audit.buf,
                    if f.raw == b"yes" { b"true" } else { b"false" },
                );
                self.w.audit.commit(&mut self.w.aobj, K::Success, at);
            }
            EXIT => {
                let at = self.w.audit.key(K::Exit);
                if exit_value(f.raw, &mut self.w.audit.buf) {
                    self.w.audit.commit(&mut self.w.aobj, K::Exit, at);
                } else {
                    self.w.audit.cancel(at);
                }
            }
            // `decoded`, borrowed when the path is quoted (nearly always).
            CWD_PATH => {
                self.cwd = Some(match interp::escaped(f.raw) {
                    Some(Cow::Borrowed(b)) => keep(b),
                    Some(Cow::Owned(o)) => Cow::Owned(o),
                    None => keep(f.raw),
                })
            }
            TITLE => {
                let at = self.w.pextra.key(K::Proctitle);
                let t = interp::escaped(f.raw);
                let t = t.as_deref().unwrap_or(f.raw);
                string_list(t.split(|&c| c == 0), &mut self.w.pextra.buf);
                self.w.pextra.commit(&mut self.w.pobj, K::Proctitle, at);
            }
            SADDR => self.network = sockaddr(f.raw),
            KEY if f.raw != b"(null)" => {
                self.w.keys.push(b',');
                string(f.value, &mut self.w.keys);
            }
            _ => {}
        }
    }

    /// A PATH field that is not a number.
    fn path_add<'r, Keep: Fn(&'r [u8]) -> Cow<'a, [u8]>>(
        &mut self,
        p: &mut PathSum<'a>,
        k: K,
        f: &F<'r, '_>,
        keep: &Keep,
    ) {
        let fr = &mut self.w.paths;
        let at = fr.key(k);
        let ok = match k {
            K::Name => {
                if f.raw == b"(null)" {
                    false
                } else {
                    string(f.value, &mut fr.buf);
                    p.name = Some(match f.value_at {
                        Some(v) => keep(v),
                        None => Cow::Owned(f.value.to_vec()),
                    });
                    true
                }
            }
            K::Mode => match octal(f.raw) {
                Some(m) => {
                    p.mode = Some(m);
                    write_octal(m & 0o7777, &mut fr.buf);
                    true
                }
                None => false,
            },
            // Dev, Nametype.
            _ => {
                if k == K::Nametype {
                    p.parent = f.raw == b"PARENT";
                }
                string(f.raw, &mut fr.buf);
                true
            }
        };
        if ok {
            fr.commit(&mut p.obj, k, at);
        } else {
            fr.cancel(at);
        }
    }

    /// Writes the event's summary after `time` .. `type` (`json::event`'s order), then
    /// `records` and the end of the line; gives the allocations back to `bufs`.
    pub(super) fn write(
        &mut self,
        raw: &super::coalesce::EventRef<'_>,
        records: &[u8],
        out: &mut Vec<u8>,
    ) {
        let network = self.network.take();
        let args = ArgsOut::new(&self.execve);
        let s = &self;
        let slot = |i: usize| &s.w.fixed[s.w.slots[i].0 as usize..s.w.slots[i].1 as usize];
        if self.has_process
            || !matches!(args, ArgsOut::None)
            || !self.w.pextra.buf.is_empty()
            || self.cwd.is_some()
        {
            out.extend_from_slice(b",\"process\":");
            let mark = out.len();
            for i in 0..6 {
                put(out, slot(i));
            }
            let missing = args.write(&self.execve, out);
            out.extend_from_slice(&self.w.pextra.buf);
            if missing > 0 {
                out.extend_from_slice(b",\"args_missing\":");
                uint(missing, out);
            }
            if let Some(c) = &self.cwd {
                out.extend_from_slice(b",\"cwd\":");
                string(c, out);
            }
            // The first member's comma opens the object.
            if out.len() == mark {
                out.push(b'{');
            } else {
                out[mark] = b'{';
            }
            out.push(b'}');
        }
        if let Some((idx, _)) = self.primary {
            let p = &self.pathsums[idx];
            let name = p.name.as_deref().unwrap_or_default();
            out.extend_from_slice(b",\"file\":{\"path\":");
            match (&self.cwd, name.first()) {
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
            if let Some(t) = p.mode.and_then(super::event::file_type) {
                // `file_type`'s names are plain ASCII: nothing to escape.
                put(out, b",\"type\":\"");
                put(out, t.as_bytes());
                out.push(b'"');
            }
            for k in [K::Inode, K::Dev, K::Mode, K::Uid, K::Gid] {
                // The object's first member starts with `{`, not `,`.
                if let Some(m) = self.w.paths.get(p.obj.first, p.last, k) {
                    out.push(b',');
                    put(out, &m[1..]);
                }
            }
            out.push(b'}');
        }
        if let Some(mut n) = network {
            if slot(SLOT_SYSCALL) == b",\"syscall\":\"bind\"" {
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
        put(out, slot(SLOT_SYSCALL));
        out.extend_from_slice(&self.w.audit.buf);
        if !self.w.keys.is_empty() {
            out.extend_from_slice(b",\"keys\":");
            let mark = out.len();
            out.extend_from_slice(&self.w.keys);
            out[mark] = b'[';
            out.push(b']');
        }
        if !self.pathsums.is_empty() {
            out.extend_from_slice(b",\"paths\":[");
            out.extend_from_slice(&self.w.paths.buf);
            out.push(b']');
        }
        if raw.timed_out {
            out.extend_from_slice(b",\"incomplete\":true");
        }
        out.extend_from_slice(b",\"records\":[");
        out.extend_from_slice(records);
        out.extend_from_slice(b"]}}\n");
        self.w.pathsums = super::fast::reuse(std::mem::take(&mut self.pathsums));
        self.w.execve = super::fast::reuse(std::mem::take(&mut self.execve));
    }
}

/// An EXECVE field's name as `Args::add` reads it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ArgName {
    Argc,
    /// `aN`: the whole argument N.
    Whole(u64),
    /// `aN[K]` (or what looks like it): a chunk.
    Chunk,
    Ignored,
}

fn arg_name(name: &[u8]) -> ArgName {
    if name == b"argc" {
        return ArgName::Argc;
    }
    let Some(rest) = name.strip_prefix(b"a") else {
        return ArgName::Ignored;
    };
    if rest.ends_with(b"_len") {
        ArgName::Ignored
    } else if rest.contains(&b'[') {
        ArgName::Chunk
    } else {
        num(rest).map_or(ArgName::Ignored, ArgName::Whole)
    }
}

/// `process.args` of an event: `Args`' result, written without building it when the
/// arguments are the common shape (whole `a0`, `a1`, … in order).
enum ArgsOut {
    None,
    /// (arguments, `argc`).
    InOrder(u64, Option<u64>),
    Built(Vec<crate::event::Bytes>, u64),
}

impl ArgsOut {
    fn new(execve: &[ExecveField<'_>]) -> ArgsOut {
        let mut next = 0;
        let mut argc = None;
        for (a, _, raw) in execve {
            match *a {
                ArgName::Argc => argc = argc.or(num(raw)),
                ArgName::Whole(i) if i == next => next += 1,
                ArgName::Ignored => {}
                _ => {
                    // `Args` ignores the fields `arg_name` calls ignored: they are not kept.
                    let mut a = Args::default();
                    for (_, name, raw) in execve {
                        a.add(name, raw);
                    }
                    return match a.finish() {
                        Some((args, missing)) => ArgsOut::Built(args, missing),
                        None => ArgsOut::None,
                    };
                }
            }
        }
        if next == 0 && argc.is_none() {
            ArgsOut::None
        } else {
            ArgsOut::InOrder(next, argc)
        }
    }

    /// Writes `,"args":[…]` as `string_list` writes `Args::finish`'s list; returns the
    /// number of missing arguments.
    fn write(&self, execve: &[ExecveField<'_>], out: &mut Vec<u8>) -> u64 {
        match self {
            ArgsOut::None => 0,
            ArgsOut::Built(a, missing) => {
                out.extend_from_slice(b",\"args\":");
                string_list(a.iter().map(|x| &x.0[..]), out);
                *missing
            }
            &ArgsOut::InOrder(k, argc) => {
                out.extend_from_slice(b",\"args\":");
                let mark = out.len();
                for (a, _, raw) in execve {
                    if let ArgName::Whole(_) = a {
                        out.push(b',');
                        match interp::escaped(raw) {
                            Some(d) => string(&d, out),
                            None => string(raw, out),
                        }
                    }
                }
                // `argc` beyond the arguments present: empty ones (at most 64), counted
                // as missing.
                let total = argc.unwrap_or(0).max(k);
                for _ in k..total.min(k + 64) {
                    out.extend_from_slice(b",\"\"");
                }
                if out.len() == mark {
                    out.push(b'[');
                } else {
                    out[mark] = b'[';
                }
                out.push(b']');
                total - k
            }
        }
    }
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
