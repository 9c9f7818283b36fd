#!/bin/bash
# Throughput and memory of `letrace audit parse` against laurel 0.8.2 and `ausearch --raw`,
# on the same generated log, in one run. Not part of the test suite.
#
# usage: bench/audit_parse.sh [LOG] [OUTDIR]
#   LOG     default /tmp/big.log, generated when missing with
#           python3 ../shared/corpus/gen_big.py --out LOG --size ${SIZE:-1073741824}
#   OUTDIR  default /tmp/letrace-audit-bench (outputs land there: same disk for every tool)
# env: LETRACE (default target/release/letrace), LAUREL (default `laurel` in PATH or
#      /tmp/laurel-inst/bin/laurel; `cargo install laurel --version 0.8.2`, needs libacl1-dev),
#      SIZE (bytes, for a generated LOG).
# needs: auditd (ausearch), GNU time (/usr/bin/time).
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
LOG=${1:-/tmp/big.log}
OUT=$(realpath -m "${2:-/tmp/letrace-audit-bench}")
LETRACE=${LETRACE:-$HERE/target/release/letrace}
CORPUS=$HERE/../shared/corpus
LAUREL=${LAUREL:-$(command -v laurel || echo /tmp/laurel-inst/bin/laurel)}
mkdir -p "$OUT"
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

# letrace: full interpretation, JSON lines to a file.
rm -f "$OUT/letrace.jsonl"
time_run letrace "$LETRACE" audit parse "$LOG" -o "$OUT/letrace.jsonl"
EVENTS=$(grep -vc '"type":"LOST"' "$OUT/letrace.jsonl" || true)

# laurel 0.8.2 offline (stdin -> JSON lines file), enrichment off, as in the corpus template.
if [ -x "$LAUREL" ]; then
  mkdir -p "$OUT/laurel-run"; chmod 700 "$OUT/laurel-run"; rm -f "$OUT"/laurel-run/*
  sed "s#@DIR@#$OUT/laurel-run#" "$CORPUS/bench/laurel-offline.toml.in" > "$OUT/laurel.toml"
  time_run laurel sh -c "'$LAUREL' -c '$OUT/laurel.toml' < '$LOG'"
  LAUREL_EVENTS=$(wc -l < "$OUT/laurel-run/audit.jsonl")
else
  echo "laurel not found (set LAUREL=...): skipped"
fi

# ausearch --raw: reads and groups, prints the raw records (no interpretation).
time_run ausearch_raw sh -c "ausearch -if '$LOG' --raw > '$OUT/ausearch.raw'"

printf '\n%-14s %8s %9s %12s %9s %10s | %8s %11s %10s\n' tool seconds MB/s events/s "RSS MB" "letrace x" "CPU s" "MB/CPU-s" "letrace x"
LT=$(secs letrace); LC=$(cpu letrace)
row() {
  local name=$1 t c; t=$(secs "$name"); c=$(cpu "$name")
  awk -v n="$name" -v t="$t" -v c="$c" -v b="$BYTES" -v e="$EVENTS" -v r="$(rss "$name")" \
      -v lt="$LT" -v lc="$LC" \
    'BEGIN { printf "%-14s %8.2f %9.1f %12.0f %9s %10.2f | %8.2f %11.1f %10.2f\n",
             n, t, b / 1e6 / t, e / t, r, t / lt, c, b / 1e6 / c, c / lc }'
}
row letrace
[ -x "$LAUREL" ] && row laurel
row ausearch_raw
echo
echo "events (letrace, excluding LOST): $EVENTS; laurel wrote ${LAUREL_EVENTS:-n/a} events"
echo "events/s uses letrace's event count for every tool (same input)."
echo "'letrace x' = how many times longer the tool took (wall clock; CPU seconds on the right)."
echo "outputs and /usr/bin/time -v reports: $OUT"
