#!/bin/sh
# Builds Earshot twice from scratch and runs the whole test suite in each,
# then fuzzes every parser for a short while:
#   build-test  optimised build, warnings are errors
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer (leaks included)
#   build-fuzz  libFuzzer targets (clang), FUZZ_SECONDS each (default 30)
# Exits non-zero if anything failed; the results are in
# BUILD/meson-logs/testlog.json and build-fuzz/results.tsv (.ci/run counts
# them).
set -u
cd "$(dirname "$0")/.."

status=0
rm -rf build-test build-asan build-fuzz

meson setup build-test -Dwerror=true || exit 1
meson test -C build-test --print-errorlogs || status=1

meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs || status=1

if command -v clang >/dev/null 2>&1; then
  FUZZ_OUT=$PWD/build-fuzz fuzz/run.sh "${FUZZ_SECONDS:-30}" || status=1
else
  echo "run-all: clang not installed, fuzzing skipped" >&2
fi

exit $status
