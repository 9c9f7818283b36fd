#!/bin/sh
# Regenerates bpf/letrace.bpf.o from letrace.bpf.c, letrace.h and the trimmed vmlinux.h.
# Reproducible: relative paths only, debug prefix mapped, DWARF stripped (BTF and BTF.ext kept:
# CO-RE needs them). Needs Debian's clang, llvm and libbpf-dev.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
STRIP=${LLVM_STRIP:-llvm-strip}
out=${1:-letrace.bpf.o}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$CLANG" -target bpf -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror \
	-fdebug-prefix-map="$PWD"=. -fno-ident \
	-I. -c letrace.bpf.c -o "$tmp/letrace.bpf.o"
"$STRIP" -g "$tmp/letrace.bpf.o"
cp "$tmp/letrace.bpf.o" "$out"
