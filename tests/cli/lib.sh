# lib.sh — shared set-up of the CLI tests (sourced, POSIX sh).
#
# Environment from tests/cli/meson.build:
#   EARSHOT         the earshot command under test
#   GEN_DATASET     tests/cli/gen-dataset
#   FRAME_ACCURACY  tests/cli/frame-accuracy
#   GST_SYSTEM_PLUGINS  GStreamer's system plugin folder
#   GST_PLUGIN_PATH_1_0 the build tree's plugin folder (the element)
#
# Each test works in its own temporary folder with its own GStreamer
# registry over a private plugin folder holding only the plugins the tests
# use (symbolic links).  So the registry is built in-process
# (GST_REGISTRY_FORK=no: an ASan build must not fork the uninstrumented
# plugin scanner), quickly, and without loading every plugin on the machine.

set -eu

: "${EARSHOT:?}" "${GEN_DATASET:?}" "${GST_SYSTEM_PLUGINS:?}" \
  "${PRIVATE_PLUGINS_SH:?}"

fail () {
  echo "FAIL: $*" >&2
  exit 1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/earshot-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

. "$PRIVATE_PLUGINS_SH"
private_plugins "$WORK" || exit 1
# A fixed date: the model file records it, and runs must be comparable.
export SOURCE_DATE_EPOCH=1700000000
# The default cache folder, inside the test's folder.
export XDG_CACHE_HOME="$WORK/xdg-cache"

cd "$WORK"

# expect_failure NAME PATTERN COMMAND...: COMMAND must exit with status 1
# and print exactly one line on stderr, matching the extended regular
# expression PATTERN.
expect_failure () {
  name=$1
  pattern=$2
  shift 2
  status=0
  "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || status=$?
  [ "$status" -eq 1 ] ||
    fail "$name: exit status $status, expected 1 (stderr: $(cat "$WORK/err.txt"))"
  lines=$(wc -l <"$WORK/err.txt")
  [ "$lines" -eq 1 ] ||
    fail "$name: $lines lines on stderr, expected one: $(cat "$WORK/err.txt")"
  grep -Eq "$pattern" "$WORK/err.txt" ||
    fail "$name: message '$(cat "$WORK/err.txt")' does not match '$pattern'"
  echo "ok: $name: $(cat "$WORK/err.txt")"
}
