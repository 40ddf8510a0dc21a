#!/bin/sh
# train.sh — trains the shipped models from a corpus built by
# tools/corpus/build.sh, then scores them on its held-out split.
#
#   models/train.sh CORPUS BUILD [vad|vad-lookahead|sms|sms-lookahead]...
#                                                (default: all four)
#
# The shipped models come from two corpora of the same recipe and seed,
# which differ only in the size of the training split (their valid and
# held-out files are byte-identical):
#   vad, vad-lookahead: tools/corpus/build.sh /var/tmp/corpus-v2 --seed 1 --train-scale 3
#   sms, sms-lookahead: tools/corpus/build.sh /var/tmp/corpus-v6 --seed 1 --train-scale 6
# (on validation, six times the training mixtures helped sms and not the
# VAD; see models/README.md).  A corpus of another --train-scale still
# trains; the script only says so.
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
which=${*:-vad vad-lookahead sms sms-lookahead}
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

# The --train-scale each shipped model was trained with (corpus.json).
train_scale=$(sed -n 's/.*"train_scale": *\([0-9.]*\).*/\1/p' "$corpus/corpus.json" 2>/dev/null || true)
shipped_scale () {
  case $1 in vad|vad-lookahead) echo 3.0 ;; *) echo 6.0 ;; esac
}

for m in $which; do
  if [ "${train_scale:-?}" != "$(shipped_scale "$m")" ]; then
    echo "train.sh: note: the shipped $m was trained on a corpus of --train-scale" \
      "$(shipped_scale "$m"); $corpus has ${train_scale:-an unknown scale}" >&2
  fi
  case $m in
    vad|vad-lookahead)
      # vad: causal, 15 ms latency (the element's default).  vad-lookahead:
      # the same network trained to label each frame 200 ms later, having
      # heard what follows it (215 ms latency).
      la=""
      if [ "$m" = vad-lookahead ]; then la="--lookahead 200ms"; fi
      for s in train valid heldout; do vad_labels $s; done
      # shellcheck disable=SC2086  # $la is empty or two words
      "$earshot" train --data "$corpus/vad/train.tsv" \
        --valid "$corpus/vad/valid.tsv" -o "$here/$m.earshot" \
        --classes speech,nonspeech --background nonspeech \
        --cell gru --hidden 32 --layers 2 $la \
        --epochs 40 --patience 10 --batch 32 --chunk 100 --lr 0.002 \
        --lr-decay 0.93 --dropout 0.1 \
        --seed 1 --threads 1 --checkpoint "${TMPDIR:-/tmp}/earshot-$m.ckpt"
      "$earshot" eval --model "$here/$m.earshot" \
        --data "$corpus/vad/heldout.tsv" --positive speech --json \
        > "$here/$m.scores.json"
      ;;
    sms|sms-lookahead)
      # sms: causal; sms-lookahead: decided 200 ms later, as for the VADs.
      la=""
      if [ "$m" = sms-lookahead ]; then la="--lookahead 200ms"; fi
      # shellcheck disable=SC2086  # $la is empty or two words
      "$earshot" train --data "$corpus/train.tsv" --valid "$corpus/valid.tsv" \
        -o "$here/$m.earshot" --classes speech,music,noise,silence \
        --background silence \
        --cell gru --hidden 48 --layers 2 $la \
        --epochs 40 --patience 10 --batch 32 --chunk 100 --lr 0.002 \
        --lr-decay 0.93 --dropout 0.1 \
        --seed 1 --threads 1 --checkpoint "${TMPDIR:-/tmp}/earshot-$m.ckpt"
      "$earshot" eval --model "$here/$m.earshot" \
        --data "$corpus/heldout.tsv" --json > "$here/$m.scores.json"
      ;;
    *)
      echo "train.sh: unknown model $m (vad, vad-lookahead, sms or sms-lookahead)" >&2
      exit 2
      ;;
  esac
done
