//! The one kernel-side loss the ring's counters cannot see: a tracing program is not run at
//! all when it is already running on that CPU (the kernel's recursion guard, per program),
//! and the kernel only counts it (`bpf_prog_info.recursion_misses`). Each entry program's
//! count is watched; a rise becomes a LOST event, marked inexact: the dispatchers run for
//! every syscall of every process, so a skipped run may have been an untraced syscall.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use aya::Ebpf;

/// The programs the kernel runs directly (the syscall programs are tail-called from the
/// dispatchers, whose runs are the ones guarded).
const ENTRY_PROGRAMS: &[&str] = &[
    "lt_sys_exit",
    "lt_sys_enter",
    "on_fork",
    "on_exec",
    "on_exit_task",
];

/// `BPF_OBJ_GET_INFO_BY_FD`.
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
/// Offset of `recursion_misses` in `struct bpf_prog_info` (uapi/linux/bpf.h).
const RECURSION_MISSES_AT: usize = 208;

/// A program's skipped runs so far (None: the kernel does not say).
pub fn recursion_misses(fd: &impl AsFd) -> Option<u64> {
    let (info, len) = prog_info(fd)?;
    // An older kernel fills less: the field is then absent.
    (len >= RECURSION_MISSES_AT + 8).then_some(info[RECURSION_MISSES_AT / 8])
}

/// `struct bpf_prog_info` of a program (as u64 words) and how much of it the kernel filled.
fn prog_info(fd: &impl AsFd) -> Option<([u64; 30], usize)> {
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    let mut info = [0u64; 30];
    let mut attr = InfoAttr {
        bpf_fd: fd.as_fd().as_raw_fd() as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: attr points at a valid bpf_attr prefix for this command and info at a buffer
    // of info_len bytes; the kernel writes at most info_len bytes there.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            &mut attr as *mut InfoAttr,
            std::mem::size_of::<InfoAttr>(),
        )
    };
    (rc == 0).then_some((info, attr.info_len as usize))
}

/// The loaded entry programs and their counts last seen.
pub struct Misses {
    progs: Vec<(&'static str, OwnedFd, u64)>,
}

impl Misses {
    pub fn new(ebpf: &Ebpf) -> Self {
        let progs = ENTRY_PROGRAMS
            .iter()
            .filter_map(|name| {
                let fd = ebpf.program(name)?.fd().ok()?;
                let fd = fd.as_fd().try_clone_to_owned().ok()?;
                let seen = recursion_misses(&fd)?;
                Some((*name, fd, seen))
            })
            .collect();
        Misses { progs }
    }

    /// `(program, new misses)` for every program whose count rose since the last call.
    pub fn rises(&mut self) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        for (name, fd, seen) in &mut self.progs {
            if let Some(n) = recursion_misses(fd) {
                if n > *seen {
                    out.push((*name, n - *seen));
                    *seen = n;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the counts of letrace's own programs, loaded and attached (root only; under the
    /// kernel-test lock, as attaching changes what every syscall runs).
    #[test]
    fn reads_the_kernels_counts_of_loaded_programs() {
        if !crate::sys::is_root() {
            assert!(
                std::env::var("LETRACE_TEST_STRICT").is_err(),
                "needs root (LETRACE_TEST_STRICT=1)"
            );
            eprintln!("skipped: needs root");
            return;
        }
        let lock = std::fs::File::options()
            .create(true)
            .append(true)
            .open("/tmp/letrace-kernel-tests.lock")
            .unwrap();
        // SAFETY: flock on an fd we own.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        let t = super::super::Tuning {
            families: 1 << 12, // FILE_CLOSE
            ringbuf_size: 1 << 16,
            ..Default::default()
        };
        let l = super::super::load::load(&t, false).expect("load (root)");
        let m = Misses::new(&l.ebpf);
        let names: Vec<&str> = m.progs.iter().map(|p| p.0).collect();
        assert!(names.contains(&"lt_sys_exit"), "{names:?}");
        // The layout read is the kernel's: the id at offset 4 is the one aya reads.
        let p = l.ebpf.program("lt_sys_exit").unwrap();
        let (info, len) = prog_info(p.fd().unwrap()).unwrap();
        assert!(len > RECURSION_MISSES_AT, "kernel filled {len} bytes");
        assert_eq!(info[0] >> 32, u64::from(p.info().unwrap().id()));
        assert!(recursion_misses(p.fd().unwrap()).is_some());
    }
}
