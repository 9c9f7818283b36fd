//! The process table: pid -> {exe, args, ppid, start time, uid, cgroup}, fed by the bpf
//! source's PROCESS_FORK/EXEC/EXIT records, seeded from /proc at start, and kept a while after
//! exit. It is a pipeline stage in all but wiring: `observe` learns from an event, `enrich`
//! adds `process.exe`, `process.args`, `process.parent {pid, exe}` and `process.entity_id`
//! to any event with a `process.pid` — from any source (inotify/fanotify events with a pid
//! can go through the same two calls).
//!
//! Bounded: at most `CAPACITY` entries; exited processes stay `LINGER` (their late events still
//! get enriched), and the oldest exited ones go first when the table is full.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use crate::event::{Bytes, Event, Map, Process, Value};

pub const CAPACITY: usize = 65_536;
pub const LINGER: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub exe: Option<Bytes>,
    pub args: Option<Vec<Bytes>>,
    pub ppid: u32,
    /// Start time in clock ticks since boot (as /proc/PID/stat field 22): the same value
    /// whether it came from /proc or from the kernel's start_boottime.
    pub start_ticks: u64,
    pub uid: Option<u32>,
    pub cgroup: Option<u64>,
    pub exited: Option<Instant>,
    /// `entity_id` of this entry, computed when it is stored.
    pub eid: String,
    /// This entry pre-encoded as JSON (`json()`), built on first use and dropped whenever
    /// the entry changes: an event then copies bytes instead of cloning and encoding args.
    json: Option<Box<EntryJson>>,
}

/// JSON members of an entry, each with its leading comma (empty when unknown): what an
/// event's `process` object gets from the table, and what its `process.parent` object does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryJson {
    /// `,"exe":"…"`
    pub exe: Vec<u8>,
    /// `,"args":[…]`
    pub args: Vec<u8>,
    /// `,"entity_id":"…"`
    pub eid: Vec<u8>,
}

impl Entry {
    /// The pre-encoded members (built now if this entry changed since the last call).
    pub fn json(&mut self) -> &EntryJson {
        self.json.get_or_insert_with(|| {
            use crate::encode::jstr::{string, string_list};
            let mut j = EntryJson::default();
            if let Some(x) = &self.exe {
                j.exe.extend_from_slice(b",\"exe\":");
                string(&x.0, &mut j.exe);
            }
            if let Some(args) = &self.args {
                j.args.extend_from_slice(b",\"args\":");
                string_list(args.iter().map(|a| &a.0[..]), &mut j.args);
            }
            j.eid.extend_from_slice(b",\"entity_id\":");
            string(self.eid.as_bytes(), &mut j.eid);
            Box::new(j)
        })
    }
}

pub struct ProcTable {
    map: HashMap<u32, Entry, BuildHasherDefault<PidHasher>>,
    boot_id: Vec<u8>,
    ticks_per_sec: u64,
    proc_root: std::path::PathBuf,
    /// Bumped whenever an entry is added, replaced or changed: what a caller derived from
    /// the table (bpf's encoded `process` object) is current while this stays the same.
    generation: u64,
}

/// Pids are small integers the kernel hands out, not attacker-chosen keys: one multiply
/// instead of SipHash (two lookups per event at a million events a second).
#[derive(Default)]
struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.write_u32(x as u32 ^ (self.0 as u32).rotate_left(8));
        }
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        let h = (n as u64 ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // High bits mixed into the low ones (bucket index) and kept high (control bytes).
        self.0 = h ^ (h >> 29);
    }
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl ProcTable {
    /// An empty table for this host (boot id and clock tick rate read now).
    pub fn new() -> Self {
        Self::with_proc_root("/proc")
    }

    pub fn with_proc_root(root: impl Into<std::path::PathBuf>) -> Self {
        let root = root.into();
        let boot_id = std::fs::read(root.join("sys/kernel/random/boot_id"))
            .map(|b| b.trim_ascii().to_vec())
            .unwrap_or_default();
        // SAFETY: sysconf has no preconditions.
        let tps = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        ProcTable {
            map: HashMap::default(),
            boot_id,
            ticks_per_sec: if tps > 0 { tps as u64 } else { 100 },
            proc_root: root,
            generation: 0,
        }
    }

    /// A table holding every process now in /proc.
    pub fn seeded() -> Self {
        let mut t = Self::new();
        if let Ok(rd) = std::fs::read_dir(&t.proc_root) {
            for d in rd.flatten() {
                let pid = std::str::from_utf8(d.file_name().as_bytes())
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok());
                if let Some(pid) = pid {
                    if t.map.len() >= CAPACITY {
                        break;
                    }
                    if let Some(e) = t.read_proc(pid) {
                        // Through insert: it computes the entity_id (seeded entries had none).
                        t.insert(pid, e);
                    }
                }
            }
        }
        t
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn get(&self, pid: u32) -> Option<&Entry> {
        self.map.get(&pid)
    }
    /// Changes with every change of any entry (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Reads one process from /proc (None once it has gone).
    fn read_proc(&self, pid: u32) -> Option<Entry> {
        let dir = self.proc_root.join(pid.to_string());
        let stat = std::fs::read(dir.join("stat")).ok()?;
        // Fields after the comm, which may itself contain ") ".
        let close = stat.iter().rposition(|&c| c == b')')?;
        let rest: Vec<&[u8]> = stat[close + 1..]
            .split(|&c| c == b' ')
            .filter(|f| !f.is_empty())
            .collect();
        let num =
            |i: usize| -> Option<u64> { std::str::from_utf8(rest.get(i)?).ok()?.parse().ok() };
        // rest[0] is field 3 (state): ppid is field 4, starttime field 22.
        let ppid = num(1)? as u32;
        let start_ticks = num(19)?;
        let exe = std::fs::read_link(dir.join("exe"))
            .ok()
            .map(|p| Bytes::from(p.as_path()));
        let args = std::fs::read(dir.join("cmdline")).ok().map(|c| {
            let mut v: Vec<Bytes> = c.split(|&b| b == 0).map(Bytes::from).collect();
            if v.last().is_some_and(|a| a.0.is_empty()) {
                v.pop();
            }
            v
        });
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata(&dir).ok().map(|m| m.uid());
        Some(Entry {
            exe,
            args,
            ppid,
            start_ticks,
            uid,
            cgroup: None,
            exited: None,
            eid: String::new(),
            json: None,
        })
    }

    /// ECS `process.entity_id`: stable for one process across sources and restarts of
    /// letrace on the same boot; different after a reboot or pid reuse.
    pub fn entity_id(&self, pid: u32, start_ticks: u64) -> String {
        let h = fnv1a(&[
            &self.boot_id,
            pid.to_string().as_bytes(),
            start_ticks.to_string().as_bytes(),
        ]);
        format!("{h:016x}")
    }

    fn ns_to_ticks(&self, ns: u64) -> u64 {
        ns / (1_000_000_000 / self.ticks_per_sec)
    }

    fn insert(&mut self, pid: u32, mut e: Entry) {
        if self.map.len() >= CAPACITY && !self.map.contains_key(&pid) {
            self.evict();
        }
        e.eid = self.entity_id(pid, e.start_ticks);
        e.json = None;
        self.generation += 1;
        self.map.insert(pid, e);
    }

    /// Drops processes that exited more than LINGER ago; if still full, the oldest exited,
    /// and as a last resort an arbitrary entry (bounded memory beats completeness).
    fn evict(&mut self) {
        self.generation += 1;
        let now = Instant::now();
        self.map
            .retain(|_, e| e.exited.is_none_or(|t| now.duration_since(t) < LINGER));
        if self.map.len() < CAPACITY {
            return;
        }
        let victim = self
            .map
            .iter()
            .filter_map(|(p, e)| e.exited.map(|t| (t, *p)))
            .min()
            .map(|(_, p)| p)
            .or_else(|| self.map.keys().next().copied());
        if let Some(p) = victim {
            self.map.remove(&p);
        }
    }

    /// Learns from bpf PROCESS_FORK / PROCESS_EXEC / PROCESS_EXIT events; ignores others.
    pub fn observe(&mut self, ev: &Event) {
        if ev.source != crate::event::SourceKind::Bpf {
            return;
        }
        let Some(p) = ev.process.as_deref() else {
            return;
        };
        let Some(pid) = p.pid else { return };
        let raw = match ev.extra.get("bpf") {
            Some(Value::Map(m)) => m,
            _ => return,
        };
        let u = |m: &Map, k: &str| match m.get(k) {
            Some(Value::U64(v)) => Some(*v),
            _ => None,
        };
        let start_ns = match p.extra.get("start_time_ns") {
            Some(Value::U64(v)) => *v,
            _ => 0,
        };
        match &*ev.kind {
            "PROCESS_FORK" => {
                if raw.get("child_is_thread") == Some(&Value::Bool(true)) {
                    return;
                }
                let Some(child) = u(raw, "child_pid") else {
                    return;
                };
                let parent = self.map.get(&pid).cloned().unwrap_or_default();
                let child_start = match raw.get("child_start_ns") {
                    Some(Value::U64(v)) => *v,
                    _ => 0,
                };
                self.insert(
                    child as u32,
                    Entry {
                        exe: parent.exe.or_else(|| p.exe.clone()),
                        args: parent.args,
                        ppid: pid,
                        start_ticks: self.ns_to_ticks(child_start),
                        uid: p.uid,
                        cgroup: parent.cgroup,
                        exited: None,
                        eid: String::new(),
                        json: None,
                    },
                );
            }
            "PROCESS_EXEC" => {
                let ticks = self.ns_to_ticks(start_ns);
                let cg = match p.extra.get("cgroup_id") {
                    Some(Value::U64(v)) => Some(*v),
                    _ => None,
                };
                let eid = self.entity_id(pid, ticks);
                let e = self.map.entry(pid).or_default();
                e.eid = eid;
                e.exe = p.exe.clone();
                e.args = p.args.clone();
                e.ppid = p.ppid.unwrap_or(e.ppid);
                e.start_ticks = ticks;
                e.uid = p.uid;
                e.cgroup = cg;
                e.exited = None;
                e.json = None;
                self.generation += 1;
                if self.map.len() > CAPACITY {
                    self.evict();
                }
            }
            "PROCESS_EXIT" if raw.get("group_dead") == Some(&Value::Bool(true)) => {
                if let Some(e) = self.map.get_mut(&pid) {
                    e.exited = Some(Instant::now());
                }
            }
            _ => {}
        }
    }

    /// Re-reads one process from /proc, replacing what the table held for its pid. For a
    /// caller that knows /proc/PID is the process it means (it holds the process's pidfd):
    /// an exec or a reused pid since the last look must not leave stale exe/args behind.
    /// False when /proc has no such pid.
    pub fn refresh(&mut self, pid: u32) -> bool {
        match self.read_proc(pid) {
            Some(e) => {
                self.insert(pid, e);
                true
            }
            None => false,
        }
    }

    /// Adds what the table knows to `ev.process` (never overwrites what the source said).
    /// A pid the table has not seen is looked up in /proc once, if it is still alive. When the
    /// event says when its process started (bpf: `process.start_time_ns`) and the entry is
    /// of another process (the pid was reused), the entry is refreshed from /proc, or, when
    /// /proc no longer shows that process, replaced by one that knows only the start time.
    pub fn enrich(&mut self, ev: &mut Event) {
        if let Some(p) = ev.process.as_deref_mut() {
            self.enrich_process(p);
        }
    }

    /// `enrich` for a bare `Process` (sources that build it before their events).
    pub fn enrich_process(&mut self, p: &mut Process) {
        let Some(pid) = p.pid else { return };
        let start_ns = match p.extra.get("start_time_ns") {
            Some(Value::U64(ns)) => Some(*ns),
            _ => None,
        };
        let Some(e) = self.lookup(pid, start_ns, p.ppid) else {
            return;
        };
        if p.exe.is_none() {
            p.exe = e.exe.clone();
        }
        if p.args.is_none() {
            p.args = e.args.clone();
        }
        if p.ppid.is_none() {
            p.ppid = Some(e.ppid);
        }
        let ppid = p.ppid.unwrap_or(e.ppid);
        p.extra.insert("entity_id", e.eid.clone());
        let mut parent = Map(Vec::with_capacity(3)).with("pid", ppid);
        if let Some(pe) = self.map.get(&ppid) {
            if let Some(x) = &pe.exe {
                parent.push("exe", x.clone());
            }
            parent.push("entity_id", pe.eid.clone());
        }
        p.extra.insert("parent", parent);
    }

    /// The entry that describes the process `pid` that started at `start_ns` (ns since
    /// boot, when the event says), refreshed as `enrich` documents; `ppid` is the event's.
    /// None: nothing is known about it.
    pub fn lookup(
        &mut self,
        pid: u32,
        start_ns: Option<u64>,
        ppid: Option<u32>,
    ) -> Option<&mut Entry> {
        let ev_ticks = start_ns.map(|ns| self.ns_to_ticks(ns));
        let fresh = match (self.map.get(&pid), ev_ticks) {
            (None, _) => false,
            (Some(e), Some(t)) => e.start_ticks == t,
            (Some(_), None) => true,
        };
        if !fresh {
            match self.read_proc(pid) {
                Some(e) if ev_ticks.is_none_or(|t| t == e.start_ticks) => self.insert(pid, e),
                _ => match ev_ticks {
                    // Gone, or /proc shows a newer process: what this one ran is unknown.
                    // Remembered as such (with its own entity_id), so that its next events
                    // do not read /proc again, and dropped first when the table is full.
                    Some(t) => self.insert(
                        pid,
                        Entry {
                            ppid: ppid.unwrap_or(0),
                            start_ticks: t,
                            exited: Some(Instant::now()),
                            ..Entry::default()
                        },
                    ),
                    // No entry, no /proc and no start time: nothing to add.
                    None => return None,
                },
            }
        }
        self.map.get_mut(&pid)
    }

    /// The pre-encoded JSON of the entry of `pid` (as `lookup` finds it) and of its parent
    /// `ppid` (None when the table has no such entry): what `enrich` would add, as bytes.
    pub fn json_of(
        &mut self,
        pid: u32,
        start_ns: u64,
        ppid: u32,
    ) -> Option<(&EntryJson, Option<&EntryJson>)> {
        self.lookup(pid, Some(start_ns), Some(ppid))?.json();
        if let Some(pe) = self.map.get_mut(&ppid) {
            pe.json();
        }
        let e = self.map.get(&pid)?.json.as_deref()?;
        Some((e, self.map.get(&ppid).and_then(|pe| pe.json.as_deref())))
    }
}

impl Default for ProcTable {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SourceKind;

    #[test]
    fn entity_id_matches_between_proc_and_kernel_start_times() {
        // The current process seen through /proc and through a bpf-style record agree.
        let t = ProcTable::seeded();
        let me = std::process::id();
        let e = t.get(me).expect("own process seeded from /proc");
        assert_eq!(
            e.eid,
            t.entity_id(me, e.start_ticks),
            "seeded entries carry entity_id"
        );
        assert_eq!(e.eid.len(), 16);
        let ns = e.start_ticks * (1_000_000_000 / t.ticks_per_sec) + 3_000_000; // within the tick
        assert_eq!(t.ns_to_ticks(ns), e.start_ticks);
        assert_ne!(
            t.entity_id(me, e.start_ticks),
            t.entity_id(me, e.start_ticks + 1)
        );
    }

    /// A reused pid: the entry of the earlier process must not enrich the later one's events.
    #[test]
    fn reused_pid_is_refreshed_from_its_start_time() {
        let mut t = ProcTable::new();
        let tick_ns = 1_000_000_000 / t.ticks_per_sec;
        let me = std::process::id();
        let real = t.read_proc(me).expect("own /proc entry");
        // The table believes `me` is an older process that ran /bin/old.
        t.insert(
            me,
            Entry {
                exe: Some("/bin/old".into()),
                args: Some(vec!["old".into()]),
                ppid: 1,
                start_ticks: real.start_ticks.saturating_sub(50),
                ..Entry::default()
            },
        );
        let ev_for = |start_ticks: u64| {
            let mut ev = Event::new(SourceKind::Bpf, "FILE_OPEN");
            ev.process = Some(Box::new(Process {
                pid: Some(me),
                extra: Map::new().with("start_time_ns", start_ticks * tick_ns),
                ..Process::default()
            }));
            ev
        };
        // An event of the current process (its start time is /proc's): refreshed from /proc.
        let mut ev = ev_for(real.start_ticks);
        t.enrich(&mut ev);
        let p = ev.process.unwrap();
        assert_eq!(p.exe, real.exe);
        assert_eq!(p.args, real.args);
        assert_eq!(p.ppid, Some(real.ppid));
        assert_eq!(
            p.extra.get("entity_id"),
            Some(&Value::from(t.entity_id(me, real.start_ticks)))
        );
        assert_eq!(t.get(me).unwrap().start_ticks, real.start_ticks);
        // An event of a process /proc does not show (an earlier holder of the pid): nothing
        // of the current process is attached to it, and its own entity_id is.
        let mut ev = ev_for(real.start_ticks - 7);
        t.enrich(&mut ev);
        let p = ev.process.unwrap();
        assert_eq!((p.exe, p.args), (None, None));
        assert_eq!(
            p.extra.get("entity_id"),
            Some(&Value::from(t.entity_id(me, real.start_ticks - 7)))
        );
        // An event without a start time (inotify, fanotify) keeps using the entry.
        let mut ev = Event::new(SourceKind::Fanotify, "FAN_OPEN");
        ev.process = Some(Box::new(Process {
            pid: Some(me),
            ..Process::default()
        }));
        t.enrich(&mut ev);
        assert_eq!(ev.process.unwrap().exe, None);
    }

    #[test]
    fn fork_exec_exit_and_enrich() {
        let mut t = ProcTable::new();
        let mk = |kind: &'static str, pid: u32, raw: Map, p: Process| {
            let mut ev = Event::new(SourceKind::Bpf, kind);
            ev.process = Some(Box::new(Process {
                pid: Some(pid),
                ..p
            }));
            ev.extra.insert("bpf", raw);
            ev
        };
        let exec1 = mk(
            "PROCESS_EXEC",
            4_000_001,
            Map::new(),
            Process {
                exe: Some("/bin/sh".into()),
                args: Some(vec!["sh".into()]),
                ppid: Some(1),
                ..Process::default()
            },
        );
        t.observe(&exec1);
        let fork = mk(
            "PROCESS_FORK",
            4_000_001,
            Map::new()
                .with("child_pid", 4_000_002u64)
                .with("child_is_thread", false)
                .with("child_start_ns", 2_000_000_000u64),
            Process::default(),
        );
        t.observe(&fork);
        assert_eq!(t.get(4_000_002).unwrap().exe, Some("/bin/sh".into()));
        // The child's start time (2 s after boot) in clock ticks, as /proc would show it.
        assert_eq!(t.get(4_000_002).unwrap().start_ticks, 2 * t.ticks_per_sec);
        let mut ev = mk("FILE_OPEN", 4_000_002, Map::new(), Process::default());
        t.enrich(&mut ev);
        let p = ev.process.unwrap();
        assert_eq!(p.exe, Some("/bin/sh".into()));
        assert_eq!(p.ppid, Some(4_000_001));
        match p.extra.get("parent") {
            Some(Value::Map(m)) => assert_eq!(m.get("exe"), Some(&Value::Bytes("/bin/sh".into()))),
            other => panic!("parent: {other:?}"),
        }
        let exit = mk(
            "PROCESS_EXIT",
            4_000_002,
            Map::new().with("group_dead", true),
            Process::default(),
        );
        t.observe(&exit);
        assert!(
            t.get(4_000_002).unwrap().exited.is_some(),
            "kept after exit"
        );
    }
}
