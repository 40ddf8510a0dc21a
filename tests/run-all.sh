#!/bin/sh
# Builds Earshot twice from scratch and runs the whole test suite in each:
#   build-test  optimised build, warnings are errors
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer (leaks included)
# Exits non-zero if anything failed; each build's results are in
# BUILD/meson-logs/testlog.json (.ci/run counts them).
set -u
cd "$(dirname "$0")/.."

status=0
rm -rf build-test build-asan

meson setup build-test -Dwerror=true || exit 1
meson test -C build-test --print-errorlogs || status=1

meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs || status=1

exit $status
