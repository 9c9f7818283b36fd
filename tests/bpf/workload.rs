//! The workload for tests/bpf.rs: one process that makes the syscalls of all 38 families,
//! each directly (libc::syscall), so the test knows exactly which syscall the kernel saw.
//! Run only as a child of the test (LETRACE_BPF_WORKLOAD=dir); it writes what the test must
//! know (pids, ports, fds) to dir/info as `key=value` lines.
#![allow(dead_code)]

use std::ffi::CString;
use std::fmt::Write as _;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

unsafe fn sys(nr: libc::c_long, a: &[libc::c_long]) -> libc::c_long {
    let g = |i: usize| a.get(i).copied().unwrap_or(0);
    libc::syscall(nr, g(0), g(1), g(2), g(3), g(4), g(5))
}

fn sin(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    }
}

fn port_of(fd: i32) -> u16 {
    let mut a = sin(0);
    let mut l = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a and l are valid for getsockname to fill.
    unsafe { libc::getsockname(fd, (&mut a as *mut libc::sockaddr_in).cast(), &mut l) };
    u16::from_be(a.sin_port)
}

/// Runs every family's syscalls in `dir`. Returns the info lines.
pub fn run(dir: &str) -> String {
    let mut info = String::new();
    let p = |n: &str| c(&format!("{dir}/{n}"));
    let (a, b, cc, hl, sl, sub, sock) = (
        p("a"),
        p("b"),
        p("c"),
        p("hl"),
        p("sl"),
        p("sub"),
        p("sock"),
    );
    let lp = |s: &CString| s.as_ptr() as libc::c_long;
    let slen = std::mem::size_of::<libc::sockaddr_in>() as libc::c_long;
    // SAFETY: every call gets valid pointers to live buffers/strings of the right sizes.
    unsafe {
        writeln!(info, "tid={}", libc::gettid()).unwrap();
        // file
        let fd = sys(libc::SYS_creat, &[lp(&a), 0o644]);
        writeln!(info, "creat_fd={fd}").unwrap();
        let w = sys(libc::SYS_write, &[fd, b"hello".as_ptr() as _, 5]);
        writeln!(info, "write_ret={w}").unwrap();
        sys(libc::SYS_close, &[fd]);
        let fd2 = sys(
            libc::SYS_openat,
            &[
                libc::AT_FDCWD as _,
                lp(&b),
                (libc::O_CREAT | libc::O_WRONLY) as _,
                0o600,
            ],
        );
        sys(libc::SYS_close, &[fd2]);
        let fd = sys(libc::SYS_open, &[lp(&a), libc::O_RDONLY as _]);
        writeln!(info, "open_fd={fd}").unwrap();
        let mut buf = [0u8; 16];
        let r = sys(libc::SYS_read, &[fd, buf.as_mut_ptr() as _, 5]);
        writeln!(info, "read_ret={r}").unwrap();
        let how = [libc::O_RDONLY as u64, 0u64, 0u64];
        let fd3 = sys(
            libc::SYS_openat2,
            &[libc::AT_FDCWD as _, lp(&a), how.as_ptr() as _, 24],
        );
        sys(libc::SYS_close, &[fd3]);
        let d = sys(libc::SYS_dup, &[fd]);
        writeln!(info, "dup_ret={d}").unwrap();
        sys(libc::SYS_close, &[d]);
        sys(libc::SYS_close, &[fd]);
        sys(libc::SYS_chmod, &[lp(&a), 0o600]);
        let mut st = [0u8; 256];
        sys(libc::SYS_stat, &[lp(&a), st.as_mut_ptr() as _]);
        sys(libc::SYS_truncate, &[lp(&a), 2]);
        sys(libc::SYS_mkdir, &[lp(&sub), 0o700]);
        sys(libc::SYS_rmdir, &[lp(&sub)]);
        sys(libc::SYS_link, &[lp(&a), lp(&hl)]);
        let target = c("a");
        sys(libc::SYS_symlink, &[lp(&target), lp(&sl)]);
        sys(libc::SYS_rename, &[lp(&b), lp(&cc)]);
        sys(libc::SYS_unlink, &[lp(&cc)]);
        let dirc = c(dir);
        sys(libc::SYS_chdir, &[lp(&dirc)]);
        let rel = c("relsub");
        sys(libc::SYS_mkdir, &[lp(&rel), 0o700]);
        // process
        let mut fds = [-1i32; 2];
        sys(
            libc::SYS_pipe2,
            &[fds.as_mut_ptr() as _, libc::O_CLOEXEC as _],
        );
        writeln!(info, "pipe={} {}", fds[0], fds[1]).unwrap();
        sys(libc::SYS_kill, &[libc::getpid() as _, 0]);
        let pt = sys(
            libc::SYS_ptrace,
            &[libc::PTRACE_PEEKDATA as _, 999_999_999, 0, 0],
        );
        writeln!(info, "ptrace_ret={pt}").unwrap();
        let m = sys(
            libc::SYS_mmap,
            &[
                0,
                4096,
                (libc::PROT_READ | libc::PROT_WRITE) as _,
                (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as _,
                -1,
                0,
            ],
        );
        sys(libc::SYS_mprotect, &[m, 4096, libc::PROT_READ as _]);
        let prog = c("/bin/false");
        let arg1 = c("x-letrace-arg");
        let argv = [prog.as_ptr(), arg1.as_ptr(), std::ptr::null()];
        let envp: [*const libc::c_char; 1] = [std::ptr::null()];
        // Raw fork (SYS_fork): the child only calls execve, so no lock of this process matters.
        let child = sys(libc::SYS_fork, &[]);
        if child == 0 {
            libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
        let mut status = 0;
        libc::waitpid(child as i32, &mut status, 0);
        writeln!(info, "child={child}").unwrap();
        // network
        let u1 = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        let any = sin(0);
        sys(
            libc::SYS_bind,
            &[u1 as _, (&any as *const libc::sockaddr_in) as _, slen],
        );
        let port = port_of(u1);
        writeln!(info, "udp_port={port}").unwrap();
        let u2 = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        let to = sin(port);
        sys(
            libc::SYS_connect,
            &[u2 as _, (&to as *const libc::sockaddr_in) as _, slen],
        );
        writeln!(info, "u2_port={}", port_of(u2)).unwrap();
        sys(
            libc::SYS_sendto,
            &[
                u2 as _,
                b"abc".as_ptr() as _,
                3,
                0,
                (&to as *const libc::sockaddr_in) as _,
                slen,
            ],
        );
        let mut from = sin(0);
        let mut flen = slen as libc::socklen_t;
        let r = sys(
            libc::SYS_recvfrom,
            &[
                u1 as _,
                buf.as_mut_ptr() as _,
                16,
                0,
                (&mut from as *mut libc::sockaddr_in) as _,
                (&mut flen as *mut libc::socklen_t) as _,
            ],
        );
        writeln!(info, "recv_ret={r}").unwrap();
        let mut peer = sin(0);
        let mut plen = slen as libc::socklen_t;
        sys(
            libc::SYS_getpeername,
            &[
                u2 as _,
                (&mut peer as *mut libc::sockaddr_in) as _,
                (&mut plen as *mut libc::socklen_t) as _,
            ],
        );
        let l = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        libc::bind(l, (&any as *const libc::sockaddr_in).cast(), slen as _);
        libc::listen(l, 1);
        let tport = port_of(l);
        let t = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let tto = sin(tport);
        libc::connect(t, (&tto as *const libc::sockaddr_in).cast(), slen as _);
        let mut acc = sin(0);
        let mut alen = slen as libc::socklen_t;
        let afd = sys(
            libc::SYS_accept4,
            &[
                l as _,
                (&mut acc as *mut libc::sockaddr_in) as _,
                (&mut alen as *mut libc::socklen_t) as _,
                libc::SOCK_CLOEXEC as _,
            ],
        );
        writeln!(info, "accept_ret={afd}").unwrap();
        writeln!(info, "tcp_client_port={}", port_of(t)).unwrap();
        let mut sv = [-1i32; 2];
        sys(
            libc::SYS_socketpair,
            &[
                libc::AF_UNIX as _,
                libc::SOCK_STREAM as _,
                0,
                sv.as_mut_ptr() as _,
            ],
        );
        writeln!(info, "socketpair={} {}", sv[0], sv[1]).unwrap();
        let us = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        let mut sun: libc::sockaddr_un = std::mem::zeroed();
        sun.sun_family = libc::AF_UNIX as u16;
        for (i, ch) in sock.as_bytes().iter().enumerate() {
            sun.sun_path[i] = *ch as libc::c_char;
        }
        sys(
            libc::SYS_bind,
            &[
                us as _,
                (&sun as *const libc::sockaddr_un) as _,
                std::mem::size_of::<libc::sockaddr_un>() as _,
            ],
        );
        // user: set the ids we already have (no change, but every syscall runs)
        let (uid, gid) = (
            libc::getuid() as libc::c_long,
            libc::getgid() as libc::c_long,
        );
        sys(libc::SYS_setgid, &[gid]);
        sys(libc::SYS_setregid, &[-1, -1]);
        sys(libc::SYS_setresgid, &[-1, -1, -1]);
        sys(libc::SYS_setuid, &[uid]);
        sys(libc::SYS_setreuid, &[-1, -1]);
        sys(libc::SYS_setresuid, &[-1, -1, -1]);
    }
    info
}
