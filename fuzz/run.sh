#!/bin/sh
# run.sh — runs every fuzz target for SECONDS over its corpus.
#
#   fuzz/run.sh SECONDS [TARGET...]     (targets: model labels manifest)
#
# Builds the targets first if fuzz/out has none (fuzz/build.sh).  Inputs the
# fuzzer finds go to a scratch corpus in $FUZZ_WORK (default fuzz/out/work),
# never into fuzz/corpus/ (so the committed corpus only changes on purpose;
# see fuzz/README.md for minimising new finds into it).  A crash, leak,
# timeout or sanitizer report leaves its reproducer in
# $FUZZ_WORK/artifacts/TARGET/ and makes the script exit non-zero after all
# targets ran.
set -u

here=$(cd "$(dirname "$0")" && pwd)
out=${FUZZ_OUT:-$here/out}
work=${FUZZ_WORK:-$out/work}

if [ $# -lt 1 ]; then
  echo "usage: $0 SECONDS [model|labels|manifest]..." >&2
  exit 2
fi
seconds=$1
shift
targets=${*:-model labels manifest}

if [ ! -x "$out/fuzz_model" ] || [ ! -x "$out/fuzz_labels" ] \
    || [ ! -x "$out/fuzz_manifest" ]; then
  "$here/build.sh" "$out" || exit 1
fi

# One BLAS thread: the nets are tiny and extra threads only add noise.
export OPENBLAS_NUM_THREADS=1

# One line per target, "fuzz_TARGET<TAB>OK|FAIL", for CI's count.
: > "$out/results.tsv"
status=0
for t in $targets; do
  case $t in
    model) max_len=16384 ;;
    *) max_len=4096 ;;
  esac
  mkdir -p "$work/$t" "$work/artifacts/$t"
  echo "== fuzz_$t for $seconds s"
  "$out/fuzz_$t" "$work/$t" "$here/corpus/$t" \
    -dict="$here/$t.dict" -max_total_time="$seconds" -max_len=$max_len \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t/" 2>"$work/fuzz_$t.log"
  rc=$?
  tail -n 12 "$work/fuzz_$t.log"
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t FAILED (exit $rc); reproducers in $work/artifacts/$t/," \
      "log in $work/fuzz_$t.log"
    printf 'fuzz_%s\tFAIL\n' "$t" >> "$out/results.tsv"
    status=1
  else
    printf 'fuzz_%s\tOK\n' "$t" >> "$out/results.tsv"
  fi
done
exit $status
