#!/bin/sh
# build.sh — builds the libFuzzer targets with clang, ASan and UBSan.
#
#   fuzz/build.sh [OUTDIR]            (default: fuzz/out)
#   COVERAGE=1 fuzz/build.sh OUTDIR   source-based coverage builds instead
#                                     (no sanitizers; for llvm-cov, see
#                                     README.md)
#   FUZZ_CFLAGS=...                   extra flags for the targets
#
# The core's sources are compiled straight in (not the meson library), with
# the same defines as lib/meson.build, so the fuzzers see every line
# instrumented.  Needs clang and its runtime (Debian: clang, libclang-rt-dev),
# pkg-config, FFTW3f and OpenBLAS (or CBLAS) development files.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$here/out}
CC=${CC:-clang}
mkdir -p "$out/obj"

if pkg-config --exists openblas; then blas=openblas; else blas=cblas; fi
deps_cflags=$(pkg-config --cflags fftw3f $blas)
deps_libs="$(pkg-config --libs fftw3f $blas) -lpthread -lm"

if [ "${COVERAGE:-0}" = 1 ]; then
  san_cflags="-fprofile-instr-generate -fcoverage-mapping"
  lib_cflags="$san_cflags"
  link_fuzzer="-fsanitize=fuzzer $san_cflags"
else
  san="-fsanitize=address,undefined -fno-sanitize-recover=all"
  lib_cflags="$san -fsanitize=fuzzer-no-link"
  link_fuzzer="-fsanitize=fuzzer $san"
fi
common="-g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra \
  -Wno-unused-parameter -I$root/lib $deps_cflags"
defs="-DEARSHOT_BUILDING -DEARSHOT_VERSION_STRING=\"fuzz\""

# Every module of the core, so a new file in lib/ needs no change here.
objs=
plain=
for src in "$root"/lib/*.c; do
  m=$(basename "$src" .c)
  $CC $common $defs $lib_cflags -c "$src" -o "$out/obj/$m.o"
  objs="$objs $out/obj/$m.o"
done

for t in model labels manifest; do
  $CC $common ${FUZZ_CFLAGS:-} $link_fuzzer "$here/fuzz_$t.c" $objs $deps_libs \
    -o "$out/fuzz_$t"
done

# The seed generator: a plain program, also built here so that
# `fuzz/out/make_seeds fuzz/corpus/model` regenerates the model seeds.
if [ "${COVERAGE:-0}" != 1 ]; then
  for src in "$root"/lib/*.c; do
    m=$(basename "$src" .c)
    $CC $common $defs -c "$src" -o "$out/obj/plain-$m.o"
    plain="$plain $out/obj/plain-$m.o"
  done
  $CC $common "$here/make_seeds.c" $plain $deps_libs -o "$out/make_seeds"
fi
echo "built in $out"
