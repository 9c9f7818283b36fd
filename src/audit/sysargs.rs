//! SYSCALL `a0`-`a3` and the syscall-name suffixes of `socketcall`/`ipc`: decoded per syscall,
//! with auparse's dispatch (docs/audit.md lists what is decoded).

use std::borrow::Cow;

use super::interp::{conversion_error, lossy, mode, mode_short, signal, strtoul, text, Ctx, Kind};
use super::tables::{self, Machine};

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

/// What a0..a3 of a syscall are decoded as (see `decoder`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dec {
    /// `0x` and the raw value.
    Hex,
    /// A directory fd: `AT_FDCWD` or hex.
    Dirfd,
    Signal,
    Ptrace,
    Ids,
    ModeShort,
    Mode,
    OpenFlags,
    SockoptLevel,
    /// setsockopt/getsockopt a2: an IP option name when a1 is 0 (SOL_IP), else hex.
    IpOpt,
    /// The mode of a creating open: when a1 has O_CREAT, else hex.
    CreatMode,
    MountFlags,
}

/// How argument `kind` (a0..a3) of syscall `sys` is decoded. The dispatch mirrors auparse's
/// (it branches on the first letter of the syscall name first, which decides some cases);
/// the decoders letrace does not have (clone flags, mmap/prot, socket types, ...) leave the
/// value as 0x-hex (docs/audit.md).
fn decoder(sys: &str, kind: Kind) -> Dec {
    use Dec::*;
    let first = sys.as_bytes()[0];
    let is = |n: &str| sys == n;
    match kind {
        Kind::A0 => match first {
            b'r' if is("rt_sigaction") => Signal,
            b'r' if sys.starts_with("renameat") || is("readlinkat") => Dirfd,
            b'p' if is("ptrace") => Ptrace,
            b'm' if is("mkdirat") || is("mknodat") => Dirfd,
            b'f' if is("fchownat")
                || is("futimesat")
                || is("fchmodat")
                || sys.starts_with("faccessat")
                || is("futimensat") =>
            {
                Dirfd
            }
            b'u' if is("unlinkat") || is("utimensat") => Dirfd,
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
                Ids
            }
            b'r' | b'c' | b'p' | b'm' | b'f' | b'u' | b's' => Hex,
            _ if is("linkat")
                || is("newfstatat")
                || sys.starts_with("openat")
                || is("name_to_handle_at") =>
            {
                Dirfd
            }
            _ => Hex,
        },
        Kind::A1 => match first {
            b'f' if is("fchmod") => ModeShort,
            b'c' if is("chmod") || is("creat") => ModeShort,
            b'c' if sys.contains("chown") => Ids,
            _ if &sys[1..] == "etsockopt" => SockoptLevel,
            b's' if matches!(sys, "setreuid" | "setresuid" | "setregid" | "setresgid") => Ids,
            b'm' if is("mkdir") => ModeShort,
            b'm' if is("mknod") => Mode,
            b'm' if is("mq_open") => OpenFlags,
            b's' | b'm' => Hex,
            _ if is("open") => OpenFlags,
            _ if is("kill") || is("tkill") => Signal,
            _ => Hex,
        },
        Kind::A2 => {
            if sys.starts_with("fcntl") {
                Hex
            } else if &sys[1..] == "etsockopt" {
                IpOpt
            } else {
                match first {
                    b'o' if is("openat") || is("open_by_handle_at") => OpenFlags,
                    b'o' if is("open") => CreatMode,
                    b'f' if is("fchmodat") => ModeShort,
                    b's' if is("setresuid") || is("setresgid") => Ids,
                    b'm' if is("mkdirat") || is("mknodat") => ModeShort,
                    b'm' if is("mq_open") => CreatMode,
                    b'r' if is("readlinkat") || sys.starts_with("renameat") => Dirfd,
                    b'l' if is("linkat") => Dirfd,
                    b'o' | b'f' | b's' | b'm' | b'r' | b'l' | b'c' => Hex,
                    _ if sys.contains("chown") => Ids,
                    _ if is("tgkill") => Signal,
                    _ => Hex,
                }
            }
        }
        _ if is("mount") => MountFlags,
        _ => Hex,
    }
}

/// Per machine and syscall number, the decoders of a0..a3: the dispatch on the name is done
/// once per syscall, not per argument of every record.
type Table = std::sync::OnceLock<Vec<[Dec; 4]>>;
#[allow(clippy::declare_interior_mutable_const)]
const NO_TABLE: Table = Table::new();
static TABLES: [Table; Machine::ALL.len()] = [NO_TABLE; Machine::ALL.len()];

/// `syscall_arg` the first time a syscall of machine `m` is seen: makes its table.
#[cold]
#[inline(never)]
fn first_of(m: Machine, ctx: &Ctx, kind: Kind, raw: &[u8]) -> Arg {
    TABLES[m as usize].get_or_init(|| {
        tables::syscall_names(m)
            .iter()
            .map(|name| match name {
                Some(sys) => [Kind::A0, Kind::A1, Kind::A2, Kind::A3].map(|k| decoder(sys, k)),
                None => [Dec::Hex; 4],
            })
            .collect()
    });
    syscall_arg(ctx, kind, raw)
}

/// a0..a3 of a SYSCALL record, decoded as `decoder` says. Most are left as hex: that answer
/// is a table look-up, and the rest jumps elsewhere (no registers to save on the way).
#[inline(never)]
pub(super) fn syscall_arg(ctx: &Ctx, kind: Kind, raw: &[u8]) -> Arg {
    if ctx.arch_unknown {
        return Arg::Hex;
    }
    let Some(n) = ctx.syscall else {
        return Arg::Hex;
    };
    let m = ctx.machine.unwrap_or(Machine::X86_64);
    let Some(t) = TABLES[m as usize].get() else {
        return first_of(m, ctx, kind, raw);
    };
    let i = match kind {
        Kind::A0 => 0,
        Kind::A1 => 1,
        Kind::A2 => 2,
        _ => 3,
    };
    match t.get(n as usize).map_or(Dec::Hex, |d| d[i]) {
        Dec::Hex => Arg::Hex,
        dec => decode(ctx, dec, raw),
    }
}

#[inline(never)]
fn decode(ctx: &Ctx, dec: Dec, raw: &[u8]) -> Arg {
    let t = Arg::Text;
    match dec {
        Dec::Hex => Arg::Hex,
        Dec::Dirfd => match strtoul(raw, 16) {
            Some(v) if v as u32 == 0xffff_ff9c => t(text("AT_FDCWD")),
            Some(_) => Arg::Hex,
            None => t(conversion_error(raw)),
        },
        Dec::Signal => t(signal(raw, 16)),
        Dec::Ptrace => match strtoul(raw, 16) {
            Some(v) => match tables::ptrace_request(v) {
                Some(s) => t(text(s)),
                None => t(text(format!("unknown-ptrace(0x{})", lossy(raw)))),
            },
            None => t(conversion_error(raw)),
        },
        Dec::Ids => t(id_hex(raw)),
        Dec::ModeShort => t(mode_short(raw, 16)),
        Dec::Mode => t(mode(raw, 16)),
        Dec::OpenFlags => t(open_flags(raw)),
        Dec::SockoptLevel => match strtoul(raw, 16) {
            Some(v) => match tables::sockopt_level(v) {
                Some(s) => t(text(s)),
                None => t(text(format!("unknown-sockopt-level(0x{})", lossy(raw)))),
            },
            None => t(conversion_error(raw)),
        },
        Dec::IpOpt if ctx.a1 == Some(0) => match strtoul(raw, 16).and_then(tables::ip_opt_name) {
            Some(s) => t(text(s)),
            None => t(text(format!("unknown-ipopt-name(0x{})", lossy(raw)))),
        },
        Dec::CreatMode if ctx.a1.is_some_and(|a| a & 0o100 != 0) => t(mode_short(raw, 16)),
        Dec::IpOpt | Dec::CreatMode => Arg::Hex,
        Dec::MountFlags => match strtoul(raw, 16) {
            Some(v) => match flags(v, &tables::MOUNT_FLAGS, "|") {
                Some(s) => t(text(s)),
                None => Arg::Hex,
            },
            None => t(conversion_error(raw)),
        },
    }
}

/// A uid/gid syscall argument (hex): "unset" for -1; ids are otherwise compared raw.
fn id_hex(raw: &[u8]) -> Option<Cow<'static, [u8]>> {
    match strtoul(raw, 16) {
        Some(v) if v as u32 == u32::MAX => text("unset"),
        Some(v) => text(format!("{}", v as u32)),
        None => conversion_error(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The dispatch as it was written before `decoder` (one match per argument of every
    // record): the oracle of the table of decoders.
    /// a0..a3 of a SYSCALL record. The dispatch mirrors auparse's (it branches on the first
    /// letter of the syscall name first, which decides some cases); the decoders letrace does not
    /// have (clone flags, mmap/prot, socket types, ...) leave the value as 0x-hex (docs/audit.md).
    fn syscall_arg_ref(ctx: &Ctx, kind: Kind, raw: &[u8]) -> Arg {
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
                        b's' if matches!(
                            sys,
                            "setreuid" | "setresuid" | "setregid" | "setresgid"
                        ) =>
                        {
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

    /// For every machine, every syscall number (and some beyond the tables), every argument
    /// and values that take each decoder's branches, with the context values a2 depends on:
    /// the table of decoders answers as the dispatch on the name does.
    #[test]
    fn decoder_table_answers_as_the_dispatch_on_the_name() {
        let raws: [&[u8]; 9] = [
            b"ffffff9c",
            b"0",
            b"41",
            b"1",
            b"zz",
            b"ffffffff",
            b"c",
            b"80000",
            b"1ed",
        ];
        let mut decoded = 0;
        for m in Machine::ALL {
            let n = tables::syscall_names(m).len() as u32 + 3;
            for sys in (0..n).map(Some).chain([None]) {
                for (a1, unknown) in [
                    (None, false),
                    (Some(0), false),
                    (Some(0o101), false),
                    (Some(1), true),
                ] {
                    let ctx = Ctx {
                        machine: Some(m),
                        arch_unknown: unknown,
                        syscall: sys,
                        a1,
                        ..Ctx::default()
                    };
                    for kind in [Kind::A0, Kind::A1, Kind::A2, Kind::A3] {
                        for raw in raws {
                            let want = format!("{:?}", syscall_arg_ref(&ctx, kind, raw));
                            let got = format!("{:?}", syscall_arg(&ctx, kind, raw));
                            assert_eq!(got, want, "{m:?} {sys:?} {kind:?} {:?}", lossy(raw));
                            decoded += usize::from(want != "Hex");
                        }
                    }
                }
            }
        }
        // Many arguments were decoded, not only left as hex.
        assert!(decoded > 5000, "{decoded}");
    }
}
