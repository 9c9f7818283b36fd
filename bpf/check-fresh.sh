#!/bin/sh
# CI: rebuilds the BPF object from source and fails if it differs from the committed
# bpf/letrace.bpf.o (someone changed letrace.bpf.c / letrace.h / vmlinux.h without running
# bpf/build.sh, or the toolchain changed: then run bpf/build.sh and commit the object).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./build.sh "$tmp/fresh.o"
if ! cmp -s "$tmp/fresh.o" letrace.bpf.o; then
	echo "bpf/letrace.bpf.o is stale: run bpf/build.sh and commit the result ($(clang --version | head -1))" >&2
	exit 1
fi
echo "bpf/letrace.bpf.o is fresh"
