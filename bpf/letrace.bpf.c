// SPDX-License-Identifier: GPL-2.0
/* letrace bpf source: Kellect's 38 event families on syscall exit and sched tracepoints.
 *
 * Syscalls: one dispatcher on the raw syscall-exit tracepoint (tp_btf/sys_exit) tail-calls,
 * through the prog array lt_progs indexed by syscall number, into one program per traced
 * syscall. At exit the syscall's arguments are still in pt_regs (x86_64: di, si, dx, r10, r8,
 * r9), so no enter program and no per-thread enter->exit table are needed, and the kernel
 * builds no perf trace record per hit. Userspace fills lt_progs with the syscalls of the
 * enabled families only; an empty slot costs an unrelated syscall one failed tail call. A
 * program the kernel refuses leaves its slot empty and disables only its family.
 * Exception: the set*id calls need the old ids, read before the call: a second dispatcher on
 * tp_btf/sys_enter (attached only when a user family is enabled) stores them in lt_pend.
 * Process life cycle: tp_btf/sched_process_{fork,exec,exit}.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "letrace.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load (rodata, so the verifier prunes disabled branches). */
const volatile __u32 cfg_own_tgid = 0;
const volatile __u64 cfg_families = ~0ULL;
const volatile __u64 cfg_wakeup_bytes = 0; /* 0: wake the reader on every record */
const volatile __u8 cfg_ignore_pids = 0;
const volatile __u8 cfg_ignore_comms = 0;
/* Only here so the enums reach the object's BTF for the layout test. */
const volatile enum lt_family cfg_anchor_family = LT_FAMILY_COUNT;
const volatile enum lt_sc cfg_anchor_sc = LT_SC_COUNT;
const volatile enum lt_flags cfg_anchor_flags = LT_F_NOMM;

/* The set*id calls: [real, effective, saved] ids before the call. */
struct lt_pending {
	__u64 aux[3];
};

struct lt_buf {
	struct lt_event ev;
	/* str0, str1, then a sockaddr (masked to 255 bytes for the verifier) or a directory
	 * chain (LT_STR_MAX + one 256-byte name). */
	char data[2 * LT_STR_MAX + LT_STR_MAX + 256];
	/* Not sent: the dirfd a relative str0 is relative to, for lt_reldir. */
	int rel_dirfd;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} lt_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lt_lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_buf);
} lt_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct lt_pending);
} lt_pend SEC(".maps");

/* Prog arrays indexed by x86_64 syscall number (the highest traced one is fchmodat2, 452). */
#define LT_NR_MAX 512

/* Syscall number -> its enter program (set*id only). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LT_NR_MAX);
	__type(key, __u32);
	__type(value, __u32);
} lt_eprogs SEC(".maps");

/* [0] = lt_reldir, the one program that walks a relative path's directory. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lt_tail SEC(".maps");

/* Syscall number -> its program (x86_64 numbers; the highest traced one is fchmodat2, 452). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, LT_NR_MAX);
	__type(key, __u32);
	__type(value, __u32);
} lt_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} lt_ignore_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u8);
} lt_ignore_comm SEC(".maps");

/* Per-syscall capture spec, a compile-time constant per program. */
#define S0(i) ((i) + 1)                 /* arg i is a user string -> str0 */
#define S1(i) (((i) + 1) << 3)          /* arg i is a user string -> str1 */
#define SA_ARG(s) ((((s) >> 6) & 7) - 1)
#define SA_LEN(s) ((((s) >> 9) & 7) - 1)
#define SA_MODE(s) (((s) >> 12) & 3)
#define SA_IN(a, l) ((((a) + 1) << 6) | (((l) + 1) << 9) | (1 << 12))  /* len is a value */
#define SA_OUT(a, l) ((((a) + 1) << 6) | (((l) + 1) << 9) | (2 << 12)) /* len behind a pointer */
#define SA_MSG(a) ((((a) + 1) << 6) | (3 << 12))                       /* arg a is a msghdr */
#define FDS(i) ((1 << 14) | ((i) << 15))
#define FDS_ARG(s) (((s) >> 15) & 7)
#define OPENHOW (1 << 18)
#define CLONE3 (1 << 19)
#define CRED_U (1 << 20)
#define CRED_G (1 << 21)
#define OPENF(i) ((1 << 22) | ((i) << 23))
#define OPENF_ARG(s) (((s) >> 23) & 7)

#define O_CREAT 0100

static __always_inline __u64 lost_inc(__u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(&lt_lost, &slot);
	if (c)
		*c += 1;
	return 0;
}

static __always_inline bool ignored(__u32 tgid)
{
	if (tgid == cfg_own_tgid)
		return true;
	if (cfg_ignore_pids && bpf_map_lookup_elem(&lt_ignore_pid, &tgid))
		return true;
	if (cfg_ignore_comms) {
		char comm[16] = {};
		bpf_get_current_comm(comm, sizeof(comm));
		if (bpf_map_lookup_elem(&lt_ignore_comm, comm))
			return true;
	}
	return false;
}

static __always_inline void fill_common(struct lt_event *e)
{
	/* A BTF task pointer: the field loads below are plain (fault-safe) loads, much cheaper
	 * than a helper call or a bpf_probe_read_kernel each (the uid/gid, comm and cgroup
	 * helpers cost ~3% of an open+close storm: id-map lookups, strscpy, RCU). The ids are
	 * the kernel's global ones (= the initial user namespace's), as the helper gave. */
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *c = t->cred;
	const __u64 *comm = (const __u64 *)t->comm;

	e->ktime = bpf_ktime_get_boot_ns();
	e->cgroup = t->cgroups->dfl_cgrp->kn->id;
	e->start_time = t->group_leader->start_boottime;
	e->pid = t->tgid;
	e->tid = t->pid;
	e->ppid = t->real_parent->tgid;
	e->uid = c->uid.val;
	e->gid = c->gid.val;
	((__u64 *)e->comm)[0] = comm[0];
	((__u64 *)e->comm)[1] = comm[1];
}

static __always_inline struct lt_buf *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&lt_scratch, &zero);
}

/* Batched wakeups: each wakeup is an interrupt to the reader (a hypervisor exit on a VM).
 * The reader is woken only when the pending bytes cross a multiple of cfg_wakeup_bytes, so
 * a reader that lags behind a storm is not woken once per record; it also polls every
 * 100 ms, which bounds the delay of a quiet trickle. */
static __always_inline __u64 wake_flags(__u64 size)
{
	__u64 avail;
	if (cfg_wakeup_bytes == 0)
		return 0;
	avail = bpf_ringbuf_query(&lt_rb, BPF_RB_AVAIL_DATA);
	return (avail + size) / cfg_wakeup_bytes != avail / cfg_wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									     : BPF_RB_NO_WAKEUP;
}

static __always_inline void emit(struct lt_buf *b, __u32 fam, __u64 data_len)
{
	__u64 size = sizeof(struct lt_event) + data_len;
	if (size > sizeof(struct lt_buf))
		size = sizeof(struct lt_buf);
	if (bpf_ringbuf_output(&lt_rb, b, size, wake_flags(size)) < 0)
		lost_inc(LT_LOST_RING + (fam & 63));
}

static __always_inline void read_creds(__u64 *out, __u32 spec)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	const struct cred *c = BPF_CORE_READ(t, cred);
	if (spec & CRED_U) {
		out[0] = BPF_CORE_READ(c, uid.val);
		out[1] = BPF_CORE_READ(c, euid.val);
		out[2] = BPF_CORE_READ(c, suid.val);
	} else {
		out[0] = BPF_CORE_READ(c, gid.val);
		out[1] = BPF_CORE_READ(c, egid.val);
		out[2] = BPF_CORE_READ(c, sgid.val);
	}
}

#define TS_COMPAT 0x0002 /* thread_info.status: a 32-bit syscall is running */

/* set*id enter: the ids before the call, which exit cannot see any more. */
static __always_inline int on_enter_creds(__u32 fam, __u32 spec)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pt;
	struct lt_pending p = {};

	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT)
		return 0;
	if (ignored(pt >> 32))
		return 0;
	read_creds(p.aux, spec);
	if (bpf_map_update_elem(&lt_pend, &tid, &p, BPF_ANY))
		lost_inc(LT_LOST_PENDING + (fam & 63));
	return 0;
}

#define AT_FDCWD -100

/* Writes the names from `d` up to the root, leaf first, each NUL-terminated, crossing mount
 * points. Sets LT_F_DIR, and LT_F_DIR_PARTIAL when the depth limit stopped it. */
static __always_inline __u64 dir_chain(struct lt_event *e, char *out, struct dentry *d,
				       struct vfsmount *vm)
{
	struct mount *m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	__u64 pos = 0;
	bool done = false;

	for (int i = 0; i < LT_DIR_DEPTH; i++) {
		struct dentry *up;
		long n;
		if (d == BPF_CORE_READ(vm, mnt_root)) {
			struct mount *parent = BPF_CORE_READ(m, mnt_parent);
			if (parent == m) {
				done = true;
				break;
			}
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = parent;
			vm = (void *)parent + bpf_core_field_offset(struct mount, mnt);
			continue;
		}
		up = BPF_CORE_READ(d, d_parent);
		if (up == d) {
			done = true;
			break;
		}
		if (pos > LT_STR_MAX - 256)
			break;
		n = bpf_probe_read_kernel_str(out + pos, 255, BPF_CORE_READ(d, d_name.name));
		if (n > 0)
			pos += n;
		/* Same range on every path, so the verifier can prune instead of exploring
		 * 2^depth states (pos <= 3840 + 255 here, the mask never changes it). */
		pos &= LT_STR_MAX - 1;
		d = up;
	}
	e->flags |= LT_F_DIR | (done ? 0 : LT_F_DIR_PARTIAL);
	return pos;
}

/* The directory a relative path of this syscall is resolved against: the cwd, or dirfd's. */
static __always_inline __u64 rel_dir(struct lt_event *e, char *out, int dirfd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct dentry *d;
	struct vfsmount *vm;

	if (dirfd == AT_FDCWD) {
		d = BPF_CORE_READ(t, fs, pwd.dentry);
		vm = BPF_CORE_READ(t, fs, pwd.mnt);
	} else {
		struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
		struct file **fds = BPF_CORE_READ(fdt, fd);
		struct file *f = 0;
		if (dirfd < 0 || (unsigned int)dirfd >= BPF_CORE_READ(fdt, max_fds))
			return 0;
		bpf_probe_read_kernel(&f, sizeof(f), fds + dirfd);
		if (!f)
			return 0;
		d = BPF_CORE_READ(f, f_path.dentry);
		vm = BPF_CORE_READ(f, f_path.mnt);
	}
	if (!d || !vm)
		return 0;
	return dir_chain(e, out, d, vm);
}

#define LT_CLONE_CHILD (1 << 26) /* spec: a clone-like call, whose child also exits it with 0 */

static __always_inline int on_exit(void *ctx, struct pt_regs *regs, long ret, __u32 sc,
				   __u32 fam, __u32 spec, int nargs)
{
	struct task_struct *t = bpf_get_current_task_btf();
	__u64 pt = bpf_get_current_pid_tgid();
	struct lt_buf *b;
	struct lt_event *e;
	__u64 off0 = 0, off1 = 0, len2 = 0;

	/* A 32-bit syscall's number means another call: the table is x86_64's. */
	if (t->thread_info.status & TS_COMPAT)
		return 0;
	/* The new task of fork/clone leaves the call too (returning 0): the parent's exit is
	 * the event. */
	if ((spec & LT_CLONE_CHILD) && ret == 0)
		return 0;
	if (ignored(pt >> 32))
		return 0;
	b = scratch();
	if (!b)
		return 0;
	e = &b->ev;
	e->aux[0] = 0;
	e->aux[1] = 0;
	e->aux[2] = 0;
	if (spec & (CRED_U | CRED_G)) {
		__u32 tid = (__u32)pt;
		struct lt_pending *p = bpf_map_lookup_elem(&lt_pend, &tid);
		/* Entered before letrace attached: the old ids are unknown. */
		if (!p)
			return 0;
		e->aux[0] = p->aux[0];
		e->aux[1] = p->aux[1];
		e->aux[2] = p->aux[2];
		bpf_map_delete_elem(&lt_pend, &tid);
	}
	e->aux[3] = 0;
	e->aux[4] = 0;
	e->aux[5] = 0;
	e->args[0] = nargs > 0 ? regs->di : 0;
	e->args[1] = nargs > 1 ? regs->si : 0;
	e->args[2] = nargs > 2 ? regs->dx : 0;
	e->args[3] = nargs > 3 ? regs->r10 : 0;
	e->args[4] = nargs > 4 ? regs->r8 : 0;
	e->args[5] = nargs > 5 ? regs->r9 : 0;
	e->ret = ret;
	e->sc = sc;
	e->flags = 0;

	if (spec & OPENF(0))
		fam = (e->args[OPENF_ARG(spec)] & O_CREAT) ? LT_FILE_CREATE : LT_FILE_OPEN;
	if (spec & OPENHOW) {
		struct open_how h = {};
		bpf_probe_read_user(&h, sizeof(h), (void *)e->args[2]);
		e->aux[0] = h.flags;
		e->aux[1] = h.mode;
		e->aux[2] = h.resolve;
		e->flags |= LT_F_OPENHOW;
		fam = (h.flags & O_CREAT) ? LT_FILE_CREATE : LT_FILE_OPEN;
	}
	if (!(cfg_families & (1ULL << (fam & 63))))
		return 0;
	e->family = fam;
	fill_common(e);

	if (spec & 7) {
		long n = bpf_probe_read_user_str(b->data, LT_STR_MAX, (void *)e->args[(spec & 7) - 1]);
		if (n < 0)
			n = 0;
		if (n >= LT_STR_MAX) {
			n = LT_STR_MAX;
			e->flags |= LT_F_TRUNC0;
		}
		off0 = n;
	}
	e->len0 = off0;
	if (spec & (7 << 3)) {
		long n;
		if (off0 > LT_STR_MAX)
			off0 = LT_STR_MAX;
		n = bpf_probe_read_user_str(b->data + off0, LT_STR_MAX,
					    (void *)e->args[((spec >> 3) & 7) - 1]);
		if (n < 0)
			n = 0;
		if (n >= LT_STR_MAX) {
			n = LT_STR_MAX;
			e->flags |= LT_F_TRUNC1;
		}
		off1 = n;
	}
	e->len1 = off1;
	/* A relative path (not the target of a symlink/link) is made absolute from the directory
	 * it is relative to, read now, in the task, at syscall exit. */
	if ((spec & 7) && off0 > 1 && b->data[0] != '/' && fam != LT_FILE_LINK &&
	    fam != LT_FILE_SYMLINK) {
		/* The walk lives in one program, lt_reldir, that finishes and writes the record:
		 * inlined here it cost the verifier 35-180 ms per program (most of the start-up
		 * time). No other part of a record (address, fds, ids) goes with a path. */
		e->len2 = 0;
		b->rel_dirfd = (spec & 7) == S0(1) ? (int)e->args[0] : AT_FDCWD;
		bpf_tail_call(ctx, &lt_tail, 0);
		/* lt_reldir did not load: the path stays as given. */
	}
	if (SA_MODE(spec)) {
		void *addr = (void *)e->args[SA_ARG(spec)];
		__u64 alen = 0;
		if (SA_MODE(spec) == 1) {
			alen = e->args[SA_LEN(spec)];
		} else if (SA_MODE(spec) == 2) {
			int l = 0;
			bpf_probe_read_user(&l, sizeof(l), (void *)e->args[SA_LEN(spec)]);
			alen = l < 0 ? 0 : l;
		} else {
			struct user_msghdr m = {};
			bpf_probe_read_user(&m, sizeof(m), addr);
			addr = m.msg_name;
			alen = m.msg_namelen < 0 ? 0 : m.msg_namelen;
		}
		if (alen > LT_ADDR_MAX)
			alen = LT_ADDR_MAX;
		/* Clang re-derives the length from the unclamped value; the barrier pins the
		 * clamped one in a register and the mask gives the verifier a bound it keeps. */
		asm volatile("" : "+r"(alen));
		alen &= 2 * LT_ADDR_MAX - 1;
		if (addr && alen) {
			__u64 at = off0 + off1;
			if (at > 2 * LT_STR_MAX)
				at = 2 * LT_STR_MAX;
			if (bpf_probe_read_user(b->data + at, alen, addr) == 0) {
				len2 = alen;
				e->flags |= LT_F_ADDR;
			}
		}
	}
	e->len2 = len2;
	if (spec & FDS(0)) {
		int fds[2] = {-1, -1};
		if (e->ret == 0)
			bpf_probe_read_user(fds, sizeof(fds), (void *)e->args[FDS_ARG(spec)]);
		e->aux[0] = (__u64)(__s64)fds[0];
		e->aux[1] = (__u64)(__s64)fds[1];
		e->flags |= LT_F_FDS;
	}
	if (spec & CLONE3) {
		struct clone_args ca = {};
		bpf_probe_read_user(&ca, sizeof(ca), (void *)e->args[0]);
		e->aux[0] = ca.flags;
		e->aux[1] = ca.exit_signal;
		e->flags |= LT_F_CLONE3;
	}
	if (spec & (CRED_U | CRED_G)) {
		read_creds(&e->aux[3], spec);
		e->flags |= LT_F_CREDS;
	}
	emit(b, fam, off0 + off1 + len2);
	return 0;
}

/* The dispatcher: every syscall exit of every task runs this (when a syscall family is
 * enabled), so it does nothing but the tail call; an empty slot falls through. */
SEC("tp_btf/sys_exit")
int BPF_PROG(lt_sys_exit, struct pt_regs *regs, long ret)
{
	bpf_tail_call(ctx, &lt_progs, regs->orig_ax);
	return 0;
}

/* Tail-called by a syscall program whose path is relative: adds the directory, writes the
 * record the caller left in the scratch buffer. */
SEC("tp_btf/sys_exit")
int BPF_PROG(lt_reldir, struct pt_regs *regs, long ret)
{
	struct lt_buf *b = scratch();
	__u64 at, len2;

	if (!b)
		return 0;
	at = b->ev.len0 + b->ev.len1;
	if (at > 2 * LT_STR_MAX)
		at = 2 * LT_STR_MAX;
	len2 = rel_dir(&b->ev, b->data + at, b->rel_dirfd);
	b->ev.len2 = len2;
	emit(b, b->ev.family, at + len2);
	return 0;
}

/* One program per syscall, x_NAME, loaded for sys_exit and placed in lt_progs[nr]. */
#define SYSCALL(name, fam, spec, nargs)                                                         \
	SEC("tp_btf/sys_exit")                                                             \
	int BPF_PROG(x_##name, struct pt_regs *regs, long ret)                             \
	{                                                                                  \
		return on_exit(ctx, regs, ret, LT_SC_##name, fam, spec, nargs);            \
	}

/* set*id also need the ids before the call: a second dispatcher, on sys_enter, tail-calls
 * through lt_eprogs into e_NAME. (Classic sys_enter_NAME tracepoints cost ~70 ms each to
 * detach, an RCU-tasks grace period per perf event, and about the same per unrelated
 * syscall: the perf syscall hook runs for every syscall to test its bitmap.) */
SEC("tp_btf/sys_enter")
int BPF_PROG(lt_sys_enter, struct pt_regs *regs, long id)
{
	bpf_tail_call(ctx, &lt_eprogs, id);
	return 0;
}

#define SYSCALL_CREDS(name, fam, spec, nargs)                                                   \
	SYSCALL(name, fam, spec, nargs)                                                    \
	SEC("tp_btf/sys_enter")                                                            \
	int BPF_PROG(e_##name, struct pt_regs *regs, long id)                              \
	{                                                                                  \
		return on_enter_creds(fam, spec);                                          \
	}

/* file */
SYSCALL(open, LT_FILE_OPEN, S0(0) | OPENF(1), 3)
SYSCALL(openat, LT_FILE_OPEN, S0(1) | OPENF(2), 4)
SYSCALL(openat2, LT_FILE_OPEN, S0(1) | OPENHOW, 4)
SYSCALL(creat, LT_FILE_CREATE, S0(0), 2)
SYSCALL(unlink, LT_FILE_DELETE, S0(0), 1)
SYSCALL(unlinkat, LT_FILE_DELETE, S0(1), 3)
SYSCALL(rename, LT_FILE_RENAME, S0(0) | S1(1), 2)
SYSCALL(renameat, LT_FILE_RENAME, S0(1) | S1(3), 4)
SYSCALL(renameat2, LT_FILE_RENAME, S0(1) | S1(3), 5)
SYSCALL(chmod, LT_FILE_CHMOD, S0(0), 2)
SYSCALL(fchmod, LT_FILE_CHMOD, 0, 2)
SYSCALL(fchmodat, LT_FILE_CHMOD, S0(1), 3)
SYSCALL(fchmodat2, LT_FILE_CHMOD, S0(1), 4)
SYSCALL(newstat, LT_FILE_STAT, S0(0), 2)
SYSCALL(newlstat, LT_FILE_STAT, S0(0), 2)
SYSCALL(newfstat, LT_FILE_STAT, 0, 2)
SYSCALL(newfstatat, LT_FILE_STAT, S0(1), 4)
SYSCALL(statx, LT_FILE_STAT, S0(1), 5)
SYSCALL(access, LT_FILE_STAT, S0(0), 2)
SYSCALL(faccessat, LT_FILE_STAT, S0(1), 3)
SYSCALL(faccessat2, LT_FILE_STAT, S0(1), 4)
SYSCALL(chdir, LT_FILE_CHDIR, S0(0), 1)
SYSCALL(fchdir, LT_FILE_CHDIR, 0, 1)
SYSCALL(mkdir, LT_FILE_MKDIR, S0(0), 2)
SYSCALL(mkdirat, LT_FILE_MKDIR, S0(1), 3)
SYSCALL(rmdir, LT_FILE_RMDIR, S0(0), 1)
SYSCALL(read, LT_FILE_READ, 0, 3)
SYSCALL(pread64, LT_FILE_READ, 0, 4)
SYSCALL(readv, LT_FILE_READ, 0, 3)
SYSCALL(preadv, LT_FILE_READ, 0, 5)
SYSCALL(preadv2, LT_FILE_READ, 0, 6)
SYSCALL(write, LT_FILE_WRITE, 0, 3)
SYSCALL(pwrite64, LT_FILE_WRITE, 0, 4)
SYSCALL(writev, LT_FILE_WRITE, 0, 3)
SYSCALL(pwritev, LT_FILE_WRITE, 0, 5)
SYSCALL(pwritev2, LT_FILE_WRITE, 0, 6)
SYSCALL(dup, LT_FILE_DUP, 0, 1)
SYSCALL(dup2, LT_FILE_DUP, 0, 2)
SYSCALL(dup3, LT_FILE_DUP, 0, 3)
SYSCALL(close, LT_FILE_CLOSE, 0, 1)
SYSCALL(truncate, LT_FILE_TRUNCATE, S0(0), 2)
SYSCALL(ftruncate, LT_FILE_TRUNCATE, 0, 2)
SYSCALL(link, LT_FILE_LINK, S0(0) | S1(1), 2)
SYSCALL(linkat, LT_FILE_LINK, S0(1) | S1(3), 5)
SYSCALL(symlink, LT_FILE_SYMLINK, S0(0) | S1(1), 2)
SYSCALL(symlinkat, LT_FILE_SYMLINK, S0(0) | S1(2), 3)
/* process */
SYSCALL(clone, LT_PROCESS_CLONE, LT_CLONE_CHILD, 5)
SYSCALL(clone3, LT_PROCESS_CLONE, CLONE3 | LT_CLONE_CHILD, 2)
SYSCALL(vfork, LT_PROCESS_CLONE, LT_CLONE_CHILD, 0)
SYSCALL(fork, LT_PROCESS_CLONE, LT_CLONE_CHILD, 0)
SYSCALL(pipe, LT_PROCESS_PIPE, FDS(0), 1)
SYSCALL(pipe2, LT_PROCESS_PIPE, FDS(0), 2)
SYSCALL(kill, LT_PROCESS_KILL, 0, 2)
SYSCALL(tkill, LT_PROCESS_KILL, 0, 2)
SYSCALL(tgkill, LT_PROCESS_KILL, 0, 3)
SYSCALL(ptrace, LT_PROCESS_PTRACE, 0, 4)
SYSCALL(mmap, LT_PROCESS_MMAP, 0, 6)
SYSCALL(mprotect, LT_PROCESS_MPROTECT, 0, 3)
/* network */
SYSCALL(connect, LT_NET_CONNECT, SA_IN(1, 2), 3)
SYSCALL(sendto, LT_NET_SEND, SA_IN(4, 5), 6)
SYSCALL(sendmsg, LT_NET_SEND, SA_MSG(1), 3)
SYSCALL(sendmmsg, LT_NET_SEND, SA_MSG(1), 4)
SYSCALL(recvfrom, LT_NET_RECV, SA_OUT(4, 5), 6)
SYSCALL(recvmsg, LT_NET_RECV, SA_MSG(1), 3)
SYSCALL(recvmmsg, LT_NET_RECV, SA_MSG(1), 5)
SYSCALL(accept, LT_NET_ACCEPT, SA_OUT(1, 2), 3)
SYSCALL(accept4, LT_NET_ACCEPT, SA_OUT(1, 2), 4)
SYSCALL(bind, LT_NET_BIND, SA_IN(1, 2), 3)
SYSCALL(getpeername, LT_NET_GETPEERNAME, SA_OUT(1, 2), 3)
SYSCALL(socketpair, LT_NET_SOCKETPAIR, FDS(3), 4)
/* user */
SYSCALL_CREDS(setgid, LT_USER_SETGID, CRED_G, 1)
SYSCALL_CREDS(setregid, LT_USER_SETREGID, CRED_G, 2)
SYSCALL_CREDS(setresgid, LT_USER_SETRESGID, CRED_G, 3)
SYSCALL_CREDS(setuid, LT_USER_SETUID, CRED_U, 1)
SYSCALL_CREDS(setreuid, LT_USER_SETREUID, CRED_U, 2)
SYSCALL_CREDS(setresuid, LT_USER_SETRESUID, CRED_U, 3)

/* Process life cycle. These always run (the process table needs them); they write a record
 * when their family is enabled or cfg_proc_feed is set. */
const volatile __u8 cfg_proc_feed = 0;

static __always_inline bool sched_wanted(__u32 fam)
{
	return cfg_proc_feed || (cfg_families & (1ULL << fam));
}

static __always_inline struct lt_buf *sched_start(__u32 fam)
{
	struct lt_buf *b;
	if (!sched_wanted(fam) || ignored(bpf_get_current_pid_tgid() >> 32))
		return 0;
	b = scratch();
	if (!b)
		return 0;
	__builtin_memset(&b->ev, 0, sizeof(b->ev));
	fill_common(&b->ev);
	b->ev.family = fam;
	b->ev.sc = LT_SC_NONE;
	return b;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	struct lt_buf *b = sched_start(LT_PROCESS_FORK);
	if (!b)
		return 0;
	b->ev.args[0] = BPF_CORE_READ(child, tgid);
	b->ev.args[1] = BPF_CORE_READ(child, pid);
	b->ev.aux[0] = BPF_CORE_READ(child, start_boottime);
	emit(b, LT_PROCESS_FORK, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct lt_buf *b = sched_start(LT_PROCESS_EXEC);
	struct mm_struct *mm;
	__u64 off0 = 0, len1 = 0, start, end;
	long n;

	if (!b)
		return 0;
	b->ev.args[0] = old_pid;
	n = bpf_probe_read_kernel_str(b->data, LT_STR_MAX, BPF_CORE_READ(bprm, filename));
	if (n < 0)
		n = 0;
	if (n >= LT_STR_MAX) {
		n = LT_STR_MAX;
		b->ev.flags |= LT_F_TRUNC0;
	}
	off0 = n;
	b->ev.len0 = off0;
	mm = BPF_CORE_READ(p, mm);
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	if (end > start) {
		len1 = end - start;
		if (len1 > LT_STR_MAX) {
			len1 = LT_STR_MAX;
			b->ev.flags |= LT_F_TRUNC1;
		}
		if (off0 > LT_STR_MAX)
			off0 = LT_STR_MAX;
		if (bpf_probe_read_user(b->data + off0, len1, (void *)start))
			len1 = 0;
	}
	if (len1 == 0)
		b->ev.flags |= LT_F_NOMM;
	b->ev.len1 = len1;
	emit(b, LT_PROCESS_EXEC, off0 + len1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit_task, struct task_struct *p, bool group_dead)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct lt_buf *b;

	/* A thread that dies inside a traced syscall never reaches sys_exit. */
	bpf_map_delete_elem(&lt_pend, &tid);
	b = sched_start(LT_PROCESS_EXIT);
	if (!b)
		return 0;
	b->ev.args[0] = BPF_CORE_READ(p, exit_code);
	b->ev.args[1] = group_dead;
	emit(b, LT_PROCESS_EXIT, 0);
	return 0;
}
