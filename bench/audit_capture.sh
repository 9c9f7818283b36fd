#!/bin/bash
# Captures a real audit log on this machine, for `bench/audit_parse.sh` to run on beside the
# generated one: gen_big.py draws ~450 event templates, a real host repeats itself in other
# ways (PATH searches of a shell, the same binaries and libraries, cron-like loops).
# Not a test. Needs root and auditd (apt-get install auditd).
#
# usage: bench/audit_capture.sh [OUT] [ROUNDS]
#   OUT     default /tmp/audit-real.log
#   ROUNDS  iterations of the workload loop (default 300: ~70 MB, about a minute)
#
# auditd runs from a private config directory (the system's settings, with its log in a
# temporary directory), so the system's log and rules are left alone: only the rules added
# here are removed, and the enabled flag and backlog limit are put back, even on failure.
# Rules (a common host-monitoring set): execve, connect, openat refused with EACCES,
# writes under /etc, unlink/rename in the workload's directory.
# Workload: per round, a few common commands, `env` resolving python3 and git through PATH,
# a file created, renamed and removed, a refused TCP connect to 127.0.0.1:9.
set -eu
OUT=$(realpath -m "${1:-/tmp/audit-real.log}")
ROUNDS=${2:-300}
[ "$(id -u)" = 0 ] || { echo "audit_capture.sh: needs root (audit rules)" >&2; exit 2; }
command -v auditd >/dev/null && command -v auditctl >/dev/null ||
	{ echo "audit_capture.sh: needs auditd: apt-get install auditd" >&2; exit 2; }
tmp=$(mktemp -d /var/tmp/letrace-capture.XXXXXX)
conf=$tmp/conf
work=$tmp/work
mkdir -p "$conf/plugins.d" "$work"
# Tests and benchmarks that touch audit state take this lock (tests/common: kernel_lock).
exec 9>/tmp/letrace-kernel-tests.lock
flock 9

was_enabled=$(auditctl -s | awk '$1 == "enabled" { print $2 }')
was_backlog=$(auditctl -s | awk '$1 == "backlog_limit" { print $2 }')
RULES=(
	"-a always,exit -F arch=b64 -S execve -k exec"
	"-a always,exit -F arch=b64 -S connect -k net"
	"-a always,exit -F arch=b64 -S openat -F exit=-EACCES -k denied"
	"-w /etc -p wa -k etc"
	"-a always,exit -F arch=b64 -S unlinkat,renameat2 -F dir=$work -k work"
)
ap=
# Removes the rules added here and stops auditd (it writes out what it holds); done once at
# the end of the workload and again, harmlessly, on exit.
stop_capture() {
	for r in "${RULES[@]}"; do
		# shellcheck disable=SC2086 # a rule is several arguments
		auditctl $(echo "$r" | sed 's/^-a /-d /; s/^-w /-W /') >/dev/null 2>&1 || true
	done
	[ -n "$ap" ] && { kill "$ap" 2>/dev/null || true; wait "$ap" 2>/dev/null || true; }
	ap=
}
cleanup() {
	stop_capture
	auditctl -e "${was_enabled:-0}" >/dev/null 2>&1 || true
	[ -n "$was_backlog" ] && auditctl -b "$was_backlog" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

sed -e "s#^log_file *=.*#log_file = $tmp/audit.log#" \
	-e "s#^plugin_dir *=.*#plugin_dir = $conf/plugins.d#" \
	-e "s#^max_log_file *=.*#max_log_file = 4000#" \
	-e "s#^max_log_file_action *=.*#max_log_file_action = ignore#" \
	/etc/audit/auditd.conf >"$conf/auditd.conf"
grep -q '^plugin_dir' "$conf/auditd.conf" || echo "plugin_dir = $conf/plugins.d" >>"$conf/auditd.conf"
chmod 640 "$conf/auditd.conf"
auditd -n -c "$conf" >/dev/null 2>&1 &
ap=$!
for _ in $(seq 50); do [ -f "$tmp/audit.log" ] && break; sleep 0.1; done
auditctl -b 8192 >/dev/null
for r in "${RULES[@]}"; do
	# shellcheck disable=SC2086
	auditctl $r >/dev/null
done

for i in $(seq 1 "$ROUNDS"); do
	ls /usr/bin >/dev/null
	cat /etc/hostname >/dev/null
	grep -q root /etc/passwd
	date >/dev/null
	env python3 -c 'import socket
s = socket.socket(); s.settimeout(0.05)
try: s.connect(("127.0.0.1", 9))
except OSError: pass' || true
	env git --version >/dev/null || true
	echo "$i" >"$work/f$i"
	mv "$work/f$i" "$work/g$i"
	rm "$work/g$i"
	sh -c 'id -u >/dev/null; uname -r >/dev/null'
done

stop_capture
cp "$tmp/audit.log" "$OUT"
echo "$OUT: $(wc -l <"$OUT") lines, $(stat -c %s "$OUT") bytes"
