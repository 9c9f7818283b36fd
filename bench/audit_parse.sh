#!/bin/bash
# Throughput and memory of `letrace audit parse` against laurel 0.8.2 and `ausearch --raw`,
# on the same generated log, in one run. Not part of the test suite.
# This VM's speed drifts by +-30% within minutes, so the tools run in ROUNDS interleaved
# rounds (the order rotates each round) and the summary compares medians.
#
# usage: bench/audit_parse.sh [LOG] [OUTDIR]
#   LOG     default /tmp/big.log, generated when missing with
#           python3 ../shared/corpus/gen_big.py --out LOG --size ${SIZE:-1073741824}
#   OUTDIR  default /tmp/letrace-audit-bench (outputs land there: same disk for every tool)
# env: LETRACE (default target/release/letrace), LAUREL (default `laurel` in PATH or
#      /tmp/laurel-inst/bin/laurel; `cargo install laurel --version 0.8.2`, needs libacl1-dev),
#      SIZE (bytes, for a generated LOG), ROUNDS (default 3; 1 for a quick look),
#      BASE (another letrace binary, e.g. an older build: runs as `letrace_base` in the same
#      rounds, so a change is measured under the same noise as the peers).
# needs: auditd (ausearch), GNU time (/usr/bin/time).
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
LOG=${1:-/tmp/big.log}
OUT=$(realpath -m "${2:-/tmp/letrace-audit-bench}")
LETRACE=${LETRACE:-$HERE/target/release/letrace}
CORPUS=$HERE/../shared/corpus
LAUREL=${LAUREL:-$(command -v laurel || echo /tmp/laurel-inst/bin/laurel)}
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"
rm -f "$OUT"/*.time
[ -x "$LETRACE" ] || (cd "$HERE" && cargo build --release --quiet)
if [ ! -f "$LOG" ]; then
  python3 "$CORPUS/gen_big.py" --out "$LOG" --size "${SIZE:-1073741824}"
fi
BYTES=$(stat -c %s "$LOG")
# Every tool reads the log from the page cache: the first one to run must not pay the disk.
cat "$LOG" > /dev/null
echo "log: $LOG ($BYTES bytes), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"

# time_run NAME CMD...: runs under /usr/bin/time -v, leaves NAME.time in OUT.
time_run() {
  local name=$1; shift
  sync
  /usr/bin/time -v "$@" > "$OUT/$name.stdout" 2> "$OUT/$name.time" || true
}
secs() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
          for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$OUT/$1.time"; }
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$OUT/$1.time"; }
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$OUT/$1.time"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# letrace: full interpretation, JSON lines to a file.
run_letrace() {
  rm -f "$OUT/letrace.jsonl"
  time_run "letrace.r$1" "$LETRACE" audit parse "$LOG" -o "$OUT/letrace.jsonl"
  EVENTS=$(grep -vc '"type":"LOST"' "$OUT/letrace.jsonl" || true)
}
run_letrace_base() {
  rm -f "$OUT/letrace_base.jsonl"
  time_run "letrace_base.r$1" "$BASE" audit parse "$LOG" -o "$OUT/letrace_base.jsonl"
  rm -f "$OUT/letrace_base.jsonl"
}
# laurel 0.8.2 offline (stdin -> JSON lines file), enrichment off, as in the corpus template.
run_laurel() {
  mkdir -p "$OUT/laurel-run"; chmod 700 "$OUT/laurel-run"; rm -f "$OUT"/laurel-run/*
  sed "s#@DIR@#$OUT/laurel-run#" "$CORPUS/bench/laurel-offline.toml.in" > "$OUT/laurel.toml"
  time_run "laurel.r$1" sh -c "'$LAUREL' -c '$OUT/laurel.toml' < '$LOG'"
  LAUREL_EVENTS=$(wc -l < "$OUT/laurel-run/audit.jsonl")
}
# ausearch --raw: reads and groups, prints the raw records (no interpretation).
run_ausearch_raw() {
  rm -f "$OUT/ausearch.raw"
  time_run "ausearch_raw.r$1" sh -c "ausearch -if '$LOG' --raw > '$OUT/ausearch.raw'"
}

TOOLS="letrace ausearch_raw"
if [ -x "$LAUREL" ]; then TOOLS="letrace laurel ausearch_raw"
else echo "laurel not found (set LAUREL=...): skipped"; fi
if [ -n "${BASE:-}" ]; then TOOLS="$TOOLS letrace_base"; fi
set -- $TOOLS
NT=$#
for r in $(seq 1 "$ROUNDS"); do
  # Rotate the order so that no tool always runs first (or last) in a round.
  for i in $(seq 0 $((NT - 1))); do
    k=$(( (i + r - 1) % NT + 1 ))
    "run_${!k}" "$r"
  done
done

printf '\n%-5s %-14s %8s %9s %12s %9s %10s | %8s %11s %10s\n' round tool seconds MB/s events/s "RSS MB" "letrace x" "CPU s" "MB/CPU-s" "letrace x"
row() {
  local r=$1 name=$2 t c lt lc
  t=$(secs "$name.r$r"); c=$(cpu "$name.r$r"); lt=$(secs "letrace.r$r"); lc=$(cpu "letrace.r$r")
  awk -v r="$r" -v n="$name" -v t="$t" -v c="$c" -v b="$BYTES" -v e="$EVENTS" \
      -v m="$(rss "$name.r$r")" -v lt="$lt" -v lc="$lc" \
    'BEGIN { printf "%-5s %-14s %8.2f %9.1f %12.0f %9s %10.2f | %8.2f %11.1f %10.2f\n",
             r, n, t, b / 1e6 / t, e / t, m, t / lt, c, b / 1e6 / c, c / lc }'
}
for r in $(seq 1 "$ROUNDS"); do
  for name in $TOOLS; do row "$r" "$name"; done
done
# Summary: each tool's median wall and CPU over the rounds; the ratios are median/median, and
# the lowest and highest of the per-round ratios show the spread.
echo
printf '%-14s %12s %9s %12s %16s | %12s %10s\n' median seconds MB/s events/s "letrace x" "CPU s" "letrace x"
LTM=$(for r in $(seq 1 "$ROUNDS"); do secs "letrace.r$r"; done | median)
LCM=$(for r in $(seq 1 "$ROUNDS"); do cpu "letrace.r$r"; done | median)
for name in $TOOLS; do
  tm=$(for r in $(seq 1 "$ROUNDS"); do secs "$name.r$r"; done | median)
  cm=$(for r in $(seq 1 "$ROUNDS"); do cpu "$name.r$r"; done | median)
  spread=$(for r in $(seq 1 "$ROUNDS"); do
             awk -v t="$(secs "$name.r$r")" -v l="$(secs "letrace.r$r")" 'BEGIN { print t / l }'
           done | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
  awk -v n="$name" -v t="$tm" -v c="$cm" -v b="$BYTES" -v e="$EVENTS" -v lt="$LTM" -v lc="$LCM" \
      -v s="$spread" \
    'BEGIN { printf "%-14s %12.2f %9.1f %12.0f %6.2f (%s) | %12.2f %10.2f\n",
             n, t, b / 1e6 / t, e / t, t / lt, s, c, c / lc }'
done
echo
echo "events (letrace, excluding LOST): $EVENTS; laurel wrote ${LAUREL_EVENTS:-n/a} events"
echo "events/s uses letrace's event count for every tool (same input)."
echo "'letrace x' = how many times longer the tool took (wall clock; CPU seconds on the right);"
echo "in the median table: median over median, with the lowest-highest per-round ratio."
echo "outputs and /usr/bin/time -v reports (NAME.rROUND.time): $OUT"
