#!/bin/bash
# Where the bpf programs' cost goes (not a test): profiles an open-storm with `perf record -g`
# while letrace runs SIGSTOPped (its reader never runs: the time is the kernel side only) and
# prints the inclusive shares of the syscall tracing paths. Same-run shares are steadier than
# wall times on a shared machine. Needs root, cc, perf.
#   bench/bpf-profile.sh                      # -s bpf:file, 1,000,000 open+close
#   SPEC=bpf:all LETRACE=/tmp/old/letrace bench/bpf-profile.sh
#   SPEC=none bench/bpf-profile.sh            # untraced baseline
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
SPEC=${SPEC:-bpf:file}
LETRACE=${LETRACE:-target/release/letrace}
tmp=$(mktemp -d /var/tmp/letrace-prof.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/openstorm" bench/openstorm.c
: >"$tmp/target"
exec 9>/tmp/letrace-kernel-tests.lock
flock 9
echo "other tracing programs loaded: $(bpftool prog show 2>/dev/null | grep -cE 'tracepoint|tracing|raw_tracepoint|kprobe' || true) (should be 0)"
if [ "$SPEC" != none ]; then
	"$LETRACE" record -s "$SPEC" -o "$tmp/l.jsonl" 2>"$tmp/l.err" &
	lp=$!
	until grep -q recording "$tmp/l.err" 2>/dev/null; do sleep 0.05; done
	sleep 0.3
	kill -STOP $lp
fi
perf record -q -o "$tmp/perf.data" -g -- "$tmp/openstorm" "$N" "$tmp/target" >/dev/null 2>&1
if [ "$SPEC" != none ]; then
	kill -CONT $lp
	kill -INT $lp
	wait $lp
fi
echo "$SPEC: inclusive share of the workload's samples"
perf report -i "$tmp/perf.data" --children --sort symbol -q -g none 2>/dev/null |
	awk '$4 ~ /^(syscall_exit_work|syscall_trace_enter|perf_syscall_enter|perf_syscall_exit|bpf_trace_run2|ktime_get_boot_fast_ns|strncpy_from_user_nofault|bpf_ringbuf_output|bpf_prog_.*)$/ {
		printf "  %-44s %s\n", $4, $1 }'
