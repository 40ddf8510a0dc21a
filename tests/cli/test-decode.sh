#!/bin/sh
# `earshot train` decodes audio to the very samples the element classifies:
# for files at 8 (upsampled by GstAudioConverter), 16, 22.05, 44.1 and
# 48 kHz (downsampled by earshot_resample.h), mono and stereo, the core's
# posteriors on the tool's decoded samples equal the element's
# (decode-check: within 1e-6, and the same number of frames).
. "$(dirname "$0")/lib.sh"
: "${DECODE_CHECK:?}"

mkdir data
"$GEN_DATASET" data train 6 1
"$EARSHOT" train --data data/train.tsv -o m.earshot --hidden 16 --layers 1 \
  --epochs 2 --lr 0.01 --batch 8 --chunk 50 --valid-fraction 0 --threads 1 -q
files=""
for spec in "8000 1" "16000 1" "16000 2" "22050 2" "44100 2" "48000 2" "48000 1"; do
  set -- $spec
  "$GEN_DATASET" data "r$1c$2" 1 7 2.3456 "$1" "$2"
  files="$files data/r$1c$2-0.wav"
done
# shellcheck disable=SC2086  # $files: the paths, no spaces
"$DECODE_CHECK" m.earshot $files || fail "decoded samples differ from the element's"
echo "ok: the tool decodes to the element's samples at 8-48 kHz, mono and stereo"
