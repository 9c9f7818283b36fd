//! Loading the committed object with aya: config globals, map sizes, and programs loaded and
//! attached one by one, so a program the kernel refuses disables only its family.

use std::collections::BTreeMap;
use std::path::Path;

use aya::maps::{MapData, ProgramArray};
use aya::programs::{BtfTracePoint, ProgramFd};
use aya::{Btf, Ebpf, EbpfLoader};

use super::families::{self, FAMILIES, FAMILY_COUNT};
use super::{Error, Tuning};

/// What happened to one family at load time.
pub type FamilyStatus = (&'static str, Result<(), String>);

pub struct Loaded {
    pub ebpf: Ebpf,
    /// Every requested family with its outcome, in family order.
    pub status: Vec<FamilyStatus>,
    /// Families that actually run (bit = family id).
    pub running: u64,
    /// Optional syscalls this kernel does not have (no tracepoint): noted, not failures.
    pub missing: Vec<&'static str>,
    /// Something that runs with less than it could (one line each).
    pub notes: Vec<String>,
}

/// aya finds syscall tracepoints through tracefs; mount it where the kernel expects it when a
/// minimal system has not.
fn ensure_tracefs() -> Result<(), Error> {
    for dir in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(dir).join("events/syscalls").is_dir() {
            return Ok(());
        }
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: valid NUL-terminated strings; mount(2) has no other memory preconditions.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 || !Path::new("/sys/kernel/tracing/events/syscalls").is_dir() {
        let e = std::io::Error::last_os_error();
        // Unprivileged: tracefs exists but is not ours to read, and mounting is refused.
        if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
            return Err(Error::NotPermitted);
        }
        return Err(Error::Tracefs(e));
    }
    Ok(())
}

fn err_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A refused program's reason in one line: the verifier's last complaint, not its whole log.
fn one_line(s: String) -> String {
    let Some((head, log)) = s.split_once("Verifier output:") else {
        return s;
    };
    let lines: Vec<&str> = log.lines().collect();
    // The complaint is the line before the statistics, or (when the verifier gave up, E2BIG)
    // the log's last line.
    let why = lines
        .iter()
        .position(|l| l.starts_with("verification time"))
        .and_then(|i| i.checked_sub(1))
        .or_else(|| lines.iter().rposition(|l| !l.trim().is_empty()))
        .map_or("", |i| lines[i]);
    format!("{} verifier: {why}", head.trim_end())
}

fn attach_btf(ebpf: &mut Ebpf, btf: &Btf, prog: &str, tp: &str) -> Result<(), String> {
    let p = loaded_btf(ebpf, btf, prog, tp, &format!("tp_btf/{tp}"))?;
    p.attach()
        .map_err(|e| format!("tp_btf/{tp}: attach: {}", err_chain(&e)))?;
    Ok(())
}

fn tracepoint_exists(name: &str) -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|d| Path::new(d).join("events/syscalls").join(name).is_dir())
}

/// The families a syscall's events belong to (open/openat/openat2 feed FILE_CREATE and
/// FILE_OPEN).
fn families_of(sc: &'static families::SyscallInfo) -> &'static [u16] {
    if matches!(sc.name, "open" | "openat" | "openat2") {
        &[0, 3]
    } else {
        std::slice::from_ref(&sc.family)
    }
}

/// Loads the exit program of every syscall of the requested families (tp_btf/sys_exit
/// programs, not attached themselves) and puts each into `lt_progs` at its syscall number
/// (set*id: also their sys_enter program into `lt_eprogs`), then attaches the dispatchers
/// on sys_enter (only for set*id) and sys_exit that tail-call into them. A refused program
/// fails its families; a refused dispatcher fails every family it serves.
fn attach_syscalls(
    ebpf: &mut Ebpf,
    t: &Tuning,
    btf: Result<&Btf, &String>,
    fail: &mut BTreeMap<u16, Vec<String>>,
    missing: &mut Vec<&'static str>,
    notes: &mut Vec<String>,
) {
    let mut wanted = Vec::new();
    let mut done = std::collections::HashSet::new();
    for fam in 0..FAMILY_COUNT as u16 {
        if t.families & (1 << fam) == 0
            || [families::FORK, families::EXEC, families::EXIT].contains(&fam)
        {
            continue;
        }
        for sc in families::syscalls_of(fam) {
            if !done.insert(sc.name) {
                continue;
            }
            if sc.optional && !tracepoint_exists(&format!("sys_enter_{}", sc.name)) {
                missing.push(sc.name);
                continue;
            }
            wanted.push(sc);
        }
    }
    if wanted.is_empty() {
        return;
    }
    let mut fail_all = |why: String, list: &[&'static families::SyscallInfo]| {
        for sc in list {
            for f in families_of(sc) {
                fail.entry(*f).or_default().push(why.clone());
            }
        }
    };
    let btf = match btf {
        Ok(b) => b,
        Err(why) => return fail_all(why.clone(), &wanted),
    };
    // The directory walk of relative paths: without it they stay as given.
    if let Err(e) = load_btf(ebpf, btf, "lt_reldir", "sys_exit")
        .and_then(|fd| set_prog(ebpf, "lt_tail", 0, &fd))
    {
        notes.push(format!("relative paths stay as given: {e}"));
    }
    let mut placed = Vec::new();
    for sc in wanted.iter().copied() {
        let r = families::syscall_nr(sc.name)
            .ok_or_else(|| format!("{}: no x86_64 syscall number", sc.name))
            .and_then(|nr| {
                let fd = load_btf(ebpf, btf, &format!("x_{}", sc.name), "sys_exit")?;
                Ok((nr, fd))
            })
            .and_then(|(nr, fd)| set_prog(ebpf, "lt_progs", nr, &fd).map(|()| nr))
            .and_then(|nr| {
                if families::needs_enter(sc.name) {
                    let fd = load_btf(ebpf, btf, &format!("e_{}", sc.name), "sys_enter")?;
                    set_prog(ebpf, "lt_eprogs", nr, &fd)?;
                }
                Ok(nr)
            });
        match r {
            Ok(_) => placed.push(sc),
            Err(e) => fail_all(e, std::slice::from_ref(&sc)),
        }
    }
    if placed.is_empty() {
        return;
    }
    let (creds, rest): (Vec<_>, Vec<_>) = placed
        .into_iter()
        .partition(|sc| families::needs_enter(sc.name));
    if !creds.is_empty() {
        if let Err(e) = attach_btf(ebpf, btf, "lt_sys_enter", "sys_enter") {
            fail_all(format!("syscall enter dispatcher: {e}"), &creds);
        }
    }
    if let Err(e) = attach_btf(ebpf, btf, "lt_sys_exit", "sys_exit") {
        fail_all(format!("syscall dispatcher: {e}"), &creds);
        fail_all(format!("syscall dispatcher: {e}"), &rest);
    }
}

/// The tp_btf program `prog`, loaded for `tp`; load errors start with `what`.
fn loaded_btf<'a>(
    ebpf: &'a mut Ebpf,
    btf: &Btf,
    prog: &str,
    tp: &str,
    what: &str,
) -> Result<&'a mut BtfTracePoint, String> {
    let p: &mut BtfTracePoint = ebpf
        .program_mut(prog)
        .ok_or_else(|| format!("program {prog} missing from the object"))?
        .try_into()
        .map_err(|e| err_chain(&e))?;
    p.load(tp, btf)
        .map_err(|e| one_line(format!("{what}: load: {}", err_chain(&e))))?;
    Ok(p)
}

/// Loads a tp_btf program for `tp` without attaching it (a tail-call target).
fn load_btf(ebpf: &mut Ebpf, btf: &Btf, prog: &str, tp: &str) -> Result<ProgramFd, String> {
    let p = loaded_btf(ebpf, btf, prog, tp, prog)?;
    p.fd()
        .and_then(|fd| fd.try_clone().map_err(Into::into))
        .map_err(|e| format!("{prog}: {}", err_chain(&e)))
}

fn set_prog(ebpf: &mut Ebpf, map: &str, nr: u32, fd: &ProgramFd) -> Result<(), String> {
    // Borrowed, never taken: the kernel empties a prog array when its last user fd closes.
    let mut progs: ProgramArray<&mut MapData> = ProgramArray::try_from(
        ebpf.map_mut(map)
            .ok_or_else(|| format!("map {map} missing from the object"))?,
    )
    .map_err(|e| err_chain(&e))?;
    progs
        .set(nr, fd, 0)
        .map_err(|e| format!("{map}[{nr}]: {}", err_chain(&e)))
}

/// Loads the object configured by `t` and attaches the programs of `t.families`. Fails only
/// when nothing at all can run (no BPF permission, no ring buffer); single refused programs
/// become a failed family in `status`.
pub fn load(t: &Tuning, proc_feed: bool) -> Result<Loaded, Error> {
    ensure_tracefs()?;
    let own = std::process::id();
    let wake = t.wakeup_bytes();
    let feed: u8 = proc_feed.into();
    let ign_pids: u8 = (!t.ignore_pids.is_empty()).into();
    let ign_comms: u8 = (!t.ignore_comms.is_empty()).into();
    let mut ebpf = EbpfLoader::new()
        .override_global("cfg_own_tgid", &own, true)
        .override_global("cfg_families", &t.families, true)
        .override_global("cfg_wakeup_bytes", &wake, true)
        .override_global("cfg_ignore_pids", &ign_pids, true)
        .override_global("cfg_ignore_comms", &ign_comms, true)
        .override_global("cfg_proc_feed", &feed, true)
        .map_max_entries("lt_rb", t.ringbuf_size)
        .load(super::OBJECT)
        .map_err(|e| Error::Load(err_chain(&e)))?;
    fill_ignores(&mut ebpf, t)?;

    let mut fail: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let mut missing = Vec::new();
    // Kernel BTF: the tp_btf programs (syscall exit, sched) are loaded against it.
    let btf = Btf::from_sys_fs()
        .map_err(|e| format!("kernel BTF (/sys/kernel/btf/vmlinux): {}", err_chain(&e)));
    let mut notes = Vec::new();
    attach_syscalls(
        &mut ebpf,
        t,
        btf.as_ref(),
        &mut fail,
        &mut missing,
        &mut notes,
    );
    // The sched programs run whenever a process family or the process table wants them.
    let want_sched = proc_feed
        || [families::FORK, families::EXEC, families::EXIT]
            .iter()
            .any(|f| t.families & (1 << f) != 0);
    if want_sched {
        match &btf {
            Ok(btf) => {
                for (fam, prog, tp) in [
                    (families::FORK, "on_fork", "sched_process_fork"),
                    (families::EXEC, "on_exec", "sched_process_exec"),
                    (families::EXIT, "on_exit_task", "sched_process_exit"),
                ] {
                    if let Err(e) = attach_btf(&mut ebpf, btf, prog, tp) {
                        fail.entry(fam).or_default().push(e);
                    }
                }
            }
            Err(why) => {
                for fam in [families::FORK, families::EXEC, families::EXIT] {
                    fail.entry(fam).or_default().push(why.clone());
                }
            }
        }
    }
    let mut status = Vec::new();
    let mut running = 0u64;
    for (i, f) in FAMILIES.iter().enumerate() {
        if t.families & (1 << i) == 0 {
            continue;
        }
        match fail.get(&(i as u16)) {
            Some(errs) => status.push((f.name, Err(errs.join("; ")))),
            None => {
                running |= 1 << i;
                status.push((f.name, Ok(())));
            }
        }
    }
    Ok(Loaded {
        ebpf,
        status,
        running,
        missing,
        notes,
    })
}

fn fill_ignores(ebpf: &mut Ebpf, t: &Tuning) -> Result<(), Error> {
    use aya::maps::HashMap;
    if !t.ignore_pids.is_empty() {
        let mut m: HashMap<_, u32, u8> = HashMap::try_from(
            ebpf.map_mut("lt_ignore_pid")
                .ok_or_else(|| Error::Load("map lt_ignore_pid missing".into()))?,
        )
        .map_err(|e| Error::Load(err_chain(&e)))?;
        for p in &t.ignore_pids {
            m.insert(p, 1, 0).map_err(|e| Error::Load(err_chain(&e)))?;
        }
    }
    if !t.ignore_comms.is_empty() {
        let mut m: HashMap<_, [u8; 16], u8> = HashMap::try_from(
            ebpf.map_mut("lt_ignore_comm")
                .ok_or_else(|| Error::Load("map lt_ignore_comm missing".into()))?,
        )
        .map_err(|e| Error::Load(err_chain(&e)))?;
        for c in &t.ignore_comms {
            let mut k = [0u8; 16];
            let n = c.len().min(15);
            k[..n].copy_from_slice(&c.as_bytes()[..n]);
            m.insert(k, 1, 0).map_err(|e| Error::Load(err_chain(&e)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn refusal_reason_is_the_verifiers_last_complaint() {
        let aya = "x_sendmsg: load: the BPF_PROG_LOAD syscall returned Permission denied (os error 13). Verifier output: 0: R1=ctx() R10=fp0\n153: (bf) r2 = r8\n154: (85) call bpf_probe_read_user#112\nR2 unbounded memory access, use 'var &= const' or 'if (var < const)'\nverification time 571 usec\nstack depth 32\n";
        assert_eq!(
            one_line(aya.into()),
            "x_sendmsg: load: the BPF_PROG_LOAD syscall returned Permission denied (os error 13). verifier: R2 unbounded memory access, use 'var &= const' or 'if (var < const)'"
        );
        assert_eq!(one_line("attach: EACCES".into()), "attach: EACCES");
    }
}
