//! The 38 event families (Kellect's catalogue) and the syscalls that feed them. Order and
//! numbering mirror `enum lt_family` and `enum lt_sc` in bpf/letrace.h (checked by a test
//! against the object's BTF).

/// A group of families selectable as one word in `-s bpf:file,process,network,user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    File,
    Process,
    Network,
    User,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::File,
        Category::Process,
        Category::Network,
        Category::User,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Category::File => "file",
            Category::Process => "process",
            Category::Network => "network",
            Category::User => "user",
        }
    }
}

pub struct FamilyInfo {
    /// The event `type`, e.g. `FILE_CREATE`; the C name is `LT_` + this.
    pub name: &'static str,
    pub category: Category,
    /// Loud families (a busy host makes thousands a second) are off unless named.
    pub loud: bool,
    /// Kellect's description of the family.
    pub kellect: &'static str,
}

macro_rules! fam {
    ($name:literal, $cat:ident, $loud:literal, $k:literal) => {
        FamilyInfo {
            name: $name,
            category: Category::$cat,
            loud: $loud,
            kellect: $k,
        }
    };
}

pub const FAMILY_COUNT: usize = 38;

pub static FAMILIES: [FamilyInfo; FAMILY_COUNT] = [
    fam!("FILE_CREATE", File, false, "file create (open/openat/openat2 with O_CREAT, creat)"),
    fam!("FILE_DELETE", File, false, "file delete (unlink, unlinkat)"),
    fam!("FILE_RENAME", File, false, "file rename (rename, renameat, renameat2)"),
    fam!("FILE_OPEN", File, false, "file open (open/openat/openat2 without O_CREAT)"),
    fam!("FILE_CHMOD", File, false, "file mode change (chmod, fchmod, fchmodat, fchmodat2)"),
    fam!("FILE_STAT", File, false, "file stat / mode query (stat, lstat, fstat, newfstatat, statx, access, faccessat, faccessat2)"),
    fam!("FILE_CHDIR", File, false, "change directory (chdir, fchdir)"),
    fam!("FILE_MKDIR", File, false, "make directory (mkdir, mkdirat)"),
    fam!("FILE_RMDIR", File, false, "remove directory (rmdir)"),
    fam!("FILE_READ", File, true, "file read (read, pread64, readv, preadv, preadv2)"),
    fam!("FILE_WRITE", File, true, "file write (write, pwrite64, writev, pwritev, pwritev2)"),
    fam!("FILE_DUP", File, false, "duplicate fd (dup, dup2, dup3)"),
    fam!("FILE_CLOSE", File, false, "close fd (close)"),
    fam!("FILE_TRUNCATE", File, false, "truncate (truncate, ftruncate)"),
    fam!("FILE_LINK", File, false, "hard link (link, linkat)"),
    fam!("FILE_SYMLINK", File, false, "symbolic link (symlink, symlinkat)"),
    fam!("PROCESS_FORK", Process, false, "process fork (sched_process_fork)"),
    fam!("PROCESS_EXEC", Process, false, "process exec (sched_process_exec: filename, args)"),
    fam!("PROCESS_CLONE", Process, false, "clone (clone, clone3, vfork, fork: flags)"),
    fam!("PROCESS_EXIT", Process, false, "process exit (sched_process_exit: exit code)"),
    fam!("PROCESS_PIPE", Process, false, "pipe (pipe, pipe2)"),
    fam!("PROCESS_KILL", Process, false, "signal (kill, tkill, tgkill: target, signal)"),
    fam!("PROCESS_PTRACE", Process, false, "ptrace (request, target)"),
    fam!("PROCESS_MMAP", Process, false, "mmap (prot, flags, fd)"),
    fam!("PROCESS_MPROTECT", Process, false, "mprotect"),
    fam!("NET_CONNECT", Network, false, "connect (address)"),
    fam!("NET_SEND", Network, true, "send (sendto, sendmsg, sendmmsg)"),
    fam!("NET_RECV", Network, true, "receive (recvfrom, recvmsg, recvmmsg)"),
    fam!("NET_ACCEPT", Network, false, "accept (accept, accept4: peer address)"),
    fam!("NET_BIND", Network, false, "bind (address)"),
    fam!("NET_GETPEERNAME", Network, false, "getpeername (address)"),
    fam!("NET_SOCKETPAIR", Network, false, "socketpair (the two fds)"),
    fam!("USER_SETGID", User, false, "setgid (old and new gids)"),
    fam!("USER_SETREGID", User, false, "setregid"),
    fam!("USER_SETRESGID", User, false, "setresgid"),
    fam!("USER_SETUID", User, false, "setuid (old and new uids)"),
    fam!("USER_SETREUID", User, false, "setreuid"),
    fam!("USER_SETRESUID", User, false, "setresuid"),
];

pub const FORK: u16 = 16;
pub const EXEC: u16 = 17;
pub const EXIT: u16 = 19;

/// A family by its `type` name (case-insensitive).
pub fn family_by_name(name: &str) -> Option<u16> {
    FAMILIES
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(name))
        .map(|i| i as u16)
}

/// A syscall traced by the object: `enum lt_sc` value = index + 1 in `SYSCALLS`.
pub struct SyscallInfo {
    pub name: &'static str,
    /// The family of its events (open/openat/openat2 pick FILE_CREATE or FILE_OPEN by flags).
    pub family: u16,
    /// Names of the raw arguments, as in the kernel's syscall tracepoint format.
    pub args: &'static [&'static str],
    /// Absent on some kernels (added later); a missing tracepoint is not a failure.
    pub optional: bool,
}

macro_rules! sc {
    ($name:literal, $fam:literal, [$($a:literal),*]) => {
        SyscallInfo { name: $name, family: $fam, args: &[$($a),*], optional: false }
    };
    ($name:literal, $fam:literal, [$($a:literal),*], optional) => {
        SyscallInfo { name: $name, family: $fam, args: &[$($a),*], optional: true }
    };
}

pub static SYSCALLS: [SyscallInfo; 76] = [
    sc!("open", 3, ["filename", "flags", "mode"]),
    sc!("openat", 3, ["dfd", "filename", "flags", "mode"]),
    sc!("openat2", 3, ["dfd", "filename", "how", "usize"], optional),
    sc!("creat", 0, ["pathname", "mode"]),
    sc!("unlink", 1, ["pathname"]),
    sc!("unlinkat", 1, ["dfd", "pathname", "flag"]),
    sc!("rename", 2, ["oldname", "newname"]),
    sc!("renameat", 2, ["olddfd", "oldname", "newdfd", "newname"]),
    sc!(
        "renameat2",
        2,
        ["olddfd", "oldname", "newdfd", "newname", "flags"]
    ),
    sc!("chmod", 4, ["filename", "mode"]),
    sc!("fchmod", 4, ["fd", "mode"]),
    sc!("fchmodat", 4, ["dfd", "filename", "mode"]),
    sc!(
        "fchmodat2",
        4,
        ["dfd", "filename", "mode", "flags"],
        optional
    ),
    sc!("newstat", 5, ["filename", "statbuf"]),
    sc!("newlstat", 5, ["filename", "statbuf"]),
    sc!("newfstat", 5, ["fd", "statbuf"]),
    sc!("newfstatat", 5, ["dfd", "filename", "statbuf", "flag"]),
    sc!("statx", 5, ["dfd", "filename", "flags", "mask", "buffer"]),
    sc!("access", 5, ["filename", "mode"]),
    sc!("faccessat", 5, ["dfd", "filename", "mode"]),
    sc!(
        "faccessat2",
        5,
        ["dfd", "filename", "mode", "flags"],
        optional
    ),
    sc!("chdir", 6, ["filename"]),
    sc!("fchdir", 6, ["fd"]),
    sc!("mkdir", 7, ["pathname", "mode"]),
    sc!("mkdirat", 7, ["dfd", "pathname", "mode"]),
    sc!("rmdir", 8, ["pathname"]),
    sc!("read", 9, ["fd", "buf", "count"]),
    sc!("pread64", 9, ["fd", "buf", "count", "pos"]),
    sc!("readv", 9, ["fd", "vec", "vlen"]),
    sc!("preadv", 9, ["fd", "vec", "vlen", "pos_l", "pos_h"]),
    sc!(
        "preadv2",
        9,
        ["fd", "vec", "vlen", "pos_l", "pos_h", "flags"],
        optional
    ),
    sc!("write", 10, ["fd", "buf", "count"]),
    sc!("pwrite64", 10, ["fd", "buf", "count", "pos"]),
    sc!("writev", 10, ["fd", "vec", "vlen"]),
    sc!("pwritev", 10, ["fd", "vec", "vlen", "pos_l", "pos_h"]),
    sc!(
        "pwritev2",
        10,
        ["fd", "vec", "vlen", "pos_l", "pos_h", "flags"],
        optional
    ),
    sc!("dup", 11, ["fildes"]),
    sc!("dup2", 11, ["oldfd", "newfd"]),
    sc!("dup3", 11, ["oldfd", "newfd", "flags"]),
    sc!("close", 12, ["fd"]),
    sc!("truncate", 13, ["path", "length"]),
    sc!("ftruncate", 13, ["fd", "length"]),
    sc!("link", 14, ["oldname", "newname"]),
    sc!(
        "linkat",
        14,
        ["olddfd", "oldname", "newdfd", "newname", "flags"]
    ),
    sc!("symlink", 15, ["oldname", "newname"]),
    sc!("symlinkat", 15, ["oldname", "newdfd", "newname"]),
    sc!(
        "clone",
        18,
        [
            "clone_flags",
            "newsp",
            "parent_tidptr",
            "child_tidptr",
            "tls"
        ]
    ),
    sc!("clone3", 18, ["uargs", "size"], optional),
    sc!("vfork", 18, []),
    sc!("fork", 18, []),
    sc!("pipe", 20, ["fildes"]),
    sc!("pipe2", 20, ["fildes", "flags"]),
    sc!("kill", 21, ["pid", "sig"]),
    sc!("tkill", 21, ["pid", "sig"]),
    sc!("tgkill", 21, ["tgid", "pid", "sig"]),
    sc!("ptrace", 22, ["request", "pid", "addr", "data"]),
    sc!("mmap", 23, ["addr", "len", "prot", "flags", "fd", "off"]),
    sc!("mprotect", 24, ["start", "len", "prot"]),
    sc!("connect", 25, ["fd", "uservaddr", "addrlen"]),
    sc!(
        "sendto",
        26,
        ["fd", "buff", "len", "flags", "addr", "addr_len"]
    ),
    sc!("sendmsg", 26, ["fd", "msg", "flags"]),
    sc!("sendmmsg", 26, ["fd", "mmsg", "vlen", "flags"]),
    sc!(
        "recvfrom",
        27,
        ["fd", "ubuf", "size", "flags", "addr", "addr_len"]
    ),
    sc!("recvmsg", 27, ["fd", "msg", "flags"]),
    sc!("recvmmsg", 27, ["fd", "mmsg", "vlen", "flags", "timeout"]),
    sc!("accept", 28, ["fd", "upeer_sockaddr", "upeer_addrlen"]),
    sc!(
        "accept4",
        28,
        ["fd", "upeer_sockaddr", "upeer_addrlen", "flags"]
    ),
    sc!("bind", 29, ["fd", "umyaddr", "addrlen"]),
    sc!("getpeername", 30, ["fd", "usockaddr", "usockaddr_len"]),
    sc!("socketpair", 31, ["family", "type", "protocol", "usockvec"]),
    sc!("setgid", 32, ["gid"]),
    sc!("setregid", 33, ["rgid", "egid"]),
    sc!("setresgid", 34, ["rgid", "egid", "sgid"]),
    sc!("setuid", 35, ["uid"]),
    sc!("setreuid", 36, ["ruid", "euid"]),
    sc!("setresuid", 37, ["ruid", "euid", "suid"]),
];

/// `LT_NR_MAX` in bpf/letrace.bpf.c: the size of the `lt_progs` array.
pub const NR_MAX: u32 = 512;

/// The syscall of an `lt_sc` value (`None` for 0 = sched tracepoint, or out of range).
pub fn syscall(sc: u16) -> Option<&'static SyscallInfo> {
    (sc as usize).checked_sub(1).and_then(|i| SYSCALLS.get(i))
}

/// The syscalls whose programs serve `family` (open/openat/openat2 serve both CREATE and OPEN).
pub fn syscalls_of(family: u16) -> impl Iterator<Item = &'static SyscallInfo> {
    SYSCALLS.iter().filter(move |s| {
        s.family == family || (family == 0 && matches!(s.name, "open" | "openat" | "openat2"))
    })
}

/// The x86_64 syscall number of a traced syscall (the index of its program in the object's
/// `lt_progs` array). The tracepoint names `newstat`/`newlstat`/`newfstat` are `stat`/`lstat`/
/// `fstat`.
pub fn syscall_nr(name: &str) -> Option<u32> {
    let nr = match name {
        "open" => libc::SYS_open,
        "openat" => libc::SYS_openat,
        "openat2" => libc::SYS_openat2,
        "creat" => libc::SYS_creat,
        "unlink" => libc::SYS_unlink,
        "unlinkat" => libc::SYS_unlinkat,
        "rename" => libc::SYS_rename,
        "renameat" => libc::SYS_renameat,
        "renameat2" => libc::SYS_renameat2,
        "chmod" => libc::SYS_chmod,
        "fchmod" => libc::SYS_fchmod,
        "fchmodat" => libc::SYS_fchmodat,
        "fchmodat2" => libc::SYS_fchmodat2,
        "newstat" => libc::SYS_stat,
        "newlstat" => libc::SYS_lstat,
        "newfstat" => libc::SYS_fstat,
        "newfstatat" => libc::SYS_newfstatat,
        "statx" => libc::SYS_statx,
        "access" => libc::SYS_access,
        "faccessat" => libc::SYS_faccessat,
        "faccessat2" => libc::SYS_faccessat2,
        "chdir" => libc::SYS_chdir,
        "fchdir" => libc::SYS_fchdir,
        "mkdir" => libc::SYS_mkdir,
        "mkdirat" => libc::SYS_mkdirat,
        "rmdir" => libc::SYS_rmdir,
        "read" => libc::SYS_read,
        "pread64" => libc::SYS_pread64,
        "readv" => libc::SYS_readv,
        "preadv" => libc::SYS_preadv,
        "preadv2" => libc::SYS_preadv2,
        "write" => libc::SYS_write,
        "pwrite64" => libc::SYS_pwrite64,
        "writev" => libc::SYS_writev,
        "pwritev" => libc::SYS_pwritev,
        "pwritev2" => libc::SYS_pwritev2,
        "dup" => libc::SYS_dup,
        "dup2" => libc::SYS_dup2,
        "dup3" => libc::SYS_dup3,
        "close" => libc::SYS_close,
        "truncate" => libc::SYS_truncate,
        "ftruncate" => libc::SYS_ftruncate,
        "link" => libc::SYS_link,
        "linkat" => libc::SYS_linkat,
        "symlink" => libc::SYS_symlink,
        "symlinkat" => libc::SYS_symlinkat,
        "clone" => libc::SYS_clone,
        "clone3" => libc::SYS_clone3,
        "vfork" => libc::SYS_vfork,
        "fork" => libc::SYS_fork,
        "pipe" => libc::SYS_pipe,
        "pipe2" => libc::SYS_pipe2,
        "kill" => libc::SYS_kill,
        "tkill" => libc::SYS_tkill,
        "tgkill" => libc::SYS_tgkill,
        "ptrace" => libc::SYS_ptrace,
        "mmap" => libc::SYS_mmap,
        "mprotect" => libc::SYS_mprotect,
        "connect" => libc::SYS_connect,
        "sendto" => libc::SYS_sendto,
        "sendmsg" => libc::SYS_sendmsg,
        "sendmmsg" => libc::SYS_sendmmsg,
        "recvfrom" => libc::SYS_recvfrom,
        "recvmsg" => libc::SYS_recvmsg,
        "recvmmsg" => libc::SYS_recvmmsg,
        "accept" => libc::SYS_accept,
        "accept4" => libc::SYS_accept4,
        "bind" => libc::SYS_bind,
        "getpeername" => libc::SYS_getpeername,
        "socketpair" => libc::SYS_socketpair,
        "setgid" => libc::SYS_setgid,
        "setregid" => libc::SYS_setregid,
        "setresgid" => libc::SYS_setresgid,
        "setuid" => libc::SYS_setuid,
        "setreuid" => libc::SYS_setreuid,
        "setresuid" => libc::SYS_setresuid,
        _ => return None,
    };
    u32::try_from(nr).ok()
}

/// Syscalls whose old ids must be read before the call (a classic enter tracepoint).
pub fn needs_enter(name: &str) -> bool {
    name.starts_with("set")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_a_feed_and_counts_match_kellect() {
        let count = |c| FAMILIES.iter().filter(|f| f.category == c).count();
        assert_eq!(
            [
                Category::File,
                Category::Process,
                Category::Network,
                Category::User
            ]
            .map(count),
            [16, 9, 7, 6]
        );
        for (i, f) in FAMILIES.iter().enumerate() {
            let sched = [FORK, EXEC, EXIT].contains(&(i as u16));
            assert!(
                sched || syscalls_of(i as u16).next().is_some(),
                "{} has no syscall",
                f.name
            );
        }
        assert_eq!(family_by_name("file_read"), Some(9));
    }

    #[test]
    fn every_syscall_has_a_number_below_the_prog_array_size() {
        let mut seen = std::collections::HashSet::new();
        for s in &SYSCALLS {
            let nr = syscall_nr(s.name).unwrap_or_else(|| panic!("{} has no number", s.name));
            assert!(nr < NR_MAX, "{}: {nr}", s.name);
            assert!(seen.insert(nr), "{} shares {nr}", s.name);
        }
        assert_eq!(
            (
                syscall_nr("openat"),
                syscall_nr("newfstatat"),
                syscall_nr("close")
            ),
            (Some(257), Some(262), Some(3))
        );
    }
}
