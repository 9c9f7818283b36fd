/* letrace: every kernel -> user record of the bpf source, defined once.
 *
 * The Rust mirror is src/source/bpf/record.rs; a test compares its sizes, offsets and enum
 * values with the BTF of the committed letrace.bpf.o, so a change here without a change there
 * fails `cargo test`.
 */
#ifndef LETRACE_H
#define LETRACE_H

/* Kellect's 38 event families, in letrace's type names (docs/bpf.md has the table). */
enum lt_family {
	LT_FILE_CREATE = 0,
	LT_FILE_DELETE,
	LT_FILE_RENAME,
	LT_FILE_OPEN,
	LT_FILE_CHMOD,
	LT_FILE_STAT,
	LT_FILE_CHDIR,
	LT_FILE_MKDIR,
	LT_FILE_RMDIR,
	LT_FILE_READ,
	LT_FILE_WRITE,
	LT_FILE_DUP,
	LT_FILE_CLOSE,
	LT_FILE_TRUNCATE,
	LT_FILE_LINK,
	LT_FILE_SYMLINK,
	LT_PROCESS_FORK, /* 16 */
	LT_PROCESS_EXEC,
	LT_PROCESS_CLONE,
	LT_PROCESS_EXIT,
	LT_PROCESS_PIPE,
	LT_PROCESS_KILL,
	LT_PROCESS_PTRACE,
	LT_PROCESS_MMAP,
	LT_PROCESS_MPROTECT,
	LT_NET_CONNECT, /* 25 */
	LT_NET_SEND,
	LT_NET_RECV,
	LT_NET_ACCEPT,
	LT_NET_BIND,
	LT_NET_GETPEERNAME,
	LT_NET_SOCKETPAIR,
	LT_USER_SETGID, /* 32 */
	LT_USER_SETREGID,
	LT_USER_SETRESGID,
	LT_USER_SETUID,
	LT_USER_SETREUID,
	LT_USER_SETRESUID,
	LT_FAMILY_COUNT, /* 38 */
};

/* Where a record came from: a syscall (enter+exit pair), or a sched tracepoint. */
enum lt_sc {
	LT_SC_NONE = 0, /* sched_process_{fork,exec,exit} */
	LT_SC_open, LT_SC_openat, LT_SC_openat2, LT_SC_creat,
	LT_SC_unlink, LT_SC_unlinkat,
	LT_SC_rename, LT_SC_renameat, LT_SC_renameat2,
	LT_SC_chmod, LT_SC_fchmod, LT_SC_fchmodat, LT_SC_fchmodat2,
	LT_SC_newstat, LT_SC_newlstat, LT_SC_newfstat, LT_SC_newfstatat, LT_SC_statx,
	LT_SC_access, LT_SC_faccessat, LT_SC_faccessat2,
	LT_SC_chdir, LT_SC_fchdir,
	LT_SC_mkdir, LT_SC_mkdirat,
	LT_SC_rmdir,
	LT_SC_read, LT_SC_pread64, LT_SC_readv, LT_SC_preadv, LT_SC_preadv2,
	LT_SC_write, LT_SC_pwrite64, LT_SC_writev, LT_SC_pwritev, LT_SC_pwritev2,
	LT_SC_dup, LT_SC_dup2, LT_SC_dup3,
	LT_SC_close,
	LT_SC_truncate, LT_SC_ftruncate,
	LT_SC_link, LT_SC_linkat,
	LT_SC_symlink, LT_SC_symlinkat,
	LT_SC_clone, LT_SC_clone3, LT_SC_vfork, LT_SC_fork,
	LT_SC_pipe, LT_SC_pipe2,
	LT_SC_kill, LT_SC_tkill, LT_SC_tgkill,
	LT_SC_ptrace,
	LT_SC_mmap,
	LT_SC_mprotect,
	LT_SC_connect,
	LT_SC_sendto, LT_SC_sendmsg, LT_SC_sendmmsg,
	LT_SC_recvfrom, LT_SC_recvmsg, LT_SC_recvmmsg,
	LT_SC_accept, LT_SC_accept4,
	LT_SC_bind,
	LT_SC_getpeername,
	LT_SC_socketpair,
	LT_SC_setgid, LT_SC_setregid, LT_SC_setresgid,
	LT_SC_setuid, LT_SC_setreuid, LT_SC_setresuid,
	LT_SC_COUNT,
};

/* lt_event.flags */
enum lt_flags {
	LT_F_TRUNC0 = 1,   /* str0 filled its slot: may be truncated */
	LT_F_TRUNC1 = 2,   /* str1 (second path or exec args) truncated */
	LT_F_ADDR = 4,     /* str2 holds a sockaddr */
	LT_F_FDS = 8,      /* aux[0], aux[1] hold the two fds of pipe/socketpair */
	LT_F_CREDS = 16,   /* aux[0..3] old ids, aux[3..6] new ids (user family) */
	LT_F_OPENHOW = 32, /* aux[0..3] = open_how flags, mode, resolve */
	LT_F_CLONE3 = 64,  /* aux[0] = clone_args.flags, aux[1] = exit_signal */
	LT_F_NOMM = 128,   /* exec: the new mm could not be read (no args) */
	LT_F_DIR = 256,    /* str2 = the directory a relative str0 is relative to (cwd or dirfd):
			    * its names leaf first, each NUL-terminated */
	LT_F_DIR_PARTIAL = 512, /* the directory walk stopped early: str2 is incomplete */
};

#define LT_STR_MAX 4096 /* one path (PATH_MAX) or the exec argument block */
#define LT_ADDR_MAX 128 /* sizeof(struct sockaddr_storage) */
#define LT_DIR_DEPTH 16 /* directory levels walked to make a relative path absolute */

/* One ring-buffer record: this header, then len0 + len1 + len2 bytes of data
 * (str0, str1 NUL-terminated when len > 0; str2 raw sockaddr bytes, or with LT_F_DIR the
 * directory of a relative path). */
struct lt_event {
	__u64 ktime;       /* bpf_ktime_get_boot_ns() at the event (syscall exit) */
	__u64 cgroup;      /* bpf_get_current_cgroup_id() */
	__u64 start_time;  /* group leader's start_boottime, ns: with pid, a stable process id */
	__s64 ret;         /* syscall return value (-errno on failure); 0 for sched events */
	__u64 args[6];     /* raw syscall arguments, or sched values (see docs/bpf.md) */
	__u64 aux[6];      /* values read behind pointers (see lt_flags) */
	__u32 pid;         /* tgid */
	__u32 tid;
	__u32 ppid;        /* real_parent's tgid */
	__u32 uid;
	__u32 gid;
	__u16 family;      /* enum lt_family */
	__u16 sc;          /* enum lt_sc */
	__u16 len0;
	__u16 len1;
	__u16 len2;
	__u16 flags;       /* enum lt_flags */
	char comm[16];
};

/* Indices into the per-CPU loss counters (map lt_lost, __u64 values). */
#define LT_LOST_RING 0     /* + family: bpf_ringbuf_output failed (ring full) */
#define LT_LOST_PENDING 64 /* + family: the enter->exit table was full */
#define LT_LOST_SLOTS 128

#endif
