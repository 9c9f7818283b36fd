#!/bin/bash
# Benchmarks of the bpf source (not a test): letrace start/stop time; open-storm and exec-storm,
# untraced vs letrace vs auditd vs bpftrace, in one run, printing times and slowdown ratios;
# the programs' own cost (letrace SIGSTOPped), also on a syscall no family traces (getppid). Needs root, cc, bpftrace;
# auditd is used when installed (its rules are added and removed under the kernel-test lock).
#   bench/bpf.sh                 # N=1000000 opens, E=5000 execs, best of R=3 runs each
#   N=200000 E=1000 R=1 bench/bpf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
E=${E:-5000}
R=${R:-3}
LETRACE=${LETRACE:-target/release/letrace}
RING=${RING:-8M}
BIGRING=${BIGRING:-512M} # holds a whole 1M-open storm: shows the lossless configuration
[ -x "$LETRACE" ] || cargo build --release
tmp=$(mktemp -d /var/tmp/letrace-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/openstorm" bench/openstorm.c
cc -O2 -o "$tmp/execstorm" bench/execstorm.c
cc -O2 -o "$tmp/ppidstorm" bench/ppidstorm.c
P=${P:-3000000} # getppid calls: the cost of the syscall dispatchers to untraced syscalls
target="$tmp/target"
: >"$target"
LOCK=/tmp/letrace-kernel-tests.lock
# The whole run holds the kernel-test lock: a test (or another bench) attaching its own
# tracepoints meanwhile would slow every syscall of the workload and spoil the figures.
exec 9>"$LOCK"
flock 9

best() { sort -g | head -1; }
ratio() { python3 -c "print(f'{$1/$2:.2f}x')"; }

# letrace: start, wait until it reports a marker (`cat MARKER`: an exec with the marker in its
# args, and an open of it), run the workload, stop, count.
wait_marker() { # file marker
	: >"$2"
	for _ in $(seq 600); do
		cat "$2"
		grep -q "$(basename "$2")" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "tracer did not start" >&2
	return 1
}

run_letrace() { # spec ring workload... ; prints seconds, leaves output in $tmp/l.jsonl
	local spec=$1 ring=$2
	shift 2
	rm -f "$tmp/l.jsonl"
	"$LETRACE" record -s "$spec" --bpf-ringbuf-size "$ring" -o "$tmp/l.jsonl" 2>"$tmp/l.err" &
	local lp=$!
	wait_marker "$tmp/l.jsonl" "$tmp/marker-$RANDOM"
	"$@"
	sleep 1
	kill -INT $lp
	wait $lp
}

# letrace started and then SIGSTOPped for the workload: its reader never runs, every ring
# reservation fails (and is counted), so the time is what the BPF programs cost the workload.
run_letrace_stopped() { # spec workload...
	local spec=$1
	shift
	rm -f "$tmp/k.jsonl" "$tmp/k.err"
	"$LETRACE" record -s "$spec" -o "$tmp/k.jsonl" 2>"$tmp/k.err" &
	local lp=$!
	until grep -q recording "$tmp/k.err" 2>/dev/null; do sleep 0.05; done
	sleep 0.5
	kill -STOP $lp
	"$@"
	kill -CONT $lp
	kill -INT $lp
	wait $lp
}

# Seconds from start to the "recording" line (everything loaded and attached), and from
# SIGINT to exit (detached and drained).
start_stop() { # spec
	rm -f "$tmp/s.err"
	local t0 t1 t2
	t0=$(date +%s.%N)
	"$LETRACE" record -s "$1" -o "$tmp/s.jsonl" 2>"$tmp/s.err" &
	local lp=$!
	until grep -q recording "$tmp/s.err" 2>/dev/null; do sleep 0.01; done
	t1=$(date +%s.%N)
	kill -INT $lp
	wait $lp
	t2=$(date +%s.%N)
	python3 -c "print(f'start {$t1-$t0:.2f}s stop {$t2-$t1:.2f}s')"
}

run_bpftrace() { # program workload...
	local prog=$1
	shift
	bpftrace -e "$prog" >"$tmp/bt.out" 2>&1 &
	local bp=$!
	for _ in $(seq 600); do grep -q Attaching "$tmp/bt.out" && break; sleep 0.05; done
	sleep 0.5
	"$@"
	kill -INT $bp
	wait $bp || true
}

have_auditd=0
command -v auditd >/dev/null && command -v auditctl >/dev/null && have_auditd=1
# auditd runs from a private config directory (the system's settings, with its log and its
# plugins in $tmp), so the system's log and rules are left alone; the enabled flag is put back.
run_auditd() { # syscall workload...
	local sc=$1
	shift
	local conf="$tmp/auditd-conf" was
	was=$(auditctl -s | awk '$1 == "enabled" { print $2 }')
	mkdir -p "$conf/plugins.d"
	sed -e "s#^log_file *=.*#log_file = $tmp/audit.log#" -e "s#^plugin_dir *=.*#plugin_dir = $conf/plugins.d#" \
		/etc/audit/auditd.conf >"$conf/auditd.conf"
	grep -q '^plugin_dir' "$conf/auditd.conf" || echo "plugin_dir = $conf/plugins.d" >>"$conf/auditd.conf"
	chmod 640 "$conf/auditd.conf"
	auditd -n -c "$conf" >/dev/null 2>&1 &
	local ap=$!
	sleep 1
	auditctl -a always,exit -F arch=b64 -S "$sc" -k letrace_bench >/dev/null
	"$@"
	auditctl -d always,exit -F arch=b64 -S "$sc" -k letrace_bench >/dev/null
	kill $ap
	wait $ap || true
	auditctl -e "${was:-0}" >/dev/null
	rm -f "$tmp/audit.log"*
}

count_opens() { # opens of $target by openstorm; FILE_OPEN kernel losses; queue losses (all families)
	python3 - "$tmp/l.jsonl" "$target" <<'PY'
import json, sys
opens = lost = qlost = skipped = 0
for l in open(sys.argv[1]):
    if '"LOST"' in l:
        e = json.loads(l)
        if e.get("family") == "FILE_OPEN":
            lost += e["lost"]
        elif e.get("reason") == "letrace queue full":
            qlost += e["lost"]
        elif "program" in e:
            skipped += e["lost"]
    elif '"FILE_OPEN"' in l and '"openstorm"' in l:
        e = json.loads(l)
        if e.get("file", {}).get("path") == sys.argv[2]:
            opens += 1
print(opens, lost, qlost, skipped)
PY
}

count_execs() {
	python3 - "$tmp/l.jsonl" <<'PY'
import json, sys
execs = exits = lost = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "LOST":
        lost += e["lost"]
    elif e["type"] == "PROCESS_EXEC" and e["process"].get("args") == ["/bin/true", "letrace-bench"]:
        execs += 1
    elif e["type"] == "PROCESS_EXIT" and e["process"].get("args") == ["/bin/true", "letrace-bench"] and e["process"].get("exit_code") == 0 and e["bpf"]["group_dead"]:
        exits += 1
print(execs, exits, lost)
PY
}

echo "open-storm: $N x open+close of one file; exec-storm: $E x fork+exec /bin/true; best of $R"
echo "host: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"

for spec in bpf:file bpf:all; do
	for rep in $(seq "$R"); do echo "letrace -s $spec: $(start_stop $spec)"; done
done

declare -A T
for rep in $(seq "$R"); do
	T[os_none]+="$("$tmp/openstorm" "$N" "$target")"$'\n'
	T[os_kernel_bpf:file]+="$(run_letrace_stopped bpf:file "$tmp/openstorm" "$N" "$target")"$'\n'
	for cfg in bpf:file,$RING bpf:FILE_OPEN,$RING bpf:FILE_OPEN,$BIGRING; do
		spec=${cfg%,*} ring=${cfg##*,}
		T["os_letrace_${spec}_$ring"]+="$(run_letrace "$spec" "$ring" "$tmp/openstorm" "$N" "$target" | tail -1)"$'\n'
		read -r opens lost qlost skipped < <(count_opens)
		echo "  letrace $spec ring $ring: $opens opens captured + $lost FILE_OPEN lost in the kernel (any process) + $qlost lost in letrace's queue; expected $N; program runs skipped (any syscall): $skipped"
	done
	T[os_btcount]+="$(run_bpftrace 'tracepoint:syscalls:sys_enter_openat { @c = count(); }' "$tmp/openstorm" "$N" "$target")"$'\n'
	T[os_btprint]+="$(run_bpftrace 'tracepoint:syscalls:sys_enter_openat { printf("%d %s %s\n", pid, comm, str(args->filename)); }' "$tmp/openstorm" "$N" "$target")"$'\n'
	# auditd is an order of magnitude slower: once is enough.
	if [ $have_auditd = 1 ] && [ "$rep" = 1 ]; then
		T[os_auditd]+="$(run_auditd openat "$tmp/openstorm" "$N" "$target")"$'\n'
	fi
done
base=$(printf '%s' "${T[os_none]}" | best)
echo "open-storm untraced:            ${base}s"
for k in os_kernel_bpf:file "os_letrace_bpf:file_$RING" "os_letrace_bpf:FILE_OPEN_$RING" "os_letrace_bpf:FILE_OPEN_$BIGRING" os_btcount os_btprint os_auditd; do
	[ -n "${T[$k]:-}" ] || continue
	t=$(printf '%s' "${T[$k]}" | best)
	printf '  %-36s %ss  %s\n' "$k" "$t" "$(ratio "$t" "$base")"
done

for rep in $(seq "$R"); do
	T[pp_none]+="$("$tmp/ppidstorm" "$P")"$'\n'
	T[pp_bpf:file]+="$(run_letrace_stopped bpf:file "$tmp/ppidstorm" "$P")"$'\n'
	T[pp_bpf:all]+="$(run_letrace_stopped bpf:all "$tmp/ppidstorm" "$P")"$'\n'
done
base=$(printf '%s' "${T[pp_none]}" | best)
echo "getppid storm ($P calls, traced by no family) untraced: ${base}s"
for k in pp_bpf:file pp_bpf:all; do
	t=$(printf '%s' "${T[$k]}" | best)
	printf '  %-36s %ss  %s\n' "$k (letrace stopped)" "$t" "$(ratio "$t" "$base")"
done

for rep in $(seq "$R"); do
	T[ex_none]+="$("$tmp/execstorm" "$E")"$'\n'
	T[ex_letrace]+="$(run_letrace bpf:PROCESS_FORK,PROCESS_EXEC,PROCESS_EXIT "$RING" "$tmp/execstorm" "$E" | tail -1)"$'\n'
	read -r execs exits lost < <(count_execs)
	echo "  letrace exec-storm: $execs execs with args, $exits exits with code 0, $lost lost (expected $E)"
	T[ex_btprint]+="$(run_bpftrace 'tracepoint:sched:sched_process_exec { printf("%d %s\n", pid, str(args->filename)); }' "$tmp/execstorm" "$E")"$'\n'
	if [ $have_auditd = 1 ] && [ "$rep" = 1 ]; then
		T[ex_auditd]+="$(run_auditd execve "$tmp/execstorm" "$E")"$'\n'
	fi
done
base=$(printf '%s' "${T[ex_none]}" | best)
echo "exec-storm untraced:            ${base}s"
for k in ex_letrace ex_btprint ex_auditd; do
	[ -n "${T[$k]:-}" ] || continue
	t=$(printf '%s' "${T[$k]}" | best)
	printf '  %-36s %ss  %s\n' "$k" "$t" "$(ratio "$t" "$base")"
done
