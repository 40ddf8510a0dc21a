#!/bin/sh
# Done-means 3: each bad input gives one clear error line, exit status 1,
# and no model file (nor a temporary one) is left behind.
. "$(dirname "$0")/lib.sh"

mkdir data
"$GEN_DATASET" data good 4 5 3
cd data

# check NAME PATTERN MANIFEST [OPTION...]
check () {
  name=$1
  pattern=$2
  manifest=$3
  shift 3
  expect_failure "$name" "$pattern" "$EARSHOT" train --data "$manifest" \
    -o "$name.earshot" --epochs 1 --hidden 4 --layers 1 --threads 1 -q "$@"
  leftovers=$(ls | grep -F "$name.earshot" || true)
  [ -z "$leftovers" ] || fail "$name: left $leftovers behind"
  [ ! -e "$name.csv" ] && [ ! -e "$name.ckpt" ] ||
    fail "$name: wrote a log or a checkpoint"
}

printf 'good-0.wav\tgood-0.txt\nmissing.wav\tgood-1.txt\n' >missing.tsv
check missing-audio 'missing\.tsv line 2: cannot read missing\.wav: No such file' missing.tsv

head -c 3000 /dev/urandom >junk.wav
printf 'good-0.wav\tgood-0.txt\njunk.wav\tgood-1.txt\n' >undecodable.tsv
check undecodable-audio 'cannot decode junk\.wav' undecodable.tsv

printf '1.0\t2.0\ttone\n3.5\t3.9\tnoise\n' >outside.txt
# good-0 lasts 3 s; a label at 3.5 s is outside it
printf 'good-0.wav\toutside.txt\ngood-1.wav\tgood-1.txt\n' >outside.tsv
check label-outside 'outside\.txt: line 2: label "noise" .*lies outside the audio, which lasts 3\.000 s' outside.tsv

printf 'this is not\na label file\n' >prose.txt
printf 'good-0.wav\tgood-0.txt\ngood-1.wav\tprose.txt\n' >unknown.tsv
check unknown-label-format 'prose\.txt: line 1: not a label file in a known format' unknown.tsv

printf '# only a comment\n\n' >empty.tsv
check empty-manifest 'empty\.tsv: the manifest lists no audio files' empty.tsv

cat good.tsv >noframes.tsv
check class-without-frames "class 'bark' has no training frames" noframes.tsv \
  --classes tone,noise,bark

printf 'good-0.wav\tno-such-labels.txt\n' >nolabels.tsv
check missing-label-file 'cannot read the label file of good-0\.wav' nolabels.tsv
echo "ok: every bad input refused with its message and no model"
