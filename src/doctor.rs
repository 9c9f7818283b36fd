//! `letrace doctor` and the start-up check of `record`: for each source, can it run here, and
//! if not, exactly why and what to do.
//!
//! Each source module provides `pub fn probe() -> Probe` beside its code; [`PROBES`] lists
//! them, one line per source. Sources that do not have a module in this build are probed by
//! the small environment checks at the bottom of this file (replace the line when the
//! source's module brings its own probe).

use std::fmt::Write as _;
use std::io;

use crate::event::SourceKind;

/// Whether a source can run here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Runs with everything it supports.
    Ok,
    /// Runs, with less than it could (an older kernel feature is missing).
    Degraded,
    /// Cannot run: `record` refuses it (unless `--best-effort`).
    No,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "yes",
            Status::Degraded => "degraded",
            Status::No => "NO",
        }
    }
}

/// One row of the doctor table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub source: SourceKind,
    pub status: Status,
    /// What was checked and found.
    pub detail: String,
    /// What to do about it, when something is missing.
    pub fix: Option<String>,
}

impl Probe {
    pub fn new(source: SourceKind, status: Status, detail: impl Into<String>) -> Probe {
        Probe {
            source,
            status,
            detail: detail.into(),
            fix: None,
        }
    }
    pub fn fix(mut self, fix: impl Into<String>) -> Probe {
        self.fix = Some(fix.into());
        self
    }
    /// `why; what to do` in one line, for start-up errors.
    pub fn reason(&self) -> String {
        match &self.fix {
            Some(f) => format!("{}; {}", self.detail, f),
            None => self.detail.clone(),
        }
    }
}

/// The probe of every source, in the order `letrace doctor` prints them.
/// A source's probe function.
pub type ProbeFn = fn() -> Probe;

pub const PROBES: &[(SourceKind, ProbeFn)] = &[
    (SourceKind::Inotify, crate::source::inotify::probe),
    (SourceKind::Fanotify, crate::source::fanotify::probe),
    (SourceKind::Epoll, crate::source::epoll::probe),
    (SourceKind::Input, crate::source::input::probe),
    (SourceKind::Audit, audit_probe),
    (SourceKind::Route, crate::source::route::probe),
    (SourceKind::Bpf, bpf_doctor),
];

/// The probe that decides whether `record` may open `spec`. An explicit input file (FIFO or
/// recorded events) needs no device, so the device probe does not apply to it. bpf: only the
/// environment check; loading and attaching every family (what `doctor` does) took ~10 s,
/// and the source itself reports each family it cannot run.
pub fn probe_spec(spec: &crate::source::Spec) -> Probe {
    match spec {
        crate::source::Spec::Bpf(_) => bpf_probe(),
        crate::source::Spec::Input { path: Some(p) } => Probe::new(
            SourceKind::Input,
            Status::Ok,
            format!("reads {}", p.display()),
        ),
        _ => probe(spec.kind()),
    }
}

/// The probe of one source (a source without a probe is assumed able to run).
pub fn probe(kind: SourceKind) -> Probe {
    PROBES.iter().find(|(k, _)| *k == kind).map_or_else(
        || Probe::new(kind, Status::Ok, "no requirements"),
        |(_, f)| f(),
    )
}

pub fn all() -> Vec<Probe> {
    PROBES.iter().map(|(_, f)| f()).collect()
}

/// The doctor table: SOURCE, CAN RUN, then why and what to do.
pub fn table(rows: &[Probe]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<9} {:<8} DETAILS", "SOURCE", "CAN RUN");
    for r in rows {
        let _ = writeln!(
            s,
            "{:<9} {:<8} {}",
            r.source.as_str(),
            r.status.as_str(),
            r.detail
        );
        if let Some(f) = &r.fix {
            let _ = writeln!(s, "{:<9} {:<8} -> {}", "", "", f);
        }
    }
    s
}

/// Effective capability bit `cap` of this process (from /proc/self/status), None if unreadable.
pub fn has_cap(cap: u32) -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let bits = u64::from_str_radix(hex, 16).ok()?;
    Some(bits & (1u64 << cap) != 0)
}

pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_NET_ADMIN: u32 = 12;
pub const CAP_AUDIT_CONTROL: u32 = 30;
pub const CAP_AUDIT_READ: u32 = 37;
pub const CAP_BPF: u32 = 39;
pub const CAP_PERFMON: u32 = 38;

/// A netlink socket of `proto` bound to `groups`: Ok, or the errno.
fn netlink(proto: i32, groups: u32) -> io::Result<()> {
    // SAFETY: plain syscall; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed sockaddr_nl is valid; fields set below.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa.nl_groups = groups;
    // SAFETY: sa is a valid sockaddr_nl of the given size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    let res = if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    res
}

fn audit_probe() -> Probe {
    let k = SourceKind::Audit;
    if let Err(e) = netlink(libc::NETLINK_AUDIT, 0) {
        return match e.raw_os_error() {
            Some(libc::EPROTONOSUPPORT) => Probe::new(
                k,
                Status::No,
                "kernel has no audit netlink (CONFIG_AUDIT off)",
            )
            .fix("use a kernel built with CONFIG_AUDIT=y, or `letrace audit parse` on logs"),
            _ => Probe::new(k, Status::No, format!("audit netlink socket: {e}"))
                .fix("run as root in the initial user and network namespace"),
        };
    }
    match (has_cap(CAP_AUDIT_CONTROL), has_cap(CAP_AUDIT_READ)) {
        (Some(true), _) => Probe::new(
            k,
            Status::Ok,
            "audit netlink available, CAP_AUDIT_CONTROL held (the live `-s audit` source is not built yet; `letrace audit parse` reads logs)",
        ),
        _ => Probe::new(
            k,
            Status::No,
            "missing CAP_AUDIT_CONTROL (needed to add rules and receive events)",
        )
        .fix("run letrace as root"),
    }
}

/// The doctor row for bpf: the environment check, then every family loaded and attached once,
/// so the row says which families would run and why the others would not.
fn bpf_doctor() -> Probe {
    let env = bpf_probe();
    if env.status == Status::No {
        return env;
    }
    let fams = crate::source::bpf::probe();
    let refused: Vec<String> = fams
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|why| format!("{name}: {why}")))
        .collect();
    let n = fams.len();
    if refused.is_empty() {
        Probe::new(
            SourceKind::Bpf,
            Status::Ok,
            format!("{}; all {n} families load and attach", env.detail),
        )
    } else if refused.len() == n {
        Probe::new(
            SourceKind::Bpf,
            Status::No,
            format!("no family loads: {}", refused[0]),
        )
        .fix("run as root on a kernel with BTF and syscall tracepoints")
    } else {
        Probe::new(
            SourceKind::Bpf,
            Status::Degraded,
            format!(
                "{} of {n} families load; refused: {}",
                n - refused.len(),
                refused.join("; ")
            ),
        )
    }
}

fn bpf_probe() -> Probe {
    let k = SourceKind::Bpf;
    if std::fs::metadata("/sys/kernel/btf/vmlinux").is_err() {
        return Probe::new(
            k,
            Status::No,
            "no kernel BTF (/sys/kernel/btf/vmlinux missing)",
        )
        .fix("use a kernel built with CONFIG_DEBUG_INFO_BTF=y");
    }
    // BPF_MAP_CREATE of a small ring buffer: the syscall, the privilege and the map type the
    // bpf source needs, in one call. union bpf_attr starts map_type, key_size, value_size,
    // max_entries.
    let mut attr = [0u32; 32];
    attr[0] = 27; // BPF_MAP_TYPE_RINGBUF
    attr[3] = 4096;
    // SAFETY: attr is a zero-padded union bpf_attr of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0, // BPF_MAP_CREATE
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EPERM) => Probe::new(k, Status::No, "bpf(): permission denied")
                .fix("run as root (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN)"),
            Some(libc::ENOSYS) => Probe::new(k, Status::No, "kernel without the bpf() syscall")
                .fix("use a kernel built with CONFIG_BPF_SYSCALL=y"),
            _ => Probe::new(k, Status::No, format!("bpf ring buffer map: {e}"))
                .fix("needs a kernel >= 5.8 with BPF ring buffers"),
        };
    }
    // SAFETY: the map fd is ours.
    unsafe { libc::close(fd as i32) };
    Probe::new(
        k,
        Status::Ok,
        "bpf() works, BTF present, ring buffer maps can be created",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_one_row_per_source_and_fix_lines() {
        let rows = vec![
            Probe::new(SourceKind::Inotify, Status::Ok, "fine"),
            Probe::new(SourceKind::Input, Status::No, "no devices").fix("attach one"),
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("SOURCE"));
        assert!(lines[1].starts_with("inotify   yes"));
        assert!(lines[2].starts_with("input     NO       no devices"));
        assert!(lines[3].ends_with("-> attach one"));
        assert_eq!(rows[1].reason(), "no devices; attach one");
    }

    #[test]
    fn every_source_kind_with_a_kernel_interface_has_a_probe() {
        for k in [
            SourceKind::Inotify,
            SourceKind::Fanotify,
            SourceKind::Epoll,
            SourceKind::Input,
            SourceKind::Audit,
            SourceKind::Route,
            SourceKind::Bpf,
        ] {
            assert!(PROBES.iter().any(|(p, _)| *p == k), "{k}");
        }
    }
}
