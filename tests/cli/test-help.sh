#!/bin/sh
# The command line: subcommands, --help that answers questions, --version,
# usage errors with one line and status 2.
. "$(dirname "$0")/lib.sh"

"$EARSHOT" --help >help.txt
for c in train label eval info; do
  grep -q "^  $c " help.txt || fail "earshot --help does not list $c"
done
"$EARSHOT" --version | grep -Eq '^earshot [0-9]+\.[0-9]+\.[0-9]+ \(GStreamer' ||
  fail "earshot --version: $("$EARSHOT" --version)"

# `earshot help train` and `earshot train --help` are the same text, and it
# explains the manifest, the label formats, the background class, the
# priority rule and the files written.
"$EARSHOT" help train >help-train.txt
"$EARSHOT" train --help >train-help.txt
cmp -s help-train.txt train-help.txt || fail "help train differs from train --help"
for want in 'audio_path<TAB>label_path' 'Audacity' 'DCASE' 'CSV' \
    'background' 'priority' 'first wins|listed first' 'STEM.csv' 'STEM.svg' \
    'STEM.ckpt' '--resume' '--aug-noise' '--mel-scale' 'SOURCE_DATE_EPOCH'; do
  grep -Eq -- "$want" train-help.txt || fail "train --help does not mention '$want'"
done
"$EARSHOT" info --help | grep -q -- '--json' || fail "info --help lacks --json"

# label and eval: the formats, the several-files rule, the metrics' definitions.
"$EARSHOT" help label >help-label.txt
"$EARSHOT" label --help >label-help.txt
cmp -s help-label.txt label-help.txt || fail "help label differs from label --help"
for want in 'audacity' 'tsv' 'frames' 'json' 'vtt' 'start<TAB>end<TAB>label<TAB>confidence' \
    'WebVTT' '# FILE' 'NAME\.frames\.tsv' '--plot' '--threshold' '--smoothing' \
    '--min-segment' '--min-gap' '--only' 'EARSHOT_MODEL_PATH' 'uridecodebin ! audioconvert ! earshot'; do
  grep -Eq -- "$want" label-help.txt || fail "label --help does not mention '$want'"
done
"$EARSHOT" eval --help >eval-help.txt
for want in '--data' '--map' '--json' '--segment-length' '--positive' \
    'sed_eval' 'S = min\(FN,FP\)' 'D = max\(0,FN-FP\)' 'max\(0,FP-FN\)' \
    'macro-F1' 'confusion' 'ROC-AUC' 'background'; do
  grep -Eq -- "$want" eval-help.txt || fail "eval --help does not mention '$want'"
done

status=0; "$EARSHOT" 2>/dev/null || status=$?
[ $status -eq 2 ] || fail "earshot without a command: status $status"
status=0; "$EARSHOT" frobnicate 2>err.txt || status=$?
[ $status -eq 2 ] && grep -q "not an earshot command" err.txt ||
  fail "unknown command: status $status, $(cat err.txt)"
status=0; "$EARSHOT" train --bogus 2>err.txt || status=$?
[ $status -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] ||
  fail "unknown option: status $status, $(cat err.txt)"
status=0; "$EARSHOT" train -o x.earshot 2>err.txt || status=$?
[ $status -eq 2 ] && grep -q -- "--data" err.txt ||
  fail "missing --data: status $status, $(cat err.txt)"
status=0; "$EARSHOT" train --data m.tsv -o x.earshot --cell transformer 2>err.txt || status=$?
[ $status -eq 2 ] && grep -q "rnn, lstm or gru" err.txt ||
  fail "bad --cell: status $status, $(cat err.txt)"
status=0; "$EARSHOT" label --format srt x.wav 2>err.txt || status=$?
[ $status -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] ||
  fail "label --format srt: status $status, $(cat err.txt)"
status=0; "$EARSHOT" eval -m x.earshot 2>err.txt || status=$?
[ $status -eq 2 ] && grep -q -- "--data" err.txt ||
  fail "eval without --data: status $status, $(cat err.txt)"
status=0; "$EARSHOT" info 2>err.txt || status=$?
[ $status -eq 2 ] || fail "info without a model: status $status"
echo "ok: help, version and usage errors"
