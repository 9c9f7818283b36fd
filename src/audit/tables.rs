//! Lookup tables: record types, syscalls per architecture, errno names, and the small constant
//! tables auparse uses to interpret fields (signals, capabilities, socket families, flags).
//!
//! The three large tables are committed data files (`data/*.txt`, dumped from Debian's libaudit
//! 3.0.9 so names match auparse) parsed once at first use; the small ones are plain consts.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

const MSGTYPES: &str = include_str!("data/msgtypes.txt");
const SYSCALLS: &str = include_str!("data/syscalls.txt");
const ERRNOS: &str = include_str!("data/errno.txt");

struct MsgTypes {
    /// Indexed by type number (they are all below ~3000).
    by_num: Vec<Option<&'static str>>,
    by_name: HashMap<&'static str, u32, BuildHasherDefault<NameHasher>>,
}

/// The reader looks up the type of nearly every record whose type is not one of the few it
/// knows by heart: short constant names, no need for SipHash's DoS resistance.
#[derive(Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        let mut last = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            last |= (b as u64) << (8 * i);
        }
        self.0 =
            (h.rotate_left(5) ^ last ^ bytes.len() as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn msgtypes() -> &'static MsgTypes {
    static T: OnceLock<MsgTypes> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = MsgTypes {
            by_num: Vec::new(),
            by_name: HashMap::default(),
        };
        for (n, name) in data_lines(MSGTYPES) {
            if let (Ok(n), Some(name)) = (n.parse::<u32>(), name.first()) {
                let i = n as usize;
                if i < 1 << 16 {
                    if t.by_num.len() <= i {
                        t.by_num.resize(i + 1, None);
                    }
                    t.by_num[i].get_or_insert(name);
                }
                t.by_name.entry(name).or_insert(n);
            }
        }
        t
    })
}

/// `(first word, remaining words)` of each non-comment line.
fn data_lines(s: &'static str) -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    s.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut w = l.split_ascii_whitespace();
            let first = w.next()?;
            Some((first, w.collect()))
        })
}

/// The name of record type `n` (`SYSCALL` for 1300), when libaudit knows it.
pub fn type_name(n: u32) -> Option<&'static str> {
    msgtypes().by_num.get(n as usize).copied().flatten()
}

/// The number of a record type name (`SYSCALL` -> 1300).
pub fn type_number(name: &str) -> Option<u32> {
    msgtypes().by_name.get(name).copied()
}

/// Machines auparse knows, by the name it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Machine {
    X86_64,
    I386,
    Aarch64,
    Arm,
    Ppc64,
    Ppc64le,
    Ppc,
    S390x,
    S390,
}

impl Machine {
    /// Every variant, in declaration order (`m as usize` indexes it).
    pub const ALL: [Machine; 9] = [
        Machine::X86_64,
        Machine::I386,
        Machine::Aarch64,
        Machine::Arm,
        Machine::Ppc64,
        Machine::Ppc64le,
        Machine::Ppc,
        Machine::S390x,
        Machine::S390,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::I386 => "i386",
            Machine::Aarch64 => "aarch64",
            // libaudit prints the first name of its ARM entry.
            Machine::Arm => "armeb",
            Machine::Ppc64 => "ppc64",
            Machine::Ppc64le => "ppc64le",
            Machine::Ppc => "ppc",
            Machine::S390x => "s390x",
            Machine::S390 => "s390",
        }
    }

    fn table_key(self) -> &'static str {
        match self {
            Machine::Arm => "arm",
            m => m.name(),
        }
    }

    /// The machine for an AUDIT_ARCH value (`c000003e` -> x86_64).
    pub fn from_audit_arch(arch: u64) -> Option<Machine> {
        Some(match arch {
            0xc000003e => Machine::X86_64,
            0x40000003 => Machine::I386,
            0xc00000b7 => Machine::Aarch64,
            0x40000028 => Machine::Arm,
            0x80000015 => Machine::Ppc64,
            0xc0000015 => Machine::Ppc64le,
            0x14 => Machine::Ppc,
            0x80000016 => Machine::S390x,
            0x16 => Machine::S390,
            _ => return None,
        })
    }
}

/// Syscall names per machine, indexed by number (the tables are dense: 0..~450).
fn syscalls() -> &'static HashMap<&'static str, Vec<Option<&'static str>>> {
    static T: OnceLock<HashMap<&'static str, Vec<Option<&'static str>>>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m: HashMap<&'static str, Vec<Option<&'static str>>> = HashMap::new();
        for (arch, rest) in data_lines(SYSCALLS) {
            if let [n, name] = rest[..] {
                if let Ok(n) = n.parse::<usize>() {
                    let v = m.entry(arch).or_default();
                    if v.len() <= n {
                        v.resize(n + 1, None);
                    }
                    v[n].get_or_insert(name);
                }
            }
        }
        m
    })
}

/// One machine's syscall table (looked up once per record, indexed per field).
fn machine_syscalls(machine: Machine) -> &'static [Option<&'static str>] {
    static T: OnceLock<Vec<&'static [Option<&'static str>]>> = OnceLock::new();
    let t = T.get_or_init(|| {
        Machine::ALL
            .iter()
            .map(|m| {
                syscalls()
                    .get(m.table_key())
                    .map_or(&[][..], |v| v.as_slice())
            })
            .collect()
    });
    t[machine as usize]
}

/// The syscall names of `machine`, by number.
pub(super) fn syscall_names(machine: Machine) -> &'static [Option<&'static str>] {
    machine_syscalls(machine)
}

/// The name of syscall `n` on `machine`.
pub fn syscall_name(machine: Machine, n: u32) -> Option<&'static str> {
    machine_syscalls(machine).get(n as usize).copied().flatten()
}

fn errnos() -> &'static HashMap<u32, &'static str> {
    static T: OnceLock<HashMap<u32, &'static str>> = OnceLock::new();
    T.get_or_init(|| {
        data_lines(ERRNOS)
            .filter_map(|(n, rest)| Some((n.parse().ok()?, *rest.first()?)))
            .collect()
    })
}

/// `EACCES` for 13.
pub fn errno_name(n: u32) -> Option<&'static str> {
    errnos().get(&n).copied()
}

/// Signal names as auparse prints them (including its `IGPWR` spelling of 30).
pub const SIGNALS: [&str; 32] = [
    "SIG0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "IGPWR",
    "SIGSYS",
];

/// Capability names, by bit number.
pub const CAPS: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Address family names (`saddr_fam=`), by AF_* number.
pub fn family_name(af: u16) -> Option<&'static str> {
    const F: [&str; 45] = [
        "",
        "local",
        "inet",
        "ax25",
        "ipx",
        "appletalk",
        "netrom",
        "bridge",
        "atmpvc",
        "x25",
        "inet6",
        "rose",
        "decnet",
        "netbeui",
        "security",
        "key",
        "netlink",
        "packet",
        "ash",
        "econet",
        "atmsvc",
        "rds",
        "sna",
        "irda",
        "pppox",
        "wanpipe",
        "llc",
        "",
        "",
        "can",
        "tipc",
        "bluetooth",
        "iucv",
        "rxrpc",
        "isdn",
        "phonet",
        "ieee802154",
        "caif",
        "alg",
        "nfc",
        "vsock",
        "kcm",
        "qipcrtr",
        "smc",
        "xdp",
    ];
    F.get(af as usize).copied().filter(|s| !s.is_empty())
}

pub fn nfproto_name(n: u64) -> Option<&'static str> {
    Some(match n {
        0 => "unspecified",
        1 => "inet",
        2 => "ipv4",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ipv6",
        12 => "decnet",
        _ => return None,
    })
}

pub fn seccomp_action(code: u64) -> Option<&'static str> {
    Some(match code {
        0x8000_0000 => "kill-process",
        0 => "kill",
        0x0003_0000 => "trap",
        0x0005_0000 => "errno",
        0x7fc0_0000 => "user-notify",
        0x7ff0_0000 => "trace",
        0x7ffc_0000 => "log",
        0x7fff_0000 => "allow",
        _ => return None,
    })
}

/// Audit rule lists (`list=` in CONFIG_CHANGE).
pub fn list_name(n: u64) -> Option<&'static str> {
    Some(match n {
        0 => "user",
        1 => "task",
        4 => "exit",
        5 => "exclude",
        6 => "filesystem",
        _ => return None,
    })
}

pub fn ptrace_request(n: u64) -> Option<&'static str> {
    Some(match n {
        0 => "PTRACE_TRACEME",
        1 => "PTRACE_PEEKTEXT",
        2 => "PTRACE_PEEKDATA",
        3 => "PTRACE_PEEKUSER",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSER",
        7 => "PTRACE_CONT",
        8 => "PTRACE_KILL",
        9 => "PTRACE_SINGLESTEP",
        12 => "PTRACE_GETREGS",
        13 => "PTRACE_SETREGS",
        14 => "PTRACE_GETFPREGS",
        15 => "PTRACE_SETFPREGS",
        16 => "PTRACE_ATTACH",
        17 => "PTRACE_DETACH",
        18 => "PTRACE_GETFPXREGS",
        19 => "PTRACE_SETFPXREGS",
        24 => "PTRACE_SYSCALL",
        25 => "PTRACE_GET_THREAD_AREA",
        26 => "PTRACE_SET_THREAD_AREA",
        30 => "PTRACE_ARCH_PRCTL",
        31 => "PTRACE_SYSEMU",
        32 => "PTRACE_SYSEMU_SINGLESTEP",
        33 => "PTRACE_SINGLEBLOCK",
        0x4200 => "PTRACE_SETOPTIONS",
        0x4201 => "PTRACE_GETEVENTMSG",
        0x4202 => "PTRACE_GETSIGINFO",
        0x4203 => "PTRACE_SETSIGINFO",
        0x4204 => "PTRACE_GETREGSET",
        0x4205 => "PTRACE_SETREGSET",
        0x4206 => "PTRACE_SEIZE",
        0x4207 => "PTRACE_INTERRUPT",
        0x4208 => "PTRACE_LISTEN",
        0x4209 => "PTRACE_PEEKSIGINFO",
        0x420a => "PTRACE_GETSIGMASK",
        0x420b => "PTRACE_SETSIGMASK",
        0x420c => "PTRACE_SECCOMP_GET_FILTER",
        0x420d => "PTRACE_SECCOMP_GET_METADATA",
        0x420e => "PTRACE_GET_SYSCALL_INFO",
        _ => return None,
    })
}

/// `open(2)` flag bits after the access mode, in the order auparse prints them.
pub const OPEN_FLAGS: [(u64, &str); 16] = [
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4000000, "__O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20000000, "__O_TMPFILE"),
];

/// `mount(2)` flags, in the order auparse prints them.
pub const MOUNT_FLAGS: [(u64, &str); 30] = [
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
    (1 << 26, "MS_SUBMOUNT"),
    (1 << 27, "MS_SNAP_STABLE"),
    (1 << 28, "MS_NOSEC"),
    (1 << 29, "MS_BORN"),
    (1 << 30, "MS_ACTIVE"),
    (1 << 31, "MS_NOUSER"),
];

/// Socket option levels other than SOL_SOCKET: the protocol name getprotobynumber(3) gives
/// for the common ones (as auparse prints them), else the SOL_* name.
pub fn sockopt_level(n: u64) -> Option<&'static str> {
    Some(match n {
        0 => "ip",
        1 => "SOL_SOCKET",
        6 => "tcp",
        17 => "udp",
        41 => "ipv6",
        58 => "ipv6-icmp",
        132 => "sctp",
        136 => "udplite",
        255 => "SOL_RAW",
        263 => "SOL_PACKET",
        270 => "SOL_NETLINK",
        282 => "SOL_TLS",
        283 => "SOL_XDP",
        _ => return None,
    })
}

/// IPPROTO_IP option names (level 0).
pub fn ip_opt_name(n: u64) -> Option<&'static str> {
    Some(match n {
        1 => "IP_TOS",
        2 => "IP_TTL",
        3 => "IP_HDRINCL",
        4 => "IP_OPTIONS",
        8 => "IP_PKTINFO",
        10 => "IP_MTU_DISCOVER",
        11 => "IP_RECVERR",
        14 => "IP_MTU",
        15 => "IP_FREEBIND",
        19 => "IP_TRANSPARENT",
        32 => "IP_MULTICAST_IF",
        33 => "IP_MULTICAST_TTL",
        34 => "IP_MULTICAST_LOOP",
        35 => "IP_ADD_MEMBERSHIP",
        36 => "IP_DROP_MEMBERSHIP",
        64 => "IPT_SO_SET_REPLACE",
        65 => "IPT_SO_SET_ADD_COUNTERS",
        66 => "IPT_SO_GET_REVISION_TARGET",
        _ => return None,
    })
}

/// Escape sequences named in TTY data (the common subset of auparse's table).
pub const TTY_SEQUENCES: [(&[u8], &str); 18] = [
    (b"\x1b[A", "up"),
    (b"\x1b[B", "down"),
    (b"\x1b[C", "right"),
    (b"\x1b[D", "left"),
    (b"\x1bOA", "up"),
    (b"\x1bOB", "down"),
    (b"\x1bOC", "right"),
    (b"\x1bOD", "left"),
    (b"\x1bOH", "home"),
    (b"\x1bOF", "end"),
    (b"\x1b[H", "home"),
    (b"\x1b[F", "end"),
    (b"\x1b[1~", "home"),
    (b"\x1b[2~", "insert"),
    (b"\x1b[3~", "delete"),
    (b"\x1b[4~", "end"),
    (b"\x1b[5~", "page-up"),
    (b"\x1b[6~", "page-down"),
];

/// Names for single control bytes in TTY data (other escape sequences show as text).
pub fn tty_key(b: u8) -> Option<&'static str> {
    const CTRL: [&str; 27] = [
        "",
        "^A",
        "^B",
        "^C",
        "^D",
        "^E",
        "^F",
        "^G",
        "backspace",
        "tab",
        "nl",
        "^K",
        "^L",
        "ret",
        "^N",
        "^O",
        "^P",
        "^Q",
        "^R",
        "^S",
        "^T",
        "^U",
        "^V",
        "^W",
        "^X",
        "^Y",
        "^Z",
    ];
    match b {
        1..=26 => Some(CTRL[b as usize]),
        0x7f => Some("backspace"),
        0x1b => Some("esc"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_load() {
        assert_eq!(type_name(1300), Some("SYSCALL"));
        assert_eq!(type_number("EOE"), Some(1320));
        assert_eq!(syscall_name(Machine::X86_64, 59), Some("execve"));
        assert_eq!(syscall_name(Machine::Aarch64, 221), Some("execve"));
        assert_eq!(syscall_name(Machine::I386, 11), Some("execve"));
        assert_eq!(errno_name(13), Some("EACCES"));
        assert_eq!(Machine::from_audit_arch(0xc000003e), Some(Machine::X86_64));
    }
}
