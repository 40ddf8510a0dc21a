#!/bin/sh
# train.sh — trains the shipped models from a corpus built by
# tools/corpus/build.sh, then scores them on its held-out split.
#
#   models/train.sh CORPUS BUILD [vad|sms]...     (default: both)
#
# CORPUS is the corpus folder (train.tsv, valid.tsv, heldout.tsv and their
# Audacity label files with classes speech, music, noise, silence); BUILD
# is a meson build folder with tools/earshot and plugin/.  Writes
# models/NAME.earshot, models/NAME.csv, models/NAME.svg and
# models/NAME.scores.json.  Deterministic for a given corpus (fixed seed,
# one thread, SOURCE_DATE_EPOCH).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
corpus=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
shift 2
which=${*:-vad sms}
earshot="$build/tools/earshot"
export GST_PLUGIN_PATH="$build/plugin"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1763769600}

# The VAD is trained on the same audio with two classes: speech where the
# corpus says speech, nonspeech everywhere else (music, noise, silence).
# Its label files keep only the speech lines; --background nonspeech covers
# the rest.
vad_labels () {
  split=$1
  out="$corpus/vad"
  mkdir -p "$out/$split"
  {
    echo "# audio_path<TAB>label_path: speech-only labels for the VAD"
    grep -v '^#' "$corpus/$split.tsv" | while IFS="$(printf '\t')" read -r audio labels; do
      base=$(basename "$labels")
      grep -P '\tspeech$' "$corpus/$labels" > "$out/$split/$base" || true
      printf '../%s\t%s/%s\n' "$audio" "$split" "$base"
    done
  } > "$out/$split.tsv"
}

for m in $which; do
  case $m in
    vad)
      for s in train valid heldout; do vad_labels $s; done
      "$earshot" train --data "$corpus/vad/train.tsv" \
        --valid "$corpus/vad/valid.tsv" -o "$here/vad.earshot" \
        --classes speech,nonspeech --background nonspeech \
        --cell gru --hidden 32 --layers 2 --epochs 30 --patience 6 \
        --batch 32 --chunk 100 --lr 0.003 --lr-decay 0.93 --dropout 0.1 \
        --seed 1 --threads 1 --checkpoint "${TMPDIR:-/tmp}/earshot-vad.ckpt"
      "$earshot" eval --model "$here/vad.earshot" \
        --data "$corpus/vad/heldout.tsv" --positive speech --json \
        > "$here/vad.scores.json"
      ;;
    sms)
      "$earshot" train --data "$corpus/train.tsv" --valid "$corpus/valid.tsv" \
        -o "$here/sms.earshot" --classes speech,music,noise,silence \
        --background silence \
        --cell gru --hidden 48 --layers 2 --epochs 30 --patience 6 \
        --batch 32 --chunk 100 --lr 0.003 --lr-decay 0.93 --dropout 0.1 \
        --seed 1 --threads 1 --checkpoint "${TMPDIR:-/tmp}/earshot-sms.ckpt"
      "$earshot" eval --model "$here/sms.earshot" \
        --data "$corpus/heldout.tsv" --json > "$here/sms.scores.json"
      ;;
    *)
      echo "train.sh: unknown model $m (vad or sms)" >&2
      exit 2
      ;;
  esac
done
