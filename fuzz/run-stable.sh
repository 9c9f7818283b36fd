#!/bin/bash
# Runs the fuzz targets with a stable compiler (cargo-fuzz wants nightly): the same
# instrumentation flags cargo-fuzz passes with `--sanitizer none`, debug assertions and overflow
# checks on. The seed corpus is the shared audit corpus, cut into 12-line pieces.
#   fuzz/run-stable.sh [TARGET] [SECONDS]      # default: audit_line, 600 s
set -euo pipefail
cd "$(dirname "$0")"
target=${1:-audit_line}
secs=${2:-600}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/letrace-fuzz-target}
# --target keeps these flags off build scripts (they would not link with coverage hooks).
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
	cargo build --release --target x86_64-unknown-linux-gnu --bin "$target"
corpus=${CORPUS:-/tmp/letrace-fuzz-corpus}
if [ ! -d "$corpus" ]; then
	mkdir -p "$corpus"
	i=0
	for f in $(find ../../shared/corpus/audit -type f 2>/dev/null); do
		split -l 12 -a 4 "$f" "$corpus/c$i-"
		i=$((i + 1))
	done
fi
mkdir -p artifacts
exec "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$target" "$corpus" \
	-max_total_time="$secs" -max_len=8192 -artifact_prefix=artifacts/ -print_final_stats=1
