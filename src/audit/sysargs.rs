//! SYSCALL `a0`-`a3` and the syscall-name suffixes of `socketcall`/`ipc`: decoded per syscall,
//! with auparse's dispatch (docs/audit.md lists what is decoded).

use std::borrow::Cow;

use super::interp::{conversion_error, lossy, mode, mode_short, signal, strtoul, text, Ctx, Kind};
use super::tables;

pub(super) fn socketcall_name(n: u64) -> Option<&'static str> {
    const S: [&str; 21] = [
        "",
        "socket",
        "bind",
        "connect",
        "listen",
        "accept",
        "getsockname",
        "getpeername",
        "socketpair",
        "send",
        "recv",
        "sendto",
        "recvfrom",
        "shutdown",
        "setsockopt",
        "getsockopt",
        "sendmsg",
        "recvmsg",
        "accept4",
        "recvmmsg",
        "sendmmsg",
    ];
    S.get(n as usize).copied().filter(|s| !s.is_empty())
}

pub(super) fn ipc_name(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "semop",
        2 => "semget",
        3 => "semctl",
        4 => "semtimedop",
        11 => "msgsnd",
        12 => "msgrcv",
        13 => "msgget",
        14 => "msgctl",
        21 => "shmat",
        22 => "shmdt",
        23 => "shmget",
        24 => "shmctl",
        _ => return None,
    })
}

fn flags(v: u64, table: &[(u64, &str)], sep: &str) -> Option<String> {
    let names: Vec<&str> = table
        .iter()
        .filter(|(b, _)| *b != 0 && v & b != 0)
        .map(|(_, n)| *n)
        .collect();
    (!names.is_empty()).then(|| names.join(sep))
}

fn open_flags(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    let Some(v) = strtoul(raw, 16) else {
        return conversion_error(raw);
    };
    let acc = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "",
    };
    let mut parts = Vec::new();
    if !acc.is_empty() {
        parts.push(acc.to_string());
    }
    if let Some(f) = flags(v, &tables::OPEN_FLAGS, "|") {
        parts.push(f);
    }
    text(parts.join("|"))
}

/// How a syscall argument is interpreted.
#[derive(Debug)]
pub(super) enum Arg {
    /// `0x` followed by the raw value (the default for arguments without a decoder).
    Hex,
    Text(Option<Cow<'static, [u8]>>),
}

/// a0..a3 of a SYSCALL record. The dispatch mirrors auparse's (it branches on the first
/// letter of the syscall name first, which decides some cases); the decoders letrace does not
/// have (clone flags, mmap/prot, socket types, ...) leave the value as 0x-hex (docs/audit.md).
pub(super) fn syscall_arg(ctx: &Ctx, kind: Kind, raw: &[u8]) -> Arg {
    // The common answer: `0x` + raw, written by the caller without formatting machinery.
    let hex = || Arg::Hex;
    let t = Arg::Text;
    let Some(sys) = ctx.syscall_name() else {
        return hex();
    };
    let dirfd = || match strtoul(raw, 16) {
        Some(v) if v as u32 == 0xffff_ff9c => t(text("AT_FDCWD")),
        Some(_) => hex(),
        None => t(conversion_error(raw)),
    };
    let ids = || t(id_hex(raw));
    let first = sys.as_bytes()[0];
    let is = |n: &str| sys == n;
    let r = match kind {
        Kind::A0 => match first {
            b'r' if is("rt_sigaction") => t(signal(raw, 16)),
            b'r' if sys.starts_with("renameat") || is("readlinkat") => dirfd(),
            b'p' if is("ptrace") => match strtoul(raw, 16) {
                Some(v) => match tables::ptrace_request(v) {
                    Some(s) => t(text(s)),
                    None => t(text(format!("unknown-ptrace(0x{})", lossy(raw)))),
                },
                None => t(conversion_error(raw)),
            },
            b'm' if is("mkdirat") || is("mknodat") => dirfd(),
            b'f' if is("fchownat")
                || is("futimesat")
                || is("fchmodat")
                || sys.starts_with("faccessat")
                || is("futimensat") =>
            {
                dirfd()
            }
            b'u' if is("unlinkat") || is("utimensat") => dirfd(),
            b's' if matches!(
                sys,
                "setuid"
                    | "setreuid"
                    | "setresuid"
                    | "setfsuid"
                    | "setgid"
                    | "setregid"
                    | "setresgid"
                    | "setfsgid"
            ) =>
            {
                ids()
            }
            b'r' | b'c' | b'p' | b'm' | b'f' | b'u' | b's' => hex(),
            _ if is("linkat")
                || is("newfstatat")
                || sys.starts_with("openat")
                || is("name_to_handle_at") =>
            {
                dirfd()
            }
            _ => hex(),
        },
        Kind::A1 => {
            let early = match first {
                b'f' if is("fchmod") => Some(t(mode_short(raw, 16))),
                b'c' if is("chmod") || is("creat") => Some(t(mode_short(raw, 16))),
                b'c' if sys.contains("chown") => Some(ids()),
                _ => None,
            };
            if let Some(r) = early {
                r
            } else if &sys[1..] == "etsockopt" {
                match strtoul(raw, 16) {
                    Some(v) => match tables::sockopt_level(v) {
                        Some(s) => t(text(s)),
                        None => t(text(format!("unknown-sockopt-level(0x{})", lossy(raw)))),
                    },
                    None => t(conversion_error(raw)),
                }
            } else {
                match first {
                    b's' if matches!(sys, "setreuid" | "setresuid" | "setregid" | "setresgid") => {
                        ids()
                    }
                    b'm' if is("mkdir") => t(mode_short(raw, 16)),
                    b'm' if is("mknod") => t(mode(raw, 16)),
                    b'm' if is("mq_open") => t(open_flags(raw)),
                    b's' | b'm' => hex(),
                    _ if is("open") => t(open_flags(raw)),
                    _ if is("kill") || is("tkill") => t(signal(raw, 16)),
                    _ => hex(),
                }
            }
        }
        Kind::A2 => {
            if sys.starts_with("fcntl") {
                hex()
            } else if &sys[1..] == "etsockopt" {
                if ctx.a1 == Some(0) {
                    match strtoul(raw, 16).and_then(tables::ip_opt_name) {
                        Some(s) => t(text(s)),
                        None => t(text(format!("unknown-ipopt-name(0x{})", lossy(raw)))),
                    }
                } else {
                    hex()
                }
            } else {
                let creat = ctx.a1.is_some_and(|a| a & 0o100 != 0);
                match first {
                    b'o' if is("openat") || is("open_by_handle_at") => t(open_flags(raw)),
                    b'o' if is("open") && creat => t(mode_short(raw, 16)),
                    b'f' if is("fchmodat") => t(mode_short(raw, 16)),
                    b's' if is("setresuid") || is("setresgid") => ids(),
                    b'm' if is("mkdirat") || is("mknodat") => t(mode_short(raw, 16)),
                    b'm' if is("mq_open") && creat => t(mode_short(raw, 16)),
                    b'r' if is("readlinkat") || sys.starts_with("renameat") => dirfd(),
                    b'l' if is("linkat") => dirfd(),
                    b'o' | b'f' | b's' | b'm' | b'r' | b'l' | b'c' => hex(),
                    _ if sys.contains("chown") => ids(),
                    _ if is("tgkill") => t(signal(raw, 16)),
                    _ => hex(),
                }
            }
        }
        _ if is("mount") => match strtoul(raw, 16) {
            Some(v) => match flags(v, &tables::MOUNT_FLAGS, "|") {
                Some(s) => t(text(s)),
                None => hex(),
            },
            None => t(conversion_error(raw)),
        },
        _ => hex(),
    };
    r
}

/// A uid/gid syscall argument (hex): "unset" for -1; ids are otherwise compared raw.
fn id_hex(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    match strtoul(raw, 16) {
        Some(v) if v as u32 == u32::MAX => text("unset"),
        Some(v) => text(format!("{}", v as u32)),
        None => conversion_error(raw),
    }
}
