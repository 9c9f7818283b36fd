#!/bin/bash
# letrace's userspace CPU per bpf event (not a test): an open-storm recorded with a ring big
# enough to lose nothing; CPU of all letrace threads (startup excluded) / events written.
# Several binaries are compared in one run, interleaved. Needs root and cc.
#   bench/bpf-userspace.sh                       # target/release/letrace, R=3 rounds
#   R=2 bench/bpf-userspace.sh /tmp/old-letrace target/release/letrace
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
R=${R:-3}
RING=${RING:-512M}
[ $# -gt 0 ] || set -- target/release/letrace
[ -x target/release/letrace ] || cargo build --release
tmp=$(mktemp -d /var/tmp/letrace-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/openstorm" bench/openstorm.c
: >"$tmp/target"
# Other tests and benchmarks attaching tracepoints meanwhile would spoil the figures.
exec 9>/tmp/letrace-kernel-tests.lock
flock 9
for r in $(seq "$R"); do
	for bin in "$@"; do
		out="$tmp/out.jsonl" err="$tmp/err" tf="$tmp/time"
		: >"$err"
		/usr/bin/time -o "$tf" -f "%U %S" "$bin" record -s bpf:file --bpf-ringbuf-size "$RING" \
			-o "$out" 2>"$err" &
		tp=$!
		until grep -q recording "$err"; do sleep 0.05; done
		lp=$(pgrep -P "$tp")
		sleep 0.3
		s0=$(sed 's/.*) //' "/proc/$lp/stat" | awk '{print $12+$13}')
		st=$("$tmp/openstorm" "$N" "$tmp/target")
		# Wait until the writer has caught up (output growing by less than 4 MB/s; 20 s at most).
		prev=-1
		for _ in $(seq 40); do
			sleep 0.5
			cur=$(stat -c %s "$out")
			[ "$prev" -ge 0 ] && [ $((cur - prev)) -lt 2000000 ] && break
			prev=$cur
		done
		kill -INT "$lp"
		wait "$tp"
		read -r u s <"$tf"
		ev=$(wc -l <"$out")
		awk -v u="$u" -v s="$s" -v s0="$s0" -v ev="$ev" -v st="$st" -v r="$r" -v b="$bin" 'BEGIN {
			cpu = u + s - s0 / 100
			printf "round %d %s: storm %.2f s, %d events written, CPU %.2f s, %.3f us/event\n", r, b, st, ev, cpu, cpu * 1e6 / ev
		}'
		rm -f "$out"
	done
done
